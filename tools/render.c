/* q8c dot: a graph as FILE.dot, or rendered to FILE.svg / FILE.png by
   Graphviz's `dot` when it is installed.  The output appears whole or not
   at all: everything is written to temporary files beside it, renamed
   into place only when `dot` succeeded. */
#include "ir.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char *tmp_dot, *tmp_out;

static void cleanup(void)
{
	if (tmp_dot)
		unlink(tmp_dot);
	if (tmp_out)
		unlink(tmp_out);
	tmp_dot = tmp_out = NULL;
}

/* the path of an executable found on $PATH, or NULL */
static char *find_program(const char *name)
{
	const char *p = getenv("PATH");
	while (p && *p) {
		const char *e = strchr(p, ':');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		char *path = fmt("%.*s/%s", (int)n, n ? p : ".", name);
		if (access(path, X_OK) == 0)
			return path;
		p = e ? e + 1 : NULL;
	}
	return NULL;
}

/* mkstemp makes files 0600: give them the mode a plain fopen would */
static void plain_mode(int fd)
{
	mode_t m = umask(0);
	umask(m);
	fchmod(fd, 0666 & ~m);
}

static const char *suffix(const char *path)
{
	const char *s = strrchr(path, '.');
	return s && !strchr(s, '/') ? s + 1 : "";
}

void render_dot(Graph *g, const char *out)
{
	const char *fmt_ = suffix(out);
	bool raw = strcmp(fmt_, "dot") == 0 || strcmp(fmt_, "gv") == 0;
	if (!raw && strcmp(fmt_, "svg") != 0 && strcmp(fmt_, "png") != 0)
		fatal("%s: q8c dot writes FILE.svg, FILE.png or FILE.dot (the suffix picks the format)", out);
	char *dot = raw ? NULL : find_program("dot");
	if (!raw && !dot)
		fatal("%s: rendering needs Graphviz's 'dot', which is not on PATH: install it "
		      "(apt-get install graphviz), or write FILE.dot and render it elsewhere", out);
	on_error(cleanup);
	tmp_dot = fmt("%s.tmp-XXXXXX", out);
	int fd = mkstemp(tmp_dot);
	if (fd < 0) {
		tmp_dot = NULL;
		fatal("%s: cannot write beside it: %s", out, strerror(errno));
	}
	plain_mode(fd);
	FILE *f = fdopen(fd, "w");
	if (!f)
		fatal("%s: cannot write: %s", out, strerror(errno));
	print_dot(f, g);
	if (fclose(f) != 0)
		fatal("%s: cannot write: %s", out, strerror(errno));
	const char *result = tmp_dot;
	if (!raw) {
		tmp_out = fmt("%s.tmp-XXXXXX", out);
		if ((fd = mkstemp(tmp_out)) < 0) {
			tmp_out = NULL;
			fatal("%s: cannot write beside it: %s", out, strerror(errno));
		}
		plain_mode(fd);
		close(fd);
		fflush(NULL);
		pid_t pid = fork();
		if (pid < 0)
			fatal("cannot start %s: %s", dot, strerror(errno));
		if (pid == 0) {
			char *argv[] = {dot, fmt("-T%s", fmt_), "-o", tmp_out, tmp_dot, NULL};
			execv(dot, argv);
			_exit(127);
		}
		int st;
		while (waitpid(pid, &st, 0) < 0)
			if (errno != EINTR)
				fatal("waiting for %s: %s", dot, strerror(errno));
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			fatal("%s: %s failed (%s %d) rendering the graph; nothing written", out, dot,
			      WIFEXITED(st) ? "exit status" : "signal",
			      WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		result = tmp_out;
	}
	if (rename(result, out) != 0)
		fatal("%s: cannot write: %s", out, strerror(errno));
	if (result == tmp_out)
		tmp_out = NULL;
	else
		tmp_dot = NULL;
	cleanup();
	on_error(NULL);
}
