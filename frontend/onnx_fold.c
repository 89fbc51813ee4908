/* Constant tensors of the ONNX importer: element access, conversion,
   transposition (the NCHW -> NHWC weight layout), numpy broadcasting,
   dequantization.  Shape arithmetic (Shape -> Gather -> Concat ->
   Reshape) runs on these at import time. */
#include "onnx.h"

#include <math.h>
#include <string.h>

Tensor *tensor_new(int dt, int rank, const int64_t *dims)
{
	Tensor *t = alloc(sizeof *t);
	t->dt = dt;
	t->rank = rank;
	t->n = 1;
	for (int i = 0; i < rank; i++) {
		t->dims[i] = dims[i];
		t->n *= dims[i];
	}
	size_t es = dt == T_I64 ? 8 : dt == T_F32 || dt == T_I32 ? 4 : 1;
	t->data = alloc_array((size_t)t->n, es);
	return t;
}

double tget(const Tensor *t, int64_t i)
{
	switch (t->dt) {
	case T_F32: return ((const float *)t->data)[i];
	case T_U8: return ((const uint8_t *)t->data)[i];
	case T_I8: return ((const int8_t *)t->data)[i];
	case T_I32: return ((const int32_t *)t->data)[i];
	case T_I64: return (double)((const int64_t *)t->data)[i];
	default: die("tget: dtype %d", t->dt);
	}
}

/* v is in range for t's type (callers check) */
void tset(Tensor *t, int64_t i, double v)
{
	switch (t->dt) {
	case T_F32: ((float *)t->data)[i] = (float)v; break;
	case T_U8: ((uint8_t *)t->data)[i] = (uint8_t)v; break;
	case T_I8: ((int8_t *)t->data)[i] = (int8_t)v; break;
	case T_I32: ((int32_t *)t->data)[i] = (int32_t)v; break;
	case T_I64: ((int64_t *)t->data)[i] = (int64_t)v; break;
	default: die("tset: dtype %d", t->dt);
	}
}

Tensor *tconvert(const Tensor *t, int dt)
{
	Tensor *r = tensor_new(dt, t->rank, t->dims);
	for (int64_t i = 0; i < t->n; i++) {
		double v = tget(t, i);
		if (dt != T_F32)
			v = isfinite(v) ? trunc(v) : 0;
		if (dt == T_I32)
			v = fmax(fmin(v, INT32_MAX), INT32_MIN);
		if (dt == T_I64)
			v = fmax(fmin(v, 0x1p62), -0x1p62);
		tset(r, i, v);
	}
	return r;
}

/* r.dims[i] = t.dims[perm[i]] */
Tensor *ttranspose(const Tensor *t, const int *perm)
{
	int64_t dims[MAXRANK], st[MAXRANK], idx[MAXRANK] = {0};
	for (int i = 0; i < t->rank; i++)
		dims[i] = t->dims[perm[i]];
	Tensor *r = tensor_new(t->dt, t->rank, dims);
	int64_t s = 1;
	for (int i = t->rank; i-- > 0;)
		st[i] = s, s *= t->dims[i];
	size_t es = t->dt == T_I64 ? 8 : t->dt == T_F32 || t->dt == T_I32 ? 4 : 1;
	for (int64_t o = 0; o < r->n; o++) {
		int64_t src = 0;
		for (int i = 0; i < t->rank; i++)
			src += idx[i] * st[perm[i]];
		memcpy((char *)r->data + o * (int64_t)es, (const char *)t->data + src * (int64_t)es, es);
		for (int i = t->rank; i-- > 0;) /* next output index */
			if (++idx[i] < dims[i])
				break;
			else
				idx[i] = 0;
	}
	return r;
}

/* t broadcast (numpy rules) to exactly dims */
Tensor *tbroadcast(Ctx *c, const Tensor *t, int rank, const int64_t *dims)
{
	if (t->rank > rank)
		oerr(c, "cannot broadcast a rank-%d constant to rank %d", t->rank, rank);
	int off = rank - t->rank;
	int64_t st[MAXRANK], s = 1;
	for (int i = rank; i-- > 0;) {
		int64_t d = i >= off ? t->dims[i - off] : 1;
		if (d != 1 && d != dims[i])
			oerr(c, "shapes do not broadcast: dimension %d is %lld, expected 1 or %lld", i, (long long)d,
			     (long long)dims[i]);
		st[i] = d == 1 ? 0 : s;
		s *= d;
	}
	/* an expanded constant is as large as the tensor it meets: bound it */
	if (numel_of(c, rank, dims) > MAXFOLD)
		oerr(c, "a constant broadcast to %lld elements: too large to expand", (long long)numel_of(c, rank, dims));
	Tensor *r = tensor_new(t->dt, rank, dims);
	int64_t idx[MAXRANK] = {0};
	for (int64_t o = 0; o < r->n; o++) {
		int64_t src = 0;
		for (int i = 0; i < rank; i++)
			src += idx[i] * st[i];
		tset(r, o, tget(t, src));
		for (int i = rank; i-- > 0;)
			if (++idx[i] < dims[i])
				break;
			else
				idx[i] = 0;
	}
	return r;
}

/* float: scale * (k - zp), per tensor or along q->axis */
Tensor *tdequant(Ctx *c, const Tensor *k, const Quant *q)
{
	(void)c;
	Tensor *r = tensor_new(T_F32, k->rank, k->dims);
	int64_t inner = 1;
	if (q->axis >= 0)
		for (int i = q->axis + 1; i < k->rank; i++)
			inner *= k->dims[i];
	for (int64_t i = 0; i < k->n; i++) {
		int j = q->axis >= 0 ? (int)((i / inner) % q->n) : 0;
		tset(r, i, q->scale[j] * (tget(k, i) - q->zp[j]));
	}
	return r;
}

/* e as a 1-D (or scalar) integer constant: shapes, axes, pads */
Tensor *const_int_list(Ctx *c, Ent *e, const char *what)
{
	if (!e->k || e->dq)
		oerr(c, "%s must be a constant (computed at import time); it depends on the input's values", what);
	if (e->k->rank > 1)
		oerr(c, "%s must be a list, got rank %d", what, e->k->rank);
	if (e->k->dt != T_I64 && e->k->dt != T_I32)
		oerr(c, "%s must be int64", what);
	return e->k;
}
