/* Timing driver for bench/nets.py and tools/compare/compare.py: runs a
   q8c-compiled model (NAME.h as Q8_MODEL_H, prefix Q8_NAME) the way the
   peers are timed.
       bench_driver IN.bin OUT.bin COUNT WARMUP REPS THREADS
   Runs the COUNT float samples of IN.bin once and writes their outputs to
   OUT.bin, then WARMUP untimed and REPS timed inferences (each timed on
   its own, cycling through the samples), and prints "median_us p10_us".
   THREADS 0 runs NAME_run; THREADS >= 1 runs NAME_run_parallel with the
   pthreads pool of tools/driver/pool.h (build with -DQ8_PARALLEL -pthread). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "driver.h"
#ifdef Q8_PARALLEL
#include "pool.h"
#endif

static int threads;
#ifdef Q8_PARALLEL
static q8_pool *pool;
#endif

static void run(const float *in, float *out)
{
	const float *ins[1] = {in};
	float *outs[1] = {out};
	int rc;
#ifdef Q8_PARALLEL
	if (threads > 0)
		rc = M(_run_parallel)(ins, outs, arena, q8_pool_for, pool);
	else
#endif
		rc = M(_run)(ins, outs, arena);
	if (rc != 0) {
		fprintf(stderr, "bench_driver: run failed\n");
		exit(5);
	}
}

int main(int argc, char **argv)
{
	if (argc != 7) {
		fprintf(stderr, "usage: bench_driver IN.bin OUT.bin COUNT WARMUP REPS THREADS\n");
		return 2;
	}
	long n = atol(argv[3]), warm = atol(argv[4]), reps = atol(argv[5]);
	threads = atoi(argv[6]);
#ifdef Q8_PARALLEL
	if (threads > 0)
		pool = q8_pool_new(threads);
#else
	if (threads > 0) {
		fprintf(stderr, "bench_driver: built without Q8_PARALLEL\n");
		return 2;
	}
#endif
	FILE *fi = fopen(argv[1], "rb"), *fo = fopen(argv[2], "wb");
	if (!fi || !fo || n <= 0 || warm < 0 || reps <= 0)
		return 3;
	float *in = malloc(sizeof(float) * M(_INPUT0_SIZE) * n);
	float *out = malloc(sizeof(float) * M(_OUTPUT0_SIZE) * n);
	double *t = malloc(sizeof(double) * reps);
	if (!in || !out || !t)
		return 3;
	if (fread(in, sizeof(float) * M(_INPUT0_SIZE), n, fi) != (size_t)n)
		return 4;
	for (long i = 0; i < n; i++)
		run(in + i * M(_INPUT0_SIZE), out + i * M(_OUTPUT0_SIZE));
	fwrite(out, sizeof(float) * M(_OUTPUT0_SIZE), n, fo);
	fclose(fo);
	for (long k = 0; k < warm; k++)
		run(in + (k % n) * M(_INPUT0_SIZE), out);
	for (long k = 0; k < reps; k++) {
		double t0 = now_us();
		run(in + (k % n) * M(_INPUT0_SIZE), out);
		t[k] = now_us() - t0;
	}
	qsort(t, reps, sizeof t[0], cmp);
	printf("%.3f %.3f\n", t[reps / 2], t[reps / 10]);
	return 0;
}
