/* q8c import: a graph (read from MODEL.onnx) written as model text OUT
   with its large constants as .npy files in the folder STEM.data beside
   it (OUT = STEM.q8).  Everything is written into a temporary directory
   beside OUT first; only complete files are renamed into place. */
#include "ir.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *tmp; /* the temporary directory, removed on any error */

static void rm_tree(const char *dir)
{
	DIR *d = opendir(dir);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)))
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
				char *p = fmt("%s/%s", dir, e->d_name);
				if (unlink(p) != 0)
					rm_tree(p);
			}
		closedir(d);
	}
	rmdir(dir);
}

static void cleanup(void)
{
	if (tmp)
		rm_tree(tmp);
	tmp = NULL;
}

void import_model(Graph *g, const char *out)
{
	const char *slash = strrchr(out, '/');
	const char *base = slash ? slash + 1 : out;
	char *dir = slash ? xstrndup(out, (size_t)(slash - out + 1)) : xstrdup("");
	size_t n = strlen(base);
	if (n == 0)
		fatal("%s: not a file name", out);
	if (n > 3 && strcmp(base + n - 3, ".q8") == 0)
		n -= 3;
	char *data = fmt("%.*s.data", (int)n, base); /* relative to OUT's directory */

	tmp = fmt("%s.%s.q8c-XXXXXX", dir, base);
	if (!mkdtemp(tmp)) {
		tmp = NULL;
		fatal("%s: cannot create a temporary directory beside it: %s", out, strerror(errno));
	}
	on_error(cleanup);
	if (mkdir(fmt("%s/%s", tmp, data), 0777) != 0)
		fatal("%s/%s: cannot create: %s", tmp, data, strerror(errno));
	char *text = fmt("%s/model.q8", tmp);
	FILE *f = fopen(text, "w");
	if (!f)
		fatal("%s: cannot write: %s", text, strerror(errno));
	print_graph(f, g, tmp, fmt("%s/", data));
	if (ferror(f) | (fclose(f) != 0))
		fatal("%s: write error", text);

	/* commit: the old folder aside, the new one in, then the text */
	char *final_data = fmt("%s%s", dir, data), *old = fmt("%s/old.data", tmp);
	struct stat st;
	if (stat(final_data, &st) == 0 && rename(final_data, old) != 0)
		fatal("%s: cannot replace: %s", final_data, strerror(errno));
	bool empty = rmdir(fmt("%s/%s", tmp, data)) == 0; /* no .npy written */
	if (!empty && rename(fmt("%s/%s", tmp, data), final_data) != 0)
		fatal("%s: cannot write: %s", final_data, strerror(errno));
	if (rename(text, out) != 0)
		fatal("%s: cannot write: %s", out, strerror(errno));
	on_error(NULL);
	cleanup();
}
