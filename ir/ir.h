/* q8c: the one shared header.  Sections: utilities, types, values and ops,
   the graph, and the entry points of every phase (frontend, passes,
   interpreter, lowering, emitters).  Everything is allocated from one arena
   and never freed: q8c is a short-lived compiler. */
#ifndef Q8C_IR_H
#define Q8C_IR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdnoreturn.h>

#define Q8C_VERSION "0.1.0"

enum { MAXRANK = 8 };

/* ---- utilities (ir/util.c) ---- */

typedef struct {
	const char *file; /* path as given by the user */
	int line, col;    /* 1-based; 0 when unknown */
} Loc;

void *alloc(size_t n);                 /* zeroed, from the arena; dies on overflow */
void *alloc_array(size_t n, size_t sz); /* checks n*sz for overflow */
void arena_reset(void);                /* frees everything (fuzzers, tests) */
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
/* Grow an array that holds n elements so it can hold n+1: call before
   every push.  The capacity doubles at powers of two. */
void *vgrow(void *p, size_t n, size_t sz);
#define PUSH(arr, n) (*((arr) = vgrow((arr), (n), sizeof *(arr)), &(arr)[(n)++]))

/* Register a source text so that errors can quote its lines. */
void src_register(const char *file, const char *text, size_t len);

/* The two error channels.  error_at: a mistake in the user's model,
   printed as FILE:LINE:COL: error: MSG, then the source line and a caret
   (FILE: error: MSG when line is 0: ONNX nodes name themselves in FILE);
   exit status 1.  fatal: any other user error (flags, data files): the
   message names the path and the problem; exit 1.  die: a broken
   invariant inside q8c; exit 2.  Tests can catch error_at and fatal by
   setting err_jmp (the message is then kept in err_msg). */
noreturn void error_at(Loc l, const char *f, ...) __attribute__((format(printf, 2, 3)));
noreturn void fatal(const char *f, ...) __attribute__((format(printf, 1, 2)));
noreturn void die(const char *f, ...) __attribute__((format(printf, 1, 2)));
void warn_at(Loc l, const char *f, ...) __attribute__((format(printf, 2, 3)));
#include <setjmp.h>
extern jmp_buf *err_jmp;
extern char err_msg[1024];
/* Called before exiting on an error: removes half-written outputs. */
void on_error(void (*cleanup)(void));
/* Input files (models, .npy, ONNX): open_regular opens PATH for reading
   and sets *size, refusing what is not a regular file; read_all reads n
   bytes of it into buf and closes it.  Errors go through fatal(). */
FILE *open_regular(const char *path, int64_t *size);
void read_all(FILE *f, const char *path, void *buf, size_t n);

/* ---- types ---- */

typedef enum { DT_F32, DT_I8, DT_U8, DT_I16, DT_I32, DT_COUNT } Dtype;

const char *dtype_name(Dtype t);        /* "f32", "i8", ... */
int dtype_parse(const char *s);         /* -1 if unknown */
size_t dtype_size(Dtype t);
int64_t dtype_min(Dtype t), dtype_max(Dtype t); /* integer range */

/* Quantization parameters: real = scale * (q - zp).  Per tensor when
   axis < 0 (n == 1), else one entry per index of dims[axis]. */
typedef struct {
	int axis;
	int n;
	double *scale; /* > 0 */
	int32_t *zp;   /* within the element type's range */
} Quant;

typedef struct {
	Dtype dt;
	int rank;
	int64_t dims[MAXRANK]; /* all > 0 */
	Quant *q;              /* NULL: a float tensor, or an integer one with no scale */
} Type;

int64_t type_numel(const Type *t);
bool type_same_shape(const Type *a, const Type *b);
bool type_equal(const Type *a, const Type *b);   /* dtype, shape and quant */
char *type_str(const Type *t);                   /* "f32[1, 8, 8, 16]" for messages */
Quant *quant_new(int axis, int n);               /* scale 1, zp 0 */
Quant *quant_tensor(double scale, int32_t zp);   /* per tensor */
Quant *quant_copy(const Quant *q);              /* never share a Quant a pass may edit */
bool quant_equal(const Quant *a, const Quant *b);

/* ---- values and ops ---- */

typedef struct Op Op;

typedef enum { V_INPUT, V_CONST, V_TEMP } ValueKind;

typedef struct Value {
	ValueKind kind;
	char *name;   /* without the % or @ sigil */
	Type type;
	void *data;   /* V_CONST: numel elements of type.dt, row-major */
	Op *def;      /* V_TEMP: the op that defines it */
	Loc loc;
	int id;       /* index in the graph, set by graph_number() */
	/* Calibrated real range (calibrate pass, or {range=[lo, hi]} in a
	   dump).  The printer writes it; later passes read it. */
	bool has_range;
	double lo, hi;
	bool fixed_range; /* set by QDQ nodes or clip/relu6 bounds: calibration keeps it */
	/* The memory plan (plan pass): byte offset in the arena, or -1 for
	   values that live elsewhere (constants, float inputs/outputs).
	   Reshape and flatten share their operand's bytes. */
	int64_t off;
} Value;

typedef enum {
#define OP(kind, name, nmin, nmax, attrs) kind,
#include "ops.def"
#undef OP
	OP_COUNT
} OpKind;

/* Attribute bits (see ops.def).  Names in the text format in brackets. */
enum {
	A_STRIDES = 1 << 0,   /* [strides]   int[2] */
	A_PADS = 1 << 1,      /* [pads]      int[4]: top, left, bottom, right */
	A_DILATIONS = 1 << 2, /* [dilations] int[2] */
	A_GROUPS = 1 << 3,    /* [groups]    int */
	A_SIZE = 1 << 4,      /* [size]      int[2] */
	A_MIN = 1 << 5,       /* [min]       number */
	A_MAX = 1 << 6,       /* [max]       number */
	A_EPSILON = 1 << 7,   /* [epsilon]   number */
	A_VALUE = 1 << 8,     /* [value]     number */
	A_SHAPE = 1 << 9,     /* [shape]     int list, one may be -1 */
	A_AXIS = 1 << 10,     /* [axis]      int (concat, softmax) */
	A_QUANT = 1 << 11,    /* [scale, zero_point, axis] of quantize/dequantize */
	A_DTYPE = 1 << 12,    /* [dtype]     identifier */
	A_RQ = 1 << 13,       /* [mult, shift] int lists: fixed-point multipliers */
	A_CLAMP = 1 << 14,    /* [lo, hi]    ints: clamp of the integer result */
	A_XZP = 1 << 15,      /* [xzp]       int: zero point subtracted in the inner loop */
	A_ALPHA = 1 << 16,    /* [alpha]     number (hardsigmoid 0.2, leaky_relu 0.01) */
	A_BETA = 1 << 17,     /* [beta]      number (hardsigmoid 0.5) */
	A_PERM = 1 << 18,     /* [perm]      int list: a permutation of the axes */
	A_WBITS = 1 << 19,    /* [wbits]     4 or 8: bits of the quantized weights (optional) */
	A_ABITS = 1 << 20,    /* [abits]     8 or 16: bits of the activation the op reads (optional) */
};

typedef struct {
	int64_t strides[2], pads[4], dilations[2], size[2], groups;
	double min, max, epsilon, value;
	double alpha, beta; /* hardsigmoid: max(0, min(1, alpha*x + beta)); leaky_relu: alpha */
	int nperm;
	int64_t perm[MAXRANK]; /* transpose: y.dims[i] = x.dims[perm[i]] */
	int nshape;
	int64_t shape[MAXRANK];
	int axis;
	Quant q;      /* quantize / dequantize: q.axis < 0 when per tensor */
	Dtype dtype;  /* quantize */
	/* Fixed-point multipliers (A_RQ): real multiplier
	   M = mult * 2^(shift - 31), mult in [2^30, 2^31) or 0.  nrq is 0
	   until the fixed-point pass sets it.  Per output channel for
	   qconv2d/qdense/requantize, or one per operand for qadd/qsub
	   (a, b, out: docs/numerics.md). */
	int nrq;
	int32_t *mult, *shift;
	int32_t lo, hi; /* A_CLAMP: integer bounds of the result */
	int32_t xzp;    /* A_XZP: see qconv2d below */
	int wbits;      /* A_WBITS: 4 or 8, or 0 (absent): follow --weight-bits */
	int abits;      /* A_ABITS: 8 or 16, or 0 (absent): follow --activation-bits */
} Attrs;

struct Op {
	OpKind kind;
	Value **in;
	int nin;
	Value *out;
	Attrs a;
	Loc loc;
};

typedef struct {
	const char *name;
	int nmin, nmax;
	unsigned attrs;
} OpInfo;
extern const OpInfo opinfo[OP_COUNT];
int op_parse(const char *name); /* -1 if unknown */

/* Integer ops.  x, y: operand and result; zx, zy their zero points (from
   their types); rq and clamp as in runtime/q8rt.h; M the real multiplier.
   qconv2d(x:i8, w:i8 [O,KH,KW,C/g] zero point 0, b:i32[O]):
       acc[c] = b[c] + sum over the window of (x - xzp) * w, where padded
       positions read x = zx.  With nrq == 0 (before the fixed-point pass
       or before fusion) y is acc, an i32 tensor; with nrq == 1 or O,
       y = clamp(zy + rq(acc, mult[c], shift[c]), lo, hi), an i8 tensor.
       The quantize pass writes xzp = zx; the zeropoint pass sets xzp = 0
       and folds -zx * sum(w[c]) into b, so kernels never see xzp != 0.
   qdense(x:i8 [N,K], w:i8 [O,K], b:i32[O]): the same with K for the window.
   With int16 activations (passes/a16.c) x may be i16 (zero point 0) and
       the fused result i16, clamped within [-32767, 32767]; requantize
       takes and gives i16 too; clip, reshape, flatten and maxpool2d carry
       i16 on.
   requantize(x:i8|i32): y = clamp(zy + rq(x - zx, mult[c], shift[c]), lo, hi),
       c the index along the last axis when nrq > 1; M = sx[c] / sy.
   qadd, qsub(a, b): b has a's shape, [C] or is a scalar;
       a' = rq((a - za) << 20, mult[0], shift[0]),
       b' = rq((b - zb) << 20, mult[1], shift[1]),
       y = clamp(zy + rq(a' +- b', mult[2], shift[2]), lo, hi),
       with M0 = sa / (2 * max(sa, sb)), M1 = sb / (2 * max(sa, sb)),
       M2 = 2 * max(sa, sb) / (2^20 * sy).
   qmul(a, b): y = clamp(zy + rq((a - za) * (b - zb), mult[0], shift[0]), lo, hi),
       M = sa * sb / sy.
   qlut(x:i8, t:i8[256] a constant): y = t[x + 128].  The quantize pass
       builds t from x's and y's scales and zero points for each of the
       unary activations (sigmoid, tanh, hardswish, hardsigmoid,
       leaky_relu): t[q + 128] = sat(zy + round_half_even(f(sx (q - zx)) / sy)),
       f in double (passes/lut.c, docs/numerics.md).
   The ops marked * in ops.def also run on i8 tensors: clip's min and max
   are then integers in the quantized domain, pad's value too; pools, pad,
   reshape, flatten, concat and transpose keep the quantization parameters (concat's
   operands must all share them); avgpool2d/global_avgpool compute
   y = zx + round_half_away_from_zero(sum(x - zx) / count).

   The final graph (after the pipeline) that lower() accepts: float
   inputs, then `quantize` to i8 (per tensor), integer ops as above with
   every qconv2d/qdense fused (nrq > 0, i8 result, xzp == 0), then
   `dequantize` to f32 and possibly float ops after it (a trailing
   softmax).  With --float, every op on float tensors, and quantize /
   dequantize of any integer type (QDQ models run as fake quantization). */

/* ---- the graph ---- */

typedef struct Graph {
	char *name;        /* model name (the file stem when not given) */
	const char *file;  /* the model file, for messages */
	const char *dir;   /* its directory: .npy paths are relative to it */
	Value **inputs;  int ninputs;
	Value **outputs; int noutputs;
	Value **consts;  int nconsts;   /* in declaration order */
	Op **ops;        int nops;      /* topological order */
	int nvalues;                    /* set by graph_number() */
	/* set by the plan pass */
	bool planned;
	int64_t arena_size, arena_lower_bound;
} Graph;

Graph *graph_new(const char *name);
Value *value_new(ValueKind kind, const char *name, Type t, Loc l);
/* A new op computing into a fresh temporary named after `name` (made
   unique in g).  Does not append it: use graph_insert/graph_append. */
Op *op_new(Graph *g, OpKind k, Value **in, int nin, const char *name, Loc l);
void graph_append(Graph *g, Op *op);
void graph_insert_before(Graph *g, Op *before, Op *op);
Value *graph_add_const(Graph *g, const char *name, Type t, void *data, Loc l);
void graph_replace_uses(Graph *g, Value *from, Value *to); /* in ops and outputs */
int graph_count_uses(Graph *g, const Value *v);
void graph_remove_dead(Graph *g);  /* ops and consts not reaching an output */
void graph_number(Graph *g);       /* sets Value.id and nvalues */
/* A copy of g that passes can change without touching g: new values,
   quantization parameters and ops; constant data shared (passes replace a
   constant's data, they never write into it). */
Graph *graph_clone(Graph *g);
char *graph_unique_name(Graph *g, const char *base);
Value *graph_find(Graph *g, const char *name, bool is_const);


/* ---- frontend (frontend/) ---- */

Graph *parse_file(const char *path);            /* errors go through error_at */
Graph *parse_string(const char *file, const char *text, size_t len);
/* ONNX models (frontend/onnx.c): the same graph from MODEL.onnx, weights
   converted to NHWC; nchw keeps the ONNX layout at the model's boundary
   (docs/onnx.md).  load_model reads either format by the file's suffix. */
Graph *onnx_import(const char *path, bool nchw);
Graph *onnx_parse_buffer(const char *path, const unsigned char *buf, size_t len, bool nchw);
bool is_onnx_path(const char *path);
Graph *load_model(const char *path, bool nchw);
/* tools/import.c: g as model text OUT, its .npy constants in STEM.data/
   beside it (OUT = STEM.q8), written atomically */
void import_model(Graph *g, const char *out);
/* tools/diff.c: q8c diff: what changed from graph a to graph b */
void diff_graphs(Graph *a, Graph *b, FILE *f);
/* tools/simulate.c: fake quantization (docs/inspecting.md).  simulate:
   the outputs of float graph fg run on S samples x with every tensor and
   constant that qg (its integer graph) quantizes rounded to qg's grid;
   report_simulation: the output SQNR of the integer run and of the
   simulation against fp32, and per layer (alone, and every layer up to
   it), costliest first; `what` names the samples. */
float *simulate(Graph *fg, Graph *qg, const float *x, int64_t S);
void report_simulation(Graph *fg, Graph *qg, const float *x, int64_t S, const char *what, bool json, FILE *f);
/* tools/render.c: q8c dot: g as OUT.dot, or OUT.svg / OUT.png rendered by
   Graphviz's dot (a clear error when it is missing); atomically */
void render_dot(Graph *g, const char *out);
/* Type and shape inference for one op: sets op->out->type (dtype and
   shape; the quant part is left to the caller).  Errors name the op,
   its location and the disagreeing shapes. */
void infer_op(Op *op);

/* .npy files (frontend/npy.c).  read: checks everything (magic, version,
   header, dtype, order, shape, length) against the expected type when
   `want` is non-NULL, else returns the file's own type in *got. */
void *npy_read(const char *path, const Type *want, Type *got);
/* The same checks on a file image in memory (the fuzzer's entry point);
   path names it in messages.  The data is copied to the arena. */
void *npy_parse_buffer(const char *path, const unsigned char *buf, size_t len, const Type *want, Type *got);
/* write atomically (temporary file, then rename) */
void npy_write(const char *path, Dtype dt, int rank, const int64_t *dims, const void *data);

/* ---- printer (ir/print.c) ---- */

/* Writes g as model text.  Constants with more than 64 elements go to
   npy_dir/PREFIXNAME.npy when npy_dir is non-NULL (else inline), so that
   several dumps can share a directory. */
void print_graph(FILE *f, Graph *g, const char *npy_dir, const char *npy_prefix);
/* op's right-hand side as the printer writes it: NAME(%a, @b, attrs) */
void print_call(FILE *f, const Op *op);
/* ir/dot.c: g as a Graphviz digraph (one box per op; docs/inspecting.md);
   value_label: "i8[1, 8] scale=0.0146 zp=0 range=[0, 1.85]", short */
void print_dot(FILE *f, Graph *g);
char *value_label(const Value *v);

/* ---- passes (passes/) ---- */

typedef enum { CAL_MAX, CAL_PERCENTILE, CAL_KL, CAL_MSE } CalibMethod;

typedef struct {
	bool is_float;              /* --float: stop after fold */
	const char *calib_path;     /* --calib */
	CalibMethod calib;          /* --calib-method */
	double percentile;          /* --percentile */
	bool per_tensor;            /* --granularity tensor */
	int group;                  /* --granularity group:G: G output channels per scale (0: per channel) */
	int wbits;                  /* --weight-bits: 4 or 8 (0: 8); an op's wbits attribute wins */
	int abits;                  /* --activation-bits: 8 or 16 (0: 8) of what conv/dense read; an op's abits wins */
	double error_budget;        /* --error-budget DB, or 0: passes/precision.c */
	bool optimize_speed;        /* --optimize speed: the budget minimises latency, not weight bytes */
	struct Choice *choice;      /* what --error-budget chose, for the report */
	bool pow2;                  /* --scale pow2 */
	const char *dump_after;     /* --dump-after PASS|all, or NULL */
	const char *dump_dir;       /* --dump-dir, or NULL for stderr */
	bool report;                /* --report */
	bool report_json;           /* --report-format json */
	bool dot;                   /* --dot: NN-PASS.dot beside each dump */
	bool time_passes;           /* --time-passes: each pass's wall time on stderr */
	const char *stop_after;     /* q8c dot --after PASS: stop there (NULL: run all) */
	bool bias_corr;             /* --bias-correction: passes/biascorr.c */
	/* filled by the calibrate pass for the report */
	void *calib_data; int64_t ncalib;
} Options;

typedef struct {
	const char *name;
	void (*run)(Graph *g, Options *o);
	bool on_float;              /* runs with --float too */
} Pass;
extern const Pass passes[];
extern const int npasses;

void pass_fold(Graph *g, Options *o);
void pass_calibrate(Graph *g, Options *o);
void pass_quantize(Graph *g, Options *o);
void pass_zeropoint(Graph *g, Options *o);
void pass_fixedpoint(Graph *g, Options *o);
void pass_fuse(Graph *g, Options *o);
void pass_plan(Graph *g, Options *o);
void run_pipeline(Graph *g, Options *o);

/* Fixed point (passes/fixedpoint.c): M = mult * 2^(shift-31),
   mult in [2^30, 2^31); M == 0 gives mult 0.  Returns false when M is
   too large to represent (shift > 30). */
bool quantize_multiplier(double m, int32_t *mult, int32_t *shift);

/* calibration (passes/histogram.c) */
/* Histograms of |x|: bin k of n counts [k, k+1) * amax / n (the top bin
   also holds |x| == amax).  Each method returns the clipping threshold T
   (the range becomes [-T, T] or [0, T]); docs/calibration.md. */
enum { CAL_BINS = 2048, CAL_LEVELS = 128 };
void hist_add(double *bins, int n, double amax, const float *x, int64_t count);
double hist_percentile(const double *bins, int n, double amax, double pct);
double hist_kl(const double *bins, int n, double amax);   /* needs n >= CAL_LEVELS */
double hist_mse(const double *bins, int n, double amax);
double hist_threshold(CalibMethod m, const double *bins, int n, double amax, double pct);
/* passes/calibrate.c: per tensor of qgraph matched by name in fgraph (the
   float graph after fold): range, scale and SQNR (dB) of the dequantized
   int8 tensor against fp32 over the calibration set. */
void report_sqnr(Graph *fgraph, Graph *qgraph, Options *o, FILE *f);
/* passes/calibrate.c: runs the fp32 interpreter over the --calib samples
   and calls fn(ctx, i, x) with the elements x of vs[i] (i < n) after
   each sample.  Loads the samples unless calibrate already did. */
void calib_each(Graph *g, Options *o, Value **vs, int n, void (*fn)(void *ctx, int i, const float *x),
		void *ctx);
/* The --calib samples of g's single input (o->calib_data, o->ncalib),
   loaded on first use. */
const float *calib_samples(Graph *g, Options *o);
/* passes/precision.c: the per-layer weight bits --error-budget chose
   and why, as text or (o->report_json) a "precision" member. */
void report_precision(const Options *o, FILE *f);

#endif
