/* The activations as 256-entry tables (passes/lut.c, the quantize and
   fuse passes) and the transpose lowering, with entries worked out by
   hand below: t[q + 128] = clamp(zy + round_half_even(f(sx (q - zx)) / sy)). */
#include "qtest.h"
#include "passes/quant.h"
#include "codegen/lower.h"

/* the table of the one qlut of g */
static const int8_t *table(Graph *g)
{
	assert_int_equal(count_ops(g, OP_QLUT), 1);
	Op *l = find_op(g, OP_QLUT, 0);
	assert_int_equal(l->in[1]->type.dt, DT_I8);
	assert_int_equal(type_numel(&l->in[1]->type), 256);
	return l->in[1]->data;
}

/* x f32[1, 8] with range [-6.35, 6.35] (sx = 6.35 / 127 = 0.05), f, its
   result with range [lo, hi] */
static Graph *act_graph(OpKind k, double lo, double hi, Op **act)
{
	Graph *g = graph_new("act");
	Value *x = in_f32(g, "x", ty(DT_F32, 2, 1, 8), -6.35, 6.35);
	*act = op2(g, k, x, NULL, NULL, "y", ty(DT_F32, 2, 1, 8));
	range((*act)->out, lo, hi);
	out(g, (*act)->out);
	return g;
}

/* sigmoid, sx = 0.05, sy = 1/127 (the range [0, 1]), zero points 0:
     q = 0:    sigmoid(0) = 0.5, * 127 = 63.5, a tie: to even, 64
     q = 1:    sigmoid(0.05) = 0.5124974, * 127 = 65.087 -> 65
     q = -1:   sigmoid(-0.05) = 0.4875026, * 127 = 61.913 -> 62
     q = 2:    sigmoid(0.1) = 0.5249792, * 127 = 66.672 -> 67
     q = 20:   sigmoid(1) = 0.7310586, * 127 = 92.844 -> 93
     q = -128: sigmoid(-6.4) = 1 / (1 + 601.85) = 0.0016588, * 127 = 0.211 -> 0
     q = 127:  sigmoid(6.35) = 1 - 0.0017441, * 127 = 126.78 -> 127 */
static void test_sigmoid_table(void **state)
{
	(void)state;
	Op *s;
	Graph *g = act_graph(OP_SIGMOID, 0, 1, &s);
	Options o = {0};
	run_passes(g, &o, 1);
	const int8_t *t = table(g);
	assert_int_equal(t[128 + 0], 64);
	assert_int_equal(t[128 + 1], 65);
	assert_int_equal(t[128 - 1], 62);
	assert_int_equal(t[128 + 2], 67);
	assert_int_equal(t[128 + 20], 93);
	assert_int_equal(t[0], 0);
	assert_int_equal(t[255], 127);
	Op *l = find_op(g, OP_QLUT, 0);
	assert_true(fabs(l->out->type.q->scale[0] - 1.0 / 127) < 1e-15);
	/* the rest of the pipeline leaves it alone */
	run_passes(g, &o, 4);
	assert_int_equal(table(g)[128], 64);
}

/* leaky_relu, alpha 0.25, sx = sy = 0.5 (ranges [-63.5, 63.5]):
     q = -2:  x = -1, y = -0.25, / 0.5 = -0.5: to even, 0 (half away: -1)
     q = -6:  x = -3, y = -0.75, -1.5 -> -2
     q = -10: x = -5, y = -1.25, -2.5 -> -2
     q = -14: x = -7, y = -1.75, -3.5 -> -4
     q = 5:   x = 2.5, 5 -> 5;  q = 127: 127;  q = -128: x = -64, -16 / 0.5 = -32 */
static void test_ties_to_even(void **state)
{
	(void)state;
	Graph *g = graph_new("leaky");
	Value *x = in_f32(g, "x", ty(DT_F32, 2, 1, 8), -63.5, 63.5);
	Op *a = op2(g, OP_LEAKYRELU, x, NULL, NULL, "y", ty(DT_F32, 2, 1, 8));
	a->a.alpha = 0.25;
	range(a->out, -63.5, 63.5);
	out(g, a->out);
	Options o = {0};
	run_passes(g, &o, 1);
	const int8_t *t = table(g);
	assert_int_equal(t[128 - 2], 0);
	assert_int_equal(t[128 - 6], -2);
	assert_int_equal(t[128 - 10], -2);
	assert_int_equal(t[128 - 14], -4);
	assert_int_equal(t[128 + 5], 5);
	assert_int_equal(t[255], 127);
	assert_int_equal(t[0], -32);
}

/* Zero points on both sides (what a QDQ u8 model leaves after the u8 -> i8
   shift): hardswish, sx = 0.1, zx = 10, sy = 0.05, zy = -5:
     q = 40:   x = 3, hardswish(3) = 3 * 6 / 6 = 3, / 0.05 = 60, + zy = 55
     q = -20:  x = -3, 0 -> -5;   q = -128: x = -13.8, 0 -> -5
     q = 0:    x = -1, -1 * 2 / 6 = -0.3333, -6.667 -> -7, -12
     q = 127:  x = 11.7, 234 - 5 = 229, saturated to 127
   and tanh, sx = 0.05, sy = 1/128: q = -128, x = -6.4, tanh = -0.9999945,
   * 128 = -127.9993 -> -128, or -127 in the restricted range. */
static void test_zero_points(void **state)
{
	(void)state;
	Op op = {.kind = OP_HARDSWISH};
	int8_t t[256];
	lut_table(&op, quant_tensor(0.1, 10), quant_tensor(0.05, -5), -128, 127, t);
	assert_int_equal(t[128 + 40], 55);
	assert_int_equal(t[128 - 20], -5);
	assert_int_equal(t[0], -5);
	assert_int_equal(t[128], -12);
	assert_int_equal(t[255], 127);
	op.kind = OP_TANH;
	lut_table(&op, quant_tensor(0.05, 0), quant_tensor(1.0 / 128, 0), -128, 127, t);
	assert_int_equal(t[0], -128);
	lut_table(&op, quant_tensor(0.05, 0), quant_tensor(1.0 / 128, 0), -127, 127, t);
	assert_int_equal(t[0], -127);
	/* hardsigmoid with ONNX's defaults, alpha 0.2, beta 0.5, at x = 1
	   (q = 20): 0.7, / (1/127) = 88.9 -> 89; x = -2.5 (q = -50): 0 */
	op.kind = OP_HARDSIGMOID, op.a.alpha = 0.2, op.a.beta = 0.5;
	lut_table(&op, quant_tensor(0.05, 0), quant_tensor(1.0 / 127, 0), -127, 127, t);
	assert_int_equal(t[128 + 20], 89);
	assert_int_equal(t[128 - 50], 0);
}

/* tanh then relu: the fuse pass takes the clip into the table (every
   negative entry becomes 0), and a second activation too, as t2[t1] */
static void test_fuse(void **state)
{
	(void)state;
	Op *th;
	Graph *g = act_graph(OP_TANH, -1, 1, &th);
	Op *r = op2(g, OP_RELU, th->out, NULL, NULL, "r", th->out->type);
	range(r->out, 0, 1);
	g->outputs[0] = r->out;
	Options o = {0};
	run_passes(g, &o, 4);
	const int8_t *t = table(g);
	assert_int_equal(count_ops(g, OP_CLIP), 0);
	/* q = -20: tanh(-1) < 0 -> 0; q = 20: tanh(1) = 0.761594 * 127 = 96.72 -> 97 */
	assert_int_equal(t[128 - 20], 0);
	assert_int_equal(t[128 + 20], 97);
	assert_int_equal(t[0], 0);

	/* sigmoid of sigmoid: y = s2[s1[x]] in one table */
	Op *s1;
	g = act_graph(OP_SIGMOID, 0, 1, &s1);
	Op *s2 = op2(g, OP_SIGMOID, s1->out, NULL, NULL, "s2", s1->out->type);
	range(s2->out, 0, 1);
	g->outputs[0] = s2->out;
	run_passes(g, &o, 1);
	assert_int_equal(count_ops(g, OP_QLUT), 2);
	int8_t t1[256], t2[256];
	memcpy(t1, find_op(g, OP_QLUT, 0)->in[1]->data, 256);
	memcpy(t2, find_op(g, OP_QLUT, 1)->in[1]->data, 256);
	run_passes(g, &o, 4);
	t = table(g);
	for (int i = 0; i < 256; i++)
		assert_int_equal(t[i], t2[t1[i] + 128]);
	/* q = 0: sigmoid(0) -> 64 (above), 64 / 127 = 0.503937, sigmoid = 0.623386,
	   * 127 = 79.17 -> 79 */
	assert_int_equal(t[128], 79);
}

/* transpose lowers to dims and strides of y's axes with the size-1 axes
   gone and neighbours merged: [1, 3, 4, 5] by [0, 2, 3, 1] walks y as
   [20, 3] (y axes 1 and 2, x strides 5 and 1, merge: 5 == 1 * 5) with x
   strides [1, 20] */
static void test_transpose_lowering(void **state)
{
	(void)state;
	Graph *g = graph_new("tr");
	Value *x = in_f32(g, "x", ty(DT_F32, 4, 1, 3, 4, 5), 0, 0);
	Op *t = op2(g, OP_TRANSPOSE, x, NULL, NULL, "y", ty(DT_F32, 4, 1, 4, 5, 3));
	t->a.nperm = 4;
	int64_t perm[4] = {0, 2, 3, 1};
	memcpy(t->a.perm, perm, sizeof perm);
	out(g, t->out);
	Prog *p = lower(g, target_find("ref"), "tr", false);
	assert_int_equal(p->nsteps, 1);
	Step *s = &p->steps[0];
	assert_string_equal(s->kernel, "transpose");
	assert_int_equal(s->p.i[Q8_RANK], 2);
	const int32_t *w = p->blobs[s->pblob[Q8P_W]].data;
	assert_int_equal(w[0], 20);
	assert_int_equal(w[1], 3);
	assert_int_equal(w[2], 1);
	assert_int_equal(w[3], 20);
	/* and runs: y[0, h, w, c] = x[0, c, h, w] = 100 c + 10 h + w */
	float xv[60], yv[60];
	for (int c = 0; c < 3; c++)
		for (int h = 0; h < 4; h++)
			for (int k = 0; k < 5; k++)
				xv[(c * 4 + h) * 5 + k] = (float)(100 * c + 10 * h + k);
	const float *in[1] = {xv};
	float *outs[1] = {yv};
	char arena[64];
	prog_run(p, in, outs, arena);
	assert_true(yv[0] == 0 && yv[1] == 100 && yv[2] == 200 && yv[3] == 1);
	assert_true(yv[(2 * 5 + 3) * 3 + 1] == 123);
}

/* fold evaluates transpose and the activations of constants:
   transpose([[-1, 0], [1, 2]]) = [[-1, 1], [0, 2]]; sigmoid(-1) =
   1 / (1 + e) = 0.26894142, sigmoid(2) = 0.88079708 */
static void test_fold_consts(void **state)
{
	(void)state;
	const char *text = "input %x : f32[1, 4];\n"
			   "const @c : f32[2, 2] = [-1, 0, 1, 2];\n"
			   "%t = transpose(@c, perm=[1, 0]);\n"
			   "%s = sigmoid(@c);\n"
			   "%f = reshape(%s, shape=[1, 4]);\n"
			   "%ft = reshape(%t, shape=[1, 4]);\n"
			   "%y = add(%x, %f);\n"
			   "%y2 = mul(%y, %ft);\n"
			   "output %y2;\n";
	Graph *g = parse_string("fold.q8", text, strlen(text));
	Options o = {.is_float = true};
	pass_fold(g, &o);
	assert_int_equal(g->nops, 2);
	const float *f = g->ops[0]->in[1]->data, *ft = g->ops[1]->in[1]->data;
	assert_true(ft[0] == -1 && ft[1] == 1 && ft[2] == 0 && ft[3] == 2);
	assert_true(fabsf(f[0] - 0.26894142f) < 1e-7f && f[1] == 0.5f && fabsf(f[3] - 0.88079708f) < 1e-7f);
}

/* QDQ weights behind a transpose: the dequantize moves after it, onto the
   transposed int8 data, and its per-axis axis 0 becomes axis 1 */
static void test_fold_dq_transpose(void **state)
{
	(void)state;
	const char *text = "input %x : f32[2, 3];\n"
			   "const @wq : i8[3, 4] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];\n"
			   "%w = dequantize(@wq, scale=[0.5, 0.25, 0.125], zero_point=0, axis=0);\n"
			   "%wt = transpose(%w, perm=[1, 0]);\n"
			   "%y = dense(%x, %wt);\n"
			   "output %y;\n";
	Graph *g = parse_string("dqt.q8", text, strlen(text));
	Options o = {0};
	pass_fold(g, &o);
	assert_int_equal(g->nops, 2);
	Op *dq = g->ops[0];
	assert_int_equal(dq->kind, OP_DEQUANTIZE);
	assert_int_equal(dq->a.q.axis, 1);
	assert_true(dq->a.q.scale[2] == 0.125);
	Value *c = dq->in[0];
	assert_true(c->kind == V_CONST && c->type.dims[0] == 4 && c->type.dims[1] == 3);
	const int8_t want[12] = {1, 5, 9, 2, 6, 10, 3, 7, 11, 4, 8, 12};
	assert_memory_equal(c->data, want, 12);
}

/* NCHW -> NHWC -> NCHW is nothing; [0, 2, 3, 1] then [0, 2, 1, 3] is one
   transpose by p1[p2[i]] = [0, 3, 2, 1]; an identity that is an output stays */
static void test_fold_transposes(void **state)
{
	(void)state;
	const char *text = "input %x : f32[1, 2, 3, 4];\n"
			   "%a = transpose(%x, perm=[0, 2, 3, 1]);\n"
			   "%b = transpose(%a, perm=[0, 3, 1, 2]);\n"
			   "%c = relu(%b);\n"
			   "%d = transpose(%c, perm=[0, 2, 3, 1]);\n"
			   "%e = transpose(%d, perm=[0, 2, 1, 3]);\n"
			   "%f = transpose(%x, perm=[0, 1, 2, 3]);\n"
			   "output %e, %f;\n";
	Graph *g = parse_string("tt.q8", text, strlen(text));
	Options o = {.is_float = true};
	pass_fold(g, &o);
	assert_int_equal(g->nops, 3); /* relu, %e, %f */
	assert_ptr_equal(g->ops[0]->in[0], g->inputs[0]);
	Op *e = g->outputs[0]->def;
	assert_ptr_equal(e->in[0], g->ops[0]->out);
	assert_true(e->a.perm[0] == 0 && e->a.perm[1] == 3 && e->a.perm[2] == 2 && e->a.perm[3] == 1);
	assert_true(e->out->type.dims[1] == 4 && e->out->type.dims[2] == 3 && e->out->type.dims[3] == 2);
	assert_int_equal(g->outputs[1]->def->kind, OP_TRANSPOSE);
}

/* hardswish as ONNX opset 13 writes it, x * hardsigmoid(x): the fuse pass
   makes the qmul of x by the qlut of x one qlut.  sx = 0.05 ([-6.35,
   6.35]), hardsigmoid's result [0, 1] (sh = 1/127), y [-6.35, 6.35]
   (sy = 0.05), zero points 0, so y = x * h * 127 / 127 in q units:
     q = 0:    x = 0 -> 0
     q = 20:   x = 1, h(1) = 0.7 -> 88.9 -> 89; 20 * 89 / 127 = 14.016 -> 14
     q = -20:  x = -1, h = 0.3 -> 38.1 -> 38; -20 * 38 / 127 = -5.98 -> -6
     q = 127:  x = 6.35, h = 1 -> 127; 127 * 127 / 127 = 127
     q = -128: x = -6.4, h = 0 -> 0
   and every entry within one step of x * h(x) / sy in float. */
static void test_hardswish_mul_fused(void **state)
{
	(void)state;
	Graph *g = graph_new("hs");
	Value *x = in_f32(g, "x", ty(DT_F32, 2, 1, 8), -6.35, 6.35);
	Op *h = op2(g, OP_HARDSIGMOID, x, NULL, NULL, "h", ty(DT_F32, 2, 1, 8));
	h->a.alpha = 0.2, h->a.beta = 0.5;
	range(h->out, 0, 1);
	Op *m = op2(g, OP_MUL, x, h->out, NULL, "y", ty(DT_F32, 2, 1, 8));
	range(m->out, -6.35, 6.35);
	out(g, m->out);
	Options o = {0};
	run_passes(g, &o, 3);
	assert_int_equal(count_ops(g, OP_QMUL), 1);
	run_passes(g, &o, 4);
	assert_int_equal(count_ops(g, OP_QMUL), 0);
	const int8_t *t = table(g);
	assert_int_equal(t[128 + 0], 0);
	assert_int_equal(t[128 + 20], 14);
	assert_int_equal(t[128 - 20], -6);
	assert_int_equal(t[255], 127);
	assert_int_equal(t[0], 0);
	for (int k = 0; k < 256; k++) {
		double xv = 0.05 * (k - 128), hv = fmin(1, fmax(0, 0.2 * xv + 0.5));
		assert_true(fabs(t[k] - xv * hv / 0.05) <= 1.0);
	}
	assert_string_equal(find_op(g, OP_QLUT, 0)->out->name, "y.q"); /* the qmul's result */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sigmoid_table),
		cmocka_unit_test(test_ties_to_even),
		cmocka_unit_test(test_zero_points),
		cmocka_unit_test(test_fuse),
		cmocka_unit_test(test_transpose_lowering),
		cmocka_unit_test(test_fold_consts),
		cmocka_unit_test(test_fold_dq_transpose),
		cmocka_unit_test(test_fold_transposes),
		cmocka_unit_test(test_hardswish_mul_fused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
