/* Pass 3, quantize: --error-budget DB.  Before the quantize pass rewrites
   anything it chooses, for each conv2d/dense with float weights and no
   wbits of its own, 4-bit or 8-bit weights: as few weight bytes as it can
   while the output SQNR of the int8 model on the --calib samples,
   10 log10(sum f^2 / sum (q - f)^2) against the float model's outputs f,
   stays at or above DB.

   Every figure is measured, not modelled: a candidate runs the rest of
   the pipeline on a clone of the graph and the integer interpreter over
   the samples.  One run with every layer at 8 bits (the base), one per
   layer with only that layer at 4 bits (its sensitivity: the noise power
   it adds).  Then, in order of added noise per byte saved, each layer
   goes to 4 bits whose noise, summed with the base's and the chosen
   layers', stays in the budget.  The choice is measured once more and,
   while it misses the budget, the last layer chosen goes back to 8 bits.
   Summing noise powers assumes the layers' errors are uncorrelated; the
   final measurement is what decides.  Cost: layers + 2 runs of the
   pipeline over the samples. */
#include "quant.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
	Op *op;
	const char *name; /* its result's name when chosen (fuse renames it) */
	int64_t bytes;   /* saved at 4 bits: half the weights */
	double sqnr4;    /* output SQNR with only this layer at 4 bits */
	double noise;    /* the noise power that adds, over the base */
	int bits;        /* the choice */
} Layer;

struct Choice {
	Layer *l;
	int n;
	double budget, base, final;
};

/* Over the samples, output by output: the float outputs (store), or the
   signal and noise against them. */
typedef struct {
	float *ref;
	int64_t *len, pos;
	double sig, noise;
	bool store;
} Acc;

static void acc_out(void *ctx, int i, const float *x)
{
	Acc *a = ctx;
	for (int64_t k = 0; k < a->len[i]; k++, a->pos++) {
		if (a->store) {
			a->ref[a->pos] = x[k];
			continue;
		}
		double f = a->ref[a->pos], e = (double)x[k] - f;
		a->sig += f * f;
		a->noise += e * e;
	}
}

static Acc acc_new(Graph *g, int64_t S)
{
	Acc a = {0};
	a.len = alloc_array((size_t)g->noutputs, sizeof *a.len);
	int64_t all = 0;
	for (int k = 0; k < g->noutputs; k++)
		all += a.len[k] = type_numel(&g->outputs[k]->type);
	a.ref = alloc_array((size_t)(all * S), sizeof *a.ref);
	return a;
}

static double db(double sig, double noise) { return noise > 0 ? 10 * log10(sig / noise) : INFINITY; }

/* The output SQNR of g quantized with each layer's bits as set, against
   a->ref.  The passes after calibrate run on a clone, with o's flags but
   no budget (no recursion), no dumps and no report. */
static double measure(Graph *g, Options *o, Acc *a, const Layer *l, int nl)
{
	for (int i = 0; i < nl; i++)
		l[i].op->a.wbits = l[i].bits;
	Graph *c = graph_clone(g);
	for (int i = 0; i < nl; i++)
		l[i].op->a.wbits = 0;
	Options co = *o;
	co.error_budget = 0;
	co.dump_after = NULL;
	int k = 0;
	while (k < npasses && passes[k].run != pass_quantize)
		k++;
	for (; k < npasses; k++)
		passes[k].run(c, &co);
	a->pos = 0;
	a->sig = a->noise = 0;
	a->store = false;
	calib_each(c, &co, c->outputs, c->noutputs, acc_out, a);
	return db(a->sig, a->noise);
}

static int by_cost(const void *pa, const void *pb)
{
	const Layer *a = pa, *b = pb;
	double ca = a->noise / (double)a->bytes, cb = b->noise / (double)b->bytes;
	return ca < cb ? -1 : ca > cb;
}

void choose_precision(Graph *g, Options *o)
{
	double budget = o->error_budget;
	if (!o->calib_path)
		fatal("%s: --error-budget needs calibration data (--calib DATA.npy): each choice is measured "
		      "on its samples", g->file ? g->file : g->name);
	Choice *ch = alloc(sizeof *ch);
	ch->budget = budget;
	o->choice = ch;
	for (int i = 0; i < g->nops; i++) {
		Op *op = g->ops[i];
		if ((op->kind != OP_CONV2D && op->kind != OP_DENSE) || op->a.wbits || op->nin < 2 ||
		    op->in[1]->kind != V_CONST || op->in[1]->type.dt != DT_F32)
			continue;
		PUSH(ch->l, ch->n) = (Layer){op, xstrdup(op->out->name), type_numel(&op->in[1]->type) / 2, 0, 0, 8};
	}

	/* the float outputs */
	calib_samples(g, o);
	Graph *f = graph_clone(g);
	Acc a = acc_new(g, o->ncalib);
	a.store = true;
	calib_each(f, o, f->outputs, f->noutputs, acc_out, &a);

	Layer *l = ch->l;
	int n = ch->n;
	ch->base = ch->final = measure(g, o, &a, l, n);
	if (ch->base < budget)
		fatal("%s: --error-budget %g dB cannot be met: with 8-bit weights everywhere the output SQNR "
		      "on the calibration samples is %.2f dB (int16 activations, which could go higher, are "
		      "not implemented)", g->file ? g->file : g->name, budget, ch->base);
	double sig = a.sig, nbase = sig / pow(10, ch->base / 10);
	for (int i = 0; i < n; i++) {
		l[i].bits = 4;
		l[i].sqnr4 = measure(g, o, &a, l, n);
		l[i].bits = 8;
		l[i].noise = fmax(sig / pow(10, l[i].sqnr4 / 10) - nbase, 0);
	}
	qsort(l, (size_t)n, sizeof *l, by_cost);
	/* in that order, every layer whose noise still fits; a layer that does
	   not fit is passed over, a cheaper one after it may */
	double allowed = sig / pow(10, budget / 10), total = nbase;
	int *picked = alloc_array((size_t)n + 1, sizeof *picked), np = 0;
	for (int i = 0; i < n; i++)
		if (total + l[i].noise <= allowed)
			total += l[i].noise, l[i].bits = 4, picked[np++] = i;
	while ((ch->final = measure(g, o, &a, l, n)) < budget && np > 0)
		l[picked[--np]].bits = 8;
	for (int i = 0; i < n; i++)
		l[i].op->a.wbits = l[i].bits;
}

void report_precision(const Options *o, FILE *f)
{
	const Choice *ch = o->choice;
	if (!ch)
		return;
	int64_t saved = 0, all = 0;
	int w = 5;
	for (int i = 0; i < ch->n; i++) {
		saved += ch->l[i].bits == 4 ? ch->l[i].bytes : 0;
		all += 2 * ch->l[i].bytes;
		w = (int)fmax(w, (double)strlen(ch->l[i].name) + 1);
	}
	if (o->report_json) {
		fprintf(f, "  \"precision\": {\"budget_db\": %g, \"base_db\": %.4f, \"final_db\": %.4f, "
			"\"layers\": [", ch->budget, ch->base, ch->final);
		for (int i = 0; i < ch->n; i++)
			fprintf(f, "%s\n    {\"layer\": \"%s\", \"bits\": %d, \"weights\": %lld, \"sqnr_if_4_db\": %.4f}",
				i ? "," : "", ch->l[i].name, ch->l[i].bits, (long long)(2 * ch->l[i].bytes), ch->l[i].sqnr4);
		fprintf(f, "]}");
		return;
	}
	/* 4-bit weights are packed two per byte (codegen/select.c) */
	fprintf(f, "precision (--error-budget %g dB): output SQNR %.2f dB with 8-bit weights, %.2f dB as chosen; "
		"conv/dense weights %lld bytes at 8 bits, %lld as chosen (4-bit weights two per byte)\n",
		ch->budget, ch->base, ch->final, (long long)all, (long long)(all - saved));
	/* in the order they were considered: least added noise per byte first */
	fprintf(f, "%-*s  %4s  %10s  %14s  %s\n", w, "layer", "bits", "bytes at 8", "SQNR if 4 (dB)", "why");
	for (int i = 0; i < ch->n; i++) {
		const Layer *l = &ch->l[i];
		const char *why = l->bits == 4 ? "its noise fits the budget" : "its noise would not fit";
		fprintf(f, "%%%-*s  %4d  %10lld  %14.2f  %s\n", w - 1, l->name, l->bits, (long long)(2 * l->bytes),
			l->sqnr4, why);
	}
}
