/* The target table: --target names, LLVM triples, CPUs and features, and
   the runtime kernel file (isa) of each target. */
#include "codegen/lower.h"

#include <string.h>
#if defined(__linux__) && (defined(__aarch64__) || defined(__riscv))
#include <sys/auxv.h>
#endif

#define X86 "x86_64-unknown-linux-gnu"
#define ARM "aarch64-unknown-linux-gnu"
#define RV "riscv64-unknown-linux-gnu"
#define THUMB7 "thumbv7em-none-eabihf"
#define THUMB81 "thumbv8.1m.main-none-eabihf"
#define RV32 "riscv32-unknown-elf"

const Target targets[TG_COUNT] = {
	[TG_X86_64] = {TG_X86_64, "x86-64", X86, "x86-64", "", "ref", false},
	[TG_X86_64_AVX2] = {TG_X86_64_AVX2, "x86-64-avx2", X86, "haswell", "+avx2,+fma", "avx2", false},
	[TG_X86_64_AVX512] = {TG_X86_64_AVX512, "x86-64-avx512", X86, "x86-64-v4",
	                      "+avx512f,+avx512bw,+avx512vl,+avx512vnni", "avx512", false},
	[TG_AARCH64] = {TG_AARCH64, "aarch64", ARM, "generic", "+neon", "neon", false},
	[TG_AARCH64_DOTPROD] = {TG_AARCH64_DOTPROD, "aarch64-dotprod", ARM, "generic", "+neon,+dotprod", "dotprod", false},
	[TG_RISCV64] = {TG_RISCV64, "riscv64", RV, "generic-rv64", "+m,+a,+f,+d,+c", "ref", false},
	[TG_RISCV64_V] = {TG_RISCV64_V, "riscv64-v", RV, "generic-rv64", "+m,+a,+f,+d,+c,+v", "rvv", false},
	/* bare metal (docs/embedded.md): hard-float Cortex-M, soft-float RV32 */
	[TG_CORTEX_M4] = {TG_CORTEX_M4, "cortex-m4", THUMB7, "cortex-m4", "+dsp,+vfp4d16sp", "dsp", true},
	[TG_CORTEX_M7] = {TG_CORTEX_M7, "cortex-m7", THUMB7, "cortex-m7", "+dsp,+fp-armv8d16", "dsp", true},
	[TG_CORTEX_M55] = {TG_CORTEX_M55, "cortex-m55", THUMB81, "cortex-m55", "+dsp,+mve,+fp-armv8d16", "mve", true},
	[TG_RISCV32] = {TG_RISCV32, "riscv32", RV32, "generic-rv32", "+m,+c", "ref", true},
	[TG_RISCV32_IMAC] = {TG_RISCV32_IMAC, "riscv32-imac", RV32, "generic-rv32", "+m,+a,+c", "ref", true},
#if defined(__aarch64__)
	[TG_REF] = {TG_REF, "ref", ARM, "generic", "+neon", "ref", false},
#elif defined(__riscv)
	[TG_REF] = {TG_REF, "ref", RV, "generic-rv64", "+m,+a,+f,+d,+c", "ref", false},
#else
	[TG_REF] = {TG_REF, "ref", X86, "x86-64", "", "ref", false},
#endif
};

const Target *target_find(const char *name)
{
	for (int k = 0; k < TG_COUNT; k++)
		if (strcmp(targets[k].name, name) == 0)
			return &targets[k];
	return NULL;
}

const Target *target_host(void)
{
#if defined(__x86_64__)
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
	    __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni"))
		return &targets[TG_X86_64_AVX512];
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		return &targets[TG_X86_64_AVX2];
	return &targets[TG_X86_64];
#elif defined(__aarch64__) && defined(__linux__)
	/* HWCAP_ASIMDDP: the sdot/udot instructions */
	return getauxval(AT_HWCAP) & (1ul << 20) ? &targets[TG_AARCH64_DOTPROD] : &targets[TG_AARCH64];
#elif defined(__aarch64__)
	return &targets[TG_AARCH64];
#elif defined(__riscv) && defined(__linux__)
	/* one bit per single-letter extension: 'V' */
	return getauxval(AT_HWCAP) & (1ul << ('V' - 'A')) ? &targets[TG_RISCV64_V] : &targets[TG_RISCV64];
#elif defined(__riscv)
	return &targets[TG_RISCV64];
#else
	return &targets[TG_REF];
#endif
}
