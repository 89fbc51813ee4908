#!/bin/bash
# Every IR dump is a valid model: the dump after each pass, given back to
# `q8c run`, resumes the pipeline and gives the original run's bits.
# (mobilenet also with --activation-bits 16: int16 types in the dumps)
# usage: dumps.sh Q8C SRC SCRATCH
set -u
q8c=$1 src=$2 tmp=$3
rm -rf "$tmp" && mkdir -p "$tmp"
pass=0 fail=0
check() { # model input calib [flags...]
	local m=$1 x=$2 c=$3 name d
	shift 3
	name=$(basename "$(dirname "$m")")-$(basename "$m" .q8)$(printf '%s' "$@" | tr -d ' -')
	"$q8c" run "$m" --input "$x" --output "$tmp/$name.ref.npy" --calib "$c" "$@" \
		--dump-after all --dump-dir "$tmp/$name" || { echo "FAIL $name: run"; fail=$((fail + 1)); return; }
	for d in "$tmp/$name"/*.q8; do
		if "$q8c" run "$d" --input "$x" --output "$tmp/out.npy" --calib "$c" "$@" &&
			cmp -s "$tmp/out.npy" "$tmp/$name.ref.npy"; then
			pass=$((pass + 1))
		else
			echo "FAIL $name: $(basename "$d") does not reproduce the original run"
			fail=$((fail + 1))
		fi
	done
	echo "ok   $name: $(ls "$tmp/$name"/*.q8 | wc -l) dumps"
}
head_x() { /usr/bin/python3 -c "import numpy as np, sys; np.save(sys.argv[2], np.load(sys.argv[1])[:$2])" "$1" "$3"; }
for m in cnn resnet mobilenet; do
	d=$src/examples/$m
	head_x "$d/test_x.npy" 50 "$tmp/$m-x.npy"
	check "$d/model.q8" "$tmp/$m-x.npy" "$d/calib.npy"
	check "$d/model_qdq.q8" "$tmp/$m-x.npy" "$d/calib.npy"
done
# bias correction measures its means on the float graph that reaches the
# quantize pass, so the dumps before it resume to the same bits
check "$src/examples/mobilenet/model.q8" "$tmp/mobilenet-x.npy" "$src/examples/mobilenet/calib.npy" --bias-correction
check "$src/examples/mobilenet/model.q8" "$tmp/mobilenet-x.npy" "$src/examples/mobilenet/calib.npy" --activation-bits 16
# the table activations and transpose, calibrated and QDQ (u8, zero points)
/usr/bin/python3 -c "
import numpy as np, sys
rng = np.random.default_rng(3)
np.save(sys.argv[1], rng.uniform(-1, 1, (16, 3, 6, 5)).astype(np.float32))
np.save(sys.argv[2], rng.uniform(-1.2, 1.2, (4, 3, 6, 5)).astype(np.float32))
np.save(sys.argv[3], rng.uniform(-1.2, 1.2, (4, 2, 5, 6)).astype(np.float32))" \
	"$tmp/act-calib.npy" "$tmp/act-x.npy" "$tmp/actq-x.npy"
check "$src/tests/models/activations.q8" "$tmp/act-x.npy" "$tmp/act-calib.npy"
check "$src/tests/models/activations_qdq.q8" "$tmp/actq-x.npy" "$tmp/actq-x.npy"
c=$src/../shared/conformance/models/conv2d_depthwise
check "$c/model.q8" "$c/x.npy" "$c/x.npy"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
