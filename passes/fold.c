#include "ir.h"
void pass_fold(Graph *g, Options *o) { (void)g; (void)o; }
