#!/bin/sh
# Builds and runs the kernel benchmarks (figures, not pass/fail; not part
# of the test suite): bench/peak (the int8 peak of one core) and
# bench/layers (each layer with the portable and each host SIMD kernel,
# median of RUNS runs, % of the measured VNNI zmm peak).
# usage: bench/run.sh [RUNS]     (from anywhere; builds into $TMPDIR)
set -e
src=$(cd "$(dirname "$0")/.." && pwd)
out=${TMPDIR:-/tmp}/q8c-bench
mkdir -p "$out"
cc=${CC:-gcc}
$cc -O3 -march=native -o "$out/peak" "$src/bench/peak.c"
$cc -O3 -march=native -std=c11 -D_POSIX_C_SOURCE=200809L -I"$src" -I"$src/ir" \
	-o "$out/layers" "$src/bench/layers.c" "$src/codegen/select.c" "$src/ir/util.c" "$src/ir/ir.c" -lm
echo "== $cc, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), one core"
"$out/peak" | tee "$out/peak.txt"
peak=$(awk '$1 == "vnni_zmm" && $2 + 0 > 0 { print $2 }' "$out/peak.txt")
"$out/layers" "${peak:-0}" "${1:-21}"
