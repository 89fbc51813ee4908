/* The Cortex-M kernels against the portable ones (embedded.py): random
   geometries (groups up to depthwise, strides, dilations, padding with a
   nonzero input zero point, per-tensor and per-channel requantization,
   windows up to the select.c limit), random data; conv2d_i8 and dense_i8
   of runtime/ref.c and of runtime/dsp.c or runtime/mve.c (KSFX) must give
   the same bytes.  Every third case has weights in [-8, 7], which the
   *_w4 variants read packed two per byte (low nibble first, packed here)
   against ref.c on the bytes.  Prints "kernels N cases" and exits 0, or the first
   difference and exits 1. */
#define Q8K static __attribute__((unused))
#include <stdio.h>
#include <string.h>
#include "board.h"
#include "ref.c"
#if defined(__ARM_FEATURE_MVE)
#include "mve.c"
#define CONV q8k_conv2d_i8_mve
#define DENSE q8k_dense_i8_mve
#define CONV4 q8k_conv2d_i8_mve_w4
#define DENSE4 q8k_dense_i8_mve_w4
#else
#include "dsp.c"
#define CONV q8k_conv2d_i8_dsp
#define DENSE q8k_dense_i8_dsp
#define CONV4 q8k_conv2d_i8_dsp_w4
#define DENSE4 q8k_dense_i8_dsp_w4
#endif

static uint32_t seed = 12345;
static uint32_t rnd(void)
{
	seed = seed * 1664525u + 1013904223u;
	return seed >> 8;
}
static int32_t rint_in(int32_t lo, int32_t hi) { return lo + (int32_t)(rnd() % (uint32_t)(hi - lo + 1)); }

static int8_t x[4096], w[16384], w4[8192], y0[4096], y1[4096];
static int32_t bias[256], mult[256], shift[256];

int main(void)
{
	int cases = 0, dw = 0, nw4 = 0;
	for (int n = 0; n < 400; n++) {
		q8_params p;
		memset(&p, 0, sizeof p);
		int dense = n % 4 == 3;
		int C, OC, G, KH, KW;
		if (dense) {
			C = rint_in(1, 300), OC = rint_in(1, 40), G = 1, KH = KW = 1;
			p.i[Q8_N] = rint_in(1, 3), p.i[Q8_H] = p.i[Q8_W] = 1;
		} else {
			if (n % 5 == 0) { /* depthwise */
				C = OC = G = rint_in(2, 20);
			} else {
				G = n % 3 == 0 ? rint_in(1, 12) : 1;
				C = G * rint_in(1, 24), OC = G * rint_in(1, 8);
			}
			KH = rint_in(1, 5), KW = rint_in(1, 5);
			while ((int64_t)KH * KW * (C / G) > Q8_MCU_COL)
				C = G * (C / G / 2 > 0 ? C / G / 2 : 1), OC = OC > C ? C : OC, OC -= OC % G ? OC % G : 0;
			p.i[Q8_N] = 1, p.i[Q8_H] = rint_in(1, 9), p.i[Q8_W] = rint_in(1, 9);
			p.i[Q8_SH] = rint_in(1, 2), p.i[Q8_SW] = rint_in(1, 2);
			p.i[Q8_DH] = rint_in(1, 2), p.i[Q8_DW] = rint_in(1, 2);
			p.i[Q8_PT] = rint_in(0, 2), p.i[Q8_PL] = rint_in(0, 2);
			p.i[Q8_PB] = rint_in(0, 2), p.i[Q8_PR] = rint_in(0, 2);
			int eh = (KH - 1) * p.i[Q8_DH] + 1, ew = (KW - 1) * p.i[Q8_DW] + 1;
			int hp = p.i[Q8_H] + p.i[Q8_PT] + p.i[Q8_PB], wp = p.i[Q8_W] + p.i[Q8_PL] + p.i[Q8_PR];
			if (hp < eh || wp < ew)
				continue;
			p.i[Q8_OH] = (hp - eh) / p.i[Q8_SH] + 1, p.i[Q8_OW] = (wp - ew) / p.i[Q8_SW] + 1;
		}
		if (OC < G || OC % G || C % G)
			continue;
		p.i[Q8_C] = C, p.i[Q8_OC] = OC, p.i[Q8_GROUPS] = G, p.i[Q8_KH] = KH, p.i[Q8_KW] = KW;
		if (dense)
			p.i[Q8_OH] = p.i[Q8_OW] = 1;
		int64_t nx = (int64_t)p.i[Q8_N] * p.i[Q8_H] * p.i[Q8_W] * C;
		int64_t nw = (int64_t)OC * KH * KW * (C / G);
		int64_t ny = (int64_t)p.i[Q8_N] * p.i[Q8_OH] * p.i[Q8_OW] * OC;
		if (nx > (int64_t)sizeof x || nw > (int64_t)sizeof w || ny > (int64_t)sizeof y0 || OC > 256)
			continue;
		for (int64_t i = 0; i < nx; i++)
			x[i] = (int8_t)rint_in(-128, 127);
		int i4 = n % 3 == 1;
		for (int64_t i = 0; i < nw; i++)
			w[i] = (int8_t)(i4 ? rint_in(-8, 7) : rint_in(-127, 127));
		memset(w4, 0, sizeof w4);
		for (int64_t i = 0; i4 && i < nw; i++)
			w4[i / 2] = (int8_t)(w4[i / 2] | (w[i] & 15) << (i % 2 ? 4 : 0));
		int nrq = n % 2 ? OC : 1;
		for (int k = 0; k < OC; k++) {
			bias[k] = rint_in(-100000, 100000);
			mult[k] = (int32_t)(0x40000000u + rnd() % 0x3fffffffu);
			shift[k] = rint_in(-14, -4);
		}
		p.i[Q8_NRQ] = nrq, p.i[Q8_AZP] = rint_in(-20, 20), p.i[Q8_YZP] = rint_in(-10, 10);
		p.i[Q8_LO] = n % 7 ? -128 : 0, p.i[Q8_HI] = 127;
		p.p[Q8P_W] = w, p.p[Q8P_B] = n % 9 ? bias : NULL, p.p[Q8P_MULT] = mult, p.p[Q8P_SHIFT] = shift;
		memset(y0, 0x11, sizeof y0);
		memset(y1, 0x22, sizeof y1);
		q8_params p4 = p; /* the same weights, packed */
		p4.i[Q8_WBITS] = 4, p4.i[Q8_WNUM] = (int32_t)nw, p4.p[Q8P_W] = w4;
		if (dense) {
			q8k_dense_i8(&p, x, NULL, y0);
			if (i4)
				DENSE4(&p4, x, NULL, y1);
			else
				DENSE(&p, x, NULL, y1);
		} else {
			q8k_conv2d_i8(&p, x, NULL, y0);
#if defined(__ARM_FEATURE_MVE)
			if (G > 1 && G == C && G == OC && i4)
				q8k_dwconv_i8_mve_w4(&p4, x, NULL, y1);
			else if (G > 1 && G == C && G == OC)
				q8k_dwconv_i8_mve(&p, x, NULL, y1);
			else
#endif
			if (i4)
				CONV4(&p4, x, NULL, y1);
			else
				CONV(&p, x, NULL, y1);
		}
		for (int64_t i = 0; i < ny; i++)
			if (y0[i] != y1[i]) {
				printf("case %d (%s%s C %d OC %d G %d K %dx%d): y[%ld] %d, ref %d\n", n,
				       dense ? "dense" : "conv", i4 ? " int4" : "", C, OC, G, KH, KW, (long)i, y1[i], y0[i]);
				board_exit(0);
			}
		cases++;
		nw4 += i4;
		dw += !dense && G > 1 && G == C && G == OC;
	}
	printf("kernels %d cases (%d depthwise, %d int4)\n", cases, dw, nw4);
	board_exit(cases > 200);
}
