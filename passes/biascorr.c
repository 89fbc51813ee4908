/* Pass 3, quantize: bias correction (--bias-correction).  Rounding the
   weights of output channel o moves the mean of its result by
       E[y_q - y][o] = sum_k (s_w[o] Wq[o,k] - W[o,k]) E[x_k],
   a shift that every following layer sees; subtracting it from the
   float bias before the bias is quantized removes it (the "empirical
   bias correction" of Nagel et al., 2019, for the weight error only).

   E[x_k] is the mean, over the --calib samples and the output
   positions, of what weight tap k reads: for a conv, per tap (kh, kw)
   and input channel, counting padding as the zero it is.  Exact, and
   cheap (one sweep of the window per sample); a mean per channel would
   be wrong at the borders, where a tap reads zeros at 1/OH of the
   positions or more (a corner tap of a 3x3 pad-1 conv on 7x7: 13 of
   49), and would ignore which rows a stride skips.  The
   samples run through the fp32 interpreter here, on the float graph
   as the quantize pass receives it, so a dump after calibrate resumes
   with the same means and nothing new has to live in the IR. */
#include "quant.h"

#include <math.h>

typedef struct {
	Op *op;      /* a float conv2d or dense */
	double *m;   /* [KH*KW*C]: sums over the taps, then means */
	int64_t cnt; /* positions summed */
} Tap;

struct Means {
	Tap *t;
	int n;
};

/* x [N,H,W,C] (dense: [N,K] as [N,1,1,K]), w [O,KH,KW,C/g] or [O,K] */
typedef struct {
	int64_t N, H, W, C, OH, OW, KH, KW;
} Geo;

static bool is_conv(const Op *op) { return op->kind == OP_CONV2D; }

static Geo geo(const Op *op)
{
	const Type *x = &op->in[0]->type, *w = &op->in[1]->type, *y = &op->out->type;
	Geo g = {x->dims[0], 1, 1, x->dims[x->rank - 1], 1, 1, 1, 1};
	if (is_conv(op)) {
		g.H = x->dims[1], g.W = x->dims[2];
		g.OH = y->dims[1], g.OW = y->dims[2];
		g.KH = w->dims[1], g.KW = w->dims[2];
	}
	return g;
}

/* Adds what every tap reads over one sample's output positions. */
static void add_sample(void *ctx, int i, const float *x)
{
	Tap *tp = &((Means *)ctx)->t[i];
	Op *op = tp->op;
	Geo g = geo(op);
	double *s = tp->m;
	const Attrs *a = &op->a;
	for (int64_t n = 0; n < g.N; n++)
		for (int64_t kh = 0; kh < g.KH; kh++)
			for (int64_t kw = 0; kw < g.KW; kw++)
				for (int64_t oh = 0; oh < g.OH; oh++) {
					int64_t ih = is_conv(op) ? oh * a->strides[0] + kh * a->dilations[0] - a->pads[0] : 0;
					if (ih < 0 || ih >= g.H)
						continue; /* padding: reads 0 */
					for (int64_t ow = 0; ow < g.OW; ow++) {
						int64_t iw = is_conv(op) ? ow * a->strides[1] + kw * a->dilations[1] - a->pads[1] : 0;
						if (iw < 0 || iw >= g.W)
							continue;
						const float *p = x + ((n * g.H + ih) * g.W + iw) * g.C;
						double *t = s + (kh * g.KW + kw) * g.C;
						for (int64_t c = 0; c < g.C; c++)
							if (isfinite(p[c]))
								t[c] += p[c];
					}
				}
	tp->cnt += g.N * g.OH * g.OW;
}

Means *bc_means(Graph *g, Options *o)
{
	Means *m = alloc(sizeof *m);
	Value **vs = NULL;
	int nv = 0;
	for (int i = 0; i < g->nops; i++) {
		Op *op = g->ops[i];
		if ((op->kind != OP_CONV2D && op->kind != OP_DENSE) || op->out->type.dt != DT_F32 ||
		    op->nin < 2 || op->in[0]->type.dt != DT_F32 || op->in[0]->kind == V_CONST)
			continue;
		Geo ge = geo(op);
		PUSH(m->t, m->n) = (Tap){op, alloc_array((size_t)(ge.KH * ge.KW * ge.C), sizeof(double)), 0};
		PUSH(vs, nv) = op->in[0];
	}
	if (!m->n)
		return m;
	if (!o->calib_path)
		fatal("%s: --bias-correction needs calibration data (--calib DATA.npy): the mean input of "
		      "each conv2d/dense comes from its samples", g->file ? g->file : g->name);
	calib_each(g, o, vs, nv, add_sample, m);
	for (int i = 0; i < m->n; i++) {
		Geo ge = geo(m->t[i].op);
		for (int64_t k = 0; k < ge.KH * ge.KW * ge.C; k++)
			m->t[i].m[k] /= (double)m->t[i].cnt;
	}
	return m;
}

double *bc_shift(const Means *m, Op *op, Value *wf, Value *wq)
{
	int i = 0;
	while (m && i < m->n && m->t[i].op != op)
		i++;
	if (!m || i == m->n || wf == wq)
		return NULL;
	Geo g = geo(op);
	const double *mean = m->t[i].m;
	double *f = const_real(op, wf), *q = const_real(op, wq);
	int64_t O = wq->type.dims[0], CG = wq->type.dims[wq->type.rank - 1];
	int64_t og = O / (is_conv(op) ? op->a.groups : 1);
	double *sh = alloc_array((size_t)O, sizeof *sh);
	bool any = false;
	for (int64_t oc = 0; oc < O; oc++) {
		int64_t c0 = oc / og * CG; /* the group's first input channel */
		double s = 0;
		for (int64_t t = 0; t < g.KH * g.KW; t++)
			for (int64_t ci = 0; ci < CG; ci++) {
				int64_t k = (oc * g.KH * g.KW + t) * CG + ci;
				s += (q[k] - f[k]) * mean[t * g.C + c0 + ci];
			}
		sh[oc] = s;
		any = any || s != 0;
	}
	return any ? sh : NULL;
}
