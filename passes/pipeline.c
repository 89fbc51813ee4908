/* The pipeline, in one place.  Each pass is a plain function over the
   graph; every pass leaves a graph the printer can write and the parser
   read back, so --dump-after works after any of them, and a dump given
   back to q8c resumes the pipeline (passes skip what is already done). */
#include "ir.h"

#include <string.h>
#include <time.h>

const Pass passes[] = {
	{"fold", pass_fold, true},             /* batchnorm, constant scales, dequantized constants, dead values */
	{"calibrate", pass_calibrate, false},  /* a real range for every activation */
	{"quantize", pass_quantize, false},    /* int8 [-127, 127] symmetric types, int32 bias, integer ops */
	{"zeropoint", pass_zeropoint, false},  /* zero-point terms folded into int32 bias constants */
	{"fixedpoint", pass_fixedpoint, false},/* scale ratios -> int32 multiplier + shift */
	{"fuse", pass_fuse, false},            /* conv/dense + bias + activation + requantize -> one op */
	{"plan", pass_plan, true},             /* arena offsets from liveness */
};
const int npasses = sizeof passes / sizeof passes[0];

static void dump(Graph *g, Options *o, int i)
{
	if (!o->dump_after)
		return;
	if (strcmp(o->dump_after, "all") != 0 && strcmp(o->dump_after, passes[i].name) != 0)
		return;
	if (!o->dump_dir) {
		fprintf(stderr, "# ---- after %s ----\n", passes[i].name);
		print_graph(stderr, g, NULL, NULL);
		return;
	}
	char *path = fmt("%s/%02d-%s.q8", o->dump_dir, i + 1, passes[i].name);
	char *tmp = fmt("%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		fatal("%s: cannot write the dump", tmp);
	print_graph(f, g, o->dump_dir, fmt("%02d-%s.", i + 1, passes[i].name));
	if (fclose(f) != 0 || rename(tmp, path) != 0)
		fatal("%s: cannot write the dump", path);
	if (!o->dot)
		return;
	path = fmt("%s/%02d-%s.dot", o->dump_dir, i + 1, passes[i].name);
	tmp = fmt("%s.tmp", path);
	if (!(f = fopen(tmp, "w")))
		fatal("%s: cannot write the picture", tmp);
	print_dot(f, g);
	if (fclose(f) != 0 || rename(tmp, path) != 0)
		fatal("%s: cannot write the picture", path);
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void run_pipeline(Graph *g, Options *o)
{
	double total = 0;
	if (o->stop_after && strcmp(o->stop_after, "none") == 0)
		return; /* q8c dot --after none: the model as read */
	for (int i = 0; i < npasses; i++) {
		if (o->is_float && !passes[i].on_float)
			continue;
		double t0 = now();
		passes[i].run(g, o);
		double t = now() - t0; /* the pass alone, not its dump */
		total += t;
		if (o->time_passes)
			fprintf(stderr, "time: %-10s %9.3f ms  (%d ops)\n", passes[i].name, 1e3 * t, g->nops);
		dump(g, o, i);
		if (o->stop_after && strcmp(o->stop_after, passes[i].name) == 0)
			break;
	}
	if (o->time_passes)
		fprintf(stderr, "time: %-10s %9.3f ms\n", "passes", 1e3 * total);
}
