/* The Graphviz printer: a graph as a `dot` picture (docs/inspecting.md).
   One box per op: its result's name, the op, the result's type (dtype,
   shape, scale and zero point), the constants it reads with their types
   and scales; a fused op (after the fuse pass) lists what it stands for.
   Window ops show their geometry where it is not the default (stride,
   padding, dilation, groups, pool size).  After the plan pass, each
   result's offset in the arena.
   Fixed-point multipliers show as the real multipliers they stand for.
   Inputs and outputs are ellipses; each edge carries the bytes of the
   tensor on it; a node's colour is its result's dtype. */
#include "ir.h"

#include <math.h>
#include <string.h>

/* fill colours by dtype: float blue, 8-bit green, 16-bit yellow, 32-bit red */
static const char *colour(Dtype dt)
{
	switch (dt) {
	case DT_F32: return "#cfe2f3";
	case DT_I8: return "#d9ead3";
	case DT_U8: return "#b6d7a8";
	case DT_I16: return "#fff2cc";
	case DT_I32: return "#f4cccc";
	default: return "white";
	}
}

/* a dot string: quotes and backslashes escaped; lines end with \l
   (left-justified) where the label has '\n' */
static void str(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\n')
			fputs("\\l", f);
		else {
			if (*s == '"' || *s == '\\')
				fputc('\\', f);
			fputc(*s, f);
		}
	}
}

/* "scale=0.0145576 zp=0", or for per-channel "scale[16]=3.1e-05..8.9e-05 zp=0" */
static char *quant_str(const Quant *q)
{
	if (!q)
		return "";
	bool same = true;
	for (int i = 1; i < q->n; i++)
		same = same && q->zp[i] == q->zp[0];
	char *zp = same ? fmt("zp=%d", q->n ? q->zp[0] : 0) : "zp per channel";
	if (q->n == 1)
		return fmt(" scale=%.6g %s", q->scale[0], zp);
	double lo = INFINITY, hi = 0;
	for (int i = 0; i < q->n; i++) {
		lo = fmin(lo, q->scale[i]);
		hi = fmax(hi, q->scale[i]);
	}
	return fmt(" scale[%d]=%.3g..%.3g %s", q->n, lo, hi, zp);
}

/* the type, and the calibrated range when the value has one */
char *value_label(const Value *v)
{
	const Type *t = &v->type;
	char *s = fmt("%s%s", type_str(t), quant_str(t->q));
	if (v->has_range)
		s = fmt("%s range=[%.4g, %.4g]%s", s, v->lo, v->hi, v->fixed_range ? " fixed" : "");
	return s;
}

/* What a fused op stands for, read from its attributes: a qconv2d or
   qdense with multipliers computes into i8 (the requantize is in it),
   and a clamp narrower than the type's range is a relu or clip taken in
   (named by the real bounds it keeps).  NULL for ops that fused nothing. */
static char *fused(const Op *op)
{
	bool acc = (op->kind == OP_QCONV2D || op->kind == OP_QDENSE) && op->a.nrq > 0;
	bool rq = acc || op->kind == OP_REQUANTIZE || op->kind == OP_QADD || op->kind == OP_QSUB ||
		  op->kind == OP_QMUL;
	const Type *t = &op->out->type;
	if (!rq || op->a.nrq == 0 || t->dt != DT_I8 || !t->q || t->q->n != 1)
		return NULL;
	/* the quantize pass clamps to the restricted range [-127, 127]
	   (or the full range when a zero point makes it asymmetric) */
	int32_t zp = t->q->zp[0];
	bool clip = op->a.lo > (zp == 0 ? -127 : -128) || op->a.hi < 127;
	if (!acc && !clip)
		return NULL;
	char *s = acc ? fmt("%s + bias + requantize", op->kind == OP_QCONV2D ? "conv2d" : "dense")
		      : xstrdup(opinfo[op->kind].name);
	if (clip) {
		double sc = t->q->scale[0], lo = sc * (op->a.lo - zp), hi = sc * (op->a.hi - zp);
		if (op->a.lo == zp && op->a.hi == 127)
			s = fmt("%s + relu", s);
		else
			s = fmt("%s + clip [%.4g, %.4g]", s, lo, hi);
	}
	return s;
}

/* The geometry of a window op, where it is not the default:
   "size 2x2 stride 2 pad 1,1,1,1 dilation 2 groups 16"; NULL if none. */
static char *geometry(const Op *op)
{
	unsigned m = opinfo[op->kind].attrs;
	const Attrs *a = &op->a;
	char *s = "";
	if (m & A_SIZE)
		s = fmt("%s size %lldx%lld", s, (long long)a->size[0], (long long)a->size[1]);
	if ((m & A_STRIDES) && (a->strides[0] != 1 || a->strides[1] != 1))
		s = fmt("%s stride %lld,%lld", s, (long long)a->strides[0], (long long)a->strides[1]);
	if ((m & A_PADS) && op->kind != OP_PAD && (a->pads[0] || a->pads[1] || a->pads[2] || a->pads[3]))
		s = fmt("%s pad %lld,%lld,%lld,%lld", s, (long long)a->pads[0], (long long)a->pads[1],
			(long long)a->pads[2], (long long)a->pads[3]);
	if ((m & A_DILATIONS) && (a->dilations[0] != 1 || a->dilations[1] != 1))
		s = fmt("%s dilation %lld,%lld", s, (long long)a->dilations[0], (long long)a->dilations[1]);
	if ((m & A_GROUPS) && a->groups != 1)
		s = fmt("%s groups %lld", s, (long long)a->groups);
	return *s ? s + 1 : NULL;
}

static void node(FILE *f, const char *id, const char *shape, const char *label, Dtype dt)
{
	fprintf(f, "  %s [shape=%s, fillcolor=\"%s\", label=\"", id, shape, colour(dt));
	str(f, label);
	fputs("\"];\n", f);
}

/* the node an op's operand comes from: "in3" for input 3, "op7" for op 7 */
static const char *src_id(Graph *g, const Value *v)
{
	if (v->kind == V_CONST)
		return NULL; /* an output that is a constant: no edge */
	if (v->kind == V_INPUT) {
		for (int i = 0; i < g->ninputs; i++)
			if (g->inputs[i] == v)
				return fmt("in%d", i);
	}
	for (int i = 0; i < g->nops; i++)
		if (g->ops[i]->out == v)
			return fmt("op%d", i);
	die("dot: %%%s has no definition", v->name);
}

static void edge(FILE *f, const char *from, const char *to, const Value *v)
{
	if (!from)
		return;
	fprintf(f, "  %s -> %s [label=\"%lld B\"];\n", from, to,
		(long long)(type_numel(&v->type) * (int64_t)dtype_size(v->type.dt)));
}

void print_dot(FILE *f, Graph *g)
{
	fputs("digraph \"", f);
	str(f, g->name);
	fputs("\" {\n  node [style=filled, fontname=\"monospace\", fontsize=10];\n"
	      "  edge [fontname=\"monospace\", fontsize=9];\n", f);
	for (int i = 0; i < g->ninputs; i++) {
		Value *v = g->inputs[i];
		node(f, fmt("in%d", i), "ellipse", fmt("input %%%s\n%s\n", v->name, value_label(v)),
		     v->type.dt);
	}
	for (int i = 0; i < g->nops; i++) {
		Op *op = g->ops[i];
		char *fu = fused(op);
		char *l = fmt("%%%s = %s\n", op->out->name, opinfo[op->kind].name);
		if (fu)
			l = fmt("%sfused: %s\n", l, fu);
		char *geo = geometry(op);
		if (geo)
			l = fmt("%s%s\n", l, geo);
		l = fmt("%s%s\n", l, value_label(op->out));
		if ((opinfo[op->kind].attrs & A_RQ) && op->a.nrq > 0) {
			/* the fixed-point multipliers as the real M = mult * 2^(shift - 31) */
			double lo = INFINITY, hi = 0;
			for (int k = 0; k < op->a.nrq; k++) {
				double m = ldexp(op->a.mult[k], op->a.shift[k] - 31);
				lo = fmin(lo, m);
				hi = fmax(hi, m);
			}
			l = fmt("%sM%s=%.4g%s clamp [%d, %d]\n", l, op->a.nrq > 1 ? fmt("[%d]", op->a.nrq) : "", lo,
				op->a.nrq > 1 ? fmt("..%.4g", hi) : "", op->a.lo, op->a.hi);
		}
		if (g->planned && op->out->off >= 0)
			l = fmt("%sarena +%lld\n", l, (long long)op->out->off);
		if ((opinfo[op->kind].attrs & A_XZP) && op->a.xzp != 0)
			l = fmt("%sinput zero point %d in the inner loop\n", l, op->a.xzp);
		for (int j = 0; j < op->nin; j++) {
			Value *c = op->in[j];
			if (c->kind == V_CONST)
				l = fmt("%s@%s: %s\n", l, c->name, value_label(c));
		}
		node(f, fmt("op%d", i), "box", l, op->out->type.dt);
		for (int j = 0; j < op->nin; j++)
			if (op->in[j]->kind != V_CONST)
				edge(f, src_id(g, op->in[j]), fmt("op%d", i), op->in[j]);
	}
	for (int i = 0; i < g->noutputs; i++) {
		Value *v = g->outputs[i];
		node(f, fmt("out%d", i), "ellipse", fmt("output %%%s\n", v->name), v->type.dt);
		edge(f, src_id(g, v), fmt("out%d", i), v);
	}
	fputs("}\n", f);
}
