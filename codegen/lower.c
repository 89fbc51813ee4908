/* Lowering: a final graph to a Prog, the straight list of kernel calls
   that the interpreter runs and both emitters print (lower.h,
   docs/lowering.md).  One step per op; reshape and flatten are free
   (they share their operand's bytes); concat is one copy per operand.

   Where each value lives (Arg): constants are blobs; with the plan,
   inputs are read from the caller's buffers, outputs are computed into
   them, everything else is at its planned arena offset; an output that
   is not computed in place (an alias, an input, a constant, or the same
   value twice) is copied out by a final step.  With keep_all every value
   gets its own arena bytes: inputs are copied in first, outputs copied
   out last, so a caller can read any tensor after a run.

   This file: blobs, steps, where values live, the program and its int8
   interface; lower_op.c: the params of each op. */
#include "codegen/lower_impl.h"

#include <math.h>
#include <string.h>

const char *lower_opname(const Op *op) { return fmt("%s %%%s", opinfo[op->kind].name, op->out->name); }

/* ---- blobs ---- */

static char *cname(const char *s)
{
	char *c = xstrdup(s);
	for (char *q = c; *q; q++)
		if (!(*q >= 'a' && *q <= 'z') && !(*q >= 'A' && *q <= 'Z') && !(*q >= '0' && *q <= '9'))
			*q = '_';
	return c;
}

int lower_blob(L *l, const char *base, Dtype dt, int64_t n, const void *data)
{
	Prog *p = l->p;
	Blob *b = &PUSH(p->blobs, p->nblobs);
	b->name = fmt("b%d_%s", p->nblobs - 1, cname(base));
	b->dt = dt;
	b->n = n;
	b->data = data;
	p->weight_bytes += n * (int64_t)dtype_size(dt);
	return p->nblobs - 1;
}

int lower_const(L *l, Value *v)
{
	if (v->kind != V_CONST)
		BAD(l, "%%%s must be a constant", v->name);
	if (!v->data)
		die("lower: constant @%s has no data", v->name);
	if (l->cblob[v->id] < 0)
		l->cblob[v->id] = lower_blob(l, v->name, v->type.dt, type_numel(&v->type), v->data);
	return l->cblob[v->id];
}

/* where v is, as a kernel argument; a constant becomes a blob on first use */
Arg lower_arg(L *l, Value *v)
{
	if (v->kind == V_CONST)
		return (Arg){ARG_BLOB, 0, lower_const(l, v)};
	return l->where[v->id];
}

/* ---- steps and params ---- */

Step lower_step(L *l, const char *kernel)
{
	Step s;
	memset(&s, 0, sizeof s);
	s.kernel = kernel;
	for (int k = 0; k < Q8_NP; k++)
		s.pblob[k] = -1;
	if (l->op) {
		s.what = fmt("%%%s = %s", l->op->out->name, opinfo[l->op->kind].name);
		s.a = lower_arg(l, l->op->in[0]);
		s.y = l->where[l->op->out->id];
	}
	return s;
}

void lower_emit(L *l, Step *s)
{
	Prog *p = l->p;
	Step *t = &PUSH(p->steps, p->nsteps);
	*t = *s;
	select_kernel(p->target, p, t);
	lower_split(t);
}

static Step copy_step(L *l, Arg from, Arg to, const Value *v, const char *what)
{
	l->op = NULL;
	Step s = lower_step(l, "copy_slice");
	s.what = what;
	s.a = from;
	s.y = to;
	int64_t n = type_numel(&v->type);
	if (n > INT32_MAX)
		fatal("%%%s: tensor too large", v->name);
	s.p.i[Q8_OUTER] = s.p.i[Q8_INNER] = 1;
	s.p.i[Q8_LEN] = s.p.i[Q8_DLEN] = (int32_t)n;
	s.p.i[Q8_ESIZE] = (int32_t)dtype_size(v->type.dt);
	return s;
}

/* ---- the program ---- */

static Arg arena_arg(int64_t off) { return (Arg){ARG_ARENA, off, 0}; }

static bool same_arg(Arg a, Arg b) { return a.kind == b.kind && a.off == b.off && a.idx == b.idx; }

static int output_index(Graph *g, const Value *v)
{
	for (int k = 0; k < g->noutputs; k++)
		if (g->outputs[k] == v)
			return k;
	return -1;
}

/* where every value lives: see the top of the file */
static void place_values(L *l)
{
	Graph *g = l->g;
	Prog *p = l->p;
	int64_t top = 0;
	for (int k = 0; k < g->ninputs; k++) {
		Value *v = g->inputs[k];
		if (l->keep_all) {
			l->where[v->id] = arena_arg(top);
			top += (type_numel(&v->type) * (int64_t)dtype_size(v->type.dt) + 63) & ~(int64_t)63;
		} else
			l->where[v->id] = (Arg){ARG_INPUT, 0, k};
	}
	for (int i = 0; i < g->nops; i++) {
		Op *op = g->ops[i];
		Value *v = op->out;
		int k = output_index(g, v);
		l->op = op;
		if (is_alias(op))
			l->where[v->id] = lower_arg(l, op->in[0]);
		else if (l->keep_all) {
			l->where[v->id] = arena_arg(top);
			top += (type_numel(&v->type) * (int64_t)dtype_size(v->type.dt) + 63) & ~(int64_t)63;
		} else if (v->off >= 0 && k < 0) {
			if (v->off % 64 || v->off + type_numel(&v->type) * (int64_t)dtype_size(v->type.dt) > g->arena_size)
				BROKEN(l, "planned at %lld, outside the arena of %lld bytes", (long long)v->off, (long long)g->arena_size);
			l->where[v->id] = arena_arg(v->off);
		} else if (k >= 0)
			l->where[v->id] = (Arg){ARG_OUTPUT, 0, k};
		else
			BROKEN(l, "no place in the plan (off %lld)", (long long)v->off);
	}
	p->arena_size = l->keep_all ? top : g->arena_size;
	p->arena_lower_bound = l->keep_all ? top : g->arena_lower_bound;
}

static IoBuf iobuf(L *l, Value *v)
{
	IoBuf b = {0};
	b.v = v;
	b.dt = v->type.dt;
	b.bytes = type_numel(&v->type) * (int64_t)dtype_size(v->type.dt);
	b.off = l->where[v->id].kind == ARG_ARENA ? l->where[v->id].off : -1;
	b.scale = 1;
	return b;
}

/* The int8 interface: input k quantized by exactly one head step to a
   per-tensor i8 tensor, output k the dequantize of a per-tensor i8
   tensor (possibly followed by float tail ops), and no body step touching
   the caller's float buffers.  Returns false when the program has no
   int8 entry point. */
static bool int8_io(L *l, const unsigned char *ph, int body_begin, int body_end)
{
	Graph *g = l->g;
	Prog *p = l->p;
	for (int i = body_begin; i < body_end; i++) {
		Step *s = &p->steps[i];
		if (s->a.kind == ARG_INPUT || s->b.kind == ARG_INPUT || s->y.kind == ARG_OUTPUT ||
		    s->a.kind == ARG_OUTPUT || s->b.kind == ARG_OUTPUT)
			return false;
	}
	for (int k = 0; k < g->ninputs; k++) {
		Value *q = NULL;
		for (int i = 0; i < g->nops; i++) {
			Op *op = g->ops[i];
			if (ph[i] != PH_HEAD || op->kind != OP_QUANTIZE)
				continue;
			if (l->where[op->in[0]->id].kind != ARG_INPUT || l->where[op->in[0]->id].idx != k)
				continue;
			if (q)
				return false;
			q = op->out;
		}
		if (!q || q->type.dt != DT_I8 || !q->type.q || q->type.q->n != 1 || l->where[q->id].kind != ARG_ARENA)
			return false;
		p->in_q[k] = iobuf(l, q);
		p->in_q[k].scale = q->type.q->scale[0];
		p->in_q[k].zp = q->type.q->zp[0];
	}
	for (int k = 0; k < g->noutputs; k++) {
		Value *v = g->outputs[k];
		while (v->def && v->def->kind != OP_DEQUANTIZE && v->def->nin == 1 && v->type.dt == DT_F32)
			v = v->def->in[0];
		if (!v->def || v->def->kind != OP_DEQUANTIZE)
			return false;
		Value *q = v->def->in[0];
		if (q->type.dt != DT_I8 || !q->type.q || q->type.q->n != 1 || l->where[q->id].kind != ARG_ARENA)
			return false;
		p->out_q[k] = iobuf(l, q);
		p->out_q[k].scale = q->type.q->scale[0];
		p->out_q[k].zp = q->type.q->zp[0];
	}
	return true;
}

Prog *lower(Graph *g, const Target *t, const char *name, bool keep_all)
{
	if (!keep_all && !g->planned)
		pass_plan(g, NULL);
	graph_number(g);
	L l = {0};
	Prog *p = alloc(sizeof *p);
	l.g = g;
	l.p = p;
	l.keep_all = keep_all;
	l.where = alloc_array((size_t)g->nvalues + 1, sizeof *l.where);
	l.cblob = alloc_array((size_t)g->nvalues + 1, sizeof *l.cblob);
	for (int i = 0; i < g->nvalues; i++)
		l.cblob[i] = -1;
	p->name = name ? name : g->name;
	p->target = t;
	p->nin = g->ninputs;
	p->nout = g->noutputs;
	place_values(&l);

	unsigned char *ph = alloc_array((size_t)g->nops + 1, 1);
	graph_phases(g, ph);
	bool ordered = true;
	for (int i = 1; i < g->nops; i++)
		ordered = ordered && ph[i - 1] <= ph[i];
	if (!ordered && !keep_all)
		die("lower: the ops are not in the plan's order (head, body, tail)");

	for (int k = 0; keep_all && k < g->ninputs; k++) {
		Value *v = g->inputs[k];
		Step s = copy_step(&l, (Arg){ARG_INPUT, 0, k}, l.where[v->id], v, fmt("copy in %%%s", v->name));
		lower_emit(&l, &s);
	}
	p->body_begin = p->body_end = -1;
	for (int i = 0; i < g->nops; i++) {
		if (ph[i] != PH_HEAD && p->body_begin < 0)
			p->body_begin = p->nsteps;
		if (ph[i] == PH_TAIL && p->body_end < 0)
			p->body_end = p->nsteps;
		lower_op(&l, g->ops[i]);
	}
	if (p->body_begin < 0)
		p->body_begin = p->nsteps;
	if (p->body_end < 0)
		p->body_end = p->nsteps;
	for (int k = 0; k < g->noutputs; k++) {
		Value *v = g->outputs[k];
		Arg to = {ARG_OUTPUT, 0, k};
		if (same_arg(lower_arg(&l, v), to))
			continue;
		Step s = copy_step(&l, lower_arg(&l, v), to, v, fmt("copy out %%%s", v->name));
		lower_emit(&l, &s);
	}

	p->in_f = alloc_array((size_t)p->nin + 1, sizeof *p->in_f);
	p->out_f = alloc_array((size_t)p->nout + 1, sizeof *p->out_f);
	for (int k = 0; k < p->nin; k++)
		p->in_f[k] = iobuf(&l, g->inputs[k]);
	for (int k = 0; k < p->nout; k++)
		p->out_f[k] = iobuf(&l, g->outputs[k]);
	p->in_q = alloc_array((size_t)p->nin + 1, sizeof *p->in_q);
	p->out_q = alloc_array((size_t)p->nout + 1, sizeof *p->out_q);
	p->is_float = !ordered || !int8_io(&l, ph, p->body_begin, p->body_end);
	if (p->is_float) {
		memset(p->in_q, 0, (size_t)p->nin * sizeof *p->in_q);
		memset(p->out_q, 0, (size_t)p->nout * sizeof *p->out_q);
	}

	p->nvals = g->nvalues;
	p->vals = alloc_array((size_t)g->nvalues + 1, sizeof *p->vals);
	p->val_off = alloc_array((size_t)g->nvalues + 1, sizeof *p->val_off);
	for (int i = 0; i < g->ninputs; i++)
		p->vals[g->inputs[i]->id] = g->inputs[i];
	for (int i = 0; i < g->nconsts; i++)
		p->vals[g->consts[i]->id] = g->consts[i];
	for (int i = 0; i < g->nops; i++)
		p->vals[g->ops[i]->out->id] = g->ops[i]->out;
	for (int i = 0; i < g->nvalues; i++)
		p->val_off[i] = l.where[i].kind == ARG_ARENA ? l.where[i].off : -1;
	return p;
}
