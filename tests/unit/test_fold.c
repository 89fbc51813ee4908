/* The fold pass on hand-built graphs.  Every expectation is computed here
   independently: a direct double-precision conv2d/dense/batchnorm of the
   ORIGINAL graph, compared with the same direct conv2d of the folded
   weights; quantize results worked by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "ir.h"

/* ---- building graphs ---- */

static Type ty(Dtype dt, int rank, const int64_t *dims)
{
	Type t = {.dt = dt, .rank = rank};
	for (int i = 0; i < rank; i++)
		t.dims[i] = dims[i];
	return t;
}
#define T4(a, b, c, d) ty(DT_F32, 4, (int64_t[]){a, b, c, d})
#define T2(a, b) ty(DT_F32, 2, (int64_t[]){a, b})
#define T1(a) ty(DT_F32, 1, (int64_t[]){a})
#define T0 ty(DT_F32, 0, NULL)

static Loc noloc;

static Value *input(Graph *g, const char *name, Type t)
{
	Value *v = value_new(V_INPUT, name, t, noloc);
	PUSH(g->inputs, g->ninputs) = v;
	return v;
}

/* A constant with pseudo-random data in [-1, 1) (seeded), or given data. */
static unsigned seed = 12345;
static float rnd(void)
{
	seed = seed * 1103515245u + 12345u;
	return (float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static Value *cst(Graph *g, const char *name, Type t, const float *vals)
{
	int64_t n = type_numel(&t);
	float *d = alloc_array((size_t)n, sizeof *d);
	for (int64_t i = 0; i < n; i++)
		d[i] = vals ? vals[i] : rnd();
	return graph_add_const(g, name, t, d, noloc);
}

static Op *mk(Graph *g, OpKind k, Value **in, int nin, const char *name, Type out)
{
	Op *op = op_new(g, k, in, nin, name, noloc);
	op->out->type = out;
	graph_append(g, op);
	return op;
}

static void output(Graph *g, Value *v) { PUSH(g->outputs, g->noutputs) = v; }

static Options fopts = {.is_float = true};
static Options qopts = {.is_float = false};

/* ---- reference arithmetic, in double ---- */

typedef struct {
	int64_t sh, sw, pt, pl, groups;
} Conv;

/* NHWC conv2d with w [O, KH, KW, C/groups]; y sized [N, OH, OW, O]. */
static void conv_ref(const double *x, const int64_t *xd, const double *w, const int64_t *wd, const double *b,
                     Conv c, double *y, const int64_t *yd)
{
	int64_t O = wd[0], KH = wd[1], KW = wd[2], Cg = wd[3], Og = O / c.groups;
	for (int64_t n = 0; n < yd[0]; n++)
		for (int64_t oh = 0; oh < yd[1]; oh++)
			for (int64_t ow = 0; ow < yd[2]; ow++)
				for (int64_t o = 0; o < O; o++) {
					double acc = b ? b[o] : 0;
					for (int64_t kh = 0; kh < KH; kh++)
						for (int64_t kw = 0; kw < KW; kw++) {
							int64_t ih = oh * c.sh - c.pt + kh, iw = ow * c.sw - c.pl + kw;
							if (ih < 0 || iw < 0 || ih >= xd[1] || iw >= xd[2])
								continue;
							for (int64_t ci = 0; ci < Cg; ci++) {
								int64_t cin = o / Og * Cg + ci;
								acc += x[((n * xd[1] + ih) * xd[2] + iw) * xd[3] + cin] *
								       w[((o * KH + kh) * KW + kw) * Cg + ci];
							}
						}
					y[((n * yd[1] + oh) * yd[2] + ow) * O + o] = acc;
				}
}

static double *dbl(const Value *v)
{
	int64_t n = type_numel(&v->type);
	double *d = alloc_array((size_t)n, sizeof *d);
	for (int64_t i = 0; i < n; i++)
		d[i] = ((const float *)v->data)[i];
	return d;
}

static double *rnd_input(const Type *t)
{
	int64_t n = type_numel(t);
	double *d = alloc_array((size_t)n, sizeof *d);
	for (int64_t i = 0; i < n; i++)
		d[i] = 2 * rnd();
	return d;
}

static void close_rel(const double *a, const double *b, int64_t n, double tol)
{
	double scale = 0;
	for (int64_t i = 0; i < n; i++)
		scale = fmax(scale, fabs(b[i]));
	for (int64_t i = 0; i < n; i++)
		if (fabs(a[i] - b[i]) > tol * fmax(scale, 1e-30)) {
			print_error("element %lld: %.9g vs expected %.9g\n", (long long)i, a[i], b[i]);
			fail();
		}
}

/* The folded graph is one conv2d computing the graph's output from its
   input: run it with the reference conv on x. */
static double *run_folded_conv(Graph *g, const double *x)
{
	assert_int_equal(g->nops, 1);
	Op *op = g->ops[0];
	assert_int_equal(op->kind, OP_CONV2D);
	assert_ptr_equal(g->outputs[0], op->out);
	assert_ptr_equal(op->in[0], g->inputs[0]);
	const Type *yt = &op->out->type;
	double *y = alloc_array((size_t)type_numel(yt), sizeof *y);
	Conv c = {op->a.strides[0], op->a.strides[1], op->a.pads[0], op->a.pads[1], op->a.groups};
	conv_ref(x, g->inputs[0]->type.dims, dbl(op->in[1]), op->in[1]->type.dims, op->nin > 2 ? dbl(op->in[2]) : NULL,
	         c, y, yt->dims);
	return y;
}

static int count_kind(Graph *g, OpKind k)
{
	int n = 0;
	for (int i = 0; i < g->nops; i++)
		n += g->ops[i]->kind == k;
	return n;
}

/* ---- batchnorm ---- */

static const float gam[3] = {0.5f, -1.25f, 2.0f}, bet[3] = {0.1f, 0.0f, -0.7f};
static const float mea[3] = {0.3f, -0.2f, 1.5f}, var[3] = {0.25f, 2.0f, 0.01f};

static double bn_ref(double y, int c, double eps)
{
	return (y - mea[c]) / sqrt(var[c] + eps) * gam[c] + bet[c];
}

static void bn_after_conv(bool with_bias, bool is_float)
{
	arena_reset();
	Graph *g = graph_new("t");
	Value *x = input(g, "x", T4(1, 5, 6, 2));
	Value *w = cst(g, "w", T4(3, 3, 3, 2), NULL);
	Value *b = with_bias ? cst(g, "b", T1(3), NULL) : NULL;
	float wsave[54];
	const float *orig = w->data;
	memcpy(wsave, orig, sizeof wsave);
	Value *in[5] = {x, w, b};
	Op *conv = mk(g, OP_CONV2D, in, with_bias ? 3 : 2, "conv", T4(1, 3, 6, 3));
	conv->a.strides[0] = 2;
	conv->a.pads[0] = conv->a.pads[1] = conv->a.pads[2] = conv->a.pads[3] = 1;
	Value *bnin[5] = {conv->out, cst(g, "g", T1(3), gam), cst(g, "be", T1(3), bet), cst(g, "m", T1(3), mea),
	                  cst(g, "v", T1(3), var)};
	Op *bn = mk(g, OP_BATCHNORM, bnin, 5, "bn", T4(1, 3, 6, 3));
	bn->a.epsilon = 1e-3;
	output(g, bn->out);

	/* expected: batchnorm(conv(x)) with the original weights */
	double *xv = rnd_input(&x->type);
	int64_t yd[4] = {1, 3, 6, 3};
	double want[54];
	conv_ref(xv, x->type.dims, dbl(w), w->type.dims, b ? dbl(b) : NULL, (Conv){2, 1, 1, 1, 1}, want, yd);
	for (int i = 0; i < 54; i++)
		want[i] = bn_ref(want[i], i % 3, 1e-3);

	pass_fold(g, is_float ? &fopts : &qopts);
	double *got = run_folded_conv(g, xv);
	close_rel(got, want, 54, 1e-5);
	assert_string_equal(g->outputs[0]->name, "bn"); /* the result keeps its name */
	assert_int_equal(g->ops[0]->nin, 3);               /* a bias was made if missing */
	assert_memory_equal(wsave, orig, sizeof wsave); /* the original array is untouched */
}

static void test_bn_conv_bias(void **s) { (void)s; bn_after_conv(true, true); }
static void test_bn_conv_nobias(void **s) { (void)s; bn_after_conv(false, false); }

static void test_bn_dense(void **s)
{
	(void)s;
	arena_reset();
	Graph *g = graph_new("t");
	Value *x = input(g, "x", T2(2, 4));
	Value *w = cst(g, "w", T2(3, 4), NULL);
	Value *in[5] = {x, w};
	Op *d = mk(g, OP_DENSE, in, 2, "fc", T2(2, 3));
	Value *bnin[5] = {d->out, cst(g, "g", T1(3), gam), cst(g, "be", T1(3), bet), cst(g, "m", T1(3), mea),
	                  cst(g, "v", T1(3), var)};
	Op *bn = mk(g, OP_BATCHNORM, bnin, 5, "bn", T2(2, 3));
	output(g, bn->out);
	double *xv = rnd_input(&x->type), *wv = dbl(w), want[6];
	for (int n = 0; n < 2; n++)
		for (int o = 0; o < 3; o++) {
			double acc = 0;
			for (int k = 0; k < 4; k++)
				acc += xv[n * 4 + k] * wv[o * 4 + k];
			want[n * 3 + o] = bn_ref(acc, o, 1e-5);
		}
	pass_fold(g, &qopts);
	assert_int_equal(g->nops, 1);
	Op *op = g->ops[0];
	assert_int_equal(op->kind, OP_DENSE);
	assert_int_equal(op->nin, 3);
	double *w2 = dbl(op->in[1]), *b2 = dbl(op->in[2]), got[6];
	for (int n = 0; n < 2; n++)
		for (int o = 0; o < 3; o++) {
			double acc = b2[o];
			for (int k = 0; k < 4; k++)
				acc += xv[n * 4 + k] * w2[o * 4 + k];
			got[n * 3 + o] = acc;
		}
	close_rel(got, want, 6, 1e-5);
}

/* Two users of the conv: the batchnorm cannot go into it and becomes
   mul + add of constants; the value computed stays batchnorm's. */
static void test_bn_standalone(void **s)
{
	(void)s;
	arena_reset();
	Graph *g = graph_new("t");
	Value *x = input(g, "x", T4(1, 2, 2, 3));
	Value *bnin[5] = {x, cst(g, "g", T1(3), gam), cst(g, "be", T1(3), bet), cst(g, "m", T1(3), mea),
	                  cst(g, "v", T1(3), var)};
	Op *bn = mk(g, OP_BATCHNORM, bnin, 5, "bn", T4(1, 2, 2, 3));
	output(g, bn->out);
	pass_fold(g, &fopts);
	assert_int_equal(g->nops, 2);
	Op *mul = g->ops[0], *add = g->ops[1];
	assert_int_equal(mul->kind, OP_MUL);
	assert_int_equal(add->kind, OP_ADD);
	assert_ptr_equal(mul->in[0], x);
	assert_ptr_equal(add->in[0], mul->out);
	assert_ptr_equal(g->outputs[0], add->out);
	assert_string_equal(add->out->name, "bn");
	const float *sc = mul->in[1]->data, *sh = add->in[1]->data;
	for (int c = 0; c < 3; c++)
		for (double xv = -2; xv <= 2; xv += 0.5) {
			double got = (double)((float)xv * sc[c] + sh[c]), want = bn_ref(xv, c, 1e-5);
			assert_true(fabs(got - want) <= 1e-5 * fmax(1, fabs(want)));
		}
}

static void test_bn_shared_conv(void **s)
{
	(void)s;
	arena_reset();
	Graph *g = graph_new("t");
	Value *x = input(g, "x", T4(1, 3, 3, 1));
	Value *in[3] = {x, cst(g, "w", T4(3, 1, 1, 1), NULL)};
	Op *conv = mk(g, OP_CONV2D, in, 2, "conv", T4(1, 3, 3, 3));
	Value *bnin[5] = {conv->out, cst(g, "g", T1(3), gam), cst(g, "be", T1(3), bet), cst(g, "m", T1(3), mea),
	                  cst(g, "v", T1(3), var)};
	Op *bn = mk(g, OP_BATCHNORM, bnin, 5, "bn", T4(1, 3, 3, 3));
	Value *ain[2] = {bn->out, conv->out};
	Op *add = mk(g, OP_ADD, ain, 2, "sum", T4(1, 3, 3, 3));
	output(g, add->out);
	pass_fold(g, &fopts);
	assert_int_equal(count_kind(g, OP_BATCHNORM), 0);
	assert_int_equal(count_kind(g, OP_CONV2D), 1);
	assert_int_equal(count_kind(g, OP_MUL), 1);
	assert_int_equal(count_kind(g, OP_ADD), 2);
}

static void test_bn_bad_variance(void **s)
{
	(void)s;
	arena_reset();
	Graph *g = graph_new("t");
	Value *x = input(g, "x", T2(1, 3));
	const float bad[3] = {1, -1, 1};
	Value *bnin[5] = {x, cst(g, "g", T1(3), gam), cst(g, "be", T1(3), bet), cst(g, "m", T1(3), mea),
	                  cst(g, "v", T1(3), bad)};
	Op *bn = mk(g, OP_BATCHNORM, bnin, 5, "bn", T2(1, 3));
	output(g, bn->out);
	jmp_buf jb;
	err_jmp = &jb;
	int rc = setjmp(jb);
	if (rc == 0)
		pass_fold(g, &fopts);
	err_jmp = NULL;
	assert_int_equal(rc, 1);
	assert_non_null(strstr(err_msg, "batchnorm"));
	assert_non_null(strstr(err_msg, "channel 1"));
}

/* ---- mul / add / sub around a conv ---- */

/* conv(x) -> mul(@s[3]) -> sub(@c scalar): y = (conv(x)) * s - c */
static void test_scale_after(void **s)
{
	(void)s;
	arena_reset();
	Graph *g = graph_new("t");
	Value *x = input(g, "x", T4(1, 4, 4, 2));
	Value *w = cst(g, "w", T4(3, 2, 2, 2), NULL), *b = cst(g, "b", T1(3), NULL);
	Value *in[3] = {x, w, b};
	Op *conv = mk(g, OP_CONV2D, in, 3, "conv", T4(1, 3, 3, 3));
	const float sv[3] = {2.0f, -0.5f, 0.0f}, cv[1] = {0.75f};
	Value *min[2] = {cst(g, "s", T1(3), sv), conv->out};  /* constant first: mul commutes */
	Op *mul = mk(g, OP_MUL, min, 2, "m", T4(1, 3, 3, 3));
	Value *sin[2] = {mul->out, cst(g, "c", T0, cv)};
	Op *sub = mk(g, OP_SUB, sin, 2, "y", T4(1, 3, 3, 3));
	output(g, sub->out);
	double *xv = rnd_input(&x->type), want[27];
	int64_t yd[4] = {1, 3, 3, 3};
	conv_ref(xv, x->type.dims, dbl(w), w->type.dims, dbl(b), (Conv){1, 1, 0, 0, 1}, want, yd);
	for (int i = 0; i < 27; i++)
		want[i] = want[i] * sv[i % 3] - cv[0];
	pass_fold(g, &fopts);
	close_rel(run_folded_conv(g, xv), want, 27, 1e-5);
	assert_string_equal(g->outputs[0]->name, "y");
}

/* mul(x, @s[C]) before a grouped conv with padding: folded. */
static void test_mul_before_grouped(void **s)
{
	(void)s;
	arena_reset();
	Graph *g = graph_new("t");
	Value *x = input(g, "x", T4(1, 4, 4, 4));
	const float sv[4] = {1.5f, -2.0f, 0.0f, 0.25f};
	Value *min[2] = {x, cst(g, "s", T1(4), sv)};
	Op *mul = mk(g, OP_MUL, min, 2, "m", T4(1, 4, 4, 4));
	Value *w = cst(g, "w", T4(6, 3, 3, 2), NULL), *b = cst(g, "b", T1(6), NULL);
	Value *in[3] = {mul->out, w, b};
	Op *conv = mk(g, OP_CONV2D, in, 3, "conv", T4(1, 4, 4, 6));
	conv->a.groups = 2;
	conv->a.pads[0] = conv->a.pads[1] = conv->a.pads[2] = conv->a.pads[3] = 1;
	output(g, conv->out);
	double *xv = rnd_input(&x->type), xs[64], want[96];
	for (int i = 0; i < 64; i++)
		xs[i] = xv[i] * (double)sv[i % 4];
	int64_t yd[4] = {1, 4, 4, 6};
	conv_ref(xs, x->type.dims, dbl(w), w->type.dims, dbl(b), (Conv){1, 1, 1, 1, 2}, want, yd);
	pass_fold(g, &qopts);
	close_rel(run_folded_conv(g, xv), want, 96, 1e-5);
}

/* add/sub(x, @c) before a depthwise conv: folded without padding. */
static void test_add_before_depthwise(void **s)
{
	(void)s;
	arena_reset();
	Graph *g = graph_new("t");
	Value *x = input(g, "x", T4(1, 5, 5, 3));
	const float cv[3] = {0.5f, -1.0f, 2.0f}, sv[1] = {-3.0f};
	Value *ain[2] = {x, cst(g, "c", T1(3), cv)};
	Op *sub = mk(g, OP_SUB, ain, 2, "a", T4(1, 5, 5, 3));
	Value *min[2] = {sub->out, cst(g, "s", T0, sv)};
	Op *mul = mk(g, OP_MUL, min, 2, "m", T4(1, 5, 5, 3));
	Value *w = cst(g, "w", T4(6, 3, 3, 1), NULL); /* depthwise, multiplier 2 */
	Value *in[2] = {mul->out, w};
	Op *conv = mk(g, OP_CONV2D, in, 2, "conv", T4(1, 2, 2, 6));
	conv->a.groups = 3;
	conv->a.strides[0] = conv->a.strides[1] = 2;
	output(g, conv->out);
	double *xv = rnd_input(&x->type), xs[75], want[24];
	for (int i = 0; i < 75; i++)
		xs[i] = (xv[i] - cv[i % 3]) * sv[0];
	int64_t yd[4] = {1, 2, 2, 6};
	conv_ref(xs, x->type.dims, dbl(w), w->type.dims, NULL, (Conv){2, 2, 0, 0, 3}, want, yd);
	pass_fold(g, &fopts);
	close_rel(run_folded_conv(g, xv), want, 24, 1e-5);
}

/* add before a padded conv stays (the border sums would be wrong); the
   mul before the add is not next to the conv, so it stays too. */
static void test_add_before_padded_stays(void **s)
{
	(void)s;
	arena_reset();
	Graph *g = graph_new("t");
	Value *x = input(g, "x", T4(1, 3, 3, 1));
	const float cv[1] = {1.0f};
	Value *ain[2] = {x, cst(g, "c", T1(1), cv)};
	Op *add = mk(g, OP_ADD, ain, 2, "a", T4(1, 3, 3, 1));
	Value *in[2] = {add->out, cst(g, "w", T4(2, 3, 3, 1), NULL)};
	Op *conv = mk(g, OP_CONV2D, in, 2, "conv", T4(1, 3, 3, 2));
	conv->a.pads[0] = conv->a.pads[1] = conv->a.pads[2] = conv->a.pads[3] = 1;
	output(g, conv->out);
	pass_fold(g, &fopts);
	assert_int_equal(g->nops, 2);
	assert_int_equal(g->ops[0]->kind, OP_ADD);
	assert_int_equal(conv->nin, 2);
}

/* dense with add before it: b'[o] = sum_k w[o][k] c[k]. */
static void test_add_before_dense(void **s)
{
	(void)s;
	arena_reset();
	Graph *g = graph_new("t");
	Value *x = input(g, "x", T2(1, 3));
	const float cv[3] = {1, 2, 3}, wv[6] = {1, 0, -1, 0.5f, 0.5f, 0.5f};
	Value *ain[2] = {x, cst(g, "c", T1(3), cv)};
	Op *add = mk(g, OP_ADD, ain, 2, "a", T2(1, 3));
	Value *in[2] = {add->out, cst(g, "w", T2(2, 3), wv)};
	Op *d = mk(g, OP_DENSE, in, 2, "fc", T2(1, 2));
	output(g, d->out);
	pass_fold(g, &fopts);
	assert_int_equal(g->nops, 1);
	assert_ptr_equal(d->in[0], x);
	assert_int_equal(d->nin, 3);
	const float *b = d->in[2]->data;
	assert_float_equal(b[0], 1 - 3, 1e-6);        /* 1*1 + 0*2 - 1*3 */
	assert_float_equal(b[1], 0.5 * 6, 1e-6);      /* 0.5 * (1 + 2 + 3) */
}

/* Weights shared by two convs: folding into one leaves the other's. */
static void test_shared_weights(void **s)
{
	(void)s;
	arena_reset();
	Graph *g = graph_new("t");
	Value *x = input(g, "x", T4(1, 2, 2, 1));
	const float wv[2] = {1.0f, 2.0f}, sv[2] = {10.0f, 100.0f};
	Value *w = cst(g, "w", T4(2, 1, 1, 1), wv);
	Value *in[2] = {x, w};
	Op *c1 = mk(g, OP_CONV2D, in, 2, "c1", T4(1, 2, 2, 2));
	Op *c2 = mk(g, OP_CONV2D, in, 2, "c2", T4(1, 2, 2, 2));
	Value *min[2] = {c1->out, cst(g, "s", T1(2), sv)};
	Op *mul = mk(g, OP_MUL, min, 2, "m", T4(1, 2, 2, 2));
	Value *ain[2] = {mul->out, c2->out};
	Op *add = mk(g, OP_ADD, ain, 2, "y", T4(1, 2, 2, 2));
	output(g, add->out);
	pass_fold(g, &fopts);
	assert_int_equal(g->nops, 3);
	const float *w1 = c1->in[1]->data, *w2 = c2->in[1]->data;
	assert_float_equal(w1[0], 10, 0);
	assert_float_equal(w1[1], 200, 0);
	assert_float_equal(w2[0], 1, 0);
	assert_float_equal(w2[1], 2, 0);
	assert_ptr_equal(c2->in[1], w);
}

/* ---- batchnorm after a QDQ conv: dequantize(@wq:i8, scale=s[o], axis=0) ---- */

/* wq [3, 3, 3, 2]: value i of channel o is a fixed pattern in [-127, 127]. */
static const double qs[3] = {0.02, 0.005, 0.0125};

static int8_t *qdq_data(void)
{
	int8_t *d = alloc_array(54, 1);
	for (int i = 0; i < 54; i++)
		d[i] = (int8_t)((i * 37 + 11) % 255 - 127);
	return d;
}

/* x -> dequantize(@wq) -> conv2d(x, w, b, pads 1) -> batchnorm (gam[1] < 0);
   *dq and *conv return the ops. */
static Graph *qdq_graph(int8_t *wq, Op **dq, Op **conv)
{
	Graph *g = graph_new("t");
	Value *x = input(g, "x", T4(1, 4, 5, 2));
	Value *c = graph_add_const(g, "wq", ty(DT_I8, 4, (int64_t[]){3, 3, 3, 2}), wq, noloc);
	Value *din[1] = {c};
	*dq = mk(g, OP_DEQUANTIZE, din, 1, "w", T4(3, 3, 3, 2));
	(*dq)->a.q = *quant_new(0, 3);
	memcpy((*dq)->a.q.scale, qs, sizeof qs);
	const float bv[3] = {0.25f, -0.5f, 0.125f};
	Value *in[3] = {x, (*dq)->out, cst(g, "b", T1(3), bv)};
	*conv = mk(g, OP_CONV2D, in, 3, "conv", T4(1, 4, 5, 3));
	(*conv)->a.strides[0] = (*conv)->a.strides[1] = 1;
	(*conv)->a.pads[0] = (*conv)->a.pads[1] = (*conv)->a.pads[2] = (*conv)->a.pads[3] = 1;
	(*conv)->a.groups = 1;
	return g;
}

static Op *add_bn(Graph *g, Value *y)
{
	Value *bnin[5] = {y, cst(g, "g", T1(3), gam), cst(g, "be", T1(3), bet), cst(g, "m", T1(3), mea),
	                  cst(g, "v", T1(3), var)};
	Op *bn = mk(g, OP_BATCHNORM, bnin, 5, "bn", y->type);
	bn->a.epsilon = 1e-3;
	return bn;
}

/* batchnorm(conv(x, s[o] * wq[o], b)) computed directly, in double, from
   the original integers. */
static void qdq_want(const int8_t *wq, const double *x, double *want)
{
	double w[54];
	const double b[3] = {0.25, -0.5, 0.125};
	for (int i = 0; i < 54; i++)
		w[i] = qs[i / 18] * wq[i];
	conv_ref(x, (int64_t[]){1, 4, 5, 2}, w, (int64_t[]){3, 3, 3, 2}, b, (Conv){1, 1, 1, 1, 1}, want,
	         (int64_t[]){1, 4, 5, 3});
	for (int i = 0; i < 60; i++)
		want[i] = bn_ref(want[i], i % 3, 1e-3);
}

/* The conv l, whose weights are a dequantize of an int8 constant, run
   directly on x (the dequantize evaluated here in double). */
static void qdq_got(Op *l, const double *x, double *got)
{
	Op *dq = l->in[1]->def;
	assert_non_null(dq);
	assert_int_equal(dq->kind, OP_DEQUANTIZE);
	assert_int_equal(dq->in[0]->type.dt, DT_I8);
	assert_int_equal(dq->a.q.axis, 0);
	assert_int_equal(dq->a.q.n, 3);
	const int8_t *q = dq->in[0]->data;
	double w[54];
	for (int i = 0; i < 54; i++) {
		assert_int_equal(dq->a.q.zp[i / 18], 0);
		w[i] = dq->a.q.scale[i / 18] * q[i];
	}
	conv_ref(x, (int64_t[]){1, 4, 5, 2}, w, (int64_t[]){3, 3, 3, 2}, dbl(l->in[2]), (Conv){1, 1, 1, 1, 1}, got,
	         (int64_t[]){1, 4, 5, 3});
}

/* The int8 data stays, channel 1 (gamma < 0) negated exactly; the scale
   becomes s[o] * |gamma[o]| / sqrt(var[o] + eps). */
static void check_qdq_weights(const Op *dq, const int8_t *orig)
{
	const int8_t *q = dq->in[0]->data;
	for (int i = 0; i < 54; i++)
		assert_int_equal(q[i], i / 18 == 1 ? -orig[i] : orig[i]);
	for (int o = 0; o < 3; o++)
		assert_float_equal(dq->a.q.scale[o], qs[o] * fabs(gam[o]) / sqrt((double)var[o] + 1e-3), 1e-15);
}

static void test_bn_qdq_conv(void **s)
{
	(void)s;
	arena_reset();
	int8_t *wq = qdq_data(), orig[54];
	memcpy(orig, wq, sizeof orig);
	Op *dq, *conv;
	Graph *g = qdq_graph(wq, &dq, &conv);
	output(g, add_bn(g, conv->out)->out);
	double *x = rnd_input(&g->inputs[0]->type), want[60], got[60];
	qdq_want(orig, x, want);

	pass_fold(g, &qopts);
	assert_int_equal(g->nops, 2);
	assert_ptr_equal(g->ops[1], conv);
	assert_ptr_equal(g->outputs[0], conv->out);
	assert_string_equal(conv->out->name, "bn");
	assert_int_equal(conv->in[2]->type.dt, DT_F32); /* the bias stays float */
	check_qdq_weights(conv->in[1]->def, orig);
	qdq_got(conv, x, got);
	close_rel(got, want, 60, 1e-6);
	assert_memory_equal(wq, orig, sizeof orig); /* the original array is untouched */

	/* --float: the dequantize becomes a float constant first, then the
	   float fold; the same function (x is copied: it lives in the arena) */
	double xs[40];
	memcpy(xs, x, sizeof xs);
	arena_reset();
	wq = qdq_data();
	g = qdq_graph(wq, &dq, &conv);
	output(g, add_bn(g, conv->out)->out);
	pass_fold(g, &fopts);
	close_rel(run_folded_conv(g, xs), want, 60, 1e-5);
}

/* The dequantized weights are read by a second conv too: that one keeps
   them; the folded conv gets a new int8 constant and dequantize.  Then
   the int8 constant alone is shared (two dequantize ops). */
static void test_bn_qdq_shared(void **s)
{
	(void)s;
	for (int shared_dq = 1; shared_dq >= 0; shared_dq--) {
		arena_reset();
		int8_t *wq = qdq_data(), orig[54];
		memcpy(orig, wq, sizeof orig);
		Op *dq, *conv;
		Graph *g = qdq_graph(wq, &dq, &conv);
		Value *w2 = dq->out;
		if (!shared_dq) {
			Value *din[1] = {dq->in[0]};
			Op *dq2 = mk(g, OP_DEQUANTIZE, din, 1, "w2", T4(3, 3, 3, 2));
			dq2->a.q = *quant_new(0, 3);
			memcpy(dq2->a.q.scale, qs, sizeof qs);
			w2 = dq2->out;
		}
		Value *in[3] = {g->inputs[0], w2, conv->in[2]};
		Op *c2 = mk(g, OP_CONV2D, in, 3, "c2", T4(1, 4, 5, 3));
		c2->a = conv->a;
		Op *bn = add_bn(g, conv->out);
		Value *ain[2] = {bn->out, c2->out};
		output(g, mk(g, OP_ADD, ain, 2, "y", T4(1, 4, 5, 3))->out);
		double *x = rnd_input(&g->inputs[0]->type), want[60], got[60];
		qdq_want(orig, x, want);

		pass_fold(g, &qopts);
		assert_int_equal(count_kind(g, OP_BATCHNORM) + count_kind(g, OP_MUL), 0);
		assert_int_equal(count_kind(g, OP_DEQUANTIZE), 2);
		assert_ptr_not_equal(conv->in[1], c2->in[1]);
		assert_ptr_not_equal(conv->in[1]->def->in[0], c2->in[1]->def->in[0]);
		check_qdq_weights(conv->in[1]->def, orig);
		qdq_got(conv, x, got);
		close_rel(got, want, 60, 1e-6);
		/* the other conv: its weights, scales and bias as they were */
		Op *d2 = c2->in[1]->def;
		assert_memory_equal(d2->in[0]->data, orig, sizeof orig);
		for (int o = 0; o < 3; o++)
			assert_float_equal(d2->a.q.scale[o], qs[o], 0);
		const float *b2 = c2->in[2]->data;
		assert_float_equal(b2[0], 0.25f, 0);
		assert_float_equal(b2[1], -0.5f, 0);
	}
}

/* -128 in channel 1 (gamma < 0) cannot be negated: the batchnorm stays
   (as mul + add) and the weights are untouched.  In channel 0 (gamma > 0)
   it is fine. */
static void test_bn_qdq_minus128(void **s)
{
	(void)s;
	for (int ch = 1; ch >= 0; ch--) {
		arena_reset();
		int8_t *wq = qdq_data(), orig[54];
		wq[ch * 18 + 5] = -128;
		memcpy(orig, wq, sizeof orig);
		Op *dq, *conv;
		Graph *g = qdq_graph(wq, &dq, &conv);
		output(g, add_bn(g, conv->out)->out);
		pass_fold(g, &qopts);
		assert_int_equal(count_kind(g, OP_BATCHNORM), 0);
		assert_int_equal(count_kind(g, OP_MUL), ch == 1);
		assert_int_equal(count_kind(g, OP_ADD), ch == 1);
		const int8_t *q = conv->in[1]->def->in[0]->data;
		if (ch == 1) {
			assert_memory_equal(q, orig, sizeof orig);
			for (int o = 0; o < 3; o++)
				assert_float_equal(conv->in[1]->def->a.q.scale[o], qs[o], 0);
		} else {
			assert_int_equal(q[5], -128);
			check_qdq_weights(conv->in[1]->def, orig);
		}
	}
}

/* ---- constant folding ---- */

/* The course's worked example: A quantized with scale 2/127 (restricted
   int8 for the range [-2, 2]): A / s = A * 63.5 =
   [-97.79, 13.97, -16.51, 41.275] -> [-98, 14, -17, 41]. */
static Graph *seed_graph(Value **Ad)
{
	Graph *g = graph_new("seed");
	Value *b = input(g, "b", T2(1, 2));
	const float A[4] = {-1.54f, 0.22f, -0.26f, 0.65f};
	Value *ain[1] = {cst(g, "A", T2(2, 2), A)};
	Op *q = mk(g, OP_QUANTIZE, ain, 1, "Aq", ty(DT_I8, 2, (int64_t[]){2, 2}));
	q->a.q = *quant_tensor(0.015748031496062992, 0);
	Value *din[1] = {q->out};
	Op *dq = mk(g, OP_DEQUANTIZE, din, 1, "Ad", T2(2, 2));
	dq->a.q = *quant_tensor(0.015748031496062992, 0);
	Value *in[2] = {b, dq->out};
	Op *d = mk(g, OP_DENSE, in, 2, "y", T2(1, 2));
	output(g, d->out);
	*Ad = dq->out;
	return g;
}

static void test_quantize_const(void **s)
{
	(void)s;
	arena_reset();
	Value *Ad;
	Graph *g = seed_graph(&Ad);
	pass_fold(g, &qopts);
	/* without --float: the int8 constant feeds the dequantize, kept */
	assert_int_equal(g->nops, 2);
	Op *dq = g->ops[0];
	assert_int_equal(dq->kind, OP_DEQUANTIZE);
	Value *c = dq->in[0];
	assert_int_equal(c->kind, V_CONST);
	assert_int_equal(c->type.dt, DT_I8);
	assert_string_equal(c->name, "Aq");
	assert_non_null(c->type.q);
	assert_float_equal(c->type.q->scale[0], 0.015748031496062992, 0);
	const int8_t *q = c->data;
	assert_int_equal(q[0], -98);
	assert_int_equal(q[1], 14);
	assert_int_equal(q[2], -17);
	assert_int_equal(q[3], 41);
}

static void test_dequantize_const_float(void **s)
{
	(void)s;
	arena_reset();
	Value *Ad;
	Graph *g = seed_graph(&Ad);
	pass_fold(g, &fopts);
	/* with --float the weight is the fake-quantized float constant */
	assert_int_equal(g->nops, 1);
	Value *w = g->ops[0]->in[1];
	assert_int_equal(w->kind, V_CONST);
	assert_int_equal(w->type.dt, DT_F32);
	const float *d = w->data;
	const int qv[4] = {-98, 14, -17, 41};
	for (int i = 0; i < 4; i++)
		assert_float_equal(d[i], (float)0.015748031496062992 * (float)qv[i], 0);
	assert_int_equal(g->nconsts, 1); /* @A and @Aq are dead */
}

/* Rounding half to even, saturation, u8 with a zero point, per axis. */
static void test_quantize_rounding(void **s)
{
	(void)s;
	arena_reset();
	Graph *g = graph_new("t");
	Value *x = input(g, "x", T2(2, 4));
	const float v[8] = {2.5f, 3.5f, -2.5f, 300.0f, -1.0f, 200.0f, -100.0f, 0.75f};
	Value *ain[1] = {cst(g, "v", T2(2, 4), v)};
	Op *q = mk(g, OP_QUANTIZE, ain, 1, "q", ty(DT_U8, 2, (int64_t[]){2, 4}));
	/* row 0: scale 1, zp 0 but u8 so negatives saturate at 0;
	   row 1: scale 0.5, zp 128 */
	Quant *qq = quant_new(0, 2);
	qq->scale[1] = 0.5;
	qq->zp[1] = 128;
	q->a.q = *qq;
	Value *din[1] = {q->out};
	Op *dq = mk(g, OP_DEQUANTIZE, din, 1, "d", T2(2, 4));
	dq->a.q = *qq;
	Value *in[2] = {x, dq->out};
	Op *add = mk(g, OP_ADD, in, 2, "y", T2(2, 4));
	output(g, add->out);
	pass_fold(g, &qopts);
	const uint8_t *d = g->ops[0]->in[0]->data;
	/* 2.5 -> 2, 3.5 -> 4, -2.5 -> -2 -> 0 (u8), 300 -> 255;
	   -1/0.5 + 128 = 126, 400 + 128 -> 255, -200 + 128 -> 0, 1.5 -> 2 + 128 = 130 */
	const uint8_t want[8] = {2, 4, 0, 255, 126, 255, 0, 130};
	assert_memory_equal(d, want, 8);
}

static void test_const_arith(void **s)
{
	(void)s;
	arena_reset();
	Graph *g = graph_new("t");
	Value *x = input(g, "x", T2(1, 6));
	const float a[6] = {1, 2, 3, 4, 5, 6}, b[3] = {10, 20, 30}, c[1] = {0.5f};
	Value *in[2] = {cst(g, "a", T2(2, 3), a), cst(g, "b", T1(3), b)};
	Op *add = mk(g, OP_ADD, in, 2, "s", T2(2, 3));
	in[0] = add->out;
	in[1] = cst(g, "c", T0, c);
	Op *mul = mk(g, OP_MUL, in, 2, "p", T2(2, 3));
	Value *rin[1] = {mul->out};
	Op *r = mk(g, OP_RESHAPE, rin, 1, "r", T2(1, 6));
	in[0] = x;
	in[1] = r->out;
	Op *y = mk(g, OP_SUB, in, 2, "y", T2(1, 6));
	output(g, y->out);
	pass_fold(g, &fopts);
	assert_int_equal(g->nops, 1);
	Value *k = g->ops[0]->in[1];
	assert_int_equal(k->kind, V_CONST);
	assert_int_equal(k->type.rank, 2);
	assert_int_equal(k->type.dims[1], 6);
	const float want[6] = {5.5f, 11, 16.5f, 7, 12.5f, 18};
	assert_memory_equal(k->data, want, sizeof want);
	assert_int_equal(g->nconsts, 1);
}

/* An op computing a graph output from constants stays an op. */
static void test_const_output_stays(void **s)
{
	(void)s;
	arena_reset();
	Graph *g = graph_new("t");
	input(g, "x", T1(2));
	const float a[2] = {1, 2};
	Value *in[1] = {cst(g, "a", T1(2), a)};
	Op *r = mk(g, OP_RELU, in, 1, "y", T1(2));
	Op *dead = mk(g, OP_RELU, in, 1, "unused", T1(2));
	(void)dead;
	output(g, r->out);
	pass_fold(g, &fopts);
	assert_int_equal(g->nops, 1);
	assert_ptr_equal(g->ops[0], r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bn_conv_bias),
		cmocka_unit_test(test_bn_conv_nobias),
		cmocka_unit_test(test_bn_dense),
		cmocka_unit_test(test_bn_standalone),
		cmocka_unit_test(test_bn_shared_conv),
		cmocka_unit_test(test_bn_bad_variance),
		cmocka_unit_test(test_scale_after),
		cmocka_unit_test(test_mul_before_grouped),
		cmocka_unit_test(test_add_before_depthwise),
		cmocka_unit_test(test_add_before_padded_stays),
		cmocka_unit_test(test_add_before_dense),
		cmocka_unit_test(test_shared_weights),
		cmocka_unit_test(test_bn_qdq_conv),
		cmocka_unit_test(test_bn_qdq_shared),
		cmocka_unit_test(test_bn_qdq_minus128),
		cmocka_unit_test(test_quantize_const),
		cmocka_unit_test(test_dequantize_const_float),
		cmocka_unit_test(test_quantize_rounding),
		cmocka_unit_test(test_const_arith),
		cmocka_unit_test(test_const_output_stays),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
