/* The start-up code's exits (embedded.py): built with -DFAULT=K,
   K = 0: main returns 7, which must be qemu's exit status;
   K = 1: a call to an address that cannot be executed;
   K = 2: an undefined (ARM) or illegal (RISC-V) instruction.
   A fault must end qemu with status 128 + the exception number
   (start_cortexm.c, start_rv32.c), not leave it spinning. */
#include <stdint.h>
#include "board.h"

#ifndef FAULT
#error "fault.c: build with -DFAULT=0, 1 or 2"
#endif

int main(void)
{
#if FAULT == 1
#if defined(__arm__)
	/* the system region, execute-never in the architecture's default
	   memory map (on MPS2 qemu reads unmapped memory as zeros, which
	   would run as movs r0, r0); Thumb bit set */
	uintptr_t nowhere = 0xF0000001;
#else
	uintptr_t nowhere = 0x800; /* virt maps nothing below its boot ROM at 0x1000 */
#endif
	((void (*)(void))nowhere)();
#elif FAULT == 2
#if defined(__arm__)
	__asm__ volatile("udf #0");
#else
	__asm__ volatile(".word 0"); /* all-zero: illegal by definition */
#endif
#endif
	return 7;
}
