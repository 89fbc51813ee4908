/* What the example and benchmark drivers share: the model's symbols by
   prefix (the build defines Q8_MODEL_H, the header, and Q8_NAME, the
   prefix), its arena, a clock and a comparison for medians.  Each driver
   is one program: include this once, after the standard headers. */
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
