/* The footprint of a bare-metal model (docs/embedded.md), from the
   object LLVM built for the target:
   - flash: the bytes of its allocated read-only sections (code, then
     constants: weights, biases, multipliers, params) and of .data;
   - RAM: the caller's arena, .data and .bss (none: the generated code
     has no mutable static data), and the worst-case stack of
     NAME_run_int8.
   The stack bound: codegen reports each function's frame (the
   "warn-stack-size" attribute at 0 makes LLVM's prologue pass report
   every non-empty frame through the diagnostic handler, which
   emit_llvm forwards to footprint_frame); the optimized module gives
   the call graph; the bound is the deepest path from NAME_run_int8,
   plus FP_LIBCALL bytes for a library routine at its end (memcpy,
   memset, a 64-bit division of libgcc) when the path calls one.
   An indirect call or recursion makes the bound unknown (-1). */
#include "codegen/lower.h"

#include <llvm-c/Core.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

static struct {
	const char *name;
	int64_t bytes;
} frames[4096];
static int nframes;

void footprint_frame(const char *fn, int64_t bytes)
{
	if (nframes == (int)(sizeof frames / sizeof frames[0]))
		die("footprint: more than %d functions", nframes);
	frames[nframes].name = xstrdup(fn);
	frames[nframes++].bytes = bytes;
}

static int64_t frame_of(const char *fn)
{
	for (int i = 0; i < nframes; i++)
		if (strcmp(frames[i].name, fn) == 0)
			return frames[i].bytes;
	return 0; /* no report: an empty frame */
}

/* deepest stack from f; depth guards against recursion */
static int64_t deepest(LLVMValueRef f, int depth)
{
	if (depth > 64)
		return -1;
	int64_t worst = 0;
	for (LLVMBasicBlockRef bb = LLVMGetFirstBasicBlock(f); bb; bb = LLVMGetNextBasicBlock(bb))
		for (LLVMValueRef i = LLVMGetFirstInstruction(bb); i; i = LLVMGetNextInstruction(i)) {
			if (!LLVMIsACallInst(i))
				continue;
			LLVMValueRef c = LLVMGetCalledValue(i);
			if (!LLVMIsAFunction(c))
				return -1;
			int64_t d;
			if (LLVMIsDeclaration(c)) {
				/* memcpy/memset intrinsics and other intrinsics that may
				   become calls, and external functions alike */
				const char *n = LLVMGetValueName(c);
				bool inline_op = LLVMGetIntrinsicID(c) != 0 && strncmp(n, "llvm.mem", 8) != 0;
				d = inline_op ? 0 : FP_LIBCALL;
			} else {
				d = deepest(c, depth + 1);
				if (d < 0)
					return -1;
			}
			worst = d > worst ? d : worst;
		}
	/* codegen may call libgcc (64-bit division) from any function */
	if (worst < FP_LIBCALL)
		worst = FP_LIBCALL;
	return frame_of(LLVMGetValueName(f)) + worst;
}

void footprint_calls(void *module, const char *entry, Footprint *fp)
{
	LLVMValueRef f = LLVMGetNamedFunction((LLVMModuleRef)module, entry);
	if (!f)
		die("footprint: no function %s", entry);
	fp->stack = deepest(f, 0);
	nframes = 0;
}

static uint32_t rd32(const unsigned char *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint16_t rd16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }

/* Section sizes of a little-endian ELF32 relocatable object. */
void footprint_object(const char *obj, int64_t arena, Footprint *fp)
{
	FILE *f = fopen(obj, "rb");
	if (!f)
		die("footprint: %s: %s", obj, strerror(errno));
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	unsigned char *b = alloc_array(n > 0 ? n : 1, 1);
	rewind(f);
	if (n <= 52 || fread(b, 1, (size_t)n, f) != (size_t)n)
		die("footprint: %s: cannot read", obj);
	fclose(f);
	if (memcmp(b, "\177ELF", 4) || b[4] != 1 || b[5] != 1)
		die("footprint: %s is not a little-endian ELF32 object", obj);
	uint32_t shoff = rd32(b + 32);
	uint16_t shentsize = rd16(b + 46), shnum = rd16(b + 48);
	if (shentsize < 40 || (int64_t)shoff + (int64_t)shnum * shentsize > n)
		die("footprint: %s: bad section table", obj);
	fp->code = fp->consts = fp->data = fp->bss = 0;
	for (int i = 0; i < shnum; i++) {
		const unsigned char *s = b + shoff + (size_t)i * shentsize;
		uint32_t type = rd32(s + 4), flags = rd32(s + 8), size = rd32(s + 20);
		if (!(flags & 2)) /* SHF_ALLOC */
			continue;
		if (type == 8) /* SHT_NOBITS */
			fp->bss += size;
		else if (flags & 4) /* SHF_EXECINSTR */
			fp->code += size;
		else if (flags & 1) /* SHF_WRITE */
			fp->data += size;
		else
			fp->consts += size;
	}
	fp->flash = fp->code + fp->consts + fp->data;
	fp->ram = fp->stack < 0 ? -1 : arena + fp->stack + fp->data + fp->bss;
	fp->done = true;
}
