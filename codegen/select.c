/* Kernel selection: after lower() has built a step with the portable
   kernel and reference-layout weights, swap in the target's SIMD variant
   (runtime/<isa>.c) and repack its constants the way that variant reads
   them.  Variants give the same bits as the portable kernels: the same
   int32 accumulator, then q8_rq and the clamp.

   Packed layouts (docs/performance.md has the picture):
   - conv2d_i8 / dense_i8 (dense is a 1x1 conv over N rows):
       W[g][ob][kh][kw][kgrp][L][KG]   (int8, or int16 for avx2)
     g the group, ob a block of L output channels of that group, kgrp a
     group of KG consecutive input channels of the tap; channels past
     OC/G or C/G are zero.  One vector register holds one [L][KG] block.
   - dwconv (groups == C == OC), Cp = C rounded up to 16 (64 for avx512):
       avx512: W[Cp/64][R][G][kw][4][16][4] int8, the 4 bytes of a lane
               4 input rows of the pass of column kx for output row r
               (vpdpbusd on transposed input columns; B folds
               -128 * sum(w), below; B, MULT, SHIFT permuted: pack_dw5)
       avx2:   W[Cp/8][ceil(kh/2)][kw][8][2] int16, rows 2g, 2g+1
               (vpmaddwd on int16 pairs)
       else:   W[kh][kw][Cp] int16.
     Rows past kh and channels past C are zero.
   - B, MULT, SHIFT become per-channel int32 arrays [g][OCg rounded up
     to L] (or [Cp]), so kernels load whole vectors without reading past
     an array.  For avx512 B also absorbs -128 * sum(w[c]): vpdpbusd
     multiplies u8 by s8, so the kernel feeds it x ^ 0x80 = x + 128. */
#include "codegen/lower.h"
#include "runtime/tile.h"

#include <string.h>

enum {
	PADBUF = Q8_PADBUF, /* the kernels' stack buffer of pad values (bytes) */
	DWTAPS = Q8_DWTAPS, /* the depthwise kernels' window limit */
	IM2COL = 64,   /* conv2d_i8_im2col_avx512's window limit (bytes) */
	DWCOLS = 256,  /* the avx2 depthwise kernel's column buffer (vectors) */
	DW5COLS = 256, /* the avx512 one's (runtime/avx512_dw.h: X5_DWT) */
	MCU_COL = 1024, /* runtime/mcu.h's Q8_MCU_COL: the Cortex-M window buffer (bytes) */
};

typedef struct {
	TargetKind kind;
	const char *sfx;  /* kernel name suffix: conv2d_i8_SFX */
	int L, KG;        /* conv block: L output channels x KG input channels */
	Dtype wdt;        /* conv weight element: DT_I8 or DT_I16 */
	Dtype dwdt;       /* depthwise weight element */
	bool u8fold;      /* fold -128 * sum(w) into the bias */
} Isa;

static const Isa isas[] = {
	{ TG_X86_64_AVX2,     "avx2",    8,  4, DT_I16, DT_I16, false },
	{ TG_X86_64_AVX512,   "avx512",  16, 4, DT_I8,  DT_I8,  true },
	{ TG_AARCH64,         "neon",    8,  4, DT_I8,  DT_I16, false },
	{ TG_AARCH64_DOTPROD, "dotprod", 16, 4, DT_I8,  DT_I16, false },
	{ TG_RISCV64_V,       "rvv",     16, 1, DT_I8,  DT_I16, false },
};

static void select_variant(const Target *t, Prog *p, Step *s);
static bool starts(const char *s, const char *pre) { return !strncmp(s, pre, strlen(pre)); }

static int64_t roundup(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

static int addblob(Prog *p, const char *base, Dtype dt, int64_t n, const void *data)
{
	Blob *b = &PUSH(p->blobs, p->nblobs);
	b->name = fmt("%s_simd%d", base, p->nblobs - 1);
	b->dt = dt;
	b->n = n;
	b->data = data;
	return p->nblobs - 1;
}

static const void *blobdata(const Prog *p, int idx, Dtype dt, int64_t n)
{
	if (idx < 0)
		return NULL;
	if (idx >= p->nblobs || p->blobs[idx].dt != dt || p->blobs[idx].n < n)
		die("select: blob %d is not %s[%lld]", idx, dtype_name(dt), (long long)n);
	return p->blobs[idx].data;
}

/* Per-channel int32 arrays padded to the packed channel order: the
   bias (with the u8 fold), and MULT/SHIFT expanded from per tensor. */
static void repack_rq(const Isa *isa, Prog *p, Step *s, int G, int OCg, int OCgp,
                      const int8_t *w, int64_t kper)
{
	int OC = G * OCg, nrq = s->p.i[Q8_NRQ];
	const int32_t *b = blobdata(p, s->pblob[Q8P_B], DT_I32, OC);
	const int32_t *m = blobdata(p, s->pblob[Q8P_MULT], DT_I32, nrq);
	const int32_t *sh = blobdata(p, s->pblob[Q8P_SHIFT], DT_I32, nrq);
	if (!m || !sh || (nrq != 1 && nrq != OC))
		die("select: %s has no requantization (nrq %d)", s->kernel, nrq);
	int64_t n = (int64_t)G * OCgp;
	int32_t *nb = alloc_array(n, 4), *nm = alloc_array(n, 4), *ns = alloc_array(n, 4);
	for (int g = 0; g < G; g++)
		for (int j = 0; j < OCg; j++) {
			int oc = g * OCg + j;
			int64_t d = (int64_t)g * OCgp + j;
			/* modulo 2^32, as the kernels' accumulators (and ref.c's) */
			uint32_t acc = b ? (uint32_t)b[oc] : 0;
			if (isa->u8fold)
				for (int64_t k = 0; k < kper; k++)
					acc -= 128u * (uint32_t)(int32_t)w[oc * kper + k];
			nb[d] = (int32_t)acc;
			nm[d] = m[nrq == 1 ? 0 : oc];
			ns[d] = sh[nrq == 1 ? 0 : oc];
		}
	/* padded channels: multiplier 0 gives rq = 0, never stored anyway */
	const char *base = p->blobs[s->pblob[Q8P_W]].name;
	s->pblob[Q8P_B] = addblob(p, fmt("%s_b", base), DT_I32, n, nb);
	s->pblob[Q8P_MULT] = addblob(p, fmt("%s_m", base), DT_I32, n, nm);
	s->pblob[Q8P_SHIFT] = addblob(p, fmt("%s_s", base), DT_I32, n, ns);
}

static void pack_conv(const Isa *isa, Prog *p, Step *s, bool dense)
{
	const q8_params *q = &s->p;
	int G = dense ? 1 : q->i[Q8_GROUPS];
	int C = q->i[Q8_C], OC = q->i[Q8_OC];
	int T = dense ? 1 : q->i[Q8_KH] * q->i[Q8_KW];
	if (G < 1 || C % G || OC % G || T < 1)
		die("select: bad conv geometry");
	int Cg = C / G, OCg = OC / G;
	/* few input channels: avx512 takes the whole window as the reduction
	   axis (conv2d_i8_im2col_avx512), W packed as a dense [OC][T*C] */
	bool im2col = !dense && isa->kind == TG_X86_64_AVX512 && G == 1 && Cg < 4 &&
	              (int64_t)T * Cg <= IM2COL;
	if (im2col) {
		Cg *= T;
		T = 1;
	}
	bool padded = !dense && (q->i[Q8_PT] | q->i[Q8_PL] | q->i[Q8_PB] | q->i[Q8_PR]);
	if (padded && Cg > PADBUF)
		return;
	int L = isa->L, KG = isa->KG;
	int nk = (int)roundup(Cg, KG) / KG, nob = (int)roundup(OCg, L) / L;
	int64_t kper = (int64_t)T * Cg;
	const int8_t *w = blobdata(p, s->pblob[Q8P_W], DT_I8, OC * kper);
	int64_t n = (int64_t)G * nob * T * nk * L * KG;
	void *pw = alloc_array(n, dtype_size(isa->wdt));
	int64_t i = 0;
	for (int g = 0; g < G; g++)
	for (int ob = 0; ob < nob; ob++)
	for (int t = 0; t < T; t++)
	for (int k = 0; k < nk; k++)
	for (int l = 0; l < L; l++)
	for (int e = 0; e < KG; e++, i++) {
		int j = ob * L + l, c = k * KG + e;
		int v = j < OCg && c < Cg ? w[(g * OCg + j) * kper + (int64_t)t * Cg + c] : 0;
		if (isa->wdt == DT_I16)
			((int16_t *)pw)[i] = (int16_t)v;
		else
			((int8_t *)pw)[i] = (int8_t)v;
	}
	repack_rq(isa, p, s, G, OCg, nob * L, w, kper);
	s->pblob[Q8P_W] = addblob(p, p->blobs[s->pblob[Q8P_W]].name, isa->wdt, n, pw);
	s->kernel = im2col ? "conv2d_i8_im2col_avx512" : fmt("%s_%s", s->kernel, isa->sfx);
}

/* x86 depthwise: W[C/L][NG][kw][L][RG], RG rows of the window per
   group (4 for avx512's vpdpbusd, int8; 2 for avx2's vpmaddwd, int16),
   NG = ceil(kh / RG), 0 past kh and past C. */
static void *pack_dw_x86(const Isa *isa, const int8_t *w, int C, int Cp, int kh, int kw,
                         int64_t *n)
{
	int L = isa->kind == TG_X86_64_AVX512 ? 16 : 8, RG = isa->kind == TG_X86_64_AVX512 ? 4 : 2;
	int ng = (kh + RG - 1) / RG;
	*n = (int64_t)Cp * ng * kw * RG;
	void *pw = alloc_array(*n, dtype_size(isa->dwdt));
	int64_t i = 0;
	for (int cb = 0; cb < Cp / L; cb++)
	for (int g = 0; g < ng; g++)
	for (int kx = 0; kx < kw; kx++)
	for (int l = 0; l < L; l++)
	for (int j = 0; j < RG; j++, i++) {
		int c = cb * L + l, ky = g * RG + j;
		int v = c < C && ky < kh ? w[((int64_t)c * kh + ky) * kw + kx] : 0;
		if (isa->dwdt == DT_I16)
			((int16_t *)pw)[i] = (int16_t)v;
		else
			((int8_t *)pw)[i] = (int8_t)v;
	}
	return pw;
}

/* avx512 depthwise (runtime/avx512_dw.h), 64 channels a block and R
   output rows a pass (q8_dw5_rows): W[Cp/64][R][G][kw][4][4][4][4] int8,
   [k][L][i][j] the 4 vectors of a block: lane (L, i) of vector k is
   channel 16L + 4k + i, its byte j the tap of input row 4g + j of the
   pass for output row r, whose window starts r * sh rows down. */
static int8_t *pack_dw5(const int8_t *w, int C, int Cp, const int32_t *i, int64_t *n)
{
	int kh = i[Q8_KH], kw = i[Q8_KW], sh = i[Q8_SH], dh = i[Q8_DH], G;
	int R = q8_dw5_rows(kh, sh, dh, &G);
	*n = (int64_t)Cp * R * G * kw * 4;
	int8_t *pw = alloc_array(*n, 1);
	int64_t e = 0;
	for (int cb = 0; cb < Cp / 64; cb++)
	for (int r = 0; r < R; r++)
	for (int g = 0; g < G; g++)
	for (int kx = 0; kx < kw; kx++)
	for (int k = 0; k < 4; k++)
	for (int L = 0; L < 4; L++)
	for (int l = 0; l < 4; l++)
	for (int j = 0; j < 4; j++, e++) {
		int c = cb * 64 + 16 * L + 4 * k + l, d = 4 * g + j - r * sh;
		int ky = d >= 0 && d % dh == 0 ? d / dh : kh;
		pw[e] = c < C && ky < kh ? w[((int64_t)c * kh + ky) * kw + kx] : 0;
	}
	return pw;
}

/* The x86 depthwise kernels transpose the input columns of a window
   into a stack buffer of DWCOLS vectors (ng row groups x columns), and
   their requantization relies on q8rt.h's multiplier range (clamping
   the accumulator where the result saturates): else the conv kernel. */
static bool dw_ok(const Isa *isa, const Prog *p, const Step *s)
{
	const int32_t *i = s->p.i;
	if (i[Q8_KH] * i[Q8_KW] > DWTAPS)
		return false;
	if (isa->kind != TG_X86_64_AVX512 && isa->kind != TG_X86_64_AVX2)
		return true;
	int64_t span = (int64_t)(i[Q8_KW] - 1) * i[Q8_DW] + 1;
	int64_t G = ((int64_t)(i[Q8_KH] - 1) * i[Q8_DH] + 4) / 4;
	if (isa->kind == TG_X86_64_AVX512 ? 4 * G * span > DW5COLS
	                                  : (i[Q8_KH] + 1) / 2 * span > DWCOLS)
		return false;
	int nrq = i[Q8_NRQ];
	const int32_t *m = blobdata(p, s->pblob[Q8P_MULT], DT_I32, nrq);
	const int32_t *sh = blobdata(p, s->pblob[Q8P_SHIFT], DT_I32, nrq);
	for (int k = 0; m && sh && k < nrq; k++)
		if ((m[k] != 0 && m[k] < (1 << 30)) || sh[k] < -31 || sh[k] > 30)
			return false;
	return m && sh;
}

static void pack_dw(const Isa *isa, Prog *p, Step *s)
{
	int C = s->p.i[Q8_C], T = s->p.i[Q8_KH] * s->p.i[Q8_KW];
	bool x5 = isa->kind == TG_X86_64_AVX512;
	int Cp = (int)roundup(C, x5 ? 64 : 16);
	const int8_t *w = blobdata(p, s->pblob[Q8P_W], DT_I8, (int64_t)C * T);
	int64_t n = (int64_t)T * Cp;
	void *pw;
	if (x5) {
		/* the blocks of 64, then the last C % 64 channels for the
		   16-channel kernel (pack_dw_x86) */
		int C64 = q8_dw5_c64(C);
		int64_t n5 = 0, n16 = 0;
		int8_t *w5 = C64 ? pack_dw5(w, C64, (int)roundup(C64, 64), s->p.i, &n5) : NULL;
		int8_t *w16 = C64 < C ? pack_dw_x86(isa, w + (int64_t)C64 * T, C - C64,
		                                    (int)roundup(C - C64, 16), s->p.i[Q8_KH],
		                                    s->p.i[Q8_KW], &n16) : NULL;
		n = n5 + n16;
		pw = alloc_array(n, 1);
		if (n5)
			memcpy(pw, w5, (size_t)n5);
		if (n16)
			memcpy((int8_t *)pw + n5, w16, (size_t)n16);
	} else if (isa->kind == TG_X86_64_AVX2) {
		pw = pack_dw_x86(isa, w, C, Cp, s->p.i[Q8_KH], s->p.i[Q8_KW], &n);
	} else {
		pw = alloc_array(n, dtype_size(isa->dwdt));
		for (int t = 0; t < T; t++)
			for (int c = 0; c < Cp; c++)
				((int16_t *)pw)[(int64_t)t * Cp + c] = (int16_t)(c < C ? w[(int64_t)c * T + t] : 0);
	}
	/* avx512 folds -128 * sum(w) into the bias, as for conv2d */
	repack_rq(isa, p, s, C, 1, 1, w, T);
	/* [C][1] per channel: repack_rq padded to 1, pad it to Cp; avx512's
	   blocks of 64 in the order of its transposed vectors (pack_dw5),
	   the padding with channel 0's shift */
	for (int k = Q8P_B; k <= Q8P_SHIFT; k++) {
		Blob *b = &p->blobs[s->pblob[k]];
		const int32_t *v = b->data;
		int32_t *d = alloc_array(Cp, 4);
		for (int e = 0; e < Cp; e++) {
			int c = x5 && e < roundup(q8_dw5_c64(C), 64)
				? e / 64 * 64 + e % 64 / 16 % 4 * 4 + e % 16 / 4 * 16 + e % 4 : e;
			d[e] = c < C ? v[c] : k == Q8P_SHIFT && x5 ? v[0] : 0;
		}
		b->data = d;
		b->n = Cp;
	}
	s->pblob[Q8P_W] = addblob(p, p->blobs[s->pblob[Q8P_W]].name, isa->dwdt, n, pw);
	s->kernel = fmt("dwconv_i8_%s", isa->sfx);
}

/* Kernels without weights: the variant takes the same params. */
static const struct {
	TargetKind kind;
	const char *from, *to;
} plain[] = {
	{ TG_X86_64_AVX512, "maxpool_i8", "maxpool_i8_avx512" },
	{ TG_X86_64_AVX512, "avgpool_i8", "avgpool_i8_avx512" },
	{ TG_X86_64_AVX512, "gavgpool_i8", "gavgpool_i8_avx512" },
	{ TG_X86_64_AVX512, "add_i8", "add_i8_avx512" },
	{ TG_X86_64_AVX512, "sub_i8", "sub_i8_avx512" },
	{ TG_X86_64_AVX512, "requant_i8", "requant_i8_avx512" },
	{ TG_X86_64_AVX512, "mul_i8", "mul_i8_avx512" },
	{ TG_X86_64_AVX2, "lut_i8", "lut_i8_avx2" },
	{ TG_X86_64_AVX512, "lut_i8", "lut_i8_avx512" },
	{ TG_AARCH64, "lut_i8", "lut_i8_neon" },
	{ TG_AARCH64_DOTPROD, "lut_i8", "lut_i8_dotprod" },
	{ TG_RISCV64_V, "lut_i8", "lut_i8_rvv" },
};

/* Cortex-M (runtime/dsp.c, mve.c, mcu.h): the reference weight layout,
   a convolution's window gathered into a Q8_MCU_COL-byte stack buffer */
static void select_mcu(const Target *t, Step *s)
{
	const char *sfx = t->kind == TG_CORTEX_M55 ? "mve" : "dsp";
	const int32_t *i = s->p.i;
	/* int16 activations: SMLAD on halfword pairs (runtime/a16_simd.h); MVE runs the portable kernels */
	if ((!strcmp(s->kernel, "conv2d_a16") || !strcmp(s->kernel, "dense_a16")) && i[Q8_ADT] == Q8_DT_I16) {
		if (t->kind != TG_CORTEX_M55)
			s->kernel = fmt("%s_dsp", s->kernel);
		return;
	}
	if (s->pblob[Q8P_W] < 0 || i[Q8_NRQ] < 1)
		return;
	bool dense = !strcmp(s->kernel, "dense_i8");
	bool conv = !strcmp(s->kernel, "conv2d_i8") && i[Q8_GROUPS] > 0 &&
	            (int64_t)i[Q8_KH] * i[Q8_KW] * (i[Q8_C] / i[Q8_GROUPS]) <= MCU_COL;
	bool dw = conv && i[Q8_GROUPS] > 1 && i[Q8_GROUPS] == i[Q8_C] && i[Q8_GROUPS] == i[Q8_OC];
	if (dw && t->kind == TG_CORTEX_M55)
		s->kernel = "dwconv_i8_mve"; /* channels across the lanes */
	else if (dense || conv)
		s->kernel = fmt("%s_%s", s->kernel, sfx);
}

/* int4 weights (runtime/w4.h, docs/precision.md): a conv/dense whose
   integer weights all fit in 4 bits (--weight-bits 4, wbits=4, a 4-bit
   QDQ model) has its weight blob, in whatever layout the chosen kernel
   reads, packed two per byte (q8rt.h's q8_w4), and the kernel's int4
   variant (NAME_w4; the portable kernels read Q8_WBITS) unpacks it.
   Where the unpacked block the kernel holds would not fit its stack
   buffer, the weights stay one per byte. */
static void pack_w4(const Target *t, Prog *p, Step *s)
{
	const char *k = s->kernel;
	const int32_t *q = s->p.i;
	if (s->pblob[Q8P_W] < 0 || q[Q8_NRQ] < 1)
		return;
	bool ref = !strcmp(k, "conv2d_i8") || !strcmp(k, "dense_i8");
	bool mcu = t && (t->kind == TG_CORTEX_M4 || t->kind == TG_CORTEX_M7 || t->kind == TG_CORTEX_M55);
	bool dense = starts(k, "dense_i8");
	if (!ref && !starts(k, "conv2d_i8_") && !dense && !starts(k, "dwconv_i8_"))
		return;
	const Blob *b = &p->blobs[s->pblob[Q8P_W]];
	if (b->dt != DT_I8 && b->dt != DT_I16)
		return;
	int64_t n = b->n, esz = dtype_size(b->dt);
	for (int64_t i = 0; i < n; i++) {
		int v = b->dt == DT_I8 ? ((const int8_t *)b->data)[i] : ((const int16_t *)b->data)[i];
		if (v < -8 || v > 7)
			return;
	}
	if (starts(k, "dwconv_i8_") || !strcmp(k, "conv2d_i8_im2col_avx512")) {
		/* unpacked whole, once per call */
		if (n * esz > (mcu ? MCU_COL : Q8_W4BLK))
			return;
	} else if (!ref && !mcu) {
		/* by blocks of L output channels (q8_conv_run_w, rvv.c) */
		const Isa *isa = NULL;
		for (size_t i = 0; i < sizeof isas / sizeof isas[0]; i++)
			if (isas[i].kind == t->kind)
				isa = &isas[i];
		int G = dense ? 1 : q[Q8_GROUPS];
		if (!isa || G < 1)
			return;
		int64_t blocks = G * roundup(q[Q8_OC] / G, isa->L) / isa->L;
		if (n * esz / blocks > Q8_W4BLK)
			return;
	}
	int8_t *d = alloc_array((n + 1) / 2, 1);
	memset(d, 0, (size_t)(n + 1) / 2);
	for (int64_t i = 0; i < n; i++) {
		int v = b->dt == DT_I8 ? ((const int8_t *)b->data)[i] : ((const int16_t *)b->data)[i];
		d[i / 2] = (int8_t)((uint8_t)d[i / 2] | (uint8_t)((v & 15) << 4 * (i & 1)));
	}
	/* the weight bytes of the reference layout, [OC][KH][KW][C/G], halved */
	int64_t nref = (int64_t)q[Q8_OC] * (dense ? q[Q8_C] : (int64_t)q[Q8_KH] * q[Q8_KW] *
	                                    (q[Q8_C] / (q[Q8_GROUPS] > 0 ? q[Q8_GROUPS] : 1)));
	p->weight_bytes -= nref - (nref + 1) / 2;
	s->pblob[Q8P_W] = addblob(p, fmt("%s_w4", b->name), DT_I8, (n + 1) / 2, d);
	s->p.i[Q8_WBITS] = 4;
	s->p.i[Q8_WNUM] = (int32_t)n;
	if (!ref)
		s->kernel = fmt("%s_w4", k);
}

void select_kernel(const Target *t, Prog *p, Step *s)
{
	select_variant(t, p, s);
	pack_w4(t, p, s);
}

static void select_variant(const Target *t, Prog *p, Step *s)
{
	if (t && (t->kind == TG_CORTEX_M4 || t->kind == TG_CORTEX_M7 || t->kind == TG_CORTEX_M55)) {
		select_mcu(t, s);
		return;
	}
	if (t && t->kind == TG_X86_64_AVX512 && !strcmp(s->kernel, "quantize") &&
	    s->p.i[Q8_NQ] == 1 && s->p.i[Q8_YDT] == Q8_DT_I8) {
		s->kernel = "quantize_i8_avx512";
		return;
	}
	if (t && t->kind == TG_X86_64_AVX512 && !strcmp(s->kernel, "dequantize") &&
	    s->p.i[Q8_NQ] == 1 && s->p.i[Q8_ADT] == Q8_DT_I8) {
		s->kernel = "dequantize_i8_avx512";
		return;
	}
	for (size_t i = 0; t && i < sizeof plain / sizeof plain[0]; i++)
		if (plain[i].kind == t->kind && !strcmp(s->kernel, plain[i].from)) {
			s->kernel = plain[i].to;
			return;
		}
	const Isa *isa = NULL;
	for (size_t i = 0; i < sizeof isas / sizeof isas[0]; i++)
		if (t && isas[i].kind == t->kind)
			isa = &isas[i];
	/* int16 activations: the reference weight layout, the channel loop
	   as a SIMD dot product (runtime/a16_simd.h) */
	if (isa && (!strcmp(s->kernel, "conv2d_a16") || !strcmp(s->kernel, "dense_a16"))) {
		if (s->p.i[Q8_ADT] == Q8_DT_I16)
			s->kernel = fmt("%s_%s", s->kernel, isa->sfx);
		return;
	}
	if (!isa || s->pblob[Q8P_W] < 0 || s->p.i[Q8_NRQ] < 1)
		return;
	if (!strcmp(s->kernel, "dense_i8")) {
		pack_conv(isa, p, s, true);
	} else if (!strcmp(s->kernel, "conv2d_i8")) {
		int G = s->p.i[Q8_GROUPS];
		if (G > 1 && G == s->p.i[Q8_C] && G == s->p.i[Q8_OC] && dw_ok(isa, p, s))
			pack_dw(isa, p, s);
		else
			pack_conv(isa, p, s, false);
	}
}
