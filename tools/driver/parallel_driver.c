/* Example: a compiled model (NAME.h as Q8_MODEL_H, prefix Q8_NAME) run on
   several threads through NAME_run_parallel and the pthreads pool of
   pool.h.
       parallel_driver IN.bin OUT.bin COUNT THREADS [TIMING_REPS]
   Reads COUNT float samples, runs each through NAME_run_parallel on
   THREADS threads (the caller's + THREADS - 1 workers) and writes the
   outputs; checks every output against NAME_run's, bit for bit (exit 6
   if one differs); with TIMING_REPS > 0 prints the median µs per
   inference of NAME_run and of NAME_run_parallel and their ratio.
   Build: cc -O2 -Iout -Itools/driver -DQ8_MODEL_H='"m.h"' -DQ8_NAME=m \
          -pthread tools/driver/parallel_driver.c out/m.c -lm */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "driver.h"
#include "pool.h"

/* median µs of reps calls of NAME_run (pool NULL) or NAME_run_parallel */
static double time_runs(const float *in, long n, float *out, long reps, q8_pool *pool)
{
	double *t = malloc(sizeof(double) * (size_t)reps), med;
	for (long k = 0; k < reps; k++) {
		const float *ins[1] = {in + (k % n) * M(_INPUT0_SIZE)};
		float *outs[1] = {out};
		double t0 = now_us();
		if (pool)
			M(_run_parallel)(ins, outs, arena, q8_pool_for, pool);
		else
			M(_run)(ins, outs, arena);
		t[k] = now_us() - t0;
	}
	qsort(t, (size_t)reps, sizeof *t, cmp);
	med = t[reps / 2];
	free(t);
	return med;
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: parallel_driver IN.bin OUT.bin COUNT THREADS [TIMING_REPS]\n");
		return 2;
	}
	long n = atol(argv[3]), reps = argc > 5 ? atol(argv[5]) : 0;
	int threads = atoi(argv[4]);
	FILE *fi = fopen(argv[1], "rb"), *fo = fopen(argv[2], "wb");
	if (!fi || !fo || n <= 0 || threads < 1)
		return 3;
	float *in = malloc(sizeof(float) * M(_INPUT0_SIZE) * (size_t)n);
	float *out = malloc(sizeof(float) * M(_OUTPUT0_SIZE) * (size_t)n);
	float *ref = malloc(sizeof(float) * M(_OUTPUT0_SIZE));
	if (!in || !out || !ref || fread(in, sizeof(float) * M(_INPUT0_SIZE), (size_t)n, fi) != (size_t)n)
		return 4;
	q8_pool *pool = q8_pool_new(threads);
	if (!pool)
		return 3;
	for (long i = 0; i < n; i++) {
		const float *ins[1] = {in + i * M(_INPUT0_SIZE)};
		float *outs[1] = {out + i * M(_OUTPUT0_SIZE)}, *refs[1] = {ref};
		if (M(_run_parallel)(ins, outs, arena, q8_pool_for, pool) != 0 || M(_run)(ins, refs, arena) != 0)
			return 5;
		if (memcmp(outs[0], ref, sizeof(float) * M(_OUTPUT0_SIZE)) != 0) {
			fprintf(stderr, "parallel_driver: sample %ld differs from NAME_run\n", i);
			return 6;
		}
	}
	fwrite(out, sizeof(float) * M(_OUTPUT0_SIZE), (size_t)n, fo);
	fclose(fo);
	if (reps > 0) {
		double t1 = time_runs(in, n, ref, reps, NULL), tp = time_runs(in, n, ref, reps, pool);
		printf("run %.1f us, run_parallel on %d threads %.1f us, speedup %.2fx\n", t1, threads, tp, t1 / tp);
	}
	q8_pool_free(pool);
	return 0;
}
