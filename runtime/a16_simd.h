/* SIMD variants of the int16-activation kernels (a16w8, runtime/a16.h):
   conv2d_a16_SFX and dense_a16_SFX, for an int16 operand, int8 weights in
   the reference layout and an int8 or int16 result.  The includer (a
   target's runtime file) defines first
       Q8_A16_SFX   the kernel suffix (avx2, avx512, neon, dotprod, rvv)
       Q8_A16_ISA   1 AVX2 (vpmaddwd), 2 AVX-512 VNNI (vpdpwssd),
                    3 NEON (smlal/smlal2), 4 RVV (vwmacc; scalar without V)
   The loops are those of runtime/a16.h with the channel loop of a tap as
   one dot product: the weights are widened to int16 in registers, the
   int16 x int8 products (|p| <= 32768 * 128) summed exactly in int32
   lanes.  Integer addition modulo 2^32 is associative, so any order of
   the sums gives the portable kernel's bits (the quantize pass proves
   that the sums do not overflow anyway).  An int8 operand (ADT i8) goes
   to the portable kernel.  No include guard: every name carries the
   suffix, so one file may include it twice (tests/unit/test_a16_simd.c). */

#define Q8_A16_CAT2(a, b) a##_##b
#define Q8_A16_CAT(a, b) Q8_A16_CAT2(a, b)
#define Q8_A16_FN(name) Q8_A16_CAT(name, Q8_A16_SFX)

/* sum of x[i] * w[i] for i < n, modulo 2^32 */
static inline uint32_t Q8_A16_FN(q8_a16_dot)(const int16_t *x, const int8_t *w, int64_t n)
{
	uint32_t r = 0;
	int64_t i = 0;
#if Q8_A16_ISA == 1
	__m256i acc = _mm256_setzero_si256();
	for (; i + 16 <= n; i += 16) {
		__m256i xv = _mm256_loadu_si256((const __m256i *)(const void *)(x + i));
		__m256i wv = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(w + i)));
		acc = _mm256_add_epi32(acc, _mm256_madd_epi16(xv, wv));
	}
	__m128i s = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
	s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
	s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
	r = (uint32_t)_mm_cvtsi128_si32(s);
#elif Q8_A16_ISA == 2
	__m512i acc = _mm512_setzero_si512();
	for (; i + 32 <= n; i += 32) {
		__m512i xv = _mm512_loadu_si512((const void *)(x + i));
		__m512i wv = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(const void *)(w + i)));
		acc = _mm512_dpwssd_epi32(acc, xv, wv);
	}
	__m256i h = _mm256_add_epi32(_mm512_castsi512_si256(acc), _mm512_extracti64x4_epi64(acc, 1));
	__m128i s = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
	s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
	s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
	r = (uint32_t)_mm_cvtsi128_si32(s);
#elif Q8_A16_ISA == 3
	int32x4_t a0 = vdupq_n_s32(0), a1 = a0;
	for (; i + 8 <= n; i += 8) {
		int16x8_t xv = vld1q_s16(x + i), wv = vmovl_s8(vld1_s8(w + i));
		a0 = vmlal_s16(a0, vget_low_s16(xv), vget_low_s16(wv));
		a1 = vmlal_high_s16(a1, xv, wv);
	}
	uint32x4_t s = vaddq_u32(vreinterpretq_u32_s32(a0), vreinterpretq_u32_s32(a1));
	r = vaddvq_u32(s);
#elif Q8_A16_ISA == 4 && defined(__riscv_vector)
	size_t vm = __riscv_vsetvlmax_e32m4();
	vint32m4_t acc = __riscv_vmv_v_x_i32m4(0, vm);
	for (size_t vl; i < n; i += (int64_t)vl) {
		vl = __riscv_vsetvl_e16m2((size_t)(n - i));
		vint16m2_t xv = __riscv_vle16_v_i16m2(x + i, vl);
		vint16m2_t wv = __riscv_vsext_vf2_i16m2(__riscv_vle8_v_i8m1(w + i, vl), vl);
		acc = __riscv_vwmacc_vv_i32m4_tu(acc, xv, wv, vl);
	}
	vint32m1_t z = __riscv_vmv_v_x_i32m1(0, 1);
	r = (uint32_t)__riscv_vmv_x_s_i32m1_i32(__riscv_vredsum_vs_i32m4_i32m1(acc, z, vm));
#endif
	for (; i < n; i++)
		r += (uint32_t)(x[i] * w[i]);
	return r;
}

/* y[i] = clamp(YZP + r, LO, HI) as YDT (i8 or i16) */
static inline void Q8_A16_FN(q8_a16_out)(const q8_params *p, void *y, int64_t i, int32_t r)
{
	int64_t v = (int64_t)p->i[Q8_YZP] + r;
	v = v < p->i[Q8_LO] ? p->i[Q8_LO] : v > p->i[Q8_HI] ? p->i[Q8_HI] : v;
	if (p->i[Q8_YDT] == Q8_DT_I16)
		((int16_t *)y)[i] = (int16_t)v;
	else
		((int8_t *)y)[i] = (int8_t)v;
}

static inline int32_t Q8_A16_FN(q8_a16_rq)(const q8_params *p, uint32_t acc, int64_t c)
{
	const int32_t *m = p->p[Q8P_MULT], *s = p->p[Q8P_SHIFT];
	int64_t k = p->i[Q8_NRQ] > 1 ? c : 0;
	return q8_rq((int32_t)acc, m[k], s[k]);
}

Q8K void Q8_A16_FN(q8k_conv2d_a16)(const q8_params *p, const void *a, const void *b, void *y)
{
	if (p->i[Q8_ADT] != Q8_DT_I16) {
		q8k_conv2d_a16(p, a, b, y);
		return;
	}
	const int16_t *x = a;
	const int8_t *w = p->p[Q8P_W];
	const int32_t *bias = p->p[Q8P_B];
	int64_t N = p->i[Q8_N], H = p->i[Q8_H], W = p->i[Q8_W], C = p->i[Q8_C];
	int64_t OH = p->i[Q8_OH], OW = p->i[Q8_OW], OC = p->i[Q8_OC];
	int64_t KH = p->i[Q8_KH], KW = p->i[Q8_KW], G = p->i[Q8_GROUPS], cg = C / G, og = OC / G;
	int64_t SH = p->i[Q8_SH], SW = p->i[Q8_SW], DH = p->i[Q8_DH], DW = p->i[Q8_DW];
	int64_t PT = p->i[Q8_PT], PL = p->i[Q8_PL];
	int32_t azp = p->i[Q8_AZP];
	for (int64_t n = 0; n < N; n++)
		for (int64_t oh = 0; oh < OH; oh++)
			for (int64_t ow = 0; ow < OW; ow++)
				for (int64_t oc = 0; oc < OC; oc++) {
					uint32_t acc = bias ? (uint32_t)bias[oc] : 0;
					int64_t g = oc / og;
					for (int64_t kh = 0; kh < KH; kh++) {
						int64_t ih = oh * SH - PT + kh * DH;
						for (int64_t kw = 0; kw < KW; kw++) {
							int64_t iw = ow * SW - PL + kw * DW;
							const int8_t *wp = w + ((oc * KH + kh) * KW + kw) * cg;
							if (ih < 0 || ih >= H || iw < 0 || iw >= W) {
								for (int64_t c = 0; c < cg; c++)
									acc += (uint32_t)(azp * wp[c]);
								continue;
							}
							acc += Q8_A16_FN(q8_a16_dot)(x + ((n * H + ih) * W + iw) * C + g * cg, wp, cg);
						}
					}
					Q8_A16_FN(q8_a16_out)(p, y, ((n * OH + oh) * OW + ow) * OC + oc,
							      Q8_A16_FN(q8_a16_rq)(p, acc, oc));
				}
}

Q8K void Q8_A16_FN(q8k_dense_a16)(const q8_params *p, const void *a, const void *b, void *y)
{
	if (p->i[Q8_ADT] != Q8_DT_I16) {
		q8k_dense_a16(p, a, b, y);
		return;
	}
	const int16_t *x = a;
	const int8_t *w = p->p[Q8P_W];
	const int32_t *bias = p->p[Q8P_B];
	int64_t K = p->i[Q8_C], OC = p->i[Q8_OC];
	for (int64_t n = 0; n < p->i[Q8_N]; n++)
		for (int64_t oc = 0; oc < OC; oc++) {
			uint32_t acc = (bias ? (uint32_t)bias[oc] : 0) + Q8_A16_FN(q8_a16_dot)(x + n * K, w + oc * K, K);
			Q8_A16_FN(q8_a16_out)(p, y, n * OC + oc, Q8_A16_FN(q8_a16_rq)(p, acc, oc));
		}
}

#undef Q8_A16_FN
#undef Q8_A16_CAT
#undef Q8_A16_CAT2
#undef Q8_A16_SFX
#undef Q8_A16_ISA
