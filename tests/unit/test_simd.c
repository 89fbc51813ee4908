/* The host-runnable SIMD kernels (runtime/avx2.c, runtime/avx512.c) with
   weights packed by codegen/select.c, against a plain scalar loop written
   here from the semantics in ir/ir.h and runtime/q8rt.h (an independent
   oracle: it shares no code with the kernels, nor with runtime/ref.c).
   Many random shapes: strides, pads, dilations, groups, depthwise, odd
   channel counts, random zero points, per-channel and per-tensor
   multipliers, saturating shifts; the outputs must be bit-identical.
   A variant the CPU cannot run is reported as a cmocka skip.  The int4
   tests run the same with weights in [-8, 7]: select.c packs them two per
   byte and picks the *_w4 variants (runtime/w4.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "codegen/lower.h"
#include "runtime/avx2.c"
#include "runtime/avx512.c"

/* ---- the oracle ---- */

typedef struct {
	int n, h, w, c, oc, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, groups;
	int azp, yzp, lo, hi, nrq;
	bool dense, nobias;
	bool edges; /* shifts around the depthwise kernels' requantize cases */
} Case;

static int outdim(int in, int k, int s, int d, int p0, int p1)
{
	return (in + p0 + p1 - (d * (k - 1) + 1)) / s + 1;
}

static int32_t oracle_rq(int64_t acc, int32_t m, int32_t s)
{
	/* (acc * m + 2^(30 - s)) >> (31 - s), floor division, in 128 bits */
	__int128 t = (__int128)acc * m + ((__int128)1 << (30 - s));
	t >>= 31 - s;
	return t > INT32_MAX ? INT32_MAX : t < INT32_MIN ? INT32_MIN : (int32_t)t;
}

static void oracle(const Case *k, const int8_t *x, const int8_t *w, const int32_t *b,
                   const int32_t *m, const int32_t *s, int8_t *y)
{
	int oh = k->dense ? 1 : outdim(k->h, k->kh, k->sh, k->dh, k->pt, k->pb);
	int ow = k->dense ? 1 : outdim(k->w, k->kw, k->sw, k->dw, k->pl, k->pr);
	int cg = k->c / k->groups, ocg = k->oc / k->groups;
	for (int n = 0; n < k->n; n++)
	for (int i = 0; i < oh; i++)
	for (int j = 0; j < ow; j++)
	for (int o = 0; o < k->oc; o++) {
		int g = o / ocg;
		int64_t acc = b ? b[o] : 0;
		for (int u = 0; u < k->kh; u++)
		for (int v = 0; v < k->kw; v++)
		for (int c = 0; c < cg; c++) {
			int ih = i * k->sh - k->pt + u * k->dh, iw = j * k->sw - k->pl + v * k->dw;
			int xv = k->azp;
			if (ih >= 0 && ih < k->h && iw >= 0 && iw < k->w)
				xv = x[((n * k->h + ih) * k->w + iw) * k->c + g * cg + c];
			acc += xv * w[((o * k->kh + u) * k->kw + v) * cg + c];
		}
		int q = k->nrq == 1 ? 0 : o;
		int64_t r = k->yzp + (int64_t)oracle_rq(acc, m[q], s[q]);
		y[((n * oh + i) * ow + j) * k->oc + o] = (int8_t)(r < k->lo ? k->lo : r > k->hi ? k->hi : r);
	}
}

/* ---- random cases ---- */

static uint64_t rng = 0x9e3779b97f4a7c15u;
static int rnd(int lo, int hi) /* [lo, hi] */
{
	rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
	return lo + (int)(rng % (uint64_t)(hi - lo + 1));
}

static int w4mode; /* weights in [-8, 7]: packed two per byte */

typedef struct {
	Case k;
	int oh, ow;
	int8_t *x, *w, *want;
	int32_t *b, *m, *s;
	int64_t nx, ny;
} Data;

static void make(Data *d, const Case *k)
{
	d->k = *k;
	d->oh = k->dense ? 1 : outdim(k->h, k->kh, k->sh, k->dh, k->pt, k->pb);
	d->ow = k->dense ? 1 : outdim(k->w, k->kw, k->sw, k->dw, k->pl, k->pr);
	int64_t nw = (int64_t)k->oc * k->kh * k->kw * (k->c / k->groups);
	d->nx = (int64_t)k->n * k->h * k->w * k->c;
	d->ny = (int64_t)k->n * d->oh * d->ow * k->oc;
	d->x = malloc((size_t)d->nx);
	d->w = malloc((size_t)nw);
	d->want = malloc((size_t)d->ny);
	d->b = k->nobias ? NULL : malloc((size_t)k->oc * 4);
	d->m = malloc((size_t)k->nrq * 4);
	d->s = malloc((size_t)k->nrq * 4);
	for (int64_t i = 0; i < d->nx; i++)
		d->x[i] = (int8_t)rnd(-128, 127);
	for (int64_t i = 0; i < nw; i++)
		d->w[i] = (int8_t)(w4mode ? rnd(-8, 7) : rnd(0, 50) ? rnd(-127, 127) : rnd(0, 1) ? -128 : 127);
	for (int i = 0; i < k->oc && d->b; i++)
		d->b[i] = rnd(-30000, 30000);
	for (int i = 0; i < k->nrq; i++) {
		int kind = rnd(0, 30);
		d->m[i] = kind == 0 ? 0 : rnd(1 << 30, INT32_MAX);
		d->s[i] = kind == 1 ? 30 : kind == 2 ? -31 : kind == 3 ? rnd(-3, 3) : rnd(-16, -6);
		if (k->edges) { /* R = 31 - s: 31, 32 | 33 .. 54 | 55, 62 */
			static const int sv[] = { 0, -1, -2, -12, -22, -23, -24, -31, 29 };
			d->s[i] = kind < 4 ? d->s[i] : sv[rnd(0, 8)];
		}
	}
	oracle(k, d->x, d->w, d->b, d->m, d->s, d->want);
}

static void drop(Data *d)
{
	free(d->x), free(d->w), free(d->want), free(d->b), free(d->m), free(d->s);
}

/* a step of KERNEL with no blobs yet */
static Step new_step(const char *kernel)
{
	Step s = { .kernel = kernel };
	for (int i = 0; i < Q8_NP; i++)
		s.pblob[i] = -1;
	return s;
}

/* Lower the case to one step the way lower() does, let select_kernel
   pick and pack, and run the chosen kernel. */
typedef struct { const char *name; q8_kernel fn; } Variant;

static const Variant variants[] = {
	{ "conv2d_i8_avx512", q8k_conv2d_i8_avx512 },
	{ "conv2d_i8_im2col_avx512", q8k_conv2d_i8_im2col_avx512 },
	{ "dense_i8_avx512", q8k_dense_i8_avx512 },
	{ "dwconv_i8_avx512", q8k_dwconv_i8_avx512 },
	{ "conv2d_i8_avx2", q8k_conv2d_i8_avx2 },
	{ "dense_i8_avx2", q8k_dense_i8_avx2 },
	{ "dwconv_i8_avx2", q8k_dwconv_i8_avx2 },
	{ "conv2d_i8_avx512_w4", q8k_conv2d_i8_avx512_w4 },
	{ "conv2d_i8_im2col_avx512_w4", q8k_conv2d_i8_im2col_avx512_w4 },
	{ "dense_i8_avx512_w4", q8k_dense_i8_avx512_w4 },
	{ "dwconv_i8_avx512_w4", q8k_dwconv_i8_avx512_w4 },
	{ "conv2d_i8_avx2_w4", q8k_conv2d_i8_avx2_w4 },
	{ "dense_i8_avx2_w4", q8k_dense_i8_avx2_w4 },
	{ "dwconv_i8_avx2_w4", q8k_dwconv_i8_avx2_w4 },
};

static int blob(Prog *p, Dtype dt, int64_t n, const void *data)
{
	Blob *b = &PUSH(p->blobs, p->nblobs);
	b->name = fmt("c%d", p->nblobs);
	b->dt = dt, b->n = n, b->data = data;
	return p->nblobs - 1;
}

static void run_case(TargetKind tk, const char *sfx, const Data *d)
{
	const Case *k = &d->k;
	Target t = { .kind = tk, .name = sfx, .isa = sfx };
	Prog p = { 0 };
	Step s = new_step(k->dense ? "dense_i8" : "conv2d_i8");
	int32_t *ip = s.p.i;
	ip[Q8_N] = k->n, ip[Q8_H] = k->h, ip[Q8_W] = k->w, ip[Q8_C] = k->c;
	ip[Q8_OH] = d->oh, ip[Q8_OW] = d->ow, ip[Q8_OC] = k->oc;
	if (!k->dense) {
		ip[Q8_KH] = k->kh, ip[Q8_KW] = k->kw, ip[Q8_SH] = k->sh, ip[Q8_SW] = k->sw;
		ip[Q8_DH] = k->dh, ip[Q8_DW] = k->dw, ip[Q8_PT] = k->pt, ip[Q8_PL] = k->pl;
		ip[Q8_PB] = k->pb, ip[Q8_PR] = k->pr, ip[Q8_GROUPS] = k->groups;
		ip[Q8_AZP] = k->azp;
	}
	ip[Q8_YZP] = k->yzp, ip[Q8_LO] = k->lo, ip[Q8_HI] = k->hi, ip[Q8_NRQ] = k->nrq;
	int64_t nw = (int64_t)k->oc * k->kh * k->kw * (k->c / k->groups);
	s.pblob[Q8P_W] = blob(&p, DT_I8, nw, d->w);
	if (d->b)
		s.pblob[Q8P_B] = blob(&p, DT_I32, k->oc, d->b);
	s.pblob[Q8P_MULT] = blob(&p, DT_I32, k->nrq, d->m);
	s.pblob[Q8P_SHIFT] = blob(&p, DT_I32, k->nrq, d->s);
	select_kernel(&t, &p, &s);

	const Variant *v = NULL;
	for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++)
		if (!strcmp(variants[i].name, s.kernel))
			v = &variants[i];
	if (!v || !strstr(s.kernel, sfx) || !strstr(s.kernel, "_w4") != !w4mode ||
	    (s.p.i[Q8_WBITS] == 4) != w4mode)
		fail_msg("select_kernel gave %s for %s", s.kernel, sfx);
	for (int i = 0; i < Q8_NP; i++)
		s.p.p[i] = s.pblob[i] < 0 ? NULL : p.blobs[s.pblob[i]].data;
	int8_t *y = malloc((size_t)d->ny);
	memset(y, 0x55, (size_t)d->ny);
	v->fn(&s.p, d->x, NULL, y);
	for (int64_t i = 0; i < d->ny; i++)
		if (y[i] != d->want[i]) {
			print_error("%s n%d %dx%dx%d -> %d k%dx%d s%d,%d d%d,%d p%d,%d,%d,%d g%d azp %d nrq %d: "
			            "y[%lld] = %d, want %d\n", s.kernel, k->n, k->h, k->w, k->c, k->oc,
			            k->kh, k->kw, k->sh, k->sw, k->dh, k->dw, k->pt, k->pl, k->pb, k->pr,
			            k->groups, k->azp, k->nrq, (long long)i, y[i], d->want[i]);
			fail();
		}
	free(y);
	arena_reset();
}

static Case rand_case(int kind)
{
	Case k = { .n = rnd(1, 2), .h = rnd(1, 9), .w = rnd(1, 9), .kh = rnd(1, 3), .kw = rnd(1, 3),
	           .sh = rnd(1, 3), .sw = rnd(1, 3), .dh = rnd(1, 2), .dw = rnd(1, 2), .groups = 1,
	           .azp = rnd(-128, 127), .yzp = rnd(-128, 127) };
	k.pt = rnd(0, 2), k.pl = rnd(0, 2), k.pb = rnd(0, 2), k.pr = rnd(0, 2);
	if (rnd(0, 3) == 0)
		k.pt = k.pl = k.pb = k.pr = 0;
	/* the window must fit the padded input */
	while (k.h + k.pt + k.pb < k.dh * (k.kh - 1) + 1)
		k.pb++;
	while (k.w + k.pl + k.pr < k.dw * (k.kw - 1) + 1)
		k.pr++;
	int cg = rnd(1, 40), ocg = rnd(1, 70);
	if (kind == 1) { /* grouped */
		k.groups = rnd(2, 4);
		cg = rnd(1, 12), ocg = rnd(1, 20);
	} else if (kind == 2) { /* depthwise */
		k.groups = rnd(2, 70);
		cg = ocg = 1;
	} else if (kind == 3) { /* dense */
		k = (Case){ .n = rnd(1, 20), .h = 1, .w = 1, .kh = 1, .kw = 1, .sh = 1, .sw = 1,
		            .dh = 1, .dw = 1, .groups = 1, .yzp = rnd(-128, 127), .dense = true };
		cg = rnd(1, 300), ocg = rnd(1, 150);
	}
	k.c = cg * k.groups, k.oc = ocg * k.groups;
	k.nrq = rnd(0, 2) ? k.oc : 1;
	k.nobias = rnd(0, 5) == 0;
	k.lo = rnd(0, 1) ? -128 : rnd(-128, 0);
	k.hi = rnd(0, 1) ? 127 : rnd(k.lo, 127);
	return k;
}

static void run_random(TargetKind tk, const char *sfx, int ncase)
{
	for (int i = 0; i < ncase; i++) {
		Case k = rand_case(i % 4);
		Data d;
		make(&d, &k);
		run_case(tk, sfx, &d);
		drop(&d);
	}
}

/* Shapes where the vector widths and tiles all take their full and their
   tail paths: many pixels, channel counts around 4/16/64 multiples. */
static void run_fixed(TargetKind tk, const char *sfx)
{
	static const int shapes[][6] = { /* h, w, c, oc, k, groups */
		{ 14, 14, 64, 64, 3, 1 }, { 9, 11, 3, 32, 3, 1 }, { 8, 8, 17, 65, 3, 1 },
		{ 7, 13, 128, 128, 1, 1 }, { 6, 6, 64, 64, 3, 64 }, { 10, 3, 33, 33, 5, 33 },
		{ 5, 5, 48, 96, 3, 2 }, { 13, 7, 100, 48, 1, 1 }, { 4, 4, 8, 200, 3, 1 },
		{ 10, 10, 16, 16, 9, 16 }, /* depthwise with 81 taps: the general kernel */
		/* padded inputs above Q8_PADCOPY: the tiles test their taps
		   (mode 1), and more than 64 taps their coordinates (mode 0) */
		{ 40, 40, 16, 32, 3, 1 }, { 30, 31, 24, 20, 3, 1 }, { 46, 46, 8, 8, 9, 1 },
		/* OC = 16: four pixels' outputs narrowed together */
		{ 14, 14, 16, 16, 3, 1 }, { 9, 9, 20, 16, 1, 1 }, { 9, 9, 32, 16, 3, 2 },
	};
	for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
		const int *sh = shapes[i];
		Case k = { .n = 1, .h = sh[0], .w = sh[1], .c = sh[2], .oc = sh[3], .kh = sh[4],
		           .kw = sh[4], .sh = 1, .sw = 1, .dh = 1, .dw = 1, .groups = sh[5],
		           .azp = rnd(-128, 127), .yzp = rnd(-20, 20), .lo = -128, .hi = 127 };
		k.pt = k.pl = k.pb = k.pr = sh[4] / 2;
		k.nrq = i % 2 ? 1 : k.oc;
		Data d;
		make(&d, &k);
		run_case(tk, sfx, &d);
		drop(&d);
	}
	Case dense = { .n = 1, .h = 1, .w = 1, .c = 1024, .oc = 1000, .kh = 1, .kw = 1, .sh = 1,
	               .sw = 1, .dh = 1, .dw = 1, .groups = 1, .yzp = 3, .lo = -128, .hi = 127,
	               .nrq = 1000, .dense = true };
	Data d;
	make(&d, &dense);
	run_case(tk, sfx, &d);
	drop(&d);
}

/* The oracle itself, on a case worked by hand: 1x1 input of 2 channels,
   x = [3, -2], w = [[4, 5]], b = 10: acc = 10 + 12 - 10 = 12; M = 0.5
   (m = 2^30, s = 0): rq = 6, y = yzp 1 + 6 = 7.  With a 3x3 window and
   pad 1 on the same input, the 8 padded taps read azp = 2 on both
   channels; w all ones: acc = 10 + (3 - 2) + 8 * 2 * 2 = 43,
   rq(43 * 0.5) = 22 (21.5 rounds up), y = 23. */
static void test_oracle(void **state)
{
	(void)state;
	int8_t x[2] = { 3, -2 }, w[2] = { 4, 5 }, y[1];
	int32_t b[1] = { 10 }, m[1] = { 1 << 30 }, s[1] = { 0 };
	Case k = { .n = 1, .h = 1, .w = 1, .c = 2, .oc = 1, .kh = 1, .kw = 1, .sh = 1, .sw = 1,
	           .dh = 1, .dw = 1, .groups = 1, .yzp = 1, .lo = -128, .hi = 127, .nrq = 1 };
	oracle(&k, x, w, b, m, s, y);
	assert_int_equal(y[0], 7);
	int8_t w9[18];
	memset(w9, 1, sizeof w9);
	k.kh = k.kw = 3, k.pt = k.pl = k.pb = k.pr = 1, k.azp = 2;
	oracle(&k, x, w9, b, m, s, y);
	assert_int_equal(y[0], 23);
	k.hi = 9; /* the clamp */
	oracle(&k, x, w9, b, m, s, y);
	assert_int_equal(y[0], 9);
}

/* Skips the test, visibly, when this CPU cannot run the isa's kernels. */
static void need(TargetKind tk)
{
	__builtin_cpu_init();
	if (tk == TG_X86_64_AVX512 && !(__builtin_cpu_supports("avx512f") &&
	    __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
	    __builtin_cpu_supports("avx512vnni"))) {
		printf("[  SKIPPED ] avx512: this CPU has no AVX-512 VNNI\n");
		skip();
	}
	if (tk == TG_X86_64_AVX2 && !__builtin_cpu_supports("avx2")) {
		printf("[  SKIPPED ] avx2: this CPU has no AVX2\n");
		skip();
	}
}

static void test_avx512(void **state)
{
	(void)state;
	need(TG_X86_64_AVX512);
	run_fixed(TG_X86_64_AVX512, "avx512");
	run_random(TG_X86_64_AVX512, "avx512", 600);
}

static void test_avx2(void **state)
{
	(void)state;
	need(TG_X86_64_AVX2);
	run_fixed(TG_X86_64_AVX2, "avx2");
	run_random(TG_X86_64_AVX2, "avx2", 600);
}

/* A padded conv with more than 4096 channels per group would overflow the
   kernels' pad buffer: select_kernel keeps the portable kernel. */
static void test_fallback(void **state)
{
	(void)state;
	static int8_t w[5000 * 9] = { 100 }; /* not int4 */
	int32_t m[1] = { 1 << 30 }, s[1] = { 0 };
	for (int pad = 0; pad < 2; pad++) {
		Target t = { .kind = TG_X86_64_AVX512 };
		Prog p = { 0 };
		Step st = new_step("conv2d_i8");
		int32_t *ip = st.p.i;
		ip[Q8_N] = 1, ip[Q8_H] = ip[Q8_W] = 3, ip[Q8_C] = 5000, ip[Q8_OC] = 1;
		ip[Q8_OH] = ip[Q8_OW] = 3 - 2 + 2 * pad, ip[Q8_KH] = ip[Q8_KW] = 3;
		ip[Q8_SH] = ip[Q8_SW] = ip[Q8_DH] = ip[Q8_DW] = 1;
		ip[Q8_PT] = ip[Q8_PL] = ip[Q8_PB] = ip[Q8_PR] = pad;
		ip[Q8_GROUPS] = 1, ip[Q8_NRQ] = 1;
		st.pblob[Q8P_W] = blob(&p, DT_I8, 5000 * 9, w);
		st.pblob[Q8P_MULT] = blob(&p, DT_I32, 1, m);
		st.pblob[Q8P_SHIFT] = blob(&p, DT_I32, 1, s);
		select_kernel(&t, &p, &st);
		assert_string_equal(st.kernel, pad ? "conv2d_i8" : "conv2d_i8_avx512");
		arena_reset();
	}
}

/* Few input channels (C < 4), the im2col kernel's: windows gathered in
   registers when kw x C >= 3 (and the CPU has VBMI), else copied.  Rows
   wide enough for several runs of 16 pixels and a tail, windows up to
   5x5, every stride, dilation and pad, several blocks of outputs. */
static void run_small_c(int ncase)
{
	for (int i = 0; i < ncase; i++) {
		Case k = { .n = rnd(1, 2), .h = rnd(1, 12), .w = rnd(1, 45), .c = rnd(1, 3),
		           .kh = rnd(1, 5), .kw = rnd(1, 5), .sh = rnd(1, 3), .sw = rnd(1, 3),
		           .dh = rnd(1, 2), .dw = rnd(1, 2), .groups = 1, .azp = rnd(-128, 127),
		           .yzp = rnd(-128, 127), .edges = rnd(0, 1) };
		while (k.kh * k.kw * k.c > 64)
			k.kh--;
		k.pt = rnd(0, 2), k.pl = rnd(0, 2), k.pb = rnd(0, 2), k.pr = rnd(0, 2);
		while (k.h + k.pt + k.pb < k.dh * (k.kh - 1) + 1)
			k.pb++;
		while (k.w + k.pl + k.pr < k.dw * (k.kw - 1) + 1)
			k.pr++;
		k.oc = rnd(0, 3) ? rnd(1, 40) : 16; /* 16: 4 pixels narrowed together */
		k.nrq = rnd(0, 3) ? k.oc : 1;
		k.nobias = rnd(0, 5) == 0;
		k.lo = rnd(0, 1) ? -128 : rnd(-128, 0);
		k.hi = rnd(0, 1) ? 127 : rnd(k.lo, 127);
		Data d;
		make(&d, &k);
		run_case(TG_X86_64_AVX512, "im2col_avx512", &d);
		drop(&d);
	}
}

static void test_small_c(void **state)
{
	(void)state;
	need(TG_X86_64_AVX512);
	run_small_c(800);
}

/* int4 weights: the *_w4 variants, unpacking by blocks (conv, dense) or
   whole (depthwise, im2col), against the same oracle */
static void test_avx512_w4(void **state)
{
	(void)state;
	need(TG_X86_64_AVX512);
	w4mode = 1;
	run_fixed(TG_X86_64_AVX512, "avx512");
	run_random(TG_X86_64_AVX512, "avx512", 300);
	run_small_c(200);
	w4mode = 0;
}

static void test_avx2_w4(void **state)
{
	(void)state;
	need(TG_X86_64_AVX2);
	w4mode = 1;
	run_fixed(TG_X86_64_AVX2, "avx2");
	run_random(TG_X86_64_AVX2, "avx2", 300);
	w4mode = 0;
}

/* conv2d_i8_avx512's paths (runtime/avx512_conv.h): bands of output rows
   on a u8 copy of their input rows, several bands per image and the last
   one shorter; channels padded to a multiple of 4 (C = 3: resnet18's
   7x7 stride-2 stem, with padding on all sides); 1x1 stride-1 layers as a
   GEMM with odd channel counts and pixel counts that leave a partial
   tile; rows too wide for a band (the tiles then XOR, as before); a
   tail of fewer than M/2 pixels (single pixels). */
static void test_conv_bands(void **state)
{
	(void)state;
	need(TG_X86_64_AVX512);
	static const int cases[][12] = { /* h, w, c, oc, kh, sh, pt, pl, pb, pr, groups, n */
		{ 45, 37, 3, 64, 7, 2, 3, 3, 2, 3, 1, 1 },   /* stem: C = 3, pads differ */
		{ 23, 30, 3, 20, 7, 2, 3, 2, 3, 1, 1, 2 },   /* and 2 images, OC tail */
		{ 64, 60, 64, 64, 3, 1, 1, 1, 1, 1, 1, 1 },  /* 3x3, many bands */
		{ 31, 29, 64, 128, 3, 2, 1, 1, 1, 1, 1, 1 }, /* stride 2, band tails */
		{ 7, 7, 520, 80, 3, 1, 1, 1, 1, 1, 1, 1 },   /* 7x7 layer, C past 512 */
		{ 13, 11, 5, 33, 1, 1, 0, 0, 0, 0, 1, 1 },   /* GEMM: C = 5 padded to 8 */
		{ 29, 31, 37, 70, 1, 1, 0, 0, 0, 0, 1, 2 },  /* GEMM: odd C, OC, pixels */
		{ 57, 55, 16, 16, 1, 1, 0, 0, 0, 0, 1, 1 },  /* GEMM: 12 x 16 tiles, tails */
		{ 9, 11, 40, 96, 1, 1, 0, 0, 0, 0, 1, 1 },   /* GEMM: 6 x 64 then 12 x 32 */
		{ 15, 16, 64, 128, 1, 2, 0, 0, 0, 0, 1, 1 }, /* 1x1 stride 2: copy, GEMM */
		{ 12, 14, 6, 50, 1, 1, 1, 1, 1, 1, 1, 1 },   /* padded 1x1, C = 6 */
		{ 5, 260, 96, 20, 3, 1, 1, 1, 1, 1, 1, 1 },  /* rows past the band: XOR */
		{ 10, 10, 24, 36, 3, 1, 1, 1, 1, 1, 2, 1 },  /* groups, C / G % 4 == 0 */
		{ 10, 10, 18, 36, 3, 1, 1, 1, 1, 1, 2, 1 },  /* groups, C / G odd: XOR */
		{ 1, 7, 8, 64, 1, 1, 0, 0, 0, 0, 1, 1 },     /* 7 pixels: 6 + 1 single */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const int *c = cases[i];
		Case k = { .n = c[11], .h = c[0], .w = c[1], .c = c[2], .oc = c[3], .kh = c[4],
		           .kw = c[4], .sh = c[5], .sw = c[5], .dh = 1, .dw = 1, .pt = c[6],
		           .pl = c[7], .pb = c[8], .pr = c[9], .groups = c[10],
		           .azp = rnd(-128, 127), .yzp = rnd(-20, 20), .lo = -128, .hi = 127,
		           .edges = i % 3 == 0 };
		k.nrq = i % 2 ? 1 : k.oc;
		Data d;
		make(&d, &k);
		run_case(TG_X86_64_AVX512, "conv2d_i8_avx512", &d);
		drop(&d);
	}
}

/* The baseline targets and the interpreter keep the portable kernels. */
static void test_identity(void **state)
{
	(void)state;
	static const TargetKind keep[] = { TG_X86_64, TG_RISCV64, TG_REF };
	int8_t w[4] = { 1, 2, 3, 40 }; /* not int4: those are packed (test_int4.c) */
	int32_t m[1] = { 1 << 30 }, s[1] = { 0 };
	for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
		Target t = { .kind = keep[i] };
		Prog p = { 0 };
		Step st = new_step("conv2d_i8");
		st.p.i[Q8_N] = st.p.i[Q8_H] = st.p.i[Q8_W] = 1;
		st.p.i[Q8_C] = 4, st.p.i[Q8_OC] = 1, st.p.i[Q8_KH] = st.p.i[Q8_KW] = 1;
		st.p.i[Q8_GROUPS] = 1, st.p.i[Q8_NRQ] = 1;
		st.pblob[Q8P_W] = blob(&p, DT_I8, 4, w);
		st.pblob[Q8P_MULT] = blob(&p, DT_I32, 1, m);
		st.pblob[Q8P_SHIFT] = blob(&p, DT_I32, 1, s);
		select_kernel(&t, &p, &st);
		assert_string_equal(st.kernel, "conv2d_i8");
		assert_int_equal(p.nblobs, 3);
		assert_int_equal(st.pblob[Q8P_W], 0);
		arena_reset();
	}
}

/* Depthwise only: every pad side on its own, strides and dilations up
   to 3, windows up to 5x5 and tall ones (several row groups), channel
   counts around the vector widths, batches, requantize shifts on both
   sides of the fast path's range, per-tensor multipliers. */
static const int dw_c[] = { 1, 2, 3, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 48, 64, 65, 100, 128, 136, 144, 200 };

static Case dw_case(void)
{
	Case k = { .n = rnd(1, 3), .h = rnd(1, 12), .w = rnd(1, 12), .kh = rnd(1, 5), .kw = rnd(1, 5),
	           .sh = rnd(1, 3), .sw = rnd(1, 3), .dh = rnd(1, 3), .dw = rnd(1, 3),
	           .azp = rnd(-128, 127), .yzp = rnd(-128, 127), .edges = true };
	if (rnd(0, 5) == 0)
		k.kh = rnd(6, 12), k.kw = 1; /* 3 row groups for avx512, 6 for avx2 */
	k.pt = rnd(0, 3), k.pl = rnd(0, 3), k.pb = rnd(0, 3), k.pr = rnd(0, 3);
	while (k.h + k.pt + k.pb < k.dh * (k.kh - 1) + 1)
		k.pb++;
	while (k.w + k.pl + k.pr < k.dw * (k.kw - 1) + 1)
		k.pr++;
	k.c = k.oc = k.groups = dw_c[rnd(0, sizeof dw_c / sizeof dw_c[0] - 1)];
	k.nrq = rnd(0, 3) ? k.oc : 1;
	k.nobias = rnd(0, 5) == 0;
	k.lo = rnd(0, 1) ? -128 : rnd(-128, 0);
	k.hi = rnd(0, 1) ? 127 : rnd(k.lo, 127);
	return k;
}

static void run_dw(TargetKind tk, const char *sfx)
{
	for (int i = 0; i < 1500; i++) {
		Case k = dw_case();
		if (k.groups == 1) /* C = 1 is a plain conv */
			continue;
		Data d;
		make(&d, &k);
		run_case(tk, sfx, &d);
		drop(&d);
	}
	/* rows longer than the kernels' column buffer (several passes per
	   row), and a dilated window too wide for it (the conv kernel) */
	static const int big[][6] = { /* h, w, c, k, stride, dilation */
		{ 3, 700, 5, 3, 1, 1 }, { 2, 900, 16, 3, 2, 1 }, { 9, 400, 8, 5, 1, 70 },
		{ 5, 300, 3, 2, 1, 200 },
	};
	for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
		const int *b = big[i];
		Case k = { .n = 1, .h = b[0], .w = b[1], .c = b[2], .oc = b[2], .groups = b[2],
		           .kh = b[3], .kw = b[3], .sh = b[4], .sw = b[4], .dh = 1, .dw = b[5],
		           .pt = 1, .pl = 1, .pb = 1, .pr = 1, .azp = -7, .yzp = 5, .lo = -128,
		           .hi = 127, .nrq = b[2], .edges = true };
		while (k.h + k.pt + k.pb < k.dh * (k.kh - 1) + 1)
			k.pb++;
		while (k.w + k.pl + k.pr < k.dw * (k.kw - 1) + 1)
			k.pr++;
		Data d;
		make(&d, &k);
		run_case(tk, sfx, &d);
		drop(&d);
	}
}

static void test_dw_avx512(void **state)
{
	(void)state;
	need(TG_X86_64_AVX512);
	run_dw(TG_X86_64_AVX512, "avx512");
}

static void test_dw_avx2(void **state)
{
	(void)state;
	need(TG_X86_64_AVX2);
	run_dw(TG_X86_64_AVX2, "avx2");
}

/* Which kernel select_kernel gives a depthwise layer on x86: the
   depthwise one for a 3x3, the grouped conv kernel when the window is
   too wide for the column buffer or a multiplier is outside q8rt.h's
   range (the depthwise requantization relies on it). */
static void test_dw_select(void **state)
{
	(void)state;
	static const struct { int kw, dw, m; const char *want; } cases[] = {
		{ 3, 1, 1 << 30, "dwconv_i8_avx512" },
		{ 3, 200, 1 << 30, "conv2d_i8_avx512" }, /* span 401 > 256 columns */
		{ 3, 1, 5, "conv2d_i8_avx512" },
		{ 3, 1, 0, "dwconv_i8_avx512" },
	};
	int8_t w[16 * 9] = { 100 }; /* not int4 */
	int32_t s[1] = { -8 };
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int32_t m[1] = { cases[i].m };
		Target t = { .kind = TG_X86_64_AVX512 };
		Prog p = { 0 };
		Step st = new_step("conv2d_i8");
		int32_t *ip = st.p.i;
		ip[Q8_N] = 1, ip[Q8_H] = 5, ip[Q8_W] = 500, ip[Q8_C] = ip[Q8_OC] = ip[Q8_GROUPS] = 16;
		ip[Q8_KH] = 3, ip[Q8_KW] = cases[i].kw, ip[Q8_SH] = ip[Q8_SW] = ip[Q8_DH] = 1;
		ip[Q8_DW] = cases[i].dw, ip[Q8_NRQ] = 1;
		st.pblob[Q8P_W] = blob(&p, DT_I8, 16 * 9, w);
		st.pblob[Q8P_MULT] = blob(&p, DT_I32, 1, m);
		st.pblob[Q8P_SHIFT] = blob(&p, DT_I32, 1, s);
		select_kernel(&t, &p, &st);
		assert_string_equal(st.kernel, cases[i].want);
		arena_reset();
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_oracle),
		cmocka_unit_test(test_identity),
		cmocka_unit_test(test_fallback),
		cmocka_unit_test(test_small_c),
		cmocka_unit_test(test_avx2),
		cmocka_unit_test(test_avx512),
		cmocka_unit_test(test_avx2_w4),
		cmocka_unit_test(test_avx512_w4),
		cmocka_unit_test(test_conv_bands),
		cmocka_unit_test(test_dw_select),
		cmocka_unit_test(test_dw_avx2),
		cmocka_unit_test(test_dw_avx512),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
