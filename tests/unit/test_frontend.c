/* The frontend and the printer: golden round trips (tests/golden), the
   error corpus (tests/errors), the conformance models, shape inference
   on hand-built ops, .npy reading and writing, number round trips.
   Runs in tests/ (paths are relative to it). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "ir.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SHARED "../../shared"

/* ---- helpers ---- */

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s", path);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *s = alloc((size_t)n + 1);
	assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	if (len)
		*len = (size_t)n;
	return s;
}

static void spit(const char *path, const char *text)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static char *print_str(Graph *g, const char *dir, const char *prefix)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	assert_non_null(f);
	print_graph(f, g, dir, prefix);
	fclose(f);
	char *s = xstrdup(buf);
	free(buf);
	return s;
}

/* NULL when parsing failed; the message is in err_msg */
static Graph *try_file(const char *path)
{
	jmp_buf jb;
	Graph *volatile g = NULL;
	err_msg[0] = '\0';
	err_jmp = &jb;
	if (setjmp(jb) == 0)
		g = parse_file(path);
	err_jmp = NULL;
	return g;
}

static Graph *try_text(const char *file, const char *text)
{
	jmp_buf jb;
	Graph *volatile g = NULL;
	err_msg[0] = '\0';
	err_jmp = &jb;
	if (setjmp(jb) == 0)
		g = parse_string(file, text, strlen(text));
	err_jmp = NULL;
	return g;
}

static Graph *must_text(const char *text)
{
	Graph *g = try_text("t.q8", text);
	if (!g)
		fail_msg("unexpected error: %s", err_msg);
	return g;
}

static void expect_error(const char *text, const char *msg)
{
	Graph *g = try_text("t.q8", text);
	if (g || !strstr(err_msg, msg))
		fail_msg("expected an error containing \"%s\", got \"%s\"", msg, g ? "(no error)" : err_msg);
}

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* sorted names in dir ending in ext */
static char **list(const char *dir, const char *ext, int *n)
{
	DIR *d = opendir(dir);
	if (!d)
		fail_msg("cannot open directory %s", dir);
	char **v = NULL;
	*n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name), el = strlen(ext);
		if (l > el && strcmp(e->d_name + l - el, ext) == 0)
			PUSH(v, *n) = xstrdup(e->d_name);
	}
	closedir(d);
	qsort(v, (size_t)*n, sizeof *v, cmp);
	return v;
}

static Value *out(Graph *g, const char *name)
{
	Value *v = graph_find(g, name, false);
	if (!v)
		fail_msg("no value %%%s", name);
	return v;
}

static void dims_are(const Type *t, int rank, ...)
{
	va_list ap;
	va_start(ap, rank);
	assert_int_equal(t->rank, rank);
	for (int i = 0; i < rank; i++)
		assert_int_equal(t->dims[i], va_arg(ap, int));
	va_end(ap);
}

/* ---- golden round trips ---- */

static void test_golden(void **state)
{
	(void)state;
	int n;
	char **names = list("golden", ".q8", &n);
	assert_true(n >= 4);
	for (int i = 0; i < n; i++) {
		char *path = fmt("golden/%s", names[i]);
		char *want = slurp(fmt("golden/%.*s.out", (int)strlen(names[i]) - 3, names[i]), NULL);
		Graph *g = try_file(path);
		if (!g)
			fail_msg("%s: %s", path, err_msg);
		char *p1 = print_str(g, NULL, NULL);
		if (strcmp(p1, want) != 0)
			fail_msg("%s: printed text differs from the .out file:\n%s", path, p1);
		/* the printed text parses back to the same text */
		Graph *g2 = try_text(path, p1);
		if (!g2)
			fail_msg("%s: the printed text does not parse: %s", path, err_msg);
		char *p2 = print_str(g2, NULL, NULL);
		assert_string_equal(p1, p2);
	}
}

/* Large constants go to .npy files beside the dump and read back. */
static void test_dump_npy(void **state)
{
	(void)state;
	char dir[] = "/tmp/q8c-front-XXXXXX";
	assert_non_null(mkdtemp(dir));
	Graph *g = try_file("golden/numbers.q8");
	assert_non_null(g);
	char *text = print_str(g, dir, "03-fold.");
	assert_non_null(strstr(text, "const @big : f32[1, 80] = \"03-fold.big.npy\";\n"));
	assert_non_null(strstr(text, "const @r : f32[6] = [")); /* small ones stay inline */
	char *npy = fmt("%s/03-fold.big.npy", dir);
	struct stat st;
	assert_int_equal(stat(npy, &st), 0);
	assert_int_equal(st.st_size, 128 + 80 * 4); /* header padded to 64: 10 + 118 */
	assert_int_not_equal(access(fmt("%s.tmp", npy), F_OK), 0);
	char *q8 = fmt("%s/dump.q8", dir);
	spit(q8, text);
	Graph *g2 = try_file(q8);
	if (!g2)
		fail_msg("%s", err_msg);
	assert_string_equal(print_str(g2, NULL, NULL), slurp("golden/numbers.out", NULL));
	remove(npy);
	remove(q8);
	rmdir(dir);
}

/* ---- the error corpus: first line "# expect: L:C: text" ---- */

static void test_errors(void **state)
{
	(void)state;
	int n;
	char **names = list("errors", ".q8", &n);
	assert_true(n >= 100);
	int bad = 0;
	for (int i = 0; i < n; i++) {
		char *path = fmt("errors/%s", names[i]);
		char *text = slurp(path, NULL);
		const char *tag = "# expect: ";
		if (strncmp(text, tag, strlen(tag)) != 0)
			fail_msg("%s: no '# expect:' line", path);
		char *e = text + strlen(tag);
		int line, col, used;
		if (sscanf(e, "%d:%d: %n", &line, &col, &used) != 2)
			fail_msg("%s: bad expect line", path);
		char *msg = xstrndup(e + used, strcspn(e + used, "\n"));
		Graph *g = try_file(path);
		if (g)
			fail_msg("%s: parsed without error", path);
		char *head = fmt("%s:%d:%d: error: ", path, line, col);
		if (strncmp(err_msg, head, strlen(head)) != 0 || !strstr(err_msg, msg)) {
			print_error("%s: expected \"%s...%s\", got \"%s\"\n", path, head, msg, err_msg);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

static void test_error_special(void **state)
{
	(void)state;
	expect_error("", "t.q8:1:1: error: model has no input");
	expect_error("# only a comment\n", "t.q8:2:1: error: model has no input");
	expect_error("input %x : f32[1];\n", "t.q8:2:1: error: model has no output");
	/* the exact wording of syntax errors */
	expect_error("input %x : f32[1]\noutput %x;\n", "t.q8:2:1: error: expected ';' before 'output'");
	expect_error("input %x : f32[1];\n%y = relu(%x) output %y;\n", "t.q8:2:15: error: expected ';' before 'output'");
	expect_error("input %x : f32[1];\n%y = relu(%x)", "t.q8:2:14: error: expected ';' before end of file");
	/* the escaped quote is part of the path */
	expect_error("input %x : f32[1];\nconst @c : f32[1] = \"a\\\"b\\\\c.npy\";\n", "cannot open \"a\"b\\c.npy\"");
	/* random bytes in a string are fine until the path is opened */
	expect_error("input %x : f32[1];\nconst @c : f32[1] = \"\xc3\xa9.npy\";\n", "cannot open \"\xc3\xa9.npy\"");
	/* a missing model file is fatal, not error_at */
	assert_null(try_file("errors/no-such-file.q8"));
	assert_non_null(strstr(err_msg, "q8c: error: errors/no-such-file.q8: cannot open"));
	/* an op's result may not be a constant's name's twin problem: % and @ are separate */
	Graph *g = must_text("input %c : f32[1];\nconst @c : f32[1] = 2;\n%d = add(%c, @c);\noutput %d;\n");
	assert_string_equal(g->ops[0]->in[0]->name, "c");
	assert_int_equal(g->ops[0]->in[1]->kind, V_CONST);
	assert_string_equal(g->ops[0]->out->name, "d");
}

/* A symlink inside the model's directory that leads out of it. */
static void test_symlink_escape(void **state)
{
	(void)state;
	char dir[] = "/tmp/q8c-front-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *cwd = getcwd(NULL, 0);
	char *target = fmt("%s/golden/data/w8.npy", cwd);
	free(cwd);
	char *out_link = fmt("%s/out.npy", dir), *in_link = fmt("%s/in.npy", dir), *real = fmt("%s/real.npy", dir);
	assert_int_equal(symlink(target, out_link), 0);
	npy_write(real, DT_I8, 4, (int64_t[]){2, 1, 1, 2}, (int8_t[]){1, 2, 3, 4});
	assert_int_equal(symlink("real.npy", in_link), 0);
	char *q8 = fmt("%s/m.q8", dir);
	spit(q8, "input %x : f32[1];\nconst @w : i8[2, 1, 1, 2] = \"out.npy\";\noutput %x;\n");
	assert_null(try_file(q8));
	assert_non_null(strstr(err_msg, "m.q8:2:29: error: path \"out.npy\" resolves to"));
	assert_non_null(strstr(err_msg, "outside the model's directory"));
	spit(q8, "input %x : f32[1];\nconst @w : i8[2, 1, 1, 2] = \"in.npy\";\noutput %x;\n");
	Graph *g = try_file(q8);
	if (!g)
		fail_msg("%s", err_msg);
	int8_t *d = g->consts[0]->data;
	assert_int_equal(d[0], 1);
	assert_int_equal(d[3], 4);
	remove(out_link);
	remove(in_link);
	remove(real);
	remove(q8);
	rmdir(dir);
}

/* ---- the conformance models and bad models ---- */

static void test_conformance(void **state)
{
	(void)state;
	int n;
	char **dirs = list(SHARED "/conformance/models", "", &n);
	int parsed = 0;
	for (int i = 0; i < n; i++) {
		if (dirs[i][0] == '.')
			continue;
		char *dir = fmt(SHARED "/conformance/models/%s", dirs[i]);
		Graph *g = try_file(fmt("%s/model.q8", dir));
		if (!g)
			fail_msg("%s: %s", dir, err_msg);
		assert_string_equal(g->name, dirs[i]);
		/* the inferred output shape is the reference output's (whose
		   batch dim counts the samples of x.npy) */
		Type t;
		npy_read(fmt("%s/y.npy", dir), NULL, &t);
		Type *y = &g->outputs[0]->type;
		bool same = t.rank == y->rank && y->dims[0] == 1;
		for (int d = 1; same && d < t.rank; d++)
			same = t.dims[d] == y->dims[d];
		if (!same)
			fail_msg("%s: inferred %s, y.npy is %s", dir, type_str(y), type_str(&t));
		/* and it round-trips through the printer */
		char *p1 = print_str(g, NULL, NULL);
		Graph *g2 = try_text(fmt("%s/model.q8", dir), p1);
		if (!g2)
			fail_msg("%s: reprint does not parse: %s", dir, err_msg);
		assert_string_equal(p1, print_str(g2, NULL, NULL));
		parsed++;
	}
	assert_true(parsed >= 20);
	char **bad = list(SHARED "/conformance/bad", ".q8", &n);
	assert_true(n >= 3);
	for (int i = 0; i < n; i++) {
		char *path = fmt(SHARED "/conformance/bad/%s", bad[i]);
		assert_null(try_file(path));
		int l, c;
		if (strncmp(err_msg, path, strlen(path)) != 0 ||
		    sscanf(err_msg + strlen(path), ":%d:%d: error: ", &l, &c) != 2 || l < 1 || c < 1)
			fail_msg("%s: bad error %s", path, err_msg);
	}
}

static void test_examples(void **state)
{
	(void)state;
	const char *models[] = {"../examples/cnn/model.q8", "../examples/cnn/model_qdq.q8",
				"../examples/mlp/model.q8", "../examples/mlp/model_qdq.q8"};
	for (size_t i = 0; i < sizeof models / sizeof *models; i++) {
		Graph *g = try_file(models[i]);
		if (!g)
			fail_msg("%s: %s", models[i], err_msg);
		assert_int_equal(g->noutputs, 1);
		dims_are(&g->outputs[0]->type, 2, 1, 10);
	}
	Graph *g = try_file("../examples/cnn/model_qdq.q8");
	Value *xq = out(g, "x.q");
	assert_int_equal(xq->type.dt, DT_U8);
	assert_non_null(xq->type.q);
	assert_true(xq->type.q->scale[0] == 0.003921568859368563);
	Value *w = out(g, "conv1_w");
	Op *dq = w->def;
	assert_int_equal(dq->a.q.axis, 0);
	assert_int_equal(dq->a.q.n, 16);
	assert_true(dq->a.q.scale[15] == 0.0036776280030608177);
	dims_are(&out(g, "flat")->type, 2, 1, 1568);
}

/* ---- inference on hand-built ops ---- */

static Value *tensor(Dtype dt, int rank, const int64_t *dims)
{
	Type t = {.dt = dt, .rank = rank};
	if (rank)
		memcpy(t.dims, dims, (size_t)rank * sizeof *dims);
	return value_new(V_INPUT, "t", t, (Loc){"h.q8", 1, 1});
}

#define T(dt, ...) tensor(dt, (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (int64_t[]){__VA_ARGS__})

static Op *mk(OpKind k, int nin, ...)
{
	Value *in[8];
	va_list ap;
	va_start(ap, nin);
	for (int i = 0; i < nin; i++)
		in[i] = va_arg(ap, Value *);
	va_end(ap);
	return op_new(NULL, k, in, nin, "y", (Loc){"h.q8", 7, 3});
}

static const char *infer_err(Op *op)
{
	jmp_buf jb;
	err_msg[0] = '\0';
	err_jmp = &jb;
	if (setjmp(jb) == 0) {
		infer_op(op);
		err_jmp = NULL;
		return NULL;
	}
	err_jmp = NULL;
	return err_msg;
}

static void test_infer(void **state)
{
	(void)state;
	/* conv: H = 7, top 1, bottom 2, KH 3, dilation 2, stride 2:
	   floor((7 + 3 - 2*2 - 1) / 2) + 1 = 3; W = 6, pads 0/1, KW 1, stride 1: 7 */
	Op *op = mk(OP_CONV2D, 2, T(DT_F32, 1, 7, 6, 4), T(DT_F32, 8, 3, 1, 2));
	op->a.groups = 2;
	op->a.strides[0] = 2;
	op->a.dilations[0] = 2;
	op->a.pads[0] = 1, op->a.pads[2] = 2, op->a.pads[3] = 1;
	infer_op(op);
	assert_int_equal(op->out->type.dt, DT_F32);
	dims_are(&op->out->type, 4, 1, 3, 7, 8);
	/* depthwise: groups == C, w [C, KH, KW, 1] */
	op = mk(OP_CONV2D, 3, T(DT_F32, 2, 5, 5, 3), T(DT_F32, 3, 3, 3, 1), T(DT_F32, 3));
	op->a.groups = 3;
	infer_op(op);
	dims_are(&op->out->type, 4, 2, 3, 3, 3);
	/* the brief's message */
	op = mk(OP_CONV2D, 2, T(DT_F32, 1, 8, 8, 3), T(DT_F32, 16, 3, 3, 4));
	assert_string_equal(infer_err(op), "h.q8:7:3: error: conv2d: input has 3 channels but weight [16, 3, 3, 4] expects 4 (groups 1)");
	/* pools: size 3, stride 2, pads 1: floor((7 + 2 - 3) / 2) + 1 = 4 */
	op = mk(OP_AVGPOOL, 1, T(DT_F32, 1, 7, 7, 3));
	op->a.size[0] = op->a.size[1] = 3;
	op->a.strides[0] = op->a.strides[1] = 2;
	for (int i = 0; i < 4; i++)
		op->a.pads[i] = 1;
	infer_op(op);
	dims_are(&op->out->type, 4, 1, 4, 4, 3);
	/* i8 pools keep i8 */
	op = mk(OP_MAXPOOL, 1, T(DT_I8, 1, 4, 4, 3));
	op->a.size[0] = op->a.size[1] = op->a.strides[0] = op->a.strides[1] = 2;
	infer_op(op);
	assert_int_equal(op->out->type.dt, DT_I8);
	dims_are(&op->out->type, 4, 1, 2, 2, 3);
	/* dense */
	op = mk(OP_DENSE, 2, T(DT_F32, 3, 5), T(DT_F32, 7, 5));
	infer_op(op);
	dims_are(&op->out->type, 2, 3, 7);
	/* broadcasting: same, [C], scalar; the result has a's shape */
	Value *a = T(DT_F32, 2, 3, 4);
	infer_op(op = mk(OP_ADD, 2, a, T(DT_F32, 2, 3, 4)));
	dims_are(&op->out->type, 3, 2, 3, 4);
	infer_op(op = mk(OP_MUL, 2, a, T(DT_F32, 4)));
	dims_are(&op->out->type, 3, 2, 3, 4);
	infer_op(op = mk(OP_SUB, 2, a, tensor(DT_F32, 0, NULL)));
	dims_are(&op->out->type, 3, 2, 3, 4);
	assert_non_null(infer_err(mk(OP_ADD, 2, a, T(DT_F32, 3))));
	assert_non_null(infer_err(mk(OP_ADD, 2, a, T(DT_F32, 3, 4))));
	/* concat along a negative axis: normalized */
	op = mk(OP_CONCAT, 3, T(DT_F32, 1, 2, 3), T(DT_F32, 1, 5, 3), T(DT_F32, 1, 1, 3));
	op->a.axis = -2;
	infer_op(op);
	assert_int_equal(op->a.axis, 1);
	dims_are(&op->out->type, 3, 1, 8, 3);
	/* reshape with -1, flatten, global pool, pad */
	op = mk(OP_RESHAPE, 1, T(DT_F32, 2, 3, 4));
	op->a.nshape = 3;
	op->a.shape[0] = 4, op->a.shape[1] = -1, op->a.shape[2] = 2;
	infer_op(op);
	dims_are(&op->out->type, 3, 4, 3, 2);
	infer_op(op = mk(OP_FLATTEN, 1, T(DT_F32, 2, 3, 4, 5)));
	dims_are(&op->out->type, 2, 2, 60);
	infer_op(op = mk(OP_GAVGPOOL, 1, T(DT_F32, 2, 3, 4, 5)));
	dims_are(&op->out->type, 4, 2, 1, 1, 5);
	op = mk(OP_PAD, 1, T(DT_F32, 1, 3, 3, 2));
	op->a.pads[0] = 1, op->a.pads[1] = 2, op->a.pads[3] = 3;
	infer_op(op);
	dims_are(&op->out->type, 4, 1, 4, 8, 2);
	/* softmax's default axis -1 becomes rank - 1 */
	infer_op(op = mk(OP_SOFTMAX, 1, T(DT_F32, 2, 10)));
	assert_int_equal(op->a.axis, 1);
	/* quantize: dtype from the attribute; dequantize gives f32 */
	op = mk(OP_QUANTIZE, 1, T(DT_F32, 1, 4));
	op->a.q = *quant_tensor(0.5, 128);
	op->a.dtype = DT_U8;
	infer_op(op);
	assert_int_equal(op->out->type.dt, DT_U8);
	op->a.dtype = DT_I8;
	assert_non_null(strstr(infer_err(op), "zero point 128 is outside the range of i8"));
	op = mk(OP_DEQUANTIZE, 1, T(DT_I8, 3, 4));
	op->a.q = *quant_new(0, 3);
	infer_op(op);
	assert_int_equal(op->out->type.dt, DT_F32);
	op->a.q = *quant_new(1, 3);
	assert_non_null(strstr(infer_err(op), "3 per-axis scales but i8[3, 4] has 4 entries along axis 1"));
	/* integer ops: i32 before the multipliers, i8 after */
	Value *x = T(DT_I8, 1, 4, 4, 2), *w = T(DT_I8, 3, 3, 3, 2), *b = T(DT_I32, 3);
	op = mk(OP_QCONV2D, 3, x, w, b);
	infer_op(op);
	assert_int_equal(op->out->type.dt, DT_I32);
	dims_are(&op->out->type, 4, 1, 2, 2, 3);
	op->a.nrq = 3;
	infer_op(op);
	assert_int_equal(op->out->type.dt, DT_I8);
	op->a.nrq = 2;
	assert_non_null(strstr(infer_err(op), "2 multipliers, expected 1 or 3"));
	op = mk(OP_QDENSE, 3, T(DT_I8, 2, 6), T(DT_I8, 5, 6), T(DT_I32, 5));
	op->a.nrq = 1;
	infer_op(op);
	assert_int_equal(op->out->type.dt, DT_I8);
	dims_are(&op->out->type, 2, 2, 5);
	infer_op(op = mk(OP_REQUANTIZE, 1, T(DT_I32, 2, 5)));
	assert_int_equal(op->out->type.dt, DT_I8);
	op = mk(OP_QADD, 2, T(DT_I8, 2, 5), T(DT_I8, 5));
	op->a.nrq = 3;
	infer_op(op);
	assert_int_equal(op->out->type.dt, DT_I8);
	op->a.nrq = 1;
	assert_non_null(infer_err(op));
	/* an existing quantization of the result is kept */
	op = mk(OP_RELU, 1, T(DT_F32, 2));
	Quant *q = quant_tensor(0.25, 0);
	op->out->type.q = q;
	infer_op(op);
	assert_ptr_equal(op->out->type.q, q);
	/* i8 clip takes integer bounds */
	op = mk(OP_CLIP, 1, T(DT_I8, 2));
	op->a.min = 0.5;
	assert_non_null(strstr(infer_err(op), "min and max must be integers"));
	/* results over 2^31 elements */
	op = mk(OP_PAD, 1, T(DT_F32, 1, 40000, 40000, 1));
	op->a.pads[0] = 20000;
	assert_non_null(strstr(infer_err(op), "result too large"));
}

/* ---- parsing details ---- */

static void test_parse_details(void **state)
{
	(void)state;
	Graph *g = must_text(
		"input %x : f32[1, 4, 4, 2]{range=[-1, 1], fixed};\n"
		"const @a : f32[3] = [0x1p-2, -1E2, .5];\n"
		"const @s : f32[] = [2];\n"
		"const @u : u8[2]{scale=0.5, zero_point=128} = [0, 255];\n"
		"const @q : i8[2, 1]{zero_point=[1, -1], axis=-2, scale=[0.5, 0.25]} = [-128, 127];\n"
		"%p = maxpool2d(%x, size=[2, 1]);\n"
		"%c : f32[1, 2, 4, 2]{range=[0, 6]} = clip(%p, min=0, max=6);\n"
		"output %c;\n");
	assert_string_equal(g->name, "t");
	Value *x = g->inputs[0];
	assert_true(x->has_range && x->fixed_range);
	assert_true(x->lo == -1 && x->hi == 1);
	float *a = g->consts[0]->data;
	assert_true(a[0] == 0.25f && a[1] == -100.0f && a[2] == 0.5f);
	assert_int_equal(g->consts[1]->type.rank, 0);
	assert_true(*(float *)g->consts[1]->data == 2.0f);
	uint8_t *u = g->consts[2]->data;
	assert_int_equal(u[1], 255);
	assert_int_equal(g->consts[2]->type.q->zp[0], 128);
	Quant *q = g->consts[3]->type.q;
	assert_int_equal(q->axis, 0);
	assert_int_equal(q->n, 2);
	assert_true(q->scale[1] == 0.25);
	assert_int_equal(q->zp[1], -1);
	/* pool strides default to the size */
	Op *p = g->ops[0];
	assert_int_equal(p->a.strides[0], 2);
	assert_int_equal(p->a.strides[1], 1);
	dims_are(&p->out->type, 4, 1, 2, 4, 2);
	Value *c = out(g, "c");
	assert_true(c->has_range && !c->fixed_range && c->hi == 6);
	assert_true(c->def->a.min == 0 && c->def->a.max == 6);
	/* op_new's defaults for an op given without attributes */
	g = must_text("input %x : f32[1, 3, 3, 1];\nconst @w : f32[1, 1, 1, 1] = 1;\n%y = conv2d(%x, @w);\n"
		      "%z = clip(%y);\n%s = softmax(%z);\noutput %s;\n");
	Op *cv = g->ops[0];
	assert_int_equal(cv->a.strides[0] * cv->a.strides[1] * cv->a.dilations[0] * cv->a.dilations[1] * cv->a.groups, 1);
	assert_int_equal(cv->a.pads[0] + cv->a.pads[1] + cv->a.pads[2] + cv->a.pads[3], 0);
	assert_true(isinf(g->ops[1]->a.min) && isinf(g->ops[1]->a.max));
	/* quantize's result carries its parameters, per axis too */
	g = must_text("input %x : f32[2, 3];\n%q = quantize(%x, scale=[0.5, 0.25, 2], zero_point=3, axis=1, dtype=u8);\n"
		      "output %q;\n");
	q = out(g, "q")->type.q;
	assert_non_null(q);
	assert_int_equal(q->axis, 1);
	assert_int_equal(q->n, 3);
	assert_true(q->scale[2] == 2);
	assert_int_equal(q->zp[2], 3);
	/* comments and whitespace anywhere */
	g = must_text("#c\n  model\tm ; # c\ninput%x:f32[2];output\n%x\n;");
	assert_string_equal(g->name, "m");
	/* keywords as model names; the default name from a file stem */
	assert_string_equal(must_text("model input;\ninput %x : f32[1];\noutput %x;\n")->name, "input");
	g = try_text("dir/my-model.v2.q8", "input %x : f32[1];\noutput %x;\n");
	assert_non_null(g);
	assert_string_equal(g->name, "my_model_v2");
	assert_string_equal(g->dir, "dir");
	g = try_text("7up.q8", "input %x : f32[1];\noutput %x;\n");
	assert_string_equal(g->name, "_7up");
	/* several outputs, in order */
	g = must_text("input %x : f32[1];\n%a = relu(%x);\n%b = relu(%a);\noutput %b;\noutput %x, %a;\n");
	assert_int_equal(g->noutputs, 3);
	assert_string_equal(g->outputs[0]->name, "b");
	assert_string_equal(g->outputs[2]->name, "a");
}

/* ---- the printer: numbers read back to the same bits ---- */

static uint64_t rng = 88172645463325252u;
static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void test_number_roundtrip(void **state)
{
	(void)state;
	enum { N = 4000 };
	Graph *g = graph_new("r");
	Value *x = value_new(V_INPUT, "x", (Type){.dt = DT_F32, .rank = 1, .dims = {N}}, (Loc){0});
	PUSH(g->inputs, g->ninputs) = x;
	PUSH(g->outputs, g->noutputs) = x;
	float *f = alloc(N * sizeof *f);
	for (int i = 0; i < N; i++) {
		uint32_t bits;
		do
			bits = (uint32_t)next();
		while (((bits >> 23) & 0xff) == 0xff); /* finite */
		memcpy(&f[i], &bits, 4);
	}
	f[0] = 3.40282347e38f, f[1] = -1.4e-45f, f[2] = 0.1f, f[3] = 1.17549435e-38f;
	graph_add_const(g, "f", (Type){.dt = DT_F32, .rank = 1, .dims = {N}}, f, (Loc){0});
	/* doubles in a per-axis scale and in a range */
	int32_t *i = alloc(N * sizeof *i);
	Type qt = {.dt = DT_I32, .rank = 1, .dims = {N}, .q = quant_new(0, N)};
	for (int k = 0; k < N; k++) {
		uint64_t bits = next() & 0x7fffffffffffffffu;
		double d;
		memcpy(&d, &bits, 8);
		if (!isfinite(d) || d == 0 || !isfinite(1 / d))
			d = 1;
		qt.q->scale[k] = d;
		qt.q->zp[k] = (int32_t)next();
		i[k] = (int32_t)next();
	}
	Value *c = graph_add_const(g, "i", qt, i, (Loc){0});
	c->has_range = true, c->lo = -0.1, c->hi = 1e-300;
	char *p1 = print_str(g, NULL, NULL);
	Graph *g2 = try_text("r.q8", p1);
	if (!g2)
		fail_msg("%s", err_msg);
	assert_memory_equal(g2->consts[0]->data, f, N * sizeof *f);
	assert_memory_equal(g2->consts[1]->data, i, N * sizeof *i);
	for (int k = 0; k < N; k++) {
		assert_memory_equal(&g2->consts[1]->type.q->scale[k], &qt.q->scale[k], 8);
		assert_int_equal(g2->consts[1]->type.q->zp[k], qt.q->zp[k]);
	}
	assert_true(g2->consts[1]->lo == -0.1 && g2->consts[1]->hi == 1e-300);
	assert_string_equal(p1, print_str(g2, NULL, NULL));
	/* the shortest forms */
	assert_non_null(strstr(p1, "[3.4028235e+38, -1.4013e-45, 0.1, 1.1754944e-38, "));
	assert_non_null(strstr(p1, "range=[-0.1, 1e-300]"));
}

/* The memory plan as a comment; the dump still parses. */
static void test_print_plan(void **state)
{
	(void)state;
	Graph *g = must_text("input %x : f32[1, 4];\n%y = relu(%x);\noutput %y;\n");
	g->planned = true;
	g->ops[0]->out->off = 64;
	char *s = print_str(g, NULL, NULL);
	assert_string_equal(s, "model t;\n\ninput %x : f32[1, 4];\n\n"
			       "%y : f32[1, 4] = relu(%x); # arena +64\n\noutput %y;\n");
	assert_non_null(try_text("t.q8", s));
}

/* ---- .npy ---- */

static void test_npy(void **state)
{
	(void)state;
	char dir[] = "/tmp/q8c-npy-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *p = fmt("%s/a.npy", dir);
	/* every element type, written and read back */
	int16_t h[6] = {-32768, -1, 0, 1, 2, 32767};
	npy_write(p, DT_I16, 2, (int64_t[]){3, 2}, h);
	Type t;
	int16_t *r = npy_read(p, NULL, &t);
	assert_int_equal(t.dt, DT_I16);
	dims_are(&t, 2, 3, 2);
	assert_memory_equal(r, h, sizeof h);
	/* the header as NumPy writes it: version 1.0, total length a multiple of 64 */
	size_t n;
	char *raw = slurp(p, &n);
	assert_memory_equal(raw, "\x93NUMPY\x01\x00", 8);
	size_t hl = (unsigned char)raw[8] | (unsigned char)raw[9] << 8;
	assert_int_equal((10 + hl) % 64, 0);
	assert_int_equal(n, 10 + hl + sizeof h);
	assert_int_equal(raw[10 + hl - 1], '\n');
	assert_non_null(strstr(raw + 10, "{'descr': '<i2', 'fortran_order': False, 'shape': (3, 2), }"));
	/* rank 0 and rank 1 tuples */
	float s = -2.5f;
	npy_write(p, DT_F32, 0, NULL, &s);
	raw = slurp(p, &n);
	assert_non_null(strstr(raw + 10, "'shape': (), }"));
	assert_true(*(float *)npy_read(p, &(Type){.dt = DT_F32}, NULL) == -2.5f);
	uint8_t u[3] = {0, 128, 255};
	npy_write(p, DT_U8, 1, (int64_t[]){3}, u);
	raw = slurp(p, &n);
	assert_non_null(strstr(raw + 10, "'descr': '|u1'"));
	assert_non_null(strstr(raw + 10, "'shape': (3,), }"));
	/* a want that disagrees */
	jmp_buf jb;
	err_jmp = &jb;
	if (setjmp(jb) == 0) {
		npy_read(p, &(Type){.dt = DT_U8, .rank = 1, .dims = {4}}, NULL);
		fail_msg("no error");
	}
	err_jmp = NULL;
	assert_non_null(strstr(err_msg, "a.npy: shape (3,) does not match the declared u8[4]"));
	/* version 2.0 images, a Python 2 style shape, double-quoted keys */
	const char *hdr = "{\"descr\": \"<i4\", \"shape\": (2L,), \"fortran_order\": False}\n";
	unsigned char img[128] = "\x93NUMPY\x02\x00";
	size_t L = strlen(hdr);
	img[8] = (unsigned char)L;
	memcpy(img + 12, hdr, L);
	int32_t iv[2] = {-7, 9};
	memcpy(img + 12 + L, iv, 8);
	int32_t *rv = npy_parse_buffer("v2.npy", img, 12 + L + 8, NULL, &t);
	assert_int_equal(t.dt, DT_I32);
	dims_are(&t, 1, 2);
	assert_int_equal(rv[0], -7);
	assert_int_equal(rv[1], 9);
	/* the same image with one byte too many or one too few */
	err_jmp = &jb;
	if (setjmp(jb) == 0)
		npy_parse_buffer("v2.npy", img, 12 + L + 9, NULL, &t);
	err_jmp = NULL;
	assert_non_null(strstr(err_msg, "v2.npy: <i4 (2,) needs 8 data bytes, the file has 9"));
	err_jmp = &jb;
	if (setjmp(jb) == 0)
		npy_parse_buffer("v2.npy", img, 11, NULL, &t);
	err_jmp = NULL;
	assert_non_null(strstr(err_msg, "truncated .npy header"));
	/* a header that is not a tuple */
	memcpy(img + 12, "{\"descr\": \"<i4\", \"shape\": (2), \"fortran_order\": False}\n", L - 1);
	err_jmp = &jb;
	if (setjmp(jb) == 0)
		npy_parse_buffer("v2.npy", img, 12 + L + 7, NULL, &t);
	err_jmp = NULL;
	assert_non_null(strstr(err_msg, "malformed .npy header"));
	/* an unwritable path: fatal, and no temporary left */
	err_jmp = &jb;
	if (setjmp(jb) == 0)
		npy_write(fmt("%s/no/such/dir.npy", dir), DT_U8, 1, (int64_t[]){3}, u);
	err_jmp = NULL;
	assert_non_null(strstr(err_msg, "cannot write"));
	/* a file far larger than the declared tensor is refused unread */
	npy_write(p, DT_U8, 1, (int64_t[]){3}, u);
	assert_int_equal(truncate(p, 3 << 20), 0);
	err_jmp = &jb;
	if (setjmp(jb) == 0)
		npy_read(p, &(Type){.dt = DT_U8, .rank = 1, .dims = {3}}, NULL);
	err_jmp = NULL;
	assert_non_null(strstr(err_msg, "a.npy: file of 3145728 bytes is far larger than the declared u8[3]"));
	/* files written by NumPy itself (the golden data) */
	int8_t *w8 = npy_read("golden/data/w8.npy", NULL, &t);
	assert_int_equal(t.dt, DT_I8);
	dims_are(&t, 4, 2, 1, 1, 2);
	assert_int_equal(w8[0], -2);
	assert_int_equal(w8[3], 1);
	remove(p);
	rmdir(dir);
}

/* A location whose file name is longer than the message buffer (an ONNX
   node name can be): the message is cut at the buffer's end, never
   written past it (fuzz_onnx found this; ASan/UBSan see the overflow). */
static void test_error_long_name(void **s)
{
	(void)s;
	static char name[3000];
	memset(name, 'n', sizeof name - 1);
	Loc l = {name, 0, 0};
	jmp_buf jb;
	err_jmp = &jb;
	int rc = setjmp(jb);
	if (rc == 0)
		error_at(l, "unsupported op %s", "Foo");
	err_jmp = NULL;
	assert_int_equal(rc, 1);
	assert_int_equal(strlen(err_msg), sizeof err_msg - 1);
	assert_int_equal(err_msg[0], 'n');
	assert_int_equal(err_msg[sizeof err_msg - 2], 'n');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_dump_npy),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_error_special),
		cmocka_unit_test(test_error_long_name),
		cmocka_unit_test(test_symlink_escape),
		cmocka_unit_test(test_conformance),
		cmocka_unit_test(test_examples),
		cmocka_unit_test(test_infer),
		cmocka_unit_test(test_parse_details),
		cmocka_unit_test(test_number_roundtrip),
		cmocka_unit_test(test_print_plan),
		cmocka_unit_test(test_npy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
