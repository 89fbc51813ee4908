/* Items: the `name=value` lists of brace blocks and op attributes.
   Attributes are checked against the op table (ops.def) and stored in
   Attrs with op_new's defaults for the rest. */
#include "frontend.h"

#include <math.h>
#include <string.h>

static bool is_integral(double v, double lo, double hi)
{
	return v >= lo && v <= hi && v == floor(v);
}

int64_t fe_int(double v, Loc l, const char *what, int64_t lo, int64_t hi)
{
	if (!is_integral(v, (double)lo, (double)hi)) {
		if (v != floor(v))
			error_at(l, "%s must be an integer, got %.17g", what, v);
		error_at(l, "%s must be in [%lld, %lld], got %.17g", what, (long long)lo, (long long)hi, v);
	}
	return (int64_t)v;
}

Item *fe_item(Items *it, const char *name)
{
	Item *found = NULL;
	for (int i = 0; i < it->n; i++) {
		if (strcmp(it->v[i].name, name) != 0)
			continue;
		if (found)
			error_at(it->v[i].loc, "'%s' given twice", name);
		found = &it->v[i];
	}
	return found;
}

/* A Quant from scale / zero_point / axis items (brace block or the
   attributes of quantize/dequantize).  The axis is normalized and the
   counts checked against the tensor by fe_check_quant. */
Quant *fe_quant(Loc l, const char *what, Item *scale, Item *zp, Item *axis, int rank)
{
	if (!scale)
		error_at(zp ? zp->loc : axis ? axis->loc : l, "%s: zero_point and axis need a scale", what);
	if (scale->kind != IT_NUM && scale->kind != IT_LIST)
		error_at(scale->vloc, "%s: scale must be a number or a list of numbers", what);
	int n = scale->nums.n;
	if (n == 0)
		error_at(scale->vloc, "%s: empty scale list", what);
	int ax = -1;
	if (axis) {
		if (axis->kind != IT_NUM)
			error_at(axis->vloc, "%s: axis must be an integer", what);
		ax = (int)fe_int(axis->nums.v[0], axis->vloc, "axis", -MAXRANK, MAXRANK - 1);
		if (ax < -rank || ax >= rank)
			error_at(axis->vloc, "%s: axis %d is out of range for rank %d", what, ax, rank);
		ax += ax < 0 ? rank : 0;
		if (scale->kind != IT_LIST)
			error_at(scale->vloc, "%s: a per-axis scale must be a list", what);
	} else if (n != 1) {
		error_at(scale->vloc, "%s: %d scales need an axis (per-channel quantization)", what, n);
	}
	Quant *q = quant_new(ax, n);
	for (int i = 0; i < n; i++) {
		double s = scale->nums.v[i];
		if (!(s > 0) || !isfinite(s) || !isfinite(1 / s))
			error_at(scale->nums.loc[i], "%s: scale must be positive and finite, got %.17g", what, s);
		q->scale[i] = s;
	}
	if (zp) {
		if (zp->kind != IT_NUM && zp->kind != IT_LIST)
			error_at(zp->vloc, "%s: zero_point must be an integer or a list of integers", what);
		if (zp->nums.n != 1 && zp->nums.n != n)
			error_at(zp->vloc, "%s: %d zero points for %d scales", what, zp->nums.n, n);
		for (int i = 0; i < n; i++) {
			int j = zp->nums.n == 1 ? 0 : i;
			q->zp[i] = (int32_t)fe_int(zp->nums.v[j], zp->nums.loc[j], "zero_point", INT32_MIN, INT32_MAX);
		}
	}
	return q;
}

static const struct {
	const char *name;
	unsigned bit;
} attrnames[] = {
	{"strides", A_STRIDES}, {"pads", A_PADS}, {"dilations", A_DILATIONS}, {"groups", A_GROUPS},
	{"size", A_SIZE}, {"min", A_MIN}, {"max", A_MAX}, {"epsilon", A_EPSILON}, {"value", A_VALUE},
	{"shape", A_SHAPE}, {"axis", A_AXIS | A_QUANT}, {"scale", A_QUANT}, {"zero_point", A_QUANT},
	{"dtype", A_DTYPE}, {"mult", A_RQ}, {"shift", A_RQ}, {"lo", A_CLAMP}, {"hi", A_CLAMP},
	{"xzp", A_XZP}, {"alpha", A_ALPHA}, {"beta", A_BETA}, {"perm", A_PERM},
	{"wbits", A_WBITS}, {"abits", A_ABITS},
};

static double num(Item *it, const char *op)
{
	if (it->kind != IT_NUM)
		error_at(it->vloc, "%s: %s must be a number", op, it->name);
	return it->nums.v[0];
}

static int64_t one_int(Item *it, const char *op, int64_t lo, int64_t hi)
{
	if (it->kind != IT_NUM)
		error_at(it->vloc, "%s: %s must be an integer", op, it->name);
	return fe_int(it->nums.v[0], it->vloc, fmt("%s: %s", op, it->name), lo, hi);
}

/* an integer list of exactly n entries (n < 0: any count up to MAXRANK) */
static int ints(Item *it, const char *op, int n, int64_t *dst, int64_t lo, int64_t hi)
{
	if (it->kind != IT_LIST)
		error_at(it->vloc, "%s: %s must be a list of %d integers", op, it->name, n < 0 ? MAXRANK : n);
	int got = it->nums.n;
	if (n >= 0 && got != n)
		error_at(it->vloc, "%s: %s needs %d integers, got %d", op, it->name, n, got);
	if (n < 0 && got > MAXRANK)
		error_at(it->vloc, "%s: %s has %d entries, at most %d", op, it->name, got, MAXRANK);
	char *what = fmt("%s: %s", op, it->name);
	for (int i = 0; i < got; i++)
		dst[i] = fe_int(it->nums.v[i], it->nums.loc[i], what, lo, hi);
	return got;
}

/* mult/shift: a number or a list */
static int32_t *rq_list(Item *it, const char *op, int64_t lo, int64_t hi, int *n)
{
	if (it->kind != IT_NUM && it->kind != IT_LIST)
		error_at(it->vloc, "%s: %s must be a list of integers", op, it->name);
	*n = it->nums.n;
	if (*n == 0)
		error_at(it->vloc, "%s: empty %s list", op, it->name);
	int32_t *v = alloc_array((size_t)*n, sizeof *v);
	for (int i = 0; i < *n; i++)
		v[i] = (int32_t)fe_int(it->nums.v[i], it->nums.loc[i], fmt("%s: %s", op, it->name), lo, hi);
	return v;
}

void fe_attrs(Op *op, Items *at)
{
	const char *on = opinfo[op->kind].name;
	unsigned have = opinfo[op->kind].attrs;
	Attrs *a = &op->a;
	const int64_t big = MAXNUMEL;
	for (int i = 0; i < at->n; i++) {
		Item *it = &at->v[i];
		unsigned bit = 0;
		for (size_t k = 0; k < sizeof attrnames / sizeof *attrnames; k++)
			if (!strcmp(attrnames[k].name, it->name))
				bit = attrnames[k].bit;
		if (!bit)
			error_at(it->loc, "unknown attribute '%s'", it->name);
		if (!(bit & have))
			error_at(it->loc, "%s has no attribute '%s'", on, it->name);
		for (int j = 0; j < i; j++)
			if (!strcmp(at->v[j].name, it->name))
				error_at(it->loc, "%s: attribute '%s' given twice", on, it->name);
		if (it->kind == IT_IDENT && strcmp(it->name, "dtype") != 0)
			error_at(it->vloc, "%s: %s must be a number, got '%s'%s", on, it->name, it->id,
				!strcmp(it->id, "inf") || !strcmp(it->id, "nan") ? " (numbers must be finite)" : "");
		const char *s = it->name;
		if (!strcmp(s, "strides"))
			ints(it, on, 2, a->strides, -big, big);
		else if (!strcmp(s, "pads"))
			ints(it, on, 4, a->pads, -big, big);
		else if (!strcmp(s, "dilations"))
			ints(it, on, 2, a->dilations, -big, big);
		else if (!strcmp(s, "size"))
			ints(it, on, 2, a->size, -big, big);
		else if (!strcmp(s, "groups"))
			a->groups = one_int(it, on, -big, big);
		else if (!strcmp(s, "min"))
			a->min = num(it, on);
		else if (!strcmp(s, "max"))
			a->max = num(it, on);
		else if (!strcmp(s, "epsilon"))
			a->epsilon = num(it, on);
		else if (!strcmp(s, "value"))
			a->value = num(it, on);
		else if (!strcmp(s, "shape"))
			a->nshape = ints(it, on, -1, a->shape, -big, big);
		else if (!strcmp(s, "alpha"))
			a->alpha = num(it, on);
		else if (!strcmp(s, "beta"))
			a->beta = num(it, on);
		else if (!strcmp(s, "wbits")) {
			a->wbits = (int)one_int(it, on, 4, 8);
			if (a->wbits != 4 && a->wbits != 8)
				error_at(it->vloc, "%s: wbits must be 4 or 8, got %d", on, a->wbits);
		} else if (!strcmp(s, "abits")) {
			a->abits = (int)one_int(it, on, 8, 16);
			if (a->abits != 8 && a->abits != 16)
				error_at(it->vloc, "%s: abits must be 8 or 16, got %d", on, a->abits);
		} else if (!strcmp(s, "perm"))
			a->nperm = ints(it, on, -1, a->perm, -big, big); /* checked against the rank by infer */
		else if (!strcmp(s, "axis") && (have & A_AXIS))
			a->axis = (int)one_int(it, on, -MAXRANK, MAXRANK - 1);
		else if (!strcmp(s, "dtype")) {
			int dt = it->kind == IT_IDENT ? dtype_parse(it->id) : -1;
			if (dt < 0 || dt == DT_F32)
				error_at(it->vloc, "%s: dtype must be one of i8, u8, i16, i32", on);
			a->dtype = (Dtype)dt;
		} else if (!strcmp(s, "lo"))
			a->lo = (int32_t)one_int(it, on, INT32_MIN, INT32_MAX);
		else if (!strcmp(s, "hi"))
			a->hi = (int32_t)one_int(it, on, INT32_MIN, INT32_MAX);
		else if (!strcmp(s, "xzp"))
			a->xzp = (int32_t)one_int(it, on, INT32_MIN, INT32_MAX);
		/* scale, zero_point, axis of quantize/dequantize; mult, shift: below */
	}
	if (have & A_QUANT) {
		Item *scale = fe_item(at, "scale");
		if (!scale)
			error_at(op->loc, "%s needs a scale", on);
		a->q = *fe_quant(op->loc, on, scale, fe_item(at, "zero_point"), fe_item(at, "axis"),
				   op->in[0]->type.rank);
	}
	if (have & A_RQ) {
		Item *m = fe_item(at, "mult"), *sh = fe_item(at, "shift");
		if (!m != !sh)
			error_at(m ? m->loc : sh->loc, "%s: mult and shift go together", on);
		if (m) {
			int nm, ns;
			a->mult = rq_list(m, on, 0, INT32_MAX, &nm);
			a->shift = rq_list(sh, on, -31, 30, &ns);
			if (nm != ns)
				error_at(sh->vloc, "%s: %d mults but %d shifts", on, nm, ns);
			for (int i = 0; i < nm; i++)
				if (a->mult[i] != 0 && a->mult[i] < (1 << 30))
					error_at(m->nums.loc[i], "%s: mult %d is not in [2^30, 2^31) or 0", on, a->mult[i]);
			a->nrq = nm;
		}
	}
	if ((have & A_CLAMP) && a->lo > a->hi)
		error_at(op->loc, "%s: lo %d is greater than hi %d", on, a->lo, a->hi);
	if ((have & A_SIZE) && !fe_item(at, "size"))
		error_at(op->loc, "%s needs size=[kh, kw]", on);
	if ((have & A_SIZE) && !fe_item(at, "strides")) {
		a->strides[0] = a->size[0];
		a->strides[1] = a->size[1];
	}
	if ((have & A_SHAPE) && !fe_item(at, "shape"))
		error_at(op->loc, "%s needs shape=[...]", on);
	if ((have & A_PERM) && !fe_item(at, "perm"))
		error_at(op->loc, "%s needs perm=[...]", on);
	if ((have & A_MIN) && a->min > a->max)
		error_at(op->loc, "%s: min %.17g is greater than max %.17g", on, a->min, a->max);
	if ((have & A_EPSILON) && a->epsilon < 0)
		error_at(op->loc, "%s: epsilon must not be negative, got %.17g", on, a->epsilon);
}
