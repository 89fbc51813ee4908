/* The interpreter: runs a lowered program with the reference kernels,
   exactly the calls the generated code makes. */
#include "codegen/lower.h"

#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name;
	q8_kernel fn;
} kernels[] = {
#define K(name) {#name, q8k_##name},
	Q8_REF_KERNELS(K)
#undef K
};

#if defined(Q8C_INTERP_AVX2)
/* interp_avx2.c: the float kernels of runtime/f32.h built for AVX2 */
void q8k_conv2d_f32_blk_avx2(const q8_params *p, const void *a, const void *b, void *y);
void q8k_dwconv_f32_avx2(const q8_params *p, const void *a, const void *b, void *y);
void q8k_dense_f32_blk_avx2(const q8_params *p, const void *a, const void *b, void *y);
static const struct {
	const char *name;
	q8_kernel fn;
} avx2[] = {
	{"conv2d_f32_blk", q8k_conv2d_f32_blk_avx2},
	{"dwconv_f32", q8k_dwconv_f32_avx2},
	{"dense_f32_blk", q8k_dense_f32_blk_avx2},
};
#endif

static q8_kernel find_kernel(const char *name)
{
#if defined(Q8C_INTERP_AVX2)
	if (__builtin_cpu_supports("avx2"))
		for (size_t i = 0; i < sizeof avx2 / sizeof avx2[0]; i++)
			if (strcmp(avx2[i].name, name) == 0)
				return avx2[i].fn;
#endif
	for (size_t i = 0; i < sizeof kernels / sizeof kernels[0]; i++)
		if (strcmp(kernels[i].name, name) == 0)
			return kernels[i].fn;
	die("interp: no reference kernel %s (a target variant?)", name);
}

static void *resolve(const Prog *p, Arg a, const float *const *in, float *const *out, void *arena)
{
	switch (a.kind) {
	case ARG_NONE: return NULL;
	case ARG_ARENA: return (char *)arena + a.off;
	case ARG_BLOB: return (void *)p->blobs[a.idx].data;
	case ARG_INPUT: return (void *)in[a.idx];
	case ARG_OUTPUT: return out[a.idx];
	}
	die("interp: bad argument kind %d", a.kind);
}

void prog_run(const Prog *p, const float *const *in, float *const *out, void *arena)
{
	prog_run_from(p, 0, in, out, arena);
}

void prog_run_from(const Prog *p, int first, const float *const *in, float *const *out, void *arena)
{
	for (int i = first; i < p->nsteps; i++) {
		const Step *s = &p->steps[i];
		q8_params prm = s->p;
		for (int k = 0; k < Q8_NP; k++)
			prm.p[k] = s->pblob[k] < 0 ? NULL : p->blobs[s->pblob[k]].data;
		if (s->y.kind != ARG_ARENA && s->y.kind != ARG_OUTPUT)
			die("interp: step %d (%s) writes to argument kind %d", i, s->kernel, s->y.kind);
		find_kernel(s->kernel)(&prm, resolve(p, s->a, in, out, arena), resolve(p, s->b, in, out, arena),
		                       resolve(p, s->y, in, out, arena));
	}
}

float *run_samples(Graph *g, const Prog *p, const float *x, int64_t nsamples)
{
	if (p->nin != 1 || p->nout != 1)
		fatal("%s: running samples needs one input and one output (the model has %d and %d)",
		      g ? g->name : p->name, p->nin, p->nout);
	if (p->in_f[0].dt != DT_F32 || p->out_f[0].dt != DT_F32)
		fatal("%s: running samples needs a float input and output", g ? g->name : p->name);
	int64_t nx = p->in_f[0].bytes / 4, ny = p->out_f[0].bytes / 4;
	float *y = alloc_array((size_t)(nsamples > 0 ? nsamples : 1), (size_t)ny * sizeof *y);
	size_t size = (size_t)(p->arena_size > 0 ? p->arena_size : 64);
	void *arena = aligned_alloc(64, (size + 63) & ~(size_t)63);
	if (!arena)
		fatal("out of memory (an arena of %zu bytes)", size);
	for (int64_t s = 0; s < nsamples; s++) {
		const float *in[1] = {x + s * nx};
		float *out[1] = {y + s * ny};
		prog_run(p, in, out, arena);
	}
	free(arena);
	return y;
}

void *prog_tensor(const Prog *p, void *arena, const Value *v)
{
	if (v->kind == V_CONST)
		return v->data;
	if (v->id < 0 || v->id >= p->nvals || p->vals[v->id] != v || p->val_off[v->id] < 0)
		return NULL;
	return (char *)arena + p->val_off[v->id];
}
