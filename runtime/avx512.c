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

/* Consecutive pixels without a division each (x5_pixel divides by
   64-bit values): oy, ox the output coordinate of px. */
typedef struct {
	x5_pix px;
	int oy, ox;
} x5_it;

static x5_it x5_at(const x5_geom *g, const int8_t *x, int64_t q)
{
	int64_t r = q % ((int64_t)g->oh * g->ow);
	x5_it it = { x5_pixel(g, x, q), (int)(r / g->ow), (int)(r % g->ow) };
	return it;
}

static inline void x5_step(const x5_geom *g, x5_it *it)
{
	it->px.iw += g->sw;
	if (++it->ox == g->ow) {
		it->ox = 0;
		it->px.iw = -g->pl;
		it->px.ih += g->sh;
		if (++it->oy == g->oh) {
			it->oy = 0;
			it->px.ih = -g->pt;
			it->px.base += (int64_t)g->h * g->w * g->c;
		}
	}
}

static void x5_pixels(const x5_geom *g, const int8_t *x, int64_t q, int cnt, x5_pix *px)
{
	x5_it it = x5_at(g, x, q);
	for (int r = 0; r < cnt; r++, x5_step(g, &it))
		px[r] = it.px;
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
		x5_pixels(g, xg, q, (M), px); \
		x5_tile(g, M, NB, px, M, wb, bb, mb, sb, pad, nvalid, y + q * g->oc + yoff); \
	} \
	for (; q < g->pixels; q++) { \
		x5_pixels(g, xg, q, 1, px); \
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

/* Convolutions with few input channels (groups 1, taps x C <= 64, as
   select.c decides): one vpdpbusd per 4 channels would waste most lanes
   on the zero channels of a group, so the whole window is the reduction
   axis instead.  Per 12 pixels the windows are copied into rows of
   K = taps x C bytes (the zero point where the window leaves the image,
   0 past K where the weights are 0) and run as a dense layer; W was
   packed as dense_i8 of [OC][K]. */
enum { X5_IM2COL = 64 };

static void x5_patch(const x5_geom *g, x5_pix px, int8_t azp, int8_t *row)
{
	int rowb = g->kw * g->c; /* <= 64 */
	if (g->dw == 1 && px.ih >= 0 && px.ih + (g->kh - 1) * g->dh < g->h && px.iw >= 0 &&
	    px.iw + g->kw - 1 < g->w) {
		/* inside the image: each window row is kw * c contiguous bytes */
		__mmask64 k = rowb >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << rowb) - 1;
		const int8_t *xs = px.base + ((int64_t)px.ih * g->w + px.iw) * g->c;
		for (int ky = 0; ky < g->kh; ky++)
			_mm512_mask_storeu_epi8(row + ky * rowb, k, _mm512_maskz_loadu_epi8(k,
				xs + (int64_t)ky * g->dh * g->w * g->c));
		return;
	}
	int k = 0;
	for (int ky = 0; ky < g->kh; ky++)
		for (int kx = 0; kx < g->kw; kx++) {
			int ih = px.ih + ky * g->dh, iw = px.iw + kx * g->dw;
			if (ih < 0 || ih >= g->h || iw < 0 || iw >= g->w) {
				for (int j = 0; j < g->c; j++)
					row[k++] = azp;
			} else {
				const int8_t *xs = px.base + ((int64_t)ih * g->w + iw) * g->c;
				for (int j = 0; j < g->c; j++)
					row[k++] = xs[j];
			}
		}
}

Q8K void q8k_conv2d_i8_im2col_avx512(const q8_params *p, const void *a, const void *bb, void *yy)
{
	(void)bb;
	x5_geom gg, *g = &gg;
	x5_geom_init(g, p, 0);
	const int8_t *x = a;
	int8_t *y = yy;
	int K = g->taps * g->c, Kp = (K + 3) / 4 * 4;
	if (K > X5_IM2COL || g->cg != g->c)
		return; /* select.c never picks this kernel then */
	x5_geom d = *g; /* the rows of windows as a dense layer */
	d.h = d.w = d.oh = d.ow = d.kh = d.kw = d.sh = d.sw = d.dh = d.dw = 1;
	d.pt = d.pl = 0;
	d.taps = 1;
	d.c = d.cg = Kp;
	d.nk = Kp / 4;
	const int8_t *w = p->p[Q8P_W];
	const int32_t *b = p->p[Q8P_B], *m = p->p[Q8P_MULT], *s = p->p[Q8P_SHIFT];
	int8_t buf[12][X5_IM2COL];
	memset(buf, 0, sizeof buf); /* past K: the weights there are 0 */
	x5_pix px[12];
	int64_t bstride = (int64_t)d.nk * 64;
	if (g->pixels <= 0)
		return;
	x5_it it = x5_at(g, x, 0);
	for (int64_t q = 0; q < g->pixels; q += 12) {
		int np = g->pixels - q < 12 ? (int)(g->pixels - q) : 12;
		for (int r = 0; r < 12; r++) {
			if (r < np) {
				x5_patch(g, it.px, (int8_t)p->i[Q8_AZP], buf[r]);
				x5_step(g, &it);
			}
			px[r] = (x5_pix){ buf[r < np ? r : 0], 0, 0 };
		}
		for (int ob = 0; ob < g->nob;) {
			int left = g->nob - ob, nb = left >= 4 ? 4 : left >= 2 ? 2 : 1;
			const int8_t *wb = w + ob * bstride;
			const int32_t *bo = b + ob * 16, *mo = m + ob * 16, *so = s + ob * 16;
			int nvalid = g->ocg - ob * 16;
			int8_t *yq = y + q * g->oc + ob * 16;
			if (nb == 4) {
				x5_tile(&d, 6, 4, px, np, wb, bo, mo, so, buf[0], nvalid, yq);
				if (np > 6)
					x5_tile(&d, 6, 4, px + 6, np - 6, wb, bo, mo, so, buf[0], nvalid,
					        yq + 6 * (int64_t)g->oc);
			} else if (nb == 2) {
				x5_tile(&d, 12, 2, px, np, wb, bo, mo, so, buf[0], nvalid, yq);
			} else {
				x5_tile(&d, 12, 1, px, np, wb, bo, mo, so, buf[0], nvalid, yq);
			}
			ob += nb;
		}
	}
}

/* Depthwise (groups == C == OC): 64 channels (4 zmm) per pass over the
   window of one pixel.  W[tap][Cp] holds (uint16)w in int32 lanes;
   vpmaddwd of it with the sign-extended activation gives x * w (the high
   halves meet a zero).  Padded taps read the zero point. */
#define X5_DW(j) \
	if (NJ > j) { \
		__m512i xv = azp; \
		if (!EDGE || xs) \
			xv = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k##j, xs + 16 * j)); \
		a##j = _mm512_add_epi32(a##j, _mm512_madd_epi16(xv, \
			_mm512_loadu_si512((const void *)(wt + 16 * j)))); \
	}
#define X5_DWOUT(j) \
	if (NJ > j) \
		_mm_mask_storeu_epi8(yq + 16 * j, k##j, _mm512_cvtepi32_epi8(x5_rq(a##j, \
			_mm512_loadu_si512((const void *)(m + c + 16 * j)), \
			_mm512_loadu_si512((const void *)(s + c + 16 * j)), g)));

X5_INLINE void x5_dw(const x5_geom *g, int NJ, int EDGE, const int8_t *const *xt, int c, int Cp,
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
		/* EDGE 0: every tap is inside the image */
		const int8_t *xs = !EDGE || xt[t] ? xt[t] + c : NULL;
		const int32_t *wt = w + (int64_t)t * Cp + c;
		X5_DW(0) X5_DW(1) X5_DW(2) X5_DW(3)
	}
	yq += c;
	X5_DWOUT(0) X5_DWOUT(1) X5_DWOUT(2) X5_DWOUT(3)
}

/* all channels of one pixel: 64, then 32, then 16 at a time */
#define X5_DWALL(E) { \
	int c = 0; \
	for (; c + 64 <= C; c += 64) \
		x5_dw(g, 4, E, xt, c, Cp, w, b, m, s, azp, yq); \
	for (; c + 32 <= C; c += 32) \
		x5_dw(g, 2, E, xt, c, Cp, w, b, m, s, azp, yq); \
	for (; c < C; c += 16) \
		x5_dw(g, 1, E, xt, c, Cp, w, b, m, s, azp, yq); \
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
	if (g->taps > TAPS)
		return; /* select.c sends windows of more than 64 taps to x5_conv */
	if (g->pixels <= 0)
		return;
	int64_t toff[TAPS];
	for (int t = 0; t < g->taps; t++)
		toff[t] = ((int64_t)(t / g->kw) * g->dh * g->w + (int64_t)(t % g->kw) * g->dw) * C;
	x5_it it = x5_at(g, x, 0);
	for (int64_t q = 0; q < g->pixels; q++, x5_step(g, &it)) {
		x5_pix px = it.px;
		int8_t *yq = y + q * C;
		if (px.ih >= 0 && px.ih + (g->kh - 1) * g->dh < g->h && px.iw >= 0 &&
		    px.iw + (g->kw - 1) * g->dw < g->w) {
			const int8_t *x0 = px.base + ((int64_t)px.ih * g->w + px.iw) * C;
			for (int t = 0; t < g->taps; t++)
				xt[t] = x0 + toff[t];
			X5_DWALL(0)
			continue;
		}
		for (int ky = 0, t = 0; ky < g->kh; ky++)
			for (int kx = 0; kx < g->kw; kx++, t++) {
				int ih = px.ih + ky * g->dh, iw = px.iw + kx * g->dw;
				xt[t] = ih >= 0 && ih < g->h && iw >= 0 && iw < g->w
					? px.base + ((int64_t)ih * g->w + iw) * C : NULL;
			}
		X5_DWALL(1)
	}
}

/* Per-tensor quantize of f32 to int8 (select.c picks it only then):
   q = clamp(rint(x / scale) + zp), NaN gives zp.  The division stays a
   division (vdivps is IEEE exact), vrndscaleps rounds half to even as
   nearbyintf does; the clamp runs on the integer-valued float against
   lo - zp and hi - zp, which are exact, so it equals the portable
   kernel's clamp in double. */
Q8K void q8k_quantize_i8_avx512(const q8_params *p, const void *a, const void *b, void *yy)
{
	(void)b;
	const float *x = a;
	int8_t *y = yy;
	int64_t n = (int64_t)p->i[Q8_OUTER] * p->i[Q8_LEN] * p->i[Q8_INNER];
	int32_t zp = p->i[Q8_YZP];
	const __m512 sc = _mm512_set1_ps(p->f[Q8F_SCALE]);
	const __m512 lo = _mm512_set1_ps((float)(-128 - zp)), hi = _mm512_set1_ps((float)(127 - zp));
	const __m512i vzp = _mm512_set1_epi32(zp);
	for (int64_t i = 0; i < n; i += 16) {
		__mmask16 k = x5_mask(n - i > 16 ? 16 : (int)(n - i));
		__m512 r = _mm512_roundscale_ps(_mm512_div_ps(_mm512_maskz_loadu_ps(k, x + i), sc),
		                                _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
		r = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(r, r, _CMP_UNORD_Q), r, _mm512_setzero_ps());
		r = _mm512_min_ps(_mm512_max_ps(r, lo), hi);
		__m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(r), vzp);
		_mm_mask_storeu_epi8(y + i, k, _mm512_cvtepi32_epi8(q));
	}
}

/* Max pooling: 64 channels per zmm, the window clipped to the input
   (as the portable kernel's), an empty window gives the zero point. */
Q8K void q8k_maxpool_i8_avx512(const q8_params *p, const void *a, const void *b, void *yy)
{
	(void)b;
	const int32_t *i = p->i;
	const int8_t *x = a;
	int8_t *y = yy;
	int64_t H = i[Q8_H], W = i[Q8_W], C = i[Q8_C], OH = i[Q8_OH], OW = i[Q8_OW];
	int64_t KH = i[Q8_KH], KW = i[Q8_KW];
	for (int64_t n = 0; n < i[Q8_N]; n++)
		for (int64_t oh = 0; oh < OH; oh++)
			for (int64_t ow = 0; ow < OW; ow++) {
				int64_t h0 = oh * i[Q8_SH] - i[Q8_PT], w0 = ow * i[Q8_SW] - i[Q8_PL];
				int64_t hs = h0 < 0 ? 0 : h0, he = h0 + KH < H ? h0 + KH : H;
				int64_t ws = w0 < 0 ? 0 : w0, we = w0 + KW < W ? w0 + KW : W;
				int8_t *o = y + ((n * OH + oh) * OW + ow) * C;
				if (hs >= he || ws >= we) {
					memset(o, (int8_t)i[Q8_AZP], (size_t)C);
					continue;
				}
				for (int64_t c = 0; c < C; c += 64) {
					__mmask64 k = C - c >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << (C - c)) - 1;
					__m512i mx = _mm512_set1_epi8(-128);
					for (int64_t ih = hs; ih < he; ih++)
						for (int64_t iw = ws; iw < we; iw++)
							mx = _mm512_max_epi8(mx, _mm512_maskz_loadu_epi8(k,
								x + ((n * H + ih) * W + iw) * C + c));
					_mm512_mask_storeu_epi8(o + c, k, mx);
				}
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
#undef X5_DWALL
#undef X5_DWOUT
#ifdef X5_POP
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#undef X5_POP
#endif
