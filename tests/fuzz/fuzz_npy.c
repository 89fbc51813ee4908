/* libFuzzer: .npy images.  Any input must either load or end in fatal
   (caught); a loaded array must write and read back to the same bytes. */
#include "ir.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* a broken invariant: report and stop the fuzzer (a finding) */
#define FAIL(...) (fprintf(stderr, __VA_ARGS__), abort())

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static volatile int stage;
	jmp_buf jb;
	err_jmp = &jb;
	stage = 0;
	if (setjmp(jb) == 0) {
		Type t;
		void *d = npy_parse_buffer("fuzz.npy", data, size, NULL, &t);
		stage = 1;
		char *path = fmt("/tmp/q8c-fuzz-npy.%d.npy", (int)getpid());
		npy_write(path, t.dt, t.rank, t.dims, d);
		Type t2;
		void *d2 = npy_read(path, &t, &t2);
		remove(path);
		if (!type_equal(&t, &t2))
			FAIL("read back as %s, written as %s\n", type_str(&t2), type_str(&t));
		if (memcmp(d, d2, (size_t)type_numel(&t) * dtype_size(t.dt)) != 0)
			FAIL("read back different data for %s\n", type_str(&t));
	} else if (stage == 1) {
		FAIL("write/read back failed: %s\n", err_msg);
	}
	err_jmp = NULL;
	/* every 64 runs: a fresh 1 MB arena chunk per run costs more page
	   faults under ASan than the parse itself */
	static unsigned runs;
	if (++runs % 64 == 0)
		arena_reset();
	return 0;
}
