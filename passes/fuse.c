/* Pass 6, fuse: an accumulator (qconv2d/qdense with an i32 result) whose
   only use is a requantize becomes one qconv2d/qdense with the
   requantize's multipliers and clamp; an integer clip that is the only
   use of an int8 result (of qconv2d, qdense, qadd, qsub, qmul or
   requantize, or another clip) narrows that op's clamp instead; a qlut
   takes a clip or a qlut that reads it into its table, and a qmul of a
   tensor by a qlut of that same tensor (hardswish: x * hardsigmoid(x))
   becomes one qlut.  The fused op takes the
   last op's result value, so names in dumps keep their meaning. */
#include "quant.h"
#include "../runtime/q8rt.h"


static void remove_op(Graph *g, Op *op)
{
	int n = 0;
	for (int i = 0; i < g->nops; i++)
		if (g->ops[i] != op)
			g->ops[n++] = g->ops[i];
	g->nops = n;
}

/* op's result becomes that of `last`, which goes away */
static void take_result(Graph *g, Op *op, Op *last)
{
	op->out = last->out;
	op->out->def = op;
	remove_op(g, last);
}

static bool has_clamp(const Op *op)
{
	switch (op->kind) {
	case OP_QCONV2D: case OP_QDENSE: case OP_REQUANTIZE:
	case OP_QADD: case OP_QSUB: case OP_QMUL:
		return op->a.nrq > 0 && (op->out->type.dt == DT_I8 || op->out->type.dt == DT_I16);
	default:
		return false;
	}
}

/* a clip bound within the range of dt (i8, or i16 for int16 activations) */
static int32_t clamp_bound_dt(double v, Dtype dt)
{
	double lo = (double)dtype_min(dt), hi = (double)dtype_max(dt);
	return v < lo ? (int32_t)lo : v > hi ? (int32_t)hi : (int32_t)v;
}

static int32_t clamp_bound(double v) { return clamp_bound_dt(v, DT_I8); }

/* clamp(clamp(v, lo, hi), clip's bounds) as one clamp [lo, hi] */
static void meet(int32_t *lo, int32_t *hi, const Op *clip)
{
	Dtype dt = clip->out->type.dt;
	int32_t l2 = clamp_bound_dt(clip->a.min, dt), h2 = clamp_bound_dt(clip->a.max, dt);
	int32_t l = *lo > l2 ? *lo : l2, h = *hi < h2 ? *hi : h2;
	if (l > h) /* disjoint: the result is a constant */
		l = h = *hi < l2 ? l2 : h2;
	*lo = l;
	*hi = h;
}

/* A qlut whose result only an integer clip or another qlut reads takes
   that op into its table: t'[i] = clamp(t[i]) or t2[t[i] + 128], the
   same bits as the two ops one after the other. */
static bool fuse_lut(Graph *g, Op *op)
{
	Op *c = only_user(g, op->out);
	if (!c || c->out->type.dt != DT_I8 || c->in[0] != op->out ||
	    (c->kind != OP_CLIP && c->kind != OP_QLUT))
		return false;
	const int8_t *t = op->in[1]->data, *t2 = c->kind == OP_QLUT ? c->in[1]->data : NULL;
	int32_t lo = clamp_bound(c->a.min), hi = clamp_bound(c->a.max);
	int8_t *d = alloc(256);
	for (int k = 0; k < 256; k++)
		d[k] = t2 ? t2[(uint8_t)(t[k] ^ 0x80)] : (int8_t)(t[k] < lo ? lo : t[k] > hi ? hi : t[k]);
	op->in[1] = graph_add_const(g, fmt("%s.lut", c->out->name), op->in[1]->type, d, op->loc);
	take_result(g, op, c);
	return true;
}

static int32_t zp0(const Value *v)
{
	return v->type.q ? v->type.q->zp[0] : 0;
}

/* qmul(x, qlut(x)) (either order), the qlut read by nothing else: the
   result is a function of x alone, so the qlut takes the qmul into its
   table, t'[k] = clamp(zy + rq((x - zx) * (t[k] - zt), m, s)) for x = k - 128:
   the same bits as the two ops. */
static bool fuse_mul_lut(Graph *g, Op *op)
{
	if (op->kind != OP_QMUL || op->a.nrq != 1 || op->out->type.dt != DT_I8 || !op->out->type.q ||
	    op->out->type.q->n != 1)
		return false;
	for (int j = 0; j < 2; j++) {
		Op *d = op->in[j]->def;
		const Value *x = op->in[1 - j];
		if (!d || d->kind != OP_QLUT || d->in[0] != x || only_user(g, d->out) != op ||
		    x->type.dt != DT_I8 || d->out->type.dt != DT_I8 ||
		    (x->type.q && x->type.q->n != 1) || (d->out->type.q && d->out->type.q->n != 1))
			continue;
		const int8_t *t = d->in[1]->data;
		int32_t za = zp0(op->in[0]), zb = zp0(op->in[1]), zy = zp0(op->out);
		int8_t *tab = alloc(256);
		for (int k = 0; k < 256; k++) {
			int32_t xv = k - 128, tv = t[k];
			int32_t a = j == 1 ? xv : tv, b = j == 1 ? tv : xv;
			int64_t v = (int64_t)zy + q8_rq((a - za) * (b - zb), op->a.mult[0], op->a.shift[0]);
			tab[k] = (int8_t)(v < op->a.lo ? op->a.lo : v > op->a.hi ? op->a.hi : v);
		}
		d->in[1] = graph_add_const(g, fmt("%s.lut", op->out->name), d->in[1]->type, tab, d->loc);
		take_result(g, d, op);
		return true;
	}
	return false;
}

void pass_fuse(Graph *g, Options *o)
{
	(void)o;
	bool luts = false;
	for (int i = 0; i < g->nops; i++) {
		Op *op = g->ops[i];
		if (fuse_mul_lut(g, op)) {
			luts = true;
			i--;   /* op is gone; the next one moved into its place */
			continue;
		}
		while (op->kind == OP_QLUT && fuse_lut(g, op))
			luts = true;
		if ((op->kind == OP_QCONV2D || op->kind == OP_QDENSE) && op->a.nrq == 0 &&
		    op->out->type.dt == DT_I32) {
			Op *r = only_user(g, op->out);
			if (!r || r->kind != OP_REQUANTIZE || r->a.nrq == 0 ||
			    (r->out->type.dt != DT_I8 && r->out->type.dt != DT_I16))
				continue;
			if (r->a.nrq != 1 && r->a.nrq != op->in[1]->type.dims[0])
				die("fuse: requantize %%%s has %d multipliers for %lld channels", r->out->name,
				    r->a.nrq, (long long)op->in[1]->type.dims[0]);
			op->a.nrq = r->a.nrq;
			op->a.mult = r->a.mult;
			op->a.shift = r->a.shift;
			op->a.lo = r->a.lo;
			op->a.hi = r->a.hi;
			take_result(g, op, r);
		}
		Dtype dt = op->out->type.dt;
		bool clip = op->kind == OP_CLIP && (dt == DT_I8 || dt == DT_I16);
		for (;;) {
			Op *c = has_clamp(op) || clip ? only_user(g, op->out) : NULL;
			if (!c || c->kind != OP_CLIP || c->out->type.dt != dt)
				break;
			if (clip) { /* clip of clip: one clip */
				int32_t lo = clamp_bound_dt(op->a.min, dt), hi = clamp_bound_dt(op->a.max, dt);
				meet(&lo, &hi, c);
				op->a.min = lo;
				op->a.max = hi;
			} else
				meet(&op->a.lo, &op->a.hi, c);
			take_result(g, op, c);
		}
	}
	if (luts)
		graph_remove_dead(g); /* the tables they replaced */
}
