/* The C emitter: prints a lowered program as one self-contained C file,
   NAME.c.  Layout of the output:
       the runtime (q8rt.h, ref.c and the target's runtime/<isa>.c) pasted
       in with every kernel static, so that two models link into one
       program; the constants as 64-byte aligned static arrays; one
       static q8_params per step; a body function calling the kernels in
       order; NAME_run and (int8 programs) NAME_run_int8.
   Nothing but NAME_run / NAME_run_int8 has external linkage, and nothing
   is mutable but the caller's arena.  docs/generated-code.md tells users
   how to build and call it. */
#include "codegen/lower.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* the runtime sources, embedded as text by tools/embed.cmake */
extern const struct embedded {
	const char *name, *text;
	size_t len;
} embedded_files[];

static const char *embedded(const char *name)
{
	for (const struct embedded *e = embedded_files; e->name; e++)
		if (strcmp(e->name, name) == 0)
			return e->text;
	return NULL;
}

/* The enum names of q8rt.h, so that the params read like the kernels. */
#define N(x) [x] = #x
static const char *const iname[Q8_NI] = {
	N(Q8_N), N(Q8_H), N(Q8_W), N(Q8_C), N(Q8_OH), N(Q8_OW), N(Q8_OC),
	N(Q8_KH), N(Q8_KW), N(Q8_SH), N(Q8_SW), N(Q8_DH), N(Q8_DW),
	N(Q8_PT), N(Q8_PL), N(Q8_PB), N(Q8_PR), N(Q8_GROUPS),
	N(Q8_AZP), N(Q8_BZP), N(Q8_YZP), N(Q8_LO), N(Q8_HI), N(Q8_NRQ),
	N(Q8_COUNT), N(Q8_BMODE), N(Q8_OUTER), N(Q8_LEN), N(Q8_INNER),
	N(Q8_DLEN), N(Q8_DOFF), N(Q8_ADT), N(Q8_YDT), N(Q8_ESIZE), N(Q8_NQ),
	N(Q8_WBITS), N(Q8_WNUM),
};
static const char *const fname[Q8_NF] = {
	N(Q8F_MIN), N(Q8F_MAX), N(Q8F_VALUE), N(Q8F_SCALE),
};
static const char *const pname[Q8_NP] = {
	N(Q8P_W), N(Q8P_B), N(Q8P_MULT), N(Q8P_SHIFT), N(Q8P_SCALE), N(Q8P_ZP),
};
#undef N

static char *idx(const char *const *names, int k)
{
	return names[k] ? fmt("[%s]", names[k]) : fmt("[%d]", k);
}

/* A float as a C literal with the same bits: hex floats are exact. */
static void put_float(FILE *f, float x)
{
	if (isnan(x))
		fputs("NAN", f);
	else if (isinf(x))
		fputs(x < 0 ? "-INFINITY" : "INFINITY", f);
	else
		fprintf(f, "%af", (double)x);
}

static void put_i32(FILE *f, int32_t x)
{
	if (x == INT32_MIN)
		fputs("INT32_MIN", f);
	else
		fprintf(f, "%d", (int)x);
}

/* "/ *" and "* /" would end or nest the comment */
static char *comment(const char *s)
{
	char *c = xstrdup(s ? s : "");
	for (char *t = c; *t; t++)
		if (*t == '\n' || (*t == '*' && t[1] == '/') || (*t == '/' && t[1] == '*'))
			*t = ' ';
	return c;
}

/* ---- the runtime ---- */

/* Pastes a runtime file.  A local include (#include "tile.h") pastes
   that runtime file in its place the first time, and is dropped after:
   q8rt.h is pasted first, so its includes are all dropped. */
typedef struct {
	const char *done[16];
	int n;
} Pasted;

static void paste(FILE *f, const char *file, Pasted *pd)
{
	const char *text = embedded(file);
	if (!text)
		die("emit_c: runtime/%s is not embedded", file);
	if (pd->n == (int)(sizeof pd->done / sizeof pd->done[0]))
		die("emit_c: too many runtime files");
	pd->done[pd->n++] = file;
	fprintf(f, "\n/* ---- runtime/%s ---- */\n", file);
	for (const char *s = text; *s;) {
		const char *e = strchr(s, '\n');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		const char *t = s;
		while (t < s + n && (*t == ' ' || *t == '\t'))
			t++;
		const char *name = NULL;
		if (t < s + n && *t == '#') {
			t++;
			while (t < s + n && (*t == ' ' || *t == '\t'))
				t++;
			const char *q = memchr(t, '"', (size_t)(s + n - t));
			const char *q2 = q ? memchr(q + 1, '"', (size_t)(s + n - q - 1)) : NULL;
			if (strncmp(t, "include", 7) == 0 && q2)
				name = xstrndup(q + 1, (size_t)(q2 - q - 1));
		}
		if (name) {
			bool seen = false;
			for (int i = 0; i < pd->n; i++)
				seen = seen || strcmp(pd->done[i], name) == 0;
			if (seen)
				fprintf(f, "/* %s: pasted above */\n", comment(xstrndup(s, n)));
			else
				paste(f, name, pd);
		} else {
			fprintf(f, "%.*s\n", (int)n, s);
		}
		s += n + (e != NULL);
	}
}

#define S(name) #name,
static const char *const ref_kernels[] = {Q8_REF_KERNELS(S)};
#undef S

/* True when the kernel is a portable one or the target file names it. */
static bool known(const char *kernel, const char *simd)
{
	for (size_t i = 0; i < sizeof ref_kernels / sizeof *ref_kernels; i++)
		if (strcmp(ref_kernels[i], kernel) == 0)
			return true;
	return simd && strstr(simd, fmt("q8k_%s", kernel));
}

static void put_runtime(FILE *f, const Prog *p)
{
	const char *isa = p->target ? p->target->isa : "ref";
	const char *simd = strcmp(isa, "ref") ? embedded(fmt("%s.c", isa)) : NULL;
	/* every kernel the program calls must be pasted in */
	for (int i = 0; i < p->nsteps; i++) {
		const char *k = p->steps[i].kernel;
		if (!known(k, simd))
			die("emit_c: step %d calls q8k_%s, which neither ref.c nor %s.c defines", i, k, isa);
	}

	fputs("\n/* The runtime, with every kernel static (and unused ones quiet),\n"
	      "   so that several models link into one program. */\n"
	      "#if defined(__GNUC__) || defined(__clang__)\n"
	      "#define Q8K static __attribute__((unused))\n"
	      "#else\n"
	      "#define Q8K static\n"
	      "#endif\n"
	      "#define Q8_GENERATED 1\n",
	      f);
	/* The params below are constants that gcc propagates into the
	   static kernels; it then warns about paths of the specialized copy
	   that those constants make dead (a block loop past the last block, a
	   loop bound it cannot see).  q8c builds and tests the kernels with
	   -Werror unspecialized, so these two are quiet here. */
	fputs("#if defined(__GNUC__) && !defined(__clang__)\n"
	      "#pragma GCC diagnostic push\n"
	      "#pragma GCC diagnostic ignored \"-Warray-bounds\"\n"
	      "#pragma GCC diagnostic ignored \"-Waggressive-loop-optimizations\"\n"
	      "#endif\n",
	      f);
	Pasted pd = { .n = 0 };
	paste(f, "q8rt.h", &pd);
	paste(f, "ref.c", &pd);
	if (simd)
		paste(f, fmt("%s.c", isa), &pd);
	fputs("\n#if defined(__GNUC__) && !defined(__clang__)\n#pragma GCC diagnostic pop\n#endif\n", f);
}

/* ---- constants and params ---- */

static int blob_index(const Prog *p, int k)
{
	if (k < 0 || k >= p->nblobs)
		die("emit_c: blob index %d out of range (%d blobs)", k, p->nblobs);
	return k;
}

static char *blob_name(const Prog *p, int k)
{
	blob_index(p, k);
	const char *s = p->blobs[k].name ? p->blobs[k].name : "";
	char *n = fmt("b%d_%s", k, s);
	for (char *c = n; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '_')
			*c = '_';
	return n;
}

static void put_blob(FILE *f, const Prog *p, int k)
{
	const Blob *b = &p->blobs[k];
	static const char *const ctype[DT_COUNT] = {
		[DT_F32] = "float", [DT_I8] = "int8_t", [DT_U8] = "uint8_t",
		[DT_I16] = "int16_t", [DT_I32] = "int32_t",
	};
	if ((unsigned)b->dt >= DT_COUNT || b->n < 0 || (b->n > 0 && !b->data))
		die("emit_c: blob %d is malformed", k);
	int per = b->dt == DT_I8 || b->dt == DT_U8 ? 16 : 8;
	/* a C array cannot be empty */
	fprintf(f, "Q8_ALIGN64 static const %s %s[%lld] = {", ctype[b->dt], blob_name(p, k),
		(long long)(b->n ? b->n : 1));
	for (int64_t i = 0; i < b->n; i++) {
		fputs(i % per ? ", " : i ? ",\n\t" : "\n\t", f);
		switch (b->dt) {
		case DT_F32: put_float(f, ((const float *)b->data)[i]); break;
		case DT_I8: fprintf(f, "%d", ((const int8_t *)b->data)[i]); break;
		case DT_U8: fprintf(f, "%u", ((const uint8_t *)b->data)[i]); break;
		case DT_I16: fprintf(f, "%d", ((const int16_t *)b->data)[i]); break;
		case DT_I32: put_i32(f, ((const int32_t *)b->data)[i]); break;
		default: break;
		}
	}
	fputs(b->n ? "\n};\n" : "0};\n", f);
}

static void put_params(FILE *f, const Prog *p, int k)
{
	static const char *const dtn[] = {"Q8_DT_F32", "Q8_DT_I8", "Q8_DT_U8", "Q8_DT_I16", "Q8_DT_I32"};
	const Step *s = &p->steps[k];
	fprintf(f, "static const q8_params step%d = {", k);
	const char *sep = "";
	int n = 0;
	for (int i = 0; i < Q8_NI; i++)
		if (s->p.i[i]) {
			/* six to a line */
			if (*sep && n++ % 6 == 5)
				sep = ",\n\t\t";
			fprintf(f, "%s%s = ", *sep ? sep : "\n\t.i = {", idx(iname, i));
			int32_t v = s->p.i[i];
			if ((i == Q8_ADT || i == Q8_YDT) && v >= 0 && v < 5)
				fputs(dtn[v], f);
			else
				put_i32(f, v);
			sep = ", ";
		}
	if (*sep)
		fputs("},", f);
	sep = "";
	for (int i = 0; i < Q8_NF; i++)
		if (s->p.f[i] != 0 || signbit(s->p.f[i])) {
			fprintf(f, "%s%s = ", *sep ? sep : "\n\t.f = {", idx(fname, i));
			put_float(f, s->p.f[i]);
			sep = ", ";
		}
	if (*sep)
		fputs("},", f);
	sep = "";
	for (int i = 0; i < Q8_NP; i++)
		if (s->pblob[i] >= 0) {
			fprintf(f, "%s%s = %s", *sep ? sep : "\n\t.p = {", idx(pname, i), blob_name(p, s->pblob[i]));
			sep = ", ";
		}
	if (*sep)
		fputs("},", f);
	fputs("\n};\n", f);
}

/* ---- the code ---- */

/* An operand as a C expression; body steps see only the arena. */
static char *arg(const Prog *p, const Arg *a, bool in_body, int k)
{
	switch (a->kind) {
	case ARG_NONE: return "0";
	case ARG_ARENA:
		if (a->off < 0 || a->off >= p->arena_size)
			die("emit_c: step %d: arena offset %lld outside the arena (%lld bytes)", k,
			    (long long)a->off, (long long)p->arena_size);
		return fmt("A + %lld", (long long)a->off);
	case ARG_BLOB: return blob_name(p, a->idx);
	case ARG_INPUT:
	case ARG_OUTPUT:
		if (in_body)
			die("emit_c: step %d of the int8 body reads or writes a float %s", k,
			    a->kind == ARG_INPUT ? "input" : "output");
		if (a->idx < 0 || a->idx >= (a->kind == ARG_INPUT ? p->nin : p->nout))
			die("emit_c: step %d: %s %d does not exist", k,
			    a->kind == ARG_INPUT ? "input" : "output", a->idx);
		return fmt("%s[%d]", a->kind == ARG_INPUT ? "inputs" : "outputs", a->idx);
	}
	die("emit_c: step %d: bad operand kind %d", k, (int)a->kind);
}

static bool uses(const Prog *p, int from, int to, ArgKind k)
{
	for (int i = from; i < to; i++)
		if (p->steps[i].a.kind == k || p->steps[i].b.kind == k || p->steps[i].y.kind == k)
			return true;
	return false;
}

static void put_steps(FILE *f, const Prog *p, int from, int to, bool in_body)
{
	for (int k = from; k < to; k++) {
		const Step *s = &p->steps[k];
		fprintf(f, "\t/* %d: %s */\n", k, comment(s->what));
		fprintf(f, "\tq8k_%s(&step%d, %s, %s, %s);\n", s->kernel, k, arg(p, &s->a, in_body, k),
			arg(p, &s->b, in_body, k), arg(p, &s->y, in_body, k));
	}
}

/* NAME_run_parallel: every step, those with tasks through q8_par
   (runtime/par.h) and the caller's parallel_for, the others whole */
static void put_run_parallel(FILE *f, const Prog *p)
{
	const char *n = p->name;
	fprintf(f, "\nint %s_run_parallel(const float *const inputs[], float *const outputs[], void *arena,\n"
		   "\tvoid (*parallel_for)(void *ctx, void (*task)(void *arg, size_t i), void *arg, size_t n), void *ctx)\n{\n"
		   "\tunsigned char *A = arena;\n", n);
	bool par = false;
	for (int k = 0; k < p->nsteps; k++) {
		const Step *s = &p->steps[k];
		const char *a = arg(p, &s->a, false, k), *b = arg(p, &s->b, false, k), *y = arg(p, &s->y, false, k);
		fprintf(f, "\t/* %d: %s */\n", k, comment(s->what));
		if (s->ntasks > 1) {
			fprintf(f, "\tq8_par(&step%d, q8k_%s, %s, %s, %s, %d, %d, parallel_for, ctx);\n", k, s->kernel, a, b,
				y, (int)s->split, s->ntasks);
			par = true;
		} else {
			fprintf(f, "\tq8k_%s(&step%d, %s, %s, %s);\n", s->kernel, k, a, b, y);
		}
	}
	if (!uses(p, 0, p->nsteps, ARG_INPUT))
		fputs("\t(void)inputs;\n", f);
	if (!uses(p, 0, p->nsteps, ARG_OUTPUT))
		fputs("\t(void)outputs;\n", f);
	if (!par)
		fputs("\t(void)parallel_for;\n\t(void)ctx;\n", f);
	fputs("\t(void)A;\n\treturn 0;\n}\n", f);
}

static void write_c(FILE *f, const Prog *p)
{
	const char *n = p->name, *tname = p->target ? p->target->name : "?";
	int bb = p->is_float ? 0 : p->body_begin, be = p->is_float ? p->nsteps : p->body_end;
	if (bb < 0 || bb > be || be > p->nsteps)
		die("emit_c: body [%d, %d) outside the %d steps", bb, be, p->nsteps);

	fprintf(f, "/* %s.c: generated by q8c %s for target %s; do not edit.\n"
		   "   The %s model %s as %d kernel calls over an arena of %lld bytes;\n"
		   "   see %s.h for the interface.  Build: cc -O2 -c %s.c (flags per\n"
		   "   target in q8c's docs/generated-code.md). */\n",
		n, Q8C_VERSION, tname, p->is_float ? "float" : "int8", n, p->nsteps,
		(long long)p->arena_size, n, n);
	/* q8c run never fuses a * b + c; neither may the target's compiler
	   (gcc in its default GNU mode does, on AArch64 and RISC-V) */
	fputs("#if defined(__clang__)\n#pragma STDC FP_CONTRACT OFF\n"
	      "#elif defined(__GNUC__)\n#pragma GCC optimize(\"fp-contract=off\")\n#endif\n", f);
	fputs("#include <math.h>\n#include <stdint.h>\n#include <string.h>\n", f);
	fprintf(f, "#include \"%s.h\"\n", n);
	put_runtime(f, p);

	fprintf(f, "\n/* ---- %s: constants ---- */\n", n);
	fputs("#if defined(__GNUC__) || defined(__clang__)\n"
	      "#define Q8_ALIGN64 __attribute__((aligned(64)))\n"
	      "#elif __STDC_VERSION__ >= 201112L\n"
	      "#define Q8_ALIGN64 _Alignas(64)\n"
	      "#else\n"
	      "#define Q8_ALIGN64\n"
	      "#endif\n",
	      f);
	/* only the blobs some step reads: select_kernel() leaves the
	   reference layout of a weight it repacked unused */
	bool *used = alloc_array(p->nblobs ? p->nblobs : 1, sizeof *used);
	for (int k = 0; k < p->nsteps; k++) {
		const Step *s = &p->steps[k];
		for (int i = 0; i < Q8_NP; i++)
			if (s->pblob[i] >= 0)
				used[blob_index(p, s->pblob[i])] = true;
		const Arg *a[3] = {&s->a, &s->b, &s->y};
		for (int i = 0; i < 3; i++)
			if (a[i]->kind == ARG_BLOB)
				used[blob_index(p, a[i]->idx)] = true;
	}
	for (int k = 0; k < p->nblobs; k++)
		if (used[k])
			put_blob(f, p, k);

	fprintf(f, "\n/* ---- %s: kernel parameters, one per step ---- */\n", n);
	for (int k = 0; k < p->nsteps; k++) {
		fprintf(f, "/* %d: %s */\n", k, comment(p->steps[k].what));
		put_params(f, p, k);
	}

	fprintf(f, "\n/* ---- %s: the steps ---- */\n", n);
	if (p->is_float) {
		fprintf(f, "static void %s_body(const float *const inputs[], float *const outputs[], unsigned char *A)\n{\n", n);
		put_steps(f, p, 0, p->nsteps, false);
		fprintf(f, "\t(void)inputs;\n\t(void)outputs;\n\t(void)A;\n}\n\nint %s_run(const float *const inputs[], float *const outputs[], void *arena)\n{\n"
			   "\t%s_body(inputs, outputs, arena);\n\treturn 0;\n}\n",
			n, n);
		put_run_parallel(f, p);
		return;
	}
	fprintf(f, "/* the int8 graph: steps [%d, %d) */\nstatic void %s_body(unsigned char *A)\n{\n", bb, be, n);
	put_steps(f, p, bb, be, true);
	if (bb == be)
		fputs("\t(void)A;\n", f);
	fputs("}\n\n", f);

	fprintf(f, "int %s_run(const float *const inputs[], float *const outputs[], void *arena)\n{\n"
		   "\tunsigned char *A = arena;\n", n);
	put_steps(f, p, 0, bb, false);
	fprintf(f, "\t%s_body(A);\n", n);
	put_steps(f, p, be, p->nsteps, false);
	if (!uses(p, 0, bb, ARG_INPUT) && !uses(p, be, p->nsteps, ARG_INPUT))
		fputs("\t(void)inputs;\n", f);
	if (!uses(p, 0, bb, ARG_OUTPUT) && !uses(p, be, p->nsteps, ARG_OUTPUT))
		fputs("\t(void)outputs;\n", f);
	fputs("\treturn 0;\n}\n\n", f);

	fprintf(f, "int %s_run_int8(const int8_t *const inputs[], int8_t *const outputs[], void *arena)\n{\n"
		   "\tunsigned char *A = arena;\n", n);
	for (int k = 0; k < p->nin; k++) {
		const IoBuf *b = &p->in_q[k];
		if (b->off < 0 || b->off + b->bytes > p->arena_size)
			die("emit_c: int8 input %d outside the arena", k);
		fprintf(f, "\tmemcpy(A + %lld, inputs[%d], %lld);\n", (long long)b->off, k, (long long)b->bytes);
	}
	fprintf(f, "\t%s_body(A);\n", n);
	for (int k = 0; k < p->nout; k++) {
		const IoBuf *b = &p->out_q[k];
		if (b->off < 0 || b->off + b->bytes > p->arena_size)
			die("emit_c: int8 output %d outside the arena", k);
		fprintf(f, "\tmemcpy(outputs[%d], A + %lld, %lld);\n", k, (long long)b->off, (long long)b->bytes);
	}
	if (!p->nin)
		fputs("\t(void)inputs;\n", f);
	if (!p->nout)
		fputs("\t(void)outputs;\n", f);
	fputs("\treturn 0;\n}\n", f);
	put_run_parallel(f, p);
}

void emit_c(const Prog *p, const char *dir)
{
	char *path = fmt("%s/%s.c", dir, p->name), *tmp = fmt("%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		fatal("%s: cannot write: %s", tmp, strerror(errno));
	write_c(f, p);
	if (ferror(f) | fclose(f)) {
		remove(tmp);
		fatal("%s: write failed: %s", tmp, strerror(errno));
	}
	if (rename(tmp, path) != 0)
		fatal("%s: cannot write: %s", path, strerror(errno));
}
