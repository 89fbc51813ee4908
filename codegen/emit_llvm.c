#include "codegen/lower.h"
void emit_llvm(const Prog *p, const char *dir) { (void)p; fatal("%s: LLVM emitter not built yet", dir); }
