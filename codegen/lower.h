/* The lowered form: what both emitters print and the interpreter runs.
   A final graph (after the pipeline) lowers to a straight list of kernel
   calls over one arena, with every constant (packed weights, bias,
   multipliers) as a blob.  The C emitter prints the list as C, the LLVM
   emitter builds the same calls with the LLVM C API, and `q8c run`
   executes it with the reference kernels: one lowering, three consumers. */
#ifndef Q8C_LOWER_H
#define Q8C_LOWER_H

#include "../ir/ir.h"
#include "../runtime/q8rt.h"

typedef enum {
	TG_X86_64,          /* SSE2 baseline: portable kernels */
	TG_X86_64_AVX2,
	TG_X86_64_AVX512,   /* with VNNI */
	TG_AARCH64,         /* NEON */
	TG_AARCH64_DOTPROD,
	TG_RISCV64,         /* rv64gc: portable kernels */
	TG_RISCV64_V,       /* RVV 1.0 */
	TG_CORTEX_M4,       /* ARMv7E-M, DSP extension, single-precision FPU */
	TG_CORTEX_M7,       /* ARMv7E-M, DSP extension, double-precision FPU */
	TG_CORTEX_M55,      /* ARMv8.1-M, MVE (Helium) */
	TG_RISCV32,         /* rv32imc, no FPU: portable kernels */
	TG_RISCV32_IMAC,    /* rv32imac */
	TG_REF,             /* the interpreter: portable kernels, host */
	TG_COUNT
} TargetKind;

typedef struct {
	TargetKind kind;
	const char *name;     /* as --target spells it */
	const char *triple;   /* LLVM triple */
	const char *cpu;      /* LLVM CPU name */
	const char *features; /* LLVM feature string */
	const char *isa;      /* runtime kernel file: "ref", "avx2", "avx512", "neon", "dotprod", "rvv",
	                         "dsp", "mve" */
	bool bare;            /* a bare-metal microcontroller: static code, footprint in the header */
} Target;

extern const Target targets[TG_COUNT];
const Target *target_find(const char *name);   /* NULL if unknown */
const Target *target_host(void);

typedef struct {
	char *name;        /* C identifier, unique in the program */
	Dtype dt;
	int64_t n;         /* elements */
	const void *data;
} Blob;

/* ARG_INPUT/ARG_OUTPUT: the float buffers of NAME_run (inputs[idx],
   outputs[idx]), read by the leading quantize steps and written by the
   trailing dequantize / float steps. */
typedef enum { ARG_NONE, ARG_ARENA, ARG_BLOB, ARG_INPUT, ARG_OUTPUT } ArgKind;

typedef struct {
	ArgKind kind;
	int64_t off;       /* ARG_ARENA: byte offset, 64-byte aligned */
	int idx;           /* ARG_BLOB: blob index; ARG_INPUT/OUTPUT: which one */
} Arg;

typedef struct {
	const char *kernel;   /* "conv2d_i8" calls q8k_conv2d_i8 (or a target variant) */
	q8_params p;          /* p.p[] are unused here: see pblob */
	int pblob[Q8_NP];     /* blob index for p.p[k], or -1 for NULL */
	Arg a, b, y;
	const char *what;     /* the op it came from, for comments: "%y = qconv2d" */
	/* NAME_run_parallel (codegen/lower_split.c, runtime/par.h): how the
	   step splits (HOW of q8_par) and into how many tasks; ntasks 1 runs
	   it whole */
	int32_t split;
	int ntasks;
} Step;

typedef struct {
	Value *v;
	int64_t off;          /* where the tensor lives in the arena */
	int64_t bytes;
	Dtype dt;
	double scale;         /* for the int8 interface: real = scale * (q - zp) */
	int32_t zp;
} IoBuf;

/* codegen/footprint.c: what a bare-metal model costs, measured from the
   object LLVM builds for the target (docs/embedded.md).  Flash: code
   (.text*) + constants (.rodata*) + initialized data; RAM: the arena +
   the worst-case stack of NAME_run_int8 (+ .data/.bss, none today). */
typedef struct {
	bool done;
	int64_t code, consts, data, bss; /* bytes of the object's sections */
	int64_t stack;       /* worst-case stack of NAME_run_int8, or -1: unknown */
	int64_t flash, ram;  /* code + consts + data; arena + stack + data + bss */
} Footprint;
typedef struct {
	const char *name;
	bool is_float;            /* --float: no int8 entry point */
	const Target *target;
	Step *steps; int nsteps;
	/* The int8 entry point runs steps [body_begin, body_end); the float
	   one runs all steps: the quantize of the inputs comes first and the
	   dequantize (and any float tail, such as a softmax) last. */
	int body_begin, body_end;
	Blob *blobs; int nblobs;
	int64_t arena_size;       /* bytes, a multiple of 64 */
	int64_t arena_lower_bound;/* largest sum of simultaneously live tensors */
	int64_t weight_bytes;
	/* inputs and outputs: the float tensors of NAME_run (v, dt, bytes)
	   and the int8 tensors in the arena that NAME_run_int8 copies in and
	   out (off, scale, zp); for --float programs only the former. */
	int nin, nout;
	IoBuf *in_f, *out_f;
	IoBuf *in_q, *out_q;
	/* where each value of the graph lives (by Value.id): arena offset, or
	   -1; with keep_all every value gets its own bytes, so a caller can
	   read any tensor after prog_run (calibration, the SQNR report) */
	int nvals;
	Value **vals;
	int64_t *val_off;
	/* bare-metal targets: filled by emit_llvm, printed in NAME.h */
	Footprint *fp;
} Prog;

/* codegen/footprint.c: LLVM's report of one function's frame (codegen calls this from its
   diagnostic handler); and the sum along the deepest call path from
   entry in module m, plus FP_LIBCALL for the library routines it calls */
enum { FP_LIBCALL = 128 };
void footprint_frame(const char *fn, int64_t bytes);
void footprint_calls(void *module, const char *entry, Footprint *fp);
void footprint_object(const char *obj, int64_t arena, Footprint *fp);

/* codegen/lower.c */
Prog *lower(Graph *g, const Target *t, const char *name, bool keep_all);
/* codegen/select.c: after lower() builds a step with the portable kernel
   and weights in the reference layout, picks the target's variant (for
   example conv2d_i8 -> conv2d_i8_vnni), packs its weight blob for it and
   sets any extra params it needs.  Identity for TG_REF and the baseline
   targets.  The variant must give the same bits as the portable kernel. */
void select_kernel(const Target *t, Prog *p, Step *s);
/* codegen/lower_split.c: after select_kernel, sets s->split and s->ntasks */
void lower_split(Step *s);

/* tools/interp.c: runs a program with the reference kernels; in/out are
   float buffers, one per input/output. */
void prog_run(const Prog *p, const float *const *in, float *const *out, void *arena);
/* the same from step `first` on: the steps before it have run (or the
   arena holds what they would have written: simulate.c) */
void prog_run_from(const Prog *p, int first, const float *const *in, float *const *out, void *arena);

/* codegen/emit_c.c, codegen/emit_llvm.c: write into dir (which exists,
   and is a temporary directory that the driver renames on success). */
void emit_c(const Prog *p, const char *dir);
void emit_llvm(const Prog *p, const char *dir);
void emit_header(const Prog *p, const char *dir); /* NAME.h, shared */

/* ---- additions (lowering helper): plan order, interpreter helpers ---- */

/* passes/plan.c: the phase of each op of g (phase[i] for g->ops[i]):
   PH_HEAD quantize (or reshape) of graph inputs, PH_BODY the rest,
   PH_TAIL float ops that lead only to outputs (dequantize, a trailing
   softmax).  The plan pass orders the ops head, body, tail; lower() takes
   the int8 entry point's body from it. */
enum { PH_HEAD, PH_BODY, PH_TAIL };
void graph_phases(Graph *g, unsigned char *phase);

/* tools/interp.c, interp helpers.  run_samples: runs nsamples batch-1
   inferences of a single-input, single-output program on x (nsamples
   inputs, back to back) and returns the outputs back to back (allocated
   with alloc()).  prog_tensor: where value v is after a prog_run of a
   keep_all program on arena (constants: their data); NULL for a value the
   program does not keep. */
float *run_samples(Graph *g, const Prog *p, const float *x, int64_t nsamples);
void *prog_tensor(const Prog *p, void *arena, const Value *v);

#endif
