/* The activations of the quantize pass (passes/quantize.c): sigmoid,
   tanh, hardswish, hardsigmoid and leaky_relu on an int8 tensor have only
   256 possible inputs, so each becomes one qlut whose table holds the
   exact answer for every one of them: the real input sx * (q - zx), the
   function in double, quantized at the result's scale and zero point
   (round half to even, saturated to the result's range).  Zero points
   of both sides are in the table: nothing is left to the zeropoint
   pass.  docs/numerics.md has the construction. */
#include "quant.h"

#include <math.h>

double lut_f(const Op *op, double x)
{
	switch (op->kind) {
	case OP_SIGMOID: return 1 / (1 + exp(-x));
	case OP_TANH: return tanh(x);
	case OP_HARDSWISH: return x * fmin(fmax(x + 3, 0), 6) / 6;
	case OP_HARDSIGMOID: return fmax(0, fmin(1, op->a.alpha * x + op->a.beta));
	case OP_LEAKYRELU: return x >= 0 ? x : op->a.alpha * x;
	default: die("lut_f: %s", opinfo[op->kind].name);
	}
}

void lut_table(const Op *op, const Quant *xq, const Quant *yq, int32_t lo, int32_t hi, int8_t *t)
{
	for (int i = 0; i < 256; i++) {
		double r = lut_f(op, xq->scale[0] * (double)(i - 128 - xq->zp[0]));
		int32_t v = to_q(r, yq->scale[0], yq->zp[0]);
		t[i] = (int8_t)(v < lo ? lo : v > hi ? hi : v);
	}
}
