/* The x86 table lookups (lut_i8 of runtime/avx2.c and runtime/avx512.c:
   vpshufb telescoping on ymm and zmm, vpermi2b with VBMI) against a
   lookup written here, y = t[x + 128], on random tables and every length
   up to a few vectors (each tail), every input byte.  The portable
   kernel of runtime/ref.c is checked the same way, and select_kernel
   must pick the variants.  A variant the CPU cannot run is a skip. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "codegen/lower.h"
#include "runtime/avx2.c"
#include "runtime/avx512.c"

static uint64_t rng = 0x853c49e6748fea9bu;
static int rnd(int lo, int hi) /* [lo, hi] */
{
	rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
	return lo + (int)(rng % (uint64_t)(hi - lo + 1));
}

enum { MAXN = 700 };

typedef void (*lut_fn)(const int8_t *x, const int8_t *t, int8_t *y, int64_t n);

static void via_kernel(q8_kernel k, const int8_t *x, const int8_t *t, int8_t *y, int64_t n)
{
	q8_params p = {0};
	p.i[Q8_COUNT] = (int32_t)n;
	p.p[Q8P_W] = t;
	k(&p, x, NULL, y);
}

/* every n in [0, MAXN) with a fresh table and input; y's bytes past n
   must stay as they were */
static void check(const char *name, q8_kernel k, lut_fn f)
{
	static int8_t t[256], x[MAXN], y[MAXN + 64];
	for (int n = 0; n < MAXN; n += n < 200 ? 1 : 37) {
		for (int i = 0; i < 256; i++)
			t[i] = (int8_t)rnd(-128, 127);
		for (int i = 0; i < n; i++)
			x[i] = (int8_t)(n >= 256 && i < 256 ? i - 128 : rnd(-128, 127)); /* all 256 bytes */
		memset(y, 0x5a, sizeof y);
		if (k)
			via_kernel(k, x, t, y, n);
		else
			f(x, t, y, n);
		for (int i = 0; i < n; i++)
			if (y[i] != t[x[i] + 128])
				fail_msg("%s: n = %d, y[%d] = %d for x = %d, expected t[%d] = %d", name, n, i, y[i],
				         x[i], x[i] + 128, t[x[i] + 128]);
		for (int i = n; i < (int)sizeof y; i++)
			if (y[i] != 0x5a)
				fail_msg("%s: n = %d wrote y[%d]", name, n, i);
	}
}

static void test_ref(void **state)
{
	(void)state;
	check("lut_i8", q8k_lut_i8, NULL);
}

static void test_avx2(void **state)
{
	(void)state;
	__builtin_cpu_init();
	if (!__builtin_cpu_supports("avx2")) {
		printf("[  SKIPPED ] avx2: this CPU has no AVX2\n");
		skip();
	}
	check("lut_i8_avx2", q8k_lut_i8_avx2, NULL);
}

static bool have_avx512(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
	       __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
}

/* the dispatching kernel and its AVX512-BW path, which runs on every
   AVX-512 CPU */
static void test_avx512(void **state)
{
	(void)state;
	if (!have_avx512()) {
		printf("[  SKIPPED ] avx512: this CPU has no AVX-512 VNNI\n");
		skip();
	}
	check("lut_i8_avx512", q8k_lut_i8_avx512, NULL);
	check("x5_lut_bw", NULL, x5_lut_bw);
}

static void test_avx512_vbmi(void **state)
{
	(void)state;
	if (!have_avx512() || !__builtin_cpu_supports("avx512vbmi")) {
		printf("[  SKIPPED ] avx512vbmi: this CPU has no AVX512-VBMI\n");
		skip();
	}
	check("x5_lut_vbmi", NULL, x5_lut_vbmi);
}

static void test_select(void **state)
{
	(void)state;
	const char *want[][2] = {
		{"x86-64", "lut_i8"}, {"x86-64-avx2", "lut_i8_avx2"}, {"x86-64-avx512", "lut_i8_avx512"},
		{"aarch64", "lut_i8_neon"}, {"aarch64-dotprod", "lut_i8_dotprod"}, {"riscv64", "lut_i8"},
		{"riscv64-v", "lut_i8_rvv"}, {"ref", "lut_i8"},
	};
	for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
		Prog p = {0};
		Step s = {.kernel = "lut_i8"};
		for (int k = 0; k < Q8_NP; k++)
			s.pblob[k] = -1;
		select_kernel(target_find(want[i][0]), &p, &s);
		assert_string_equal(s.kernel, want[i][1]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ref),
		cmocka_unit_test(test_avx2),
		cmocka_unit_test(test_avx512),
		cmocka_unit_test(test_avx512_vbmi),
		cmocka_unit_test(test_select),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
