/* The ONNX operators that only move data or compute shapes: Identity,
   Dropout, Constant, Shape, Gather, Cast, Reshape, Flatten, Squeeze,
   Unsqueeze, Concat, Transpose.  On constants they run at import time
   (the Shape -> Gather -> Concat -> Reshape chains of torch.onnx.export);
   on tensors they become reshape / flatten / concat, or vanish into the
   layout bookkeeping. */
#include "onnx.h"

#include <string.h>

static const char *out_name(Ctx *c) { return c->node->output[0]; }

static void def_const(Ctx *c, Tensor *t, const Quant *dq)
{
	Ent *e = ent_def(c, 0);
	e->k = t;
	e->dq = (Quant *)dq;
	e->rank = t->rank;
	memcpy(e->dims, t->dims, sizeof e->dims);
}

static int norm_axis(Ctx *c, int64_t a, int rank)
{
	if (a < -rank || a >= rank)
		oerr(c, "axis %lld is out of range for rank %d", (long long)a, rank);
	return (int)(a < 0 ? a + rank : a);
}

static void constant(Ctx *c)
{
	Onnx__AttributeProto *a = c->node->n_attribute == 1 ? c->node->attribute[0] : NULL;
	if (!a)
		oerr(c, "needs exactly one attribute");
	const char *n = a->name ? a->name : "";
	Tensor *t;
	if (!strcmp(n, "value") && a->t) {
		t = tensor_from_proto(c, a->t, "value");
	} else if (!strcmp(n, "value_float") || !strcmp(n, "value_int")) {
		t = tensor_new(n[6] == 'f' ? T_F32 : T_I64, 0, NULL);
		tset(t, 0, n[6] == 'f' ? a->f : (double)a->i);
	} else if (!strcmp(n, "value_floats") || !strcmp(n, "value_ints")) {
		bool f = n[6] == 'f';
		int64_t len = f ? (int64_t)a->n_floats : (int64_t)a->n_ints;
		numel_of(c, 1, &len);
		t = tensor_new(f ? T_F32 : T_I64, 1, &len);
		for (int64_t i = 0; i < len; i++)
			tset(t, i, f ? a->floats[i] : (double)a->ints[i]);
	} else {
		oerr(c, "attribute '%s' is not supported (value, value_float(s), value_int(s))", n);
	}
	def_const(c, t, NULL);
}

static void shape(Ctx *c)
{
	Ent *x = ent_input(c, 0);
	int r = x->rank;
	int64_t s = attr_i(c, "start", 0), e = attr_i(c, "end", r);
	s = s < 0 ? s + r : s;
	e = e < 0 ? e + r : e;
	s = s < 0 ? 0 : s > r ? r : s;
	e = e < s ? s : e > r ? r : e;
	int64_t n = e - s;
	Tensor *t = tensor_new(T_I64, 1, &n);
	for (int64_t i = 0; i < n; i++)
		tset(t, i, (double)x->dims[s + i]);
	if (n == 0)
		oerr(c, "an empty shape is not supported");
	def_const(c, t, NULL);
}

static void gather(Ctx *c)
{
	Ent *d = ent_input(c, 0), *ie = ent_input(c, 1);
	if (!d->k || !ie->k)
		oerr(c, "Gather is supported on constants only (shapes computed at import time)");
	Tensor *data = d->dq ? fconst(c, d, "data") : d->k, *idx = const_int_list(c, ie, "indices");
	int ax = norm_axis(c, attr_i(c, "axis", 0), data->rank);
	int64_t dims[MAXRANK];
	int r = 0;
	for (int i = 0; i < ax; i++)
		dims[r++] = data->dims[i];
	for (int i = 0; i < idx->rank; i++)
		dims[r++] = idx->dims[i];
	for (int i = ax + 1; i < data->rank; i++) {
		if (r == MAXRANK)
			oerr(c, "result rank exceeds %d", MAXRANK);
		dims[r++] = data->dims[i];
	}
	int64_t outer = 1, inner = 1;
	for (int i = 0; i < ax; i++)
		outer *= data->dims[i];
	for (int i = ax + 1; i < data->rank; i++)
		inner *= data->dims[i];
	numel_of(c, r, dims);
	Tensor *t = tensor_new(data->dt, r, dims);
	int64_t o = 0, na = data->dims[ax];
	for (int64_t a = 0; a < outer; a++)
		for (int64_t j = 0; j < idx->n; j++) {
			int64_t k = (int64_t)tget(idx, j);
			if (k < -na || k >= na)
				oerr(c, "index %lld is out of range for %lld entries", (long long)k, (long long)na);
			k = k < 0 ? k + na : k;
			for (int64_t i = 0; i < inner; i++)
				tset(t, o++, tget(data, (a * na + k) * inner + i));
		}
	def_const(c, t, NULL);
}

static void cast(Ctx *c)
{
	Ent *x = ent_input(c, 0);
	int64_t to = attr_i(c, "to", 0);
	if (to != T_F32 && to != T_I64 && to != T_I32 && to != T_I8 && to != T_U8)
		oerr(c, "cast to element type %lld is not supported", (long long)to);
	if (x->k) {
		def_const(c, tconvert(x->dq ? fconst(c, x, "input") : x->k, (int)to), NULL);
		return;
	}
	if (to != T_F32 || x->v->type.dt != DT_F32)
		oerr(c, "casts of computed tensors are supported only from float to float");
	alias(c, x);
}

/* x viewed with the ONNX shape dims (same element count) */
static void reshape_to(Ctx *c, Ent *x, int r, const int64_t *dims)
{
	if (x->k) {
		/* per-axis dequantization does not survive a reshape: float now */
		bool axis = x->dq && x->dq->axis >= 0;
		Tensor *t = alloc(sizeof *t);
		*t = axis ? *fconst(c, x, "input") : *x->k;
		t->rank = r;
		memcpy(t->dims, dims, (size_t)r * sizeof *dims);
		def_const(c, t, axis ? NULL : x->dq);
		return;
	}
	if (r == x->rank && memcmp(dims, x->dims, (size_t)r * sizeof *dims) == 0) {
		alias(c, x);
		return;
	}
	if (x->lay == L_NHWC && r == 2 && dims[0] == x->dims[0]) {
		/* the flatten of NCHW data: the NHWC flatten, its order recorded */
		Value *v = x->v;
		Op *op = emit(c, OP_FLATTEN, &v, 1, out_name(c));
		Ent src = {.fc = x->dims[1], .fh = x->dims[2], .fw = x->dims[3]};
		bool hw1 = x->dims[2] * x->dims[3] == 1;
		set_out(c, 0, finish_op(c, op), hw1 ? L_PLAIN : L_FLAT, &src);
		return;
	}
	Value *v;
	if ((x->lay == L_NHWC && x->dims[2] * x->dims[3] == 1) || (x->lay == L_FLAT && x->fh * x->fw == 1))
		v = x->v; /* [N,1,1,C] NHWC and [N,C,1,1] NCHW: the same order */
	else
		v = as_plain(c, x);
	set_out(c, 0, reshape_value(c, v, r, dims, out_name(c)), L_PLAIN, NULL);
}

static void reshape(Ctx *c)
{
	Ent *x = ent_input(c, 0);
	Tensor *s = const_int_list(c, ent_input(c, 1), "the shape");
	if (s->n > MAXRANK)
		oerr(c, "rank %lld exceeds the maximum %d", (long long)s->n, MAXRANK);
	bool allowzero = attr_i(c, "allowzero", 0) != 0;
	int r = (int)s->n, hole = -1;
	int64_t dims[MAXRANK], known = 1, n = numel_of(c, x->rank, x->dims);
	for (int i = 0; i < r; i++) {
		int64_t d = (int64_t)tget(s, i);
		if (d == 0 && !allowzero) {
			if (i >= x->rank)
				oerr(c, "shape entry %d is 0 (copy) but the input has rank %d", i, x->rank);
			d = x->dims[i];
		}
		if (d == -1) {
			if (hole >= 0)
				oerr(c, "more than one -1 in the shape");
			hole = i;
			continue;
		}
		if (d < 1 || d > MAXNUMEL || known * d > MAXNUMEL)
			oerr(c, "shape entry %lld is not supported", (long long)d);
		dims[i] = d;
		known *= d;
	}
	if (hole >= 0) {
		if (n % known)
			oerr(c, "cannot reshape %lld elements into a multiple of %lld", (long long)n, (long long)known);
		dims[hole] = n / known;
	} else if (known != n) {
		oerr(c, "cannot reshape %lld elements into %lld", (long long)n, (long long)known);
	}
	reshape_to(c, x, r, dims);
}

static void flatten(Ctx *c)
{
	Ent *x = ent_input(c, 0);
	int ax = x->rank ? norm_axis(c, attr_i(c, "axis", 1), x->rank + 1) : 0;
	int64_t dims[2] = {1, 1};
	for (int i = 0; i < x->rank; i++)
		dims[i >= ax] *= x->dims[i];
	reshape_to(c, x, 2, dims);
}

/* Squeeze and Unsqueeze: the axes from the attribute (opset < 13) or input 2 */
static int axes_of(Ctx *c, int64_t *axes)
{
	if (c->opset < 13)
		return attr_ints(c, "axes", axes, MAXRANK);
	Ent *a = ent_opt(c, 1);
	if (!a)
		return -1;
	Tensor *t = const_int_list(c, a, "axes");
	if (t->n > MAXRANK)
		oerr(c, "too many axes");
	for (int i = 0; i < t->n; i++)
		axes[i] = (int64_t)tget(t, i);
	return (int)t->n;
}

static void squeeze(Ctx *c, bool un)
{
	Ent *x = ent_input(c, 0);
	int64_t axes[MAXRANK], dims[MAXRANK];
	int n = axes_of(c, axes), r = 0;
	bool mark[2 * MAXRANK] = {0};
	int rank = un ? x->rank + (n > 0 ? n : 0) : x->rank;
	if (un && n < 0)
		oerr(c, "axes are required");
	if (rank > MAXRANK)
		oerr(c, "rank %d exceeds the maximum %d", rank, MAXRANK);
	for (int i = 0; i < n; i++) {
		int a = norm_axis(c, axes[i], rank);
		if (mark[a])
			oerr(c, "axis %d given twice", a);
		mark[a] = true;
		if (!un && x->dims[a] != 1)
			oerr(c, "axis %d has size %lld, not 1", a, (long long)x->dims[a]);
	}
	for (int i = 0, j = 0; i < rank; i++) {
		if (un)
			dims[r++] = mark[i] ? 1 : x->dims[j++];
		else if (!(n < 0 ? x->dims[i] == 1 : mark[i]))
			dims[r++] = x->dims[i];
	}
	reshape_to(c, x, r, dims);
}

static void concat(Ctx *c)
{
	int n = (int)c->node->n_input;
	if (n < 1 || n > 64)
		oerr(c, "%d inputs (1 to 64 supported)", n);
	Ent **es = alloc_array((size_t)n, sizeof *es);
	bool allk = true, nhwc = false;
	for (int i = 0; i < n; i++) {
		es[i] = ent_input(c, i);
		allk = allk && es[i]->k;
		nhwc = nhwc || (es[i]->v && es[i]->lay == L_NHWC);
		if (es[i]->rank != es[0]->rank)
			oerr(c, "inputs of different ranks");
	}
	int r = es[0]->rank, ax = norm_axis(c, attr_i(c, "axis", 0), r > 0 ? r : 1);
	if (allk) {
		int64_t dims[MAXRANK];
		memcpy(dims, es[0]->dims, sizeof dims);
		dims[ax] = 0;
		bool flt = false;
		for (int i = 0; i < n; i++) {
			for (int d = 0; d < r; d++)
				if (d != ax && es[i]->dims[d] != dims[d])
					oerr(c, "input %d does not match input 1 outside the axis", i + 1);
			dims[ax] += es[i]->dims[ax];
			flt = flt || es[i]->dq || es[i]->k->dt == T_F32;
		}
		int64_t total = numel_of(c, r, dims), outer = 1;
		for (int d = 0; d < ax; d++)
			outer *= dims[d];
		Tensor *t = tensor_new(flt ? T_F32 : T_I64, r, dims);
		int64_t o = 0;
		for (int64_t a = 0; a < outer; a++)
			for (int i = 0; i < n; i++) {
				Tensor *k = es[i]->dq || flt ? fconst(c, es[i], "input") : es[i]->k;
				int64_t run = k->n / outer;
				for (int64_t j = 0; j < run; j++)
					tset(t, o++, tget(k, a * run + j));
			}
		if (o != total)
			die("onnx concat: %lld of %lld", (long long)o, (long long)total);
		def_const(c, t, NULL);
		return;
	}
	Value **in = alloc_array((size_t)n, sizeof *in);
	bool to4 = nhwc && r == 4;
	for (int i = 0; i < n; i++)
		in[i] = to4 ? as_nhwc(c, es[i]) : as_plain(c, es[i]);
	Op *op = emit(c, OP_CONCAT, in, n, out_name(c));
	op->a.axis = to4 ? nhwc_axis(ax) : ax;
	set_out(c, 0, finish_op(c, op), to4 ? L_NHWC : L_PLAIN, NULL);
}

static void transpose_op(Ctx *c)
{
	Ent *x = ent_input(c, 0);
	int64_t p[MAXRANK];
	int n = attr_ints(c, "perm", p, MAXRANK), r = x->rank, perm[MAXRANK];
	bool seen[MAXRANK] = {0};
	if (n >= 0 && n != r)
		oerr(c, "perm has %d entries for rank %d", n, r);
	for (int i = 0; i < r; i++) {
		perm[i] = n < 0 ? r - 1 - i : (int)p[i];
		if (perm[i] < 0 || perm[i] >= r || seen[perm[i]])
			oerr(c, "perm is not a permutation of 0..%d", r - 1);
		seen[perm[i]] = true;
	}
	if (x->k) {
		Tensor *t = ttranspose(x->dq ? fconst(c, x, "input") : x->k, perm);
		def_const(c, t, NULL);
		return;
	}
	static const int to_nhwc[4] = {0, 2, 3, 1}, to_nchw[4] = {0, 3, 1, 2};
	if (r == 4 && x->lay == L_NHWC && !memcmp(perm, to_nhwc, sizeof to_nhwc)) {
		/* NCHW -> NHWC of a tensor held NHWC: the stored data as it is */
		set_out(c, 0, x->v, L_PLAIN, NULL);
		return;
	}
	if (r == 4 && x->lay == L_PLAIN && !memcmp(perm, to_nchw, sizeof to_nchw)) {
		set_out(c, 0, x->v, L_NHWC, NULL);
		return;
	}
	set_out(c, 0, transpose(c, as_plain(c, x), perm, out_name(c)), L_PLAIN, NULL);
}

bool import_shape_op(Ctx *c, const char *op)
{
	if (!strcmp(op, "Identity")) {
		alias(c, ent_input(c, 0));
	} else if (!strcmp(op, "Dropout")) {
		if (out_used(c, 1))
			oerr(c, "the mask output is not supported (inference only)");
		Ent *tm = ent_opt(c, 2);
		if (tm && (!tm->k || tget(tm->k, 0) != 0))
			oerr(c, "training_mode must be a constant false (inference only)");
		alias(c, ent_input(c, 0));
	} else if (!strcmp(op, "Constant")) {
		constant(c);
	} else if (!strcmp(op, "Shape")) {
		shape(c);
	} else if (!strcmp(op, "Gather")) {
		gather(c);
	} else if (!strcmp(op, "Cast")) {
		cast(c);
	} else if (!strcmp(op, "Reshape")) {
		reshape(c);
	} else if (!strcmp(op, "Flatten")) {
		flatten(c);
	} else if (!strcmp(op, "Squeeze")) {
		squeeze(c, false);
	} else if (!strcmp(op, "Unsqueeze")) {
		squeeze(c, true);
	} else if (!strcmp(op, "Concat")) {
		concat(c);
	} else if (!strcmp(op, "Transpose")) {
		transpose_op(c);
	} else {
		return false;
	}
	for (int i = 1; i < (int)c->node->n_output; i++)
		if (out_used(c, i) && strcmp(op, "Dropout") != 0)
			oerr(c, "output %d is not supported", i + 1);
	return true;
}
