/* libFuzzer: the model text.  Any input must either parse or end in
   error_at/fatal (caught through err_jmp); a parsed graph must print,
   parse back and print to the same text. */
#include "ir.h"

#include <stdlib.h>
#include <string.h>

/* a broken invariant: report and stop the fuzzer (a finding) */
#define FAIL(...) (fprintf(stderr, __VA_ARGS__), abort())

static char *print(Graph *g, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	if (!f)
		abort();
	print_graph(f, g, NULL, NULL);
	fclose(f);
	return buf;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static char *volatile p1, *volatile p2;
	static volatile int stage;
	jmp_buf jb;
	err_jmp = &jb;
	stage = 0;
	p1 = p2 = NULL;
	if (setjmp(jb) == 0) {
		Graph *g = parse_string("fuzz.q8", (const char *)data, size);
		stage = 1;
		size_t n1, n2;
		p1 = print(g, &n1);
		Graph *g2 = parse_string("fuzz.q8", p1, n1);
		p2 = print(g2, &n2);
		if (n1 != n2 || memcmp(p1, p2, n1) != 0)
			FAIL("round trip differs:\n%s\n----\n%s\n", p1, p2);
	} else if (stage == 1) {
		FAIL("a printed graph does not parse back: %s\n%s\n", err_msg, p1 ? p1 : "");
	}
	free(p1);
	free(p2);
	err_jmp = NULL;
	/* every 64 runs: a fresh 1 MB arena chunk per run costs more page
	   faults under ASan than the parse itself */
	static unsigned runs;
	if (++runs % 64 == 0)
		arena_reset();
	return 0;
}
