/* neon_dw.h: the NEON depthwise kernel, shared by runtime/neon.c and
   runtime/dotprod.c (sdot brings nothing to a reduction over 9 taps of
   one channel).  Groups == C == OC: 8 channels at a time, W[tap][Cp]
   int16, smlal/smlal2 of the sign-extended activations into int32. */
#ifndef Q8_NEON_DW_H
#define Q8_NEON_DW_H

#include "q8rt.h"
#include "tile.h"
#include <arm_neon.h>
#include <string.h>

Q8_HELPER void q8_dwconv_neon(const q8_params *p, const int8_t *x, int8_t *y)
{
	q8_geom gg, *g = &gg;
	q8_geom_init(g, p, 0, 8);
	const int16_t *w = p->p[Q8P_W];
	const int32_t *b = p->p[Q8P_B], *m = p->p[Q8P_MULT], *s = p->p[Q8P_SHIFT];
	int C = g->c, Cp = (C + 15) / 16 * 16;
	const int16x8_t azp = vdupq_n_s16((int16_t)p->i[Q8_AZP]);
	const int8_t *xt[Q8_DWTAPS];
	if (g->taps > Q8_DWTAPS || g->pixels <= 0)
		return; /* select.c sends windows of more than 64 taps to conv2d */
	q8_it it = q8_at(g, x, 0);
	for (int64_t q = 0; q < g->pixels; q++, q8_step(g, &it)) {
		for (int t = 0; t < g->taps; t++) /* NULL in the padding */
			xt[t] = q8_tap(g, it.px, t / g->kw, t % g->kw, NULL);
		for (int c = 0; c < C; c += 8) {
			int nv = C - c < 8 ? C - c : 8;
			int32x4_t lo = vld1q_s32(b + c), hi = vld1q_s32(b + c + 4);
			for (int t = 0; t < g->taps; t++) {
				int16x8_t xv = azp;
				if (xt[t]) {
					int8_t tmp[8] = { 0 };
					const int8_t *xs = xt[t] + c;
					if (nv < 8)
						xs = memcpy(tmp, xs, (size_t)nv);
					xv = vmovl_s8(vld1_s8(xs));
				}
				int16x8_t wv = vld1q_s16(w + (int64_t)t * Cp + c);
				lo = vmlal_s16(lo, vget_low_s16(xv), vget_low_s16(wv));
				hi = vmlal_high_s16(hi, xv, wv);
			}
			int32_t o[8];
			vst1q_s32(o, lo);
			vst1q_s32(o + 4, hi);
			for (int j = 0; j < nv; j++)
				y[q * C + c + j] = q8_out(g, o[j], m[c + j], s[c + j]);
		}
	}
}

#endif
