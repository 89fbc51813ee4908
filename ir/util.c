/* Arena allocation, growable arrays, strings and the two error channels. */
#include "ir.h"

#include <errno.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- sources, for quoting lines in errors ---- */

typedef struct {
	const char *file, *text;
	size_t len;
} Src;
static Src *srcs;
static size_t nsrcs;

/* The arena: big chunks, bump allocation, never freed. */
enum { CHUNK = 1 << 20 };
static char *cur, *end;
static void **chunks; /* every chunk, for arena_reset */
static size_t nchunks;

void *alloc(size_t n)
{
	n = (n + 15) & ~(size_t)15;
	if (n == 0)
		n = 16;
	if (n > (size_t)(end - cur)) {
		size_t sz = n > CHUNK ? n : CHUNK;
		cur = calloc(1, sz);
		if (!cur)
			fatal("out of memory (allocating %zu bytes)", sz);
		end = cur + sz;
		if ((nchunks & (nchunks - 1)) == 0) {
			void **c = realloc(chunks, (nchunks ? 2 * nchunks : 1) * sizeof *c);
			if (!c)
				fatal("out of memory");
			chunks = c;
		}
		chunks[nchunks++] = cur;
	}
	void *p = cur;
	cur += n;
	return p;
}

void arena_reset(void)
{
	for (size_t i = 0; i < nchunks; i++)
		free(chunks[i]);
	free(chunks);
	chunks = NULL;
	nchunks = 0;
	cur = end = NULL;
	nsrcs = 0;
	srcs = NULL;
}

void *alloc_array(size_t n, size_t sz)
{
	if (sz && n > SIZE_MAX / sz)
		fatal("allocation of %zu x %zu bytes overflows", n, sz);
	return alloc(n * sz);
}

char *xstrndup(const char *s, size_t n)
{
	char *p = alloc(n + 1);
	memcpy(p, s, n);
	return p;
}

char *xstrdup(const char *s) { return xstrndup(s, strlen(s)); }

char *fmt(const char *f, ...)
{
	va_list ap;
	va_start(ap, f);
	int n = vsnprintf(NULL, 0, f, ap);
	va_end(ap);
	char *p = alloc((size_t)n + 1);
	va_start(ap, f);
	vsnprintf(p, (size_t)n + 1, f, ap);
	va_end(ap);
	return p;
}

void *vgrow(void *p, size_t n, size_t sz)
{
	if (n == 0 || (n & (n - 1)) == 0) {
		size_t cap = n ? 2 * n : 4;
		if (n >= 4 || n == 0) {
			void *q = alloc_array(cap, sz);
			if (n)
				memcpy(q, p, n * sz);
			return q;
		}
	}
	return p;
}

void src_register(const char *file, const char *text, size_t len)
{
	Src *s = &PUSH(srcs, nsrcs);
	s->file = file;
	s->text = text;
	s->len = len;
}

static void quote_line(FILE *f, Loc l)
{
	for (size_t i = nsrcs; i-- > 0;) {
		if (strcmp(srcs[i].file, l.file) != 0)
			continue;
		const char *p = srcs[i].text, *e = p + srcs[i].len;
		for (int line = 1; line < l.line && p < e; p++)
			if (*p == '\n')
				line++;
		const char *q = p;
		while (q < e && *q != '\n' && q - p < 200)
			q++;
		fprintf(f, "  %.*s\n", (int)(q - p), p);
		int col = l.col > 0 ? l.col - 1 : 0;
		fprintf(f, "  ");
		for (int i = 0; i < col && p + i < q; i++)
			fputc(p[i] == '\t' ? '\t' : ' ', f);
		fprintf(f, "^\n");
		return;
	}
}

jmp_buf *err_jmp;
char err_msg[1024];
static void (*cleanup_fn)(void);

/* The message after its prefix: snprintf returns the length it wanted,
   which a long file or node name can push past the buffer (the message
   is then cut, never written past the end). */
static void msg_tail(int n, const char *f, va_list ap)
{
	if (n < 0 || (size_t)n >= sizeof err_msg - 1)
		return;
	vsnprintf(err_msg + n, sizeof err_msg - (size_t)n, f, ap);
}

void on_error(void (*cleanup)(void)) { cleanup_fn = cleanup; }

static noreturn void finish(int status)
{
	if (err_jmp)
		longjmp(*err_jmp, status);
	if (cleanup_fn)
		cleanup_fn();
	exit(status);
}

noreturn void error_at(Loc l, const char *f, ...)
{
	va_list ap;
	va_start(ap, f);
	/* line 0: a place without a line (an ONNX node): FILE: error: MSG */
	int n = l.line > 0 ? snprintf(err_msg, sizeof err_msg, "%s:%d:%d: error: ", l.file ? l.file : "<input>", l.line, l.col)
			   : snprintf(err_msg, sizeof err_msg, "%s: error: ", l.file ? l.file : "<input>");
	msg_tail(n, f, ap);
	va_end(ap);
	if (!err_jmp) {
		fprintf(stderr, "%s\n", err_msg);
		if (l.file && l.line > 0)
			quote_line(stderr, l);
	}
	finish(1);
}

void warn_at(Loc l, const char *f, ...)
{
	va_list ap;
	va_start(ap, f);
	fprintf(stderr, "%s:%d:%d: warning: ", l.file ? l.file : "<input>", l.line, l.col);
	vfprintf(stderr, f, ap);
	fputc('\n', stderr);
	va_end(ap);
}

noreturn void fatal(const char *f, ...)
{
	va_list ap;
	va_start(ap, f);
	int n = snprintf(err_msg, sizeof err_msg, "q8c: error: ");
	msg_tail(n, f, ap);
	va_end(ap);
	if (!err_jmp)
		fprintf(stderr, "%s\n", err_msg);
	finish(1);
}

noreturn void die(const char *f, ...)
{
	va_list ap;
	va_start(ap, f);
	fprintf(stderr, "q8c: internal error: ");
	vfprintf(stderr, f, ap);
	fputc('\n', stderr);
	va_end(ap);
	if (cleanup_fn)
		cleanup_fn();
	exit(2);
}

FILE *open_regular(const char *path, int64_t *size)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		fatal("%s: cannot open: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		fclose(f);
		fatal("%s: not a regular file", path);
	}
	*size = (int64_t)st.st_size;
	return f;
}

void read_all(FILE *f, const char *path, void *buf, size_t n)
{
	size_t got = fread(buf, 1, n, f);
	bool bad = ferror(f);
	fclose(f);
	if (bad || got != n)
		fatal("%s: read error", path);
}
