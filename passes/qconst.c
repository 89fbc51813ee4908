/* Pass 3, quantize: the constants.  Weights, biases and constant
   operands as integers (docs/numerics.md), and the accumulator bound. */
#include "quant.h"

#include <math.h>
#include <string.h>

static const char *opname(const Op *op) { return opinfo[op->kind].name; }

/* A constant made from constant c takes c's name; c, dead after this pass
   unless shared, becomes NAME.f. */
char *take_name(Graph *g, Value *c)
{
	size_t n = strlen(c->name);
	if (n > 2 && strcmp(c->name + n - 2, ".f") == 0)
		return graph_unique_name(g, xstrndup(c->name, n - 2));
	char *orig = c->name;
	c->name = graph_unique_name(g, fmt("%s.f", orig));
	return graph_unique_name(g, orig);
}

/* z + round(r / s), saturated to int8; r may be infinite. */
int32_t to_q(double r, double s, int32_t z)
{
	return to_qn(r, s, z, DT_I8);
}

int32_t to_qn(double r, double s, int32_t z, Dtype dt)
{
	double v = z + rint(r / s), lo = (double)dtype_min(dt), hi = (double)dtype_max(dt);
	return isnan(v) ? z : v < lo ? (int32_t)lo : v > hi ? (int32_t)hi : (int32_t)v;
}

/* ---- constants ---- */

int64_t axis_inner(const Type *t, int axis)
{
	int64_t inner = 1;
	for (int d = axis + 1; d < t->rank; d++)
		inner *= t->dims[d];
	return inner;
}

/* The real values of a constant: f32 as they are, integers through their
   quantization. */
double *const_real(Op *op, Value *c)
{
	int64_t n = type_numel(&c->type);
	double *r = alloc_array((size_t)n, sizeof *r);
	if (c->type.dt == DT_F32) {
		for (int64_t i = 0; i < n; i++) {
			r[i] = ((const float *)c->data)[i];
			if (!isfinite(r[i]))
				error_at(c->loc, "constant @%s: element %lld is not finite", c->name, (long long)i);
		}
		return r;
	}
	Quant *q = c->type.q;
	if (!q)
		error_at(op->loc, "%s: constant @%s is an integer tensor without a scale", opname(op), c->name);
	int64_t inner = q->axis < 0 ? 1 : axis_inner(&c->type, q->axis);
	int64_t len = q->axis < 0 ? 1 : c->type.dims[q->axis];
	for (int64_t i = 0; i < n; i++) {
		int64_t k = (i / inner) % len;
		r[i] = q->scale[k] * (double)(const_geti(c, i) - q->zp[k]);
	}
	return r;
}

/* r quantized to int8 [-qmax, qmax], zero point 0, scale max|r|/qmax over
   each run of `group` consecutive indices of axis 0 (1: per channel; the
   last group may be shorter), or over the whole tensor when group is 0;
   an all-zero group gets scale 1.  Groups are stored per channel, a scale
   repeated for each channel of its group, so the kernels need not know. */
static Quant *sym_quant(Options *o, const Type *t, const double *r, int64_t group, int qmax, int8_t *d)
{
	int64_t n = type_numel(t), nc = group ? t->dims[0] : 1, k = n / nc;
	if (!group || group > nc)
		group = nc;
	Quant *q = nc > 1 ? quant_new(0, (int)nc) : quant_tensor(1, 0);
	for (int64_t c0 = 0; c0 < nc; c0 += group) {
		int64_t c1 = c0 + group < nc ? c0 + group : nc;
		double m = 0;
		for (int64_t i = c0 * k; i < c1 * k; i++)
			m = fmax(m, fabs(r[i]));
		double s = m > 0 ? m / qmax : 1;
		if (o->pow2)
			s = pow2_up(s);
		for (int64_t c = c0; c < c1; c++)
			q->scale[c] = s;
		for (int64_t i = c0 * k; i < c1 * k; i++) {
			double v = rint(r[i] / s);
			d[i] = (int8_t)(v > qmax ? qmax : v < -qmax ? -qmax : v);
		}
	}
	return q;
}

Value *sym_const(Graph *g, Options *o, Value *src, const double *r, int64_t group, int qmax)
{
	Type t = src->type;
	int8_t *d = alloc_array((size_t)type_numel(&t), 1);
	t.q = sym_quant(o, &t, r, group, qmax, d);
	t.dt = DT_I8;
	return graph_add_const(g, take_name(g, src), t, d, src->loc);
}

/* The weights of conv2d/dense as int8 [-127, 127] with zero point 0, or
   [-7, 7] with 4-bit weights (the op's wbits, else --weight-bits; held
   one per byte here, packed two per byte by codegen/select.c).  Float weights are quantized per output channel (axis
   0), per group of channels or per tensor; QDQ weights keep their
   integers and scales when (q - zw) fits the range (and the scales are
   powers of two with --scale pow2), else they are requantized from their
   real values. */
static int wqmax(const Options *o, const Op *op)
{
	int bits = op->a.wbits ? op->a.wbits : o->wbits ? o->wbits : 8;
	return bits == 4 ? 7 : 127;
}

/* Per output channel, sum |w| of the integer weights that weights() will
   make of w, without making them: exact for float weights, qmax per
   element for integer (QDQ) ones.  NULL when w is no constant. */
int64_t *weight_abs_bound(Options *o, Op *op, Value *w)
{
	if (w->kind != V_CONST || w->type.rank < 1)
		return NULL;
	int64_t n = type_numel(&w->type), nc = w->type.dims[0], k = n / nc;
	int qmax = wqmax(o, op);
	int64_t *sa = alloc_array((size_t)nc, sizeof *sa);
	int8_t *d = NULL;
	if (w->type.dt == DT_F32) {
		d = alloc_array((size_t)n, 1);
		sym_quant(o, &w->type, const_real(op, w), o->per_tensor ? 0 : o->group ? o->group : 1, qmax, d);
	}
	for (int64_t c = 0; c < nc; c++)
		for (int64_t i = c * k; i < (c + 1) * k; i++)
			sa[c] += d ? (d[i] < 0 ? -d[i] : d[i]) : qmax;
	return sa;
}

Value *weights(Graph *g, Options *o, Op *op, Value *w)
{
	if (w->kind != V_CONST)
		error_at(op->loc, "%s: the weights %%%s must be a constant", opname(op), w->name);
	if (w->type.rank < 1)
		error_at(op->loc, "%s: the weights @%s are a scalar", opname(op), w->name);
	int qmax = wqmax(o, op);
	if (w->type.dt == DT_F32)
		return sym_const(g, o, w, const_real(op, w), o->per_tensor ? 0 : o->group ? o->group : 1, qmax);
	Quant *q = w->type.q;
	if (!q)
		error_at(op->loc, "%s: integer weights @%s need a dequantize with their scale", opname(op), w->name);
	bool keep = w->type.dt == DT_I8 && q->axis <= 0;
	for (int c = 0; c < q->n; c++)
		keep = keep && (!o->pow2 || is_pow2(q->scale[c]));
	int64_t n = type_numel(&w->type), len = q->axis < 0 ? 1 : w->type.dims[0], k = n / len;
	bool zero = true;
	int8_t *d = keep ? alloc_array((size_t)n, 1) : NULL;
	for (int64_t i = 0; keep && i < n; i++) {
		int64_t v = const_geti(w, i) - q->zp[q->axis < 0 ? 0 : i / k];
		keep = v >= -qmax && v <= qmax;
		zero = zero && v == const_geti(w, i);
		if (keep)
			d[i] = (int8_t)v;
	}
	if (!keep)
		return sym_const(g, o, w, const_real(op, w), q->axis >= 0 ? 1 : 0, qmax);
	if (zero)
		return w;
	Type t = w->type;
	t.q = quant_copy(q);
	memset(t.q->zp, 0, (size_t)t.q->n * sizeof *t.q->zp);
	return graph_add_const(g, take_name(g, w), t, d, w->loc);
}

/* The bias as int32 at the accumulator's scale, rounded half to even;
   minus the mean shift of the rounded weights with --bias-correction. */
Value *bias(Graph *g, Op *op, Value *b, const Quant *aq, int64_t nc, const char *yname, const double *shift)
{
	if (b && b->kind != V_CONST)
		error_at(op->loc, "%s: the bias %%%s must be a constant", opname(op), b->name);
	if (b && type_numel(&b->type) != nc)
		error_at(op->loc, "%s: the bias @%s has %lld elements for %lld output channels", opname(op),
			 b->name, (long long)type_numel(&b->type), (long long)nc);
	double *r = b ? const_real(op, b) : NULL;
	int32_t *d = alloc_array((size_t)nc, sizeof *d);
	for (int64_t c = 0; c < nc; c++) {
		double s = aq->scale[aq->n > 1 ? c : 0];
		double rc = r ? r[c] : 0;
		if (shift)
			rc -= shift[c]; /* bias correction */
		double v = rint(rc / s);
		if (!(fabs(v) <= INT32_MAX))
			error_at(op->loc, "%s: bias %g of output channel %lld is %g steps of the accumulator "
				 "scale %g: beyond int32", opname(op), rc, (long long)c, v, s);
		d[c] = (int32_t)v;
	}
	Type t = {0};
	t.dt = DT_I32;
	t.rank = 1;
	t.dims[0] = nc;
	t.q = quant_copy(aq);
	t.q->axis = aq->n > 1 ? 0 : -1;
	char *name = b ? take_name(g, b) : graph_unique_name(g, fmt("%s.bias", yname));
	return graph_add_const(g, name, t, d, op->loc);
}

/* |acc| <= |b[c]| + sum|w[c]| * max|x - zx| must fit int32; x is int8
   or int16 (then max|x| = 32768: the input quantize saturates to the
   whole int16 range). */
void check_acc(Op *op, const Value *x, const Value *w, const Value *b)
{
	int64_t nc = w->type.dims[0], zx = x->type.q->zp[0];
	int64_t xmin = dtype_min(x->type.dt), xmax = dtype_max(x->type.dt);
	int64_t mx = xmax - zx > zx - xmin ? xmax - zx : zx - xmin;
	int64_t *sa = alloc_array((size_t)nc, sizeof *sa);
	weight_sums(w, NULL, sa);
	for (int64_t c = 0; c < nc; c++) {
		int64_t bc = ((const int32_t *)b->data)[c];
		int64_t bound = (bc < 0 ? -bc : bc) + sa[c] * mx;
		if (bound > INT32_MAX)
			error_at(op->loc, "%s: the int32 accumulator of output channel %lld can overflow: "
				 "|bias| + sum|w| * max|x - zx| = %lld + %lld * %lld > 2^31 - 1%s", opname(op),
				 (long long)c, (long long)(bc < 0 ? -bc : bc), (long long)sa[c], (long long)mx,
				 x->type.dt == DT_I16 ? " (with int16 activations: give this layer abits=8)" : "");
	}
}

/* A constant operand of add/sub/mul: int8 per tensor. */
Value *const_operand(Graph *g, Options *o, Op *op, Value *c)
{
	Quant *q = c->type.q;
	if (c->type.dt == DT_I8 && q && q->n == 1 && (!o->pow2 || is_pow2(q->scale[0])))
		return c;
	return sym_const(g, o, c, const_real(op, c), 0, 127);
}
