/* The C emitter on hand-built programs: emit, compile the output with
   the host and cross compilers, run it, and check the numbers against
   values worked out by hand below. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "codegen/lower.h"

static const Target host = {TG_X86_64, "x86-64", "x86_64-unknown-linux-gnu", "x86-64", "", "ref", false};

static int nblob;
static Blob blobs[16];

static int blob(const char *name, Dtype dt, int64_t n, const void *data)
{
	blobs[nblob] = (Blob){(char *)name, dt, n, data};
	return nblob++;
}

static Step step(const char *kernel, const char *what)
{
	Step s = {0};
	s.kernel = kernel;
	s.what = what;
	for (int i = 0; i < Q8_NP; i++)
		s.pblob[i] = -1;
	return s;
}

static IoBuf io(int64_t off, int64_t bytes, Dtype dt, double scale, int32_t zp)
{
	return (IoBuf){NULL, off, bytes, dt, scale, zp};
}

/* quantize -> dense_i8 -> dequantize, worked by hand:
   x = [0.5, -0.25, 1.0, 0.1015625], scale 1/64, zp 0:
       q = rint(x * 64) = [32, -16, 64, 6]   (6.5 rounds to even)
   W = [[1, 2, -3, 4], [-5, 6, 7, -8]], b = [100, -50]:
       acc = [100 + 32 - 32 - 192 + 24, -50 - 160 - 96 + 448 - 48] = [-68, 94]
   M = [0.5, 0.25] as (2^30, 0) and (2^30, -1):
       rq = [-34, 23.5 -> 24]  (ties toward +infinity)
   y = clamp(-10 + rq, -40, 127) = [-40, 14]
   dequantize, scale 0.125, zp -10: [-3.75, 3.0] */
static const int8_t w_dense[8] = {1, 2, -3, 4, -5, 6, 7, -8};
static const int32_t b_dense[2] = {100, -50};
static const int32_t mult[2] = {1 << 30, 1 << 30}, shift[2] = {0, -1};
static const float in_scale[1] = {1.0f / 64}, out_scale[1] = {0.125f};
static const int32_t in_zp[1] = {0}, out_zp[1] = {-10};

static Prog *int8_prog(const char *name)
{
	nblob = 0;
	int w = blob("w", DT_I8, 8, w_dense), b = blob("b", DT_I32, 2, b_dense);
	int m = blob("mult", DT_I32, 2, mult), s = blob("shift", DT_I32, 2, shift);
	int isc = blob("in.scale", DT_F32, 1, in_scale), izp = blob("in_zp", DT_I32, 1, in_zp);
	int osc = blob("out_scale", DT_F32, 1, out_scale), ozp = blob("out_zp", DT_I32, 1, out_zp);
	/* no step reads it (as after select_kernel repacks a weight): it
	   must not be printed, or -Wall warns about an unused constant */
	blob("unused", DT_I8, 8, w_dense);

	Prog *p = alloc(sizeof *p);
	p->name = name;
	p->target = &host;
	p->steps = alloc_array(3, sizeof *p->steps);
	p->nsteps = 3;
	p->body_begin = 1;
	p->body_end = 2;

	/* the same numbers under every name a kernel might read them by */
	Step *q = &p->steps[0];
	*q = step("quantize", "%xq = quantize(%x)");
	q->p.i[Q8_N] = 1, q->p.i[Q8_H] = 1, q->p.i[Q8_W] = 1, q->p.i[Q8_C] = 4;
	q->p.i[Q8_COUNT] = 4, q->p.i[Q8_NQ] = 1;
	q->p.i[Q8_OUTER] = 1, q->p.i[Q8_LEN] = 4, q->p.i[Q8_INNER] = 1;
	q->p.i[Q8_ADT] = Q8_DT_F32, q->p.i[Q8_YDT] = Q8_DT_I8, q->p.i[Q8_YZP] = 0;
	q->p.i[Q8_LO] = -128, q->p.i[Q8_HI] = 127;
	q->p.f[Q8F_SCALE] = in_scale[0];
	q->pblob[Q8P_SCALE] = isc, q->pblob[Q8P_ZP] = izp;
	q->a = (Arg){ARG_INPUT, 0, 0};
	q->y = (Arg){ARG_ARENA, 0, 0};

	Step *d = &p->steps[1];
	*d = step("dense_i8", "%y = qdense(%xq, @w, @b) /* with a comment */");
	d->p.i[Q8_N] = 1, d->p.i[Q8_H] = 1, d->p.i[Q8_W] = 1, d->p.i[Q8_C] = 4;
	d->p.i[Q8_OH] = 1, d->p.i[Q8_OW] = 1, d->p.i[Q8_OC] = 2;
	d->p.i[Q8_AZP] = 0, d->p.i[Q8_YZP] = -10, d->p.i[Q8_LO] = -40, d->p.i[Q8_HI] = 127;
	d->p.i[Q8_NRQ] = 2;
	d->pblob[Q8P_W] = w, d->pblob[Q8P_B] = b, d->pblob[Q8P_MULT] = m, d->pblob[Q8P_SHIFT] = s;
	d->a = (Arg){ARG_ARENA, 0, 0};
	d->y = (Arg){ARG_ARENA, 64, 0};

	Step *dq = &p->steps[2];
	*dq = step("dequantize", "%o = dequantize(%y)");
	dq->p.i[Q8_N] = 1, dq->p.i[Q8_H] = 1, dq->p.i[Q8_W] = 1, dq->p.i[Q8_C] = 2;
	dq->p.i[Q8_COUNT] = 2, dq->p.i[Q8_NQ] = 1;
	dq->p.i[Q8_OUTER] = 1, dq->p.i[Q8_LEN] = 2, dq->p.i[Q8_INNER] = 1;
	dq->p.i[Q8_ADT] = Q8_DT_I8, dq->p.i[Q8_YDT] = Q8_DT_F32, dq->p.i[Q8_AZP] = -10;
	dq->p.f[Q8F_SCALE] = out_scale[0];
	dq->pblob[Q8P_SCALE] = osc, dq->pblob[Q8P_ZP] = ozp;
	dq->a = (Arg){ARG_ARENA, 64, 0};
	dq->y = (Arg){ARG_OUTPUT, 0, 0};

	p->blobs = blobs;
	p->nblobs = nblob;
	p->arena_size = 128;
	p->nin = p->nout = 1;
	p->in_f = alloc_array(1, sizeof(IoBuf)), p->out_f = alloc_array(1, sizeof(IoBuf));
	p->in_q = alloc_array(1, sizeof(IoBuf)), p->out_q = alloc_array(1, sizeof(IoBuf));
	p->in_f[0] = io(-1, 16, DT_F32, 0, 0);
	p->out_f[0] = io(-1, 8, DT_F32, 0, 0);
	p->in_q[0] = io(0, 4, DT_I8, 1.0 / 64, 0);
	p->out_q[0] = io(64, 2, DT_I8, 0.125, -10);
	return p;
}

/* A float program that copies constants to its outputs bit for bit:
   the hardest floats to print (denormals, -0, 0.1f, FLT_MAX, infinity)
   and INT32_MIN, which C cannot write as a plain literal. */
static float hard_f[8];
static const int32_t hard_i[4] = {INT32_MIN, INT32_MAX, -1, 0};

static Step copy(int from, int out, int n)
{
	Step c = step("copy_slice", "%o = copy");
	c.p.i[Q8_ESIZE] = 4, c.p.i[Q8_OUTER] = 1, c.p.i[Q8_LEN] = n, c.p.i[Q8_INNER] = 1;
	c.p.i[Q8_DLEN] = n, c.p.i[Q8_DOFF] = 0, c.p.i[Q8_COUNT] = n;
	c.a = (Arg){ARG_BLOB, 0, from};
	c.y = (Arg){ARG_OUTPUT, 0, out};
	return c;
}

static Prog *float_prog(const char *name)
{
	uint32_t bits[8] = {0x00000001, 0x80000000, 0x3dcccccd, 0x7f7fffff, 0x00800000, 0xff800000,
			    0xbf7fffff, 0x007fffff};
	memcpy(hard_f, bits, sizeof bits);
	nblob = 0;
	int f = blob("hard_f", DT_F32, 8, hard_f), i = blob("hard_i", DT_I32, 4, hard_i);
	Prog *p = alloc(sizeof *p);
	p->name = name;
	p->is_float = true;
	p->target = &host;
	p->steps = alloc_array(2, sizeof *p->steps);
	p->nsteps = 2;
	p->steps[0] = copy(f, 0, 8);
	p->steps[1] = copy(i, 1, 4);
	p->blobs = blobs;
	p->nblobs = nblob;
	p->arena_size = 0;
	p->nin = 1, p->nout = 2;
	p->in_f = alloc_array(1, sizeof(IoBuf)), p->out_f = alloc_array(2, sizeof(IoBuf));
	p->in_f[0] = io(-1, 4, DT_F32, 0, 0);
	p->out_f[0] = io(-1, 32, DT_F32, 0, 0);
	p->out_f[1] = io(-1, 16, DT_F32, 0, 0);
	return p;
}

/* y = x * w + b with x = w = 1 + 2^-12, b = -(1 + 2^-11): x * w rounds
   to 1 + 2^-11 (the 2^-24 term is a tie, to even), so y = 0; a fused
   multiply-add keeps the 2^-24 and gives 2^-24 instead. */
static const float fma_w[1] = {0x1.001p0f}, fma_b[1] = {-0x1.002p0f};

static Prog *fma_prog(const char *name)
{
	nblob = 0;
	int w = blob("w", DT_F32, 1, fma_w), b = blob("b", DT_F32, 1, fma_b);
	Prog *p = alloc(sizeof *p);
	p->name = name;
	p->is_float = true;
	p->target = &host;
	p->steps = alloc_array(1, sizeof *p->steps);
	p->nsteps = 1;
	Step *d = &p->steps[0];
	*d = step("dense_f32", "%y = dense(%x, @w, @b)");
	d->p.i[Q8_N] = 1, d->p.i[Q8_H] = 1, d->p.i[Q8_W] = 1, d->p.i[Q8_C] = 1, d->p.i[Q8_OC] = 1;
	d->pblob[Q8P_W] = w, d->pblob[Q8P_B] = b;
	d->a = (Arg){ARG_INPUT, 0, 0};
	d->y = (Arg){ARG_OUTPUT, 0, 0};
	p->blobs = blobs;
	p->nblobs = nblob;
	p->nin = p->nout = 1;
	p->in_f = alloc_array(1, sizeof(IoBuf)), p->out_f = alloc_array(1, sizeof(IoBuf));
	p->in_f[0] = io(-1, 4, DT_F32, 0, 0);
	p->out_f[0] = io(-1, 4, DT_F32, 0, 0);
	return p;
}

/* ---- building and running the output ---- */

static char *dirs[32];
static int ndirs;

/* A fresh directory, removed when the tests end. */
static char *tmp(void)
{
	char *d = fmt("/tmp/q8c-emitc-XXXXXX");
	assert_non_null(mkdtemp(d));
	if (ndirs < 32)
		dirs[ndirs++] = d;
	return d;
}

static void emit(const Prog *p, const char *dir)
{
	emit_header(p, dir);
	emit_c(p, dir);
}

/* Runs a command; on failure shows it and the start of its messages. */
static int sh(const char *cmd)
{
	int r = system(fmt("%s >/tmp/q8c-emitc-log 2>&1", cmd));
	if (r != 0) {
		fprintf(stderr, "failed (%d): %s\n", r, cmd);
		if (system("head -c 3000 /tmp/q8c-emitc-log >&2") != 0)
			fprintf(stderr, "(no log)\n");
	}
	return r;
}

static bool have(const char *tool)
{
	return system(fmt("command -v %s >/dev/null 2>&1", tool)) == 0;
}

/* The output of a command, up to 4 KiB. */
static char *capture(const char *cmd)
{
	FILE *f = popen(cmd, "r");
	assert_non_null(f);
	char *buf = alloc(4096);
	size_t n = fread(buf, 1, 4095, f);
	buf[n] = 0;
	assert_int_equal(pclose(f), 0);
	return buf;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static const char *int8_driver =
	"#include <stdio.h>\n"
	"#include <string.h>\n"
	"#include \"m.h\"\n"
	"static _Alignas(64) unsigned char arena[m_ARENA_SIZE];\n"
	"int main(void) {\n"
	"  float x[m_INPUT0_SIZE] = {0.5f, -0.25f, 1.0f, 0.1015625f}, y[m_OUTPUT0_SIZE];\n"
	"  const float *in[1] = {x}; float *out[1] = {y};\n"
	"  memset(arena, 0x55, sizeof arena);\n"
	"  if (m_run(in, out, arena) != 0) return 1;\n"
	"  int8_t xq[4] = {32, -16, 64, 6}, yq[2];\n"
	"  const int8_t *iq[1] = {xq}; int8_t *oq[1] = {yq};\n"
	"  memset(arena, 0xaa, sizeof arena);\n"
	"  if (m_run_int8(iq, oq, arena) != 0) return 1;\n"
	"  printf(\"%a %a %d %d\\n\", y[0], y[1], yq[0], yq[1]);\n"
	"  printf(\"%d %d %d %d %d\\n\", m_NUM_INPUTS, m_NUM_OUTPUTS, m_INPUT0_SIZE, m_OUTPUT0_SIZE, m_ARENA_SIZE);\n"
	"  printf(\"%a %d %a %d\\n\", m_INPUT0_SCALE, m_INPUT0_ZERO_POINT, m_OUTPUT0_SCALE, m_OUTPUT0_ZERO_POINT);\n"
	"  return 0;\n"
	"}\n";

static void check_int8_output(const char *out)
{
	float y0, y1;
	int q0, q1, nin, nout, isz, osz, arena, izp, ozp;
	float is, os;
	assert_int_equal(sscanf(out, "%a %a %d %d %d %d %d %d %d %a %d %a %d", &y0, &y1, &q0, &q1, &nin,
				&nout, &isz, &osz, &arena, &is, &izp, &os, &ozp),
			 13);
	assert_true(y0 == -3.75f && y1 == 3.0f);
	assert_int_equal(q0, -40);
	assert_int_equal(q1, 14);
	assert_int_equal(nin, 1);
	assert_int_equal(nout, 1);
	assert_int_equal(isz, 4);
	assert_int_equal(osz, 2);
	assert_int_equal(arena, 128);
	assert_true(is == 1.0f / 64 && os == 0.125f);
	assert_int_equal(izp, 0);
	assert_int_equal(ozp, -10);
}

static const char *warn = "-Wall -Wextra -Wpedantic -Werror";

/* The int8 program, built with gcc at -std=c99 and c11, runs both entry
   points and gives the hand values. */
static void test_int8_host(void **state)
{
	(void)state;
	char *d = tmp();
	emit(int8_prog("m"), d);
	write_file(fmt("%s/main.c", d), int8_driver);
	/* the driver uses _Alignas: C11; the model alone must also be C99 */
	assert_int_equal(sh(fmt("cc -std=c99 %s -O2 -c %s/m.c -o %s/m99.o", warn, d, d)), 0);
	for (int k = 0; k < 2; k++) {
		const char *cc = k ? "clang-16" : "gcc";
		if (!have(cc))
			continue;
		assert_int_equal(sh(fmt("%s -std=c11 %s -O2 -I%s %s/m.c %s/main.c -lm -o %s/t", cc, warn, d, d, d, d)), 0);
		check_int8_output(capture(fmt("%s/t", d)));
	}
}

/* The same program cross compiled and run under qemu. */
static void test_int8_cross(void **state)
{
	(void)state;
	char *d = tmp();
	emit(int8_prog("m"), d);
	write_file(fmt("%s/main.c", d), int8_driver);
	int ran = 0;
	if (have("aarch64-linux-gnu-gcc") && have("qemu-aarch64")) {
		assert_int_equal(sh(fmt("aarch64-linux-gnu-gcc -std=c11 %s -O2 -I%s %s/m.c %s/main.c -lm -o %s/a64",
					warn, d, d, d, d)),
				 0);
		check_int8_output(capture(fmt("qemu-aarch64 -L /usr/aarch64-linux-gnu %s/a64", d)));
		ran++;
	}
	if (have("clang-16") && have("qemu-riscv64")) {
		assert_int_equal(sh(fmt("clang-16 --target=riscv64-linux-gnu -march=rv64gc -fuse-ld=bfd -std=c11 %s -O2 "
					"-I%s %s/m.c %s/main.c -lm -o %s/rv",
					warn, d, d, d, d)),
				 0);
		check_int8_output(capture(fmt("qemu-riscv64 -L /usr/riscv64-linux-gnu %s/rv", d)));
		ran++;
	}
	if (!ran)
		skip();
}

/* The program for each target with a kernel file: the runtime/<isa>.c
   text pasted in must build warning-free with the target's compiler and
   leave the numbers alone (the steps call portable kernels here). */
static void test_isa_files(void **state)
{
	(void)state;
	static const struct {
		TargetKind k;
		const char *cc, *ld, *run, *cpu; /* cpu: a /proc/cpuinfo flag the host needs */
	} t[] = {
		{TG_X86_64_AVX2, "gcc", "", "", "avx2"},
		{TG_X86_64_AVX512, "gcc", "", "", "avx512_vnni"},
		{TG_AARCH64, "aarch64-linux-gnu-gcc", "", "qemu-aarch64 -L /usr/aarch64-linux-gnu", NULL},
		{TG_AARCH64_DOTPROD, "aarch64-linux-gnu-gcc", "", "qemu-aarch64 -L /usr/aarch64-linux-gnu", NULL},
		{TG_RISCV64_V, "clang-16 --target=riscv64-linux-gnu -march=rv64gcv", "-fuse-ld=bfd",
		 "qemu-riscv64 -L /usr/riscv64-linux-gnu -cpu rv64,v=true,vext_spec=v1.0,vlen=128", NULL},
	};
	int ran = 0;
	for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
		const char *cc1 = fmt("%.*s", (int)strcspn(t[i].cc, " "), t[i].cc);
		if (!have(cc1) || (*t[i].run && !have(fmt("%.*s", (int)strcspn(t[i].run, " "), t[i].run))))
			continue;
		char *d = tmp();
		Prog *p = int8_prog("m");
		p->target = &targets[t[i].k];
		emit(p, d);
		write_file(fmt("%s/main.c", d), int8_driver);
		assert_int_equal(sh(fmt("%s %s -std=c11 %s -O2 -I%s %s/m.c %s/main.c -lm -o %s/t", t[i].cc, t[i].ld, warn,
					d, d, d, d)),
				 0);
		/* the kernel file adds no global symbol: two models still link */
		if (have("llvm-nm-16")) {
			assert_int_equal(sh(fmt("%s -std=c11 -O2 -I%s -c %s/m.c -o %s/m.o", t[i].cc, d, d, d)), 0);
			char *g = capture(fmt("llvm-nm-16 --defined-only --extern-only --format=just-symbols %s/m.o | sort | tr '\\n' ' '", d));
			if (strcmp(g, "m_run m_run_int8 m_run_parallel ") != 0)
				fail_msg("%s: global symbols %s", targets[t[i].k].name, g);
		}
		if (t[i].cpu && system(fmt("grep -qw %s /proc/cpuinfo", t[i].cpu)) != 0)
			continue;
		check_int8_output(capture(fmt("%s %s/t", t[i].run, d)));
		ran++;
	}
	if (!ran)
		skip();
}

/* Float steps give q8c run's bits even where the target has a fused
   multiply-add and the compiler (gcc in GNU mode, clang) would use it. */
static void test_no_fma_contraction(void **state)
{
	(void)state;
	static const struct {
		const char *cc, *run;
	} t[] = {
		{"cc", ""},
		{"aarch64-linux-gnu-gcc", "qemu-aarch64 -L /usr/aarch64-linux-gnu"},
		{"clang-16 --target=aarch64-linux-gnu", "qemu-aarch64 -L /usr/aarch64-linux-gnu"},
		{"clang-16 --target=riscv64-linux-gnu -march=rv64gc -fuse-ld=bfd", "qemu-riscv64 -L /usr/riscv64-linux-gnu"},
	};
	char *d = tmp();
	emit(fma_prog("f"), d);
	write_file(fmt("%s/main.c", d),
		   "#include <stdio.h>\n#include \"f.h\"\n"
		   "int main(void) {\n"
		   "  float x[1] = {0x1.001p0f}, y[1];\n"
		   "  const float *in[1] = {x}; float *out[1] = {y};\n"
		   "  f_run(in, out, 0);\n"
		   "  printf(\"%a\\n\", y[0]);\n"
		   "  return 0;\n}\n");
	int ran = 0;
	for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
		if (!have(fmt("%.*s", (int)strcspn(t[i].cc, " "), t[i].cc)) ||
		    (*t[i].run && !have(fmt("%.*s", (int)strcspn(t[i].run, " "), t[i].run))))
			continue;
		/* no -std: GNU mode, where gcc contracts by default */
		assert_int_equal(sh(fmt("%s -O2 -Wall -Wextra -I%s %s/f.c %s/main.c -lm -o %s/t", t[i].cc, d, d, d, d)), 0);
		char *out = capture(fmt("%s %s/t", t[i].run, d));
		float y = 1;
		assert_int_equal(sscanf(out, "%a", &y), 1);
		if (y != 0.0f)
			fail_msg("%s: y = %a, not 0: a fused multiply-add", t[i].cc, (double)y);
		ran++;
	}
	assert_true(ran > 0);
}

/* Constants come back bit for bit, and two models link into one
   program (everything but the NAME_run* entry points is static). */
static void test_float_bits_and_two_models(void **state)
{
	(void)state;
	char *d = tmp();
	emit(float_prog("f"), d);
	emit(int8_prog("m"), d);
	/* a float program has no int8 entry point or int8 interface */
	char *h = capture(fmt("cat %s/f.h", d));
	assert_null(strstr(h, "run_int8"));
	assert_null(strstr(h, "SCALE"));
	assert_non_null(strstr(h, "int f_run(const float *const inputs[], float *const outputs[], void *arena);"));
	write_file(fmt("%s/main.c", d),
		   "#include <stdio.h>\n#include <string.h>\n#include <stdint.h>\n"
		   "#include \"f.h\"\n#include \"m.h\"\n"
		   "static _Alignas(64) unsigned char arena[m_ARENA_SIZE];\n"
		   "int main(void) {\n"
		   "  float x[1] = {0}, y0[f_OUTPUT0_SIZE], y1[f_OUTPUT1_SIZE];\n"
		   "  const float *in[1] = {x}; float *out[2] = {y0, y1};\n"
		   "  if (f_NUM_OUTPUTS != 2 || f_run(in, out, arena)) return 1;\n"
		   "  uint32_t b[12]; memcpy(b, y0, 32); memcpy(b + 8, y1, 16);\n"
		   "  for (int i = 0; i < 12; i++) printf(\"%08x \", (unsigned)b[i]);\n"
		   "  float xm[4] = {0.5f, -0.25f, 1.0f, 0.1015625f}, ym[2];\n"
		   "  const float *im[1] = {xm}; float *om[1] = {ym};\n"
		   "  m_run(im, om, arena);\n"
		   "  printf(\"%a %a\\n\", ym[0], ym[1]);\n"
		   "  return 0;\n}\n");
	assert_int_equal(sh(fmt("cc -std=c11 %s -O2 -I%s %s/f.c %s/m.c %s/main.c -lm -o %s/t", warn, d, d, d, d, d)), 0);
	char *out = capture(fmt("%s/t", d));
	unsigned b[12];
	float y0, y1;
	assert_int_equal(sscanf(out, "%x %x %x %x %x %x %x %x %x %x %x %x %a %a", &b[0], &b[1], &b[2], &b[3], &b[4],
				&b[5], &b[6], &b[7], &b[8], &b[9], &b[10], &b[11], &y0, &y1),
			 14);
	unsigned want[12] = {0x00000001, 0x80000000, 0x3dcccccd, 0x7f7fffff, 0x00800000, 0xff800000,
			     0xbf7fffff, 0x007fffff, 0x80000000, 0x7fffffff, 0xffffffff, 0};
	for (int i = 0; i < 12; i++)
		assert_int_equal(b[i], want[i]);
	assert_true(y0 == -3.75f && y1 == 3.0f);
}

/* The generated file reads like the lowered program: enum names in the
   params, 64-byte aligned constants, a comment per step, one external
   symbol per entry point. */
static void test_text(void **state)
{
	(void)state;
	char *d = tmp();
	emit(int8_prog("m"), d);
	static const char *const want[] = {
		"Q8_ALIGN64 static const int8_t b0_w\\[8\\] = \\{",
		"\\[Q8_OC\\] = 2",
		"\\[Q8P_MULT\\] = b2_mult",
		"\\[Q8_YDT\\] = Q8_DT_I8",
		"^\t/\\* 1: .y = qdense",
		"^\tq8k_dense_i8\\(&step1, A \\+ 0, 0, A \\+ 64\\);",
		"^\tmemcpy\\(outputs\\[0\\], A \\+ 64, 2\\);",
		"b4_in_scale\\[1\\] = \\{",
	};
	for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
		char *n = capture(fmt("grep -cP '%s' %s/m.c || true", want[i], d));
		if (atoi(n) < 1)
			fail_msg("m.c has no line matching %s", want[i]);
	}
	assert_int_equal(sh(fmt("cc -std=c11 -c %s/m.c -o %s/m.o", d, d)), 0);
	/* only the entry points are global, everything else is local */
	char *g = capture(fmt("nm %s/m.o | awk '$2 ~ /[A-Z]/ && $2 != \"U\" {print $3}' | sort | tr '\\n' ' '", d));
	assert_string_equal(g, "m_run m_run_int8 m_run_parallel ");
}

/* A header scale prints with 9 significant digits and reads back as
   the same float; a whole-number scale still gets a decimal point. */
static void test_header_scales(void **state)
{
	(void)state;
	char *d = tmp();
	Prog *p = int8_prog("m");
	p->in_q[0].scale = 0.1;   /* not exact in binary */
	p->out_q[0].scale = 256;  /* "256f" would not be C */
	emit_header(p, d);
	char *h = capture(fmt("cat %s/m.h", d));
	assert_non_null(strstr(h, "#define m_INPUT0_SCALE       0.100000001f"));
	assert_non_null(strstr(h, "#define m_OUTPUT0_SCALE      256.0f"));
	assert_non_null(strstr(h, "#define m_OUTPUT0_ZERO_POINT (-10)"));
	assert_non_null(strstr(h, "extern \"C\""));
	assert_non_null(strstr(h, "#ifndef m_H"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_int8_host),
		cmocka_unit_test(test_int8_cross),
		cmocka_unit_test(test_isa_files),
		cmocka_unit_test(test_no_fma_contraction),
		cmocka_unit_test(test_float_bits_and_two_models),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_header_scales),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	for (int i = 0; i < ndirs; i++)
		if (system(fmt("rm -rf '%s'", dirs[i])) != 0)
			fprintf(stderr, "cannot remove %s\n", dirs[i]);
	return r;
}
