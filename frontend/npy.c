/* NumPy .npy files: versions 1.0, 2.0 and 3.0, little-endian, C order,
   the five element types of q8c.  The reader trusts nothing in the file:
   every size is checked before it is used.  (The host is little-endian.) */
#include "frontend.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *descrs[DT_COUNT] = {"<f4", "|i1", "|u1", "<i2", "<i4"};

typedef struct {
	const char *path;
	const char *s, *e; /* the header text being read */
} Hdr;

static void skip(Hdr *h)
{
	while (h->s < h->e && (*h->s == ' ' || *h->s == '\t' || *h->s == '\n' || *h->s == '\r'))
		h->s++;
}

static bool eat(Hdr *h, char c)
{
	skip(h);
	if (h->s < h->e && *h->s == c) {
		h->s++;
		return true;
	}
	return false;
}

static noreturn void bad(Hdr *h, const char *what)
{
	fatal("%s: malformed .npy header: %s", h->path, what);
}

/* a Python string literal, 'x' or "x", without escapes */
static char *str(Hdr *h)
{
	skip(h);
	if (h->s >= h->e || (*h->s != '\'' && *h->s != '"'))
		bad(h, "expected a string");
	char q = *h->s++;
	const char *b = h->s;
	while (h->s < h->e && *h->s != q && *h->s != '\\')
		h->s++;
	if (h->s >= h->e || *h->s != q)
		bad(h, "bad string");
	return xstrndup(b, (size_t)(h->s++ - b));
}

static bool word(Hdr *h, const char *w)
{
	skip(h);
	size_t n = strlen(w);
	if ((size_t)(h->e - h->s) >= n && memcmp(h->s, w, n) == 0) {
		h->s += n;
		return true;
	}
	return false;
}

/* (d0, d1, ...) with the size checks */
static void shape(Hdr *h, Type *t)
{
	if (!eat(h, '('))
		bad(h, "shape must be a tuple");
	int64_t numel = 1;
	t->rank = 0;
	while (!eat(h, ')')) {
		skip(h);
		if (h->s >= h->e || *h->s < '0' || *h->s > '9')
			bad(h, "shape entries must be non-negative integers");
		int64_t d = 0;
		while (h->s < h->e && *h->s >= '0' && *h->s <= '9') {
			d = d * 10 + (*h->s++ - '0');
			if (d > MAXNUMEL)
				fatal("%s: absurd .npy shape (a dimension exceeds %lld)", h->path, (long long)MAXNUMEL);
		}
		if (h->s < h->e && *h->s == 'L') /* Python 2 numpy */
			h->s++;
		if (d == 0)
			fatal("%s: .npy shape has a zero dimension", h->path);
		if (numel * d > MAXNUMEL)
			fatal("%s: absurd .npy shape (more than %lld elements)", h->path, (long long)MAXNUMEL);
		numel *= d;
		if (t->rank == MAXRANK)
			fatal("%s: .npy rank exceeds %d", h->path, MAXRANK);
		t->dims[t->rank++] = d;
		if (!eat(h, ',')) {
			if (!eat(h, ')'))
				bad(h, "expected ',' or ')' in shape");
			if (t->rank == 1)
				bad(h, "a 1-tuple needs a trailing comma");
			break;
		}
	}
}

static char *shape_str(const Type *t)
{
	char *s = xstrdup("(");
	for (int i = 0; i < t->rank; i++)
		s = fmt("%s%s%lld", s, i ? ", " : "", (long long)t->dims[i]);
	return fmt("%s%s)", s, t->rank == 1 ? "," : "");
}

/* Parses the whole file image; returns the offset of the data. */
static size_t parse(const char *path, const unsigned char *b, size_t len, const Type *want, Type *got)
{
	if (len < 10 || memcmp(b, "\x93NUMPY", 6) != 0)
		fatal("%s: not a .npy file (bad magic)", path);
	size_t hlen, start;
	if (b[6] == 1 && b[7] == 0) {
		hlen = (size_t)b[8] | (size_t)b[9] << 8;
		start = 10;
	} else if ((b[6] == 2 || b[6] == 3) && b[7] == 0) {
		if (len < 12)
			fatal("%s: truncated .npy header", path);
		hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
		start = 12;
	} else {
		fatal("%s: unsupported .npy version %d.%d", path, b[6], b[7]);
	}
	if (hlen > len - start)
		fatal("%s: truncated .npy header (%zu bytes announced, %zu present)", path, hlen, len - start);
	Hdr h = {path, (const char *)b + start, (const char *)b + start + hlen};
	if (memchr(h.s, '\0', hlen))
		bad(&h, "NUL byte");
	Type t = {0};
	int dt = -1, fortran = -1;
	bool has_shape = false;
	if (!eat(&h, '{'))
		bad(&h, "expected '{'");
	while (!eat(&h, '}')) {
		char *key = str(&h);
		if (!eat(&h, ':'))
			bad(&h, "expected ':'");
		if (!strcmp(key, "descr") && dt < 0) {
			char *d = str(&h);
			for (int i = 0; i < DT_COUNT; i++)
				if (!strcmp(d, descrs[i]))
					dt = i;
			if (dt < 0)
				fatal("%s: unsupported .npy dtype '%s' (q8c reads <f4, |i1, |u1, <i2, <i4)", path, d);
		} else if (!strcmp(key, "fortran_order") && fortran < 0) {
			if (word(&h, "True"))
				fortran = 1;
			else if (word(&h, "False"))
				fortran = 0;
			else
				bad(&h, "fortran_order must be True or False");
		} else if (!strcmp(key, "shape") && !has_shape) {
			shape(&h, &t);
			has_shape = true;
		} else {
			fatal("%s: malformed .npy header: unexpected or repeated key '%s'", path, key);
		}
		if (!eat(&h, ',')) {
			if (!eat(&h, '}'))
				bad(&h, "expected ',' or '}'");
			break;
		}
	}
	skip(&h);
	if (h.s != h.e)
		bad(&h, "garbage after the dictionary");
	if (dt < 0 || fortran < 0 || !has_shape)
		bad(&h, "needs 'descr', 'fortran_order' and 'shape'");
	if (fortran)
		fatal("%s: Fortran-order arrays are not supported (save with C order)", path);
	t.dt = (Dtype)dt;
	size_t data = start + hlen;
	uint64_t need = (uint64_t)type_numel(&t) * dtype_size(t.dt);
	if (len - data != need)
		fatal("%s: %s %s needs %llu data bytes, the file has %zu", path, descrs[dt], shape_str(&t),
			(unsigned long long)need, len - data);
	if (want) {
		if (want->dt != t.dt)
			fatal("%s: element type %s ('%s') does not match the declared %s", path, dtype_name(t.dt),
				descrs[dt], dtype_name(want->dt));
		if (!type_same_shape(want, &t))
			fatal("%s: shape %s does not match the declared %s", path, shape_str(&t), type_str(want));
	}
	if (t.dt == DT_F32) {
		for (uint64_t i = 0; i < need / 4; i++) {
			float f;
			memcpy(&f, b + data + 4 * i, 4);
			if (!isfinite(f))
				fatal("%s: element %llu is not finite", path, (unsigned long long)i);
		}
	}
	if (got)
		*got = t;
	return data;
}

void *npy_parse_buffer(const char *path, const unsigned char *buf, size_t len, const Type *want, Type *got)
{
	size_t off = parse(path, buf, len, want, got);
	void *d = alloc(len - off);
	memcpy(d, buf + off, len - off);
	return d;
}

void *npy_read(const char *path, const Type *want, Type *got)
{
	int64_t size;
	FILE *f = open_regular(path, &size);
	/* the largest tensor, plus room for a header */
	if (size > (int64_t)MAXNUMEL * 4 + (1 << 20)) {
		fclose(f);
		fatal("%s: file too large for a .npy tensor (%lld bytes)", path, (long long)size);
	}
	/* a file much larger than the declared tensor is not read at all */
	if (want && size > type_numel(want) * (int64_t)dtype_size(want->dt) + (1 << 20)) {
		fclose(f);
		fatal("%s: file of %lld bytes is far larger than the declared %s", path, (long long)size,
		      type_str(want));
	}
	size_t n = (size_t)size;
	unsigned char *buf = alloc(n + 1);
	read_all(f, path, buf, n);
	size_t off = parse(path, buf, n, want, got);
	if (off % 16 == 0)
		return buf + off;
	void *d = alloc(n - off);
	memcpy(d, buf + off, n - off);
	return d;
}

void npy_write(const char *path, Dtype dt, int rank, const int64_t *dims, const void *data)
{
	Type t = {.dt = dt, .rank = rank};
	if (rank < 0 || rank > MAXRANK)
		die("npy_write: rank %d", rank);
	if (rank)
		memcpy(t.dims, dims, (size_t)rank * sizeof *dims);
	char *h = fmt("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descrs[dt], shape_str(&t));
	size_t hl = strlen(h), total = (10 + hl + 1 + 63) / 64 * 64, pad = total - 10 - hl - 1;
	if (total - 10 > 0xffff)
		die("npy_write: header too long");
	char *tmp = fmt("%s.tmp", path);
	FILE *f = fopen(tmp, "wb");
	if (!f)
		fatal("%s: cannot write: %s", tmp, strerror(errno));
	unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)((total - 10) & 0xff),
				 (unsigned char)((total - 10) >> 8)};
	size_t nbytes = (size_t)type_numel(&t) * dtype_size(dt);
	bool ok = fwrite(pre, 1, 10, f) == 10 && fwrite(h, 1, hl, f) == hl;
	for (size_t i = 0; ok && i < pad; i++)
		ok = fputc(' ', f) != EOF;
	ok = ok && fputc('\n', f) != EOF && fwrite(data, 1, nbytes, f) == nbytes;
	ok = (fclose(f) == 0) && ok;
	if (!ok || rename(tmp, path) != 0) {
		int e = errno;
		remove(tmp);
		fatal("%s: cannot write: %s", path, strerror(e));
	}
}
