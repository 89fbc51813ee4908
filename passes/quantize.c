#include "ir.h"
void pass_quantize(Graph *g, Options *o) { (void)g; (void)o; }
