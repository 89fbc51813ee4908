/* Pass 3, quantize: int16 activations (a16w8, docs/precision.md).  A
   conv2d/dense with abits 16 (its attribute, else --activation-bits)
   reads int16: its operand is symmetric [-32767, 32767], zero point 0,
   scale T/32767.  The producer of that value writes int16 when it can (a
   conv2d/dense through its fused requantize, a graph input's quantize);
   relu, relu6, clip, reshape, flatten and maxpool2d carry it on; every
   other reader of an int16 value gets a requantize to int8 in front of
   it.  A QDQ node that fixes a value keeps it int8. */
#include "quant.h"

#include <math.h>

static const char *opname(const Op *op) { return opinfo[op->kind].name; }

int abits(const Options *o, const Op *op)
{
	return op->a.abits ? op->a.abits : o->abits ? o->abits : 8;
}

bool want16(Graph *g, Options *o, Value *v)
{
	for (int i = 0; i < g->nops; i++) {
		Op *u = g->ops[i];
		if (u->out->type.dt != DT_F32 && u->kind != OP_QUANTIZE)
			continue; /* quantized already */
		for (int j = 0; j < u->nin; j++) {
			if (u->in[j] != v)
				continue;
			if ((u->kind == OP_CONV2D || u->kind == OP_DENSE) && j == 0 && abits(o, u) == 16)
				return true;
			if ((u->kind == OP_RELU || u->kind == OP_RELU6 || u->kind == OP_CLIP ||
			     u->kind == OP_RESHAPE || u->kind == OP_FLATTEN || u->kind == OP_MAXPOOL) &&
			    want16(g, o, u->out))
				return true;
		}
	}
	return false;
}

void set_i16(Value *v, Op *clamped)
{
	v->type.dt = DT_I16;
	if (clamped)
		clamped->a.lo = -32767, clamped->a.hi = 32767;
}

static Value *act_in_dt(Op *op, int j, bool i16)
{
	Value *v = op->in[j];
	if ((v->type.dt != DT_I8 && !(i16 && v->type.dt == DT_I16)) || !v->type.q || v->type.q->n != 1)
		error_at(op->loc, "%s: operand %%%s (%s) is not an int8 tensor with one scale", opname(op),
			 v->name, type_str(&v->type));
	return v;
}

Value *act_in16(Op *op, int j) { return act_in_dt(op, j, true); }

/* An int16 operand of an op without an int16 kernel: a requantize to int8
   at scale s * 32767 / 127 (the int8 grid of the same range), one per
   value, shared by its int8 readers. */
Value *act_in_g(Graph *g, Op *op, int j)
{
	Value *v = act_in_dt(op, j, true);
	if (v->type.dt == DT_I8)
		return v;
	Quant *q = quant_tensor(v->type.q->scale[0] * 32767 / 127, 0);
	Op *r = NULL;
	for (int i = 0; i < g->nops && !r; i++)
		if (g->ops[i]->kind == OP_REQUANTIZE && g->ops[i]->in[0] == v && g->ops[i]->out->type.dt == DT_I8 &&
		    g->ops[i]->a.nrq == 0 && quant_equal(g->ops[i]->out->type.q, q))
			r = g->ops[i];
	if (!r) {
		r = requant_op(g, v, q, false, fmt("%s.i8", v->name), v->loc);
		graph_insert_before(g, op, r);
	}
	return op->in[j] = r->out;
}

/* The accumulator bound of docs/numerics.md with an int16 operand,
   |b[c]| + 32768 * sum|w[c]| <= 2^31 - 1, checked before anything is
   quantized: from the weights weights() will make and the bias at the
   int16 scale of x's calibrated range.  --activation-bits 16 is a
   preference: a layer that fails it reads int8 (abits=8 in the dumps,
   and a warning); an abits=16 attribute is a demand, refused later by
   check_acc with the numbers. */
void a16_fallback(Graph *g, Options *o)
{
	if (o->abits != 16)
		return;
	for (int i = 0; i < g->nops; i++) {
		Op *op = g->ops[i];
		if ((op->kind != OP_CONV2D && op->kind != OP_DENSE) || op->a.abits || op->out->type.dt != DT_F32)
			continue;
		Value *x = op->in[0];
		int64_t *sa = weight_abs_bound(o, op, op->in[1]);
		if (!sa || !x->has_range)
			continue;
		int64_t nc = op->in[1]->type.dims[0];
		double t = fmax(fabs(x->lo), fabs(x->hi)), sx = t > 0 && isfinite(t) ? t / 32767 : 1;
		if (o->pow2)
			sx = pow2_up(sx);
		bool fw = op->in[1]->type.dt == DT_F32;
		const double *b = fw && op->nin > 2 && op->in[2]->kind == V_CONST ? const_real(op, op->in[2]) : NULL;
		const double *w = b ? const_real(op, op->in[1]) : NULL;
		int64_t worst = -1, k = type_numel(&op->in[1]->type) / nc;
		for (int64_t c = 0; c < nc && worst < 0; c++) {
			/* the bias in accumulator steps, at the smallest weight scale
			   weights() can give channel c (max|w[c]| / 127): an upper bound */
			double bq = 0, m = 0;
			for (int64_t e = c * k; b && e < (c + 1) * k; e++)
				m = fmax(m, fabs(w[e]));
			if (b)
				bq = fabs(rint(b[c] / (sx * (m > 0 ? m / 127 : 1))));
			if (bq + 32768.0 * (double)sa[c] > (double)INT32_MAX)
				worst = c;
		}
		if (worst >= 0) {
			op->a.abits = 8;
			warn_at(op->loc, "%s: reads int8 despite --activation-bits 16: with int16 inputs its int32 "
				"accumulator could overflow (32768 * sum|w| = 32768 * %lld on output channel %lld)",
				opname(op), (long long)sa[worst], (long long)worst);
		}
	}
}
