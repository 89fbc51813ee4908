/* Pass 3, quantize: the float graph becomes an integer graph.
   Activations are int8 per tensor, symmetric [-127, 127] with zero point
   0 and scale T/127 from the calibrated range, unless QDQ nodes fix their
   scale and zero point; weights are int8 [-127, 127] per output channel
   (or per tensor); biases are int32 at scale s_x * s_w[c].  conv2d and
   dense become qconv2d / qdense (an int32 accumulator) + requantize,
   add/sub/mul become qadd/qsub/qmul, relu/relu6/clip an integer clip,
   the activations (sigmoid, tanh, ...) a qlut (lut.c); pools, pad,
   reshape, flatten, transpose and concat run on int8 as they are (an
   average pool that QDQ nodes quantize at a new scale becomes a conv).  The
   inputs get a quantize, the outputs a dequantize.  docs/numerics.md has
   the arithmetic.  The multipliers are left to the fixedpoint pass and the
   zero points to the zeropoint pass.  Ops already integer are skipped, so
   the pass can run on its own dump.  With --bias-correction the float
   biases first lose the mean shift of the rounded weights (biascorr.c). */
#include "quant.h"

#include <math.h>
#include <string.h>

static bool is_int(const Value *v) { return v->type.dt != DT_F32; }

static const char *opname(const Op *op) { return opinfo[op->kind].name; }

/* ---- graph helpers ---- */

static void insert_after(Graph *g, Op *after, Op *op)
{
	for (int i = 0; i < g->nops; i++)
		if (g->ops[i] == after) {
			if (i + 1 < g->nops)
				graph_insert_before(g, g->ops[i + 1], op);
			else
				graph_append(g, op);
			return;
		}
	die("insert_after: op not in the graph");
}

static void insert_first(Graph *g, Op *op)
{
	if (g->nops)
		graph_insert_before(g, g->ops[0], op);
	else
		graph_append(g, op);
}

/* Like graph_replace_uses, but leaves the graph outputs alone. */
static void replace_in_ops(Graph *g, Value *from, Value *to, const Op *except)
{
	for (int i = 0; i < g->nops; i++)
		if (g->ops[i] != except)
			for (int j = 0; j < g->ops[i]->nin; j++)
				if (g->ops[i]->in[j] == from)
					g->ops[i]->in[j] = to;
}

static void set_clamp(Op *op, bool full)
{
	op->a.lo = full ? -128 : -127;
	op->a.hi = 127;
}

Op *requant_op(Graph *g, Value *x, Quant *q, bool full, const char *name, Loc l)
{
	Op *r = op_new(g, OP_REQUANTIZE, &x, 1, name, l);
	r->out->type = x->type;
	r->out->type.dt = DT_I8;
	r->out->type.q = q;
	set_clamp(r, full);
	return r;
}

static Op *dequant_op(Graph *g, Value *x, const char *name, Loc l)
{
	Op *d = op_new(g, OP_DEQUANTIZE, &x, 1, name, l);
	d->a.q = *quant_copy(x->type.q);
	d->out->type = x->type;
	d->out->type.dt = DT_F32;
	d->out->type.q = NULL;
	return d;
}

static Op *quant_op(Graph *g, Value *x, Quant *q, Dtype dt, const char *name, Loc l)
{
	Op *op = op_new(g, OP_QUANTIZE, &x, 1, name, l);
	op->a.q = *quant_copy(q);
	op->a.dtype = dt;
	op->out->type = x->type;
	op->out->type.dt = dt;
	op->out->type.q = q;
	return op;
}

/* ---- choosing the quantization of an activation ---- */

/* The quantization that a QDQ quantize or dequantize op gives its int8
   tensor (scale rounded up to a power of two with --scale pow2). */
static Quant *qdq_quant(Options *o, Op *op)
{
	if (op->a.q.n != 1)
		error_at(op->loc, "%s: per-axis quantization of an activation is not supported", opname(op));
	if (op->kind == OP_QUANTIZE && op->a.dtype != DT_I8)
		error_at(op->loc, "quantize to %s: q8c computes activations in int8 (use i8 or u8)",
			 dtype_name(op->a.dtype));
	double s = op->a.q.scale[0];
	return quant_tensor(o->pow2 ? pow2_up(s) : s, op->a.q.zp[0]);
}

static bool quant_close(const Quant *a, const Quant *b)
{
	if (a->n != 1 || b->n != 1 || a->zp[0] != b->zp[0])
		return false;
	return fabs(a->scale[0] - b->scale[0]) <= 1e-6 * fmax(a->scale[0], b->scale[0]);
}

/* The quantization of a new activation v: the one a QDQ quantize that
   reads v gives (*full: the dtype's whole range [-128, 127]), else
   symmetric from the calibrated range, with [-127, 127].  With `follow`,
   when v's only use is a relu/relu6/clip, that op's output decides, so
   the integer clamp that replaces it is exact (through reshape/flatten,
   which keep the quantization).  NULL when v has no range
   and !need. */
static Quant *act_quant_n(Graph *g, Options *o, Value *v, bool follow, bool *full, bool need, int qmax)
{
	for (int i = 0; i < g->nops; i++) {
		Op *u = g->ops[i];
		if (u->kind == OP_QUANTIZE && u->in[0] == v) {
			*full = true;
			return qdq_quant(o, u);
		}
	}
	Op *u = follow ? only_user(g, v) : NULL;
	if (u && (u->kind == OP_RELU || u->kind == OP_RELU6 || u->kind == OP_CLIP || u->kind == OP_RESHAPE ||
		  u->kind == OP_FLATTEN || u->kind == OP_TRANSPOSE) && !is_int(u->out)) {
		Quant *q = act_quant_n(g, o, u->out, true, full, false, qmax);
		if (q)
			return q;
	}
	if (!v->has_range) {
		if (!need)
			return NULL;
		error_at(v->loc, "%%%s has no calibrated range: give calibration data (--calib) or QDQ nodes",
			 v->name);
	}
	double t = fmax(fabs(v->lo), fabs(v->hi));
	double s = t > 0 && isfinite(t) ? t / qmax : 1;
	*full = false;
	return quant_tensor(o->pow2 ? pow2_up(s) : s, 0);
}

static Quant *act_quant(Graph *g, Options *o, Value *v, bool follow, bool *full, bool need)
{
	return act_quant_n(g, o, v, follow, full, need, 127);
}

/* int8 operands, int16 ones requantized to int8 first (a16.c) */
#define act_in(op, j) act_in_g(g, op, j)

/* ---- the ops ---- */

/* m: the means for --bias-correction, or NULL */
static void q_conv(Graph *g, Options *o, Op *op, const Means *m)
{
	Value *x = abits(o, op) == 16 ? act_in16(op, 0) : act_in(op, 0), *y = op->out;
	if (op->a.abits == 16 && x->type.dt != DT_I16)
		warn_at(op->loc, "%s: abits=16 not honoured: its input %%%s comes from %s, which writes int8 "
			"(docs/precision.md)", opname(op), x->name, x->def ? opname(x->def) : "a QDQ node");
	bool full;
	Quant *yq = act_quant(g, o, y, true, &full, true);
	bool a16 = !full && want16(g, o, y); /* a QDQ node fixes an int8 result */
	if (a16)
		yq = act_quant_n(g, o, y, true, &full, true, 32767);
	Value *w = weights(g, o, op, op->in[1]);
	int64_t nc = w->type.dims[0];
	Quant *wq = w->type.q;
	Quant *aq = wq->n > 1 ? quant_new(y->type.rank - 1, (int)nc) : quant_tensor(1, 0);
	for (int c = 0; c < aq->n; c++)
		aq->scale[c] = x->type.q->scale[0] * wq->scale[c];
	double *sh = bc_shift(m, op, op->in[1], w);
	Value *b = bias(g, op, op->nin > 2 ? op->in[2] : NULL, aq, nc, y->name, sh);
	check_acc(op, x, w, b);

	char *name = y->name;
	y->name = graph_unique_name(g, fmt("%s.acc", name));
	op->kind = op->kind == OP_CONV2D ? OP_QCONV2D : OP_QDENSE;
	op->in = alloc_array(3, sizeof *op->in);
	op->in[0] = x, op->in[1] = w, op->in[2] = b;
	op->nin = 3;
	op->a.xzp = x->type.q->zp[0];
	op->a.nrq = 0;
	op->a.mult = op->a.shift = NULL;
	op->a.lo = -128, op->a.hi = 127;
	y->type.dt = DT_I32;
	y->type.q = aq;

	Op *r = requant_op(g, y, yq, full, name, op->loc);
	if (a16)
		set_i16(r->out, r);
	r->out->has_range = y->has_range, r->out->lo = y->lo, r->out->hi = y->hi;
	r->out->fixed_range = y->fixed_range;
	y->has_range = false;
	graph_replace_uses(g, y, r->out);
	insert_after(g, op, r);
}

static bool q_affine(Graph *g, Options *o, Op *op);

static void q_binary(Graph *g, Options *o, Op *op)
{
	if (op->in[0]->kind == V_CONST && op->in[1]->kind != V_CONST && op->kind != OP_SUB) {
		Value *t = op->in[0];
		op->in[0] = op->in[1];
		op->in[1] = t;
	}
	if (q_affine(g, o, op))
		return;
	for (int j = 0; j < 2; j++)
		op->in[j] = op->in[j]->kind == V_CONST ? const_operand(g, o, op, op->in[j]) : act_in(op, j);
	bool full;
	Quant *yq = act_quant(g, o, op->out, true, &full, true);
	op->kind = op->kind == OP_ADD ? OP_QADD : op->kind == OP_SUB ? OP_QSUB : OP_QMUL;
	op->out->type.dt = DT_I8;
	op->out->type.q = yq;
	op->a.nrq = 0;
	set_clamp(op, full);
}

/* The QDQ quantize that reads v, or NULL. */
static Op *qdq_reader(Graph *g, const Value *v)
{
	for (int i = 0; i < g->nops; i++)
		if (g->ops[i]->kind == OP_QUANTIZE && g->ops[i]->in[0] == v)
			return g->ops[i];
	return NULL;
}

/* relu, relu6, clip: a clip with bounds in the quantized domain.  When a
   QDQ quantize reads the result at another scale, the operand is
   requantized to that scale first and clipped there: quantizing is
   monotonic, so that is exactly quantize(clip(x)), while clipping at the
   operand's scale moves a bound that is not on its grid (6 at a scale of
   0.0748: 5.98, one step below 6 at the output's 6/255). */
static void q_clamp(Graph *g, Options *o, Op *op)
{
	Value *x = act_in16(op, 0); /* an int16 operand stays int16 (clip_i16) */
	Op *u = qdq_reader(g, op->out);
	if (u && !quant_close(qdq_quant(o, u), x->type.q)) {
		Op *r = requant_op(g, x, qdq_quant(o, u), true, fmt("%s.rq", op->out->name), op->loc);
		graph_insert_before(g, op, r);
		op->in[0] = x = r->out;
	}
	double s = x->type.q->scale[0];
	int32_t z = x->type.q->zp[0];
	double mn = 0, mx = INFINITY;
	if (op->kind == OP_RELU6)
		mx = 6;
	if (op->kind == OP_CLIP)
		mn = op->a.min, mx = op->a.max;
	op->kind = OP_CLIP;
	op->a.min = to_qn(mn, s, z, x->type.dt);
	op->a.max = to_qn(mx, s, z, x->type.dt);
	op->out->type.dt = x->type.dt;
	op->out->type.q = x->type.q;
}

/* pools, pad, reshape, flatten: the same quantization as the operand;
   reshape, flatten and maxpool carry an int16 operand on as it is */
static void q_same(Graph *g, Op *op)
{
	bool i16 = op->kind == OP_RESHAPE || op->kind == OP_FLATTEN || op->kind == OP_MAXPOOL;
	Value *x = i16 ? act_in16(op, 0) : act_in(op, 0);
	op->out->type.dt = x->type.dt;
	op->out->type.q = x->type.q;
	if (op->kind == OP_PAD)
		op->a.value = to_q(op->a.value, x->type.q->scale[0], x->type.q->zp[0]);
}

/* the activations: one qlut (lut.c) */
static void q_lut(Graph *g, Options *o, Op *op)
{
	Value *x = act_in(op, 0), *y = op->out;
	bool full;
	Quant *yq = act_quant(g, o, y, true, &full, true);
	int8_t *t = alloc(256);
	lut_table(op, x->type.q, yq, full ? -128 : -127, 127, t);
	Type tt = {.dt = DT_I8, .rank = 1, .dims = {256}};
	op->in = alloc_array(2, sizeof *op->in);
	op->in[0] = x;
	op->in[1] = graph_add_const(g, fmt("%s.lut", y->name), tt, t, op->loc);
	op->nin = 2;
	op->kind = OP_QLUT;
	y->type.dt = DT_I8;
	y->type.q = yq;
}

static void q_concat(Graph *g, Options *o, Op *op)
{
	bool full = false;
	for (int j = 0; j < op->nin; j++)
		if (op->in[j]->type.dt == DT_I16)
			act_in(op, j);
	Quant *yq = act_quant(g, o, op->out, false, &full, false);
	for (int j = 0; !yq && j < op->nin; j++) {
		Value *v = op->in[j];
		if (v->kind == V_CONST || !v->type.q || !quant_equal(v->type.q, op->in[0]->type.q))
			error_at(op->out->loc, "%%%s has no calibrated range: give calibration data (--calib)",
				 op->out->name);
		if (j == op->nin - 1)
			yq = op->in[0]->type.q;
	}
	for (int j = 0; j < op->nin; j++) {
		Value *v = op->in[j];
		if (v->kind == V_CONST) {
			double *r = const_real(op, v);
			int64_t n = type_numel(&v->type);
			int8_t *d = alloc_array((size_t)n, 1);
			for (int64_t i = 0; i < n; i++)
				d[i] = (int8_t)to_q(r[i], yq->scale[0], yq->zp[0]);
			Type t = v->type;
			t.dt = DT_I8;
			t.q = yq;
			op->in[j] = graph_add_const(g, take_name(g, v), t, d, v->loc);
		} else if (!quant_equal(act_in(op, j)->type.q, yq)) {
			Op *r = requant_op(g, v, yq, full, fmt("%s.rq", v->name), op->loc);
			graph_insert_before(g, op, r);
			op->in[j] = r->out;
		}
	}
	op->out->type.dt = DT_I8;
	op->out->type.q = yq;
}

/* softmax runs in float: a dequantize before it, and a quantize at scale
   1/127 after it when integer ops read its result. */
static void q_softmax(Graph *g, Options *o, Op *op)
{
	Value *x = op->in[0], *y = op->out;
	if (is_int(x)) {
		Op *d = dequant_op(g, act_in(op, 0), fmt("%s.f", x->name), op->loc);
		graph_insert_before(g, op, d);
		op->in[0] = d->out;
	}
	Op *q = NULL;
	for (int i = 0; i < g->nops; i++) {
		Op *u = g->ops[i];
		for (int j = 0; j < u->nin; j++) {
			if (u->in[j] != y || u->kind == OP_QUANTIZE || u == q)
				continue;
			if (!q) {
				q = quant_op(g, y, quant_tensor(o->pow2 ? pow2_up(1.0 / 127) : 1.0 / 127, 0), DT_I8,
					     fmt("%s.q", y->name), op->loc);
				insert_after(g, op, q);
			}
			u->in[j] = q->out;
		}
	}
}

/* y = x * a[c] + b[c] along the last axis, computed by op (a batchnorm,
   or a mul by a per-channel constant with an add of one folded in): op
   becomes a depthwise 1x1 conv2d with weights a and bias b, quantized like
   any conv (per-channel weights, each exactly +-127, an int32 bias, one
   rounding).  Tensors of another rank than 4 are reshaped to
   [1, 1, n/C, C] and back. */
static void to_depthwise(Graph *g, Options *o, Op *op, Value *x, const double *a, const double *b)
{
	Value *y = op->out;
	int rank = x->type.rank;
	int64_t nc = x->type.dims[rank - 1];
	float *w = alloc_array((size_t)nc, sizeof *w), *bf = alloc_array((size_t)nc, sizeof *bf);
	for (int64_t c = 0; c < nc; c++)
		w[c] = (float)a[c], bf[c] = (float)b[c];
	Type wt = {0}, bt = {0};
	wt.dt = bt.dt = DT_F32;
	wt.rank = 4, wt.dims[0] = nc, wt.dims[1] = wt.dims[2] = wt.dims[3] = 1;
	bt.rank = 1, bt.dims[0] = nc;
	Value *wc = graph_add_const(g, fmt("%s.scale", y->name), wt, w, op->loc);
	Value *bc = graph_add_const(g, fmt("%s.shift", y->name), bt, bf, op->loc);

	Value *xin = x;
	Op *r2 = NULL;
	if (rank != 4) {
		Type t4 = x->type;
		t4.rank = 4;
		t4.dims[0] = t4.dims[1] = 1;
		t4.dims[2] = type_numel(&x->type) / nc;
		t4.dims[3] = nc;
		Op *r1 = op_new(g, OP_RESHAPE, &x, 1, fmt("%s.4d", x->name), op->loc);
		r1->out->type = t4;
		r1->a.nshape = 4;
		memcpy(r1->a.shape, t4.dims, sizeof t4.dims[0] * 4);
		graph_insert_before(g, op, r1);
		xin = r1->out;

		Type orig = y->type;
		char *name = y->name;
		y->name = graph_unique_name(g, fmt("%s.4d", name));
		y->type = t4;
		y->type.dt = DT_F32;
		y->type.q = NULL;
		r2 = op_new(g, OP_RESHAPE, &y, 1, name, op->loc);
		r2->out->type = orig;
		r2->a.nshape = orig.rank;
		memcpy(r2->a.shape, orig.dims, sizeof orig.dims[0] * (size_t)orig.rank);
		graph_replace_uses(g, y, r2->out);
		insert_after(g, op, r2);
	}
	op->kind = OP_CONV2D;
	op->in = alloc_array(3, sizeof *op->in);
	op->in[0] = xin, op->in[1] = wc, op->in[2] = bc;
	op->nin = 3;
	op->a.groups = nc;
	op->a.strides[0] = op->a.strides[1] = op->a.dilations[0] = op->a.dilations[1] = 1;
	memset(op->a.pads, 0, sizeof op->a.pads);
	q_conv(g, o, op, NULL); /* a new op: bias correction has no means for it */
	if (r2)
		q_same(g, r2); /* after q_conv: it reads the requantized result */
}

/* An average pool (no padding) that a QDQ quantize reads at another scale
   than its input's: ONNX Runtime takes the mean in float and rounds once to
   the output scale, while the mean at the input's scale then a requantize
   rounds twice (off by up to s_x / (2 s_y) steps: 4 on the squeeze-excite
   pools of mobilenet_v3).  The pool becomes a depthwise conv2d with weights
   1/n (each exactly 127 in int8) and one requantize.  True when done. */
static bool q_pool_rescale(Graph *g, Options *o, Op *op)
{
	Value *x = act_in(op, 0), *y = op->out;
	Op *u = qdq_reader(g, y);
	if (!u || x->type.rank != 4 || quant_close(qdq_quant(o, u), x->type.q))
		return false;
	int64_t kh = x->type.dims[1], kw = x->type.dims[2], nc = x->type.dims[3];
	if (op->kind == OP_AVGPOOL) {
		for (int k = 0; k < 4; k++)
			if (op->a.pads[k])
				return false; /* the window's count varies at the border */
		kh = op->a.size[0], kw = op->a.size[1];
	} else {
		op->a.strides[0] = op->a.strides[1] = 1;
		memset(op->a.pads, 0, sizeof op->a.pads);
	}
	float *w = alloc_array((size_t)(nc * kh * kw), sizeof *w), *b = alloc_array((size_t)nc, sizeof *b);
	for (int64_t i = 0; i < nc * kh * kw; i++)
		w[i] = (float)(1.0 / (double)(kh * kw));
	Type wt = {.dt = DT_F32, .rank = 4, .dims = {nc, kh, kw, 1}}, bt = {.dt = DT_F32, .rank = 1, .dims = {nc}};
	op->kind = OP_CONV2D;
	op->in = alloc_array(3, sizeof *op->in);
	op->in[0] = x;
	op->in[1] = graph_add_const(g, fmt("%s.mean", y->name), wt, w, op->loc);
	op->in[2] = graph_add_const(g, fmt("%s.zero", y->name), bt, b, op->loc);
	op->nin = 3;
	op->a.groups = nc;
	op->a.dilations[0] = op->a.dilations[1] = 1;
	q_conv(g, o, op, NULL);
	return true;
}

/* batchnorm that fold could not merge into a conv */
static void q_batchnorm(Graph *g, Options *o, Op *op)
{
	Value *x = act_in(op, 0);
	int rank = x->type.rank;
	if (rank < 1)
		error_at(op->loc, "batchnorm of a scalar");
	int64_t nc = x->type.dims[rank - 1];
	double *p[4];
	for (int k = 0; k < 4; k++) {
		Value *v = op->in[1 + k];
		if (v->kind != V_CONST || type_numel(&v->type) != nc)
			error_at(op->loc, "batchnorm: operand %d must be a constant of %lld elements", k + 2,
				 (long long)nc);
		p[k] = const_real(op, v);
	}
	double *a = alloc_array((size_t)nc, sizeof *a), *b = alloc_array((size_t)nc, sizeof *b);
	for (int64_t c = 0; c < nc; c++) {
		a[c] = p[0][c] / sqrt(p[3][c] + op->a.epsilon);
		b[c] = p[1][c] - p[2][c] * a[c];
	}
	to_depthwise(g, o, op, x, a, b);
}

/* c is a constant vector along x's last axis (C > 1 elements) */
static bool chan_const(const Value *c, const Value *x)
{
	if (c->kind != V_CONST || x->type.rank < 1 || c->type.rank < 1)
		return false;
	int64_t nc = x->type.dims[x->type.rank - 1];
	return nc > 1 && type_numel(&c->type) == nc && c->type.dims[c->type.rank - 1] == nc;
}

/* mul / add / sub of an activation x and a per-channel constant c: a
   depthwise conv (exact per-channel scales, the offset in the int32
   bias) instead of qmul/qadd with c squeezed into one int8 scale; a mul
   whose only use is an add/sub of a constant takes that op along (what
   fold leaves of a batchnorm it could not merge).  False when the op is
   not of that form. */
static bool q_affine(Graph *g, Options *o, Op *op)
{
	Value *x = op->in[0], *c = op->in[1];
	if (x->kind == V_CONST || !chan_const(c, x))
		return false;
	x = act_in(op, 0);
	int64_t nc = type_numel(&c->type);
	double *cv = const_real(op, c);
	double *a = alloc_array((size_t)nc, sizeof *a), *b = alloc_array((size_t)nc, sizeof *b);
	for (int64_t k = 0; k < nc; k++) {
		a[k] = op->kind == OP_MUL ? cv[k] : 1;
		b[k] = op->kind == OP_ADD ? cv[k] : op->kind == OP_SUB ? -cv[k] : 0;
	}
	Op *n = op->kind == OP_MUL ? only_user(g, op->out) : NULL;
	if (n && (n->kind == OP_ADD || n->kind == OP_SUB) && !is_int(n->out)) {
		int j = n->in[0] == op->out ? 0 : 1;
		Value *d = n->in[1 - j];
		if (d != op->out && (chan_const(d, x) || (d->kind == V_CONST && type_numel(&d->type) == 1))) {
			double *dv = const_real(n, d);
			bool neg = n->kind == OP_SUB && j == 1; /* d - x * a */
			for (int64_t k = 0; k < nc; k++) {
				double dk = dv[type_numel(&d->type) == 1 ? 0 : k];
				a[k] = neg ? -a[k] : a[k];
				b[k] = n->kind == OP_SUB && j == 0 ? -dk : dk;
			}
			to_depthwise(g, o, n, x, a, b); /* op, unused now, dies */
			return true;
		}
	}
	to_depthwise(g, o, op, x, a, b);
	return true;
}

static void q_quantize(Graph *g, Options *o, Op *op)
{
	Value *x = op->in[0];
	if (x->kind == V_INPUT)
		return; /* an input's quantize: q_inputs set it up */
	if (x->kind == V_CONST && !is_int(x)) {
		/* fold's job, done here too so that nothing depends on it */
		Quant *q = quant_copy(&op->a.q);
		double *r = const_real(op, x);
		int64_t n = type_numel(&x->type), inner = q->axis < 0 ? 1 : axis_inner(&x->type, q->axis);
		int64_t len = q->axis < 0 ? 1 : x->type.dims[q->axis];
		int8_t *d = alloc_array((size_t)n, 1);
		for (int64_t i = 0; i < n; i++) {
			int64_t k = (i / inner) % len;
			d[i] = (int8_t)to_q(r[i], q->scale[k], q->zp[k]);
		}
		if (op->a.dtype != DT_I8)
			error_at(op->loc, "quantize of a constant to %s is not supported", dtype_name(op->a.dtype));
		Type t = x->type;
		t.dt = DT_I8;
		t.q = q;
		graph_replace_uses(g, op->out, graph_add_const(g, op->out->name, t, d, op->loc));
		return;
	}
	Quant *q = qdq_quant(o, op);
	if (!is_int(x)) { /* a float result (softmax) quantized by QDQ nodes */
		op->a.q = *quant_copy(q);
		op->out->type.dt = DT_I8;
		op->out->type.q = q;
		return;
	}
	x = act_in(op, 0);
	if (quant_close(x->type.q, q)) {
		graph_replace_uses(g, op->out, x);
		return;
	}
	op->kind = OP_REQUANTIZE;
	op->out->type.dt = DT_I8;
	op->out->type.q = q;
	op->a.nrq = 0;
	set_clamp(op, true);
}

static void q_dequantize(Graph *g, Options *o, Op *op)
{
	Value *x = op->in[0];
	if (!is_int(x))
		return;
	if (x->kind == V_CONST) {
		/* weights, bias, constant operands: the constant carries the scale */
		Quant *q = quant_copy(&op->a.q);
		Value *c = x;
		if (!x->type.q)
			x->type.q = q;
		else if (!quant_equal(x->type.q, q)) {
			Type t = x->type;
			t.q = q;
			c = graph_add_const(g, x->name, t, x->data, x->loc);
		}
		replace_in_ops(g, op->out, c, NULL);
		return;
	}
	Quant *q = qdq_quant(o, op);
	x = act_in(op, 0);
	Quant *xq = x->type.q;
	if (!quant_close(q, xq))
		error_at(op->loc, "dequantize: scale %g and zero point %d differ from those of %%%s (%g, %d)",
			 q->scale[0], q->zp[0], x->name, xq->scale[0], xq->zp[0]);
	graph_replace_uses(g, op->out, x);
}

/* Each float input gets a quantize: its QDQ quantize if it has one,
   else a new one from its range. */
static void q_inputs(Graph *g, Options *o)
{
	for (int i = 0; i < g->ninputs; i++) {
		Value *v = g->inputs[i];
		if (is_int(v))
			continue;
		Op *q = NULL;
		for (int k = 0; k < g->nops && !q; k++)
			if (g->ops[k]->kind == OP_QUANTIZE && g->ops[k]->in[0] == v)
				q = g->ops[k];
		if (q) {
			Quant *qq = qdq_quant(o, q);
			q->a.q = *quant_copy(qq);
			q->out->type.dt = DT_I8;
			q->out->type.q = qq;
			int n = 0;
			for (int k = 0; k < g->nops; k++)
				if (g->ops[k] != q)
					g->ops[n++] = g->ops[k];
			g->nops = n;
		} else {
			bool full, a16 = want16(g, o, v);
			Quant *qq = act_quant_n(g, o, v, false, &full, true, a16 ? 32767 : 127);
			q = quant_op(g, v, qq, a16 ? DT_I16 : DT_I8, fmt("%s.q", v->name), v->loc);
		}
		replace_in_ops(g, v, q->out, q);
		insert_first(g, q);
	}
}

/* Every integer output gets a dequantize that takes the output's name. */
static void q_outputs(Graph *g, char **names)
{
	graph_remove_dead(g);
	for (int k = 0; k < g->noutputs; k++) {
		Value *v = g->outputs[k];
		if (!is_int(v) || v->kind == V_CONST)
			continue;
		if (strcmp(v->name, names[k]) == 0)
			v->name = graph_unique_name(g, fmt("%s.q", names[k]));
		if (!v->type.q || v->type.q->n != 1)
			die("quantize: output %%%s has no per-tensor scale", v->name);
		Op *d = dequant_op(g, v, names[k], v->loc);
		graph_append(g, d);
		g->outputs[k] = d->out;
	}
}

/* Between the quantize of the inputs and the dequantize of the outputs
   only integer ops remain (and a float softmax). */
static void check(Graph *g)
{
	for (int i = 0; i < g->nops; i++) {
		Op *op = g->ops[i];
		bool fl = !is_int(op->out);
		if (fl && op->kind != OP_DEQUANTIZE && op->kind != OP_SOFTMAX)
			die("quantize: %s %%%s is still a float op", opname(op), op->out->name);
		if (!fl && op->kind != OP_QUANTIZE)
			for (int j = 0; j < op->nin; j++)
				if (!is_int(op->in[j]))
					die("quantize: %s %%%s reads the float %%%s", opname(op), op->out->name,
					    op->in[j]->name);
	}
}

void pass_quantize(Graph *g, Options *o)
{
	if (o->error_budget > 0)
		choose_precision(g, o);
	a16_fallback(g, o);
	Means *m = o->bias_corr ? bc_means(g, o) : NULL;
	convert_u8(g);
	char **names = alloc_array((size_t)g->noutputs + 1, sizeof *names);
	for (int k = 0; k < g->noutputs; k++)
		names[k] = xstrdup(g->outputs[k]->name);
	q_inputs(g, o);
	int n = g->nops;
	Op **list = alloc_array((size_t)n + 1, sizeof *list);
	memcpy(list, g->ops, (size_t)n * sizeof *list);
	for (int i = 0; i < n; i++) {
		Op *op = list[i];
		if (op->kind != OP_QUANTIZE && op->kind != OP_DEQUANTIZE && op->kind != OP_SOFTMAX &&
		    is_int(op->out))
			continue; /* done already */
		switch (op->kind) {
		case OP_CONV2D: case OP_DENSE: q_conv(g, o, op, m); break;
		case OP_ADD: case OP_SUB: case OP_MUL: q_binary(g, o, op); break;
		case OP_RELU: case OP_RELU6: case OP_CLIP: q_clamp(g, o, op); break;
		case OP_AVGPOOL: case OP_GAVGPOOL:
			if (!q_pool_rescale(g, o, op))
				q_same(g, op);
			break;
		case OP_MAXPOOL: case OP_PAD: case OP_RESHAPE: case OP_FLATTEN: case OP_TRANSPOSE: q_same(g, op); break;
		case OP_SIGMOID: case OP_TANH: case OP_HARDSWISH: case OP_HARDSIGMOID: case OP_LEAKYRELU:
			q_lut(g, o, op);
			break;
		case OP_CONCAT: q_concat(g, o, op); break;
		case OP_SOFTMAX: q_softmax(g, o, op); break;
		case OP_BATCHNORM: q_batchnorm(g, o, op); break;
		case OP_QUANTIZE: q_quantize(g, o, op); break;
		case OP_DEQUANTIZE: q_dequantize(g, o, op); break;
		default: die("quantize: unexpected float %s", opname(op));
		}
	}
	q_outputs(g, names);
	check(g);
}
