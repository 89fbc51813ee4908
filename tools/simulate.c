/* Simulated quantization and the error of each layer (docs/inspecting.md).
   The float graph (after fold) runs with fake quantization (for a QDQ
   model, the float graph without its activations' QDQ pairs): each tensor
   that the integer graph holds in int8 is quantized and dequantized at
   the integer graph's scale and zero point (a quantize/dequantize pair
   after it, run by the float kernels), and each weight and bias is
   replaced by its rounded value (the integer constant's scales); the
   arithmetic stays float.  Against the integer run, this shows what the
   integer arithmetic itself adds (fixed-point multipliers, the int32
   bias of the zero points, saturation at the restricted range).

   A "site" is one op of the integer graph: the float tensor it
   quantizes and the float constants it rounds.  A layer is a site that
   computes new values (not a pool, reshape or clip at its operand's
   scale).  The per-layer table runs the float graph with only one
   layer's sites quantized, and with every site up to it quantized; the
   pipeline runs once: each configuration is a copy of the float graph
   with quantize/dequantize pairs, lowered for the interpreter once, and
   each runs only from where it departs from the run before it (Run). */
#include "ir.h"
#include "codegen/lower.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
	Op *qop;        /* the op of the integer graph */
	Value *t;       /* the float tensor it quantizes (in the float graph), or NULL */
	Type qt;        /* its integer type (dtype, quantization) */
	struct {
		Value *f;       /* a float constant it rounds */
		float *rounded; /* its values on the integer constant's grid */
	} *c;
	int nc;
	bool layer;
	double alone, upto; /* output SQNR (dB) */
} Site;

/* dequantize(@const) is a weight, not an activation (as in calibrate.c) */
static bool is_act(const Value *v)
{
	return v->kind != V_CONST && v->type.dt == DT_F32 &&
	       !(v->kind == V_TEMP && v->def->kind == OP_DEQUANTIZE && v->def->in[0]->kind == V_CONST);
}

/* The float tensor of fg that qg's value v holds: the same name, or
   %x for %x.q = quantize(%x) (the report's rule, calibrate.c). */
static Value *float_of(Graph *fg, const Value *v)
{
	Value *fv = graph_find(fg, v->name, false);
	size_t len = strlen(v->name);
	if (!fv && len > 2 && strcmp(v->name + len - 2, ".q") == 0)
		fv = graph_find(fg, xstrndup(v->name, len - 2), false);
	if (!fv || !is_act(fv) || type_numel(&fv->type) != type_numel(&v->type))
		return NULL;
	return fv;
}

static int64_t int_min(Dtype dt) { return dt == DT_I32 ? INT32_MIN : dtype_min(dt); }
static int64_t int_max(Dtype dt) { return dt == DT_I32 ? INT32_MAX : dtype_max(dt); }

/* f rounded to the grid of integer type t (per channel along q->axis):
   scale * (clamp(zp + round_half_even(f / scale)) - zp), in float as the
   quantize and dequantize kernels compute it */
static float *round_const(const Value *f, const Type *t)
{
	int64_t n = type_numel(&f->type);
	const Quant *q = t->q;
	int64_t inner = 1, len = 1;
	if (q->axis >= 0 && q->n > 1) {
		for (int d = q->axis + 1; d < t->rank; d++)
			inner *= t->dims[d];
		len = t->dims[q->axis];
	}
	float *r = alloc_array((size_t)n, sizeof *r);
	const float *x = f->data;
	for (int64_t i = 0; i < n; i++) {
		int k = q->n > 1 ? (int)((i / inner) % len) : 0;
		float s = (float)q->scale[k];
		double v = (double)nearbyintf(x[i] / s) + q->zp[k];
		v = v < (double)int_min(t->dt) ? (double)int_min(t->dt) : v > (double)int_max(t->dt) ? (double)int_max(t->dt) : v;
		r[i] = (float)(v - q->zp[k]) * s;
	}
	return r;
}

static bool moves_only(const Op *op)
{
	OpKind k = op->kind;
	if (k != OP_MAXPOOL && k != OP_RESHAPE && k != OP_FLATTEN && k != OP_TRANSPOSE && k != OP_PAD &&
	    k != OP_CLIP && k != OP_CONCAT)
		return false;
	return op->nin > 0 && op->in[0]->type.q && op->out->type.q && quant_equal(op->in[0]->type.q, op->out->type.q);
}

static Site *sites(Graph *fg, Graph *qg, int *n)
{
	Site *s = NULL;
	*n = 0;
	for (int i = 0; i < qg->nops; i++) {
		Op *op = qg->ops[i];
		Value *v = op->out;
		Site st = {.qop = op};
		if (v->type.dt != DT_F32 && v->type.q)
			st.t = float_of(fg, v);
		st.qt = v->type;
		for (int j = 0; j < op->nin; j++) {
			Value *c = op->in[j], *fc;
			if (c->kind != V_CONST || c->type.dt == DT_F32 || !c->type.q ||
			    !(fc = graph_find(fg, c->name, true)) || fc->type.dt != DT_F32 ||
			    type_numel(&fc->type) != type_numel(&c->type))
				continue;
			PUSH(st.c, st.nc).f = fc;
			st.c[st.nc - 1].rounded = round_const(fc, &c->type);
		}
		if (!st.t && !st.nc)
			continue;
		st.layer = !moves_only(op);
		PUSH(s, *n) = st;
	}
	return s;
}

/* fg with the sites on[i] quantized */
static Graph *configure(Graph *fg, Site *s, int n, const bool *on)
{
	Graph *g = graph_clone(fg);
	for (int i = 0; i < n; i++) {
		if (!on[i])
			continue;
		for (int k = 0; k < s[i].nc; k++)
			graph_find(g, s[i].c[k].f->name, true)->data = s[i].c[k].rounded;
		if (!s[i].t)
			continue;
		Value *v = graph_find(g, s[i].t->name, false);
		Op *q = op_new(g, OP_QUANTIZE, &v, 1, fmt("%s.fq", v->name), v->loc);
		q->a.q = *s[i].qt.q;
		q->a.dtype = s[i].qt.dt;
		infer_op(q);
		q->out->type.q = s[i].qt.q;
		Op *dq = op_new(g, OP_DEQUANTIZE, &q->out, 1, fmt("%s.fdq", v->name), v->loc);
		dq->a.q = *s[i].qt.q;
		infer_op(dq);
		graph_replace_uses(g, v, dq->out);
		q->in[0] = v;
		int at = 0; /* right after v's definition */
		for (int k = 0; k < g->nops; k++)
			if (g->ops[k]->out == v)
				at = k + 1;
		Op *before = at < g->nops ? g->ops[at] : NULL;
		if (before) {
			graph_insert_before(g, before, q);
			graph_insert_before(g, before, dq);
		} else {
			graph_append(g, q);
			graph_append(g, dq);
		}
	}
	return g;
}

static float *run_graph(Graph *g, const float *x, int64_t S)
{
	Prog *p = lower(g, target_find("ref"), g->name, true);
	return run_samples(g, p, x, S);
}

/* The reference of a QDQ model: fg with each dequantize(quantize(%v))
   of an activation taken out (its uses read %v), so that activations stay
   float; weights given as integers stay as the model gives them.  fg
   itself when it has no such pair; *npairs counts them. */
static Graph *float_reference(Graph *fg, int *npairs)
{
	Graph *g = graph_clone(fg);
	*npairs = 0;
	for (int i = 0; i < g->nops; i++) {
		Op *dq = g->ops[i];
		if (dq->kind != OP_DEQUANTIZE || dq->in[0]->kind != V_TEMP || dq->in[0]->def->kind != OP_QUANTIZE ||
		    dq->in[0]->def->in[0]->kind == V_CONST || dq->in[0]->def->in[0]->type.dt != DT_F32)
			continue;
		graph_replace_uses(g, dq->out, dq->in[0]->def->in[0]);
		++*npairs;
	}
	if (*npairs == 0)
		return fg;
	graph_remove_dead(g);
	return g;
}

float *simulate(Graph *fg, Graph *qg, const float *x, int64_t S)
{
	int n, npairs;
	fg = float_reference(fg, &npairs);
	Site *s = sites(fg, qg, &n);
	bool *on = alloc_array((size_t)n + 1, sizeof *on);
	for (int i = 0; i < n; i++)
		on[i] = true;
	return run_graph(configure(fg, s, n, on), x, S);
}

/* One configuration's program, run sample by sample.  With a base (a
   configuration that has run the same sample just before), the ops the
   two graphs share at their start do not run again: their results are
   copied from the base's arena and the program starts after them.  So
   "this layer alone" starts from the float run at the layer, and "every
   layer up to this one" from the run up to the layer before it. */
typedef struct Run Run;
struct Run {
	Graph *g;
	Prog *p;
	char *arena;
	float *y;       /* the output of the last sample run */
	Run *base;
	int first;      /* the first step to run */
	int ncopy;
	struct {
		int64_t to, from, bytes;
	} *copy;
	double noise;   /* sum of (y - float)^2 over the samples */
};

static bool same_op(const Op *a, const Op *b)
{
	if (a->kind != b->kind || a->nin != b->nin || strcmp(a->out->name, b->out->name) != 0)
		return false;
	for (int j = 0; j < a->nin; j++) {
		const Value *x = a->in[j], *y = b->in[j];
		if (x->kind != y->kind || strcmp(x->name, y->name) != 0 || (x->kind == V_CONST && x->data != y->data))
			return false;
	}
	return true;
}

static const char *step_of(const Op *op)
{
	return fmt("%%%s = %s", op->out->name, opinfo[op->kind].name); /* Step.what: lower.c */
}

static Run *run_new(Graph *g, Run *base)
{
	Run *r = alloc(sizeof *r);
	r->g = g;
	r->p = lower(g, target_find("ref"), g->name, true);
	uintptr_t a = (uintptr_t)alloc((size_t)r->p->arena_size + 64);
	r->arena = (char *)((a + 63) & ~(uintptr_t)63);
	r->y = alloc_array((size_t)type_numel(&g->outputs[0]->type), sizeof *r->y);
	int k = 0;
	while (base && k < g->nops && k < base->g->nops && same_op(g->ops[k], base->g->ops[k]))
		k++;
	if (k == 0)
		return r; /* nothing shared: run it all */
	const Prog *p = r->p;
	const char *w = k < g->nops ? step_of(g->ops[k]) : "copy out";
	int first = 0;
	while (first < p->nsteps && !(p->steps[first].what && strncmp(p->steps[first].what, w, strlen(w)) == 0 &&
				       (k == g->nops || strlen(p->steps[first].what) == strlen(w))))
		first++;
	if (first == p->nsteps)
		return r;
	for (int i = -g->ninputs; i < k; i++) {
		Value *v = i < 0 ? g->inputs[g->ninputs + i] : g->ops[i]->out, *bv = graph_find(base->g, v->name, false);
		int64_t to = p->val_off[v->id], from = bv ? base->p->val_off[bv->id] : -1;
		if (to < 0)
			continue;
		if (from < 0) { /* not in the base's arena: run it all */
			r->ncopy = 0;
			return r;
		}
		PUSH(r->copy, r->ncopy).to = to;
		r->copy[r->ncopy - 1].from = from;
		r->copy[r->ncopy - 1].bytes = type_numel(&v->type) * (int64_t)dtype_size(v->type.dt);
	}
	r->base = base;
	r->first = first;
	return r;
}

static void run_sample(Run *r, const float *x)
{
	for (int i = 0; i < r->ncopy; i++)
		memcpy(r->arena + r->copy[i].to, r->base->arena + r->copy[i].from, (size_t)r->copy[i].bytes);
	const float *in[1] = {x};
	float *out[1] = {r->y};
	prog_run_from(r->p, r->first, in, out, r->arena);
}

static double noise(const float *ref, const float *y, int64_t n)
{
	double e2 = 0;
	for (int64_t i = 0; i < n; i++) {
		double e = (double)y[i] - ref[i];
		e2 += e * e;
	}
	return e2;
}

static double db_ratio(double sig, double noise_)
{
	return noise_ == 0 ? INFINITY : 10 * log10(sig / noise_);
}

static void db(FILE *f, const char *fmt_, double v, bool json)
{
	char buf[32];
	if (isinf(v))
		snprintf(buf, sizeof buf, json ? "null" : "inf");
	else
		snprintf(buf, sizeof buf, "%.2f", v);
	fprintf(f, fmt_, buf);
}

/* The per-layer table runs (the tail of) the float graph twice per
   layer, on at most this many of the samples (the first ones): all of the
   examples' calibration sets, a bounded cost for larger ones. */
enum { LAYER_SAMPLES = 200 };

/* a JSON string: quotes, backslashes and control characters escaped */
static void jstr(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", *s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static int by_cost(const void *a, const void *b)
{
	const Site *x = *(Site *const *)a, *y = *(Site *const *)b;
	if (x->alone != y->alone)
		return x->alone < y->alone ? -1 : 1; /* the lowest SQNR costs most */
	return x->upto < y->upto ? -1 : x->upto > y->upto;
}

void report_simulation(Graph *fg, Graph *qg, const float *x, int64_t S, const char *what, bool json, FILE *f)
{
	if (fg->noutputs != 1 || qg->noutputs != 1 || fg->ninputs != 1)
		fatal("%s: the simulation report takes single-input, single-output models", fg->name);
	int64_t len = type_numel(&fg->inputs[0]->type), ny1 = type_numel(&fg->outputs[0]->type);
	int npairs;
	fg = float_reference(fg, &npairs);
	float *yq = run_samples(qg, lower(qg, target_find("ref"), qg->name, false), x, S);
	int n;
	Site *s = sites(fg, qg, &n);
	bool *on = alloc_array((size_t)n + 1, sizeof *on);
	for (int i = 0; i < n; i++)
		on[i] = true;
	Run *rf = run_new(fg, NULL), *rs = run_new(configure(fg, s, n, on), NULL);
	/* per layer: alone (from the float run), up to it (from the run up
	   to the layer before) */
	Site **layers = NULL;
	Run **alone = NULL, **upto = NULL;
	int nl = 0, na = 0, nu = 0;
	Run *prev = rf;
	for (int i = 0; i < n; i++) {
		if (!s[i].layer)
			continue;
		memset(on, 0, (size_t)n * sizeof *on);
		on[i] = true;
		PUSH(alone, na) = run_new(configure(fg, s, n, on), rf);
		for (int k = 0; k <= i; k++)
			on[k] = true;
		PUSH(upto, nu) = prev = run_new(configure(fg, s, n, on), prev);
		PUSH(layers, nl) = &s[i];
	}
	int64_t SL = S < LAYER_SAMPLES ? S : LAYER_SAMPLES;
	double sig = 0, sig_l = 0, sig_s = 0, nq = 0, nqs = 0;
	for (int64_t k = 0; k < S; k++) {
		run_sample(rf, x + k * len);
		run_sample(rs, x + k * len);
		double e = 0;
		for (int64_t i = 0; i < ny1; i++) {
			double f0 = rf->y[i], s0 = rs->y[i];
			e += f0 * f0;
			sig_s += s0 * s0;
		}
		sig += e;
		rs->noise += noise(rf->y, rs->y, ny1);
		nq += noise(rf->y, yq + k * ny1, ny1);
		nqs += noise(rs->y, yq + k * ny1, ny1);
		if (k >= SL)
			continue;
		sig_l += e;
		for (int i = 0; i < nl; i++) {
			run_sample(alone[i], x + k * len);
			alone[i]->noise += noise(rf->y, alone[i]->y, ny1);
			run_sample(upto[i], x + k * len);
			upto[i]->noise += noise(rf->y, upto[i]->y, ny1);
		}
	}
	for (int i = 0; i < nl; i++) {
		layers[i]->alone = db_ratio(sig_l, alone[i]->noise);
		layers[i]->upto = db_ratio(sig_l, upto[i]->noise);
	}
	qsort(layers, (size_t)nl, sizeof *layers, by_cost);
	const char *out = qg->outputs[0]->name;
	if (json) {
		fprintf(f, "  \"samples\": %lld,\n  \"data\": ", (long long)S);
		jstr(f, what);
		fprintf(f, ",\n  \"output\": ");
		jstr(f, fmt("%%%s", out));
		fprintf(f, ",\n  \"qdq_pairs_removed\": %d,\n", npairs);
		db(f, "  \"int8_sqnr_db\": %s,\n", db_ratio(sig, nq), true);
		db(f, "  \"simulated_sqnr_db\": %s,\n", db_ratio(sig, rs->noise), true);
		db(f, "  \"int8_vs_simulated_sqnr_db\": %s,\n", db_ratio(sig_s, nqs), true);
		fprintf(f, "  \"layer_samples\": %lld,\n  \"layers\": [", (long long)SL);
		for (int i = 0; i < nl; i++) {
			fprintf(f, "%s\n    {\"layer\": ", i ? "," : "");
			jstr(f, fmt("%%%s", layers[i]->qop->out->name));
			fprintf(f, ", \"op\": \"%s\"", opinfo[layers[i]->qop->kind].name);
			db(f, ", \"alone_sqnr_db\": %s", layers[i]->alone, true);
			db(f, ", \"upto_sqnr_db\": %s}", layers[i]->upto, true);
		}
		fprintf(f, "\n  ]");
		return;
	}
	fprintf(f, "\noutput %%%s over %lld samples (%s), SQNR vs fp32", out, (long long)S, what);
	if (npairs)
		fprintf(f, " (here: the QDQ model with its %d activation quantize/dequantize pairs taken out, "
			   "its weights as given)", npairs);
	fprintf(f, ":\n");
	db(f, "  int8 (integer run)         %8s dB\n", db_ratio(sig, nq), false);
	db(f, "  simulated (fake quant)     %8s dB\n", db_ratio(sig, rs->noise), false);
	db(f, "  int8 vs simulated          %8s dB  (what the integer arithmetic adds)\n", db_ratio(sig_s, nqs), false);
	int w = 6;
	for (int i = 0; i < nl; i++)
		w = (int)fmax(w, (double)strlen(layers[i]->qop->out->name) + 1);
	fprintf(f, "\nper layer, costliest first: output SQNR vs fp32 with only this layer quantized, "
		   "and with every layer up to it (first %lld samples)\n", (long long)SL);
	fprintf(f, "%-*s  %-14s  %10s  %13s\n", w, "layer", "op", "alone (dB)", "up to it (dB)");
	for (int i = 0; i < nl; i++) {
		char name[256];
		snprintf(name, sizeof name, "%%%s", layers[i]->qop->out->name);
		fprintf(f, "%-*s  %-14s", w, name, opinfo[layers[i]->qop->kind].name);
		db(f, "  %10s", layers[i]->alone, false);
		db(f, "  %13s\n", layers[i]->upto, false);
	}
}
