/* --bias-correction (passes/biascorr.c): corrections worked out by hand
   for a tiny dense and a tiny padded depthwise conv, and the flag
   changing nothing where no weight is rounded (and nothing when off). */
#include <stdlib.h>
#include <unistd.h>

#include "qtest.h"

static char dir[64];

static char *tmp_npy(const char *name, int rank, const int64_t *dims, const float *d)
{
	if (!dir[0]) {
		strcpy(dir, "/tmp/q8c_test_bcXXXXXX");
		assert_non_null(mkdtemp(dir));
	}
	char *path = fmt("%s/%s", dir, name);
	npy_write(path, DT_F32, rank, dims, d);
	return path;
}

static const int32_t *final_bias(Graph *g, OpKind k)
{
	Op *op = find_op(g, k, 0);
	assert_non_null(op);
	assert_int_equal(op->in[2]->type.dt, DT_I32);
	return op->in[2]->data;
}

/* y = dense(x, W, b), x f32[1, 2] with range [-4, 4]: s_x = 4/127.
   Samples [1, 3] and [3, -1]: E[x] = [2, 1].
   W[0] = [1.984375, 0.51]: s_w = 1.984375/127 = 1/64, Wq = [127, 33]
       (0.51 * 64 = 32.64), error s_w Wq - W = [0, 0.515625 - 0.51]
       = [0, 0.005625]; shift = 0.005625 * 1 = 0.005625.
   W[1] = [-0.25, 1]: s_w = 1/127, Wq = [-32, 127] (-31.75 rounds to
       -32), error [-32/127 + 0.25, 0] = [-1/508, 0];
       shift = -1/508 * 2 = -0.0039370.
   The accumulator scales s_x s_w: 1/2032 and 4/16129, so with
   b = [0.1, -0.2]:
       off: 0.1 * 2032 = 203.2 -> 203;  -0.2 * 16129/4 = -806.45 -> -806
       on:  (0.1 - 0.005625) * 2032 = 191.77 -> 192;
            (-0.2 + 0.0039370) * 16129/4 = -806.45 + 15.875 = -790.575 -> -791 */
static Graph *dense_graph(void)
{
	Graph *g = graph_new("bcdense");
	g->file = "bcdense.q8";
	Value *x = in_f32(g, "x", ty(DT_F32, 2, 1, 2), -4, 4);
	const float w[4] = {1.984375f, 0.51f, -0.25f, 1.0f}, b[2] = {0.1f, -0.2f};
	Op *d = op2(g, OP_DENSE, x, cst(g, "w", ty(DT_F32, 2, 2, 2), w), cst(g, "b", ty(DT_F32, 1, 2), b), "y",
		    ty(DT_F32, 2, 1, 2));
	range(d->out, -8, 8);
	out(g, d->out);
	return g;
}

static const float dense_x[4] = {1, 3, 3, -1};

static void test_dense(void **s)
{
	(void)s;
	arena_reset();
	char *calib = tmp_npy("d.npy", 2, (int64_t[]){2, 2}, dense_x);
	Graph *g = dense_graph();
	Options o = {.calib_path = calib};
	run_passes(g, &o, 4);
	const int32_t *b = final_bias(g, OP_QDENSE);
	assert_int_equal(b[0], 203);
	assert_int_equal(b[1], -806);

	g = dense_graph();
	o = (Options){.calib_path = calib, .bias_corr = true};
	run_passes(g, &o, 4);
	b = final_bias(g, OP_QDENSE);
	assert_int_equal(b[0], 192);
	assert_int_equal(b[1], -791);
}

/* Depthwise 3x3 conv, pads 1, stride 1, on x f32[1, 2, 2, 2] with range
   [0, 4] (s_x = 4/127), no bias: the pass adds one.  Output 2x2, so
   tap (kh, kw) reads input row oh + kh - 1 and column ow + kw - 1 for
   oh, ow in {0, 1}; with input [[a, b], [c, d]] the per-tap means over
   the 4 positions (padding reads 0) are
       [[a, a+b, b], [a+c, a+b+c+d, b+d], [c, c+d, d]] / 4.
   Samples (channel 0 | channel 1):
       [[1, 2], [3, 4]] | [[4, 0], [0, 0]]
       [[3, 2], [1, 0]] | [[2, 0], [0, 0]]
   E: channel 0 a = b = c = d = 2; channel 1 a = 3, b = c = d = 0.
   Channel 0 weights: 1.984375 at (1,1) (s_w = 1/64), 0.51 at (0,0)
       (Wq 33, error +0.005625), -0.26 at (1,2) (-16.64 -> -17, error
       -0.265625 + 0.26 = -0.005625), zeros elsewhere.  Tap means
       (0,0): a/4 = 0.5, (1,2): (b+d)/4 = 1, so
       shift = 0.005625 * 0.5 - 0.005625 * 1 = -0.0028125.
   Channel 1 weights: 1 at (1,1) (s_w = 1/127), 0.25 at (0,0) and at
       (2,2) (31.75 -> 32, error +1/508 each).  Tap means (0,0): a/4 =
       0.75, (2,2): d/4 = 0, so shift = 0.75/508.
   Accumulator scales 1/2032 and 4/16129, bias = -shift:
       channel 0: 0.0028125 * 2032 = 5.715 -> 6
       channel 1: -0.75/508 * 16129/4 = -5.953 -> -6
   (The channel means instead of the taps would give 0.005625 * 2 -
   0.005625 * 2 = 0 and 2/508 * 0.75: biases 0 and -12; channel 0's
   taps for channel 1, 1/508 * (0.5 + 0.5): -8.) */
static Graph *conv_graph(void)
{
	Graph *g = graph_new("bcconv");
	g->file = "bcconv.q8";
	Value *x = in_f32(g, "x", ty(DT_F32, 4, 1, 2, 2, 2), 0, 4);
	float w[18] = {0};
	w[4] = 1.984375f, w[0] = 0.51f, w[5] = -0.26f;  /* [0][kh*3+kw] */
	w[9 + 4] = 1, w[9 + 0] = 0.25f, w[9 + 8] = 0.25f;
	Op *c = op2(g, OP_CONV2D, x, cst(g, "w", ty(DT_F32, 4, 2, 3, 3, 1), w), NULL, "y", ty(DT_F32, 4, 1, 2, 2, 2));
	c->a.groups = 2;
	for (int i = 0; i < 4; i++)
		c->a.pads[i] = 1;
	range(c->out, -8, 8);
	out(g, c->out);
	return g;
}

/* NHWC: [h][w][c] of each sample */
static const float conv_x[16] = {1, 4, 2, 0, 3, 0, 4, 0,  3, 2, 2, 0, 1, 0, 0, 0};

static void test_conv_padded(void **s)
{
	(void)s;
	arena_reset();
	char *calib = tmp_npy("c.npy", 4, (int64_t[]){2, 2, 2, 2}, conv_x);
	Graph *g = conv_graph();
	Options o = {.calib_path = calib};
	run_passes(g, &o, 4);
	const int32_t *b = final_bias(g, OP_QCONV2D);
	assert_int_equal(b[0], 0);
	assert_int_equal(b[1], 0);

	g = conv_graph();
	o = (Options){.calib_path = calib, .bias_corr = true};
	run_passes(g, &o, 4);
	b = final_bias(g, OP_QCONV2D);
	assert_int_equal(b[0], 6);
	assert_int_equal(b[1], -6);
}

static char *print_str(Graph *g)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	print_graph(f, g, NULL, NULL);
	fclose(f);
	char *r = xstrdup(buf);
	free(buf);
	return r;
}

/* Weights that int8 represents exactly (each channel's entries are
   multiples of max/127), or QDQ weights that the quantize pass keeps:
   nothing is rounded, so the flag must leave the final graph as it is
   without it, to the byte. */
static Graph *exact_graph(bool qdq)
{
	Graph *g = graph_new("bcexact");
	g->file = "bcexact.q8";
	Value *x = in_f32(g, "x", ty(DT_F32, 2, 1, 2), -4, 4);
	/* 127/64, -32/64 and 127/128, -32/128: exact at s_w = 1/64, 1/128 */
	const float w[4] = {1.984375f, -0.5f, 0.9921875f, -0.25f}, b[2] = {0.1f, -0.2f};
	Value *wv;
	if (qdq) {
		const int8_t q[4] = {127, -32, 127, -32};
		Value *c = cst(g, "wq", ty(DT_I8, 2, 2, 2), q);
		Op *dq = op2(g, OP_DEQUANTIZE, c, NULL, NULL, "w", ty(DT_F32, 2, 2, 2));
		dq->a.q = *quant_new(0, 2);
		dq->a.q.scale[0] = 1.0 / 64, dq->a.q.scale[1] = 1.0 / 128;
		wv = dq->out;
	} else {
		wv = cst(g, "w", ty(DT_F32, 2, 2, 2), w);
	}
	Op *d = op2(g, OP_DENSE, x, wv, cst(g, "b", ty(DT_F32, 1, 2), b), "y", ty(DT_F32, 2, 1, 2));
	range(d->out, -8, 8);
	out(g, d->out);
	return g;
}

static void test_unchanged(void **s)
{
	(void)s;
	arena_reset();
	char *calib = tmp_npy("e.npy", 2, (int64_t[]){2, 2}, dense_x);
	for (int qdq = 0; qdq < 2; qdq++) {
		Graph *off = exact_graph(qdq), *on = exact_graph(qdq);
		Options oo = {.calib_path = calib}, on_o = {.calib_path = calib, .bias_corr = true};
		run_passes(off, &oo, 4);
		run_passes(on, &on_o, 4);
		assert_string_equal(print_str(on), print_str(off));
	}
	/* and the flag off never reads the samples: a missing file is no error */
	Graph *g = dense_graph();
	Options o = {.calib_path = "/nonexistent/calib.npy"};
	run_passes(g, &o, 4);
	assert_int_equal(final_bias(g, OP_QDENSE)[0], 203);
}

/* Without samples there are no means: a user error, not a silent no-op. */
static void test_needs_calib(void **s)
{
	(void)s;
	arena_reset();
	Graph *g = dense_graph();
	Options o = {.bias_corr = true};
	jmp_buf jb;
	err_jmp = &jb;
	int rc = setjmp(jb);
	if (rc == 0)
		pass_quantize(g, &o);
	err_jmp = NULL;
	assert_int_equal(rc, 1);
	assert_non_null(strstr(err_msg, "--bias-correction needs calibration data"));
	assert_non_null(strstr(err_msg, "--calib"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dense),
		cmocka_unit_test(test_conv_padded),
		cmocka_unit_test(test_unchanged),
		cmocka_unit_test(test_needs_calib),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	if (dir[0]) {
		unlink(fmt("%s/d.npy", dir));
		unlink(fmt("%s/c.npy", dir));
		unlink(fmt("%s/e.npy", dir));
		rmdir(dir);
	}
	return r;
}
