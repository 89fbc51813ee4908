/* Running one kernel call as independent tasks (NAME_run_parallel).

   q8_par() cuts a step into ntasks parts and hands them to the caller's
   parallel-for; each task runs the same kernel on a sub-problem described
   by a copy of the step's params, so every kernel splits without knowing
   it and every output is computed by the same arithmetic as in NAME_run
   (bit-identical).  HOW (codegen/lower_split.c) says how the step splits:
       HOW = kind + 16 * (bytes per element of a) + 256 * (of y)
   - Q8_SPLIT_ROWS (windowed NHWC ops: conv, depthwise, pools): output rows.
     With N > 1 the images split; with N == 1 output rows [r0, r1) become
     a layer whose input starts at row max(0, r0*SH - PT) and whose top
     padding is what is left of PT.
   - Q8_SPLIT_ELEMS (elementwise, COUNT elements): ranges of elements cut
     at multiples of 64 and of C (per-channel operands index i % C); b
     moves with a when it has the same shape (BMODE 0).
   - Q8_SPLIT_FLAT (per-tensor quantize/dequantize, OUTER*LEN*INNER
     elements): ranges cut at multiples of 64, as [range, 1, 1].
   Included by ref.c, so that it is pasted and compiled to bitcode with it. */
#ifndef Q8_PAR_H
#define Q8_PAR_H

#include <stddef.h>

typedef void (*q8_task_fn)(void *arg, size_t i);
typedef void (*q8_parallel_for)(void *ctx, q8_task_fn task, void *arg, size_t n);

typedef struct {
	const q8_params *p;
	q8_kernel k;
	const unsigned char *a, *b;
	unsigned char *y;
	int32_t how, ntasks;
} q8_par_job;

/* [lo, hi) of task i when units (in granules of g) go to n tasks */
static inline void q8_par_range(int64_t units, int64_t g, int64_t n, int64_t i, int64_t *lo, int64_t *hi)
{
	int64_t ng = (units + g - 1) / g;
	*lo = ng * i / n * g;
	*hi = ng * (i + 1) / n * g;
	if (*hi > units)
		*hi = units;
}

static inline int64_t q8_gcd(int64_t a, int64_t b)
{
	while (b) {
		int64_t t = a % b;
		a = b, b = t;
	}
	return a;
}

static void q8_par_task(void *arg, size_t i)
{
	const q8_par_job *j = arg;
	q8_params q = *j->p;
	int64_t asz = (j->how >> 4) & 15, ysz = (j->how >> 8) & 15, lo, hi;
	const unsigned char *a = j->a, *b = j->b;
	unsigned char *y = j->y;
	if ((j->how & 15) == Q8_SPLIT_ROWS) {
		int64_t H = q.i[Q8_H], W = q.i[Q8_W], C = q.i[Q8_C], OH = q.i[Q8_OH], OW = q.i[Q8_OW], OC = q.i[Q8_OC];
		if (q.i[Q8_N] > 1) {
			q8_par_range(q.i[Q8_N], 1, j->ntasks, (int64_t)i, &lo, &hi);
			a += lo * H * W * C * asz;
			y += lo * OH * OW * OC * ysz;
			q.i[Q8_N] = (int32_t)(hi - lo);
		} else {
			q8_par_range(OH, 1, j->ntasks, (int64_t)i, &lo, &hi);
			int64_t start = lo * q.i[Q8_SH] - q.i[Q8_PT];
			if (start > 0) {
				a += start * W * C * asz;
				q.i[Q8_H] = (int32_t)(H - start);
				q.i[Q8_PT] = 0;
			} else {
				q.i[Q8_PT] = (int32_t)-start;
			}
			y += lo * OW * OC * ysz;
			q.i[Q8_OH] = (int32_t)(hi - lo);
			/* the bottom padding that the rows [lo, hi) still need */
			int64_t need = (hi - lo - 1) * q.i[Q8_SH] + (int64_t)q.i[Q8_DH] * (q.i[Q8_KH] - 1) + 1;
			int64_t pb = need - q.i[Q8_H] - q.i[Q8_PT];
			q.i[Q8_PB] = (int32_t)(pb > 0 ? pb : 0);
		}
	} else {
		int64_t flat = (j->how & 15) == Q8_SPLIT_FLAT;
		int64_t count = flat ? (int64_t)q.i[Q8_OUTER] * q.i[Q8_LEN] * q.i[Q8_INNER] : q.i[Q8_COUNT];
		int64_t g = 64, c = !flat && q.i[Q8_C] > 0 ? q.i[Q8_C] : 1;
		g = g / q8_gcd(g, c) * c;
		q8_par_range(count, g, j->ntasks, (int64_t)i, &lo, &hi);
		if (hi <= lo)
			return;
		a += lo * asz;
		if (b && q.i[Q8_BMODE] == 0)
			b += lo * asz;
		y += lo * ysz;
		if (flat)
			q.i[Q8_OUTER] = (int32_t)(hi - lo), q.i[Q8_LEN] = 1, q.i[Q8_INNER] = 1;
		else
			q.i[Q8_COUNT] = (int32_t)(hi - lo);
	}
	if ((j->how & 15) != Q8_SPLIT_ROWS || q.i[Q8_OH] > 0)
		j->k(&q, a, b, y);
}

/* Runs kernel k on step params p as ntasks tasks through parallel_for. */
Q8K void q8_par(const q8_params *p, q8_kernel k, const void *a, const void *b, void *y, int32_t how,
                int32_t ntasks, q8_parallel_for parallel_for, void *ctx)
{
	q8_par_job j = {p, k, a, b, y, how, ntasks};
	parallel_for(ctx, q8_par_task, &j, (size_t)ntasks);
}

#endif
