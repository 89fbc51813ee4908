/* AVX-512 VNNI kernels (target x86-64-avx512).  Weights come packed by
   codegen/select.c: conv2d_i8 and dense_i8 read W[g][ob][tap][kgrp][16][4],
   one zmm per block of 16 output channels x 4 input channels, so one
   vpdpbusd adds 64 products.  vpdpbusd takes u8 x s8: the kernel feeds it
   x ^ 0x80 = x + 128 and select.c has folded -128 * sum(w) into the bias,
   so the int32 accumulator equals the portable kernel's exactly.  The
   requantization runs 16 channels at a time in 64-bit lanes, the same
   formula as q8_rq. */
#include "q8rt.h"
#include <immintrin.h>
#include <string.h>

/* Let a file compiled without -mavx512vnni still build these functions. */
#ifndef __AVX512VNNI__
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni"))), apply_to = function)
#define X5_POP
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni")
#define X5_POP
#endif
#endif

#define X5_INLINE static inline __attribute__((always_inline))

enum { X5_PADBUF = 4096 };

typedef struct {
	int h, w, c, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl;
	int cg, ocg, nk, nob, taps, oc;
	int64_t pixels;
	int32_t yzp, lo, hi;
} x5_geom;

static void x5_geom_init(x5_geom *g, const q8_params *p, int dense)
{
	const int32_t *i = p->i;
	int groups = dense ? 1 : i[Q8_GROUPS];
	if (dense) {
				*g = (x5_geom){ .h = 1, .w = 1, .oh = 1, .ow = 1, .kh = 1, .kw = 1, .sh = 1, .sw = 1,
		                .dh = 1, .dw = 1 };
		g->pixels = i[Q8_N]; /* rows */
	} else {
		*g = (x5_geom){ .h = i[Q8_H], .w = i[Q8_W], .oh = i[Q8_OH], .ow = i[Q8_OW],
		                .kh = i[Q8_KH], .kw = i[Q8_KW], .sh = i[Q8_SH], .sw = i[Q8_SW],
		                .dh = i[Q8_DH], .dw = i[Q8_DW], .pt = i[Q8_PT], .pl = i[Q8_PL] };
		g->pixels = (int64_t)i[Q8_N] * g->oh * g->ow;
	}
	g->c = i[Q8_C];
	g->oc = i[Q8_OC];
	g->cg = g->c / groups;
	g->ocg = g->oc / groups;
	g->nk = (g->cg + 3) / 4;
	g->nob = (g->ocg + 15) / 16;
	g->taps = g->kh * g->kw;
	g->yzp = i[Q8_YZP];
	g->lo = i[Q8_LO];
	g->hi = i[Q8_HI];
}

/* y = clamp(yzp + rq(acc, m, s), lo, hi) on 16 lanes, with the clamp done
   in 64 bits before narrowing (equal to saturating first, then clamping). */
X5_INLINE __m512i x5_rq(__m512i acc, __m512i m, __m512i s, const x5_geom *g)
{
	const __m512i lo = _mm512_set1_epi64((int64_t)g->lo - g->yzp);
	const __m512i hi = _mm512_set1_epi64((int64_t)g->hi - g->yzp);
	const __m512i one = _mm512_set1_epi64(1);
	__m512i r = _mm512_sub_epi32(_mm512_set1_epi32(31), s);
	__m512i re = _mm512_and_si512(r, _mm512_set1_epi64(0xffffffff));
	__m512i ro = _mm512_srli_epi64(r, 32);
	__m512i te = _mm512_mul_epi32(acc, m);
	__m512i to = _mm512_mul_epi32(_mm512_srli_epi64(acc, 32), _mm512_srli_epi64(m, 32));
	te = _mm512_add_epi64(te, _mm512_sllv_epi64(one, _mm512_sub_epi64(re, one)));
	to = _mm512_add_epi64(to, _mm512_sllv_epi64(one, _mm512_sub_epi64(ro, one)));
	te = _mm512_min_epi64(_mm512_max_epi64(_mm512_srav_epi64(te, re), lo), hi);
	to = _mm512_min_epi64(_mm512_max_epi64(_mm512_srav_epi64(to, ro), lo), hi);
	__m512i v = _mm512_mask_blend_epi32(0xaaaa, te, _mm512_slli_epi64(to, 32));
	return _mm512_add_epi32(v, _mm512_set1_epi32(g->yzp));
}

/* Where pixel q's window starts: image base, top-left input coordinate. */
typedef struct {
	const int8_t *base;
	int ih, iw;
} x5_pix;

static x5_pix x5_pixel(const x5_geom *g, const int8_t *x, int64_t q)
{
	int64_t per = (int64_t)g->oh * g->ow;
	int64_t n = q / per, r = q % per;
	x5_pix px = { x + n * g->h * g->w * g->c, (int)(r / g->ow) * g->sh - g->pt,
	              (int)(r % g->ow) * g->sw - g->pl };
	return px;
}

/* One tile: M output pixels x NB blocks of 16 channels (NB 1, 2 or 4),
   all taps.  M and NB are constants at every call; the accumulators are
   named variables (aRJ) behind constant guards rather than an array, so
   that both gcc and clang keep all of them in registers. */
#define X5_ROWS(F) F(0) F(1) F(2) F(3) F(4) F(5) F(6) F(7) F(8) F(9) F(10) F(11)
#define X5_DECL(r) \
	__m512i a##r##0 = _mm512_setzero_si512(), a##r##1 = a##r##0, a##r##2 = a##r##0, a##r##3 = a##r##0; \
	const int8_t *xp##r = pad;
#define X5_PTR(r) \
	if (M > r) { \
		int ih = px[r].ih + ky * g->dh, iw = px[r].iw + kx * g->dw; \
		xp##r = ih < 0 || ih >= g->h || iw < 0 || iw >= g->w ? pad \
			: px[r].base + ((int64_t)ih * g->w + iw) * g->c; \
	}
#define X5_DOT(r) \
	if (M > r) { \
		int32_t v = 0; \
		X5_LOAD(xp##r + off); \
		__m512i xv = _mm512_xor_si512(_mm512_set1_epi32(v), flip); \
		a##r##0 = _mm512_dpbusd_epi32(a##r##0, xv, w0); \
		if (NB > 1) \
			a##r##1 = _mm512_dpbusd_epi32(a##r##1, xv, w1); \
		if (NB > 2) { \
			a##r##2 = _mm512_dpbusd_epi32(a##r##2, xv, w2); \
			a##r##3 = _mm512_dpbusd_epi32(a##r##3, xv, w3); \
		} \
	}
#define X5_OUT1(r, j) \
	_mm_mask_storeu_epi8(y + (int64_t)r * g->oc + 16 * j, mask##j, _mm512_cvtepi32_epi8( \
		x5_rq(_mm512_add_epi32(a##r##j, b##j), m##j, s##j, g)));
#define X5_OUT(r) \
	if (M > r && npix > r) { \
		X5_OUT1(r, 0) \
		if (NB > 1) \
			X5_OUT1(r, 1) \
		if (NB > 2) { \
			X5_OUT1(r, 2) \
			X5_OUT1(r, 3) \
		} \
	}
#define X5_WLOAD \
	__m512i w0 = _mm512_loadu_si512((const void *)wt), w1 = w0, w2 = w0, w3 = w0; \
	if (NB > 1) \
		w1 = _mm512_loadu_si512((const void *)(wt + bs)); \
	if (NB > 2) { \
		w2 = _mm512_loadu_si512((const void *)(wt + 2 * bs)); \
		w3 = _mm512_loadu_si512((const void *)(wt + 3 * bs)); \
	}
#define X5_VEC(j) \
	__mmask16 mask##j = x5_mask(nvalid - 16 * j); \
	__m512i b##j = _mm512_loadu_si512((const void *)(b + 16 * j)); \
	__m512i m##j = _mm512_loadu_si512((const void *)(m + 16 * j)); \
	__m512i s##j = _mm512_loadu_si512((const void *)(s + 16 * j));

static inline __mmask16 x5_mask(int n)
{
	return n >= 16 ? 0xffff : n > 0 ? (__mmask16)((1u << n) - 1) : 0;
}

X5_INLINE void x5_tile(const x5_geom *g, int M, int NB, const x5_pix *px, int npix,
                       const int8_t *w, const int32_t *b, const int32_t *m,
                       const int32_t *s, const int8_t *pad, int nvalid, int8_t *y)
{
	const __m512i flip = _mm512_set1_epi32((int)0x80808080);
	X5_ROWS(X5_DECL)
	int64_t bs = (int64_t)g->taps * g->nk * 64;
	int full = g->cg / 4, rem = g->cg % 4;
	for (int t = 0; t < g->taps; t++) {
		int ky = t / g->kw, kx = t % g->kw;
		X5_ROWS(X5_PTR)
		const int8_t *wt = w + (int64_t)t * g->nk * 64;
		/* full groups of 4 channels, then the remainder (zero weights
		   past it), read without touching bytes past the pixel */
		for (int k = 0; k < full; k++, wt += 64) {
			int64_t off = 4 * (int64_t)k;
			X5_WLOAD
#define X5_LOAD(p) memcpy(&v, p, 4)
			X5_ROWS(X5_DOT)
#undef X5_LOAD
		}
		if (rem) {
			int64_t off = 4 * (int64_t)full;
			X5_WLOAD
#define X5_LOAD(p) for (int i = 0; i < rem; i++) v |= (int32_t)((uint32_t)(uint8_t)(p)[i] << 8 * i)
			X5_ROWS(X5_DOT)
#undef X5_LOAD
		}
	}
	X5_VEC(0)
	X5_VEC(1)
	X5_VEC(2)
	X5_VEC(3)
	X5_ROWS(X5_OUT)
}

/* Tiles of M pixels for NB blocks, and single pixels for the rest. */
#define X5_RUN(M, NB) do { \
	int64_t q = 0; \
	for (; q + (M) <= g->pixels; q += (M)) { \
		for (int r = 0; r < (M); r++) \
			px[r] = x5_pixel(g, xg, q + r); \
		x5_tile(g, M, NB, px, M, wb, bb, mb, sb, pad, nvalid, y + q * g->oc + yoff); \
	} \
	for (; q < g->pixels; q++) { \
		px[0] = x5_pixel(g, xg, q); \
		x5_tile(g, 1, NB, px, 1, wb, bb, mb, sb, pad, nvalid, y + q * g->oc + yoff); \
	} \
} while (0)

static void x5_conv(const q8_params *p, const int8_t *x, int8_t *y, int dense)
{
	x5_geom gg, *g = &gg;
	x5_geom_init(g, p, dense);
	int8_t pad[X5_PADBUF];
	if (g->cg <= X5_PADBUF)
		memset(pad, (int8_t)p->i[Q8_AZP], (size_t)g->cg);
	const int8_t *w = p->p[Q8P_W];
	const int32_t *b = p->p[Q8P_B], *m = p->p[Q8P_MULT], *s = p->p[Q8P_SHIFT];
	int groups = g->c / g->cg;
	x5_pix px[16];
	int64_t bstride = (int64_t)g->taps * g->nk * 64;
	for (int grp = 0; grp < groups; grp++) {
		const int8_t *xg = x + (int64_t)grp * g->cg;
		for (int ob = 0; ob < g->nob;) {
			int left = g->nob - ob, nb = left >= 4 ? 4 : left >= 2 ? 2 : 1;
			const int8_t *wb = w + ((int64_t)grp * g->nob + ob) * bstride;
			int64_t c0 = (int64_t)grp * g->nob * 16 + ob * 16;
			const int32_t *bb = b + c0, *mb = m + c0, *sb = s + c0;
			int nvalid = g->ocg - ob * 16;
			int64_t yoff = (int64_t)grp * g->ocg + ob * 16;
			if (nb == 4)
				X5_RUN(6, 4);
			else if (nb == 2)
				X5_RUN(12, 2);
			else
				X5_RUN(12, 1);
			ob += nb;
		}
	}
}

Q8K void q8k_conv2d_i8_avx512(const q8_params *p, const void *a, const void *b, void *y)
{
	(void)b;
	x5_conv(p, a, y, 0);
}

Q8K void q8k_dense_i8_avx512(const q8_params *p, const void *a, const void *b, void *y)
{
	(void)b;
	x5_conv(p, a, y, 1);
}

/* Depthwise (groups == C == OC): 64 channels (4 zmm) per pass over the
   window of one pixel.  W[tap][Cp] holds (uint16)w in int32 lanes;
   vpmaddwd of it with the sign-extended activation gives x * w (the high
   halves meet a zero).  Padded taps read the zero point. */
#define X5_DW(j) \
	if (NJ > j) { \
		__m512i xv = azp; \
		if (xs) \
			xv = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k##j, xs + 16 * j)); \
		a##j = _mm512_add_epi32(a##j, _mm512_madd_epi16(xv, \
			_mm512_loadu_si512((const void *)(wt + 16 * j)))); \
	}
#define X5_DWOUT(j) \
	if (NJ > j) \
		_mm_mask_storeu_epi8(yq + 16 * j, k##j, _mm512_cvtepi32_epi8(x5_rq(a##j, \
			_mm512_loadu_si512((const void *)(m + c + 16 * j)), \
			_mm512_loadu_si512((const void *)(s + c + 16 * j)), g)));

X5_INLINE void x5_dw(const x5_geom *g, int NJ, const int8_t *const *xt, int c, int Cp,
                     const int32_t *w, const int32_t *b, const int32_t *m, const int32_t *s,
                     __m512i azp, int8_t *yq)
{
	__mmask16 k0 = x5_mask(g->c - c), k1 = x5_mask(g->c - c - 16);
	__mmask16 k2 = x5_mask(g->c - c - 32), k3 = x5_mask(g->c - c - 48);
	__m512i a0 = _mm512_loadu_si512((const void *)(b + c)), a1 = a0, a2 = a0, a3 = a0;
	if (NJ > 1)
		a1 = _mm512_loadu_si512((const void *)(b + c + 16));
	if (NJ > 2) {
		a2 = _mm512_loadu_si512((const void *)(b + c + 32));
		a3 = _mm512_loadu_si512((const void *)(b + c + 48));
	}
	for (int t = 0; t < g->taps; t++) {
		const int8_t *xs = xt[t] ? xt[t] + c : NULL;
		const int32_t *wt = w + (int64_t)t * Cp + c;
		X5_DW(0) X5_DW(1) X5_DW(2) X5_DW(3)
	}
	yq += c;
	X5_DWOUT(0) X5_DWOUT(1) X5_DWOUT(2) X5_DWOUT(3)
}

Q8K void q8k_dwconv_i8_avx512(const q8_params *p, const void *a, const void *bb, void *yy)
{
	(void)bb;
	x5_geom gg, *g = &gg;
	x5_geom_init(g, p, 0);
	const int8_t *x = a;
	int8_t *y = yy;
	const int32_t *w = p->p[Q8P_W], *b = p->p[Q8P_B], *m = p->p[Q8P_MULT], *s = p->p[Q8P_SHIFT];
	int C = g->c, Cp = (C + 15) / 16 * 16;
	const __m512i azp = _mm512_set1_epi32(p->i[Q8_AZP]);
	enum { TAPS = 64 };
	const int8_t *xt[TAPS];
	for (int64_t q = 0; q < g->pixels; q++) {
		x5_pix px = x5_pixel(g, x, q);
		/* select.c sends windows of more than 64 taps to x5_conv */
		for (int t = 0; t < g->taps && t < TAPS; t++) {
			int ih = px.ih + t / g->kw * g->dh, iw = px.iw + t % g->kw * g->dw;
			xt[t] = ih >= 0 && ih < g->h && iw >= 0 && iw < g->w
				? px.base + ((int64_t)ih * g->w + iw) * C : NULL;
		}
		int c = 0;
		for (; c + 64 <= C; c += 64)
			x5_dw(g, 4, xt, c, Cp, w, b, m, s, azp, y + q * C);
		for (; c < C; c += 16)
			x5_dw(g, 1, xt, c, Cp, w, b, m, s, azp, y + q * C);
	}
}

#undef X5_RUN
#undef X5_ROWS
#undef X5_DECL
#undef X5_PTR
#undef X5_DOT
#undef X5_OUT1
#undef X5_OUT
#undef X5_VEC
#undef X5_WLOAD
#undef X5_DW
#undef X5_DWOUT
#ifdef X5_POP
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#undef X5_POP
#endif
