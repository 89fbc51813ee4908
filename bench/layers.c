/* Per-layer throughput of the int8 kernels on one core: the portable
   kernel (runtime/ref.c) and each host SIMD variant, with weights packed
   by codegen/select.c exactly as the compiler does.  Median of N timed
   runs; GOPS counts a multiply and an add as two ops.
   usage: layers [PEAK_GOPS [RUNS]]  (PEAK_GOPS from bench/peak, for the
   % of peak column).  Last, the table lookup (lut_i8) of each variant. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codegen/lower.h"
#include "runtime/ref.c"
#include "runtime/avx2.c"
#include "runtime/avx512.c"

typedef struct {
	const char *name;
	int n, h, w, c, oc, k, pad, groups;
	bool dense;
} Layer;

static const Layer layers[] = {
	{ "dense 1x1024x1024", 1, 1, 1, 1024, 1024, 1, 0, 1, true },
	{ "gemm 256x256x256", 256, 1, 1, 256, 256, 1, 0, 1, true },
	{ "conv3x3 28x28x16->32", 1, 28, 28, 16, 32, 3, 1, 1, false },
	{ "conv3x3 56x56x64->64", 1, 56, 56, 64, 64, 3, 1, 1, false },
	{ "conv3x3 14x14x128->128", 1, 14, 14, 128, 128, 3, 1, 1, false },
	{ "dwconv3x3 56x56x64", 1, 56, 56, 64, 64, 3, 1, 64, false },
	{ "conv1x1 28x28x128->256", 1, 28, 28, 128, 256, 1, 0, 1, false },
};

typedef struct { const char *name; q8_kernel fn; } Variant;
static const Variant variants[] = {
	{ "conv2d_i8", q8k_conv2d_i8 }, { "dense_i8", q8k_dense_i8 },
	{ "conv2d_i8_avx2", q8k_conv2d_i8_avx2 }, { "dense_i8_avx2", q8k_dense_i8_avx2 },
	{ "dwconv_i8_avx2", q8k_dwconv_i8_avx2 },
	{ "conv2d_i8_avx512", q8k_conv2d_i8_avx512 }, { "dense_i8_avx512", q8k_dense_i8_avx512 },
	{ "dwconv_i8_avx512", q8k_dwconv_i8_avx512 },
	{ "conv2d_i8_im2col_avx512", q8k_conv2d_i8_im2col_avx512 },
};

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int blob(Prog *p, Dtype dt, int64_t n, const void *data)
{
	Blob *b = &PUSH(p->blobs, p->nblobs);
	b->name = fmt("c%d", p->nblobs);
	b->dt = dt, b->n = n, b->data = data;
	return p->nblobs - 1;
}

/* seconds per call (median), and the output for the cross-check */
static double run(const Layer *L, TargetKind tk, int runs, int8_t *y, const char **kname, double *best)
{
	int cg = L->c / L->groups;
	int64_t nx = (int64_t)L->n * L->h * L->w * L->c, nw = (int64_t)L->oc * L->k * L->k * cg;
	int8_t *x = malloc((size_t)nx), *w = malloc((size_t)nw);
	int32_t *b = malloc((size_t)L->oc * 4), *m = malloc((size_t)L->oc * 4), *s = malloc((size_t)L->oc * 4);
	srand(1);
	for (int64_t i = 0; i < nx; i++)
		x[i] = (int8_t)(rand() % 256 - 128);
	for (int64_t i = 0; i < nw; i++)
		w[i] = (int8_t)(rand() % 255 - 127);
	for (int i = 0; i < L->oc; i++)
		b[i] = rand() % 2000 - 1000, m[i] = (1 << 30) + rand() % (1 << 30), s[i] = -10;
	Prog p = { 0 };
	Step st = { .kernel = L->dense ? "dense_i8" : "conv2d_i8" };
	for (int i = 0; i < Q8_NP; i++)
		st.pblob[i] = -1;
	int32_t *ip = st.p.i;
	ip[Q8_N] = L->n, ip[Q8_H] = L->h, ip[Q8_W] = L->w, ip[Q8_C] = L->c, ip[Q8_OC] = L->oc;
	ip[Q8_OH] = L->h, ip[Q8_OW] = L->w;
	ip[Q8_KH] = ip[Q8_KW] = L->k, ip[Q8_SH] = ip[Q8_SW] = ip[Q8_DH] = ip[Q8_DW] = 1;
	ip[Q8_PT] = ip[Q8_PL] = ip[Q8_PB] = ip[Q8_PR] = L->pad;
	ip[Q8_GROUPS] = L->groups, ip[Q8_AZP] = -5, ip[Q8_YZP] = 3;
	ip[Q8_LO] = -128, ip[Q8_HI] = 127, ip[Q8_NRQ] = L->oc;
	st.pblob[Q8P_W] = blob(&p, DT_I8, nw, w);
	st.pblob[Q8P_B] = blob(&p, DT_I32, L->oc, b);
	st.pblob[Q8P_MULT] = blob(&p, DT_I32, L->oc, m);
	st.pblob[Q8P_SHIFT] = blob(&p, DT_I32, L->oc, s);
	Target t = { .kind = tk };
	select_kernel(&t, &p, &st);
	for (int i = 0; i < Q8_NP; i++)
		st.p.p[i] = st.pblob[i] < 0 ? NULL : p.blobs[st.pblob[i]].data;
	q8_kernel fn = NULL;
	for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++)
		if (!strcmp(variants[i].name, st.kernel))
			fn = variants[i].fn;
	if (!fn)
		die("no kernel %s", st.kernel);
	*kname = st.kernel;
	double *tm = malloc(sizeof(double) * (size_t)runs);
	fn(&st.p, x, NULL, y); /* warm up */
	for (int r = 0; r < runs; r++) {
		double t0 = now();
		fn(&st.p, x, NULL, y);
		tm[r] = now() - t0;
	}
	qsort(tm, (size_t)runs, sizeof *tm, cmp);
	double med = tm[runs / 2];
	*best = tm[0];
	free(tm), free(x), free(w), free(b), free(m), free(s);
	arena_reset();
	return med;
}

/* lut_i8 over a 56x56x64 tensor (200704 bytes): each variant, median us */
static void luts(int runs, bool has2, bool has512)
{
	enum { N = 56 * 56 * 64 };
	static int8_t x[N], y[N], want[N], t[256];
	srand(2);
	for (int i = 0; i < N; i++)
		x[i] = (int8_t)(rand() % 256 - 128);
	for (int i = 0; i < 256; i++)
		t[i] = (int8_t)(rand() % 256 - 128);
	q8_params p = { 0 };
	p.i[Q8_COUNT] = N;
	p.p[Q8P_W] = t;
	bool vbmi = has512 && __builtin_cpu_supports("avx512vbmi");
	const struct { const char *name; q8_kernel k; void (*f)(const int8_t *, const int8_t *, int8_t *, int64_t);
	               bool ok; } v[] = {
		{ "lut_i8", q8k_lut_i8, NULL, true },
		{ "lut_i8_avx2", q8k_lut_i8_avx2, NULL, has2 },
		{ "lut_i8_avx512 (bw)", NULL, x5_lut_bw, has512 },
		{ "lut_i8_avx512 (vbmi)", NULL, x5_lut_vbmi, vbmi },
	};
	double *tm = malloc(sizeof(double) * (size_t)runs);
	for (size_t j = 0; j < sizeof v / sizeof v[0]; j++) {
		if (!v[j].ok)
			continue;
		for (int r = -1; r < runs; r++) { /* r = -1: warm up */
			double t0 = now();
			if (v[j].k)
				v[j].k(&p, x, NULL, y);
			else
				v[j].f(x, t, y, N);
			if (r >= 0)
				tm[r] = now() - t0;
		}
		qsort(tm, (size_t)runs, sizeof *tm, cmp);
		if (j == 0)
			memcpy(want, y, N);
		printf("%-24s %-20s %8.1f %8.2f GB/s%s\n", "lut 56x56x64", v[j].name, tm[runs / 2] * 1e6,
		       N / tm[runs / 2] * 1e-9, memcmp(y, want, N) ? "  MISMATCH" : "");
	}
	free(tm);
}

int main(int argc, char **argv)
{
	double peak = argc > 1 ? atof(argv[1]) : 0;
	int runs = argc > 2 ? atoi(argv[2]) : 21;
	__builtin_cpu_init();
	bool has512 = __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw") &&
	              __builtin_cpu_supports("avx512vl");
	bool has2 = __builtin_cpu_supports("avx2");
	printf("%-24s %-18s %10s %8s %7s %9s\n", "layer", "kernel", "us", "GOPS", "%peak", "best GOPS");
	for (size_t i = 0; i < sizeof layers / sizeof layers[0]; i++) {
		const Layer *L = &layers[i];
		double macs = (double)L->n * L->h * L->w * L->oc * L->k * L->k * (L->c / L->groups);
		int64_t ny = (int64_t)L->n * L->h * L->w * L->oc;
		int8_t *want = malloc((size_t)ny), *y = malloc((size_t)ny);
		static const TargetKind tks[] = { TG_REF, TG_X86_64_AVX2, TG_X86_64_AVX512 };
		for (int v = 0; v < 3; v++) {
			if ((tks[v] == TG_X86_64_AVX2 && !has2) || (tks[v] == TG_X86_64_AVX512 && !has512))
				continue;
			const char *kn;
			double best;
			/* the portable kernel is slow: fewer runs */
			double t = run(L, tks[v], v == 0 ? (runs + 4) / 5 : runs, v ? y : want, &kn, &best);
			double gops = 2 * macs / t * 1e-9;
			printf("%-24s %-18s %10.1f %8.1f", L->name, kn, t * 1e6, gops);
			printf(" %6.1f%%", peak > 0 ? 100 * gops / peak : 0.0);
			printf(" %9.1f", 2 * macs / best * 1e-9);
			if (v && memcmp(y, want, (size_t)ny))
				printf("  MISMATCH");
			printf("\n");
		}
		free(want), free(y);
	}
	luts(runs, has2, has512);
	return 0;
}
