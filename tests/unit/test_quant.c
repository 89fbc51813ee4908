/* The quantize pipeline (quantize, zeropoint, fixedpoint, fuse) on the
   course's worked examples, with expectations computed by hand. */
#include "qtest.h"

/* The matrix example (quantization-notes.txt): A [[-1.54, 0.22],
   [-0.26, 0.65]] with range [-2, 2], b [0.35, -0.51] with range [-1, 1],
   output range [-3, 3]: QA = [[-98, 14], [-17, 41]], Qb = [44, -65],
   products [-5222, -3413], requantized [-27, -18].  A is given as a QDQ
   constant (quantize(@A, 2/127)) so its range is [-2, 2] as in the
   course; b is the input. */
static Graph *matrix_graph(void)
{
	Graph *g = graph_new("matrix");
	Value *b = in_f32(g, "b", ty(DT_F32, 2, 1, 2), -1, 1);
	const float A[4] = {-1.54f, 0.22f, -0.26f, 0.65f};
	Value *a = cst(g, "A", ty(DT_F32, 2, 2, 2), A);
	Op *aq = op2(g, OP_QUANTIZE, a, NULL, NULL, "Aq", ty(DT_I8, 2, 2, 2));
	aq->a.q = *quant_tensor(2.0 / 127, 0);
	Op *ad = op2(g, OP_DEQUANTIZE, aq->out, NULL, NULL, "Ad", ty(DT_F32, 2, 2, 2));
	ad->a.q = *quant_tensor(2.0 / 127, 0);
	Op *y = op2(g, OP_DENSE, b, ad->out, NULL, "y", ty(DT_F32, 2, 1, 2));
	range(y->out, -3, 3);
	out(g, y->out);
	return g;
}

static void test_matrix_example(void **state)
{
	(void)state;
	Graph *g = matrix_graph();
	Options o = {0};
	run_passes(g, &o, 1);
	/* quantize: qdense(b.q, A, bias) + requantize */
	Op *d = find_op(g, OP_QDENSE, 0);
	assert_non_null(d);
	const int8_t *qa = d->in[1]->data;
	int8_t want_qa[4] = {-98, 14, -17, 41};
	assert_memory_equal(qa, want_qa, 4);
	assert_int_equal(d->in[2]->type.dt, DT_I32);
	assert_int_equal(((int32_t *)d->in[2]->data)[0], 0);
	assert_int_equal(d->out->type.dt, DT_I32);
	assert_true(fabs(d->out->type.q->scale[0] - 2.0 / 127 / 127) < 1e-15);
	Op *q = find_op(g, OP_QUANTIZE, 0);
	assert_true(q && q->in[0] == g->inputs[0]);
	assert_true(fabs(q->a.q.scale[0] - 1.0 / 127) < 1e-15);
	assert_int_equal(q->a.q.zp[0], 0);
	Op *r = find_op(g, OP_REQUANTIZE, 0);
	assert_true(r && r->in[0] == d->out);
	assert_true(fabs(r->out->type.q->scale[0] - 3.0 / 127) < 1e-15);
	assert_int_equal(r->a.lo, -127);
	assert_int_equal(r->a.hi, 127);
	assert_non_null(find_op(g, OP_DEQUANTIZE, 0));
	assert_ptr_equal(g->outputs[0]->def, find_op(g, OP_DEQUANTIZE, 0));

	run_passes(g, &o, 4);
	assert_int_equal(g->nops, 3); /* quantize, qdense, dequantize */
	d = find_op(g, OP_QDENSE, 0);
	assert_int_equal(d->a.nrq, 1);
	assert_int_equal(d->out->type.dt, DT_I8);
	assert_string_equal(d->out->name, "y.q");
	/* M = (2/127)(1/127) / (3/127) = 2/381: m = 0.6719160104986877,
	   e = -7, mult = round(m * 2^31) */
	double m = 2.0 / 381;
	assert_int_equal(d->a.shift[0], -7);
	assert_int_equal(d->a.mult[0], (int32_t)llround(m * 128 * 2147483648.0));
	assert_int_equal(d->a.mult[0], 1442928645); /* NumPy: round(2/381 * 2^7 * 2^31) */
	/* the arithmetic by hand */
	int32_t qb[2] = {(int32_t)rint(0.35 * 127), (int32_t)rint(-0.51 * 127)};
	assert_int_equal(qb[0], 44);
	assert_int_equal(qb[1], -65);
	int32_t acc0 = -98 * qb[0] + 14 * qb[1], acc1 = -17 * qb[0] + 41 * qb[1];
	assert_int_equal(acc0, -5222);
	assert_int_equal(acc1, -3413);
	assert_int_equal(q8_rq(acc0, d->a.mult[0], d->a.shift[0]), -27);
	assert_int_equal(q8_rq(acc1, d->a.mult[0], d->a.shift[0]), -18);
	/* and the reference interpreter of the final graph */
	float x[2] = {0.35f, -0.51f}, y[2];
	ref_run(g, x, y);
	assert_float_equal(y[0], -27 * 3.0 / 127, 1e-6);
	assert_float_equal(y[1], -18 * 3.0 / 127, 1e-6);
}

/* The quantization-bias example: A = [-2.2, -1.1, 1.1, 2.2] (an input
   with range [-2.2, 2.2]) times B = [0.5, 0.3, 0.3, 0.5] (dense weights).
   Restricted range: [-127, -64, 64, 127] . [127, 76, 76, 127] = 0. */
static void test_quantization_bias(void **state)
{
	(void)state;
	Graph *g = graph_new("bias");
	Value *a = in_f32(g, "a", ty(DT_F32, 2, 1, 4), -2.2, 2.2);
	const float B[4] = {0.5f, 0.3f, 0.3f, 0.5f};
	Value *w = cst(g, "B", ty(DT_F32, 2, 1, 4), B);
	Op *y = op2(g, OP_DENSE, a, w, NULL, "y", ty(DT_F32, 2, 1, 1));
	range(y->out, -1, 1);
	out(g, y->out);
	Options o = {0};
	run_passes(g, &o, 4);
	Op *d = find_op(g, OP_QDENSE, 0);
	int8_t want_w[4] = {127, 76, 76, 127};
	assert_memory_equal(d->in[1]->data, want_w, 4);
	Op *q = find_op(g, OP_QUANTIZE, 0);
	double s = q->a.q.scale[0];
	assert_true(fabs(s - 2.2 / 127) < 1e-15);
	const double A[4] = {-2.2, -1.1, 1.1, 2.2};
	int32_t qa[4], want_a[4] = {-127, -64, 64, 127}, dot = 0;
	for (int i = 0; i < 4; i++) {
		qa[i] = sat8((int64_t)rint((float)A[i] / s)); /* as the quantize op rounds */
		assert_int_equal(qa[i], want_a[i]);
		dot += qa[i] * ((int8_t *)d->in[1]->data)[i];
	}
	assert_int_equal(dot, 0);
	float x[4] = {-2.2f, -1.1f, 1.1f, 2.2f}, yv;
	ref_run(g, x, &yv);
	assert_true(yv == 0.0f);

	/* full range [-128, 127] with s = 128/alpha (computed here only):
	   [-128, -64, 64, 127] . [127, 77, 77, 127] = -127 */
	int32_t fa[4], fb[4], fdot = 0;
	for (int i = 0; i < 4; i++) {
		fa[i] = sat8((int64_t)rint(A[i] * 128 / 2.2));
		fb[i] = sat8((int64_t)rint(B[i] * 128 / 0.5));
		fdot += fa[i] * fb[i];
	}
	assert_int_equal(fa[0], -128);
	assert_int_equal(fa[3], 127);
	assert_int_equal(fb[1], 77);
	assert_int_equal(fdot, -127);
}

/* conv2d -> relu, float weights per channel: the final graph is one
   qconv2d carrying relu's clamp, and its dequantized result stays within
   the rounding bound of the float result, computed here. */
static void test_conv_relu_accuracy(void **state)
{
	(void)state;
	for (int pt = 0; pt < 2; pt++) {
		arena_reset();
		Graph *g = graph_new("convrelu");
		Value *x = in_f32(g, "x", ty(DT_F32, 4, 1, 5, 5, 3), -1.5, 1.5);
		float w[4 * 3 * 3 * 3], b[4] = {0.1f, -0.2f, 0.05f, 0.3f};
		uint32_t seed = 12345;
		for (int i = 0; i < 108; i++) {
			seed = seed * 1103515245 + 12345;
			w[i] = (float)(((seed >> 8) % 2001) / 1000.0 - 1.0) * (i < 27 ? 0.01f : 0.5f);
		}
		Value *wc = cst(g, "w", ty(DT_F32, 4, 4, 3, 3, 3), w);
		Value *bc = cst(g, "b", ty(DT_F32, 1, 4), b);
		Op *c = op2(g, OP_CONV2D, x, wc, bc, "c", ty(DT_F32, 4, 1, 5, 5, 4));
		c->a.pads[0] = c->a.pads[1] = c->a.pads[2] = c->a.pads[3] = 1;
		range(c->out, -6, 5);
		Op *r = op2(g, OP_RELU, c->out, NULL, NULL, "r", ty(DT_F32, 4, 1, 5, 5, 4));
		range(r->out, 0, 5);
		out(g, r->out);
		Options o = {0};
		o.per_tensor = pt;
		run_passes(g, &o, 4);
		assert_int_equal(g->nops, 3);
		Op *qc = find_op(g, OP_QCONV2D, 0);
		assert_non_null(qc);
		assert_string_equal(qc->out->name, "r.q");
		assert_int_equal(qc->a.lo, 0);
		assert_int_equal(qc->a.hi, 127);
		assert_int_equal(qc->a.nrq, pt ? 1 : 4);
		assert_int_equal(qc->a.xzp, 0);
		assert_true(fabs(qc->out->type.q->scale[0] - 5.0 / 127) < 1e-15);
		assert_int_equal(qc->in[1]->type.q->n, pt ? 1 : 4);

		float xv[75], y[100];
		for (int i = 0; i < 75; i++) {
			seed = seed * 1103515245 + 12345;
			xv[i] = (float)(((seed >> 8) % 3001) / 1000.0 - 1.5);
		}
		ref_run(g, xv, y);
		double sx = 1.5 / 127, sy = 5.0 / 127;
		for (int oh = 0; oh < 5; oh++)
		for (int ow = 0; ow < 5; ow++)
		for (int oc = 0; oc < 4; oc++) {
			double acc = b[oc], sw = 0, wabs = 0, xabs = 0;
			for (int k = pt ? 0 : oc * 27; k < (pt ? 108 : oc * 27 + 27); k++)
				sw = fmax(sw, fabs(w[k]));
			sw /= 127;
			for (int kh = 0; kh < 3; kh++)
			for (int kw = 0; kw < 3; kw++)
			for (int ci = 0; ci < 3; ci++) {
				int ih = oh + kh - 1, iw = ow + kw - 1;
				if (ih < 0 || ih > 4 || iw < 0 || iw > 4)
					continue;
				double xx = xv[(ih * 5 + iw) * 3 + ci], ww = w[((oc * 3 + kh) * 3 + kw) * 3 + ci];
				acc += xx * ww;
				wabs += fabs(ww);
				xabs += fabs(xx) + sx / 2;
			}
			double want = fmin(fmax(acc, 0), 5);
			/* input rounding, weight rounding, bias rounding, output rounding */
			double tol = wabs * sx / 2 + xabs * sw / 2 + sx * sw / 2 + sy / 2 + 1e-6;
			double got = y[(oh * 5 + ow) * 4 + oc];
			if (fabs(got - want) > tol)
				fail_msg("pt %d at (%d,%d,%d): got %g want %g tol %g", pt, oh, ow, oc, got, want, tol);
		}
	}
}

/* The accumulator bound: dense with K inputs of weight 1.0 (127 after
   quantization) and |x| <= 128: 127 * 128 * K must stay below 2^31. */
static void build_wide(int k)
{
	Graph *g = graph_new("wide");
	Value *x = in_f32(g, "x", ty(DT_F32, 2, 1, k), -1, 1);
	float *w = alloc_array((size_t)k, sizeof *w);
	for (int i = 0; i < k; i++)
		w[i] = 1;
	Value *wc = graph_add_const(g, "w", ty(DT_F32, 2, 1, k), w, L0);
	Op *y = op2(g, OP_DENSE, x, wc, NULL, "y", ty(DT_F32, 2, 1, 1));
	range(y->out, -10, 10);
	out(g, y->out);
	Options o = {0};
	pass_quantize(g, &o);
}

static bool refused(int k)
{
	jmp_buf jb;
	err_jmp = &jb;
	if (setjmp(jb)) {
		err_jmp = NULL;
		return true;
	}
	build_wide(k);
	err_jmp = NULL;
	return false;
}

static void test_accumulator_bound(void **state)
{
	(void)state;
	/* 127 * 128 * 132000 = 2145792000 < 2^31 - 1 < 127 * 128 * 133000 */
	assert_false(refused(132000));
	assert_true(refused(133000));
	assert_non_null(strstr(err_msg, "test.q8:1:1: error: "));
	assert_non_null(strstr(err_msg, "can overflow"));
}

/* --granularity group:2 on a dense of 5 output channels: channels {0, 1},
   {2, 3} and {4} each share the scale max|w| / 127 of their group, by hand:
   1/127, 2/127 and 0.02/127.  Channel 1 alone would get 0.25/127. */
static void test_group_scales(void **state)
{
	(void)state;
	Graph *g = graph_new("group");
	Value *x = in_f32(g, "x", ty(DT_F32, 2, 1, 2), -1, 1);
	const float w[10] = {0.4f, -1.0f, 0.25f, 0.1f, 2.0f, 0.3f, -0.6f, 1.2f, 0.02f, -0.005f};
	Op *y = op2(g, OP_DENSE, x, cst(g, "w", ty(DT_F32, 2, 5, 2), w), NULL, "y", ty(DT_F32, 2, 1, 5));
	range(y->out, -3, 3);
	out(g, y->out);
	Options o = {0};
	o.group = 2;
	run_passes(g, &o, 1);
	Op *d = find_op(g, OP_QDENSE, 0);
	assert_non_null(d);
	const Quant *q = d->in[1]->type.q;
	assert_int_equal(q->n, 5);
	assert_int_equal(q->axis, 0);
	double want_s[5] = {1.0 / 127, 1.0 / 127, 2.0 / 127, 2.0 / 127, 0.02f / 127.0};
	for (int c = 0; c < 5; c++)
		assert_true(fabs(q->scale[c] - want_s[c]) < 1e-12 * want_s[c]);
	/* 0.4*127 = 50.8, 0.25*127 = 31.75, 0.1*127 = 12.7, 0.3*63.5 = 19.05,
	   0.6*63.5 = 38.1, 1.2*63.5 = 76.2, 0.005/0.02*127 = 31.75 */
	const int8_t want_q[10] = {51, -127, 32, 13, 127, 19, -38, 76, 127, -32};
	assert_memory_equal(d->in[1]->data, want_q, 10);
}

/* 4-bit weights, [-7, 7], scale max|w[c]| / 7: d1 by its wbits=4
   attribute, d2 by --weight-bits 4 unless its own wbits=8 says otherwise.
   By hand: [0.4, -1.0] / (1/7) = [2.8, -7] -> [3, -7]; [0.25, 0.1] /
   (0.25/7) = [7, 2.8] -> [7, 3]; at 8 bits [0.5, -0.3] / (0.5/127) =
   [127, -76.2] -> [127, -76]. */
static void check_bits(int flag, int attr2, int bits2)
{
	Graph *g = graph_new("wbits");
	Value *x = in_f32(g, "x", ty(DT_F32, 2, 1, 2), -1, 1);
	const float w1[4] = {0.4f, -1.0f, 0.25f, 0.1f}, w2[2] = {0.5f, -0.3f};
	Op *d1 = op2(g, OP_DENSE, x, cst(g, "w1", ty(DT_F32, 2, 2, 2), w1), NULL, "d1", ty(DT_F32, 2, 1, 2));
	d1->a.wbits = 4;
	range(d1->out, -2, 2);
	Op *d2 = op2(g, OP_DENSE, d1->out, cst(g, "w2", ty(DT_F32, 2, 1, 2), w2), NULL, "d2", ty(DT_F32, 2, 1, 1));
	d2->a.wbits = attr2;
	range(d2->out, -2, 2);
	out(g, d2->out);
	Options o = {0};
	o.wbits = flag;
	run_passes(g, &o, 1);
	Op *q1 = find_op(g, OP_QDENSE, 0), *q2 = find_op(g, OP_QDENSE, 1);
	assert_non_null(q1);
	assert_non_null(q2);
	const int8_t want1[4] = {3, -7, 7, 3};
	assert_memory_equal(q1->in[1]->data, want1, 4);
	assert_true(fabs(q1->in[1]->type.q->scale[0] - 1.0 / 7) < 1e-15);
	assert_true(fabs(q1->in[1]->type.q->scale[1] - 0.25 / 7) < 1e-15);
	const int8_t *got2 = q2->in[1]->data;
	if (bits2 == 4) {
		assert_int_equal(got2[0], 7);
		assert_int_equal(got2[1], -4); /* -0.3 / (0.5/7) = -4.2 */
	} else {
		assert_int_equal(got2[0], 127);
		assert_int_equal(got2[1], -76);
	}
}

static void test_weight_bits(void **state)
{
	(void)state;
	check_bits(0, 0, 8);
	check_bits(4, 0, 4);
	check_bits(4, 8, 8);
	check_bits(8, 4, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matrix_example),
		cmocka_unit_test(test_quantization_bias),
		cmocka_unit_test(test_conv_relu_accuracy),
		cmocka_unit_test(test_accumulator_bound),
		cmocka_unit_test(test_group_scales),
		cmocka_unit_test(test_weight_bits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
