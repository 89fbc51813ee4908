#include "codegen/lower.h"
Prog *lower(Graph *g, const Target *t, const char *name, bool keep_all) { (void)g; (void)t; (void)keep_all; die("lower(%s): not built yet", name); }
