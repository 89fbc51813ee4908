/* AVX2 kernels (target x86-64-avx2).  Exactness first: vpmaddubsw would
   saturate its int16 pair sums, so these use vpmaddwd on sign-extended
   int16 only (exact, and as many products per instruction as the
   vpmaddubsw + vpmaddwd pair).  select.c packs W[g][ob][tap][kgrp][8][4]
   as int16: one ymm holds 4 output channels x 4 input channels; the
   4 activation bytes are broadcast and sign-extended, so int32 lane 2i
   holds channel i's products 0+1 and lane 2i+1 products 2+3, summed by
   one vphaddd at the end.  Requantization is the scalar q8_rq. */
#include "q8rt.h"
#include "tile.h"
#include "w4.h"
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
X2_INLINE void x2_store(const q8_geom *g, __m256i acc, __m256i m, __m256i s, int8_t *y, int nv)
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

/* One tile: M output pixels (M <= 6) x 8 channels, two ymm per pixel,
   all taps.  Named accumulators behind constant guards (not an array) so
   that gcc and clang keep them in registers. */
#define X2_ROWS(F) F(0) F(1) F(2) F(3) F(4) F(5)
#define X2_DECL(r) __m256i a##r##0 = _mm256_setzero_si256(), a##r##1 = a##r##0;
#define X2_WLOAD() \
	__m256i w0 = _mm256_loadu_si256((const __m256i *)wt); \
	__m256i w1 = _mm256_loadu_si256((const __m256i *)(wt + 16));
#define X2_DOT(r) \
	if (M > r) { \
		__m256i xv = _mm256_cvtepi8_epi16(_mm_set1_epi32(q8_load4(xp##r + off, n))); \
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

X2_INLINE void x2_tile(const q8_geom *g, int M, int NB, const q8_pix *px, int npix,
                       const void *w, const int32_t *b, const int32_t *m,
                       const int32_t *s, const int8_t *pad, int nvalid, int8_t *y)
{
	(void)NB;
	X2_ROWS(X2_DECL)
	Q8_TILE_LOOP(X2_ROWS, int16_t, 32, X2_WLOAD, X2_DOT)
	__m256i bv = _mm256_loadu_si256((const __m256i *)b);
	__m256i mv = _mm256_loadu_si256((const __m256i *)m);
	__m256i sv = _mm256_loadu_si256((const __m256i *)s);
	int nv = nvalid < 8 ? nvalid : 8;
	X2_ROWS(X2_OUT)
}

Q8_SHAPE(x2_tile_6, x2_tile, 6, 1)
Q8_SHAPE(x2_tile_1, x2_tile, 1, 1)

static const q8_shape x2_shapes[] = { { 1, 6, x2_tile_6, x2_tile_1 } };

/* a block is 8 output channels x 4 input channels of int16 */
Q8K void q8k_conv2d_i8_avx2(const q8_params *p, const void *a, const void *b, void *y)
{
	(void)b;
	q8_conv_run(p, a, y, 0, 8, 64, x2_shapes);
}

Q8K void q8k_dense_i8_avx2(const q8_params *p, const void *a, const void *b, void *y)
{
	(void)b;
	q8_conv_run(p, a, y, 1, 8, 64, x2_shapes);
}

/* Depthwise (groups == C == OC): 8 channels (one ymm) along one output
   row at a time, the scheme of avx512.c's depthwise kernel with vpmaddwd:
   select.c packs W[C/8][NG][kw][8][2] as int16, NG = ceil(kh/2): lane c
   of the vector of row group g and column kx holds the weights of taps
   (2g, kx) and (2g + 1, kx) (0 past kh).  Before a row, every input
   column iw it reads is sign-extended once into T[g][iw], lane c holding
   the int16 pair x[ih_0][iw][c], x[ih_1][iw][c] (the zero point where the
   row or the column is padding); each output pixel is then kw vpmaddwd
   per group on T[ox * sw + kx * dw], with no padding test. */
enum { X2_DWT = 256 }; /* T vectors: NG x columns (select.c: DWCOLS) */

/* Requantize constants of 8 channels: avx512.c's x5_dwq, x5_dwrq. */
typedef struct {
	__m256i m, mo, c, k, lc, hc, le, lo, re, ro, ylo, yhi, yzp;
	int fast;
} x2_dwq;

X2_INLINE void x2_dwq_init(x2_dwq *q, const q8_geom *g, const int32_t *m, const int32_t *s, int nv)
{
	const __m256i one = _mm256_set1_epi32(1), zero = _mm256_setzero_si256();
	const __m256i lo32 = _mm256_set1_epi64x(0xffffffff), one64 = _mm256_set1_epi64x(1);
	__m256i r = _mm256_sub_epi32(_mm256_set1_epi32(31), _mm256_loadu_si256((const __m256i *)s));
	q->m = _mm256_loadu_si256((const __m256i *)m);
	q->mo = _mm256_srli_epi64(q->m, 32);
	q->yzp = _mm256_set1_epi32(g->yzp);
	/* 33 <= R <= 54 on the nv valid lanes */
	__m256i bad = _mm256_or_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(33), r),
	                              _mm256_cmpgt_epi32(r, _mm256_set1_epi32(54)));
	q->fast = (_mm256_movemask_ps(_mm256_castsi256_ps(bad)) & ((1 << nv) - 1)) == 0;
	if (q->fast) {
		q->k = _mm256_sub_epi32(r, _mm256_set1_epi32(32));
		q->c = _mm256_add_epi32(_mm256_sllv_epi32(one, _mm256_sub_epi32(q->k, one)),
		                        _mm256_sllv_epi32(q->yzp, q->k));
		q->ylo = _mm256_set1_epi32(g->lo);
		q->yhi = _mm256_set1_epi32(g->hi);
		return;
	}
	__m256i small = _mm256_cmpgt_epi32(_mm256_set1_epi32(32), r);
	__m256i half = _mm256_sllv_epi32(one, _mm256_sub_epi32(r, one));
	q->hc = _mm256_blendv_epi8(_mm256_set1_epi32(INT32_MAX), half, small);
	q->lc = _mm256_blendv_epi8(_mm256_set1_epi32(INT32_MIN), _mm256_sub_epi32(zero, half), small);
	__m256i l = _mm256_max_epi32(_mm256_sub_epi32(_mm256_set1_epi32(32), r), zero);
	__m256i e = _mm256_sub_epi32(_mm256_max_epi32(r, _mm256_set1_epi32(32)), one);
	q->k = _mm256_max_epi32(_mm256_sub_epi32(r, _mm256_set1_epi32(32)), zero);
	q->le = _mm256_and_si256(l, lo32);
	q->lo = _mm256_srli_epi64(l, 32);
	q->re = _mm256_sllv_epi64(one64, _mm256_and_si256(e, lo32));
	q->ro = _mm256_sllv_epi64(one64, _mm256_srli_epi64(e, 32));
	q->ylo = _mm256_set1_epi32(g->lo - g->yzp);
	q->yhi = _mm256_set1_epi32(g->hi - g->yzp);
}

X2_INLINE __m256i x2_dwrq(int FAST, const x2_dwq *q, __m256i acc)
{
	if (!FAST)
		acc = _mm256_min_epi32(_mm256_max_epi32(acc, q->lc), q->hc);
	__m256i te = _mm256_mul_epi32(acc, q->m);
	__m256i to = _mm256_mul_epi32(_mm256_srli_epi64(acc, 32), q->mo);
	if (!FAST) {
		te = _mm256_add_epi64(_mm256_sllv_epi64(te, q->le), q->re);
		to = _mm256_add_epi64(_mm256_sllv_epi64(to, q->lo), q->ro);
	}
	__m256i h = _mm256_blend_epi32(_mm256_srli_epi64(te, 32), to, 0xaa);
	if (FAST)
		h = _mm256_add_epi32(h, q->c);
	h = _mm256_min_epi32(_mm256_max_epi32(_mm256_srav_epi32(h, q->k), q->ylo), q->yhi);
	return FAST ? h : _mm256_add_epi32(h, q->yzp);
}

/* 8 bytes (nv of them in a TAIL block) of a row */
X2_INLINE __m128i x2_dwload(int TAIL, const int8_t *p, int nv)
{
	if (!TAIL)
		return _mm_loadl_epi64((const __m128i *)p);
	int64_t v = 0;
	memcpy(&v, p, (size_t)nv);
	return _mm_cvtsi64_si128(v);
}

/* T[i] for the input columns iw0 + i, i < n: rows rp[0], and rp[1] if PAIR,
   cs[j] bytes per column (0 for a padding row, which points at 8 zero
   points) */
X2_INLINE void x2_dwt(int PAIR, int TAIL, __m256i *T, int iw0, int n, int w,
                      const int8_t *const *rp, const int64_t *cs, int nv, __m256i tpad)
{
	int i = 0, e = w - iw0 < n ? w - iw0 : n;
	for (; i < n && iw0 + i < 0; i++)
		T[i] = tpad;
	/* named values, not arrays: see x5_dwt */
	const int8_t *r0 = rp[0], *r1 = PAIR ? rp[1] : r0;
	int64_t c0 = cs[0], c1 = PAIR ? cs[1] : 0;
	for (; i < e; i++) {
		int64_t iw = iw0 + i;
		__m128i a = x2_dwload(TAIL, r0 + iw * c0, nv);
		if (PAIR)
			T[i] = _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(a, x2_dwload(TAIL, r1 + iw * c1, nv)));
		else
			T[i] = _mm256_cvtepi8_epi32(a); /* the high half meets weight 0 */
	}
	for (; i < n; i++)
		T[i] = tpad;
}

/* n output pixels of one row, 8 channels (nv valid), from T.  K3: two
   row groups and kw == 3 (3x3 and 4x3 windows), 6 weights in registers. */
X2_INLINE void x2_dwrow(int FAST, int K3, const q8_geom *g, const __m256i *T, int tcols, int ng,
                        const int16_t *wb, const int32_t *b, const x2_dwq *q, int n,
                        int8_t *y, int nv)
{
	const __m256i bias = _mm256_loadu_si256((const __m256i *)b);
	__m256i w0 = _mm256_loadu_si256((const __m256i *)wb), w1 = w0, w2 = w0, w3 = w0, w4 = w0, w5 = w0;
	if (K3) {
		w1 = _mm256_loadu_si256((const __m256i *)(wb + 16));
		w2 = _mm256_loadu_si256((const __m256i *)(wb + 32));
		w3 = _mm256_loadu_si256((const __m256i *)(wb + 48));
		w4 = _mm256_loadu_si256((const __m256i *)(wb + 64));
		w5 = _mm256_loadu_si256((const __m256i *)(wb + 80));
	}
	int sw = g->sw, dw = g->dw, kw = g->kw, C = g->c;
	for (int i = 0; i < n; i++) {
		const __m256i *t = T + (int64_t)i * sw, *u = t + tcols;
		__m256i acc = bias;
		if (K3) {
			__m256i a0 = _mm256_add_epi32(_mm256_madd_epi16(t[0], w0), _mm256_madd_epi16(u[0], w3));
			__m256i a1 = _mm256_add_epi32(_mm256_madd_epi16(t[dw], w1), _mm256_madd_epi16(u[dw], w4));
			__m256i a2 = _mm256_add_epi32(_mm256_madd_epi16(t[2 * dw], w2),
			                              _mm256_madd_epi16(u[2 * dw], w5));
			acc = _mm256_add_epi32(_mm256_add_epi32(acc, a0), _mm256_add_epi32(a1, a2));
		} else {
			for (int gi = 0; gi < ng; gi++)
				for (int kx = 0; kx < kw; kx++)
					acc = _mm256_add_epi32(acc, _mm256_madd_epi16(t[gi * tcols + kx * dw],
						_mm256_loadu_si256((const __m256i *)(wb + (gi * kw + kx) * 16))));
		}
		__m256i v = x2_dwrq(FAST, q, acc);
		__m128i o = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
		o = _mm_packs_epi16(o, o); /* no saturation: v is within [lo, hi] */
		int8_t *yo = y + (int64_t)i * C;
		if (nv == 8) {
			_mm_storel_epi64((__m128i *)yo, o);
		} else {
			int64_t bytes = _mm_cvtsi128_si64(o);
			memcpy(yo, &bytes, (size_t)nv);
		}
	}
}

#define X2_DWROW(F, K) \
	static __attribute__((noinline)) void x2_dwrow_##F##K(const q8_geom *g, const __m256i *T, \
		int tcols, int ng, const int16_t *wb, const int32_t *b, const x2_dwq *q, int n, \
		int8_t *y, int nv) \
	{ \
		x2_dwrow(F, K, g, T, tcols, ng, wb, b, q, n, y, nv); \
	}
X2_DWROW(1, 1)
X2_DWROW(1, 0)
X2_DWROW(0, 1)
X2_DWROW(0, 0)
#undef X2_DWROW

Q8K void q8k_dwconv_i8_avx2(const q8_params *p, const void *a, const void *bb, void *yy)
{
	(void)bb;
	q8_geom gg, *g = &gg;
	q8_geom_init(g, p, 0, 8);
	const int8_t *x = a;
	const int16_t *w = p->p[Q8P_W];
	int8_t *y = yy;
	const int32_t *b = p->p[Q8P_B], *m = p->p[Q8P_MULT], *s = p->p[Q8P_SHIFT];
	int C = g->c, ng = (g->kh + 1) / 2, tcols = X2_DWT / ng, span = (g->kw - 1) * g->dw + 1;
	if (g->pixels <= 0 || span > tcols)
		return; /* select.c keeps ng * span <= X2_DWT */
	int opc = (tcols - span) / g->sw + 1; /* output pixels per pass */
	int k3 = ng == 2 && g->kw == 3;
	int8_t azp = (int8_t)p->i[Q8_AZP], pad[8];
	memset(pad, azp, sizeof pad);
	__m256i T[X2_DWT];
	const __m256i tpad = _mm256_set1_epi16(azp);
	int64_t rowb = (int64_t)g->w * C, imgb = rowb * g->h;
	int nimg = (int)(g->pixels / ((int64_t)g->oh * g->ow));
	for (int n = 0; n < nimg; n++)
	for (int oy = 0; oy < g->oh; oy++)
	for (int ox0 = 0; ox0 < g->ow; ox0 += opc) {
		int np = g->ow - ox0 < opc ? g->ow - ox0 : opc;
		int iw0 = ox0 * g->sw - g->pl, ncol = (np - 1) * g->sw + span;
		for (int c = 0; c < C; c += 8) {
			int nv = C - c < 8 ? C - c : 8;
			for (int gi = 0; gi < ng; gi++) {
				const int8_t *rp[2];
				int64_t cs[2];
				int nr = g->kh - 2 * gi < 2 ? 1 : 2;
				for (int j = 0; j < nr; j++) {
					int ih = oy * g->sh - g->pt + (2 * gi + j) * g->dh;
					int in = ih >= 0 && ih < g->h;
					rp[j] = in ? x + n * imgb + ih * rowb + c : pad;
					cs[j] = in ? C : 0;
				}
				__m256i *tg = T + gi * tcols;
				if (nr == 2 && nv == 8)
					x2_dwt(1, 0, tg, iw0, ncol, g->w, rp, cs, nv, tpad);
				else if (nr == 2)
					x2_dwt(1, 1, tg, iw0, ncol, g->w, rp, cs, nv, tpad);
				else if (nv == 8)
					x2_dwt(0, 0, tg, iw0, ncol, g->w, rp, cs, nv, tpad);
				else
					x2_dwt(0, 1, tg, iw0, ncol, g->w, rp, cs, nv, tpad);
			}
			x2_dwq q;
			x2_dwq_init(&q, g, m + c, s + c, nv);
			const int16_t *wb = w + (int64_t)c * ng * g->kw * 2;
			int8_t *yr = y + (((int64_t)n * g->oh + oy) * g->ow + ox0) * C + c;
			if (q.fast && k3)
				x2_dwrow_11(g, T, tcols, ng, wb, b + c, &q, np, yr, nv);
			else if (q.fast)
				x2_dwrow_10(g, T, tcols, ng, wb, b + c, &q, np, yr, nv);
			else if (k3)
				x2_dwrow_01(g, T, tcols, ng, wb, b + c, &q, np, yr, nv);
			else
				x2_dwrow_00(g, T, tcols, ng, wb, b + c, &q, np, yr, nv);
		}
	}
}

#undef X2_ROWS
#undef X2_DECL
#undef X2_DOT
#undef X2_OUT
/* lut_i8: y = T[x + 128] with vpshufb, which looks up 16 bytes and gives
   0 where the index has bit 7 set.  Split T into 16 rows of 16 and let
   u = x + 128 = 16 h + l.  For the lanes with h < 8, the index u - 16 k
   is l with bit 7 clear exactly when k <= h, so the XOR of row k ^ row
   k-1 looked up at u - 16 k for k = 0 .. 7 (row -1 = 0) telescopes to
   row h at l; the lanes with h >= 8 do the same over rows 8 .. 15 with
   u - 128 = x, and bit 7 of u picks which half a lane takes. */
Q8K void q8k_lut_i8_avx2(const q8_params *p, const void *a, const void *b, void *y)
{
	const int8_t *x = a, *t = p->p[Q8P_W];
	int8_t *o = y;
	int64_t n = p->i[Q8_COUNT], i = 0;
	(void)b;
	__m256i d[16];
	for (int k = 0; k < 16; k++) {
		__m128i r = _mm_loadu_si128((const __m128i *)(const void *)(t + 16 * k));
		if (k % 8)
			r = _mm_xor_si128(r, _mm_loadu_si128((const __m128i *)(const void *)(t + 16 * k - 16)));
		d[k] = _mm256_broadcastsi128_si256(r);
	}
	const __m256i step = _mm256_set1_epi8(16), flip = _mm256_set1_epi8((char)0x80);
	for (; i + 32 <= n; i += 32) {
		__m256i xv = _mm256_loadu_si256((const __m256i *)(const void *)(x + i));
		__m256i u = _mm256_xor_si256(xv, flip), il = u, ih = xv;
		__m256i rl = _mm256_shuffle_epi8(d[0], il), rh = _mm256_shuffle_epi8(d[8], ih);
		for (int k = 1; k < 8; k++) {
			il = _mm256_sub_epi8(il, step);
			ih = _mm256_sub_epi8(ih, step);
			rl = _mm256_xor_si256(rl, _mm256_shuffle_epi8(d[k], il));
			rh = _mm256_xor_si256(rh, _mm256_shuffle_epi8(d[8 + k], ih));
		}
		_mm256_storeu_si256((__m256i *)(void *)(o + i), _mm256_blendv_epi8(rl, rh, u));
	}
	for (; i < n; i++)
		o[i] = t[(uint8_t)(x[i] ^ 0x80)];
}

/* int16 activations (a16w8): conv2d and dense with an int16 operand, the
   channel loop of a tap as one vpmaddwd dot product (runtime/a16_simd.h) */
Q8K void q8k_conv2d_a16_avx2(const q8_params *p, const void *a, const void *b, void *y);
Q8K void q8k_dense_a16_avx2(const q8_params *p, const void *a, const void *b, void *y);
#define Q8_A16_SFX avx2
#define Q8_A16_ISA 1
#include "a16_simd.h"
/* int4 weights, two per byte (w4.h): unpacked by blocks, then the same tiles */
Q8K void q8k_conv2d_i8_avx2_w4(const q8_params *p, const void *a, const void *b, void *y)
{
	_Alignas(64) int8_t wbuf[Q8_W4BLK]; /* its tiles are one block wide */
	(void)b;
	q8_conv_run_w(p, a, y, 0, 8, 64, x2_shapes, q8_unpack4_avx2, wbuf);
}

Q8K void q8k_dense_i8_avx2_w4(const q8_params *p, const void *a, const void *b, void *y)
{
	_Alignas(64) int8_t wbuf[Q8_W4BLK]; /* its tiles are one block wide */
	(void)b;
	q8_conv_run_w(p, a, y, 1, 8, 64, x2_shapes, q8_unpack4_avx2, wbuf);
}

Q8K void q8k_dwconv_i8_avx2_w4(const q8_params *p, const void *a, const void *b, void *y)
{
	q8_w4_whole(q8k_dwconv_i8_avx2, q8_unpack4_avx2, 2, p, a, b, y);
}

#ifdef X2_POP
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#undef X2_POP
#endif
