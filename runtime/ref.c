/* The portable reference kernels: the meaning of every kernel name in
   q8rt.h.  The interpreter runs them, the C emitter pastes them into its
   output, and target kernels must give the same bits on integer data.

   No a*b+c expression in quantize/dequantize: gcc ignores the pragma
   below and contracts such expressions into fma on targets that have one,
   which would change bits between the interpreter and generated code. */
#if !defined(__GNUC__) || defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#include <math.h>
#include <string.h>

#include "q8rt.h"

#define IP(k) ((int64_t)p->i[Q8_##k])

/* ---- float ---- */

Q8K void q8k_conv2d_f32(const q8_params *p, const void *a, const void *b, void *y)
{
	const float *x = a, *bias = p->p[Q8P_B];
	/* weights are a constant, or the second operand when they are computed */
	const float *w = p->p[Q8P_W] ? (const float *)p->p[Q8P_W] : (const float *)b;
	float *o = y;
	int64_t H = IP(H), W = IP(W), C = IP(C), OH = IP(OH), OW = IP(OW), OC = IP(OC);
	int64_t KH = IP(KH), KW = IP(KW), G = IP(GROUPS);
	int64_t cg = C / G, og = OC / G;
	for (int64_t n = 0; n < IP(N); n++)
		for (int64_t oh = 0; oh < OH; oh++)
			for (int64_t ow = 0; ow < OW; ow++)
				for (int64_t oc = 0; oc < OC; oc++) {
					float acc = bias ? bias[oc] : 0.0f;
					int64_t g = oc / og;
					for (int64_t kh = 0; kh < KH; kh++) {
						int64_t ih = oh * IP(SH) - IP(PT) + kh * IP(DH);
						if (ih < 0 || ih >= H)
							continue;
						for (int64_t kw = 0; kw < KW; kw++) {
							int64_t iw = ow * IP(SW) - IP(PL) + kw * IP(DW);
							if (iw < 0 || iw >= W)
								continue;
							const float *xp = x + ((n * H + ih) * W + iw) * C + g * cg;
							const float *wp = w + ((oc * KH + kh) * KW + kw) * cg;
							for (int64_t c = 0; c < cg; c++)
								acc += xp[c] * wp[c];
						}
					}
					o[((n * OH + oh) * OW + ow) * OC + oc] = acc;
				}
}

Q8K void q8k_dense_f32(const q8_params *p, const void *a, const void *b, void *y)
{
	const float *x = a, *bias = p->p[Q8P_B];
	const float *w = p->p[Q8P_W] ? (const float *)p->p[Q8P_W] : (const float *)b;
	float *o = y;
	int64_t K = IP(C), OC = IP(OC);
	for (int64_t n = 0; n < IP(N); n++)
		for (int64_t oc = 0; oc < OC; oc++) {
			float acc = bias ? bias[oc] : 0.0f;
			for (int64_t k = 0; k < K; k++)
				acc += x[n * K + k] * w[oc * K + k];
			o[n * OC + oc] = acc;
		}
}

#include "f32.h"

/* index of b for element i of a: same shape, along the last axis, scalar */
static inline int64_t bidx(const q8_params *p, int64_t i)
{
	return p->i[Q8_BMODE] == 0 ? i : p->i[Q8_BMODE] == 1 ? i % p->i[Q8_C] : 0;
}

Q8K void q8k_add_f32(const q8_params *p, const void *a, const void *b, void *y)
{
	const float *x = a, *z = b;
	float *o = y;
	for (int64_t i = 0; i < IP(COUNT); i++)
		o[i] = x[i] + z[bidx(p, i)];
}

Q8K void q8k_sub_f32(const q8_params *p, const void *a, const void *b, void *y)
{
	const float *x = a, *z = b;
	float *o = y;
	for (int64_t i = 0; i < IP(COUNT); i++)
		o[i] = x[i] - z[bidx(p, i)];
}

Q8K void q8k_mul_f32(const q8_params *p, const void *a, const void *b, void *y)
{
	const float *x = a, *z = b;
	float *o = y;
	for (int64_t i = 0; i < IP(COUNT); i++)
		o[i] = x[i] * z[bidx(p, i)];
}

Q8K void q8k_clip_f32(const q8_params *p, const void *a, const void *b, void *y)
{
	const float *x = a;
	float *o = y, lo = p->f[Q8F_MIN], hi = p->f[Q8F_MAX];
	(void)b;
	for (int64_t i = 0; i < IP(COUNT); i++)
		o[i] = x[i] < lo ? lo : x[i] > hi ? hi : x[i];
}

/* The pools visit the window positions that fall inside the input. */
#define POOL_LOOP(...) \
	for (int64_t n = 0; n < IP(N); n++) \
		for (int64_t oh = 0; oh < IP(OH); oh++) \
			for (int64_t ow = 0; ow < IP(OW); ow++) \
				for (int64_t c = 0; c < IP(C); c++) { \
					int64_t h0 = oh * IP(SH) - IP(PT), w0 = ow * IP(SW) - IP(PL); \
					int64_t at = ((n * IP(OH) + oh) * IP(OW) + ow) * IP(C) + c; \
					__VA_ARGS__ \
				}
#define WINDOW(...) \
	for (int64_t ih = h0 < 0 ? 0 : h0; ih < h0 + IP(KH) && ih < IP(H); ih++) \
		for (int64_t iw = w0 < 0 ? 0 : w0; iw < w0 + IP(KW) && iw < IP(W); iw++) { \
			int64_t in = ((n * IP(H) + ih) * IP(W) + iw) * IP(C) + c; \
			__VA_ARGS__ \
		}

Q8K void q8k_maxpool_f32(const q8_params *p, const void *a, const void *b, void *y)
{
	const float *x = a;
	float *o = y;
	(void)b;
	POOL_LOOP({
		float m = -INFINITY;
		int64_t cnt = 0;
		WINDOW({ m = x[in] > m ? x[in] : m; cnt++; })
		o[at] = cnt ? m : 0.0f;
	})
}

Q8K void q8k_avgpool_f32(const q8_params *p, const void *a, const void *b, void *y)
{
	const float *x = a;
	float *o = y;
	(void)b;
	POOL_LOOP({
		float s = 0.0f;
		int64_t cnt = 0;
		WINDOW({ s += x[in]; cnt++; })
		o[at] = cnt ? s / (float)cnt : 0.0f;
	})
}

Q8K void q8k_gavgpool_f32(const q8_params *p, const void *a, const void *b, void *y)
{
	const float *x = a;
	float *o = y;
	int64_t HW = IP(H) * IP(W), C = IP(C);
	(void)b;
	for (int64_t n = 0; n < IP(N); n++)
		for (int64_t c = 0; c < C; c++) {
			float s = 0.0f;
			for (int64_t i = 0; i < HW; i++)
				s += x[(n * HW + i) * C + c];
			o[n * C + c] = s / (float)HW;
		}
}

Q8K void q8k_affine_f32(const q8_params *p, const void *a, const void *b, void *y)
{
	const float *x = a, *sc = p->p[Q8P_SCALE], *sh = p->p[Q8P_ZP];
	float *o = y;
	(void)b;
	for (int64_t i = 0; i < IP(COUNT); i++) {
		int64_t c = i % IP(C);
		o[i] = x[i] * sc[c] + sh[c];
	}
}

Q8K void q8k_pad_f32(const q8_params *p, const void *a, const void *b, void *y)
{
	const float *x = a;
	float *o = y, v = p->f[Q8F_VALUE];
	(void)b;
	for (int64_t n = 0; n < IP(N); n++)
		for (int64_t oh = 0; oh < IP(OH); oh++)
			for (int64_t ow = 0; ow < IP(OW); ow++) {
				int64_t ih = oh - IP(PT), iw = ow - IP(PL);
				float *d = o + ((n * IP(OH) + oh) * IP(OW) + ow) * IP(C);
				if (ih >= 0 && ih < IP(H) && iw >= 0 && iw < IP(W))
					memcpy(d, x + ((n * IP(H) + ih) * IP(W) + iw) * IP(C), (size_t)IP(C) * sizeof *d);
				else
					for (int64_t c = 0; c < IP(C); c++)
						d[c] = v;
			}
}

Q8K void q8k_softmax_f32(const q8_params *p, const void *a, const void *b, void *y)
{
	const float *x = a;
	float *o = y;
	int64_t L = IP(LEN), IN = IP(INNER);
	(void)b;
	for (int64_t out = 0; out < IP(OUTER); out++)
		for (int64_t in = 0; in < IN; in++) {
			const float *xp = x + out * L * IN + in;
			float *op = o + out * L * IN + in;
			float m = xp[0], s = 0.0f;
			for (int64_t l = 1; l < L; l++)
				m = xp[l * IN] > m ? xp[l * IN] : m;
			for (int64_t l = 0; l < L; l++) {
				float e = expf(xp[l * IN] - m);
				op[l * IN] = e;
				s += e;
			}
			for (int64_t l = 0; l < L; l++)
				op[l * IN] = op[l * IN] / s;
		}
}

/* tanh from expf and the four operations only, so that it gives the same
   bits on every target (libm tanhf differs between x86-64 and AArch64):
   below 0.625 its Taylor series in double (the terms past x^19 are below
   2^-27 of x there), above it (1 - e) / (1 + e) with e = expf(-2|x|) <= 0.29,
   where nothing cancels. */
static float tanh_f32(float v)
{
	float a = v < 0.0f ? -v : v, r;
	if (a < 0.625f) {
		static const double c[] = {
			1.0, -1.0 / 3, 2.0 / 15, -17.0 / 315, 62.0 / 2835, -1382.0 / 155925,
			21844.0 / 6081075, -929569.0 / 638512875, 6404582.0 / 10854718875.0,
			-443861162.0 / 1856156927625.0,
		};
		double x = a, x2 = x * x, s = c[9];
		for (int k = 8; k >= 0; k--) {
			s = s * x2;
			s = s + c[k];
		}
		r = (float)(s * x);
	} else {
		float e = expf(-2.0f * a);
		r = (1.0f - e) / (1.0f + e);
	}
	return v < 0.0f ? -r : r;
}

/* the activations, in float; leaky_relu's x >= 0 keeps -0 and NaN as they are */
Q8K void q8k_act_f32(const q8_params *p, const void *a, const void *b, void *y)
{
	const float *x = a;
	float *o = y;
	float al = p->f[Q8F_ALPHA], be = p->f[Q8F_BETA];
	int32_t fn = p->i[Q8_FUNC];
	(void)b;
	for (int64_t i = 0; i < IP(COUNT); i++) {
		float v = x[i], r;
		switch (fn) {
		case Q8_ACT_SIGMOID: r = 1.0f / (1.0f + expf(-v)); break;
		case Q8_ACT_TANH: r = tanh_f32(v); break;
		case Q8_ACT_HARDSWISH: {
			float t = v + 3.0f;
			t = t < 0.0f ? 0.0f : t > 6.0f ? 6.0f : t;
			r = v * t / 6.0f;
			break;
		}
		case Q8_ACT_HARDSIGMOID: {
			/* in double: the product of two floats is exact there, so
			   a contraction into fma cannot change the sum */
			double t = (double)al * v + be;
			r = t < 0.0 ? 0.0f : t > 1.0 ? 1.0f : (float)t;
			break;
		}
		default: r = v >= 0.0f ? v : al * v; break; /* Q8_ACT_LEAKYRELU */
		}
		o[i] = r;
	}
}

/* ---- quantize / dequantize: any integer dtype ---- */

static inline int64_t load_int(const void *a, int32_t dt, int64_t i)
{
	switch (dt) {
	case Q8_DT_I8: return ((const int8_t *)a)[i];
	case Q8_DT_U8: return ((const uint8_t *)a)[i];
	case Q8_DT_I16: return ((const int16_t *)a)[i];
	default: return ((const int32_t *)a)[i];
	}
}

static inline void store_int(void *y, int32_t dt, int64_t i, int64_t v)
{
	switch (dt) {
	case Q8_DT_I8: ((int8_t *)y)[i] = (int8_t)v; break;
	case Q8_DT_U8: ((uint8_t *)y)[i] = (uint8_t)v; break;
	case Q8_DT_I16: ((int16_t *)y)[i] = (int16_t)v; break;
	default: ((int32_t *)y)[i] = (int32_t)v; break;
	}
}

static inline void int_range(int32_t dt, int64_t *lo, int64_t *hi)
{
	switch (dt) {
	case Q8_DT_I8: *lo = -128; *hi = 127; break;
	case Q8_DT_U8: *lo = 0; *hi = 255; break;
	case Q8_DT_I16: *lo = -32768; *hi = 32767; break;
	default: *lo = INT32_MIN; *hi = INT32_MAX; break;
	}
}

/* a is viewed as [OUTER, LEN, INNER]; with NQ > 1 the scale and zero
   point are indexed by the middle axis, else F SCALE and YZP (quantize)
   or AZP (dequantize) apply to every element. */
Q8K void q8k_quantize(const q8_params *p, const void *a, const void *b, void *y)
{
	const float *x = a, *sc = p->p[Q8P_SCALE];
	const int32_t *zps = p->p[Q8P_ZP];
	int32_t dt = p->i[Q8_YDT];
	int64_t lo, hi, L = IP(LEN), IN = IP(INNER);
	(void)b;
	int_range(dt, &lo, &hi);
	for (int64_t out = 0; out < IP(OUTER); out++)
		for (int64_t l = 0; l < L; l++) {
			float s = IP(NQ) > 1 ? sc[l] : p->f[Q8F_SCALE];
			int64_t zp = IP(NQ) > 1 ? zps[l] : IP(YZP);
			for (int64_t in = 0; in < IN; in++) {
				int64_t i = (out * L + l) * IN + in;
				/* r is an integer-valued float, so r + zp is exact in double;
				   llrint, not a cast: clang vectorises the cast for RVV into
				   vfcvt.rtz, which qemu 7.2 aborts on */
				double v = (double)nearbyintf(x[i] / s) + (double)zp;
				int64_t q = v != v ? zp : v <= (double)lo ? lo : v >= (double)hi ? hi : (int64_t)llrint(v);
				store_int(y, dt, i, q);
			}
		}
}

Q8K void q8k_dequantize(const q8_params *p, const void *a, const void *b, void *y)
{
	const float *sc = p->p[Q8P_SCALE];
	const int32_t *zps = p->p[Q8P_ZP];
	int32_t dt = p->i[Q8_ADT];
	float *o = y;
	int64_t L = IP(LEN), IN = IP(INNER);
	(void)b;
	if (IP(NQ) == 1 && dt == Q8_DT_I8) {
		/* the common case, one flat loop that compilers vectorise */
		const int8_t *x = a;
		float s = p->f[Q8F_SCALE];
		int32_t zp = p->i[Q8_AZP];
		for (int64_t i = 0, n = IP(OUTER) * L * IN; i < n; i++)
			o[i] = s * (float)(x[i] - zp);
		return;
	}
	for (int64_t out = 0; out < IP(OUTER); out++)
		for (int64_t l = 0; l < L; l++) {
			float s = IP(NQ) > 1 ? sc[l] : p->f[Q8F_SCALE];
			int64_t zp = IP(NQ) > 1 ? zps[l] : IP(AZP);
			for (int64_t in = 0; in < IN; in++) {
				int64_t i = (out * L + l) * IN + in;
				o[i] = s * (float)(load_int(a, dt, i) - zp);
			}
		}
}

/* ---- any type ---- */

Q8K void q8k_copy_slice(const q8_params *p, const void *a, const void *b, void *y)
{
	const char *x = a;
	char *o = y;
	int64_t es = IP(ESIZE), run = IP(LEN) * IP(INNER) * es;
	(void)b;
	for (int64_t out = 0; out < IP(OUTER); out++)
		memcpy(o + (out * IP(DLEN) + IP(DOFF)) * IP(INNER) * es, x + out * run, (size_t)run);
}

/* y in order; an odometer over y's axes but the last walks x */
Q8K void q8k_transpose(const q8_params *p, const void *a, const void *b, void *y)
{
	const char *x = a;
	char *o = y;
	const int32_t *d = p->p[Q8P_W];
	int r = p->i[Q8_RANK];
	int64_t es = IP(ESIZE), n = IP(COUNT), len = d[r - 1], st = d[2 * r - 1];
	int64_t idx[8] = {0}, off = 0;
	(void)b;
	for (int64_t i = 0; i < n; i += len) {
		if (es == 1)
			for (int64_t j = 0; j < len; j++)
				o[i + j] = x[off + j * st];
		else
			for (int64_t j = 0; j < len; j++)
				memcpy(o + (i + j) * es, x + (off + j * st) * es, (size_t)es);
		for (int k = r - 2; k >= 0; k--) {
			off += d[r + k];
			if (++idx[k] < d[k])
				break;
			off -= (int64_t)d[r + k] * d[k];
			idx[k] = 0;
		}
	}
}

/* ---- int8 ---- */

/* zp + r clamped to [lo, hi], in 64 bits: r may be saturated */
static inline int8_t out8(const q8_params *p, int32_t r)
{
	int64_t v = (int64_t)p->i[Q8_YZP] + r;
	return (int8_t)(v < p->i[Q8_LO] ? p->i[Q8_LO] : v > p->i[Q8_HI] ? p->i[Q8_HI] : v);
}

static inline int32_t rq_at(const q8_params *p, int32_t x, int64_t c)
{
	const int32_t *m = p->p[Q8P_MULT], *s = p->p[Q8P_SHIFT];
	int64_t k = p->i[Q8_NRQ] > 1 ? c : 0;
	return q8_rq(x, m[k], s[k]);
}

/* weight i of W: int8, or int4 two per byte (w4, a constant where inlined) */
#define WAT(w, i) (w4 ? q8_w4(w, i) : (int32_t)(w)[i])

/* The accumulators wrap modulo 2^32, like the SIMD kernels' int32 lanes
   (and without undefined behaviour should a sum ever overflow). */
static inline __attribute__((always_inline)) void conv_i8(const q8_params *p, const void *a, void *y,
                                                          int w4)
{
	const int8_t *x = a, *w = p->p[Q8P_W];
	const int32_t *bias = p->p[Q8P_B];
	int8_t *o = y;
	int64_t H = IP(H), W = IP(W), C = IP(C), OH = IP(OH), OW = IP(OW), OC = IP(OC);
	int64_t KH = IP(KH), KW = IP(KW), G = IP(GROUPS);
	int64_t cg = C / G, og = OC / G;
	int32_t azp = p->i[Q8_AZP];
	for (int64_t n = 0; n < IP(N); n++)
		for (int64_t oh = 0; oh < OH; oh++)
			for (int64_t ow = 0; ow < OW; ow++)
				for (int64_t oc = 0; oc < OC; oc++) {
					uint32_t acc = bias ? (uint32_t)bias[oc] : 0;
					int64_t g = oc / og;
					for (int64_t kh = 0; kh < KH; kh++) {
						int64_t ih = oh * IP(SH) - IP(PT) + kh * IP(DH);
						for (int64_t kw = 0; kw < KW; kw++) {
							int64_t iw = ow * IP(SW) - IP(PL) + kw * IP(DW);
							int64_t wp = ((oc * KH + kh) * KW + kw) * cg;
							if (ih < 0 || ih >= H || iw < 0 || iw >= W) {
								/* padding reads the input zero point */
								for (int64_t c = 0; c < cg; c++)
									acc += (uint32_t)(azp * WAT(w, wp + c));
								continue;
							}
							const int8_t *xp = x + ((n * H + ih) * W + iw) * C + g * cg;
							for (int64_t c = 0; c < cg; c++)
								acc += (uint32_t)(xp[c] * WAT(w, wp + c));
						}
					}
					o[((n * OH + oh) * OW + ow) * OC + oc] = out8(p, rq_at(p, (int32_t)acc, oc));
				}
}

Q8K void q8k_conv2d_i8(const q8_params *p, const void *a, const void *b, void *y)
{
	(void)b;
	if (p->i[Q8_WBITS] == 4)
		conv_i8(p, a, y, 1);
	else
		conv_i8(p, a, y, 0);
}

static inline __attribute__((always_inline)) void dense_i8(const q8_params *p, const void *a, void *y,
                                                           int w4)
{
	const int8_t *x = a, *w = p->p[Q8P_W];
	const int32_t *bias = p->p[Q8P_B];
	int8_t *o = y;
	int64_t K = IP(C), OC = IP(OC);
	for (int64_t n = 0; n < IP(N); n++)
		for (int64_t oc = 0; oc < OC; oc++) {
			uint32_t acc = bias ? (uint32_t)bias[oc] : 0;
			for (int64_t k = 0; k < K; k++)
				acc += (uint32_t)(x[n * K + k] * WAT(w, oc * K + k));
			o[n * OC + oc] = out8(p, rq_at(p, (int32_t)acc, oc));
		}
}

Q8K void q8k_dense_i8(const q8_params *p, const void *a, const void *b, void *y)
{
	(void)b;
	if (p->i[Q8_WBITS] == 4)
		dense_i8(p, a, y, 1);
	else
		dense_i8(p, a, y, 0);
}
#undef WAT

static inline int32_t sat32(int64_t v)
{
	return v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : (int32_t)v;
}

Q8K void q8k_requant_i32(const q8_params *p, const void *a, const void *b, void *y)
{
	const int32_t *x = a;
	int8_t *o = y;
	(void)b;
	for (int64_t i = 0; i < IP(COUNT); i++)
		o[i] = out8(p, rq_at(p, sat32((int64_t)x[i] - p->i[Q8_AZP]), i % IP(C)));
}

Q8K void q8k_requant_i8(const q8_params *p, const void *a, const void *b, void *y)
{
	const int8_t *x = a;
	int8_t *o = y;
	(void)b;
	for (int64_t i = 0; i < IP(COUNT); i++)
		o[i] = out8(p, rq_at(p, x[i] - p->i[Q8_AZP], i % IP(C)));
}

/* qadd/qsub: both operands are brought to a common scale with 20 bits of
   headroom, added, then scaled to the output (ir.h). */
static inline void addsub_i8(const q8_params *p, const int8_t *x, const int8_t *z, int8_t *o, int sign)
{
	const int32_t *m = p->p[Q8P_MULT], *s = p->p[Q8P_SHIFT];
	int32_t za = p->i[Q8_AZP], zb = p->i[Q8_BZP];
	for (int64_t i = 0; i < IP(COUNT); i++) {
		int32_t u = q8_rq((x[i] - za) * (1 << 20), m[0], s[0]);
		int32_t v = q8_rq((z[bidx(p, i)] - zb) * (1 << 20), m[1], s[1]);
		o[i] = out8(p, q8_rq(sign > 0 ? u + v : u - v, m[2], s[2]));
	}
}

Q8K void q8k_add_i8(const q8_params *p, const void *a, const void *b, void *y)
{
	addsub_i8(p, a, b, y, 1);
}

Q8K void q8k_sub_i8(const q8_params *p, const void *a, const void *b, void *y)
{
	addsub_i8(p, a, b, y, -1);
}

Q8K void q8k_mul_i8(const q8_params *p, const void *a, const void *b, void *y)
{
	const int8_t *x = a, *z = b;
	const int32_t *m = p->p[Q8P_MULT], *s = p->p[Q8P_SHIFT];
	int8_t *o = y;
	int32_t za = p->i[Q8_AZP], zb = p->i[Q8_BZP];
	for (int64_t i = 0; i < IP(COUNT); i++)
		o[i] = out8(p, q8_rq((x[i] - za) * (z[bidx(p, i)] - zb), m[0], s[0]));
}

Q8K void q8k_clip_i8(const q8_params *p, const void *a, const void *b, void *y)
{
	const int8_t *x = a;
	int8_t *o = y;
	(void)b;
	for (int64_t i = 0; i < IP(COUNT); i++)
		o[i] = (int8_t)q8_clamp(x[i], p->i[Q8_LO], p->i[Q8_HI]);
}

Q8K void q8k_maxpool_i8(const q8_params *p, const void *a, const void *b, void *y)
{
	const int8_t *x = a;
	int8_t *o = y;
	(void)b;
	POOL_LOOP({
		int32_t m = -128;
		int64_t cnt = 0;
		WINDOW({ m = x[in] > m ? x[in] : m; cnt++; })
		o[at] = (int8_t)(cnt ? m : p->i[Q8_AZP]);
	})
}

/* zp + round(s / n), halves away from zero; n > 0 */
static inline int8_t avg8(int32_t zp, int64_t s, int64_t n)
{
	int64_t q = s >= 0 ? (s + n / 2) / n : -((-s + n / 2) / n);
	q += zp;
	return (int8_t)(q < -128 ? -128 : q > 127 ? 127 : q);
}

Q8K void q8k_avgpool_i8(const q8_params *p, const void *a, const void *b, void *y)
{
	const int8_t *x = a;
	int8_t *o = y;
	int32_t zp = p->i[Q8_AZP];
	(void)b;
	POOL_LOOP({
		int64_t s = 0, cnt = 0;
		WINDOW({ s += x[in] - zp; cnt++; })
		o[at] = cnt ? avg8(zp, s, cnt) : (int8_t)zp;
	})
}

Q8K void q8k_gavgpool_i8(const q8_params *p, const void *a, const void *b, void *y)
{
	const int8_t *x = a;
	int8_t *o = y;
	int64_t HW = IP(H) * IP(W), C = IP(C);
	int32_t zp = p->i[Q8_AZP];
	(void)b;
	for (int64_t n = 0; n < IP(N); n++)
		for (int64_t c = 0; c < C; c++) {
			int64_t s = 0;
			for (int64_t i = 0; i < HW; i++)
				s += x[(n * HW + i) * C + c] - zp;
			o[n * C + c] = avg8(zp, s, HW);
		}
}

Q8K void q8k_pad_i8(const q8_params *p, const void *a, const void *b, void *y)
{
	const int8_t *x = a;
	int8_t *o = y;
	(void)b;
	for (int64_t n = 0; n < IP(N); n++)
		for (int64_t oh = 0; oh < IP(OH); oh++)
			for (int64_t ow = 0; ow < IP(OW); ow++) {
				int64_t ih = oh - IP(PT), iw = ow - IP(PL);
				int8_t *d = o + ((n * IP(OH) + oh) * IP(OW) + ow) * IP(C);
				if (ih >= 0 && ih < IP(H) && iw >= 0 && iw < IP(W))
					memcpy(d, x + ((n * IP(H) + ih) * IP(W) + iw) * IP(C), (size_t)IP(C));
				else
					memset(d, (int8_t)p->i[Q8_YZP], (size_t)IP(C));
			}
}

/* any unary function of one int8 as a table (docs/numerics.md) */
Q8K void q8k_lut_i8(const q8_params *p, const void *a, const void *b, void *y)
{
	const int8_t *x = a, *t = p->p[Q8P_W];
	int8_t *o = y;
	(void)b;
	for (int64_t i = 0; i < IP(COUNT); i++)
		o[i] = t[(uint8_t)(x[i] ^ 0x80)];
}

#include "a16.h"

#undef IP
#undef POOL_LOOP
#undef WINDOW

#include "par.h"
