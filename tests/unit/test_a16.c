/* int16 activations (a16w8, docs/precision.md): the kernels of
   runtime/a16.h against hand arithmetic, the quantize pass's int16
   types, clamps and inserted requantizes, and the accumulator bound with
   int16 inputs (one layer just under 2^31, one just over). */
#include "qtest.h"

#include <stdlib.h>

static q8_params params(void)
{
	q8_params p;
	memset(&p, 0, sizeof p);
	p.i[Q8_N] = p.i[Q8_H] = p.i[Q8_W] = 1;
	p.i[Q8_KH] = p.i[Q8_KW] = p.i[Q8_SH] = p.i[Q8_SW] = p.i[Q8_DH] = p.i[Q8_DW] = 1;
	p.i[Q8_GROUPS] = 1;
	p.i[Q8_NRQ] = 1;
	return p;
}

/* M = mult * 2^(shift - 31): 2^30 with shift s is 2^(s - 1) */
static int32_t m30[1] = {1 << 30};

/* int16 -> int8 at M = 1/256 (shift -7): ties toward +infinity, the clamp
   [-127, 127]: 384/256 = 1.5 -> 2, -1.5 -> -1, 0.5 -> 1, -129/256 =
   -0.504 -> -1, 32767/256 = 127.996 -> 128 -> 127, -32767/256 -> -128 -> -127. */
static void test_requant_16_to_8(void **st)
{
	(void)st;
	q8_params p = params();
	int32_t sh[1] = {-7};
	p.p[Q8P_MULT] = m30, p.p[Q8P_SHIFT] = sh;
	p.i[Q8_COUNT] = 6, p.i[Q8_C] = 6;
	p.i[Q8_ADT] = Q8_DT_I16, p.i[Q8_YDT] = Q8_DT_I8;
	p.i[Q8_LO] = -127, p.i[Q8_HI] = 127;
	const int16_t x[6] = {384, -384, 128, -129, 32767, -32767};
	int8_t y[6];
	q8k_requant_a16(&p, x, NULL, y);
	const int8_t want[6] = {2, -1, 1, -1, 127, -127};
	assert_memory_equal(y, want, sizeof want);
}

/* int8 -> int16 at M = 2.5 (0.625 * 2^2: mult 0.625 * 2^31, shift 2), and
   int32 -> int16 at M = 1/2 with the clamp [-32767, 32767]:
   -127 * 2.5 = -317.5 -> -317, 3 * 2.5 = 7.5 -> 8, 127 * 2.5 = 317.5 -> 318;
   100000 / 2 = 50000 -> 32767, -65535 / 2 = -32767.5 -> -32767 (the tie up),
   -70001 / 2 = -35000.5 -> -35000 -> -32767; with AZP 1 subtracted first. */
static void test_requant_to_16(void **st)
{
	(void)st;
	q8_params p = params();
	int32_t m[1] = {1342177280}, sh[1] = {2};
	p.p[Q8P_MULT] = m, p.p[Q8P_SHIFT] = sh;
	p.i[Q8_COUNT] = 3, p.i[Q8_C] = 3;
	p.i[Q8_ADT] = Q8_DT_I8, p.i[Q8_YDT] = Q8_DT_I16;
	p.i[Q8_LO] = -32767, p.i[Q8_HI] = 32767;
	const int8_t x8[3] = {-127, 3, 127};
	int16_t y[3];
	q8k_requant_a16(&p, x8, NULL, y);
	assert_int_equal(y[0], -317);
	assert_int_equal(y[1], 8);
	assert_int_equal(y[2], 318);

	int32_t sh0[1] = {0};
	p.p[Q8P_SHIFT] = sh0;
	p.i[Q8_ADT] = Q8_DT_I32;
	p.i[Q8_AZP] = 1;
	const int32_t x32[3] = {100001, -65534, -70000};
	q8k_requant_a16(&p, x32, NULL, y);
	assert_int_equal(y[0], 32767);
	assert_int_equal(y[1], -32767);
	assert_int_equal(y[2], -32767);
}

/* conv2d_a16: x int16 [1, 2, 2, 2], w int8 [1, 2, 2, 2], bias 11, pads 1
   on every side, so y is [1, 3, 3, 1].  The centre output sees the whole
   window: 1000*3 + (-2000)(-1) + 30000*2 + 5*127 + (-32767)(-1) + 7*0 +
   100*5 + 200*(-5) = 97902, + 11 = 97913.  The corner (0, 0) sees x(0, 0)
   at tap (1, 1) only: 11 + 1000*5 + (-2000)(-5) = 15011.
   int16 result at M = 1/4: 24478.25 -> 24478, 3752.75 -> 3753;
   int8 result at M = 1/1024: 95.62 -> 96, 14.66 -> 15. */
static void test_conv_a16(void **st)
{
	(void)st;
	const int16_t x[8] = {1000, -2000, 30000, 5, -32767, 7, 100, 200};
	const int8_t w[8] = {3, -1, 2, 127, -1, 0, 5, -5};
	const int32_t b[1] = {11};
	q8_params p = params();
	p.i[Q8_H] = p.i[Q8_W] = 2, p.i[Q8_C] = 2;
	p.i[Q8_OH] = p.i[Q8_OW] = 3, p.i[Q8_OC] = 1;
	p.i[Q8_KH] = p.i[Q8_KW] = 2;
	p.i[Q8_PT] = p.i[Q8_PL] = p.i[Q8_PB] = p.i[Q8_PR] = 1;
	int32_t sh[1] = {-1};
	p.p[Q8P_W] = w, p.p[Q8P_B] = b, p.p[Q8P_MULT] = m30, p.p[Q8P_SHIFT] = sh;
	p.i[Q8_ADT] = Q8_DT_I16, p.i[Q8_YDT] = Q8_DT_I16;
	p.i[Q8_LO] = -32767, p.i[Q8_HI] = 32767;
	int16_t y[9];
	q8k_conv2d_a16(&p, x, NULL, y);
	assert_int_equal(y[4], 24478);
	assert_int_equal(y[0], 3753);

	int8_t y8[9];
	int32_t sh8[1] = {-9};
	p.p[Q8P_SHIFT] = sh8;
	p.i[Q8_YDT] = Q8_DT_I8;
	p.i[Q8_LO] = -127, p.i[Q8_HI] = 127;
	q8k_conv2d_a16(&p, x, NULL, y8);
	assert_int_equal(y8[4], 96);
	assert_int_equal(y8[0], 15);
}

/* Depthwise (GROUPS == C == 2), 1x1, per-channel multipliers:
   30000 * (-127) + 0 = -3810000, / 256 = -14882.8 -> -14883;
   -30000 * 100 + 5 = -2999995, / 512 = -5859.36 -> -5859. */
static void test_conv_a16_depthwise(void **st)
{
	(void)st;
	const int16_t x[2] = {30000, -30000};
	const int8_t w[2] = {-127, 100};
	const int32_t b[2] = {0, 5};
	int32_t m[2] = {1 << 30, 1 << 30}, sh[2] = {-7, -8};
	q8_params p = params();
	p.i[Q8_C] = 2, p.i[Q8_OH] = p.i[Q8_OW] = 1, p.i[Q8_OC] = 2, p.i[Q8_GROUPS] = 2;
	p.i[Q8_NRQ] = 2;
	p.p[Q8P_W] = w, p.p[Q8P_B] = b, p.p[Q8P_MULT] = m, p.p[Q8P_SHIFT] = sh;
	p.i[Q8_ADT] = Q8_DT_I16, p.i[Q8_YDT] = Q8_DT_I16;
	p.i[Q8_LO] = -32767, p.i[Q8_HI] = 32767;
	int16_t y[2];
	q8k_conv2d_a16(&p, x, NULL, y);
	assert_int_equal(y[0], -14883);
	assert_int_equal(y[1], -5859);
}

/* dense_a16: x = [32767, -32767, 1], w = [[127, 127, 0], [1, 2, 3]],
   b = [5, -5] at M = 1 (shift 1): 5 -> 5; 32767 - 65534 + 3 - 5 = -32769
   -> clamp -32767.  An int8 operand with an int16 result (ADT i8):
   x = [127, -127, 1]: 127*127 - 127*127 + 5 = 5; 127 - 254 + 3 - 5 = -129. */
static void test_dense_a16(void **st)
{
	(void)st;
	const int16_t x[3] = {32767, -32767, 1};
	const int8_t w[6] = {127, 127, 0, 1, 2, 3};
	const int32_t b[2] = {5, -5};
	int32_t sh[1] = {1};
	q8_params p = params();
	p.i[Q8_C] = 3, p.i[Q8_OC] = 2;
	p.p[Q8P_W] = w, p.p[Q8P_B] = b, p.p[Q8P_MULT] = m30, p.p[Q8P_SHIFT] = sh;
	p.i[Q8_ADT] = Q8_DT_I16, p.i[Q8_YDT] = Q8_DT_I16;
	p.i[Q8_LO] = -32767, p.i[Q8_HI] = 32767;
	int16_t y[2];
	q8k_dense_a16(&p, x, NULL, y);
	assert_int_equal(y[0], 5);
	assert_int_equal(y[1], -32767);

	const int8_t x8[3] = {127, -127, 1};
	p.i[Q8_ADT] = Q8_DT_I8;
	q8k_dense_a16(&p, x8, NULL, y);
	assert_int_equal(y[0], 5);
	assert_int_equal(y[1], -129);
}

static void test_clip_i16(void **st)
{
	(void)st;
	q8_params p = params();
	p.i[Q8_COUNT] = 4, p.i[Q8_LO] = 0, p.i[Q8_HI] = 255;
	const int16_t x[4] = {-32768, -5, 300, 100};
	int16_t y[4];
	q8k_clip_i16(&p, x, NULL, y);
	const int16_t want[4] = {0, 0, 255, 100};
	assert_memory_equal(y, want, sizeof want);
}

/* maxpool_i16, 2x2 windows, stride 1, top/left padding 1 over x [1, 2, 2, 1] =
   [-30000, 5; 32767, -1]: y is [1, 2, 2, 1]; y(0, 0) sees x(0, 0) alone
   (padding never wins): -30000; y(0, 1) sees row 0: 5; y(1, 0) column 0:
   32767; y(1, 1) everything: 32767. */
static void test_maxpool_i16(void **st)
{
	(void)st;
	q8_params p = params();
	p.i[Q8_H] = p.i[Q8_W] = 2, p.i[Q8_C] = 1, p.i[Q8_OH] = p.i[Q8_OW] = 2;
	p.i[Q8_KH] = p.i[Q8_KW] = 2, p.i[Q8_PT] = p.i[Q8_PL] = 1;
	const int16_t x[4] = {-30000, 5, 32767, -1};
	int16_t y[4];
	q8k_maxpool_i16(&p, x, NULL, y);
	const int16_t want[4] = {-30000, 5, 32767, 32767};
	assert_memory_equal(y, want, sizeof want);
}

/* ---- the quantize pass ---- */

/* x [1, 2] in [-1, 1] -> dense d1 -> relu [0, 4] -> dense d2 (abits=16).
   d2 reads int16, so d1 (through the relu) writes int16 at scale 4/32767
   with the relu's clamp [0, 32767]; d2's result (an output) stays int8,
   and so does x's quantize (d1 reads int8). */
static void test_pass_types(void **st)
{
	(void)st;
	Graph *g = graph_new("a16");
	Value *x = in_f32(g, "x", ty(DT_F32, 2, 1, 2), -1, 1);
	const float w1[4] = {1, -1, 0.5f, 0.25f}, w2[2] = {0.5f, 0.5f};
	Op *d1 = op2(g, OP_DENSE, x, cst(g, "w1", ty(DT_F32, 2, 2, 2), w1), NULL, "d1", ty(DT_F32, 2, 1, 2));
	range(d1->out, -3, 3);
	Op *r = op2(g, OP_RELU, d1->out, NULL, NULL, "r", ty(DT_F32, 2, 1, 2));
	range(r->out, 0, 4);
	Op *d2 = op2(g, OP_DENSE, r->out, cst(g, "w2", ty(DT_F32, 2, 1, 2), w2), NULL, "d2", ty(DT_F32, 2, 1, 1));
	d2->a.abits = 16;
	range(d2->out, -2, 2);
	out(g, d2->out);
	Options o = {0};
	run_passes(g, &o, 4);
	Op *q = find_op(g, OP_QUANTIZE, 0), *q1 = find_op(g, OP_QDENSE, 0), *q2 = find_op(g, OP_QDENSE, 1);
	assert_int_equal(q->out->type.dt, DT_I8);
	assert_int_equal(q1->out->type.dt, DT_I16);
	assert_true(fabs(q1->out->type.q->scale[0] - 4.0 / 32767) < 1e-15);
	assert_int_equal(q1->a.lo, 0); /* the relu, fused */
	assert_int_equal(q1->a.hi, 32767);
	assert_ptr_equal(q2->in[0], q1->out);
	assert_int_equal(q2->out->type.dt, DT_I8);
	assert_int_equal(count_ops(g, OP_CLIP), 0);
	/* 4/32767 * 0.5/127 / (2/127) = 1/32767 = 0.5000153 * 2^-14 */
	assert_int_equal(q2->a.shift[0], -14);

	/* --activation-bits 16: the input's quantize writes int16 too */
	Graph *g2 = graph_new("a16b");
	Value *x2 = in_f32(g2, "x", ty(DT_F32, 2, 1, 2), -1, 1);
	Op *e1 = op2(g2, OP_DENSE, x2, cst(g2, "w1", ty(DT_F32, 2, 2, 2), w1), NULL, "e1", ty(DT_F32, 2, 1, 2));
	range(e1->out, -3, 3);
	Op *mp = op2(g2, OP_RESHAPE, e1->out, NULL, NULL, "rs", ty(DT_F32, 4, 1, 1, 1, 2));
	mp->a.nshape = 4;
	mp->a.shape[0] = mp->a.shape[1] = mp->a.shape[2] = 1, mp->a.shape[3] = 2;
	Op *pool = op2(g2, OP_MAXPOOL, mp->out, NULL, NULL, "p", ty(DT_F32, 4, 1, 1, 1, 2));
	pool->a.size[0] = pool->a.size[1] = 1;
	pool->a.strides[0] = pool->a.strides[1] = 1;
	range(pool->out, -3, 3);
	out(g2, pool->out);
	o.abits = 16;
	run_passes(g2, &o, 4);
	Op *iq = find_op(g2, OP_QUANTIZE, 0);
	assert_int_equal(iq->out->type.dt, DT_I16);
	assert_true(fabs(iq->out->type.q->scale[0] - 1.0 / 32767) < 1e-15);
	/* e1 writes int8: nothing reads its result as int16 */
	assert_int_equal(find_op(g2, OP_QDENSE, 0)->out->type.dt, DT_I8);
}

/* An int16 value read by an op without an int16 kernel (an avgpool) gets a
   requantize to int8 at scale s * 32767 / 127 in front of it; the reshape
   before it carries the int16 value on. */
static void test_pass_requant_in_front(void **st)
{
	(void)st;
	Graph *g = graph_new("a16c");
	Value *x = in_f32(g, "x", ty(DT_F32, 2, 1, 2), -1, 1);
	const float w1[4] = {1, -1, 0.5f, 0.25f}, w2[2] = {0.5f, 0.5f};
	Op *d1 = op2(g, OP_DENSE, x, cst(g, "w1", ty(DT_F32, 2, 2, 2), w1), NULL, "d1", ty(DT_F32, 2, 1, 2));
	range(d1->out, -3, 3);
	Op *d2 = op2(g, OP_DENSE, d1->out, cst(g, "w2", ty(DT_F32, 2, 1, 2), w2), NULL, "d2", ty(DT_F32, 2, 1, 1));
	d2->a.abits = 16;
	range(d2->out, -2, 2);
	Op *rs = op2(g, OP_RESHAPE, d1->out, NULL, NULL, "rs", ty(DT_F32, 4, 1, 1, 1, 2));
	rs->a.nshape = 4;
	rs->a.shape[0] = rs->a.shape[1] = rs->a.shape[2] = 1, rs->a.shape[3] = 2;
	Op *pool = op2(g, OP_AVGPOOL, rs->out, NULL, NULL, "p", ty(DT_F32, 4, 1, 1, 1, 2));
	pool->a.size[0] = pool->a.size[1] = 1;
	pool->a.strides[0] = pool->a.strides[1] = 1;
	range(pool->out, -3, 3);
	out(g, d2->out);
	out(g, pool->out);
	Options o = {0};
	run_passes(g, &o, 4);
	Op *q1 = find_op(g, OP_QDENSE, 0);
	assert_int_equal(q1->out->type.dt, DT_I16);
	assert_int_equal(q1->a.lo, -32767);
	assert_int_equal(q1->a.hi, 32767);
	Op *rq = find_op(g, OP_REQUANTIZE, 0);
	assert_non_null(rq);
	assert_int_equal(rq->in[0]->type.dt, DT_I16); /* the reshaped int16 value */
	assert_int_equal(rq->out->type.dt, DT_I8);
	assert_true(fabs(rq->out->type.q->scale[0] - 3.0 / 127) < 1e-15);
	/* M = (3/32767) / (3/127) = 127/32767 = 0.99216 * 2^-8 */
	assert_int_equal(rq->a.shift[0], -8);
	assert_int_equal(rq->a.mult[0], (int32_t)llrint(127.0 / 32767 * 256 * 2147483648.0));
	Op *ap = find_op(g, OP_AVGPOOL, 0);
	assert_ptr_equal(ap->in[0], rq->out);
}

/* The accumulator bound with an int16 input: dense with K weights of 1.0
   (127 after quantization), max|x| = 32768:
   32768 * 127 * 516 = 2147352576 <= 2^31 - 1 < 32768 * 127 * 517 = 2151514112. */
static Dtype a16_dt; /* the dtype the dense read */

static void build_wide16(int k, int flag, int attr)
{
	Graph *g = graph_new("wide16");
	Value *x = in_f32(g, "x", ty(DT_F32, 2, 1, k), -1, 1);
	float *w = alloc_array((size_t)k, sizeof *w);
	for (int i = 0; i < k; i++)
		w[i] = 1;
	Op *y = op2(g, OP_DENSE, x, cst(g, "w", ty(DT_F32, 2, 1, k), w), NULL, "y", ty(DT_F32, 2, 1, 1));
	y->a.abits = attr;
	range(y->out, -10, 10);
	out(g, y->out);
	Options o = {0};
	o.abits = flag;
	pass_quantize(g, &o);
	a16_dt = find_op(g, OP_QDENSE, 0)->in[0]->type.dt;
}


static bool refused16(int k, int flag, int attr)
{
	jmp_buf jb;
	err_jmp = &jb;
	if (setjmp(jb)) {
		err_jmp = NULL;
		return true;
	}
	build_wide16(k, flag, attr);
	err_jmp = NULL;
	return false;
}

static void test_accumulator_bound_a16(void **st)
{
	(void)st;
	assert_false(refused16(516, 0, 16));
	assert_int_equal(a16_dt, DT_I16);
	assert_true(refused16(517, 0, 16));
	assert_non_null(strstr(err_msg, "test.q8:1:1: error: dense: the int32 accumulator of output channel 0 "
					 "can overflow: |bias| + sum|w| * max|x - zx| = 0 + 65659 * 32768 > 2^31 - 1 "
					 "(with int16 activations: give this layer abits=8)"));
	/* --activation-bits 16 is a preference: the layer that would overflow
	   reads int8 instead (and the one that fits int16) */
	assert_false(refused16(517, 16, 0));
	assert_int_equal(a16_dt, DT_I8);
	assert_false(refused16(516, 16, 0));
	assert_int_equal(a16_dt, DT_I16);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_requant_16_to_8),
		cmocka_unit_test(test_requant_to_16),
		cmocka_unit_test(test_conv_a16),
		cmocka_unit_test(test_conv_a16_depthwise),
		cmocka_unit_test(test_dense_a16),
		cmocka_unit_test(test_clip_i16),
		cmocka_unit_test(test_maxpool_i16),
		cmocka_unit_test(test_pass_types),
		cmocka_unit_test(test_pass_requant_in_front),
		cmocka_unit_test(test_accumulator_bound_a16),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
