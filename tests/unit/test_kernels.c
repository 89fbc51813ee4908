/* The reference kernels (runtime/ref.c) against independent values:
   float kernels against NumPy (tests/fixtures/gen_fixtures.py), integer
   kernels against hand arithmetic, the course's worked example and an
   exact 128-bit model of the rounding rule. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "runtime/q8rt.h"

/* ---- a small .npy reader for the fixtures (little-endian f4, C order) ---- */

typedef struct {
	int rank;
	int64_t d[8];
	int64_t n;
	float *v;
} Arr;

static Arr load(const char *name, const char *part)
{
	char path[256];
	snprintf(path, sizeof path, "fixtures/%s_%s.npy", name, part);
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s (run from tests/)", path);
	unsigned char h[10];
	assert_int_equal(fread(h, 1, 10, f), 10);
	assert_memory_equal(h, "\x93NUMPY", 6);
	size_t hl = h[8] | (size_t)h[9] << 8, skip = 10;
	if (h[6] != 1) { /* version 2: a 4-byte header length */
		unsigned char e[2];
		assert_int_equal(fread(e, 1, 2, f), 2);
		hl |= (size_t)e[0] << 16 | (size_t)e[1] << 24;
		skip = 12;
	}
	char *hdr = calloc(1, hl + 1);
	assert_int_equal(fread(hdr, 1, hl, f), hl);
	assert_non_null(strstr(hdr, "'descr': '<f4'"));
	assert_non_null(strstr(hdr, "'fortran_order': False"));
	Arr a = {0};
	a.n = 1;
	for (char *s = strchr(strstr(hdr, "'shape'"), '(') + 1; *s != ')';) {
		char *e;
		long long d = strtoll(s, &e, 10);
		if (e == s) {
			s++;
			continue;
		}
		a.d[a.rank++] = d;
		a.n *= d;
		s = e;
	}
	free(hdr);
	(void)skip;
	a.v = malloc((size_t)a.n * sizeof *a.v + 1);
	assert_int_equal(fread(a.v, sizeof *a.v, (size_t)a.n, f), (size_t)a.n);
	fclose(f);
	return a;
}

static void close_to(const float *got, const Arr *want, int64_t n)
{
	assert_int_equal(n, want->n);
	for (int64_t i = 0; i < n; i++) {
		double w = want->v[i], d = fabs(got[i] - w);
		if (!(d <= 1e-5 * fabs(w) + 1e-5))
			fail_msg("element %lld: got %.9g, want %.9g", (long long)i, got[i], w);
	}
}

static float *out_like(const Arr *a) { return calloc((size_t)a->n + 1, sizeof(float)); }

/* fixed point by hand: M = m * 2^e with m in [0.5, 1) (frexp), so
   M = round(m * 2^31) * 2^(e - 31): mult = round(m * 2^31), shift = e */
static void qm(double M, int32_t *mult, int32_t *shift)
{
	int e;
	double m = frexp(M, &e);
	int64_t q = llround(m * 2147483648.0);
	if (q == 2147483648LL)
		q /= 2, e++;
	*mult = (int32_t)q;
	*shift = e;
}

/* ---- float kernels against NumPy ---- */

static void conv_case(const char *name, int sh, int sw, int pt, int pl, int pb, int pr, int dh, int dw, int g, bool bias)
{
	Arr x = load(name, "x"), w = load(name, "w"), y = load(name, "y");
	Arr b = {0};
	if (bias)
		b = load(name, "b");
	q8_params p = {0};
	p.i[Q8_N] = (int32_t)x.d[0], p.i[Q8_H] = (int32_t)x.d[1], p.i[Q8_W] = (int32_t)x.d[2], p.i[Q8_C] = (int32_t)x.d[3];
	p.i[Q8_OH] = (int32_t)y.d[1], p.i[Q8_OW] = (int32_t)y.d[2], p.i[Q8_OC] = (int32_t)y.d[3];
	p.i[Q8_KH] = (int32_t)w.d[1], p.i[Q8_KW] = (int32_t)w.d[2];
	p.i[Q8_SH] = sh, p.i[Q8_SW] = sw, p.i[Q8_DH] = dh, p.i[Q8_DW] = dw;
	p.i[Q8_PT] = pt, p.i[Q8_PL] = pl, p.i[Q8_PB] = pb, p.i[Q8_PR] = pr, p.i[Q8_GROUPS] = g;
	p.p[Q8P_W] = w.v;
	p.p[Q8P_B] = bias ? b.v : NULL;
	float *o = out_like(&y);
	q8k_conv2d_f32(&p, x.v, NULL, o);
	close_to(o, &y, y.n);
	/* weights as the second operand (computed weights) give the same */
	memset(o, 0, (size_t)y.n * sizeof *o);
	p.p[Q8P_W] = NULL;
	q8k_conv2d_f32(&p, x.v, w.v, o);
	close_to(o, &y, y.n);
	free(o), free(x.v), free(w.v), free(y.v), free(b.v);
}

static void test_conv_groups(void **st) { (void)st; conv_case("conv_grp", 2, 1, 1, 0, 2, 1, 1, 2, 2, true); }
static void test_conv_depthwise(void **st) { (void)st; conv_case("conv_dw", 1, 1, 1, 1, 1, 1, 1, 1, 3, true); }
static void test_conv_plain(void **st) { (void)st; conv_case("conv_plain", 2, 2, 0, 0, 0, 0, 1, 1, 1, false); }

static void test_dense(void **st)
{
	(void)st;
	Arr x = load("dense", "x"), w = load("dense", "w"), b = load("dense", "b"), y = load("dense", "y");
	q8_params p = {0};
	p.i[Q8_N] = 3, p.i[Q8_C] = 7, p.i[Q8_OC] = 5;
	p.p[Q8P_W] = w.v, p.p[Q8P_B] = b.v;
	float *o = out_like(&y);
	q8k_dense_f32(&p, x.v, NULL, o);
	close_to(o, &y, y.n);
	free(o), free(x.v), free(w.v), free(b.v), free(y.v);
}

static void pool_case(const char *name, q8_kernel k, int kh, int kw, int s, int pt, int pl, int pb, int pr)
{
	Arr x = load(name, "x"), y = load(name, "y");
	q8_params p = {0};
	p.i[Q8_N] = (int32_t)x.d[0], p.i[Q8_H] = (int32_t)x.d[1], p.i[Q8_W] = (int32_t)x.d[2], p.i[Q8_C] = (int32_t)x.d[3];
	p.i[Q8_OH] = (int32_t)y.d[1], p.i[Q8_OW] = (int32_t)y.d[2], p.i[Q8_OC] = (int32_t)y.d[3];
	p.i[Q8_KH] = kh, p.i[Q8_KW] = kw, p.i[Q8_SH] = p.i[Q8_SW] = s, p.i[Q8_DH] = p.i[Q8_DW] = 1;
	p.i[Q8_PT] = pt, p.i[Q8_PL] = pl, p.i[Q8_PB] = pb, p.i[Q8_PR] = pr;
	float *o = out_like(&y);
	k(&p, x.v, NULL, o);
	close_to(o, &y, y.n);
	free(o), free(x.v), free(y.v);
}

static void test_maxpool(void **st) { (void)st; pool_case("maxpool", q8k_maxpool_f32, 3, 3, 2, 1, 1, 1, 1); }
static void test_avgpool(void **st) { (void)st; pool_case("avgpool", q8k_avgpool_f32, 2, 3, 2, 1, 0, 1, 2); }
static void test_gavgpool(void **st) { (void)st; pool_case("gavgpool", q8k_gavgpool_f32, 0, 0, 1, 0, 0, 0, 0); }

static void softmax_case(const char *name, int outer, int len, int inner)
{
	Arr x = load(name, "x"), y = load(name, "y");
	q8_params p = {0};
	p.i[Q8_OUTER] = outer, p.i[Q8_LEN] = len, p.i[Q8_INNER] = inner;
	float *o = out_like(&y);
	q8k_softmax_f32(&p, x.v, NULL, o);
	close_to(o, &y, y.n);
	free(o), free(x.v), free(y.v);
}

static void test_softmax(void **st)
{
	(void)st;
	softmax_case("softmax_mid", 2, 3, 4);
	softmax_case("softmax_last", 6, 4, 1);
	/* large inputs: without subtracting the max, expf overflows */
	float x[3] = {1000, 1001, 999}, o[3];
	q8_params p = {0};
	p.i[Q8_OUTER] = 1, p.i[Q8_LEN] = 3, p.i[Q8_INNER] = 1;
	q8k_softmax_f32(&p, x, NULL, o);
	double s = exp(-1) + 1 + exp(-2);
	assert_true(fabs(o[1] - 1 / s) < 1e-6 && fabs(o[0] - exp(-1) / s) < 1e-6 && fabs(o[2] - exp(-2) / s) < 1e-6);
}

static void test_batchnorm_affine(void **st)
{
	(void)st;
	Arr x = load("batchnorm", "x"), g = load("batchnorm", "gamma"), b = load("batchnorm", "beta");
	Arr m = load("batchnorm", "mean"), v = load("batchnorm", "var"), y = load("batchnorm", "y");
	float sc[4], sh[4];
	for (int c = 0; c < 4; c++) {
		double k = g.v[c] / sqrt((double)v.v[c] + 1e-3);
		sc[c] = (float)k;
		sh[c] = (float)(b.v[c] - m.v[c] * k);
	}
	q8_params p = {0};
	p.i[Q8_COUNT] = (int32_t)x.n, p.i[Q8_C] = 4;
	p.p[Q8P_SCALE] = sc, p.p[Q8P_ZP] = sh;
	float *o = out_like(&y);
	q8k_affine_f32(&p, x.v, NULL, o);
	close_to(o, &y, y.n);
	free(o), free(x.v), free(g.v), free(b.v), free(m.v), free(v.v), free(y.v);
}

static void test_pad(void **st)
{
	(void)st;
	Arr x = load("pad", "x"), y = load("pad", "y");
	q8_params p = {0};
	p.i[Q8_N] = 1, p.i[Q8_H] = 2, p.i[Q8_W] = 3, p.i[Q8_C] = 2;
	p.i[Q8_OH] = 3, p.i[Q8_OW] = 6, p.i[Q8_OC] = 2;
	p.i[Q8_PT] = 1, p.i[Q8_PL] = 2, p.i[Q8_PB] = 0, p.i[Q8_PR] = 1;
	p.f[Q8F_VALUE] = 1.5f;
	float *o = out_like(&y);
	q8k_pad_f32(&p, x.v, NULL, o);
	close_to(o, &y, y.n);
	free(o), free(x.v), free(y.v);
}

static void binary_case(const char *name, q8_kernel k, int mode)
{
	Arr x = load(name, "x"), b = load(name, "b"), y = load(name, "y");
	q8_params p = {0};
	p.i[Q8_COUNT] = (int32_t)x.n, p.i[Q8_BMODE] = mode, p.i[Q8_C] = (int32_t)x.d[x.rank - 1];
	float *o = out_like(&y);
	k(&p, x.v, b.v, o);
	close_to(o, &y, y.n);
	free(o), free(x.v), free(b.v), free(y.v);
}

static void test_binary(void **st)
{
	(void)st;
	binary_case("add_same", q8k_add_f32, 0);
	binary_case("sub_chan", q8k_sub_f32, 1);
	binary_case("mul_scalar", q8k_mul_f32, 2);
}

static void test_concat_copy_slice(void **st)
{
	(void)st;
	const char *part[3] = {"x", "b", "c"};
	Arr y = load("concat", "y");
	float *o = out_like(&y);
	int doff = 0;
	for (int i = 0; i < 3; i++) {
		Arr x = load("concat", part[i]);
		q8_params p = {0};
		p.i[Q8_OUTER] = 2, p.i[Q8_LEN] = (int32_t)x.d[1], p.i[Q8_INNER] = 3;
		p.i[Q8_DLEN] = 7, p.i[Q8_DOFF] = doff, p.i[Q8_ESIZE] = 4;
		q8k_copy_slice(&p, x.v, NULL, o);
		doff += (int)x.d[1];
		free(x.v);
	}
	close_to(o, &y, y.n);
	free(o), free(y.v);
}

static void test_clip_relu6(void **st)
{
	(void)st;
	Arr x = load("relu6", "x"), y = load("relu6", "y");
	q8_params p = {0};
	p.i[Q8_COUNT] = (int32_t)x.n, p.f[Q8F_MIN] = 0, p.f[Q8F_MAX] = 6;
	float *o = out_like(&y);
	q8k_clip_f32(&p, x.v, NULL, o);
	close_to(o, &y, y.n);
	p.f[Q8F_MAX] = INFINITY; /* relu */
	float big[2] = {1e30f, -3}, ob[2];
	p.i[Q8_COUNT] = 2;
	q8k_clip_f32(&p, big, NULL, ob);
	assert_true(ob[0] == 1e30f && ob[1] == 0);
	free(o), free(x.v), free(y.v);
}

/* ---- quantize / dequantize ---- */

static void test_quantize_per_axis(void **st)
{
	(void)st;
	Arr x = load("quant_axis", "x"), y = load("quant_axis", "y");
	float sc[4] = {0.02f, 0.05f, 0.1f, 0.5f};
	int32_t zp[4] = {128, 0, 3, 250};
	q8_params p = {0};
	p.i[Q8_NQ] = 4, p.i[Q8_OUTER] = 3, p.i[Q8_LEN] = 4, p.i[Q8_INNER] = 2, p.i[Q8_YDT] = Q8_DT_U8;
	p.p[Q8P_SCALE] = sc, p.p[Q8P_ZP] = zp;
	uint8_t q[24];
	q8k_quantize(&p, x.v, NULL, q);
	for (int i = 0; i < 24; i++)
		assert_int_equal(q[i], (int)y.v[i]);
	/* and back: scale * (q - zp) */
	float back[24];
	p.i[Q8_ADT] = Q8_DT_U8;
	q8k_dequantize(&p, q, NULL, back);
	for (int i = 0; i < 24; i++) {
		int l = i / 2 % 4;
		assert_true(back[i] == sc[l] * (float)(q[i] - zp[l]));
	}
	free(x.v), free(y.v);
}

static void test_quantize_ties_saturation(void **st)
{
	(void)st;
	/* scale 0.5: x / s = 2.5, 3.5, -2.5, -0.5 round half to even; then + zp 1 */
	float x[8] = {1.25f, 1.75f, -1.25f, -0.25f, 1000, -1000, NAN, 0.74f};
	int8_t want[8] = {3, 5, -1, 1, 127, -128, 1, 2};
	q8_params p = {0};
	p.i[Q8_NQ] = 1, p.i[Q8_OUTER] = 1, p.i[Q8_LEN] = 8, p.i[Q8_INNER] = 1;
	p.i[Q8_YDT] = Q8_DT_I8, p.i[Q8_YZP] = 1, p.f[Q8F_SCALE] = 0.5f;
	int8_t q[8];
	q8k_quantize(&p, x, NULL, q);
	assert_memory_equal(q, want, 8);
	/* i16 and i32 saturate at their own bounds */
	int16_t q16[2];
	float x16[2] = {20000, -1e9f};
	p.i[Q8_LEN] = 2, p.i[Q8_YDT] = Q8_DT_I16, p.i[Q8_YZP] = 0;
	q8k_quantize(&p, x16, NULL, q16);
	assert_int_equal(q16[0], 32767);
	assert_int_equal(q16[1], -32768);
	int32_t q32[2];
	float x32[2] = {3e9f, -3e9f};
	p.i[Q8_YDT] = Q8_DT_I32;
	q8k_quantize(&p, x32, NULL, q32);
	assert_int_equal(q32[0], INT32_MAX);
	assert_int_equal(q32[1], INT32_MIN);
	/* dequantize i8: 0.1f * (q - 3) */
	int8_t d[3] = {-128, 3, 127};
	float o[3];
	p.i[Q8_LEN] = 3, p.i[Q8_ADT] = Q8_DT_I8, p.i[Q8_AZP] = 3, p.f[Q8F_SCALE] = 0.1f;
	q8k_dequantize(&p, d, NULL, o);
	assert_true(o[0] == 0.1f * -131.0f && o[1] == 0 && o[2] == 0.1f * 124.0f);
}

/* ---- integer kernels ---- */

/* rq(x, m, s) = round_half_up(x * m / 2^(31 - s)), saturated, computed
   exactly in 128 bits with an explicit floor division */
static int32_t rq_exact(int32_t x, int32_t m, int32_t s)
{
	__int128 num = (__int128)x * m, d = (__int128)1 << (31 - s);
	__int128 t = num * 2 + d, dd = 2 * d; /* floor((num + d/2) / d) */
	__int128 q = t / dd;
	if (t % dd != 0 && t < 0)
		q -= 1;
	return q > INT32_MAX ? INT32_MAX : q < INT32_MIN ? INT32_MIN : (int32_t)q;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd32(void)
{
	rng_state ^= rng_state << 13, rng_state ^= rng_state >> 7, rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

static void test_rq_exact(void **st)
{
	(void)st;
	for (int i = 0; i < 200000; i++) {
		int32_t x = (int32_t)rnd32();
		if (i % 3 == 0)
			x >>= rnd32() % 31; /* small values too */
		int32_t m = (int32_t)((1u << 30) + rnd32() % (1u << 30));
		int32_t s = (int32_t)(rnd32() % 62) - 31;
		if (q8_rq(x, m, s) != rq_exact(x, m, s))
			fail_msg("rq(%d, %d, %d) = %d, exact %d", x, m, s, q8_rq(x, m, s), rq_exact(x, m, s));
	}
	/* ties go up: 3 * 0.5 = 1.5 -> 2, -3 * 0.5 = -1.5 -> -1 */
	assert_int_equal(q8_rq(3, 1 << 30, 0), 2);
	assert_int_equal(q8_rq(-3, 1 << 30, 0), -1);
	/* saturation: INT32_MAX * 2^30 * 2^(30-31+... ) with shift 30 overflows */
	assert_int_equal(q8_rq(INT32_MAX, INT32_MAX, 30), INT32_MAX);
	assert_int_equal(q8_rq(INT32_MIN, INT32_MAX, 30), INT32_MIN);
}

static q8_params int_params(int32_t *mult, int32_t *shift, int nrq)
{
	q8_params p = {0};
	p.i[Q8_LO] = -128, p.i[Q8_HI] = 127, p.i[Q8_NRQ] = nrq;
	p.p[Q8P_MULT] = mult, p.p[Q8P_SHIFT] = shift;
	return p;
}

/* The course's matrix example: A = [[-98, 14], [-17, 41]] (range [-2, 2]),
   b = [44, -65] (range [-1, 1]), A b = [-5222, -3413]; requantized to the
   range [-3, 3]: M = (2/127)(1/127)/(3/127), giving [-27, -18]. */
static void test_course_matrix(void **st)
{
	(void)st;
	int8_t A[4] = {-98, 14, -17, 41}, b[2] = {44, -65}, y[2];
	int32_t mult, shift;
	qm((2.0 / 127) * (1.0 / 127) / (3.0 / 127), &mult, &shift);
	q8_params p = int_params(&mult, &shift, 1);
	p.i[Q8_N] = 1, p.i[Q8_C] = 2, p.i[Q8_OC] = 2;
	p.p[Q8P_W] = A;
	q8k_dense_i8(&p, b, NULL, y);
	assert_int_equal(y[0], -27);
	assert_int_equal(y[1], -18);
	/* the int32 sums are exact: with bias [5322, 3363] and M = 1
	   (mult 2^30, shift 1) the results are 100 and -50 */
	int32_t bias[2] = {5222 + 100, 3413 - 50}, one = 1 << 30, s1 = 1;
	p = int_params(&one, &s1, 1);
	p.i[Q8_N] = 1, p.i[Q8_C] = 2, p.i[Q8_OC] = 2;
	p.p[Q8P_W] = A, p.p[Q8P_B] = bias;
	q8k_dense_i8(&p, b, NULL, y);
	assert_int_equal(y[0], 100);
	assert_int_equal(y[1], -50);
	/* same through conv2d_i8 as a 1x1 convolution */
	p.i[Q8_H] = p.i[Q8_W] = p.i[Q8_OH] = p.i[Q8_OW] = 1;
	p.i[Q8_KH] = p.i[Q8_KW] = p.i[Q8_SH] = p.i[Q8_SW] = p.i[Q8_DH] = p.i[Q8_DW] = p.i[Q8_GROUPS] = 1;
	q8k_conv2d_i8(&p, b, NULL, y);
	assert_int_equal(y[0], 100);
	assert_int_equal(y[1], -50);
}

/* 3x3 conv with padding 1 on a 2x2 input [[10, 20], [30, 40]], input zero
   point 7 (padding reads 7), weights 1..9: the sums by hand are
   889, 817, 673, 601; bias -745, M = 1/2 -> 72, 36, -36, -72 (+ zy 3). */
static void test_conv_i8_padding(void **st)
{
	(void)st;
	int8_t x[4] = {10, 20, 30, 40}, w[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, y[4];
	int32_t bias = -745, half = 1 << 30, s0 = 0;
	q8_params p = int_params(&half, &s0, 1);
	p.i[Q8_N] = 1, p.i[Q8_H] = 2, p.i[Q8_W] = 2, p.i[Q8_C] = 1, p.i[Q8_OH] = 2, p.i[Q8_OW] = 2, p.i[Q8_OC] = 1;
	p.i[Q8_KH] = p.i[Q8_KW] = 3, p.i[Q8_SH] = p.i[Q8_SW] = p.i[Q8_DH] = p.i[Q8_DW] = 1, p.i[Q8_GROUPS] = 1;
	p.i[Q8_PT] = p.i[Q8_PL] = p.i[Q8_PB] = p.i[Q8_PR] = 1;
	p.i[Q8_AZP] = 7, p.i[Q8_YZP] = 3;
	p.p[Q8P_W] = w, p.p[Q8P_B] = &bias;
	q8k_conv2d_i8(&p, x, NULL, y);
	int8_t want[4] = {75, 39, -33, -69};
	assert_memory_equal(y, want, 4);
	/* clamp bounds apply after the zero point */
	p.i[Q8_LO] = -40, p.i[Q8_HI] = 50;
	q8k_conv2d_i8(&p, x, NULL, y);
	int8_t want2[4] = {50, 39, -33, -40};
	assert_memory_equal(y, want2, 4);
}

/* depthwise per-channel: 2 channels, 1x2 kernel, stride 1, no padding */
static void test_conv_i8_depthwise_per_channel(void **st)
{
	(void)st;
	/* x [1,1,3,2]: channel 0 = 1,2,3; channel 1 = -1,-2,-3 */
	int8_t x[6] = {1, -1, 2, -2, 3, -3}, w[4] = {1, 1, 2, -1}, y[4];
	int32_t mult[2] = {1 << 30, 1 << 30}, shift[2] = {1, 2}; /* M = 1 and 2 */
	q8_params p = int_params(mult, shift, 2);
	p.i[Q8_N] = 1, p.i[Q8_H] = 1, p.i[Q8_W] = 3, p.i[Q8_C] = 2, p.i[Q8_OH] = 1, p.i[Q8_OW] = 2, p.i[Q8_OC] = 2;
	p.i[Q8_KH] = 1, p.i[Q8_KW] = 2, p.i[Q8_SH] = p.i[Q8_SW] = p.i[Q8_DH] = p.i[Q8_DW] = 1, p.i[Q8_GROUPS] = 2;
	p.p[Q8P_W] = w;
	q8k_conv2d_i8(&p, x, NULL, y);
	/* ch0: 1+2 = 3, 2+3 = 5; ch1 (w = 2, -1, M = 2): 2*(-2+2) = 0, 2*(-4+3) = -2 */
	int8_t want[4] = {3, 0, 5, -2};
	assert_memory_equal(y, want, 4);
}

static void test_qadd_exact_and_float(void **st)
{
	(void)st;
	/* equal scales, zero points 0: M0 = M1 = 1/2, M2 = 2^-19, so y = sat(a + b) */
	int32_t mult[3], shift[3];
	qm(0.5, &mult[0], &shift[0]);
	qm(0.5, &mult[1], &shift[1]);
	qm(1.0 / (1 << 19), &mult[2], &shift[2]);
	q8_params p = int_params(mult, shift, 3);
	p.i[Q8_COUNT] = 1;
	for (int a = -128; a < 128; a++)
		for (int b = -128; b < 128; b++) {
			int8_t x = (int8_t)a, z = (int8_t)b, y;
			q8k_add_i8(&p, &x, &z, &y);
			int s = a + b < -128 ? -128 : a + b > 127 ? 127 : a + b;
			assert_int_equal(y, s);
			q8k_sub_i8(&p, &x, &z, &y);
			s = a - b < -128 ? -128 : a - b > 127 ? 127 : a - b;
			assert_int_equal(y, s);
		}
	/* different scales: within one step of the real sum */
	double sa = 0.05, sb = 0.02, sy = 0.08, mx = 0.05;
	int za = 3, zb = -7, zy = -2;
	qm(sa / (2 * mx), &mult[0], &shift[0]);
	qm(sb / (2 * mx), &mult[1], &shift[1]);
	qm(2 * mx / (1048576.0 * sy), &mult[2], &shift[2]);
	p = int_params(mult, shift, 3);
	p.i[Q8_COUNT] = 1, p.i[Q8_AZP] = za, p.i[Q8_BZP] = zb, p.i[Q8_YZP] = zy;
	for (int a = -128; a < 128; a++)
		for (int b = -128; b < 128; b++) {
			int8_t x = (int8_t)a, z = (int8_t)b, y;
			q8k_add_i8(&p, &x, &z, &y);
			double r = zy + (sa * (a - za) + sb * (b - zb)) / sy;
			r = r < -128 ? -128 : r > 127 ? 127 : r;
			if (fabs(y - r) > 1.0)
				fail_msg("qadd(%d, %d) = %d, real %.3f", a, b, y, r);
			if (a == za && b == zb)
				assert_int_equal(y, zy);
		}
	/* broadcast along the last axis: b = [C] */
	int8_t x[4] = {1, 2, 3, 4}, z[2] = {10, 20}, y[4];
	qm(0.5, &mult[0], &shift[0]);
	qm(0.5, &mult[1], &shift[1]);
	qm(1.0 / (1 << 19), &mult[2], &shift[2]);
	p = int_params(mult, shift, 3);
	p.i[Q8_COUNT] = 4, p.i[Q8_BMODE] = 1, p.i[Q8_C] = 2;
	q8k_add_i8(&p, x, z, y);
	int8_t want[4] = {11, 22, 13, 24};
	assert_memory_equal(y, want, 4);
}

static void test_qmul(void **st)
{
	(void)st;
	/* (a - 2) * (b + 1) * M with M = 1/4, zy = 5, b a scalar */
	int8_t x[3] = {2, 10, -20}, z = 3, y[3];
	int32_t m = 1 << 30, s = -1;
	q8_params p = int_params(&m, &s, 1);
	p.i[Q8_COUNT] = 3, p.i[Q8_BMODE] = 2, p.i[Q8_AZP] = 2, p.i[Q8_BZP] = -1, p.i[Q8_YZP] = 5;
	q8k_mul_i8(&p, x, &z, y);
	/* 0 -> 5; 8*4/4 = 8 -> 13; -22*4/4 = -22 -> -17 */
	int8_t want[3] = {5, 13, -17};
	assert_memory_equal(y, want, 3);
}

static void test_requant(void **st)
{
	(void)st;
	/* per channel over C = 2: M = 1/2 and 3/4; x zero point 4 (i8) */
	int8_t x[4] = {10, 12, -3, 100}, y[4];
	int32_t mult[2], shift[2];
	qm(0.5, &mult[0], &shift[0]);
	qm(0.75, &mult[1], &shift[1]);
	q8_params p = int_params(mult, shift, 2);
	p.i[Q8_COUNT] = 4, p.i[Q8_C] = 2, p.i[Q8_AZP] = 4, p.i[Q8_YZP] = -1;
	q8k_requant_i8(&p, x, NULL, y);
	/* 6/2 = 3 -> 2; 8*3/4 = 6 -> 5; -7/2 = -3.5 -> -3 (ties up) -> -4; 96*3/4 = 72 -> 71 */
	int8_t want[4] = {2, 5, -4, 71};
	assert_memory_equal(y, want, 4);
	/* i32 accumulators, zero point 0, saturating to int8 */
	int32_t acc[4] = {1000, -1000, 7, INT32_MIN};
	p.i[Q8_AZP] = 0, p.i[Q8_YZP] = 0;
	q8k_requant_i32(&p, acc, NULL, y);
	int8_t want2[4] = {127, -128, 4, -128}; /* 7/2 = 3.5 -> 4 */
	assert_memory_equal(y, want2, 4);
}

static void test_clip_i8(void **st)
{
	(void)st;
	int8_t x[4] = {-128, -5, 20, 127}, y[4];
	q8_params p = {0};
	p.i[Q8_COUNT] = 4, p.i[Q8_LO] = -3, p.i[Q8_HI] = 10;
	q8k_clip_i8(&p, x, NULL, y);
	int8_t want[4] = {-3, -3, 10, 10};
	assert_memory_equal(y, want, 4);
}

static q8_params pool_params(int h, int w, int c, int oh, int ow, int kh, int kw, int s)
{
	q8_params p = {0};
	p.i[Q8_N] = 1, p.i[Q8_H] = h, p.i[Q8_W] = w, p.i[Q8_C] = c, p.i[Q8_OH] = oh, p.i[Q8_OW] = ow, p.i[Q8_OC] = c;
	p.i[Q8_KH] = kh, p.i[Q8_KW] = kw, p.i[Q8_SH] = p.i[Q8_SW] = s, p.i[Q8_DH] = p.i[Q8_DW] = 1;
	return p;
}

/* averages round half away from zero: -3/2 -> -2, 3/2 -> 2, 5/4 -> 1 */
static void test_avgpool_i8_rounding(void **st)
{
	(void)st;
	int8_t x[2] = {-1, -2}, y;
	q8_params p = pool_params(1, 2, 1, 1, 1, 1, 2, 2);
	q8k_avgpool_i8(&p, x, NULL, &y);
	assert_int_equal(y, -2);
	x[0] = 1, x[1] = 2;
	q8k_avgpool_i8(&p, x, NULL, &y);
	assert_int_equal(y, 2);
	int8_t x4[4] = {1, 1, 1, 2};
	p = pool_params(1, 4, 1, 1, 1, 1, 4, 4);
	q8k_avgpool_i8(&p, x4, NULL, &y);
	assert_int_equal(y, 1);
	/* with zero point 10: values 9, 8 are -1, -2 -> -1.5 -> -2 -> 8 */
	int8_t xz[2] = {9, 8};
	p = pool_params(1, 2, 1, 1, 1, 1, 2, 2);
	p.i[Q8_AZP] = 10;
	q8k_avgpool_i8(&p, xz, NULL, &y);
	assert_int_equal(y, 8);
	/* global average: -3 over 2 */
	int8_t g[2] = {-1, -2};
	p = pool_params(1, 2, 1, 1, 1, 0, 0, 1);
	q8k_gavgpool_i8(&p, g, NULL, &y);
	assert_int_equal(y, -2);
	/* padding is excluded from the count: a 2x2 window at the corner of a
	   1x1 input padded by 1 sees only the one value */
	int8_t one = 7;
	p = pool_params(1, 1, 1, 1, 1, 2, 2, 1);
	p.i[Q8_PT] = p.i[Q8_PL] = 1;
	q8k_avgpool_i8(&p, &one, NULL, &y);
	assert_int_equal(y, 7);
}

static void test_maxpool_i8_padding(void **st)
{
	(void)st;
	/* all values below the zero point: padded positions must not win */
	int8_t x[4] = {-50, -60, -70, -80}, y[4];
	q8_params p = pool_params(2, 2, 1, 2, 2, 2, 2, 1);
	p.i[Q8_PT] = p.i[Q8_PL] = 1;
	q8k_maxpool_i8(&p, x, NULL, y);
	/* windows: {-50}, {-50,-60}, {-50,-70}, {all} */
	int8_t want[4] = {-50, -50, -50, -50};
	assert_memory_equal(y, want, 4);
	p.i[Q8_PT] = p.i[Q8_PL] = 0, p.i[Q8_PB] = p.i[Q8_PR] = 1;
	q8k_maxpool_i8(&p, x, NULL, y);
	int8_t want2[4] = {-50, -60, -70, -80};
	assert_memory_equal(y, want2, 4);
}

static void test_pad_i8(void **st)
{
	(void)st;
	int8_t x[2] = {1, 2}, y[6];
	q8_params p = {0};
	p.i[Q8_N] = 1, p.i[Q8_H] = 1, p.i[Q8_W] = 2, p.i[Q8_C] = 1, p.i[Q8_OH] = 2, p.i[Q8_OW] = 3, p.i[Q8_OC] = 1;
	p.i[Q8_PT] = 1, p.i[Q8_PL] = 0, p.i[Q8_PB] = 0, p.i[Q8_PR] = 1, p.i[Q8_YZP] = -9;
	q8k_pad_i8(&p, x, NULL, y);
	int8_t want[6] = {-9, -9, -9, 1, 2, -9};
	assert_memory_equal(y, want, 6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conv_groups),
		cmocka_unit_test(test_conv_depthwise),
		cmocka_unit_test(test_conv_plain),
		cmocka_unit_test(test_dense),
		cmocka_unit_test(test_maxpool),
		cmocka_unit_test(test_avgpool),
		cmocka_unit_test(test_gavgpool),
		cmocka_unit_test(test_softmax),
		cmocka_unit_test(test_batchnorm_affine),
		cmocka_unit_test(test_pad),
		cmocka_unit_test(test_binary),
		cmocka_unit_test(test_concat_copy_slice),
		cmocka_unit_test(test_clip_relu6),
		cmocka_unit_test(test_quantize_per_axis),
		cmocka_unit_test(test_quantize_ties_saturation),
		cmocka_unit_test(test_rq_exact),
		cmocka_unit_test(test_course_matrix),
		cmocka_unit_test(test_conv_i8_padding),
		cmocka_unit_test(test_conv_i8_depthwise_per_channel),
		cmocka_unit_test(test_qadd_exact_and_float),
		cmocka_unit_test(test_qmul),
		cmocka_unit_test(test_requant),
		cmocka_unit_test(test_clip_i8),
		cmocka_unit_test(test_avgpool_i8_rounding),
		cmocka_unit_test(test_maxpool_i8_padding),
		cmocka_unit_test(test_pad_i8),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
