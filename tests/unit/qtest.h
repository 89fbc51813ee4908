/* Shared helpers of the quantization tests (test_quant*.c): building
   graphs by hand and a small integer reference of the final graph,
   written from the semantics in ir/ir.h, not from q8c's kernels. */
#ifndef QTEST_H
#define QTEST_H

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "ir.h"
#include "runtime/q8rt.h"

static Loc L0 = {"test.q8", 1, 1};

static inline Type ty(Dtype dt, int rank, ...)
{
	Type t = {0};
	t.dt = dt;
	t.rank = rank;
	va_list ap;
	va_start(ap, rank);
	for (int i = 0; i < rank; i++)
		t.dims[i] = va_arg(ap, int);
	va_end(ap);
	return t;
}

static inline Value *in_f32(Graph *g, const char *name, Type t, double lo, double hi)
{
	Value *v = value_new(V_INPUT, name, t, L0);
	v->has_range = lo < hi;
	v->lo = lo, v->hi = hi;
	PUSH(g->inputs, g->ninputs) = v;
	return v;
}

static inline Value *cst(Graph *g, const char *name, Type t, const void *data)
{
	size_t n = (size_t)type_numel(&t) * dtype_size(t.dt);
	void *d = alloc(n);
	memcpy(d, data, n);
	return graph_add_const(g, name, t, d, L0);
}

static inline Op *op2(Graph *g, OpKind k, Value *a, Value *b, Value *c, const char *name, Type t)
{
	Value *in[3] = {a, b, c};
	int n = c ? 3 : b ? 2 : 1;
	Op *op = op_new(g, k, in, n, name, L0);
	op->out->type = t;
	graph_append(g, op);
	return op;
}

static inline void range(Value *v, double lo, double hi)
{
	v->has_range = true;
	v->lo = lo, v->hi = hi;
}

static inline void out(Graph *g, Value *v) { PUSH(g->outputs, g->noutputs) = v; }

static inline Op *find_op(Graph *g, OpKind k, int nth)
{
	for (int i = 0; i < g->nops; i++)
		if (g->ops[i]->kind == k && nth-- == 0)
			return g->ops[i];
	return NULL;
}

static inline int count_ops(Graph *g, OpKind k)
{
	int n = 0;
	for (int i = 0; i < g->nops; i++)
		n += g->ops[i]->kind == k;
	return n;
}

static inline void run_passes(Graph *g, Options *o, int upto)
{
	void (*p[])(Graph *, Options *) = {pass_quantize, pass_zeropoint, pass_fixedpoint, pass_fuse};
	for (int i = 0; i < upto; i++)
		p[i](g, o);
}

/* ---- integer reference of the final graph ---- */

static inline int32_t sat8(int64_t v) { return v < -128 ? -128 : v > 127 ? 127 : (int32_t)v; }

static inline int32_t rq_of(const Op *op, int c, int32_t x)
{
	int k = op->a.nrq > 1 ? c : 0;
	return q8_rq(x, op->a.mult[k], op->a.shift[k]);
}

/* One reference step: the value of every op into vals[op->out->id]
   (int32 for integer tensors, float bits for f32 ones via a union). */
typedef union { int32_t i; float f; } Cell;

static inline void ref_run(Graph *g, const float *x, float *y)
{
	graph_number(g);
	Cell **vals = alloc_array((size_t)g->nvalues, sizeof *vals);
	for (int i = 0; i < g->ninputs; i++) {
		Value *v = g->inputs[i];
		vals[v->id] = alloc_array((size_t)type_numel(&v->type), sizeof(Cell));
		for (int64_t j = 0; j < type_numel(&v->type); j++)
			vals[v->id][j].f = x[j];
	}
	for (int i = 0; i < g->nconsts; i++) {
		Value *v = g->consts[i];
		int64_t n = type_numel(&v->type);
		vals[v->id] = alloc_array((size_t)n, sizeof(Cell));
		for (int64_t j = 0; j < n; j++) {
			if (v->type.dt == DT_F32)
				vals[v->id][j].f = ((float *)v->data)[j];
			else if (v->type.dt == DT_I8)
				vals[v->id][j].i = ((int8_t *)v->data)[j];
			else if (v->type.dt == DT_I32)
				vals[v->id][j].i = ((int32_t *)v->data)[j];
			else
				fail_msg("ref_run: constant dtype %d", v->type.dt);
		}
	}
	for (int i = 0; i < g->nops; i++) {
		Op *op = g->ops[i];
		Value *o = op->out, *a = op->in[0];
		int64_t n = type_numel(&o->type);
		Cell *r = vals[o->id] = alloc_array((size_t)n, sizeof(Cell));
		Cell *A = vals[a->id];
		switch (op->kind) {
		case OP_QUANTIZE:
			for (int64_t j = 0; j < n; j++)
				r[j].i = sat8((int64_t)rint(A[j].f / op->a.q.scale[0]) + op->a.q.zp[0]);
			break;
		case OP_DEQUANTIZE:
			for (int64_t j = 0; j < n; j++)
				r[j].f = (float)(op->a.q.scale[0] * (A[j].i - op->a.q.zp[0]));
			break;
		case OP_CLIP:
			for (int64_t j = 0; j < n; j++)
				r[j].i = A[j].i < op->a.min ? (int32_t)op->a.min : A[j].i > op->a.max ? (int32_t)op->a.max : A[j].i;
			break;
		case OP_REQUANTIZE: {
			int zx = a->type.q->zp[0], zy = o->type.q->zp[0];
			int64_t C = o->type.dims[o->type.rank - 1];
			for (int64_t j = 0; j < n; j++) {
				int32_t v = zy + rq_of(op, (int)(j % C), A[j].i - zx);
				r[j].i = v < op->a.lo ? op->a.lo : v > op->a.hi ? op->a.hi : v;
			}
			break;
		}
		case OP_QDENSE: case OP_QCONV2D: {
			/* NHWC; dense is a 1x1 conv on [N,1,1,K] */
			const Type *xt = &a->type, *wt = &op->in[1]->type;
			bool conv = op->kind == OP_QCONV2D;
			int64_t N = xt->dims[0], H = conv ? xt->dims[1] : 1, W = conv ? xt->dims[2] : 1;
			int64_t C = xt->dims[xt->rank - 1], O = wt->dims[0];
			int64_t KH = conv ? wt->dims[1] : 1, KW = conv ? wt->dims[2] : 1, CG = wt->dims[wt->rank - 1];
			int64_t OH = conv ? o->type.dims[1] : 1, OW = conv ? o->type.dims[2] : 1;
			int64_t G = conv ? op->a.groups : 1, og = O / G;
			int zx = a->type.q->zp[0];
			Cell *Wv = vals[op->in[1]->id], *B = vals[op->in[2]->id];
			for (int64_t b = 0; b < N; b++)
			for (int64_t oh = 0; oh < OH; oh++)
			for (int64_t ow = 0; ow < OW; ow++)
			for (int64_t oc = 0; oc < O; oc++) {
				int64_t acc = B[oc].i, grp = oc / og;
				for (int64_t kh = 0; kh < KH; kh++)
				for (int64_t kw = 0; kw < KW; kw++)
				for (int64_t ci = 0; ci < CG; ci++) {
					int64_t ih = oh * op->a.strides[0] + kh * op->a.dilations[0] - op->a.pads[0];
					int64_t iw = ow * op->a.strides[1] + kw * op->a.dilations[1] - op->a.pads[1];
					if (!conv)
						ih = iw = 0;
					int64_t xv = ih < 0 || ih >= H || iw < 0 || iw >= W ? zx
						: A[((b * H + ih) * W + iw) * C + grp * CG + ci].i;
					acc += (xv - op->a.xzp) * Wv[((oc * KH + kh) * KW + kw) * CG + ci].i;
				}
				assert_true(acc >= INT32_MIN && acc <= INT32_MAX);
				int64_t at = ((b * OH + oh) * OW + ow) * O + oc;
				if (op->a.nrq == 0) {
					r[at].i = (int32_t)acc;
				} else {
					int32_t v = o->type.q->zp[0] + rq_of(op, (int)oc, (int32_t)acc);
					r[at].i = v < op->a.lo ? op->a.lo : v > op->a.hi ? op->a.hi : v;
				}
			}
			break;
		}
		case OP_RESHAPE: case OP_FLATTEN:
			memcpy(r, A, (size_t)n * sizeof *r);
			break;
		case OP_QADD: case OP_QSUB: case OP_QMUL: {
			Value *b = op->in[1];
			Cell *Bv = vals[b->id];
			int64_t nb = type_numel(&b->type);
			int za = a->type.q->zp[0], zb = b->type.q->zp[0], zy = o->type.q->zp[0];
			for (int64_t j = 0; j < n; j++) {
				int32_t av = A[j].i - za, bv = Bv[j % nb].i - zb, v;
				if (op->kind == OP_QMUL) {
					v = q8_rq(av * bv, op->a.mult[0], op->a.shift[0]);
				} else {
					int32_t a1 = q8_rq(av * (1 << 20), op->a.mult[0], op->a.shift[0]);
					int32_t b1 = q8_rq(bv * (1 << 20), op->a.mult[1], op->a.shift[1]);
					v = q8_rq(op->kind == OP_QADD ? a1 + b1 : a1 - b1, op->a.mult[2], op->a.shift[2]);
				}
				v += zy;
				r[j].i = v < op->a.lo ? op->a.lo : v > op->a.hi ? op->a.hi : v;
			}
			break;
		}
		case OP_SOFTMAX: {
			int64_t len = o->type.dims[o->type.rank - 1];
			for (int64_t s0 = 0; s0 < n; s0 += len) {
				double mx = -INFINITY, sum = 0;
				for (int64_t j = 0; j < len; j++)
					mx = fmax(mx, A[s0 + j].f);
				for (int64_t j = 0; j < len; j++)
					sum += exp(A[s0 + j].f - mx);
				for (int64_t j = 0; j < len; j++)
					r[s0 + j].f = (float)(exp(A[s0 + j].f - mx) / sum);
			}
			break;
		}
		default:
			fail_msg("ref_run: op %s", opinfo[op->kind].name);
		}
	}
	Value *yv = g->outputs[0];
	for (int64_t j = 0; j < type_numel(&yv->type); j++)
		y[j] = vals[yv->id][j].f;
}

#endif
