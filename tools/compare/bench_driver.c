/* Timing driver for compare.py: runs a q8c-compiled model (NAME.h, given as
   Q8_MODEL_H, symbol prefix Q8_NAME) the way the peers are timed.
       bench IN.bin OUT.bin COUNT WARMUP REPS
   Runs the COUNT float samples of IN.bin once (batch 1 each) and writes the
   COUNT outputs to OUT.bin; then WARMUP untimed inferences and REPS timed
   ones, each timed on its own, cycling through the samples. Prints
   "median_us p10_us" of the REPS single-inference times. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include Q8_MODEL_H

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define M(x) CAT(Q8_NAME, x)

static _Alignas(64) unsigned char arena[M(_ARENA_SIZE) + 64];

static double now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void run(const float *in, float *out)
{
	const float *ins[1] = {in};
	float *outs[1] = {out};
	if (M(_run)(ins, outs, arena) != 0) {
		fprintf(stderr, "bench: run failed\n");
		exit(5);
	}
}

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: bench IN.bin OUT.bin COUNT WARMUP REPS\n");
		return 2;
	}
	long n = atol(argv[3]), warm = atol(argv[4]), reps = atol(argv[5]);
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
