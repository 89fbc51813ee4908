/* The x86 int16-activation kernels (runtime/a16_simd.h through
   runtime/avx2.c and avx512.c: vpmaddwd, vpdpwssd) against a value worked
   by hand and against an int64 oracle written here on random shapes
   (pads, strides, dilations, groups, depthwise, channel counts across the
   vector widths and their tails, int8 and int16 results).  A variant the
   CPU cannot run is a cmocka skip. */
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

static bool runs(TargetKind tk)
{
	if (tk == TG_X86_64_AVX512)
		return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
		       __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
	return __builtin_cpu_supports("avx2");
}

static const struct {
	TargetKind tk;
	const char *conv, *dense;
	q8_kernel fconv, fdense;
} isas[] = {
	{ TG_X86_64_AVX2, "conv2d_a16_avx2", "dense_a16_avx2", q8k_conv2d_a16_avx2, q8k_dense_a16_avx2 },
	{ TG_X86_64_AVX512, "conv2d_a16_avx512", "dense_a16_avx512", q8k_conv2d_a16_avx512, q8k_dense_a16_avx512 },
};

/* dense, K = 40 (vectors of 16 or 32 and a tail of 8): x[k] = 1000 j + 1000,
   w[k] = j for j = k - 20 in [-20, 19]: sum = 1000 sum j^2 + 1000 sum j =
   1000 * (2870 + 2470) - 1000 * 20 = 5320000; at M = 1/256: 20781.25 -> 20781.
   With bias -5320000 + 128 and an int8 result: 128 / 256 = 0.5 -> 1. */
static void hand(int k)
{
	int16_t x[40];
	int8_t w[40];
	for (int i = 0; i < 40; i++)
		x[i] = (int16_t)(1000 * (i - 20) + 1000), w[i] = (int8_t)(i - 20);
	int32_t m[1] = {1 << 30}, s[1] = {-7}, b[1] = {0};
	q8_params q = {0};
	q.i[Q8_N] = 1, q.i[Q8_C] = 40, q.i[Q8_OC] = 1, q.i[Q8_NRQ] = 1;
	q.i[Q8_ADT] = Q8_DT_I16, q.i[Q8_YDT] = Q8_DT_I16, q.i[Q8_LO] = -32767, q.i[Q8_HI] = 32767;
	q.p[Q8P_W] = w, q.p[Q8P_B] = b, q.p[Q8P_MULT] = m, q.p[Q8P_SHIFT] = s;
	int16_t y = 0;
	isas[k].fdense(&q, x, NULL, &y);
	assert_int_equal(y, 20781);
	b[0] = -5320000 + 128;
	q.i[Q8_YDT] = Q8_DT_I8, q.i[Q8_LO] = -127, q.i[Q8_HI] = 127;
	int8_t y8 = 0;
	isas[k].fdense(&q, x, NULL, &y8);
	assert_int_equal(y8, 1);
	/* the same as a 1x1 conv over one pixel */
	q.i[Q8_H] = q.i[Q8_W] = q.i[Q8_OH] = q.i[Q8_OW] = 1;
	q.i[Q8_KH] = q.i[Q8_KW] = q.i[Q8_SH] = q.i[Q8_SW] = q.i[Q8_DH] = q.i[Q8_DW] = q.i[Q8_GROUPS] = 1;
	b[0] = 0;
	q.i[Q8_YDT] = Q8_DT_I16, q.i[Q8_LO] = -32767, q.i[Q8_HI] = 32767;
	isas[k].fconv(&q, x, NULL, &y);
	assert_int_equal(y, 20781);
}

static uint64_t rng = 0x9e3779b97f4a7c15u;
static int rnd(int lo, int hi)
{
	rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
	return lo + (int)(rng % (uint64_t)(hi - lo + 1));
}

static int32_t oracle_rq(int64_t acc, int32_t m, int32_t s)
{
	__int128 t = (__int128)acc * m + ((__int128)1 << (30 - s));
	t >>= 31 - s;
	return t > INT32_MAX ? INT32_MAX : t < INT32_MIN ? INT32_MIN : (int32_t)t;
}

static void randomized(int k)
{
	for (int it = 0; it < 150; it++) {
		int kind = it % 3, dense = kind == 2;
		int n = rnd(1, 2), h = rnd(1, 6), w = rnd(1, 6), kh = rnd(1, 3), kw = rnd(1, 3);
		int sh = rnd(1, 2), sw = rnd(1, 2), dh = rnd(1, 2), dw = rnd(1, 2);
		int pt = rnd(0, 2), pl = rnd(0, 2), pb = rnd(0, 2), pr = rnd(0, 2), G = 1, cg = rnd(1, 80), ocg = rnd(1, 8);
		if (kind == 1)
			G = rnd(2, 20), cg = 1, ocg = rnd(1, 2);
		if (dense)
			n = rnd(1, 3), h = w = kh = kw = sh = sw = dh = dw = 1, pt = pl = pb = pr = 0, cg = rnd(1, 300);
		int c = cg * G, oc = ocg * G;
		int oh = (h + pt + pb - (dh * (kh - 1) + 1)) / sh + 1, ow = (w + pl + pr - (dw * (kw - 1) + 1)) / sw + 1;
		if (oh < 1 || ow < 1)
			continue;
		int nrq = rnd(0, 1) ? oc : 1, y16 = rnd(0, 1);
		int lo = y16 ? -32767 : -127, hi = y16 ? 32767 : 127;
		int64_t nx = (int64_t)n * h * w * c, nw = (int64_t)oc * kh * kw * cg, ny = (int64_t)n * oh * ow * oc;
		int16_t *x = malloc((size_t)nx * 2), *got = malloc((size_t)ny * 2);
		int8_t *wt = malloc((size_t)nw);
		int32_t *b = malloc((size_t)oc * 4), *m = malloc((size_t)nrq * 4), *s = malloc((size_t)nrq * 4);
		for (int64_t i = 0; i < nx; i++)
			x[i] = (int16_t)(rnd(0, 9) ? rnd(-32767, 32767) : rnd(0, 1) ? 32767 : -32768);
		for (int64_t i = 0; i < nw; i++)
			wt[i] = (int8_t)rnd(-127, 127);
		for (int i = 0; i < oc; i++)
			b[i] = rnd(-100000, 100000);
		for (int i = 0; i < nrq; i++)
			m[i] = (1 << 30) + rnd(0, (1 << 30) - 1), s[i] = rnd(-24, -8);
		q8_params q = {0};
		int32_t *I = q.i;
		I[Q8_N] = n, I[Q8_H] = h, I[Q8_W] = w, I[Q8_C] = c, I[Q8_OH] = oh, I[Q8_OW] = ow, I[Q8_OC] = oc;
		I[Q8_KH] = kh, I[Q8_KW] = kw, I[Q8_SH] = sh, I[Q8_SW] = sw, I[Q8_DH] = dh, I[Q8_DW] = dw;
		I[Q8_PT] = pt, I[Q8_PL] = pl, I[Q8_PB] = pb, I[Q8_PR] = pr, I[Q8_GROUPS] = G, I[Q8_NRQ] = nrq;
		I[Q8_ADT] = Q8_DT_I16, I[Q8_YDT] = y16 ? Q8_DT_I16 : Q8_DT_I8, I[Q8_LO] = lo, I[Q8_HI] = hi;
		q.p[Q8P_W] = wt, q.p[Q8P_B] = b, q.p[Q8P_MULT] = m, q.p[Q8P_SHIFT] = s;
		/* select_kernel picks the variant for an int16 operand */
		Prog p = {0};
		Step st = {.kernel = dense ? "dense_a16" : "conv2d_a16", .p = q};
		for (int i = 0; i < Q8_NP; i++)
			st.pblob[i] = -1;
		Target tg = {.kind = isas[k].tk};
		select_kernel(&tg, &p, &st);
		assert_string_equal(st.kernel, dense ? isas[k].dense : isas[k].conv);
		(dense ? isas[k].fdense : isas[k].fconv)(&q, x, NULL, got);
		/* the oracle: int64 sums, padding reads 0 (the zero point) */
		for (int nn = 0; nn < n; nn++)
		for (int i = 0; i < oh; i++)
		for (int j = 0; j < ow; j++)
		for (int o = 0; o < oc; o++) {
			int64_t acc = b[o];
			int g = o / ocg;
			for (int u = 0; u < kh; u++)
			for (int v = 0; v < kw; v++)
			for (int ci = 0; ci < cg; ci++) {
				int ih = i * sh - pt + u * dh, iw = j * sw - pl + v * dw;
				if (ih < 0 || ih >= h || iw < 0 || iw >= w)
					continue;
				acc += (int64_t)x[(((int64_t)nn * h + ih) * w + iw) * c + g * cg + ci] *
				       wt[(((int64_t)o * kh + u) * kw + v) * cg + ci];
			}
			assert_true(acc >= INT32_MIN && acc <= INT32_MAX);
			int64_t r = oracle_rq(acc, m[nrq > 1 ? o : 0], s[nrq > 1 ? o : 0]);
			r = r < lo ? lo : r > hi ? hi : r;
			int64_t at = (((int64_t)nn * oh + i) * ow + j) * oc + o;
			int64_t v = y16 ? got[at] : ((int8_t *)got)[at];
			if (v != r)
				fail_msg("%s: y[%lld] = %lld, want %lld (c %d oc %d groups %d)", st.kernel, (long long)at,
					 (long long)v, (long long)r, c, oc, G);
		}
		free(x), free(got), free(wt), free(b), free(m), free(s);
		arena_reset();
	}
}

static void test_avx2(void **st)
{
	(void)st;
	if (!runs(TG_X86_64_AVX2))
		skip();
	hand(0);
	randomized(0);
}

static void test_avx512(void **st)
{
	(void)st;
	if (!runs(TG_X86_64_AVX512))
		skip();
	hand(1);
	randomized(1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_avx2),
		cmocka_unit_test(test_avx512),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
