/* The ONNX importer's layout bookkeeping: NCHW tensors are held NHWC in
   the graph; these functions give a tensor in the layout an op needs,
   record results, and turn constants into graph constants and weights. */
#include "onnx.h"

#include <string.h>

/* the NHWC position of ONNX axis a of a rank-4 tensor */
int nhwc_axis(int a)
{
	static const int m[4] = {0, 3, 1, 2};
	return m[a];
}

Value *transpose(Ctx *c, Value *v, const int *perm, const char *name)
{
	Op *op = emit(c, OP_TRANSPOSE, &v, 1, name);
	op->a.nperm = v->type.rank;
	for (int i = 0; i < v->type.rank; i++)
		op->a.perm[i] = perm[i];
	if (v->type.q && v->type.q->axis >= 0) { /* a per-axis axis moves with its axis */
		Quant *q = quant_new(0, v->type.q->n);
		*q = *v->type.q;
		for (int i = 0; i < v->type.rank; i++)
			if (perm[i] == v->type.q->axis)
				q->axis = i;
		op->out->type.q = q;
	} else {
		op->out->type.q = v->type.q;
	}
	return finish_op(c, op);
}

Value *reshape_value(Ctx *c, Value *v, int rank, const int64_t *dims, const char *name)
{
	Op *op = emit(c, OP_RESHAPE, &v, 1, name);
	op->a.nshape = rank;
	memcpy(op->a.shape, dims, (size_t)rank * sizeof *dims);
	return finish_op(c, op);
}

Value *finish_op(Ctx *c, Op *op)
{
	infer_op(op);
	if (op->kind == OP_QUANTIZE) {
		Quant *q = quant_new(op->a.q.axis, op->a.q.n);
		memcpy(q->scale, op->a.q.scale, (size_t)q->n * sizeof *q->scale);
		memcpy(q->zp, op->a.q.zp, (size_t)q->n * sizeof *q->zp);
		op->out->type.q = q;
	}
	graph_append(c->g, op);
	return op->out;
}

/* Defines the node's output i as v held in layout lay (ONNX dims from
   v's type; L_FLAT takes its C, H, W from src). */
Ent *set_out(Ctx *c, int i, Value *v, Layout lay, const Ent *src)
{
	Ent *e = ent_def(c, i);
	e->v = v;
	e->lay = lay;
	e->rank = v->type.rank;
	memcpy(e->dims, v->type.dims, sizeof e->dims);
	if (lay == L_NHWC) {
		e->dims[1] = v->type.dims[3];
		e->dims[2] = v->type.dims[1];
		e->dims[3] = v->type.dims[2];
	}
	if (lay == L_FLAT) {
		e->fc = src->fc;
		e->fh = src->fh;
		e->fw = src->fw;
	}
	return e;
}

/* the node's output 0 is the tensor e under another name */
void alias(Ctx *c, Ent *e)
{
	Ent *r = ent_def(c, 0);
	const char *name = r->name;
	*r = *e;
	r->name = name;
}

/* a constant as float (dequantized when it comes from DequantizeLinear) */
Tensor *fconst(Ctx *c, Ent *e, const char *what)
{
	if (!e->k)
		oerr(c, "%s must be a constant (an initializer or computed from them)", what);
	if (e->dq)
		return tdequant(c, e->k, e->dq);
	return e->k->dt == T_F32 ? e->k : tconvert(e->k, T_F32);
}

Value *as_plain(Ctx *c, Ent *e)
{
	if (!e->v) {
		Tensor *t = e->dq || e->k->dt == T_I64 || e->k->dt == T_I32 ? fconst(c, e, "a tensor") : e->k;
		e->v = new_const(c, e->name, t);
		e->lay = L_PLAIN;
	}
	switch (e->lay) {
	case L_PLAIN:
		return e->v;
	case L_NHWC: {
		static const int to[4] = {0, 3, 1, 2};
		return transpose(c, e->v, to, fmt("%s.nchw", e->name));
	}
	case L_FLAT: {
		if (e->fh * e->fw == 1)
			return e->v;
		int64_t d4[4] = {e->dims[0], e->fh, e->fw, e->fc};
		Value *v = reshape_value(c, e->v, 4, d4, fmt("%s.nhwc", e->name));
		static const int to[4] = {0, 3, 1, 2};
		v = transpose(c, v, to, fmt("%s.nchw", e->name));
		return reshape_value(c, v, 2, e->dims, fmt("%s.flat", e->name));
	}
	}
	die("as_plain: layout %d", e->lay);
}

Value *as_nhwc(Ctx *c, Ent *e)
{
	if (e->rank != 4)
		oerr(c, "input '%s' must be a 4-D NCHW tensor, got rank %d", e->name, e->rank);
	if (e->v && e->lay == L_NHWC)
		return e->v;
	Value *v = as_plain(c, e);
	static const int to[4] = {0, 2, 3, 1};
	return transpose(c, v, to, fmt("%s.nhwc", e->name));
}

/* A weight: t (already in the graph's layout) as a constant, followed
   by a dequantize when it comes from DequantizeLinear (q: its axis in
   t's dims). */
Value *weight_value(Ctx *c, Tensor *t, const Quant *q, const char *name)
{
	if (!q && t->dt != T_F32)
		t = tconvert(t, T_F32);
	Value *k = new_const(c, name, t);
	if (!q)
		return k;
	Op *op = emit(c, OP_DEQUANTIZE, &k, 1, fmt("%s.dq", name));
	op->a.q = *q;
	return finish_op(c, op);
}

/* A copy of e's quantization with its axis moved by perm (r.dims[i] = dims[perm[i]]) */
Quant *quant_perm(const Quant *q, const int *perm, int rank)
{
	if (!q)
		return NULL;
	Quant *r = alloc(sizeof *r);
	*r = *q;
	if (q->axis >= 0)
		for (int i = 0; i < rank; i++)
			if (perm[i] == q->axis)
				r->axis = i;
	return r;
}
