/* The LLVM emitter on hand-built programs: emit an object, link it with
   a small C driver, run it (natively, or under qemu for the other
   architectures) and compare with values computed by hand from the
   kernel contracts in runtime/q8rt.h and ir/ir.h.  Also: the internal
   errors exit 2 with a message, and two models link into one program. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "codegen/lower.h"

extern int emit_llvm_break_module; /* codegen/emit_llvm.c */

static const Target host = {TG_X86_64, "x86-64", "x86_64-unknown-linux-gnu", "x86-64", "", "ref", false};

/* ---- helpers ---- */

static char *scratch(void)
{
	char *d = xstrdup("/tmp/q8c-test-llvm-XXXXXX");
	assert_non_null(mkdtemp(d));
	return d;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = alloc(1 << 20);
	size_t n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

/* runs a shell command, returns its exit status and its stdout+stderr */
static int sh(char **out, const char *f, ...) __attribute__((format(printf, 2, 3)));
static int sh(char **out, const char *f, ...)
{
	char cmd[4096], *log = xstrdup("/tmp/q8c-test-llvm-log-XXXXXX");
	int fd = mkstemp(log);
	assert_true(fd >= 0);
	close(fd);
	va_list ap;
	va_start(ap, f);
	vsnprintf(cmd, sizeof cmd, f, ap);
	va_end(ap);
	int st = system(fmt("(%s) >%s 2>&1", cmd, log));
	char *text = read_file(log);
	remove(log);
	if (out)
		*out = text;
	else if (st != 0)
		print_error("command failed: %s\n%s\n", cmd, text);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static bool file_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* ---- the programs ---- */

static int addblob(Prog *p, const char *name, Dtype dt, int64_t n, const void *data)
{
	void *copy = alloc_array((size_t)n, dtype_size(dt));
	memcpy(copy, data, (size_t)n * dtype_size(dt));
	PUSH(p->blobs, p->nblobs) = (Blob){xstrdup(name), dt, n, copy};
	return p->nblobs - 1;
}

static Step *addstep(Prog *p, const char *kernel, Arg a, Arg b, Arg y)
{
	Step *s = &PUSH(p->steps, p->nsteps);
	memset(s, 0, sizeof *s);
	s->kernel = kernel;
	for (int k = 0; k < Q8_NP; k++)
		s->pblob[k] = -1;
	s->a = a, s->b = b, s->y = y;
	s->what = kernel;
	return s;
}

static IoBuf *iobuf(int64_t off, int64_t bytes, Dtype dt, double scale, int32_t zp)
{
	IoBuf *b = alloc(sizeof *b);
	*b = (IoBuf){NULL, off, bytes, dt, scale, zp};
	return b;
}

/* An int8 dense layer, x [2][3] -> y [2][2], per-channel requantize:
       acc[n][o] = B[o] + sum_k x[n][k] * W[o][k]
       y = clamp(5 + rq(acc, mult[o], shift[o]), -100, 127)
   channel 0: M = 0.25 (mult 2^30, shift -1); channel 1: M = 0.1
   (frexp(0.1) = 0.8 * 2^-3: mult round(0.8 * 2^31) = 1717986918, shift -3).
   The int8 body is this one step; its input sits at arena offset 0, its
   output at 64.  NAME_run wraps it in a quantize of the float input
   (scale 0.5, zero point 0) and a dequantize of the output (scale 0.25,
   zero point 5), straight from inputs[0] and into outputs[0]. */
static Prog *dense_prog(const char *name, const Target *t)
{
	static const int8_t w[6] = {1, 2, 3, -4, 5, -6};
	static const int32_t bias[2] = {100, -50}, mult[2] = {1 << 30, 1717986918}, shift[2] = {-1, -3};
	Prog *p = alloc(sizeof *p);
	p->name = xstrdup(name);
	p->target = t;
	int bw = addblob(p, "w", DT_I8, 6, w), bb = addblob(p, "bias", DT_I32, 2, bias);
	int bm = addblob(p, "mult", DT_I32, 2, mult), bs = addblob(p, "shift", DT_I32, 2, shift);
	Step *s = addstep(p, "quantize", (Arg){ARG_INPUT, 0, 0}, (Arg){ARG_NONE, 0, 0},
	                  (Arg){ARG_ARENA, 0, 0});
	s->p.i[Q8_OUTER] = 1, s->p.i[Q8_LEN] = 1, s->p.i[Q8_INNER] = 6, s->p.i[Q8_NQ] = 1;
	s->p.i[Q8_YDT] = Q8_DT_I8, s->p.i[Q8_YZP] = 0, s->p.f[Q8F_SCALE] = 0.5f;
	s = addstep(p, "dense_i8", (Arg){ARG_ARENA, 0, 0}, (Arg){ARG_NONE, 0, 0},
	            (Arg){ARG_ARENA, 64, 0});
	int32_t *i = s->p.i;
	i[Q8_N] = 2, i[Q8_H] = 1, i[Q8_W] = 1, i[Q8_C] = 3;
	i[Q8_OH] = 1, i[Q8_OW] = 1, i[Q8_OC] = 2;
	i[Q8_KH] = 1, i[Q8_KW] = 1, i[Q8_SH] = 1, i[Q8_SW] = 1, i[Q8_DH] = 1, i[Q8_DW] = 1;
	i[Q8_GROUPS] = 1, i[Q8_YZP] = 5, i[Q8_LO] = -100, i[Q8_HI] = 127, i[Q8_NRQ] = 2;
	s->pblob[Q8P_W] = bw, s->pblob[Q8P_B] = bb, s->pblob[Q8P_MULT] = bm, s->pblob[Q8P_SHIFT] = bs;
	s = addstep(p, "dequantize", (Arg){ARG_ARENA, 64, 0}, (Arg){ARG_NONE, 0, 0},
	            (Arg){ARG_OUTPUT, 0, 0});
	s->p.i[Q8_OUTER] = 1, s->p.i[Q8_LEN] = 1, s->p.i[Q8_INNER] = 4, s->p.i[Q8_NQ] = 1;
	s->p.i[Q8_ADT] = Q8_DT_I8, s->p.i[Q8_AZP] = 5, s->p.f[Q8F_SCALE] = 0.25f;
	p->body_begin = 1, p->body_end = 2;
	p->arena_size = 128;
	p->nin = p->nout = 1;
	p->in_f = iobuf(-1, 6 * 4, DT_F32, 0, 0);
	p->out_f = iobuf(-1, 4 * 4, DT_F32, 0, 0);
	p->in_q = iobuf(0, 6, DT_I8, 0.5, 0);
	p->out_q = iobuf(64, 4, DT_I8, 0.25, 5);
	return p;
}

static const char dense_driver[] =
	"#include <stdio.h>\n"
	"#include \"NAME.h\"\n"
	"static _Alignas(64) unsigned char arena[NAME_ARENA_SIZE];\n"
	"int main(void) {\n"
	"\tint8_t x[6] = {10, -20, 30, 127, -128, 0}, y[4];\n"
	"\tconst int8_t *in[1] = {x};\n"
	"\tint8_t *out[1] = {y};\n"
	"\tif (NAME_run_int8(in, out, arena) != 0) return 1;\n"
	"\tprintf(\"%d %d %d %d\\n\", y[0], y[1], y[2], y[3]);\n"
	"\tfloat fx[6] = {5.0f, -10.0f, 15.0f, 63.5f, -64.0f, 0.0f}, fy[4];\n"
	"\tconst float *fin[1] = {fx};\n"
	"\tfloat *fout[1] = {fy};\n"
	"\tif (NAME_run(fin, fout, arena) != 0) return 1;\n"
	"\tprintf(\"%g %g %g %g\\n\", fy[0], fy[1], fy[2], fy[3]);\n"
	"\treturn 0;\n"
	"}\n";

/* by hand: acc = [[160, -370], [-29, -1198]]
   ch 0: rq(160) = (160 * 2^30 + 2^31) >> 32 = 40; rq(-29) = floor(-7.25 + 0.5) = -7
   ch 1: rq(-370) = floor(-36.99999999 + 0.5) = -37; rq(-1198) = -120
   y = 5 + rq, clamped to [-100, 127].
   NAME_run: the float input / 0.5 is the int8 input above, and
   0.25 * (y - 5) = [10, -9.25, -1.75, -26.25]. */
static const char dense_want[] = "45 -32 -2 -100\n10 -9.25 -1.75 -26.25\n";

static char *subst_name(const char *text, const char *name)
{
	char *out = xstrdup("");
	for (const char *s = text; *s;) {
		const char *hit = strstr(s, "NAME");
		if (!hit)
			return fmt("%s%s", out, s);
		out = fmt("%s%.*s%s", out, (int)(hit - s), s, name);
		s = hit + 4;
	}
	return out;
}

/* how to link and run a program for each target on this x86-64 host */
typedef struct {
	const char *cc, *run;
} Toolchain;

static Toolchain toolchain(const Target *t)
{
	switch (t->kind) {
	case TG_AARCH64:
	case TG_AARCH64_DOTPROD:
		return (Toolchain){"aarch64-linux-gnu-gcc", "qemu-aarch64 -L /usr/aarch64-linux-gnu"};
	case TG_RISCV64:
		return (Toolchain){"riscv64-linux-gnu-gcc", "qemu-riscv64 -L /usr/riscv64-linux-gnu"};
	case TG_RISCV64_V:
		return (Toolchain){"riscv64-linux-gnu-gcc",
		                   "qemu-riscv64 -L /usr/riscv64-linux-gnu -cpu rv64,v=true,vext_spec=v1.0,vlen=128"};
	default:
		return (Toolchain){"cc", ""};
	}
}

/* emits p into a fresh directory, links it with the driver, returns the
   program's output */
static char *build_and_run(Prog *p, const char *driver)
{
	char *d = scratch();
	emit_llvm(p, d);
	assert_true(file_exists(fmt("%s/%s.o", d, p->name)));
	assert_true(file_exists(fmt("%s/%s.ll", d, p->name)));
	assert_true(file_exists(fmt("%s/%s.h", d, p->name)));
	write_file(fmt("%s/main.c", d), subst_name(driver, p->name));
	Toolchain tc = toolchain(p->target);
	assert_int_equal(sh(NULL, "%s -O2 -I%s %s/main.c %s/%s.o -lm -o %s/prog", tc.cc, d, d, d, p->name, d), 0);
	char *out;
	int st = sh(&out, "%s %s/prog", tc.run, d);
	if (st != 0)
		print_error("%s/prog exited %d: %s\n", d, st, out);
	assert_int_equal(st, 0);
	sh(NULL, "rm -rf %s", d);
	return out;
}

/* ---- tests ---- */

static void dense_int8_host(void **state)
{
	(void)state;
	assert_string_equal(build_and_run(dense_prog("t", &host), dense_driver), dense_want);
}

/* The .ll holds both entry points and one q8_params constant per step;
   the object exports exactly the entry points. */
static void module_shape(void **state)
{
	(void)state;
	char *d = scratch();
	emit_llvm(dense_prog("shape", &host), d);
	char *ll = read_file(fmt("%s/shape.ll", d));
	assert_non_null(ll);
	assert_non_null(strstr(ll, "define i32 @shape_run(ptr"));
	assert_non_null(strstr(ll, "define i32 @shape_run_int8(ptr"));
	assert_non_null(strstr(ll, "target triple = \"x86_64-unknown-linux-gnu\""));
	char *syms;
	assert_int_equal(sh(&syms, "nm --defined-only --extern-only %s/shape.o | awk '{print $3}' | sort", d), 0);
	assert_string_equal(syms, "shape_run\nshape_run_int8\nshape_run_parallel\n");
	sh(NULL, "rm -rf %s", d);
}

/* a float program: y = x + b (add_f32, same shape) straight from the
   float input to the float output; no int8 entry point */
static void float_add(void **state)
{
	(void)state;
	static const float b[4] = {0.25f, 0.5f, -1.0f, 10.0f};
	Prog *p = alloc(sizeof *p);
	p->name = "fadd";
	p->target = &host;
	p->is_float = true;
	int bi = addblob(p, "b", DT_F32, 4, b);
	Step *s = addstep(p, "add_f32", (Arg){ARG_INPUT, 0, 0}, (Arg){ARG_BLOB, 0, bi},
	                  (Arg){ARG_OUTPUT, 0, 0});
	s->p.i[Q8_COUNT] = 4, s->p.i[Q8_BMODE] = 0, s->p.i[Q8_C] = 4;
	s->p.i[Q8_N] = s->p.i[Q8_H] = s->p.i[Q8_W] = 1;
	p->arena_size = 64;
	p->nin = p->nout = 1;
	p->in_f = iobuf(-1, 16, DT_F32, 0, 0);
	p->out_f = iobuf(-1, 16, DT_F32, 0, 0);
	static const char drv[] =
		"#include <stdio.h>\n"
		"#include \"NAME.h\"\n"
		"static _Alignas(64) unsigned char arena[NAME_ARENA_SIZE];\n"
		"int main(void) {\n"
		"\tfloat x[4] = {1.5f, -2.0f, 3.25f, 0.0f}, y[4];\n"
		"\tconst float *in[1] = {x};\n"
		"\tfloat *out[1] = {y};\n"
		"\tif (NAME_run(in, out, arena) != 0) return 1;\n"
		"\tprintf(\"%g %g %g %g\\n\", y[0], y[1], y[2], y[3]);\n"
		"\treturn 0;\n"
		"}\n";
	assert_string_equal(build_and_run(p, drv), "1.75 -1.5 2.25 10\n");
	char *d = scratch();
	emit_llvm(p, d);
	char *ll = read_file(fmt("%s/fadd.ll", d));
	assert_null(strstr(ll, "fadd_run_int8"));
	sh(NULL, "rm -rf %s", d);
}

/* Two models in one program: each object carries its own (internal)
   kernels, so nothing clashes at link time. */
static void two_models(void **state)
{
	(void)state;
	char *d = scratch();
	emit_llvm(dense_prog("m1", &host), d);
	emit_llvm(dense_prog("m2", &host), d);
	write_file(fmt("%s/main.c", d),
		"#include <stdio.h>\n#include \"m1.h\"\n#include \"m2.h\"\n"
		"static _Alignas(64) unsigned char a1[m1_ARENA_SIZE], a2[m2_ARENA_SIZE];\n"
		"int main(void) {\n"
		"\tint8_t x[6] = {10, -20, 30, 127, -128, 0}, y1[4], y2[4];\n"
		"\tconst int8_t *in[1] = {x};\n\tint8_t *o1[1] = {y1}, *o2[1] = {y2};\n"
		"\tif (m1_run_int8(in, o1, a1) || m2_run_int8(in, o2, a2)) return 1;\n"
		"\tfor (int i = 0; i < 4; i++) printf(\"%d/%d \", y1[i], y2[i]);\n"
		"\treturn 0;\n}\n");
	assert_int_equal(sh(NULL, "cc -O2 -I%s %s/main.c %s/m1.o %s/m2.o -lm -o %s/prog", d, d, d, d, d), 0);
	char *out;
	assert_int_equal(sh(&out, "%s/prog", d), 0);
	assert_string_equal(out, "45/45 -32/-32 -2/-2 -100/-100 ");
	sh(NULL, "rm -rf %s", d);
}

/* Every target of the table: the object is an ELF for the right machine
   (RISC-V: double-float ABI, so that it links with glibc), it links with
   the target's gcc and computes the same numbers under qemu. */
static void every_target(void **state)
{
	(void)state;
	static const struct {
		TargetKind kind;
		const char *machine;
	} want[] = {
		{TG_X86_64, "Advanced Micro Devices X86-64"},
		{TG_X86_64_AVX2, "Advanced Micro Devices X86-64"},
		{TG_X86_64_AVX512, "Advanced Micro Devices X86-64"},
		{TG_AARCH64, "AArch64"},
		{TG_AARCH64_DOTPROD, "AArch64"},
		{TG_RISCV64, "RISC-V"},
		{TG_RISCV64_V, "RISC-V"},
	};
	for (size_t k = 0; k < sizeof want / sizeof *want; k++) {
		const Target *t = &targets[want[k].kind];
		assert_non_null(t->name);
		print_message("target %s\n", t->name);
		char *d = scratch(), *hdr;
		emit_llvm(dense_prog("t", t), d);
		assert_int_equal(sh(&hdr, "readelf -h %s/t.o", d), 0);
		assert_non_null(strstr(hdr, want[k].machine));
		assert_non_null(strstr(hdr, "REL (Relocatable file)"));
		if (t->kind == TG_RISCV64 || t->kind == TG_RISCV64_V)
			assert_non_null(strstr(hdr, "double-float ABI"));
		sh(NULL, "rm -rf %s", d);
		if (t->kind == TG_X86_64_AVX512 && sh(NULL, "grep -q avx512_vnni /proc/cpuinfo") != 0) {
			print_message("SKIP running x86-64-avx512: this host has no avx512vnni\n");
			continue;
		}
		assert_string_equal(build_and_run(dense_prog("t", t), dense_driver), dense_want);
	}
}

/* Internal errors: exit status 2 and a message on stderr, no object.
   Each case runs in a child process, since die() exits. */
enum { BREAK_VERIFY, BREAK_KERNEL, BREAK_BLOB, BREAK_BODY, BREAK_ARENA };

static void expect_die(int how, const char *msg)
{
	char *d = scratch(), *errpath = fmt("%s/stderr", d);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (!freopen(errpath, "w", stderr))
			_exit(99);
		Prog *p = dense_prog("bad", &host);
		switch (how) {
		case BREAK_VERIFY: emit_llvm_break_module = 1; break;
		case BREAK_KERNEL: p->steps[0].kernel = "no_such_kernel"; break;
		case BREAK_BLOB: p->steps[1].pblob[Q8P_MULT] = 7; break;
		case BREAK_BODY: p->steps[1].a = (Arg){ARG_INPUT, 0, 0}; break;
		case BREAK_ARENA: p->out_q[0].off = 126; break;
		}
		emit_llvm(p, d);
		_exit(0);
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 2);
	char *err = read_file(errpath);
	assert_non_null(err);
	if (!strstr(err, msg))
		print_error("stderr: %s\n", err);
	assert_non_null(strstr(err, "q8c: internal error: "));
	assert_non_null(strstr(err, msg));
	assert_false(file_exists(fmt("%s/bad.o", d)));
	sh(NULL, "rm -rf %s", d);
}

static void broken_module_dies(void **state)
{
	(void)state;
	expect_die(BREAK_VERIFY, "does not verify");
	expect_die(BREAK_VERIFY, "does not have terminator");
}

static void bad_programs_die(void **state)
{
	(void)state;
	expect_die(BREAK_KERNEL, "q8k_no_such_kernel");
	expect_die(BREAK_BLOB, "blob 7 out of range");
	expect_die(BREAK_BODY, "int8 body");
	expect_die(BREAK_ARENA, "outside the arena");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(dense_int8_host),
		cmocka_unit_test(module_shape),
		cmocka_unit_test(float_add),
		cmocka_unit_test(two_models),
		cmocka_unit_test(broken_module_dies),
		cmocka_unit_test(bad_programs_die),
		cmocka_unit_test(every_target),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
