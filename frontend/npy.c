#include "ir.h"
void *npy_read(const char *path, const Type *want, Type *got) { (void)want; (void)got; fatal("%s: npy reader not built yet", path); }
void npy_write(const char *path, Dtype dt, int rank, const int64_t *dims, const void *data) { (void)dt; (void)rank; (void)dims; (void)data; fatal("%s: npy writer not built yet", path); }
