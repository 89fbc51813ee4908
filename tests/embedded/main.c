/* The embedded test program (tests/scripts/embedded.py): model "m"
   compiled by q8c for the board's target, run under qemu-system with
   semihosting.  Reads x.bin (float inputs, m_INPUT0_SIZE per sample),
   writes y.bin (the floats of m_run) and yq.bin (the int8 outputs of
   m_run_int8 on the input quantized as the header says), and prints,
   for the first sample, the instruction-counter ticks and the stack
   bytes that m_run_int8 took (the stack below it is painted first). */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "board.h"
#include "m.h"

static _Alignas(64) unsigned char arena[m_ARENA_SIZE];
static float in[m_INPUT0_SIZE], out[m_OUTPUT0_SIZE];
#ifdef m_INPUT0_SCALE /* else no m_run_int8: an int16 input or output (docs/generated-code.md) */
static int8_t xq[m_INPUT0_SIZE], yq[m_OUTPUT0_SIZE];

#define PAINT 0x5eadbeefu
#define DEPTH (48 * 1024) /* bytes painted below the caller's frame */

/* paint [sp - DEPTH, sp - 64) (sp of this call), run, find the lowest
   word written; the result is measured from the caller's sp */
static __attribute__((noinline)) uint32_t stack_used(const int8_t *const *qi, int8_t *const *qo,
                                                     uint64_t *ticks)
{
	volatile uint32_t probe;
	uintptr_t sp = (uintptr_t)&probe;
	volatile uint32_t *lo = (volatile uint32_t *)((sp - DEPTH) & ~(uintptr_t)3);
	volatile uint32_t *hi = (volatile uint32_t *)((sp - 64) & ~(uintptr_t)3);
	for (volatile uint32_t *q = lo; q < hi; q++)
		*q = PAINT;
	board_insns_start();
	uint64_t t0 = board_ticks();
	m_run_int8(qi, qo, arena);
	uint64_t t1 = board_ticks();
	*ticks = t1 == UINT64_MAX ? UINT64_MAX : t1 - t0;
	volatile uint32_t *q = lo;
	while (q < hi && *q == PAINT)
		q++;
	return q == lo ? UINT32_MAX : (uint32_t)(sp - (uintptr_t)q);
}
#endif

int main(void)
{
	FILE *fi = fopen("x.bin", "rb"), *fo = fopen("y.bin", "wb"), *fq = fopen("yq.bin", "wb");
	if (!fi || !fo || !fq) {
		printf("cannot open x.bin, y.bin or yq.bin\n");
		board_exit(0);
	}
	for (int n = 0; fread(in, sizeof(float), m_INPUT0_SIZE, fi) == m_INPUT0_SIZE; n++) {
		const float *ins[1] = {in};
		float *outs[1] = {out};
		memset(arena, 0xa5 ^ n, sizeof arena);
		if (m_run(ins, outs, arena) != 0)
			board_exit(0);
		fwrite(out, sizeof(float), m_OUTPUT0_SIZE, fo);
#ifdef m_INPUT0_SCALE
		for (long k = 0; k < m_INPUT0_SIZE; k++) {
			float r = nearbyintf(in[k] / m_INPUT0_SCALE);
			long v = lrintf(r < -1000 ? -1000 : r > 1000 ? 1000 : r) + m_INPUT0_ZERO_POINT;
			xq[k] = (int8_t)(v < -128 ? -128 : v > 127 ? 127 : v);
		}
		const int8_t *qi[1] = {xq};
		int8_t *qo[1] = {yq};
		memset(arena, 0x5a ^ n, sizeof arena);
		if (n == 0) {
			uint64_t ticks;
			uint32_t st = stack_used(qi, qo, &ticks);
			printf("stack %lu ticks %llu\n", (unsigned long)st, (unsigned long long)ticks);
		} else {
			m_run_int8(qi, qo, arena);
		}
		fwrite(yq, 1, m_OUTPUT0_SIZE, fq);
#endif
	}
	fclose(fo);
	fclose(fq);
	board_exit(1);
	return 0;
}
