/* The printer: a graph as model text that the parser reads back (the
   format of docs/model-format.md with its dump extensions: quantization
   parameters and ranges in types, the integer ops, every attribute).
   Numbers are written in the shortest form that reads back to the same
   bits, so print -> parse -> print is the identity. */
#include "ir.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void dbl(FILE *f, double v)
{
	char buf[64];
	if (!isfinite(v)) {
		fputs(isnan(v) ? "nan" : v > 0 ? "inf" : "-inf", f); /* not readable back: never in a valid graph */
		return;
	}
	for (int p = 15; p <= 17; p++) {
		snprintf(buf, sizeof buf, "%.*g", p, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	fputs(buf, f);
}

/* f32 data: the parser reads with strtod and rounds to float; so here */
static void flt(FILE *f, float v)
{
	char buf[64];
	if (!isfinite(v)) {
		fputs(isnan(v) ? "nan" : v > 0 ? "inf" : "-inf", f);
		return;
	}
	for (int p = 6; p <= 9; p++) {
		snprintf(buf, sizeof buf, "%.*g", p, (double)v);
		if ((float)strtod(buf, NULL) == v)
			break;
	}
	fputs(buf, f);
}

static void ints64(FILE *f, const int64_t *v, int n)
{
	fputc('[', f);
	for (int i = 0; i < n; i++)
		fprintf(f, "%s%lld", i ? ", " : "", (long long)v[i]);
	fputc(']', f);
}

static void ints32(FILE *f, const int32_t *v, int n)
{
	fputc('[', f);
	for (int i = 0; i < n; i++)
		fprintf(f, "%s%d", i ? ", " : "", v[i]);
	fputc(']', f);
}

/* scale=..., zero_point=...[, axis=A]: a single zero point when all agree */
static void quant(FILE *f, const Quant *q)
{
	fputs("scale=", f);
	if (q->axis >= 0)
		fputc('[', f);
	for (int i = 0; i < q->n; i++) {
		if (i)
			fputs(", ", f);
		dbl(f, q->scale[i]);
	}
	if (q->axis >= 0)
		fputc(']', f);
	bool same = true;
	for (int i = 1; i < q->n; i++)
		same = same && q->zp[i] == q->zp[0];
	fputs(", zero_point=", f);
	if (same)
		fprintf(f, "%d", q->n ? q->zp[0] : 0);
	else
		ints32(f, q->zp, q->n);
	if (q->axis >= 0)
		fprintf(f, ", axis=%d", q->axis);
}

/* f32[1, 2]{scale=..., range=[lo, hi], fixed} */
static void type(FILE *f, const Type *t, const Value *v)
{
	fprintf(f, "%s", dtype_name(t->dt));
	ints64(f, t->dims, t->rank);
	bool range = v && v->has_range, fixed = v && v->fixed_range;
	if (!t->q && !range && !fixed)
		return;
	fputc('{', f);
	if (t->q)
		quant(f, t->q);
	if (range) {
		fputs(t->q ? ", range=[" : "range=[", f);
		dbl(f, v->lo);
		fputs(", ", f);
		dbl(f, v->hi);
		fputc(']', f);
	}
	if (fixed)
		fputs(t->q || range ? ", fixed" : "fixed", f);
	fputc('}', f);
}

static void ref(FILE *f, const Value *v)
{
	fprintf(f, "%c%s", v->kind == V_CONST ? '@' : '%', v->name);
}

static void elem(FILE *f, const Value *c, int64_t i)
{
	switch (c->type.dt) {
	case DT_F32: flt(f, ((const float *)c->data)[i]); break;
	case DT_I8: fprintf(f, "%d", ((const int8_t *)c->data)[i]); break;
	case DT_U8: fprintf(f, "%d", ((const uint8_t *)c->data)[i]); break;
	case DT_I16: fprintf(f, "%d", ((const int16_t *)c->data)[i]); break;
	case DT_I32: fprintf(f, "%d", ((const int32_t *)c->data)[i]); break;
	default: die("print: dtype %d", c->type.dt);
	}
}

static void constant(FILE *f, const Value *c, const char *npy_dir, const char *prefix)
{
	fputs("const ", f);
	ref(f, c);
	fputs(" : ", f);
	type(f, &c->type, c);
	fputs(" = ", f);
	int64_t n = type_numel(&c->type);
	if (!c->data)
		die("print: constant @%s has no data", c->name);
	if (n > 64 && npy_dir) {
		char *rel = fmt("%s%s.npy", prefix ? prefix : "", c->name);
		npy_write(fmt("%s/%s", npy_dir, rel), c->type.dt, c->type.rank, c->type.dims, c->data);
		fputc('"', f);
		for (const char *s = rel; *s; s++) {
			if (*s == '"' || *s == '\\')
				fputc('\\', f);
			fputc(*s, f);
		}
		fputs("\";\n", f);
		return;
	}
	if (c->type.rank == 0) {
		elem(f, c, 0);
	} else {
		fputc('[', f);
		for (int64_t i = 0; i < n; i++) {
			if (i)
				fputs(", ", f);
			elem(f, c, i);
		}
		fputc(']', f);
	}
	fputs(";\n", f);
}

static void attrs(FILE *f, const Op *op)
{
	unsigned m = opinfo[op->kind].attrs;
	const Attrs *a = &op->a;
	if (m & A_SIZE)
		fputs(", size=", f), ints64(f, a->size, 2);
	if (m & A_STRIDES)
		fputs(", strides=", f), ints64(f, a->strides, 2);
	if (m & A_PADS)
		fputs(", pads=", f), ints64(f, a->pads, 4);
	if (m & A_DILATIONS)
		fputs(", dilations=", f), ints64(f, a->dilations, 2);
	if (m & A_GROUPS)
		fprintf(f, ", groups=%lld", (long long)a->groups);
	/* clip's bounds are optional: infinite means absent */
	if ((m & A_MIN) && isfinite(a->min))
		fputs(", min=", f), dbl(f, a->min);
	if ((m & A_MAX) && isfinite(a->max))
		fputs(", max=", f), dbl(f, a->max);
	if (m & A_EPSILON)
		fputs(", epsilon=", f), dbl(f, a->epsilon);
	if (m & A_VALUE)
		fputs(", value=", f), dbl(f, a->value);
	if (m & A_SHAPE)
		fputs(", shape=", f), ints64(f, a->shape, a->nshape);
	if (m & A_ALPHA)
		fputs(", alpha=", f), dbl(f, a->alpha);
	if (m & A_BETA)
		fputs(", beta=", f), dbl(f, a->beta);
	if (m & A_PERM)
		fputs(", perm=", f), ints64(f, a->perm, a->nperm);
	/* optional, like clip's bounds: absent means --weight-bits decides */
	if ((m & A_WBITS) && a->wbits)
		fprintf(f, ", wbits=%d", a->wbits);
	if ((m & A_ABITS) && a->abits)
		fprintf(f, ", abits=%d", a->abits);
	if (m & A_AXIS)
		fprintf(f, ", axis=%d", a->axis);
	if (m & A_QUANT)
		fputs(", ", f), quant(f, &a->q);
	if (m & A_DTYPE)
		fprintf(f, ", dtype=%s", dtype_name(a->dtype));
	if ((m & A_RQ) && a->nrq > 0) {
		fputs(", mult=", f), ints32(f, a->mult, a->nrq);
		fputs(", shift=", f), ints32(f, a->shift, a->nrq);
	}
	if (m & A_CLAMP)
		fprintf(f, ", lo=%d, hi=%d", a->lo, a->hi);
	if (m & A_XZP)
		fprintf(f, ", xzp=%d", a->xzp);
}

void print_call(FILE *f, const Op *op)
{
	fprintf(f, "%s(", opinfo[op->kind].name);
	for (int j = 0; j < op->nin; j++) {
		if (j)
			fputs(", ", f);
		ref(f, op->in[j]);
	}
	attrs(f, op);
	fputc(')', f);
}

static void arena_note(FILE *f, const Graph *g, const Value *v)
{
	if (g->planned && v->off >= 0)
		fprintf(f, " # arena +%lld", (long long)v->off);
	fputc('\n', f);
}

void print_graph(FILE *f, Graph *g, const char *npy_dir, const char *npy_prefix)
{
	fprintf(f, "model %s;\n\n", g->name);
	for (int i = 0; i < g->ninputs; i++) {
		Value *v = g->inputs[i];
		fputs("input ", f);
		ref(f, v);
		fputs(" : ", f);
		type(f, &v->type, v);
		fputc(';', f);
		arena_note(f, g, v);
	}
	for (int i = 0; i < g->nconsts; i++)
		constant(f, g->consts[i], npy_dir, npy_prefix);
	if (g->nops)
		fputc('\n', f);
	for (int i = 0; i < g->nops; i++) {
		Op *op = g->ops[i];
		ref(f, op->out);
		fputs(" : ", f);
		type(f, &op->out->type, op->out);
		fputs(" = ", f);
		print_call(f, op);
		fputc(';', f);
		arena_note(f, g, op->out);
	}
	fputc('\n', f);
	for (int i = 0; i < g->noutputs; i++) {
		fputs("output ", f);
		ref(f, g->outputs[i]);
		fputs(";\n", f);
	}
}
