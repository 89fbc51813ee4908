/* Fixed-point multipliers (quantize_multiplier) and the rounding rule
   q8_rq against an exact rational reference. */
#include "qtest.h"

static void qm(double m, int32_t want_mult, int32_t want_shift)
{
	int32_t mult = -1, shift = -99;
	assert_true(quantize_multiplier(m, &mult, &shift));
	if (mult != want_mult || shift != want_shift)
		fail_msg("M = %.17g: got (%d, %d), want (%d, %d)", m, mult, shift, want_mult, want_shift);
}

static void test_known(void **state)
{
	(void)state;
	/* field notes: TFLite's QuantizeMultiplier example */
	qm(0.011111111910680305, 1527099593, -6);
	/* 1.5 = 0.75 * 2^1: 0.75 * 2^31 = 1610612736 */
	qm(1.5, 1610612736, 1);
	/* powers of two: 0.5 * 2^31 = 2^30 */
	qm(1, 1 << 30, 1);
	qm(0.5, 1 << 30, 0);
	qm(0.25, 1 << 30, -1);
	qm(ldexp(1, -20), 1 << 30, -19);
	qm(ldexp(1, 29), 1 << 30, 30);
	/* just below 1: m * 2^31 rounds to 2^31, so halve it and e + 1 */
	qm(1 - ldexp(1, -40), 1 << 30, 1);
	/* zero, and below 2^-32: flushed to 0 */
	qm(0, 0, 0);
	qm(1e-12, 0, 0);
	qm(ldexp(1, -33), 0, 0);
	/* 2^-32 = 0.5 * 2^-31 is still representable */
	qm(ldexp(1, -32), 1 << 30, -31);
	int32_t m, s;
	assert_false(quantize_multiplier(ldexp(1, 30), &m, &s));
	assert_false(quantize_multiplier(1e12, &m, &s));
	assert_false(quantize_multiplier(-0.5, &m, &s));
	assert_false(quantize_multiplier(NAN, &m, &s));
}

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* floor(n / d) for d > 0, exact in 128 bits */
static __int128 floor_div(__int128 n, __int128 d)
{
	__int128 q = n / d;
	return (n % d != 0 && n < 0) ? q - 1 : q;
}

/* round(x * M) with ties toward +infinity, M = mult * 2^(shift - 31)
   exactly: floor(x * mult / 2^R + 1/2) = floor((2 x mult + 2^R) / 2^(R+1)),
   then saturated to int32. */
static int32_t exact(int32_t x, int32_t mult, int32_t shift)
{
	int r = 31 - shift;
	__int128 one = 1;
	__int128 v = floor_div(2 * (__int128)x * mult + (one << r), one << (r + 1));
	return v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : (int32_t)v;
}

static void test_rq_exact(void **state)
{
	(void)state;
	const int32_t edges[] = {0, 1, -1, 2, -2, 127, -128, 16129, -16129, INT32_MAX, INT32_MIN, 1 << 20,
				 -(1 << 20), 3, -3};
	for (int t = 0; t < 400000; t++) {
		int32_t x = t < 15 * 64 ? edges[t % 15] : (int32_t)(uint32_t)next();
		if (t % 3 == 1)
			x >>= next() % 31; /* small magnitudes too */
		int32_t mult = (int32_t)((1u << 30) + (uint32_t)(next() % (1u << 30)));
		int32_t shift = (int32_t)(next() % 62) - 31;
		if (t % 7 == 0)
			mult = 1 << 30; /* exact powers of two: ties happen */
		int32_t got = q8_rq(x, mult, shift), want = exact(x, mult, shift);
		if (got != want)
			fail_msg("q8_rq(%d, %d, %d) = %d, exact %d", x, mult, shift, got, want);
	}
	/* ties go up: 3 * 0.5 = 1.5 -> 2, -3 * 0.5 = -1.5 -> -1 */
	assert_int_equal(q8_rq(3, 1 << 30, 0), 2);
	assert_int_equal(q8_rq(-3, 1 << 30, 0), -1);
	assert_int_equal(q8_rq(-5, 1 << 30, -1), -1); /* -1.25 */
	assert_int_equal(q8_rq(-6, 1 << 30, -1), -1); /* -1.5 */
	assert_int_equal(q8_rq(INT32_MAX, INT32_MAX, 30), INT32_MAX); /* saturates */
}

/* the representation error of quantize_multiplier: |mult * 2^(shift-31) - M| <= M * 2^-31 */
static void test_multiplier_error(void **state)
{
	(void)state;
	for (int t = 0; t < 100000; t++) {
		double m = ldexp((double)(next() >> 11) / 9007199254740992.0 + 0.5, (int)(next() % 60) - 31);
		int32_t mult, shift;
		assert_true(quantize_multiplier(m, &mult, &shift));
		assert_true(mult >= 1 << 30);
		double back = ldexp(mult, shift - 31);
		if (fabs(back - m) > m * ldexp(1, -31))
			fail_msg("M = %.17g gives (%d, %d) = %.17g", m, mult, shift, back);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known),
		cmocka_unit_test(test_rq_exact),
		cmocka_unit_test(test_multiplier_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
