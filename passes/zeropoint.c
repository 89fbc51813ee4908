/* Pass 4, zeropoint: zero-point terms folded into the int32 bias.
   For qconv2d/qdense with input zero point zx (weights have zw = 0):
       sum (x - zx) * w[c] = sum x * w[c] - zx * sum w[c]
   over the whole window, padded positions included (they read zx), so
   b'[c] = b[c] - zx * sum w[c] and the kernel runs with xzp = 0.  The
   four-term expansion behind it is in docs/numerics.md.  Any u8 tensor
   left becomes i8 with zero point zp - 128 first. */
#include "quant.h"

static void fold(Graph *g, Op *op)
{
	Value *w = op->in[1], *b = op->in[2];
	int64_t zx = op->a.xzp, nc = w->type.dims[0];
	if (w->kind != V_CONST || b->kind != V_CONST || b->type.dt != DT_I32 || type_numel(&b->type) != nc)
		error_at(op->loc, "%s: needs constant weights and an i32 bias of %lld elements",
			 opinfo[op->kind].name, (long long)nc);
	int64_t *sum = alloc_array((size_t)nc, sizeof *sum), *sa = alloc_array((size_t)nc, sizeof *sa);
	int64_t mx = -dtype_min(op->in[0]->type.dt); /* 128, or 32768 for int16 activations */
	weight_sums(w, sum, sa);
	int32_t *d = alloc_array((size_t)nc, sizeof *d);
	for (int64_t c = 0; c < nc; c++) {
		int64_t v = ((const int32_t *)b->data)[c] - zx * sum[c];
		/* the kernel now adds x * w for x in [-128, 127] (or int16) to b' */
		int64_t bound = (v < 0 ? -v : v) + mx * sa[c];
		if (bound > INT32_MAX)
			error_at(op->loc, "%s: with the zero point %lld folded into the bias, the int32 "
				 "accumulator of output channel %lld can overflow (|b'| + %lld * sum|w| = %lld)",
				 opinfo[op->kind].name, (long long)zx, (long long)c, (long long)mx, (long long)bound);
		d[c] = (int32_t)v;
	}
	Value *nb = b;
	if (graph_count_uses(g, b) != 1)
		nb = graph_add_const(g, b->name, b->type, d, b->loc);
	nb->data = d;
	op->in[2] = nb;
	op->a.xzp = 0;
}

void pass_zeropoint(Graph *g, Options *o)
{
	(void)o;
	convert_u8(g);
	for (int i = 0; i < g->nops; i++) {
		Op *op = g->ops[i];
		if ((op->kind == OP_QCONV2D || op->kind == OP_QDENSE) && op->a.xzp != 0)
			fold(g, op);
	}
}
