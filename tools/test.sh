#!/bin/sh
# Sets up everything and runs every test: the unit, golden and end-to-end
# tests (gcc build), the same under AddressSanitizer + UBSan (clang-16),
# the public conformance check, and a short run of each fuzzer.
set -eu
cd "$(dirname "$0")/.."
sh tools/setup.sh
jobs=$(nproc)
shared=$(cd .. && pwd)/shared

echo "== tests (gcc, release)"
ctest --test-dir build --output-on-failure -j"$jobs"

echo "== tests under ASan + UBSan (clang-16)"
cmake -S . -B build-asan -G Ninja -DCMAKE_C_COMPILER=clang-16 -DQ8C_SANITIZE=ON \
      -DCMAKE_BUILD_TYPE=Debug >/dev/null
ninja -C build-asan
# the cross-target end-to-end scripts run the same q8c code paths as the
# release build; under the sanitizers run the unit tests and the quick scripts
ASAN_OPTIONS=detect_leaks=0 ctest --test-dir build-asan --output-on-failure -j"$jobs" -E 'cross|random|simd_cross'

if [ -d "$shared/conformance" ]; then
	echo "== conformance (../shared/conformance)"
	/usr/bin/python3 "$shared/conformance/check.py" build/q8c --compile
	ASAN_OPTIONS=detect_leaks=0 /usr/bin/python3 "$shared/conformance/check.py" build-asan/q8c
else
	echo "== conformance: SKIPPED, $shared/conformance not found" >&2
	exit 1
fi

if [ -f tests/fuzz/CMakeLists.txt ]; then
	echo "== fuzzing (clang-16, libFuzzer, ${Q8C_FUZZ_SECONDS:-60} s per target)"
	cmake -S . -B build-fuzz -G Ninja -DCMAKE_C_COMPILER=clang-16 -DQ8C_FUZZ=ON >/dev/null
	ninja -C build-fuzz fuzz_parse fuzz_npy fuzz_onnx
	for t in parse npy onnx; do
		mkdir -p build-fuzz/corpus_$t
		# a crash makes the fuzzer exit non-zero, and set -e stops here
		build-fuzz/tests/fuzz/fuzz_$t -max_total_time="${Q8C_FUZZ_SECONDS:-60}" -detect_leaks=0 \
			-print_final_stats=1 build-fuzz/corpus_$t tests/fuzz/corpus_$t >build-fuzz/fuzz_$t.log 2>&1 ||
			{ tail -n 40 build-fuzz/fuzz_$t.log; exit 1; }
		grep -E 'stat::number_of_executed_units|Done' build-fuzz/fuzz_$t.log | sed "s/^/fuzz_$t: /"
	done
fi
echo "== all tests passed"
