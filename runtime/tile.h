/* tile.h: what the SIMD convolution kernels of every isa share, which is
   everything but the SIMD: a layer's geometry, the walk over its output
   pixels, where a tap of a window reads, the scalar requantize-and-clamp,
   the loop over taps and input channels inside a tile, and the driver
   that cuts a conv2d / dense layer into tiles of M pixels x NB blocks of
   L output channels.  runtime/<isa>.c includes it and supplies only the
   tile bodies (accumulate, requantize, store).  The C emitter pastes it
   once, after q8rt.h.

   Each tile shape is a function of its own (Q8_SHAPE), never inlined
   into the driver: there gcc 12, once it knew a layer's constants (the C
   emitter's case), copied and spilled the accumulators on every step of
   the channel loop and ran at a third of the speed. */
#ifndef Q8_TILE_H
#define Q8_TILE_H

#include "q8rt.h"
#include <string.h>

/* helpers that a model may not need: pasted into generated C, an
   unused one must stay quiet */
#if defined(__GNUC__) || defined(__clang__)
#define Q8_HELPER static inline __attribute__((unused))
#else
#define Q8_HELPER static inline
#endif

enum {
	Q8_PADBUF = 4096, /* a window's pad row: select.c keeps C / G within it */
	Q8_DWTAPS = 64,   /* the depthwise kernels' window limit (select.c too) */
	Q8_TILE_M = 16,   /* the most pixels in a tile */
	Q8_PADCOPY = 16384, /* q8_padcopy's limit, bytes of stack */
	Q8_FLAT = 2304,   /* the most (tap, channel group) steps in q8_geom.flat */
	Q8_W4BUF = 131072, /* int4 weights (w4.h): the conv/dense kernels' buffer of */
	Q8_W4BLK = 32768,  /* unpacked blocks, and the most one block (select.c), or all
	                      the weights of a depthwise or im2col kernel, may take */
};

/* int4 weights (w4.h): n elements from element first of the packed src
   into dst as int8 (esize 1) or int16 (esize 2) */
typedef void q8_unpack_fn(void *dst, const int8_t *src, int64_t first, int64_t n, int esize);

typedef struct {
	int h, w, c, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl;
	int cg, ocg;  /* channels per group, in and out */
	int nk, nob;  /* groups of 4 input channels, blocks of L outputs */
	int taps, oc;
	int64_t pixels;
	int32_t yzp, lo, hi;
	const int32_t *flat; /* or NULL: per (tap, group), its offset in a window */
	int nflat;
	int allin; /* every window lies inside the image (q8_conv_run) */
} q8_geom;

/* dense_i8 is a 1x1 convolution over N rows */
Q8_HELPER void q8_geom_init(q8_geom *g, const q8_params *p, int dense, int L)
{
	const int32_t *i = p->i;
	int groups = dense ? 1 : i[Q8_GROUPS];
	if (dense) {
		*g = (q8_geom){ .h = 1, .w = 1, .oh = 1, .ow = 1, .kh = 1, .kw = 1, .sh = 1, .sw = 1,
		                .dh = 1, .dw = 1 };
		g->pixels = i[Q8_N];
	} else {
		*g = (q8_geom){ .h = i[Q8_H], .w = i[Q8_W], .oh = i[Q8_OH], .ow = i[Q8_OW],
		                .kh = i[Q8_KH], .kw = i[Q8_KW], .sh = i[Q8_SH], .sw = i[Q8_SW],
		                .dh = i[Q8_DH], .dw = i[Q8_DW], .pt = i[Q8_PT], .pl = i[Q8_PL] };
		g->pixels = (int64_t)i[Q8_N] * g->oh * g->ow;
	}
	g->c = i[Q8_C];
	g->oc = i[Q8_OC];
	g->cg = g->c / groups;
	g->ocg = g->oc / groups;
	g->nk = (g->cg + 3) / 4;
	g->nob = (g->ocg + L - 1) / L;
	g->taps = g->kh * g->kw;
	g->yzp = i[Q8_YZP];
	g->lo = i[Q8_LO];
	g->hi = i[Q8_HI];
}

/* y = clamp(yzp + rq(acc, m, s), lo, hi), without int32 overflow */
Q8_HELPER int8_t q8_out(const q8_geom *g, int32_t acc, int32_t m, int32_t s)
{
	int64_t v = (int64_t)g->yzp + q8_rq(acc, m, s);
	return (int8_t)(v < g->lo ? g->lo : v > g->hi ? g->hi : v);
}

/* Where an output pixel's window starts: its image, top-left input
   coordinate (negative in the padding), and that corner's address (an
   integer: in the padding it lies outside the tensor). */
typedef struct {
	const int8_t *base;
	int ih, iw;
	uintptr_t org;
} q8_pix;

Q8_HELPER uintptr_t q8_org(const q8_geom *g, const int8_t *base, int ih, int iw)
{
	return (uintptr_t)base + (uintptr_t)(((int64_t)ih * g->w + iw) * g->c);
}

/* a walk over consecutive pixels: one division to start, none per step */
typedef struct {
	q8_pix px;
	int oy, ox;
} q8_it;

Q8_HELPER q8_it q8_at(const q8_geom *g, const int8_t *x, int64_t q)
{
	int64_t per = (int64_t)g->oh * g->ow;
	int64_t n = q / per, r = q % per;
	int oy = (int)(r / g->ow), ox = (int)(r % g->ow);
	q8_it it = { { x + n * g->h * g->w * g->c, oy * g->sh - g->pt, ox * g->sw - g->pl, 0 }, oy, ox };
	it.px.org = q8_org(g, it.px.base, it.px.ih, it.px.iw);
	return it;
}

Q8_HELPER void q8_step(const q8_geom *g, q8_it *it)
{
	it->px.iw += g->sw;
	it->px.org += (uintptr_t)((int64_t)g->sw * g->c);
	if (++it->ox == g->ow) {
		it->ox = 0;
		it->px.iw = -g->pl;
		it->px.ih += g->sh;
		if (++it->oy == g->oh) {
			it->oy = 0;
			it->px.ih = -g->pt;
			it->px.base += (int64_t)g->h * g->w * g->c;
		}
		it->px.org = q8_org(g, it->px.base, it->px.ih, it->px.iw);
	}
}

/* the C bytes tap (ky, kx) of the window reads, or pad outside the image */
Q8_HELPER const int8_t *q8_tap(const q8_geom *g, q8_pix px, int ky, int kx, const int8_t *pad)
{
	int ih = px.ih + ky * g->dh, iw = px.iw + kx * g->dw;
	return ih < 0 || ih >= g->h || iw < 0 || iw >= g->w ? pad
		: px.base + ((int64_t)ih * g->w + iw) * g->c;
}

/* n <= 4 activation bytes as one little-endian int32, zeros past n: the
   last group of channels without reading past the pixel */
Q8_HELPER int32_t q8_load4(const int8_t *p, int n)
{
	int32_t v = 0;
	if (n == 4)
		memcpy(&v, p, 4);
	else
		for (int i = 0; i < n; i++)
			v |= (int32_t)((uint32_t)(uint8_t)p[i] << 8 * i);
	return v;
}

/* Is the whole window of each of px[0..n) inside the image? */
Q8_HELPER int q8_inside(const q8_geom *g, const q8_pix *px, int n)
{
	int in = 1;
	for (int r = 0; r < n; r++)
		in &= px[r].ih >= 0 && px[r].ih + (g->kh - 1) * g->dh < g->h && px[r].iw >= 0 &&
		      px[r].iw + (g->kw - 1) * g->dw < g->w;
	return in;
}

/* The taps (t = ky * kw + kx, at most 64) of pixel px's window that
   fall inside the image, as bits */
Q8_HELPER uint64_t q8_tapmask(const q8_geom *g, q8_pix px)
{
	uint64_t rows = 0, cols = 0, row = g->kw >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << g->kw) - 1;
	uint64_t col = 0;
	for (int ky = 0; ky < g->kh; ky++) {
		col |= (uint64_t)1 << (ky * g->kw);
		if ((unsigned)(px.ih + ky * g->dh) < (unsigned)g->h)
			rows |= row << (ky * g->kw);
	}
	for (int kx = 0; kx < g->kw; kx++)
		if ((unsigned)(px.iw + kx * g->dw) < (unsigned)g->w)
			cols |= col << kx;
	return rows & cols;
}

/* The loop inside a tile.  The isa's tile has M (constant) pixels px[]
   and weights w packed W[tap][kgrp][...] with WSTEP elements of type WT
   per group of 4 input channels.  ROWS(F) applies F to each row r;
   per tap, xp<r> is the row's window at that tap; then per group of
   4 channels WLOAD() reads the weights from wt and ROWS(DOT)
   accumulates, DOT reading q8_load4(xp<r> + off, n).

   Bounds tests per pixel and tap cost as much as the dot products when
   C is small.  So a tile whose windows all lie inside the image (mode 2)
   finds a tap as the window's origin plus one offset per tap (in
   uintptr_t: an origin in the padding lies outside the tensor); other
   tiles (mode 1) test one bit of a mask made per pixel (q8_tapmask);
   only windows of more than 64 taps (mode 0) test each tap's
   coordinates. */
#define Q8_ORG(r) \
	uintptr_t org##r = M > r ? px[r].org : 0; \
	uint64_t vm##r = M > r && mode == 1 ? q8_tapmask(g, px[r]) : 0;
#define Q8_XP_IN(r) const int8_t *xp##r = M > r ? (const int8_t *)(org##r + toff) : pad;
#define Q8_XP_MASK(r) const int8_t *xp##r = vm##r >> t & 1 ? (const int8_t *)(org##r + toff) : pad;
#define Q8_XP(r) const int8_t *xp##r = M > r ? q8_tap(g, px[r], ky, kx, pad) : pad;
#define Q8_TAPS(ROWS, XP, WT, WSTEP, WLOAD, DOT) \
	for (int ky = 0, t = 0; ky < g->kh; ky++) \
	for (int kx = 0; kx < g->kw; kx++, t++) { \
		uintptr_t toff = (uintptr_t)(((int64_t)ky * g->dh * g->w + (int64_t)kx * g->dw) * g->c); \
		(void)toff; \
		ROWS(XP) \
		const WT *wt = (const WT *)w + (int64_t)t * g->nk * (WSTEP); \
		int full = g->cg / 4, rem = g->cg % 4; \
		for (int k = 0; k < full; k++, wt += (WSTEP)) { \
			const int64_t off = 4 * (int64_t)k; \
			const int n = 4; \
			WLOAD() \
			ROWS(DOT) \
		} \
		if (rem) { \
			const int64_t off = 4 * (int64_t)full; \
			const int n = rem; \
			WLOAD() \
			ROWS(DOT) \
		} \
	}
/* All inside and C a multiple of 4: one loop over the (tap, group)
   steps of g->flat, whose weights follow each other in W. */
#define Q8_XP_ORG(r) const int8_t *xp##r = (const int8_t *)org##r;
#define Q8_FLAT_STEPS(ROWS, WT, WSTEP, WLOAD, DOT) \
	{ \
		ROWS(Q8_XP_ORG) \
		const WT *wt = (const WT *)w; \
		for (int i = 0; i < g->nflat; i++, wt += (WSTEP)) { \
			const int64_t off = g->flat[i]; \
			const int n = 4; \
			WLOAD() \
			ROWS(DOT) \
		} \
	}
#define Q8_TILE_LOOP(ROWS, WT, WSTEP, WLOAD, DOT) \
	{ \
		int mode = g->allin || q8_inside(g, px, M) ? 2 : g->taps <= 64 ? 1 : 0; \
		ROWS(Q8_ORG) \
		if (mode == 2 && g->flat) \
			Q8_FLAT_STEPS(ROWS, WT, WSTEP, WLOAD, DOT) \
		else if (mode == 2) \
			Q8_TAPS(ROWS, Q8_XP_IN, WT, WSTEP, WLOAD, DOT) \
		else if (mode == 1) \
			Q8_TAPS(ROWS, Q8_XP_MASK, WT, WSTEP, WLOAD, DOT) \
		else \
			Q8_TAPS(ROWS, Q8_XP, WT, WSTEP, WLOAD, DOT) \
	}

/* A tile: npix <= M pixels px[] x the output channels nvalid from a
   block, b, m, s the block's bias, multipliers, shifts, y the first
   pixel's first output. */
typedef void q8_tile_fn(const q8_geom *g, const q8_pix *px, int npix, const void *w,
                        const int32_t *b, const int32_t *m, const int32_t *s,
                        const int8_t *pad, int nvalid, int8_t *y);

/* FN: the isa's always-inline TILE with M pixels x NB blocks fixed */
#define Q8_SHAPE(FN, TILE, M, NB) \
	static __attribute__((noinline, unused)) void FN(const q8_geom *g, const q8_pix *px, int npix, \
		const void *w, const int32_t *b, const int32_t *m, const int32_t *s, \
		const int8_t *pad, int nvalid, int8_t *y) \
	{ \
		TILE(g, M, NB, px, npix, w, b, m, s, pad, nvalid, y); \
	}

/* NB blocks at a time, tiles of M pixels (many), then single pixels
   (one).  A list of shapes runs from the largest NB to NB = 1. */
typedef struct {
	int nb, m;
	q8_tile_fn *many, *one;
} q8_shape;

/* One block of output channels over all pixels, in tiles of M pixels
   that run across output rows, then single pixels. */
typedef struct {
	const q8_shape *k;
	const void *w;
	const int32_t *b, *m, *s;
	const int8_t *pad;
	int nvalid;
} q8_block;

Q8_HELPER void q8_block_run(const q8_geom *g, const q8_block *bk, const int8_t *x, int8_t *y)
{
	const q8_shape *k = bk->k;
	q8_pix px[Q8_TILE_M];
	if (g->pixels <= 0)
		return;
	q8_it it = q8_at(g, x, 0); /* one walk: no division per tile */
	int64_t q = 0;
	for (; q + k->m <= g->pixels; q += k->m) {
		for (int r = 0; r < k->m; r++, q8_step(g, &it))
			px[r] = it.px;
		k->many(g, px, k->m, bk->w, bk->b, bk->m, bk->s, bk->pad, bk->nvalid, y + q * g->oc);
	}
	for (; q < g->pixels; q++, q8_step(g, &it)) {
		px[0] = it.px;
		k->one(g, px, 1, bk->w, bk->b, bk->m, bk->s, bk->pad, bk->nvalid, y + q * g->oc);
	}
}

/* Does every window lie inside the image (no padding read)? */
Q8_HELPER int q8_allin(const q8_geom *g)
{
	return g->pt == 0 && g->pl == 0 &&
	       (int64_t)(g->oh - 1) * g->sh + (int64_t)(g->kh - 1) * g->dh < g->h &&
	       (int64_t)(g->ow - 1) * g->sw + (int64_t)(g->kw - 1) * g->dw < g->w;
}

/* A padded layer's border tiles test their taps (mode 1), which costs
   as much as the dot products when C is small.  So a layer whose padded
   input fits Q8_PADCOPY bytes runs on a copy of it with the border
   filled with the zero point: every window then lies inside (mode 2).
   Returns the input to use, x or buf, and adjusts g to it. */
Q8_HELPER const int8_t *q8_padcopy(q8_geom *g, const q8_params *p, const int8_t *x, int8_t *buf)
{
	int64_t n = p->i[Q8_N];
	int64_t hh = (int64_t)(g->oh - 1) * g->sh + (int64_t)(g->kh - 1) * g->dh + 1;
	int64_t ww = (int64_t)(g->ow - 1) * g->sw + (int64_t)(g->kw - 1) * g->dw + 1;
	int64_t H = g->pt + g->h > hh ? g->pt + g->h : hh, W = g->pl + g->w > ww ? g->pl + g->w : ww;
	if (q8_allin(g) || g->pixels <= 0 || n * H * W * g->c > Q8_PADCOPY)
		return x;
	int8_t azp = (int8_t)p->i[Q8_AZP];
	int64_t C = g->c, row = (int64_t)g->w * C;
	int8_t *o = buf;
	for (int64_t i = 0; i < n; i++)
		for (int64_t r = 0; r < H; r++, o += W * C) {
			int64_t ih = r - g->pt;
			if (ih < 0 || ih >= g->h) {
				memset(o, azp, (size_t)(W * C));
				continue;
			}
			memset(o, azp, (size_t)(g->pl * C));
			memcpy(o + g->pl * C, x + (i * g->h + ih) * row, (size_t)row);
			memset(o + g->pl * C + row, azp, (size_t)((W - g->pl - g->w) * C));
		}
	g->h = (int)H;
	g->w = (int)W;
	g->pt = g->pl = 0;
	return buf;
}

/* conv2d_i8 / dense_i8: weights packed W[g][ob][tap][kgrp][L][4] with
   kb bytes per [L][4] block, B/MULT/SHIFT [g][nob * L] (select.c).
   With un (int4 weights, w4.h), the blocks a tile uses, at most Q8_W4BUF
   bytes of them, are unpacked into wbuf first (Q8_W4BUF bytes; Q8_W4BLK
   is enough when every shape is one block wide). */
Q8_HELPER void q8_conv_run_w(const q8_params *p, const int8_t *x, int8_t *y, int dense, int L,
                             int kb, const q8_shape *shapes, q8_unpack_fn *un, int8_t *wbuf)
{
	q8_geom gg, *g = &gg;
	q8_geom_init(g, p, dense, L);
	int8_t copy[Q8_PADCOPY];
	x = q8_padcopy(g, p, x, copy);
	g->allin = q8_allin(g);
	int32_t flat[Q8_FLAT]; /* one tap (dense) gains nothing: no table */
	if (g->taps > 1 && g->cg % 4 == 0 && g->taps * g->nk <= Q8_FLAT &&
	    ((int64_t)(g->kh - 1) * g->dh * g->w + g->kw) * g->c < INT32_MAX) {
		for (int ky = 0, t = 0; ky < g->kh; ky++)
			for (int kx = 0; kx < g->kw; kx++, t++)
				for (int k = 0; k < g->nk; k++)
					flat[t * g->nk + k] = (int32_t)(((int64_t)ky * g->dh * g->w +
						(int64_t)kx * g->dw) * g->c + 4 * k);
		g->flat = flat;
		g->nflat = g->taps * g->nk;
	}
	int8_t pad[Q8_PADBUF];
	if (g->cg <= Q8_PADBUF)
		memset(pad, (int8_t)p->i[Q8_AZP], (size_t)g->cg);
	const char *w = p->p[Q8P_W];
	const int32_t *b = p->p[Q8P_B], *m = p->p[Q8P_MULT], *s = p->p[Q8P_SHIFT];
	int groups = g->c / g->cg;
	int64_t bstride = (int64_t)g->taps * g->nk * kb;
	/* few pixels (dense rows): wide tiles gain nothing, and blocks
	   unpacked one at a time stay in the L1 cache */
	int64_t wcap = g->pixels >= Q8_TILE_M ? Q8_W4BUF : Q8_W4BLK;
	for (int grp = 0; grp < groups; grp++) {
		for (int ob = 0; ob < g->nob;) {
			const q8_shape *k = shapes;
			while (k->nb > g->nob - ob || (un && k->nb > 1 && k->nb * bstride > wcap))
				k++;
			int64_t blk = (int64_t)grp * g->nob + ob;
			if (un) {
				int esz = kb / (4 * L);
				un(wbuf, (const int8_t *)w, blk * bstride / esz, k->nb * bstride / esz, esz);
			}
			const void *wb = un ? (const void *)wbuf : w + blk * bstride;
			q8_block bk = { k, wb, b + blk * L, m + blk * L, s + blk * L, pad, g->ocg - ob * L };
			q8_block_run(g, &bk, x + (int64_t)grp * g->cg,
			             y + (int64_t)grp * g->ocg + (int64_t)ob * L);
			ob += k->nb;
		}
	}
}

Q8_HELPER void q8_conv_run(const q8_params *p, const int8_t *x, int8_t *y, int dense, int L,
                           int kb, const q8_shape *shapes)
{
	q8_conv_run_w(p, x, y, dense, L, kb, shapes, 0, 0);
}

/* The avx512 depthwise kernel's passes (runtime/avx512_dw.h, packed by
   codegen/select.c): the window rows of one output row, span = (kh - 1)
   * dh + 1, fill *G groups of 4 input rows; the 4 * *G rows of a pass
   serve the R (returned, at most 4) output rows whose windows lie in
   them. */
Q8_HELPER int q8_dw5_rows(int kh, int sh, int dh, int *G)
{
	int span = (kh - 1) * dh + 1, r = 1;
	*G = (span + 3) / 4;
	while (r < 4 && r * sh + span <= 4 * *G)
		r++;
	return r;
}

/* How many of C channels the avx512 depthwise kernel's blocks of 64 take
   (the last one partial when C % 64 >= Q8_DW5_TAIL); the 16-channel
   kernel takes the rest.  Measured on mobilenet's shapes: a tail of 8
   to 32 channels runs faster on the 16-channel kernel, one of 48 or 56
   (5x5) in a partial block of 64. */
#ifndef Q8_DW5_TAIL
#define Q8_DW5_TAIL 48
#endif
Q8_HELPER int q8_dw5_c64(int C)
{
	return C % 64 >= Q8_DW5_TAIL ? C : C / 64 * 64;
}

#endif
