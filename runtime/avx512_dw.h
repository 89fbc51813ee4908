/* avx512_dw.h: the depthwise kernel of runtime/avx512.c (included there,
   after the requantization helpers x5_dwq / x5_dwrq it uses). */
#ifndef Q8_AVX512_DW_H
#define Q8_AVX512_DW_H

/* Depthwise (groups == C == OC): 16 channels (one zmm) along one output
   row at a time.  select.c packs W[C/16][NG][kw][16][4], NG = ceil(kh/4):
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
enum { X5_DWT = 256 }; /* T vectors: NG x columns (select.c: DWCOLS) */

/* T[i] for the input columns iw0 + i, i < n, of 16 channels (TAIL: fewer,
   kc of them): NR rows at rp[j], cs[j] bytes per column (0 for a padding
   row, which points at 16 zero points). */
X5_INLINE void x5_dwt(int NR, int TAIL, __m512i *T, int iw0, int n, int w,
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
X5_INLINE void x5_dwt_next(int TAIL, __m512i *T, int iw0, int n, int w, const int8_t *r,
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
X5_INLINE void x5_dwrow(int FAST, int K3, const q8_geom *g, const __m512i *T, int tcols, int ng,
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
#define X5_DWROW(F, K) \
	static __attribute__((noinline)) void x5_dwrow_##F##K(const q8_geom *g, const __m512i *T, \
		int tcols, int ng, const int8_t *wb, const int32_t *b, const x5_dwq *q, int n, \
		int8_t *y, __mmask16 kc) \
	{ \
		x5_dwrow(F, K, g, T, tcols, ng, wb, b, q, n, y, kc); \
	}
X5_DWROW(1, 1)
X5_DWROW(1, 0)
X5_DWROW(0, 1)
X5_DWROW(0, 0)
#undef X5_DWROW

Q8_HELPER void x5_dwconv(const q8_params *p, const void *a, void *yy)
{
	q8_geom gg, *g = &gg;
	q8_geom_init(g, p, 0, 16);
	const int8_t *x = a, *w = p->p[Q8P_W];
	int8_t *y = yy;
	const int32_t *b = p->p[Q8P_B], *m = p->p[Q8P_MULT], *s = p->p[Q8P_SHIFT];
	int C = g->c, ng = (g->kh + 3) / 4, tcols = X5_DWT / ng, span = (g->kw - 1) * g->dw + 1;
	if (g->pixels <= 0 || span > tcols)
		return; /* select.c keeps ng * span <= X5_DWT */
	int opc = (tcols - span) / g->sw + 1; /* output pixels per pass */
	int k3 = ng == 1 && g->kw == 3;
	int8_t azp = (int8_t)p->i[Q8_AZP], pad[16];
	memset(pad, azp, sizeof pad);
	/* ctl[j]: byte 4i + j of 128-bit lane L takes byte 4L + i, others 0 */
	int8_t cb[4][64];
	for (int j = 0; j < 4; j++)
		for (int e = 0; e < 64; e++)
			cb[j][e] = e % 4 == j ? (int8_t)(e / 16 * 4 + e % 16 / 4) : (int8_t)0x80;
	__m512i ctl[4], T[X5_DWT];
	for (int j = 0; j < 4; j++)
		ctl[j] = _mm512_loadu_si512((const void *)cb[j]);
	const __m512i tpad = _mm512_set1_epi8((char)(azp ^ 0x80));
	int64_t rowb = (int64_t)g->w * C, imgb = rowb * g->h;
	int nimg = (int)(g->pixels / ((int64_t)g->oh * g->ow));
	/* stride 1, one row group: each output row after the first of a pass
	   updates T (x5_dwt_next) rather than transposing it again */
	int inc = ng == 1 && g->sh == 1 && g->dh == 1;
	__mmask64 kb = 0; /* byte kh - 1 of every lane */
	for (int l = 0; l < 16 && inc; l++)
		kb |= (__mmask64)1 << (4 * l + g->kh - 1);
	for (int n = 0; n < nimg; n++)
	for (int ox0 = 0; ox0 < g->ow; ox0 += opc)
	for (int c = 0; c < C; c += 16) {
		int np = g->ow - ox0 < opc ? g->ow - ox0 : opc;
		int iw0 = ox0 * g->sw - g->pl, ncol = (np - 1) * g->sw + span;
		__mmask16 kc = x5_mask(C - c);
		int tail = C - c < 16;
		x5_dwq q;
		x5_dwq_init(&q, g, m + c, s + c, kc);
		const int8_t *wb = w + (int64_t)c * ng * g->kw * 4;
		for (int oy = 0; oy < g->oh; oy++) {
			if (inc && oy > 0) {
				int ih = oy - g->pt + g->kh - 1;
				const int8_t *r = ih >= 0 && ih < g->h ? x + n * imgb + ih * rowb + c : NULL;
				if (tail)
					x5_dwt_next(1, T, iw0, ncol, g->w, r, C, kc, ctl[g->kh - 1], tpad, kb);
				else
					x5_dwt_next(0, T, iw0, ncol, g->w, r, C, kc, ctl[g->kh - 1], tpad, kb);
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
#define X5_DWT_NR(R) tail ? x5_dwt(R, 1, tg, iw0, ncol, g->w, rp, cs, kc, ctl, tpad) \
	: x5_dwt(R, 0, tg, iw0, ncol, g->w, rp, cs, kc, ctl, tpad)
					if (nr == 3)
						X5_DWT_NR(3);
					else if (nr == 4)
						X5_DWT_NR(4);
					else if (nr == 2)
						X5_DWT_NR(2);
					else
						X5_DWT_NR(1);
#undef X5_DWT_NR
				}
			}
			int8_t *yr = y + (((int64_t)n * g->oh + oy) * g->ow + ox0) * C + c;
			if (q.fast && k3)
				x5_dwrow_11(g, T, tcols, ng, wb, b + c, &q, np, yr, kc);
			else if (q.fast)
				x5_dwrow_10(g, T, tcols, ng, wb, b + c, &q, np, yr, kc);
			else if (k3)
				x5_dwrow_01(g, T, tcols, ng, wb, b + c, &q, np, yr, kc);
			else
				x5_dwrow_00(g, T, tcols, ng, wb, b + c, &q, np, yr, kc);
		}
	}
}

#endif
