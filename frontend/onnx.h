/* Private to the ONNX importer (onnx.c: loading, tensors, the graph walk;
   onnx_fold.c: constant tensors; onnx_ops.c: the per-op mapping). */
#ifndef Q8C_ONNX_H
#define Q8C_ONNX_H

#include "frontend.h"
#include "onnx.pb-c.h"

#define MAXFOLD ((int64_t)1 << 24) /* elements of a constant expanded at import */

/* ONNX element types we read (TensorProto.DataType) */
enum { T_F32 = 1, T_U8 = 2, T_I8 = 3, T_I32 = 6, T_I64 = 7 };

/* A constant tensor known at import time, in ONNX layout.  data holds n
   elements of C type float, uint8_t, int8_t, int32_t or int64_t. */
typedef struct {
	int dt;
	int rank;
	int64_t dims[MAXRANK];
	int64_t n;
	void *data;
} Tensor;

/* How an IR value holds an ONNX tensor.  L_NHWC: a rank-4 NCHW tensor
   stored NHWC.  L_FLAT: ONNX [N, C*H*W] (the flatten of NCHW data)
   stored as the flatten of NHWC data ([N, H*W*C], fc/fh/fw its C, H, W);
   a following dense permutes its weight columns instead of the data. */
typedef enum { L_PLAIN, L_NHWC, L_FLAT } Layout;

/* One ONNX tensor name: a known constant (k), a dequantized constant
   (k with dq set: real = scale * (k - zp)), or an IR value v. */
typedef struct {
	const char *name;
	int rank;
	int64_t dims[MAXRANK]; /* ONNX shape */
	Tensor *k;
	Quant *dq;             /* axis in ONNX dims */
	Value *v;
	Layout lay;
	int64_t fc, fh, fw;    /* L_FLAT */
} Ent;

typedef struct {
	Graph *g;
	const char *path;
	const char *dir;       /* external data; NULL: refused (fuzzer) */
	bool nchw;
	int opset;
	Onnx__NodeProto *node; /* the node being imported */
	Loc loc;               /* "MODEL.onnx: node 'NAME' (OP)" */
	Ent **tab;             /* hash table of names */
	size_t ntab, cap;
} Ctx;

/* onnx.c */
noreturn void oerr(Ctx *c, const char *f, ...) __attribute__((format(printf, 2, 3)));
Ent *ent_find(Ctx *c, const char *name);   /* NULL if undefined */
Ent *ent_input(Ctx *c, int i);             /* the node's input i; error if absent */
Ent *ent_opt(Ctx *c, int i);               /* NULL if absent or "" */
Ent *ent_def(Ctx *c, int i);               /* defines the node's output i */
bool out_used(Ctx *c, int i);              /* the node has output i with a name */
Onnx__AttributeProto *attr(Ctx *c, const char *name);
int64_t attr_i(Ctx *c, const char *name, int64_t def);
double attr_f(Ctx *c, const char *name, double def);
int attr_ints(Ctx *c, const char *name, int64_t *v, int max); /* -1 if absent */
const char *attr_s(Ctx *c, const char *name, const char *def);
Tensor *tensor_from_proto(Ctx *c, Onnx__TensorProto *t, const char *what);
char *sanitize(const char *name);
Op *emit(Ctx *c, OpKind k, Value **in, int nin, const char *name);
Value *new_const(Ctx *c, const char *name, Tensor *t);  /* an IR constant */

/* onnx_fold.c */
Tensor *tensor_new(int dt, int rank, const int64_t *dims);
double tget(const Tensor *t, int64_t i);
void tset(Tensor *t, int64_t i, double v);
Tensor *tconvert(const Tensor *t, int dt);
Tensor *ttranspose(const Tensor *t, const int *perm);
Tensor *tbroadcast(Ctx *c, const Tensor *t, int rank, const int64_t *dims);
Tensor *tdequant(Ctx *c, const Tensor *k, const Quant *q);
int64_t numel_of(Ctx *c, int rank, const int64_t *dims);
Tensor *const_int_list(Ctx *c, Ent *e, const char *what); /* a 1-D integer constant */

/* onnx_layout.c */
int nhwc_axis(int a);                /* ONNX axis of NCHW -> its NHWC position */
Value *as_plain(Ctx *c, Ent *e);     /* the tensor in ONNX layout */
Value *as_nhwc(Ctx *c, Ent *e);      /* a rank-4 tensor stored NHWC */
Value *transpose(Ctx *c, Value *v, const int *perm, const char *name);
Value *reshape_value(Ctx *c, Value *v, int rank, const int64_t *dims, const char *name);
Value *finish_op(Ctx *c, Op *op);    /* infers, appends, returns the result */
Ent *set_out(Ctx *c, int i, Value *v, Layout lay, const Ent *src);
void alias(Ctx *c, Ent *e);
Tensor *fconst(Ctx *c, Ent *e, const char *what);
Value *weight_value(Ctx *c, Tensor *t, const Quant *q, const char *name);
Quant *quant_perm(const Quant *q, const int *perm, int rank);

/* onnx_ops.c (and onnx_shape.c: the ops that only move data) */
void import_node(Ctx *c);
bool import_shape_op(Ctx *c, const char *op); /* false if not one of them */

#endif
