/* What the microcontroller kernels (dsp.c, mve.c) share: convolution as a
   dot product over the whole window.  The reference weight layout
   [OC][KH][KW][C/G] already holds each output channel's window as one
   contiguous row, so one output pixel is: gather its window (the input
   zero point where it falls in the padding) into a stack buffer, then
   one dot product of that buffer with each row.  The includer passes its
   dot(acc, x, w, n): acc + sum x[i] * w[i] modulo 2^32, as ref.c's
   accumulators; the loops are inlined around it.  select.c picks these kernels only when a window fits
   the buffer (Q8_MCU_COL bytes), which bounds their stack. */
#ifndef Q8_MCU_H
#define Q8_MCU_H

#include "q8rt.h"

#define Q8_MCU_COL 1024

/* zp + rq clamped to [lo, hi] (ref.c's out8 and rq_at) */
static inline int8_t mcu_out(const q8_params *p, uint32_t acc, int64_t c)
{
	const int32_t *m = p->p[Q8P_MULT], *s = p->p[Q8P_SHIFT];
	int64_t k = p->i[Q8_NRQ] > 1 ? c : 0;
	int64_t v = (int64_t)p->i[Q8_YZP] + q8_rq((int32_t)acc, m[k], s[k]);
	return (int8_t)(v < p->i[Q8_LO] ? p->i[Q8_LO] : v > p->i[Q8_HI] ? p->i[Q8_HI] : v);
}

/* int4 weights (Q8_WBITS == 4, q8rt.h's q8_w4): n elements from element
   first into d, plain C (a byte's two nibbles sign-extended by shifts) */
static inline void mcu_unpack4(int8_t *d, const int8_t *w, int64_t first, int32_t n)
{
	int32_t i = 0;
	if (first & 1 && n > 0)
		d[i++] = (int8_t)q8_w4(w, first);
	const int8_t *s = w + ((first + i) >> 1);
	for (; i + 2 <= n; i += 2, s++) {
		d[i] = (int8_t)((int8_t)(*s << 4) >> 4);
		d[i + 1] = (int8_t)(*s >> 4);
	}
	if (i < n)
		d[i] = (int8_t)q8_w4(w, first + i);
}

typedef uint32_t (*mcu_dot_fn)(uint32_t acc, const int8_t *x, const int8_t *w, int32_t n);

/* conv2d_i8 (any groups, so depthwise too): per output pixel and group,
   the window into col, then one dot product per output channel */
static inline __attribute__((always_inline)) void
mcu_conv(const q8_params *p, const int8_t *x, int8_t *o, mcu_dot_fn dot)
{
	const int8_t *w = p->p[Q8P_W];
	const int32_t *bias = p->p[Q8P_B];
	int32_t H = p->i[Q8_H], W = p->i[Q8_W], C = p->i[Q8_C], OC = p->i[Q8_OC];
	int32_t OH = p->i[Q8_OH], OW = p->i[Q8_OW];
	int32_t KH = p->i[Q8_KH], KW = p->i[Q8_KW], G = p->i[Q8_GROUPS];
	int32_t cg = C / G, og = OC / G, n = KH * KW * cg;
	int8_t col[Q8_MCU_COL];
	for (int32_t i = 0; i < p->i[Q8_N] * OH * OW; i++) {
		int32_t ow = i % OW, oh = i / OW % OH, bn = i / (OW * OH);
		for (int32_t g = 0; g < G; g++) {
			int8_t *d = col;
			for (int32_t kh = 0; kh < KH; kh++) {
				int32_t ih = oh * p->i[Q8_SH] - p->i[Q8_PT] + kh * p->i[Q8_DH];
				for (int32_t kw = 0; kw < KW; kw++, d += cg) {
					int32_t iw = ow * p->i[Q8_SW] - p->i[Q8_PL] + kw * p->i[Q8_DW];
					/* loops, not memcpy: a window row is a few bytes, and
					   -ffreestanding makes memcpy a call */
					if (ih < 0 || ih >= H || iw < 0 || iw >= W) {
						for (int32_t c = 0; c < cg; c++)
							d[c] = (int8_t)p->i[Q8_AZP];
					} else {
						const int8_t *s = x + (((int64_t)bn * H + ih) * W + iw) * C + g * cg;
						for (int32_t c = 0; c < cg; c++)
							d[c] = s[c];
					}
				}
			}
			for (int32_t j = 0; j < og; j++) {
				int32_t oc = g * og + j;
				uint32_t acc = bias ? (uint32_t)bias[oc] : 0;
				acc = dot(acc, col, w + (int64_t)oc * n, n);
				o[(int64_t)i * OC + oc] = mcu_out(p, acc, oc);
			}
		}
	}
}

/* conv2d_i8 with int4 weights: the rows of as many output channels of a
   group as fit Q8_MCU_COL bytes are unpacked once per call into wrow,
   then every output pixel runs them on its window as above (the window
   gathered again for each such run of channels) */
static inline __attribute__((always_inline)) void
mcu_conv4(const q8_params *p, const int8_t *x, int8_t *o, mcu_dot_fn dot, int8_t *wrow)
{
	const int8_t *w = p->p[Q8P_W];
	const int32_t *bias = p->p[Q8P_B];
	int32_t H = p->i[Q8_H], W = p->i[Q8_W], C = p->i[Q8_C], OC = p->i[Q8_OC];
	int32_t OH = p->i[Q8_OH], OW = p->i[Q8_OW];
	int32_t KH = p->i[Q8_KH], KW = p->i[Q8_KW], G = p->i[Q8_GROUPS];
	int32_t cg = C / G, og = OC / G, n = KH * KW * cg;
	int32_t per = Q8_MCU_COL / n; /* rows per run: n <= Q8_MCU_COL (select.c) */
	int8_t col[Q8_MCU_COL];
	for (int32_t g = 0; g < G; g++)
		for (int32_t j0 = 0; j0 < og; j0 += per) {
			int32_t nj = og - j0 < per ? og - j0 : per;
			mcu_unpack4(wrow, w, (int64_t)(g * og + j0) * n, nj * n);
			for (int32_t i = 0; i < p->i[Q8_N] * OH * OW; i++) {
				int32_t ow = i % OW, oh = i / OW % OH, bn = i / (OW * OH);
				int8_t *d = col;
				for (int32_t kh = 0; kh < KH; kh++) {
					int32_t ih = oh * p->i[Q8_SH] - p->i[Q8_PT] + kh * p->i[Q8_DH];
					for (int32_t kw = 0; kw < KW; kw++, d += cg) {
						int32_t iw = ow * p->i[Q8_SW] - p->i[Q8_PL] + kw * p->i[Q8_DW];
						if (ih < 0 || ih >= H || iw < 0 || iw >= W) {
							for (int32_t c = 0; c < cg; c++)
								d[c] = (int8_t)p->i[Q8_AZP];
						} else {
							const int8_t *s = x + (((int64_t)bn * H + ih) * W + iw) * C + g * cg;
							for (int32_t c = 0; c < cg; c++)
								d[c] = s[c];
						}
					}
				}
				for (int32_t j = 0; j < nj; j++) {
					int32_t oc = g * og + j0 + j;
					uint32_t acc = bias ? (uint32_t)bias[oc] : 0;
					acc = dot(acc, col, wrow + (int64_t)j * n, n);
					o[(int64_t)i * OC + oc] = mcu_out(p, acc, oc);
				}
			}
		}
}

/* dense_i8: one dot product per output (int4: the row unpacked into
   wrow by pieces of Q8_MCU_COL) */
static inline __attribute__((always_inline)) void
mcu_dense(const q8_params *p, const int8_t *x, int8_t *o, mcu_dot_fn dot, int8_t *wrow)
{
	const int8_t *w = p->p[Q8P_W];
	const int32_t *bias = p->p[Q8P_B];
	int32_t K = p->i[Q8_C], OC = p->i[Q8_OC];
	for (int32_t r = 0; r < p->i[Q8_N]; r++)
		for (int32_t oc = 0; oc < OC; oc++) {
			uint32_t acc = bias ? (uint32_t)bias[oc] : 0;
			if (!wrow)
				acc = dot(acc, x + (int64_t)r * K, w + (int64_t)oc * K, K);
			for (int32_t k = 0; wrow && k < K; k += Q8_MCU_COL) {
				int32_t nk = K - k < Q8_MCU_COL ? K - k : Q8_MCU_COL;
				mcu_unpack4(wrow, w, (int64_t)oc * K + k, nk);
				acc = dot(acc, x + (int64_t)r * K + k, wrow, nk);
			}
			o[(int64_t)r * OC + oc] = mcu_out(p, acc, oc);
		}
}

#endif
