#include "codegen/lower.h"
void emit_c(const Prog *p, const char *dir) { (void)p; fatal("%s: C emitter not built yet", dir); }
void emit_header(const Prog *p, const char *dir) { (void)p; fatal("%s: header emitter not built yet", dir); }
