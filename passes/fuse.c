#include "ir.h"
void pass_fuse(Graph *g, Options *o) { (void)g; (void)o; }
