/* The portable kernels of int16 activations (a16w8, docs/precision.md):
   int16 (or int8) activations, int8 weights, int32 accumulation (the
   quantize pass proves per output channel that it cannot overflow:
   docs/numerics.md), the one rounding rule q8_rq, and an int8 or int16
   result.  ADT is the dtype of a (Q8_DT_I8 or Q8_DT_I16), YDT of y.
   Included by ref.c (IP, load_int, rq_at, POOL_LOOP and WINDOW come
   from there), so that it is
   pasted and compiled to bitcode with it; every target runs these. */
#ifndef Q8_A16_H
#define Q8_A16_H

/* y[i] = clamp(YZP + r, LO, HI) as YDT; r may be saturated */
static inline void q8_out_a16(const q8_params *p, void *y, int64_t i, int32_t r)
{
	int64_t v = (int64_t)p->i[Q8_YZP] + r;
	v = v < p->i[Q8_LO] ? p->i[Q8_LO] : v > p->i[Q8_HI] ? p->i[Q8_HI] : v;
	if (p->i[Q8_YDT] == Q8_DT_I16)
		((int16_t *)y)[i] = (int16_t)v;
	else
		((int8_t *)y)[i] = (int8_t)v;
}

/* The conv of ref.c's conv2d_i8 over input elements of type T; groups
   (depthwise when GROUPS == C) as there.  |x * w| <= 32768 * 127 fits
   int; the sum wraps modulo 2^32 like every integer accumulator. */
#define Q8_CONV_A16(NAME, T) \
	static void NAME(const q8_params *p, const T *x, void *y) \
	{ \
		const int8_t *w = p->p[Q8P_W]; \
		const int32_t *bias = p->p[Q8P_B]; \
		int64_t H = IP(H), W = IP(W), C = IP(C), OH = IP(OH), OW = IP(OW), OC = IP(OC); \
		int64_t KH = IP(KH), KW = IP(KW), G = IP(GROUPS), cg = C / G, og = OC / G; \
		int32_t azp = p->i[Q8_AZP]; \
		for (int64_t n = 0; n < IP(N); n++) \
			for (int64_t oh = 0; oh < OH; oh++) \
				for (int64_t ow = 0; ow < OW; ow++) \
					for (int64_t oc = 0; oc < OC; oc++) { \
						uint32_t acc = bias ? (uint32_t)bias[oc] : 0; \
						int64_t g = oc / og; \
						for (int64_t kh = 0; kh < KH; kh++) { \
							int64_t ih = oh * IP(SH) - IP(PT) + kh * IP(DH); \
							for (int64_t kw = 0; kw < KW; kw++) { \
								int64_t iw = ow * IP(SW) - IP(PL) + kw * IP(DW); \
								const int8_t *wp = w + ((oc * KH + kh) * KW + kw) * cg; \
								if (ih < 0 || ih >= H || iw < 0 || iw >= W) { \
									for (int64_t c = 0; c < cg; c++) \
										acc += (uint32_t)(azp * wp[c]); \
									continue; \
								} \
								const T *xp = x + ((n * H + ih) * W + iw) * C + g * cg; \
								for (int64_t c = 0; c < cg; c++) \
									acc += (uint32_t)(xp[c] * wp[c]); \
							} \
						} \
						q8_out_a16(p, y, ((n * OH + oh) * OW + ow) * OC + oc, \
							   rq_at(p, (int32_t)acc, oc)); \
					} \
	}
Q8_CONV_A16(q8_conv_a8, int8_t)
Q8_CONV_A16(q8_conv_a16, int16_t)
#undef Q8_CONV_A16

/* conv2d with an int16 operand or an int16 result (or both) */
Q8K void q8k_conv2d_a16(const q8_params *p, const void *a, const void *b, void *y)
{
	(void)b;
	if (p->i[Q8_ADT] == Q8_DT_I16)
		q8_conv_a16(p, a, y);
	else
		q8_conv_a8(p, a, y);
}

#define Q8_DENSE_A16(NAME, T) \
	static void NAME(const q8_params *p, const T *x, void *y) \
	{ \
		const int8_t *w = p->p[Q8P_W]; \
		const int32_t *bias = p->p[Q8P_B]; \
		int64_t K = IP(C), OC = IP(OC); \
		for (int64_t n = 0; n < IP(N); n++) \
			for (int64_t oc = 0; oc < OC; oc++) { \
				uint32_t acc = bias ? (uint32_t)bias[oc] : 0; \
				for (int64_t k = 0; k < K; k++) \
					acc += (uint32_t)(x[n * K + k] * w[oc * K + k]); \
				q8_out_a16(p, y, n * OC + oc, rq_at(p, (int32_t)acc, oc)); \
			} \
	}
Q8_DENSE_A16(q8_dense_a8, int8_t)
Q8_DENSE_A16(q8_dense_a16, int16_t)
#undef Q8_DENSE_A16

Q8K void q8k_dense_a16(const q8_params *p, const void *a, const void *b, void *y)
{
	(void)b;
	if (p->i[Q8_ADT] == Q8_DT_I16)
		q8_dense_a16(p, a, y);
	else
		q8_dense_a8(p, a, y);
}

/* requantize from i8, i16 or i32 (ADT) to YDT, per channel over C when
   NRQ > 1: y = clamp(YZP + rq(x - AZP)) */
Q8K void q8k_requant_a16(const q8_params *p, const void *a, const void *b, void *y)
{
	int32_t dt = p->i[Q8_ADT];
	(void)b;
	for (int64_t i = 0; i < IP(COUNT); i++) {
		int64_t v = load_int(a, dt, i) - p->i[Q8_AZP];
		int32_t x = v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : (int32_t)v;
		q8_out_a16(p, y, i, rq_at(p, x, i % IP(C)));
	}
}

/* max pool of int16 values, as maxpool_i8 (padding never wins; an empty
   window gives AZP) */
Q8K void q8k_maxpool_i16(const q8_params *p, const void *a, const void *b, void *y)
{
	const int16_t *x = a;
	int16_t *o = y;
	(void)b;
	POOL_LOOP({
		int32_t m = -32768;
		int64_t cnt = 0;
		WINDOW({ m = x[in] > m ? x[in] : m; cnt++; })
		o[at] = (int16_t)(cnt ? m : p->i[Q8_AZP]);
	})
}

Q8K void q8k_clip_i16(const q8_params *p, const void *a, const void *b, void *y)
{
	const int16_t *x = a;
	int16_t *o = y;
	(void)b;
	for (int64_t i = 0; i < IP(COUNT); i++)
		o[i] = (int16_t)q8_clamp(x[i], p->i[Q8_LO], p->i[Q8_HI]);
}

#endif
