/* AArch64 dot-product kernels (target aarch64-dotprod, ARMv8.2 sdot).
   select.c packs conv2d_i8 and dense_i8 weights as
   W[g][ob][tap][kgrp][16][4]: a block of 16 output channels x 4 input
   channels is four q registers, and one sdot adds the 4 products of
   4 channels into their int32 lanes (signed x signed: no offset needed).
   The 4 activation bytes are duplicated across a register.  Depthwise is
   the NEON one (smlal); requantization is the scalar q8_rq. */
#include "q8rt.h"
#include <arm_neon.h>
#include <string.h>

/* Let a file compiled without +dotprod still build these functions. */
#ifndef __ARM_FEATURE_DOTPROD
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("dotprod"))), apply_to = function)
#define DP_POP
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("arch=armv8.2-a+dotprod")
#define DP_POP
#endif
#endif

#define DP_INLINE static inline __attribute__((always_inline))

enum { DP_PADBUF = 4096, DP_TAPS = 64 };

typedef struct {
	int h, w, c, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl;
	int cg, ocg, nk, nob, taps, oc;
	int64_t pixels;
	int32_t yzp, lo, hi;
} dp_geom;

static void dp_geom_init(dp_geom *g, const q8_params *p, int dense, int L)
{
	const int32_t *i = p->i;
	int groups = dense ? 1 : i[Q8_GROUPS];
	if (dense) {
		*g = (dp_geom){ .h = 1, .w = 1, .oh = 1, .ow = 1, .kh = 1, .kw = 1, .sh = 1, .sw = 1,
		                .dh = 1, .dw = 1 };
		g->pixels = i[Q8_N]; /* rows */
	} else {
		*g = (dp_geom){ .h = i[Q8_H], .w = i[Q8_W], .oh = i[Q8_OH], .ow = i[Q8_OW],
		                .kh = i[Q8_KH], .kw = i[Q8_KW], .sh = i[Q8_SH], .sw = i[Q8_SW],
		                .dh = i[Q8_DH], .dw = i[Q8_DW], .pt = i[Q8_PT], .pl = i[Q8_PL] };
		g->pixels = (int64_t)i[Q8_N] * g->oh * g->ow;
	}
	g->c = i[Q8_C];
	g->oc = i[Q8_OC];
	g->cg = g->c / groups;
	g->ocg = g->oc / groups;
	g->nk = (g->cg + 3) / 4;
	g->nob = (g->ocg + L - 1) / L;
	g->taps = g->kh * g->kw;
	g->yzp = i[Q8_YZP];
	g->lo = i[Q8_LO];
	g->hi = i[Q8_HI];
}

/* y = clamp(yzp + rq(acc, m, s), lo, hi), without int32 overflow */
DP_INLINE int8_t dp_out(const dp_geom *g, int32_t acc, int32_t m, int32_t s)
{
	int64_t v = (int64_t)g->yzp + q8_rq(acc, m, s);
	return (int8_t)(v < g->lo ? g->lo : v > g->hi ? g->hi : v);
}

typedef struct {
	const int8_t *base;
	int ih, iw;
} dp_pix;

static dp_pix dp_pixel(const dp_geom *g, const int8_t *x, int64_t q)
{
	int64_t per = (int64_t)g->oh * g->ow;
	int64_t n = q / per, r = q % per;
	dp_pix px = { x + n * g->h * g->w * g->c, (int)(r / g->ow) * g->sh - g->pt,
	              (int)(r % g->ow) * g->sw - g->pl };
	return px;
}

/* One tile: M output pixels (M <= 4) x 16 channels.  Named accumulators
   behind constant guards, so that they stay in registers. */
#define DP_ROWS(F) F(0) F(1) F(2) F(3)
#define DP_DECL(r) \
	int32x4_t a##r##0 = vdupq_n_s32(0), a##r##1 = a##r##0, a##r##2 = a##r##0, a##r##3 = a##r##0; \
	const int8_t *xp##r = pad;
#define DP_PTR(r) \
	if (M > r) { \
		int ih = px[r].ih + ky * g->dh, iw = px[r].iw + kx * g->dw; \
		xp##r = ih < 0 || ih >= g->h || iw < 0 || iw >= g->w ? pad \
			: px[r].base + ((int64_t)ih * g->w + iw) * g->c; \
	}
#define DP_DOT(r) \
	if (M > r) { \
		int32_t v = 0; \
		DP_LOAD(xp##r + off); \
		int8x16_t xv = vreinterpretq_s8_s32(vdupq_n_s32(v)); \
		a##r##0 = vdotq_s32(a##r##0, w0, xv); \
		a##r##1 = vdotq_s32(a##r##1, w1, xv); \
		a##r##2 = vdotq_s32(a##r##2, w2, xv); \
		a##r##3 = vdotq_s32(a##r##3, w3, xv); \
	}
#define DP_OUT(r) \
	if (M > r && npix > r) { \
		int32_t o[16]; \
		vst1q_s32(o, vaddq_s32(a##r##0, vld1q_s32(b))); \
		vst1q_s32(o + 4, vaddq_s32(a##r##1, vld1q_s32(b + 4))); \
		vst1q_s32(o + 8, vaddq_s32(a##r##2, vld1q_s32(b + 8))); \
		vst1q_s32(o + 12, vaddq_s32(a##r##3, vld1q_s32(b + 12))); \
		for (int j = 0; j < nv; j++) \
			y[(int64_t)r * g->oc + j] = dp_out(g, o[j], m[j], s[j]); \
	}

DP_INLINE void dp_tile(const dp_geom *g, int M, const dp_pix *px, int npix,
                       const int8_t *w, const int32_t *b, const int32_t *m,
                       const int32_t *s, const int8_t *pad, int nvalid, int8_t *y)
{
	DP_ROWS(DP_DECL)
	int full = g->cg / 4, rem = g->cg % 4;
	for (int t = 0; t < g->taps; t++) {
		int ky = t / g->kw, kx = t % g->kw;
		DP_ROWS(DP_PTR)
		const int8_t *wt = w + (int64_t)t * g->nk * 64;
		for (int k = 0; k < full; k++, wt += 64) {
			int64_t off = 4 * (int64_t)k;
			int8x16_t w0 = vld1q_s8(wt), w1 = vld1q_s8(wt + 16), w2 = vld1q_s8(wt + 32), w3 = vld1q_s8(wt + 48);
#define DP_LOAD(p) memcpy(&v, p, 4)
			DP_ROWS(DP_DOT)
#undef DP_LOAD
		}
		if (rem) {
			/* the last channels, without reading past the pixel */
			int64_t off = 4 * (int64_t)full;
			int8x16_t w0 = vld1q_s8(wt), w1 = vld1q_s8(wt + 16), w2 = vld1q_s8(wt + 32), w3 = vld1q_s8(wt + 48);
#define DP_LOAD(p) for (int i = 0; i < rem; i++) v |= (int32_t)((uint32_t)(uint8_t)(p)[i] << 8 * i)
			DP_ROWS(DP_DOT)
#undef DP_LOAD
		}
	}
	int nv = nvalid < 16 ? nvalid : 16;
	DP_ROWS(DP_OUT)
}

static void dp_conv(const q8_params *p, const int8_t *x, int8_t *y, int dense)
{
	dp_geom gg, *g = &gg;
	dp_geom_init(g, p, dense, 16);
	int8_t pad[DP_PADBUF];
	if (g->cg <= DP_PADBUF)
		memset(pad, (int8_t)p->i[Q8_AZP], (size_t)g->cg);
	const int8_t *w = p->p[Q8P_W];
	const int32_t *b = p->p[Q8P_B], *m = p->p[Q8P_MULT], *s = p->p[Q8P_SHIFT];
	int groups = g->c / g->cg;
	dp_pix px[4];
	int64_t bstride = (int64_t)g->taps * g->nk * 64;
	for (int grp = 0; grp < groups; grp++) {
		const int8_t *xg = x + (int64_t)grp * g->cg;
		for (int ob = 0; ob < g->nob; ob++) {
			const int8_t *wb = w + ((int64_t)grp * g->nob + ob) * bstride;
			int64_t c0 = ((int64_t)grp * g->nob + ob) * 16;
			int nvalid = g->ocg - ob * 16;
			int8_t *yb = y + (int64_t)grp * g->ocg + ob * 16;
			int64_t q = 0;
			for (; q + 4 <= g->pixels; q += 4) {
				for (int r = 0; r < 4; r++)
					px[r] = dp_pixel(g, xg, q + r);
				dp_tile(g, 4, px, 4, wb, b + c0, m + c0, s + c0, pad, nvalid, yb + q * g->oc);
			}
			for (; q < g->pixels; q++) {
				px[0] = dp_pixel(g, xg, q);
				dp_tile(g, 1, px, 1, wb, b + c0, m + c0, s + c0, pad, nvalid, yb + q * g->oc);
			}
		}
	}
}

Q8K void q8k_conv2d_i8_dotprod(const q8_params *p, const void *a, const void *b, void *y)
{
	(void)b;
	dp_conv(p, a, y, 0);
}

Q8K void q8k_dense_i8_dotprod(const q8_params *p, const void *a, const void *b, void *y)
{
	(void)b;
	dp_conv(p, a, y, 1);
}

/* Depthwise (groups == C == OC): 8 channels at a time, W[tap][Cp] int16,
   smlal/smlal2 of the sign-extended activations into int32. */
Q8K void q8k_dwconv_i8_dotprod(const q8_params *p, const void *a, const void *bb, void *yy)
{
	(void)bb;
	dp_geom gg, *g = &gg;
	dp_geom_init(g, p, 0, 8);
	const int8_t *x = a;
	int8_t *y = yy;
	const int16_t *w = p->p[Q8P_W];
	const int32_t *b = p->p[Q8P_B], *m = p->p[Q8P_MULT], *s = p->p[Q8P_SHIFT];
	int C = g->c, Cp = (C + 15) / 16 * 16;
	const int16x8_t azp = vdupq_n_s16((int16_t)p->i[Q8_AZP]);
	const int8_t *xt[DP_TAPS];
	for (int64_t q = 0; q < g->pixels; q++) {
		dp_pix px = dp_pixel(g, x, q);
		/* select.c sends windows of more than 64 taps to dp_conv */
		for (int t = 0; t < g->taps && t < DP_TAPS; t++) {
			int ih = px.ih + t / g->kw * g->dh, iw = px.iw + t % g->kw * g->dw;
			xt[t] = ih >= 0 && ih < g->h && iw >= 0 && iw < g->w
				? px.base + ((int64_t)ih * g->w + iw) * C : NULL;
		}
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
				y[q * C + c + j] = dp_out(g, o[j], m[c + j], s[c + j]);
		}
	}
}

#undef DP_ROWS
#undef DP_DECL
#undef DP_PTR
#undef DP_DOT
#undef DP_OUT
#ifdef DP_POP
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#undef DP_POP
#endif
