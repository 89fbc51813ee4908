/* q8c diff A.q8 B.q8: what changed between two graphs (two dumps, most
   often: docs/inspecting.md), written like a pass's changelog.  Values
   are matched by name, which the passes keep: an op that computes the
   same value in both is "changed" when its op, operands, attributes, type
   or range differ; one only in B is "added"; ops only in A that a B op
   now does in its place (they lie between its operands and its result)
   are "fused" into it; the rest are "removed".  Constants are compared by
   their real values (integers dequantized with their scales), with the
   largest difference. */
#include "ir.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { LINE = 150 }; /* long calls (per-channel multipliers) are cut here */

static char *call_str(const Op *op)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	if (!f)
		die("diff: open_memstream");
	print_call(f, op);
	fclose(f);
	char *s = xstrdup(buf);
	free(buf);
	return s;
}

static char *cut(const char *s)
{
	return strlen(s) > LINE ? fmt("%.*s...", LINE - 3, s) : (char *)s;
}

static Op *def_of(Graph *g, const char *name)
{
	for (int i = 0; i < g->nops; i++)
		if (strcmp(g->ops[i]->out->name, name) == 0)
			return g->ops[i];
	return NULL;
}

/* Element i of a constant as a real number. */
static double real_elem(const Value *c, int64_t i)
{
	const Type *t = &c->type;
	double x;
	switch (t->dt) {
	case DT_F32: return ((const float *)c->data)[i];
	case DT_I8: x = ((const int8_t *)c->data)[i]; break;
	case DT_U8: x = ((const uint8_t *)c->data)[i]; break;
	case DT_I16: x = ((const int16_t *)c->data)[i]; break;
	case DT_I32: x = ((const int32_t *)c->data)[i]; break;
	default: die("diff: dtype %d", (int)t->dt);
	}
	const Quant *q = t->q;
	if (!q)
		return x;
	int ch = 0;
	if (q->n > 1 && q->axis >= 0 && q->axis < t->rank) {
		int64_t inner = 1;
		for (int k = q->axis + 1; k < t->rank; k++)
			inner *= t->dims[k];
		ch = (int)(i / inner % t->dims[q->axis]);
	}
	return q->scale[ch] * (x - q->zp[ch]);
}

static bool same_range(const Value *a, const Value *b)
{
	return a->has_range == b->has_range && a->fixed_range == b->fixed_range &&
	       (!a->has_range || (a->lo == b->lo && a->hi == b->hi));
}

static void values(Graph *a, Graph *b, FILE *f, int *nchanged)
{
	for (int i = 0; i < b->ninputs; i++) {
		Value *vb = b->inputs[i], *va = graph_find(a, vb->name, false);
		if (!va || va->kind != V_INPUT) {
			fprintf(f, "added    input %%%s : %s\n", vb->name, value_label(vb));
			continue;
		}
		if (!type_equal(&va->type, &vb->type) || !same_range(va, vb)) {
			fprintf(f, "changed  input %%%s\n    - %s\n    + %s\n", vb->name, value_label(va), value_label(vb));
			++*nchanged;
		}
	}
	for (int i = 0; i < a->ninputs; i++)
		if (!graph_find(b, a->inputs[i]->name, false))
			fprintf(f, "removed  input %%%s\n", a->inputs[i]->name);
}

static void constants(Graph *a, Graph *b, FILE *f, int *added, int *removed, int *changed)
{
	for (int i = 0; i < b->nconsts; i++) {
		Value *cb = b->consts[i], *ca = graph_find(a, cb->name, true);
		if (!ca) {
			fprintf(f, "added    @%s : %s\n", cb->name, value_label(cb));
			++*added;
			continue;
		}
		int64_t n = type_numel(&ca->type);
		bool same_shape = type_same_shape(&ca->type, &cb->type);
		double maxd = 0;
		bool data_same = same_shape && ca->type.dt == cb->type.dt;
		if (same_shape)
			for (int64_t k = 0; k < n; k++) {
				double d = fabs(real_elem(ca, k) - real_elem(cb, k));
				maxd = d > maxd || isnan(d) ? d : maxd;
			}
		if (data_same)
			data_same = memcmp(ca->data, cb->data, (size_t)n * dtype_size(ca->type.dt)) == 0;
		if (type_equal(&ca->type, &cb->type) && data_same)
			continue;
		++*changed;
		fprintf(f, "changed  @%s\n    - %s\n    + %s\n", cb->name, value_label(ca), value_label(cb));
		if (same_shape)
			fprintf(f, "    max |difference| of the real values: %.6g\n", maxd);
		else
			fprintf(f, "    shape changed: values not compared\n");
	}
	for (int i = 0; i < a->nconsts; i++)
		if (!graph_find(b, a->consts[i]->name, true)) {
			fprintf(f, "removed  @%s : %s\n", a->consts[i]->name, value_label(a->consts[i]));
			++*removed;
		}
}

/* The ops of A that B's op `ob` does in their place: walking back from
   A's op for the same value over ops whose result B no longer has. */
static int absorbed(Graph *a, Graph *b, Op *oa, bool *taken, Op ***list)
{
	int n = 0;
	Value **stack = NULL;
	int ns = 0;
	for (int j = 0; j < oa->nin; j++)
		PUSH(stack, ns) = oa->in[j];
	while (ns > 0) {
		Value *v = stack[--ns];
		if (v->kind != V_TEMP || graph_find(b, v->name, false))
			continue;
		for (int i = 0; i < a->nops; i++)
			if (a->ops[i] == v->def && !taken[i]) {
				taken[i] = true;
				PUSH(*list, n) = v->def;
				for (int j = 0; j < v->def->nin; j++)
					PUSH(stack, ns) = v->def->in[j];
			}
	}
	return n;
}

void diff_graphs(Graph *a, Graph *b, FILE *f)
{
	fprintf(f, "--- %s\n+++ %s\n", a->file ? a->file : a->name, b->file ? b->file : b->name);
	if (strcmp(a->name, b->name) != 0)
		fprintf(f, "model %s -> %s\n", a->name, b->name);
	int nchanged = 0, nadded = 0, nremoved = 0, nfused = 0;
	values(a, b, f, &nchanged);
	bool *taken = alloc_array((size_t)a->nops + 1, sizeof *taken);
	for (int i = 0; i < b->nops; i++) {
		Op *ob = b->ops[i], *oa = def_of(a, ob->out->name);
		char *cb = call_str(ob);
		if (!oa) {
			fprintf(f, "added    %%%s : %s = %s\n", ob->out->name, value_label(ob->out), cut(cb));
			nadded++;
			continue;
		}
		Op **fu = NULL;
		int nf = absorbed(a, b, oa, taken, &fu);
		for (int k = 0; k < a->nops; k++)
			if (a->ops[k] == oa)
				taken[k] = true;
		char *ca = call_str(oa);
		bool same_type = type_equal(&oa->out->type, &ob->out->type) && same_range(oa->out, ob->out);
		if (nf == 0 && same_type && strcmp(ca, cb) == 0)
			continue;
		if (nf > 0) {
			fprintf(f, "fused    %%%s = %s now does", ob->out->name, opinfo[ob->kind].name);
			for (int k = nf - 1; k >= 0; k--)
				fprintf(f, " %%%s = %s,", fu[k]->out->name, opinfo[fu[k]->kind].name);
			fprintf(f, " %%%s = %s\n", oa->out->name, opinfo[oa->kind].name);
			nfused += nf;
		} else {
			fprintf(f, "changed  %%%s\n", ob->out->name);
			nchanged++;
		}
		if (strcmp(ca, cb) != 0)
			fprintf(f, "    - %s\n    + %s\n", cut(ca), cut(cb));
		if (!same_type)
			fprintf(f, "    - %s\n    + %s\n", value_label(oa->out), value_label(ob->out));
	}
	for (int i = 0; i < a->nops; i++)
		if (!taken[i]) {
			fprintf(f, "removed  %%%s = %s\n", a->ops[i]->out->name, cut(call_str(a->ops[i])));
			nremoved++;
		}
	for (int i = 0; i < b->noutputs; i++)
		if (i >= a->noutputs || strcmp(a->outputs[i]->name, b->outputs[i]->name) != 0)
			fprintf(f, "output %d: %s -> %%%s\n", i, i < a->noutputs ? fmt("%%%s", a->outputs[i]->name) : "none",
				b->outputs[i]->name);
	int cadd = 0, crem = 0, cch = 0;
	constants(a, b, f, &cadd, &crem, &cch);
	fprintf(f, "ops %d -> %d: %d added, %d removed, %d fused away, %d changed; "
		   "constants %d -> %d: %d added, %d removed, %d changed\n",
		a->nops, b->nops, nadded, nremoved, nfused, nchanged, a->nconsts, b->nconsts, cadd, crem, cch);
}
