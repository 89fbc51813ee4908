/* w4.h: int4 weights in the SIMD kernels.  select.c packs a layer whose
   integer weights all fit in 4 bits two per byte (q8_w4 in q8rt.h: element
   i in byte i / 2, low nibble first) in whatever layout the kernel reads,
   and sets Q8_WBITS = 4 and Q8_WNUM (the element count).  The kernel
   unpacks them with SIMD into a stack buffer of the layout it already
   reads, int8 or int16 (esize 1 or 2), then runs its int8 loops
   unchanged, so the bits are those of 8-bit-held weights:
   - conv2d / dense through q8_conv_run (tile.h) or rvv.c's loop: the
     weights of the output-channel blocks a tile is about to use for
     every pixel, at most Q8_W4BUF bytes (select.c keeps one block within
     Q8_W4BLK; a smaller buffer forces narrower tiles: 14x14x128 3x3 ran
     1.26x the 8-bit time with 64 KB, 1.05x with 128 KB);
   - depthwise and the avx512 im2col kernel: the whole weight array once
     per call (q8_w4_whole), Q8_W4BLK bytes at most.
   Each isa has its unpack here (q8_unpack_fn of tile.h); the isa file
   adds the *_w4 kernels that pass it on. */
#ifndef Q8_W4_H
#define Q8_W4_H

#include "q8rt.h"
#include "tile.h"

/* element by element: the head and tail of the SIMD versions */
Q8_HELPER void q8_unpack4_c(void *dst, const int8_t *src, int64_t first, int64_t n, int esize)
{
	for (int64_t i = 0; i < n; i++) {
		int32_t v = q8_w4(src, first + i);
		if (esize == 2)
			((int16_t *)dst)[i] = (int16_t)v;
		else
			((int8_t *)dst)[i] = (int8_t)v;
	}
}

/* The SIMD unpacks: an odd first element scalar, then whole vectors of
   bytes from a byte boundary, then the rest scalar.  *head returns the
   elements done before the vectors. */
Q8_HELPER int64_t q8_unpack4_head(void *dst, const int8_t *src, int64_t first, int64_t n, int esize)
{
	if ((first & 1) && n > 0) {
		q8_unpack4_c(dst, src, first, 1, esize);
		return 1;
	}
	return 0;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
/* x86 has no byte shifts: the bytes zero-extended to 16 (int8 out) or 32
   (int16 out) bits, each nibble shifted to the top and back down
   arithmetically (sign extension), the two halves put back together as
   one lane of two outputs, little-endian: low nibble first. */
static __attribute__((unused, target("avx2"))) void
q8_unpack4_avx2(void *dst, const int8_t *src, int64_t first, int64_t n, int esize)
{
	int64_t i = q8_unpack4_head(dst, src, first, n, esize);
	const uint8_t *s = (const uint8_t *)src + ((first + i) >> 1);
	if (esize == 1) {
		int8_t *d = dst;
		for (; i + 32 <= n; i += 32, s += 16) {
			__m256i x = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)s));
			__m256i lo = _mm256_srai_epi16(_mm256_slli_epi16(x, 12), 12);
			__m256i hi = _mm256_srai_epi16(_mm256_slli_epi16(x, 8), 12);
			__m256i v = _mm256_or_si256(_mm256_and_si256(lo, _mm256_set1_epi16(0xff)),
			                            _mm256_slli_epi16(hi, 8));
			_mm256_storeu_si256((__m256i *)(d + i), v);
		}
	} else {
		int16_t *d = dst;
		for (; i + 16 <= n; i += 16, s += 8) {
			__m256i x = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)s));
			__m256i lo = _mm256_srai_epi32(_mm256_slli_epi32(x, 28), 28);
			__m256i hi = _mm256_srai_epi32(_mm256_slli_epi32(x, 24), 28);
			__m256i v = _mm256_or_si256(_mm256_and_si256(lo, _mm256_set1_epi32(0xffff)),
			                            _mm256_slli_epi32(hi, 16));
			_mm256_storeu_si256((__m256i *)(d + i), v);
		}
	}
	q8_unpack4_c((int8_t *)dst + i * esize, src, first + i, n - i, esize);
}

static __attribute__((unused, target("avx2,avx512f,avx512bw"))) void
q8_unpack4_avx512(void *dst, const int8_t *src, int64_t first, int64_t n, int esize)
{
	int64_t i = q8_unpack4_head(dst, src, first, n, esize);
	const uint8_t *s = (const uint8_t *)src + ((first + i) >> 1);
	if (esize == 1) {
		int8_t *d = dst;
		for (; i + 64 <= n; i += 64, s += 32) {
			__m512i x = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)s));
			__m512i lo = _mm512_srai_epi16(_mm512_slli_epi16(x, 12), 12);
			__m512i hi = _mm512_srai_epi16(_mm512_slli_epi16(x, 8), 12);
			__m512i v = _mm512_or_si512(_mm512_and_si512(lo, _mm512_set1_epi16(0xff)),
			                            _mm512_slli_epi16(hi, 8));
			_mm512_storeu_si512(d + i, v);
		}
	} else {
		int16_t *d = dst;
		for (; i + 32 <= n; i += 32, s += 16) {
			__m512i x = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)s));
			__m512i lo = _mm512_srai_epi32(_mm512_slli_epi32(x, 28), 28);
			__m512i hi = _mm512_srai_epi32(_mm512_slli_epi32(x, 24), 28);
			__m512i v = _mm512_or_si512(_mm512_and_si512(lo, _mm512_set1_epi32(0xffff)),
			                            _mm512_slli_epi32(hi, 16));
			_mm512_storeu_si512(d + i, v);
		}
	}
	q8_unpack4_c((int8_t *)dst + i * esize, src, first + i, n - i, esize);
}
#endif

#if defined(__aarch64__)
#include <arm_neon.h>
/* shl + sshr sign-extend the low nibbles, sshr the high ones; vst2
   interleaves them back into element order */
Q8_HELPER void q8_unpack4_neon(void *dst, const int8_t *src, int64_t first, int64_t n, int esize)
{
	int64_t i = q8_unpack4_head(dst, src, first, n, esize);
	const int8_t *s = src + ((first + i) >> 1);
	for (; i + 32 <= n; i += 32, s += 16) {
		int8x16_t v = vld1q_s8(s);
		int8x16x2_t lh = { { vshrq_n_s8(vshlq_n_s8(v, 4), 4), vshrq_n_s8(v, 4) } };
		if (esize == 1) {
			vst2q_s8((int8_t *)dst + i, lh);
		} else {
			int16x8x2_t a = { { vmovl_s8(vget_low_s8(lh.val[0])), vmovl_s8(vget_low_s8(lh.val[1])) } };
			int16x8x2_t b = { { vmovl_high_s8(lh.val[0]), vmovl_high_s8(lh.val[1]) } };
			vst2q_s16((int16_t *)dst + i, a);
			vst2q_s16((int16_t *)dst + i + 16, b);
		}
	}
	q8_unpack4_c((int8_t *)dst + i * esize, src, first + i, n - i, esize);
}
#endif

#if defined(__riscv_vector)
#include <riscv_vector.h>
/* vsll + vsra sign-extend the low nibbles, vsra the high ones; a
   two-field segment store interleaves them back into element order */
Q8_HELPER void q8_unpack4_rvv(void *dst, const int8_t *src, int64_t first, int64_t n, int esize)
{
	int64_t i = q8_unpack4_head(dst, src, first, n, esize);
	const int8_t *s = src + ((first + i) >> 1);
	while (n - i >= 2) {
		size_t vl = __riscv_vsetvl_e8m1((size_t)((n - i) / 2));
		vint8m1_t v = __riscv_vle8_v_i8m1(s, vl);
		vint8m1_t lo = __riscv_vsra_vx_i8m1(__riscv_vsll_vx_i8m1(v, 4, vl), 4, vl);
		vint8m1_t hi = __riscv_vsra_vx_i8m1(v, 4, vl);
		if (esize == 1)
			__riscv_vsseg2e8_v_i8m1((int8_t *)dst + i, lo, hi, vl);
		else
			__riscv_vsseg2e16_v_i16m2((int16_t *)dst + i, __riscv_vsext_vf2_i16m2(lo, vl),
			                          __riscv_vsext_vf2_i16m2(hi, vl), vl);
		i += 2 * (int64_t)vl;
		s += vl;
	}
	q8_unpack4_c((int8_t *)dst + i * esize, src, first + i, n - i, esize);
}
#endif

/* The whole of W unpacked, then kernel k on it (depthwise, im2col) */
Q8_HELPER void q8_w4_whole(q8_kernel k, q8_unpack_fn *un, int esize, const q8_params *p,
                           const void *a, const void *b, void *y)
{
	_Alignas(64) int8_t buf[Q8_W4BLK];
	q8_params q = *p;
	un(buf, p->p[Q8P_W], 0, p->i[Q8_WNUM], esize);
	q.p[Q8P_W] = buf;
	q.i[Q8_WBITS] = 0;
	k(&q, a, b, y);
}

#endif
