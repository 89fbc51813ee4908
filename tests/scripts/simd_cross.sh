#!/bin/bash
# The cross-target SIMD kernels (runtime/neon.c, dotprod.c, rvv.c) against
# the portable kernels of runtime/ref.c: tests/scripts/simd_cross.c built
# with the cross compilers (gcc and clang-16, as the C and the LLVM
# emitters' users would) and run under qemu on random shapes.
# Then the same kernels through the compiler: examples/mobilenet (conv,
# depthwise, pointwise, dense) and tests/models/activations.q8 (lut_i8)
# compiled for every SIMD target with both emitters, run (natively or
# under qemu) and compared with `q8c run`.
# usage: simd_cross.sh Q8C_BINARY SOURCE_DIR SCRATCH_DIR   (exit 77: skipped)
# SIMD_CROSS_MODELS="activations" runs fewer models end to end (default both).
set -u
src=$2
out=$3
mkdir -p "$out"

need() {
	for t in "$@"; do
		if ! command -v "$t" >/dev/null; then
			echo "SKIP: $t not installed"
			exit 77
		fi
	done
}
need /usr/bin/python3 aarch64-linux-gnu-gcc riscv64-linux-gnu-gcc clang-16 qemu-aarch64 qemu-riscv64 llvm-objdump-16

flags=(-std=c11 -O2 -Wall -Wextra -Werror -D_POSIX_C_SOURCE=200809L -I"$src" -I"$src/ir")
files=("$src/tests/scripts/simd_cross.c" "$src/codegen/select.c" "$src/ir/util.c" "$src/ir/ir.c")
qarm=(qemu-aarch64 -L /usr/aarch64-linux-gnu)
qrv=(qemu-riscv64 -L /usr/riscv64-linux-gnu)
fail=0

# build NAME ISA TK COMPILER-AND-FLAGS...
build() {
	local name=$1 isa=$2 tk=$3
	shift 3
	if ! "$@" "${flags[@]}" -DISA="$isa" -DKFILE="\"runtime/$isa.c\"" -DTK="$tk" \
		"${files[@]}" -lm -o "$out/$name" 2>"$out/$name.log"; then
		echo "FAIL: $name does not build:"
		cat "$out/$name.log"
		fail=1
		return 1
	fi
}

# run NAME EMULATOR...
run() {
	local name=$1
	shift
	if "$@" "$out/$name" 300 >"$out/$name.out" 2>&1; then
		echo "ok   $name: $(cat "$out/$name.out")"
	else
		echo "FAIL: $name:"
		cat "$out/$name.out"
		fail=1
	fi
}

# the vector instructions must really be there (not a scalar fallback)
has() {
	local name=$1 attr=$2 insn=$3
	if ! llvm-objdump-16 -d --mattr="$attr" "$out/$name" | grep -q "	$insn"; then
		echo "FAIL: $name has no $insn"
		fail=1
	fi
}

build neon-gcc neon TG_AARCH64 aarch64-linux-gnu-gcc && run neon-gcc "${qarm[@]}" && has neon-gcc +neon tbx &&
	has neon-gcc +neon smlal2
	has neon-gcc +neon st2 # the int4 unpack's interleave (runtime/w4.h)
build neon-clang neon TG_AARCH64 clang-16 --target=aarch64-linux-gnu -fuse-ld=bfd &&
	run neon-clang "${qarm[@]}"
build dotprod-gcc dotprod TG_AARCH64_DOTPROD aarch64-linux-gnu-gcc -march=armv8.2-a+dotprod &&
	run dotprod-gcc "${qarm[@]}" && has dotprod-gcc +dotprod sdot
# without -march: the file's own target pragma enables sdot
build dotprod-gcc-plain dotprod TG_AARCH64_DOTPROD aarch64-linux-gnu-gcc &&
	run dotprod-gcc-plain "${qarm[@]}" && has dotprod-gcc-plain +dotprod sdot
build dotprod-clang dotprod TG_AARCH64_DOTPROD clang-16 --target=aarch64-linux-gnu -fuse-ld=bfd &&
	run dotprod-clang "${qarm[@]}" && has dotprod-clang +dotprod sdot
# a CPU without sdot must trap: the test above really ran sdot
if [ -x "$out/dotprod-gcc" ] && ("${qarm[@]}" -cpu cortex-a57 "$out/dotprod-gcc" 5) >/dev/null 2>&1; then
	echo "FAIL: dotprod-gcc ran on a CPU without sdot"
	fail=1
fi
if build rvv-clang rvv TG_RISCV64_V clang-16 --target=riscv64-linux-gnu -march=rv64gcv -fuse-ld=bfd; then
	has rvv-clang +v vwmul.vx
	has rvv-clang +v vrgather.vv
	has rvv-clang +v vwmacc.vv
	has rvv-clang +v vluxei8.v
	has rvv-clang +v vsseg2e8.v # the int4 unpack's interleave (runtime/w4.h)
	for vlen in 128 256 512; do
		run rvv-clang "${qrv[@]}" -cpu rv64,v=true,vext_spec=v1.0,vlen=$vlen
	done
fi
# gcc 12 has no RVV: the same file builds its plain C path
build rvv-gcc rvv TG_RISCV64_V riscv64-linux-gnu-gcc && run rvv-gcc "${qrv[@]}"

# ---- end to end through q8c ----
q8c=$1
e2e=$out/e2e
mkdir -p "$e2e"
# mobilenet on 16 test images; the activations model on 4 random inputs
model=$src/examples/mobilenet
acts=$src/tests/models/activations.q8
/usr/bin/python3 -c "
import numpy as np
x = np.load('$model/test_x.npy')[:16]
np.save('$e2e/mobilenet.x.npy', x)
x.astype('<f4').tofile('$e2e/mobilenet.x.bin')
rng = np.random.default_rng(5)
np.save('$e2e/activations.calib.npy', rng.uniform(-1, 1, (32, 3, 6, 5)).astype(np.float32))
x = rng.uniform(-1.2, 1.2, (4, 3, 6, 5)).astype(np.float32)
np.save('$e2e/activations.x.npy', x)
x.astype('<f4').tofile('$e2e/activations.x.bin')" || { echo "FAIL: no test input"; exit 1; }
for m in ${SIMD_CROSS_MODELS:-mobilenet activations}; do
	if [ $m = mobilenet ]; then mf=$model/model.q8 mc=$model/calib.npy; else mf=$acts mc=$e2e/activations.calib.npy; fi
	"$q8c" run "$mf" --input "$e2e/$m.x.npy" --output "$e2e/$m.ref.npy" --calib "$mc" ||
		{ echo "FAIL: q8c run $m"; exit 1; }
	/usr/bin/python3 -c "import numpy as np; np.load('$e2e/$m.ref.npy').astype('<f4').tofile('$e2e/$m.ref.bin')"
done
cat >"$e2e/drv.c" <<'EOF'
/* drv IN.bin OUT.bin COUNT: runs model m over raw float32 samples */
#include <stdio.h>
#include <stdlib.h>
#include "m.h"
static _Alignas(64) unsigned char arena[m_ARENA_SIZE + 64];
int main(int argc, char **argv)
{
	static float in[m_INPUT0_SIZE], out[m_OUTPUT0_SIZE];
	FILE *fi = fopen(argv[1], "rb"), *fo = fopen(argv[2], "wb");
	if (argc != 4 || !fi || !fo)
		return 2;
	for (long i = 0; i < atol(argv[3]); i++) {
		const float *ins[1] = { in };
		float *outs[1] = { out };
		if (fread(in, sizeof in, 1, fi) != 1 || m_run(ins, outs, arena))
			return 3;
		fwrite(out, sizeof out, 1, fo);
	}
	return fclose(fo) != 0;
}
EOF

# e2e MODEL TARGET ISA EMIT CC... -- EMULATOR...
e2e() {
	local m=$1 t=$2 kernel=$3 emit=$4 mf mc n pat
	shift 4
	if [ $m = mobilenet ]; then
		mf=$model/model.q8 mc=$model/calib.npy n=16 pat="q8k_[a-z0-9_]*_$kernel"
	else
		mf=$acts mc=$e2e/activations.calib.npy n=4 pat="q8k_lut_i8_$kernel"
	fi
	local cc=() emu=()
	while [ "$1" != -- ]; do cc+=("$1"); shift; done
	shift
	emu=("$@")
	local d=$e2e/$m-$t-$emit
	rm -rf "$d"
	if ! "$q8c" compile "$mf" -o "$d" --target "$t" --emit "$emit" \
		--calib "$mc" --name m 2>"$d.log"; then
		echo "FAIL: $m: q8c compile --target $t --emit $emit"; cat "$d.log"; fail=1; return
	fi
	# (the optimised .ll may have inlined some kernels: any of the ISA's will do)
	if ! grep -q "$pat" "$d"/*.[cl]*; then
		echo "FAIL: $m $t/$emit calls no $pat kernel"; fail=1; return
	fi
	if ! "${cc[@]}" -O2 -I "$d" "$e2e/drv.c" "$d"/*.[co] -lm -o "$d/run" 2>"$d.log"; then
		echo "FAIL: $m $t/$emit does not link"; cat "$d.log"; fail=1; return
	fi
	if "${emu[@]}" "$d/run" "$e2e/$m.x.bin" "$d/y.bin" $n && cmp -s "$d/y.bin" "$e2e/$m.ref.bin"; then
		echo "ok   $m $t --emit $emit: same bits as q8c run"
	else
		echo "FAIL: $m $t --emit $emit differs from q8c run"; fail=1
	fi
}

rvq=("${qrv[@]}" -cpu rv64,v=true,vext_spec=v1.0,vlen=128)
rvq256=("${qrv[@]}" -cpu rv64,v=true,vext_spec=v1.0,vlen=256)
models=${SIMD_CROSS_MODELS:-mobilenet activations}
for m in $models; do
	for emit in c llvm; do
		if grep -q avx512vnni /proc/cpuinfo || grep -q avx512_vnni /proc/cpuinfo; then
			e2e $m x86-64-avx512 avx512 $emit cc --
		else
			echo "note: no AVX-512 VNNI here, x86-64-avx512 not run end to end"
		fi
		if grep -q avx2 /proc/cpuinfo; then
			e2e $m x86-64-avx2 avx2 $emit cc --
		else
			echo "note: no AVX2 here, x86-64-avx2 not run end to end"
		fi
		e2e $m aarch64 neon $emit aarch64-linux-gnu-gcc -- "${qarm[@]}"
		e2e $m aarch64-dotprod dotprod $emit aarch64-linux-gnu-gcc -- "${qarm[@]}"
	done
	e2e $m riscv64-v rvv c clang-16 --target=riscv64-linux-gnu -march=rv64gcv -fuse-ld=bfd -- "${rvq[@]}"
	e2e $m riscv64-v rvv llvm riscv64-linux-gnu-gcc -- "${rvq[@]}"
done
# the table in registers (vrgather) needs VLEN >= 256
[[ " $models " == *" activations "* ]] && e2e activations riscv64-v rvv c clang-16 --target=riscv64-linux-gnu -march=rv64gcv -fuse-ld=bfd -- "${rvq256[@]}"
exit $fail
