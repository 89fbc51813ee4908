/* The memory plan: one arena for every intermediate tensor, offsets from
   liveness, placed greedily largest first (the scheme of TFLite Micro's
   greedy planner).

   First the ops are put in the order the lowered program runs them:
   head (the quantize of each input, and reshapes of inputs), body (the
   integer graph), tail (the float ops that only lead to outputs: the
   dequantize of each output and any float op after it).  The int8 entry
   point of the generated code runs the body alone, so it must be one
   contiguous run of steps.

   What lives where: constants are blobs; graph inputs stay in the
   caller's input buffers and graph outputs are computed straight into the
   caller's output buffers (off = -1).  Reshape and flatten share their
   operand's bytes, so an alias of an input or output lives there too.
   Everything else gets a 64-byte aligned offset.  No kernel needs an
   input or output in the arena: kernels read their operands anywhere.

   In place: an elementwise op (add, sub, mul, their integer forms, relu,
   clip, an int8 requantize, the activations and qlut) whose kernel reads element i of an operand
   before it writes element i of the result may write over that operand
   when this op is its last reader and it has the result's size: the
   result then shares the operand's buffer, and the buffer lives on. */
#include "ir.h"
#include "codegen/lower.h"

#include <stdlib.h>

static bool is_alias(const Op *op) { return op->kind == OP_RESHAPE || op->kind == OP_FLATTEN; }

void graph_phases(Graph *g, unsigned char *phase)
{
	graph_number(g);
	bool *head = alloc_array((size_t)g->nvalues + 1, sizeof *head);
	bool *need = alloc_array((size_t)g->nvalues + 1, sizeof *need); /* read by a non-tail op */
	for (int i = 0; i < g->ninputs; i++)
		head[g->inputs[i]->id] = true;
	for (int i = 0; i < g->nops; i++) {
		Op *op = g->ops[i];
		bool h = op->kind == OP_QUANTIZE || is_alias(op);
		for (int j = 0; j < op->nin; j++)
			h = h && head[op->in[j]->id];
		head[op->out->id] = h;
		phase[i] = h ? PH_HEAD : PH_BODY;
	}
	for (int i = g->nops; i-- > 0;) {
		Op *op = g->ops[i];
		if (phase[i] == PH_BODY && op->out->type.dt == DT_F32 && !need[op->out->id]) {
			phase[i] = PH_TAIL;
			continue;
		}
		for (int j = 0; j < op->nin; j++)
			need[op->in[j]->id] = true;
	}
}

/* A stable partition of the ops into head, body, tail: still a
   topological order, since no body op reads a tail value and head ops
   read only inputs and head values. */
static void reorder(Graph *g)
{
	unsigned char *ph = alloc_array((size_t)g->nops + 1, 1);
	graph_phases(g, ph);
	Op **ops = alloc_array((size_t)g->nops + 1, sizeof *ops);
	int n = 0;
	for (int p = PH_HEAD; p <= PH_TAIL; p++)
		for (int i = 0; i < g->nops; i++)
			if (ph[i] == p)
				ops[n++] = g->ops[i];
	for (int i = 0; i < n; i++)
		g->ops[i] = ops[i];
}

typedef struct {
	Value *v;
	int64_t size, raw;  /* bytes: aligned to 64, and exact */
	int first, last;    /* op indices, inclusive; nops = after the last op */
	int64_t off;
} Buf;

static int by_size(const void *pa, const void *pb)
{
	const Buf *a = *(Buf *const *)pa, *b = *(Buf *const *)pb;
	if (a->size != b->size)
		return a->size > b->size ? -1 : 1;
	if (a->first != b->first)
		return a->first < b->first ? -1 : 1;
	return a->v->id - b->v->id;
}

static int by_off(const void *pa, const void *pb)
{
	const Buf *a = *(Buf *const *)pa, *b = *(Buf *const *)pb;
	return a->off < b->off ? -1 : a->off > b->off;
}

/* the lowest offset where b fits between the placed buffers whose
   lifetimes intersect its own */
static int64_t place(Buf *b, Buf **placed, int np, Buf **tmp)
{
	int n = 0;
	for (int i = 0; i < np; i++)
		if (placed[i]->first <= b->last && b->first <= placed[i]->last)
			tmp[n++] = placed[i];
	qsort(tmp, (size_t)n, sizeof *tmp, by_off);
	int64_t off = 0;
	for (int i = 0; i < n; i++) {
		if (off + b->size <= tmp[i]->off)
			break;
		if (tmp[i]->off + tmp[i]->size > off)
			off = tmp[i]->off + tmp[i]->size;
	}
	return off;
}

static int64_t bytes(const Value *v) { return type_numel(&v->type) * (int64_t)dtype_size(v->type.dt); }

/* Can op's result overwrite operand j (see the comment at the top)? */
static bool in_place(const Op *op, int j)
{
	switch (op->kind) {
	case OP_ADD: case OP_SUB: case OP_MUL: case OP_QADD: case OP_QSUB: case OP_QMUL:
	case OP_RELU: case OP_RELU6: case OP_CLIP: case OP_REQUANTIZE: case OP_QLUT:
	case OP_SIGMOID: case OP_TANH: case OP_HARDSWISH: case OP_HARDSIGMOID: case OP_LEAKYRELU:
		return op->in[j]->type.dt == op->out->type.dt &&
		       type_numel(&op->in[j]->type) == type_numel(&op->out->type);
	default:
		return false;
	}
}

void pass_plan(Graph *g, Options *o)
{
	(void)o;
	reorder(g);
	graph_number(g);
	int nv = g->nvalues;
	/* root: the value whose buffer holds a value's bytes (itself, what it
	   aliases, or the operand it was computed over in place) */
	Value **root = alloc_array((size_t)nv + 1, sizeof *root);
	Buf **buf = alloc_array((size_t)nv + 1, sizeof *buf); /* by root id */
	int *last = alloc_array((size_t)nv + 1, sizeof *last); /* by root id */
	bool *is_out = alloc_array((size_t)nv + 1, sizeof *is_out);
	bool *fixed = alloc_array((size_t)nv + 1, sizeof *fixed); /* not in the arena */
	for (int i = 0; i < g->ninputs; i++)
		root[g->inputs[i]->id] = g->inputs[i], fixed[g->inputs[i]->id] = true;
	for (int i = 0; i < g->nconsts; i++)
		root[g->consts[i]->id] = g->consts[i], fixed[g->consts[i]->id] = true;
	for (int i = 0; i < g->noutputs; i++)
		is_out[g->outputs[i]->id] = true;

	/* a value's bytes live until the last use of it or of an alias;
	   outputs until the end, where the program copies them out */
	for (int i = 0; i < g->nops; i++) {
		Op *op = g->ops[i];
		root[op->out->id] = is_alias(op) ? root[op->in[0]->id] : op->out;
		last[op->out->id] = i;
		for (int j = 0; j < op->nin; j++)
			if (last[root[op->in[j]->id]->id] < i)
				last[root[op->in[j]->id]->id] = i;
	}
	for (int i = 0; i < g->noutputs; i++)
		last[root[g->outputs[i]->id]->id] = g->nops;

	/* in place, in program order so that chains of elementwise ops share
	   one buffer; then every value's root again, through the merges */
	Value **into = alloc_array((size_t)nv + 1, sizeof *into);
	for (int i = 0; i < g->nops; i++) {
		Op *op = g->ops[i];
		Value *v = op->out;
		if (is_alias(op) || is_out[v->id])
			continue;
		for (int j = 0; j < op->nin && !into[v->id]; j++) {
			Value *r = root[op->in[j]->id];
			while (into[r->id])
				r = into[r->id];
			if (!in_place(op, j) || fixed[r->id] || is_out[r->id] || last[r->id] != i ||
			    bytes(r) != bytes(v))
				continue;
			into[v->id] = r;
			last[r->id] = last[v->id];
		}
	}
	for (int i = 0; i < g->nops; i++) {
		Op *op = g->ops[i];
		Value *v = op->out, *r = is_alias(op) ? root[op->in[0]->id] : v;
		while (into[r->id])
			r = into[r->id];
		root[v->id] = r;
	}

	Buf **all = alloc_array((size_t)nv + 1, sizeof *all);
	int nb = 0;
	for (int i = 0; i < g->nops; i++) {
		Value *v = g->ops[i]->out;
		if (root[v->id] != v || is_out[v->id])
			continue;
		Buf *b = alloc(sizeof *b);
		b->v = v;
		b->raw = bytes(v);
		b->size = (b->raw + 63) & ~(int64_t)63;
		b->first = i;
		b->last = last[v->id];
		buf[v->id] = b;
		all[nb++] = b;
	}

	Buf **order = alloc_array((size_t)nb + 1, sizeof *order);
	Buf **tmp = alloc_array((size_t)nb + 1, sizeof *tmp);
	for (int i = 0; i < nb; i++)
		order[i] = all[i];
	qsort(order, (size_t)nb, sizeof *order, by_size);
	int64_t size = 0;
	for (int i = 0; i < nb; i++) {
		order[i]->off = place(order[i], order, i, tmp);
		if (order[i]->off + order[i]->size > size)
			size = order[i]->off + order[i]->size;
	}

	int64_t lb = 0;
	for (int t = 0; t <= g->nops; t++) {
		int64_t live = 0;
		for (int i = 0; i < nb; i++)
			if (all[i]->first <= t && t <= all[i]->last)
				live += all[i]->raw;
		if (live > lb)
			lb = live;
	}

	for (int i = 0; i < g->ninputs; i++)
		g->inputs[i]->off = -1;
	for (int i = 0; i < g->nconsts; i++)
		g->consts[i]->off = -1;
	for (int i = 0; i < g->nops; i++) {
		Value *v = g->ops[i]->out;
		Buf *b = buf[root[v->id]->id];
		v->off = b ? b->off : -1;
	}
	g->arena_size = size;
	g->arena_lower_bound = lb;
	g->planned = true;
}
