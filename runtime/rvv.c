/* RISC-V vector kernels (target riscv64-v, RVV 1.0).  select.c packs
   conv2d_i8 and dense_i8 weights as W[g][ob][tap][c][16]: for each input
   channel, the 16 weights of a block of output channels, one e8m1
   register (vl = 16 needs VLEN >= 128, which V guarantees).  vwmul.vx
   gives exact int16 products of one activation with 16 weights, vwadd.wv
   widens them into the int32 accumulators (e32m4).  Depthwise uses
   vwmacc.vv on sign-extended int16.  Requantization is the scalar q8_rq.
   Without the V extension (gcc 12 has no riscv_vector.h) the same loops
   run in plain C on the same packing, so the file always compiles. */
#include "q8rt.h"
#include "tile.h"
#include "w4.h"
#include <string.h>
#ifdef __riscv_vector
#include <riscv_vector.h>
#endif

enum { RV_L = 16 };

/* M (<= 4) pixels px[] x one block of 16 channels: int32 sums in o[] */
static inline __attribute__((always_inline)) void
rv_block(const q8_geom *g, int M, const q8_pix *px, const int8_t *w, const int8_t *pad,
         int32_t o[4][RV_L])
{
	const int8_t *xp[4] = { pad, pad, pad, pad };
#ifdef __riscv_vector
	size_t vl = __riscv_vsetvl_e8m1(RV_L);
	vint32m4_t a0 = __riscv_vmv_v_x_i32m4(0, vl), a1 = a0, a2 = a0, a3 = a0;
#else
	memset(o, 0, sizeof(int32_t) * 4 * RV_L);
#endif
	for (int t = 0; t < g->taps; t++) {
		for (int r = 0; r < M; r++)
			xp[r] = q8_tap(g, px[r], t / g->kw, t % g->kw, pad);
		const int8_t *wt = w + (int64_t)t * g->cg * RV_L;
		for (int c = 0; c < g->cg; c++, wt += RV_L) {
#ifdef __riscv_vector
			vint8m1_t wv = __riscv_vle8_v_i8m1(wt, vl);
			a0 = __riscv_vwadd_wv_i32m4(a0, __riscv_vwmul_vx_i16m2(wv, xp[0][c], vl), vl);
			if (M > 1)
				a1 = __riscv_vwadd_wv_i32m4(a1, __riscv_vwmul_vx_i16m2(wv, xp[1][c], vl), vl);
			if (M > 2) {
				a2 = __riscv_vwadd_wv_i32m4(a2, __riscv_vwmul_vx_i16m2(wv, xp[2][c], vl), vl);
				a3 = __riscv_vwadd_wv_i32m4(a3, __riscv_vwmul_vx_i16m2(wv, xp[3][c], vl), vl);
			}
#else
			for (int r = 0; r < M; r++)
				for (int l = 0; l < RV_L; l++)
					o[r][l] = (int32_t)((uint32_t)o[r][l] + (uint32_t)(xp[r][c] * wt[l]));
#endif
		}
	}
#ifdef __riscv_vector
	__riscv_vse32_v_i32m4(o[0], a0, vl);
	__riscv_vse32_v_i32m4(o[1], a1, vl);
	__riscv_vse32_v_i32m4(o[2], a2, vl);
	__riscv_vse32_v_i32m4(o[3], a3, vl);
#endif
}

/* un, wbuf: int4 weights (w4.h), each block unpacked before its pixels */
static void rv_conv(const q8_params *p, const int8_t *x, int8_t *y, int dense, q8_unpack_fn *un,
                    int8_t *wbuf)
{
	q8_geom gg, *g = &gg;
	q8_geom_init(g, p, dense, RV_L);
	if (g->pixels <= 0)
		return;
	int8_t pad[Q8_PADBUF];
	if (g->cg <= Q8_PADBUF)
		memset(pad, (int8_t)p->i[Q8_AZP], (size_t)g->cg);
	const int8_t *w = p->p[Q8P_W];
	const int32_t *b = p->p[Q8P_B], *m = p->p[Q8P_MULT], *s = p->p[Q8P_SHIFT];
	int groups = g->c / g->cg;
	int64_t bstride = (int64_t)g->taps * g->cg * RV_L;
	int32_t o[4][RV_L];
	for (int grp = 0; grp < groups; grp++) {
		const int8_t *xg = x + (int64_t)grp * g->cg;
		for (int ob = 0; ob < g->nob; ob++) {
			int64_t c0 = ((int64_t)grp * g->nob + ob) * RV_L;
			int nv = g->ocg - ob * RV_L < RV_L ? g->ocg - ob * RV_L : RV_L;
			int8_t *yb = y + (int64_t)grp * g->ocg + ob * RV_L;
			if (un)
				un(wbuf, w, (int64_t)(grp * g->nob + ob) * bstride, bstride, 1);
			const int8_t *wb = un ? wbuf : w + (int64_t)(grp * g->nob + ob) * bstride;
			q8_it it = q8_at(g, xg, 0); /* one walk: no division per pixel */
			for (int64_t q = 0; q < g->pixels; q += 4) {
				int M = g->pixels - q < 4 ? (int)(g->pixels - q) : 4;
				q8_pix px[4];
				for (int r = 0; r < M; r++, q8_step(g, &it))
					px[r] = it.px;
				/* the M == 4 call is the one that matters; it is its own
				   instance so that the row guards fold away */
				if (M == 4)
					rv_block(g, 4, px, wb, pad, o);
				else
					rv_block(g, M, px, wb, pad, o);
				for (int r = 0; r < M; r++)
					for (int j = 0; j < nv; j++)
						yb[(q + r) * g->oc + j] = q8_out(g, (int32_t)((uint32_t)o[r][j] +
							(uint32_t)b[c0 + j]), m[c0 + j], s[c0 + j]);
			}
		}
	}
}

Q8K void q8k_conv2d_i8_rvv(const q8_params *p, const void *a, const void *b, void *y)
{
	(void)b;
	rv_conv(p, a, y, 0, 0, 0);
}

Q8K void q8k_dense_i8_rvv(const q8_params *p, const void *a, const void *b, void *y)
{
	(void)b;
	rv_conv(p, a, y, 1, 0, 0);
}

/* Depthwise (groups == C == OC): 16 channels at a time, W[tap][Cp] int16;
   vl shrinks on the last block, so nothing is read past the pixel. */
Q8K void q8k_dwconv_i8_rvv(const q8_params *p, const void *a, const void *bb, void *yy)
{
	(void)bb;
	q8_geom gg, *g = &gg;
	q8_geom_init(g, p, 0, RV_L);
	const int8_t *x = a;
	int8_t *y = yy;
	const int16_t *w = p->p[Q8P_W];
	const int32_t *b = p->p[Q8P_B], *m = p->p[Q8P_MULT], *s = p->p[Q8P_SHIFT];
	int C = g->c, Cp = (C + 15) / 16 * 16, azp = p->i[Q8_AZP];
	const int8_t *xt[Q8_DWTAPS];
	int32_t o[RV_L];
	if (g->pixels <= 0)
		return;
	q8_it it = q8_at(g, x, 0);
	for (int64_t q = 0; q < g->pixels; q++, q8_step(g, &it)) {
		/* select.c sends windows of more than 64 taps to rv_conv */
		for (int t = 0; t < g->taps && t < Q8_DWTAPS; t++)
			xt[t] = q8_tap(g, it.px, t / g->kw, t % g->kw, NULL);
		for (int c = 0; c < C; c += RV_L) {
			int nv = C - c < RV_L ? C - c : RV_L;
#ifdef __riscv_vector
			size_t vl = __riscv_vsetvl_e8m1((size_t)nv);
			vint32m4_t acc = __riscv_vle32_v_i32m4(b + c, vl);
			for (int t = 0; t < g->taps; t++) {
				vint16m2_t xv = xt[t] ? __riscv_vsext_vf2_i16m2(__riscv_vle8_v_i8m1(xt[t] + c, vl), vl)
				                      : __riscv_vmv_v_x_i16m2((int16_t)azp, vl);
				acc = __riscv_vwmacc_vv_i32m4(acc, xv, __riscv_vle16_v_i16m2(w + (int64_t)t * Cp + c, vl), vl);
			}
			__riscv_vse32_v_i32m4(o, acc, vl);
#else
			for (int j = 0; j < nv; j++) {
				uint32_t acc = (uint32_t)b[c + j];
				for (int t = 0; t < g->taps; t++)
					acc += (uint32_t)((xt[t] ? xt[t][c + j] : azp) * w[(int64_t)t * Cp + c + j]);
				o[j] = (int32_t)acc;
			}
#endif
			for (int j = 0; j < nv; j++)
				y[q * C + c + j] = q8_out(g, o[j], m[c + j], s[c + j]);
		}
	}
}

/* lut_i8: y = T[x + 128].  When one e8m8 register group holds the whole
   table (VLEN >= 256), vrgather.vv looks it up from registers; else an
   indexed load (vluxei8, byte offsets 0..255) reads it from memory. */
Q8K void q8k_lut_i8_rvv(const q8_params *p, const void *a, const void *b, void *y)
{
	const int8_t *x = a, *t = p->p[Q8P_W];
	int8_t *o = y;
	size_t n = (size_t)p->i[Q8_COUNT];
	(void)b;
#ifdef __riscv_vector
	if (__riscv_vsetvlmax_e8m8() >= 256) {
		vint8m8_t tv = __riscv_vle8_v_i8m8(t, __riscv_vsetvl_e8m8(256));
		for (size_t i = 0, vl; i < n; i += vl) {
			vl = __riscv_vsetvl_e8m8(n - i);
			vuint8m8_t u = __riscv_vxor_vx_u8m8(__riscv_vle8_v_u8m8((const uint8_t *)x + i, vl), 0x80, vl);
			__riscv_vse8_v_i8m8(o + i, __riscv_vrgather_vv_i8m8(tv, u, vl), vl);
		}
		return;
	}
	for (size_t i = 0, vl; i < n; i += vl) {
		vl = __riscv_vsetvl_e8m4(n - i);
		vuint8m4_t u = __riscv_vxor_vx_u8m4(__riscv_vle8_v_u8m4((const uint8_t *)x + i, vl), 0x80, vl);
		__riscv_vse8_v_i8m4(o + i, __riscv_vluxei8_v_i8m4(t, u, vl), vl);
	}
#else
	for (size_t i = 0; i < n; i++)
		o[i] = t[(uint8_t)(x[i] ^ 0x80)];
#endif
}

/* int16 activations (a16w8): conv2d and dense with an int16 operand, the
   channel loop of a tap as one vwmacc dot product (runtime/a16_simd.h) */
Q8K void q8k_conv2d_a16_rvv(const q8_params *p, const void *a, const void *b, void *y);
Q8K void q8k_dense_a16_rvv(const q8_params *p, const void *a, const void *b, void *y);
#define Q8_A16_SFX rvv
#define Q8_A16_ISA 4
#include "a16_simd.h"
/* int4 weights, two per byte (w4.h): unpacked by blocks, then the same loop */
#ifdef __riscv_vector
#define RV_UNPACK q8_unpack4_rvv
#else
#define RV_UNPACK q8_unpack4_c
#endif
Q8K void q8k_conv2d_i8_rvv_w4(const q8_params *p, const void *a, const void *b, void *y)
{
	_Alignas(64) int8_t wbuf[Q8_W4BLK]; /* one block at a time */
	(void)b;
	rv_conv(p, a, y, 0, RV_UNPACK, wbuf);
}

Q8K void q8k_dense_i8_rvv_w4(const q8_params *p, const void *a, const void *b, void *y)
{
	_Alignas(64) int8_t wbuf[Q8_W4BLK]; /* one block at a time */
	(void)b;
	rv_conv(p, a, y, 1, RV_UNPACK, wbuf);
}

Q8K void q8k_dwconv_i8_rvv_w4(const q8_params *p, const void *a, const void *b, void *y)
{
	q8_w4_whole(q8k_dwconv_i8_rvv, RV_UNPACK, 2, p, a, b, y);
}
#undef RV_UNPACK
