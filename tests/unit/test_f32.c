/* The float convolutions and dense layer with packed weights
   (runtime/f32.h), lowered from graphs built here (codegen/lower_op.c
   packs their weights) and run by the interpreter, on odd shapes: pads
   on every side, strides, dilations, groups, depthwise, channel counts
   that are not multiples of the block of 8, more than one image.

   The interpreter runs tools/interp_avx2.c's copy of the kernels where
   the CPU has AVX2 (8 pixels per tile): both it and runtime/ref.c's
   (SSE2, 4 pixels) are checked, whole and cut into tasks.

   Two independent references, computed here on the graph's own
   (reference-layout) weights:
   - the sum in float in the documented order (the bias, then the taps
     that fall in the input, kh then kw, then the input channels, one
     rounded product and one rounded sum each): the kernels must give
     its bits exactly, as the C and LLVM outputs on every target must;
   - the sum in double: |float - double| must stay within the bound of
     recursive summation (Higham, Accuracy and Stability of Numerical
     Algorithms, 3.1): gamma_n * sum |terms|, gamma_n = n u / (1 - n u),
     u = 2^-24, n the number of products plus one for the bias. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "codegen/lower.h"

void q8_par(const q8_params *p, q8_kernel k, const void *a, const void *b, void *y, int32_t how, int32_t ntasks,
            void (*parallel_for)(void *, void (*)(void *, size_t), void *, size_t), void *ctx);

#if defined(Q8C_INTERP_AVX2)
void q8k_conv2d_f32_blk_avx2(const q8_params *p, const void *a, const void *b, void *y);
void q8k_dwconv_f32_avx2(const q8_params *p, const void *a, const void *b, void *y);
void q8k_dense_f32_blk_avx2(const q8_params *p, const void *a, const void *b, void *y);
#define HAVE_AVX2 (__builtin_cpu_supports("avx2") != 0)
#else
#define q8k_conv2d_f32_blk_avx2 q8k_conv2d_f32_blk
#define q8k_dwconv_f32_avx2 q8k_dwconv_f32
#define q8k_dense_f32_blk_avx2 q8k_dense_f32_blk
#define HAVE_AVX2 0
#endif

static Loc here = {"test_f32", 1, 1};

static uint64_t seed = 88172645463325252ull;

static double rnd(void) /* xorshift64, uniform in [-1, 1) */
{
	seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
	return (double)(seed >> 11) / 4503599627370496.0 - 1.0;
}

/* values of both signs and magnitudes, some exact zeros */
static float *fill(int64_t n)
{
	float *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
	for (int64_t i = 0; i < n; i++) {
		double r = rnd();
		v[i] = (i % 11 == 5) ? 0.0f : (float)(r * (1.0 + 3.0 * (i % 3)));
	}
	return v;
}

static Type ty(int rank, const int64_t *d)
{
	Type t = {0};
	t.dt = DT_F32;
	t.rank = rank;
	for (int i = 0; i < rank; i++)
		t.dims[i] = d[i];
	return t;
}

typedef struct {
	int n, h, w, c, oc, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, groups;
	int bias; /* 0 none, 1 random, 2 all -0.0 */
} Conv;

static const Conv convs[] = {
	{1, 9, 7, 16, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
	{1, 11, 10, 8, 16, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1},
	{1, 12, 9, 24, 40, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 0},
	{1, 13, 13, 3, 13, 3, 3, 2, 2, 1, 1, 1, 1, 0, 0, 1, 1},    /* C = 3, OC = 13 */
	{1, 10, 8, 12, 12, 5, 5, 1, 1, 2, 1, 4, 2, 3, 2, 1, 2},    /* dilated, asymmetric pads, -0 bias */
	{1, 17, 23, 5, 7, 7, 7, 2, 2, 1, 1, 3, 3, 3, 3, 1, 1},     /* the 7x7 stem, odd counts */
	{1, 6, 11, 7, 3, 2, 3, 3, 2, 1, 2, 2, 0, 1, 3, 1, 1},      /* pads larger than the stride */
	{1, 14, 14, 32, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 32, 1},  /* depthwise */
	{1, 15, 12, 48, 48, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 48, 1},  /* depthwise, stride 2 */
	{1, 9, 10, 13, 13, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, 13, 0},   /* depthwise 5x5, C = 13 */
	{1, 8, 9, 21, 21, 3, 3, 1, 2, 2, 1, 0, 3, 2, 1, 21, 1},    /* depthwise, dilated, odd pads */
	{1, 9, 7, 12, 18, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 3, 1},     /* groups of 4 -> 6 */
	{1, 7, 9, 32, 32, 3, 1, 2, 1, 1, 1, 1, 0, 1, 0, 2, 1},     /* 2 groups of 16 */
	{3, 6, 5, 16, 24, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},     /* N > 1: images */
	{1, 1, 1, 40, 17, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1},     /* a 1x1 image */
	{1, 3, 2, 4, 8, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, 1, 1},       /* window larger than the image */
};

static int outdim(int in, int k, int s, int d, int p0, int p1)
{
	return (in + p0 + p1 - (d * (k - 1) + 1)) / s + 1;
}

/* the tasks in reverse order, on this thread */
static void reverse_for(void *ctx, void (*task)(void *, size_t), void *arg, size_t n)
{
	(void)ctx;
	while (n--)
		task(arg, n);
}

/* y = the float sum in the documented order; bound = gamma_n * sum |terms| */
static void reference(const Conv *L, const float *x, const float *w, const float *b, int oh, int ow, float *y,
                      double *yd, double *bound)
{
	int cg = L->c / L->groups, og = L->oc / L->groups;
	for (int n = 0; n < L->n; n++)
	for (int i = 0; i < oh; i++)
	for (int j = 0; j < ow; j++)
	for (int o = 0; o < L->oc; o++) {
		float acc = b ? b[o] : 0.0f;
		double d = acc, mag = fabs(d);
		int terms = 1;
		for (int r = 0; r < L->kh; r++)
			for (int s = 0; s < L->kw; s++) {
				int ih = i * L->sh - L->pt + r * L->dh, iw = j * L->sw - L->pl + s * L->dw;
				if (ih < 0 || ih >= L->h || iw < 0 || iw >= L->w)
					continue;
				for (int k = 0; k < cg; k++) {
					float xv = x[((n * L->h + ih) * L->w + iw) * L->c + o / og * cg + k];
					float wv = w[((o * L->kh + r) * L->kw + s) * cg + k];
					float t = xv * wv;
					acc = acc + t;
					d += (double)xv * wv;
					mag += fabs((double)xv * wv);
					terms++;
				}
			}
		int64_t at = (((int64_t)n * oh + i) * ow + j) * L->oc + o;
		y[at] = acc;
		yd[at] = d;
		double nu = terms * 0x1p-24;
		bound[at] = nu / (1 - nu) * mag;
	}
}

static void check(const char *what, const float *got, const float *want, const double *yd, const double *bound,
                  int64_t n)
{
	for (int64_t i = 0; i < n; i++) {
		if (memcmp(&got[i], &want[i], sizeof *got) != 0)
			fail_msg("%s: element %lld is %a, the float sum in order %a", what, (long long)i, got[i], want[i]);
		if (!(fabs(got[i] - yd[i]) <= bound[i]))
			fail_msg("%s: element %lld is %.9g, the double sum %.17g, beyond the bound %.3g", what,
			         (long long)i, got[i], yd[i], bound[i]);
	}
}

static void test_conv(void **st)
{
	(void)st;
	for (size_t ci = 0; ci < sizeof convs / sizeof *convs; ci++) {
		const Conv *L = &convs[ci];
		int oh = outdim(L->h, L->kh, L->sh, L->dh, L->pt, L->pb), ow = outdim(L->w, L->kw, L->sw, L->dw, L->pl, L->pr);
		int cg = L->c / L->groups;
		int64_t nx = (int64_t)L->n * L->h * L->w * L->c, nw = (int64_t)L->oc * L->kh * L->kw * cg;
		int64_t ny = (int64_t)L->n * oh * ow * L->oc;
		float *x = fill(nx), *w = fill(nw), *b = fill(L->oc);
		for (int i = 0; L->bias == 2 && i < L->oc; i++)
			b[i] = -0.0f;
		Graph *g = graph_new("conv");
		Value *xv = value_new(V_INPUT, "x", ty(4, (int64_t[]){L->n, L->h, L->w, L->c}), here);
		PUSH(g->inputs, g->ninputs) = xv;
		Value *in[3] = {xv, graph_add_const(g, "w", ty(4, (int64_t[]){L->oc, L->kh, L->kw, cg}), w, here),
		                L->bias ? graph_add_const(g, "b", ty(1, (int64_t[]){L->oc}), b, here) : NULL};
		Op *op = op_new(g, OP_CONV2D, in, L->bias ? 3 : 2, "y", here);
		op->out->type = ty(4, (int64_t[]){L->n, oh, ow, L->oc});
		op->a.strides[0] = L->sh, op->a.strides[1] = L->sw;
		op->a.dilations[0] = L->dh, op->a.dilations[1] = L->dw;
		op->a.pads[0] = L->pt, op->a.pads[1] = L->pl, op->a.pads[2] = L->pb, op->a.pads[3] = L->pr;
		op->a.groups = L->groups;
		graph_append(g, op);
		PUSH(g->outputs, g->noutputs) = op->out;
		Prog *p = lower(g, target_find("ref"), "conv", false);
		assert_int_equal(p->nsteps, 1);
		bool dw = L->groups == L->c && L->groups == L->oc;
		assert_string_equal(p->steps[0].kernel, dw ? "dwconv_f32" : "conv2d_f32_blk");

		float *got = malloc((size_t)ny * sizeof *got), *want = malloc((size_t)ny * sizeof *want);
		double *yd = malloc((size_t)ny * sizeof *yd), *bound = malloc((size_t)ny * sizeof *bound);
		reference(L, x, w, L->bias ? b : NULL, oh, ow, want, yd, bound);
		memset(got, 0x7f, (size_t)ny * sizeof *got);
		const float *ins[1] = {x};
		float *outs[1] = {got};
		prog_run(p, ins, outs, NULL);
		check(p->steps[0].kernel, got, want, yd, bound, ny);

		/* cut into tasks by rows (NAME_run_parallel), in reverse order */
		const Step *s = &p->steps[0];
		q8_params prm = s->p;
		for (int k = 0; k < Q8_NP; k++)
			prm.p[k] = s->pblob[k] < 0 ? NULL : p->blobs[s->pblob[k]].data;
		q8_kernel fns[2] = {dw ? q8k_dwconv_f32 : q8k_conv2d_f32_blk, dw ? q8k_dwconv_f32_avx2 : q8k_conv2d_f32_blk_avx2};
		int units = L->n > 1 ? L->n : oh;
		for (int v = 0; v < 1 + HAVE_AVX2; v++) {
			memset(got, 0x7f, (size_t)ny * sizeof *got);
			fns[v](&prm, x, NULL, got);
			check(v ? "avx2" : "sse2", got, want, yd, bound, ny);
			for (int nt = 2; nt <= units; nt++) {
				memset(got, 0x7f, (size_t)ny * sizeof *got);
				q8_par(&prm, fns[v], x, NULL, got, Q8_SPLIT_ROWS + 16 * 4 + 256 * 4, nt, reverse_for, NULL);
				check("split", got, want, yd, bound, ny);
			}
		}

		/* the reference-layout kernel (computed weights) sums alike */
		memset(got, 0x7f, (size_t)ny * sizeof *got);
		prm.p[Q8P_W] = NULL;
		prm.p[Q8P_B] = L->bias ? b : NULL;
		q8k_conv2d_f32(&prm, x, w, got);
		check("conv2d_f32", got, want, yd, bound, ny);
		free(x), free(w), free(b), free(got), free(want), free(yd), free(bound);
	}
}

/* dense over N rows (1, 3, 4, 9) and OC around the block of 8 */
static void test_dense(void **st)
{
	(void)st;
	static const int shapes[][4] = {{1, 512, 1000, 1}, {3, 7, 5, 1}, {4, 33, 8, 0}, {9, 64, 17, 1}, {1, 1, 1, 1},
	                                {5, 20, 24, 2}};
	for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++) {
		int N = shapes[si][0], K = shapes[si][1], O = shapes[si][2], bias = shapes[si][3];
		float *x = fill((int64_t)N * K), *w = fill((int64_t)O * K), *b = fill(O);
		for (int i = 0; bias == 2 && i < O; i++)
			b[i] = -0.0f;
		Graph *g = graph_new("dense");
		Value *xv = value_new(V_INPUT, "x", ty(2, (int64_t[]){N, K}), here);
		PUSH(g->inputs, g->ninputs) = xv;
		Value *in[3] = {xv, graph_add_const(g, "w", ty(2, (int64_t[]){O, K}), w, here),
		                bias ? graph_add_const(g, "b", ty(1, (int64_t[]){O}), b, here) : NULL};
		Op *op = op_new(g, OP_DENSE, in, bias ? 3 : 2, "y", here);
		op->out->type = ty(2, (int64_t[]){N, O});
		graph_append(g, op);
		PUSH(g->outputs, g->noutputs) = op->out;
		Prog *p = lower(g, target_find("ref"), "dense", false);
		assert_int_equal(p->nsteps, 1);
		assert_string_equal(p->steps[0].kernel, "dense_f32_blk");
		/* a dense layer is a 1x1 convolution of N images of 1x1 pixel */
		Conv L = {N, 1, 1, K, O, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, bias};
		int64_t ny = (int64_t)N * O;
		float *got = malloc((size_t)ny * sizeof *got), *want = malloc((size_t)ny * sizeof *want);
		double *yd = malloc((size_t)ny * sizeof *yd), *bound = malloc((size_t)ny * sizeof *bound);
		reference(&L, x, w, bias ? b : NULL, 1, 1, want, yd, bound);
		memset(got, 0x7f, (size_t)ny * sizeof *got);
		const float *ins[1] = {x};
		float *outs[1] = {got};
		prog_run(p, ins, outs, NULL);
		check("dense_f32_blk", got, want, yd, bound, ny);
		const Step *s = &p->steps[0];
		q8_params prm = s->p;
		for (int k = 0; k < Q8_NP; k++)
			prm.p[k] = s->pblob[k] < 0 ? NULL : p->blobs[s->pblob[k]].data;
		for (int v = 0; v < 1 + HAVE_AVX2; v++) {
			memset(got, 0x7f, (size_t)ny * sizeof *got);
			(v ? q8k_dense_f32_blk_avx2 : q8k_dense_f32_blk)(&prm, x, NULL, got);
			check(v ? "avx2" : "sse2", got, want, yd, bound, ny);
		}
		free(x), free(w), free(b), free(got), free(want), free(yd), free(bound);
	}
}

/* weights computed by the graph keep the reference layout and kernel */
static void test_computed_weights(void **st)
{
	(void)st;
	Graph *g = graph_new("cw");
	Value *x = value_new(V_INPUT, "x", ty(4, (int64_t[]){1, 4, 4, 2}), here);
	PUSH(g->inputs, g->ninputs) = x;
	float *wv = fill(3 * 3 * 3 * 2);
	Value *w = graph_add_const(g, "w", ty(4, (int64_t[]){3, 3, 3, 2}), wv, here);
	Op *r = op_new(g, OP_RELU, (Value *[]){w}, 1, "wr", here);
	r->out->type = w->type;
	graph_append(g, r);
	Op *c = op_new(g, OP_CONV2D, (Value *[]){x, r->out}, 2, "y", here);
	c->out->type = ty(4, (int64_t[]){1, 2, 2, 3});
	graph_append(g, c);
	PUSH(g->outputs, g->noutputs) = c->out;
	Prog *p = lower(g, target_find("ref"), "cw", false);
	assert_int_equal(p->nsteps, 2);
	assert_string_equal(p->steps[1].kernel, "conv2d_f32");
	assert_int_equal(p->steps[1].b.kind, ARG_ARENA);
	free(wv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conv),
		cmocka_unit_test(test_dense),
		cmocka_unit_test(test_computed_weights),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
