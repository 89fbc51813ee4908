/* fold: the first pass, also run with --float, so every rewrite keeps the
   fp32 semantics (to float rounding).
     - ops whose operands are all constants are evaluated (quantize,
       dequantize with --float only, mul/add/sub, relu/relu6/clip,
       reshape/flatten);
     - batchnorm after a conv2d/dense goes into its weights and bias,
       also when the weights are dequantize(@int8) (QDQ): the int8 data
       stays, its per-channel scales change;
     - mul/add/sub by a per-channel or scalar constant after a conv2d/dense
       goes into its weights and bias, and before one into its weights
       (mul) or bias (add/sub, only without padding);
     - a remaining batchnorm becomes mul + add by constants, so that later
       passes see only ops they quantize anyway;
     - dead ops and constants are removed.
   Without --float, dequantize(@int8 const) stays: the quantize pass reads
   the weight's own scales from it.  Weights are modified in copies, never
   in place when another op shares them.  docs/calibration.md, "fold". */
#include "ir.h"

#include <math.h>
#include <string.h>

static bool is_fconst(const Value *v) { return v->kind == V_CONST && v->type.dt == DT_F32 && v->type.q == NULL; }

static int64_t lastdim(const Type *t) { return t->rank ? t->dims[t->rank - 1] : 1; }

/* A constant operand usable per channel against a tensor of type t:
   scalar (one element) or C elements along the last axis, of rank no
   larger than t's.  Fills out[C] in double. */
static bool chan_const(const Value *c, const Type *t, double *out)
{
	int64_t C = lastdim(t), n = type_numel(&c->type);
	if (!is_fconst(c) || c->type.rank > t->rank)
		return false;
	if (n != 1 && !(n == C && lastdim(&c->type) == C))
		return false;
	const float *d = c->data;
	for (int64_t i = 0; i < C; i++)
		out[i] = d[n == 1 ? 0 : i];
	return true;
}

/* Weight w[o][k] and bias b[o] of a conv2d or dense op (K = KH*KW*C/g
   or K): copies that this op alone uses, so they can change in place. */
static float *own(Graph *g, Op *op, int idx, int64_t n, const char *base)
{
	Value *v = idx < op->nin ? op->in[idx] : NULL;
	float *d = alloc_array((size_t)n, sizeof *d);
	if (v)
		memcpy(d, v->data, (size_t)n * sizeof *d);
	if (v && graph_count_uses(g, v) == 1) {
		v->data = d;
		return d;
	}
	Type t = {.dt = DT_F32, .rank = 1, .dims = {n}};
	if (v)
		t = v->type;
	Value *c = graph_add_const(g, v ? v->name : base, t, d, op->loc);
	if (idx == op->nin) {
		Value **in = alloc_array(3, sizeof *in);
		memcpy(in, op->in, (size_t)op->nin * sizeof *in);
		op->in = in;
		op->nin = 3;
	}
	op->in[idx] = c;
	return d;
}

/* A conv2d or dense whose weights (and bias, if any) are float
   constants. */
static bool foldable_layer(const Op *op)
{
	if (op->kind != OP_CONV2D && op->kind != OP_DENSE)
		return false;
	if (op->out->type.dt != DT_F32 || !is_fconst(op->in[1]))
		return false;
	return op->nin < 3 || is_fconst(op->in[2]);
}

/* Out channels O and weights per out channel K of a layer. */
static void layer_dims(const Op *op, int64_t *O, int64_t *K)
{
	*O = op->in[1]->type.dims[0];
	*K = type_numel(&op->in[1]->type) / *O;
}

/* Scale output channel o of a layer by s[o] and then add t[o]:
   y' = s * y + t. */
static void layer_affine(Graph *g, Op *op, const double *s, const double *t)
{
	int64_t O, K;
	layer_dims(op, &O, &K);
	float *w = own(g, op, 1, O * K, NULL);
	float *b = own(g, op, 2, O, fmt("%s_b", op->out->name));
	for (int64_t o = 0; o < O; o++) {
		for (int64_t k = 0; k < K; k++)
			w[o * K + k] = (float)((double)w[o * K + k] * s[o]);
		b[o] = (float)((double)b[o] * s[o] + t[o]);
	}
}

/* The op `after` (reading layer's output) disappears: the layer computes
   its result under its name. */
static void take_over(Graph *g, Op *layer, Op *after)
{
	char *name = after->out->name;
	after->out->name = fmt("%s.folded", name);
	layer->out->name = name;
	graph_replace_uses(g, after->out, layer->out);
	after->nin = 0; /* dead: skipped below, removed at the end */
}

/* The dequantize of a QDQ layer's weights: conv2d/dense whose weights
   are dequantize(@wq:i8, zero_point=0) per tensor or along axis 0 and
   whose bias, if any, is a float constant.  NULL when l is not one. */
static Op *qdq_weights(const Op *l)
{
	if (l->kind != OP_CONV2D && l->kind != OP_DENSE)
		return NULL;
	if (l->out->type.dt != DT_F32 || (l->nin == 3 && !is_fconst(l->in[2])))
		return NULL;
	Value *w = l->in[1];
	if (w->kind != V_TEMP || w->def->kind != OP_DEQUANTIZE || w->type.dt != DT_F32 || w->type.rank < 1)
		return NULL;
	Op *dq = w->def;
	const Quant *q = &dq->a.q;
	Value *c = dq->in[0];
	if (c->kind != V_CONST || c->type.dt != DT_I8)
		return NULL;
	if (q->n != 1 && !(q->axis == 0 && q->n == w->type.dims[0]))
		return NULL;
	for (int i = 0; i < q->n; i++)
		if (q->zp[i] != 0 || !(q->scale[i] > 0))
			return NULL;
	return dq;
}

/* layer_affine for a QDQ layer: w'[o] = s[o] * scale[o] * wq[o] keeps wq
   as int8 with scale[o] * |s[o]|, negating wq[o] where s[o] < 0.  False
   (nothing changed) when a channel to negate holds -128, or a new scale
   is not a positive finite number. */
static bool qlayer_affine(Graph *g, Op *l, Op *dq, const double *s, const double *t)
{
	int64_t O, K;
	layer_dims(l, &O, &K);
	Value *c = dq->in[0];
	const int8_t *wq = c->data;
	const Quant *q = &dq->a.q;
	Quant *nq = quant_new(0, (int)O);
	bool neg = false;
	for (int64_t o = 0; o < O; o++) {
		nq->scale[o] = q->scale[q->n == 1 ? 0 : o] * fabs(s[o]);
		if (!(nq->scale[o] > 0) || !isfinite(nq->scale[o]))
			return false;
		for (int64_t k = 0; s[o] < 0 && k < K; k++)
			if (wq[o * K + k] == -128)
				return false; /* -(-128) is not an int8 */
		neg |= s[o] < 0;
	}
	/* the int8 data and the dequantize change in place only when this
	   layer alone reads them; else new ones */
	bool alone = graph_count_uses(g, dq->out) == 1;
	if (neg) {
		int8_t *d = alloc_array((size_t)(O * K), 1);
		for (int64_t o = 0; o < O; o++)
			for (int64_t k = 0; k < K; k++)
				d[o * K + k] = (int8_t)(s[o] < 0 ? -wq[o * K + k] : wq[o * K + k]);
		if (alone && graph_count_uses(g, c) == 1)
			c->data = d;
		else
			c = graph_add_const(g, c->name, c->type, d, c->loc);
	}
	if (alone) {
		dq->in[0] = c;
		dq->a.q = *nq;
	} else {
		Op *nd = op_new(g, OP_DEQUANTIZE, &c, 1, dq->out->name, dq->loc);
		nd->a.q = *nq;
		nd->out->type = dq->out->type;
		graph_insert_before(g, l, nd);
		l->in[1] = nd->out;
	}
	float *b = own(g, l, 2, O, fmt("%s_b", l->out->name));
	for (int64_t o = 0; o < O; o++)
		b[o] = (float)((double)b[o] * s[o] + t[o]);
	return true;
}

/* The conv2d/dense computing x, read only by the op being folded into
   it: float weights, or QDQ int8 weights (not with --float, where their
   dequantize is folded to a float constant first). */
static Op *layer_of(Graph *g, Value *x, bool qdq)
{
	if (x->kind != V_TEMP || graph_count_uses(g, x) != 1)
		return NULL;
	if (foldable_layer(x->def) || (qdq && qdq_weights(x->def)))
		return x->def;
	return NULL;
}

/* y' = s * layer(x) + t into the layer; false when a QDQ layer cannot
   take it. */
static bool affine_into(Graph *g, Op *l, const double *s, const double *t)
{
	if (foldable_layer(l)) {
		layer_affine(g, l, s, t);
		return true;
	}
	return qlayer_affine(g, l, qdq_weights(l), s, t);
}

/* Per-channel scale and shift of batchnorm: s = gamma / sqrt(var + eps),
   t = beta - mean * s.  False when an operand is not a constant. */
static bool bn_affine(Op *bn, double *s, double *t)
{
	const Type *xt = &bn->in[0]->type;
	int64_t C = lastdim(xt);
	double *p[4];
	for (int i = 0; i < 4; i++) {
		Value *c = bn->in[1 + i];
		p[i] = alloc_array((size_t)C, sizeof *p[i]);
		if (!is_fconst(c) || type_numel(&c->type) != C || !chan_const(c, xt, p[i]))
			return false;
	}
	for (int64_t c = 0; c < C; c++) {
		double v = p[3][c] + bn->a.epsilon;
		if (!(v > 0))
			error_at(bn->loc, "batchnorm: var + epsilon is %g at channel %lld; it must be positive",
			         v, (long long)c);
		s[c] = p[0][c] / sqrt(v);
		t[c] = p[1][c] - p[2][c] * s[c];
	}
	return true;
}

/* batchnorm(layer(x)): y = s * layer(x) + t, with s and t from bn_affine
   (b' = (b - mean) * s + beta, computed as b * s + (beta - mean * s)). */
static bool fold_bn(Graph *g, Op *op, bool qdq)
{
	if (op->kind != OP_BATCHNORM || op->out->type.dt != DT_F32)
		return false;
	Op *l = layer_of(g, op->in[0], qdq);
	if (!l)
		return false;
	int64_t C = lastdim(&op->out->type);
	double *s = alloc_array((size_t)C, sizeof *s), *t = alloc_array((size_t)C, sizeof *t);
	if (!bn_affine(op, s, t) || !affine_into(g, l, s, t))
		return false;
	take_over(g, l, op);
	return true;
}

/* The other batchnorms: mul then add by per-channel constants. */
static bool split_bn(Graph *g, Op *op)
{
	if (op->kind != OP_BATCHNORM || op->out->type.dt != DT_F32)
		return false;
	int64_t C = lastdim(&op->out->type);
	double *s = alloc_array((size_t)C, sizeof *s), *t = alloc_array((size_t)C, sizeof *t);
	if (!bn_affine(op, s, t))
		return false;
	float *sf = alloc_array((size_t)C, sizeof *sf), *tf = alloc_array((size_t)C, sizeof *tf);
	for (int64_t c = 0; c < C; c++) {
		sf[c] = (float)s[c];
		tf[c] = (float)t[c];
	}
	char *name = op->out->name;
	op->out->name = fmt("%s.folded", name);
	Type ct = {.dt = DT_F32, .rank = 1, .dims = {C}};
	Value *sv = graph_add_const(g, fmt("%s.scale", name), ct, sf, op->loc);
	Value *tv = graph_add_const(g, fmt("%s.shift", name), ct, tf, op->loc);
	Value *in[2] = {op->in[0], sv};
	Op *mul = op_new(g, OP_MUL, in, 2, fmt("%s.mul", name), op->loc);
	in[0] = mul->out;
	in[1] = tv;
	Op *add = op_new(g, OP_ADD, in, 2, name, op->loc);
	mul->out->type = add->out->type = op->out->type;
	graph_insert_before(g, op, mul);
	graph_insert_before(g, op, add);
	graph_replace_uses(g, op->out, add->out);
	op->nin = 0;
	return true;
}

/* mul, add or sub of an activation by a per-channel constant: the
   activation and y = a * act + b per channel.  NULL when op is not one. */
static Value *affine_op(Op *op, double **a, double **b)
{
	if (op->kind != OP_MUL && op->kind != OP_ADD && op->kind != OP_SUB)
		return NULL;
	if (op->out->type.dt != DT_F32)
		return NULL;
	Value *x = op->in[0], *c = op->in[1];
	if (op->kind != OP_SUB && x->kind == V_CONST && c->kind != V_CONST) {
		x = op->in[1];
		c = op->in[0];
	}
	if (x->kind == V_CONST || !type_same_shape(&x->type, &op->out->type))
		return NULL;
	int64_t C = lastdim(&x->type);
	double *k = alloc_array((size_t)C, sizeof *k);
	if (!chan_const(c, &x->type, k))
		return NULL;
	*a = alloc_array((size_t)C, sizeof **a);
	*b = alloc_array((size_t)C, sizeof **b);
	for (int64_t i = 0; i < C; i++) {
		(*a)[i] = op->kind == OP_MUL ? k[i] : 1;
		(*b)[i] = op->kind == OP_MUL ? 0 : op->kind == OP_ADD ? k[i] : -k[i];
	}
	return x;
}

/* op(layer(x), c) -> layer'(x) */
static bool fold_after(Graph *g, Op *op, bool qdq)
{
	double *a, *b;
	Value *x = affine_op(op, &a, &b);
	Op *l = x ? layer_of(g, x, qdq) : NULL;
	if (!l || !affine_into(g, l, a, b))
		return false;
	take_over(g, l, op);
	return true;
}

/* layer(op(x, c)) -> layer'(x): with y = a * x + b per input channel,
   w'[o][.., ci] = w * a[ci] and b'[o] += sum over the window of w * b[ci].
   The sum is wrong at padded borders, so a non-zero b needs pads == 0. */
static bool fold_before(Graph *g, Op *l)
{
	if (!foldable_layer(l) || l->in[0]->kind != V_TEMP)
		return false;
	Op *op = l->in[0]->def;
	double *a, *b;
	Value *x = affine_op(op, &a, &b);
	if (!x || graph_count_uses(g, op->out) != 1)
		return false;
	int64_t C = lastdim(&x->type), O, K;
	layer_dims(l, &O, &K);
	bool shift = false;
	for (int64_t c = 0; c < C; c++)
		shift |= b[c] != 0;
	if (shift && l->kind == OP_CONV2D)
		for (int i = 0; i < 4; i++)
			if (l->a.pads[i] != 0)
				return false;
	int64_t groups = l->kind == OP_CONV2D ? l->a.groups : 1;
	int64_t Cg = lastdim(&l->in[1]->type); /* input channels per group */
	if (groups < 1 || O % groups != 0 || Cg * groups != C)
		return false;
	float *w = own(g, l, 1, O * K, NULL);
	float *bias = shift ? own(g, l, 2, O, fmt("%s_b", l->out->name)) : NULL;
	for (int64_t o = 0; o < O; o++) {
		int64_t base = o / (O / groups) * Cg; /* first input channel of o's group */
		double acc = 0;
		for (int64_t k = 0; k < K; k++) {
			int64_t ci = base + k % Cg;
			acc += (double)w[o * K + k] * b[ci];
			w[o * K + k] = (float)((double)w[o * K + k] * a[ci]);
		}
		if (bias)
			bias[o] = (float)((double)bias[o] + acc);
	}
	l->in[0] = x;
	op->nin = 0;
	return true;
}

/* ---- constant folding ---- */

static Quant *quant_copy(const Quant *q)
{
	Quant *c = quant_new(q->axis, q->n);
	memcpy(c->scale, q->scale, (size_t)q->n * sizeof *c->scale);
	memcpy(c->zp, q->zp, (size_t)q->n * sizeof *c->zp);
	return c;
}

/* Index along the quantization axis of element i, for per-axis q. */
static int qindex(const Quant *q, const Type *t, int64_t i)
{
	if (q->axis < 0 || q->n == 1)
		return 0;
	int ax = q->axis;
	int64_t inner = 1;
	for (int d = ax + 1; d < t->rank; d++)
		inner *= t->dims[d];
	return (int)(i / inner % t->dims[ax]);
}

static double get(const Value *v, int64_t i)
{
	const void *d = v->data;
	switch (v->type.dt) {
	case DT_F32: return ((const float *)d)[i];
	case DT_I8: return ((const int8_t *)d)[i];
	case DT_U8: return ((const uint8_t *)d)[i];
	case DT_I16: return ((const int16_t *)d)[i];
	case DT_I32: return ((const int32_t *)d)[i];
	default: die("get: dtype %d", (int)v->type.dt);
	}
}

static void put(void *d, Dtype dt, int64_t i, double x)
{
	switch (dt) {
	case DT_I8: ((int8_t *)d)[i] = (int8_t)x; break;
	case DT_U8: ((uint8_t *)d)[i] = (uint8_t)x; break;
	case DT_I16: ((int16_t *)d)[i] = (int16_t)x; break;
	case DT_I32: ((int32_t *)d)[i] = (int32_t)x; break;
	default: die("put: dtype %d", (int)dt);
	}
}

/* Element i of a broadcast operand (same shape, [C] or scalar). */
static float bget(const Value *v, int64_t i, int64_t C)
{
	int64_t n = type_numel(&v->type);
	return ((const float *)v->data)[n == 1 ? 0 : n == C ? i % C : i];
}

/* transpose of a constant: y[i] is x at the index whose axis perm[k] is
   i's index along y's axis k; a per-axis scale moves with its axis */
static void *transposed(const Op *op, Type *t)
{
	const Value *x = op->in[0];
	int r = x->type.rank;
	size_t es = dtype_size(x->type.dt);
	int64_t n = type_numel(t), xs[MAXRANK], idx[MAXRANK] = {0};
	int64_t acc = 1;
	for (int i = r - 1; i >= 0; i--)
		xs[i] = acc, acc *= x->type.dims[i];
	char *d = alloc_array((size_t)n, es);
	for (int64_t i = 0; i < n; i++) {
		int64_t off = 0;
		for (int k = 0; k < r; k++)
			off += idx[k] * xs[op->a.perm[k]];
		memcpy(d + (size_t)i * es, (const char *)x->data + (size_t)off * es, es);
		for (int k = r - 1; k >= 0 && ++idx[k] == t->dims[k]; k--)
			idx[k] = 0;
	}
	if (x->type.q) {
		t->q = quant_copy(x->type.q);
		for (int k = 0; k < r; k++)
			if (x->type.q->axis >= 0 && op->a.perm[k] == x->type.q->axis)
				t->q->axis = k;
	}
	return d;
}

/* The value of op, or NULL when it is not one we fold. */
static void *eval(Op *op, Type *t, bool is_float)
{
	Value *x = op->in[0];
	int64_t n = type_numel(t), C = lastdim(t);
	const Quant *q = &op->a.q;
	if (q->n > 1 && (q->axis < 0 || q->axis >= x->type.rank || x->type.dims[q->axis] != q->n))
		return NULL; /* malformed per-axis parameters: the frontend reports them */
	switch (op->kind) {
	case OP_RESHAPE:
	case OP_FLATTEN:
		t->q = x->type.q;
		return x->data;
	case OP_TRANSPOSE:
		return transposed(op, t);
	case OP_QUANTIZE: {
		if (x->type.dt != DT_F32 || t->dt == DT_F32)
			return NULL;
		void *d = alloc_array((size_t)n, dtype_size(t->dt));
		double lo = (double)dtype_min(t->dt), hi = (double)dtype_max(t->dt);
		for (int64_t i = 0; i < n; i++) {
			int j = qindex(q, t, i);
			/* the spec: f32 division, round half to even, saturate */
			float r = rintf(((const float *)x->data)[i] / (float)q->scale[j]);
			double v = isnan(r) ? q->zp[j] : (double)r + q->zp[j];
			put(d, t->dt, i, v < lo ? lo : v > hi ? hi : v);
		}
		t->q = quant_copy(q);
		return d;
	}
	case OP_DEQUANTIZE: {
		if (!is_float || x->type.dt == DT_F32)
			return NULL; /* the quantize pass needs the weight's scales */
		float *d = alloc_array((size_t)n, sizeof *d);
		for (int64_t i = 0; i < n; i++) {
			int j = qindex(q, &x->type, i);
			d[i] = (float)q->scale[j] * (float)(get(x, i) - q->zp[j]);
		}
		return d;
	}
	case OP_MUL:
	case OP_ADD:
	case OP_SUB: {
		if (x->type.dt != DT_F32 || op->in[1]->type.dt != DT_F32 || t->dt != DT_F32)
			return NULL;
		float *d = alloc_array((size_t)n, sizeof *d);
		for (int64_t i = 0; i < n; i++) {
			float a = bget(x, i, C), b = bget(op->in[1], i, C);
			d[i] = op->kind == OP_MUL ? a * b : op->kind == OP_ADD ? a + b : a - b;
		}
		return d;
	}
	case OP_RELU:
	case OP_RELU6:
	case OP_CLIP: {
		if (x->type.dt != DT_F32)
			return NULL;
		double lo = op->kind == OP_CLIP ? op->a.min : 0;
		double hi = op->kind == OP_CLIP ? op->a.max : op->kind == OP_RELU6 ? 6 : INFINITY;
		float *d = alloc_array((size_t)n, sizeof *d);
		for (int64_t i = 0; i < n; i++) {
			float v = ((const float *)x->data)[i];
			d[i] = v < lo ? (float)lo : v > hi ? (float)hi : v;
		}
		return d;
	}
	default:
		return NULL;
	}
}

static bool fold_const(Graph *g, Op *op, bool is_float)
{
	for (int i = 0; i < op->nin; i++)
		if (op->in[i]->kind != V_CONST)
			return false;
	for (int i = 0; i < g->noutputs; i++)
		if (g->outputs[i] == op->out)
			return false; /* outputs stay computed values */
	Type t = op->out->type;
	void *d = eval(op, &t, is_float);
	if (!d)
		return false;
	char *name = op->out->name;
	op->out->name = fmt("%s.folded", name);
	Value *c = graph_add_const(g, name, t, d, op->loc);
	graph_replace_uses(g, op->out, c);
	op->nin = 0;
	return true;
}

void pass_fold(Graph *g, Options *o)
{
	graph_remove_dead(g);
	bool changed = true;
	while (changed) {
		changed = false;
		for (int i = 0; i < g->nops; i++) {
			Op *op = g->ops[i];
			if (op->nin == 0)
				continue;
			if (fold_const(g, op, o->is_float) || fold_bn(g, op, !o->is_float) ||
			    fold_after(g, op, !o->is_float) ||
			    fold_before(g, op) || split_bn(g, op))
				changed = true;
		}
	}
	graph_remove_dead(g);
}
