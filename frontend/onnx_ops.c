/* The ONNX operators that compute: each becomes graph ops of the model
   format (docs/onnx.md lists them with their limits).  Weights are
   converted to the graph's NHWC layout here; the ops that only move or
   compute shapes are in onnx_shape.c. */
#include "onnx.h"

#include <math.h>
#include <string.h>

static const char *out_name(Ctx *c) { return c->node->output[0]; }

static void no_extra_outputs(Ctx *c, int n)
{
	for (int i = n; i < (int)c->node->n_output; i++)
		if (out_used(c, i))
			oerr(c, "output %d is not supported (only the first %d)", i + 1, n);
}

/* ---- windows: Conv and the pools ---- */

typedef struct {
	int64_t k[2], s[2], d[2], pads[4]; /* pads: top, left, bottom, right */
} Win;

/* kernel k given; strides, dilations, pads or auto_pad from the node;
   hw: the input's height and width */
static void window(Ctx *c, Win *w, const int64_t *hw, bool has_dil)
{
	int64_t v[8];
	w->s[0] = w->s[1] = w->d[0] = w->d[1] = 1;
	int n = attr_ints(c, "strides", v, 8);
	if (n >= 0 && n != 2)
		oerr(c, "strides must have 2 entries (2-D only), got %d", n);
	if (n == 2)
		w->s[0] = v[0], w->s[1] = v[1];
	n = attr_ints(c, "dilations", v, 8);
	if (n >= 0 && n != 2)
		oerr(c, "dilations must have 2 entries (2-D only), got %d", n);
	if (n == 2)
		w->d[0] = v[0], w->d[1] = v[1];
	if (!has_dil && (w->d[0] != 1 || w->d[1] != 1))
		oerr(c, "dilations other than 1 are not supported here");
	for (int i = 0; i < 2; i++)
		if (w->s[i] < 1 || w->d[i] < 1 || w->s[i] > (1 << 20) || w->d[i] > (1 << 20))
			oerr(c, "strides and dilations must be positive (got %lld, %lld)", (long long)w->s[i],
			     (long long)w->d[i]);
	memset(w->pads, 0, sizeof w->pads);
	const char *ap = attr_s(c, "auto_pad", "NOTSET");
	if (strcmp(ap, "NOTSET") == 0) {
		n = attr_ints(c, "pads", v, 8);
		if (n >= 0 && n != 4)
			oerr(c, "pads must have 4 entries (2-D only), got %d", n);
		for (int i = 0; n == 4 && i < 4; i++) {
			if (v[i] < 0 || v[i] > (1 << 20))
				oerr(c, "pads must be between 0 and 2^20, got %lld", (long long)v[i]);
			w->pads[i] = v[i]; /* ONNX order: h_begin, w_begin, h_end, w_end */
		}
	} else if (strcmp(ap, "SAME_UPPER") == 0 || strcmp(ap, "SAME_LOWER") == 0) {
		for (int i = 0; i < 2; i++) {
			int64_t out = (hw[i] + w->s[i] - 1) / w->s[i];
			int64_t total = (out - 1) * w->s[i] + (w->k[i] - 1) * w->d[i] + 1 - hw[i];
			if (total < 0)
				total = 0;
			int64_t small = total / 2;
			bool upper = ap[5] == 'U';
			w->pads[i] = upper ? small : total - small;
			w->pads[i + 2] = upper ? total - small : small;
		}
	} else if (strcmp(ap, "VALID") != 0) {
		oerr(c, "auto_pad '%s' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID", ap);
	}
}

static void set_win(Op *op, const Win *w)
{
	memcpy(op->a.strides, w->s, sizeof w->s);
	memcpy(op->a.dilations, w->d, sizeof w->d);
	memcpy(op->a.pads, w->pads, sizeof w->pads);
	memcpy(op->a.size, w->k, sizeof w->k);
}

/* ---- Conv, Gemm, MatMul ---- */

static Value *bias_value(Ctx *c, Ent *b, int64_t o, double beta)
{
	Tensor *t = fconst(c, b, "the bias");
	if (t->n != o && t->n != 1)
		oerr(c, "bias '%s' has %lld elements, expected %lld (one per output)", b->name, (long long)t->n,
		     (long long)o);
	Tensor *r = tensor_new(T_F32, 1, &o);
	for (int64_t i = 0; i < o; i++)
		tset(r, i, beta * tget(t, t->n == 1 ? 0 : i));
	return new_const(c, b->name, r);
}

static void conv(Ctx *c)
{
	Ent *x = ent_input(c, 0), *w = ent_input(c, 1), *b = ent_opt(c, 2);
	if (x->rank != 4)
		oerr(c, "only 2-D convolutions are supported (input rank %d, expected 4)", x->rank);
	if (!w->k || w->rank != 4)
		oerr(c, "the weight must be a 4-D constant (an initializer, or DequantizeLinear of one)");
	Win win;
	win.k[0] = w->dims[2], win.k[1] = w->dims[3];
	int64_t ks[8];
	int n = attr_ints(c, "kernel_shape", ks, 8);
	if (n >= 0 && (n != 2 || ks[0] != win.k[0] || ks[1] != win.k[1]))
		oerr(c, "kernel_shape does not match the weight's %lldx%lld", (long long)win.k[0], (long long)win.k[1]);
	window(c, &win, &x->dims[2], true);
	Value *in[3];
	in[0] = as_nhwc(c, x);
	static const int ohwi[4] = {0, 2, 3, 1};
	in[1] = weight_value(c, ttranspose(w->k, ohwi), quant_perm(w->dq, ohwi, 4), w->name);
	if (b)
		in[2] = bias_value(c, b, w->dims[0], 1);
	Op *op = emit(c, OP_CONV2D, in, b ? 3 : 2, out_name(c));
	set_win(op, &win);
	op->a.groups = attr_i(c, "group", 1);
	if (op->a.groups < 1 || op->a.groups > x->dims[1])
		oerr(c, "group %lld is not between 1 and the %lld input channels", (long long)op->a.groups,
		     (long long)x->dims[1]);
	set_out(c, 0, finish_op(c, op), L_NHWC, NULL);
}

/* y = x . W + bias with W [K, O] (wt false) or [O, K] (wt true) */
static void dense(Ctx *c, Ent *x, Ent *w, bool wt, double alpha, Ent *b, double beta)
{
	if (!w->k || w->rank != 2)
		oerr(c, "the weight ('%s') must be a 2-D constant (an initializer, or DequantizeLinear of one)", w->name);
	Tensor *t = w->k;
	Quant *q = w->dq;
	if (!wt) {
		static const int tr[2] = {1, 0};
		t = ttranspose(t, tr);
		q = quant_perm(q, tr, 2);
	}
	int64_t o = t->dims[0], k = t->dims[1];
	if (x->rank < 2 || x->dims[x->rank - 1] != k)
		oerr(c, "input '%s' has %lld features in its last dimension, the weight expects %lld", x->name,
		     (long long)x->dims[x->rank - 1], (long long)k);
	if (alpha != 1) {
		if (!q) {
			t = tconvert(t, T_F32);
			for (int64_t i = 0; i < t->n; i++)
				tset(t, i, alpha * tget(t, i));
		} else if (alpha > 0) {
			Quant *r = quant_new(q->axis, q->n);
			for (int i = 0; i < q->n; i++)
				r->scale[i] = q->scale[i] * alpha, r->zp[i] = q->zp[i];
			q = r;
		} else {
			oerr(c, "alpha %g on a quantized weight is not supported", alpha);
		}
	}
	Value *xv;
	if (x->v && x->lay == L_FLAT && x->fh * x->fw > 1) {
		/* the input is NHWC-flattened: permute the weight's columns to match */
		if (q && q->axis == 1)
			oerr(c, "a weight quantized along its input axis after a flatten is not supported");
		int64_t d4[4] = {o, x->fc, x->fh, x->fw};
		Tensor v4 = *t;
		v4.rank = 4;
		memcpy(v4.dims, d4, sizeof d4);
		static const int ohwc[4] = {0, 2, 3, 1};
		t = ttranspose(&v4, ohwc);
		t->rank = 2;
		t->dims[0] = o, t->dims[1] = k;
		xv = x->v;
	} else {
		xv = as_plain(c, x);
	}
	int r = x->rank;
	if (r > 2) { /* [..., K] as [M, K] */
		int64_t d2[2] = {type_numel(&xv->type) / k, k};
		xv = reshape_value(c, xv, 2, d2, fmt("%s.2d", x->name));
	}
	Value *in[3] = {xv, weight_value(c, t, q, w->name), NULL};
	if (b)
		in[2] = bias_value(c, b, o, beta);
	Op *op = emit(c, OP_DENSE, in, b ? 3 : 2, r > 2 ? fmt("%s.2d", out_name(c)) : out_name(c));
	Value *y = finish_op(c, op);
	if (r > 2) {
		int64_t dims[MAXRANK];
		memcpy(dims, x->dims, sizeof dims);
		dims[r - 1] = o;
		y = reshape_value(c, y, r, dims, out_name(c));
	}
	set_out(c, 0, y, L_PLAIN, NULL);
}

static void gemm(Ctx *c)
{
	if (attr_i(c, "transA", 0))
		oerr(c, "transA = 1 is not supported");
	Ent *a = ent_input(c, 0);
	if (a->rank != 2)
		oerr(c, "A must be 2-D, got rank %d", a->rank);
	double beta = attr_f(c, "beta", 1);
	Ent *b = ent_opt(c, 2);
	dense(c, a, ent_input(c, 1), attr_i(c, "transB", 0) != 0, attr_f(c, "alpha", 1), beta != 0 ? b : NULL, beta);
}

static void matmul(Ctx *c)
{
	Ent *a = ent_input(c, 0), *b = ent_input(c, 1);
	if (a->k && !b->k)
		oerr(c, "a constant times a computed tensor is not supported (the second operand must be the constant)");
	dense(c, a, b, false, 1, NULL, 0);
}

/* ---- the pools, batch normalization ---- */

static void pool(Ctx *c, OpKind k)
{
	Ent *x = ent_input(c, 0);
	no_extra_outputs(c, 1);
	if (x->rank != 4)
		oerr(c, "only 2-D pooling is supported (input rank %d)", x->rank);
	Win w;
	int64_t ks[8];
	if (attr_ints(c, "kernel_shape", ks, 8) != 2)
		oerr(c, "kernel_shape must have 2 entries");
	w.k[0] = ks[0], w.k[1] = ks[1];
	if (ks[0] < 1 || ks[1] < 1 || ks[0] > (1 << 20) || ks[1] > (1 << 20))
		oerr(c, "kernel_shape must be positive");
	window(c, &w, &x->dims[2], false);
	int64_t extra[2] = {0, 0};
	if (attr_i(c, "ceil_mode", 0)) {
		/* the last, partial window: more end padding (never counted) */
		for (int i = 0; i < 2; i++) {
			int64_t span = x->dims[2 + i] + w.pads[i] + w.pads[i + 2];
			if (span < w.k[i])
				break;
			int64_t fl = (span - w.k[i]) / w.s[i] + 1, ce = (span - w.k[i] + w.s[i] - 1) / w.s[i] + 1;
			if ((ce - 1) * w.s[i] >= x->dims[2 + i] + w.pads[i])
				ce--;
			if (ce > fl)
				extra[i] = (ce - 1) * w.s[i] + w.k[i] - span;
		}
	}
	Value *xv = as_nhwc(c, x);
	bool include = k == OP_AVGPOOL && attr_i(c, "count_include_pad", 0);
	bool padded = w.pads[0] || w.pads[1] || w.pads[2] || w.pads[3];
	if (include && padded) {
		/* padding counted: pad with zeros first, then average unpadded */
		if (extra[0] || extra[1])
			oerr(c, "ceil_mode with count_include_pad = 1 is not supported");
		Op *p = emit(c, OP_PAD, &xv, 1, fmt("%s.pad", out_name(c)));
		memcpy(p->a.pads, w.pads, sizeof w.pads);
		p->a.value = 0;
		xv = finish_op(c, p);
		memset(w.pads, 0, sizeof w.pads);
	}
	w.pads[2] += extra[0];
	w.pads[3] += extra[1];
	Op *op = emit(c, k, &xv, 1, out_name(c));
	set_win(op, &w);
	set_out(c, 0, finish_op(c, op), L_NHWC, NULL);
}

static void batchnorm(Ctx *c)
{
	Ent *x = ent_input(c, 0);
	no_extra_outputs(c, 1);
	if (attr_i(c, "training_mode", 0))
		oerr(c, "training_mode = 1 is not supported (inference only)");
	Value *in[5];
	if (x->rank == 4)
		in[0] = as_nhwc(c, x);
	else if (x->rank == 2)
		in[0] = as_plain(c, x);
	else
		oerr(c, "input rank %d is not supported (2 or 4)", x->rank);
	static const char *what[] = {"scale", "B", "mean", "var"};
	for (int i = 1; i < 5; i++) {
		Ent *p = ent_input(c, i);
		Tensor *t = fconst(c, p, what[i - 1]);
		if (t->n != x->dims[1])
			oerr(c, "%s has %lld elements, the input %lld channels", what[i - 1], (long long)t->n,
			     (long long)x->dims[1]);
		Tensor *r = tensor_new(T_F32, 1, &t->n);
		memcpy(r->data, t->data, (size_t)t->n * sizeof(float));
		in[i] = new_const(c, p->name, r);
	}
	Op *op = emit(c, OP_BATCHNORM, in, 5, out_name(c));
	op->a.epsilon = attr_f(c, "epsilon", 1e-5);
	if (op->a.epsilon < 0)
		oerr(c, "epsilon %g is negative", op->a.epsilon);
	set_out(c, 0, finish_op(c, op), x->rank == 4 ? L_NHWC : L_PLAIN, NULL);
}

/* ---- elementwise ---- */

static double scalar(Ctx *c, Ent *e, const char *what)
{
	Tensor *t = fconst(c, e, what);
	if (t->n != 1)
		oerr(c, "%s must be a scalar", what);
	if (isnan(tget(t, 0)))
		oerr(c, "%s is NaN", what);
	return tget(t, 0);
}

/* lo, hi: clip's bounds, or alpha and beta */
static void unary(Ctx *c, OpKind k, double lo, double hi)
{
	Ent *x = ent_input(c, 0);
	Value *xv = x->v && !x->k ? x->v : as_plain(c, x);
	Op *op = emit(c, k, &xv, 1, out_name(c));
	if (k == OP_CLIP) {
		op->a.min = lo;
		op->a.max = hi;
	} else if (k == OP_HARDSIGMOID || k == OP_LEAKYRELU) {
		op->a.alpha = lo;
		op->a.beta = hi;
	}
	set_out(c, 0, finish_op(c, op), x->k ? L_PLAIN : x->lay, x);
}

static void clip(Ctx *c)
{
	double lo = attr_f(c, "min", -INFINITY), hi = attr_f(c, "max", INFINITY);
	Ent *a = ent_opt(c, 1), *b = ent_opt(c, 2);
	if (a)
		lo = scalar(c, a, "min");
	if (b)
		hi = scalar(c, b, "max");
	if (lo > hi)
		oerr(c, "min %g is larger than max %g", lo, hi);
	if (isinf(lo) && isinf(hi)) {
		alias(c, ent_input(c, 0));
		return;
	}
	unary(c, OP_CLIP, lo, hi);
}

/* Broadcast shape of a and b (numpy); error if they do not broadcast */
static int bshape(Ctx *c, const Ent *a, const Ent *b, int64_t *dims)
{
	int r = a->rank > b->rank ? a->rank : b->rank;
	for (int i = 0; i < r; i++) {
		int ia = i - (r - a->rank), ib = i - (r - b->rank);
		int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
		if (da != db && da != 1 && db != 1)
			oerr(c, "operand shapes do not broadcast (dimension %d: %lld and %lld)", i, (long long)da,
			     (long long)db);
		dims[i] = da > db ? da : db;
	}
	return r;
}

static bool same_dims(int r, const int64_t *a, int rb, const int64_t *b)
{
	return r == rb && memcmp(a, b, (size_t)r * sizeof *a) == 0;
}

/* k as a constant of the graph for an elementwise op on x's IR value:
   x's full shape in x's layout, then the smallest form the IR takes
   (a scalar, or [C] along the last axis) */
static Value *operand_const(Ctx *c, Ent *x, Tensor *k, const char *name)
{
	Tensor *t = tbroadcast(c, k, x->rank, x->dims);
	if (x->lay == L_NHWC) {
		static const int to[4] = {0, 2, 3, 1};
		t = ttranspose(t, to);
	} else if (x->lay == L_FLAT && x->fh * x->fw > 1) {
		Tensor v4 = *t;
		v4.rank = 4;
		v4.dims[1] = x->fc, v4.dims[2] = x->fh, v4.dims[3] = x->fw;
		static const int to[4] = {0, 2, 3, 1};
		t = ttranspose(&v4, to);
		t->rank = 2;
		t->dims[1] = x->dims[1];
	}
	int64_t last = t->rank ? t->dims[t->rank - 1] : 1;
	bool all = true, rows = true;
	for (int64_t i = 0; i < t->n; i++) {
		all = all && tget(t, i) == tget(t, 0);
		rows = rows && tget(t, i) == tget(t, i % last);
	}
	if (all) {
		t->rank = 0;
		t->n = 1;
	} else if (rows) {
		t->rank = 1;
		t->dims[0] = last;
		t->n = last;
	}
	return new_const(c, name, t);
}

static Value *neg(Ctx *c, Value *v)
{
	Tensor *m = tensor_new(T_F32, 0, NULL);
	tset(m, 0, -1);
	Value *in[2] = {v, new_const(c, "minus_one", m)};
	return finish_op(c, emit(c, OP_MUL, in, 2, fmt("%s.neg", out_name(c))));
}

static void fold_binary(Ctx *c, char opc, Ent *a, Ent *b)
{
	int64_t dims[MAXRANK];
	int r = bshape(c, a, b, dims);
	bool flt = a->dq || b->dq || a->k->dt == T_F32 || b->k->dt == T_F32;
	Tensor *ta = tbroadcast(c, flt ? fconst(c, a, "A") : a->k, r, dims);
	Tensor *tb = tbroadcast(c, flt ? fconst(c, b, "B") : b->k, r, dims);
	Tensor *t = tensor_new(flt ? T_F32 : T_I64, r, dims);
	for (int64_t i = 0; i < t->n; i++) {
		double x = tget(ta, i), y = tget(tb, i), v;
		switch (opc) {
		case '+': v = x + y; break;
		case '-': v = x - y; break;
		case '*': v = x * y; break;
		default:
			if (!flt && y == 0)
				oerr(c, "integer division by zero");
			v = flt ? x / y : trunc(x / y);
		}
		if (!flt && fabs(v) > 0x1p62)
			oerr(c, "integer overflow in a constant");
		tset(t, i, v);
	}
	Ent *e = ent_def(c, 0);
	e->k = t;
	e->rank = r;
	memcpy(e->dims, dims, sizeof dims);
}

static void binary(Ctx *c, char opc)
{
	Ent *a = ent_input(c, 0), *b = ent_input(c, 1);
	if (a->k && b->k) {
		fold_binary(c, opc, a, b);
		return;
	}
	int64_t dims[MAXRANK];
	int r = bshape(c, a, b, dims);
	OpKind k = opc == '+' ? OP_ADD : opc == '-' ? OP_SUB : OP_MUL;
	if (a->k || b->k) {
		/* a tensor and a constant */
		Ent *x = a->k ? b : a, *ke = a->k ? a : b;
		if (!same_dims(r, dims, x->rank, x->dims))
			oerr(c, "the constant operand would enlarge the tensor by broadcasting: not supported");
		Tensor *t = tconvert(fconst(c, ke, "the constant operand"), T_F32);
		if (opc == '/') {
			if (a->k)
				oerr(c, "a constant divided by a tensor is not supported");
			for (int64_t i = 0; i < t->n; i++) {
				if (tget(t, i) == 0)
					oerr(c, "division by a constant zero");
				tset(t, i, 1.0 / tget(t, i)); /* x / k = x * (1/k) */
			}
		}
		Value *xv = x->lay == L_PLAIN || x->lay == L_NHWC || x->lay == L_FLAT ? x->v : NULL;
		if (!xv)
			xv = as_plain(c, x);
		Value *kv = operand_const(c, x, t, ke->name);
		if (opc == '-' && a->k) { /* k - x = -x + k */
			xv = neg(c, xv);
			k = OP_ADD;
		}
		Value *in[2] = {xv, kv};
		set_out(c, 0, finish_op(c, emit(c, k, in, 2, out_name(c))), x->lay, x);
		return;
	}
	if (opc == '/')
		oerr(c, "division of two computed tensors is not supported");
	/* two tensors: the larger first, the other the same shape, [C] or a scalar */
	Ent *big = a, *small = b;
	if (!same_dims(r, dims, a->rank, a->dims)) {
		big = b, small = a;
		if (!same_dims(r, dims, b->rank, b->dims))
			oerr(c, "both operands would be enlarged by broadcasting: not supported");
	}
	Value *bv, *sv;
	Layout lay;
	if (same_dims(big->rank, big->dims, small->rank, small->dims)) {
		if (big->lay == small->lay && (big->lay != L_FLAT || (big->fh == small->fh && big->fw == small->fw))) {
			bv = big->v, sv = small->v, lay = big->lay;
		} else if (big->rank == 4) {
			bv = as_nhwc(c, big), sv = as_nhwc(c, small), lay = L_NHWC;
		} else {
			bv = as_plain(c, big), sv = as_plain(c, small), lay = L_PLAIN;
		}
	} else {
		int64_t sn = 1;
		for (int i = 0; i < small->rank; i++)
			sn *= small->dims[i];
		/* the one axis of big that small spans, aligned from the right */
		int axis = -1;
		for (int i = 0; i < small->rank; i++)
			if (small->dims[i] != 1)
				axis = i + (big->rank - small->rank);
		lay = big->lay;
		int last = big->lay == L_NHWC ? 1 : big->rank - 1; /* ONNX axis stored last */
		if (big->lay == L_FLAT && big->fh * big->fw > 1)
			bv = as_plain(c, big), lay = L_PLAIN, last = big->rank - 1;
		else
			bv = big->v;
		if (sn != 1 && (axis != last || sn != dims[axis]))
			oerr(c, "broadcasting a tensor of %lld elements along this axis is not supported (only along "
			     "the channels or a scalar)", (long long)sn);
		sv = small->v && (small->lay != L_FLAT || small->fh * small->fw == 1) ? small->v : as_plain(c, small);
		int64_t one = sn;
		sv = reshape_value(c, sv, sn == 1 ? 0 : 1, &one, fmt("%s.b", small->name));
	}
	if (small == a && opc == '-') { /* a - b with b the larger: -b + a */
		bv = neg(c, bv);
		k = OP_ADD;
	}
	Value *in[2] = {bv, sv};
	set_out(c, 0, finish_op(c, emit(c, k, in, 2, out_name(c))), lay, big);
}

/* ---- Softmax, Pad ---- */

static void softmax(Ctx *c)
{
	Ent *x = ent_input(c, 0);
	int r = x->rank;
	int64_t axis = attr_i(c, "axis", c->opset >= 13 ? -1 : 1);
	if (r < 1 || axis < -r || axis >= r)
		oerr(c, "axis %lld is out of range for rank %d", (long long)axis, r);
	if (axis < 0)
		axis += r;
	if (c->opset < 13) {
		/* over all of dims[axis:]: one axis when the others are 1 */
		int n = 0, j = (int)axis;
		for (int i = (int)axis; i < r; i++)
			if (x->dims[i] != 1)
				n++, j = i;
		if (n > 1)
			oerr(c, "softmax over several axes (opset < 13 coerces to 2-D) is not supported");
		axis = j;
	}
	Value *xv;
	Layout lay = x->lay;
	int ax = (int)axis;
	if (x->k) {
		xv = as_plain(c, x), lay = L_PLAIN;
	} else if (x->lay == L_NHWC) {
		xv = x->v, ax = nhwc_axis(ax);
	} else if (x->lay == L_FLAT && ax != 1) {
		xv = as_plain(c, x), lay = L_PLAIN;
	} else {
		xv = x->v; /* on L_FLAT along the whole row: the order does not matter */
	}
	Op *op = emit(c, OP_SOFTMAX, &xv, 1, out_name(c));
	op->a.axis = ax;
	set_out(c, 0, finish_op(c, op), lay, x);
}

static void pad(Ctx *c)
{
	Ent *x = ent_input(c, 0);
	const char *mode = attr_s(c, "mode", "constant");
	if (strcmp(mode, "constant") != 0)
		oerr(c, "mode '%s' is not supported (constant only)", mode);
	int64_t p[16];
	int n;
	double value = 0;
	if (c->opset < 11) {
		n = attr_ints(c, "pads", p, 16);
		value = attr_f(c, "value", 0);
	} else {
		Tensor *t = const_int_list(c, ent_input(c, 1), "pads");
		if (t->n > 16)
			oerr(c, "pads has %lld entries", (long long)t->n);
		n = (int)t->n;
		for (int i = 0; i < n; i++)
			p[i] = (int64_t)tget(t, i);
		Ent *v = ent_opt(c, 2);
		if (v)
			value = scalar(c, v, "constant_value");
		if (ent_opt(c, 3))
			oerr(c, "the axes input is not supported");
	}
	if (x->rank != 4 || n != 8)
		oerr(c, "only 4-D inputs with 8 pads are supported");
	if (!isfinite(value))
		oerr(c, "the pad value %g is not finite", value);
	if (p[0] || p[1] || p[4] || p[5])
		oerr(c, "padding of the batch or channel axis is not supported");
	for (int i = 0; i < 8; i++)
		if (p[i] < 0 || p[i] > (1 << 20))
			oerr(c, "pads must be between 0 and 2^20, got %lld", (long long)p[i]);
	Value *xv = as_nhwc(c, x);
	Op *op = emit(c, OP_PAD, &xv, 1, out_name(c));
	op->a.pads[0] = p[2], op->a.pads[1] = p[3], op->a.pads[2] = p[6], op->a.pads[3] = p[7];
	op->a.value = value;
	set_out(c, 0, finish_op(c, op), L_NHWC, NULL);
}

/* ---- QuantizeLinear, DequantizeLinear ---- */

/* scale and zero point of the node (inputs 1 and 2) along ONNX axis of x */
static Quant *node_quant(Ctx *c, Ent *x, int *dt)
{
	if (attr_i(c, "block_size", 0))
		oerr(c, "blocked quantization (block_size) is not supported");
	Tensor *s = fconst(c, ent_input(c, 1), "the scale");
	Ent *ze = ent_opt(c, 2);
	Tensor *z = ze ? ze->k : NULL;
	if (ze && (!z || ze->dq))
		oerr(c, "the zero point must be a constant");
	*dt = z ? z->dt : T_U8;
	if (s->rank > 1 || (z && z->n != s->n))
		oerr(c, "scale and zero point must be scalars or 1-D lists of the same length");
	Quant *q;
	if (s->n == 1) {
		q = quant_new(-1, 1);
	} else {
		int64_t axis = attr_i(c, "axis", 1);
		if (axis < -x->rank || axis >= x->rank)
			oerr(c, "axis %lld is out of range for rank %d", (long long)axis, x->rank);
		if (axis < 0)
			axis += x->rank;
		if (s->n != x->dims[axis])
			oerr(c, "%lld scales for the %lld entries along axis %lld", (long long)s->n,
			     (long long)x->dims[axis], (long long)axis);
		q = quant_new((int)axis, (int)s->n);
	}
	for (int i = 0; i < q->n; i++) {
		q->scale[i] = tget(s, i);
		q->zp[i] = z ? (int32_t)tget(z, i) : 0;
		if (!(q->scale[i] > 0) || !isfinite(q->scale[i]))
			oerr(c, "scale must be positive and finite, got %g", q->scale[i]);
	}
	return q;
}

/* q's axis for x's IR value (or an error when the layout scrambles it) */
static Quant *ir_quant(Ctx *c, Ent *x, Quant *q)
{
	if (q->axis < 0)
		return q;
	Quant *r = alloc(sizeof *r);
	*r = *q;
	if (x->lay == L_NHWC)
		r->axis = nhwc_axis(q->axis);
	else if (x->lay == L_FLAT && x->fh * x->fw > 1)
		oerr(c, "per-axis quantization of a flattened NCHW tensor is not supported");
	return r;
}

static void quantize(Ctx *c)
{
	Ent *x = ent_input(c, 0);
	int dt;
	Quant *q = node_quant(c, x, &dt);
	if (dt != T_U8 && dt != T_I8)
		oerr(c, "output type must be uint8 or int8");
	if (x->k) { /* a constant: quantized now (round half to even, saturate) */
		Tensor *f = fconst(c, x, "the input"), *t = tensor_new(dt, f->rank, f->dims);
		int64_t inner = 1;
		for (int i = q->axis + 1; q->axis >= 0 && i < f->rank; i++)
			inner *= f->dims[i];
		double lo = dt == T_U8 ? 0 : -128, hi = dt == T_U8 ? 255 : 127;
		for (int64_t i = 0; i < f->n; i++) {
			int j = q->axis >= 0 ? (int)((i / inner) % q->n) : 0;
			double v = nearbyint(tget(f, i) / q->scale[j]) + q->zp[j];
			tset(t, i, isnan(v) ? 0 : fmin(fmax(v, lo), hi));
		}
		Ent *e = ent_def(c, 0);
		e->k = t;
		e->rank = t->rank;
		memcpy(e->dims, t->dims, sizeof e->dims);
		return;
	}
	Value *xv = x->v;
	Op *op = emit(c, OP_QUANTIZE, &xv, 1, out_name(c));
	op->a.q = *ir_quant(c, x, q);
	op->a.dtype = dt == T_U8 ? DT_U8 : DT_I8;
	set_out(c, 0, finish_op(c, op), x->lay, x);
}

static void dequantize(Ctx *c)
{
	Ent *x = ent_input(c, 0);
	int dt;
	Quant *q = node_quant(c, x, &dt);
	if (x->k) {
		if (x->dq)
			oerr(c, "the input is already dequantized");
		if (x->k->dt != T_U8 && x->k->dt != T_I8 && x->k->dt != T_I32)
			oerr(c, "the input must be uint8, int8 or int32");
		if (ent_opt(c, 2) && dt != x->k->dt)
			oerr(c, "the zero point's type differs from the input's");
		Ent *e = ent_def(c, 0);
		e->rank = x->rank;
		memcpy(e->dims, x->dims, sizeof e->dims);
		if (x->k->dt == T_I32) { /* a bias: float now */
			e->k = tdequant(c, x->k, q);
		} else {
			e->k = x->k;
			e->dq = q; /* a weight keeps its integers */
		}
		return;
	}
	Value *xv = x->v;
	if (xv->type.dt == DT_F32)
		oerr(c, "the input is float, not quantized");
	Op *op = emit(c, OP_DEQUANTIZE, &xv, 1, out_name(c));
	op->a.q = *ir_quant(c, x, q);
	set_out(c, 0, finish_op(c, op), x->lay, x);
}

/* ---- the table ---- */

void import_node(Ctx *c)
{
	const char *op = c->node->op_type ? c->node->op_type : "";
	if (!out_used(c, 0))
		oerr(c, "the node has no output");
	if (import_shape_op(c, op))
		return;
	if (!strcmp(op, "Conv"))
		conv(c);
	else if (!strcmp(op, "Gemm"))
		gemm(c);
	else if (!strcmp(op, "MatMul"))
		matmul(c);
	else if (!strcmp(op, "Relu"))
		unary(c, OP_RELU, -INFINITY, INFINITY);
	else if (!strcmp(op, "Sigmoid"))
		unary(c, OP_SIGMOID, 0, 0);
	else if (!strcmp(op, "Tanh"))
		unary(c, OP_TANH, 0, 0);
	else if (!strcmp(op, "HardSwish"))
		unary(c, OP_HARDSWISH, 0, 0);
	else if (!strcmp(op, "HardSigmoid"))
		unary(c, OP_HARDSIGMOID, attr_f(c, "alpha", 0.2), attr_f(c, "beta", 0.5));
	else if (!strcmp(op, "LeakyRelu"))
		unary(c, OP_LEAKYRELU, attr_f(c, "alpha", 0.01), 0.5);
	else if (!strcmp(op, "Clip"))
		clip(c);
	else if (!strcmp(op, "Add"))
		binary(c, '+');
	else if (!strcmp(op, "Sub"))
		binary(c, '-');
	else if (!strcmp(op, "Mul"))
		binary(c, '*');
	else if (!strcmp(op, "Div"))
		binary(c, '/');
	else if (!strcmp(op, "BatchNormalization"))
		batchnorm(c);
	else if (!strcmp(op, "MaxPool"))
		pool(c, OP_MAXPOOL);
	else if (!strcmp(op, "AveragePool"))
		pool(c, OP_AVGPOOL);
	else if (!strcmp(op, "GlobalAveragePool")) {
		Ent *x = ent_input(c, 0);
		Value *xv = as_nhwc(c, x);
		set_out(c, 0, finish_op(c, emit(c, OP_GAVGPOOL, &xv, 1, out_name(c))), L_NHWC, NULL);
	} else if (!strcmp(op, "Softmax"))
		softmax(c);
	else if (!strcmp(op, "Pad"))
		pad(c);
	else if (!strcmp(op, "QuantizeLinear"))
		quantize(c);
	else if (!strcmp(op, "DequantizeLinear"))
		dequantize(c);
	else
		oerr(c, "operator %s is not supported (docs/onnx.md lists the supported ones)", op);
	no_extra_outputs(c, 1);
}
