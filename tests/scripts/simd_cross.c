/* Driver for simd_cross.sh: the kernels of one cross ISA (ISA = neon,
   dotprod or rvv, KFILE its runtime file, TK its TargetKind), packed by codegen/select.c, against
   the portable kernels of runtime/ref.c on the reference-layout weights,
   over random shapes (strides, pads, dilations, groups, depthwise, odd
   channel counts, zero points, per-channel and per-tensor multipliers,
   saturating shifts; every third case int4 weights), and the int16-activation kernels (simd_cross_a16.h).  Prints the first mismatch and exits 1, or
   "ISA: N cases bit-identical". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/lower.h"
#include "runtime/ref.c"
#define STR_(x) #x
#define STR(x) STR_(x)
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#include KFILE /* "runtime/ISA.c" */

/* a mismatch: print it, and count as a failure (1) */
#define FAIL(...) (printf("FAIL " __VA_ARGS__), 1)

static uint64_t rng = 0x2545f4914f6cdd1du;
static int rnd(int lo, int hi)
{
	rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
	return lo + (int)(rng % (uint64_t)(hi - lo + 1));
}

static int blob(Prog *p, Dtype dt, int64_t n, const void *data)
{
	Blob *b = &PUSH(p->blobs, p->nblobs);
	b->name = fmt("c%d", p->nblobs);
	b->dt = dt, b->n = n, b->data = data;
	return p->nblobs - 1;
}

static const struct { const char *name; q8_kernel fn; } variants[] = {
	{ STR(CAT(conv2d_i8_, ISA)), CAT(q8k_conv2d_i8_, ISA) },
	{ STR(CAT(dense_i8_, ISA)), CAT(q8k_dense_i8_, ISA) },
	{ STR(CAT(dwconv_i8_, ISA)), CAT(q8k_dwconv_i8_, ISA) },
	/* int4 weights, packed two per byte (runtime/w4.h) */
	{ STR(CAT(conv2d_i8_, ISA)) "_w4", CAT(CAT(q8k_conv2d_i8_, ISA), _w4) },
	{ STR(CAT(dense_i8_, ISA)) "_w4", CAT(CAT(q8k_dense_i8_, ISA), _w4) },
	{ STR(CAT(dwconv_i8_, ISA)) "_w4", CAT(CAT(q8k_dwconv_i8_, ISA), _w4) },
};
enum { NV = sizeof variants / sizeof variants[0] };

/* one random case; kind 0 conv, 1 grouped, 2 depthwise, 3 dense,
   4 a larger conv (full tiles); w4: weights in [-8, 7], which select.c
   packs two per byte for the *_w4 variants */
static int one(int kind, int w4, int *seen)
{
	int n = rnd(1, 2), h = rnd(1, 9), w = rnd(1, 9), kh = rnd(1, 3), kw = rnd(1, 3);
	int sh = rnd(1, 3), sw = rnd(1, 3), dh = rnd(1, 2), dw = rnd(1, 2), G = 1;
	int pt = rnd(0, 2), pl = rnd(0, 2), pb = rnd(0, 2), pr = rnd(0, 2);
	int cg = rnd(1, 40), ocg = rnd(1, 70);
	bool dense = false;
	if (kind == 1)
		G = rnd(2, 4), cg = rnd(1, 12), ocg = rnd(1, 20);
	else if (kind == 2)
		G = rnd(2, 70), cg = ocg = 1;
	else if (kind == 3)
		dense = true, n = rnd(1, 20), h = w = kh = kw = sh = sw = dh = dw = 1,
		pt = pl = pb = pr = 0, cg = rnd(1, 300), ocg = rnd(1, 150);
	else if (kind == 4)
		h = w = 12, kh = kw = 3, sh = sw = dh = dw = 1, pt = pl = pb = pr = 1,
		cg = rnd(1, 3) * 16, ocg = rnd(1, 4) * 16;
	while (h + pt + pb < dh * (kh - 1) + 1)
		pb++;
	while (w + pl + pr < dw * (kw - 1) + 1)
		pr++;
	int C = cg * G, OC = ocg * G;
	int OH = (h + pt + pb - dh * (kh - 1) - 1) / sh + 1, OW = (w + pl + pr - dw * (kw - 1) - 1) / sw + 1;
	int nrq = rnd(0, 2) ? OC : 1;
	int64_t nx = (int64_t)n * h * w * C, nw = (int64_t)OC * kh * kw * cg, ny = (int64_t)n * OH * OW * OC;
	int8_t *x = malloc((size_t)nx), *wt = malloc((size_t)nw);
	int8_t *want = malloc((size_t)ny), *got = malloc((size_t)ny);
	int32_t *b = rnd(0, 5) ? malloc((size_t)OC * 4) : NULL;
	int32_t *m = malloc((size_t)nrq * 4), *s = malloc((size_t)nrq * 4);
	for (int64_t i = 0; i < nx; i++)
		x[i] = (int8_t)rnd(-128, 127);
	for (int64_t i = 0; i < nw; i++)
		wt[i] = (int8_t)(w4 ? rnd(-8, 7) : rnd(0, 50) ? rnd(-127, 127) : rnd(0, 1) ? -128 : 127);
	for (int i = 0; b && i < OC; i++)
		b[i] = rnd(-30000, 30000);
	for (int i = 0; i < nrq; i++) {
		int k = rnd(0, 30);
		m[i] = k == 0 ? 0 : rnd(1 << 30, INT32_MAX);
		s[i] = k == 1 ? 30 : k == 2 ? -31 : k == 3 ? rnd(-3, 3) : rnd(-16, -6);
	}

	Prog p = { 0 };
	Step st = { .kernel = dense ? "dense_i8" : "conv2d_i8" };
	for (int i = 0; i < Q8_NP; i++)
		st.pblob[i] = -1;
	int32_t *ip = st.p.i;
	ip[Q8_N] = n, ip[Q8_H] = h, ip[Q8_W] = w, ip[Q8_C] = C, ip[Q8_OH] = OH, ip[Q8_OW] = OW;
	ip[Q8_OC] = OC, ip[Q8_KH] = kh, ip[Q8_KW] = kw, ip[Q8_SH] = sh, ip[Q8_SW] = sw;
	ip[Q8_DH] = dh, ip[Q8_DW] = dw, ip[Q8_PT] = pt, ip[Q8_PL] = pl, ip[Q8_PB] = pb, ip[Q8_PR] = pr;
	ip[Q8_GROUPS] = G, ip[Q8_AZP] = rnd(-128, 127), ip[Q8_YZP] = rnd(-128, 127);
	ip[Q8_LO] = rnd(0, 1) ? -128 : rnd(-128, 0);
	ip[Q8_HI] = rnd(0, 1) ? 127 : rnd(ip[Q8_LO], 127);
	ip[Q8_NRQ] = nrq;
	if (dense)
		ip[Q8_H] = ip[Q8_W] = ip[Q8_OH] = ip[Q8_OW] = 0; /* as lower() leaves them */
	st.pblob[Q8P_W] = blob(&p, DT_I8, nw, wt);
	if (b)
		st.pblob[Q8P_B] = blob(&p, DT_I32, OC, b);
	st.pblob[Q8P_MULT] = blob(&p, DT_I32, nrq, m);
	st.pblob[Q8P_SHIFT] = blob(&p, DT_I32, nrq, s);

	/* the reference on the reference layout */
	q8_params ref = st.p;
	for (int i = 0; i < Q8_NP; i++)
		ref.p[i] = st.pblob[i] < 0 ? NULL : p.blobs[st.pblob[i]].data;
	(dense ? q8k_dense_i8 : q8k_conv2d_i8)(&ref, x, NULL, want);

	Target t = { .kind = TK };
	select_kernel(&t, &p, &st);
	q8_kernel fn = NULL;
	for (int i = 0; i < NV; i++)
		if (!strcmp(variants[i].name, st.kernel))
			fn = variants[i].fn, seen[i]++;
	if (!fn || !strstr(st.kernel, "_w4") != !w4)
		return FAIL("select_kernel chose %s\n", st.kernel);
	for (int i = 0; i < Q8_NP; i++)
		st.p.p[i] = st.pblob[i] < 0 ? NULL : p.blobs[st.pblob[i]].data;
	memset(got, 0x55, (size_t)ny);
	fn(&st.p, x, NULL, got);
	int bad = 0;
	for (int64_t i = 0; i < ny && !bad; i++)
		if (got[i] != want[i]) {
			bad = FAIL("%s n%d %dx%dx%d -> %d k%dx%d s%d,%d d%d,%d p%d,%d,%d,%d g%d: y[%lld] = %d, want %d\n",
			       st.kernel, n, h, w, C, OC, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, G,
			       (long long)i, got[i], want[i]);
		}
	free(x), free(wt), free(want), free(got), free(b), free(m), free(s);
	arena_reset();
	return bad;
}

/* lut_i8: the variant select_kernel picks against ref.c's, every length
   up to 200 and some longer (each tail), random tables, all 256 bytes */
static int luts(void)
{
	static int8_t t[256], x[1000], want[1064], got[1064];
	Prog p = { 0 };
	Step st = { .kernel = "lut_i8" };
	for (int i = 0; i < Q8_NP; i++)
		st.pblob[i] = -1;
	Target tg = { .kind = TK };
	select_kernel(&tg, &p, &st);
	if (strcmp(st.kernel, STR(CAT(lut_i8_, ISA))))
		return FAIL("select_kernel chose %s for lut_i8\n", st.kernel);
	for (int n = 0; n <= 1000; n += n < 200 ? 1 : 53) {
		for (int i = 0; i < 256; i++)
			t[i] = (int8_t)rnd(-128, 127);
		for (int i = 0; i < n; i++)
			x[i] = (int8_t)(n >= 256 && i < 256 ? i - 128 : rnd(-128, 127));
		q8_params q = { 0 };
		q.i[Q8_COUNT] = n;
		q.p[Q8P_W] = t;
		memset(want, 0x55, sizeof want);
		memset(got, 0x55, sizeof got);
		q8k_lut_i8(&q, x, NULL, want);
		CAT(q8k_lut_i8_, ISA)(&q, x, NULL, got);
		if (memcmp(got, want, sizeof got))
			return FAIL("lut_i8_%s: n = %d differs from the portable kernel\n", STR(ISA), n);
	}
	return 0;
}

#include "simd_cross_a16.h"

int main(int argc, char **argv)
{
	int ncase = argc > 1 ? atoi(argv[1]) : 400, seen[NV] = { 0 };
	if (luts())
		return 1;
	int na = a16s(ncase / 4 + 3);
	if (na < 0)
		return 1;
	for (int i = 0; i < ncase; i++)
		if (one(i % 5, i % 3 == 2, seen))
			return 1;
	/* every variant must have run */
	for (int i = 0; i < NV; i++)
		if (!seen[i])
			return FAIL("%s never ran\n", variants[i].name);
	printf("%s: %d cases bit-identical (conv %d, dense %d, depthwise %d; int4: %d, %d, %d; and lut_i8; and %d a16)\n",
	       STR(ISA), ncase, seen[0], seen[1], seen[2], seen[3], seen[4], seen[5], na);
	return 0;
}
