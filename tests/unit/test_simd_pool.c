/* The weightless SIMD kernels of runtime/avx512.c (pools and the other
   elementwise variants select_kernel swaps in) against the portable
   kernels of runtime/ref.c on many random shapes: the outputs must be
   bit-identical.  The ref kernels are checked against hand values by
   their own tests; here they are the contract the variants must match.
   A variant the CPU cannot run is reported as a skip. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>

#include "codegen/lower.h"
#include "runtime/avx512.c"

static uint64_t rng = 0x2545f4914f6cdd1du;
static int rnd(int lo, int hi) /* [lo, hi] */
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return lo + (int)(rng % (uint64_t)(hi - lo + 1));
}

static bool have_avx512(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
	       __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
}

/* a step of KERNEL with no blobs yet */
static Step new_step(const char *kernel)
{
	Step s = { .kernel = kernel };
	for (int i = 0; i < Q8_NP; i++)
		s.pblob[i] = -1;
	return s;
}

/* select_kernel must name the variant for the host target */
static const char *selected(const char *kernel)
{
	Target t = { .kind = TG_X86_64_AVX512 };
	Prog p = { 0 };
	Step s = new_step(kernel);
	select_kernel(&t, &p, &s);
	return s.kernel;
}

/* a random pool: pads up to the window size, so some windows are empty;
   wide 2: rows of W x C above the avx512 max pool's row buffer (16 KB),
   1: rows that fill it one at a time */
static void pool_case(q8_params *p, int wide)
{
	memset(p, 0, sizeof *p);
	int32_t *i = p->i;
	i[Q8_N] = rnd(1, 2);
	i[Q8_H] = rnd(1, 9);
	i[Q8_W] = rnd(1, 9);
	i[Q8_C] = rnd(0, 3) ? rnd(1, 40) : rnd(60, 150);
	if (wide)
		i[Q8_W] = wide * rnd(60, 70), i[Q8_C] = rnd(140, 150);
	i[Q8_KH] = rnd(1, 4);
	i[Q8_KW] = rnd(1, 4);
	i[Q8_SH] = rnd(1, 3);
	i[Q8_SW] = rnd(1, 3);
	i[Q8_PT] = rnd(0, i[Q8_KH]);
	i[Q8_PL] = rnd(0, i[Q8_KW]);
	i[Q8_PB] = rnd(0, i[Q8_KH]);
	i[Q8_PR] = rnd(0, i[Q8_KW]);
	int oh = (i[Q8_H] + i[Q8_PT] + i[Q8_PB] - i[Q8_KH]) / i[Q8_SH] + 1;
	int ow = (i[Q8_W] + i[Q8_PL] + i[Q8_PR] - i[Q8_KW]) / i[Q8_SW] + 1;
	i[Q8_OH] = oh < 1 ? 1 : oh;
	i[Q8_OW] = ow < 1 ? 1 : ow;
	i[Q8_OC] = i[Q8_C];
	i[Q8_AZP] = rnd(-128, 127);
	i[Q8_YZP] = i[Q8_AZP];
}

static void test_maxpool(void **state)
{
	(void)state;
	assert_string_equal(selected("maxpool_i8"), "maxpool_i8_avx512");
	if (!have_avx512()) {
		printf("[  SKIPPED ] maxpool_i8_avx512: this CPU has no AVX-512 VNNI\n");
		skip();
	}
	int empty = 0;
	for (int n = 0; n < 500; n++) {
		q8_params p;
		pool_case(&p, n % 50 == 0 ? 2 : n % 50 == 25);
		const int32_t *i = p.i;
		size_t nx = (size_t)i[Q8_N] * i[Q8_H] * i[Q8_W] * i[Q8_C];
		size_t ny = (size_t)i[Q8_N] * i[Q8_OH] * i[Q8_OW] * i[Q8_C];
		int8_t *x = malloc(nx), *want = malloc(ny + 64), *got = malloc(ny + 64);
		for (size_t k = 0; k < nx; k++)
			x[k] = (int8_t)rnd(-128, 127);
		memset(want, 0x5a, ny + 64);
		memset(got, 0x5a, ny + 64);
		q8k_maxpool_i8(&p, x, NULL, want);
		q8k_maxpool_i8_avx512(&p, x, NULL, got);
		/* the guard bytes past y must be untouched too */
		if (memcmp(want, got, ny + 64))
			fail_msg("maxpool case %d differs (h %d w %d c %d k %dx%d s %dx%d)", n, i[Q8_H],
			         i[Q8_W], i[Q8_C], i[Q8_KH], i[Q8_KW], i[Q8_SH], i[Q8_SW]);
		empty += i[Q8_PT] == i[Q8_KH] || i[Q8_PL] == i[Q8_KW];
		free(x);
		free(want);
		free(got);
	}
	assert_true(empty > 10); /* the empty-window path was exercised */
}

/* per-tensor f32 -> int8 quantize: halves (ties to even), NaN, the
   infinities, huge values, -0, all against the portable kernel */
static void test_quantize(void **state)
{
	(void)state;
	Target t = { .kind = TG_X86_64_AVX512 };
	Prog pr = { 0 };
	Step st = new_step("quantize");
	st.p.i[Q8_NQ] = 1;
	st.p.i[Q8_YDT] = Q8_DT_I8;
	select_kernel(&t, &pr, &st);
	assert_string_equal(st.kernel, "quantize_i8_avx512");
	st.kernel = "quantize";
	st.p.i[Q8_NQ] = 3;
	select_kernel(&t, &pr, &st);
	assert_string_equal(st.kernel, "quantize"); /* per axis stays portable */
	if (!have_avx512()) {
		printf("[  SKIPPED ] quantize_i8_avx512: this CPU has no AVX-512 VNNI\n");
		skip();
	}
	static const float odd[] = { 0.5f, 1.5f, 2.5f, -0.5f, -2.5f, -0.0f, 1e30f, -1e30f,
	                              126.5f, 127.5f, -128.5f, -127.5f };
	for (int n = 0; n < 300; n++) {
		q8_params p;
		memset(&p, 0, sizeof p);
		int len = rnd(1, 100);
		p.i[Q8_OUTER] = 1, p.i[Q8_LEN] = len, p.i[Q8_INNER] = 1, p.i[Q8_NQ] = 1;
		p.i[Q8_YDT] = Q8_DT_I8;
		p.i[Q8_YZP] = rnd(-128, 127);
		float sc = (float)rnd(1, 1000) / (float)rnd(1, 4000);
		p.f[Q8F_SCALE] = rnd(0, 3) ? sc : 1.0f;
		float *x = malloc((size_t)len * sizeof *x);
		for (int k = 0; k < len; k++) {
			switch (rnd(0, 5)) {
			case 0: x[k] = odd[rnd(0, 11)]; break;
			case 1: x[k] = (float)(rnd(0, 1) ? NAN : rnd(0, 1) ? INFINITY : -INFINITY); break;
			case 2: x[k] = ((float)rnd(-300, 300) + 0.5f) * p.f[Q8F_SCALE]; break;
			default: x[k] = (float)rnd(-100000, 100000) / 1000.0f; break;
			}
		}
		int8_t want[116], got[116];
		memset(want, 0x5a, sizeof want);
		memset(got, 0x5a, sizeof got);
		q8k_quantize(&p, x, NULL, want);
		q8k_quantize_i8_avx512(&p, x, NULL, got);
		for (int k = 0; k < len + 16; k++)
			if (want[k] != got[k])
				fail_msg("quantize case %d: y[%d] = %d, want %d (x %g, scale %g, zp %d)", n, k,
				         got[k], want[k], k < len ? (double)x[k] : 0.0,
				         (double)p.f[Q8F_SCALE], p.i[Q8_YZP]);
		free(x);
	}
}

/* per-tensor int8 -> f32 dequantize: s * (x - zp) rounded once, against
   that product computed here and against the portable kernel; the
   floats past the tensor stay untouched */
static void test_dequantize(void **state)
{
	(void)state;
	Target t = { .kind = TG_X86_64_AVX512 };
	Prog pr = { 0 };
	Step st = new_step("dequantize");
	st.p.i[Q8_NQ] = 1;
	st.p.i[Q8_ADT] = Q8_DT_I8;
	select_kernel(&t, &pr, &st);
	assert_string_equal(st.kernel, "dequantize_i8_avx512");
	st.kernel = "dequantize";
	st.p.i[Q8_ADT] = Q8_DT_I32;
	select_kernel(&t, &pr, &st);
	assert_string_equal(st.kernel, "dequantize"); /* int32 stays portable */
	if (!have_avx512()) {
		printf("[  SKIPPED ] dequantize_i8_avx512: this CPU has no AVX-512 VNNI\n");
		skip();
	}
	for (int n = 0; n < 300; n++) {
		q8_params p;
		memset(&p, 0, sizeof p);
		int len = rnd(1, 100);
		p.i[Q8_OUTER] = 1, p.i[Q8_LEN] = len, p.i[Q8_INNER] = 1, p.i[Q8_NQ] = 1;
		p.i[Q8_ADT] = Q8_DT_I8;
		p.i[Q8_AZP] = rnd(-128, 127);
		p.f[Q8F_SCALE] = (float)rnd(1, 1000) / (float)rnd(1, 4000);
		int8_t x[100];
		for (int k = 0; k < len; k++)
			x[k] = (int8_t)rnd(-128, 127);
		float want[116], ref[116], got[116];
		for (int k = 0; k < 116; k++)
			want[k] = ref[k] = got[k] = -7.25f;
		for (int k = 0; k < len; k++)
			want[k] = p.f[Q8F_SCALE] * (float)(x[k] - p.i[Q8_AZP]);
		q8k_dequantize(&p, x, NULL, ref);
		q8k_dequantize_i8_avx512(&p, x, NULL, got);
		if (memcmp(want, ref, sizeof want) || memcmp(want, got, sizeof want))
			fail_msg("dequantize case %d differs (len %d, scale %g, zp %d)", n, len,
			         (double)p.f[Q8F_SCALE], p.i[Q8_AZP]);
	}
}

/* a multiplier of q8_rq's range [2^30, 2^31), now and then 0 */
static int32_t rnd_mult(void)
{
	return rnd(0, 15) ? (int32_t)((1u << 30) + ((uint32_t)rnd(0, 1 << 20) << 9) + (uint32_t)rnd(0, 511)) : 0;
}

/* qadd / qsub and int8 requantize: the avx512 variants against the
   portable kernels, with the guard bytes past y untouched; broadcast
   operands and odd channel counts take the portable path inside */
static void test_elementwise(void **state)
{
	(void)state;
	assert_string_equal(selected("add_i8"), "add_i8_avx512");
	assert_string_equal(selected("sub_i8"), "sub_i8_avx512");
	assert_string_equal(selected("requant_i8"), "requant_i8_avx512");
	assert_string_equal(selected("mul_i8"), "mul_i8_avx512");
	if (!have_avx512()) {
		printf("[  SKIPPED ] add/sub/mul/requant_i8_avx512: this CPU has no AVX-512 VNNI\n");
		skip();
	}
	int wide = 0, fast = 0, slow = 0, mulc = 0, mulodd = 0;
	for (int n = 0; n < 800; n++) {
		q8_params p;
		memset(&p, 0, sizeof p);
		int C = rnd(0, 1) ? 16 * rnd(1, 8) : rnd(1, 40), count = C * rnd(1, 9);
		int32_t m[3], sh[3], mc[128], sc[128];
		p.i[Q8_COUNT] = count;
		p.i[Q8_C] = C;
		p.i[Q8_AZP] = rnd(-128, 127);
		p.i[Q8_BZP] = rnd(-128, 127);
		p.i[Q8_YZP] = rnd(-128, 127);
		p.i[Q8_LO] = rnd(0, 3) ? -128 : rnd(-128, 0);
		p.i[Q8_HI] = rnd(0, 3) ? 127 : rnd(0, 127);
		int kind = n % 4; /* add, sub, requantize, mul */
		if (kind == 3) {
			/* qmul: one multiplier, any shift; b same shape, along C, scalar */
			m[0] = rnd_mult(), sh[0] = rnd(-31, 10);
			p.i[Q8_BMODE] = rnd(0, 2);
			p.i[Q8_NRQ] = 1;
			mulc++;
			mulodd += p.i[Q8_BMODE] == 1 && C % 16; /* per pixel, the last channels masked */
		} else if (kind < 2) {
			/* operands to the common scale: shifts that keep 20 bits of
			   headroom (as fixedpoint.c makes them), the output any */
			for (int k = 0; k < 2; k++)
				m[k] = rnd_mult(), sh[k] = rnd(-8, 0);
			m[2] = rnd_mult(), sh[2] = rnd(-31, 4);
			p.i[Q8_BMODE] = rnd(0, 5) ? 0 : rnd(1, 2);
			/* x5_addsub's shift-only path: R = 31 - s in [31, 62] */
			bool f = sh[0] <= 0 && sh[1] <= 0 && sh[2] <= 0;
			fast += f && !p.i[Q8_BMODE], slow += !f && !p.i[Q8_BMODE];
			p.i[Q8_NRQ] = 1;
		} else {
			int per = rnd(0, 1);
			p.i[Q8_NRQ] = per ? C : 1;
			for (int c = 0; c < C; c++)
				mc[c] = rnd_mult(), sc[c] = rnd(-31, 8);
			wide += per && C % 16 == 0;
		}
		p.p[Q8P_MULT] = kind != 2 ? m : mc;
		p.p[Q8P_SHIFT] = kind != 2 ? sh : sc;
		int8_t *x = malloc((size_t)count), *z = malloc((size_t)count);
		int8_t *want = malloc((size_t)count + 64), *got = malloc((size_t)count + 64);
		for (int k = 0; k < count; k++)
			x[k] = (int8_t)rnd(-128, 127), z[k] = (int8_t)rnd(-128, 127);
		memset(want, 0x5a, (size_t)count + 64);
		memset(got, 0x5a, (size_t)count + 64);
		if (kind == 0) {
			q8k_add_i8(&p, x, z, want);
			q8k_add_i8_avx512(&p, x, z, got);
		} else if (kind == 1) {
			q8k_sub_i8(&p, x, z, want);
			q8k_sub_i8_avx512(&p, x, z, got);
		} else if (kind == 3) {
			q8k_mul_i8(&p, x, z, want);
			q8k_mul_i8_avx512(&p, x, z, got);
		} else {
			q8k_requant_i8(&p, x, NULL, want);
			q8k_requant_i8_avx512(&p, x, NULL, got);
		}
		if (memcmp(want, got, (size_t)count + 64))
			fail_msg("%s case %d differs (count %d, C %d, bmode %d, nrq %d)",
			         kind == 0 ? "add" : kind == 1 ? "sub" : kind == 3 ? "mul" : "requant", n, count, C,
			         p.i[Q8_BMODE], p.i[Q8_NRQ]);
		free(x);
		free(z);
		free(want);
		free(got);
	}
	assert_true(wide > 20); /* the per-channel vector path was exercised */
	assert_true(fast > 100 && slow > 20); /* both add/sub paths too */
	assert_true(mulc > 100 && mulodd > 20); /* and the vector qmul, C not a multiple of 16 too */
}

/* average pooling, windowed and global: the avx512 variants against the
   portable kernels on random pools (empty windows, clipped windows), and
   the rounding on cases worked by hand: zp 5, window [6, 7] sums to
   1 + 2 = 3 over 2, 1.5 rounds away from zero to 2: y = 7; [4, 3] sums
   to -3, -1.5 rounds to -2: y = 3 */
static void test_avgpool(void **state)
{
	(void)state;
	assert_string_equal(selected("avgpool_i8"), "avgpool_i8_avx512");
	assert_string_equal(selected("gavgpool_i8"), "gavgpool_i8_avx512");
	if (!have_avx512()) {
		printf("[  SKIPPED ] avgpool_i8_avx512, gavgpool_i8_avx512: this CPU has no AVX-512 VNNI\n");
		skip();
	}
	q8_params h;
	memset(&h, 0, sizeof h);
	h.i[Q8_N] = 1, h.i[Q8_H] = 1, h.i[Q8_W] = 2, h.i[Q8_C] = 2, h.i[Q8_OH] = 1, h.i[Q8_OW] = 1;
	h.i[Q8_OC] = 2, h.i[Q8_KH] = 1, h.i[Q8_KW] = 2, h.i[Q8_SH] = 1, h.i[Q8_SW] = 1;
	h.i[Q8_AZP] = h.i[Q8_YZP] = 5;
	int8_t hx[4] = { 6, 4, 7, 3 }, hy[2], hg[2];
	q8k_avgpool_i8_avx512(&h, hx, NULL, hy);
	q8k_gavgpool_i8_avx512(&h, hx, NULL, hg);
	assert_int_equal(hy[0], 7);
	assert_int_equal(hy[1], 3);
	assert_int_equal(hg[0], 7);
	assert_int_equal(hg[1], 3);
	for (int n = 0; n < 500; n++) {
		q8_params p;
		pool_case(&p, 0);
		const int32_t *i = p.i;
		size_t nx = (size_t)i[Q8_N] * i[Q8_H] * i[Q8_W] * i[Q8_C];
		size_t ny = (size_t)i[Q8_N] * i[Q8_OH] * i[Q8_OW] * i[Q8_C];
		size_t ng = (size_t)i[Q8_N] * i[Q8_C];
		int8_t *x = malloc(nx), *want = malloc(ny + 64), *got = malloc(ny + 64);
		for (size_t k = 0; k < nx; k++)
			x[k] = (int8_t)rnd(-128, 127);
		memset(want, 0x5a, ny + 64);
		memset(got, 0x5a, ny + 64);
		q8k_avgpool_i8(&p, x, NULL, want);
		q8k_avgpool_i8_avx512(&p, x, NULL, got);
		if (memcmp(want, got, ny + 64))
			fail_msg("avgpool case %d differs (h %d w %d c %d k %dx%d s %dx%d)", n, i[Q8_H],
			         i[Q8_W], i[Q8_C], i[Q8_KH], i[Q8_KW], i[Q8_SH], i[Q8_SW]);
		memset(want, 0x5a, ng + 64);
		memset(got, 0x5a, ng + 64);
		q8k_gavgpool_i8(&p, x, NULL, want);
		q8k_gavgpool_i8_avx512(&p, x, NULL, got);
		if (memcmp(want, got, ng + 64))
			fail_msg("gavgpool case %d differs (n %d h %d w %d c %d)", n, i[Q8_N], i[Q8_H],
			         i[Q8_W], i[Q8_C]);
		free(x);
		free(want);
		free(got);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_maxpool),
		cmocka_unit_test(test_quantize),
		cmocka_unit_test(test_dequantize),
		cmocka_unit_test(test_elementwise),
		cmocka_unit_test(test_avgpool),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
