/* avx512_dw.h: the depthwise kernel of runtime/avx512.c (included there,
   after the requantization helpers x5_dwq / x5_dwrq it uses).

   Depthwise (groups == C == OC), 64 channels (four zmm) at a time.  A
   pass covers R output rows (q8_dw5_rows in tile.h: 2 for a 3x3 of
   stride 1, 4 for a 5x5 of stride 1, 2 for a 5x5 of stride 2, 1 for a 3x3
   of stride 2) and the 4G input rows their windows read.  Each input
   column of the pass is transposed once into T[g][col][4]: lane c of a
   vector holds x ^ 0x80 of input rows 4g..4g+3 in its 4 bytes, so one
   vpdpbusd adds 4 window rows of a column, and the R output rows of the
   pass all read the same T with their own weights (output row r's window
   starts r * sh rows down: select.c packs its weights shifted by as
   much, W[C/64][R][G][kw][4][16][4], zero bytes where the row is not
   in the window).

   The transpose is two rounds of unpacks (bytes of rows 0/1 and 2/3, then
   their words): vector k then holds the channels 16L + 4k + i in dword
   4L + i of 128-bit lane L.  B, MULT and SHIFT are packed in that order
   (select.c), and the two rounds of saturating packs at the end put the
   bytes back in channel order, so nothing else is permuted.  Columns and
   rows in the padding read the zero point; -128 * sum(w) is folded into
   the bias, as for conv2d.  The requantization is x5_dwrq's. */
#ifndef Q8_AVX512_DW_H
#define Q8_AVX512_DW_H

/* The last C % 64 channels when fewer than 48 (q8_dw5_c64): x5_dw16conv,
   from channel c0 on with its own weights w, 16 channels (one zmm) along
   one output row at a time.  select.c packs W[C/16][NG][kw][16][4],
   NG = ceil(kh/4):
   lane c of the vector of row group g and column kx holds the weights of
   taps (4g + j, kx), j = 0..3 (0 past kh), so one vpdpbusd adds the 4
   taps of a window column.  Before a row, every input column iw it reads
   is transposed once into T[g][iw]: lane c holds x[ih_j][iw][c] ^ 0x80
   for the 4 input rows ih_j of group g (the zero point where the row or
   the column is padding; a vpshufb per row picks the bytes from a
   broadcast of 16 channels).  Each output pixel is then kw vpdpbusd per
   group on T[ox * sw + kx * dw]: neighbouring pixels share the columns,
   and the pixel loop tests no padding.  As for conv2d, -128 * sum(w) is
   folded into the bias.  The requantization is x5_dwrq. */
enum { X5_DW16T = 256 }; /* T vectors: NG x columns (select.c: DWCOLS) */

/* T[i] for the input columns iw0 + i, i < n, of 16 channels (TAIL: fewer,
   kc of them): NR rows at rp[j], cs[j] bytes per column (0 for a padding
   row, which points at 16 zero points). */
X5_INLINE void x5_dw16t(int NR, int TAIL, __m512i *T, int iw0, int n, int w,
                      const int8_t *const *rp, const int64_t *cs, __mmask16 kc,
                      const __m512i *ctl, __m512i tpad)
{
	const __m512i flip = _mm512_set1_epi8((char)0x80);
	int i = 0, e = w - iw0 < n ? w - iw0 : n;
	for (; i < n && iw0 + i < 0; i++)
		T[i] = tpad;
	/* the rows as named values, not loops: gcc -O2 (the C emitter's
	   users) keeps neither loops over them unrolled nor arrays in
	   registers */
	const int8_t *r0 = rp[0], *r1 = NR > 1 ? rp[1] : r0, *r2 = NR > 2 ? rp[2] : r0;
	const int8_t *r3 = NR > 3 ? rp[3] : r0;
	int64_t c0 = cs[0], c1 = NR > 1 ? cs[1] : 0, c2 = NR > 2 ? cs[2] : 0, c3 = NR > 3 ? cs[3] : 0;
	__m512i t0 = ctl[0], t1 = ctl[1], t2 = ctl[2], t3 = ctl[3];
#define X5_DWX(r, c, t) _mm512_shuffle_epi8(_mm512_broadcast_i32x4(TAIL \
	? _mm_maskz_loadu_epi8(kc, r + iw * c) : _mm_loadu_si128((const __m128i *)(r + iw * c))), t)
	for (; i < e; i++) {
		int64_t iw = iw0 + i;
		__m512i v = _mm512_xor_si512(flip, X5_DWX(r0, c0, t0));
		if (NR > 1)
			v = _mm512_xor_si512(v, X5_DWX(r1, c1, t1));
		if (NR > 2)
			v = _mm512_xor_si512(v, X5_DWX(r2, c2, t2));
		if (NR > 3)
			v = _mm512_xor_si512(v, X5_DWX(r3, c3, t3));
		T[i] = v;
	}
#undef X5_DWX
	for (; i < n; i++)
		T[i] = tpad;
}

/* The next output row's T in place, stride 1, one row group (kh <= 4):
   each lane drops its top row (a shift by 8 bits) and takes input row r
   (NULL: padding) in byte kh - 1 (KB: that byte of every lane); the
   columns past the image keep tpad. */
X5_INLINE void x5_dw16t_next(int TAIL, __m512i *T, int iw0, int n, int w, const int8_t *r,
                           int64_t cs, __mmask16 kc, __m512i ctl, __m512i tpad, __mmask64 kb)
{
	const __m512i flip = _mm512_set1_epi8((char)0x80);
	int i = 0, e = w - iw0 < n ? w - iw0 : n;
	for (; i < n && iw0 + i < 0; i++)
		T[i] = tpad;
	for (; i < e; i++) {
		__m512i v = tpad;
		if (r) {
			const int8_t *p = r + (int64_t)(iw0 + i) * cs;
			v = _mm512_xor_si512(flip, _mm512_shuffle_epi8(_mm512_broadcast_i32x4(TAIL
				? _mm_maskz_loadu_epi8(kc, p) : _mm_loadu_si128((const __m128i *)p)), ctl));
		}
		T[i] = _mm512_mask_mov_epi8(_mm512_srli_epi32(T[i], 8), kb, v);
	}
	for (; i < n; i++)
		T[i] = tpad;
}

/* n output pixels of one row (ys bytes apart), 16 channels, from T.
   K3: one row group and kw == 3, the 3 weights held in registers. */
X5_INLINE void x5_dw16row(int FAST, int K3, const q8_geom *g, const __m512i *T, int tcols, int ng,
                        const int8_t *wb, const int32_t *b, const x5_dwq *q, int n,
                        int8_t *y, __mmask16 kc)
{
	const __m512i bias = _mm512_loadu_si512((const void *)b);
	__m512i w0 = _mm512_loadu_si512((const void *)wb), w1 = w0, w2 = w0;
	if (K3) {
		w1 = _mm512_loadu_si512((const void *)(wb + 64));
		w2 = _mm512_loadu_si512((const void *)(wb + 128));
	}
	int sw = g->sw, dw = g->dw, kw = g->kw, C = g->c;
	for (int i = 0; i < n; i++) {
		const __m512i *t = T + (int64_t)i * sw;
		__m512i acc = bias;
		if (K3) {
			acc = _mm512_dpbusd_epi32(acc, t[0], w0);
			acc = _mm512_dpbusd_epi32(acc, t[dw], w1);
			acc = _mm512_dpbusd_epi32(acc, t[2 * dw], w2);
		} else {
			for (int gi = 0; gi < ng; gi++)
				for (int kx = 0; kx < kw; kx++)
					acc = _mm512_dpbusd_epi32(acc, t[gi * tcols + kx * dw],
						_mm512_loadu_si512((const void *)(wb + (gi * kw + kx) * 64)));
		}
		_mm_mask_storeu_epi8(y + (int64_t)i * C, kc, _mm512_cvtepi32_epi8(x5_dwrq(FAST, q, acc)));
	}
}

/* one function per variant, so that each gets its own registers */
#define X5_DW16ROW(F, K) \
	static __attribute__((noinline)) void x5_dw16row_##F##K(const q8_geom *g, const __m512i *T, \
		int tcols, int ng, const int8_t *wb, const int32_t *b, const x5_dwq *q, int n, \
		int8_t *y, __mmask16 kc) \
	{ \
		x5_dw16row(F, K, g, T, tcols, ng, wb, b, q, n, y, kc); \
	}
X5_DW16ROW(1, 1)
X5_DW16ROW(1, 0)
X5_DW16ROW(0, 1)
X5_DW16ROW(0, 0)
#undef X5_DW16ROW

static __attribute__((noinline, unused)) void x5_dw16conv(const q8_params *p, const void *a, void *yy,
                                                         int c0, const int8_t *w)
{
	q8_geom gg, *g = &gg;
	q8_geom_init(g, p, 0, 16);
	const int8_t *x = a;
	int8_t *y = yy;
	const int32_t *b = p->p[Q8P_B], *m = p->p[Q8P_MULT], *s = p->p[Q8P_SHIFT];
	int C = g->c, ng = (g->kh + 3) / 4, tcols = X5_DW16T / ng, span = (g->kw - 1) * g->dw + 1;
	if (g->pixels <= 0 || span > tcols)
		return; /* select.c keeps ng * span <= X5_DW16T */
	int opc = (tcols - span) / g->sw + 1; /* output pixels per pass */
	int k3 = ng == 1 && g->kw == 3;
	int8_t azp = (int8_t)p->i[Q8_AZP], pad[16];
	memset(pad, azp, sizeof pad);
	/* ctl[j]: byte 4i + j of 128-bit lane L takes byte 4L + i, others 0 */
	int8_t cb[4][64];
	for (int j = 0; j < 4; j++)
		for (int e = 0; e < 64; e++)
			cb[j][e] = e % 4 == j ? (int8_t)(e / 16 * 4 + e % 16 / 4) : (int8_t)0x80;
	__m512i ctl[4], T[X5_DW16T];
	for (int j = 0; j < 4; j++)
		ctl[j] = _mm512_loadu_si512((const void *)cb[j]);
	const __m512i tpad = _mm512_set1_epi8((char)(azp ^ 0x80));
	int64_t rowb = (int64_t)g->w * C, imgb = rowb * g->h;
	int nimg = (int)(g->pixels / ((int64_t)g->oh * g->ow));
	/* stride 1, one row group: each output row after the first of a pass
	   updates T (x5_dw16t_next) rather than transposing it again */
	int inc = ng == 1 && g->sh == 1 && g->dh == 1;
	__mmask64 kb = 0; /* byte kh - 1 of every lane */
	for (int l = 0; l < 16 && inc; l++)
		kb |= (__mmask64)1 << (4 * l + g->kh - 1);
	for (int n = 0; n < nimg; n++)
	for (int ox0 = 0; ox0 < g->ow; ox0 += opc)
	for (int c = c0; c < C; c += 16) {
		int np = g->ow - ox0 < opc ? g->ow - ox0 : opc;
		int iw0 = ox0 * g->sw - g->pl, ncol = (np - 1) * g->sw + span;
		__mmask16 kc = x5_mask(C - c);
		int tail = C - c < 16;
		x5_dwq q;
		x5_dwq_init(&q, g, m + c, s + c, kc);
		const int8_t *wb = w + (int64_t)(c - c0) * ng * g->kw * 4;
		for (int oy = 0; oy < g->oh; oy++) {
			if (inc && oy > 0) {
				int ih = oy - g->pt + g->kh - 1;
				const int8_t *r = ih >= 0 && ih < g->h ? x + n * imgb + ih * rowb + c : NULL;
				if (tail)
					x5_dw16t_next(1, T, iw0, ncol, g->w, r, C, kc, ctl[g->kh - 1], tpad, kb);
				else
					x5_dw16t_next(0, T, iw0, ncol, g->w, r, C, kc, ctl[g->kh - 1], tpad, kb);
			} else {
				for (int gi = 0; gi < ng; gi++) {
					const int8_t *rp[4];
					int64_t cs[4];
					int nr = g->kh - 4 * gi < 4 ? g->kh - 4 * gi : 4;
					for (int j = 0; j < nr; j++) {
						int ih = oy * g->sh - g->pt + (4 * gi + j) * g->dh;
						int in = ih >= 0 && ih < g->h;
						rp[j] = in ? x + n * imgb + ih * rowb + c : pad;
						cs[j] = in ? C : 0;
					}
					__m512i *tg = T + gi * tcols;
#define X5_DW16T_NR(R) tail ? x5_dw16t(R, 1, tg, iw0, ncol, g->w, rp, cs, kc, ctl, tpad) \
	: x5_dw16t(R, 0, tg, iw0, ncol, g->w, rp, cs, kc, ctl, tpad)
					if (nr == 3)
						X5_DW16T_NR(3);
					else if (nr == 4)
						X5_DW16T_NR(4);
					else if (nr == 2)
						X5_DW16T_NR(2);
					else
						X5_DW16T_NR(1);
#undef X5_DW16T_NR
				}
			}
			int8_t *yr = y + (((int64_t)n * g->oh + oy) * g->ow + ox0) * C + c;
			if (q.fast && k3)
				x5_dw16row_11(g, T, tcols, ng, wb, b + c, &q, np, yr, kc);
			else if (q.fast)
				x5_dw16row_10(g, T, tcols, ng, wb, b + c, &q, np, yr, kc);
			else if (k3)
				x5_dw16row_01(g, T, tcols, ng, wb, b + c, &q, np, yr, kc);
			else
				x5_dw16row_00(g, T, tcols, ng, wb, b + c, &q, np, yr, kc);
		}
	}
}


enum { X5_DWT = 256 }; /* T vectors: 4 x G x columns (select.c: DW5COLS), 16 KB */

/* T[4i..4i+3] for the input columns iw0 + i, i < n, of 64 channels (TAIL:
   the kc of them): the 4 rows at r[j], cs[j] bytes per column (0 for a
   row in the padding, which points at 64 zero points). */
X5_INLINE void x5_dwt(int TAIL, __m512i *T, int iw0, int n, int w, const int8_t *const *r,
                      const int64_t *cs, __mmask64 kc, __m512i tpad)
{
	const __m512i flip = _mm512_set1_epi8((char)0x80);
	int i = 0, e = w - iw0 < n ? w - iw0 : n;
	for (; i < n && iw0 + i < 0; i++)
		T[4 * i] = T[4 * i + 1] = T[4 * i + 2] = T[4 * i + 3] = tpad;
	/* named rows, not a loop over arrays: see the conv tiles */
	const int8_t *r0 = r[0], *r1 = r[1], *r2 = r[2], *r3 = r[3];
	int64_t c0 = cs[0], c1 = cs[1], c2 = cs[2], c3 = cs[3];
#define X5_DWL(p) (TAIL ? _mm512_maskz_loadu_epi8(kc, p) : _mm512_loadu_si512((const void *)(p)))
	for (; i < e; i++) {
		int64_t iw = iw0 + i;
		__m512i a = X5_DWL(r0 + iw * c0), b = X5_DWL(r1 + iw * c1);
		__m512i c = X5_DWL(r2 + iw * c2), d = X5_DWL(r3 + iw * c3);
		__m512i abl = _mm512_unpacklo_epi8(a, b), abh = _mm512_unpackhi_epi8(a, b);
		__m512i cdl = _mm512_unpacklo_epi8(c, d), cdh = _mm512_unpackhi_epi8(c, d);
		__m512i *t = T + 4 * i;
		t[0] = _mm512_xor_si512(flip, _mm512_unpacklo_epi16(abl, cdl));
		t[1] = _mm512_xor_si512(flip, _mm512_unpackhi_epi16(abl, cdl));
		t[2] = _mm512_xor_si512(flip, _mm512_unpacklo_epi16(abh, cdh));
		t[3] = _mm512_xor_si512(flip, _mm512_unpackhi_epi16(abh, cdh));
	}
#undef X5_DWL
	for (; i < n; i++)
		T[4 * i] = T[4 * i + 1] = T[4 * i + 2] = T[4 * i + 3] = tpad;
}

/* The requantization constants of a block of 64 channels, in the order of
   the transposed vectors */
typedef struct {
	x5_dwq q[4];
	__m512i lo8, hi8;
	int fast;
} x5_dwq4;

/* n output pixels of one row (C bytes apart), 64 channels, from T: row
   groups g0..g1 of the pass, weights wr ([G][kw][4] vectors).  KW: kw
   when it is 3 or 5 (unrolled), else 0. */
X5_INLINE void x5_dwrow(int FAST, int KW, const q8_geom *g, const __m512i *T, int tcols, int g0,
                        int g1, const int8_t *wr, const int32_t *b, const x5_dwq4 *q, int n,
                        int8_t *y, __mmask64 kc)
{
	const __m512i b0 = _mm512_loadu_si512((const void *)b);
	const __m512i b1 = _mm512_loadu_si512((const void *)(b + 16));
	const __m512i b2 = _mm512_loadu_si512((const void *)(b + 32));
	const __m512i b3 = _mm512_loadu_si512((const void *)(b + 48));
	int sw = g->sw, dw = g->dw, kw = KW ? KW : g->kw, C = g->c;
	/* a 3-wide window in one row group: its 12 weight vectors stay in
	   registers (else they are loaded with each vpdpbusd) */
	int hold = KW == 3 && g0 == g1;
	const __m512i *wh = (const __m512i *)(const void *)(wr + (int64_t)g0 * kw * 256);
#define X5_W(j) (hold ? _mm512_loadu_si512((const void *)(wh + j)) : b0)
	const __m512i w0 = X5_W(0), w1 = X5_W(1), w2 = X5_W(2), w3 = X5_W(3);
	const __m512i w4 = X5_W(4), w5 = X5_W(5), w6 = X5_W(6), w7 = X5_W(7);
	const __m512i w8 = X5_W(8), w9 = X5_W(9), w10 = X5_W(10), w11 = X5_W(11);
#undef X5_W
	for (int i = 0; i < n; i++) {
		__m512i a0 = b0, a1 = b1, a2 = b2, a3 = b3;
		if (hold) {
			const __m512i *t = T + 4 * ((int64_t)g0 * tcols + (int64_t)i * sw), *u = t + 4 * dw;
			const __m512i *v = u + 4 * dw;
			a0 = _mm512_dpbusd_epi32(a0, t[0], w0), a1 = _mm512_dpbusd_epi32(a1, t[1], w1);
			a2 = _mm512_dpbusd_epi32(a2, t[2], w2), a3 = _mm512_dpbusd_epi32(a3, t[3], w3);
			a0 = _mm512_dpbusd_epi32(a0, u[0], w4), a1 = _mm512_dpbusd_epi32(a1, u[1], w5);
			a2 = _mm512_dpbusd_epi32(a2, u[2], w6), a3 = _mm512_dpbusd_epi32(a3, u[3], w7);
			a0 = _mm512_dpbusd_epi32(a0, v[0], w8), a1 = _mm512_dpbusd_epi32(a1, v[1], w9);
			a2 = _mm512_dpbusd_epi32(a2, v[2], w10), a3 = _mm512_dpbusd_epi32(a3, v[3], w11);
		}
		for (int gi = g0; !hold && gi <= g1; gi++) {
			const __m512i *t = T + 4 * ((int64_t)gi * tcols + (int64_t)i * sw);
			const __m512i *wv = (const __m512i *)(const void *)(wr + (int64_t)gi * kw * 256);
			for (int kx = 0; kx < kw; kx++, t += 4 * dw, wv += 4) {
				a0 = _mm512_dpbusd_epi32(a0, t[0], _mm512_loadu_si512((const void *)wv));
				a1 = _mm512_dpbusd_epi32(a1, t[1], _mm512_loadu_si512((const void *)(wv + 1)));
				a2 = _mm512_dpbusd_epi32(a2, t[2], _mm512_loadu_si512((const void *)(wv + 2)));
				a3 = _mm512_dpbusd_epi32(a3, t[3], _mm512_loadu_si512((const void *)(wv + 3)));
			}
		}
		if (FAST) {
			a0 = x5_dwrqn(&q->q[0], a0), a1 = x5_dwrqn(&q->q[1], a1);
			a2 = x5_dwrqn(&q->q[2], a2), a3 = x5_dwrqn(&q->q[3], a3);
		} else { /* each vector its own path, both clamped */
#define X5_RQ(k, a) a = q->q[k].fast ? x5_dwrq(1, &q->q[k], a) : x5_dwrq(0, &q->q[k], a)
			X5_RQ(0, a0), X5_RQ(1, a1), X5_RQ(2, a2), X5_RQ(3, a3);
#undef X5_RQ
		}
		/* saturating to [-128, 127], then clamping to [lo, hi], equals
		   clamping first */
		__m512i v = _mm512_packs_epi16(_mm512_packs_epi32(a0, a1), _mm512_packs_epi32(a2, a3));
		v = _mm512_min_epi8(_mm512_max_epi8(v, q->lo8), q->hi8);
		_mm512_mask_storeu_epi8(y + (int64_t)i * C, kc, v);
	}
}

/* The R output rows of a pass together (rows ys bytes apart), for a
   5-wide window whose every row spans both of G = 2 row groups (5x5 of
   stride 1, R = 4, or 2, R = 2): each transposed vector is loaded once
   for the R rows. */
#define X5_RQ4(F, q, a0, a1, a2, a3) \
	(F ? (a0 = x5_dwrqn(&(q)->q[0], a0), a1 = x5_dwrqn(&(q)->q[1], a1), \
	      a2 = x5_dwrqn(&(q)->q[2], a2), a3 = x5_dwrqn(&(q)->q[3], a3)) \
	   : (a0 = (q)->q[0].fast ? x5_dwrq(1, &(q)->q[0], a0) : x5_dwrq(0, &(q)->q[0], a0), \
	      a1 = (q)->q[1].fast ? x5_dwrq(1, &(q)->q[1], a1) : x5_dwrq(0, &(q)->q[1], a1), \
	      a2 = (q)->q[2].fast ? x5_dwrq(1, &(q)->q[2], a2) : x5_dwrq(0, &(q)->q[2], a2), \
	      a3 = (q)->q[3].fast ? x5_dwrq(1, &(q)->q[3], a3) : x5_dwrq(0, &(q)->q[3], a3)))
X5_INLINE void x5_dwst(const x5_dwq4 *q, int8_t *y, __mmask64 kc, __m512i a0, __m512i a1,
                       __m512i a2, __m512i a3)
{
	__m512i v = _mm512_packs_epi16(_mm512_packs_epi32(a0, a1), _mm512_packs_epi32(a2, a3));
	v = _mm512_min_epi8(_mm512_max_epi8(v, q->lo8), q->hi8);
	_mm512_mask_storeu_epi8(y, kc, v);
}

X5_INLINE void x5_dwrows5(int FAST, int R, const q8_geom *g, const __m512i *T, int tcols,
                          const int8_t *wb, const int32_t *b, const x5_dwq4 *q, int n,
                          int8_t *y, int64_t ys, __mmask64 kc)
{
	int sw = g->sw, dw = g->dw, C = g->c;
	const __m512i *W = (const __m512i *)(const void *)wb; /* [R][2][5][4] */
#define X5_B(k) _mm512_loadu_si512((const void *)(b + 16 * k))
#define X5_D(r, k) a##r##k = _mm512_dpbusd_epi32(a##r##k, t##k, \
	_mm512_loadu_si512((const void *)(W + ((r * 2 + gi) * 5 + kx) * 4 + k)))
	for (int i = 0; i < n; i++) {
		__m512i a00 = X5_B(0), a01 = X5_B(1), a02 = X5_B(2), a03 = X5_B(3);
		__m512i a10 = a00, a11 = a01, a12 = a02, a13 = a03;
		__m512i a20 = a00, a21 = a01, a22 = a02, a23 = a03;
		__m512i a30 = a00, a31 = a01, a32 = a02, a33 = a03;
		for (int gi = 0; gi < 2; gi++)
			for (int kx = 0; kx < 5; kx++) {
				const __m512i *t = T + 4 * ((int64_t)gi * tcols + (int64_t)i * sw + kx * dw);
				__m512i t0 = t[0], t1 = t[1], t2 = t[2], t3 = t[3];
				X5_D(0, 0), X5_D(0, 1), X5_D(0, 2), X5_D(0, 3);
				X5_D(1, 0), X5_D(1, 1), X5_D(1, 2), X5_D(1, 3);
				if (R > 2) {
					X5_D(2, 0), X5_D(2, 1), X5_D(2, 2), X5_D(2, 3);
					X5_D(3, 0), X5_D(3, 1), X5_D(3, 2), X5_D(3, 3);
				}
			}
		int8_t *yi = y + (int64_t)i * C;
		X5_RQ4(FAST, q, a00, a01, a02, a03);
		x5_dwst(q, yi, kc, a00, a01, a02, a03);
		X5_RQ4(FAST, q, a10, a11, a12, a13);
		x5_dwst(q, yi + ys, kc, a10, a11, a12, a13);
		if (R > 2) {
			X5_RQ4(FAST, q, a20, a21, a22, a23);
			x5_dwst(q, yi + 2 * ys, kc, a20, a21, a22, a23);
			X5_RQ4(FAST, q, a30, a31, a32, a33);
			x5_dwst(q, yi + 3 * ys, kc, a30, a31, a32, a33);
		}
	}
#undef X5_B
#undef X5_D
}

#define X5_DWROWS5(F, R) \
	static __attribute__((noinline)) void x5_dwrows5_##F##_##R(const q8_geom *g, \
		const __m512i *T, int tcols, const int8_t *wb, const int32_t *b, const x5_dwq4 *q, \
		int n, int8_t *y, int64_t ys, __mmask64 kc) \
	{ \
		x5_dwrows5(F, R, g, T, tcols, wb, b, q, n, y, ys, kc); \
	}
X5_DWROWS5(1, 2)
X5_DWROWS5(1, 4)
X5_DWROWS5(0, 2)
X5_DWROWS5(0, 4)
#undef X5_DWROWS5

/* one function per variant, so that each gets its own registers */
#define X5_DWROW(F, K) \
	static __attribute__((noinline)) void x5_dwrow_##F##_##K(const q8_geom *g, \
		const __m512i *T, int tcols, int g0, int g1, const int8_t *wr, const int32_t *b, \
		const x5_dwq4 *q, int n, int8_t *y, __mmask64 kc) \
	{ \
		x5_dwrow(F, K, g, T, tcols, g0, g1, wr, b, q, n, y, kc); \
	}
X5_DWROW(1, 3)
X5_DWROW(1, 5)
X5_DWROW(1, 0)
X5_DWROW(0, 3)
X5_DWROW(0, 5)
X5_DWROW(0, 0)
#undef X5_DWROW

static __attribute__((noinline, unused)) void x5_dw64conv(const q8_params *p, const void *a, void *yy)
{
	q8_geom gg, *g = &gg;
	q8_geom_init(g, p, 0, 16);
	const int8_t *x = a, *w = p->p[Q8P_W];
	int8_t *y = yy;
	const int32_t *b = p->p[Q8P_B], *m = p->p[Q8P_MULT], *s = p->p[Q8P_SHIFT];
	int C = g->c, C64 = q8_dw5_c64(C), G, R = q8_dw5_rows(g->kh, g->sh, g->dh, &G);
	int tcols = X5_DWT / (4 * G), span = (g->kw - 1) * g->dw + 1;
	int hspan = (g->kh - 1) * g->dh + 1, used = (R - 1) * g->sh + hspan;
	if (g->pixels <= 0 || span > tcols)
		return; /* select.c keeps 4 * G * span <= X5_DWT */
	int opc = (tcols - span) / g->sw + 1; /* output pixels per pass */
	int kw = g->kw == 3 || g->kw == 5 ? g->kw : 0;
	/* x5_dwrows5: 5 wide, G = 2, R = 2 or 4, every row in both groups */
	int rows5 = kw == 5 && G == 2 && (R == 2 || R == 4) && (R - 1) * g->sh < 4 &&
	            (R - 1) * g->sh + hspan > 4;
	int8_t azp = (int8_t)p->i[Q8_AZP], pad[64];
	memset(pad, azp, sizeof pad);
	_Alignas(64) __m512i T[X5_DWT];
	const __m512i tpad = _mm512_set1_epi8((char)(azp ^ 0x80));
	int64_t rowb = (int64_t)g->w * C, imgb = rowb * g->h, wblk = (int64_t)R * G * g->kw * 256;
	int nimg = (int)(g->pixels / ((int64_t)g->oh * g->ow));
	for (int n = 0; n < nimg && C64 > 0; n++)
	for (int ox0 = 0; ox0 < g->ow; ox0 += opc)
	for (int c = 0; c < C64; c += 64) {
		int np = g->ow - ox0 < opc ? g->ow - ox0 : opc;
		int iw0 = ox0 * g->sw - g->pl, ncol = (np - 1) * g->sw + span;
		__mmask64 kc = C - c >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << (C - c)) - 1;
		int tail = C - c < 64;
		x5_dwq4 q;
		q.fast = 1;
		for (int k = 0; k < 4; k++) { /* select.c pads with a channel's shift */
			x5_dwq_init(&q.q[k], g, m + c + 16 * k, s + c + 16 * k, 0xffff);
			q.fast &= q.q[k].fast;
		}
		q.lo8 = _mm512_set1_epi8((char)g->lo);
		q.hi8 = _mm512_set1_epi8((char)g->hi);
		const int8_t *wb = w + (int64_t)c / 64 * wblk;
		for (int oy0 = 0; oy0 < g->oh; oy0 += R) {
			for (int gi = 0; gi < G; gi++) {
				const int8_t *rp[4];
				int64_t cs[4];
				for (int j = 0; j < 4; j++) {
					int row = 4 * gi + j, ih = oy0 * g->sh - g->pt + row;
					int in = row < used && ih >= 0 && ih < g->h;
					rp[j] = in ? x + n * imgb + ih * rowb + c : pad;
					cs[j] = in ? C : 0;
				}
				if (tail)
					x5_dwt(1, T + 4 * gi * tcols, iw0, ncol, g->w, rp, cs, kc, tpad);
				else
					x5_dwt(0, T + 4 * gi * tcols, iw0, ncol, g->w, rp, cs, kc, tpad);
			}
			if (rows5 && oy0 + R <= g->oh) {
				int8_t *yr = y + (((int64_t)n * g->oh + oy0) * g->ow + ox0) * C + c;
				int64_t ys = (int64_t)g->ow * C;
#define X5_DWR5(F, R) x5_dwrows5_##F##_##R(g, T, tcols, wb, b + c, &q, np, yr, ys, kc)
				if (q.fast)
					R == 4 ? X5_DWR5(1, 4) : X5_DWR5(1, 2);
				else
					R == 4 ? X5_DWR5(0, 4) : X5_DWR5(0, 2);
#undef X5_DWR5
				continue;
			}
			for (int r = 0; r < R && oy0 + r < g->oh; r++) {
				int g0 = r * g->sh / 4, g1 = (r * g->sh + hspan - 1) / 4;
				const int8_t *wr = wb + (int64_t)r * G * g->kw * 256;
				int8_t *yr = y + (((int64_t)n * g->oh + oy0 + r) * g->ow + ox0) * C + c;
#define X5_DWR(F, K) x5_dwrow_##F##_##K(g, T, tcols, g0, g1, wr, b + c, &q, np, yr, kc)
				if (q.fast)
					kw == 3 ? X5_DWR(1, 3) : kw == 5 ? X5_DWR(1, 5) : X5_DWR(1, 0);
				else
					kw == 3 ? X5_DWR(0, 3) : kw == 5 ? X5_DWR(0, 5) : X5_DWR(0, 0);
#undef X5_DWR
			}
		}
	}
}

/* the blocks of 64, then the last C % 64 channels 16 a block (one T on
   the stack at a time) */
Q8_HELPER void x5_dwconv(const q8_params *p, const void *a, void *yy)
{
	int C = p->i[Q8_C], C64 = q8_dw5_c64(C), G, R = q8_dw5_rows(p->i[Q8_KH], p->i[Q8_SH], p->i[Q8_DH], &G);
	x5_dw64conv(p, a, yy);
	if (C64 < C)
		x5_dw16conv(p, a, yy, C64, (const int8_t *)p->p[Q8P_W] +
		            (int64_t)(C64 + 63) / 64 * R * G * p->i[Q8_KW] * 256);
}

#endif
