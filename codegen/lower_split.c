/* How each step of NAME_run_parallel splits into tasks (runtime/par.h):
   windowed ops over output rows (or images), elementwise ops over ranges
   of elements, the rest whole.  Decided once here, on the lowered form,
   so that both emitters print the same split. */
#include <string.h>

#include "codegen/lower_impl.h"

/* at most this many tasks per step (the caller's thread count is not
   known here; 8 keeps 2-8 threads busy), and at least this much work
   per task: MACs (or window reads) for rows, elements for ranges */
enum { MAX_TASKS = 8, MIN_ROW_WORK = 1 << 14, MIN_ELEMS = 1 << 11 };

static bool starts(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int dt_size(int32_t dt)
{
	return dt == Q8_DT_F32 || dt == Q8_DT_I32 ? 4 : dt == Q8_DT_I16 ? 2 : 1;
}

static int64_t clamp_tasks(int64_t work, int64_t min_work, int64_t units)
{
	int64_t n = work / min_work;
	if (n > MAX_TASKS)
		n = MAX_TASKS;
	if (n > units)
		n = units;
	return n < 1 ? 1 : n;
}

void lower_split(Step *s)
{
	const char *k = s->kernel;
	const int32_t *i = s->p.i;
	int kind = Q8_SPLIT_NONE, asz = 1, ysz = 1;
	int64_t n = 1;
	if (strstr(k, "_f32"))
		asz = ysz = 4;
	if (strstr(k, "_a16")) /* ADT and YDT say (runtime/a16.h) */
		asz = dt_size(i[Q8_ADT]), ysz = dt_size(i[Q8_YDT]);
	if (strstr(k, "_i16"))
		asz = ysz = 2;
	if (starts(k, "conv2d_") || starts(k, "dwconv_") || starts(k, "maxpool_") || starts(k, "avgpool_")) {
		kind = Q8_SPLIT_ROWS;
		int64_t units = i[Q8_N] > 1 ? i[Q8_N] : i[Q8_OH];
		int64_t per = (int64_t)i[Q8_KH] * i[Q8_KW] *
			(starts(k, "conv2d_") ? i[Q8_C] / (i[Q8_GROUPS] > 0 ? i[Q8_GROUPS] : 1) : 1);
		n = clamp_tasks((int64_t)i[Q8_N] * i[Q8_OH] * i[Q8_OW] * i[Q8_OC] * per, MIN_ROW_WORK, units);
	} else if (starts(k, "add_") || starts(k, "sub_") || starts(k, "mul_") || starts(k, "clip_") ||
		   starts(k, "act_f32") || starts(k, "affine_f32") || starts(k, "lut_i8") ||
		   starts(k, "requant_")) {
		kind = Q8_SPLIT_ELEMS;
		if (starts(k, "requant_i32"))
			asz = 4;
		int64_t c = i[Q8_C] > 0 ? i[Q8_C] : 1, g = 64;
		while (g % c)   /* lcm(64, C), as runtime/par.h cuts */
			g += 64;
		n = clamp_tasks(i[Q8_COUNT], MIN_ELEMS, i[Q8_COUNT] / g);
	} else if ((starts(k, "quantize") || starts(k, "dequantize")) && i[Q8_NQ] <= 1) {
		kind = Q8_SPLIT_FLAT;
		if (starts(k, "quantize"))
			asz = 4, ysz = dt_size(i[Q8_YDT]);
		else
			asz = dt_size(i[Q8_ADT]), ysz = 4;
		int64_t count = (int64_t)i[Q8_OUTER] * i[Q8_LEN] * i[Q8_INNER];
		n = clamp_tasks(count, MIN_ELEMS, count / 64);
	}
	s->split = n > 1 ? kind + 16 * asz + 256 * ysz : Q8_SPLIT_NONE;
	s->ntasks = n > 1 ? (int)n : 1;
}
