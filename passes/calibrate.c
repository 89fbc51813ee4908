/* calibrate: a real range [lo, hi] for every float activation.
   First the ranges fixed by the model itself: a quantize gives its
   operand the range of its integer type, a dequantize its result; relu6
   is [0, 6] and clip [min, max]; these spread through ops that keep or
   clamp values (docs/calibration.md, "Fixed ranges").  If tensors remain,
   the fp32 interpreter runs the --calib samples twice: once for min, max
   and max |x| per tensor, once for a histogram of |x| over [0, max |x|]
   (CAL_BINS bins); the method then picks the threshold T
   (passes/histogram.c).  Also here: the --report table (report_sqnr). */
#include "ir.h"
#include "codegen/lower.h"

#include <math.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* dequantize(@const) is a weight, not an activation. */
static bool is_weight(const Value *v)
{
	return v->kind == V_TEMP && v->def->kind == OP_DEQUANTIZE && v->def->in[0]->kind == V_CONST;
}

static bool is_act(const Value *v)
{
	return v->kind != V_CONST && v->type.dt == DT_F32 && !is_weight(v);
}

static bool fixed(const Value *v) { return v->has_range && v->fixed_range; }

static bool set_fixed(Value *v, double lo, double hi)
{
	if (v->has_range || !is_act(v))
		return false; /* a range already there (a dump, the model, a test) stays */
	v->has_range = v->fixed_range = true;
	v->lo = lo;
	v->hi = hi;
	return true;
}

/* The real range of integer type dt under q: scale * (qmin - zp) to
   scale * (qmax - zp), the widest over the channels. */
static void quant_range(const Quant *q, Dtype dt, double *lo, double *hi)
{
	*lo = INFINITY;
	*hi = -INFINITY;
	for (int i = 0; i < q->n; i++) {
		double a = q->scale[i] * (double)(dtype_min(dt) - q->zp[i]);
		double b = q->scale[i] * (double)(dtype_max(dt) - q->zp[i]);
		*lo = fmin(*lo, a);
		*hi = fmax(*hi, b);
	}
}

static bool is_graph_output(Graph *g, const Value *v)
{
	for (int i = 0; i < g->noutputs; i++)
		if (g->outputs[i] == v)
			return true;
	return false;
}

/* Ops through which a range travels forward unchanged (a subset of the
   operand's range) or backward (the op only clamps or moves values, so
   saturating its operand at the result's range changes nothing). */
static bool keeps_range(OpKind k)
{
	return k == OP_MAXPOOL || k == OP_AVGPOOL || k == OP_GAVGPOOL || k == OP_RESHAPE ||
	       k == OP_FLATTEN || k == OP_CONCAT || k == OP_RELU || k == OP_PAD || k == OP_TRANSPOSE;
}

static bool clamps(const Op *op)
{
	OpKind k = op->kind;
	return k == OP_RELU || k == OP_RELU6 || k == OP_CLIP || k == OP_MAXPOOL || k == OP_RESHAPE ||
	       k == OP_FLATTEN || k == OP_TRANSPOSE;
}

static bool forward(Op *op)
{
	if (!keeps_range(op->kind) || op->out->has_range)
		return false;
	double lo = INFINITY, hi = -INFINITY;
	for (int i = 0; i < op->nin; i++) {
		if (!fixed(op->in[i]))
			return false;
		lo = fmin(lo, op->in[i]->lo);
		hi = fmax(hi, op->in[i]->hi);
	}
	if (op->kind == OP_RELU) {
		lo = fmax(lo, 0);
		hi = fmax(hi, 0);
	}
	if (op->kind == OP_PAD) {
		lo = fmin(lo, op->a.value);
		hi = fmax(hi, op->a.value);
	}
	return set_fixed(op->out, lo, hi);
}

/* v is only read by clamping ops whose results have fixed ranges. */
static bool backward(Graph *g, Value *v)
{
	if (v->has_range || !is_act(v) || is_graph_output(g, v))
		return false;
	double lo = INFINITY, hi = -INFINITY;
	int uses = 0;
	for (int i = 0; i < g->nops; i++) {
		Op *op = g->ops[i];
		for (int j = 0; j < op->nin; j++) {
			if (op->in[j] != v)
				continue;
			if (j != 0 || !clamps(op) || !fixed(op->out))
				return false;
			lo = fmin(lo, op->out->lo);
			hi = fmax(hi, op->out->hi);
			uses++;
		}
	}
	return uses > 0 && set_fixed(v, lo, hi);
}

static void fix_ranges(Graph *g)
{
	for (int i = 0; i < g->nops; i++) {
		Op *op = g->ops[i];
		double lo, hi;
		switch (op->kind) {
		case OP_QUANTIZE:
			quant_range(&op->a.q, op->out->type.dt, &lo, &hi);
			set_fixed(op->in[0], lo, hi);
			break;
		case OP_DEQUANTIZE:
			if (op->in[0]->kind != V_CONST) {
				quant_range(&op->a.q, op->in[0]->type.dt, &lo, &hi);
				set_fixed(op->out, lo, hi);
			}
			break;
		case OP_RELU6:
			set_fixed(op->out, 0, 6);
			break;
		case OP_CLIP:
			if (isfinite(op->a.min) && isfinite(op->a.max) && op->a.min < op->a.max)
				set_fixed(op->out, op->a.min, op->a.max);
			break;
		default:
			break;
		}
	}
	for (bool changed = true; changed;) {
		changed = false;
		for (int i = 0; i < g->nops; i++)
			changed |= forward(g->ops[i]);
		for (int i = g->nops; i-- > 0;)
			changed |= backward(g, g->ops[i]->out);
		for (int i = 0; i < g->ninputs; i++)
			changed |= backward(g, g->inputs[i]);
	}
}

/* ---- running the fp32 interpreter over the samples ---- */

/* The samples of --calib: S inputs of g's single input. */
static float *load_samples(Graph *g, const char *path, int64_t *S)
{
	if (g->ninputs != 1)
		fatal("%s: calibration needs a single-input model; %s has %d inputs", path, g->name, g->ninputs);
	const Value *x = g->inputs[0];
	const Type *in = &x->type;
	Type got = {0};
	float *d = npy_read(path, NULL, &got);
	/* [S, dims of the input without its batch dim of 1], or [S, dims] */
	int skip = in->rank > 0 && in->dims[0] == 1 && got.rank == in->rank ? 1 : 0;
	bool ok = got.dt == DT_F32 && got.rank == in->rank + 1 - skip && got.rank > 0 && got.dims[0] > 0;
	for (int i = skip; ok && i < in->rank; i++)
		ok = got.dims[i + 1 - skip] == in->dims[i];
	if (!ok) {
		char want[256] = "[S";
		for (int i = in->rank > 0 && in->dims[0] == 1 ? 1 : 0; i < in->rank && strlen(want) < 200; i++)
			snprintf(want + strlen(want), sizeof want - strlen(want), ", %lld", (long long)in->dims[i]);
		fatal("%s: calibration data is %s but the model input %%%s is %s: expected f32%s] (S samples)",
		      path, type_str(&got), x->name, type_str(in), want);
	}
	*S = got.dims[0];
	return d;
}

typedef struct {
	Prog *p;
	char *arena;
	float **out;
	const float *in;
} Runner;

static Runner runner(Graph *g)
{
	const Target *t = target_find("ref");
	if (!t)
		die("no ref target");
	graph_number(g);
	Runner r = {0};
	r.p = lower(g, t, g->name, true);
	uintptr_t a = (uintptr_t)alloc((size_t)r.p->arena_size + 64);
	r.arena = (char *)((a + 63) & ~(uintptr_t)63);
	r.out = alloc_array((size_t)r.p->nout + 1, sizeof *r.out);
	for (int k = 0; k < r.p->nout; k++)
		r.out[k] = alloc_array((size_t)type_numel(&r.p->out_f[k].v->type), sizeof(float));
	return r;
}

static void run(Runner *r, const float *x)
{
	const float *in[1] = {x};
	r->in = x;
	prog_run(r->p, in, r->out, r->arena);
}

/* Where v's elements are after run(), or NULL if the program has not
   kept them. */
static const void *tensor(const Runner *r, const Value *v)
{
	const Prog *p = r->p;
	for (int k = 0; k < p->nin; k++)
		if (p->in_f[k].v == v)
			return r->in;
	for (int k = 0; k < p->nout; k++)
		if (p->out_f[k].v == v)
			return r->out[k];
	int id = v->id;
	if (id < 0 || id >= p->nvals || p->vals[id] != v)
		for (id = 0; id < p->nvals && p->vals[id] != v; id++)
			;
	if (id >= p->nvals || p->val_off[id] < 0)
		return NULL;
	return r->arena + p->val_off[id];
}

typedef struct {
	Value *v;
	int64_t n;
	double min, max, amax;
	double *bins;
} Stat;

/* Adds the finite elements of x to st's min, max and max |x|.  In
   float, with plain compares that compilers vectorize (fmin and fmax are
   calls to libm); a tie keeps the newer value, as x86-64's fmin (minsd)
   did here before. */
static void minmax(Stat *st, const float *x)
{
	float lo = INFINITY, hi = -INFINITY;
	for (int64_t k = 0; k < st->n; k++) {
		float e = x[k];
		bool fin = e - e == 0.0f; /* false for inf and NaN */
		lo = fin && !(lo < e) ? e : lo;
		hi = fin && !(hi > e) ? e : hi;
	}
	if (!(lo <= hi))
		return; /* nothing finite */
	st->min = st->min < lo ? st->min : lo;
	st->max = st->max > hi ? st->max : hi;
	double a = fabs((double)lo) > fabs((double)hi) ? fabs((double)lo) : fabs((double)hi);
	st->amax = st->amax > a ? st->amax : a;
}

/* Progress of the runs over the samples, on stderr when it is a
   terminal (never in pipes, logs or tests): samples done and the rate,
   at most ten times a second; the line is erased when done. */
typedef struct {
	bool on;
	const char *what;
	double start, last;
} Progress;

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static Progress progress_begin(const char *what)
{
	Progress p = {.on = isatty(2), .what = what};
	p.start = p.last = now();
	return p;
}

static void progress(Progress *p, int64_t done, int64_t total)
{
	if (!p->on)
		return;
	double t = now();
	if (done < total && t - p->last < 0.1)
		return;
	p->last = t;
	if (done == total) {
		fputs("\r\033[K", stderr);
		return;
	}
	fprintf(stderr, "\r\033[Kcalibrate: %s: %lld/%lld samples, %.0f samples/s", p->what, (long long)done,
		(long long)total, t > p->start ? (double)done / (t - p->start) : 0.0);
}

static void calibrate(Graph *g, Options *o, Stat *st, int ns)
{
	int64_t S;
	float *data = load_samples(g, o->calib_path, &S);
	o->calib_data = data;
	o->ncalib = S;
	int64_t len = type_numel(&g->inputs[0]->type);
	Runner r = runner(g);
	for (int i = 0; i < ns; i++) {
		st[i].n = type_numel(&st[i].v->type);
		st[i].min = INFINITY;
		st[i].max = -INFINITY;
	}
	bool hist = o->calib != CAL_MAX;
	Progress pr = progress_begin(hist ? "ranges (1/2)" : "ranges");
	for (int64_t s = 0; s < S; s++) {
		progress(&pr, s, S);
		run(&r, data + s * len);
		for (int i = 0; i < ns; i++) {
			const float *x = tensor(&r, st[i].v);
			if (!x)
				die("calibrate: %%%s is not kept by the interpreter", st[i].v->name);
			minmax(&st[i], x);
		}
	}
	progress(&pr, S, S);
	if (hist) {
		for (int i = 0; i < ns; i++)
			st[i].bins = alloc_array(CAL_BINS, sizeof *st[i].bins);
		pr = progress_begin("histograms (2/2)");
		for (int64_t s = 0; s < S; s++) {
			progress(&pr, s, S);
			run(&r, data + s * len);
			for (int i = 0; i < ns; i++)
				hist_add(st[i].bins, CAL_BINS, st[i].amax, tensor(&r, st[i].v), st[i].n);
		}
		progress(&pr, S, S);
	}
	double pct = o->percentile > 0 ? o->percentile : 99.99;
	for (int i = 0; i < ns; i++) {
		Value *v = st[i].v;
		v->has_range = true;
		v->fixed_range = false;
		if (!(st[i].amax > 0)) {
			/* all zeros (or nothing finite): any scale is exact */
			v->lo = 0;
			v->hi = 1;
		} else if (o->calib == CAL_MAX) {
			v->lo = st[i].min;
			v->hi = st[i].max;
		} else {
			double T = hist_threshold(o->calib, st[i].bins, CAL_BINS, st[i].amax, pct);
			if (!(T > 0))
				T = st[i].amax;
			v->lo = st[i].min < 0 ? -T : 0;
			v->hi = T;
		}
	}
}

const float *calib_samples(Graph *g, Options *o)
{
	if (!o->calib_data) {
		if (!o->calib_path)
			die("calib_samples without --calib");
		o->calib_data = load_samples(g, o->calib_path, &o->ncalib);
	}
	return o->calib_data;
}

void calib_each(Graph *g, Options *o, Value **vs, int n, void (*fn)(void *ctx, int i, const float *x),
		void *ctx)
{
	const float *data = calib_samples(g, o);
	int64_t len = type_numel(&g->inputs[0]->type);
	Runner r = runner(g);
	for (int64_t s = 0; s < o->ncalib; s++) {
		run(&r, data + s * len);
		for (int i = 0; i < n; i++) {
			const float *x = tensor(&r, vs[i]);
			if (!x)
				die("calib_each: %%%s is not kept by the interpreter", vs[i]->name);
			fn(ctx, i, x);
		}
	}
}

void pass_calibrate(Graph *g, Options *o)
{
	if (o->calib == CAL_PERCENTILE && o->percentile != 0 && !(o->percentile > 0 && o->percentile <= 100))
		fatal("--percentile %g: must be in (0, 100]", o->percentile);
	fix_ranges(g);
	Stat *st = NULL;
	int ns = 0;
	for (int i = 0; i < g->ninputs; i++)
		if (is_act(g->inputs[i]) && !g->inputs[i]->has_range)
			PUSH(st, ns) = (Stat){.v = g->inputs[i]};
	for (int i = 0; i < g->nops; i++)
		if (is_act(g->ops[i]->out) && !g->ops[i]->out->has_range)
			PUSH(st, ns) = (Stat){.v = g->ops[i]->out};
	if (ns == 0)
		return;
	if (!o->calib_path) {
		char shape[256] = "S";
		if (g->ninputs == 1) {
			const Type *t = &g->inputs[0]->type;
			for (int i = t->rank > 0 && t->dims[0] == 1 ? 1 : 0; i < t->rank && strlen(shape) < 200; i++)
				snprintf(shape + strlen(shape), sizeof shape - strlen(shape), ", %lld", (long long)t->dims[i]);
		} else {
			strcpy(shape, "S, ...");
		}
		fatal("%s needs calibration data: pass --calib DATA.npy (f32, shape [%s]); %d activation "
		      "tensors (first %%%s) have no range fixed by quantize/dequantize pairs, clip or relu6",
		      g->file ? g->file : g->name, shape, ns, st[0].v->name);
	}
	calibrate(g, o, st, ns);
}

/* ---- the --report table ---- */

typedef struct {
	Value *q, *f;
	double sig, noise;
} Row;

/* Element k of an integer or float tensor, dequantized with q. */
static double real_at(const Value *v, const void *d, int64_t k)
{
	const Type *t = &v->type;
	double x;
	switch (t->dt) {
	case DT_F32: return ((const float *)d)[k];
	case DT_I8: x = ((const int8_t *)d)[k]; break;
	case DT_U8: x = ((const uint8_t *)d)[k]; break;
	case DT_I16: x = ((const int16_t *)d)[k]; break;
	case DT_I32: x = ((const int32_t *)d)[k]; break;
	default: die("real_at: dtype %d", (int)t->dt);
	}
	const Quant *q = t->q;
	int c = 0;
	if (q->n > 1 && q->axis >= 0 && q->axis < t->rank) {
		int64_t inner = 1;
		for (int i = q->axis + 1; i < t->rank; i++)
			inner *= t->dims[i];
		c = (int)(k / inner % t->dims[q->axis]);
	}
	return q->scale[c] * (x - q->zp[c]);
}

void report_sqnr(Graph *fg, Graph *qg, Options *o, FILE *f)
{
	Row *rows = NULL;
	int nr = 0;
	for (int i = 0; i < qg->nops; i++) {
		Value *v = qg->ops[i]->out;
		Value *fv = graph_find(fg, v->name, false);
		size_t len = strlen(v->name);
		if (!fv && len > 2 && strcmp(v->name + len - 2, ".q") == 0)
			fv = graph_find(fg, xstrndup(v->name, len - 2), false); /* %x.q = quantize(%x) */
		if (!fv || !is_act(fv) || type_numel(&fv->type) != type_numel(&v->type))
			continue;
		if (v->type.dt != DT_F32 && !v->type.q)
			continue; /* an int32 accumulator: no real value to compare */
		PUSH(rows, nr) = (Row){.q = v, .f = fv};
	}
	float *data = o->calib_data;
	int64_t S = o->ncalib;
	if (!data && o->calib_path)
		data = load_samples(fg, o->calib_path, &S);
	if (data && nr) {
		int64_t len = type_numel(&fg->inputs[0]->type);
		Runner rf = runner(fg), rq = runner(qg);
		for (int64_t s = 0; s < S; s++) {
			run(&rf, data + s * len);
			run(&rq, data + s * len);
			for (int i = 0; i < nr; i++) {
				const float *x = tensor(&rf, rows[i].f);
				const void *y = tensor(&rq, rows[i].q);
				if (!x || !y) {
					rows[i].sig = NAN;
					continue;
				}
				for (int64_t k = 0, n = type_numel(&rows[i].f->type); k < n; k++) {
					double e = real_at(rows[i].q, y, k) - x[k];
					rows[i].sig += (double)x[k] * x[k];
					rows[i].noise += e * e;
				}
			}
		}
	}
	int w = 6;
	for (int i = 0; i < nr; i++)
		w = (int)fmax(w, (double)strlen(rows[i].q->name) + 1);
	if (o->report_json)
		fprintf(f, "  \"tensors\": [");
	else
		fprintf(f, "%-*s  %-4s  %-25s  %-12s  %5s  %9s\n", w, "tensor", "type", "range", "scale", "zp", "SQNR (dB)");
	for (int i = 0; i < nr; i++) {
		Value *v = rows[i].q, *fv = rows[i].f;
		char range[64] = "-", scale[32] = "-", zp[16] = "-", sqnr[32] = "-";
		/* the calibrated (or fixed) range when known, else what the
		   integer type can represent */
		const Value *rv = v->has_range ? v : fv->has_range ? fv : graph_find(qg, fv->name, false);
		double lo = 0, hi = 0;
		bool has = true;
		if (rv && rv->has_range) {
			lo = rv->lo;
			hi = rv->hi;
		} else if (v->type.q) {
			quant_range(v->type.q, v->type.dt, &lo, &hi);
		} else {
			has = false;
		}
		if (has)
			snprintf(range, sizeof range, "[%.6g, %.6g]", lo, hi);
		if (v->type.q && v->type.q->n == 1) {
			snprintf(scale, sizeof scale, "%.6g", v->type.q->scale[0]);
			snprintf(zp, sizeof zp, "%d", v->type.q->zp[0]);
		} else if (v->type.q) {
			snprintf(scale, sizeof scale, "(%d ch)", v->type.q->n);
		}
		if (data && !isnan(rows[i].sig)) {
			if (rows[i].noise == 0)
				snprintf(sqnr, sizeof sqnr, "inf");
			else
				snprintf(sqnr, sizeof sqnr, "%.2f", 10 * log10(rows[i].sig / rows[i].noise));
		}
		char name[256];
		snprintf(name, sizeof name, "%%%s", v->name);
		if (o->report_json) {
			/* numbers as numbers, absent ones as null; per-channel scales as the channel count */
			fprintf(f, "%s\n    {\"tensor\": \"%s\", \"type\": \"%s\"", i ? "," : "", name, dtype_name(v->type.dt));
			if (has)
				fprintf(f, ", \"range\": [%.9g, %.9g]", lo, hi);
			else
				fprintf(f, ", \"range\": null");
			if (v->type.q && v->type.q->n == 1)
				fprintf(f, ", \"scale\": %.9g, \"zp\": %d", v->type.q->scale[0], v->type.q->zp[0]);
			else if (v->type.q)
				fprintf(f, ", \"channels\": %d", v->type.q->n);
			fprintf(f, ", \"sqnr_db\": %s}", strcmp(sqnr, "-") == 0 || strcmp(sqnr, "inf") == 0 ? "null" : sqnr);
			continue;
		}
		fprintf(f, "%-*s  %-4s  %-25s  %-12s  %5s  %9s\n", w, name, dtype_name(v->type.dt), range, scale, zp, sqnr);
	}
	if (o->report_json)
		fprintf(f, "\n  ]");
	else if (!data)
		fprintf(f, "(no calibration data: SQNR not measured; pass --calib DATA.npy)\n");
}
