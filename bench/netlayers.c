/* Per-layer throughput on the shapes of real networks (bench/netlayers.py):
   q8c's int8 kernel for the host (weights packed by codegen/select.c as the
   compiler packs them) against oneDNN's int8 convolution on the same shape
   (u8 source, s8 weights in the layout oneDNN picks, s32 bias, per-channel
   output scales, s8 NHWC destination), one thread each, timed in turns:
   per round one q8c call and one oneDNN call; medians of RUNS rounds.
   Reads one shape per line from stdin:
       NAME N H W C OC KH KW SH SW PT PL PB PR GROUPS
   (a dense layer is N=H=W=1, KH=KW=1 and runs q8c's dense kernel, and a
   1x1 convolution in oneDNN).  Prints, per shape, the median µs and GOPS
   (2 x MACs / time) of each and their ratio, and % of PEAK_GOPS.
   usage: netlayers PEAK_GOPS RUNS < shapes   (run with OMP_NUM_THREADS=1) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <oneapi/dnnl/dnnl.h>

#include "codegen/lower.h"
#include "runtime/ref.c"
#include "runtime/avx2.c"
#include "runtime/avx512.c"

#define CK(x) do { dnnl_status_t st_ = (x); if (st_ != dnnl_success) die("oneDNN: %s: status %d", #x, (int)st_); } while (0)

typedef struct {
	char name[64];
	int n, h, w, c, oc, kh, kw, sh, sw, pt, pl, pb, pr, g;
	int oh, ow;
} Shape;

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

typedef struct { const char *name; q8_kernel fn; } Variant;
static const Variant variants[] = {
	{ "conv2d_i8", q8k_conv2d_i8 }, { "dense_i8", q8k_dense_i8 },
	{ "conv2d_i8_avx512", q8k_conv2d_i8_avx512 }, { "dense_i8_avx512", q8k_dense_i8_avx512 },
	{ "dwconv_i8_avx512", q8k_dwconv_i8_avx512 }, { "conv2d_i8_im2col_avx512", q8k_conv2d_i8_im2col_avx512 },
};

/* q8c: the step as lower() + select_kernel() make it */
static q8_kernel q8c_setup(const Shape *L, Step *st, Prog *p, const char **kname)
{
	int cg = L->c / L->g;
	int64_t nw = (int64_t)L->oc * L->kh * L->kw * cg;
	int8_t *w = malloc((size_t)nw);
	int32_t *b = malloc((size_t)L->oc * 4), *m = malloc((size_t)L->oc * 4), *s = malloc((size_t)L->oc * 4);
	for (int64_t i = 0; i < nw; i++)
		w[i] = (int8_t)(rand() % 255 - 127);
	for (int i = 0; i < L->oc; i++)
		b[i] = rand() % 2000 - 1000, m[i] = (1 << 30) + rand() % (1 << 30), s[i] = -10;
	bool dense = L->h == 1 && L->w == 1 && L->kh == 1 && L->kw == 1 && L->g == 1;
	memset(st, 0, sizeof *st);
	st->kernel = dense ? "dense_i8" : "conv2d_i8";
	for (int i = 0; i < Q8_NP; i++)
		st->pblob[i] = -1;
	int32_t *ip = st->p.i;
	ip[Q8_N] = L->n, ip[Q8_H] = L->h, ip[Q8_W] = L->w, ip[Q8_C] = L->c, ip[Q8_OC] = L->oc;
	ip[Q8_OH] = L->oh, ip[Q8_OW] = L->ow;
	ip[Q8_KH] = L->kh, ip[Q8_KW] = L->kw, ip[Q8_SH] = L->sh, ip[Q8_SW] = L->sw, ip[Q8_DH] = ip[Q8_DW] = 1;
	ip[Q8_PT] = L->pt, ip[Q8_PL] = L->pl, ip[Q8_PB] = L->pb, ip[Q8_PR] = L->pr;
	ip[Q8_GROUPS] = L->g, ip[Q8_AZP] = -5, ip[Q8_YZP] = 3;
	ip[Q8_LO] = -128, ip[Q8_HI] = 127, ip[Q8_NRQ] = L->oc;
	st->pblob[Q8P_W] = blob(p, DT_I8, nw, w);
	st->pblob[Q8P_B] = blob(p, DT_I32, L->oc, b);
	st->pblob[Q8P_MULT] = blob(p, DT_I32, L->oc, m);
	st->pblob[Q8P_SHIFT] = blob(p, DT_I32, L->oc, s);
	Target t = { .kind = TG_X86_64_AVX512 };
	select_kernel(&t, p, st);
	for (int i = 0; i < Q8_NP; i++)
		st->p.p[i] = st->pblob[i] < 0 ? NULL : p->blobs[st->pblob[i]].data;
	for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++)
		if (!strcmp(variants[i].name, st->kernel)) {
			*kname = st->kernel;
			return variants[i].fn;
		}
	die("no kernel %s", st->kernel);
}

typedef struct {
	dnnl_primitive_t prim;
	dnnl_memory_t src, wei, bia, dst;
	dnnl_stream_t stream;
} Dnnl;

static void fill(dnnl_memory_t m)
{
	void *h;
	const dnnl_memory_desc_t *md;
	CK(dnnl_memory_get_memory_desc(m, &md));
	CK(dnnl_memory_get_data_handle(m, &h));
	size_t n = dnnl_memory_desc_get_size(md);
	unsigned char *c = h;
	for (size_t i = 0; i < n; i++)
		c[i] = (unsigned char)(rand() % 127);   /* small: no s32 overflow in the bias */
}

static void dnnl_setup(const Shape *L, dnnl_engine_t eng, Dnnl *d, const char **impl)
{
	dnnl_memory_desc_t src, wei, bia, dst;
	dnnl_dims_t sd = {L->n, L->c, L->h, L->w}, dd = {L->n, L->oc, L->oh, L->ow}, bd = {L->oc};
	CK(dnnl_memory_desc_init_by_tag(&src, 4, sd, dnnl_u8, dnnl_nhwc));
	CK(dnnl_memory_desc_init_by_tag(&dst, 4, dd, dnnl_s8, dnnl_nhwc));
	CK(dnnl_memory_desc_init_by_tag(&bia, 1, bd, dnnl_s32, dnnl_a));
	if (L->g > 1) {
		dnnl_dims_t wd = {L->g, L->oc / L->g, L->c / L->g, L->kh, L->kw};
		CK(dnnl_memory_desc_init_by_tag(&wei, 5, wd, dnnl_s8, dnnl_format_tag_any));
	} else {
		dnnl_dims_t wd = {L->oc, L->c, L->kh, L->kw};
		CK(dnnl_memory_desc_init_by_tag(&wei, 4, wd, dnnl_s8, dnnl_format_tag_any));
	}
	dnnl_dims_t strides = {L->sh, L->sw}, pl = {L->pt, L->pl}, pr = {L->pb, L->pr};
	dnnl_convolution_desc_t cd;
	CK(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct, &src, &wei, &bia,
					      &dst, strides, pl, pr));
	dnnl_primitive_attr_t attr;
	CK(dnnl_primitive_attr_create(&attr));
	float *scales = malloc(sizeof(float) * (size_t)L->oc);
	for (int i = 0; i < L->oc; i++)
		scales[i] = 1.0f / (1 << 12) * (1 + (float)(rand() % 100) / 100);
	CK(dnnl_primitive_attr_set_output_scales(attr, L->oc, 1 << 1, scales));
	dnnl_primitive_desc_t pd;
	CK(dnnl_primitive_desc_create(&pd, &cd, attr, eng, NULL));
	CK(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, impl));
	const dnnl_memory_desc_t *wmd = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
	CK(dnnl_primitive_create(&d->prim, pd));
	CK(dnnl_memory_create(&d->src, &src, eng, DNNL_MEMORY_ALLOCATE));
	CK(dnnl_memory_create(&d->wei, wmd, eng, DNNL_MEMORY_ALLOCATE));
	CK(dnnl_memory_create(&d->bia, &bia, eng, DNNL_MEMORY_ALLOCATE));
	CK(dnnl_memory_create(&d->dst, &dst, eng, DNNL_MEMORY_ALLOCATE));
	fill(d->src), fill(d->wei), fill(d->bia);
	CK(dnnl_stream_create(&d->stream, eng, dnnl_stream_default_flags));
}

static void dnnl_run(Dnnl *d)
{
	dnnl_exec_arg_t args[4] = {
		{DNNL_ARG_SRC, d->src}, {DNNL_ARG_WEIGHTS, d->wei}, {DNNL_ARG_BIAS, d->bia}, {DNNL_ARG_DST, d->dst},
	};
	CK(dnnl_primitive_execute(d->prim, d->stream, 4, args));
	CK(dnnl_stream_wait(d->stream));
}

int main(int argc, char **argv)
{
	double peak = argc > 1 ? atof(argv[1]) : 0;
	int runs = argc > 2 ? atoi(argv[2]) : 21;
	dnnl_engine_t eng;
	CK(dnnl_engine_create(&eng, dnnl_cpu, 0));
	printf("| layer | N | q8c kernel | q8c µs | q8c GOPS | q8c %% peak | oneDNN µs | oneDNN GOPS | oneDNN %% peak |"
	       " q8c / oneDNN GOPS | oneDNN impl |\n");
	printf("|---|---|---|---|---|---|---|---|---|---|---|\n");
	Shape L;
	while (scanf("%63s %d %d %d %d %d %d %d %d %d %d %d %d %d %d", L.name, &L.n, &L.h, &L.w, &L.c, &L.oc, &L.kh,
		     &L.kw, &L.sh, &L.sw, &L.pt, &L.pl, &L.pb, &L.pr, &L.g) == 15) {
		L.oh = (L.h + L.pt + L.pb - L.kh) / L.sh + 1;
		L.ow = (L.w + L.pl + L.pr - L.kw) / L.sw + 1;
		srand(1);
		int64_t nx = (int64_t)L.n * L.h * L.w * L.c, ny = (int64_t)L.n * L.oh * L.ow * L.oc;
		int8_t *x = malloc((size_t)nx), *y = malloc((size_t)ny);
		for (int64_t i = 0; i < nx; i++)
			x[i] = (int8_t)(rand() % 256 - 128);
		Prog p = { 0 };
		Step st;
		const char *kname, *impl;
		q8_kernel fn = q8c_setup(&L, &st, &p, &kname);
		Dnnl d;
		dnnl_setup(&L, eng, &d, &impl);
		double *tq = malloc(sizeof(double) * (size_t)runs), *td = malloc(sizeof(double) * (size_t)runs);
		fn(&st.p, x, NULL, y), dnnl_run(&d);   /* warm up */
		for (int r = 0; r < runs; r++) {
			double t0 = now();
			fn(&st.p, x, NULL, y);
			double t1 = now();
			dnnl_run(&d);
			tq[r] = t1 - t0, td[r] = now() - t1;
		}
		qsort(tq, (size_t)runs, sizeof *tq, cmp);
		qsort(td, (size_t)runs, sizeof *td, cmp);
		double ops = 2.0 * L.n * L.oh * L.ow * L.oc * L.kh * L.kw * (L.c / L.g);
		double gq = ops / tq[runs / 2] * 1e-9, gd = ops / td[runs / 2] * 1e-9;
		printf("| %s | %d | %s | %.1f | %.0f | %.0f %% | %.1f | %.0f | %.0f %% | %.2f | %s |\n", L.name, L.n, kname,
		       tq[runs / 2] * 1e6, gq, peak > 0 ? 100 * gq / peak : 0.0, td[runs / 2] * 1e6, gd,
		       peak > 0 ? 100 * gd / peak : 0.0, gq / gd, impl);
		fflush(stdout);
		dnnl_primitive_destroy(d.prim);
		dnnl_memory_destroy(d.src), dnnl_memory_destroy(d.wei), dnnl_memory_destroy(d.bia),
			dnnl_memory_destroy(d.dst);
		dnnl_stream_destroy(d.stream);
		free(x), free(y), free(tq), free(td);
		arena_reset();
	}
	dnnl_engine_destroy(eng);
	return 0;
}
