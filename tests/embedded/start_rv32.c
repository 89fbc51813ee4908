/* Start-up code of the RV32 board (qemu-system-riscv32 -M virt -bios
   none, machine mode), linked with -nostartfiles in place of picolibc's
   crt0; picolibc stays for libc and semihosted stdio.  The symbols
   (__stack, __global_pointer$, __data_*, __bss_*, __tls_base, the init
   arrays) are those of picolibc.ld, under virt.ld's memory map.

   _start is placed first in flash (.text.init.enter), at 0x80000000
   where the core starts.  Any trap is unexpected in these programs (no
   interrupt is enabled), so the trap handler ends the program:
   semihosted exit with status 128 + the exception code of mcause
   (1 instruction access fault, 2 illegal instruction, ...), so a fault
   never leaves qemu spinning. */
#include <stdint.h>
#include <string.h>
#include "board.h"

typedef void (*handler)(void);

extern char __data_start[], __data_source[], __data_size[], __bss_start[], __bss_size[], __tls_base[];
extern handler __preinit_array_start[], __preinit_array_end[], __init_array_start[], __init_array_end[];
int main(void);
void _set_tls(void *tls); /* picolibc: sets tp, where its thread-local errno lives */
__attribute__((noreturn, used)) void start_c(void);
__attribute__((noreturn, used)) void start_exit(int status);

/* gp without linker relaxation (la gp, gp would be relaxed to mv gp, gp);
   mtvec (direct mode: the handler 4-byte aligned); the trap handler
   takes a fresh stack, the trapping one may be what failed.  gcc 12's
   -march=rv32imc has no zicsr: switched on here. */
__asm__(".section .text.init.enter, \"ax\"\n"
        ".globl _start\n"
        "_start:\n"
        ".option push\n.option norelax\n"
        "  la gp, __global_pointer$\n"
        ".option pop\n"
        "  la sp, __stack\n"
        "  la t0, start_trap\n"
        ".option push\n.option arch, +zicsr\n"
        "  csrw mtvec, t0\n"
        ".option pop\n"
        "  j start_c\n"
        ".balign 4\n"
        "start_trap:\n"
        "  la sp, __stack\n"
        ".option push\n.option arch, +zicsr\n"
        "  csrr a0, mcause\n"
        ".option pop\n"
        "  andi a0, a0, 0x3f\n"
        "  addi a0, a0, 128\n"
        "  j start_exit\n"
        ".text\n");

/* SYS_EXIT_EXTENDED: qemu exits with `status` (plain SYS_EXIT, on RV32,
   only tells success from failure) */
void start_exit(int status)
{
	uint32_t block[2] = {0x20026, (uint32_t)status}; /* ADP_Stopped_ApplicationExit */
	board_semihost(0x20, (long)block);
	for (;;)
		;
}

void start_c(void)
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
