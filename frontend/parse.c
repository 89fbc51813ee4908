/* The frontend driver: reads the model text, runs the bison parser and
   turns each statement into graph values and ops (types, attributes with
   their defaults, constants inline or from .npy files, inference). */
#define _XOPEN_SOURCE 700 /* realpath */
#include "frontend.h"
#include "parser.h"
#include "lexer.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* the names defined so far, % and @ apart (graph_find is linear) */
typedef struct {
	char sigil;
	const char *name;
	Value *v;
	bool is_output;
} Name;

struct P {
	Graph *g;
	struct Lex lx;
	bool named;
	Loc named_at;
	Name *names;
	size_t nnames, cap; /* cap: a power of two, or 0 */
};

struct Lex *p_lex(P *p) { return &p->lx; }

static Name *slot(Name *tab, size_t cap, char sigil, const char *name)
{
	size_t h = (unsigned char)sigil;
	for (const char *c = name; *c; c++)
		h = (h ^ (unsigned char)*c) * 0x100000001b3u;
	for (size_t i = h & (cap - 1);; i = (i + 1) & (cap - 1))
		if (!tab[i].name || (tab[i].sigil == sigil && !strcmp(tab[i].name, name)))
			return &tab[i];
}

static Name *lookup(P *p, char sigil, const char *name)
{
	if (!p->cap)
		return NULL;
	Name *n = slot(p->names, p->cap, sigil, name);
	return n->name ? n : NULL;
}

static void define(P *p, Value *v)
{
	if (2 * (p->nnames + 1) > p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 64;
		Name *tab = alloc_array(cap, sizeof *tab);
		for (size_t i = 0; i < p->cap; i++)
			if (p->names[i].name)
				*slot(tab, cap, p->names[i].sigil, p->names[i].name) = p->names[i];
		p->names = tab;
		p->cap = cap;
	}
	char sigil = v->kind == V_CONST ? '@' : '%';
	*slot(p->names, p->cap, sigil, v->name) = (Name){sigil, v->name, v, false};
	p->nnames++;
}

/* ---- types ---- */

/* The type written in t; range items go to v when v is non-NULL. */
static Type make_type(TypeSpec *ts, Value *v)
{
	Type t = {0};
	int dt = dtype_parse(ts->dt);
	if (dt < 0)
		error_at(ts->loc, "unknown element type '%s' (expected f32, i8, u8, i16 or i32)", ts->dt);
	t.dt = (Dtype)dt;
	if (ts->dims.n > MAXRANK)
		error_at(ts->dims.loc[MAXRANK], "rank %d exceeds the maximum %d", ts->dims.n, MAXRANK);
	t.rank = ts->dims.n;
	int64_t numel = 1;
	for (int i = 0; i < t.rank; i++) {
		double d = ts->dims.v[i];
		Loc l = ts->dims.loc[i];
		if (d != floor(d))
			error_at(l, "dimension must be an integer, got %.17g", d);
		if (d < 1)
			error_at(l, "dimension must be positive, got %.17g", d);
		if (d > MAXNUMEL || numel * (int64_t)d > MAXNUMEL)
			error_at(l, "tensor too large: more than %lld elements", (long long)MAXNUMEL);
		t.dims[i] = (int64_t)d;
		numel *= t.dims[i];
	}
	Items *b = &ts->brace;
	for (int i = 0; i < b->n; i++) {
		const char *s = b->v[i].name;
		if (strcmp(s, "scale") && strcmp(s, "zero_point") && strcmp(s, "axis") &&
		    strcmp(s, "range") && strcmp(s, "fixed"))
			error_at(b->v[i].loc, "unknown type parameter '%s' (expected scale, zero_point, axis, range or fixed)", s);
		if ((b->v[i].kind == IT_FLAG) != !strcmp(s, "fixed"))
			error_at(b->v[i].loc, !strcmp(s, "fixed") ? "'fixed' takes no value" : "'%s' needs a value", s);
	}
	Item *scale = fe_item(b, "scale"), *zp = fe_item(b, "zero_point"), *axis = fe_item(b, "axis");
	if (scale || zp || axis) {
		if (t.dt == DT_F32)
			error_at(ts->loc, "quantization parameters on a f32 type");
		t.q = fe_quant(ts->loc, "type", scale, zp, axis, t.rank);
		fe_check_quant(ts->loc, "type", t.q, &t);
	}
	Item *range = fe_item(b, "range"), *fixed = fe_item(b, "fixed");
	if (range) {
		if (range->kind != IT_LIST || range->nums.n != 2)
			error_at(range->vloc, "range must be a list [lo, hi]");
		double lo = range->nums.v[0], hi = range->nums.v[1];
		if (lo > hi)
			error_at(range->vloc, "empty range [%.17g, %.17g]", lo, hi);
		if (v) {
			v->has_range = true;
			v->lo = lo;
			v->hi = hi;
		}
	}
	if (fixed && v)
		v->fixed_range = true;
	return t;
}

/* ---- statements ---- */

static void check_new(P *p, const char *name, Loc l, bool is_const)
{
	Name *old = lookup(p, is_const ? '@' : '%', name);
	if (old)
		error_at(l, "redefinition of %c%s (first defined at %d:%d)", is_const ? '@' : '%', name,
			old->v->loc.line, old->v->loc.col);
}

void p_model(P *p, char *name, Loc l)
{
	if (p->named)
		error_at(l, "model name given twice (first at %d:%d)", p->named_at.line, p->named_at.col);
	p->named = true;
	p->named_at = l;
	p->g->name = name;
}

void p_input(P *p, char *name, Loc l, TypeSpec *ts)
{
	check_new(p, name, l, false);
	Value *v = value_new(V_INPUT, name, (Type){0}, l);
	v->off = -1;
	v->type = make_type(ts, v);
	PUSH(p->g->inputs, p->g->ninputs) = v;
	define(p, v);
}

void p_output(P *p, char *name, Loc l)
{
	Name *n = lookup(p, '%', name);
	if (!n)
		error_at(l, "undefined value %%%s", name);
	if (n->is_output)
		error_at(l, "%%%s is already an output", name);
	n->is_output = true;
	PUSH(p->g->outputs, p->g->noutputs) = n->v;
}

/* A data file's path must stay inside the model's directory: relative,
   no `..` climbing out of it, and (after symlinks) still below it.
   Returns the path to open, or NULL with the reason in *why.  Shared by
   .npy constants and ONNX external data. */
char *fe_inside(const char *dir, const char *s, const char **why)
{
	if (!*s)
		return *why = "empty path", NULL;
	if (s[0] == '/')
		return *why = fmt("absolute path \"%s\": data paths are relative to the model file", s), NULL;
	int depth = 0;
	for (const char *c = s; *c;) {
		size_t n = strcspn(c, "/");
		if (n == 2 && c[0] == '.' && c[1] == '.') {
			if (--depth < 0)
				return *why = fmt("path \"%s\" leaves the model's directory", s), NULL;
		} else if (n > 0 && !(n == 1 && c[0] == '.')) {
			depth++;
		}
		c += n;
		c += *c == '/';
	}
	char *full = fmt("%s/%s", dir, s);
	char real[PATH_MAX], rdir[PATH_MAX];
	if (!realpath(full, real))
		return *why = fmt("cannot open \"%s\": %s", s, strerror(errno)), NULL;
	if (!realpath(dir, rdir))
		return *why = fmt("cannot resolve the model's directory %s: %s", dir, strerror(errno)), NULL;
	size_t n = strlen(rdir);
	if (strncmp(real, rdir, n) != 0 || (real[n] != '/' && strcmp(rdir, "/") != 0))
		return *why = fmt("path \"%s\" resolves to %s, outside the model's directory", s, real), NULL;
	return full;
}

static char *npy_path(P *p, Init *in)
{
	const char *why;
	char *full = fe_inside(p->g->dir, in->path, &why);
	if (!full)
		error_at(in->loc, "%s", why);
	return full;
}

/* npy_read reports through fatal(); give its message the string's location. */
static void *load_npy(P *p, Init *in, const Type *t)
{
	char *full = npy_path(p, in);
	jmp_buf jb, *volatile old = err_jmp;
	err_jmp = &jb;
	if (setjmp(jb)) {
		err_jmp = old;
		const char *m = err_msg, *pre = "q8c: error: ";
		if (strncmp(m, pre, strlen(pre)) == 0)
			m += strlen(pre);
		error_at(in->loc, "%s", xstrdup(m));
	}
	void *data = npy_read(full, t, NULL);
	err_jmp = old;
	return data;
}

static void *inline_data(Init *in, const Type *t, const char *name)
{
	int64_t numel = type_numel(t);
	if (in->nums.n != numel)
		error_at(in->loc, "@%s: %s needs %lld number%s, got %d", name, type_str(t), (long long)numel,
			numel == 1 ? "" : "s", in->nums.n);
	void *data = alloc_array((size_t)numel, dtype_size(t->dt));
	for (int64_t i = 0; i < numel; i++) {
		double v = in->nums.v[i];
		Loc l = in->nums.loc[i];
		switch (t->dt) {
		case DT_F32:
			/* at or above the midpoint between FLT_MAX and 2^128, v rounds to inf */
			if (fabs(v) >= 0x1.ffffffp+127)
				error_at(l, "%.17g is out of range for f32", v);
			((float *)data)[i] = (float)v;
			break;
		case DT_I8: ((int8_t *)data)[i] = (int8_t)fe_int(v, l, "an i8 value", -128, 127); break;
		case DT_U8: ((uint8_t *)data)[i] = (uint8_t)fe_int(v, l, "a u8 value", 0, 255); break;
		case DT_I16: ((int16_t *)data)[i] = (int16_t)fe_int(v, l, "an i16 value", INT16_MIN, INT16_MAX); break;
		case DT_I32: ((int32_t *)data)[i] = (int32_t)fe_int(v, l, "an i32 value", INT32_MIN, INT32_MAX); break;
		default: die("inline_data: dtype %d", t->dt);
		}
	}
	return data;
}

void p_const(P *p, char *name, Loc l, TypeSpec *ts, Init *in)
{
	check_new(p, name, l, true);
	Value *v = value_new(V_CONST, name, (Type){0}, l);
	v->off = -1;
	v->type = make_type(ts, v);
	v->data = in->path ? load_npy(p, in, &v->type) : inline_data(in, &v->type, name);
	PUSH(p->g->consts, p->g->nconsts) = v;
	define(p, v);
}

void p_op(P *p, char *name, Loc l, TypeSpec *annot, char *opname, Loc opl, Items args)
{
	int k = op_parse(opname);
	if (k < 0)
		error_at(opl, "unknown op '%s'", opname);
	check_new(p, name, l, false);
	Value **in = NULL;
	int nin = 0;
	Items at = {0};
	for (int i = 0; i < args.n; i++) {
		Item *it = &args.v[i];
		if (it->kind != IT_VALUE && it->kind != IT_CONST) {
			PUSH(at.v, at.n) = *it;
			continue;
		}
		if (at.n)
			error_at(it->loc, "%s: operands must come before the attributes", opname);
		bool c = it->kind == IT_CONST;
		Name *n = lookup(p, c ? '@' : '%', it->name);
		if (!n)
			error_at(it->loc, "undefined %s %c%s", c ? "constant" : "value", c ? '@' : '%', it->name);
		PUSH(in, nin) = n->v;
	}
	const OpInfo *oi = &opinfo[k];
	if (nin < oi->nmin || nin > oi->nmax) {
		if (oi->nmin == oi->nmax)
			error_at(opl, "%s takes %d operand%s, got %d", opname, oi->nmin, oi->nmin == 1 ? "" : "s", nin);
		error_at(opl, "%s takes %d to %d operands, got %d", opname, oi->nmin, oi->nmax, nin);
	}
	Op *op = op_new(NULL, (OpKind)k, in, nin, name, opl);
	op->out->loc = l;
	op->out->off = -1;
	fe_attrs(op, &at);
	if (annot && (k == OP_QCONV2D || k == OP_QDENSE || k == OP_REQUANTIZE))
		op->out->type.dt = make_type(annot, NULL).dt; /* i8 or i16: infer_op reads it */
	infer_op(op);
	Value *v = op->out;
	if (k == OP_QUANTIZE) {
		/* the result carries quantize's parameters (a copy) */
		Quant *q = quant_new(op->a.q.axis, op->a.q.n);
		memcpy(q->scale, op->a.q.scale, (size_t)q->n * sizeof *q->scale);
		memcpy(q->zp, op->a.q.zp, (size_t)q->n * sizeof *q->zp);
		v->type.q = q;
	}
	if (annot) {
		Type t = make_type(annot, v);
		if (t.dt != v->type.dt || !type_same_shape(&t, &v->type))
			error_at(annot->loc, "%%%s: the annotated type %s differs from the inferred type %s",
				name, type_str(&t), type_str(&v->type));
		if (k == OP_QUANTIZE && t.q && !quant_equal(t.q, v->type.q))
			error_at(annot->loc, "%%%s: the annotated quantization differs from quantize's scale and zero point", name);
		if (t.q)
			v->type.q = t.q;
	}
	graph_append(p->g, op);
	define(p, v);
}

/* ---- entry points ---- */

static char *stem(const char *path)
{
	const char *b = strrchr(path, '/');
	b = b ? b + 1 : path;
	const char *e = strrchr(b, '.');
	size_t n = e && e != b ? (size_t)(e - b) : strlen(b);
	if (n == 0)
		return xstrdup("model");
	/* the name becomes a C identifier prefix: keep it one */
	char *s = alloc(n + 2), *d = s;
	if (b[0] >= '0' && b[0] <= '9')
		*d++ = '_';
	for (size_t i = 0; i < n; i++) {
		char c = b[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
		*d++ = ok ? c : '_';
	}
	return s;
}

static char *dir_of(const char *path)
{
	const char *b = strrchr(path, '/');
	if (!b)
		return xstrdup(".");
	if (b == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(b - path));
}

Graph *parse_string(const char *file, const char *text, size_t len)
{
	if (len > (size_t)INT_MAX / 2)
		fatal("%s: model text too large (%zu bytes)", file, len);
	file = xstrdup(file);
	text = xstrndup(text, len);
	src_register(file, text, len);
	const char *nul = memchr(text, '\0', len);
	if (nul) {
		Loc l = {file, 1, 1};
		for (const char *c = text; c < nul; c++, l.col++)
			if (*c == '\n')
				l.line++, l.col = 0;
		error_at(l, "NUL byte in the model text");
	}
	P p = {0};
	p.g = graph_new(stem(file));
	p.g->file = file;
	p.g->dir = dir_of(file);
	p.lx = (struct Lex){file, 1, 1};
	yyscan_t sc;
	if (yylex_init_extra(&p.lx, &sc) != 0)
		fatal("cannot start the scanner");
	yy_scan_bytes(text, (int)len, sc);
	yyparse(sc, &p);
	yylex_destroy(sc);
	Loc eof = {file, p.lx.line, p.lx.col};
	if (p.g->ninputs == 0)
		error_at(eof, "model has no input");
	if (p.g->noutputs == 0)
		error_at(eof, "model has no output");
	return p.g;
}

Graph *parse_file(const char *path)
{
	int64_t size;
	FILE *f = open_regular(path, &size);
	if (size > INT_MAX / 2) {
		fclose(f);
		fatal("%s: model text too large (%lld bytes)", path, (long long)size);
	}
	size_t n = (size_t)size;
	char *buf = alloc(n + 1);
	read_all(f, path, buf, n);
	return parse_string(path, buf, n);
}
