/* Helpers shared by the quantization passes (quantize.c, zeropoint.c,
   fixedpoint.c, fuse.c); private to passes/.  The arithmetic they set up
   is described in docs/numerics.md. */
#ifndef Q8C_QUANT_H
#define Q8C_QUANT_H

#include "ir.h"

/* The smallest power of two >= s (s > 0). */
double pow2_up(double s);
bool is_pow2(double s);

/* Integer element i of a constant, any integer dtype. */
int64_t const_geti(const Value *c, int64_t i);

/* Every u8 tensor becomes i8 with zero point zp - 128: quantize ops,
   constants, integer results and the integer attributes that live in
   their domain (clamp bounds, clip bounds, pad value, xzp).  Exact:
   sat_u8(r + z) - 128 == sat_i8(r + z - 128). */
void convert_u8(Graph *g);

/* Per output channel c of a weight constant w [O, ...]: sum of w[c] and
   sum of |w[c]| over the whole window. */
void weight_sums(const Value *w, int64_t *sum, int64_t *sumabs);

/* The op that reads v, if that is v's only use (and v is no output). */
Op *only_user(Graph *g, Value *v);

/* ---- constants (qconst.c, used by the quantize pass) ---- */

/* A new constant made from constant c takes c's name; c becomes NAME.f. */
char *take_name(Graph *g, Value *c);
/* z + round(r / s), half to even, saturated to int8; r may be infinite. */
int32_t to_q(double r, double s, int32_t z);
/* the same saturated to dt's range (i8 or i16) */
int32_t to_qn(double r, double s, int32_t z, Dtype dt);
/* the product of the dims after axis */
int64_t axis_inner(const Type *t, int axis);
/* The real values of a constant: f32 as they are, integers through
   their quantization (op names the user in errors). */
double *const_real(Op *op, Value *c);
/* r as an int8 constant in [-qmax, qmax], zero point 0, scale max|r|/qmax
   per run of `group` indices of axis 0 or per tensor (group 0; rounded up
   to a power of two with --scale pow2); named after src. */
Value *sym_const(Graph *g, Options *o, Value *src, const double *r, int64_t group, int qmax);
/* conv2d/dense weights as int8 [-127, 127] with zero point 0 */
Value *weights(Graph *g, Options *o, Op *op, Value *w);
/* per output channel, sum |w| of what weights() will make of w (exact for
   float weights, qmax per element for integer ones), or NULL */
int64_t *weight_abs_bound(Options *o, Op *op, Value *w);
/* the bias (or zeros when b is NULL) minus shift[c] (when non-NULL) as
   int32 at the accumulator's scale */
Value *bias(Graph *g, Op *op, Value *b, const Quant *aq, int64_t nc, const char *yname, const double *shift);
/* error_at unless |b| + sum|w[c]| * max|x - zx| fits int32 */
void check_acc(Op *op, const Value *x, const Value *w, const Value *b);
/* a constant operand of add/sub/mul as int8 per tensor */
Value *const_operand(Graph *g, Options *o, Op *op, Value *c);

/* ---- int16 activations (a16.c, used by the quantize pass) ---- */

/* an int8 requantize of x (any integer) to q; clamp [-127, 127], or the
   whole int8 range with full (quantize.c) */
Op *requant_op(Graph *g, Value *x, Quant *q, bool full, const char *name, Loc l);
/* the bits of the activation conv2d/dense op reads: its abits, else
   --activation-bits, else 8 */
int abits(const Options *o, const Op *op);
/* Does a conv2d/dense with abits 16 read v (a float value), directly or
   through ops that carry int16 on? */
bool want16(Graph *g, Options *o, Value *v);
/* v becomes int16, and op's clamp [-32767, 32767] when op is non-NULL */
void set_i16(Value *v, Op *clamped);
/* operand j of op: int8 or int16 (act_in16), or int8 with an int16 one
   requantized to int8 first (act_in_g); error_at otherwise */
Value *act_in16(Op *op, int j);
Value *act_in_g(Graph *g, Op *op, int j);
/* --activation-bits 16: the conv2d/dense layers without an abits
   attribute whose int32 accumulator int16 inputs could overflow get
   abits=8 (with a warning) */
void a16_fallback(Graph *g, Options *o);

/* ---- the activations as tables (lut.c, used by the quantize pass) ---- */

/* f(x) of sigmoid, tanh, hardswish, hardsigmoid or leaky_relu op, in double */
double lut_f(const Op *op, double x);
/* the qlut table of op for input xq and result yq (per tensor):
   t[q + 128] = clamp(to_q(f(sx * (q - zx)), sy, zy), lo, hi) */
void lut_table(const Op *op, const Quant *xq, const Quant *yq, int32_t lo, int32_t hi, int8_t *t);

/* ---- --error-budget (precision.c, used by the quantize pass) ---- */

typedef struct Choice Choice;
/* Sets the wbits of every conv2d/dense without one to 4 or 8: the fewest
   weight bytes whose measured output SQNR meets o->error_budget. */
void choose_precision(Graph *g, Options *o);

/* ---- --bias-correction (biascorr.c, used by the quantize pass) ---- */

typedef struct Means Means;
/* The mean input of every float conv2d/dense of g per weight tap, from
   the fp32 interpreter on the --calib samples. */
Means *bc_means(Graph *g, Options *o);
/* The mean shift E[y_q - y] per output channel of op (a conv2d/dense
   not yet rewritten) whose weights wf became wq; NULL when m has no
   means for op or the weights did not change. */
double *bc_shift(const Means *m, Op *op, Value *wf, Value *wq);

#endif
