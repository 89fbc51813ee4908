/* Cortex-M55 kernels (target cortex-m55): MVE (Helium).  VMLADAVA.S8
   multiplies 16 int8 lanes and adds every product to a scalar int32
   accumulator (wrapping modulo 2^32, like ref.c); the last partial
   vector is tail-predicated (VCTP.8, zeroing loads), so nothing is read
   past a row.  conv2d_i8, dense_i8 and the depthwise convolution (a
   grouped conv2d_i8) take the reference weight layout; runtime/mcu.h
   has the loops. */
#include "q8rt.h"
#include "mcu.h"
#include <arm_mve.h>

static inline uint32_t mve_dot(uint32_t acc, const int8_t *x, const int8_t *w, int32_t n)
{
	int32_t s = (int32_t)acc;
	for (int32_t i = 0; i < n; i += 16) {
		mve_pred16_t pr = vctp8q((uint32_t)(n - i));
		s = vmladavaq_p_s8(s, vldrbq_z_s8(x + i, pr), vldrbq_z_s8(w + i, pr), pr);
	}
	return (uint32_t)s;
}

Q8K void q8k_conv2d_i8_mve(const q8_params *p, const void *a, const void *b, void *y)
{
	(void)b;
	mcu_conv(p, a, y, mve_dot);
}

Q8K void q8k_dense_i8_mve(const q8_params *p, const void *a, const void *b, void *y)
{
	(void)b;
	mcu_dense(p, a, y, mve_dot);
}
