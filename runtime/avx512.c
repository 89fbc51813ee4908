/* AVX-512 VNNI kernels (target x86-64-avx512).  Weights come packed by
   codegen/select.c: conv2d_i8 and dense_i8 read W[g][ob][tap][kgrp][16][4],
   one zmm per block of 16 output channels x 4 input channels, so one
   vpdpbusd adds 64 products.  vpdpbusd takes u8 x s8: the kernel feeds it
   x ^ 0x80 = x + 128 and select.c has folded -128 * sum(w) into the bias,
   so the int32 accumulator equals the portable kernel's exactly.  The
   requantization runs 16 channels at a time in 64-bit lanes, the same
   formula as q8_rq. */
#include "q8rt.h"
#include "tile.h"
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


/* rq(acc, m, s) of q8_rq on 16 lanes, clamped to [lo, hi] in 64 bits
   before narrowing (equal to saturating first, then clamping) */
X5_INLINE __m512i x5_rqc(__m512i acc, __m512i m, __m512i s, int64_t lo64, int64_t hi64)
{
	const __m512i lo = _mm512_set1_epi64(lo64), hi = _mm512_set1_epi64(hi64);
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
	return _mm512_mask_blend_epi32(0xaaaa, te, _mm512_slli_epi64(to, 32));
}


/* y = clamp(yzp + rq(acc, m, s), lo, hi) on 16 lanes */
X5_INLINE __m512i x5_rq(__m512i acc, __m512i m, __m512i s, const q8_geom *g)
{
	__m512i v = x5_rqc(acc, m, s, (int64_t)g->lo - g->yzp, (int64_t)g->hi - g->yzp);
	return _mm512_add_epi32(v, _mm512_set1_epi32(g->yzp));
}

static inline __mmask16 x5_mask(int n)
{
	return n >= 16 ? 0xffff : n > 0 ? (__mmask16)((1u << n) - 1) : 0;
}

static inline __mmask64 x5_mask64(int64_t n)
{
	return n >= 64 ? ~(__mmask64)0 : n > 0 ? ((__mmask64)1 << n) - 1 : 0;
}

/* The requantization of 16 output channels without 64-bit shifts, for
   the convolution tiles and the depthwise kernel: constants once per
   block (x5_dwq_init), then x5_dwrq per vector of accumulators. */
typedef struct {
	__m512i m, mo;       /* multiplier: even lanes, odd lanes moved down */
	__m512i c, k;        /* rounding (and zero point) term, right shift */
	__m512i lc, hc;      /* general: acc clamp */
	__m512i le, lo, re, ro; /* general: 64-bit left shift, rounding term */
	__m512i ylo, yhi, yzp;
	int fast;
} x5_dwq;

/* t = acc * m in 64 bits, R = 31 - s, rq = floor((t + 2^(R-1)) / 2^R).
   Fast, 33 <= R <= 54 on every channel: 2^(R-1) is a multiple of 2^32,
   so rq = (hi32(t) + 2^(k-1)) >> k with k = R - 32, and yzp * 2^k joins
   that term: no 64-bit shift, no saturation (|hi32(t)| <= 2^30 and
   |c| < 2^30 for k <= 22).  General, any R in [1, 62]: acc is first
   clamped to +-2^(R-1) when R <= 31 (rq is monotonic and rq(2^(R-1)) =
   floor((m + 1) / 2) >= 2^29 for m >= 2^30, so the clamp to [lo, hi]
   decides alike; m = 0 gives 0 either way), then
   u = (t << L) + 2^(R+L-1) with L = max(32 - R, 0) fits in 63 bits and
   rq = hi32(u) >> max(R - 32, 0), within int32: no saturation left. */
X5_INLINE void x5_dwq_init(x5_dwq *q, const q8_geom *g, const int32_t *m, const int32_t *s,
                           __mmask16 valid)
{
	const __m512i one = _mm512_set1_epi32(1), zero = _mm512_setzero_si512();
	const __m512i lo32 = _mm512_set1_epi64(0xffffffff), one64 = _mm512_set1_epi64(1);
	__m512i r = _mm512_sub_epi32(_mm512_set1_epi32(31), _mm512_loadu_si512((const void *)s));
	q->m = _mm512_loadu_si512((const void *)m);
	q->mo = _mm512_srli_epi64(q->m, 32);
	q->yzp = _mm512_set1_epi32(g->yzp);
	__mmask16 ok = _mm512_mask_cmpge_epi32_mask(valid, r, _mm512_set1_epi32(33)) &
	               _mm512_cmple_epi32_mask(r, _mm512_set1_epi32(54));
	q->fast = (__mmask16)(ok | (__mmask16)~valid) == 0xffff;
	if (q->fast) {
		q->k = _mm512_sub_epi32(r, _mm512_set1_epi32(32));
		q->c = _mm512_add_epi32(_mm512_sllv_epi32(one, _mm512_sub_epi32(q->k, one)),
		                        _mm512_sllv_epi32(q->yzp, q->k));
		q->ylo = _mm512_set1_epi32(g->lo);
		q->yhi = _mm512_set1_epi32(g->hi);
		return;
	}
	q->c = zero; /* unused by the general path; set, so every field is */
	__mmask16 small = _mm512_cmple_epi32_mask(r, _mm512_set1_epi32(31));
	__m512i half = _mm512_sllv_epi32(one, _mm512_sub_epi32(r, one));
	q->hc = _mm512_mask_blend_epi32(small, _mm512_set1_epi32(INT32_MAX), half);
	q->lc = _mm512_mask_blend_epi32(small, _mm512_set1_epi32(INT32_MIN), _mm512_sub_epi32(zero, half));
	__m512i l = _mm512_max_epi32(_mm512_sub_epi32(_mm512_set1_epi32(32), r), zero);
	__m512i e = _mm512_sub_epi32(_mm512_max_epi32(r, _mm512_set1_epi32(32)), one);
	q->k = _mm512_max_epi32(_mm512_sub_epi32(r, _mm512_set1_epi32(32)), zero);
	q->le = _mm512_and_si512(l, lo32);
	q->lo = _mm512_srli_epi64(l, 32);
	q->re = _mm512_sllv_epi64(one64, _mm512_and_si512(e, lo32));
	q->ro = _mm512_sllv_epi64(one64, _mm512_srli_epi64(e, 32));
	q->ylo = _mm512_set1_epi32(g->lo - g->yzp);
	q->yhi = _mm512_set1_epi32(g->hi - g->yzp);
}

/* yzp + rq(acc) on 16 lanes, fast path, unclamped (within int32: see
   x5_dwq_init) */
X5_INLINE __m512i x5_dwrqn(const x5_dwq *q, __m512i acc)
{
	__m512i te = _mm512_mul_epi32(acc, q->m);
	__m512i to = _mm512_mul_epi32(_mm512_srli_epi64(acc, 32), q->mo);
	/* the high halves: te's in the even lanes, to's in the odd ones */
	__m512i h = _mm512_mask_shuffle_epi32(to, 0x5555, te, _MM_PERM_CDAB);
	return _mm512_srav_epi32(_mm512_add_epi32(h, q->c), q->k);
}

/* clamp(yzp + rq(acc), lo, hi) on 16 lanes */
X5_INLINE __m512i x5_dwrq(int FAST, const x5_dwq *q, __m512i acc)
{
	if (FAST)
		return _mm512_min_epi32(_mm512_max_epi32(x5_dwrqn(q, acc), q->ylo), q->yhi);
	acc = _mm512_min_epi32(_mm512_max_epi32(acc, q->lc), q->hc);
	__m512i te = _mm512_sllv_epi64(_mm512_mul_epi32(acc, q->m), q->le);
	__m512i to = _mm512_sllv_epi64(_mm512_mul_epi32(_mm512_srli_epi64(acc, 32), q->mo), q->lo);
	te = _mm512_add_epi64(te, q->re);
	to = _mm512_add_epi64(to, q->ro);
	__m512i h = _mm512_mask_shuffle_epi32(to, 0x5555, te, _MM_PERM_CDAB);
	h = _mm512_min_epi32(_mm512_max_epi32(_mm512_srav_epi32(h, q->k), q->ylo), q->yhi);
	return _mm512_add_epi32(h, q->yzp);
}

/* Two or four blocks of one pixel (v0..v3, unclamped, in int32) narrowed
   together and stored as 32 or 64 contiguous bytes (k: the valid ones):
   two saturating packs (saturating to [-128, 127], then clamping to
   [lo, hi] in bytes, equals clamping in int32 first), then one permute
   that puts the dwords back in channel order (after the packs, dword
   4L + j holds channels 4L..4L+3 of block j). */
X5_INLINE void x5_pack(int NB, int8_t *y, __mmask64 k, __m512i v0, __m512i v1, __m512i v2,
                       __m512i v3, __m512i lo8, __m512i hi8)
{
	const __m512i idx = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
	__m512i p01 = _mm512_packs_epi32(v0, v1), p23 = NB > 2 ? _mm512_packs_epi32(v2, v3) : p01;
	__m512i r = _mm512_permutexvar_epi32(idx, _mm512_packs_epi16(p01, p23));
	r = _mm512_min_epi8(_mm512_max_epi8(r, lo8), hi8);
	if (NB > 2)
		_mm512_mask_storeu_epi8(y, k, r);
	else
		_mm256_mask_storeu_epi8(y, (__mmask32)k, _mm512_castsi512_si256(r));
}

/* One tile: M output pixels x NB blocks of 16 channels (NB 1, 2 or 4).
   M and NB are constants at every call; the accumulators are named
   variables (aRJ) behind constant guards rather than an array, so that
   both gcc and clang keep all of them in registers. */
#define X5_ROWS(F) F(0) F(1) F(2) F(3) F(4) F(5) F(6) F(7) F(8) F(9) F(10) F(11)
/* the accumulators start at the blocks' biases */
#define X5_BIAS \
	__m512i b0 = _mm512_loadu_si512((const void *)b), b1 = b0, b2 = b0, b3 = b0; \
	if (NB > 1) \
		b1 = _mm512_loadu_si512((const void *)(b + 16)); \
	if (NB > 2) { \
		b2 = _mm512_loadu_si512((const void *)(b + 32)); \
		b3 = _mm512_loadu_si512((const void *)(b + 48)); \
	}
#define X5_DECL(r) \
	__m512i a##r##0 = b0, a##r##1 = b1, a##r##2 = b2, a##r##3 = b3;
#define X5_WLOAD() \
	__m512i w0 = _mm512_loadu_si512((const void *)wt), w1 = w0, w2 = w0, w3 = w0; \
	if (NB > 1) \
		w1 = _mm512_loadu_si512((const void *)(wt + bs)); \
	if (NB > 2) { \
		w2 = _mm512_loadu_si512((const void *)(wt + 2 * bs)); \
		w3 = _mm512_loadu_si512((const void *)(wt + 3 * bs)); \
	}
/* row r's accumulators += the 4 activation bytes at p times w0..w3 */
#define X5_ACC(r, p) { \
	__m512i xv = _mm512_set1_epi32(q8_load4(p, n)); \
	if (FLIP) \
		xv = _mm512_xor_si512(xv, flip); \
	a##r##0 = _mm512_dpbusd_epi32(a##r##0, xv, w0); \
	if (NB > 1) \
		a##r##1 = _mm512_dpbusd_epi32(a##r##1, xv, w1); \
	if (NB > 2) { \
		a##r##2 = _mm512_dpbusd_epi32(a##r##2, xv, w2); \
		a##r##3 = _mm512_dpbusd_epi32(a##r##3, xv, w3); \
	} \
}
#define X5_DOT(r) \
	if (M > r) \
		X5_ACC(r, xp##r + off)
#define X5_VEC(j) \
	__mmask16 mask##j = x5_mask(nvalid - 16 * j); \
	x5_dwq q##j; \
	if (NB > j) { \
		x5_dwq_init(&q##j, g, m + 16 * j, s + 16 * j, mask##j); \
		fast &= q##j.fast; \
	}
/* F: x5_dwrq's fast path when every channel of the tile allows it (it
   needs no multiplier range), else x5_rq in 64 bits */
#define X5_OUT1(r, j, F) \
	_mm_mask_storeu_epi8(y + (int64_t)r * g->oc + 16 * j, mask##j, _mm512_cvtepi32_epi8(F \
		? x5_dwrq(1, &q##j, a##r##j) \
		: x5_rq(a##r##j, _mm512_loadu_si512((const void *)(m + 16 * j)), \
		        _mm512_loadu_si512((const void *)(s + 16 * j)), g)));
#define X5_OUTF(r, F) \
	if (M > r && npix > r) { \
		X5_OUT1(r, 0, F) \
		if (NB > 1) \
			X5_OUT1(r, 1, F) \
		if (NB > 2) { \
			X5_OUT1(r, 2, F) \
			X5_OUT1(r, 3, F) \
		} \
	}
/* the fast path: NB 2 and 4 through x5_pack */
#define X5_OUT(r) \
	if (M > r && npix > r) { \
		if (NB == 1) \
			X5_OUT1(r, 0, 1) \
		else \
			x5_pack(NB, y + (int64_t)r * g->oc, kall, x5_dwrqn(&q0, a##r##0), \
			        x5_dwrqn(&q1, a##r##1), NB > 2 ? x5_dwrqn(&q2, a##r##2) : a##r##2, \
			        NB > 2 ? x5_dwrqn(&q3, a##r##3) : a##r##3, lo8, hi8); \
	}
#define X5_OUTG(r) X5_OUTF(r, 0)

/* requantize and store rows 0..M-1 of the accumulators: the 32-bit
   path when every block allows it */
#define X5_STORE \
	int fast = 1; \
	__mmask64 kall = nvalid >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << nvalid) - 1; \
	const __m512i lo8 = _mm512_set1_epi8((char)g->lo), hi8 = _mm512_set1_epi8((char)g->hi); \
	X5_VEC(0) \
	X5_VEC(1) \
	X5_VEC(2) \
	X5_VEC(3) \
	if (fast) { \
		X5_ROWS(X5_OUT) \
	} else { \
		X5_ROWS(X5_OUTG) \
	}

/* FLIP: the input is s8, XOR it with 0x80 per broadcast; else it is
   already u8 (x5_conv's band copy) */
X5_INLINE void x5_tile(int FLIP, const q8_geom *g, int M, int NB, const q8_pix *px, int npix,
                       const void *w, const int32_t *b, const int32_t *m,
                       const int32_t *s, const int8_t *pad, int nvalid, int8_t *y)
{
	const __m512i flip = _mm512_set1_epi32((int)0x80808080);
	X5_BIAS
	X5_ROWS(X5_DECL)
	int64_t bs = (int64_t)g->taps * g->nk * 64; /* bytes between blocks */
	Q8_TILE_LOOP(X5_ROWS, int8_t, 64, X5_WLOAD, X5_DOT)
	X5_STORE
}

/* One pixel: the single-pixel tails and batch-1 dense layers.  With one
   accumulator per block, each vpdpbusd would wait for the one before it
   (a chain as long as the channel groups), so the groups take turns
   over 4 sets of accumulators, x5_tile's rows 0-3, added up at the end
   (mod 2^32, as every int32 accumulator here). */
#define X5_SET(u) { \
	const int8_t *wt = wq + 64 * u; \
	X5_WLOAD() \
	X5_ACC(u, xp + 4 * (k + u)) \
}
#define X5_ZERO(r) a##r##0 = a##r##1 = a##r##2 = a##r##3 = _mm512_setzero_si512();
#define X5_SUM(j) \
	a0##j = _mm512_add_epi32(_mm512_add_epi32(a0##j, a1##j), _mm512_add_epi32(a2##j, a3##j));

X5_INLINE void x5_one(int FLIP, const q8_geom *g, int NB, const q8_pix *px, int npix,
                      const void *w, const int32_t *b, const int32_t *m, const int32_t *s,
                      const int8_t *pad, int nvalid, int8_t *y)
{
	const int M = 1;
	const __m512i flip = _mm512_set1_epi32((int)0x80808080);
	X5_BIAS
	X5_ROWS(X5_DECL) /* rows 0-3 are the sets; X5_STORE stores row 0 */
	X5_ZERO(1) X5_ZERO(2) X5_ZERO(3) /* the bias once, in set 0 */
	int64_t bs = (int64_t)g->taps * g->nk * 64;
	int full = g->cg / 4, rem = g->cg % 4;
	for (int ky = 0, t = 0; ky < g->kh; ky++)
	for (int kx = 0; kx < g->kw; kx++, t++) {
		const int8_t *xp = q8_tap(g, px[0], ky, kx, pad);
		const int8_t *wt0 = (const int8_t *)w + (int64_t)t * g->nk * 64;
		int k = 0, n = 4;
		for (; k + 4 <= full; k += 4) {
			const int8_t *wq = wt0 + 64 * (int64_t)k;
			X5_SET(0) X5_SET(1) X5_SET(2) X5_SET(3)
		}
		for (; k < full; k++) {
			const int8_t *wq = wt0 + 64 * (int64_t)k;
			X5_SET(0)
		}
		if (rem) {
			const int8_t *wq = wt0 + 64 * (int64_t)full;
			n = rem;
			X5_SET(0)
		}
	}
	X5_SUM(0) X5_SUM(1) X5_SUM(2) X5_SUM(3)
	X5_STORE
}

#define X5_TILE(g, M, NB, ...) x5_tile(1, g, M, NB, __VA_ARGS__)
#define X5_TILEU(g, M, NB, ...) x5_tile(0, g, M, NB, __VA_ARGS__)
Q8_SHAPE(x5_tile_6_4, X5_TILE, 6, 4)
Q8_SHAPE(x5_tile_12_2, X5_TILE, 12, 2)
Q8_SHAPE(x5_tile_12_1, X5_TILE, 12, 1)
Q8_SHAPE(x5_tileu_6_4, X5_TILEU, 6, 4)
Q8_SHAPE(x5_tileu_12_2, X5_TILEU, 12, 2)
Q8_SHAPE(x5_tileu_12_1, X5_TILEU, 12, 1)
#undef X5_TILE
#undef X5_TILEU

#define X5_ONE(NAME, FLIP, NB) \
	static __attribute__((noinline, unused)) void NAME##_##NB(const q8_geom *g, \
		const q8_pix *px, int npix, const void *w, const int32_t *b, const int32_t *m, \
		const int32_t *s, const int8_t *pad, int nvalid, int8_t *y) \
	{ \
		x5_one(FLIP, g, NB, px, npix, w, b, m, s, pad, nvalid, y); \
	}
X5_ONE(x5_one, 1, 4)
X5_ONE(x5_one, 1, 2)
X5_ONE(x5_one, 1, 1)
X5_ONE(x5_oneu, 0, 4)
X5_ONE(x5_oneu, 0, 2)
X5_ONE(x5_oneu, 0, 1)
#undef X5_ONE
#undef X5_SET
#undef X5_SUM
#undef X5_ZERO

/* 4 blocks (64 channels) x 6 pixels is 24 accumulators, 4 weights,
   the activation and the flip constant: 30 of the 32 zmm registers */
static const q8_shape x5_shapes[] = {
	{ 4, 6, x5_tile_6_4, x5_one_4 },
	{ 2, 12, x5_tile_12_2, x5_one_2 },
	{ 1, 12, x5_tile_12_1, x5_one_1 },
};
static const q8_shape x5_shapesu[] = {
	{ 4, 6, x5_tileu_6_4, x5_oneu_4 },
	{ 2, 12, x5_tileu_12_2, x5_oneu_2 },
	{ 1, 12, x5_tileu_12_1, x5_oneu_1 },
};

/* A 1x1 convolution with stride 1 on a band is a GEMM: pixel r of a
   tile reads x + r * ldx (rows past npix repeat the last one), the
   weights W[ob][kgrp][16][4] one after the other; no pixel walk, no
   taps. */
X5_INLINE void x5_gemm(const q8_geom *g, int M, int NB, const int8_t *x, int64_t ldx, int npix,
                       const void *w, const int32_t *b, const int32_t *m, const int32_t *s,
                       int nvalid, int8_t *y)
{
	const int FLIP = 0;
	const __m512i flip = _mm512_setzero_si512();
	(void)flip;
	X5_BIAS
	X5_ROWS(X5_DECL)
	int64_t bs = (int64_t)g->nk * 64;
#define X5_XPG(r) const int8_t *xp##r = x + (int64_t)(r < npix ? r : npix - 1) * ldx;
	X5_ROWS(X5_XPG)
#undef X5_XPG
	const int8_t *wt = w;
	for (int k = 0; k < g->nk; k++, wt += 64) {
		const int64_t off = 4 * (int64_t)k;
		const int n = 4;
		X5_WLOAD()
		X5_ROWS(X5_DOT)
	}
	X5_STORE
}

typedef void x5_gemm_fn(const q8_geom *g, const int8_t *x, int64_t ldx, int npix, const void *w,
                        const int32_t *b, const int32_t *m, const int32_t *s, int nvalid,
                        int8_t *y);
#define X5_GEMM(M, NB) \
	static __attribute__((noinline)) void x5_gemm_##M##_##NB(const q8_geom *g, const int8_t *x, \
		int64_t ldx, int npix, const void *w, const int32_t *b, const int32_t *m, \
		const int32_t *s, int nvalid, int8_t *y) \
	{ \
		x5_gemm(g, M, NB, x, ldx, npix, w, b, m, s, nvalid, y); \
	}
X5_GEMM(6, 4)
X5_GEMM(12, 2)
X5_GEMM(12, 1)
#undef X5_GEMM

/* Convolutions run on bands of output rows.  The input rows a band reads
   are first copied into a stack buffer of X5_BAND bytes, XORed with 0x80
   (u8 for vpdpbusd), with the padding filled with the zero point (XORed
   too) and, for groups == 1, each pixel's channels padded with zeros to
   a multiple of 4 (the weights there are 0).  Then every window lies
   inside the buffer (the tiles' cheapest mode: one offset per tap and
   group), the last channel group is a whole int32 (C = 3: the stem's
   taps read 4 bytes, not 3 one by one), and the tiles XOR nothing: in
   the 6 x 64 tile that XOR per broadcast was 6 of every 30 uops of the
   ports that run vpdpbusd.  The copy reads each input byte about once
   (kh - sh rows more per band). */
enum { X5_BAND = 49152 };

/* rows [ih0, ih0 + nr) of image x, columns [-pl, -pl + wb), into buf:
   wb pixels of cb bytes per row */
static void x5_band(const q8_geom *g, const int8_t *x, int ih0, int nr, int wb, int cb,
                    int8_t azp, int8_t *buf)
{
	const __m512i flip = _mm512_set1_epi8((char)0x80), fill = _mm512_set1_epi8((char)(azp ^ 0x80));
	int C = g->c, l = g->pl < wb ? g->pl : wb; /* left padding columns */
	int e = g->pl + g->w < wb ? g->pl + g->w : wb; /* end of the image's columns */
	int64_t rowb = (int64_t)wb * cb;
	for (int r = 0; r < nr; r++) {
		int ih = ih0 + r;
		int8_t *o = buf + r * rowb;
		int64_t a = 0, z = rowb; /* o[a, z): pixels from the image */
		if (ih < 0 || ih >= g->h)
			a = z = rowb;
		else if (cb == C)
			a = (int64_t)l * cb, z = (int64_t)e * cb;
		/* the padding: whole zmm stores of the fill, overwritten below */
		if (ih < 0 || ih >= g->h || cb == C) {
			for (int64_t j = 0; j < a; j += 64)
				_mm512_mask_storeu_epi8(o + j, x5_mask64(a - j), fill);
			for (int64_t j = z; j < rowb; j += 64)
				_mm512_mask_storeu_epi8(o + j, x5_mask64(rowb - j), fill);
		}
		if (a >= z)
			continue;
		const int8_t *src = x + (int64_t)ih * g->w * C;
		if (cb == C) {
			src += (int64_t)(l - g->pl) * C;
			for (int64_t j = 0; j < z - a; j += 64) {
				__mmask64 k = x5_mask64(z - a - j);
				_mm512_mask_storeu_epi8(o + a + j, k,
					_mm512_xor_si512(_mm512_maskz_loadu_epi8(k, src + j), flip));
			}
			continue;
		}
		/* groups == 1, C % 4 != 0: pixel by pixel, zeros past C */
		uint8_t f = (uint8_t)(azp ^ 0x80);
		for (int ix = 0; ix < wb; ix++) {
			int iw = ix - g->pl;
			int8_t *op = o + (int64_t)ix * cb;
			memset(op + C, 0, (size_t)(cb - C));
			if (iw < 0 || iw >= g->w)
				memset(op, f, (size_t)C);
			else
				for (int c = 0; c < C; c++)
					op[c] = (int8_t)(src[(int64_t)iw * C + c] ^ 0x80);
		}
	}
}

/* q8_block_run on a band, but a tail of at least M/2 pixels runs as one
   tile of M (the missing pixels repeat the last one, not stored): single
   pixels would each stream the whole block of weights */
static void x5_block_run(const q8_geom *g, const q8_block *bk, const int8_t *x, int8_t *y)
{
	const q8_shape *k = bk->k;
	q8_pix px[Q8_TILE_M];
	q8_it it = q8_at(g, x, 0);
	int64_t q = 0;
	for (; q < g->pixels; q += k->m) {
		int np = g->pixels - q < k->m ? (int)(g->pixels - q) : k->m;
		if (2 * np < k->m)
			break;
		for (int r = 0; r < k->m; r++)
			if (r < np) {
				px[r] = it.px;
				q8_step(g, &it);
			} else {
				px[r] = px[np - 1];
			}
		k->many(g, px, np, bk->w, bk->b, bk->m, bk->s, bk->pad, bk->nvalid, y + q * g->oc);
	}
	for (; q < g->pixels; q++, q8_step(g, &it)) {
		px[0] = it.px;
		k->one(g, px, 1, bk->w, bk->b, bk->m, bk->s, bk->pad, bk->nvalid, y + q * g->oc);
	}
}

Q8K void q8k_conv2d_i8_avx512(const q8_params *p, const void *a, const void *bb, void *yy)
{
	(void)bb;
	q8_geom gg, *g = &gg;
	q8_geom_init(g, p, 0, 16);
	int groups = g->c / g->cg;
	int cb = groups == 1 ? (g->c + 3) / 4 * 4 : g->c;
	int64_t wb = (int64_t)(g->ow - 1) * g->sw + (int64_t)(g->kw - 1) * g->dw + 1;
	int64_t span = (int64_t)(g->kh - 1) * g->dh + 1, rowb = wb * cb;
	if (g->pixels <= 0)
		return;
	if (cb % 4 || rowb * span > X5_BAND) { /* then the tiles XOR */
		q8_conv_run(p, a, yy, 0, 16, 64, x5_shapes);
		return;
	}
	const int8_t *x = a;
	int8_t *y = yy;
	int rmax = (int)((X5_BAND / rowb - span) / g->sh + 1); /* output rows per band */
	rmax = rmax > g->oh ? g->oh : rmax;
	/* the band height that wastes least of the tiles' pixels */
	int M = g->nob >= 4 ? 6 : 12, R = rmax;
	int64_t best = INT64_MAX;
	for (int r = rmax; r >= 1 && r >= rmax / 4; r--) {
		int64_t nb = (g->oh + r - 1) / r, last = g->oh - (nb - 1) * r;
		int64_t cost = ((nb - 1) * (((int64_t)r * g->ow + M - 1) / M) +
		                (last * g->ow + M - 1) / M) * 16 + nb;
		if (cost < best)
			best = cost, R = r;
	}
	q8_geom b = *g;
	b.w = (int)wb;
	b.c = cb;
	if (groups == 1)
		b.cg = cb;
	b.pt = b.pl = 0;
	b.allin = 1;
	int32_t flat[Q8_FLAT];
	if (b.taps > 1 && b.taps * b.nk <= Q8_FLAT) {
		for (int ky = 0, t = 0; ky < b.kh; ky++)
			for (int kx = 0; kx < b.kw; kx++, t++)
				for (int k = 0; k < b.nk; k++)
					flat[t * b.nk + k] = (int32_t)(((int64_t)ky * b.dh * wb +
						(int64_t)kx * b.dw) * cb + 4 * k);
		b.flat = flat;
		b.nflat = b.taps * b.nk;
	}
	/* 1x1, stride 1, groups 1: the band's pixels follow each other */
	int gemm = g->taps == 1 && groups == 1 && g->sh == 1 && g->sw == 1 && wb == g->ow;
	_Alignas(64) int8_t buf[X5_BAND];
	const char *w = p->p[Q8P_W];
	const int32_t *bias = p->p[Q8P_B], *m = p->p[Q8P_MULT], *s = p->p[Q8P_SHIFT];
	int64_t bstride = (int64_t)g->taps * g->nk * 64;
	int64_t n = p->i[Q8_N];
	for (int64_t i = 0; i < n; i++)
		for (int oy = 0; oy < g->oh; oy += R) {
			int r = g->oh - oy < R ? g->oh - oy : R;
			b.oh = r;
			b.h = (int)((int64_t)(r - 1) * g->sh + span);
			b.pixels = (int64_t)r * g->ow;
			x5_band(g, x + i * g->h * g->w * g->c, oy * g->sh - g->pt, b.h, (int)wb, cb,
			        (int8_t)p->i[Q8_AZP], buf);
			int8_t *yb = y + (i * g->oh + oy) * g->ow * g->oc;
			if (gemm) {
				for (int ob = 0; ob < g->nob;) {
					int nb = g->nob - ob >= 4 ? 4 : g->nob - ob >= 2 ? 2 : 1, M = nb == 4 ? 6 : 12;
					x5_gemm_fn *f = nb == 4 ? x5_gemm_6_4 : nb == 2 ? x5_gemm_12_2 : x5_gemm_12_1;
					const char *wo = w + ob * bstride;
					int nvalid = g->oc - ob * 16;
					for (int64_t q = 0; q < b.pixels; q += M)
						f(&b, buf + q * cb, cb, b.pixels - q < M ? (int)(b.pixels - q) : M, wo,
						  bias + ob * 16, m + ob * 16, s + ob * 16, nvalid, yb + q * g->oc + ob * 16);
					ob += nb;
				}
				continue;
			}
			for (int grp = 0; grp < groups; grp++)
				for (int ob = 0; ob < g->nob;) {
					const q8_shape *k = x5_shapesu;
					while (k->nb > g->nob - ob)
						k++;
					int64_t blk = (int64_t)grp * g->nob + ob;
					q8_block bk = { k, w + blk * bstride, bias + blk * 16, m + blk * 16,
					                s + blk * 16, buf, g->ocg - ob * 16 };
					x5_block_run(&b, &bk, buf + (int64_t)grp * g->cg,
					             yb + (int64_t)grp * g->ocg + (int64_t)ob * 16);
					ob += k->nb;
				}
		}
}

Q8K void q8k_dense_i8_avx512(const q8_params *p, const void *a, const void *b, void *y)
{
	(void)b;
	q8_conv_run(p, a, y, 1, 16, 64, x5_shapes);
}

/* Convolutions with few input channels (groups 1, C < 4, taps x C <= 64,
   as select.c decides): one vpdpbusd per 4 channels would waste most
   lanes on the zero channels of a group, so the whole window is the
   reduction axis instead.  Per 12 pixels the windows are copied into rows
   of K = taps x C bytes (the zero point where the window leaves the image,
   0 past K where the weights are 0) and run as a dense layer; W was
   packed as dense_i8 of [OC][K].  (Taking C up to 63 this way measured
   slower than the direct tiles: the copies cost more than they save.) */
enum { X5_IM2COL = 64 };

/* The window of pixel px as one row of taps x C bytes.  Loads are masked
   (never past the tensor), stores whole zmm (masked stores are slow on
   AMD): the zeros they write past a piece are overwritten by the next
   piece, or lie past K, where the row must be zero.  So each row has 64
   bytes of slack. */
static void x5_patch(const q8_geom *g, q8_pix px, int8_t azp, int8_t *row)
{
	int rowb = g->kw * g->c;
	if (g->dw == 1 && px.ih >= 0 && px.ih + (g->kh - 1) * g->dh < g->h && px.iw >= 0 &&
	    px.iw + g->kw - 1 < g->w) {
		/* inside the image: each window row is kw * c contiguous bytes */
		const int8_t *xs = px.base + ((int64_t)px.ih * g->w + px.iw) * g->c;
		for (int ky = 0; ky < g->kh; ky++) {
			const int8_t *src = xs + (int64_t)ky * g->dh * g->w * g->c;
			int8_t *dst = row + ky * rowb;
			for (int j = 0; j < rowb; j += 64) {
				__mmask64 k = rowb - j >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << (rowb - j)) - 1;
				_mm512_storeu_si512((void *)(dst + j), _mm512_maskz_loadu_epi8(k, src + j));
			}
		}
		return;
	}
	/* C < 64 here (select.c) */
	__mmask64 k = ((__mmask64)1 << g->c) - 1;
	const __m512i pad = _mm512_maskz_set1_epi8(k, azp);
	for (int ky = 0, t = 0; ky < g->kh; ky++)
		for (int kx = 0; kx < g->kw; kx++, t++) {
			const int8_t *xs = q8_tap(g, px, ky, kx, NULL);
			_mm512_storeu_si512((void *)(row + t * g->c), xs ? _mm512_maskz_loadu_epi8(k, xs) : pad);
		}
}

/* The same windows gathered in registers, when a window row holds at
   least 3 bytes (kw x C >= 3: then the 4 window bytes of a group lie in
   at most 2 window rows) and one pixel's window row fits a zmm.  Per
   output row and run of P <= 16 pixels, each window row's input bytes
   are loaded once (the zero point outside the image), and for each
   group of 4 window bytes one vpermi2b over the group's 2 rows puts the
   group of pixel p in lane p.  Each pixel then broadcasts its lane into
   one vpdpbusd per group.  W, bias and requantization as im2col's.
   vpermi2b is AVX512-VBMI, which some VNNI CPUs (Cascade Lake) lack: the
   function is built for it whatever the flags, and runs only when the
   CPU has it. */
static int x5_gather_ok(const q8_geom *g)
{
	return g->kw * g->c >= 3 && ((g->kw - 1) * g->dw + 1) * g->c <= 64 &&
	       __builtin_cpu_supports("avx512vbmi");
}

/* x5_gather's pixels: np of them, NG (a constant, or 0: ng) groups per
   window in gr[16 * group + pixel], the weights in wv */
X5_INLINE void x5_gpix(int NG, int FAST, int ng, const int32_t *gr, const __m512i *wv,
                       __m512i bias, const x5_dwq *q, __m512i mv, __m512i sv, const q8_geom *g,
                       int np, int8_t *yo, __mmask16 kc)
{
	if (NG)
		ng = NG;
	for (int l = 0; l < np; l++) {
		__m512i acc = bias;
		for (int j = 0; j < ng; j++)
			acc = _mm512_dpbusd_epi32(acc, _mm512_set1_epi32(gr[16 * j + l]), wv[j]);
		__m512i r = FAST ? x5_dwrq(1, q, acc) : x5_rq(acc, mv, sv, g);
		_mm_mask_storeu_epi8(yo + (int64_t)l * g->oc, kc, _mm512_cvtepi32_epi8(r));
	}
}

__attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni,avx512vbmi")))
static void x5_gather(const q8_geom *g, const q8_params *p, const int8_t *x, int8_t *y)
{
	enum { ROWS = X5_IM2COL / 3 + 2 };
	int C = g->c, K = g->taps * C, ng = (K + 3) / 4;
	int P = 1 + (64 - ((g->kw - 1) * g->dw + 1) * C) / (g->sw * C);
	P = P > 16 ? 16 : P;
	_Alignas(64) uint8_t idx[X5_IM2COL / 4][64];
	int top[X5_IM2COL / 4]; /* a group's first window row */
	/* window byte k = (ky, kx, c), stepped: no division (the layer's
	   sizes are not constants here) */
	for (int k = 0, ky = 0, kx = 0, c = 0; k < 4 * ng; k++) {
		int j = k / 4;
		if (k % 4 == 0)
			top[j] = ky;
		for (int l = 0; l < 16; l++)
			idx[j][4 * l + k % 4] = (uint8_t)(k < K && l < P
				? (ky - top[j]) * 64 + (l * g->sw + kx * g->dw) * C + c : 0);
		if (++c == C && (c = 0, ++kx == g->kw))
			kx = 0, ky++;
	}
	const __m512i flip = _mm512_set1_epi8((char)0x80);
	const __m512i padv = _mm512_set1_epi8((char)p->i[Q8_AZP]);
	const int8_t *w = p->p[Q8P_W];
	const int32_t *b = p->p[Q8P_B], *m = p->p[Q8P_MULT], *s = p->p[Q8P_SHIFT];
	int64_t n = p->i[Q8_N];
	for (int ob = 0; ob < g->nob; ob++) {
		__mmask16 kc = x5_mask(g->ocg - 16 * ob);
		const int8_t *wb = w + (int64_t)ob * ng * 64;
		__m512i bias = _mm512_loadu_si512((const void *)(b + 16 * ob));
		__m512i mv = _mm512_loadu_si512((const void *)(m + 16 * ob));
		__m512i sv = _mm512_loadu_si512((const void *)(s + 16 * ob));
		x5_dwq q;
		x5_dwq_init(&q, g, m + 16 * ob, s + 16 * ob, kc);
		__m512i wv[X5_IM2COL / 4];
		for (int j = 0; j < ng; j++)
			wv[j] = _mm512_loadu_si512((const void *)(wb + 64 * j));
		for (int64_t i = 0; i < n; i++)
		for (int oy = 0; oy < g->oh; oy++)
		for (int ox = 0; ox < g->ow; ox += P) {
			int np = g->ow - ox < P ? g->ow - ox : P;
			int iw = ox * g->sw - g->pl;
			/* the bytes of columns [0, w) among the 64 from column iw */
			int64_t lb = iw < 0 ? (int64_t)-iw * C : 0, hb = ((int64_t)g->w - iw) * C;
			hb = hb > 64 ? 64 : hb;
			__mmask64 in = lb >= hb ? 0 : (~(__mmask64)0 >> (64 - (hb - lb))) << lb;
			__m512i row[ROWS];
			for (int ky = 0; ky < g->kh; ky++) {
				int ih = oy * g->sh - g->pt + ky * g->dh;
				row[ky] = padv;
				if (ih >= 0 && ih < g->h && in) {
					/* the masked-off bytes are never read: the address is formed
					   as an integer because it may lie before the tensor */
					uintptr_t a = (uintptr_t)(x + ((i * g->h + ih) * g->w) * C) + (uintptr_t)((int64_t)iw * C);
					row[ky] = _mm512_mask_loadu_epi8(padv, in, (const void *)a);
				}
				row[ky] = _mm512_xor_si512(row[ky], flip);
			}
			row[g->kh] = row[g->kh - 1];
			_Alignas(64) int32_t gr[X5_IM2COL / 4 * 16]; /* [group][pixel] */
			for (int j = 0; j < ng; j++)
				_mm512_store_si512((void *)(gr + 16 * j), _mm512_permutex2var_epi8(row[top[j]],
					_mm512_load_si512((const void *)idx[j]), row[top[j] + 1]));
			int8_t *yo = y + (((i * g->oh + oy) * g->ow + ox) * g->oc) + 16 * ob;
			if (q.fast && ng == 3) /* 3x3, C = 1: the first layer of most image models */
				x5_gpix(3, 1, 3, gr, wv, bias, &q, mv, sv, g, np, yo, kc);
			else if (q.fast)
				x5_gpix(0, 1, ng, gr, wv, bias, &q, mv, sv, g, np, yo, kc);
			else
				x5_gpix(0, 0, ng, gr, wv, bias, &q, mv, sv, g, np, yo, kc);
		}
	}
}

Q8K void q8k_conv2d_i8_im2col_avx512(const q8_params *p, const void *a, const void *bb, void *yy)
{
	(void)bb;
	q8_geom gg, *g = &gg;
	q8_geom_init(g, p, 0, 16);
	const int8_t *x = a;
	int8_t *y = yy;
	int K = g->taps * g->c, Kp = (K + 3) / 4 * 4;
	if (K > X5_IM2COL || g->cg != g->c)
		return; /* select.c never picks this kernel then */
	if (x5_gather_ok(g)) {
		x5_gather(g, p, x, y);
		return;
	}
	q8_geom d = *g; /* the rows of windows as a dense layer */
	d.h = d.w = d.oh = d.ow = d.kh = d.kw = d.sh = d.sw = d.dh = d.dw = 1;
	d.pt = d.pl = 0;
	d.taps = 1;
	d.c = d.cg = Kp;
	d.nk = Kp / 4;
	const int8_t *w = p->p[Q8P_W];
	const int32_t *b = p->p[Q8P_B], *m = p->p[Q8P_MULT], *s = p->p[Q8P_SHIFT];
	_Alignas(64) int8_t buf[12][X5_IM2COL + 64];
	q8_pix px[12];
	int64_t bstride = (int64_t)d.nk * 64;
	if (g->pixels <= 0)
		return;
	q8_it it = q8_at(g, x, 0);
	for (int64_t q = 0; q < g->pixels; q += 12) {
		int np = g->pixels - q < 12 ? (int)(g->pixels - q) : 12;
		for (int r = 0; r < 12; r++) {
			if (r < np) {
				x5_patch(g, it.px, (int8_t)p->i[Q8_AZP], buf[r]);
				q8_step(g, &it);
			}
			px[r] = (q8_pix){ buf[r < np ? r : 0], 0, 0, (uintptr_t)buf[r < np ? r : 0] };
		}
		for (int ob = 0; ob < g->nob;) {
			int left = g->nob - ob, nb = left >= 4 ? 4 : left >= 2 ? 2 : 1;
			const int8_t *wb = w + ob * bstride;
			const int32_t *bo = b + ob * 16, *mo = m + ob * 16, *so = s + ob * 16;
			int nvalid = g->ocg - ob * 16;
			int8_t *yq = y + q * g->oc + ob * 16;
			if (nb == 4) {
				x5_tile_6_4(&d, px, np, wb, bo, mo, so, buf[0], nvalid, yq);
				if (np > 6)
					x5_tile_6_4(&d, px + 6, np - 6, wb, bo, mo, so, buf[0], nvalid,
					            yq + 6 * (int64_t)g->oc);
			} else if (nb == 2) {
				x5_tile_12_2(&d, px, np, wb, bo, mo, so, buf[0], nvalid, yq);
			} else {
				x5_tile_12_1(&d, px, np, wb, bo, mo, so, buf[0], nvalid, yq);
			}
			ob += nb;
		}
	}
}

/* Depthwise (groups == C == OC): 16 channels (one zmm) along one output
   row at a time.  select.c packs W[C/16][NG][kw][16][4], NG = ceil(kh/4):
   lane c of the vector of row group g and column kx holds the weights of
   taps (4g + j, kx), j = 0..3 (0 past kh), so one vpdpbusd adds the 4
   taps of a window column.  Before a row, every input column iw it reads
   is transposed once into T[g][iw]: lane c holds x[ih_j][iw][c] ^ 0x80
   for the 4 input rows ih_j of group g (the zero point where the row or
   the column is padding; a vpshufb per row picks the bytes from a
   broadcast of 16 channels).  Each output pixel is then kw vpdpbusd per
   group on T[ox * sw + kx * dw]: neighbouring pixels share the columns,
   and the pixel loop tests no padding.  As for conv2d, -128 * sum(w) is
   folded into the bias.  The requantization is x5_dwrq. */
enum { X5_DWT = 256 }; /* T vectors: NG x columns (select.c: DWCOLS) */

/* T[i] for the input columns iw0 + i, i < n, of 16 channels (TAIL: fewer,
   kc of them): NR rows at rp[j], cs[j] bytes per column (0 for a padding
   row, which points at 16 zero points). */
X5_INLINE void x5_dwt(int NR, int TAIL, __m512i *T, int iw0, int n, int w,
                      const int8_t *const *rp, const int64_t *cs, __mmask16 kc,
                      const __m512i *ctl, __m512i tpad)
{
	const __m512i flip = _mm512_set1_epi8((char)0x80);
	int i = 0, e = w - iw0 < n ? w - iw0 : n;
	for (; i < n && iw0 + i < 0; i++)
		T[i] = tpad;
	/* the rows as named values, not loops: gcc -O2 (the C emitter's
	   users) keeps neither loops over them unrolled nor arrays in
	   registers */
	const int8_t *r0 = rp[0], *r1 = NR > 1 ? rp[1] : r0, *r2 = NR > 2 ? rp[2] : r0;
	const int8_t *r3 = NR > 3 ? rp[3] : r0;
	int64_t c0 = cs[0], c1 = NR > 1 ? cs[1] : 0, c2 = NR > 2 ? cs[2] : 0, c3 = NR > 3 ? cs[3] : 0;
	__m512i t0 = ctl[0], t1 = ctl[1], t2 = ctl[2], t3 = ctl[3];
#define X5_DWX(r, c, t) _mm512_shuffle_epi8(_mm512_broadcast_i32x4(TAIL \
	? _mm_maskz_loadu_epi8(kc, r + iw * c) : _mm_loadu_si128((const __m128i *)(r + iw * c))), t)
	for (; i < e; i++) {
		int64_t iw = iw0 + i;
		__m512i v = _mm512_xor_si512(flip, X5_DWX(r0, c0, t0));
		if (NR > 1)
			v = _mm512_xor_si512(v, X5_DWX(r1, c1, t1));
		if (NR > 2)
			v = _mm512_xor_si512(v, X5_DWX(r2, c2, t2));
		if (NR > 3)
			v = _mm512_xor_si512(v, X5_DWX(r3, c3, t3));
		T[i] = v;
	}
#undef X5_DWX
	for (; i < n; i++)
		T[i] = tpad;
}

/* The next output row's T in place, stride 1, one row group (kh <= 4):
   each lane drops its top row (a shift by 8 bits) and takes input row r
   (NULL: padding) in byte kh - 1 (KB: that byte of every lane); the
   columns past the image keep tpad. */
X5_INLINE void x5_dwt_next(int TAIL, __m512i *T, int iw0, int n, int w, const int8_t *r,
                           int64_t cs, __mmask16 kc, __m512i ctl, __m512i tpad, __mmask64 kb)
{
	const __m512i flip = _mm512_set1_epi8((char)0x80);
	int i = 0, e = w - iw0 < n ? w - iw0 : n;
	for (; i < n && iw0 + i < 0; i++)
		T[i] = tpad;
	for (; i < e; i++) {
		__m512i v = tpad;
		if (r) {
			const int8_t *p = r + (int64_t)(iw0 + i) * cs;
			v = _mm512_xor_si512(flip, _mm512_shuffle_epi8(_mm512_broadcast_i32x4(TAIL
				? _mm_maskz_loadu_epi8(kc, p) : _mm_loadu_si128((const __m128i *)p)), ctl));
		}
		T[i] = _mm512_mask_mov_epi8(_mm512_srli_epi32(T[i], 8), kb, v);
	}
	for (; i < n; i++)
		T[i] = tpad;
}

/* n output pixels of one row (ys bytes apart), 16 channels, from T.
   K3: one row group and kw == 3, the 3 weights held in registers. */
X5_INLINE void x5_dwrow(int FAST, int K3, const q8_geom *g, const __m512i *T, int tcols, int ng,
                        const int8_t *wb, const int32_t *b, const x5_dwq *q, int n,
                        int8_t *y, __mmask16 kc)
{
	const __m512i bias = _mm512_loadu_si512((const void *)b);
	__m512i w0 = _mm512_loadu_si512((const void *)wb), w1 = w0, w2 = w0;
	if (K3) {
		w1 = _mm512_loadu_si512((const void *)(wb + 64));
		w2 = _mm512_loadu_si512((const void *)(wb + 128));
	}
	int sw = g->sw, dw = g->dw, kw = g->kw, C = g->c;
	for (int i = 0; i < n; i++) {
		const __m512i *t = T + (int64_t)i * sw;
		__m512i acc = bias;
		if (K3) {
			acc = _mm512_dpbusd_epi32(acc, t[0], w0);
			acc = _mm512_dpbusd_epi32(acc, t[dw], w1);
			acc = _mm512_dpbusd_epi32(acc, t[2 * dw], w2);
		} else {
			for (int gi = 0; gi < ng; gi++)
				for (int kx = 0; kx < kw; kx++)
					acc = _mm512_dpbusd_epi32(acc, t[gi * tcols + kx * dw],
						_mm512_loadu_si512((const void *)(wb + (gi * kw + kx) * 64)));
		}
		_mm_mask_storeu_epi8(y + (int64_t)i * C, kc, _mm512_cvtepi32_epi8(x5_dwrq(FAST, q, acc)));
	}
}

/* one function per variant, so that each gets its own registers */
#define X5_DWROW(F, K) \
	static __attribute__((noinline)) void x5_dwrow_##F##K(const q8_geom *g, const __m512i *T, \
		int tcols, int ng, const int8_t *wb, const int32_t *b, const x5_dwq *q, int n, \
		int8_t *y, __mmask16 kc) \
	{ \
		x5_dwrow(F, K, g, T, tcols, ng, wb, b, q, n, y, kc); \
	}
X5_DWROW(1, 1)
X5_DWROW(1, 0)
X5_DWROW(0, 1)
X5_DWROW(0, 0)
#undef X5_DWROW

Q8K void q8k_dwconv_i8_avx512(const q8_params *p, const void *a, const void *bb, void *yy)
{
	(void)bb;
	q8_geom gg, *g = &gg;
	q8_geom_init(g, p, 0, 16);
	const int8_t *x = a, *w = p->p[Q8P_W];
	int8_t *y = yy;
	const int32_t *b = p->p[Q8P_B], *m = p->p[Q8P_MULT], *s = p->p[Q8P_SHIFT];
	int C = g->c, ng = (g->kh + 3) / 4, tcols = X5_DWT / ng, span = (g->kw - 1) * g->dw + 1;
	if (g->pixels <= 0 || span > tcols)
		return; /* select.c keeps ng * span <= X5_DWT */
	int opc = (tcols - span) / g->sw + 1; /* output pixels per pass */
	int k3 = ng == 1 && g->kw == 3;
	int8_t azp = (int8_t)p->i[Q8_AZP], pad[16];
	memset(pad, azp, sizeof pad);
	/* ctl[j]: byte 4i + j of 128-bit lane L takes byte 4L + i, others 0 */
	int8_t cb[4][64];
	for (int j = 0; j < 4; j++)
		for (int e = 0; e < 64; e++)
			cb[j][e] = e % 4 == j ? (int8_t)(e / 16 * 4 + e % 16 / 4) : (int8_t)0x80;
	__m512i ctl[4], T[X5_DWT];
	for (int j = 0; j < 4; j++)
		ctl[j] = _mm512_loadu_si512((const void *)cb[j]);
	const __m512i tpad = _mm512_set1_epi8((char)(azp ^ 0x80));
	int64_t rowb = (int64_t)g->w * C, imgb = rowb * g->h;
	int nimg = (int)(g->pixels / ((int64_t)g->oh * g->ow));
	/* stride 1, one row group: each output row after the first of a pass
	   updates T (x5_dwt_next) rather than transposing it again */
	int inc = ng == 1 && g->sh == 1 && g->dh == 1;
	__mmask64 kb = 0; /* byte kh - 1 of every lane */
	for (int l = 0; l < 16 && inc; l++)
		kb |= (__mmask64)1 << (4 * l + g->kh - 1);
	for (int n = 0; n < nimg; n++)
	for (int ox0 = 0; ox0 < g->ow; ox0 += opc)
	for (int c = 0; c < C; c += 16) {
		int np = g->ow - ox0 < opc ? g->ow - ox0 : opc;
		int iw0 = ox0 * g->sw - g->pl, ncol = (np - 1) * g->sw + span;
		__mmask16 kc = x5_mask(C - c);
		int tail = C - c < 16;
		x5_dwq q;
		x5_dwq_init(&q, g, m + c, s + c, kc);
		const int8_t *wb = w + (int64_t)c * ng * g->kw * 4;
		for (int oy = 0; oy < g->oh; oy++) {
			if (inc && oy > 0) {
				int ih = oy - g->pt + g->kh - 1;
				const int8_t *r = ih >= 0 && ih < g->h ? x + n * imgb + ih * rowb + c : NULL;
				if (tail)
					x5_dwt_next(1, T, iw0, ncol, g->w, r, C, kc, ctl[g->kh - 1], tpad, kb);
				else
					x5_dwt_next(0, T, iw0, ncol, g->w, r, C, kc, ctl[g->kh - 1], tpad, kb);
			} else {
				for (int gi = 0; gi < ng; gi++) {
					const int8_t *rp[4];
					int64_t cs[4];
					int nr = g->kh - 4 * gi < 4 ? g->kh - 4 * gi : 4;
					for (int j = 0; j < nr; j++) {
						int ih = oy * g->sh - g->pt + (4 * gi + j) * g->dh;
						int in = ih >= 0 && ih < g->h;
						rp[j] = in ? x + n * imgb + ih * rowb + c : pad;
						cs[j] = in ? C : 0;
					}
					__m512i *tg = T + gi * tcols;
#define X5_DWT_NR(R) tail ? x5_dwt(R, 1, tg, iw0, ncol, g->w, rp, cs, kc, ctl, tpad) \
	: x5_dwt(R, 0, tg, iw0, ncol, g->w, rp, cs, kc, ctl, tpad)
					if (nr == 3)
						X5_DWT_NR(3);
					else if (nr == 4)
						X5_DWT_NR(4);
					else if (nr == 2)
						X5_DWT_NR(2);
					else
						X5_DWT_NR(1);
#undef X5_DWT_NR
				}
			}
			int8_t *yr = y + (((int64_t)n * g->oh + oy) * g->ow + ox0) * C + c;
			if (q.fast && k3)
				x5_dwrow_11(g, T, tcols, ng, wb, b + c, &q, np, yr, kc);
			else if (q.fast)
				x5_dwrow_10(g, T, tcols, ng, wb, b + c, &q, np, yr, kc);
			else if (k3)
				x5_dwrow_01(g, T, tcols, ng, wb, b + c, &q, np, yr, kc);
			else
				x5_dwrow_00(g, T, tcols, ng, wb, b + c, &q, np, yr, kc);
		}
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

/* dequantize of int8 with one scale: s * (x - zp), 16 lanes at a time,
   the same single rounding as the portable kernel */
Q8K void q8k_dequantize_i8_avx512(const q8_params *p, const void *a, const void *b, void *yy)
{
	(void)b;
	const int8_t *x = a;
	float *y = yy;
	int64_t n = (int64_t)p->i[Q8_OUTER] * p->i[Q8_LEN] * p->i[Q8_INNER];
	const __m512 sc = _mm512_set1_ps(p->f[Q8F_SCALE]);
	const __m512i vzp = _mm512_set1_epi32(p->i[Q8_AZP]);
	for (int64_t i = 0; i < n; i += 16) {
		__mmask16 k = x5_mask(n - i > 16 ? 16 : (int)(n - i));
		__m512i v = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, x + i));
		__m512 f = _mm512_cvtepi32_ps(_mm512_sub_epi32(v, vzp));
		_mm512_mask_storeu_ps(y + i, k, _mm512_mul_ps(sc, f));
	}
}

/* ref.c's avg8 on 16 lanes: zp + s / n rounded half away from zero,
   clamped.  floor((|s| + n/2) / n) in float is exact: |s| + n/2 < 256 n
   <= 2^24 (the callers keep n <= 65536), so the operands convert
   exactly, and a quotient k - e below an integer k has e >= 1/n, more
   than the division's rounding error k * 2^-24. */
X5_INLINE __m512i x5_avg(__m512i s, int32_t n, int32_t zp)
{
	__m512 a = _mm512_cvtepi32_ps(_mm512_add_epi32(_mm512_abs_epi32(s), _mm512_set1_epi32(n / 2)));
	__m512i q = _mm512_cvttps_epi32(_mm512_div_ps(a, _mm512_set1_ps((float)n)));
	q = _mm512_mask_sub_epi32(q, _mm512_cmplt_epi32_mask(s, _mm512_setzero_si512()),
	                          _mm512_setzero_si512(), q);
	q = _mm512_add_epi32(q, _mm512_set1_epi32(zp));
	return _mm512_min_epi32(_mm512_max_epi32(q, _mm512_set1_epi32(-128)), _mm512_set1_epi32(127));
}

/* The pools' walk over output pixels: each window clipped to the input
   (as the portable kernels'), an empty window gives the zero point.  The
   body runs per STEP channels c with the window [hs, he) x [ws, we) and
   the pixel's output o; X5_WINDOW visits the window's taps (xs). */
#define X5_POOL(STEP, ...) \
	const int32_t *i = p->i; \
	const int8_t *x = a; \
	int8_t *y = yy; \
	int64_t H = i[Q8_H], W = i[Q8_W], C = i[Q8_C], OH = i[Q8_OH], OW = i[Q8_OW]; \
	for (int64_t n = 0; n < i[Q8_N]; n++) \
	for (int64_t oh = 0; oh < OH; oh++) \
	for (int64_t ow = 0; ow < OW; ow++) { \
		int64_t h0 = oh * i[Q8_SH] - i[Q8_PT], w0 = ow * i[Q8_SW] - i[Q8_PL]; \
		int64_t hs = h0 < 0 ? 0 : h0, he = h0 + i[Q8_KH] < H ? h0 + i[Q8_KH] : H; \
		int64_t ws = w0 < 0 ? 0 : w0, we = w0 + i[Q8_KW] < W ? w0 + i[Q8_KW] : W; \
		int8_t *o = y + ((n * OH + oh) * OW + ow) * C; \
		if (hs >= he || ws >= we) { \
			memset(o, (int8_t)i[Q8_AZP], (size_t)C); \
			continue; \
		} \
		for (int64_t c = 0; c < C; c += STEP) { \
			__VA_ARGS__ \
		} \
	}
#define X5_WINDOW(...) \
	for (int64_t ih = hs; ih < he; ih++) \
		for (int64_t iw = ws; iw < we; iw++) { \
			const int8_t *xs = x + ((n * H + ih) * W + iw) * C + c; \
			__VA_ARGS__ \
		}

/* Average pooling: 16 channels per zmm */
Q8K void q8k_avgpool_i8_avx512(const q8_params *p, const void *a, const void *b, void *yy)
{
	int32_t zp = p->i[Q8_AZP];
	if ((int64_t)p->i[Q8_KH] * p->i[Q8_KW] > 65536) {
		q8k_avgpool_i8(p, a, b, yy);
		return;
	}
	X5_POOL(16, {
		int32_t cnt = (int32_t)((he - hs) * (we - ws));
		__mmask16 k = x5_mask(C - c > 16 ? 16 : (int)(C - c));
		__m512i sum = _mm512_set1_epi32(-cnt * zp);
		X5_WINDOW(sum = _mm512_add_epi32(sum, _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, xs)));)
		_mm_mask_storeu_epi8(o + c, k, _mm512_cvtepi32_epi8(x5_avg(sum, cnt, zp)));
	})
}

/* Global average pooling: 16 channels per zmm over the image */
Q8K void q8k_gavgpool_i8_avx512(const q8_params *p, const void *a, const void *b, void *yy)
{
	(void)b;
	const int32_t *i = p->i;
	const int8_t *x = a;
	int8_t *y = yy;
	int64_t HW = (int64_t)i[Q8_H] * i[Q8_W], C = i[Q8_C];
	int32_t zp = i[Q8_AZP];
	if (HW < 1 || HW > 65536) {
		q8k_gavgpool_i8(p, a, b, yy);
		return;
	}
	for (int64_t n = 0; n < i[Q8_N]; n++)
		for (int64_t c = 0; c < C; c += 16) {
			__mmask16 k = x5_mask(C - c > 16 ? 16 : (int)(C - c));
			__m512i sum = _mm512_set1_epi32(-(int32_t)HW * zp);
			const int8_t *xp = x + n * HW * C + c;
			for (int64_t j = 0; j < HW; j++)
				sum = _mm512_add_epi32(sum, _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, xp + j * C)));
			_mm_mask_storeu_epi8(y + n * C + c, k, _mm512_cvtepi32_epi8(x5_avg(sum, (int32_t)HW, zp)));
		}
}

/* rq(x, m, s) on 16 lanes when R = 31 - s is in [32, 62] and |x| <
   2^30: |x * m| < 2^61 and the result, below 2^29, needs no saturation.
   The even lanes' result is the low half of (x*m + 2^(R-1)) >> R, the
   odd lanes' the high half of the same shifted by R - 32 (shifts given
   as counts in re and ro). */
X5_INLINE __m512i x5_rqw(__m512i x, __m512i m, __m512i rnd, __m128i re, __m128i ro)
{
	__m512i te = _mm512_sra_epi64(_mm512_add_epi64(_mm512_mul_epi32(x, m), rnd), re);
	__m512i to = _mm512_mul_epi32(_mm512_srli_epi64(x, 32), m);
	to = _mm512_sra_epi64(_mm512_add_epi64(to, rnd), ro);
	return _mm512_mask_blend_epi32(0xaaaa, te, to);
}

/* qadd / qsub as ref.c's addsub_i8 on 16 lanes: each operand to the
   common scale with 20 bits of headroom, the sum (it fits in int32 with
   that headroom, as in ref.c), then to the output.  fixedpoint.c makes
   m0, m1 <= 1/2 and m2 = 2 max(sa, sb) / (2^20 sy), so R >= 31 for all
   three in practice (R = 31 for the larger operand: m = 2^30, s = 0).
   Then x5_rqw, with R = 31 taken as R = 32 on twice the operand
   (floor((2xm + 2^R) / 2^(R+1)) is the same rq; the operands stay below
   2^29, the sum below 2^29 and twice it below 2^30); otherwise x5_rqc, with its saturation.  An
   operand broadcast along channels or a scalar one goes the portable
   way. */
X5_INLINE void x5_addsub(const q8_params *p, const int8_t *x, const int8_t *z, int8_t *o, int sign)
{
	const int32_t *m = p->p[Q8P_MULT], *s = p->p[Q8P_SHIFT];
	const __m512i za = _mm512_set1_epi32(p->i[Q8_AZP]), zb = _mm512_set1_epi32(p->i[Q8_BZP]);
	const __m512i m0 = _mm512_set1_epi32(m[0]), m1 = _mm512_set1_epi32(m[1]), m2 = _mm512_set1_epi32(m[2]);
	const __m512i s0 = _mm512_set1_epi32(s[0]), s1 = _mm512_set1_epi32(s[1]), s2 = _mm512_set1_epi32(s[2]);
	const __m512i yzp = _mm512_set1_epi32(p->i[Q8_YZP]);
	int64_t lo = (int64_t)p->i[Q8_LO] - p->i[Q8_YZP], hi = (int64_t)p->i[Q8_HI] - p->i[Q8_YZP];
	int64_t n = p->i[Q8_COUNT];
	int fast = 1, e[3];
	__m512i rnd[3];
	__m128i re[3], ro[3];
	for (int j = 0; j < 3; j++) {
		int r = 31 - s[j];
		fast &= r >= 31 && r <= 62;
		e[j] = r == 31;
		r = r < 32 ? 32 : r > 62 ? 62 : r;
		rnd[j] = _mm512_set1_epi64((int64_t)1 << (r - 1));
		re[j] = _mm_cvtsi32_si128(r);
		ro[j] = _mm_cvtsi32_si128(r - 32);
	}
	const __m512i vlo = _mm512_set1_epi32((int32_t)lo), vhi = _mm512_set1_epi32((int32_t)hi);
	for (int64_t i = 0; i < n; i += 16) {
		__mmask16 k = x5_mask(n - i > 16 ? 16 : (int)(n - i));
		__m512i a = _mm512_sub_epi32(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, x + i)), za);
		__m512i b = _mm512_sub_epi32(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, z + i)), zb);
		__m512i r;
		if (fast) {
			__m512i u = x5_rqw(_mm512_slli_epi32(a, 20 + e[0]), m0, rnd[0], re[0], ro[0]);
			__m512i v = x5_rqw(_mm512_slli_epi32(b, 20 + e[1]), m1, rnd[1], re[1], ro[1]);
			__m512i t = sign > 0 ? _mm512_add_epi32(u, v) : _mm512_sub_epi32(u, v);
			t = _mm512_slli_epi32(t, e[2]);
			r = _mm512_min_epi32(_mm512_max_epi32(x5_rqw(t, m2, rnd[2], re[2], ro[2]), vlo), vhi);
		} else {
			a = _mm512_slli_epi32(a, 20);
			b = _mm512_slli_epi32(b, 20);
			__m512i u = x5_rqc(a, m0, s0, INT32_MIN, INT32_MAX), v = x5_rqc(b, m1, s1, INT32_MIN, INT32_MAX);
			__m512i t = sign > 0 ? _mm512_add_epi32(u, v) : _mm512_sub_epi32(u, v);
			r = x5_rqc(t, m2, s2, lo, hi);
		}
		_mm_mask_storeu_epi8(o + i, k, _mm512_cvtepi32_epi8(_mm512_add_epi32(r, yzp)));
	}
}

Q8K void q8k_add_i8_avx512(const q8_params *p, const void *a, const void *b, void *y)
{
	if (p->i[Q8_BMODE] != 0)
		q8k_add_i8(p, a, b, y);
	else
		x5_addsub(p, a, b, y, 1);
}

Q8K void q8k_sub_i8_avx512(const q8_params *p, const void *a, const void *b, void *y)
{
	if (p->i[Q8_BMODE] != 0)
		q8k_sub_i8(p, a, b, y);
	else
		x5_addsub(p, a, b, y, -1);
}

/* requantize int8 -> int8: per tensor, or per channel when C is a
   multiple of 16 (16 lanes are then 16 consecutive channels); other
   shapes go the portable way */
Q8K void q8k_requant_i8_avx512(const q8_params *p, const void *a, const void *b, void *y)
{
	int64_t n = p->i[Q8_COUNT], C = p->i[Q8_C];
	int per = p->i[Q8_NRQ] > 1;
	if (per && (C <= 0 || C % 16)) {
		q8k_requant_i8(p, a, b, y);
		return;
	}
	const int8_t *x = a;
	int8_t *o = y;
	const int32_t *m = p->p[Q8P_MULT], *s = p->p[Q8P_SHIFT];
	const __m512i azp = _mm512_set1_epi32(p->i[Q8_AZP]), yzp = _mm512_set1_epi32(p->i[Q8_YZP]);
	int64_t lo = (int64_t)p->i[Q8_LO] - p->i[Q8_YZP], hi = (int64_t)p->i[Q8_HI] - p->i[Q8_YZP];
	__m512i mv = _mm512_set1_epi32(m[0]), sv = _mm512_set1_epi32(s[0]);
	for (int64_t i = 0; i < n; i += 16) {
		__mmask16 k = x5_mask(n - i > 16 ? 16 : (int)(n - i));
		if (per) {
			mv = _mm512_loadu_si512((const void *)(m + i % C));
			sv = _mm512_loadu_si512((const void *)(s + i % C));
		}
		__m512i v = _mm512_sub_epi32(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, x + i)), azp);
		__m512i r = _mm512_add_epi32(x5_rqc(v, mv, sv, lo, hi), yzp);
		_mm_mask_storeu_epi8(o + i, k, _mm512_cvtepi32_epi8(r));
	}
}

/* qmul int8: (x - azp) * (z - bzp) is at most 255 * 255, exact in int32,
   then q8_rq's 64-bit rounding 16 lanes at a time.  b same shape, scalar,
   or along C when C is a multiple of 16; other shapes go the portable way. */
Q8K void q8k_mul_i8_avx512(const q8_params *p, const void *a, const void *b, void *y)
{
	int64_t n = p->i[Q8_COUNT], C = p->i[Q8_C];
	int bm = p->i[Q8_BMODE];
	if (bm == 1 && (C <= 0 || C % 16)) {
		q8k_mul_i8(p, a, b, y);
		return;
	}
	const int8_t *x = a, *z = b;
	int8_t *o = y;
	const int32_t *m = p->p[Q8P_MULT], *s = p->p[Q8P_SHIFT];
	const __m512i azp = _mm512_set1_epi32(p->i[Q8_AZP]), bzp = _mm512_set1_epi32(p->i[Q8_BZP]);
	const __m512i yzp = _mm512_set1_epi32(p->i[Q8_YZP]), mv = _mm512_set1_epi32(m[0]);
	const __m512i sv = _mm512_set1_epi32(s[0]), z0 = _mm512_set1_epi32(z[0]);
	int64_t lo = (int64_t)p->i[Q8_LO] - p->i[Q8_YZP], hi = (int64_t)p->i[Q8_HI] - p->i[Q8_YZP];
	for (int64_t i = 0; i < n; i += 16) {
		__mmask16 k = x5_mask(n - i > 16 ? 16 : (int)(n - i));
		__m512i u = _mm512_sub_epi32(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, x + i)), azp);
		__m512i v = bm == 2 ? z0 : _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, z + (bm ? i % C : i)));
		__m512i t = _mm512_mullo_epi32(u, _mm512_sub_epi32(v, bzp));
		__m512i r = _mm512_add_epi32(x5_rqc(t, mv, sv, lo, hi), yzp);
		_mm_mask_storeu_epi8(o + i, k, _mm512_cvtepi32_epi8(r));
	}
}

/* Max pooling in two passes over a batch of output rows: the max over
   each window's rows (clipped to the image) of whole input rows, 64
   bytes at a time whatever C, into a buffer; then per output pixel the
   max over the window's columns of that buffer, 64 channels per zmm.
   The batch (as many rows as the buffer holds) keeps the second pass's
   loads away from the first pass's stores: read right after a masked
   store, they waited for it.  A row longer than the buffer takes one
   pass over each window. */
enum { X5_POOLROW = 16384 };

Q8K void q8k_maxpool_i8_avx512(const q8_params *p, const void *a, const void *b, void *yy)
{
	(void)b;
	const int32_t *i = p->i;
	int64_t H = i[Q8_H], W = i[Q8_W], C = i[Q8_C], OH = i[Q8_OH], OW = i[Q8_OW];
	if (W * C > X5_POOLROW) {
		X5_POOL(64, {
			__mmask64 k = C - c >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << (C - c)) - 1;
			__m512i mx = _mm512_set1_epi8(-128);
			X5_WINDOW(mx = _mm512_max_epi8(mx, _mm512_maskz_loadu_epi8(k, xs));)
			_mm512_mask_storeu_epi8(o + c, k, mx);
		})
		return;
	}
	const int8_t *x = a;
	int8_t *y = yy, azp = (int8_t)i[Q8_AZP];
	_Alignas(64) int8_t buf[X5_POOLROW];
	int64_t rb = W * C, R = X5_POOLROW / rb, nr = i[Q8_N] * OH;
	for (int64_t r0 = 0; r0 < nr; r0 += R) {
		int64_t r1 = r0 + R < nr ? r0 + R : nr;
		for (int64_t r = r0; r < r1; r++) {
			int64_t n = r / OH, h0 = r % OH * i[Q8_SH] - i[Q8_PT];
			int64_t hs = h0 < 0 ? 0 : h0, he = h0 + i[Q8_KH] < H ? h0 + i[Q8_KH] : H;
			for (int64_t j = 0; j < rb && hs < he; j += 64) {
				__mmask64 k = rb - j >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << (rb - j)) - 1;
				const int8_t *xs = x + (n * H + hs) * rb + j;
				__m512i mx = _mm512_maskz_loadu_epi8(k, xs);
				for (int64_t ih = hs + 1; ih < he; ih++)
					mx = _mm512_max_epi8(mx, _mm512_maskz_loadu_epi8(k, xs + (ih - hs) * rb));
				_mm512_mask_storeu_epi8(buf + (r - r0) * rb + j, k, mx);
			}
		}
		for (int64_t r = r0; r < r1; r++) {
			int64_t h0 = r % OH * i[Q8_SH] - i[Q8_PT];
			int8_t *o = y + r * OW * C;
			if (h0 + i[Q8_KH] <= 0 || h0 >= H) { /* no window row inside */
				memset(o, azp, (size_t)(OW * C));
				continue;
			}
			const int8_t *row = buf + (r - r0) * rb;
			for (int64_t ow = 0; ow < OW; ow++, o += C) {
				int64_t w0 = ow * i[Q8_SW] - i[Q8_PL];
				int64_t ws = w0 < 0 ? 0 : w0, we = w0 + i[Q8_KW] < W ? w0 + i[Q8_KW] : W;
				if (ws >= we) {
					memset(o, azp, (size_t)C);
					continue;
				}
				for (int64_t c = 0; c < C; c += 64) {
					__mmask64 k = C - c >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << (C - c)) - 1;
					const int8_t *xs = row + ws * C + c;
					__m512i mx = _mm512_maskz_loadu_epi8(k, xs);
					for (int64_t iw = ws + 1; iw < we; iw++)
						mx = _mm512_max_epi8(mx, _mm512_maskz_loadu_epi8(k, xs + (iw - ws) * C));
					_mm512_mask_storeu_epi8(o + c, k, mx);
				}
			}
		}
	}
}

#undef X5_ROWS
#undef X5_DECL
#undef X5_BIAS
#undef X5_DOT
#undef X5_POOL
/* lut_i8: y = T[x + 128].  With AVX512-VBMI, vpermi2b looks up 128
   bytes held in two registers (index bits 0..6), so two of them cover the
   table and bit 7 of x + 128 picks one.  VBMI is not part of the
   x86-64-avx512 target (Cascade Lake lacks it): that function is built
   for it whatever the flags and runs only when the CPU has it, else the
   vpshufb telescoping of avx2.c on zmm (runtime/avx2.c, lut_i8). */
__attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni,avx512vbmi")))
static void x5_lut_vbmi(const int8_t *x, const int8_t *t, int8_t *o, int64_t n)
{
	__m512i t0 = _mm512_loadu_si512((const void *)t), t1 = _mm512_loadu_si512((const void *)(t + 64));
	__m512i t2 = _mm512_loadu_si512((const void *)(t + 128)), t3 = _mm512_loadu_si512((const void *)(t + 192));
	const __m512i flip = _mm512_set1_epi8((char)0x80);
	for (int64_t i = 0; i < n; i += 64) {
		__mmask64 k = n - i >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << (n - i)) - 1;
		__m512i u = _mm512_xor_si512(_mm512_maskz_loadu_epi8(k, x + i), flip);
		__m512i lo = _mm512_permutex2var_epi8(t0, u, t1), hi = _mm512_permutex2var_epi8(t2, u, t3);
		_mm512_mask_storeu_epi8(o + i, k, _mm512_mask_blend_epi8(_mm512_movepi8_mask(u), lo, hi));
	}
}

static void x5_lut_bw(const int8_t *x, const int8_t *t, int8_t *o, int64_t n)
{
	__m512i d[16];
	for (int k = 0; k < 16; k++) {
		__m128i r = _mm_loadu_si128((const __m128i *)(const void *)(t + 16 * k));
		if (k % 8)
			r = _mm_xor_si128(r, _mm_loadu_si128((const __m128i *)(const void *)(t + 16 * k - 16)));
		d[k] = _mm512_broadcast_i32x4(r);
	}
	const __m512i step = _mm512_set1_epi8(16), flip = _mm512_set1_epi8((char)0x80);
	for (int64_t i = 0; i < n; i += 64) {
		__mmask64 k = n - i >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << (n - i)) - 1;
		__m512i xv = _mm512_maskz_loadu_epi8(k, x + i);
		__m512i u = _mm512_xor_si512(xv, flip), il = u, ih = xv;
		__m512i rl = _mm512_shuffle_epi8(d[0], il), rh = _mm512_shuffle_epi8(d[8], ih);
		for (int j = 1; j < 8; j++) {
			il = _mm512_sub_epi8(il, step);
			ih = _mm512_sub_epi8(ih, step);
			rl = _mm512_xor_si512(rl, _mm512_shuffle_epi8(d[j], il));
			rh = _mm512_xor_si512(rh, _mm512_shuffle_epi8(d[8 + j], ih));
		}
		_mm512_mask_storeu_epi8(o + i, k, _mm512_mask_blend_epi8(_mm512_movepi8_mask(u), rl, rh));
	}
}

Q8K void q8k_lut_i8_avx512(const q8_params *p, const void *a, const void *b, void *y)
{
	(void)b;
	if (__builtin_cpu_supports("avx512vbmi"))
		x5_lut_vbmi(a, p->p[Q8P_W], y, p->i[Q8_COUNT]);
	else
		x5_lut_bw(a, p->p[Q8P_W], y, p->i[Q8_COUNT]);
}

#undef X5_WINDOW
#undef X5_ACC
#undef X5_OUT1
#undef X5_OUT
#undef X5_OUTF
#undef X5_OUTG
#undef X5_STORE
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
