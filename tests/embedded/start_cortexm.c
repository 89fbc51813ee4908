/* Start-up code of the Cortex-M boards (mps2-an386 M4, mps2-an500 M7,
   mps3-an547 M55), linked with -nostartfiles in place of picolibc's
   crt0; picolibc stays for libc and semihosted stdio.  The symbols
   (__stack, __data_*, __bss_*, __tls_base, the init arrays) are those
   of picolibc.ld, under the board's memory map (mps2.ld, an547.ld).

   The core reset loads SP from word 0 of the vector table and jumps to
   word 1.  Every other exception is unexpected in these programs (no
   interrupt is enabled; SysTick runs without one), so all of them end
   the program: semihosted exit with status 128 + the exception number
   (HardFault 3; MemManage, BusFault and UsageFault escalate to it as
   they are not enabled), so a fault never leaves qemu spinning. */
#include <stdint.h>
#include <string.h>
#include "board.h"

typedef void (*handler)(void);

extern uint32_t __stack[];
extern char __data_start[], __data_source[], __data_size[], __bss_start[], __bss_size[], __tls_base[];
extern handler __preinit_array_start[], __preinit_array_end[], __init_array_start[], __init_array_end[];
int main(void);
void _set_tls(void *tls); /* picolibc: where its thread-local errno lives */
void Reset_Handler(void);
void _start(void) __attribute__((alias("Reset_Handler"))); /* picolibc.ld's ENTRY */
void Fault_Handler(void);
__attribute__((noreturn, used)) void start_exit(int status);

/* SYS_EXIT_EXTENDED: qemu exits with `status` (plain SYS_EXIT, on A32/T32,
   only tells success from failure) */
void start_exit(int status)
{
	uint32_t block[2] = {0x20026, (uint32_t)status}; /* ADP_Stopped_ApplicationExit */
	board_semihost(0x20, (long)block);
	for (;;)
		;
}

/* On a fresh stack (the faulting one may be what failed), then
   start_exit(128 + IPSR). */
__attribute__((naked)) void Fault_Handler(void)
{
	__asm__ volatile("movw r1, #:lower16:__stack\n"
	                 "movt r1, #:upper16:__stack\n"
	                 "mov sp, r1\n"
	                 "mrs r0, ipsr\n"
	                 "adds r0, r0, #128\n"
	                 "b start_exit\n");
}

/* 16 system exceptions; no external interrupt is ever enabled */
__attribute__((section(".text.init.enter"), used)) const handler start_vectors[16] = {
	(handler)__stack, Reset_Handler, Fault_Handler, Fault_Handler, /* SP, reset, NMI, HardFault */
	Fault_Handler, Fault_Handler, Fault_Handler, Fault_Handler,    /* MemManage, BusFault, Usage, Secure */
	Fault_Handler, Fault_Handler, Fault_Handler, Fault_Handler,    /* reserved x3, SVCall */
	Fault_Handler, Fault_Handler, Fault_Handler, Fault_Handler,    /* DebugMon, reserved, PendSV, SysTick */
};

/* everything after the FPU is on: gcc may use FP or MVE registers here */
static __attribute__((noinline, noreturn)) void start_c(void)
{
	memcpy(__data_start, __data_source, (size_t)__data_size); /* .data and .tdata: flash to RAM */
	memset(__bss_start, 0, (size_t)__bss_size);               /* .tbss and .bss */
	_set_tls(__tls_base);
	for (handler *f = __preinit_array_start; f < __preinit_array_end; f++)
		(*f)();
	for (handler *f = __init_array_start; f < __init_array_end; f++)
		(*f)();
	start_exit(main());
}

void Reset_Handler(void)
{
#if defined(__ARM_FP) || defined(__ARM_FEATURE_MVE)
	/* CPACR: full access to CP10 and CP11, the FPU and (M55) MVE */
	*(volatile uint32_t *)0xE000ED88 |= 0xFu << 20;
	__asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
	start_c();
}
