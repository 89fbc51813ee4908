/* Links m_run_int8 alone (embedded.py): with --gc-sections the program
   holds only what m_run_int8 reaches, so a float routine or libm symbol
   in it means the int8 path is not float-free. */
#include "board.h"
#include "m.h"

static _Alignas(64) unsigned char arena[m_ARENA_SIZE];
static int8_t xq[m_INPUT0_SIZE], yq[m_OUTPUT0_SIZE];

int main(void)
{
	const int8_t *qi[1] = {xq};
	int8_t *qo[1] = {yq};
	m_run_int8(qi, qo, arena);
	board_exit(yq[0] != 99);
}
