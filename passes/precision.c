/* Pass 3, quantize: --error-budget DB, automatic mixed precision.  Before
   the quantize pass rewrites anything it chooses, for each conv2d/dense
   with float weights, its weight bits (4 or 8) and the bits of the
   activation it reads (8 or 16), so that the output SQNR of the integer
   model on the --calib samples, 10 log10(sum f^2 / sum (q - f)^2)
   against the float model's outputs f, stays at or above DB, with as
   few weight bytes (--optimize size, the default) or as little modelled
   latency (--optimize speed) as it can.  An op's own wbits or abits
   attribute is kept (users who know better).

   Every SQNR is measured, not modelled: a candidate runs the rest of the
   pipeline on a clone of the graph and the integer interpreter over the
   samples.  One run with every layer at w8a8 (the base); per layer, one
   with only that layer at each other choice it may take (its effect: the
   noise power it adds, negative for int16 activations).  The choice
   assumes these effects add up (uncorrelated errors), then the whole
   choice is measured and repaired until the measurement meets the
   budget.  Cost: up to 3 runs of the pipeline per layer, plus a few.

   --optimize size: every layer that can read int16 starts at a16 (free in
   bytes), then in order of added noise per byte saved each layer goes to
   4-bit weights while the sum fits; then, in order of added noise per
   MAC, layers go back to int8 activations (faster) while it still fits.
   --optimize speed: every layer starts at w8a8 (the fastest: 4-bit
   weights are unpacked, which costs time); while the sum misses the
   budget, the layer whose int16 activations remove the most noise per
   MAC goes to a16.  Latency is modelled as MACs x (2 at a16, 1.05 with
   4-bit weights): the kernels' multiply-adds per instruction. */
#include "quant.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { C88, C48, C816, C416, NC }; /* w8a8, w4a8, w8a16, w4a16 */
static const int wb[NC] = {8, 4, 8, 4}, ab[NC] = {8, 8, 16, 16};

typedef struct {
	Op *op;
	const char *name; /* its result's name when chosen (fuse renames it) */
	int64_t bytes;    /* weight bytes at 8 bits */
	int64_t macs;
	bool can[NC];     /* choices it may take (attributes, int16 producer, int32 bound) */
	double sqnr[NC];  /* output SQNR with only this layer at each choice */
	double noise[NC]; /* the noise power that adds over the base (< 0: removes) */
	int c;            /* the choice */
	const char *why;
	int *feeds, nfeeds; /* the layers that read this one's result */
} Layer;

struct Choice {
	Layer *l;
	int n;
	double budget, base, final;
	bool speed;
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

/* The output SQNR of g quantized with each layer's choice, against
   a->ref.  The passes after calibrate run on a clone, with o's flags but
   no budget (no recursion), no dumps and no report. */
static double measure(Graph *g, Options *o, Acc *a, Layer *l, int nl)
{
	int *keep = alloc_array((size_t)nl * 2 + 1, sizeof *keep);
	for (int i = 0; i < nl; i++)
		keep[2 * i] = l[i].op->a.wbits, keep[2 * i + 1] = l[i].op->a.abits;
	for (int i = 0; i < nl; i++)
		l[i].op->a.wbits = wb[l[i].c], l[i].op->a.abits = ab[l[i].c];
	Graph *c = graph_clone(g);
	for (int i = 0; i < nl; i++)
		l[i].op->a.wbits = keep[2 * i], l[i].op->a.abits = keep[2 * i + 1];
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

/* Can v be written as int16?  Its producer, through the ops that carry
   an int16 value on (relu, relu6, clip, reshape, flatten, maxpool2d), is a conv2d/dense or the graph input's quantize
   (passes/quantize.c, want16). */
static const Value *carried(const Value *v)
{
	while (v->def && (v->def->kind == OP_RELU || v->def->kind == OP_RELU6 || v->def->kind == OP_CLIP ||
			  v->def->kind == OP_RESHAPE || v->def->kind == OP_FLATTEN || v->def->kind == OP_MAXPOOL))
		v = v->def->in[0];
	return v;
}

static bool int16_source(const Value *v)
{
	v = carried(v);
	if (!v->def)
		return v->kind != V_CONST && v->type.dt == DT_F32;
	return (v->def->kind == OP_CONV2D || v->def->kind == OP_DENSE) && v->def->in[1]->kind == V_CONST &&
	       v->def->in[1]->type.dt == DT_F32;
}

/* A bound on the int32 accumulator of op reading int16 (check_acc in
   qconst.c refuses what passes it): per output channel,
   32768 * sum(|w| / s + 1/2) + 2 |b| / (sx s) + 1 with s = max|w| / qmax
   the per-channel scale (coarser scales only shrink the integers) and
   sx = max|x| / 32767 the input's scale. */
static bool int32_fits(Op *op, int qmax)
{
	Value *x = op->in[0], *w = op->in[1];
	if (!x->has_range)
		return false;
	double t = fmax(fabs(x->lo), fabs(x->hi)), sx = t > 0 ? t / 32767 : 1;
	double *r = const_real(op, w), *b = op->nin > 2 && op->in[2] ? const_real(op, op->in[2]) : NULL;
	int64_t nc = w->type.dims[0], k = type_numel(&w->type) / nc;
	for (int64_t c = 0; c < nc; c++) {
		double m = 0, sum = 0;
		for (int64_t j = 0; j < k; j++)
			m = fmax(m, fabs(r[c * k + j]));
		if (m == 0)
			continue;
		double s = m / qmax;
		for (int64_t j = 0; j < k; j++)
			sum += fabs(r[c * k + j]) / s + 0.5;
		double bound = 32768 * sum + (b ? 2 * fabs(b[c]) / (sx * s) : 0) + 1;
		if (bound > INT32_MAX)
			return false;
	}
	return true;
}

static double latency(const Layer *l, int c) { return (double)l->macs * (ab[c] == 16 ? 2 : 1) * (wb[c] == 4 ? 1.05 : 1); }
/* A layer's 4-bit weights are packed two per byte only where it runs the
   int8 kernels: neither reads int16 nor writes int16 for a layer that
   reads it (the a16 kernels read one weight per byte; codegen/select.c). */
static bool packed(const Layer *l, const Layer *all)
{
	if (wb[l->c] != 4 || ab[l->c] == 16)
		return false;
	for (int j = 0; j < l->nfeeds; j++)
		if (ab[all[l->feeds[j]].c] == 16)
			return false;
	return true;
}

static double bytes(const Layer *l, const Layer *all) { return packed(l, all) ? (double)l->bytes / 2 : (double)l->bytes; }

static double cost(const Layer *l, int n, bool speed)
{
	double b = 0, t = 0;
	for (int i = 0; i < n; i++)
		b += bytes(&l[i], l), t += latency(&l[i], l[i].c);
	/* size: bytes first, latency to break ties */
	return speed ? t : b + 1e-6 * t;
}

typedef struct {
	int i, to, from;
} Move;

/* The move that removes the most predicted noise per unit of cost added
   (latency, or bytes for size): int16 activations, or 8-bit weights
   again (size).  -1 when no move removes noise. */
static Move best_move(Layer *l, int n, bool speed)
{
	Move m = {-1, 0, 0};
	double best = 0, c0 = cost(l, n, speed);
	for (int i = 0; i < n; i++) {
		int c = l[i].c;
		int to[2] = {ab[c] == 8 ? c | 2 : -1, !speed && wb[c] == 4 ? c & ~1 : -1};
		for (int k = 0; k < 2; k++) {
			int d = to[k];
			if (d < 0 || !l[i].can[d] || !(l[i].noise[d] < l[i].noise[c]))
				continue;
			l[i].c = d;
			double dc = cost(l, n, speed) - c0;
			l[i].c = c;
			double v = (l[i].noise[c] - l[i].noise[d]) / fmax(dc, 1e-9);
			if (m.i < 0 || v > best)
				m = (Move){i, d, c}, best = v;
		}
	}
	return m;
}

/* A move changes one of a layer's two bit widths (C88 ... C416 are the
   bits w4 = 1, a16 = 2), whatever the other is, if the layer can take
   the result. */
static void apply(Layer *l, Move m)
{
	int mask = m.to ^ m.from, c = (l->c & ~mask) | (m.to & mask);
	if (l->can[c])
		l->c = c;
}

/* the start with the moves of seq marked in `in` applied */
static void set_subset(Layer *l, int n, const int *start, const Move *seq, int ns, const bool *in)
{
	for (int i = 0; i < n; i++)
		l[i].c = start[i];
	for (int j = 0; j < ns; j++)
		if (in[j])
			apply(&l[seq[j].i], seq[j]);
}

/* ... measured */
static double subset(Graph *g, Options *o, Acc *a, Layer *l, int n, const int *start, const Move *seq, int ns,
		     const bool *in)
{
	set_subset(l, n, start, seq, ns, in);
	return measure(g, o, a, l, n);
}

/* the start with the first k moves applied, measured */
static double prefix(Graph *g, Options *o, Acc *a, Layer *l, int n, const int *start, const Move *seq, int k)
{
	for (int i = 0; i < n; i++)
		l[i].c = start[i];
	for (int j = 0; j < k; j++)
		apply(&l[seq[j].i], seq[j]);
	return measure(g, o, a, l, n);
}

void choose_precision(Graph *g, Options *o)
{
	double budget = o->error_budget;
	const char *file = g->file ? g->file : g->name;
	if (!o->calib_path)
		fatal("%s: --error-budget needs calibration data (--calib DATA.npy): each choice is measured "
		      "on its samples", file);
	Choice *ch = alloc(sizeof *ch);
	ch->budget = budget;
	ch->speed = o->optimize_speed;
	o->choice = ch;
	for (int i = 0; i < g->nops; i++) {
		Op *op = g->ops[i];
		if ((op->kind != OP_CONV2D && op->kind != OP_DENSE) || op->nin < 2 || op->in[1]->kind != V_CONST ||
		    op->in[1]->type.dt != DT_F32 || (op->a.wbits && op->a.abits))
			continue;
		Layer L = {op, xstrdup(op->out->name), type_numel(&op->in[1]->type), 0, {0}, {0}, {0}, C88, "", NULL, 0};
		L.macs = type_numel(&op->out->type) * (L.bytes / op->in[1]->type.dims[0]);
		bool a16 = op->a.abits != 8 && int16_source(op->in[0]);
		for (int c = 0; c < NC; c++)
			L.can[c] = (!op->a.wbits || op->a.wbits == wb[c]) && (!op->a.abits || op->a.abits == ab[c]) &&
				   (ab[c] == 8 || (a16 && int32_fits(op, wb[c] == 4 ? 7 : 127)));
		/* a pinned layer starts at its own bits */
		L.c = op->a.wbits == 4 ? (op->a.abits == 16 ? C416 : C48) : op->a.abits == 16 ? C816 : C88;
		if (L.can[C88] || L.can[C48] || L.can[C816] || L.can[C416])
			PUSH(ch->l, ch->n) = L;
	}

	/* who reads whose result (through the ops that carry int16 on) */
	for (int j = 0; j < ch->n; j++) {
		const Value *v = carried(ch->l[j].op->in[0]);
		for (int i = 0; i < ch->n; i++)
			if (v->def == ch->l[i].op) {
				if (!ch->l[i].feeds)
					ch->l[i].feeds = alloc_array((size_t)ch->n, sizeof *ch->l[i].feeds);
				ch->l[i].feeds[ch->l[i].nfeeds++] = j;
			}
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
	double sig = a.sig, nbase = sig / pow(10, ch->base / 10);
	for (int i = 0; i < n; i++) {
		int keep = l[i].c;
		l[i].sqnr[keep] = ch->base;
		for (int c = 0; c < NC; c++) {
			if (!l[i].can[c] || c == keep)
				continue;
			l[i].c = c;
			l[i].sqnr[c] = measure(g, o, &a, l, n);
			l[i].noise[c] = sig / pow(10, l[i].sqnr[c] / 10) - nbase;
		}
		/* effects relative to the pinned start */
		l[i].c = keep;
	}

	/* Start at the cheapest choice each layer may take (size: 4-bit
	   weights, int8 activations; speed: w8a8), then upgrade: the moves in
	   the order the predicted effects rank them (removed noise per cost
	   added), all of them.  The prediction orders, measurements decide:
	   the shortest prefix that meets the budget (bisection), then each of
	   its moves undone where the whole still meets it. */
	int *start = alloc_array((size_t)n + 1, sizeof *start);
	for (int i = 0; i < n; i++) {
		if (!ch->speed && l[i].can[l[i].c | 1] && !(l[i].c & 2))
			l[i].c |= 1;
		start[i] = l[i].c;
	}
	Move *seq = alloc_array((size_t)(2 * n + 1), sizeof *seq);
	int ns = 0;
	for (Move m; (m = best_move(l, n, ch->speed)).i >= 0;)
		l[m.i].c = m.to, seq[ns++] = m;
	int lo = 0, hi = ns, k;
	if (prefix(g, o, &a, l, n, start, seq, ns) < budget)
		lo = -1;
	while (lo >= 0 && lo < hi) {
		k = (lo + hi) / 2;
		if (prefix(g, o, &a, l, n, start, seq, k) >= budget)
			hi = k;
		else
			lo = k + 1;
	}
	k = lo;
	if (k >= 0) {
		bool *in = alloc_array((size_t)ns + 1, sizeof *in);
		for (int j = 0; j < ns; j++)
			in[j] = j < k;
		/* undo a move where that makes the model cheaper and the whole
		   still meets the budget */
		for (int j = k - 1; j >= 0; j--) {
			set_subset(l, n, start, seq, ns, in);
			double with = cost(l, n, ch->speed);
			in[j] = false;
			set_subset(l, n, start, seq, ns, in);
			if (!(cost(l, n, ch->speed) < with) || subset(g, o, &a, l, n, start, seq, ns, in) < budget)
				in[j] = true;
		}
		ch->final = subset(g, o, &a, l, n, start, seq, ns, in);
	} else {
		ch->final = prefix(g, o, &a, l, n, start, seq, ns);
	}
	if (ch->final < budget)
		fatal("%s: --error-budget %g dB cannot be met: the output SQNR on the calibration samples is "
		      "%.2f dB with 8-bit weights and activations, and %.2f dB with int16 activations where they "
		      "help (docs/precision.md)", file, budget, ch->base, ch->final);
	for (int i = 0; i < n; i++) {
		Layer *x = &l[i];
		bool a16 = ab[x->c] == 16, w4 = wb[x->c] == 4;
		if (x->op->a.wbits && x->op->a.abits)
			x->why = "pinned by its attributes";
		else if (a16)
			x->why = "int16 activations: needed for the budget";
		else if (w4)
			x->why = packed(x, l) ? "4-bit weights: the budget allows them"
					      : "4-bit weights (one per byte: an int16 reader)";
		else if (!ch->speed && x->can[x->c | 1])
			x->why = "8-bit weights: needed for the budget";
		else
			x->why = ch->speed ? "w8a8: the fastest" : "w8a8";
		x->op->a.wbits = wb[x->c];
		x->op->a.abits = ab[x->c];
	}
}

void report_precision(const Options *o, FILE *f)
{
	const Choice *ch = o->choice;
	if (!ch)
		return;
	int64_t w8 = 0, wc = 0;
	double lat8 = 0, latc = 0;
	int w = 5;
	for (int i = 0; i < ch->n; i++) {
		const Layer *l = &ch->l[i];
		w8 += l->bytes, wc += (int64_t)bytes(l, ch->l);
		lat8 += latency(l, C88), latc += latency(l, l->c);
		w = (int)fmax(w, (double)strlen(l->name) + 1);
	}
	const char *opt = ch->speed ? "speed" : "size";
	if (o->report_json) {
		fprintf(f, "  \"precision\": {\"budget_db\": %g, \"optimize\": \"%s\", \"base_db\": %.4f, "
			"\"final_db\": %.4f, \"weight_bytes_w8\": %lld, \"weight_bytes\": %lld, "
			"\"latency_vs_w8a8\": %.4f, \"layers\": [", ch->budget, opt, ch->base, ch->final,
			(long long)w8, (long long)wc, lat8 > 0 ? latc / lat8 : 1);
		for (int i = 0; i < ch->n; i++) {
			const Layer *l = &ch->l[i];
			fprintf(f, "%s\n    {\"layer\": \"%s\", \"wbits\": %d, \"abits\": %d, \"weights\": %lld, "
				"\"macs\": %lld", i ? "," : "", l->name, wb[l->c], ab[l->c], (long long)l->bytes,
				(long long)l->macs);
			static const char *key[NC] = {"sqnr_w8a8_db", "sqnr_w4a8_db", "sqnr_w8a16_db", "sqnr_w4a16_db"};
			for (int c = 0; c < NC; c++)
				if (l->can[c])
					fprintf(f, ", \"%s\": %.4f", key[c], l->sqnr[c]);
			fprintf(f, ", \"why\": \"%s\"}", l->why);
		}
		fprintf(f, "]}");
		return;
	}
	fprintf(f, "precision (--error-budget %g dB, --optimize %s): output SQNR %.2f dB at w8a8, %.2f dB as "
		"chosen; conv/dense weights %lld bytes at 8 bits, %lld as chosen; modelled latency %.2fx w8a8\n",
		ch->budget, opt, ch->base, ch->final, (long long)w8, (long long)wc, lat8 > 0 ? latc / lat8 : 1);
	fprintf(f, "%-*s  %5s  %5s  %10s  %10s  %-29s  %s\n", w, "layer", "wbits", "abits", "weights",
		"MACs", "SQNR alone w4a8/w8a16/w4a16", "why");
	for (int i = 0; i < ch->n; i++) {
		const Layer *l = &ch->l[i];
		char s[3][16];
		for (int c = 1; c < NC; c++)
			snprintf(s[c - 1], sizeof s[0], l->can[c] ? "%.2f" : "-", l->sqnr[c]);
		fprintf(f, "%%%-*s  %5d  %5d  %10lld  %10lld  %-29s  %s\n", w - 1, l->name, wb[l->c], ab[l->c],
			(long long)bytes(l, ch->l), (long long)l->macs, fmt("%s / %s / %s dB", s[0], s[1], s[2]),
			l->why);
	}
}
