/* Types, the op table and graph surgery. */
#include "ir.h"

#include <math.h>
#include <string.h>

const OpInfo opinfo[OP_COUNT] = {
#define OP(kind, name, nmin, nmax, attrs) [kind] = {name, nmin, nmax, attrs},
#include "ops.def"
#undef OP
};

int op_parse(const char *name)
{
	for (int k = 0; k < OP_COUNT; k++)
		if (strcmp(opinfo[k].name, name) == 0)
			return k;
	return -1;
}

/* ---- element types ---- */

static const char *dtnames[DT_COUNT] = {"f32", "i8", "u8", "i16", "i32"};

const char *dtype_name(Dtype t) { return t < DT_COUNT ? dtnames[t] : "?"; }

int dtype_parse(const char *s)
{
	for (int t = 0; t < DT_COUNT; t++)
		if (strcmp(dtnames[t], s) == 0)
			return t;
	return -1;
}

size_t dtype_size(Dtype t)
{
	static const size_t sz[DT_COUNT] = {4, 1, 1, 2, 4};
	return sz[t];
}

int64_t dtype_min(Dtype t)
{
	switch (t) {
	case DT_I8: return -128;
	case DT_U8: return 0;
	case DT_I16: return -32768;
	case DT_I32: return INT32_MIN;
	default: die("dtype_min of %s", dtype_name(t));
	}
}

int64_t dtype_max(Dtype t)
{
	switch (t) {
	case DT_I8: return 127;
	case DT_U8: return 255;
	case DT_I16: return 32767;
	case DT_I32: return INT32_MAX;
	default: die("dtype_max of %s", dtype_name(t));
	}
}

/* ---- types ---- */

int64_t type_numel(const Type *t)
{
	int64_t n = 1;
	for (int i = 0; i < t->rank; i++)
		n *= t->dims[i];
	return n;
}

bool type_same_shape(const Type *a, const Type *b)
{
	if (a->rank != b->rank)
		return false;
	for (int i = 0; i < a->rank; i++)
		if (a->dims[i] != b->dims[i])
			return false;
	return true;
}

bool quant_equal(const Quant *a, const Quant *b)
{
	if (!a || !b)
		return a == b;
	if (a->axis != b->axis || a->n != b->n)
		return false;
	for (int i = 0; i < a->n; i++)
		if (a->scale[i] != b->scale[i] || a->zp[i] != b->zp[i])
			return false;
	return true;
}

bool type_equal(const Type *a, const Type *b)
{
	return a->dt == b->dt && type_same_shape(a, b) && quant_equal(a->q, b->q);
}

char *type_str(const Type *t)
{
	char buf[256];
	int n = snprintf(buf, sizeof buf, "%s[", dtype_name(t->dt));
	for (int i = 0; i < t->rank && n < 200; i++)
		n += snprintf(buf + n, sizeof buf - (size_t)n, "%s%lld", i ? ", " : "", (long long)t->dims[i]);
	snprintf(buf + n, sizeof buf - (size_t)n, "]");
	return xstrdup(buf);
}

Quant *quant_new(int axis, int n)
{
	Quant *q = alloc(sizeof *q);
	q->axis = axis;
	q->n = n;
	q->scale = alloc_array((size_t)n, sizeof *q->scale);
	q->zp = alloc_array((size_t)n, sizeof *q->zp);
	for (int i = 0; i < n; i++)
		q->scale[i] = 1;
	return q;
}

Quant *quant_tensor(double scale, int32_t zp)
{
	Quant *q = quant_new(-1, 1);
	q->scale[0] = scale;
	q->zp[0] = zp;
	return q;
}

Quant *quant_copy(const Quant *q)
{
	Quant *c = quant_new(q->axis, q->n);
	memcpy(c->scale, q->scale, (size_t)q->n * sizeof *c->scale);
	memcpy(c->zp, q->zp, (size_t)q->n * sizeof *c->zp);
	return c;
}

/* ---- graph ---- */

Graph *graph_new(const char *name)
{
	Graph *g = alloc(sizeof *g);
	g->name = xstrdup(name ? name : "model");
	return g;
}

Value *value_new(ValueKind kind, const char *name, Type t, Loc l)
{
	Value *v = alloc(sizeof *v);
	v->kind = kind;
	v->name = xstrdup(name);
	v->type = t;
	v->loc = l;
	return v;
}

static bool name_taken(Graph *g, const char *name)
{
	for (int i = 0; i < g->ninputs; i++)
		if (strcmp(g->inputs[i]->name, name) == 0)
			return true;
	for (int i = 0; i < g->nconsts; i++)
		if (strcmp(g->consts[i]->name, name) == 0)
			return true;
	for (int i = 0; i < g->nops; i++)
		if (strcmp(g->ops[i]->out->name, name) == 0)
			return true;
	return false;
}

char *graph_unique_name(Graph *g, const char *base)
{
	if (!name_taken(g, base))
		return xstrdup(base);
	for (int i = 1;; i++) {
		char *s = fmt("%s.%d", base, i);
		if (!name_taken(g, s))
			return s;
	}
}

Value *graph_find(Graph *g, const char *name, bool is_const)
{
	if (is_const) {
		for (int i = 0; i < g->nconsts; i++)
			if (strcmp(g->consts[i]->name, name) == 0)
				return g->consts[i];
		return NULL;
	}
	for (int i = 0; i < g->ninputs; i++)
		if (strcmp(g->inputs[i]->name, name) == 0)
			return g->inputs[i];
	for (int i = 0; i < g->nops; i++)
		if (strcmp(g->ops[i]->out->name, name) == 0)
			return g->ops[i]->out;
	return NULL;
}

Op *op_new(Graph *g, OpKind k, Value **in, int nin, const char *name, Loc l)
{
	Op *op = alloc(sizeof *op);
	op->kind = k;
	op->nin = nin;
	op->in = alloc_array((size_t)(nin ? nin : 1), sizeof *op->in);
	memcpy(op->in, in, (size_t)nin * sizeof *in);
	op->loc = l;
	op->a.strides[0] = op->a.strides[1] = 1;
	op->a.dilations[0] = op->a.dilations[1] = 1;
	op->a.groups = 1;
	op->a.axis = -1;
	op->a.q.axis = -1;
	op->a.epsilon = 1e-5;
	op->a.min = -INFINITY;
	op->a.max = INFINITY;
	op->a.dtype = DT_I8;
	op->a.lo = -128;
	op->a.hi = 127;
	op->a.alpha = k == OP_LEAKYRELU ? 0.01 : 0.2; /* the ONNX defaults */
	op->a.beta = 0.5;
	Type t = {0};
	op->out = value_new(V_TEMP, g ? graph_unique_name(g, name) : name, t, l);
	op->out->def = op;
	return op;
}

void graph_append(Graph *g, Op *op) { PUSH(g->ops, g->nops) = op; }

void graph_insert_before(Graph *g, Op *before, Op *op)
{
	int at = g->nops;
	for (int i = 0; i < g->nops; i++)
		if (g->ops[i] == before)
			at = i;
	PUSH(g->ops, g->nops) = NULL;
	memmove(&g->ops[at + 1], &g->ops[at], (size_t)(g->nops - 1 - at) * sizeof *g->ops);
	g->ops[at] = op;
}

Value *graph_add_const(Graph *g, const char *name, Type t, void *data, Loc l)
{
	Value *v = value_new(V_CONST, graph_unique_name(g, name), t, l);
	v->data = data;
	PUSH(g->consts, g->nconsts) = v;
	return v;
}

void graph_replace_uses(Graph *g, Value *from, Value *to)
{
	for (int i = 0; i < g->nops; i++)
		for (int j = 0; j < g->ops[i]->nin; j++)
			if (g->ops[i]->in[j] == from)
				g->ops[i]->in[j] = to;
	for (int i = 0; i < g->noutputs; i++)
		if (g->outputs[i] == from)
			g->outputs[i] = to;
}

int graph_count_uses(Graph *g, const Value *v)
{
	int n = 0;
	for (int i = 0; i < g->nops; i++)
		for (int j = 0; j < g->ops[i]->nin; j++)
			n += g->ops[i]->in[j] == v;
	for (int i = 0; i < g->noutputs; i++)
		n += g->outputs[i] == v;
	return n;
}

void graph_number(Graph *g)
{
	int id = 0;
	for (int i = 0; i < g->ninputs; i++)
		g->inputs[i]->id = id++;
	for (int i = 0; i < g->nconsts; i++)
		g->consts[i]->id = id++;
	for (int i = 0; i < g->nops; i++)
		g->ops[i]->out->id = id++;
	g->nvalues = id;
}

/* Mark from the outputs backwards; drop unmarked ops and constants. */
void graph_remove_dead(Graph *g)
{
	graph_number(g);
	bool *live = alloc_array((size_t)g->nvalues + 1, sizeof *live);
	for (int i = 0; i < g->noutputs; i++)
		live[g->outputs[i]->id] = true;
	for (int i = g->nops; i-- > 0;) {
		Op *op = g->ops[i];
		if (!live[op->out->id])
			continue;
		for (int j = 0; j < op->nin; j++)
			live[op->in[j]->id] = true;
	}
	int n = 0;
	for (int i = 0; i < g->nops; i++)
		if (live[g->ops[i]->out->id])
			g->ops[n++] = g->ops[i];
	g->nops = n;
	n = 0;
	for (int i = 0; i < g->nconsts; i++)
		if (live[g->consts[i]->id])
			g->consts[n++] = g->consts[i];
	g->nconsts = n;
	graph_number(g);
}

/* the clone of v (made on first use), through the value's id */
static Value *cloned(Value **map, Value *v)
{
	Value *c = map[v->id];
	if (!c) {
		c = alloc(sizeof *c);
		*c = *v;
		if (v->type.q)
			c->type.q = quant_copy(v->type.q);
		c->def = NULL;
		map[v->id] = c;
	}
	return c;
}

Graph *graph_clone(Graph *g)
{
	graph_number(g);
	Graph *c = alloc(sizeof *c);
	*c = *g;
	Value **map = alloc_array((size_t)g->nvalues + 1, sizeof *map);
	/* rebuilt with PUSH, so their capacity is what vgrow expects */
	c->inputs = c->consts = c->outputs = NULL;
	c->ops = NULL;
	c->ninputs = c->nconsts = c->noutputs = c->nops = 0;
	for (int i = 0; i < g->ninputs; i++)
		PUSH(c->inputs, c->ninputs) = cloned(map, g->inputs[i]);
	for (int i = 0; i < g->nconsts; i++)
		PUSH(c->consts, c->nconsts) = cloned(map, g->consts[i]);
	for (int i = 0; i < g->nops; i++) {
		Op *o = g->ops[i], *n = alloc(sizeof *n);
		*n = *o;
		n->in = alloc_array((size_t)(o->nin ? o->nin : 1), sizeof *n->in);
		for (int k = 0; k < o->nin; k++)
			n->in[k] = cloned(map, o->in[k]);
		n->out = cloned(map, o->out);
		n->out->def = n;
		PUSH(c->ops, c->nops) = n;
	}
	for (int i = 0; i < g->noutputs; i++)
		PUSH(c->outputs, c->noutputs) = cloned(map, g->outputs[i]);
	c->planned = false; /* the copy gets new ops: plan it again */
	return c;
}
