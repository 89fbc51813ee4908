/* What a test program needs from the board beyond its start-up code
   (start_cortexm.c, start_rv32.c: vector table or trap handler, FPU on,
   .data and .bss) and picolibc (libc, semihosted stdio): exit with a
   status qemu returns, and an instruction count.  Semihosting: ARM's BKPT 0xAB on
   M-profile, RISC-V's slli/ebreak/srai sequence (uncompressed). */
#ifndef BOARD_H
#define BOARD_H

#include <stdint.h>

static inline long board_semihost(long op, long arg)
{
#if defined(__arm__)
	register long r0 __asm__("r0") = op;
	register long r1 __asm__("r1") = arg;
	__asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
	return r0;
#elif defined(__riscv)
	register long a0 __asm__("a0") = op;
	register long a1 __asm__("a1") = arg;
	__asm__ volatile(".option push\n.option norvc\n.balign 16\n"
	                 "slli zero, zero, 0x1f\nebreak\nsrai zero, zero, 0x7\n.option pop"
	                 : "+r"(a0) : "r"(a1) : "memory");
	return a0;
#else
#error "board.h: ARM or RISC-V only"
#endif
}

/* SYS_EXIT: ADP_Stopped_ApplicationExit gives qemu status 0, anything else 1 */
static inline __attribute__((noreturn)) void board_exit(int ok)
{
	board_semihost(0x18, ok ? 0x20026 : 0x20024);
	for (;;)
		;
}

/* Instructions retired so far, exact when qemu runs with -icount shift=0.
   RISC-V: the instret counter (qemu counts instructions under -icount).
   Cortex-M: qemu models no cycle counter (DWT), but with -icount shift=0
   virtual time advances 1 ns per instruction, so the SysTick, clocked
   from the board's CPU clock (25 MHz on MPS2, 32 MHz on AN547), counts
   instructions in steps of 40 (31.25): board_insns_step says which. */
#if defined(__arm__)
#define SYST_CSR (*(volatile uint32_t *)0xE000E010)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018)
static inline void board_insns_start(void)
{
	SYST_RVR = 0xFFFFFF;
	SYST_CVR = 0;
	SYST_CSR = 5; /* enabled, CPU clock, no interrupt */
	while ((SYST_CVR & 0xFFFFFF) == 0) /* the first tick loads RVR */
		;
}
/* ticks since board_insns_start, or UINT64_MAX once the 24-bit counter wrapped */
static inline uint64_t board_ticks(void)
{
	uint32_t v = SYST_CVR & 0xFFFFFF;
	return SYST_CSR & (1u << 16) ? UINT64_MAX : 0xFFFFFF - v;
}
#elif defined(__riscv)
static inline void board_insns_start(void) {}
static inline uint64_t board_ticks(void)
{
	uint32_t hi, lo, hi2;
	do {
		/* -march=rv32imc has no zicsr for gcc 12's assembler: switch it on here */
		__asm__ volatile(".option push\n.option arch, +zicsr\ncsrr %0, minstreth\n.option pop" : "=r"(hi));
		__asm__ volatile(".option push\n.option arch, +zicsr\ncsrr %0, minstret\n.option pop" : "=r"(lo));
		__asm__ volatile(".option push\n.option arch, +zicsr\ncsrr %0, minstreth\n.option pop" : "=r"(hi2));
	} while (hi != hi2);
	return (uint64_t)hi << 32 | lo;
}
#endif

#endif
