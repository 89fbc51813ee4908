/* Cortex-M55 kernels (target cortex-m55): MVE (Helium).  VMLADAVA.S8
   multiplies 16 int8 lanes and adds every product to a scalar int32
   accumulator (wrapping modulo 2^32, like ref.c); the last partial
   vector is tail-predicated (VCTP.8, zeroing loads), so nothing is read
   past a row.  conv2d_i8, dense_i8 and the depthwise convolution (a
   grouped conv2d_i8) take the reference weight layout; runtime/mcu.h
   has the loops.  dwconv_i8_mve: a depthwise layer with channels across
   the lanes instead, four int32 accumulators per vector, the weights of
   four channels gathered from the reference layout [C][KH][KW]. */
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
	mcu_dense(p, a, y, mve_dot, 0);
}

/* depthwise (GROUPS == C == OC): per output pixel, 4 channels a vector */
Q8K void q8k_dwconv_i8_mve(const q8_params *p, const void *a, const void *b, void *y)
{
	const int8_t *x = a, *w = p->p[Q8P_W];
	const int32_t *bias = p->p[Q8P_B];
	int8_t *o = y;
	int32_t H = p->i[Q8_H], W = p->i[Q8_W], C = p->i[Q8_C];
	int32_t OH = p->i[Q8_OH], OW = p->i[Q8_OW], KH = p->i[Q8_KH], KW = p->i[Q8_KW], T = KH * KW;
	uint32x4_t lane = vmulq_n_u32(vidupq_n_u32(0, 1), (uint32_t)T); /* 0, T, 2T, 3T */
	int32x4_t azp = vdupq_n_s32(p->i[Q8_AZP]);
	(void)b;
	for (int32_t i = 0; i < p->i[Q8_N] * OH * OW; i++) {
		int32_t ow = i % OW, oh = i / OW % OH, bn = i / (OW * OH);
		for (int32_t c = 0; c < C; c += 4) {
			mve_pred16_t pr = vctp32q((uint32_t)(C - c));
			int32x4_t acc = bias ? vldrwq_z_s32(bias + c, pr) : vdupq_n_s32(0);
			for (int32_t kh = 0; kh < KH; kh++) {
				int32_t ih = oh * p->i[Q8_SH] - p->i[Q8_PT] + kh * p->i[Q8_DH];
				for (int32_t kw = 0; kw < KW; kw++) {
					int32_t iw = ow * p->i[Q8_SW] - p->i[Q8_PL] + kw * p->i[Q8_DW];
					int32x4_t xv = ih < 0 || ih >= H || iw < 0 || iw >= W ? azp :
						vldrbq_z_s32(x + (((int64_t)bn * H + ih) * W + iw) * C + c, pr);
					int32x4_t wv = vldrbq_gather_offset_z_s32(w + (int64_t)c * T + kh * KW + kw, lane, pr);
					acc = vaddq_s32(acc, vmulq_s32(xv, wv));
				}
			}
			int32_t r[4];
			vst1q_s32(r, acc);
			for (int32_t j = 0; j < 4 && c + j < C; j++)
				o[(int64_t)i * C + c + j] = mcu_out(p, (uint32_t)r[j], c + j);
		}
	}
}

/* int4 weights, two per byte: rows unpacked into wrow (plain C, mcu.h),
   a run of output channels once per call (conv), a row per dot product
   (dense, whose rows are used once per input row anyway) */
Q8K void q8k_conv2d_i8_mve_w4(const q8_params *p, const void *a, const void *b, void *y)
{
	int8_t wrow[Q8_MCU_COL];
	(void)b;
	mcu_conv4(p, a, y, mve_dot, wrow);
}

Q8K void q8k_dense_i8_mve_w4(const q8_params *p, const void *a, const void *b, void *y)
{
	int8_t wrow[Q8_MCU_COL];
	(void)b;
	mcu_dense(p, a, y, mve_dot, wrow);
}

/* select.c picks it when C * KH * KW <= Q8_MCU_COL: all of W unpacked */
Q8K void q8k_dwconv_i8_mve_w4(const q8_params *p, const void *a, const void *b, void *y)
{
	int8_t w[Q8_MCU_COL];
	q8_params q = *p;
	mcu_unpack4(w, p->p[Q8P_W], 0, p->i[Q8_WNUM]);
	q.p[Q8P_W] = w;
	q.i[Q8_WBITS] = 0;
	q8k_dwconv_i8_mve(&q, a, b, y);
}
