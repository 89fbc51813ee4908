/* Runs a compiled model (NAME.h, defined as Q8_MODEL_H by the build):
       driver IN.bin OUT.bin COUNT [TIMING_REPS]
   reads COUNT float samples, writes COUNT float outputs, then (when
   TIMING_REPS > 0) times NAME_run over the samples and prints the median
   microseconds per inference of 7 rounds.  Built with -DQ8_TIME_INT8 it
   times NAME_run_int8 instead (the kernels alone, no float quantize or
   dequantize), on the first sample quantized. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "driver.h"

int main(int argc, char **argv)
{
	if (argc < 4)
		return 2;
	long n = atol(argv[3]), reps = argc > 4 ? atol(argv[4]) : 0;
	FILE *fi = fopen(argv[1], "rb"), *fo = fopen(argv[2], "wb");
	if (!fi || !fo)
		return 3;
	float *in = malloc(sizeof(float) * M(_INPUT0_SIZE) * n);
	float *out = malloc(sizeof(float) * M(_OUTPUT0_SIZE) * n);
	if (fread(in, sizeof(float) * M(_INPUT0_SIZE), n, fi) != (size_t)n)
		return 4;
	for (long i = 0; i < n; i++) {
		const float *ins[1] = {in + i * M(_INPUT0_SIZE)};
		float *outs[1] = {out + i * M(_OUTPUT0_SIZE)};
		if (M(_run)(ins, outs, arena) != 0)
			return 5;
	}
	fwrite(out, sizeof(float) * M(_OUTPUT0_SIZE), n, fo);
	fclose(fo);
	if (reps > 0) {
#ifdef Q8_TIME_INT8
		static int8_t in8[M(_INPUT0_SIZE)], out8[M(_OUTPUT0_SIZE)];
		for (long i = 0; i < M(_INPUT0_SIZE); i++) {
			float q = nearbyintf(in[i] / M(_INPUT0_SCALE)) + M(_INPUT0_ZERO_POINT);
			in8[i] = (int8_t)(q < -128 ? -128 : q > 127 ? 127 : q);
		}
		const int8_t *ins8[1] = {in8};
		int8_t *outs8[1] = {out8};
#endif
		double t[7];
		for (int r = 0; r < 7; r++) {
			double t0 = now_us();
			for (long k = 0; k < reps; k++) {
#ifdef Q8_TIME_INT8
				M(_run_int8)(ins8, outs8, arena);
#else
				const float *ins[1] = {in + (k % n) * M(_INPUT0_SIZE)};
				float *outs[1] = {out};
				M(_run)(ins, outs, arena);
#endif
			}
			t[r] = (now_us() - t0) / reps;
		}
		qsort(t, 7, sizeof t[0], cmp);
		printf("%.3f\n", t[3]);
	}
	return 0;
}
