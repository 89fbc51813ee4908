/* int4 weights held two per byte (q8rt.h's q8_w4, codegen/select.c,
   runtime/w4.h): the packed bytes and the kernels' outputs of small
   cases worked by hand, through the portable kernels and the avx2 and
   avx512 variants (skipped, visibly, on a CPU without them). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "codegen/lower.h"
#include "runtime/avx2.c"
#include "runtime/avx512.c"

static int blob(Prog *p, Dtype dt, int64_t n, const void *data)
{
	Blob *b = &PUSH(p->blobs, p->nblobs);
	b->name = fmt("c%d", p->nblobs);
	b->dt = dt, b->n = n, b->data = data;
	return p->nblobs - 1;
}

static bool has_avx2(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2");
}

static bool has_avx512(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
	       __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
}

/* Weights [-7, 3, 0, 7, -1], element 2i in the low nibble of byte i,
   two's complement: -7 = 0x9, 3 = 0x3 -> 0x39; 0, 7 -> 0x70; -1 = 0xF and
   nothing -> 0x0F. */
static const int8_t w5[5] = { -7, 3, 0, 7, -1 };
static const uint8_t w5_packed[3] = { 0x39, 0x70, 0x0f };

static void test_read(void **state)
{
	(void)state;
	for (int i = 0; i < 5; i++)
		assert_int_equal(q8_w4((const int8_t *)w5_packed, i), w5[i]);
	/* the ends of the range: 0x78 holds -8 (low nibble 8), then 7 */
	const uint8_t ends[1] = { 0x78 };
	assert_int_equal(q8_w4((const int8_t *)ends, 0), -8);
	assert_int_equal(q8_w4((const int8_t *)ends, 1), 7);
}

/* dense_i8, 1 output x 5 inputs, on the portable target: select.c packs
   the weights into those 3 bytes and sets WBITS / WNUM.  x = [1, 2, 3,
   4, 5]: acc = bias 4 - 7 + 6 + 0 + 28 - 5 = 26; M = 1/2 (m = 2^30,
   s = 0): rq = 13; y = yzp -3 + 13 = 10. */
static void test_dense_hand(void **state)
{
	(void)state;
	int32_t b[1] = { 4 }, m[1] = { 1 << 30 }, s[1] = { 0 };
	int8_t x[5] = { 1, 2, 3, 4, 5 }, y[1] = { 0 };
	Target t = targets[TG_X86_64];
	Prog p = { 0 };
	Step st = { .kernel = "dense_i8" };
	for (int i = 0; i < Q8_NP; i++)
		st.pblob[i] = -1;
	st.p.i[Q8_N] = 1, st.p.i[Q8_C] = 5, st.p.i[Q8_OC] = 1, st.p.i[Q8_NRQ] = 1;
	st.p.i[Q8_YZP] = -3, st.p.i[Q8_LO] = -128, st.p.i[Q8_HI] = 127;
	st.pblob[Q8P_W] = blob(&p, DT_I8, 5, w5);
	st.pblob[Q8P_B] = blob(&p, DT_I32, 1, b);
	st.pblob[Q8P_MULT] = blob(&p, DT_I32, 1, m);
	st.pblob[Q8P_SHIFT] = blob(&p, DT_I32, 1, s);
	p.weight_bytes = 5;
	select_kernel(&t, &p, &st);
	assert_string_equal(st.kernel, "dense_i8");
	assert_int_equal(st.p.i[Q8_WBITS], 4);
	assert_int_equal(st.p.i[Q8_WNUM], 5);
	const Blob *wb = &p.blobs[st.pblob[Q8P_W]];
	assert_int_equal(wb->n, 3);
	assert_memory_equal(wb->data, w5_packed, 3);
	assert_int_equal(p.weight_bytes, 3);
	for (int i = 0; i < Q8_NP; i++)
		st.p.p[i] = st.pblob[i] < 0 ? NULL : p.blobs[st.pblob[i]].data;
	q8k_dense_i8(&st.p, x, NULL, y);
	assert_int_equal(y[0], 10);
	arena_reset();
}

/* A weight of 8 (or -9) does not fit 4 bits: one per byte as before. */
static void test_not_int4(void **state)
{
	(void)state;
	static const int8_t w[3] = { 1, 8, -8 };
	int32_t m[1] = { 1 << 30 }, s[1] = { 0 };
	Prog p = { 0 };
	Step st = { .kernel = "dense_i8" };
	for (int i = 0; i < Q8_NP; i++)
		st.pblob[i] = -1;
	st.p.i[Q8_N] = 1, st.p.i[Q8_C] = 3, st.p.i[Q8_OC] = 1, st.p.i[Q8_NRQ] = 1;
	st.pblob[Q8P_W] = blob(&p, DT_I8, 3, w);
	st.pblob[Q8P_MULT] = blob(&p, DT_I32, 1, m);
	st.pblob[Q8P_SHIFT] = blob(&p, DT_I32, 1, s);
	select_kernel(NULL, &p, &st);
	assert_int_equal(st.p.i[Q8_WBITS], 0);
	assert_int_equal(st.pblob[Q8P_W], 0);
	arena_reset();
}

/* The unpacks from every element offset and count (odd starts, tails
   shorter than a vector), to int8 and int16, against q8_w4; and the hand
   bytes above from element 1: [3, 0, 7, -1]. */
static void test_unpack(void **state)
{
	(void)state;
	uint8_t src[80];
	for (int i = 0; i < 80; i++)
		src[i] = (uint8_t)(i * 37 + 11);
	q8_unpack_fn *fns[3] = { q8_unpack4_c, has_avx2() ? q8_unpack4_avx2 : NULL,
	                         has_avx512() ? q8_unpack4_avx512 : NULL };
	if (!fns[1] || !fns[2])
		printf("[  SKIPPED ] the avx2 / avx512 unpacks: not on this CPU\n");
	for (int f = 0; f < 3; f++) {
		if (!fns[f])
			continue;
		int8_t d8[160];
		int16_t d16[160];
		fns[f](d8, (const int8_t *)w5_packed, 1, 4, 1);
		assert_int_equal(d8[0], 3), assert_int_equal(d8[1], 0);
		assert_int_equal(d8[2], 7), assert_int_equal(d8[3], -1);
		for (int first = 0; first < 5; first++)
			for (int n = 0; n + first <= 160; n += 1 + n / 8) {
				memset(d8, 0x55, sizeof d8);
				memset(d16, 0x55, sizeof d16);
				fns[f](d8, (const int8_t *)src, first, n, 1);
				fns[f](d16, (const int8_t *)src, first, n, 2);
				for (int i = 0; i < n; i++) {
					assert_int_equal(d8[i], q8_w4((const int8_t *)src, first + i));
					assert_int_equal(d16[i], q8_w4((const int8_t *)src, first + i));
				}
				if (n < 160)
					assert_int_equal(d8[n], 0x55); /* nothing past n */
			}
	}
}

/* conv2d_i8, a 2x2 input of 1 channel, a 2x2 window, no pad, 2 outputs:
   x = [1, 2, 3, 4]; oc0 w = [1, -1, 2, -2], bias 10: acc = 10 + 1 - 2 +
   6 - 8 = 7; oc1 w = [7, 7, -7, 0], bias 5: acc = 5 + 7 + 14 - 21 = 5.
   m = 2^30, s = 1 is M = 1: y = [7, 5].  With a pad of 1 all round
   (3x3 outputs) and azp = -1, output (0, 0) sees x[0] = 1 at tap (1, 1)
   only: oc0 10 + 1 * -2 + (-1) * (1 - 1 + 2) = 6; oc1 5 + 1 * 0 +
   (-1) * (7 + 7 - 7) = -2.
   Packed portably: [1, -1, 2, -2, 7, 7, -7, 0] -> F1 E2 77 09. */
static void conv_case(TargetKind tk, const char *want, q8_kernel fn, int pad)
{
	static const int8_t w[8] = { 1, -1, 2, -2, 7, 7, -7, 0 };
	static const uint8_t packed[4] = { 0xf1, 0xe2, 0x77, 0x09 };
	int32_t b[2] = { 10, 5 }, m[1] = { 1 << 30 }, s[1] = { 1 };
	int8_t x[4] = { 1, 2, 3, 4 }, y[18];
	Target t = targets[tk];
	Prog p = { 0 };
	Step st = { .kernel = "conv2d_i8" };
	for (int i = 0; i < Q8_NP; i++)
		st.pblob[i] = -1;
	int32_t *ip = st.p.i;
	int o = 1 + 2 * pad;
	ip[Q8_N] = 1, ip[Q8_H] = ip[Q8_W] = 2, ip[Q8_C] = 1, ip[Q8_OH] = ip[Q8_OW] = o, ip[Q8_OC] = 2;
	ip[Q8_KH] = ip[Q8_KW] = 2, ip[Q8_SH] = ip[Q8_SW] = ip[Q8_DH] = ip[Q8_DW] = 1;
	ip[Q8_PT] = ip[Q8_PL] = ip[Q8_PB] = ip[Q8_PR] = pad;
	ip[Q8_GROUPS] = 1, ip[Q8_AZP] = -1, ip[Q8_LO] = -128, ip[Q8_HI] = 127, ip[Q8_NRQ] = 1;
	st.pblob[Q8P_W] = blob(&p, DT_I8, 8, w);
	st.pblob[Q8P_B] = blob(&p, DT_I32, 2, b);
	st.pblob[Q8P_MULT] = blob(&p, DT_I32, 1, m);
	st.pblob[Q8P_SHIFT] = blob(&p, DT_I32, 1, s);
	select_kernel(&t, &p, &st);
	assert_string_equal(st.kernel, want);
	assert_int_equal(st.p.i[Q8_WBITS], 4);
	const Blob *wb = &p.blobs[st.pblob[Q8P_W]];
	if (tk == TG_X86_64)
		assert_memory_equal(wb->data, packed, 4);
	/* whatever the layout: half the elements, rounded up */
	assert_int_equal(wb->n, (st.p.i[Q8_WNUM] + 1) / 2);
	for (int i = 0; i < Q8_NP; i++)
		st.p.p[i] = st.pblob[i] < 0 ? NULL : p.blobs[st.pblob[i]].data;
	memset(y, 0x55, sizeof y);
	fn(&st.p, x, NULL, y);
	if (pad) {
		assert_int_equal(y[0], 6), assert_int_equal(y[1], -2);
		/* the centre output (1, 1) is the unpadded window */
		assert_int_equal(y[8], 7), assert_int_equal(y[9], 5);
	} else {
		assert_int_equal(y[0], 7), assert_int_equal(y[1], 5);
	}
	arena_reset();
}

static void test_conv_hand(void **state)
{
	(void)state;
	for (int pad = 0; pad < 2; pad++) {
		conv_case(TG_X86_64, "conv2d_i8", q8k_conv2d_i8, pad);
		if (has_avx2())
			conv_case(TG_X86_64_AVX2, "conv2d_i8_avx2_w4", q8k_conv2d_i8_avx2_w4, pad);
		/* C = 1: avx512 takes the window as the reduction (im2col) */
		if (has_avx512())
			conv_case(TG_X86_64_AVX512, "conv2d_i8_im2col_avx512_w4", q8k_conv2d_i8_im2col_avx512_w4, pad);
	}
	if (!has_avx2() || !has_avx512())
		printf("[  SKIPPED ] the avx2 / avx512 conv: not on this CPU\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read),
		cmocka_unit_test(test_dense_hand),
		cmocka_unit_test(test_not_int4),
		cmocka_unit_test(test_unpack),
		cmocka_unit_test(test_conv_hand),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
