/* avx512_conv.h: the AVX-512 VNNI convolution and dense kernels of
   runtime/avx512.c (conv2d_i8, dense_i8, the few-channel im2col / register
   gather kernel): their tiles, the band driver, the GEMM tiles.  Not a
   header of its own: avx512.c includes it after its requantization
   helpers (x5_rq, x5_dwq, x5_pack), under its target pragmas. */
#ifndef Q8_AVX512_CONV_H
#define Q8_AVX512_CONV_H

/* One tile: M output pixels x NB blocks of 16 channels (NB 1, 2 or 4).
   M and NB are constants at every call; the accumulators are named
   variables (aRJ) behind constant guards rather than an array, so that
   both gcc and clang keep all of them in registers. */
#define X5_ROWS(F) F(0) F(1) F(2) F(3) F(4) F(5) F(6) F(7) F(8) F(9) F(10) F(11)
/* the accumulators start at the blocks' biases */
#define X5_BIAS \
	__m512i b0 = _mm512_loadu_si512((const void *)b), b1 = b0, b2 = b0, b3 = b0; \
	if (NB > 1) \
		b1 = _mm512_loadu_si512((const void *)(b + 16)); \
	if (NB > 2) { \
		b2 = _mm512_loadu_si512((const void *)(b + 32)); \
		b3 = _mm512_loadu_si512((const void *)(b + 48)); \
	}
#define X5_DECL(r) \
	__m512i a##r##0 = b0, a##r##1 = b1, a##r##2 = b2, a##r##3 = b3;
#define X5_WLOAD() \
	__m512i w0 = _mm512_loadu_si512((const void *)wt), w1 = w0, w2 = w0, w3 = w0; \
	if (NB > 1) \
		w1 = _mm512_loadu_si512((const void *)(wt + bs)); \
	if (NB > 2) { \
		w2 = _mm512_loadu_si512((const void *)(wt + 2 * bs)); \
		w3 = _mm512_loadu_si512((const void *)(wt + 3 * bs)); \
	} \
	if (!FLIP && NB > 2) { \
		_mm_prefetch((const char *)(wt + X5_PF), _MM_HINT_T0); \
		_mm_prefetch((const char *)(wt + bs + X5_PF), _MM_HINT_T0); \
		_mm_prefetch((const char *)(wt + 2 * bs + X5_PF), _MM_HINT_T0); \
		_mm_prefetch((const char *)(wt + 3 * bs + X5_PF), _MM_HINT_T0); \
	}
#ifndef X5_PF
#define X5_PF 512
#endif
/* row r's accumulators += the 4 activation bytes at p times w0..w3 */
#define X5_ACC(r, p) { \
	__m512i xv = _mm512_set1_epi32(q8_load4(p, n)); \
	if (FLIP) \
		xv = _mm512_xor_si512(xv, flip); \
	a##r##0 = _mm512_dpbusd_epi32(a##r##0, xv, w0); \
	if (NB > 1) \
		a##r##1 = _mm512_dpbusd_epi32(a##r##1, xv, w1); \
	if (NB > 2) { \
		a##r##2 = _mm512_dpbusd_epi32(a##r##2, xv, w2); \
		a##r##3 = _mm512_dpbusd_epi32(a##r##3, xv, w3); \
	} \
}
#define X5_DOT(r) \
	if (M > r) \
		X5_ACC(r, xp##r + off)
#define X5_VEC(j) \
	__mmask16 mask##j = x5_mask(nvalid - 16 * j); \
	x5_dwq q##j; \
	if (NB > j) { \
		x5_dwq_init(&q##j, g, m + 16 * j, s + 16 * j, mask##j); \
		fast &= q##j.fast; \
	}
/* F: x5_dwrq's fast path when every channel of the tile allows it (it
   needs no multiplier range), else x5_rq in 64 bits */
#define X5_OUT1(r, j, F) \
	_mm_mask_storeu_epi8(y + (int64_t)r * g->oc + 16 * j, mask##j, _mm512_cvtepi32_epi8(F \
		? x5_dwrq(1, &q##j, a##r##j) \
		: x5_rq(a##r##j, _mm512_loadu_si512((const void *)(m + 16 * j)), \
		        _mm512_loadu_si512((const void *)(s + 16 * j)), g)));
#define X5_OUTF(r, F) \
	if (M > r && npix > r) { \
		X5_OUT1(r, 0, F) \
		if (NB > 1) \
			X5_OUT1(r, 1, F) \
		if (NB > 2) { \
			X5_OUT1(r, 2, F) \
			X5_OUT1(r, 3, F) \
		} \
	}
/* the fast path: NB 2 and 4 through x5_pack */
#define X5_OUT(r) \
	if (M > r && npix > r) { \
		if (NB == 1) \
			X5_OUT1(r, 0, 1) \
		else \
			x5_pack(NB, y + (int64_t)r * g->oc, kall, x5_dwrqn(&q0, a##r##0), \
			        x5_dwrqn(&q1, a##r##1), NB > 2 ? x5_dwrqn(&q2, a##r##2) : a##r##2, \
			        NB > 2 ? x5_dwrqn(&q3, a##r##3) : a##r##3, lo8, hi8); \
	}
#define X5_OUTG(r) X5_OUTF(r, 0)

/* requantize and store rows 0..M-1 of the accumulators: the 32-bit
   path when every block allows it */
#define X5_STORE \
	int fast = 1; \
	__mmask64 kall = nvalid >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << nvalid) - 1; \
	const __m512i lo8 = _mm512_set1_epi8((char)g->lo), hi8 = _mm512_set1_epi8((char)g->hi); \
	X5_VEC(0) \
	X5_VEC(1) \
	X5_VEC(2) \
	X5_VEC(3) \
	if (fast) { \
		X5_ROWS(X5_OUT) \
	} else { \
		X5_ROWS(X5_OUTG) \
	}

/* FLIP: the input is s8, XOR it with 0x80 per broadcast; else it is
   already u8 (x5_conv's band copy) */
X5_INLINE void x5_tile(int FLIP, const q8_geom *g, int M, int NB, const q8_pix *px, int npix,
                       const void *w, const int32_t *b, const int32_t *m,
                       const int32_t *s, const int8_t *pad, int nvalid, int8_t *y)
{
	const __m512i flip = _mm512_set1_epi32((int)0x80808080);
	X5_BIAS
	X5_ROWS(X5_DECL)
	int64_t bs = (int64_t)g->taps * g->nk * 64; /* bytes between blocks */
	Q8_TILE_LOOP(X5_ROWS, int8_t, 64, X5_WLOAD, X5_DOT)
	X5_STORE
}

/* One pixel: the single-pixel tails and batch-1 dense layers.  With one
   accumulator per block, each vpdpbusd would wait for the one before it
   (a chain as long as the channel groups), so the groups take turns
   over 4 sets of accumulators, x5_tile's rows 0-3, added up at the end
   (mod 2^32, as every int32 accumulator here). */
#define X5_SET(u) { \
	const int8_t *wt = wq + 64 * u; \
	X5_WLOAD() \
	X5_ACC(u, xp + 4 * (k + u)) \
}
#define X5_ZERO(r) a##r##0 = a##r##1 = a##r##2 = a##r##3 = _mm512_setzero_si512();
#define X5_SUM(j) \
	a0##j = _mm512_add_epi32(_mm512_add_epi32(a0##j, a1##j), _mm512_add_epi32(a2##j, a3##j));

X5_INLINE void x5_one(int FLIP, const q8_geom *g, int NB, const q8_pix *px, int npix,
                      const void *w, const int32_t *b, const int32_t *m, const int32_t *s,
                      const int8_t *pad, int nvalid, int8_t *y)
{
	const int M = 1;
	const __m512i flip = _mm512_set1_epi32((int)0x80808080);
	X5_BIAS
	X5_ROWS(X5_DECL) /* rows 0-3 are the sets; X5_STORE stores row 0 */
	X5_ZERO(1) X5_ZERO(2) X5_ZERO(3) /* the bias once, in set 0 */
	int64_t bs = (int64_t)g->taps * g->nk * 64;
	int full = g->cg / 4, rem = g->cg % 4;
	for (int ky = 0, t = 0; ky < g->kh; ky++)
	for (int kx = 0; kx < g->kw; kx++, t++) {
		const int8_t *xp = q8_tap(g, px[0], ky, kx, pad);
		const int8_t *wt0 = (const int8_t *)w + (int64_t)t * g->nk * 64;
		int k = 0, n = 4;
		for (; k + 4 <= full; k += 4) {
			const int8_t *wq = wt0 + 64 * (int64_t)k;
			X5_SET(0) X5_SET(1) X5_SET(2) X5_SET(3)
		}
		for (; k < full; k++) {
			const int8_t *wq = wt0 + 64 * (int64_t)k;
			X5_SET(0)
		}
		if (rem) {
			const int8_t *wq = wt0 + 64 * (int64_t)full;
			n = rem;
			X5_SET(0)
		}
	}
	X5_SUM(0) X5_SUM(1) X5_SUM(2) X5_SUM(3)
	X5_STORE
}

#define X5_TILE(g, M, NB, ...) x5_tile(1, g, M, NB, __VA_ARGS__)
#define X5_TILEU(g, M, NB, ...) x5_tile(0, g, M, NB, __VA_ARGS__)
Q8_SHAPE(x5_tile_6_4, X5_TILE, 6, 4)
Q8_SHAPE(x5_tile_12_2, X5_TILE, 12, 2)
Q8_SHAPE(x5_tile_12_1, X5_TILE, 12, 1)
Q8_SHAPE(x5_tileu_6_4, X5_TILEU, 6, 4)
Q8_SHAPE(x5_tileu_12_2, X5_TILEU, 12, 2)
Q8_SHAPE(x5_tileu_12_1, X5_TILEU, 12, 1)
#undef X5_TILE
#undef X5_TILEU

#define X5_ONE(NAME, FLIP, NB) \
	static __attribute__((noinline, unused)) void NAME##_##NB(const q8_geom *g, \
		const q8_pix *px, int npix, const void *w, const int32_t *b, const int32_t *m, \
		const int32_t *s, const int8_t *pad, int nvalid, int8_t *y) \
	{ \
		x5_one(FLIP, g, NB, px, npix, w, b, m, s, pad, nvalid, y); \
	}
X5_ONE(x5_one, 1, 4)
X5_ONE(x5_one, 1, 2)
X5_ONE(x5_one, 1, 1)
X5_ONE(x5_oneu, 0, 4)
X5_ONE(x5_oneu, 0, 2)
X5_ONE(x5_oneu, 0, 1)
#undef X5_ONE
#undef X5_SET
#undef X5_SUM
#undef X5_ZERO

/* 4 blocks (64 channels) x 6 pixels is 24 accumulators, 4 weights,
   the activation and the flip constant: 30 of the 32 zmm registers */
static const q8_shape x5_shapes[] = {
	{ 4, 6, x5_tile_6_4, x5_one_4 },
	{ 2, 12, x5_tile_12_2, x5_one_2 },
	{ 1, 12, x5_tile_12_1, x5_one_1 },
};
static const q8_shape x5_shapesu[] = {
	{ 4, 6, x5_tileu_6_4, x5_oneu_4 },
	{ 2, 12, x5_tileu_12_2, x5_oneu_2 },
	{ 1, 12, x5_tileu_12_1, x5_oneu_1 },
};

/* A 1x1 convolution with stride 1 on a band is a GEMM: pixel r of a
   tile reads x + r * ldx (rows past npix repeat the last one), the
   weights W[ob][kgrp][16][4] one after the other; no pixel walk, no
   taps. */
X5_INLINE void x5_gemm(const q8_geom *g, int M, int NB, const int8_t *x, int64_t ldx, int npix,
                       const void *w, const int32_t *b, const int32_t *m, const int32_t *s,
                       int nvalid, int8_t *y)
{
	const int FLIP = 0;
	const __m512i flip = _mm512_setzero_si512();
	(void)flip;
	X5_BIAS
	X5_ROWS(X5_DECL)
	int64_t bs = (int64_t)g->nk * 64;
#define X5_XPG(r) const int8_t *xp##r = x + (int64_t)(r < npix ? r : npix - 1) * ldx;
	X5_ROWS(X5_XPG)
#undef X5_XPG
	const int8_t *wt = w;
	for (int k = 0; k < g->nk; k++, wt += 64) {
		const int64_t off = 4 * (int64_t)k;
		const int n = 4;
		X5_WLOAD()
		X5_ROWS(X5_DOT)
	}
	X5_STORE
}

typedef void x5_gemm_fn(const q8_geom *g, const int8_t *x, int64_t ldx, int npix, const void *w,
                        const int32_t *b, const int32_t *m, const int32_t *s, int nvalid,
                        int8_t *y);
#define X5_GEMM(M, NB) \
	static __attribute__((noinline)) void x5_gemm_##M##_##NB(const q8_geom *g, const int8_t *x, \
		int64_t ldx, int npix, const void *w, const int32_t *b, const int32_t *m, \
		const int32_t *s, int nvalid, int8_t *y) \
	{ \
		x5_gemm(g, M, NB, x, ldx, npix, w, b, m, s, nvalid, y); \
	}
X5_GEMM(6, 4)
X5_GEMM(12, 2)
X5_GEMM(12, 1)
#undef X5_GEMM

/* Convolutions run on bands of output rows.  The input rows a band reads
   are first copied into a stack buffer of X5_BAND bytes, XORed with 0x80
   (u8 for vpdpbusd), with the padding filled with the zero point (XORed
   too) and, for groups == 1, each pixel's channels padded with zeros to
   a multiple of 4 (the weights there are 0).  Then every window lies
   inside the buffer (the tiles' cheapest mode: one offset per tap and
   group), the last channel group is a whole int32 (C = 3: the stem's
   taps read 4 bytes, not 3 one by one), and the tiles XOR nothing: in
   the 6 x 64 tile that XOR per broadcast was 6 of every 30 uops of the
   ports that run vpdpbusd.  The copy reads each input byte about once
   (kh - sh rows more per band). */
enum { X5_BAND = 49152 };

/* rows [ih0, ih0 + nr) of image x, columns [-pl, -pl + wb), into buf:
   wb pixels of cb bytes per row */
static void x5_band(const q8_geom *g, const int8_t *x, int ih0, int nr, int wb, int cb,
                    int8_t azp, int8_t *buf)
{
	const __m512i flip = _mm512_set1_epi8((char)0x80), fill = _mm512_set1_epi8((char)(azp ^ 0x80));
	int C = g->c, l = g->pl < wb ? g->pl : wb; /* left padding columns */
	int e = g->pl + g->w < wb ? g->pl + g->w : wb; /* end of the image's columns */
	int64_t rowb = (int64_t)wb * cb;
	/* C = 3: 16 pixels at a time, 48 bytes to 64 (byte 4p + 3 is any
	   value: its weights are 0) */
	const __m512i d3 = _mm512_setr_epi32(0, 1, 2, 0, 3, 4, 5, 0, 6, 7, 8, 0, 9, 10, 11, 0);
	const __m512i s3 = _mm512_set4_epi32((int)0x800b0a09, (int)0x80080706, (int)0x80050403,
	                                     (int)0x80020100);
	for (int r = 0; r < nr; r++) {
		int ih = ih0 + r;
		int8_t *o = buf + r * rowb;
		/* o[a, z): the image's pixels; the padding around them first, as
		   whole zmm stores of the fill (the copy overwrites their excess;
		   a pixel's bytes past C are any value: their weights are 0) */
		int64_t a = (int64_t)l * cb, z = (int64_t)e * cb;
		if (ih < 0 || ih >= g->h || a >= z)
			a = z = rowb;
		for (int64_t j = 0; j < a; j += 64)
			_mm512_mask_storeu_epi8(o + j, x5_mask64(a - j), fill);
		for (int64_t j = z; j < rowb; j += 64)
			_mm512_mask_storeu_epi8(o + j, x5_mask64(rowb - j), fill);
		if (a >= z)
			continue;
		const int8_t *src = x + (int64_t)ih * g->w * C + (int64_t)(l - g->pl) * C;
		if (cb == C) {
			for (int64_t j = 0; j < z - a; j += 64) {
				__mmask64 k = x5_mask64(z - a - j);
				_mm512_mask_storeu_epi8(o + a + j, k,
					_mm512_xor_si512(_mm512_maskz_loadu_epi8(k, src + j), flip));
			}
		} else if (C == 3) {
			for (int ix = l; ix < e; ix += 16) {
				int np = e - ix < 16 ? e - ix : 16;
				__m512i v = _mm512_maskz_loadu_epi8(x5_mask64(3 * np), src + (int64_t)(ix - l) * 3);
				v = _mm512_shuffle_epi8(_mm512_permutexvar_epi32(d3, v), s3);
				_mm512_mask_storeu_epi8(o + (int64_t)ix * 4, x5_mask64(4 * np),
				                        _mm512_xor_si512(v, flip));
			}
		} else {
			/* groups == 1, C % 4 != 0: pixel by pixel, zeros past C */
			for (int ix = l; ix < e; ix++) {
				int8_t *op = o + (int64_t)ix * cb;
				memset(op + C, 0, (size_t)(cb - C));
				for (int c = 0; c < C; c++)
					op[c] = (int8_t)(src[(int64_t)(ix - l) * C + c] ^ 0x80);
			}
		}
	}
}

/* q8_block_run on a band, but a tail of at least M/2 pixels runs as one
   tile of M (the missing pixels repeat the last one, not stored): single
   pixels would each stream the whole block of weights */
static void x5_block_run(const q8_geom *g, const q8_block *bk, const int8_t *x, int8_t *y)
{
	const q8_shape *k = bk->k;
	q8_pix px[Q8_TILE_M];
	q8_it it = q8_at(g, x, 0);
	int64_t q = 0;
	for (; q < g->pixels; q += k->m) {
		int np = g->pixels - q < k->m ? (int)(g->pixels - q) : k->m;
		if (2 * np < k->m)
			break;
		for (int r = 0; r < k->m; r++)
			if (r < np) {
				px[r] = it.px;
				q8_step(g, &it);
			} else {
				px[r] = px[np - 1];
			}
		k->many(g, px, np, bk->w, bk->b, bk->m, bk->s, bk->pad, bk->nvalid, y + q * g->oc);
	}
	for (; q < g->pixels; q++, q8_step(g, &it)) {
		px[0] = it.px;
		k->one(g, px, 1, bk->w, bk->b, bk->m, bk->s, bk->pad, bk->nvalid, y + q * g->oc);
	}
}

/* the GEMM over a band's np pixels, ldx = g->c bytes apart in buf */
static void x5_gemm_band(const q8_geom *g, const q8_params *p, const int8_t *buf, int64_t np,
                         int8_t *yb)
{
	const char *w = p->p[Q8P_W];
	const int32_t *bias = p->p[Q8P_B], *m = p->p[Q8P_MULT], *s = p->p[Q8P_SHIFT];
	int64_t bstride = (int64_t)g->nk * 64;
	for (int ob = 0; ob < g->nob;) {
		int nb = g->nob - ob >= 4 ? 4 : g->nob - ob >= 2 ? 2 : 1, M = nb == 4 ? 6 : 12;
		x5_gemm_fn *f = nb == 4 ? x5_gemm_6_4 : nb == 2 ? x5_gemm_12_2 : x5_gemm_12_1;
		const char *wo = w + ob * bstride;
		int nvalid = g->oc - ob * 16;
		for (int64_t q = 0; q < np; q += M)
			f(g, buf + q * g->c, g->c, np - q < M ? (int)(np - q) : M, wo, bias + ob * 16,
			  m + ob * 16, s + ob * 16, nvalid, yb + q * g->oc + ob * 16);
		ob += nb;
	}
}

/* A strided 1x1 convolution without padding (resnet's downsamples): the
   pixels it reads, XORed, one after the other in the buffer, then the
   GEMM */
static void x5_conv1x1s(const q8_geom *g, const q8_params *p, const int8_t *x, int8_t *y)
{
	const __m512i flip = _mm512_set1_epi8((char)0x80);
	int C = g->c, R = (int)(X5_BAND / ((int64_t)g->ow * C));
	R = R > g->oh ? g->oh : R;
	_Alignas(64) int8_t buf[X5_BAND];
	for (int64_t i = 0; i < p->i[Q8_N]; i++)
		for (int oy = 0; oy < g->oh; oy += R) {
			int r = g->oh - oy < R ? g->oh - oy : R;
			int8_t *o = buf;
			for (int j = 0; j < r; j++)
				for (int ox = 0; ox < g->ow; ox++, o += C) {
					const int8_t *src = x + ((i * g->h + (int64_t)(oy + j) * g->sh) * g->w +
					                         (int64_t)ox * g->sw) * C;
					for (int c = 0; c < C; c += 64) {
						__mmask64 k = x5_mask64(C - c);
						_mm512_mask_storeu_epi8(o + c, k,
							_mm512_xor_si512(_mm512_maskz_loadu_epi8(k, src + c), flip));
					}
				}
			x5_gemm_band(g, p, buf, (int64_t)r * g->ow, y + (i * g->oh + oy) * g->ow * g->oc);
		}
}

static void x5_conv2d(const q8_params *p, const void *a, const void *bb, void *yy)
{
	(void)bb;
	q8_geom gg, *g = &gg;
	q8_geom_init(g, p, 0, 16);
	int groups = g->c / g->cg;
	int cb = groups == 1 ? (g->c + 3) / 4 * 4 : g->c;
	int64_t wb = (int64_t)(g->ow - 1) * g->sw + (int64_t)(g->kw - 1) * g->dw + 1;
	int64_t span = (int64_t)(g->kh - 1) * g->dh + 1, rowb = wb * cb;
	if (g->pixels <= 0)
		return;
	if (g->taps == 1 && groups == 1 && cb == g->c && g->pt == 0 && g->pl == 0 &&
	    (g->sh > 1 || g->sw > 1) && (int64_t)g->ow * g->c <= X5_BAND) {
		x5_conv1x1s(g, p, a, yy);
		return;
	}
	if (cb % 4 || rowb * span > X5_BAND) { /* then the tiles XOR */
		q8_conv_run(p, a, yy, 0, 16, 64, x5_shapes);
		return;
	}
	const int8_t *x = a;
	int8_t *y = yy;
	int rmax = (int)((X5_BAND / rowb - span) / g->sh + 1); /* output rows per band */
	rmax = rmax > g->oh ? g->oh : rmax;
	/* the band height that wastes least of the tiles' pixels */
	int M = g->nob >= 4 ? 6 : 12, R = rmax;
	int64_t best = INT64_MAX;
	for (int r = rmax; r >= 1 && r >= rmax / 4; r--) {
		int64_t nb = (g->oh + r - 1) / r, last = g->oh - (nb - 1) * r;
		int64_t cost = ((nb - 1) * (((int64_t)r * g->ow + M - 1) / M) +
		                (last * g->ow + M - 1) / M) * 16 + nb;
		if (cost < best)
			best = cost, R = r;
	}
	q8_geom b = *g;
	b.w = (int)wb;
	b.c = cb;
	if (groups == 1)
		b.cg = cb;
	b.pt = b.pl = 0;
	b.allin = 1;
	int32_t flat[Q8_FLAT];
	if (b.taps > 1 && b.taps * b.nk <= Q8_FLAT) {
		for (int ky = 0, t = 0; ky < b.kh; ky++)
			for (int kx = 0; kx < b.kw; kx++, t++)
				for (int k = 0; k < b.nk; k++)
					flat[t * b.nk + k] = (int32_t)(((int64_t)ky * b.dh * wb +
						(int64_t)kx * b.dw) * cb + 4 * k);
		b.flat = flat;
		b.nflat = b.taps * b.nk;
	}
	/* 1x1, stride 1, groups 1: the band's pixels follow each other */
	int gemm = g->taps == 1 && groups == 1 && g->sh == 1 && g->sw == 1 && wb == g->ow;
	_Alignas(64) int8_t buf[X5_BAND];
	const char *w = p->p[Q8P_W];
	const int32_t *bias = p->p[Q8P_B], *m = p->p[Q8P_MULT], *s = p->p[Q8P_SHIFT];
	int64_t bstride = (int64_t)g->taps * g->nk * 64;
	int64_t n = p->i[Q8_N];
	for (int64_t i = 0; i < n; i++)
		for (int oy = 0; oy < g->oh; oy += R) {
			int r = g->oh - oy < R ? g->oh - oy : R;
			b.oh = r;
			b.h = (int)((int64_t)(r - 1) * g->sh + span);
			b.pixels = (int64_t)r * g->ow;
			x5_band(g, x + i * g->h * g->w * g->c, oy * g->sh - g->pt, b.h, (int)wb, cb,
			        (int8_t)p->i[Q8_AZP], buf);
			int8_t *yb = y + (i * g->oh + oy) * g->ow * g->oc;
			if (gemm) {
				x5_gemm_band(&b, p, buf, b.pixels, yb);
				continue;
			}
			for (int grp = 0; grp < groups; grp++)
				for (int ob = 0; ob < g->nob;) {
					const q8_shape *k = x5_shapesu;
					while (k->nb > g->nob - ob)
						k++;
					int64_t blk = (int64_t)grp * g->nob + ob;
					q8_block bk = { k, w + blk * bstride, bias + blk * 16, m + blk * 16,
					                s + blk * 16, buf, g->ocg - ob * 16 };
					x5_block_run(&b, &bk, buf + (int64_t)grp * g->cg,
					             yb + (int64_t)grp * g->ocg + (int64_t)ob * 16);
					ob += k->nb;
				}
		}
}

static void x5_dense(const q8_params *p, const void *a, const void *b, void *y)
{
	(void)b;
	q8_conv_run(p, a, y, 1, 16, 64, x5_shapes);
}

/* Convolutions with few input channels (groups 1, C < 4, taps x C <= 64,
   as select.c decides): one vpdpbusd per 4 channels would waste most
   lanes on the zero channels of a group, so the whole window is the
   reduction axis instead.  Per 12 pixels the windows are copied into rows
   of K = taps x C bytes (the zero point where the window leaves the image,
   0 past K where the weights are 0) and run as a dense layer; W was
   packed as dense_i8 of [OC][K].  (Taking C up to 63 this way measured
   slower than the direct tiles: the copies cost more than they save.) */
enum { X5_IM2COL = 64 };

/* The window of pixel px as one row of taps x C bytes.  Loads are masked
   (never past the tensor), stores whole zmm (masked stores are slow on
   AMD): the zeros they write past a piece are overwritten by the next
   piece, or lie past K, where the row must be zero.  So each row has 64
   bytes of slack. */
static void x5_patch(const q8_geom *g, q8_pix px, int8_t azp, int8_t *row)
{
	int rowb = g->kw * g->c;
	if (g->dw == 1 && px.ih >= 0 && px.ih + (g->kh - 1) * g->dh < g->h && px.iw >= 0 &&
	    px.iw + g->kw - 1 < g->w) {
		/* inside the image: each window row is kw * c contiguous bytes */
		const int8_t *xs = px.base + ((int64_t)px.ih * g->w + px.iw) * g->c;
		for (int ky = 0; ky < g->kh; ky++) {
			const int8_t *src = xs + (int64_t)ky * g->dh * g->w * g->c;
			int8_t *dst = row + ky * rowb;
			for (int j = 0; j < rowb; j += 64) {
				__mmask64 k = rowb - j >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << (rowb - j)) - 1;
				_mm512_storeu_si512((void *)(dst + j), _mm512_maskz_loadu_epi8(k, src + j));
			}
		}
		return;
	}
	/* C < 64 here (select.c) */
	__mmask64 k = ((__mmask64)1 << g->c) - 1;
	const __m512i pad = _mm512_maskz_set1_epi8(k, azp);
	for (int ky = 0, t = 0; ky < g->kh; ky++)
		for (int kx = 0; kx < g->kw; kx++, t++) {
			const int8_t *xs = q8_tap(g, px, ky, kx, NULL);
			_mm512_storeu_si512((void *)(row + t * g->c), xs ? _mm512_maskz_loadu_epi8(k, xs) : pad);
		}
}

/* The same windows gathered in registers, when a window row holds at
   least 3 bytes (kw x C >= 3: then the 4 window bytes of a group lie in
   at most 2 window rows) and one pixel's window row fits a zmm.  Per
   output row and run of P <= 16 pixels, each window row's input bytes
   are loaded once (the zero point outside the image), and for each
   group of 4 window bytes one vpermi2b over the group's 2 rows puts the
   group of pixel p in lane p.  Each pixel then broadcasts its lane into
   one vpdpbusd per group.  W, bias and requantization as im2col's.
   vpermi2b is AVX512-VBMI, which some VNNI CPUs (Cascade Lake) lack: the
   function is built for it whatever the flags, and runs only when the
   CPU has it. */
static int x5_gather_ok(const q8_geom *g)
{
	return g->kw * g->c >= 3 && ((g->kw - 1) * g->dw + 1) * g->c <= 64 &&
	       __builtin_cpu_supports("avx512vbmi");
}

/* x5_gather's pixels: np of them, NG (a constant, or 0: ng) groups per
   window in gr[16 * group + pixel], the weights in wv */
X5_INLINE void x5_gpix(int NG, int FAST, int ng, const int32_t *gr, const __m512i *wv,
                       __m512i bias, const x5_dwq *q, __m512i mv, __m512i sv, const q8_geom *g,
                       int np, int8_t *yo, __mmask16 kc)
{
	if (NG)
		ng = NG;
	for (int l = 0; l < np; l++) {
		__m512i acc = bias;
		for (int j = 0; j < ng; j++)
			acc = _mm512_dpbusd_epi32(acc, _mm512_set1_epi32(gr[16 * j + l]), wv[j]);
		__m512i r = FAST ? x5_dwrq(1, q, acc) : x5_rq(acc, mv, sv, g);
		_mm_mask_storeu_epi8(yo + (int64_t)l * g->oc, kc, _mm512_cvtepi32_epi8(r));
	}
}

__attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni,avx512vbmi")))
static void x5_gather(const q8_geom *g, const q8_params *p, const int8_t *x, int8_t *y)
{
	enum { ROWS = X5_IM2COL / 3 + 2 };
	int C = g->c, K = g->taps * C, ng = (K + 3) / 4;
	int P = 1 + (64 - ((g->kw - 1) * g->dw + 1) * C) / (g->sw * C);
	P = P > 16 ? 16 : P;
	_Alignas(64) uint8_t idx[X5_IM2COL / 4][64];
	int top[X5_IM2COL / 4]; /* a group's first window row */
	/* window byte k = (ky, kx, c), stepped: no division (the layer's
	   sizes are not constants here) */
	for (int k = 0, ky = 0, kx = 0, c = 0; k < 4 * ng; k++) {
		int j = k / 4;
		if (k % 4 == 0)
			top[j] = ky;
		for (int l = 0; l < 16; l++)
			idx[j][4 * l + k % 4] = (uint8_t)(k < K && l < P
				? (ky - top[j]) * 64 + (l * g->sw + kx * g->dw) * C + c : 0);
		if (++c == C && (c = 0, ++kx == g->kw))
			kx = 0, ky++;
	}
	const __m512i flip = _mm512_set1_epi8((char)0x80);
	const __m512i padv = _mm512_set1_epi8((char)p->i[Q8_AZP]);
	const int8_t *w = p->p[Q8P_W];
	const int32_t *b = p->p[Q8P_B], *m = p->p[Q8P_MULT], *s = p->p[Q8P_SHIFT];
	int64_t n = p->i[Q8_N];
	for (int ob = 0; ob < g->nob; ob++) {
		__mmask16 kc = x5_mask(g->ocg - 16 * ob);
		const int8_t *wb = w + (int64_t)ob * ng * 64;
		__m512i bias = _mm512_loadu_si512((const void *)(b + 16 * ob));
		__m512i mv = _mm512_loadu_si512((const void *)(m + 16 * ob));
		__m512i sv = _mm512_loadu_si512((const void *)(s + 16 * ob));
		x5_dwq q;
		x5_dwq_init(&q, g, m + 16 * ob, s + 16 * ob, kc);
		__m512i wv[X5_IM2COL / 4];
		for (int j = 0; j < ng; j++)
			wv[j] = _mm512_loadu_si512((const void *)(wb + 64 * j));
		for (int64_t i = 0; i < n; i++)
		for (int oy = 0; oy < g->oh; oy++)
		for (int ox = 0; ox < g->ow; ox += P) {
			int np = g->ow - ox < P ? g->ow - ox : P;
			int iw = ox * g->sw - g->pl;
			/* the bytes of columns [0, w) among the 64 from column iw */
			int64_t lb = iw < 0 ? (int64_t)-iw * C : 0, hb = ((int64_t)g->w - iw) * C;
			hb = hb > 64 ? 64 : hb;
			__mmask64 in = lb >= hb ? 0 : (~(__mmask64)0 >> (64 - (hb - lb))) << lb;
			__m512i row[ROWS];
			for (int ky = 0; ky < g->kh; ky++) {
				int ih = oy * g->sh - g->pt + ky * g->dh;
				row[ky] = padv;
				if (ih >= 0 && ih < g->h && in) {
					/* the masked-off bytes are never read: the address is formed
					   as an integer because it may lie before the tensor */
					uintptr_t a = (uintptr_t)(x + ((i * g->h + ih) * g->w) * C) + (uintptr_t)((int64_t)iw * C);
					row[ky] = _mm512_mask_loadu_epi8(padv, in, (const void *)a);
				}
				row[ky] = _mm512_xor_si512(row[ky], flip);
			}
			row[g->kh] = row[g->kh - 1];
			_Alignas(64) int32_t gr[X5_IM2COL / 4 * 16]; /* [group][pixel] */
			for (int j = 0; j < ng; j++)
				_mm512_store_si512((void *)(gr + 16 * j), _mm512_permutex2var_epi8(row[top[j]],
					_mm512_load_si512((const void *)idx[j]), row[top[j] + 1]));
			int8_t *yo = y + (((i * g->oh + oy) * g->ow + ox) * g->oc) + 16 * ob;
			if (q.fast && ng == 3) /* 3x3, C = 1: the first layer of most image models */
				x5_gpix(3, 1, 3, gr, wv, bias, &q, mv, sv, g, np, yo, kc);
			else if (q.fast)
				x5_gpix(0, 1, ng, gr, wv, bias, &q, mv, sv, g, np, yo, kc);
			else
				x5_gpix(0, 0, ng, gr, wv, bias, &q, mv, sv, g, np, yo, kc);
		}
	}
}

static void x5_conv2d_im2col(const q8_params *p, const void *a, const void *bb, void *yy)
{
	(void)bb;
	q8_geom gg, *g = &gg;
	q8_geom_init(g, p, 0, 16);
	const int8_t *x = a;
	int8_t *y = yy;
	int K = g->taps * g->c, Kp = (K + 3) / 4 * 4;
	if (K > X5_IM2COL || g->cg != g->c)
		return; /* select.c never picks this kernel then */
	if (x5_gather_ok(g)) {
		x5_gather(g, p, x, y);
		return;
	}
	q8_geom d = *g; /* the rows of windows as a dense layer */
	d.h = d.w = d.oh = d.ow = d.kh = d.kw = d.sh = d.sw = d.dh = d.dw = 1;
	d.pt = d.pl = 0;
	d.taps = 1;
	d.c = d.cg = Kp;
	d.nk = Kp / 4;
	const int8_t *w = p->p[Q8P_W];
	const int32_t *b = p->p[Q8P_B], *m = p->p[Q8P_MULT], *s = p->p[Q8P_SHIFT];
	_Alignas(64) int8_t buf[12][X5_IM2COL + 64];
	q8_pix px[12];
	int64_t bstride = (int64_t)d.nk * 64;
	if (g->pixels <= 0)
		return;
	q8_it it = q8_at(g, x, 0);
	for (int64_t q = 0; q < g->pixels; q += 12) {
		int np = g->pixels - q < 12 ? (int)(g->pixels - q) : 12;
		for (int r = 0; r < 12; r++) {
			if (r < np) {
				x5_patch(g, it.px, (int8_t)p->i[Q8_AZP], buf[r]);
				q8_step(g, &it);
			}
			px[r] = (q8_pix){ buf[r < np ? r : 0], 0, 0, (uintptr_t)buf[r < np ? r : 0] };
		}
		for (int ob = 0; ob < g->nob;) {
			int left = g->nob - ob, nb = left >= 4 ? 4 : left >= 2 ? 2 : 1;
			const int8_t *wb = w + ob * bstride;
			const int32_t *bo = b + ob * 16, *mo = m + ob * 16, *so = s + ob * 16;
			int nvalid = g->ocg - ob * 16;
			int8_t *yq = y + q * g->oc + ob * 16;
			if (nb == 4) {
				x5_tile_6_4(&d, px, np, wb, bo, mo, so, buf[0], nvalid, yq);
				if (np > 6)
					x5_tile_6_4(&d, px + 6, np - 6, wb, bo, mo, so, buf[0], nvalid,
					            yq + 6 * (int64_t)g->oc);
			} else if (nb == 2) {
				x5_tile_12_2(&d, px, np, wb, bo, mo, so, buf[0], nvalid, yq);
			} else {
				x5_tile_12_1(&d, px, np, wb, bo, mo, so, buf[0], nvalid, yq);
			}
			ob += nb;
		}
	}
}

#endif
