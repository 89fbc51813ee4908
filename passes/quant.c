/* Small helpers shared by the quantization passes (see quant.h). */
#include "quant.h"

#include <math.h>
#include <string.h>

double pow2_up(double s)
{
	int e;
	double m = frexp(s, &e);
	return m == 0.5 ? s : ldexp(1, e);
}

bool is_pow2(double s)
{
	int e;
	return s > 0 && frexp(s, &e) == 0.5;
}

int64_t const_geti(const Value *c, int64_t i)
{
	switch (c->type.dt) {
	case DT_I8: return ((const int8_t *)c->data)[i];
	case DT_U8: return ((const uint8_t *)c->data)[i];
	case DT_I16: return ((const int16_t *)c->data)[i];
	case DT_I32: return ((const int32_t *)c->data)[i];
	default: die("const_geti on %s constant @%s", dtype_name(c->type.dt), c->name);
	}
}

void weight_sums(const Value *w, int64_t *sum, int64_t *sumabs)
{
	int64_t o = w->type.dims[0], k = type_numel(&w->type) / o;
	for (int64_t c = 0; c < o; c++) {
		int64_t s = 0, a = 0;
		for (int64_t i = 0; i < k; i++) {
			int64_t v = const_geti(w, c * k + i);
			s += v;
			a += v < 0 ? -v : v;
		}
		if (sum)
			sum[c] = s;
		if (sumabs)
			sumabs[c] = a;
	}
}

Op *only_user(Graph *g, Value *v)
{
	if (graph_count_uses(g, v) != 1)
		return NULL;
	for (int i = 0; i < g->nops; i++)
		for (int j = 0; j < g->ops[i]->nin; j++)
			if (g->ops[i]->in[j] == v)
				return g->ops[i];
	return NULL;
}

/* ---- u8 -> i8 ---- */

static Quant *shift_zp(const Quant *q)
{
	Quant *c = quant_copy(q);
	for (int i = 0; i < c->n; i++)
		c->zp[i] -= 128;
	return c;
}

static void shift_attr_zp(Quant *q)
{
	int32_t *zp = alloc_array((size_t)q->n, sizeof *zp);
	for (int i = 0; i < q->n; i++)
		zp[i] = q->zp[i] - 128;
	q->zp = zp;
}

static void value_to_i8(Value *v)
{
	v->type.dt = DT_I8;
	if (v->type.q)
		v->type.q = shift_zp(v->type.q);
}

void convert_u8(Graph *g)
{
	/* first the ops whose attributes live in an operand's u8 domain,
	   while the operand types still say u8 */
	for (int i = 0; i < g->nops; i++) {
		Op *op = g->ops[i];
		bool in_u8 = op->nin > 0 && op->in[0]->type.dt == DT_U8;
		if (op->kind == OP_DEQUANTIZE && in_u8)
			shift_attr_zp(&op->a.q);
		if ((op->kind == OP_QCONV2D || op->kind == OP_QDENSE) && in_u8)
			op->a.xzp -= 128;
	}
	for (int i = 0; i < g->nops; i++) {
		Op *op = g->ops[i];
		bool qu8 = op->kind == OP_QUANTIZE && op->a.dtype == DT_U8;
		if (op->out->type.dt != DT_U8 && !qu8)
			continue;
		if (qu8) {
			op->a.dtype = DT_I8;
			shift_attr_zp(&op->a.q);
		}
		if (opinfo[op->kind].attrs & A_CLAMP) {
			op->a.lo -= 128;
			op->a.hi -= 128;
		}
		if (op->kind == OP_CLIP) {
			op->a.min -= 128;
			op->a.max -= 128;
		}
		if (op->kind == OP_PAD)
			op->a.value -= 128;
		value_to_i8(op->out);
	}
	for (int i = 0; i < g->nconsts; i++) {
		Value *c = g->consts[i];
		if (c->type.dt != DT_U8)
			continue;
		int64_t n = type_numel(&c->type);
		int8_t *d = alloc_array((size_t)n, 1);
		for (int64_t j = 0; j < n; j++)
			d[j] = (int8_t)(((const uint8_t *)c->data)[j] - 128);
		c->data = d;
		value_to_i8(c);
	}
}
