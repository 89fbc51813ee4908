/* q8c: the command line (../shared/spec/cli-and-abi.md).
   compile: parse, run the pipeline, lower, emit into a temporary
   directory, then move the files into OUTDIR; run: the same pipeline and
   lowering, executed by the reference interpreter. */
#include "ir.h"
#include "codegen/lower.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
	"usage: q8c compile MODEL -o OUTDIR [options]\n"
	"       q8c run MODEL --input X.npy --output Y.npy [options]\n"
	"       q8c import MODEL.onnx -o OUT.q8 [--input-layout nhwc|nchw]\n"
	"       q8c dot MODEL -o FILE.svg|.png|.dot [--after PASS|none] [options]\n"
	"       q8c diff A.q8 B.q8\n"
	"       q8c passes\n"
	"       q8c --help | --version\n"
	"\n"
	"options:\n"
	"  --target T             x86-64, x86-64-avx2, x86-64-avx512, aarch64,\n"
	"                         aarch64-dotprod, riscv64, riscv64-v, and bare metal:\n"
	"                         cortex-m4, cortex-m7, cortex-m55, riscv32, riscv32-imac\n"
	"                         (default: the host)\n"
	"  --emit c|llvm          portable C with intrinsics, or an object built by LLVM (default c)\n"
	"  --name NAME            symbol prefix and file names (default: the model's name)\n"
	"  --calib DATA.npy       calibration samples, shape [S, ...input shape without batch]\n"
	"  --calib-method M       max, percentile, kl or mse (default mse)\n"
	"  --percentile P         for --calib-method percentile (default 99.99)\n"
	"  --granularity G        weight scales per output channel (default), per group of\n"
	"                         output channels (group:G) or per tensor\n"
	"  --weight-bits 4|8      bits of conv/dense weights (default 8; 4: [-7, 7], packed two\n"
	"                         per byte, unpacked in the kernels);\n"
	"                         an op's wbits attribute wins\n"
	"  --activation-bits 8|16 bits of the activations conv/dense read (default 8; 16: int16\n"
	"                         [-32767, 32767], int8 weights); an op's abits attribute wins\n"
	"  --error-budget DB      per conv/dense, 4- or 8-bit weights and 8- or 16-bit activations\n"
	"                         such that the output SQNR on --calib stays >= DB (docs/precision.md)\n"
	"  --optimize size|speed  what --error-budget minimises: weight bytes (default) or latency\n"
	"  --scale pow2           restrict every scale to a power of two (requantize = shift)\n"
	"  --bias-correction      subtract from each conv/dense bias the mean shift that\n"
	"                         rounding its weights causes, measured on --calib (needed)\n"
	"  --float                compile / run the float model without quantizing\n"
	"  --input-layout L       MODEL.onnx: nhwc (default) or nchw inputs (docs/onnx.md)\n"
	"  --dump-after PASS|all  write the IR after a pass (see 'q8c passes')\n"
	"  --dump-dir DIR         ... as DIR/NN-PASS.q8 instead of to stderr\n"
	"  --dot                  with --dump-dir: also DIR/NN-PASS.dot (Graphviz)\n"
	"  --after PASS|none      q8c dot: the graph after PASS (default: after the last),\n"
	"                         or as read (none: a dump as it is)\n"
	"  --time-passes          print each pass's wall time on stderr (compile: also\n"
	"                         lowering and emission)\n"
	"  --report               print ranges, scales and the int8-vs-fp32 SQNR per tensor,\n"
	"                         the output SQNR of the integer run and of the simulation,\n"
	"                         the error each layer causes, and the memory plan\n"
	"  --report-format F      text (default) or json\n"
	"  --simulate             run: fake quantization in float at the pipeline's scales\n"
	"                         (the outputs of the simulation instead of the integer run)\n"
	"\n"
	"exit status: 0 success, 1 bad input (model, data, flags), 2 internal error\n";

typedef struct {
	const char *cmd, *model, *outdir, *input, *output, *target, *emit, *name;
	bool nchw, layout_given; /* --input-layout nchw */
	bool simulate;           /* run --simulate */
	bool optimize_given;     /* --optimize */
	Options o;
} Args;

static noreturn void bad_usage(const char *f, const char *arg)
{
	fprintf(stderr, "q8c: error: ");
	fprintf(stderr, f, arg);
	fprintf(stderr, "\n(see 'q8c --help')\n");
	exit(1);
}

static const char *need(int argc, char **argv, int *i)
{
	if (*i + 1 >= argc)
		bad_usage("%s needs a value", argv[*i]);
	return argv[++*i];
}

static bool find_pass(const char *name)
{
	for (int k = 0; k < npasses; k++)
		if (strcmp(passes[k].name, name) == 0)
			return true;
	return false;
}

static void parse_args(Args *a, int argc, char **argv)
{
	a->o.calib = CAL_MSE; /* measured best on the examples: docs/calibration.md */
	a->o.percentile = 99.99;
	a->emit = "c";
	a->cmd = argv[1];
	for (int i = 2; i < argc; i++) {
		const char *s = argv[i];
		if (strcmp(s, "-o") == 0)
			a->outdir = need(argc, argv, &i);
		else if (strcmp(s, "--input") == 0)
			a->input = need(argc, argv, &i);
		else if (strcmp(s, "--output") == 0)
			a->output = need(argc, argv, &i);
		else if (strcmp(s, "--target") == 0)
			a->target = need(argc, argv, &i);
		else if (strcmp(s, "--emit") == 0)
			a->emit = need(argc, argv, &i);
		else if (strcmp(s, "--name") == 0)
			a->name = need(argc, argv, &i);
		else if (strcmp(s, "--calib") == 0)
			a->o.calib_path = need(argc, argv, &i);
		else if (strcmp(s, "--calib-method") == 0) {
			const char *m = need(argc, argv, &i);
			static const char *names[] = {"max", "percentile", "kl", "mse"};
			int k = 0;
			while (k < 4 && strcmp(names[k], m) != 0)
				k++;
			if (k == 4)
				bad_usage("unknown --calib-method '%s' (max, percentile, kl, mse)", m);
			a->o.calib = (CalibMethod)k;
		} else if (strcmp(s, "--percentile") == 0) {
			const char *v = need(argc, argv, &i);
			char *end;
			a->o.percentile = strtod(v, &end);
			if (*end || !(a->o.percentile > 0 && a->o.percentile <= 100))
				bad_usage("--percentile takes a number in (0, 100], not '%s'", v);
		} else if (strcmp(s, "--granularity") == 0) {
			const char *v = need(argc, argv, &i);
			char *end;
			long gs;
			if (strcmp(v, "tensor") == 0)
				a->o.per_tensor = true;
			else if (strncmp(v, "group:", 6) == 0 && (gs = strtol(v + 6, &end, 10)) >= 1 &&
				 gs <= 1 << 24 && !*end && isdigit((unsigned char)v[6]))
				a->o.group = (int)gs;
			else if (strcmp(v, "channel") != 0)
				bad_usage("--granularity takes channel, group:G (G >= 1 output channels per "
					  "scale) or tensor, not '%s'", v);
		} else if (strcmp(s, "--weight-bits") == 0) {
			const char *v = need(argc, argv, &i);
			if (strcmp(v, "4") != 0 && strcmp(v, "8") != 0)
				bad_usage("--weight-bits takes 4 or 8, not '%s'", v);
			a->o.wbits = atoi(v);
		} else if (strcmp(s, "--activation-bits") == 0) {
			const char *v = need(argc, argv, &i);
			if (strcmp(v, "8") != 0 && strcmp(v, "16") != 0)
				bad_usage("--activation-bits takes 8 or 16, not '%s'", v);
			a->o.abits = atoi(v);
		} else if (strcmp(s, "--error-budget") == 0) {
			const char *v = need(argc, argv, &i);
			char *end;
			a->o.error_budget = strtod(v, &end);
			if (*end || !(a->o.error_budget > 0 && a->o.error_budget < 200))
				bad_usage("--error-budget takes an output SQNR in dB, in (0, 200), not '%s'", v);
		} else if (strcmp(s, "--optimize") == 0) {
			const char *v = need(argc, argv, &i);
			if (strcmp(v, "size") != 0 && strcmp(v, "speed") != 0)
				bad_usage("--optimize takes size or speed, not '%s'", v);
			a->o.optimize_speed = strcmp(v, "speed") == 0;
			a->optimize_given = true;
		} else if (strcmp(s, "--scale") == 0) {
			const char *v = need(argc, argv, &i);
			if (strcmp(v, "pow2") == 0)
				a->o.pow2 = true;
			else if (strcmp(v, "float") != 0)
				bad_usage("--scale takes pow2 or float, not '%s'", v);
		} else if (strcmp(s, "--input-layout") == 0) {
			const char *v = need(argc, argv, &i);
			if (strcmp(v, "nchw") != 0 && strcmp(v, "nhwc") != 0)
				bad_usage("--input-layout takes nhwc or nchw, not '%s'", v);
			a->nchw = v[1] == 'c';
			a->layout_given = true;
		} else if (strcmp(s, "--float") == 0)
			a->o.is_float = true;
		else if (strcmp(s, "--report") == 0)
			a->o.report = true;
		else if (strcmp(s, "--bias-correction") == 0)
			a->o.bias_corr = true;
		else if (strcmp(s, "--dump-after") == 0)
			a->o.dump_after = need(argc, argv, &i);
		else if (strcmp(s, "--dump-dir") == 0)
			a->o.dump_dir = need(argc, argv, &i);
		else if (strcmp(s, "--simulate") == 0 && strcmp(a->cmd, "run") == 0)
			a->simulate = true;
		else if (strcmp(s, "--report-format") == 0) {
			const char *v = need(argc, argv, &i);
			if (strcmp(v, "json") != 0 && strcmp(v, "text") != 0)
				bad_usage("--report-format takes text or json, not '%s'", v);
			a->o.report_json = v[0] == 'j';
		} else if (strcmp(s, "--dot") == 0)
			a->o.dot = true;
		else if (strcmp(s, "--time-passes") == 0)
			a->o.time_passes = true;
		else if (strcmp(s, "--after") == 0 && strcmp(a->cmd, "dot") == 0)
			a->o.stop_after = need(argc, argv, &i);
		else if (s[0] == '-' && s[1])
			bad_usage("unknown option '%s'", s);
		else if (!a->model)
			a->model = s;
		else
			bad_usage("unexpected argument '%s'", s);
	}
	if (!a->model)
		bad_usage("%s needs a MODEL file", a->cmd);
	if (a->layout_given && !is_onnx_path(a->model))
		bad_usage("--input-layout applies to ONNX models (MODEL.onnx), not '%s'", a->model);
	if (a->o.bias_corr && a->o.is_float)
		bad_usage("%s", "--bias-correction corrects quantized weights: it has no meaning with --float");
	if (a->o.error_budget > 0 && a->o.is_float)
		bad_usage("%s", "--error-budget chooses weight and activation bits: it has no meaning with --float");
	if (a->optimize_given && !(a->o.error_budget > 0))
		bad_usage("%s", "--optimize says what --error-budget minimises: give --error-budget DB too");
	if (a->o.bias_corr && !a->o.calib_path)
		bad_usage("%s", "--bias-correction needs --calib DATA.npy: the mean input of each conv/dense "
			  "comes from the calibration samples");
	if (strcmp(a->emit, "c") != 0 && strcmp(a->emit, "llvm") != 0)
		bad_usage("--emit takes c or llvm, not '%s'", a->emit);
	if (a->o.dump_after && strcmp(a->o.dump_after, "all") != 0) {
		int k = 0;
		while (k < npasses && strcmp(passes[k].name, a->o.dump_after) != 0)
			k++;
		if (k == npasses)
			bad_usage("--dump-after: no pass named '%s' (see 'q8c passes')", a->o.dump_after);
	}
	if (a->o.report_json && !a->o.report)
		bad_usage("%s", "--report-format json formats --report: give --report too");
	if (a->simulate && a->o.is_float)
		bad_usage("%s", "--simulate runs the float model at the integer graph's scales: it has no meaning with --float");
	if (a->o.stop_after && strcmp(a->o.stop_after, "none") != 0 && !find_pass(a->o.stop_after))
		bad_usage("--after: no pass named '%s' (see 'q8c passes', or none)", a->o.stop_after);
	if (a->o.dot && !a->o.dump_dir)
		bad_usage("%s", "--dot writes NN-PASS.dot beside each dump: it needs --dump-after PASS|all and --dump-dir DIR");
	if (a->o.dot && !a->o.dump_after)
		bad_usage("%s", "--dot writes NN-PASS.dot beside each dump: it needs --dump-after PASS|all");
	if (a->o.dump_dir) {
		struct stat st;
		if (stat(a->o.dump_dir, &st) != 0 && mkdir(a->o.dump_dir, 0777) != 0)
			fatal("%s: cannot create the dump directory: %s", a->o.dump_dir, strerror(errno));
	}
}

static bool is_ident(const char *s)
{
	if (!*s || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (; *s; s++)
		if (!(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')))
			return false;
	return true;
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The float model after fold: the reference of --report and --simulate. */
static Graph *float_graph(Args *a)
{
	Graph *fg = load_model(a->model, a->nchw);
	Options fo = a->o;
	fo.is_float = true;
	fo.dump_after = NULL;
	fo.time_passes = false;
	fo.stop_after = NULL;
	run_pipeline(fg, &fo);
	return fg;
}

/* ---- run ---- */

/* X.npy holds the input shape exactly, or S samples: the input shape
   with its batch dimension 1 replaced by S. */
static int64_t count_samples(const Type *in, const Type *got, const char *path)
{
	if (got->dt != DT_F32)
		fatal("%s: dtype %s, but the model's input is f32", path, dtype_name(got->dt));
	bool same_rest = got->rank == in->rank;
	for (int i = 1; same_rest && i < in->rank; i++)
		same_rest = got->dims[i] == in->dims[i];
	if (same_rest && (got->dims[0] == in->dims[0] || in->dims[0] == 1))
		return in->dims[0] == 1 ? got->dims[0] : 1;
	fatal("%s: shape %s does not match the model's input %s (or [S, ...] samples of it)",
	      path, type_str(got), type_str(in));
}

static void report(Args *a, Graph *fg, Graph *g, const float *x, int64_t S, const char *what, const Prog *plan);

static int cmd_run(Args *a)
{
	if (!a->input || !a->output)
		bad_usage("%s", "run needs --input X.npy and --output Y.npy");
	Graph *g = load_model(a->model, a->nchw);
	if (g->ninputs != 1 || g->noutputs != 1)
		fatal("%s: q8c run takes single-input, single-output models (this one has %d inputs, %d outputs)",
		      a->model, g->ninputs, g->noutputs);
	Type in = g->inputs[0]->type;
	Type got;
	float *x = npy_read(a->input, NULL, &got);
	int64_t s = count_samples(&in, &got, a->input);

	Graph *fg = NULL;
	if ((a->o.report || a->simulate) && !a->o.is_float)
		fg = float_graph(a);
	run_pipeline(g, &a->o);
	float *y;
	if (a->simulate) {
		y = simulate(fg, g, x, s);
	} else {
		Prog *p = lower(g, target_find("ref"), g->name, false);
		y = run_samples(g, p, x, s);
	}
	if (a->o.report)
		report(a, fg, g, x, s, fmt("--input %s", a->input), NULL);

	Type out = g->outputs[0]->type;
	if (in.dims[0] == 1 && out.rank > 0)
		out.dims[0] *= s;
	npy_write(a->output, DT_F32, out.rank, out.dims, y);
	return 0;
}

/* ---- compile ---- */

static char *tmpdir;

static void remove_tmpdir(void)
{
	if (!tmpdir)
		return;
	DIR *d = opendir(tmpdir);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)))
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
				unlink(fmt("%s/%s", tmpdir, e->d_name));
		closedir(d);
	}
	rmdir(tmpdir);
	tmpdir = NULL;
}

/* Moves every file of tmpdir into outdir (which may exist): each rename
   is atomic, and nothing reaches outdir before emission succeeded. */
static void commit_outdir(const char *outdir)
{
	struct stat st;
	if (stat(outdir, &st) != 0) {
		if (rename(tmpdir, outdir) != 0)
			fatal("%s: cannot create the output directory: %s", outdir, strerror(errno));
		tmpdir = NULL;
		return;
	}
	if (!S_ISDIR(st.st_mode))
		fatal("%s: exists and is not a directory", outdir);
	DIR *d = opendir(tmpdir);
	if (!d)
		die("%s: %s", tmpdir, strerror(errno));
	struct dirent *e;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			if (rename(fmt("%s/%s", tmpdir, e->d_name), fmt("%s/%s", outdir, e->d_name)) != 0)
				fatal("%s/%s: cannot write: %s", outdir, e->d_name, strerror(errno));
	closedir(d);
	remove_tmpdir();
}

static void print_plan_report(const Prog *p)
{
	printf("memory plan: arena %lld bytes (lower bound %lld: the largest sum of tensors live at once), "
	       "weights %lld bytes\n",
	       (long long)p->arena_size, (long long)p->arena_lower_bound, (long long)p->weight_bytes);
}

/* flash and RAM of a bare-metal program (codegen/footprint.c) */
static void print_footprint(const Prog *p, bool json, const char *sep)
{
	const Footprint *fp = p->fp;
	long long arena = fp->stack >= 0 ? (long long)(fp->ram - fp->stack - fp->data - fp->bss) : (long long)p->arena_size;
	if (json) {
		printf("%s  \"footprint\": {\"target\": \"%s\", \"flash\": %lld, \"code\": %lld, \"constants\": %lld, "
		       "\"data\": %lld, \"ram\": %lld, \"arena\": %lld, \"stack\": %lld}", sep, p->target->name,
		       (long long)fp->flash, (long long)fp->code, (long long)fp->consts, (long long)fp->data,
		       fp->stack >= 0 ? (long long)fp->ram : -1LL, arena, (long long)fp->stack);
		return;
	}
	printf("footprint on %s (LLVM object): flash %lld bytes (code %lld, constants %lld, data %lld), ",
	       p->target->name, (long long)fp->flash, (long long)fp->code, (long long)fp->consts, (long long)fp->data);
	if (fp->stack >= 0)
		printf("RAM %lld bytes (arena %lld, stack %lld, data+bss %lld)\n", (long long)fp->ram, arena,
		       (long long)fp->stack, (long long)(fp->data + fp->bss));
	else
		printf("RAM: arena %lld bytes + an unknown stack\n", arena);
}

/* --report: the per-tensor table (calibrate.c), the simulation and the
   error per layer on S samples x (simulate.c), the memory plan; as text
   or as one JSON object */
static void report(Args *a, Graph *fg, Graph *g, const float *x, int64_t S, const char *what, const Prog *plan)
{
	bool json = a->o.report_json;
	/* JSON: each part after the first starts with the comma */
	const char *sep = json ? ",\n" : "";
	if (json)
		printf("{\n  \"model\": \"%s\"", g->name);
	if (fg) {
		printf("%s", sep);
		report_sqnr(fg, g, &a->o, stdout);
		if (a->o.choice) {
			printf("%s", sep);
			report_precision(&a->o, stdout);
		}
		if (x && g->ninputs == 1 && g->noutputs == 1) {
			printf("%s", sep);
			report_simulation(fg, g, x, S, what, json, stdout);
		} else if (!json) {
			printf("(no samples: the simulation and the error per layer are not measured; pass --calib DATA.npy)\n");
		}
	}
	if (plan && json)
		printf("%s  \"memory\": {\"arena\": %lld, \"lower_bound\": %lld, \"weights\": %lld}", sep,
		       (long long)plan->arena_size, (long long)plan->arena_lower_bound, (long long)plan->weight_bytes);
	else if (plan)
		print_plan_report(plan);
	if (plan && plan->fp && plan->fp->done)
		print_footprint(plan, json, sep);
	if (json)
		printf("\n}\n");
}

/* --emit c for a bare-metal target: build the LLVM object too, in a
   directory inside the temporary one, only to measure it */
static void measure_footprint(Prog *p, const char *tmp)
{
	char *dir = fmt("%s/footprint", tmp);
	if (mkdir(dir, 0700) != 0)
		fatal("%s: cannot create: %s", dir, strerror(errno));
	emit_llvm(p, dir);
	const char *ext[] = {"h", "o", "ll"};
	for (int i = 0; i < 3; i++)
		remove(fmt("%s/%s.%s", dir, p->name, ext[i]));
	if (rmdir(dir) != 0)
		fatal("%s: cannot remove: %s", dir, strerror(errno));
}

static int cmd_compile(Args *a)
{
	if (!a->outdir)
		bad_usage("%s", "compile needs -o OUTDIR");
	const Target *t = a->target ? target_find(a->target) : target_host();
	if (!t || t->kind == TG_REF)
		bad_usage("unknown --target '%s' (x86-64, x86-64-avx2, x86-64-avx512, aarch64, "
			  "aarch64-dotprod, riscv64, riscv64-v, cortex-m4, cortex-m7, cortex-m55, riscv32, riscv32-imac)", a->target);
	if (a->name && !is_ident(a->name))
		bad_usage("--name '%s' is not a C identifier", a->name);

	Graph *g = load_model(a->model, a->nchw);
	const char *name = a->name ? a->name : g->name;
	if (!is_ident(name))
		fatal("%s: the model's name '%s' is not a C identifier: give --name", a->model, name);
	Graph *fg = NULL;
	if (a->o.report && !a->o.is_float)
		fg = float_graph(a);
	run_pipeline(g, &a->o);
	double t0 = now();
	Prog *p = lower(g, t, name, false);
	if (a->o.time_passes)
		fprintf(stderr, "time: %-10s %9.3f ms  (%d steps)\n", "lower", 1e3 * (now() - t0), p->nsteps);
	if (a->o.is_float)
		p->is_float = true; /* a QDQ-only model looks like an int8 program */

	/* emit beside OUTDIR, so the final renames stay on one file system */
	char *base = xstrdup(a->outdir);
	size_t n = strlen(base);
	while (n > 1 && base[n - 1] == '/')
		base[--n] = 0;
	tmpdir = fmt("%s.q8c-XXXXXX", base);
	if (!mkdtemp(tmpdir)) {
		tmpdir = NULL;
		fatal("%s: cannot create a temporary directory beside it: %s", a->outdir, strerror(errno));
	}
	on_error(remove_tmpdir);
	t0 = now();
	if (t->bare) {
		/* the footprint comes from the LLVM object, whichever emitter */
		p->fp = alloc_array(1, sizeof *p->fp);
		if (strcmp(a->emit, "llvm") != 0)
			measure_footprint(p, tmpdir);
	}
	emit_header(p, tmpdir);
	if (strcmp(a->emit, "llvm") == 0)
		emit_llvm(p, tmpdir);
	else
		emit_c(p, tmpdir);
	if (a->o.time_passes)
		fprintf(stderr, "time: %-10s %9.3f ms  (--emit %s)\n", "emit", 1e3 * (now() - t0), a->emit);
	/* after emission: a bare-metal footprint is measured on the object */
	if (a->o.report) {
		const float *x = a->o.calib_data;
		int64_t S = a->o.ncalib;
		if (fg && !x && a->o.calib_path) { /* every range was fixed: calibrate did not read them */
			Type got;
			x = npy_read(a->o.calib_path, NULL, &got);
			S = count_samples(&g->inputs[0]->type, &got, a->o.calib_path);
		}
		report(a, fg, g, x, S, fmt("--calib %s", a->o.calib_path), p);
	}
	commit_outdir(base);
	on_error(NULL);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 1 : 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("q8c %s\n", Q8C_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "passes") == 0) {
		for (int i = 0; i < npasses; i++)
			printf("%s\n", passes[i].name);
		return 0;
	}
	Args a = {0};
	if (strcmp(argv[1], "compile") == 0) {
		parse_args(&a, argc, argv);
		return cmd_compile(&a);
	}
	if (strcmp(argv[1], "run") == 0) {
		parse_args(&a, argc, argv);
		return cmd_run(&a);
	}
	if (strcmp(argv[1], "dot") == 0) {
		parse_args(&a, argc, argv);
		if (!a.outdir)
			bad_usage("%s", "dot needs -o FILE.svg|.png|.dot");
		Graph *g = load_model(a.model, a.nchw);
		run_pipeline(g, &a.o);
		render_dot(g, a.outdir);
		return 0;
	}
	if (strcmp(argv[1], "diff") == 0) {
		if (argc != 4 || argv[2][0] == '-' || argv[3][0] == '-')
			bad_usage("%s", "diff takes two models: q8c diff A.q8 B.q8");
		Graph *ga = load_model(argv[2], false), *gb = load_model(argv[3], false);
		diff_graphs(ga, gb, stdout);
		return 0;
	}
	if (strcmp(argv[1], "import") == 0) {
		parse_args(&a, argc, argv);
		if (!a.outdir)
			bad_usage("%s", "import needs -o OUT.q8");
		if (!is_onnx_path(a.model))
			bad_usage("import reads an ONNX model (MODEL.onnx), not '%s'", a.model);
		import_model(load_model(a.model, a.nchw), a.outdir);
		return 0;
	}
	bad_usage("unknown command '%s'", argv[1]);
}
