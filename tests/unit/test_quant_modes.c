/* The quantize pipeline's modes and op coverage: --scale pow2, QDQ
   models (the seed matmul, u8), qadd/qmul multipliers, relu6 fusion,
   concat, batchnorm, softmax, and running the pass twice. */
#include "qtest.h"

static Options opts(bool pow2)
{
	Options o = {0};
	o.pow2 = pow2;
	return o;
}

static float *fill(int n, float lo, float hi, uint32_t *seed)
{
	float *v = alloc_array((size_t)n, sizeof *v);
	for (int i = 0; i < n; i++) {
		*seed = *seed * 1664525u + 1013904223u;
		v[i] = lo + (hi - lo) * (float)((*seed >> 8) & 0xffff) / 65535.0f;
	}
	return v;
}

static bool pow2(double s)
{
	int e;
	return frexp(s, &e) == 0.5;
}

/* conv -> relu, conv, add, mul by a constant, flatten, dense */
static Graph *mixed_graph(void)
{
	uint32_t seed = 7;
	Graph *g = graph_new("mixed");
	Value *x = in_f32(g, "x", ty(DT_F32, 4, 1, 4, 4, 2), -1.7, 1.7);
	Value *w1 = cst(g, "w1", ty(DT_F32, 4, 3, 3, 3, 2), fill(54, -0.6f, 0.6f, &seed));
	Value *w2 = cst(g, "w2", ty(DT_F32, 4, 3, 1, 1, 2), fill(6, -1, 1, &seed));
	Value *b1 = cst(g, "b1", ty(DT_F32, 1, 3), fill(3, -0.3f, 0.3f, &seed));
	Op *c1 = op2(g, OP_CONV2D, x, w1, b1, "c1", ty(DT_F32, 4, 1, 4, 4, 3));
	c1->a.pads[0] = c1->a.pads[1] = c1->a.pads[2] = c1->a.pads[3] = 1;
	range(c1->out, -4, 3.3);
	Op *r1 = op2(g, OP_RELU, c1->out, NULL, NULL, "r1", c1->out->type);
	range(r1->out, 0, 3.3);
	Op *c2 = op2(g, OP_CONV2D, x, w2, NULL, "c2", ty(DT_F32, 4, 1, 4, 4, 3));
	range(c2->out, -2.5, 2.5);
	Op *s = op2(g, OP_ADD, r1->out, c2->out, NULL, "s", c2->out->type);
	range(s->out, -2.5, 5);
	const float k = 0.7f;
	Value *kc = cst(g, "k", ty(DT_F32, 0), &k);
	Op *m = op2(g, OP_MUL, kc, s->out, NULL, "m", s->out->type);
	range(m->out, -1.75, 3.5);
	Op *f = op2(g, OP_FLATTEN, m->out, NULL, NULL, "f", ty(DT_F32, 2, 1, 48));
	range(f->out, -1.75, 3.5);
	Value *w3 = cst(g, "w3", ty(DT_F32, 2, 5, 48), fill(240, -0.2f, 0.2f, &seed));
	Op *d = op2(g, OP_DENSE, f->out, w3, NULL, "d", ty(DT_F32, 2, 1, 5));
	range(d->out, -3, 3);
	out(g, d->out);
	return g;
}

static void test_pow2(void **state)
{
	(void)state;
	Graph *g = mixed_graph();
	Options o = opts(true);
	run_passes(g, &o, 4);
	int nrq = 0;
	for (int i = 0; i < g->nops; i++) {
		Op *op = g->ops[i];
		for (int c = 0; c < op->a.nrq; c++, nrq++)
			assert_int_equal(op->a.mult[c], 1 << 30);
		for (int j = 0; j < op->nin; j++)
			if (op->in[j]->type.q)
				for (int c = 0; c < op->in[j]->type.q->n; c++)
					assert_true(pow2(op->in[j]->type.q->scale[c]));
		if (op->kind == OP_QUANTIZE || op->kind == OP_DEQUANTIZE)
			assert_true(pow2(op->a.q.scale[0]));
	}
	/* c1: 3 channels, c2: 3, add: 3, mul: 1, dense: 5 */
	assert_int_equal(nrq, 15);
	/* x: 1.7/127 rounds up to 2^-6 */
	assert_true(find_op(g, OP_QUANTIZE, 0)->a.q.scale[0] == 0.015625);
}

/* Without pow2, the same graph: every op integer, relu fused, names kept. */
static void test_mixed_structure(void **state)
{
	(void)state;
	Graph *g = mixed_graph();
	Options o = opts(false);
	run_passes(g, &o, 4);
	const OpKind want[] = {OP_QUANTIZE, OP_QCONV2D, OP_QCONV2D, OP_QADD, OP_QMUL, OP_FLATTEN, OP_QDENSE,
			       OP_DEQUANTIZE};
	assert_int_equal(g->nops, 8);
	for (int i = 0; i < 8; i++)
		assert_int_equal(g->ops[i]->kind, want[i]);
	assert_string_equal(g->ops[1]->out->name, "r1");
	assert_int_equal(g->ops[1]->a.lo, 0);
	assert_string_equal(g->ops[2]->out->name, "c2");
	assert_int_equal(g->ops[2]->a.lo, -127);
	/* mul(k, s) was swapped so the activation comes first */
	assert_string_equal(g->ops[4]->in[0]->name, "s");
	assert_int_equal(g->ops[4]->in[1]->type.dt, DT_I8);
	assert_int_equal(((int8_t *)g->ops[4]->in[1]->data)[0], 127);
	assert_string_equal(g->outputs[0]->name, "d");
	/* running the quantize pass again changes nothing */
	pass_quantize(g, &o);
	pass_zeropoint(g, &o);
	pass_fixedpoint(g, &o);
	pass_fuse(g, &o);
	assert_int_equal(g->nops, 8);
	for (int i = 0; i < 8; i++)
		assert_int_equal(g->ops[i]->kind, want[i]);
	assert_string_equal(g->outputs[0]->name, "d");
}

/* qadd/qsub/qmul multipliers: for every pair of int8 operands the
   integer result is the correctly rounded real sum/product (within
   half a step, plus the 2^-20 of qadd's intermediate). */
static void binary_case(OpKind k, double sa, int za, double sb, int zb, double sy, int zy)
{
	arena_reset();
	Graph *g = graph_new("bin");
	Value *a = in_f32(g, "a", ty(DT_F32, 2, 1, 4), 0, 0);
	Value *b = value_new(V_CONST, "b", ty(DT_I8, 2, 1, 4), L0);
	a->type.dt = DT_I8, a->type.q = quant_tensor(sa, za);
	b->type.q = quant_tensor(sb, zb);
	Op *op = op2(g, k, a, b, NULL, "y", ty(DT_I8, 2, 1, 4));
	op->out->type.q = quant_tensor(sy, zy);
	op->a.lo = -128, op->a.hi = 127;
	Options o = {0};
	pass_fixedpoint(g, &o);
	assert_int_equal(op->a.nrq, k == OP_QMUL ? 1 : 3);
	for (int qa = -128; qa <= 127; qa += 3)
		for (int qb = -128; qb <= 127; qb += 5) {
			double ra = sa * (qa - za), rb = sb * (qb - zb);
			double real = k == OP_QADD ? ra + rb : k == OP_QSUB ? ra - rb : ra * rb;
			int32_t v;
			if (k == OP_QMUL) {
				v = q8_rq((qa - za) * (qb - zb), op->a.mult[0], op->a.shift[0]);
			} else {
				int32_t a1 = q8_rq((qa - za) * (1 << 20), op->a.mult[0], op->a.shift[0]);
				int32_t b1 = q8_rq((qb - zb) * (1 << 20), op->a.mult[1], op->a.shift[1]);
				v = q8_rq(k == OP_QADD ? a1 + b1 : a1 - b1, op->a.mult[2], op->a.shift[2]);
			}
			double want = real / sy;
			if (fabs(v - want) > 0.5 + 1e-4)
				fail_msg("%s %d, %d: %d, real %g", opinfo[k].name, qa, qb, v, want);
		}
}

static void test_binary_multipliers(void **state)
{
	(void)state;
	binary_case(OP_QADD, 0.02, 0, 0.005, 0, 0.03, 0);
	binary_case(OP_QADD, 0.01, -5, 0.04, 17, 0.05, 2);
	binary_case(OP_QSUB, 0.02, 3, 0.02, -3, 0.04, 0);
	binary_case(OP_QSUB, 1.0 / 127, 0, 3.0 / 127, 0, 4.0 / 127, 0);
	binary_case(OP_QMUL, 0.02, 0, 0.05, 0, 0.5, 0);
	binary_case(OP_QMUL, 0.1, 10, 0.01, -20, 2.5, 0);
}

/* add of a scalar -> relu6 -> clip(min=-1, max=2): the clamps go into qadd */
static void test_relu6_clip_fusion(void **state)
{
	(void)state;
	Graph *g = graph_new("r6");
	Value *x = in_f32(g, "x", ty(DT_F32, 2, 1, 4), -3, 3);
	const float half = 0.5f;
	Value *c = cst(g, "c", ty(DT_F32, 0), &half);
	Op *s = op2(g, OP_ADD, x, c, NULL, "s", ty(DT_F32, 2, 1, 4));
	range(s->out, -5, 5);
	Op *r = op2(g, OP_RELU6, s->out, NULL, NULL, "r", s->out->type);
	range(r->out, 0, 5);
	Op *cl = op2(g, OP_CLIP, r->out, NULL, NULL, "cl", s->out->type);
	cl->a.min = -1, cl->a.max = 2;
	range(cl->out, 0, 2);
	out(g, cl->out);
	Options o = {0};
	run_passes(g, &o, 4);
	assert_int_equal(g->nops, 3);
	Op *q = find_op(g, OP_QADD, 0);
	/* s takes the scale of the last clamp of the chain, clip's [0, 2]:
	   2/127; relu6 -> [0, 127], clip(-1, 2) -> [-64, 127]: together [0, 127] */
	assert_true(fabs(q->out->type.q->scale[0] - 2.0 / 127) < 1e-15);
	assert_int_equal(q->a.lo, 0);
	assert_int_equal(q->a.hi, 127);
	assert_string_equal(q->out->name, "cl.q");
	float xv[4] = {-3, 1, 3, 1.1f}, y[4];
	ref_run(g, xv, y);
	for (int i = 0; i < 4; i++) {
		double want = fmin(fmax(xv[i] + 0.5, 0), 2);
		/* input and output rounding (0.5 is exact at scale 0.5/127) */
		assert_true(fabs(y[i] - want) <= 3 / 254.0 + 2 / 254.0 + 1e-5);
	}
}

/* mul by a per-channel constant, then add/sub of one (what fold leaves of
   a batchnorm it cannot merge), and add alone: one depthwise qconv2d
   with exact per-channel scales; rank 2 goes through reshapes. */
static void affine_case(int rank, OpKind second, bool const_first)
{
	arena_reset();
	Graph *g = graph_new("aff");
	Type t = rank == 4 ? ty(DT_F32, 4, 1, 2, 2, 3) : ty(DT_F32, 2, 4, 3);
	Value *x = in_f32(g, "x", t, -2, 2);
	const float av[3] = {8, -0.05f, 1.5f}, bv[3] = {0.3f, -1, 2.5f};
	Value *ac = cst(g, "a", ty(DT_F32, 1, 3), av), *bc = cst(g, "b", ty(DT_F32, 1, 3), bv);
	Op *m = op2(g, OP_MUL, ac, x, NULL, "m", t);
	range(m->out, -16, 16);
	Op *s = const_first ? op2(g, second, bc, m->out, NULL, "s", t) : op2(g, second, m->out, bc, NULL, "s", t);
	range(s->out, -18, 18);
	Op *r = op2(g, OP_RELU, s->out, NULL, NULL, "r", t);
	range(r->out, 0, 18);
	out(g, r->out);
	Options o = {0};
	run_passes(g, &o, 4);
	assert_int_equal(count_ops(g, OP_QMUL) + count_ops(g, OP_QADD) + count_ops(g, OP_QSUB), 0);
	Op *c = find_op(g, OP_QCONV2D, 0);
	assert_non_null(c);
	assert_int_equal(c->a.groups, 3);
	assert_int_equal(c->a.nrq, 3);
	assert_int_equal(g->nops, rank == 4 ? 3 : 6);
	if (rank == 4)
		assert_int_equal(c->a.lo, 0);
	float xv[12] = {-2, -1, 0, 1, 2, 0.5f, -0.5f, 1.5f, -1.5f, 0.25f, 0.75f, -0.75f}, y[12];
	ref_run(g, xv, y);
	for (int i = 0; i < 12; i++) {
		int ch = i % 3;
		double ax = xv[i] * av[ch];
		double want = second == OP_ADD ? ax + bv[ch] : const_first ? bv[ch] - ax : ax - bv[ch];
		want = fmin(fmax(want, 0), 18);
		double tol = fabs(av[ch]) * 2.0 / 254 + 18.0 / 254 + 1e-5;
		if (fabs(y[i] - want) > tol)
			fail_msg("rank %d %s%s elem %d: %g want %g", rank, opinfo[second].name,
				 const_first ? " (const first)" : "", i, y[i], want);
	}
}

static void test_channel_affine(void **state)
{
	(void)state;
	for (int rank = 2; rank <= 4; rank += 2) {
		affine_case(rank, OP_ADD, false);
		affine_case(rank, OP_ADD, true);
		affine_case(rank, OP_SUB, false);
		affine_case(rank, OP_SUB, true);
	}
}

/* The seed's QDQ matmul (conformance model seed_matmul_qdq). */
static void test_seed_qdq(void **state)
{
	(void)state;
	Graph *g = graph_new("seed");
	Value *b = in_f32(g, "b", ty(DT_F32, 2, 1, 2), 0, 0);
	double s1 = 0.007874015748031496, s2 = 0.015748031496062992, s3 = 0.023622047244094488;
	Op *bq = op2(g, OP_QUANTIZE, b, NULL, NULL, "bq", ty(DT_I8, 2, 1, 2));
	bq->a.q = *quant_tensor(s1, 0);
	Op *bd = op2(g, OP_DEQUANTIZE, bq->out, NULL, NULL, "bd", ty(DT_F32, 2, 1, 2));
	bd->a.q = *quant_tensor(s1, 0);
	/* fold has turned quantize(@A) into an int8 constant */
	const int8_t qa[4] = {-98, 14, -17, 41};
	Value *aq = cst(g, "Aq", ty(DT_I8, 2, 2, 2), qa);
	Op *ad = op2(g, OP_DEQUANTIZE, aq, NULL, NULL, "Ad", ty(DT_F32, 2, 2, 2));
	ad->a.q = *quant_tensor(s2, 0);
	Op *y = op2(g, OP_DENSE, bd->out, ad->out, NULL, "y", ty(DT_F32, 2, 1, 2));
	Op *yq = op2(g, OP_QUANTIZE, y->out, NULL, NULL, "yq", ty(DT_I8, 2, 1, 2));
	yq->a.q = *quant_tensor(s3, 0);
	Op *yd = op2(g, OP_DEQUANTIZE, yq->out, NULL, NULL, "yd", ty(DT_F32, 2, 1, 2));
	yd->a.q = *quant_tensor(s3, 0);
	out(g, yd->out);
	Options o = {0};
	run_passes(g, &o, 4);
	assert_int_equal(g->nops, 3);
	Op *d = g->ops[1];
	assert_int_equal(d->kind, OP_QDENSE);
	assert_ptr_equal(d->in[1], aq); /* the QDQ weights are used as they are */
	assert_int_equal(d->a.lo, -128); /* QDQ: the dtype's whole range */
	assert_string_equal(g->outputs[0]->name, "yd");
	float x[2] = {0.35f, -0.51f}, out2[2];
	ref_run(g, x, out2);
	assert_float_equal(out2[0], -27 * s3, 1e-7);
	assert_float_equal(out2[1], -18 * s3, 1e-7);
}

/* u8 QDQ (conformance qdq_u8): i8 with zero point 0, same results */
static void test_u8_qdq(void **state)
{
	(void)state;
	Graph *g = graph_new("u8");
	Value *x = in_f32(g, "x", ty(DT_F32, 2, 1, 8), 0, 0);
	Op *q = op2(g, OP_QUANTIZE, x, NULL, NULL, "q", ty(DT_U8, 2, 1, 8));
	q->a.q = *quant_tensor(0.02, 128);
	q->a.dtype = DT_U8;
	Op *d = op2(g, OP_DEQUANTIZE, q->out, NULL, NULL, "y", ty(DT_F32, 2, 1, 8));
	d->a.q = *quant_tensor(0.02, 128);
	out(g, d->out);
	Options o = {0};
	run_passes(g, &o, 4);
	assert_int_equal(g->nops, 2);
	assert_int_equal(g->ops[0]->a.dtype, DT_I8);
	assert_int_equal(g->ops[0]->a.q.zp[0], 0);
	assert_int_equal(g->ops[1]->a.q.zp[0], 0);
	float xv[8] = {-3, -2.56f, -2.55f, -0.011f, 0.01f, 0.03f, 2.54f, 9}, y[8];
	ref_run(g, xv, y);
	for (int i = 0; i < 8; i++) {
		double u = rint(xv[i] / 0.02) + 128;
		u = u < 0 ? 0 : u > 255 ? 255 : u;
		assert_float_equal(y[i], (float)(0.02 * (u - 128)), 1e-7);
	}
}

/* concat of two branches with other scales: requantize where they differ */
static void test_concat(void **state)
{
	(void)state;
	Graph *g = graph_new("cat");
	Value *x = in_f32(g, "x", ty(DT_F32, 2, 1, 3), -2, 2);
	const float k[1] = {2};
	Value *kc = cst(g, "k", ty(DT_F32, 0), k);
	Op *m = op2(g, OP_MUL, x, kc, NULL, "m", ty(DT_F32, 2, 1, 3));
	range(m->out, -4, 4);
	Op *cat = op2(g, OP_CONCAT, x, m->out, NULL, "cat", ty(DT_F32, 2, 1, 6));
	range(cat->out, -4, 4);
	out(g, cat->out);
	Options o = {0};
	run_passes(g, &o, 4);
	/* x (2/127) needs a requantize to 4/127; m already has it */
	assert_int_equal(count_ops(g, OP_REQUANTIZE), 1);
	Op *c = find_op(g, OP_CONCAT, 0);
	assert_int_equal(c->in[0]->def->kind, OP_REQUANTIZE);
	assert_ptr_equal(c->in[1]->def->kind == OP_QMUL ? c->in[1] : NULL, c->in[1]);
	assert_true(quant_equal(c->in[0]->type.q, c->out->type.q));
	assert_true(quant_equal(c->in[1]->type.q, c->out->type.q));
}

/* batchnorm left by fold: a depthwise 1x1 qconv2d (rank 4) or one
   between reshapes (rank 2); results within the rounding bound */
static void bn_case(int rank)
{
	arena_reset();
	Graph *g = graph_new("bn");
	Type t = rank == 4 ? ty(DT_F32, 4, 1, 2, 2, 3) : ty(DT_F32, 2, 2, 3);
	Value *x = in_f32(g, "x", t, -2, 2);
	const float ga[3] = {1.5f, -0.5f, 0}, be[3] = {0.1f, 0.2f, -0.3f}, mu[3] = {0.5f, -1, 0},
		    va[3] = {4, 0.25f, 1};
	Value *in[5] = {x, cst(g, "g", ty(DT_F32, 1, 3), ga), cst(g, "be", ty(DT_F32, 1, 3), be),
			cst(g, "mu", ty(DT_F32, 1, 3), mu), cst(g, "va", ty(DT_F32, 1, 3), va)};
	Op *bn = op_new(g, OP_BATCHNORM, in, 5, "y", L0);
	bn->out->type = t;
	bn->a.epsilon = 0;
	graph_append(g, bn);
	range(bn->out, -3, 3);
	out(g, bn->out);
	Options o = {0};
	run_passes(g, &o, 4);
	Op *c = find_op(g, OP_QCONV2D, 0);
	assert_non_null(c);
	assert_int_equal(c->a.groups, 3);
	assert_int_equal(count_ops(g, OP_RESHAPE), rank == 4 ? 0 : 2);
	float xv[12] = {-2, -1, 0, 1, 2, 0.5f, -0.5f, 1.5f, -1.5f, 0.25f, 0.75f, -0.75f}, y[12];
	ref_run(g, xv, y);
	for (int i = 0; i < (int)type_numel(&t); i++) {
		int ch = i % 3;
		double a = ga[ch] / sqrt(va[ch]), want = (xv[i] - mu[ch]) * a + be[ch];
		want = fmin(fmax(want, -3), 3);
		double tol = fabs(a) * 2.0 / 254 + 3.0 / 254 + 1e-5;
		if (fabs(y[i] - want) > tol)
			fail_msg("rank %d elem %d: %g want %g", rank, i, y[i], want);
	}
}

static void test_batchnorm(void **state)
{
	(void)state;
	bn_case(4);
	bn_case(2);
}

/* softmax: float after a dequantize; a quantize at 1/127 when integer
   ops read it; a trailing softmax is the output in float */
static void test_softmax(void **state)
{
	(void)state;
	uint32_t seed = 3;
	Graph *g = graph_new("sm");
	Value *x = in_f32(g, "x", ty(DT_F32, 2, 1, 4), -1, 1);
	Value *w = cst(g, "w", ty(DT_F32, 2, 4, 4), fill(16, -1, 1, &seed));
	Op *d = op2(g, OP_DENSE, x, w, NULL, "d", ty(DT_F32, 2, 1, 4));
	range(d->out, -4, 4);
	Op *s = op2(g, OP_SOFTMAX, d->out, NULL, NULL, "s", d->out->type);
	range(s->out, 0, 1);
	Value *w2 = cst(g, "w2", ty(DT_F32, 2, 3, 4), fill(12, -1, 1, &seed));
	Op *d2 = op2(g, OP_DENSE, s->out, w2, NULL, "d2", ty(DT_F32, 2, 1, 3));
	range(d2->out, -2, 2);
	Op *s2 = op2(g, OP_SOFTMAX, d2->out, NULL, NULL, "p", d2->out->type);
	range(s2->out, 0, 1);
	out(g, s2->out);
	Options o = {0};
	run_passes(g, &o, 4);
	const OpKind want[] = {OP_QUANTIZE, OP_QDENSE, OP_DEQUANTIZE, OP_SOFTMAX, OP_QUANTIZE, OP_QDENSE,
			       OP_DEQUANTIZE, OP_SOFTMAX};
	assert_int_equal(g->nops, 8);
	for (int i = 0; i < 8; i++)
		assert_int_equal(g->ops[i]->kind, want[i]);
	assert_true(fabs(g->ops[4]->a.q.scale[0] - 1.0 / 127) < 1e-15);
	assert_ptr_equal(g->outputs[0], g->ops[7]->out);
	assert_string_equal(g->outputs[0]->name, "p");
	assert_int_equal(g->outputs[0]->type.dt, DT_F32);
}

/* no range and no QDQ: a clear error at the value */
static void test_no_range(void **state)
{
	(void)state;
	Graph *g = graph_new("nr");
	Value *x = in_f32(g, "x", ty(DT_F32, 2, 1, 2), 0, 0);
	Op *r = op2(g, OP_RELU, x, NULL, NULL, "r", x->type);
	out(g, r->out);
	Options o = {0};
	jmp_buf jb;
	err_jmp = &jb;
	if (setjmp(jb) == 0) {
		pass_quantize(g, &o);
		err_jmp = NULL;
		fail_msg("no error");
	}
	err_jmp = NULL;
	assert_non_null(strstr(err_msg, "%x has no calibrated range"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pow2),
		cmocka_unit_test(test_mixed_structure),
		cmocka_unit_test(test_binary_multipliers),
		cmocka_unit_test(test_relu6_clip_fusion),
		cmocka_unit_test(test_channel_affine),
		cmocka_unit_test(test_seed_qdq),
		cmocka_unit_test(test_u8_qdq),
		cmocka_unit_test(test_concat),
		cmocka_unit_test(test_batchnorm),
		cmocka_unit_test(test_softmax),
		cmocka_unit_test(test_no_range),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
