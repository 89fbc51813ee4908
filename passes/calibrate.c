#include "ir.h"
void pass_calibrate(Graph *g, Options *o) { (void)g; (void)o; }
