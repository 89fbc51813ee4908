/* Cortex-M4/M7 kernels (targets cortex-m4, cortex-m7): the DSP extension
   of ARMv7E-M.  SXTB16 sign-extends bytes 0 and 2 of a word into two
   halfwords (bytes 1 and 3 after a rotation by 8), and SMLAD adds both
   halfword products to an accumulator: four int8 MACs in four
   instructions, exact and wrapping modulo 2^32 like ref.c.  conv2d_i8,
   dense_i8 and the depthwise convolution (a grouped conv2d_i8) take the
   reference weight layout; runtime/mcu.h has the loops. */
#include "q8rt.h"
#include "mcu.h"
#include <arm_acle.h>

/* rotate right by 8 (gcc 12's arm_acle.h has no __ror); one ROR, or
   folded into SXTB16's own rotation */
static inline int32_t dsp_ror8(int32_t v)
{
	return (int32_t)((uint32_t)v >> 8 | (uint32_t)v << 24);
}

/* an unaligned word load (ARMv7E-M's LDR allows it): not memcpy, which
   -ffreestanding (no builtins) turns into a call */
typedef int32_t __attribute__((aligned(1), may_alias)) dsp_word;

static inline uint32_t dsp_dot(uint32_t acc, const int8_t *x, const int8_t *w, int32_t n)
{
	int32_t i = 0;
	for (; i + 4 <= n; i += 4) {
		int32_t xv = *(const dsp_word *)(x + i), wv = *(const dsp_word *)(w + i);
		int32_t s = (int32_t)acc;
		s = __smlad(__sxtb16(xv), __sxtb16(wv), s);
		s = __smlad(__sxtb16(dsp_ror8(xv)), __sxtb16(dsp_ror8(wv)), s);
		acc = (uint32_t)s;
	}
	for (; i < n; i++)
		acc += (uint32_t)(x[i] * w[i]);
	return acc;
}

Q8K void q8k_conv2d_i8_dsp(const q8_params *p, const void *a, const void *b, void *y)
{
	(void)b;
	mcu_conv(p, a, y, dsp_dot);
}

Q8K void q8k_dense_i8_dsp(const q8_params *p, const void *a, const void *b, void *y)
{
	(void)b;
	mcu_dense(p, a, y, dsp_dot, 0);
}

/* int4 weights, two per byte: rows unpacked into wrow (plain C, mcu.h),
   a run of output channels once per call (conv), a row per dot product
   (dense, whose rows are used once per input row anyway) */
Q8K void q8k_conv2d_i8_dsp_w4(const q8_params *p, const void *a, const void *b, void *y)
{
	int8_t wrow[Q8_MCU_COL];
	(void)b;
	mcu_conv4(p, a, y, dsp_dot, wrow);
}

Q8K void q8k_dense_i8_dsp_w4(const q8_params *p, const void *a, const void *b, void *y)
{
	int8_t wrow[Q8_MCU_COL];
	(void)b;
	mcu_dense(p, a, y, dsp_dot, wrow);
}

/* int16 activations (a16w8): conv2d and dense with an int16 operand, the
   channel loop of a tap as SMLAD on halfword pairs (runtime/a16_simd.h) */
Q8K void q8k_conv2d_a16_dsp(const q8_params *p, const void *a, const void *b, void *y);
Q8K void q8k_dense_a16_dsp(const q8_params *p, const void *a, const void *b, void *y);
#define Q8_A16_SFX dsp
#define Q8_A16_ISA 5
#include "a16_simd.h"
