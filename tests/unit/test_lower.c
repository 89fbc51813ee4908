/* Lowering, the memory plan and the interpreter on small graphs built by
   hand (types set by hand, no inference), checked against hand values. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "codegen/lower.h"

static Loc here = {"test", 1, 1};

static Type ty(Dtype dt, int rank, const int64_t *dims, Quant *q)
{
	Type t = {0};
	t.dt = dt;
	t.rank = rank;
	for (int i = 0; i < rank; i++)
		t.dims[i] = dims[i];
	t.q = q;
	return t;
}
#define T(dt, q, ...) ty(dt, (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__}, q)
#define T0(dt) ty(dt, 0, NULL, NULL)

static Value *input(Graph *g, const char *name, Type t)
{
	Value *v = value_new(V_INPUT, name, t, here);
	PUSH(g->inputs, g->ninputs) = v;
	return v;
}

static Value *konst(Graph *g, const char *name, Type t, const void *data, size_t bytes)
{
	void *d = alloc(bytes);
	memcpy(d, data, bytes);
	return graph_add_const(g, name, t, d, here);
}

static Op *node(Graph *g, OpKind k, Value **in, int nin, const char *name, Type out)
{
	Op *op = op_new(g, k, in, nin, name, here);
	op->out->type = out;
	graph_append(g, op);
	return op;
}
#define NODE(g, k, name, out, ...) node(g, k, (Value *[]){__VA_ARGS__}, (int)(sizeof((Value *[]){__VA_ARGS__}) / sizeof(Value *)), name, out)

static void output(Graph *g, Value *v) { PUSH(g->outputs, g->noutputs) = v; }

/* fixed point by hand, as in test_kernels.c: frexp */
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

static void *arena_for(const Prog *p)
{
	size_t n = (size_t)(p->arena_size + 64);
	void *a = aligned_alloc(64, (n + 63) & ~(size_t)63);
	memset(a, 0x5a, n); /* garbage: nothing may rely on a zeroed arena */
	return a;
}

/* The course's matrix example as a graph: b = [0.35, -0.51] quantized
   with scale 1/127 is [44, -65]; A = [[-98, 14], [-17, 41]] with scale
   2/127; the product requantized to scale 3/127 is [-27, -18]. */
static Graph *course_graph(void)
{
	Graph *g = graph_new("course");
	Value *b = input(g, "b", T(DT_F32, NULL, 1, 2));
	Op *q = NODE(g, OP_QUANTIZE, "bq", T(DT_I8, quant_tensor(1.0 / 127, 0), 1, 2), b);
	q->a.q = *quant_tensor(1.0 / 127, 0);
	int8_t A[4] = {-98, 14, -17, 41};
	int32_t bias[2] = {0, 0};
	Value *w = konst(g, "A", T(DT_I8, quant_tensor(2.0 / 127, 0), 2, 2), A, sizeof A);
	Value *bb = konst(g, "bias", T(DT_I32, NULL, 2), bias, sizeof bias);
	Op *d = NODE(g, OP_QDENSE, "y", T(DT_I8, quant_tensor(3.0 / 127, 0), 1, 2), q->out, w, bb);
	d->a.nrq = 1;
	d->a.mult = alloc(sizeof(int32_t));
	d->a.shift = alloc(sizeof(int32_t));
	qm((2.0 / 127) * (1.0 / 127) / (3.0 / 127), d->a.mult, d->a.shift);
	Op *dq = NODE(g, OP_DEQUANTIZE, "yd", T(DT_F32, NULL, 1, 2), d->out);
	dq->a.q = *quant_tensor(3.0 / 127, 0);
	output(g, dq->out);
	return g;
}

static void test_course_graph(void **st)
{
	(void)st;
	Graph *g = course_graph();
	Prog *p = lower(g, target_find("ref"), "course", false);
	assert_int_equal(p->nsteps, 3);
	assert_string_equal(p->steps[0].kernel, "quantize");
	assert_string_equal(p->steps[1].kernel, "dense_i8");
	assert_string_equal(p->steps[2].kernel, "dequantize");
	assert_int_equal(p->steps[0].a.kind, ARG_INPUT);
	assert_int_equal(p->steps[2].y.kind, ARG_OUTPUT);
	assert_false(p->is_float);
	assert_int_equal(p->body_begin, 1);
	assert_int_equal(p->body_end, 2);
	assert_true(p->in_q[0].scale == 1.0 / 127 && p->in_q[0].zp == 0 && p->in_q[0].dt == DT_I8);
	assert_true(p->out_q[0].scale == 3.0 / 127);
	/* two tensors of 2 bytes, both live at the dense step */
	assert_int_equal(p->arena_size, 128);
	assert_int_equal(p->arena_lower_bound, 4);
	assert_int_equal(p->weight_bytes, 4 + 8 + 4 + 4);
	assert_int_equal(p->in_q[0].off % 64, 0);
	assert_true(p->in_q[0].off != p->out_q[0].off);

	float x[2] = {0.35f, -0.51f}, y[2];
	const float *in[1] = {x};
	float *out[1] = {y};
	void *arena = arena_for(p);
	prog_run(p, in, out, arena);
	assert_true(y[0] == (float)(3.0 / 127) * -27.0f);
	assert_true(y[1] == (float)(3.0 / 127) * -18.0f);

	/* the int8 entry point: the body alone on quantized data in the arena */
	int8_t *qi = (int8_t *)arena + p->in_q[0].off, *qo = (int8_t *)arena + p->out_q[0].off;
	qi[0] = 44, qi[1] = -65;
	qo[0] = qo[1] = 0;
	Prog body = *p;
	body.steps += p->body_begin;
	body.nsteps = p->body_end - p->body_begin;
	prog_run(&body, NULL, NULL, arena);
	assert_int_equal(qo[0], -27);
	assert_int_equal(qo[1], -18);
	free(arena);
}

static void test_keep_all_and_samples(void **st)
{
	(void)st;
	Graph *g = course_graph();
	Prog *p = lower(g, target_find("ref"), "course", true);
	float x[2] = {0.35f, -0.51f}, y[2];
	const float *in[1] = {x};
	float *out[1] = {y};
	void *arena = arena_for(p);
	prog_run(p, in, out, arena);
	Value *bq = graph_find(g, "bq", false), *yv = graph_find(g, "y", false), *bv = graph_find(g, "b", false);
	int8_t *q = prog_tensor(p, arena, bq), *r = prog_tensor(p, arena, yv);
	float *xin = prog_tensor(p, arena, bv);
	assert_non_null(q);
	assert_int_equal(q[0], 44);
	assert_int_equal(q[1], -65);
	assert_int_equal(r[0], -27);
	assert_int_equal(r[1], -18);
	assert_true(xin[0] == 0.35f && xin[1] == -0.51f);
	assert_ptr_equal(prog_tensor(p, arena, graph_find(g, "A", true)), graph_find(g, "A", true)->data);
	/* every value has its own bytes */
	assert_true(p->val_off[bq->id] != p->val_off[yv->id] && p->val_off[bv->id] != p->val_off[bq->id]);
	free(arena);

	/* three samples: b, -b, 0 give [-27, -18], [27, 18] (the same sums
	   negated; 27.41 and 17.92 round to 27 and 18), [0, 0] */
	float xs[6] = {0.35f, -0.51f, -0.35f, 0.51f, 0, 0};
	Prog *pp = lower(course_graph(), target_find("ref"), "course", false);
	float *ys = run_samples(NULL, pp, xs, 3);
	float s = (float)(3.0 / 127);
	float want[6] = {s * -27, s * -18, s * 27, s * 18, 0, 0};
	for (int i = 0; i < 6; i++)
		assert_true(ys[i] == want[i]);
}

/* float graph: outputs computed in place, aliases and repeats copied */
static void test_float_outputs_and_aliases(void **st)
{
	(void)st;
	Graph *g = graph_new("f");
	Value *x = input(g, "x", T(DT_F32, NULL, 1, 2, 2, 2));
	Op *r = NODE(g, OP_RELU, "r", T(DT_F32, NULL, 1, 2, 2, 2), x);
	Op *f = NODE(g, OP_FLATTEN, "f", T(DT_F32, NULL, 1, 8), r->out);
	float two = 2;
	Value *c = konst(g, "two", T0(DT_F32), &two, sizeof two);
	Op *m = NODE(g, OP_MUL, "m", T(DT_F32, NULL, 1, 2, 2, 2), r->out, c);
	output(g, f->out);
	output(g, m->out);
	output(g, r->out);
	output(g, x);
	Prog *p = lower(g, target_find("ref"), "f", false);
	assert_true(p->is_float);
	assert_int_equal(p->arena_size, 0); /* everything lives in the caller's buffers */
	assert_int_equal(p->nsteps, 4);      /* relu, mul, 2 copies */
	assert_int_equal(p->steps[0].y.kind, ARG_OUTPUT);
	assert_int_equal(p->steps[0].y.idx, 2);
	assert_int_equal(p->steps[1].a.kind, ARG_OUTPUT);
	assert_int_equal(p->steps[1].b.kind, ARG_BLOB);
	assert_int_equal(p->steps[1].p.i[Q8_BMODE], 2);

	float xv[8] = {-1, 2, -3, 4, 5, -6, 7, -8}, o0[8], o1[8], o2[8], o3[8];
	const float *in[1] = {xv};
	float *out[4] = {o0, o1, o2, o3};
	prog_run(p, in, out, NULL);
	float rr[8] = {0, 2, 0, 4, 5, 0, 7, 0};
	for (int i = 0; i < 8; i++) {
		assert_true(o0[i] == rr[i] && o2[i] == rr[i]);
		assert_true(o1[i] == 2 * rr[i]);
		assert_true(o3[i] == xv[i]);
	}
}

/* concat of an input, a computed value and the input again (the
   conformance model 'concat'), and a batchnorm lowered to affine */
static void test_concat_batchnorm(void **st)
{
	(void)st;
	Graph *g = graph_new("c");
	Value *x = input(g, "x", T(DT_F32, NULL, 1, 2));
	Op *r = NODE(g, OP_RELU, "a", T(DT_F32, NULL, 1, 2), x);
	Op *cc = NODE(g, OP_CONCAT, "y", T(DT_F32, NULL, 1, 6), x, r->out, x);
	float gm[2] = {2, 0.5f}, bt[2] = {0.1f, -1}, mn[2] = {0.5f, 1}, vr[2] = {3, 0.25f};
	Value *cg = konst(g, "g", T(DT_F32, NULL, 2), gm, 8), *cb = konst(g, "be", T(DT_F32, NULL, 2), bt, 8);
	Value *cm = konst(g, "m", T(DT_F32, NULL, 2), mn, 8), *cv = konst(g, "v", T(DT_F32, NULL, 2), vr, 8);
	Op *bn = NODE(g, OP_BATCHNORM, "bn", T(DT_F32, NULL, 1, 2), r->out, cg, cb, cm, cv);
	bn->a.epsilon = 1;
	output(g, cc->out);
	output(g, bn->out);
	Prog *p = lower(g, target_find("ref"), "c", false);
	assert_int_equal(p->nsteps, 5); /* relu, 3 copies, affine */
	assert_int_equal(p->weight_bytes, 16); /* scale and shift, not the four vectors */
	float xv[2] = {-1.5f, 2}, y[6], b[2];
	const float *in[1] = {xv};
	float *out[2] = {y, b};
	void *arena = arena_for(p);
	prog_run(p, in, out, arena);
	float want[6] = {-1.5f, 2, 0, 2, -1.5f, 2};
	assert_memory_equal(y, want, sizeof want);
	/* relu(x) = [0, 2]: (0 - 0.5) / sqrt(3 + 1) * 2 + 0.1 = -0.4;
	   (2 - 1) / sqrt(0.25 + 1) * 0.5 - 1 = -0.5527864045 */
	assert_true(fabs(b[0] - -0.4) < 1e-6);
	assert_true(fabs(b[1] - -0.5527864045) < 1e-6);
	free(arena);
}

/* int8 body with a float tail (softmax) and two outputs, written in an
   order that interleaves the tail with the body: the plan reorders. */
static void test_tail_order(void **st)
{
	(void)st;
	Graph *g = graph_new("t");
	Value *x = input(g, "x", T(DT_F32, NULL, 1, 4));
	Quant *qp = quant_tensor(0.1, 0);
	Op *q = NODE(g, OP_QUANTIZE, "q", T(DT_I8, qp, 1, 4), x);
	q->a.q = *qp;
	Op *d1 = NODE(g, OP_DEQUANTIZE, "d1", T(DT_F32, NULL, 1, 4), q->out);
	d1->a.q = *qp;
	Op *c = NODE(g, OP_CLIP, "c", T(DT_I8, qp, 1, 4), q->out);
	c->a.min = -5, c->a.max = 20;
	Op *d2 = NODE(g, OP_DEQUANTIZE, "d2", T(DT_F32, NULL, 1, 4), c->out);
	d2->a.q = *qp;
	Op *s = NODE(g, OP_SOFTMAX, "s", T(DT_F32, NULL, 1, 4), d2->out);
	output(g, s->out);
	output(g, d1->out);
	Prog *p = lower(g, target_find("ref"), "t", false);
	assert_false(p->is_float);
	assert_int_equal(p->nsteps, 5);
	assert_string_equal(p->steps[1].kernel, "clip_i8");
	assert_int_equal(p->body_begin, 1);
	assert_int_equal(p->body_end, 2);
	assert_int_equal(p->steps[1].p.i[Q8_LO], -5);
	assert_int_equal(p->steps[1].p.i[Q8_HI], 20);
	assert_int_equal(p->out_q[0].off, p->val_off[c->out->id]);
	assert_int_equal(p->out_q[1].off, p->val_off[q->out->id]);
	/* x / 0.1 = 3, -8.6, 24.3, 10.4 -> 3, -9, 24, 10; clipped 3, -5, 20, 10 */
	float xv[4] = {0.3f, -0.86f, 2.43f, 1.04f}, y[4], yd[4];
	const float *in[1] = {xv};
	float *out[2] = {y, yd};
	void *arena = arena_for(p);
	prog_run(p, in, out, arena);
	int qs[4] = {3, -9, 24, 10}, cs[4] = {3, -5, 20, 10};
	double e[4], sum = 0;
	for (int i = 0; i < 4; i++)
		sum += e[i] = exp(0.1 * cs[i]);
	for (int i = 0; i < 4; i++) {
		assert_true(yd[i] == 0.1f * (float)qs[i]);
		assert_true(fabs(y[i] - e[i] / sum) < 1e-6);
	}
	free(arena);
}

/* the plan, with sizes chosen so the greedy placement is known by hand:
     op0 a = relu(x)        64 B, live [0, 4] (x is an input: not in place)
     op1 b = dense(x, W1)  256 B, live [1, 3] with c
     op2 c = relu(b)       in place over b, its last reader
     op3 e = dense(c, W2)   64 B, live [3, 4]
     op4 f = add(e, a)      an output: the caller's buffer
   largest first: b at 0, a at 256 (overlaps b), e at 320 (overlaps
   both); arena 384; the live sum peaks at t = 3: 256 + 64 + 64. */
static void test_plan_greedy(void **st)
{
	(void)st;
	Graph *g = graph_new("plan");
	Value *x = input(g, "x", T(DT_F32, NULL, 1, 16));
	float w1[64 * 16], w2[16 * 64];
	for (int i = 0; i < 64 * 16; i++)
		w1[i] = (float)((i % 7) - 3) / 8, w2[i] = (float)((i % 5) - 2) / 4;
	Value *W1 = konst(g, "w1", T(DT_F32, NULL, 64, 16), w1, sizeof w1);
	Value *W2 = konst(g, "w2", T(DT_F32, NULL, 16, 64), w2, sizeof w2);
	Op *a = NODE(g, OP_RELU, "a", T(DT_F32, NULL, 1, 16), x);
	Op *b = NODE(g, OP_DENSE, "b", T(DT_F32, NULL, 1, 64), x, W1);
	Op *c = NODE(g, OP_RELU, "c", T(DT_F32, NULL, 1, 64), b->out);
	Op *e = NODE(g, OP_DENSE, "e", T(DT_F32, NULL, 1, 16), c->out, W2);
	Op *f = NODE(g, OP_ADD, "f", T(DT_F32, NULL, 1, 16), e->out, a->out);
	output(g, f->out);
	pass_plan(g, NULL);
	assert_true(g->planned);
	assert_int_equal(b->out->off, 0);
	assert_int_equal(c->out->off, 0);
	assert_int_equal(a->out->off, 256);
	assert_int_equal(e->out->off, 320);
	assert_int_equal(f->out->off, -1);
	assert_int_equal(x->off, -1);
	assert_int_equal(g->arena_size, 384);
	assert_int_equal(g->arena_lower_bound, 384);

	Prog *p = lower(g, target_find("ref"), "plan", false);
	assert_int_equal(p->arena_size, 384);
	float xv[16], y[16];
	for (int i = 0; i < 16; i++)
		xv[i] = (float)(i - 8) / 4;
	const float *in[1] = {xv};
	float *out[1] = {y};
	void *arena = arena_for(p);
	prog_run(p, in, out, arena);
	/* the same arithmetic directly, in double */
	double bb[64], ee[16];
	for (int o = 0; o < 64; o++) {
		bb[o] = 0;
		for (int k = 0; k < 16; k++)
			bb[o] += (double)xv[k] * w1[o * 16 + k];
		bb[o] = bb[o] > 0 ? bb[o] : 0;
	}
	for (int o = 0; o < 16; o++) {
		ee[o] = 0;
		for (int k = 0; k < 64; k++)
			ee[o] += bb[k] * w2[o * 64 + k];
		double want = ee[o] + (xv[o] > 0 ? xv[o] : 0);
		assert_true(fabs(y[o] - want) < 1e-4 * (1 + fabs(want)));
	}
	free(arena);
}

/* in place only over an operand's last reader, along a chain:
     op0 d = dense(x, W1)  256 B, read again by op3: relu(d) not in place
     op1 r = relu(d)       256 B
     op2 u = relu(r)       in place over r
     op3 s = add(u, d)     in place over r (u's bytes), operand 0
     op4 y = dense(s, W2)  an output
   d at 0 live [0, 3], r at 256 live [1, 4]: arena 512.  Then the same
   arithmetic in double: the interpreter must not have read a clobbered
   operand. */
static void test_plan_in_place(void **st)
{
	(void)st;
	Graph *g = graph_new("inplace");
	Value *x = input(g, "x", T(DT_F32, NULL, 1, 16));
	float w1[64 * 16], w2[8 * 64];
	for (int i = 0; i < 64 * 16; i++)
		w1[i] = (float)((i % 9) - 4) / 8;
	for (int i = 0; i < 8 * 64; i++)
		w2[i] = (float)((i % 5) - 2) / 4;
	Value *W1 = konst(g, "w1", T(DT_F32, NULL, 64, 16), w1, sizeof w1);
	Value *W2 = konst(g, "w2", T(DT_F32, NULL, 8, 64), w2, sizeof w2);
	Op *d = NODE(g, OP_DENSE, "d", T(DT_F32, NULL, 1, 64), x, W1);
	Op *r = NODE(g, OP_RELU, "r", T(DT_F32, NULL, 1, 64), d->out);
	Op *u = NODE(g, OP_RELU, "u", T(DT_F32, NULL, 1, 64), r->out);
	Op *s = NODE(g, OP_ADD, "s", T(DT_F32, NULL, 1, 64), u->out, d->out);
	Op *y = NODE(g, OP_DENSE, "y", T(DT_F32, NULL, 1, 8), s->out, W2);
	output(g, y->out);
	pass_plan(g, NULL);
	assert_int_equal(d->out->off, 0);
	assert_int_equal(r->out->off, 256);
	assert_int_equal(u->out->off, 256);
	assert_int_equal(s->out->off, 256);
	assert_int_equal(y->out->off, -1);
	assert_int_equal(g->arena_size, 512);
	assert_int_equal(g->arena_lower_bound, 512);

	Prog *p = lower(g, target_find("ref"), "inplace", false);
	float xv[16], yv[8];
	for (int i = 0; i < 16; i++)
		xv[i] = (float)(i - 7) / 4;
	const float *in[1] = {xv};
	float *out[1] = {yv};
	void *arena = arena_for(p);
	prog_run(p, in, out, arena);
	double dd[64], ss[64];
	for (int o = 0; o < 64; o++) {
		dd[o] = 0;
		for (int k = 0; k < 16; k++)
			dd[o] += (double)xv[k] * w1[o * 16 + k];
		ss[o] = (dd[o] > 0 ? dd[o] : 0) + dd[o];
	}
	for (int o = 0; o < 8; o++) {
		double want = 0;
		for (int k = 0; k < 64; k++)
			want += ss[k] * w2[o * 64 + k];
		assert_true(fabs(yv[o] - want) < 1e-4 * (1 + fabs(want)));
	}
	free(arena);
}

/* reshape and flatten of an input straight to the output: one copy */
static void test_alias_input_to_output(void **st)
{
	(void)st;
	Graph *g = graph_new("rf");
	Value *x = input(g, "x", T(DT_F32, NULL, 1, 2, 3, 4));
	Op *r = NODE(g, OP_RESHAPE, "a", T(DT_F32, NULL, 1, 6, 4), x);
	Op *f = NODE(g, OP_FLATTEN, "y", T(DT_F32, NULL, 1, 24), r->out);
	output(g, f->out);
	Prog *p = lower(g, target_find("ref"), "rf", false);
	assert_int_equal(p->nsteps, 1);
	assert_string_equal(p->steps[0].kernel, "copy_slice");
	assert_int_equal(p->steps[0].a.kind, ARG_INPUT);
	assert_int_equal(p->arena_size, 0);
	float xv[24], y[24];
	for (int i = 0; i < 24; i++)
		xv[i] = (float)i * 0.5f;
	const float *in[1] = {xv};
	float *out[1] = {y};
	prog_run(p, in, out, NULL);
	assert_memory_equal(y, xv, sizeof y);
}

static void test_rejects(void **st)
{
	(void)st;
	/* a float conv whose bias is computed: a clear error naming the op */
	Graph *g = graph_new("bad");
	Value *x = input(g, "x", T(DT_F32, NULL, 1, 2, 2, 1));
	Value *bx = input(g, "bias", T(DT_F32, NULL, 1));
	float w = 1;
	Value *W = konst(g, "w", T(DT_F32, NULL, 1, 1, 1, 1), &w, sizeof w);
	Op *c = NODE(g, OP_CONV2D, "y", T(DT_F32, NULL, 1, 2, 2, 1), x, W, bx);
	output(g, c->out);
	jmp_buf jb;
	err_jmp = &jb;
	if (setjmp(jb) == 0) {
		lower(g, target_find("ref"), "bad", false);
		fail_msg("lower accepted a computed bias");
	}
	err_jmp = NULL;
	assert_non_null(strstr(err_msg, "conv2d %y"));
	assert_non_null(strstr(err_msg, "must be a constant"));

	/* an unfused qdense (no multipliers) is an internal error: exit 2 */
	pid_t pid = fork();
	if (pid == 0) {
		Graph *h = course_graph();
		for (int i = 0; i < h->nops; i++)
			if (h->ops[i]->kind == OP_QDENSE)
				h->ops[i]->a.nrq = 0;
		if (!freopen("/dev/null", "w", stderr))
			_exit(3);
		lower(h, target_find("ref"), "course", false);
		_exit(0);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 2);
}

static void test_targets(void **st)
{
	(void)st;
	const char *names[] = {"x86-64", "x86-64-avx2", "x86-64-avx512", "aarch64", "aarch64-dotprod", "riscv64", "riscv64-v",
	                       "cortex-m4", "cortex-m7", "cortex-m55", "riscv32", "riscv32-imac", "ref"};
	for (int i = 0; i < 13; i++) {
		const Target *t = target_find(names[i]);
		assert_non_null(t);
		assert_int_equal(t->kind, i);
		assert_string_equal(t->name, names[i]);
	}
	assert_null(target_find("x86"));
	assert_string_equal(target_find("aarch64-dotprod")->triple, "aarch64-unknown-linux-gnu");
	assert_string_equal(target_find("riscv64-v")->isa, "rvv");
	assert_non_null(strstr(target_find("riscv64-v")->features, "+v"));
	assert_string_equal(target_find("x86-64-avx512")->isa, "avx512");
	assert_string_equal(target_find("cortex-m4")->triple, "thumbv7em-none-eabihf");
	assert_string_equal(target_find("cortex-m55")->triple, "thumbv8.1m.main-none-eabihf");
	assert_string_equal(target_find("cortex-m55")->isa, "mve");
	assert_string_equal(target_find("riscv32")->triple, "riscv32-unknown-elf");
	assert_null(strstr(target_find("riscv32")->features, "+f"));
	assert_true(target_find("cortex-m7")->bare && !target_find("riscv64")->bare);
	assert_non_null(target_host());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_course_graph),
		cmocka_unit_test(test_keep_all_and_samples),
		cmocka_unit_test(test_float_outputs_and_aliases),
		cmocka_unit_test(test_concat_batchnorm),
		cmocka_unit_test(test_tail_order),
		cmocka_unit_test(test_plan_greedy),
		cmocka_unit_test(test_plan_in_place),
		cmocka_unit_test(test_alias_input_to_output),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_targets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
