#include "ir.h"
void infer_op(Op *op) { die("infer_op(%s): not built yet", opinfo[op->kind].name); }
