/* Pass 5, fixedpoint: every real multiplier (a ratio of scales) becomes
   an int32 mult and a shift, M = mult * 2^(shift - 31), applied by
   q8_rq in runtime/q8rt.h with one rounding.  requantize: M[c] = sx[c] /
   sy, per channel when its operand (an accumulator) is; qadd/qsub: three
   multipliers (docs/numerics.md); qmul: sa * sb / sy.  Ops that already
   have multipliers are skipped. */
#include "quant.h"

#include <math.h>

bool quantize_multiplier(double m, int32_t *mult, int32_t *shift)
{
	*mult = 0;
	*shift = 0;
	if (!(m >= 0) || isinf(m))
		return false;
	if (m == 0)
		return true;
	int e;
	double f = frexp(m, &e); /* m = f * 2^e, f in [0.5, 1) */
	int64_t q = (int64_t)round(ldexp(f, 31));
	if (q == (int64_t)1 << 31) {
		q /= 2;
		e++;
	}
	if (e > 30)
		return false;
	if (e < -31)
		return true; /* below 2^-32: flushed to 0, like TFLite */
	*mult = (int32_t)q;
	*shift = e;
	return true;
}

static const char *opname(const Op *op) { return opinfo[op->kind].name; }

static void set_rq(Op *op, int n, const double *m, Options *o)
{
	op->a.nrq = n;
	op->a.mult = alloc_array((size_t)n, sizeof *op->a.mult);
	op->a.shift = alloc_array((size_t)n, sizeof *op->a.shift);
	for (int c = 0; c < n; c++) {
		if (!quantize_multiplier(m[c], &op->a.mult[c], &op->a.shift[c]))
			error_at(op->loc, "%s %%%s: the multiplier %g (a ratio of scales) is too large for "
				 "int32 fixed point (at most 2^30)", opname(op), op->out->name, m[c]);
		if (o->pow2 && op->a.mult[c] != 1 << 30 && op->a.mult[c] != 0)
			die("fixedpoint: --scale pow2 gave %s %%%s a multiplier %g that is no power of two",
			    opname(op), op->out->name, m[c]);
	}
}

static const Quant *quant_of(const Op *op, const Value *v)
{
	if (!v->type.q)
		die("fixedpoint: %s %%%s: operand %%%s has no scale", opname(op), op->out->name, v->name);
	return v->type.q;
}

void pass_fixedpoint(Graph *g, Options *o)
{
	for (int i = 0; i < g->nops; i++) {
		Op *op = g->ops[i];
		if (op->a.nrq > 0 || !(opinfo[op->kind].attrs & A_RQ))
			continue;
		if (op->out->type.dt == DT_I32)
			continue; /* an accumulator: its requantize carries M */
		const Quant *y = quant_of(op, op->out);
		double sy = y->scale[0];
		double m[3], *mc;
		const Quant *a = quant_of(op, op->in[0]), *b;
		switch (op->kind) {
		case OP_REQUANTIZE:
			mc = alloc_array((size_t)a->n, sizeof *mc);
			for (int c = 0; c < a->n; c++)
				mc[c] = a->scale[c] / sy;
			set_rq(op, a->n, mc, o);
			break;
		case OP_QCONV2D: case OP_QDENSE: /* an int8 result without multipliers (a dump) */
			b = quant_of(op, op->in[1]);
			mc = alloc_array((size_t)b->n, sizeof *mc);
			for (int c = 0; c < b->n; c++)
				mc[c] = a->scale[0] * b->scale[c] / sy;
			set_rq(op, b->n, mc, o);
			break;
		case OP_QADD: case OP_QSUB: {
			double sa = a->scale[0], sb = quant_of(op, op->in[1])->scale[0];
			double mx = 2 * fmax(sa, sb);
			m[0] = sa / mx;
			m[1] = sb / mx;
			m[2] = mx / (1048576.0 * sy);
			set_rq(op, 3, m, o);
			break;
		}
		case OP_QMUL:
			m[0] = a->scale[0] * quant_of(op, op->in[1])->scale[0] / sy;
			set_rq(op, 1, m, o);
			break;
		default:
			break;
		}
	}
}
