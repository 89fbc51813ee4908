/* q8rt: the kernels generated code calls, and the interpreter too.
   This header and the kernel sources are copied into every C output and
   compiled to bitcode for the LLVM emitter, so it is plain C11 with no
   dependency but <stdint.h>, <string.h> and <math.h>.

   Every kernel has one signature:
       void q8k_NAME(const q8_params *p, const void *a, const void *b, void *y);
   a and b are the operands (b may be NULL), y the result.  q8_params is
   one flat struct of int32 fields, float fields and constant pointers
   (weights, bias, multipliers), indexed by the enums below, so that both
   emitters build it the same way: C prints a designated initializer, the
   LLVM emitter a constant of type { [Q8_NI x i32], [Q8_NF x float],
   [Q8_NP x ptr] }.

   Shapes: tensors are NHWC; a tensor of rank < 4 is seen right-aligned
   ([N, K] is n=N, h=1, w=1, c=K).  Integer activations are int8 with a
   zero point; weights are int8 with zero point 0; bias is int32.

   Requantize (docs/numerics.md), the one rounding rule of q8c:
       rq(x, m, s) = sat32((x * m + 2^(R-1)) >> R),  R = 31 - s,
   computed in 64 bits, ties toward +infinity; then y = clamp(zp + rq).
   m in [2^30, 2^31) (or 0), -31 <= s <= 30. */
#ifndef Q8RT_H
#define Q8RT_H

#include <stdint.h>

#ifndef Q8K
#define Q8K /* "static" when the runtime is pasted into a generated file */
#endif

enum {
	/* input 0 shape, NHWC */
	Q8_N, Q8_H, Q8_W, Q8_C,
	/* output shape: OC is the output channel count */
	Q8_OH, Q8_OW, Q8_OC,
	/* window: kernel size, strides, dilations, pads (top, left, bottom, right) */
	Q8_KH, Q8_KW, Q8_SH, Q8_SW, Q8_DH, Q8_DW, Q8_PT, Q8_PL, Q8_PB, Q8_PR,
	Q8_GROUPS,
	/* zero points of a, b and y; clamp bounds of the integer result */
	Q8_AZP, Q8_BZP, Q8_YZP, Q8_LO, Q8_HI,
	/* number of entries in MULT/SHIFT: 1 (per tensor) or OC (per channel) */
	Q8_NRQ,
	/* elementwise: element count of a, and how b broadcasts:
	   0 same shape, 1 along the last axis ([C]), 2 scalar */
	Q8_COUNT, Q8_BMODE,
	/* copy_slice / softmax / quantize per axis: a is viewed as
	   [OUTER, LEN, INNER]; copy_slice writes it into y viewed as
	   [OUTER, DLEN, INNER] starting at index DOFF of the middle axis */
	Q8_OUTER, Q8_LEN, Q8_INNER, Q8_DLEN, Q8_DOFF,
	/* element sizes / dtypes (Q8_DT_*) of a and y where a kernel is generic */
	Q8_ADT, Q8_YDT, Q8_ESIZE,
	/* quantize/dequantize: number of scales (1 or LEN of an axis) */
	Q8_NQ,
	/* act_f32: which function (Q8_ACT_*) */
	Q8_FUNC,
	/* transpose: the rank of its (simplified) view, W below */
	Q8_RANK,
	/* conv2d_i8 / dense_i8 / dwconv: 4 when W holds int4 weights, two per
	   byte (q8_w4 below), else 0; WNUM: W's element count, unpacked */
	Q8_WBITS, Q8_WNUM,
	Q8_NI = 48
};

enum {
	Q8F_MIN, Q8F_MAX,   /* clip bounds (float kernels) */
	Q8F_VALUE,          /* pad value (float) */
	Q8F_SCALE,          /* per-tensor scale (quantize/dequantize) */
	Q8F_ALPHA, Q8F_BETA, /* act_f32: hardsigmoid's alpha and beta, leaky_relu's alpha */
	Q8_NF = 8
};

enum {
	Q8P_W,       /* weights (packed as the kernel reads them) */
	Q8P_B,       /* bias: int32 for integer kernels, float for float ones; may be NULL */
	Q8P_MULT,    /* int32[NRQ] */
	Q8P_SHIFT,   /* int32[NRQ] */
	Q8P_SCALE,   /* float[NQ] per-axis scales (quantize/dequantize), or affine scale */
	Q8P_ZP,      /* int32[NQ] per-axis zero points, or affine shift (float) */
	Q8_NP = 8
};

/* the float kernels of f32.h: blocks of Q8_FB output channels */
enum { Q8_FB = 8 };

/* how a step splits into tasks in NAME_run_parallel (runtime/par.h) */
enum { Q8_SPLIT_NONE, Q8_SPLIT_ROWS, Q8_SPLIT_ELEMS, Q8_SPLIT_FLAT };

/* act_f32's functions */
enum { Q8_ACT_SIGMOID, Q8_ACT_TANH, Q8_ACT_HARDSWISH, Q8_ACT_HARDSIGMOID, Q8_ACT_LEAKYRELU };

enum { Q8_DT_F32, Q8_DT_I8, Q8_DT_U8, Q8_DT_I16, Q8_DT_I32 }; /* as Dtype in ir.h */

typedef struct q8_params {
	int32_t i[Q8_NI];
	float f[Q8_NF];
	const void *p[Q8_NP];
} q8_params;

typedef void (*q8_kernel)(const q8_params *p, const void *a, const void *b, void *y);

/* The portable reference kernels (runtime/ref.c).  Target kernels
   (runtime/<isa>.c) have the same contract and give identical bits. */
#define Q8_REF_KERNELS(X) \
	/* float */ \
	X(conv2d_f32)   /* a f32, W f32 [OC][KH][KW][C/GROUPS], B f32[OC] or NULL */ \
	X(dense_f32)    /* a [N][C], W [OC][C], B or NULL; y [N][OC] */ \
	X(conv2d_f32_blk) X(dwconv_f32) X(dense_f32_blk) /* the same, W and B packed (f32.h) */ \
	X(add_f32) X(sub_f32) X(mul_f32) /* COUNT, BMODE, C */ \
	X(clip_f32)     /* COUNT, F MIN/MAX */ \
	X(maxpool_f32) X(avgpool_f32) X(gavgpool_f32) \
	X(affine_f32)   /* y = a * SCALE[c] + ZP(as float)[c]: batchnorm; COUNT, C */ \
	X(pad_f32)      /* F VALUE */ \
	X(softmax_f32)  /* OUTER, LEN, INNER */ \
	X(quantize)     /* f32 -> YDT: sat(rint(x / scale) + zp); NQ, OUTER/LEN/INNER */ \
	X(dequantize)   /* ADT -> f32: scale * (q - zp) */ \
	X(act_f32)      /* COUNT, FUNC, F ALPHA/BETA: sigmoid, tanh, hardswish, hardsigmoid, leaky_relu */ \
	/* any type */ \
	X(copy_slice)   /* ESIZE, OUTER, LEN, INNER, DLEN, DOFF */ \
	X(transpose)    /* ESIZE, COUNT, RANK, W int32[2*RANK]: y's dims, then for each y axis \
	                   the stride (elements) of x along it; y is written in order */ \
	/* int8 */ \
	X(conv2d_i8)    /* W i8 [OC][KH][KW][C/GROUPS], B i32 or NULL, MULT/SHIFT, AZP (padding), YZP, LO, HI */ \
	X(dense_i8)     /* W i8 [OC][C] */ \
	X(requant_i32)  /* a int32 (COUNT), per channel over C when NRQ > 1; AZP subtracted first */ \
	X(requant_i8)   /* a int8, likewise */ \
	X(add_i8) X(sub_i8) /* NRQ == 3: a, b, out multipliers; COUNT, BMODE, C */ \
	X(mul_i8)       /* NRQ == 1 */ \
	X(clip_i8)      /* COUNT, LO, HI */ \
	X(maxpool_i8) X(avgpool_i8) X(gavgpool_i8) /* AZP for avg */ \
	X(pad_i8)       /* YZP is the pad value */ \
	X(lut_i8)       /* COUNT, W int8[256]: y[i] = W[a[i] + 128] */ \
	/* int16 activations (a16.h): ADT and YDT each Q8_DT_I8 or Q8_DT_I16 (requant: a also I32) */ \
	X(conv2d_a16) X(dense_a16) /* as conv2d_i8 / dense_i8 */ \
	X(requant_a16)  /* as requant_i8 */ \
	X(clip_i16)     /* COUNT, LO, HI */ \
	X(maxpool_i16)  /* as maxpool_i8 */

#define Q8_DECLARE(name) Q8K void q8k_##name(const q8_params *p, const void *a, const void *b, void *y);
Q8_REF_KERNELS(Q8_DECLARE)

/* the shared integer helpers */
static inline int32_t q8_rq(int32_t x, int32_t m, int32_t s)
{
	int r = 31 - s;
	int64_t t = (int64_t)x * m + ((int64_t)1 << (r - 1));
	t >>= r;
	return t > INT32_MAX ? INT32_MAX : t < INT32_MIN ? INT32_MIN : (int32_t)t;
}

/* int4 weights (Q8_WBITS == 4): element i of W lies in byte i / 2, the
   low nibble for even i, the high nibble for odd i, two's complement
   (-8..7; q8c writes -7..7) */
static inline int32_t q8_w4(const int8_t *w, int64_t i)
{
	int32_t n = ((uint8_t)w[i >> 1] >> (4 * (i & 1))) & 15;
	return (n ^ 8) - 8;
}

static inline int32_t q8_clamp(int32_t x, int32_t lo, int32_t hi)
{
	return x < lo ? lo : x > hi ? hi : x;
}

#endif
