/* Internal to the lowering (codegen/lower.c, codegen/lower_op.c). */
#ifndef Q8C_LOWER_IMPL_H
#define Q8C_LOWER_IMPL_H

#include "codegen/lower.h"

typedef struct {
	Graph *g;
	Prog *p;
	bool keep_all;
	Arg *where;      /* by value id */
	int *cblob;      /* blob of a constant, by value id; -1 if none yet */
	Op *op;          /* being lowered, for messages */
} L;

static inline bool is_alias(const Op *op) { return op->kind == OP_RESHAPE || op->kind == OP_FLATTEN; }

const char *lower_opname(const Op *op); /* "qconv2d %y" */
/* a model the lowering cannot run: the user's error */
#define BAD(l, ...) error_at((l)->op->loc, "%s: %s", lower_opname((l)->op), fmt(__VA_ARGS__))
/* a graph the passes should never have produced */
#define BROKEN(l, ...) die("lower: %s: %s", lower_opname((l)->op), fmt(__VA_ARGS__))

int lower_blob(L *l, const char *base, Dtype dt, int64_t n, const void *data);
int lower_const(L *l, Value *v);           /* the blob of a constant, made on first use */
Arg lower_arg(L *l, Value *v);             /* where v is, as a kernel argument */
Step lower_step(L *l, const char *kernel); /* a and y from l->op, no blobs */
void lower_emit(L *l, Step *s);            /* append, then select_kernel */
void lower_op(L *l, Op *op);               /* lower_op.c: the steps of one op */

#endif
