/* Lowering of one op: its kernel, params and blobs (lower.h, q8rt.h).
   Shapes go right-aligned into NHWC; weights keep the graph's layout,
   which is the reference layout ([O][KH][KW][C/groups], [O][K]);
   select_kernel() may repack them for a target afterwards. */
#include "codegen/lower_impl.h"

#include <math.h>
#include <string.h>

static void set(L *l, Step *s, int k, int64_t v)
{
	if (v < INT32_MIN || v > INT32_MAX)
		BAD(l, "a size or parameter (%lld) does not fit in 32 bits", (long long)v);
	s->p.i[k] = (int32_t)v;
}

/* dims right-aligned to NHWC; a rank above 4 folds its leading dims into N */
static void nhwc(const Type *t, int64_t d[4])
{
	d[0] = d[1] = d[2] = d[3] = 1;
	for (int i = 0; i < t->rank; i++) {
		int j = i - (t->rank - 4);
		if (j < 0)
			d[0] *= t->dims[i];
		else
			d[j] = t->dims[i];
	}
}

static void set_shapes(L *l, Step *s, const Type *x, const Type *y)
{
	int64_t d[4], e[4];
	nhwc(x, d);
	nhwc(y, e);
	set(l, s, Q8_N, d[0]);
	set(l, s, Q8_H, d[1]);
	set(l, s, Q8_W, d[2]);
	set(l, s, Q8_C, d[3]);
	set(l, s, Q8_OH, e[1]);
	set(l, s, Q8_OW, e[2]);
	set(l, s, Q8_OC, e[3]);
}

static void set_window(L *l, Step *s, const int64_t size[2], const Attrs *a, bool dil)
{
	set(l, s, Q8_KH, size[0]);
	set(l, s, Q8_KW, size[1]);
	set(l, s, Q8_SH, a->strides[0]);
	set(l, s, Q8_SW, a->strides[1]);
	set(l, s, Q8_DH, dil ? a->dilations[0] : 1);
	set(l, s, Q8_DW, dil ? a->dilations[1] : 1);
	set(l, s, Q8_PT, a->pads[0]);
	set(l, s, Q8_PL, a->pads[1]);
	set(l, s, Q8_PB, a->pads[2]);
	set(l, s, Q8_PR, a->pads[3]);
	if (a->strides[0] < 1 || a->strides[1] < 1 || (dil && (a->dilations[0] < 1 || a->dilations[1] < 1)))
		BAD(l, "strides and dilations must be positive");
}

static void set_count(L *l, Step *s, const Type *x)
{
	set(l, s, Q8_COUNT, type_numel(x));
	set(l, s, Q8_C, x->rank ? x->dims[x->rank - 1] : 1);
}

static void need_dt(L *l, const Value *v, Dtype dt)
{
	if (v->type.dt != dt)
		BAD(l, "%%%s is %s, expected %s", v->name, type_str(&v->type), dtype_name(dt));
}

static void need_rank(L *l, const Value *v, int rank)
{
	if (v->type.rank != rank)
		BAD(l, "%%%s is %s, expected rank %d", v->name, type_str(&v->type), rank);
}

/* zero point of a per-tensor quantized int8 activation */
static int32_t zp_of(L *l, const Value *v)
{
	const Quant *q = v->type.q;
	if (!q)
		return 0;
	if (q->n != 1)
		BAD(l, "%%%s: a per-axis quantized activation has no integer kernel", v->name);
	return q->zp[0];
}

static void set_rq(L *l, Step *s, int nrq_want1, int nrq_want2)
{
	const Attrs *a = &l->op->a;
	if (a->nrq == 0 || !a->mult || !a->shift)
		BROKEN(l, "no fixed-point multipliers (not fused?)");
	if (a->nrq != nrq_want1 && a->nrq != nrq_want2)
		BROKEN(l, "%d multipliers, expected %d or %d", a->nrq, nrq_want1, nrq_want2);
	for (int i = 0; i < a->nrq; i++)
		if (a->shift[i] < -31 || a->shift[i] > 30 || a->mult[i] < 0)
			BROKEN(l, "multiplier %d out of range (mult %d, shift %d)", i, a->mult[i], a->shift[i]);
	set(l, s, Q8_NRQ, a->nrq);
	s->pblob[Q8P_MULT] = lower_blob(l, fmt("%s_mult", l->op->out->name), DT_I32, a->nrq, a->mult);
	s->pblob[Q8P_SHIFT] = lower_blob(l, fmt("%s_shift", l->op->out->name), DT_I32, a->nrq, a->shift);
}

/* the integer result: i8 (or i16 where a16 is set), its zero point, clamp bounds */
static void set_out(L *l, Step *s, bool a16)
{
	Value *y = l->op->out;
	Dtype dt = y->type.dt;
	if (dt != DT_I8 && !(a16 && dt == DT_I16))
		BROKEN(l, "result is %s, expected i8%s", type_str(&y->type), a16 ? " or i16" : "");
	set(l, s, Q8_YZP, zp_of(l, y));
	if (l->op->a.lo > l->op->a.hi || l->op->a.lo < dtype_min(dt) || l->op->a.hi > dtype_max(dt))
		BROKEN(l, "clamp [%d, %d] outside %s", l->op->a.lo, l->op->a.hi, dtype_name(dt));
	set(l, s, Q8_LO, l->op->a.lo);
	set(l, s, Q8_HI, l->op->a.hi);
	if (a16)
		set(l, s, Q8_YDT, dt);
}

static void set_out_i8(L *l, Step *s) { set_out(l, s, false); }

/* conv2d/dense with an int16 operand or result: the a16 kernels (runtime/a16.h) */
static void set_a16(L *l, Step *s, const Value *x, const char *kernel)
{
	if (x->type.dt != DT_I16 && l->op->out->type.dt != DT_I16)
		return;
	s->kernel = kernel;
	set(l, s, Q8_ADT, x->type.dt);
}

/* b broadcasts against a: same shape, along the last axis, or scalar */
static void set_bmode(L *l, Step *s, const Value *a, const Value *b)
{
	int64_t na = type_numel(&a->type), nb = type_numel(&b->type);
	int64_t c = a->type.rank ? a->type.dims[a->type.rank - 1] : 1;
	int mode = nb == na ? 0 : nb == 1 ? 2 : nb == c ? 1 : -1;
	if (mode < 0)
		BAD(l, "%s does not broadcast against %s", type_str(&b->type), type_str(&a->type));
	set(l, s, Q8_BMODE, mode);
	s->b = lower_arg(l, (Value *)b);
}

static int norm_axis(L *l, int axis, int rank)
{
	int ax = axis < 0 ? axis + rank : axis;
	if (ax < 0 || ax >= rank)
		BAD(l, "axis %d out of range for rank %d", axis, rank);
	return ax;
}

/* t viewed as [OUTER, dims[ax], INNER] */
static void set_view(L *l, Step *s, const Type *t, int ax)
{
	int64_t outer = 1, inner = 1;
	for (int i = 0; i < ax; i++)
		outer *= t->dims[i];
	for (int i = ax + 1; i < t->rank; i++)
		inner *= t->dims[i];
	set(l, s, Q8_OUTER, outer);
	set(l, s, Q8_LEN, t->rank ? t->dims[ax] : 1);
	set(l, s, Q8_INNER, inner);
}

/* ---- one op ---- */

static void lower_conv(L *l, Step *s, bool quant)
{
	Op *op = l->op;
	Value *x = op->in[0], *w = op->in[1], *y = op->out;
	need_rank(l, x, 4);
	need_rank(l, w, 4);
	need_rank(l, y, 4);
	int64_t G = op->a.groups, C = x->type.dims[3], O = w->type.dims[0];
	if (G < 1 || C % G || O % G || w->type.dims[3] * G != C || y->type.dims[3] != O)
		BAD(l, "groups=%lld does not fit %s and weights %s", (long long)G, type_str(&x->type), type_str(&w->type));
	set_shapes(l, s, &x->type, &y->type);
	set_window(l, s, &w->type.dims[1], &op->a, true);
	set(l, s, Q8_GROUPS, G);
	if (!quant) {
		need_dt(l, x, DT_F32);
		need_dt(l, w, DT_F32);
		if (w->kind == V_CONST)
			s->pblob[Q8P_W] = lower_const(l, w);
		else
			s->b = lower_arg(l, w);
		if (op->nin > 2) {
			need_dt(l, op->in[2], DT_F32);
			s->pblob[Q8P_B] = lower_const(l, op->in[2]);
		}
		return;
	}
	if (x->type.dt != DT_I16)
		need_dt(l, x, DT_I8);
	need_dt(l, w, DT_I8);
	if (op->a.xzp != 0)
		BROKEN(l, "xzp=%d: the zero point is not folded into the bias", op->a.xzp);
	set_a16(l, s, x, "conv2d_a16");
	if (w->type.q)
		for (int i = 0; i < w->type.q->n; i++)
			if (w->type.q->zp[i] != 0)
				BROKEN(l, "weights with a nonzero zero point");
	set(l, s, Q8_AZP, zp_of(l, x));
	s->pblob[Q8P_W] = lower_const(l, w);
	if (op->nin > 2) {
		need_dt(l, op->in[2], DT_I32);
		s->pblob[Q8P_B] = lower_const(l, op->in[2]);
	}
	set_rq(l, s, 1, (int)O);
	set_out(l, s, x->type.dt == DT_I16 || y->type.dt == DT_I16);
}

static void lower_dense(L *l, Step *s, bool quant)
{
	Op *op = l->op;
	Value *x = op->in[0], *w = op->in[1], *y = op->out;
	need_rank(l, w, 2);
	int64_t K = w->type.dims[1], O = w->type.dims[0];
	if (x->type.rank < 1 || x->type.dims[x->type.rank - 1] != K || type_numel(&y->type) != type_numel(&x->type) / K * O)
		BAD(l, "%s does not fit weights %s", type_str(&x->type), type_str(&w->type));
	set(l, s, Q8_N, type_numel(&x->type) / K);
	set(l, s, Q8_C, K);
	set(l, s, Q8_OC, O);
	if (!quant) {
		need_dt(l, x, DT_F32);
		need_dt(l, w, DT_F32);
		if (w->kind == V_CONST)
			s->pblob[Q8P_W] = lower_const(l, w);
		else
			s->b = lower_arg(l, w);
		if (op->nin > 2) {
			need_dt(l, op->in[2], DT_F32);
			s->pblob[Q8P_B] = lower_const(l, op->in[2]);
		}
		return;
	}
	if (x->type.dt != DT_I16)
		need_dt(l, x, DT_I8);
	need_dt(l, w, DT_I8);
	if (op->a.xzp != 0)
		BROKEN(l, "xzp=%d: the zero point is not folded into the bias", op->a.xzp);
	set_a16(l, s, x, "dense_a16");
	set(l, s, Q8_AZP, zp_of(l, x));
	s->pblob[Q8P_W] = lower_const(l, w);
	if (op->nin > 2) {
		need_dt(l, op->in[2], DT_I32);
		s->pblob[Q8P_B] = lower_const(l, op->in[2]);
	}
	set_rq(l, s, 1, (int)O);
	set_out(l, s, x->type.dt == DT_I16 || y->type.dt == DT_I16);
}

static void lower_pool(L *l, Step *s, const char *f32, const char *i8)
{
	Op *op = l->op;
	Value *x = op->in[0];
	need_rank(l, x, 4);
	need_rank(l, op->out, 4);
	s->kernel = x->type.dt == DT_F32 ? f32 : x->type.dt == DT_I8 ? i8 : NULL;
	if (x->type.dt == DT_I16 && op->kind == OP_MAXPOOL)
		s->kernel = "maxpool_i16"; /* int16 activations (runtime/a16.h) */
	if (!s->kernel)
		BAD(l, "no kernel for %s", type_str(&x->type));
	set_shapes(l, s, &x->type, &op->out->type);
	if (op->kind != OP_GAVGPOOL)
		set_window(l, s, op->a.size, &op->a, false);
	if (x->type.dt == DT_I8 || x->type.dt == DT_I16)
		set(l, s, Q8_AZP, zp_of(l, x));
}

static int32_t to_i8(double v, bool up)
{
	if (isnan(v))
		return 0;
	v = up ? ceil(v) : floor(v);
	return v < -128 ? -128 : v > 127 ? 127 : (int32_t)v;
}

static void lower_clip(L *l, Step *s)
{
	Op *op = l->op;
	Value *x = op->in[0];
	double lo = op->a.min, hi = op->a.max;
	if (op->kind == OP_RELU)
		lo = 0, hi = INFINITY;
	if (op->kind == OP_RELU6)
		lo = 0, hi = 6;
	set_count(l, s, &x->type);
	if (x->type.dt == DT_I8 && op->kind == OP_CLIP) {
		s->kernel = "clip_i8";
		set(l, s, Q8_LO, to_i8(lo, true));
		set(l, s, Q8_HI, to_i8(hi, false));
		return;
	}
	if (x->type.dt == DT_I16 && op->kind == OP_CLIP) {
		s->kernel = "clip_i16";
		set(l, s, Q8_LO, (int64_t)fmax(fmin(ceil(lo), 32767), -32768));
		set(l, s, Q8_HI, (int64_t)fmax(fmin(floor(hi), 32767), -32768));
		return;
	}
	need_dt(l, x, DT_F32);
	s->kernel = "clip_f32";
	s->p.f[Q8F_MIN] = (float)lo;
	s->p.f[Q8F_MAX] = (float)hi;
}

static void lower_batchnorm(L *l, Step *s)
{
	Op *op = l->op;
	Value *x = op->in[0];
	need_dt(l, x, DT_F32);
	int64_t C = x->type.rank ? x->type.dims[x->type.rank - 1] : 1;
	const float *v[4];
	for (int i = 0; i < 4; i++) {
		Value *c = op->in[i + 1];
		if (c->kind != V_CONST || !c->data)
			BAD(l, "%%%s must be a constant", c->name);
		need_dt(l, c, DT_F32);
		if (type_numel(&c->type) != C)
			BAD(l, "%%%s is %s, expected %lld elements", c->name, type_str(&c->type), (long long)C);
		v[i] = c->data;
	}
	/* y = x * scale + shift, scale = gamma / sqrt(var + eps),
	   shift = beta - mean * scale, in double, rounded once */
	float *sc = alloc_array((size_t)C, sizeof *sc), *sh = alloc_array((size_t)C, sizeof *sh);
	for (int64_t c = 0; c < C; c++) {
		double k = (double)v[0][c] / sqrt((double)v[3][c] + op->a.epsilon);
		sc[c] = (float)k;
		sh[c] = (float)((double)v[1][c] - (double)v[2][c] * k);
	}
	set_count(l, s, &x->type);
	s->pblob[Q8P_SCALE] = lower_blob(l, fmt("%s_scale", op->out->name), DT_F32, C, sc);
	s->pblob[Q8P_ZP] = lower_blob(l, fmt("%s_shift", op->out->name), DT_F32, C, sh);
}

static void lower_pad(L *l, Step *s)
{
	Op *op = l->op;
	Value *x = op->in[0];
	need_rank(l, x, 4);
	need_rank(l, op->out, 4);
	for (int i = 0; i < 4; i++)
		if (op->a.pads[i] < 0)
			BAD(l, "negative pads");
	set_shapes(l, s, &x->type, &op->out->type);
	set(l, s, Q8_PT, op->a.pads[0]);
	set(l, s, Q8_PL, op->a.pads[1]);
	set(l, s, Q8_PB, op->a.pads[2]);
	set(l, s, Q8_PR, op->a.pads[3]);
	if (x->type.dt == DT_I8) {
		s->kernel = "pad_i8";
		set(l, s, Q8_YZP, to_i8(nearbyint(op->a.value), true));
		return;
	}
	need_dt(l, x, DT_F32);
	s->kernel = "pad_f32";
	s->p.f[Q8F_VALUE] = (float)op->a.value;
}

static void lower_concat(L *l)
{
	Op *op = l->op;
	Value *y = op->out;
	int ax = norm_axis(l, op->a.axis, y->type.rank);
	int64_t doff = 0;
	for (int i = 0; i < op->nin; i++) {
		Value *x = op->in[i];
		if (x->type.dt != y->type.dt || (y->type.dt != DT_F32 && !quant_equal(x->type.q, y->type.q)))
			BROKEN(l, "operand %%%s (%s) does not share the result's type", x->name, type_str(&x->type));
		Step s = lower_step(l, "copy_slice");
		s.a = lower_arg(l, x);
		set_view(l, &s, &x->type, ax);
		set(l, &s, Q8_DLEN, y->type.dims[ax]);
		set(l, &s, Q8_DOFF, doff);
		set(l, &s, Q8_ESIZE, (int64_t)dtype_size(y->type.dt));
		doff += x->type.dims[ax];
		lower_emit(l, &s);
	}
	if (doff != y->type.dims[ax])
		BROKEN(l, "operands cover %lld of %lld", (long long)doff, (long long)y->type.dims[ax]);
}

/* quantize / dequantize: per tensor, or per axis of x */
static void lower_qdq(L *l, Step *s)
{
	Op *op = l->op;
	Value *x = op->in[0], *y = op->out;
	const Quant *q = &op->a.q;
	if (q->n < 1 || !q->scale || !q->zp)
		q = op->kind == OP_QUANTIZE ? y->type.q : x->type.q;
	if (!q || q->n < 1)
		BROKEN(l, "no quantization parameters");
	Value *iv = op->kind == OP_QUANTIZE ? y : x;
	if (op->kind == OP_QUANTIZE)
		need_dt(l, x, DT_F32);
	else
		need_dt(l, y, DT_F32);
	if (iv->type.dt == DT_F32)
		BAD(l, "%%%s must be an integer tensor", iv->name);
	set(l, s, Q8_ADT, x->type.dt);
	set(l, s, Q8_YDT, y->type.dt);
	set(l, s, Q8_NQ, q->n);
	if (q->n == 1) {
		set(l, s, Q8_OUTER, 1);
		set(l, s, Q8_LEN, type_numel(&x->type));
		set(l, s, Q8_INNER, 1);
		s->p.f[Q8F_SCALE] = (float)q->scale[0];
		set(l, s, op->kind == OP_QUANTIZE ? Q8_YZP : Q8_AZP, q->zp[0]);
		return;
	}
	int ax = norm_axis(l, q->axis, x->type.rank);
	if (x->type.dims[ax] != q->n)
		BAD(l, "%d scales for axis %d of %s", q->n, q->axis, type_str(&x->type));
	set_view(l, s, &x->type, ax);
	float *sc = alloc_array((size_t)q->n, sizeof *sc);
	for (int i = 0; i < q->n; i++)
		sc[i] = (float)q->scale[i];
	s->pblob[Q8P_SCALE] = lower_blob(l, fmt("%s_scale", y->name), DT_F32, q->n, sc);
	s->pblob[Q8P_ZP] = lower_blob(l, fmt("%s_zp", y->name), DT_I32, q->n, q->zp);
}

static void lower_act(L *l, Step *s)
{
	Op *op = l->op;
	need_dt(l, op->in[0], DT_F32);
	s->kernel = "act_f32";
	set_count(l, s, &op->in[0]->type);
	int f = op->kind == OP_SIGMOID ? Q8_ACT_SIGMOID : op->kind == OP_TANH ? Q8_ACT_TANH
		: op->kind == OP_HARDSWISH ? Q8_ACT_HARDSWISH : op->kind == OP_HARDSIGMOID ? Q8_ACT_HARDSIGMOID
		: Q8_ACT_LEAKYRELU;
	set(l, s, Q8_FUNC, f);
	s->p.f[Q8F_ALPHA] = (float)op->a.alpha;
	s->p.f[Q8F_BETA] = (float)op->a.beta;
}

/* The kernel walks y in order: for each axis i of y its length and the
   stride of x along it.  Axes of length 1 go, and neighbours that stay
   neighbours in x merge ([0, 2, 3, 1] on [N, C, H, W] is [N, C, H*W]
   read as [N, H*W, C]), so the inner loop runs as long as it can. */
static void lower_transpose(L *l, Step *s)
{
	Op *op = l->op;
	const Type *x = &op->in[0]->type;
	if (op->a.nperm != x->rank || op->out->type.dt != x->dt)
		BROKEN(l, "perm of %d entries on %s", op->a.nperm, type_str(x));
	int64_t xs[MAXRANK], d[MAXRANK], st[MAXRANK];
	int64_t acc = 1;
	for (int i = x->rank - 1; i >= 0; i--)
		xs[i] = acc, acc *= x->dims[i];
	int r = 0;
	for (int i = 0; i < x->rank; i++) {
		int64_t p = op->a.perm[i];
		if (p < 0 || p >= x->rank)
			BROKEN(l, "perm entry %lld", (long long)p);
		if (x->dims[p] == 1)
			continue;
		if (r > 0 && st[r - 1] == xs[p] * x->dims[p]) {
			d[r - 1] *= x->dims[p];
			st[r - 1] = xs[p];
			continue;
		}
		d[r] = x->dims[p], st[r] = xs[p], r++;
	}
	if (r == 0)
		d[0] = st[0] = 1, r = 1;
	int32_t *w = alloc_array((size_t)(2 * r), sizeof *w);
	set(l, s, Q8_COUNT, type_numel(x)); /* dims and strides are smaller */
	for (int i = 0; i < r; i++)
		w[i] = (int32_t)d[i], w[r + i] = (int32_t)st[i];
	s->kernel = "transpose";
	set(l, s, Q8_RANK, r);
	set(l, s, Q8_ESIZE, (int64_t)dtype_size(x->dt));
	s->pblob[Q8P_W] = lower_blob(l, fmt("%s_perm", op->out->name), DT_I32, 2 * r, w);
}

static void lower_lut(L *l, Step *s)
{
	Op *op = l->op;
	Value *t = op->in[1];
	need_dt(l, op->in[0], DT_I8);
	if (t->kind != V_CONST || t->type.dt != DT_I8 || type_numel(&t->type) != 256)
		BROKEN(l, "the table %%%s is not an i8[256] constant", t->name);
	need_dt(l, op->out, DT_I8);
	s->kernel = "lut_i8";
	set_count(l, s, &op->in[0]->type);
	s->pblob[Q8P_W] = lower_const(l, t);
}

void lower_op(L *l, Op *op)
{
	l->op = op;
	if (is_alias(op)) {
		if (type_numel(&op->in[0]->type) != type_numel(&op->out->type) || op->in[0]->type.dt != op->out->type.dt)
			BROKEN(l, "%s is not a view of %s", type_str(&op->out->type), type_str(&op->in[0]->type));
		return;
	}
	if (op->kind == OP_CONCAT) {
		lower_concat(l);
		return;
	}
	Step s = lower_step(l, NULL);
	Value *x = op->in[0];
	switch (op->kind) {
	case OP_CONV2D: s.kernel = "conv2d_f32"; lower_conv(l, &s, false); break;
	case OP_QCONV2D: s.kernel = "conv2d_i8"; lower_conv(l, &s, true); break;
	case OP_DENSE: s.kernel = "dense_f32"; lower_dense(l, &s, false); break;
	case OP_QDENSE: s.kernel = "dense_i8"; lower_dense(l, &s, true); break;
	case OP_ADD: case OP_SUB: case OP_MUL:
		s.kernel = op->kind == OP_ADD ? "add_f32" : op->kind == OP_SUB ? "sub_f32" : "mul_f32";
		need_dt(l, x, DT_F32);
		need_dt(l, op->in[1], DT_F32);
		set_count(l, &s, &x->type);
		set_bmode(l, &s, x, op->in[1]);
		break;
	case OP_QADD: case OP_QSUB: case OP_QMUL:
		s.kernel = op->kind == OP_QADD ? "add_i8" : op->kind == OP_QSUB ? "sub_i8" : "mul_i8";
		need_dt(l, x, DT_I8);
		need_dt(l, op->in[1], DT_I8);
		set_count(l, &s, &x->type);
		set_bmode(l, &s, x, op->in[1]);
		set(l, &s, Q8_AZP, zp_of(l, x));
		set(l, &s, Q8_BZP, zp_of(l, op->in[1]));
		if (op->kind == OP_QMUL)
			set_rq(l, &s, 1, 1);
		else
			set_rq(l, &s, 3, 3);
		set_out_i8(l, &s);
		break;
	case OP_REQUANTIZE: {
		if (x->type.dt != DT_I8 && x->type.dt != DT_I16 && x->type.dt != DT_I32)
			BROKEN(l, "operand is %s", type_str(&x->type));
		bool a16 = x->type.dt == DT_I16 || op->out->type.dt == DT_I16;
		s.kernel = a16 ? "requant_a16" : x->type.dt == DT_I8 ? "requant_i8" : "requant_i32";
		set_count(l, &s, &x->type);
		set(l, &s, Q8_AZP, zp_of(l, x));
		if (a16)
			set(l, &s, Q8_ADT, x->type.dt);
		set_rq(l, &s, 1, s.p.i[Q8_C]);
		set_out(l, &s, a16);
		break;
	}
	case OP_RELU: case OP_RELU6: case OP_CLIP: lower_clip(l, &s); break;
	case OP_MAXPOOL: lower_pool(l, &s, "maxpool_f32", "maxpool_i8"); break;
	case OP_AVGPOOL: lower_pool(l, &s, "avgpool_f32", "avgpool_i8"); break;
	case OP_GAVGPOOL: lower_pool(l, &s, "gavgpool_f32", "gavgpool_i8"); break;
	case OP_BATCHNORM: s.kernel = "affine_f32"; lower_batchnorm(l, &s); break;
	case OP_PAD: lower_pad(l, &s); break;
	case OP_SOFTMAX:
		need_dt(l, x, DT_F32);
		s.kernel = "softmax_f32";
		if (x->type.rank == 0)
			set_view(l, &s, &x->type, 0);
		else
			set_view(l, &s, &x->type, norm_axis(l, op->a.axis, x->type.rank));
		break;
	case OP_SIGMOID: case OP_TANH: case OP_HARDSWISH: case OP_HARDSIGMOID: case OP_LEAKYRELU:
		lower_act(l, &s);
		break;
	case OP_TRANSPOSE: lower_transpose(l, &s); break;
	case OP_QLUT: lower_lut(l, &s); break;
	case OP_QUANTIZE: s.kernel = "quantize"; lower_qdq(l, &s); break;
	case OP_DEQUANTIZE: s.kernel = "dequantize"; lower_qdq(l, &s); break;
	default: BROKEN(l, "no lowering");
	}
	if (s.y.kind == ARG_INPUT || s.y.kind == ARG_BLOB || s.y.kind == ARG_NONE)
		die("lower: %s writes to a read-only place", lower_opname(op));
	lower_emit(l, &s);
}

