/* Zero points: asymmetric QDQ inputs (u8 zero point 128, i8 -128, other
   values) through quantize + zeropoint give exactly the naive
   sum (qa - za) * qw + b, padded borders included. */
#include "qtest.h"

static uint32_t seed = 2463534242u;
static uint32_t rnd(void)
{
	seed ^= seed << 13;
	seed ^= seed >> 17;
	seed ^= seed << 5;
	return seed;
}

enum { H = 5, W = 5, C = 2, O = 3, K = 3 };

static int8_t wq[O * K * K * C];

/* x -> QDQ(sx, zx, dt) -> conv2d(QDQ weights, float bias, pads 1)
   -> QDQ(sy, zy, i8) -> output */
static Graph *asym_graph(Dtype dt, int zx, double sx, bool dense)
{
	Graph *g = graph_new("asym");
	Type xt = dense ? ty(DT_F32, 2, 1, H * W * C) : ty(DT_F32, 4, 1, H, W, C);
	Value *x = in_f32(g, "x", xt, 0, 0);
	Type qt = xt;
	qt.dt = dt;
	Op *q = op2(g, OP_QUANTIZE, x, NULL, NULL, "xq", qt);
	q->a.q = *quant_tensor(sx, zx);
	q->a.dtype = dt;
	Op *dq = op2(g, OP_DEQUANTIZE, q->out, NULL, NULL, "xd", xt);
	dq->a.q = *quant_tensor(sx, zx);
	for (int i = 0; i < O * K * K * C; i++)
		wq[i] = (int8_t)((int)(rnd() % 255) - 127);
	Type wt = dense ? ty(DT_I8, 2, O, H * W * C) : ty(DT_I8, 4, O, K, K, C);
	int8_t *wd = alloc_array((size_t)type_numel(&wt), 1);
	for (int64_t i = 0; i < type_numel(&wt); i++)
		wd[i] = dense ? (int8_t)((int)(rnd() % 255) - 127) : wq[i];
	Value *wc = graph_add_const(g, "wq", wt, wd, L0);
	Type wft = wt;
	wft.dt = DT_F32;
	Op *wdq = op2(g, OP_DEQUANTIZE, wc, NULL, NULL, "w", wft);
	wdq->a.q = *quant_new(0, O);
	const double ws[O] = {0.01, 0.02, 0.005};
	for (int c = 0; c < O; c++)
		wdq->a.q.scale[c] = ws[c];
	const float b[O] = {0.25f, -0.5f, 0.125f};
	Value *bc = cst(g, "b", ty(DT_F32, 1, O), b);
	Type yt = dense ? ty(DT_F32, 2, 1, O) : ty(DT_F32, 4, 1, H, W, O);
	Op *y = op2(g, dense ? OP_DENSE : OP_CONV2D, dq->out, wdq->out, bc, "y", yt);
	if (!dense)
		y->a.pads[0] = y->a.pads[1] = y->a.pads[2] = y->a.pads[3] = 1;
	Type yqt = yt;
	yqt.dt = DT_I8;
	Op *yq = op2(g, OP_QUANTIZE, y->out, NULL, NULL, "yq", yqt);
	yq->a.q = *quant_tensor(0.05, 3);
	Op *yd = op2(g, OP_DEQUANTIZE, yq->out, NULL, NULL, "yd", yt);
	yd->a.q = *quant_tensor(0.05, 3);
	out(g, yd->out);
	return g;
}

static void check_case(Dtype dt, int zx, bool dense)
{
	arena_reset();
	double sx = 0.03;
	Graph *g = asym_graph(dt, zx, sx, dense);
	Options o = {0};
	pass_quantize(g, &o);
	int zi8 = dt == DT_U8 ? zx - 128 : zx;
	Op *q = find_op(g, OP_QUANTIZE, 0);
	assert_int_equal(q->a.dtype, DT_I8);
	assert_int_equal(q->a.q.zp[0], zi8);
	assert_int_equal(q->out->type.q->zp[0], zi8);
	Op *c = find_op(g, dense ? OP_QDENSE : OP_QCONV2D, 0);
	assert_non_null(c);
	assert_int_equal(c->a.xzp, zi8);
	int32_t b0[O];
	memcpy(b0, c->in[2]->data, sizeof b0);
	/* the bias: round(b / (sx * sw[c])) */
	const double ws[O] = {0.01, 0.02, 0.005}, bf[O] = {0.25, -0.5, 0.125};
	for (int k = 0; k < O; k++)
		assert_int_equal(b0[k], (int32_t)rint(bf[k] / (sx * ws[k])));

	pass_zeropoint(g, &o);
	assert_int_equal(c->a.xzp, 0);
	const int32_t *b1 = c->in[2]->data;
	const int8_t *w = c->in[1]->data;
	int64_t kk = type_numel(&c->in[1]->type) / O;

	/* inputs in the original dtype, extremes included */
	int n = H * W * C;
	int qin[H * W * C];
	for (int t = 0; t < 20; t++) {
		for (int i = 0; i < n; i++) {
			int lo = dt == DT_U8 ? 0 : -128, hi = dt == DT_U8 ? 255 : 127;
			qin[i] = t == 0 ? lo : t == 1 ? hi : lo + (int)(rnd() % (unsigned)(hi - lo + 1));
		}
		for (int oh = 0; oh < (dense ? 1 : H); oh++)
		for (int ow = 0; ow < (dense ? 1 : W); ow++)
		for (int oc = 0; oc < O; oc++) {
			int64_t naive = b0[oc], folded = b1[oc];
			if (dense) {
				for (int i = 0; i < n; i++) {
					naive += (int64_t)(qin[i] - zx) * w[oc * kk + i];
					folded += (int64_t)(dt == DT_U8 ? qin[i] - 128 : qin[i]) * w[oc * kk + i];
				}
			} else {
				for (int kh = 0; kh < K; kh++)
				for (int kw = 0; kw < K; kw++)
				for (int ci = 0; ci < C; ci++) {
					int ih = oh + kh - 1, iw = ow + kw - 1;
					int wv = w[((oc * K + kh) * K + kw) * C + ci];
					bool pad = ih < 0 || ih >= H || iw < 0 || iw >= W;
					int qv = pad ? 0 : qin[(ih * W + iw) * C + ci];
					if (!pad)
						naive += (int64_t)(qv - zx) * wv;
					/* the kernel: int8 data, padded positions read the zero point */
					folded += (int64_t)(pad ? zi8 : dt == DT_U8 ? qv - 128 : qv) * wv;
				}
			}
			if (naive != folded)
				fail_msg("dt %d zx %d at (%d,%d,%d): naive %lld, folded %lld", dt, zx, oh, ow, oc,
					 (long long)naive, (long long)folded);
		}
	}

	/* end to end: the fake-quantized float result within one output step */
	pass_fixedpoint(g, &o);
	pass_fuse(g, &o);
	assert_int_equal(g->nops, 3);
	float xf[H * W * C], y[H * W * O];
	for (int i = 0; i < n; i++)
		xf[i] = (float)(sx * (qin[i] - zx));
	ref_run(g, xf, y);
	for (int oh = 0; oh < (dense ? 1 : H); oh++)
	for (int ow = 0; ow < (dense ? 1 : W); ow++)
	for (int oc = 0; oc < O; oc++) {
		double acc = bf[oc];
		if (dense)
			for (int i = 0; i < n; i++)
				acc += sx * (qin[i] - zx) * ws[oc] * w[oc * kk + i];
		else
			for (int kh = 0; kh < K; kh++)
			for (int kw = 0; kw < K; kw++)
			for (int ci = 0; ci < C; ci++) {
				int ih = oh + kh - 1, iw = ow + kw - 1;
				if (ih >= 0 && ih < H && iw >= 0 && iw < W)
					acc += sx * (qin[(ih * W + iw) * C + ci] - zx) * ws[oc] *
					       w[((oc * K + kh) * K + kw) * C + ci];
			}
		double fq = 0.05 * (sat8((int64_t)rint(acc / 0.05) + 3) - 3);
		double got = y[(oh * W + ow) * O + oc];
		if (dense)
			got = y[oc];
		if (fabs(got - fq) > 0.05 + 1e-6)
			fail_msg("dt %d zx %d at (%d,%d,%d): %g, fake-quantized %g", dt, zx, oh, ow, oc, got, fq);
	}
}

static void test_u8_128(void **state) { (void)state; check_case(DT_U8, 128, false); }
static void test_i8_m128(void **state) { (void)state; check_case(DT_I8, -128, false); }
static void test_random_zp(void **state)
{
	(void)state;
	const int u8z[] = {0, 1, 77, 200, 255}, i8z[] = {-100, -1, 0, 5, 127};
	for (int i = 0; i < 5; i++) {
		check_case(DT_U8, u8z[i], false);
		check_case(DT_I8, i8z[i], false);
		check_case(DT_U8, u8z[i], true);
		check_case(DT_I8, i8z[i], true);
	}
}

/* QDQ weights with a zero point: u8 weights zp 128 in [1, 255] are kept
   exactly as q - 128; one 0 (-128 after the shift) forces a requantize
   to symmetric int8 within [-127, 127]. */
static void weight_zp_case(bool with_zero)
{
	arena_reset();
	Graph *g = graph_new("wzp");
	Value *x = in_f32(g, "x", ty(DT_F32, 2, 1, 4), -1, 1);
	uint8_t wd[8] = {1, 128, 255, 200, 60, 129, 127, 130};
	if (with_zero)
		wd[5] = 0;
	Value *wc = cst(g, "wq", ty(DT_U8, 2, 2, 4), wd);
	Op *wdq = op2(g, OP_DEQUANTIZE, wc, NULL, NULL, "w", ty(DT_F32, 2, 2, 4));
	wdq->a.q = *quant_new(0, 2);
	wdq->a.q.scale[0] = 0.1, wdq->a.q.scale[1] = 0.2;
	wdq->a.q.zp[0] = wdq->a.q.zp[1] = 128;
	Op *y = op2(g, OP_DENSE, x, wdq->out, NULL, "y", ty(DT_F32, 2, 1, 2));
	range(y->out, -30, 30);
	out(g, y->out);
	Options o = {0};
	pass_quantize(g, &o);
	Op *d = find_op(g, OP_QDENSE, 0);
	const int8_t *w = d->in[1]->data;
	const Quant *q = d->in[1]->type.q;
	assert_int_equal(q->zp[0], 0);
	assert_int_equal(q->zp[1], 0);
	for (int i = 0; i < 8; i++) {
		int c = i / 4;
		double real = (c ? 0.2 : 0.1) * (wd[i] - 128);
		if (!with_zero) {
			assert_int_equal(w[i], wd[i] - 128);
			assert_true(q->scale[c] == (c ? 0.2 : 0.1));
		} else {
			assert_true(w[i] >= -127 && w[i] <= 127);
			assert_true(fabs(q->scale[c] * w[i] - real) <= q->scale[c] / 2 + 1e-12);
		}
	}
	if (with_zero) /* channel 1 holds -128 * 0.2 = -25.6: scale 25.6/127 */
		assert_true(fabs(q->scale[1] - 25.6 / 127) < 1e-12);
}

static void test_weight_zero_point(void **state)
{
	(void)state;
	weight_zp_case(false);
	weight_zp_case(true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_u8_128),
		cmocka_unit_test(test_i8_m128),
		cmocka_unit_test(test_random_zp),
		cmocka_unit_test(test_weight_zero_point),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
