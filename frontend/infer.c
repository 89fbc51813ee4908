/* Type and shape inference, one op at a time (model-format.md and the
   integer ops of ir.h).  Every check reports the op's location, its name
   and the shapes that disagree.  Negative axes of concat and softmax are
   normalized here, so later phases see 0 <= axis < rank. */
#include "frontend.h"

#include <math.h>
#include <string.h>

char *fe_dims(const Type *t)
{
	char *s = type_str(t);
	return strchr(s, '[');
}

/* Checks q against the tensor type t (its dtype and shape). */
void fe_check_quant(Loc l, const char *what, Quant *q, const Type *t)
{
	if (t->dt == DT_F32)
		error_at(l, "%s: quantization parameters on a f32 tensor", what);
	if (q->axis >= 0) {
		if (q->axis >= t->rank)
			error_at(l, "%s: quantization axis %d is out of range for %s", what, q->axis, type_str(t));
		if (q->n != t->dims[q->axis])
			error_at(l, "%s: %d per-axis scales but %s has %lld entries along axis %d", what, q->n,
				type_str(t), (long long)t->dims[q->axis], q->axis);
	} else if (q->n != 1) {
		error_at(l, "%s: %d scales without an axis", what, q->n);
	}
	for (int i = 0; i < q->n; i++) {
		if (!(q->scale[i] > 0) || !isfinite(q->scale[i]))
			error_at(l, "%s: scale must be positive and finite, got %.17g", what, q->scale[i]);
		if (q->zp[i] < dtype_min(t->dt) || q->zp[i] > dtype_max(t->dt))
			error_at(l, "%s: zero point %d is outside the range of %s [%lld, %lld]", what, q->zp[i],
				dtype_name(t->dt), (long long)dtype_min(t->dt), (long long)dtype_max(t->dt));
	}
}

/* ---- helpers ---- */

enum {
	F = 1 << DT_F32, I8 = 1 << DT_I8, U8 = 1 << DT_U8, I16 = 1 << DT_I16, I32 = 1 << DT_I32,
	Q8 = I8 | U8,
	INT = I8 | U8 | I16 | I32,
};

static const char *on(Op *op) { return opinfo[op->kind].name; }

static Type *in(Op *op, int i) { return &op->in[i]->type; }

static void need_dt(Op *op, int i, unsigned mask)
{
	Type *t = in(op, i);
	if (mask & (1u << t->dt))
		return;
	char want[64] = "";
	for (int d = 0; d < DT_COUNT; d++)
		if (mask & (1u << d))
			snprintf(want + strlen(want), sizeof want - strlen(want), "%s%s", want[0] ? " or " : "", dtype_name((Dtype)d));
	error_at(op->loc, "%s: operand %d (%c%s) is %s, expected %s", on(op), i + 1,
		op->in[i]->kind == V_CONST ? '@' : '%', op->in[i]->name, type_str(t), want);
}

static void need_rank(Op *op, int i, int rank, const char *what)
{
	Type *t = in(op, i);
	if (t->rank != rank)
		error_at(op->loc, "%s: %s must have rank %d, got %s", on(op), what, rank, type_str(t));
}

static void check_numel(Op *op, const Type *t)
{
	int64_t n = 1;
	for (int i = 0; i < t->rank; i++) {
		if (t->dims[i] < 1)
			die("infer %s: dimension %lld", on(op), (long long)t->dims[i]);
		if (t->dims[i] > MAXNUMEL || n * t->dims[i] > MAXNUMEL)
			error_at(op->loc, "%s: result too large (more than %lld elements)", on(op), (long long)MAXNUMEL);
		n *= t->dims[i];
	}
}

static void positive(Op *op, const char *what, const int64_t *v, int n)
{
	for (int i = 0; i < n; i++)
		if (v[i] < 1)
			error_at(op->loc, "%s: %s must be positive, got %lld", on(op), what, (long long)v[i]);
}

static void pads_ok(Op *op)
{
	for (int i = 0; i < 4; i++)
		if (op->a.pads[i] < 0)
			error_at(op->loc, "%s: pads must not be negative, got %lld", on(op), (long long)op->a.pads[i]);
}

/* Output length of a window sliding over n (+ padding) */
static int64_t slide(Op *op, const char *what, int64_t n, int64_t k, int64_t stride, int64_t dil,
		     int64_t p0, int64_t p1)
{
	int64_t span = n + p0 + p1, eff = dil * (k - 1) + 1;
	if (eff > span)
		error_at(op->loc, "%s: the window's %s %lld is larger than the padded input's %lld", on(op), what,
			(long long)eff, (long long)span);
	return (span - eff) / stride + 1;
}

/* conv2d / qconv2d: x [N,H,W,C], w [O,KH,KW,C/groups], b [O]? */
static void conv(Op *op, Type *y)
{
	need_rank(op, 0, 4, "input");
	need_rank(op, 1, 4, "weight");
	Type *x = in(op, 0), *w = in(op, 1);
	Attrs *a = &op->a;
	int64_t c = x->dims[3], o = w->dims[0], g = a->groups;
	if (g < 1)
		error_at(op->loc, "%s: groups must be positive, got %lld", on(op), (long long)g);
	if (c % g)
		error_at(op->loc, "%s: groups %lld does not divide the %lld input channels of %s", on(op),
			(long long)g, (long long)c, fe_dims(x));
	if (o % g)
		error_at(op->loc, "%s: groups %lld does not divide the %lld output channels of weight %s", on(op),
			(long long)g, (long long)o, fe_dims(w));
	if (w->dims[3] * g != c)
		error_at(op->loc, "%s: input has %lld channels but weight %s expects %lld (groups %lld)", on(op),
			(long long)c, fe_dims(w), (long long)(w->dims[3] * g), (long long)g);
	positive(op, "strides", a->strides, 2);
	positive(op, "dilations", a->dilations, 2);
	pads_ok(op);
	y->rank = 4;
	y->dims[0] = x->dims[0];
	y->dims[1] = slide(op, "height", x->dims[1], w->dims[1], a->strides[0], a->dilations[0], a->pads[0], a->pads[2]);
	y->dims[2] = slide(op, "width", x->dims[2], w->dims[2], a->strides[1], a->dilations[1], a->pads[1], a->pads[3]);
	y->dims[3] = o;
}

/* dense / qdense: x [N,K], w [O,K], b [O]? */
static void dense(Op *op, Type *y)
{
	need_rank(op, 0, 2, "input");
	need_rank(op, 1, 2, "weight");
	Type *x = in(op, 0), *w = in(op, 1);
	if (x->dims[1] != w->dims[1])
		error_at(op->loc, "%s: input %s has K = %lld but weight %s expects %lld", on(op), fe_dims(x),
			(long long)x->dims[1], fe_dims(w), (long long)w->dims[1]);
	y->rank = 2;
	y->dims[0] = x->dims[0];
	y->dims[1] = w->dims[0];
}

static void bias(Op *op, int64_t o)
{
	if (op->nin < 3)
		return;
	Type *b = in(op, 2);
	if (b->rank != 1 || b->dims[0] != o)
		error_at(op->loc, "%s: bias %s does not match the %lld output channels", on(op), fe_dims(b), (long long)o);
}

/* b has a's shape, is [C] with C a's last dim, or is a scalar */
static void broadcast(Op *op)
{
	Type *a = in(op, 0), *b = in(op, 1);
	if (type_same_shape(a, b) || b->rank == 0)
		return;
	if (b->rank == 1 && a->rank >= 1 && b->dims[0] == a->dims[a->rank - 1])
		return;
	error_at(op->loc, "%s: operand shapes %s and %s do not broadcast (b must have a's shape, be [C] "
		"with C a's last dim, or be a scalar)", on(op), fe_dims(a), fe_dims(b));
}

static int norm_axis(Op *op, int axis, int rank)
{
	if (axis < -rank || axis >= rank)
		error_at(op->loc, "%s: axis %d is out of range for rank %d", on(op), axis, rank);
	return axis < 0 ? axis + rank : axis;
}

static void pool(Op *op, Type *y)
{
	need_rank(op, 0, 4, "input");
	Type *x = in(op, 0);
	Attrs *a = &op->a;
	positive(op, "size", a->size, 2);
	positive(op, "strides", a->strides, 2);
	pads_ok(op);
	/* a window that sees only padding would have no element */
	for (int i = 0; i < 4; i++)
		if (a->pads[i] >= a->size[i % 2])
			error_at(op->loc, "%s: padding %lld is not smaller than the window size %lld", on(op),
				(long long)a->pads[i], (long long)a->size[i % 2]);
	y->rank = 4;
	y->dims[0] = x->dims[0];
	y->dims[1] = slide(op, "height", x->dims[1], a->size[0], a->strides[0], 1, a->pads[0], a->pads[2]);
	y->dims[2] = slide(op, "width", x->dims[2], a->size[1], a->strides[1], 1, a->pads[1], a->pads[3]);
	y->dims[3] = x->dims[3];
}

static void reshape(Op *op, Type *y)
{
	Attrs *a = &op->a;
	int64_t n = type_numel(in(op, 0)), known = 1;
	int hole = -1;
	for (int i = 0; i < a->nshape; i++) {
		int64_t d = a->shape[i];
		if (d == -1) {
			if (hole >= 0)
				error_at(op->loc, "%s: more than one -1 in shape", on(op));
			hole = i;
		} else if (d < 1) {
			error_at(op->loc, "%s: shape entries must be positive or -1, got %lld", on(op), (long long)d);
		} else {
			if (d > MAXNUMEL || known * d > MAXNUMEL)
				error_at(op->loc, "%s: shape too large", on(op));
			known *= d;
		}
	}
	y->rank = a->nshape;
	memcpy(y->dims, a->shape, (size_t)a->nshape * sizeof *a->shape);
	if (hole >= 0) {
		if (n % known)
			error_at(op->loc, "%s: cannot reshape %s (%lld elements) into a multiple of %lld", on(op),
				fe_dims(in(op, 0)), (long long)n, (long long)known);
		y->dims[hole] = n / known;
	} else if (known != n) {
		error_at(op->loc, "%s: cannot reshape %s (%lld elements) into %s (%lld elements)", on(op),
			fe_dims(in(op, 0)), (long long)n, fe_dims(y), (long long)known);
	}
}

/* transpose: perm is a permutation of 0 .. rank-1 */
static void transpose(Op *op, Type *y)
{
	Type *x = in(op, 0);
	Attrs *a = &op->a;
	if (a->nperm != x->rank)
		error_at(op->loc, "%s: perm has %d entries but the input %s has rank %d", on(op), a->nperm,
			fe_dims(x), x->rank);
	bool seen[MAXRANK] = {0};
	for (int i = 0; i < a->nperm; i++) {
		int64_t p = a->perm[i];
		if (p < 0 || p >= x->rank || seen[p])
			error_at(op->loc, "%s: perm must be a permutation of 0 .. %d, got %lld at position %d", on(op),
				x->rank - 1, (long long)p, i);
		seen[p] = true;
		y->dims[i] = x->dims[p];
	}
}

static void concat(Op *op, Type *y)
{
	Type *x = in(op, 0);
	if (x->rank == 0)
		error_at(op->loc, "%s: cannot concatenate scalars", on(op));
	int ax = op->a.axis = norm_axis(op, op->a.axis, x->rank);
	*y = *x;
	y->q = NULL;
	y->dims[ax] = 0;
	for (int i = 0; i < op->nin; i++) {
		Type *t = in(op, i);
		if (t->dt != x->dt)
			error_at(op->loc, "%s: operand %d is %s but operand 1 is %s", on(op), i + 1, type_str(t), type_str(x));
		if (t->rank != x->rank)
			error_at(op->loc, "%s: operand %d %s and operand 1 %s differ in rank", on(op), i + 1,
				fe_dims(t), fe_dims(x));
		for (int d = 0; d < t->rank; d++)
			if (d != ax && t->dims[d] != x->dims[d])
				error_at(op->loc, "%s: operand %d %s does not match operand 1 %s outside axis %d", on(op),
					i + 1, fe_dims(t), fe_dims(x), ax);
		y->dims[ax] += t->dims[ax];
		if (y->dims[ax] > MAXNUMEL)
			error_at(op->loc, "%s: result too large", on(op));
	}
}

/* the number of fixed-point multipliers an integer op may carry */
static void nrq(Op *op, int64_t a, int64_t b)
{
	int n = op->a.nrq;
	if (n == 0 || n == a || n == b)
		return;
	if (a == b)
		error_at(op->loc, "%s: %d multipliers, expected %lld", on(op), n, (long long)a);
	error_at(op->loc, "%s: %d multipliers, expected %lld or %lld", on(op), n, (long long)a, (long long)b);
}

static void clamp_in(Op *op, Dtype dt)
{
	if (op->a.lo < dtype_min(dt) || op->a.hi > dtype_max(dt))
		error_at(op->loc, "%s: clamp [%d, %d] exceeds the %s range", on(op), op->a.lo, op->a.hi,
			 dtype_name(dt));
}

/* The integer result of qconv2d/qdense/requantize with multipliers: i8,
   or i16 (int16 activations) when the caller (the parser, from the
   annotated type) set the result's dtype to i16 before inferring. */
static Dtype rq_dt(const Op *op)
{
	return op->out->type.dt == DT_I16 ? DT_I16 : DT_I8;
}

/* ---- the ops ---- */

void infer_op(Op *op)
{
	const OpInfo *oi = &opinfo[op->kind];
	if (op->nin < oi->nmin || op->nin > oi->nmax)
		die("infer %s: %d operands", oi->name, op->nin);
	Type *x = in(op, 0);
	Attrs *a = &op->a;
	Type y = *x;
	y.q = NULL;
	switch (op->kind) {
	case OP_CONV2D:
		for (int i = 0; i < op->nin; i++)
			need_dt(op, i, F);
		conv(op, &y);
		bias(op, y.dims[3]);
		break;
	case OP_DENSE:
		for (int i = 0; i < op->nin; i++)
			need_dt(op, i, F);
		dense(op, &y);
		bias(op, y.dims[1]);
		break;
	case OP_ADD: case OP_MUL: case OP_SUB:
		need_dt(op, 0, F);
		need_dt(op, 1, F);
		broadcast(op);
		break;
	case OP_RELU: case OP_RELU6: case OP_SIGMOID: case OP_TANH: case OP_HARDSWISH:
	case OP_HARDSIGMOID: case OP_LEAKYRELU:
		need_dt(op, 0, F);
		break;
	case OP_TRANSPOSE:
		need_dt(op, 0, F | Q8);
		transpose(op, &y);
		break;
	case OP_CLIP:
		need_dt(op, 0, F | Q8 | I16);
		if (x->dt != DT_F32 && ((isfinite(a->min) && a->min != floor(a->min)) ||
					(isfinite(a->max) && a->max != floor(a->max))))
			error_at(op->loc, "%s: on %s, min and max must be integers", on(op), dtype_name(x->dt));
		break;
	case OP_MAXPOOL: case OP_AVGPOOL:
		need_dt(op, 0, F | Q8 | (op->kind == OP_MAXPOOL ? I16 : 0));
		pool(op, &y);
		break;
	case OP_GAVGPOOL:
		need_dt(op, 0, F | Q8);
		need_rank(op, 0, 4, "input");
		y.dims[1] = y.dims[2] = 1;
		break;
	case OP_BATCHNORM:
		for (int i = 0; i < op->nin; i++)
			need_dt(op, i, F);
		if (x->rank < 1)
			error_at(op->loc, "%s: input must have rank 1 or more", on(op));
		for (int i = 1; i < 5; i++) {
			Type *t = in(op, i);
			if (t->rank != 1 || t->dims[0] != x->dims[x->rank - 1])
				error_at(op->loc, "%s: parameter %d %s does not match the %lld channels of %s", on(op), i,
					fe_dims(t), (long long)x->dims[x->rank - 1], fe_dims(x));
		}
		break;
	case OP_PAD:
		need_dt(op, 0, F | Q8);
		need_rank(op, 0, 4, "input");
		pads_ok(op);
		if (x->dt != DT_F32 && !(a->value == floor(a->value) && a->value >= dtype_min(x->dt) &&
					  a->value <= dtype_max(x->dt)))
			error_at(op->loc, "%s: value %.17g is not a %s", on(op), a->value, dtype_name(x->dt));
		for (int i = 0; i < 2; i++)
			y.dims[1 + i] = x->dims[1 + i] + a->pads[i] + a->pads[i + 2];
		break;
	case OP_RESHAPE:
		need_dt(op, 0, F | Q8 | I16);
		reshape(op, &y);
		break;
	case OP_FLATTEN:
		need_dt(op, 0, F | Q8 | I16);
		if (x->rank < 1)
			error_at(op->loc, "%s: cannot flatten a scalar", on(op));
		y.rank = 2;
		y.dims[1] = type_numel(x) / x->dims[0];
		break;
	case OP_CONCAT:
		need_dt(op, 0, F | Q8);
		concat(op, &y);
		break;
	case OP_SOFTMAX:
		need_dt(op, 0, F);
		if (x->rank < 1)
			error_at(op->loc, "%s: input must have rank 1 or more", on(op));
		a->axis = norm_axis(op, a->axis, x->rank);
		break;
	case OP_QUANTIZE:
		need_dt(op, 0, F);
		if (a->dtype == DT_F32)
			error_at(op->loc, "%s: dtype must be an integer type", on(op));
		y.dt = a->dtype;
		fe_check_quant(op->loc, on(op), &a->q, &y);
		break;
	case OP_DEQUANTIZE:
		need_dt(op, 0, INT);
		fe_check_quant(op->loc, on(op), &a->q, x);
		y.dt = DT_F32;
		break;
	case OP_QCONV2D:
		need_dt(op, 0, Q8 | I16);
		need_dt(op, 1, I8);
		need_dt(op, 2, I32);
		conv(op, &y);
		bias(op, y.dims[3]);
		nrq(op, 1, y.dims[3]);
		y.dt = a->nrq ? rq_dt(op) : DT_I32;
		break;
	case OP_QDENSE:
		need_dt(op, 0, Q8 | I16);
		need_dt(op, 1, I8);
		need_dt(op, 2, I32);
		dense(op, &y);
		bias(op, y.dims[1]);
		nrq(op, 1, y.dims[1]);
		y.dt = a->nrq ? rq_dt(op) : DT_I32;
		break;
	case OP_REQUANTIZE:
		need_dt(op, 0, INT);
		nrq(op, 1, x->rank ? x->dims[x->rank - 1] : 1);
		y.dt = rq_dt(op);
		break;
	case OP_QADD: case OP_QSUB: case OP_QMUL:
		need_dt(op, 0, Q8);
		need_dt(op, 1, Q8);
		broadcast(op);
		nrq(op, op->kind == OP_QMUL ? 1 : 3, op->kind == OP_QMUL ? 1 : 3);
		y.dt = DT_I8;
		break;
	case OP_QLUT:
		need_dt(op, 0, I8);
		need_dt(op, 1, I8);
		if (in(op, 1)->rank != 1 || in(op, 1)->dims[0] != 256)
			error_at(op->loc, "%s: the table %s must be i8[256]", on(op), type_str(in(op, 1)));
		if (op->in[1]->kind != V_CONST)
			error_at(op->loc, "%s: the table %%%s must be a constant", on(op), op->in[1]->name);
		break;
	default:
		die("infer: op %d", op->kind);
	}
	if ((oi->attrs & A_CLAMP) && (y.dt == DT_I8 || y.dt == DT_I16))
		clamp_in(op, y.dt);
	check_numel(op, &y);
	y.q = op->out->type.q; /* the quantization is the caller's */
	op->out->type = y;
}
