/* runtime/par.h: a step cut into tasks (NAME_run_parallel) gives the bytes
   of the whole kernel call, for every task count from 2 up to the number
   of rows (or more), with the tasks run in reverse order.  The reference
   is the same kernel called once on the whole layer: the split may change
   nothing.  Convolutions (strides, pads, dilation, depthwise, the C < 4
   first layer), pools and elementwise ops; the portable kernels and each
   host SIMD variant with weights packed by codegen/select.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "codegen/lower.h"
#include "runtime/ref.c"
#include "runtime/avx2.c"
#include "runtime/avx512.c"

typedef struct { const char *name; q8_kernel fn; } Kernel;
static const Kernel kernels[] = {
	{"conv2d_i8", q8k_conv2d_i8}, {"conv2d_i8_avx2", q8k_conv2d_i8_avx2},
	{"conv2d_i8_avx512", q8k_conv2d_i8_avx512}, {"conv2d_i8_im2col_avx512", q8k_conv2d_i8_im2col_avx512},
	{"dwconv_i8_avx2", q8k_dwconv_i8_avx2}, {"dwconv_i8_avx512", q8k_dwconv_i8_avx512},
	{"maxpool_i8", q8k_maxpool_i8}, {"maxpool_i8_avx512", q8k_maxpool_i8_avx512},
	{"avgpool_i8", q8k_avgpool_i8}, {"avgpool_i8_avx512", q8k_avgpool_i8_avx512},
	{"add_i8", q8k_add_i8}, {"add_i8_avx512", q8k_add_i8_avx512},
	{"mul_i8", q8k_mul_i8}, {"mul_i8_avx512", q8k_mul_i8_avx512},
	{"lut_i8", q8k_lut_i8}, {"lut_i8_avx512", q8k_lut_i8_avx512},
	{"requant_i8", q8k_requant_i8}, {"requant_i8_avx512", q8k_requant_i8_avx512},
	{"quantize", q8k_quantize}, {"quantize_i8_avx512", q8k_quantize_i8_avx512},
};

static q8_kernel find(const char *name)
{
	for (size_t i = 0; i < sizeof kernels / sizeof *kernels; i++)
		if (!strcmp(kernels[i].name, name))
			return kernels[i].fn;
	fail_msg("no kernel %s", name);
	return NULL;
}

static bool has512(void)
{
	return __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw") &&
	       __builtin_cpu_supports("avx512vl");
}

/* the tasks in reverse order, on this thread */
static void reverse_for(void *ctx, void (*task)(void *, size_t), void *arg, size_t n)
{
	(void)ctx;
	while (n--)
		task(arg, n);
}

static int blob(Prog *p, Dtype dt, int64_t n, const void *data)
{
	Blob *b = &PUSH(p->blobs, p->nblobs);
	b->name = fmt("c%d", p->nblobs);
	b->dt = dt, b->n = n, b->data = data;
	return p->nblobs - 1;
}

/* runs st whole, then cut into 2..maxt tasks; every cut must match */
static int check_split(const Step *st, q8_kernel k, int how, int maxt, const void *a, const void *b,
		       int64_t ybytes)
{
	unsigned char *want = malloc((size_t)ybytes), *got = malloc((size_t)ybytes);
	memset(want, 0x11, (size_t)ybytes);
	k(&st->p, a, b, want);
	int checked = 0;
	for (int nt = 2; nt <= maxt; nt++) {
		memset(got, 0x77, (size_t)ybytes);
		q8_par(&st->p, k, a, b, got, how, nt, reverse_for, NULL);
		if (memcmp(want, got, (size_t)ybytes) != 0)
			fail_msg("%s: %d tasks differ from the whole call", st->kernel, nt);
		checked++;
	}
	free(want), free(got);
	return checked;
}

typedef struct {
	int n, h, w, c, oc, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, groups;
} Conv;

static const Conv convs[] = {
	{1, 9, 7, 16, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},
	{1, 11, 10, 8, 16, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1},
	{1, 12, 9, 24, 40, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1},
	{1, 13, 13, 3, 16, 3, 3, 2, 2, 1, 1, 1, 1, 0, 0, 1},   /* C < 4: im2col */
	{1, 10, 8, 12, 12, 5, 5, 1, 1, 2, 1, 4, 2, 3, 2, 1},   /* dilated, asymmetric pads */
	{1, 14, 14, 32, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 32}, /* depthwise */
	{1, 15, 12, 48, 48, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 48}, /* depthwise, stride 2 */
	{1, 9, 9, 16, 16, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, 16},   /* depthwise 5x5 */
	{3, 6, 5, 16, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},    /* N > 1: images */
};

static int outdim(int in, int k, int s, int d, int p0, int p1)
{
	return (in + p0 + p1 - (d * (k - 1) + 1)) / s + 1;
}

static void test_conv(void **state)
{
	(void)state;
	int checked = 0;
	srand(7);
	for (size_t ci = 0; ci < sizeof convs / sizeof *convs; ci++) {
		const Conv *L = &convs[ci];
		int oh = outdim(L->h, L->kh, L->sh, L->dh, L->pt, L->pb), ow = outdim(L->w, L->kw, L->sw, L->dw, L->pl, L->pr);
		int cg = L->c / L->groups;
		int64_t nx = (int64_t)L->n * L->h * L->w * L->c, nw = (int64_t)L->oc * L->kh * L->kw * cg;
		int64_t ny = (int64_t)L->n * oh * ow * L->oc;
		int8_t *x = malloc((size_t)nx), *w = malloc((size_t)nw);
		int32_t *bias = malloc((size_t)L->oc * 4), *m = malloc((size_t)L->oc * 4), *s = malloc((size_t)L->oc * 4);
		for (int64_t i = 0; i < nx; i++)
			x[i] = (int8_t)(rand() % 256 - 128);
		for (int64_t i = 0; i < nw; i++)
			w[i] = (int8_t)(rand() % 255 - 127);
		for (int i = 0; i < L->oc; i++)
			bias[i] = rand() % 4000 - 2000, m[i] = (1 << 30) + rand() % (1 << 30), s[i] = -8 - rand() % 4;
		static const TargetKind tks[] = {TG_REF, TG_X86_64_AVX2, TG_X86_64_AVX512};
		for (int v = 0; v < 3; v++) {
			if ((tks[v] == TG_X86_64_AVX2 && !__builtin_cpu_supports("avx2")) ||
			    (tks[v] == TG_X86_64_AVX512 && !has512()))
				continue;
			Prog p = {0};
			Step st = {.kernel = "conv2d_i8"};
			for (int i = 0; i < Q8_NP; i++)
				st.pblob[i] = -1;
			int32_t *ip = st.p.i;
			ip[Q8_N] = L->n, ip[Q8_H] = L->h, ip[Q8_W] = L->w, ip[Q8_C] = L->c, ip[Q8_OC] = L->oc;
			ip[Q8_OH] = oh, ip[Q8_OW] = ow, ip[Q8_KH] = L->kh, ip[Q8_KW] = L->kw;
			ip[Q8_SH] = L->sh, ip[Q8_SW] = L->sw, ip[Q8_DH] = L->dh, ip[Q8_DW] = L->dw;
			ip[Q8_PT] = L->pt, ip[Q8_PL] = L->pl, ip[Q8_PB] = L->pb, ip[Q8_PR] = L->pr;
			ip[Q8_GROUPS] = L->groups, ip[Q8_AZP] = -7, ip[Q8_YZP] = 5, ip[Q8_LO] = -128, ip[Q8_HI] = 127;
			ip[Q8_NRQ] = L->oc;
			st.pblob[Q8P_W] = blob(&p, DT_I8, nw, w);
			st.pblob[Q8P_B] = blob(&p, DT_I32, L->oc, bias);
			st.pblob[Q8P_MULT] = blob(&p, DT_I32, L->oc, m);
			st.pblob[Q8P_SHIFT] = blob(&p, DT_I32, L->oc, s);
			Target t = {.kind = tks[v]};
			select_kernel(&t, &p, &st);
			for (int i = 0; i < Q8_NP; i++)
				st.p.p[i] = st.pblob[i] < 0 ? NULL : p.blobs[st.pblob[i]].data;
			int units = L->n > 1 ? L->n : oh;
			checked += check_split(&st, find(st.kernel), Q8_SPLIT_ROWS + 16 + 256, units + 1, x, NULL, ny);
			/* the same layer through lower_split's choice */
			lower_split(&st);
			assert_true(st.ntasks >= 1 && st.ntasks <= units);
		}
		free(x), free(w), free(bias), free(m), free(s);
	}
	assert_true(checked > 50);
}

static void test_pools(void **state)
{
	(void)state;
	int8_t x[2 * 13 * 11 * 20];
	srand(3);
	for (size_t i = 0; i < sizeof x; i++)
		x[i] = (int8_t)(rand() % 256 - 128);
	static const struct { int n, h, w, c, k, s, pad; } P[] = {
		{1, 13, 11, 20, 3, 2, 1}, {1, 12, 10, 16, 2, 2, 0}, {2, 13, 11, 20, 3, 1, 1}, {1, 13, 11, 64, 3, 2, 0},
	};
	const char *names[] = {"maxpool_i8", "maxpool_i8_avx512", "avgpool_i8", "avgpool_i8_avx512"};
	int checked = 0;
	for (size_t pi = 0; pi < sizeof P / sizeof *P; pi++)
		for (int v = 0; v < 4; v++) {
			if (strstr(names[v], "avx512") && !has512())
				continue;
			if ((int64_t)P[pi].n * P[pi].h * P[pi].w * P[pi].c > (int64_t)sizeof x)
				continue;
			Step st = {.kernel = names[v]};
			int32_t *ip = st.p.i;
			int oh = outdim(P[pi].h, P[pi].k, P[pi].s, 1, P[pi].pad, P[pi].pad);
			int ow = outdim(P[pi].w, P[pi].k, P[pi].s, 1, P[pi].pad, P[pi].pad);
			ip[Q8_N] = P[pi].n, ip[Q8_H] = P[pi].h, ip[Q8_W] = P[pi].w, ip[Q8_C] = ip[Q8_OC] = P[pi].c;
			ip[Q8_OH] = oh, ip[Q8_OW] = ow, ip[Q8_KH] = ip[Q8_KW] = P[pi].k, ip[Q8_SH] = ip[Q8_SW] = P[pi].s;
			ip[Q8_DH] = ip[Q8_DW] = 1, ip[Q8_PT] = ip[Q8_PL] = ip[Q8_PB] = ip[Q8_PR] = P[pi].pad;
			ip[Q8_AZP] = -3, ip[Q8_YZP] = -3, ip[Q8_GROUPS] = 1;
			int units = P[pi].n > 1 ? P[pi].n : oh;
			checked += check_split(&st, find(names[v]), Q8_SPLIT_ROWS + 16 + 256, units + 1, x, NULL,
					       (int64_t)P[pi].n * oh * ow * P[pi].c);
		}
	assert_true(checked > 20);
}

static void test_elementwise(void **state)
{
	(void)state;
	enum { N = 24 * 200 };
	static int8_t a[N], b[N], t[256];
	static float f[N];
	srand(5);
	for (int i = 0; i < N; i++)
		a[i] = (int8_t)(rand() % 256 - 128), b[i] = (int8_t)(rand() % 256 - 128), f[i] = (float)(rand() % 2001 - 1000) / 37;
	for (int i = 0; i < 256; i++)
		t[i] = (int8_t)(rand() % 256 - 128);
	static int32_t m3[3], s3[3], mc[24], sc[24];
	m3[0] = 1 << 30, s3[0] = -20, m3[1] = 1500000000, s3[1] = -21, m3[2] = 1200000000, s3[2] = -1;
	for (int i = 0; i < 24; i++)
		mc[i] = (1 << 30) + rand() % (1 << 30), sc[i] = -rand() % 3;
	int checked = 0;
	for (int v = 0; v < 2; v++) {
		if (v && !has512())
			continue;
		const char *sfx = v ? "_avx512" : "";
		/* add, same shape and along C */
		for (int bmode = 0; bmode < 2; bmode++) {
			Step st = {.kernel = fmt("add_i8%s", sfx)};
			st.p.i[Q8_COUNT] = N, st.p.i[Q8_BMODE] = bmode, st.p.i[Q8_C] = 24, st.p.i[Q8_NRQ] = 3;
			st.p.i[Q8_AZP] = 3, st.p.i[Q8_BZP] = -2, st.p.i[Q8_YZP] = 1, st.p.i[Q8_LO] = -128, st.p.i[Q8_HI] = 127;
			st.p.p[Q8P_MULT] = m3, st.p.p[Q8P_SHIFT] = s3;
			checked += check_split(&st, find(st.kernel), Q8_SPLIT_ELEMS + 16 + 256, 9, a, b, N);
		}
		for (int bmode = 0; bmode < 3; bmode++) {
			Step st = {.kernel = fmt("mul_i8%s", sfx)};
			st.p.i[Q8_COUNT] = N, st.p.i[Q8_BMODE] = bmode, st.p.i[Q8_C] = bmode == 1 ? 32 : 24;
			st.p.i[Q8_NRQ] = 1, st.p.i[Q8_AZP] = -4, st.p.i[Q8_BZP] = 9, st.p.i[Q8_YZP] = 2;
			st.p.i[Q8_LO] = -128, st.p.i[Q8_HI] = 127, st.p.p[Q8P_MULT] = mc, st.p.p[Q8P_SHIFT] = s3 + 2;
			checked += check_split(&st, find(st.kernel), Q8_SPLIT_ELEMS + 16 + 256, 9, a, b, N);
		}
		Step lut = {.kernel = fmt("lut_i8%s", sfx)};
		lut.p.i[Q8_COUNT] = N, lut.p.i[Q8_C] = 24, lut.p.p[Q8P_W] = t;
		checked += check_split(&lut, find(lut.kernel), Q8_SPLIT_ELEMS + 16 + 256, 9, a, NULL, N);
		Step rq = {.kernel = fmt("requant_i8%s", sfx)};
		rq.p.i[Q8_COUNT] = N, rq.p.i[Q8_C] = 24, rq.p.i[Q8_NRQ] = 24, rq.p.i[Q8_AZP] = 2, rq.p.i[Q8_YZP] = -1;
		rq.p.i[Q8_LO] = -128, rq.p.i[Q8_HI] = 127, rq.p.p[Q8P_MULT] = mc, rq.p.p[Q8P_SHIFT] = sc;
		checked += check_split(&rq, find(rq.kernel), Q8_SPLIT_ELEMS + 16 + 256, 9, a, NULL, N);
		Step q = {.kernel = v ? "quantize_i8_avx512" : "quantize"};
		q.p.i[Q8_OUTER] = 40, q.p.i[Q8_LEN] = 24, q.p.i[Q8_INNER] = 5, q.p.i[Q8_NQ] = 1;
		q.p.i[Q8_YDT] = Q8_DT_I8, q.p.i[Q8_YZP] = 4, q.p.f[Q8F_SCALE] = 0.25f;
		checked += check_split(&q, find(q.kernel), Q8_SPLIT_FLAT + 4 * 16 + 256, 9, f, NULL, N);
	}
	assert_true(checked >= 8 * 8);
}

int main(void)
{
	__builtin_cpu_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_conv),
		cmocka_unit_test(test_pools),
		cmocka_unit_test(test_elementwise),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
