/* Calibration: the threshold methods on synthetic distributions whose
   answer is known (passes/histogram.c), and the ranges the calibrate pass
   fixes from the model alone (QDQ pairs, relu6, clip). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include <stdlib.h>
#include <unistd.h>

#include "ir.h"

/* ---- synthetic data ---- */

static uint64_t state = 88172645463325252ull;
static double uni(void) /* [0, 1), xorshift64 */
{
	state ^= state << 13;
	state ^= state >> 7;
	state ^= state << 17;
	return (double)(state >> 11) / 9007199254740992.0;
}

static double gauss(void) /* Box-Muller */
{
	double u = uni(), v = uni();
	return sqrt(-2 * log(1 - u)) * cos(6.283185307179586 * v);
}

static double amax_of(const float *x, int n)
{
	double m = 0;
	for (int i = 0; i < n; i++)
		m = fmax(m, fabs(x[i]));
	return m;
}

static double *hist_of(const float *x, int n, double amax)
{
	double *b = alloc_array(CAL_BINS, sizeof *b);
	hist_add(b, CAL_BINS, amax, x, n);
	return b;
}

enum { NU = 200000, NG = 1000000 };

/* Uniform on [0, 1): a regular grid, so the quantiles are exact. */
static float *uniform(void)
{
	float *x = alloc_array(NU, sizeof *x);
	for (int i = 0; i < NU; i++)
		x[i] = (float)((i + 0.5) / NU);
	return x;
}

/* N(0, 1) plus 2 outliers at +-20 sigma. */
static float *gaussian_outliers(int *n)
{
	float *x = alloc_array(NG + 2, sizeof *x);
	for (int i = 0; i < NG; i++)
		x[i] = (float)gauss();
	x[NG] = 20;
	x[NG + 1] = -20;
	*n = NG + 2;
	return x;
}

/* The MSE objective computed directly on the samples (no histogram):
   sum (q(|x|) - |x|)^2 with q the 127-level quantizer clipping at T. */
static double sq_error(const float *x, int n, double T)
{
	double step = T / 127, e = 0;
	for (int i = 0; i < n; i++) {
		double a = fabs(x[i]), d = fmin(rint(a / step), 127) * step - a;
		e += d * d;
	}
	return e;
}

/* hist_mse's threshold is within 2 % of the best objective found by brute
   force over T in [lo, hi] on the raw samples. */
static void check_mse(const float *x, int n, double t, double lo, double hi)
{
	double best = INFINITY, bt = 0;
	for (double T = lo; T <= hi; T += (hi - lo) / 100) {
		double e = sq_error(x, n, T);
		if (e < best) {
			best = e;
			bt = T;
		}
	}
	double e = sq_error(x, n, t);
	print_message("mse: histogram T %.3f (error %.1f), brute force T %.3f (error %.1f)\n", t, e, bt, best);
	assert_true(e <= 1.02 * best);
}

/* ---- hist_add ---- */

static void test_hist_add(void **s)
{
	(void)s;
	arena_reset();
	double b[8] = {0};
	const float x[7] = {0.0f, -0.99f, 1.0f, 4.0f, -8.0f, NAN, 7.99f};
	hist_add(b, 8, 8.0, x, 7);
	/* width 1: 0 and 0.99 in bin 0, 1 in bin 1, 4 in bin 4, 8 (== amax)
	   and 7.99 in the top bin, NaN dropped */
	const double want[8] = {2, 1, 0, 0, 1, 0, 0, 2};
	assert_memory_equal(b, want, sizeof want);
}

/* ---- the methods on a uniform distribution ---- */

static void test_uniform(void **s)
{
	(void)s;
	arena_reset();
	float *x = uniform();
	double am = amax_of(x, NU), *b = hist_of(x, NU, am);
	assert_float_equal(hist_threshold(CAL_MAX, b, CAL_BINS, am, 0), 1.0, 1e-5);
	/* the p-th percentile of U[0, 1) is p / 100 */
	assert_float_equal(hist_percentile(b, CAL_BINS, am, 99), 0.99, 1e-4);
	assert_float_equal(hist_percentile(b, CAL_BINS, am, 50), 0.50, 1e-4);
	assert_float_equal(hist_percentile(b, CAL_BINS, am, 99.99), 0.9999, 1e-4);
	/* MSE: clipping a uniform costs (1 - T)^3 / 3, rounding ~ T^3 / (12 * 127^2):
	   the optimum 1 - T ~ sqrt(1 / (4 * 127^2)) ~ 0.004 */
	double t = hist_mse(b, CAL_BINS, am);
	assert_true(t > 0.99 && t <= 1.0);
	check_mse(x, NU, t, 0.9, 1.0);
	/* KL: any clipping piles the tail into one bin that Q cannot match;
	   the flat histogram itself is matched exactly: T = max */
	assert_float_equal(hist_kl(b, CAL_BINS, am), am, 1e-9);
}

/* ---- a Gaussian with huge outliers ---- */

static void test_gaussian_outliers(void **s)
{
	(void)s;
	arena_reset();
	int n;
	float *x = gaussian_outliers(&n);
	double am = amax_of(x, n), *b = hist_of(x, n, am);
	assert_float_equal(am, 20, 0);
	assert_float_equal(hist_threshold(CAL_MAX, b, CAL_BINS, am, 0), 20, 0);
	/* 99.99 % of |x|: 100 of 1000002 values are above, 2 of them outliers:
	   the Gaussian's two-sided 1 - 98/1e6 quantile, 3.896 */
	double p = hist_percentile(b, CAL_BINS, am, 99.99);
	assert_true(p > 3.8 && p < 4.0);
	double kl = hist_kl(b, CAL_BINS, am), mse = hist_mse(b, CAL_BINS, am);
	print_message("gaussian + outliers: kl %.3f  mse %.3f  p99.99 %.3f\n", kl, mse, p);
	/* both ignore the outliers and clip at 3-6 sigma (NumPy brute force
	   of the MSE objective on such a sample: 5.6) */
	assert_true(kl > 2.5 && kl < 6.0);
	assert_true(mse > 4.0 && mse < 7.0);
	check_mse(x, n, mse, 2, 12);
}

/* A relu'd Gaussian: half of the values are exact zeros (bin 0). */
static void test_relu_gaussian(void **s)
{
	(void)s;
	arena_reset();
	float *x = alloc_array(NG, sizeof *x);
	for (int i = 0; i < NG; i++)
		x[i] = (float)fmax(0, gauss());
	x[0] = 15; /* one outlier */
	double am = amax_of(x, NG), *b = hist_of(x, NG, am);
	assert_true(b[0] >= NG / 2 - 5000);
	double kl = hist_kl(b, CAL_BINS, am), mse = hist_mse(b, CAL_BINS, am);
	print_message("relu gaussian: kl %.3f  mse %.3f\n", kl, mse);
	assert_true(kl > 2.0 && kl < 6.0);
	assert_true(mse > 3.5 && mse < 6.0); /* NumPy brute force: 4.5 */
	check_mse(x, NG, mse, 2, 12);
}

/* All the mass in one bin, at 700.5 (width 1): no method may clip it
   away, and MSE's choice must represent it within half a step. */
static void test_one_bin(void **s)
{
	(void)s;
	arena_reset();
	double b[CAL_BINS] = {0};
	b[700] = 1000;
	double am = CAL_BINS;
	double p = hist_percentile(b, CAL_BINS, am, 50);
	assert_true(p >= 700 && p <= 701);
	double kl = hist_kl(b, CAL_BINS, am);
	assert_true(kl >= 701 && kl <= am);
	double t = hist_mse(b, CAL_BINS, am);
	assert_true(t >= 700 && t <= am);
	double step = t / 127, q = fmin(rint(700.5 / step), 127) * step;
	assert_true(fabs(q - 700.5) <= fmax(step / 2, 0.5) + 1e-9);
	/* an empty histogram: nothing to clip */
	double e[CAL_BINS] = {0};
	assert_float_equal(hist_kl(e, CAL_BINS, 5), 5, 0);
	assert_float_equal(hist_mse(e, CAL_BINS, 5), 5, 0);
	assert_float_equal(hist_percentile(e, CAL_BINS, 5, 99), 5, 0);
}

/* Two clusters: 99 % of the mass at |x| < 1 and 1 % spread on [9, 10].
   The 1 % cluster is real signal, not outliers: percentile 99.9 must
   keep it, percentile 50 must not. */
static void test_percentile_clusters(void **s)
{
	(void)s;
	arena_reset();
	enum { N = 100000 };
	float *x = alloc_array(N, sizeof *x);
	for (int i = 0; i < N; i++)
		x[i] = i % 100 == 0 ? (float)(9 + uni()) : (float)uni();
	double am = amax_of(x, N), *b = hist_of(x, N, am);
	double p999 = hist_percentile(b, CAL_BINS, am, 99.9);
	assert_true(p999 > 9 && p999 <= 10);
	/* 50 % of all = 50.5 % of the uniform cluster -> 0.505 */
	assert_float_equal(hist_percentile(b, CAL_BINS, am, 50), 0.505, 0.01);
}

/* TensorRT's procedure written out directly, O(n^2): P and Q built as
   arrays for every candidate, KL summed bin by bin, last argmin. */
static double kl_direct(const double *bins, int n, double amax)
{
	double *b = alloc_array((size_t)n, sizeof *b), *P = alloc_array((size_t)n, sizeof *P);
	double *Q = alloc_array((size_t)n, sizeof *Q);
	memcpy(b, bins, (size_t)n * sizeof *b);
	b[0] = b[1];
	double best = INFINITY;
	int besti = n;
	for (int i = CAL_LEVELS; i <= n; i++) {
		double ptot = 0, qtot = 0;
		for (int k = 0; k < i; k++)
			P[k] = b[k];
		for (int k = i; k < n; k++)
			P[i - 1] += b[k];
		int m = i / CAL_LEVELS;
		for (int g = 0; g < CAL_LEVELS; g++) {
			int s0 = g * m, e = g == CAL_LEVELS - 1 ? i : s0 + m, nz = 0;
			double sum = 0;
			for (int k = s0; k < e; k++) {
				sum += b[k];
				nz += P[k] != 0;
			}
			for (int k = s0; k < e; k++)
				Q[k] = P[k] != 0 ? sum / nz : 0;
		}
		for (int k = 0; k < i; k++) {
			ptot += P[k];
			qtot += Q[k];
		}
		double kl = 0;
		for (int k = 0; k < i; k++) {
			if (P[k] == 0)
				continue;
			if (Q[k] == 0) {
				kl = INFINITY;
				break;
			}
			kl += P[k] / ptot * log((P[k] / ptot) / (Q[k] / qtot));
		}
		if (kl <= best + 1e-12) {
			besti = i;
			if (kl < best)
				best = kl;
		}
	}
	return besti * amax / n;
}

static void test_kl_direct(void **s)
{
	(void)s;
	arena_reset();
	int n;
	float *x = gaussian_outliers(&n);
	double am = amax_of(x, n), *b = hist_of(x, n, am);
	assert_float_equal(hist_kl(b, CAL_BINS, am), kl_direct(b, CAL_BINS, am), 1e-12);
	for (int i = 0; i < n; i++)
		x[i] = (float)fmax(0, x[i]);
	b = hist_of(x, n, am);
	assert_float_equal(hist_kl(b, CAL_BINS, am), kl_direct(b, CAL_BINS, am), 1e-12);
	/* ragged: random counts with holes */
	for (int t = 0; t < 3; t++) {
		for (int k = 0; k < CAL_BINS; k++)
			b[k] = uni() < 0.3 ? 0 : floor(uni() * 100 * exp(-k / 300.0));
		double a = hist_kl(b, CAL_BINS, 1), d = kl_direct(b, CAL_BINS, 1);
		print_message("ragged %d: %.5f vs direct %.5f\n", t, a, d);
		assert_float_equal(a, d, 1e-12);
	}
}

/* KL stays fast: O(bins * levels) per tensor. */
static void test_kl_speed(void **s)
{
	(void)s;
	arena_reset();
	int n;
	float *x = gaussian_outliers(&n);
	double am = amax_of(x, n), *b = hist_of(x, n, am);
	for (int i = 0; i < 50; i++)
		hist_kl(b, CAL_BINS, am); /* 50 tensors' worth: a few ms each at most */
}

/* ---- fixed ranges (no data needed) ---- */

static Loc noloc;

static Type ty(Dtype dt, int rank, const int64_t *dims)
{
	Type t = {.dt = dt, .rank = rank};
	for (int i = 0; i < rank; i++)
		t.dims[i] = dims[i];
	return t;
}
#define F2(a, b) ty(DT_F32, 2, (int64_t[]){a, b})

static Op *mk(Graph *g, OpKind k, Value *x, const char *name, Type out)
{
	Value *in[1] = {x};
	Op *op = op_new(g, k, in, 1, name, noloc);
	op->out->type = out;
	graph_append(g, op);
	return op;
}

static Value *input(Graph *g, Type t)
{
	Value *v = value_new(V_INPUT, "x", t, noloc);
	PUSH(g->inputs, g->ninputs) = v;
	return v;
}

static void check_range(const Value *v, double lo, double hi)
{
	assert_true(v->has_range);
	assert_true(v->fixed_range);
	assert_float_equal(v->lo, lo, 1e-12);
	assert_float_equal(v->hi, hi, 1e-12);
}

/* x -> quantize(u8, 0.02, 128) -> dequantize -> relu -> clip(0, 1.5)
   -> relu6: every range is fixed, no data needed. */
static void test_fixed_qdq(void **s)
{
	(void)s;
	arena_reset();
	Graph *g = graph_new("t");
	Value *x = input(g, F2(1, 8));
	Op *q = mk(g, OP_QUANTIZE, x, "q", ty(DT_U8, 2, (int64_t[]){1, 8}));
	q->a.q = *quant_tensor(0.02, 128);
	Op *dq = mk(g, OP_DEQUANTIZE, q->out, "dq", F2(1, 8));
	dq->a.q = *quant_tensor(0.02, 128);
	Op *r = mk(g, OP_RELU, dq->out, "r", F2(1, 8));
	Op *c = mk(g, OP_CLIP, r->out, "c", F2(1, 8));
	c->a.min = 0;
	c->a.max = 1.5;
	Op *r6 = mk(g, OP_RELU6, c->out, "r6", F2(1, 8));
	PUSH(g->outputs, g->noutputs) = r6->out;
	Options o = {.calib = CAL_KL};
	pass_calibrate(g, &o);
	/* 0.02 * (0 - 128), 0.02 * (255 - 128) */
	check_range(x, -2.56, 2.54);
	check_range(dq->out, -2.56, 2.54);
	check_range(r->out, 0, 2.54);
	check_range(c->out, 0, 1.5);
	check_range(r6->out, 0, 6);
	assert_false(q->out->has_range); /* integer tensors have their type */
}

/* conv-like producer -> relu -> QDQ(i8, scale 0.05, zp -10): the
   producer's only reader clamps, so it takes the relu's range; the input
   reaches an op with no fixed range and needs data. */
static void test_backward_and_missing(void **s)
{
	(void)s;
	arena_reset();
	Graph *g = graph_new("t");
	g->file = "m.q8";
	Value *x = input(g, ty(DT_F32, 4, (int64_t[]){1, 4, 4, 3}));
	Type t = x->type;
	Op *a = mk(g, OP_GAVGPOOL, x, "a", ty(DT_F32, 4, (int64_t[]){1, 1, 1, 3}));
	Op *f = mk(g, OP_FLATTEN, a->out, "f", F2(1, 3));
	Op *r = mk(g, OP_RELU, f->out, "r", F2(1, 3));
	Op *q = mk(g, OP_QUANTIZE, r->out, "q", ty(DT_I8, 2, (int64_t[]){1, 3}));
	q->a.q = *quant_tensor(0.05, -10);
	Op *dq = mk(g, OP_DEQUANTIZE, q->out, "dq", F2(1, 3));
	dq->a.q = *quant_tensor(0.05, -10);
	PUSH(g->outputs, g->noutputs) = dq->out;
	(void)t;
	Options o = {.calib = CAL_MAX};
	jmp_buf jb;
	err_jmp = &jb;
	int rc = setjmp(jb);
	if (rc == 0)
		pass_calibrate(g, &o);
	err_jmp = NULL;
	assert_int_equal(rc, 1);
	/* 0.05 * (-128 + 10), 0.05 * (127 + 10) */
	check_range(r->out, -5.9, 6.85);
	check_range(f->out, -5.9, 6.85);  /* backward through relu, flatten */
	check_range(a->out, -5.9, 6.85);
	assert_false(x->has_range);        /* an average is not a clamp */
	assert_non_null(strstr(err_msg, "m.q8 needs calibration data"));
	assert_non_null(strstr(err_msg, "--calib"));
	assert_non_null(strstr(err_msg, "[S, 4, 4, 3]"));
	assert_non_null(strstr(err_msg, "%x"));
}

/* A graph output is read in full: no backward range for it. */
static void test_output_not_clamped(void **s)
{
	(void)s;
	arena_reset();
	Graph *g = graph_new("t");
	Value *x = input(g, F2(1, 2));
	Op *c = mk(g, OP_CLIP, x, "c", F2(1, 2));
	c->a.min = -1;
	c->a.max = 1;
	PUSH(g->outputs, g->noutputs) = c->out;
	PUSH(g->outputs, g->noutputs) = x;
	Options o = {.calib = CAL_KL};
	jmp_buf jb;
	err_jmp = &jb;
	int rc = setjmp(jb);
	if (rc == 0)
		pass_calibrate(g, &o);
	err_jmp = NULL;
	assert_int_equal(rc, 1);
	check_range(c->out, -1, 1);
	assert_false(x->has_range);
}

/* Ranges already present (a dump after calibrate) are kept: no data. */
static void test_ranges_present(void **s)
{
	(void)s;
	arena_reset();
	Graph *g = graph_new("t");
	Value *x = input(g, F2(1, 2));
	Op *r = mk(g, OP_RELU, x, "r", F2(1, 2));
	PUSH(g->outputs, g->noutputs) = r->out;
	x->has_range = r->out->has_range = true;
	x->lo = -3;
	x->hi = 3;
	r->out->lo = 0;
	r->out->hi = 2;
	Options o = {.calib = CAL_KL};
	pass_calibrate(g, &o);
	assert_float_equal(r->out->hi, 2, 0);
	assert_false(r->out->fixed_range);
}

/* ---- with data: the fp32 interpreter over --calib samples ---- */

static char dir[64];

static char *tmp_npy(const char *name, int rank, const int64_t *dims, const float *d)
{
	if (!dir[0]) {
		strcpy(dir, "/tmp/q8c_test_calXXXXXX");
		assert_non_null(mkdtemp(dir));
	}
	char *path = fmt("%s/%s", dir, name);
	npy_write(path, DT_F32, rank, dims, d);
	return path;
}

/* x[1, 4] -> relu -> sub(@c) -> output, three samples:
   x: [0.5 -2 1 3], [-1 0.25 2 -4], [1.5 1 -0.5 0]   (min -4, max 3)
   r = relu(x): max 3, never negative
   y = r - [1, 1, 1, 1]: min -1, max 2 */
static Graph *small_graph(Value **x, Value **r, Value **y)
{
	Graph *g = graph_new("small");
	g->file = "small.q8";
	*x = input(g, F2(1, 4));
	Op *rel = mk(g, OP_RELU, *x, "r", F2(1, 4));
	const float one[4] = {1, 1, 1, 1};
	float *c = alloc(sizeof one);
	memcpy(c, one, sizeof one);
	Value *in[2] = {rel->out, graph_add_const(g, "c", ty(DT_F32, 1, (int64_t[]){4}), c, noloc)};
	Op *sub = op_new(g, OP_SUB, in, 2, "y", noloc);
	sub->out->type = F2(1, 4);
	graph_append(g, sub);
	PUSH(g->outputs, g->noutputs) = sub->out;
	*r = rel->out;
	*y = sub->out;
	return g;
}

static const float samples[12] = {0.5f, -2, 1, 3, -1, 0.25f, 2, -4, 1.5f, 1, -0.5f, 0};

static void test_calibrate_max(void **s)
{
	(void)s;
	arena_reset();
	Value *x, *r, *y;
	Graph *g = small_graph(&x, &r, &y);
	Options o = {.calib = CAL_MAX, .calib_path = tmp_npy("c.npy", 2, (int64_t[]){3, 4}, samples)};
	pass_calibrate(g, &o);
	assert_int_equal(o.ncalib, 3);
	assert_non_null(o.calib_data);
	assert_true(x->has_range && !x->fixed_range);
	assert_float_equal(x->lo, -4, 0);
	assert_float_equal(x->hi, 3, 0);
	assert_float_equal(r->lo, 0, 0);
	assert_float_equal(r->hi, 3, 0);
	assert_float_equal(y->lo, -1, 0);
	assert_float_equal(y->hi, 2, 0);
}

/* Thresholds are symmetric: [-T, T] with negatives, [0, T] without; the
   99.99th percentile of so few values is the top one's bin, within
   1/2048 of max |x|. */
static void test_calibrate_symmetric(void **s)
{
	(void)s;
	arena_reset();
	Value *x, *r, *y;
	Graph *g = small_graph(&x, &r, &y);
	Options o = {.calib = CAL_PERCENTILE, .calib_path = tmp_npy("c.npy", 2, (int64_t[]){3, 4}, samples)};
	pass_calibrate(g, &o);
	assert_float_equal(x->hi, 4, 4.0 / 2048);
	assert_float_equal(x->lo, -x->hi, 0);
	assert_float_equal(r->lo, 0, 0);
	assert_float_equal(r->hi, 3, 3.0 / 2048);
	assert_float_equal(y->hi, 2, 2.0 / 2048);
	assert_float_equal(y->lo, -y->hi, 0);
}

static void test_calibrate_bad_shape(void **s)
{
	(void)s;
	arena_reset();
	Value *x, *r, *y;
	Graph *g = small_graph(&x, &r, &y);
	Options o = {.calib = CAL_KL, .calib_path = tmp_npy("bad.npy", 2, (int64_t[]){4, 3}, samples)};
	jmp_buf jb;
	err_jmp = &jb;
	int rc = setjmp(jb);
	if (rc == 0)
		pass_calibrate(g, &o);
	err_jmp = NULL;
	assert_int_equal(rc, 1);
	assert_non_null(strstr(err_msg, "f32[4, 3]"));
	assert_non_null(strstr(err_msg, "f32[1, 4]"));
	assert_non_null(strstr(err_msg, "expected f32[S, 4]"));
}

/* The report on a float graph (y = clip(x), the identity here) and a
   "quantized" one (y = dequantize(quantize(x, 0.5))), over the samples
   [0.2 -0.7 1.3 2.6]:  q = [0, -1, 3, 5] (rint of 0.4, -1.4, 2.6, 5.2),
   errors [-0.2, 0.2, 0.2, -0.1]: noise 0.13, signal 8.98,
   SQNR = 10 log10(8.98 / 0.13) = 18.39 dB. */
static void test_report(void **s)
{
	(void)s;
	arena_reset();
	Graph *fg = graph_new("f");
	Value *fx = input(fg, F2(1, 4));
	Op *c = mk(fg, OP_CLIP, fx, "y", F2(1, 4));
	c->a.min = -100;
	c->a.max = 100;
	PUSH(fg->outputs, fg->noutputs) = c->out;
	Graph *qg = graph_new("q");
	Value *qx = input(qg, F2(1, 4));
	Op *q = mk(qg, OP_QUANTIZE, qx, "x.q", ty(DT_I8, 2, (int64_t[]){1, 4}));
	q->a.q = *quant_tensor(0.5, 0);
	q->out->type.q = quant_tensor(0.5, 0);
	Op *dq = mk(qg, OP_DEQUANTIZE, q->out, "y", F2(1, 4));
	dq->a.q = *quant_tensor(0.5, 0);
	PUSH(qg->outputs, qg->noutputs) = dq->out;
	const float x[4] = {0.2f, -0.7f, 1.3f, 2.6f};
	Options o = {.calib_path = tmp_npy("r.npy", 2, (int64_t[]){1, 4}, x)};
	FILE *f = tmpfile();
	assert_non_null(f);
	report_sqnr(fg, qg, &o, f);
	char buf[2048] = {0};
	rewind(f);
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	print_message("%s", buf);
	char *row = strstr(buf, "%x.q");
	assert_non_null(row);
	assert_non_null(strstr(row, "18.39"));
	assert_non_null(strstr(row, "0.5"));
	row = strstr(buf, "%y ");
	assert_non_null(row);
	assert_non_null(strstr(row, "18.39"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hist_add),
		cmocka_unit_test(test_uniform),
		cmocka_unit_test(test_gaussian_outliers),
		cmocka_unit_test(test_relu_gaussian),
		cmocka_unit_test(test_one_bin),
		cmocka_unit_test(test_percentile_clusters),
		cmocka_unit_test(test_kl_direct),
		cmocka_unit_test(test_kl_speed),
		cmocka_unit_test(test_fixed_qdq),
		cmocka_unit_test(test_backward_and_missing),
		cmocka_unit_test(test_output_not_clamped),
		cmocka_unit_test(test_ranges_present),
		cmocka_unit_test(test_calibrate_max),
		cmocka_unit_test(test_calibrate_symmetric),
		cmocka_unit_test(test_calibrate_bad_shape),
		cmocka_unit_test(test_report),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	if (dir[0]) {
		const char *names[] = {"c.npy", "bad.npy", "r.npy"};
		for (int i = 0; i < 3; i++) {
			char path[128];
			snprintf(path, sizeof path, "%s/%s", dir, names[i]);
			unlink(path);
		}
		rmdir(dir);
	}
	return rc;
}
