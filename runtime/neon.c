/* AArch64 NEON kernels (target aarch64).  select.c packs conv2d_i8 and
   dense_i8 weights as W[g][ob][tap][kgrp][8][4]: a block of 8 output
   channels x 4 input channels is two q registers.  The 4 activation
   bytes are duplicated across a register; smull/smull2 give exact int16
   products and sadalp adds them in pairs into int32 (no int16 sums, so
   nothing saturates), and one addp per block folds the pairs at the end.
   Requantization is the scalar q8_rq.  Depthwise: runtime/neon_dw.h. */
#include "q8rt.h"
#include "tile.h"
#include "w4.h"
#include "neon_dw.h"
#include "neon_lut.h"
#include <arm_neon.h>
#include <string.h>

/* One tile: M output pixels (M <= 4) x 8 channels.  Named accumulators
   behind constant guards, so that they stay in registers. */
#define NN_ROWS(F) F(0) F(1) F(2) F(3)
#define NN_DECL(r) \
	int32x4_t a##r##0 = vdupq_n_s32(0), a##r##1 = a##r##0, a##r##2 = a##r##0, a##r##3 = a##r##0;
#define NN_WLOAD() int8x16_t w0 = vld1q_s8(wt), w1 = vld1q_s8(wt + 16);
#define NN_DOT(r) \
	if (M > r) { \
		int8x16_t xv = vreinterpretq_s8_s32(vdupq_n_s32(q8_load4(xp##r + off, n))); \
		a##r##0 = vpadalq_s16(a##r##0, vmull_s8(vget_low_s8(xv), vget_low_s8(w0))); \
		a##r##1 = vpadalq_s16(a##r##1, vmull_high_s8(xv, w0)); \
		a##r##2 = vpadalq_s16(a##r##2, vmull_s8(vget_low_s8(xv), vget_low_s8(w1))); \
		a##r##3 = vpadalq_s16(a##r##3, vmull_high_s8(xv, w1)); \
	}
#define NN_OUT(r) \
	if (M > r && npix > r) { \
		int32_t o[8]; \
		vst1q_s32(o, vaddq_s32(vpaddq_s32(a##r##0, a##r##1), vld1q_s32(b))); \
		vst1q_s32(o + 4, vaddq_s32(vpaddq_s32(a##r##2, a##r##3), vld1q_s32(b + 4))); \
		for (int j = 0; j < nv; j++) \
			y[(int64_t)r * g->oc + j] = q8_out(g, o[j], m[j], s[j]); \
	}

static inline __attribute__((always_inline)) void
nn_tile(const q8_geom *g, int M, int NB, const q8_pix *px, int npix, const void *w,
        const int32_t *b, const int32_t *m, const int32_t *s, const int8_t *pad, int nvalid,
        int8_t *y)
{
	(void)NB;
	NN_ROWS(NN_DECL)
	Q8_TILE_LOOP(NN_ROWS, int8_t, 32, NN_WLOAD, NN_DOT)
	int nv = nvalid < 8 ? nvalid : 8;
	NN_ROWS(NN_OUT)
}

Q8_SHAPE(nn_tile_4, nn_tile, 4, 1)
Q8_SHAPE(nn_tile_1, nn_tile, 1, 1)

static const q8_shape nn_shapes[] = { { 1, 4, nn_tile_4, nn_tile_1 } };

Q8K void q8k_conv2d_i8_neon(const q8_params *p, const void *a, const void *b, void *y)
{
	(void)b;
	q8_conv_run(p, a, y, 0, 8, 32, nn_shapes);
}

Q8K void q8k_dense_i8_neon(const q8_params *p, const void *a, const void *b, void *y)
{
	(void)b;
	q8_conv_run(p, a, y, 1, 8, 32, nn_shapes);
}

Q8K void q8k_dwconv_i8_neon(const q8_params *p, const void *a, const void *b, void *y)
{
	(void)b;
	q8_dwconv_neon(p, a, y);
}

#undef NN_ROWS
#undef NN_DECL
#undef NN_WLOAD
#undef NN_DOT
#undef NN_OUT

Q8K void q8k_lut_i8_neon(const q8_params *p, const void *a, const void *b, void *y)
{
	(void)b;
	nl_lut(p, a, y);
}

/* int16 activations (a16w8): conv2d and dense with an int16 operand, the
   channel loop of a tap as one smlal/smlal2 dot product (runtime/a16_simd.h) */
Q8K void q8k_conv2d_a16_neon(const q8_params *p, const void *a, const void *b, void *y);
Q8K void q8k_dense_a16_neon(const q8_params *p, const void *a, const void *b, void *y);
#define Q8_A16_SFX neon
#define Q8_A16_ISA 3
#include "a16_simd.h"
/* int4 weights, two per byte (w4.h): unpacked by blocks, then the same tiles */
Q8K void q8k_conv2d_i8_neon_w4(const q8_params *p, const void *a, const void *b, void *y)
{
	_Alignas(64) int8_t wbuf[Q8_W4BLK]; /* its tiles are one block wide */
	(void)b;
	q8_conv_run_w(p, a, y, 0, 8, 32, nn_shapes, q8_unpack4_neon, wbuf);
}

Q8K void q8k_dense_i8_neon_w4(const q8_params *p, const void *a, const void *b, void *y)
{
	_Alignas(64) int8_t wbuf[Q8_W4BLK]; /* its tiles are one block wide */
	(void)b;
	q8_conv_run_w(p, a, y, 1, 8, 32, nn_shapes, q8_unpack4_neon, wbuf);
}

Q8K void q8k_dwconv_i8_neon_w4(const q8_params *p, const void *a, const void *b, void *y)
{
	q8_w4_whole(q8k_dwconv_i8_neon, q8_unpack4_neon, 2, p, a, b, y);
}

