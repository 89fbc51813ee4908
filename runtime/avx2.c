/* AVX2 kernels (target x86-64-avx2).  Exactness first: vpmaddubsw would
   saturate its int16 pair sums, so these use vpmaddwd on sign-extended
   int16 only (exact, and as many products per instruction as the
   vpmaddubsw + vpmaddwd pair).  select.c packs W[g][ob][tap][kgrp][8][4]
   as int16: one ymm holds 4 output channels x 4 input channels; the
   4 activation bytes are broadcast and sign-extended, so int32 lane 2i
   holds channel i's products 0+1 and lane 2i+1 products 2+3, summed by
   one vphaddd at the end.  Requantization is the scalar q8_rq. */
#include "q8rt.h"
#include <immintrin.h>
#include <string.h>

#ifndef __AVX2__
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2"))), apply_to = function)
#define X2_POP
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx2")
#define X2_POP
#endif
#endif

#define X2_INLINE static inline __attribute__((always_inline))

enum { X2_PADBUF = 4096 };

typedef struct {
	int h, w, c, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl;
	int cg, ocg, nk, nob, taps, oc;
	int64_t pixels;
	int32_t yzp, lo, hi;
} x2_geom;

static void x2_geom_init(x2_geom *g, const q8_params *p, int dense)
{
	const int32_t *i = p->i;
	int groups = dense ? 1 : i[Q8_GROUPS];
	if (dense) {
				*g = (x2_geom){ .h = 1, .w = 1, .oh = 1, .ow = 1, .kh = 1, .kw = 1, .sh = 1, .sw = 1,
		                .dh = 1, .dw = 1 };
		g->pixels = i[Q8_N]; /* rows */
	} else {
		*g = (x2_geom){ .h = i[Q8_H], .w = i[Q8_W], .oh = i[Q8_OH], .ow = i[Q8_OW],
		                .kh = i[Q8_KH], .kw = i[Q8_KW], .sh = i[Q8_SH], .sw = i[Q8_SW],
		                .dh = i[Q8_DH], .dw = i[Q8_DW], .pt = i[Q8_PT], .pl = i[Q8_PL] };
		g->pixels = (int64_t)i[Q8_N] * g->oh * g->ow;
	}
	g->c = i[Q8_C];
	g->oc = i[Q8_OC];
	g->cg = g->c / groups;
	g->ocg = g->oc / groups;
	g->nk = (g->cg + 3) / 4;
	g->nob = (g->ocg + 7) / 8;
	g->taps = g->kh * g->kw;
	g->yzp = i[Q8_YZP];
	g->lo = i[Q8_LO];
	g->hi = i[Q8_HI];
}

/* rq(x, m, s) as in q8_rq, on 64-bit lanes t = x * m: 64-bit products in even and odd lanes; AVX2 has
   no 64-bit arithmetic shift, so shift (t + 2^63) logically and take
   2^63 >> R back off (exact: 2^63 is a multiple of 2^R). */
X2_INLINE __m256i x2_rq64(__m256i t, __m256i r, __m256i lo, __m256i hi)
{
	const __m256i one = _mm256_set1_epi64x(1), top = _mm256_set1_epi64x(INT64_MIN);
	t = _mm256_add_epi64(t, _mm256_sllv_epi64(one, _mm256_sub_epi64(r, one)));
	t = _mm256_sub_epi64(_mm256_srlv_epi64(_mm256_xor_si256(t, top), r), _mm256_srlv_epi64(top, r));
	t = _mm256_blendv_epi8(t, lo, _mm256_cmpgt_epi64(lo, t));
	return _mm256_blendv_epi8(t, hi, _mm256_cmpgt_epi64(t, hi));
}

/* clamp(yzp + rq(acc, m, s), lo, hi) on 8 int32 lanes, stored as nv <= 8 bytes */
X2_INLINE void x2_store(const x2_geom *g, __m256i acc, __m256i m, __m256i s, int8_t *y, int nv)
{
	const __m256i lo = _mm256_set1_epi64x((int64_t)g->lo - g->yzp);
	const __m256i hi = _mm256_set1_epi64x((int64_t)g->hi - g->yzp);
	__m256i r = _mm256_sub_epi32(_mm256_set1_epi32(31), s);
	__m256i re = _mm256_and_si256(r, _mm256_set1_epi64x(0xffffffff)), ro = _mm256_srli_epi64(r, 32);
	__m256i te = x2_rq64(_mm256_mul_epi32(acc, m), re, lo, hi);
	__m256i to = x2_rq64(_mm256_mul_epi32(_mm256_srli_epi64(acc, 32), _mm256_srli_epi64(m, 32)), ro, lo, hi);
	__m256i v = _mm256_blend_epi32(te, _mm256_slli_epi64(to, 32), 0xaa);
	v = _mm256_add_epi32(v, _mm256_set1_epi32(g->yzp));
	v = _mm256_packs_epi16(_mm256_packs_epi32(v, v), v);
	uint64_t b = (uint32_t)_mm_cvtsi128_si32(_mm256_castsi256_si128(v)) |
	             (uint64_t)(uint32_t)_mm_cvtsi128_si32(_mm256_extracti128_si256(v, 1)) << 32;
	if (nv >= 8)
		memcpy(y, &b, 8);
	else
		for (int j = 0; j < nv; j++)
			y[j] = (int8_t)(b >> 8 * j);
}

typedef struct {
	const int8_t *base;
	int ih, iw;
} x2_pix;

static x2_pix x2_pixel(const x2_geom *g, const int8_t *x, int64_t q)
{
	int64_t per = (int64_t)g->oh * g->ow;
	int64_t n = q / per, r = q % per;
	x2_pix px = { x + n * g->h * g->w * g->c, (int)(r / g->ow) * g->sh - g->pt,
	              (int)(r % g->ow) * g->sw - g->pl };
	return px;
}

/* One tile: M output pixels (M <= 6) x 8 channels, two ymm per pixel,
   all taps.  Named accumulators behind constant guards (not an array) so
   that gcc and clang keep them in registers. */
#define X2_ROWS(F) F(0) F(1) F(2) F(3) F(4) F(5)
#define X2_DECL(r) \
	__m256i a##r##0 = _mm256_setzero_si256(), a##r##1 = a##r##0; \
	const int8_t *xp##r = pad;
#define X2_PTR(r) \
	if (M > r) { \
		int ih = px[r].ih + ky * g->dh, iw = px[r].iw + kx * g->dw; \
		xp##r = ih < 0 || ih >= g->h || iw < 0 || iw >= g->w ? pad \
			: px[r].base + ((int64_t)ih * g->w + iw) * g->c; \
	}
#define X2_DOT(r) \
	if (M > r) { \
		int32_t v = 0; \
		X2_LOAD(xp##r + off); \
		__m256i xv = _mm256_cvtepi8_epi16(_mm_set1_epi32(v)); \
		a##r##0 = _mm256_add_epi32(a##r##0, _mm256_madd_epi16(xv, w0)); \
		a##r##1 = _mm256_add_epi32(a##r##1, _mm256_madd_epi16(xv, w1)); \
	}
/* [c0 c1 c4 c5 | c2 c3 c6 c7] -> c0..c7, then requantize */
#define X2_OUT(r) \
	if (M > r && npix > r) { \
		__m256i v = _mm256_hadd_epi32(a##r##0, a##r##1); \
		v = _mm256_add_epi32(_mm256_permute4x64_epi64(v, 0xd8), bv); \
		x2_store(g, v, mv, sv, y + (int64_t)r * g->oc, nv); \
	}

X2_INLINE void x2_tile(const x2_geom *g, int M, const x2_pix *px, int npix,
                       const int16_t *w, const int32_t *b, const int32_t *m,
                       const int32_t *s, const int8_t *pad, int nvalid, int8_t *y)
{
	X2_ROWS(X2_DECL)
	int full = g->cg / 4, rem = g->cg % 4;
	for (int t = 0; t < g->taps; t++) {
		int ky = t / g->kw, kx = t % g->kw;
		X2_ROWS(X2_PTR)
		const int16_t *wt = w + (int64_t)t * g->nk * 32;
		for (int k = 0; k < full; k++, wt += 32) {
			int64_t off = 4 * (int64_t)k;
			__m256i w0 = _mm256_loadu_si256((const __m256i *)wt);
			__m256i w1 = _mm256_loadu_si256((const __m256i *)(wt + 16));
#define X2_LOAD(p) memcpy(&v, p, 4)
			X2_ROWS(X2_DOT)
#undef X2_LOAD
		}
		if (rem) {
			/* the last channels, without reading past the pixel */
			int64_t off = 4 * (int64_t)full;
			__m256i w0 = _mm256_loadu_si256((const __m256i *)wt);
			__m256i w1 = _mm256_loadu_si256((const __m256i *)(wt + 16));
#define X2_LOAD(p) for (int i = 0; i < rem; i++) v |= (int32_t)((uint32_t)(uint8_t)(p)[i] << 8 * i)
			X2_ROWS(X2_DOT)
#undef X2_LOAD
		}
	}
	__m256i bv = _mm256_loadu_si256((const __m256i *)b);
	__m256i mv = _mm256_loadu_si256((const __m256i *)m);
	__m256i sv = _mm256_loadu_si256((const __m256i *)s);
	int nv = nvalid < 8 ? nvalid : 8;
	X2_ROWS(X2_OUT)
}

static void x2_conv(const q8_params *p, const int8_t *x, int8_t *y, int dense)
{
	x2_geom gg, *g = &gg;
	x2_geom_init(g, p, dense);
	int8_t pad[X2_PADBUF];
	if (g->cg <= X2_PADBUF)
		memset(pad, (int8_t)p->i[Q8_AZP], (size_t)g->cg);
	const int16_t *w = p->p[Q8P_W];
	const int32_t *b = p->p[Q8P_B], *m = p->p[Q8P_MULT], *s = p->p[Q8P_SHIFT];
	int groups = g->c / g->cg;
	x2_pix px[6];
	int64_t bstride = (int64_t)g->taps * g->nk * 32;
	for (int grp = 0; grp < groups; grp++) {
		const int8_t *xg = x + (int64_t)grp * g->cg;
		for (int ob = 0; ob < g->nob; ob++) {
			const int16_t *wb = w + ((int64_t)grp * g->nob + ob) * bstride;
			int64_t c0 = ((int64_t)grp * g->nob + ob) * 8;
			int nvalid = g->ocg - ob * 8;
			int8_t *yb = y + (int64_t)grp * g->ocg + ob * 8;
			int64_t q = 0;
			for (; q + 6 <= g->pixels; q += 6) {
				for (int r = 0; r < 6; r++)
					px[r] = x2_pixel(g, xg, q + r);
				x2_tile(g, 6, px, 6, wb, b + c0, m + c0, s + c0, pad, nvalid, yb + q * g->oc);
			}
			for (; q < g->pixels; q++) {
				px[0] = x2_pixel(g, xg, q);
				x2_tile(g, 1, px, 1, wb, b + c0, m + c0, s + c0, pad, nvalid, yb + q * g->oc);
			}
		}
	}
}

Q8K void q8k_conv2d_i8_avx2(const q8_params *p, const void *a, const void *b, void *y)
{
	(void)b;
	x2_conv(p, a, y, 0);
}

Q8K void q8k_dense_i8_avx2(const q8_params *p, const void *a, const void *b, void *y)
{
	(void)b;
	x2_conv(p, a, y, 1);
}

/* Depthwise (groups == C == OC): 8 channels per ymm.  W[tap][Cp] holds
   (uint16)w in int32 lanes, so vpmaddwd against the sign-extended
   activation is exactly x * w. */
Q8K void q8k_dwconv_i8_avx2(const q8_params *p, const void *a, const void *bb, void *yy)
{
	(void)bb;
	x2_geom gg, *g = &gg;
	x2_geom_init(g, p, 0);
	const int8_t *x = a;
	int8_t *y = yy;
	const int32_t *w = p->p[Q8P_W], *b = p->p[Q8P_B], *m = p->p[Q8P_MULT], *s = p->p[Q8P_SHIFT];
	int C = g->c, Cp = (C + 15) / 16 * 16;
	const __m256i azp = _mm256_set1_epi32(p->i[Q8_AZP]);
	for (int64_t q = 0; q < g->pixels; q++) {
		x2_pix px = x2_pixel(g, x, q);
		for (int c = 0; c < C; c += 8) {
			int nv = C - c < 8 ? C - c : 8;
			__m256i acc = _mm256_loadu_si256((const __m256i *)(b + c));
			for (int t = 0; t < g->taps; t++) {
				int ih = px.ih + t / g->kw * g->dh, iw = px.iw + t % g->kw * g->dw;
				__m256i xv = azp;
				if (ih >= 0 && ih < g->h && iw >= 0 && iw < g->w) {
					const int8_t *xs = px.base + ((int64_t)ih * g->w + iw) * C + c;
					int64_t v = 0;
					if (nv == 8)
						memcpy(&v, xs, 8);
					else
						for (int j = 0; j < nv; j++)
							v |= (int64_t)((uint64_t)(uint8_t)xs[j] << 8 * j);
					xv = _mm256_cvtepi8_epi32(_mm_cvtsi64_si128(v));
				}
				__m256i wv = _mm256_loadu_si256((const __m256i *)(w + (int64_t)t * Cp + c));
				acc = _mm256_add_epi32(acc, _mm256_madd_epi16(xv, wv));
			}
			x2_store(g, acc, _mm256_loadu_si256((const __m256i *)(m + c)),
			         _mm256_loadu_si256((const __m256i *)(s + c)), y + q * C + c, nv);
		}
	}
}

#undef X2_ROWS
#undef X2_DECL
#undef X2_PTR
#undef X2_DOT
#undef X2_OUT
#ifdef X2_POP
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#undef X2_POP
#endif
