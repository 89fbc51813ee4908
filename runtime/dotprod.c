/* AArch64 dot-product kernels (target aarch64-dotprod, ARMv8.2 sdot).
   select.c packs conv2d_i8 and dense_i8 weights as
   W[g][ob][tap][kgrp][16][4]: a block of 16 output channels x 4 input
   channels is four q registers, and one sdot adds the 4 products of
   4 channels into their int32 lanes (signed x signed: no offset needed).
   The 4 activation bytes are duplicated across a register.  Depthwise is
   the NEON one (runtime/neon_dw.h); requantization is the scalar q8_rq. */
#include "q8rt.h"
#include "tile.h"
#include "w4.h"
#include "neon_dw.h"
#include "neon_lut.h"
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

/* One tile: M output pixels (M <= 4) x 16 channels.  Named accumulators
   behind constant guards, so that they stay in registers. */
#define DP_ROWS(F) F(0) F(1) F(2) F(3)
#define DP_DECL(r) \
	int32x4_t a##r##0 = vdupq_n_s32(0), a##r##1 = a##r##0, a##r##2 = a##r##0, a##r##3 = a##r##0;
#define DP_WLOAD() \
	int8x16_t w0 = vld1q_s8(wt), w1 = vld1q_s8(wt + 16), w2 = vld1q_s8(wt + 32), \
		w3 = vld1q_s8(wt + 48);
#define DP_DOT(r) \
	if (M > r) { \
		int8x16_t xv = vreinterpretq_s8_s32(vdupq_n_s32(q8_load4(xp##r + off, n))); \
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
			y[(int64_t)r * g->oc + j] = q8_out(g, o[j], m[j], s[j]); \
	}

static inline __attribute__((always_inline)) void
dp_tile(const q8_geom *g, int M, int NB, const q8_pix *px, int npix, const void *w,
        const int32_t *b, const int32_t *m, const int32_t *s, const int8_t *pad, int nvalid,
        int8_t *y)
{
	(void)NB;
	DP_ROWS(DP_DECL)
	Q8_TILE_LOOP(DP_ROWS, int8_t, 64, DP_WLOAD, DP_DOT)
	int nv = nvalid < 16 ? nvalid : 16;
	DP_ROWS(DP_OUT)
}

Q8_SHAPE(dp_tile_4, dp_tile, 4, 1)
Q8_SHAPE(dp_tile_1, dp_tile, 1, 1)

static const q8_shape dp_shapes[] = { { 1, 4, dp_tile_4, dp_tile_1 } };

Q8K void q8k_conv2d_i8_dotprod(const q8_params *p, const void *a, const void *b, void *y)
{
	(void)b;
	q8_conv_run(p, a, y, 0, 16, 64, dp_shapes);
}

Q8K void q8k_dense_i8_dotprod(const q8_params *p, const void *a, const void *b, void *y)
{
	(void)b;
	q8_conv_run(p, a, y, 1, 16, 64, dp_shapes);
}

Q8K void q8k_dwconv_i8_dotprod(const q8_params *p, const void *a, const void *b, void *y)
{
	(void)b;
	q8_dwconv_neon(p, a, y);
}

#undef DP_ROWS
#undef DP_DECL
#undef DP_WLOAD
#undef DP_DOT
#undef DP_OUT

Q8K void q8k_lut_i8_dotprod(const q8_params *p, const void *a, const void *b, void *y)
{
	(void)b;
	nl_lut(p, a, y);
}

/* int4 weights, two per byte (w4.h): unpacked by blocks, then the same tiles */
Q8K void q8k_conv2d_i8_dotprod_w4(const q8_params *p, const void *a, const void *b, void *y)
{
	_Alignas(64) int8_t wbuf[Q8_W4BLK]; /* its tiles are one block wide */
	(void)b;
	q8_conv_run_w(p, a, y, 0, 16, 64, dp_shapes, q8_unpack4_neon, wbuf);
}

Q8K void q8k_dense_i8_dotprod_w4(const q8_params *p, const void *a, const void *b, void *y)
{
	_Alignas(64) int8_t wbuf[Q8_W4BLK]; /* its tiles are one block wide */
	(void)b;
	q8_conv_run_w(p, a, y, 1, 16, 64, dp_shapes, q8_unpack4_neon, wbuf);
}

Q8K void q8k_dwconv_i8_dotprod_w4(const q8_params *p, const void *a, const void *b, void *y)
{
	q8_w4_whole(q8k_dwconv_i8_dotprod, q8_unpack4_neon, 2, p, a, b, y);
}

#ifdef DP_POP
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#undef DP_POP
#endif

/* int16 activations (a16w8): conv2d and dense with an int16 operand, the
   channel loop of a tap as one smlal/smlal2 dot product (runtime/a16_simd.h) */
Q8K void q8k_conv2d_a16_dotprod(const q8_params *p, const void *a, const void *b, void *y);
Q8K void q8k_dense_a16_dotprod(const q8_params *p, const void *a, const void *b, void *y);
#define Q8_A16_SFX dotprod
#define Q8_A16_ISA 3
#include "a16_simd.h"
