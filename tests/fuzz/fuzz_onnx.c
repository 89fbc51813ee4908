/* libFuzzer: ONNX files.  Any input must either import or end in
   error_at/fatal (caught through err_jmp), never crash or allocate
   without bound; an imported graph must print as model text that parses
   back (what `q8c import` writes). */
#include "ir.h"

#include <stdlib.h>
#include <string.h>

/* a broken invariant: report and stop the fuzzer (a finding) */
#define FAIL(...) (fprintf(stderr, __VA_ARGS__), abort())

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static char *volatile text;
	static volatile int stage;
	jmp_buf jb;
	err_jmp = &jb;
	stage = 0;
	text = NULL;
	if (setjmp(jb) == 0) {
		/* the first byte picks the input layout, the rest is the file */
		bool nchw = size > 0 && (data[0] & 1);
		Graph *g = onnx_parse_buffer("fuzz.onnx", data, size, nchw);
		stage = 1;
		size_t n;
		FILE *f = open_memstream((char **)&text, &n);
		if (!f)
			abort();
		print_graph(f, g, NULL, NULL);
		fclose(f);
		parse_string("fuzz.q8", text, n);
	} else if (stage == 1) {
		FAIL("an imported graph does not parse back: %s\n%s\n", err_msg, text ? text : "");
	}
	free(text);
	err_jmp = NULL;
	static unsigned runs;
	if (++runs % 64 == 0)
		arena_reset();
	return 0;
}
