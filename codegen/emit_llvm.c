/* The LLVM emitter: builds the lowered program (codegen/lower.h) as an
   LLVM module through the C API, links in the target's kernels (the
   runtime compiled to bitcode at build time, codegen/bitcode.cmake),
   internalizes everything but the entry points, verifies, runs the O3
   pipeline and writes NAME.ll and NAME.o.  The module mirrors the C
   emitter's output: one constant q8_params per step, the blobs as
   private constants, and NAME_run / NAME_run_int8 calling the kernels
   in order (docs/llvm.md). */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <llvm-c/Analysis.h>
#include <llvm-c/BitReader.h>
#include <llvm-c/Core.h>
#include <llvm-c/ErrorHandling.h>
#include <llvm-c/Linker.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include <llvm-c/Transforms/PassBuilder.h>

#include "codegen/lower.h"

/* codegen/bitcode.cmake generates the table */
extern const struct q8_bitcode {
	const char *target;
	const unsigned char *data;
	size_t len;
} q8_bitcode[];

/* Test hook (tests/unit/test_emit_llvm.c): when set, the module gets a
   function without a terminator, so that the verifier must reject it. */
int emit_llvm_break_module;

typedef struct {
	const Prog *p;
	LLVMContextRef cx;
	LLVMModuleRef m;
	LLVMBuilderRef b;
	LLVMTypeRef i8, i32, i64, f32, ptr, params, kfn;
	LLVMValueRef *blobs;   /* one global per blob */
	LLVMValueRef *pglob;   /* one q8_params constant per step */
	LLVMValueRef *kernels; /* the declaration each step calls */
	LLVMValueRef kdef;     /* a kernel definition, for its target attributes */
} Ctx;

static void quiet_stderr(bool on);

static void on_fatal(const char *reason)
{
	quiet_stderr(false);
	die("LLVM: %s", reason);
}

/* While measuring a footprint, the frame sizes that "warn-stack-size"
   makes codegen report: "stack frame size (N) exceeds limit (0) in
   function 'F'" */
static bool measuring;

/* While measuring, stderr goes to /dev/null: LLVM 16 follows each frame
   report with a line of its own on stderr ("N/M spills, ...").  Errors
   restore it first. */
static int saved_stderr = -1;

static void quiet_stderr(bool on)
{
	fflush(stderr);
	if (on && saved_stderr < 0) {
		int null = open("/dev/null", O_WRONLY);
		saved_stderr = dup(2);
		if (null >= 0 && saved_stderr >= 0)
			dup2(null, 2);
		if (null >= 0)
			close(null);
	} else if (!on && saved_stderr >= 0) {
		dup2(saved_stderr, 2);
		close(saved_stderr);
		saved_stderr = -1;
	}
}

static bool frame_report(const char *msg)
{
	const char *a = strstr(msg, "stack frame size ("), *q = strstr(msg, "in function '");
	if (!measuring || !a || !q)
		return false;
	long long n = strtoll(a + 18, NULL, 10);
	const char *e = strchr(q + 13, '\'');
	if (!e)
		return false;
	footprint_frame(xstrndup(q + 13, (size_t)(e - q - 13)), n);
	return true;
}

/* Link errors arrive here; warnings are shown, remarks dropped. */
static void on_diag(LLVMDiagnosticInfoRef di, void *arg)
{
	(void)arg;
	LLVMDiagnosticSeverity sev = LLVMGetDiagInfoSeverity(di);
	if (sev != LLVMDSError && sev != LLVMDSWarning)
		return;
	char *msg = LLVMGetDiagInfoDescription(di);
	if (sev == LLVMDSWarning && frame_report(msg)) {
		LLVMDisposeMessage(msg);
		return;
	}
	quiet_stderr(false);
	if (sev == LLVMDSError)
		die("LLVM: %s", msg);
	fprintf(stderr, "q8c: warning: LLVM: %s\n", msg);
	LLVMDisposeMessage(msg);
}

static void init_llvm(void)
{
	static bool done;
	if (done)
		return;
	done = true;
	LLVMInstallFatalErrorHandler(on_fatal);
	LLVMInitializeX86TargetInfo();
	LLVMInitializeX86Target();
	LLVMInitializeX86TargetMC();
	LLVMInitializeX86AsmPrinter();
	LLVMInitializeAArch64TargetInfo();
	LLVMInitializeAArch64Target();
	LLVMInitializeAArch64TargetMC();
	LLVMInitializeAArch64AsmPrinter();
	LLVMInitializeRISCVTargetInfo();
	LLVMInitializeRISCVTarget();
	LLVMInitializeRISCVTargetMC();
	LLVMInitializeRISCVAsmPrinter();
	LLVMInitializeARMTargetInfo();
	LLVMInitializeARMTarget();
	LLVMInitializeARMTargetMC();
	LLVMInitializeARMAsmPrinter();
	LLVMInitializeARMAsmParser(); /* arm_mve.h has inline asm */
}

/* LLVM messages are malloc'ed by LLVM: copy into our arena, free theirs */
static char *take(char *msg)
{
	char *s = xstrdup(msg ? msg : "(no message)");
	if (msg)
		LLVMDisposeMessage(msg);
	return s;
}

/* The interpreter's target has no bitcode of its own: it runs the
   portable kernels, as the host's baseline target does. */
static const char *bitcode_name(const Target *t)
{
	if (t->kind != TG_REF)
		return t->name;
#if defined(__aarch64__)
	return "aarch64";
#elif defined(__riscv)
	return "riscv64";
#else
	return "x86-64";
#endif
}

static LLVMModuleRef load_kernels(LLVMContextRef cx, const Target *t)
{
	const char *name = bitcode_name(t);
	const struct q8_bitcode *bc = q8_bitcode;
	while (bc->target && strcmp(bc->target, name) != 0)
		bc++;
	if (!bc->target)
		die("no kernel bitcode for target %s", name);
	LLVMMemoryBufferRef buf = LLVMCreateMemoryBufferWithMemoryRange(
		(const char *)bc->data, bc->len, name, 0);
	LLVMModuleRef k;
	if (LLVMParseBitcodeInContext2(cx, buf, &k))
		die("the kernel bitcode of %s does not parse", name);
	LLVMDisposeMemoryBuffer(buf);
	return k;
}

static LLVMTargetMachineRef target_machine(const Target *t)
{
	LLVMTargetRef tg;
	char *err = NULL;
	if (LLVMGetTargetFromTriple(t->triple, &tg, &err))
		die("LLVM target %s (%s): %s", t->name, t->triple, take(err));
	LLVMTargetMachineRef tm = LLVMCreateTargetMachine(tg, t->triple,
		t->cpu ? t->cpu : "", t->features ? t->features : "",
		LLVMCodeGenLevelAggressive, t->bare ? LLVMRelocStatic : LLVMRelocPIC,
		LLVMCodeModelDefault);
	if (!tm)
		die("LLVM cannot make a target machine for %s", t->name);
	return tm;
}

/* A blob as bytes: every target is little-endian like the host, so the
   bytes are the values; a typed array only where it reads better. */
static LLVMValueRef blob_global(Ctx *c, const Blob *bl)
{
	size_t sz = dtype_size(bl->dt);
	int64_t nbytes = bl->n * (int64_t)sz;
	if (bl->n < 0 || (nbytes > 0 && !bl->data) || nbytes > (int64_t)UINT32_MAX)
		die("blob %s: bad size %lld", bl->name, (long long)bl->n);
	LLVMValueRef init;
	if ((bl->dt == DT_I32 || bl->dt == DT_F32) && bl->n <= 1024) {
		LLVMTypeRef et = bl->dt == DT_I32 ? c->i32 : c->f32;
		LLVMValueRef *el = alloc_array((size_t)bl->n + 1, sizeof *el);
		for (int64_t i = 0; i < bl->n; i++) {
			if (bl->dt == DT_I32)
				el[i] = LLVMConstInt(et, (uint32_t)((const int32_t *)bl->data)[i], 0);
			else
				el[i] = LLVMConstReal(et, ((const float *)bl->data)[i]);
		}
		init = LLVMConstArray(et, el, (unsigned)bl->n);
	} else {
		init = LLVMConstStringInContext(c->cx, nbytes ? (const char *)bl->data : "",
		                                (unsigned)nbytes, 1);
	}
	LLVMValueRef g = LLVMAddGlobal(c->m, LLVMTypeOf(init), bl->name ? bl->name : "blob");
	LLVMSetInitializer(g, init);
	LLVMSetGlobalConstant(g, 1);
	LLVMSetLinkage(g, LLVMPrivateLinkage);
	LLVMSetUnnamedAddress(g, LLVMGlobalUnnamedAddr);
	LLVMSetAlignment(g, 64);
	return g;
}

/* struct q8_params { int32_t i[Q8_NI]; float f[Q8_NF]; const void *p[Q8_NP]; } */
static LLVMValueRef params_global(Ctx *c, int k)
{
	const Step *s = &c->p->steps[k];
	LLVMValueRef vi[Q8_NI], vf[Q8_NF], vp[Q8_NP];
	for (int j = 0; j < Q8_NI; j++)
		vi[j] = LLVMConstInt(c->i32, (uint32_t)s->p.i[j], 0);
	for (int j = 0; j < Q8_NF; j++)
		vf[j] = LLVMConstReal(c->f32, s->p.f[j]);
	for (int j = 0; j < Q8_NP; j++) {
		int bi = s->pblob[j];
		if (bi >= c->p->nblobs || bi < -1)
			die("step %d (%s): blob %d out of range", k, s->kernel, bi);
		vp[j] = bi >= 0 ? c->blobs[bi] : LLVMConstNull(c->ptr);
	}
	LLVMValueRef f[3] = {
		LLVMConstArray(c->i32, vi, Q8_NI),
		LLVMConstArray(c->f32, vf, Q8_NF),
		LLVMConstArray(c->ptr, vp, Q8_NP),
	};
	LLVMValueRef g = LLVMAddGlobal(c->m, c->params, fmt("p%d", k));
	LLVMSetInitializer(g, LLVMConstNamedStruct(c->params, f, 3));
	LLVMSetGlobalConstant(g, 1);
	LLVMSetLinkage(g, LLVMPrivateLinkage);
	LLVMSetUnnamedAddress(g, LLVMGlobalUnnamedAddr);
	LLVMSetAlignment(g, 8);
	return g;
}

/* Declares q8k_KERNEL (defined by the kernel module linked in later),
   after checking that the kernel module has it with our signature. */
static LLVMValueRef kernel_decl(Ctx *c, LLVMModuleRef kmod, const char *kernel)
{
	char *name = fmt("q8k_%s", kernel);
	LLVMValueRef f = LLVMGetNamedFunction(c->m, name);
	if (f)
		return f;
	LLVMValueRef def = LLVMGetNamedFunction(kmod, name);
	if (!def || LLVMIsDeclaration(def))
		die("kernel %s is not in the %s runtime", name, bitcode_name(c->p->target));
	LLVMTypeRef ft = LLVMGlobalGetValueType(def);
	if (LLVMGetReturnType(ft) != LLVMVoidTypeInContext(c->cx) || LLVMCountParamTypes(ft) != 4)
		die("kernel %s: not void(const q8_params *, const void *, const void *, void *)", name);
	f = LLVMAddFunction(c->m, name, c->kfn);
	return f;
}

static LLVMValueRef arena_at(Ctx *c, LLVMValueRef arena, int64_t off)
{
	if (off < 0 || off >= c->p->arena_size)
		die("arena offset %lld outside the arena (%lld bytes)",
		    (long long)off, (long long)c->p->arena_size);
	LLVMValueRef o = LLVMConstInt(c->i64, (uint64_t)off, 0);
	return LLVMBuildInBoundsGEP2(c->b, c->i8, arena, &o, 1, "");
}

/* inputs[idx] / outputs[idx] of the entry point */
static LLVMValueRef io_ptr(Ctx *c, LLVMValueRef arr, int idx, int n, const char *what)
{
	if (idx < 0 || idx >= n)
		die("%s %d out of range (%d)", what, idx, n);
	LLVMValueRef o = LLVMConstInt(c->i64, (uint64_t)idx, 0);
	LLVMValueRef slot = LLVMBuildInBoundsGEP2(c->b, c->ptr, arr, &o, 1, "");
	return LLVMBuildLoad2(c->b, c->ptr, slot, fmt("%s%d", what, idx));
}

static LLVMValueRef arg_value(Ctx *c, const Arg *a, LLVMValueRef fn, bool in_body)
{
	LLVMValueRef in = LLVMGetParam(fn, 0), out = LLVMGetParam(fn, 1), arena = LLVMGetParam(fn, 2);
	switch (a->kind) {
	case ARG_NONE:
		return LLVMConstNull(c->ptr);
	case ARG_ARENA:
		return arena_at(c, arena, a->off);
	case ARG_BLOB:
		if (a->idx < 0 || a->idx >= c->p->nblobs)
			die("operand blob %d out of range", a->idx);
		return c->blobs[a->idx];
	case ARG_INPUT:
	case ARG_OUTPUT:
		/* the int8 body lives in the arena: NAME_run_int8 runs it alone */
		if (in_body)
			die("the int8 body reads a float %s", a->kind == ARG_INPUT ? "input" : "output");
		if (a->kind == ARG_INPUT)
			return io_ptr(c, in, a->idx, c->p->nin, "in");
		return io_ptr(c, out, a->idx, c->p->nout, "out");
	}
	die("bad operand kind %d", (int)a->kind);
}

static void call_steps(Ctx *c, LLVMValueRef fn, int from, int to, bool in_body)
{
	for (int k = from; k < to; k++) {
		const Step *s = &c->p->steps[k];
		LLVMValueRef args[4] = {
			c->pglob[k],
			arg_value(c, &s->a, fn, in_body),
			arg_value(c, &s->b, fn, in_body),
			arg_value(c, &s->y, fn, in_body),
		};
		LLVMBuildCall2(c->b, c->kfn, c->kernels[k], args, 4, "");
	}
}

/* The entry points get the kernels' target-cpu and target-features (as
   clang set them for the bitcode), so that the inliner may inline them. */
static void copy_target_attrs(LLVMValueRef fn, LLVMValueRef from)
{
	static const char *keys[] = {"target-cpu", "target-features"};
	for (int i = 0; i < 2; i++) {
		LLVMAttributeRef a = LLVMGetStringAttributeAtIndex(from,
			LLVMAttributeFunctionIndex, keys[i], (unsigned)strlen(keys[i]));
		if (a)
			LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex, a);
	}
}

/* int NAME(const T *const inputs[], T *const outputs[], void *arena) */
static LLVMValueRef entry(Ctx *c, const char *name)
{
	LLVMTypeRef ps[3] = {c->ptr, c->ptr, c->ptr};
	LLVMValueRef fn = LLVMAddFunction(c->m, name, LLVMFunctionType(c->i32, ps, 3, 0));
	LLVMSetValueName2(LLVMGetParam(fn, 0), "inputs", 6);
	LLVMSetValueName2(LLVMGetParam(fn, 1), "outputs", 7);
	LLVMSetValueName2(LLVMGetParam(fn, 2), "arena", 5);
	unsigned nounwind = LLVMGetEnumAttributeKindForName("nounwind", 8);
	LLVMAddAttributeAtIndex(fn, LLVMAttributeFunctionIndex,
		LLVMCreateEnumAttribute(c->cx, nounwind, 0));
	if (c->kdef)
		copy_target_attrs(fn, c->kdef);
	LLVMPositionBuilderAtEnd(c->b, LLVMAppendBasicBlockInContext(c->cx, fn, "entry"));
	return fn;
}

static void build_run(Ctx *c)
{
	const Prog *p = c->p;
	LLVMValueRef fn = entry(c, fmt("%s_run", p->name));
	if (p->is_float) {
		call_steps(c, fn, 0, p->nsteps, false);
	} else {
		/* quantize the inputs, the int8 body, dequantize (and any float tail) */
		call_steps(c, fn, 0, p->body_begin, false);
		call_steps(c, fn, p->body_begin, p->body_end, true);
		call_steps(c, fn, p->body_end, p->nsteps, false);
	}
	LLVMBuildRet(c->b, LLVMConstInt(c->i32, 0, 0));
}

/* copies the int8 inputs into the arena, runs the body, copies out */
static void build_run_int8(Ctx *c)
{
	const Prog *p = c->p;
	LLVMValueRef fn = entry(c, fmt("%s_run_int8", p->name));
	LLVMValueRef in = LLVMGetParam(fn, 0), out = LLVMGetParam(fn, 1), arena = LLVMGetParam(fn, 2);
	for (int k = 0; k < p->nin; k++) {
		const IoBuf *q = &p->in_q[k];
		LLVMValueRef dst = arena_at(c, arena, q->off);
		LLVMBuildMemCpy(c->b, dst, 1, io_ptr(c, in, k, p->nin, "in"), 1,
			LLVMConstInt(c->i64, (uint64_t)q->bytes, 0));
	}
	call_steps(c, fn, p->body_begin, p->body_end, true);
	for (int k = 0; k < p->nout; k++) {
		const IoBuf *q = &p->out_q[k];
		LLVMValueRef src = arena_at(c, arena, q->off);
		LLVMBuildMemCpy(c->b, io_ptr(c, out, k, p->nout, "out"), 1, src, 1,
			LLVMConstInt(c->i64, (uint64_t)q->bytes, 0));
	}
	LLVMBuildRet(c->b, LLVMConstInt(c->i32, 0, 0));
}

/* int NAME_run_parallel(inputs, outputs, arena, parallel_for, ctx): every
   step, those with tasks through the runtime's q8_par (runtime/par.h) */
static void build_run_parallel(Ctx *c, LLVMModuleRef kmod)
{
	const Prog *p = c->p;
	LLVMValueRef def = LLVMGetNamedFunction(kmod, "q8_par");
	if (!def || LLVMIsDeclaration(def))
		die("q8_par is not in the %s runtime", bitcode_name(p->target));
	LLVMTypeRef pt = LLVMGlobalGetValueType(def);
	LLVMValueRef par = LLVMGetNamedFunction(c->m, "q8_par");
	if (!par)
		par = LLVMAddFunction(c->m, "q8_par", pt);
	LLVMTypeRef ps[5] = {c->ptr, c->ptr, c->ptr, c->ptr, c->ptr};
	LLVMValueRef fn = LLVMAddFunction(c->m, fmt("%s_run_parallel", p->name), LLVMFunctionType(c->i32, ps, 5, 0));
	const char *names[5] = {"inputs", "outputs", "arena", "parallel_for", "ctx"};
	for (int i = 0; i < 5; i++)
		LLVMSetValueName2(LLVMGetParam(fn, (unsigned)i), names[i], strlen(names[i]));
	if (c->kdef)
		copy_target_attrs(fn, c->kdef);
	LLVMPositionBuilderAtEnd(c->b, LLVMAppendBasicBlockInContext(c->cx, fn, "entry"));
	for (int k = 0; k < p->nsteps; k++) {
		const Step *s = &p->steps[k];
		LLVMValueRef a = arg_value(c, &s->a, fn, false), b = arg_value(c, &s->b, fn, false),
			     y = arg_value(c, &s->y, fn, false);
		if (s->ntasks > 1) {
			LLVMValueRef args[9] = {
				c->pglob[k], c->kernels[k], a, b, y,
				LLVMConstInt(c->i32, (uint64_t)s->split, 0), LLVMConstInt(c->i32, (uint64_t)s->ntasks, 0),
				LLVMGetParam(fn, 3), LLVMGetParam(fn, 4),
			};
			LLVMBuildCall2(c->b, pt, par, args, 9, "");
		} else {
			LLVMValueRef args[4] = {c->pglob[k], a, b, y};
			LLVMBuildCall2(c->b, c->kfn, c->kernels[k], args, 4, "");
		}
	}
	LLVMBuildRet(c->b, LLVMConstInt(c->i32, 0, 0));
}

static void check_prog(const Prog *p)
{
	if (!p->name || !p->target || p->nsteps < 0 || p->nblobs < 0 || p->nin < 0 || p->nout < 0)
		die("emit_llvm: malformed program");
	if (!p->is_float && (p->body_begin < 0 || p->body_begin > p->body_end ||
	                     p->body_end > p->nsteps || !p->in_q || !p->out_q))
		die("emit_llvm: bad int8 body [%d, %d) of %d steps",
		    p->body_begin, p->body_end, p->nsteps);
	for (int k = 0; k < p->nin; k++)
		if (!p->is_float && (p->in_q[k].off < 0 || p->in_q[k].bytes < 0 ||
		                     p->in_q[k].off + p->in_q[k].bytes > p->arena_size))
			die("emit_llvm: int8 input %d outside the arena", k);
	for (int k = 0; k < p->nout; k++)
		if (!p->is_float && (p->out_q[k].off < 0 || p->out_q[k].bytes < 0 ||
		                     p->out_q[k].off + p->out_q[k].bytes > p->arena_size))
			die("emit_llvm: int8 output %d outside the arena", k);
}

/* Everything the kernel module brought in becomes internal, so that two
   models (each with its own copy of the kernels) link into one program,
   and the optimizer may inline and specialize every kernel call. */
static void internalize(LLVMModuleRef m, const char *keep1, const char *keep2, const char *keep3)
{
	for (LLVMValueRef f = LLVMGetFirstFunction(m); f; f = LLVMGetNextFunction(f)) {
		size_t n;
		const char *name = LLVMGetValueName2(f, &n);
		if (LLVMIsDeclaration(f) || !strcmp(name, keep1) || (keep2 && !strcmp(name, keep2)) ||
		    !strcmp(name, keep3))
			continue;
		LLVMSetLinkage(f, LLVMInternalLinkage);
		LLVMSetVisibility(f, LLVMDefaultVisibility);
	}
	for (LLVMValueRef g = LLVMGetFirstGlobal(m); g; g = LLVMGetNextGlobal(g)) {
		if (LLVMIsDeclaration(g) || LLVMGetLinkage(g) == LLVMPrivateLinkage ||
		    LLVMGetLinkage(g) == LLVMAppendingLinkage) /* llvm.used and friends */
			continue;
		LLVMSetLinkage(g, LLVMInternalLinkage);
		LLVMSetVisibility(g, LLVMDefaultVisibility);
	}
}

static void break_module(Ctx *c)
{
	LLVMValueRef fn = LLVMAddFunction(c->m, "q8c_broken", LLVMFunctionType(c->i32, NULL, 0, 0));
	LLVMAppendBasicBlockInContext(c->cx, fn, "no_terminator");
}

/* The program's module: types, blobs, params, entry points; kmod is
   the kernel module, still separate (it is linked in afterwards). */
static void build_module(Ctx *c, LLVMModuleRef kmod)
{
	const Prog *p = c->p;
	c->b = LLVMCreateBuilderInContext(c->cx);
	c->i8 = LLVMInt8TypeInContext(c->cx);
	c->i32 = LLVMInt32TypeInContext(c->cx);
	c->i64 = LLVMInt64TypeInContext(c->cx);
	c->f32 = LLVMFloatTypeInContext(c->cx);
	c->ptr = LLVMPointerTypeInContext(c->cx, 0);
	c->params = LLVMStructCreateNamed(c->cx, "q8_params");
	LLVMTypeRef fields[3] = {
		LLVMArrayType(c->i32, Q8_NI), LLVMArrayType(c->f32, Q8_NF), LLVMArrayType(c->ptr, Q8_NP),
	};
	LLVMStructSetBody(c->params, fields, 3, 0);
	LLVMTypeRef kps[4] = {c->ptr, c->ptr, c->ptr, c->ptr};
	c->kfn = LLVMFunctionType(LLVMVoidTypeInContext(c->cx), kps, 4, 0);
	for (LLVMValueRef f = LLVMGetFirstFunction(kmod); f && !c->kdef; f = LLVMGetNextFunction(f))
		if (!LLVMIsDeclaration(f))
			c->kdef = f;

	c->blobs = alloc_array((size_t)p->nblobs + 1, sizeof *c->blobs);
	for (int k = 0; k < p->nblobs; k++)
		c->blobs[k] = blob_global(c, &p->blobs[k]);
	c->pglob = alloc_array((size_t)p->nsteps + 1, sizeof *c->pglob);
	c->kernels = alloc_array((size_t)p->nsteps + 1, sizeof *c->kernels);
	for (int k = 0; k < p->nsteps; k++) {
		if (!p->steps[k].kernel)
			die("step %d has no kernel", k);
		c->pglob[k] = params_global(c, k);
		c->kernels[k] = kernel_decl(c, kmod, p->steps[k].kernel);
	}
	build_run(c);
	if (!p->is_float)
		build_run_int8(c);
	build_run_parallel(c, kmod);
	if (emit_llvm_break_module)
		break_module(c);
	LLVMDisposeBuilder(c->b);
}

/* Hard-float ARM: a target machine made through LLVM 16's C API uses
   the soft-float calling convention (its float-ABI option is not in the
   C API), so a call to picolibc's nearbyintf would pass the float in r0
   where the hard-float library reads s0.  Every function and call of the
   C convention gets the AAPCS-VFP one (clang's own, for eabihf), and the
   object says so (Tag_ABI_VFP_args), else GNU ld refuses to link it with
   a -mfloat-abi=hard program.  Intrinsics keep theirs. */
static void arm_hard_float(LLVMModuleRef m)
{
	for (LLVMValueRef f = LLVMGetFirstFunction(m); f; f = LLVMGetNextFunction(f)) {
		if (LLVMGetIntrinsicID(f) == 0 && LLVMGetFunctionCallConv(f) == LLVMCCallConv)
			LLVMSetFunctionCallConv(f, LLVMARMAAPCSVFPCallConv);
		for (LLVMBasicBlockRef bb = LLVMGetFirstBasicBlock(f); bb; bb = LLVMGetNextBasicBlock(bb))
			for (LLVMValueRef i = LLVMGetFirstInstruction(bb); i; i = LLVMGetNextInstruction(i)) {
				if (!LLVMIsACallInst(i) || LLVMGetInstructionCallConv(i) != LLVMCCallConv)
					continue;
				LLVMValueRef callee = LLVMGetCalledValue(i);
				if (LLVMIsAFunction(callee) && LLVMGetIntrinsicID(callee) != 0)
					continue;
				LLVMSetInstructionCallConv(i, LLVMARMAAPCSVFPCallConv);
			}
	}
	const char *a = ".eabi_attribute 28, 1 @ Tag_ABI_VFP_args: VFP registers\n";
	LLVMSetModuleInlineAsm2(m, a, strlen(a));
}

/* Bare metal: one section per function and per constant (as gcc's
   -ffunction-sections -fdata-sections), so that a firmware linked with
   --gc-sections keeps NAME_run_int8 without NAME_run and its float code. */
static void bare_sections(LLVMModuleRef m, const Target *t)
{
	for (LLVMValueRef f = LLVMGetFirstFunction(m); f; f = LLVMGetNextFunction(f))
		if (!LLVMIsDeclaration(f))
			LLVMSetSection(f, fmt(".text.%s", LLVMGetValueName(f)));
	for (LLVMValueRef g = LLVMGetFirstGlobal(m); g; g = LLVMGetNextGlobal(g))
		if (!LLVMIsDeclaration(g))
			LLVMSetSection(g, fmt("%s.%s", LLVMIsGlobalConstant(g) ? ".rodata" : ".data",
			                      LLVMGetValueName(g)));
	if (strncmp(t->triple, "thumb", 5) == 0 && strstr(t->triple, "eabihf"))
		arm_hard_float(m);
}

void emit_llvm(const Prog *p, const char *dir)
{
	check_prog(p);
	init_llvm();
	const Target *t = p->target;
	LLVMTargetMachineRef tm = target_machine(t);
	LLVMTargetDataRef dl = LLVMCreateTargetDataLayout(tm);
	char *dlstr = LLVMCopyStringRepOfTargetData(dl);

	Ctx c = {.p = p};
	c.cx = LLVMContextCreate();
	LLVMContextSetDiagnosticHandler(c.cx, on_diag, NULL);
	c.m = LLVMModuleCreateWithNameInContext(p->name, c.cx);
	LLVMSetTarget(c.m, t->triple);
	LLVMSetModuleDataLayout(c.m, dl);

	/* the kernels, given exactly our triple and layout (the bitcode was
	   compiled for the same architecture: this only keeps the linker
	   from warning about a mismatch) */
	LLVMModuleRef kmod = load_kernels(c.cx, t);
	LLVMSetTarget(kmod, t->triple);
	LLVMSetDataLayout(kmod, dlstr);

	build_module(&c, kmod);
	if (LLVMLinkModules2(c.m, kmod))
		die("LLVM: linking the %s kernels failed", t->name);
	internalize(c.m, fmt("%s_run", p->name), p->is_float ? NULL : fmt("%s_run_int8", p->name),
		fmt("%s_run_parallel", p->name));

	char *err = NULL;
	if (LLVMVerifyModule(c.m, LLVMReturnStatusAction, &err))
		die("the LLVM module of %s does not verify: %s", p->name, take(err));
	LLVMDisposeMessage(err);

	LLVMPassBuilderOptionsRef opts = LLVMCreatePassBuilderOptions();
	LLVMErrorRef e = LLVMRunPasses(c.m, "default<O3>", tm, opts);
	if (e) {
		char *msg = LLVMGetErrorMessage(e);
		char *copy = xstrdup(msg);
		LLVMDisposeErrorMessage(msg);
		die("LLVM passes: %s", copy);
	}
	LLVMDisposePassBuilderOptions(opts);
	if (t->bare)
		bare_sections(c.m, t);
	if (p->fp) {
		/* every frame reported to frame_report (footprint.c) */
		LLVMAttributeRef a = LLVMCreateStringAttribute(c.cx, "warn-stack-size", 15, "0", 1);
		for (LLVMValueRef f = LLVMGetFirstFunction(c.m); f; f = LLVMGetNextFunction(f))
			if (!LLVMIsDeclaration(f))
				LLVMAddAttributeAtIndex(f, LLVMAttributeFunctionIndex, a);
		measuring = true;
		quiet_stderr(true);
	}

	char *ll = fmt("%s/%s.ll", dir, p->name), *obj = fmt("%s/%s.o", dir, p->name);
	if (LLVMPrintModuleToFile(c.m, ll, &err))
		die("LLVM cannot write %s: %s", ll, take(err));
	if (LLVMTargetMachineEmitToFile(tm, c.m, obj, LLVMObjectFile, &err))
		die("LLVM cannot write %s: %s", obj, take(err));
	if (p->fp) {
		quiet_stderr(false);
		measuring = false;
		footprint_calls(c.m, fmt("%s_run%s", p->name, p->is_float ? "" : "_int8"), p->fp);
		footprint_object(obj, p->arena_size > 64 ? (p->arena_size + 63) / 64 * 64 : 64, p->fp);
	}

	LLVMDisposeModule(c.m);
	LLVMContextDispose(c.cx);
	LLVMDisposeMessage(dlstr);
	LLVMDisposeTargetData(dl);
	LLVMDisposeTargetMachine(tm);
	emit_header(p, dir);
}
