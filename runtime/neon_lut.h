/* lut_i8 on AArch64 (runtime/neon.c and runtime/dotprod.c): y = T[x + 128]
   with tbl/tbx, which look up 64 bytes held in four registers: tbl gives
   0 and tbx keeps its operand where the index is 64 or more, so four
   lookups at u, u - 64, u - 128, u - 192 (u = x + 128, modulo 256) each
   fill the lanes of their quarter of the table. */
#ifndef Q8_NEON_LUT_H
#define Q8_NEON_LUT_H
#include "q8rt.h"
#include <arm_neon.h>

static inline int8x16x4_t nl_quarter(const int8_t *t)
{
	int8x16x4_t q;
	q.val[0] = vld1q_s8(t);
	q.val[1] = vld1q_s8(t + 16);
	q.val[2] = vld1q_s8(t + 32);
	q.val[3] = vld1q_s8(t + 48);
	return q;
}

static inline void nl_lut(const q8_params *p, const int8_t *x, int8_t *o)
{
	const int8_t *t = p->p[Q8P_W];
	int64_t n = p->i[Q8_COUNT], i = 0;
	int8x16x4_t q0 = nl_quarter(t), q1 = nl_quarter(t + 64), q2 = nl_quarter(t + 128),
		    q3 = nl_quarter(t + 192);
	const uint8x16_t c64 = vdupq_n_u8(64), flip = vdupq_n_u8(0x80);
	for (; i + 16 <= n; i += 16) {
		uint8x16_t u = veorq_u8(vreinterpretq_u8_s8(vld1q_s8(x + i)), flip);
		int8x16_t r = vqtbl4q_s8(q0, u);
		u = vsubq_u8(u, c64);
		r = vqtbx4q_s8(r, q1, u);
		u = vsubq_u8(u, c64);
		r = vqtbx4q_s8(r, q2, u);
		u = vsubq_u8(u, c64);
		r = vqtbx4q_s8(r, q3, u);
		vst1q_s8(o + i, r);
	}
	for (; i < n; i++)
		o[i] = t[(uint8_t)(x[i] ^ 0x80)];
}

#endif
