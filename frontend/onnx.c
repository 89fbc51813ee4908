/* The ONNX frontend: decodes MODEL.onnx with protobuf-c (the code that
   protoc-c generates from onnx.proto at build time), checks the model,
   reads its initializers (inline or external data), orders the nodes and
   hands each one to onnx_ops.c, which builds the same Graph the text
   frontend builds.  Every error names the file and the node:
   MODEL.onnx: node 'NAME' (OP): error: ... (docs/onnx.md). */
#define _XOPEN_SOURCE 700
#include "onnx.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { OPSET_MIN = 9, OPSET_MAX = 21 };
#define MAXFILE ((int64_t)2 << 30) /* protobuf's own limit */

static const char *S(const char *s) { return s ? s : ""; }

noreturn void oerr(Ctx *c, const char *f, ...)
{
	char buf[768];
	va_list ap;
	va_start(ap, f);
	vsnprintf(buf, sizeof buf, f, ap);
	va_end(ap);
	error_at(c->loc, "%s", buf);
}

/* ---- names ---- */

static size_t hash(const char *s)
{
	size_t h = 0xcbf29ce484222325u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3u;
	return h;
}

static Ent **slot(Ent **tab, size_t cap, const char *name)
{
	for (size_t i = hash(name) & (cap - 1);; i = (i + 1) & (cap - 1))
		if (!tab[i] || strcmp(tab[i]->name, name) == 0)
			return &tab[i];
}

Ent *ent_find(Ctx *c, const char *name)
{
	return c->cap ? *slot(c->tab, c->cap, name) : NULL;
}

static Ent *define(Ctx *c, const char *name)
{
	if (!*name)
		oerr(c, "a tensor without a name");
	if (ent_find(c, name))
		oerr(c, "tensor '%s' is defined twice", name);
	if (2 * (c->ntab + 1) > c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 64;
		Ent **tab = alloc_array(cap, sizeof *tab);
		for (size_t i = 0; i < c->cap; i++)
			if (c->tab[i])
				*slot(tab, cap, c->tab[i]->name) = c->tab[i];
		c->tab = tab;
		c->cap = cap;
	}
	Ent *e = alloc(sizeof *e);
	e->name = xstrdup(name);
	*slot(c->tab, c->cap, name) = e;
	c->ntab++;
	return e;
}

Ent *ent_opt(Ctx *c, int i)
{
	Onnx__NodeProto *n = c->node;
	if (i >= (int)n->n_input || !S(n->input[i])[0])
		return NULL;
	Ent *e = ent_find(c, n->input[i]);
	if (!e)
		die("onnx: input '%s' not defined after ordering", n->input[i]);
	return e;
}

Ent *ent_input(Ctx *c, int i)
{
	Ent *e = ent_opt(c, i);
	if (!e)
		oerr(c, "input %d is missing", i + 1);
	return e;
}

bool out_used(Ctx *c, int i) { return i < (int)c->node->n_output && S(c->node->output[i])[0]; }

Ent *ent_def(Ctx *c, int i)
{
	if (!out_used(c, i))
		oerr(c, "output %d has no name", i + 1);
	return define(c, c->node->output[i]);
}

/* Value and constant names: [A-Za-z0-9_.], deterministic; the graph
   makes them unique (name.1, name.2, ...). */
char *sanitize(const char *name)
{
	size_t n = strlen(name);
	if (n > 200)
		n = 200;
	char *s = alloc(n + 2), *d = s;
	for (size_t i = 0; i < n; i++) {
		char ch = name[i];
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
			  ch == '_' || ch == '.';
		*d++ = ok ? ch : '_';
	}
	if (d == s)
		*d++ = 't';
	return s;
}

Op *emit(Ctx *c, OpKind k, Value **in, int nin, const char *name)
{
	Op *op = op_new(c->g, k, in, nin, sanitize(name), c->loc);
	op->out->off = -1;
	return op;
}

/* ---- attributes ---- */

Onnx__AttributeProto *attr(Ctx *c, const char *name)
{
	for (size_t i = 0; i < c->node->n_attribute; i++)
		if (strcmp(S(c->node->attribute[i]->name), name) == 0)
			return c->node->attribute[i];
	return NULL;
}

static Onnx__AttributeProto *typed(Ctx *c, const char *name, int type, const char *what)
{
	Onnx__AttributeProto *a = attr(c, name);
	if (a && a->type != (Onnx__AttributeProto__AttributeType)type)
		oerr(c, "attribute '%s' must be %s", name, what);
	return a;
}

int64_t attr_i(Ctx *c, const char *name, int64_t def)
{
	Onnx__AttributeProto *a = typed(c, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT, "an integer");
	return a ? a->i : def;
}

double attr_f(Ctx *c, const char *name, double def)
{
	Onnx__AttributeProto *a = typed(c, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT, "a float");
	if (a && !isfinite(a->f))
		oerr(c, "attribute '%s' is not finite (%g)", name, a->f);
	return a ? a->f : def;
}

int attr_ints(Ctx *c, const char *name, int64_t *v, int max)
{
	Onnx__AttributeProto *a = typed(c, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS, "a list of integers");
	if (!a)
		return -1;
	if (a->n_ints > (size_t)max)
		oerr(c, "attribute '%s' has %zu entries, at most %d supported", name, a->n_ints, max);
	if (a->n_ints)
		memcpy(v, a->ints, a->n_ints * sizeof *v);
	return (int)a->n_ints;
}

const char *attr_s(Ctx *c, const char *name, const char *def)
{
	Onnx__AttributeProto *a = typed(c, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING, "a string");
	return a ? xstrndup((const char *)a->s.data, a->s.len) : def;
}

/* ---- tensors ---- */

static size_t elsize(int dt)
{
	switch (dt) {
	case T_F32: case T_I32: return 4;
	case T_U8: case T_I8: return 1;
	case T_I64: return 8;
	default: return 0;
	}
}

static const char *onnx_dtype(int dt)
{
	static const char *names[] = {"undefined", "float", "uint8", "int8", "uint16", "int16", "int32",
				      "int64", "string", "bool", "float16", "double", "uint32", "uint64",
				      "complex64", "complex128", "bfloat16"};
	return dt >= 0 && dt < (int)(sizeof names / sizeof *names) ? names[dt] : fmt("type %d", dt);
}

/* An external file's bytes [off, off + len), by the .npy path rule. */
static void *read_external(Ctx *c, Onnx__TensorProto *t, const char *what, size_t want)
{
	const char *loc = NULL;
	int64_t off = 0, len = -1;
	for (size_t i = 0; i < t->n_external_data; i++) {
		const char *k = S(t->external_data[i]->key), *v = S(t->external_data[i]->value);
		char *end;
		errno = 0;
		if (strcmp(k, "location") == 0) {
			loc = v;
		} else if (strcmp(k, "offset") == 0 || strcmp(k, "length") == 0) {
			long long x = strtoll(v, &end, 10);
			if (!*v || *end || errno || x < 0)
				oerr(c, "%s: external data %s '%s' is not a size", what, k, v);
			*(k[0] == 'o' ? &off : &len) = x;
		}
	}
	if (!loc)
		oerr(c, "%s: external data without a location", what);
	if (!c->dir)
		oerr(c, "%s: external data is not read here", what);
	const char *why;
	char *full = fe_inside(c->dir, loc, &why);
	if (!full)
		oerr(c, "%s: external data: %s", what, why);
	if (len >= 0 && (size_t)len != want)
		oerr(c, "%s: external data length %lld, but the tensor needs %zu bytes", what, (long long)len, want);
	FILE *f = fopen(full, "rb");
	struct stat st;
	if (!f)
		oerr(c, "%s: cannot open external data %s: %s", what, loc, strerror(errno));
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || off > st.st_size ||
	    (int64_t)want > st.st_size - off) {
		fclose(f);
		oerr(c, "%s: external data %s holds no %zu bytes at offset %lld", what, loc, want, (long long)off);
	}
	void *buf = alloc(want);
	bool ok = fseeko(f, (off_t)off, SEEK_SET) == 0 && fread(buf, 1, want, f) == want;
	fclose(f);
	if (!ok)
		oerr(c, "%s: read error in external data %s", what, loc);
	return buf;
}

int64_t numel_of(Ctx *c, int rank, const int64_t *dims)
{
	int64_t n = 1;
	for (int i = 0; i < rank; i++) {
		if (dims[i] < 1)
			oerr(c, "dimension %lld: zero-size and negative dimensions are not supported", (long long)dims[i]);
		if (dims[i] > MAXNUMEL || n * dims[i] > MAXNUMEL)
			oerr(c, "tensor too large: more than %lld elements", (long long)MAXNUMEL);
		n *= dims[i];
	}
	return n;
}

Tensor *tensor_from_proto(Ctx *c, Onnx__TensorProto *p, const char *what)
{
	int dt = p->data_type;
	size_t es = elsize(dt);
	if (!es)
		oerr(c, "%s: element type %s is not supported (float, uint8, int8, int32, int64)", what, onnx_dtype(dt));
	if (p->n_dims > MAXRANK)
		oerr(c, "%s: rank %zu exceeds the maximum %d", what, p->n_dims, MAXRANK);
	if (p->segment)
		oerr(c, "%s: segmented tensors are not supported", what);
	int64_t n = numel_of(c, (int)p->n_dims, p->dims);
	size_t bytes = (size_t)n * es;
	bool ext = p->has_data_location && p->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
	/* the sizes first: a declared shape allocates nothing the file does not hold */
	if (ext) {
		;
	} else if (p->has_raw_data) {
		if (p->raw_data.len != bytes)
			oerr(c, "%s: raw data holds %zu bytes, the %s tensor of %lld elements needs %zu", what,
			     p->raw_data.len, onnx_dtype(dt), (long long)n, bytes);
	} else {
		size_t got = dt == T_F32 ? p->n_float_data : dt == T_I64 ? p->n_int64_data : p->n_int32_data;
		if (got != (size_t)n)
			oerr(c, "%s: %zu values for a tensor of %lld elements", what, got, (long long)n);
	}
	Tensor *t = alloc(sizeof *t);
	t->dt = dt;
	t->rank = (int)p->n_dims;
	t->n = n;
	if (p->n_dims)
		memcpy(t->dims, p->dims, p->n_dims * sizeof *p->dims);
	if (ext) {
		t->data = read_external(c, p, what, bytes);
	} else if (p->has_raw_data) {
		t->data = alloc(bytes);
		memcpy(t->data, p->raw_data.data, bytes); /* little-endian hosts only, as everywhere in q8c */
	} else {
		t->data = alloc(bytes);
		for (int64_t i = 0; i < n; i++) {
			if (dt == T_F32) {
				((float *)t->data)[i] = p->float_data[i];
			} else if (dt == T_I64) {
				((int64_t *)t->data)[i] = p->int64_data[i];
			} else {
				int32_t v = p->int32_data[i];
				if ((dt == T_U8 && (v < 0 || v > 255)) || (dt == T_I8 && (v < -128 || v > 127)))
					oerr(c, "%s: value %d out of range for %s", what, v, onnx_dtype(dt));
				tset(t, i, v);
			}
		}
	}
	return t;
}

/* An IR constant holding t (float or 8-bit; ONNX layout as given). */
Value *new_const(Ctx *c, const char *name, Tensor *t)
{
	Type ty = {0};
	switch (t->dt) {
	case T_F32: ty.dt = DT_F32; break;
	case T_I8: ty.dt = DT_I8; break;
	case T_U8: ty.dt = DT_U8; break;
	case T_I32: ty.dt = DT_I32; break;
	default: oerr(c, "%s: an %s tensor cannot be a value of the model", name, onnx_dtype(t->dt));
	}
	ty.rank = t->rank;
	memcpy(ty.dims, t->dims, sizeof ty.dims);
	for (int64_t i = 0; t->dt == T_F32 && i < t->n; i++)
		if (!isfinite(((float *)t->data)[i]))
			oerr(c, "%s: element %lld is not finite (%g)", name, (long long)i, ((float *)t->data)[i]);
	Value *v = graph_add_const(c->g, sanitize(name), ty, t->data, c->loc);
	v->off = -1;
	return v;
}

/* ---- the graph ---- */

static void graph_inputs(Ctx *c, Onnx__GraphProto *gp)
{
	for (size_t i = 0; i < gp->n_input; i++) {
		Onnx__ValueInfoProto *vi = gp->input[i];
		const char *name = S(vi->name);
		c->loc.file = fmt("%s: input '%s'", c->path, name);
		if (ent_find(c, name))
			continue; /* an initializer listed as input (ir_version < 4) */
		Onnx__TypeProto *tp = vi->type;
		if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type)
			oerr(c, "not a tensor");
		Onnx__TypeProto__Tensor *tt = tp->tensor_type;
		if (tt->elem_type != T_F32)
			oerr(c, "element type %s: inputs must be float", onnx_dtype(tt->elem_type));
		if (!tt->shape)
			oerr(c, "no shape: q8c needs static input shapes");
		if (tt->shape->n_dim > MAXRANK)
			oerr(c, "rank %zu exceeds the maximum %d", tt->shape->n_dim, MAXRANK);
		Ent *e = define(c, name);
		e->rank = (int)tt->shape->n_dim;
		for (int d = 0; d < e->rank; d++) {
			Onnx__TensorShapeProto__Dimension *dm = tt->shape->dim[d];
			if (dm->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE && dm->dim_value > 0)
				e->dims[d] = dm->dim_value;
			else if (d == 0 && dm->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE)
				e->dims[d] = 1; /* a symbolic batch ("N", torch's dynamic_axes): batch 1 */
			else
				oerr(c, "dimension %d is not a positive number: q8c needs static shapes", d);
		}
		numel_of(c, e->rank, e->dims);
		Type t = {.dt = DT_F32, .rank = e->rank};
		memcpy(t.dims, e->dims, sizeof t.dims);
		bool to_nhwc = e->rank == 4 && !c->nchw;
		if (to_nhwc) {
			t.dims[1] = e->dims[2], t.dims[2] = e->dims[3], t.dims[3] = e->dims[1];
		}
		Value *v = value_new(V_INPUT, graph_unique_name(c->g, sanitize(name)), t, c->loc);
		v->off = -1;
		PUSH(c->g->inputs, c->g->ninputs) = v;
		e->v = v;
		if (to_nhwc) {
			e->lay = L_NHWC;
		} else if (e->rank == 4) {
			/* --input-layout nchw: the model's input stays NCHW */
			static const int to[4] = {0, 2, 3, 1};
			e->v = transpose(c, v, to, fmt("%s.nhwc", name));
			e->lay = L_NHWC;
		}
	}
}

/* Kahn's algorithm over the tensor names: the nodes in an order where
   every input is defined before use, or an error naming a node on a
   cycle or an undefined input. */
static Onnx__NodeProto **order(Ctx *c, Onnx__GraphProto *gp)
{
	size_t n = gp->n_node;
	/* producer of each name: a temporary table (name -> node index) */
	size_t cap = 64;
	while (cap < 4 * (n + 1) + 4 * gp->n_initializer)
		cap *= 2;
	const char **key = alloc_array(cap, sizeof *key);
	size_t *who = alloc_array(cap, sizeof *who);
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < gp->node[i]->n_output; j++) {
			const char *o = S(gp->node[i]->output[j]);
			if (!*o)
				continue;
			size_t h = hash(o) & (cap - 1);
			while (key[h] && strcmp(key[h], o))
				h = (h + 1) & (cap - 1);
			if (key[h] || ent_find(c, o)) {
				c->node = gp->node[i];
				c->loc.file = fmt("%s: node '%s' (%s)", c->path, S(gp->node[i]->name), S(gp->node[i]->op_type));
				oerr(c, "tensor '%s' is defined twice", o);
			}
			key[h] = o;
			who[h] = i;
		}
	/* waiting[i]: inputs of node i not yet available; users: edges */
	size_t *waiting = alloc_array(n + 1, sizeof *waiting);
	size_t **users = alloc_array(n + 1, sizeof *users), *nusers = alloc_array(n + 1, sizeof *nusers);
	for (size_t i = 0; i < n; i++) {
		Onnx__NodeProto *nd = gp->node[i];
		c->node = nd;
		c->loc.file = fmt("%s: node '%s' (%s)", c->path, S(nd->name), S(nd->op_type));
		for (size_t j = 0; j < nd->n_input; j++) {
			const char *in = S(nd->input[j]);
			if (!*in || ent_find(c, in))
				continue;
			size_t h = hash(in) & (cap - 1);
			while (key[h] && strcmp(key[h], in))
				h = (h + 1) & (cap - 1);
			if (!key[h])
				oerr(c, "input '%s' is not defined (no node, initializer or graph input has that name)", in);
			waiting[i]++;
			PUSH(users[who[h]], nusers[who[h]]) = i;
		}
	}
	Onnx__NodeProto **out = alloc_array(n + 1, sizeof *out);
	size_t *ready = alloc_array(n + 1, sizeof *ready), nready = 0, nout = 0;
	for (size_t i = n; i-- > 0;)
		if (!waiting[i])
			ready[nready++] = i;
	while (nready) {
		size_t i = ready[--nready];
		out[nout++] = gp->node[i];
		for (size_t u = nusers[i]; u-- > 0;)
			if (--waiting[users[i][u]] == 0)
				ready[nready++] = users[i][u];
	}
	if (nout < n)
		for (size_t i = 0; i < n; i++)
			if (waiting[i]) {
				c->node = gp->node[i];
				c->loc.file = fmt("%s: node '%s' (%s)", c->path, S(gp->node[i]->name), S(gp->node[i]->op_type));
				oerr(c, "the graph has a cycle through this node");
			}
	return out;
}

static void graph_outputs(Ctx *c, Onnx__GraphProto *gp)
{
	for (size_t i = 0; i < gp->n_output; i++) {
		const char *name = S(gp->output[i]->name);
		c->loc.file = fmt("%s: output '%s'", c->path, name);
		Ent *e = ent_find(c, name);
		if (!e)
			oerr(c, "not defined by any node");
		if (!e->v)
			oerr(c, "the output is a constant: nothing to compute");
		Value *v = e->lay == L_NHWC && !c->nchw ? e->v : as_plain(c, e);
		for (int j = 0; j < c->g->noutputs; j++)
			if (c->g->outputs[j] == v)
				oerr(c, "the same tensor is given as an output twice");
		PUSH(c->g->outputs, c->g->noutputs) = v;
	}
	if (!c->g->noutputs)
		oerr(c, "the model has no output");
}

static char *stem(const char *path)
{
	const char *b = strrchr(path, '/');
	b = b ? b + 1 : path;
	const char *e = strrchr(b, '.');
	size_t n = e && e != b ? (size_t)(e - b) : strlen(b);
	char *s = alloc(n + 2), *d = s;
	if (n == 0 || (b[0] >= '0' && b[0] <= '9'))
		*d++ = '_';
	for (size_t i = 0; i < n; i++) {
		char ch = b[i];
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_';
		*d++ = ok ? ch : '_';
	}
	return s;
}

/* protobuf-c allocates from the arena: nothing to free, on any path */
static void *pb_alloc(void *data, size_t size)
{
	(void)data;
	return alloc(size);
}
static void pb_free(void *data, void *p) { (void)data, (void)p; }

static Graph *import(const char *path, const char *dir, const unsigned char *buf, size_t len, bool nchw)
{
	Ctx cx = {0}, *c = &cx;
	c->path = xstrdup(path);
	c->dir = dir;
	c->nchw = nchw;
	c->loc = (Loc){c->path, 0, 0};
	ProtobufCAllocator pa = {pb_alloc, pb_free, NULL};
	Onnx__ModelProto *m = onnx__model_proto__unpack(&pa, len, buf);
	if (!m)
		oerr(c, "not an ONNX model (the protobuf message does not decode)");
	if (!m->has_ir_version || m->ir_version < 3)
		oerr(c, "not an ONNX model (no ir_version 3 or later)");
	if (!m->graph)
		oerr(c, "the model has no graph");
	c->opset = -1;
	for (size_t i = 0; i < m->n_opset_import; i++) {
		const char *d = S(m->opset_import[i]->domain);
		if (!*d || strcmp(d, "ai.onnx") == 0)
			c->opset = (int)(m->opset_import[i]->version > INT_MAX ? INT_MAX : m->opset_import[i]->version);
	}
	if (c->opset < 0)
		oerr(c, "no opset of the default domain (ai.onnx) is imported");
	if (c->opset < OPSET_MIN || c->opset > OPSET_MAX)
		oerr(c, "opset %d is not supported (opsets 11 to 21; 9 and 10 are read too)", c->opset);
	Onnx__GraphProto *gp = m->graph;
	c->g = graph_new(stem(path));
	c->g->file = c->path;
	c->g->dir = dir ? dir : ".";
	for (size_t i = 0; i < gp->n_initializer; i++) {
		const char *name = S(gp->initializer[i]->name);
		c->loc.file = fmt("%s: initializer '%s'", c->path, name);
		Tensor *t = tensor_from_proto(c, gp->initializer[i], "initializer");
		Ent *e = define(c, name);
		e->k = t;
		e->rank = t->rank;
		memcpy(e->dims, t->dims, sizeof e->dims);
	}
	if (gp->n_sparse_initializer) {
		c->loc.file = c->path;
		oerr(c, "sparse initializers are not supported");
	}
	graph_inputs(c, gp);
	if (!c->g->ninputs) {
		c->loc.file = c->path;
		oerr(c, "the model has no input");
	}
	Onnx__NodeProto **nodes = order(c, gp);
	for (size_t i = 0; i < gp->n_node; i++) {
		c->node = nodes[i];
		c->loc.file = fmt("%s: node '%s' (%s)", c->path, S(nodes[i]->name), S(nodes[i]->op_type));
		const char *d = S(nodes[i]->domain);
		if (*d && strcmp(d, "ai.onnx") != 0)
			oerr(c, "operators of domain '%s' are not supported", d);
		import_node(c);
	}
	graph_outputs(c, gp);
	graph_remove_dead(c->g);
	return c->g;
}

Graph *onnx_parse_buffer(const char *path, const unsigned char *buf, size_t len, bool nchw)
{
	return import(path, NULL, buf, len, nchw);
}

Graph *onnx_import(const char *path, bool nchw)
{
	int64_t size;
	FILE *f = open_regular(path, &size);
	if (size >= MAXFILE) {
		fclose(f);
		fatal("%s: too large for a protobuf message (%lld bytes)", path, (long long)size);
	}
	size_t n = (size_t)size;
	unsigned char *buf = alloc(n + 1);
	read_all(f, path, buf, n);
	const char *sl = strrchr(path, '/');
	const char *dir = !sl ? "." : sl == path ? "/" : xstrndup(path, (size_t)(sl - path));
	return import(path, dir, buf, n, nchw);
}

bool is_onnx_path(const char *path)
{
	size_t n = strlen(path);
	return n >= 5 && strcmp(path + n - 5, ".onnx") == 0;
}

Graph *load_model(const char *path, bool nchw)
{
	return is_onnx_path(path) ? onnx_import(path, nchw) : parse_file(path);
}
