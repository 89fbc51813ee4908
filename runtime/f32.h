/* f32.h: the float convolutions and dense layer with packed weights
   (included by ref.c).  Output channels are innermost, in blocks of
   Q8_FB (q8rt.h), so that the inner step is Q8_FB independent
   multiply-adds, one vector or two, over Q8_FP output pixels at a time.

   Packed layouts (codegen/lower_op.c packs them); OCp is a channel count
   rounded up to Q8_FB, with zeros past the real channels:
     conv2d_f32_blk  W[G][OCg_p / FB][KH][KW][C/G][FB], B[G][OCg_p]
     dwconv_f32      W[Cp / FB][KH][KW][FB],           B[Cp]
                     (groups == C == OC: one input channel per output)
     dense_f32_blk   W[OCp / FB][K][FB],               B[OCp]
   B may be NULL.

   Every output is summed in the order of conv2d_f32 and dense_f32: the
   bias, then the taps (kh, then kw; those that fall in the input) and
   the input channels in order, one rounded multiply and one rounded add
   each, never contracted into an fma (ref.c's pragma, -ffp-contract=off
   in q8c's bitcode, the C emitter's pragmas).  A vector lane holds one
   output channel, so these kernels give conv2d_f32's bits on every
   target and at every vector width.

   gcc and clang get GNU C vectors: gcc 12 leaves the same loops written
   over float arrays with the accumulators in memory at -O2, and at -O3
   vectorizes the loop over input channels instead, as an in-order
   reduction, 5-8x slower.  Other compilers get plain arrays. */
#ifndef Q8_F32_H
#define Q8_F32_H

#include "q8rt.h"
#include <string.h>

/* Q8_FP output pixels (dense: rows) per tile, and Q8F_EACH(M), M(q) for
   each: 8 where 16 vector registers hold 8 floats (AVX) or 32 hold 4
   (AArch64), else 4.  It changes no result: each pixel is summed alone. */
#if defined(__AVX__) || defined(__aarch64__)
enum { Q8_FP = 8 };
#define Q8F_EACH(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7)
#else
enum { Q8_FP = 4 };
#define Q8F_EACH(M) M(0) M(1) M(2) M(3)
#endif

#if defined(__GNUC__) || defined(__clang__)
#define Q8_FTILE static __attribute__((noinline, unused))
#if defined(__AVX__)
typedef float q8_f8 __attribute__((vector_size(32)));
#define Q8F_LD(a, p) memcpy(&(a), (p), 32)
#define Q8F_ST(p, a) memcpy((p), &(a), 32)
#define Q8F_MADD(a, v, w) ((a) = (a) + (v) * (w))
#define Q8F_MADDV(a, v, w) ((a) = (a) + (v) * (w))
#else
typedef float q8_f4 __attribute__((vector_size(16)));
typedef struct { q8_f4 lo, hi; } q8_f8;
#define Q8F_LD(a, p) (memcpy(&(a).lo, (p), 16), memcpy(&(a).hi, (p) + 4, 16))
#define Q8F_ST(p, a) (memcpy((p), &(a).lo, 16), memcpy((p) + 4, &(a).hi, 16))
#define Q8F_MADD(a, v, w) ((a).lo = (a).lo + (v) * (w).lo, (a).hi = (a).hi + (v) * (w).hi)
#define Q8F_MADDV(a, v, w) ((a).lo = (a).lo + (v).lo * (w).lo, (a).hi = (a).hi + (v).hi * (w).hi)
#endif
#else
#define Q8_FTILE static
typedef struct { float e[Q8_FB]; } q8_f8;
#define Q8F_LD(a, p) memcpy((a).e, (p), sizeof(a).e)
#define Q8F_ST(p, a) memcpy((p), (a).e, sizeof(a).e)
#define Q8F_MADD(a, v, w) \
	do { for (int l_ = 0; l_ < Q8_FB; l_++) (a).e[l_] = (a).e[l_] + (v) * (w).e[l_]; } while (0)
#define Q8F_MADDV(a, v, w) \
	do { for (int l_ = 0; l_ < Q8_FB; l_++) (a).e[l_] = (a).e[l_] + (v).e[l_] * (w).e[l_]; } while (0)
#endif
/* The tiles are functions of their own: gcc, once the C emitter's
   constant params are propagated into an inlined tile, spills the
   accumulators (runtime/tile.h). */

#define Q8F_ACC(q) a##q,
#define Q8F_LOAD(q) Q8F_LD(a##q, y[q]);
#define Q8F_SAVE(q) Q8F_ST(y[q], a##q);
#define Q8F_XPTR(q) const float *x##q = x[q] + off;
#define Q8F_STEP(q) Q8F_MADD(a##q, x##q[j], wj);
#define Q8F_DWSTEP(q) Q8F_LD(v, x[q] + off); Q8F_MADDV(a##q, v, wt);

/* Q8_FP pixels x Q8_FB channels over nkh x nkw taps of n input channels:
   pixel q accumulates into y[q], reading x[q][r * rs + c * cs + j] at
   tap (r, c), channel j, times w[((r * nkw + c) * n + j) * Q8_FB].  A
   pixel that a tap does not concern gets a scratch y and any x. */
Q8_FTILE void q8f_tile(float *const y[Q8_FP], const float *const x[Q8_FP], int64_t rs, int64_t cs,
                       const float *w, int64_t nkh, int64_t nkw, int64_t n)
{
	q8_f8 Q8F_EACH(Q8F_ACC) wj;
	Q8F_EACH(Q8F_LOAD)
	for (int64_t r = 0; r < nkh; r++)
		for (int64_t c = 0; c < nkw; c++) {
			int64_t off = r * rs + c * cs;
			Q8F_EACH(Q8F_XPTR)
			for (int64_t j = 0; j < n; j++, w += Q8_FB) {
				Q8F_LD(wj, w);
				Q8F_EACH(Q8F_STEP)
			}
		}
	Q8F_EACH(Q8F_SAVE)
}

/* depthwise: Q8_FP pixels x Q8_FB channels over nkh x nkw taps: pixel q
   accumulates into y[q], reading x[q][r * rs + c * cs + l] at tap (r, c),
   times w[(r * nkw + c) * Q8_FB + l]; as q8f_tile */
Q8_FTILE void q8f_dwtile(float *const y[Q8_FP], const float *const x[Q8_FP], int64_t rs, int64_t cs,
                         const float *w, int64_t nkh, int64_t nkw)
{
	q8_f8 Q8F_EACH(Q8F_ACC) wt, v;
	Q8F_EACH(Q8F_LOAD)
	for (int64_t r = 0; r < nkh; r++)
		for (int64_t c = 0; c < nkw; c++, w += Q8_FB) {
			int64_t off = r * rs + c * cs;
			Q8F_LD(wt, w);
			Q8F_EACH(Q8F_DWSTEP)
		}
	Q8F_EACH(Q8F_SAVE)
}

static inline void q8f_init(float acc[Q8_FP][Q8_FB], const float *bias)
{
	static const float zero[Q8_FB];
	for (int q = 0; q < Q8_FP; q++)
		memcpy(acc[q], bias ? bias : zero, sizeof acc[q]);
}

/* nq pixels of acc, n of its channels, to y (pixel stride ys) */
static inline void q8f_store(float *y, int64_t ys, float acc[Q8_FP][Q8_FB], int64_t nq, int64_t n)
{
	for (int64_t q = 0; q < nq; q++)
		if (n == Q8_FB)
			memcpy(y + q * ys, acc[q], sizeof acc[q]);
		else
			memcpy(y + q * ys, acc[q], (size_t)n * sizeof acc[q][0]);
}

/* The window rows [*r0, *r1) of output row oh that fall in the input. */
static inline void q8f_rows(const int32_t *i, int64_t oh, int64_t *r0, int64_t *r1)
{
	int64_t top = oh * i[Q8_SH] - i[Q8_PT], dh = i[Q8_DH];
	*r0 = 0;
	while (*r0 < i[Q8_KH] && top + *r0 * dh < 0)
		++*r0;
	*r1 = i[Q8_KH];
	while (*r1 > *r0 && top + (*r1 - 1) * dh >= i[Q8_H])
		--*r1;
}

/* Whether pixels ow .. ow + Q8_FP - 1 read only columns inside the input. */
static inline int q8f_inside(const int32_t *i, int64_t ow)
{
	int64_t left = ow * i[Q8_SW] - i[Q8_PL];
	int64_t right = left + (Q8_FP - 1) * (int64_t)i[Q8_SW] + (i[Q8_KW] - 1) * (int64_t)i[Q8_DW];
	return ow + Q8_FP <= i[Q8_OW] && left >= 0 && right < i[Q8_W];
}

Q8K void q8k_conv2d_f32_blk(const q8_params *p, const void *a, const void *b, void *y)
{
	const float *x = a, *w = p->p[Q8P_W], *bias = p->p[Q8P_B];
	float *o = y;
	const int32_t *i = p->i;
	int64_t H = i[Q8_H], W = i[Q8_W], C = i[Q8_C], OH = i[Q8_OH], OW = i[Q8_OW], OC = i[Q8_OC];
	int64_t KH = i[Q8_KH], KW = i[Q8_KW], SH = i[Q8_SH], SW = i[Q8_SW], DH = i[Q8_DH], DW = i[Q8_DW];
	int64_t G = i[Q8_GROUPS], cg = C / G, og = OC / G, ogp = (og + Q8_FB - 1) / Q8_FB * Q8_FB;
	int64_t tap = cg * Q8_FB, panel = KH * KW * tap; /* weights of one tap, of one block */
	(void)b;
	for (int64_t n = 0; n < i[Q8_N]; n++)
	for (int64_t oh = 0; oh < OH; oh++) {
		int64_t r0, r1;
		q8f_rows(i, oh, &r0, &r1);
		int64_t xr = (n * H + oh * SH - i[Q8_PT]) * W * C; /* where row kh = 0 would start */
		for (int64_t g = 0; g < G; g++)
		for (int64_t ob = 0; ob < ogp; ob += Q8_FB) {
			const float *wb = w + (g * ogp + ob) / Q8_FB * panel;
			const float *bb = bias ? bias + g * ogp + ob : NULL;
			int64_t nl = og - ob < Q8_FB ? og - ob : Q8_FB;
			float *yr = o + (n * OH + oh) * OW * OC + g * og + ob;
			for (int64_t ow = 0; ow < OW; ow += Q8_FP) {
				int64_t nq = OW - ow < Q8_FP ? OW - ow : Q8_FP, iw = ow * SW - i[Q8_PL];
				float acc[Q8_FP][Q8_FB], junk[Q8_FB] = {0}, *yq[Q8_FP];
				const float *xq[Q8_FP];
				q8f_init(acc, bb);
				if (r0 < r1 && q8f_inside(i, ow)) {
					for (int q = 0; q < Q8_FP; q++) {
						yq[q] = acc[q];
						xq[q] = x + (xr + (r0 * DH * W + iw + q * SW) * C + g * cg);
					}
					q8f_tile(yq, xq, DH * W * C, DW * C, wb + r0 * KW * tap, r1 - r0, KW, cg);
				} else {
					/* an edge: tap by tap, the pixels that it falls on */
					for (int64_t kh = r0; kh < r1; kh++)
						for (int64_t kw = 0; kw < KW; kw++) {
							int any = 0;
							for (int q = 0; q < Q8_FP; q++) {
								int64_t c = iw + q * SW + kw * DW;
								int in = q < nq && c >= 0 && c < W;
								yq[q] = in ? acc[q] : junk;
								xq[q] = x + (in ? xr + (kh * DH * W + c) * C + g * cg : 0);
								any |= in;
							}
							if (any)
								q8f_tile(yq, xq, 0, 0, wb + (kh * KW + kw) * tap, 1, 1, cg);
						}
				}
				q8f_store(yr + ow * OC, OC, acc, nq, nl);
			}
		}
	}
}

Q8K void q8k_dwconv_f32(const q8_params *p, const void *a, const void *b, void *y)
{
	const float *x = a, *w = p->p[Q8P_W], *bias = p->p[Q8P_B];
	float *o = y;
	const int32_t *i = p->i;
	int64_t H = i[Q8_H], W = i[Q8_W], C = i[Q8_C], OH = i[Q8_OH], OW = i[Q8_OW];
	int64_t KH = i[Q8_KH], KW = i[Q8_KW], SH = i[Q8_SH], SW = i[Q8_SW], DH = i[Q8_DH], DW = i[Q8_DW];
	(void)b;
	for (int64_t n = 0; n < i[Q8_N]; n++)
	for (int64_t oh = 0; oh < OH; oh++) {
		int64_t r0, r1;
		q8f_rows(i, oh, &r0, &r1);
		int64_t xr = (n * H + oh * SH - i[Q8_PT]) * W * C;
		for (int64_t ow = 0; ow < OW; ow += Q8_FP) {
			int64_t nq = OW - ow < Q8_FP ? OW - ow : Q8_FP, iw = ow * SW - i[Q8_PL];
			int inside = r0 < r1 && q8f_inside(i, ow);
			float *yp = o + ((n * OH + oh) * OW + ow) * C;
			for (int64_t cb = 0; cb < C; cb += Q8_FB) {
				/* the last block reads only the channels there are */
				int64_t nl = C - cb < Q8_FB ? C - cb : Q8_FB;
				const float *wb = w + cb * KH * KW;
				float acc[Q8_FP][Q8_FB], junk[Q8_FB] = {0}, *yq[Q8_FP];
				const float *xq[Q8_FP];
				q8f_init(acc, bias ? bias + cb : NULL);
				if (inside && nl == Q8_FB) {
					for (int q = 0; q < Q8_FP; q++) {
						yq[q] = acc[q];
						xq[q] = x + (xr + (r0 * DH * W + iw + q * SW) * C + cb);
					}
					q8f_dwtile(yq, xq, DH * W * C, DW * C, wb + r0 * KW * Q8_FB, r1 - r0, KW);
				} else {
					for (int64_t kh = r0; kh < r1; kh++)
						for (int64_t kw = 0; kw < KW; kw++) {
							const float *wt = wb + (kh * KW + kw) * Q8_FB;
							int any = 0;
							for (int q = 0; q < Q8_FP; q++) {
								int64_t c = iw + q * SW + kw * DW;
								int in = q < nq && c >= 0 && c < W;
								yq[q] = in ? acc[q] : junk;
								xq[q] = x + (in ? xr + (kh * DH * W + c) * C + cb : 0);
								any |= in;
							}
							if (nl == Q8_FB) {
								if (any)
									q8f_dwtile(yq, xq, 0, 0, wt, 1, 1);
								continue;
							}
							/* the last block, fewer than Q8_FB channels */
							for (int q = 0; q < nq; q++)
								if (yq[q] != junk)
									for (int64_t l = 0; l < nl; l++)
										acc[q][l] = acc[q][l] + xq[q][l] * wt[l];
						}
				}
				q8f_store(yp + cb, C, acc, nq, nl);
			}
		}
	}
}

Q8K void q8k_dense_f32_blk(const q8_params *p, const void *a, const void *b, void *y)
{
	const float *x = a, *w = p->p[Q8P_W], *bias = p->p[Q8P_B];
	float *o = y;
	int64_t N = p->i[Q8_N], K = p->i[Q8_C], OC = p->i[Q8_OC];
	(void)b;
	for (int64_t ob = 0; ob < OC; ob += Q8_FB) {
		const float *wb = w + ob * K;
		int64_t nl = OC - ob < Q8_FB ? OC - ob : Q8_FB;
		for (int64_t n = 0; n < N; n += Q8_FP) {
			int64_t nq = N - n < Q8_FP ? N - n : Q8_FP;
			float acc[Q8_FP][Q8_FB], junk[Q8_FB] = {0}, *yq[Q8_FP];
			const float *xq[Q8_FP];
			q8f_init(acc, bias ? bias + ob : NULL);
			for (int q = 0; q < Q8_FP; q++) {
				yq[q] = q < nq ? acc[q] : junk;
				xq[q] = x + (q < nq ? (n + q) * K : 0);
			}
			q8f_tile(yq, xq, 0, 0, wb, 1, 1, K);
			q8f_store(o + n * OC + ob, OC, acc, nq, nl);
		}
	}
}

#endif
