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
#include "w4.h"
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

#include "avx512_conv.h"

/* the entry points stay here, where the C emitter looks for them */
Q8K void q8k_conv2d_i8_avx512(const q8_params *p, const void *a, const void *b, void *y)
{
	x5_conv2d(p, a, b, y);
}

Q8K void q8k_dense_i8_avx512(const q8_params *p, const void *a, const void *b, void *y)
{
	x5_dense(p, a, b, y);
}

Q8K void q8k_conv2d_i8_im2col_avx512(const q8_params *p, const void *a, const void *b, void *y)
{
	x5_conv2d_im2col(p, a, b, y);
}

#include "avx512_dw.h"

Q8K void q8k_dwconv_i8_avx512(const q8_params *p, const void *a, const void *b, void *y)
{
	(void)b;
	x5_dwconv(p, a, y);
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
	for (int64_t i = 0, ci = 0; i < n; i += 16) {
		__mmask16 k = x5_mask(n - i > 16 ? 16 : (int)(n - i));
		if (per) {
			mv = _mm512_loadu_si512((const void *)(m + ci));
			sv = _mm512_loadu_si512((const void *)(s + ci));
			if ((ci += 16) == C)
				ci = 0;
		}
		__m512i v = _mm512_sub_epi32(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, x + i)), azp);
		__m512i r = _mm512_add_epi32(x5_rqc(v, mv, sv, lo, hi), yzp);
		_mm_mask_storeu_epi8(o + i, k, _mm512_cvtepi32_epi8(r));
	}
}

/* qmul int8: (x - azp) * (z - bzp) is at most 255 * 255, exact in int32
   (one vpmaddwd: both factors fit int16, the upper halves are zeroed),
   then rq 16 lanes at a time: without 64-bit shifts when R = 31 - s lies
   in [33, 54] (x5_dwq_init's fast path: |acc| < 2^16), else q8_rq's
   64-bit form.  b same shape, scalar, or along C (any C: per pixel, 16
   channels at a time, the last ones masked; mobilenet_v3's
   squeeze-excite scales have C = 72, 88, 120). */
typedef struct {
	__m512i azp, bzp, yzp, mv, sv, low16;
	int64_t lo, hi;
	x5_dwq q;
} x5_mulc;

X5_INLINE void x5_mul16(const x5_mulc *c, const int8_t *x, __m512i v, int8_t *o, __mmask16 k)
{
	__m512i u = _mm512_sub_epi32(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, x)), c->azp);
	__m512i t = _mm512_madd_epi16(_mm512_and_si512(u, c->low16),
	                              _mm512_and_si512(_mm512_sub_epi32(v, c->bzp), c->low16));
	__m512i r = c->q.fast ? x5_dwrq(1, &c->q, t) : _mm512_add_epi32(x5_rqc(t, c->mv, c->sv, c->lo, c->hi), c->yzp);
	_mm_mask_storeu_epi8(o, k, _mm512_cvtepi32_epi8(r));
}

Q8K void q8k_mul_i8_avx512(const q8_params *p, const void *a, const void *b, void *y)
{
	int64_t n = p->i[Q8_COUNT], C = p->i[Q8_C];
	int bm = p->i[Q8_BMODE];
	if (bm == 1 && (C <= 0 || n % C)) {
		q8k_mul_i8(p, a, b, y);
		return;
	}
	const int8_t *x = a, *z = b;
	int8_t *o = y;
	const int32_t *m = p->p[Q8P_MULT], *s = p->p[Q8P_SHIFT];
	x5_mulc c = {.azp = _mm512_set1_epi32(p->i[Q8_AZP]), .bzp = _mm512_set1_epi32(p->i[Q8_BZP]),
	             .yzp = _mm512_set1_epi32(p->i[Q8_YZP]), .mv = _mm512_set1_epi32(m[0]),
	             .sv = _mm512_set1_epi32(s[0]), .low16 = _mm512_set1_epi32(0xffff),
	             .lo = (int64_t)p->i[Q8_LO] - p->i[Q8_YZP], .hi = (int64_t)p->i[Q8_HI] - p->i[Q8_YZP]};
	int32_t m16[16], s16[16];
	for (int j = 0; j < 16; j++)
		m16[j] = m[0], s16[j] = s[0];
	q8_geom g = {.yzp = p->i[Q8_YZP], .lo = p->i[Q8_LO], .hi = p->i[Q8_HI]};
	x5_dwq_init(&c.q, &g, m16, s16, 0xffff);
	if (bm == 1) {
		for (int64_t i = 0; i < n; i += C)
			for (int64_t j = 0; j < C; j += 16) {
				__mmask16 k = x5_mask(C - j > 16 ? 16 : (int)(C - j));
				x5_mul16(&c, x + i + j, _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, z + j)), o + i + j, k);
			}
		return;
	}
	const __m512i z0 = _mm512_set1_epi32(z[0]);
	for (int64_t i = 0; i < n; i += 16) {
		__mmask16 k = x5_mask(n - i > 16 ? 16 : (int)(n - i));
		x5_mul16(&c, x + i, bm == 2 ? z0 : _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, z + i)), o + i, k);
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
/* int16 activations (a16w8): conv2d and dense with an int16 operand, the
   channel loop of a tap as one vpdpwssd dot product (runtime/a16_simd.h) */
Q8K void q8k_conv2d_a16_avx512(const q8_params *p, const void *a, const void *b, void *y);
Q8K void q8k_dense_a16_avx512(const q8_params *p, const void *a, const void *b, void *y);
#define Q8_A16_SFX avx512
#define Q8_A16_ISA 2
#include "a16_simd.h"
/* int4 weights, two per byte (w4.h): unpacked by blocks, then the same tiles */
Q8K void q8k_conv2d_i8_avx512_w4(const q8_params *p, const void *a, const void *b, void *y)
{
	_Alignas(64) int8_t wbuf[Q8_W4BUF];
	(void)b;
	q8_conv_run_w(p, a, y, 0, 16, 64, x5_shapes, q8_unpack4_avx512, wbuf);
}

Q8K void q8k_dense_i8_avx512_w4(const q8_params *p, const void *a, const void *b, void *y)
{
	_Alignas(64) int8_t wbuf[Q8_W4BUF];
	(void)b;
	q8_conv_run_w(p, a, y, 1, 16, 64, x5_shapes, q8_unpack4_avx512, wbuf);
}

Q8K void q8k_dwconv_i8_avx512_w4(const q8_params *p, const void *a, const void *b, void *y)
{
	q8_w4_whole(q8k_dwconv_i8_avx512, q8_unpack4_avx512, 1, p, a, b, y);
}

Q8K void q8k_conv2d_i8_im2col_avx512_w4(const q8_params *p, const void *a, const void *b, void *y)
{
	q8_w4_whole(q8k_conv2d_i8_im2col_avx512, q8_unpack4_avx512, 1, p, a, b, y);
}

#ifdef X5_POP
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#undef X5_POP
#endif
