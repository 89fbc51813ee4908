#!/bin/bash
# The inspection tools (docs/inspecting.md) against golden files in
# tests/golden/inspect/: the --dot picture after every pass of three
# examples, q8c diff between consecutive dumps, and their errors (no
# Graphviz on PATH, bad files) with nothing half-written.
# usage: inspect.sh Q8C SRC SCRATCH   (UPDATE=1 rewrites the goldens)
set -u
q8c=$(realpath "$1") src=$2 tmp=$3
gold=$src/tests/golden/inspect
rm -rf "$tmp" && mkdir -p "$tmp"
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }
same() { # golden produced
	if [ "${UPDATE:-}" = 1 ]; then cp "$2" "$1"; ok; return; fi
	if cmp -s "$1" "$2"; then ok; else bad "$(basename "$1") differs:"; diff "$1" "$2" | head -20; fi
}
# expect_error STATUS MESSAGE-PART COMMAND...: fails with STATUS, says MESSAGE-PART
expect_error() {
	local st=$1 msg=$2
	shift 2
	"$@" >"$tmp/err.out" 2>&1
	local got=$?
	if [ "$got" = "$st" ] && grep -qF -- "$msg" "$tmp/err.out"; then ok; else
		bad "'$*' gave status $got (want $st) and: $(head -3 "$tmp/err.out")"; fi
}

# --dot: the picture after every pass
dots() { # name model [flags]
	local name=$1 m=$2 d
	shift 2
	"$q8c" compile "$m" -o "$tmp/$name.out" --dump-after all --dump-dir "$tmp/$name" --dot "$@" ||
		{ bad "$name: compile"; return; }
	for d in "$tmp/$name"/*.dot; do
		same "$gold/$name-$(basename "$d")" "$d"
		if command -v dot >/dev/null; then # Graphviz reads it
			dot -Tsvg -o /dev/null "$d" && ok || bad "dot cannot read $d"
		fi
	done
}
dots cnn "$src/examples/cnn/model.q8" --calib "$src/examples/cnn/calib.npy" --calib-method max
dots cnn_qdq "$src/examples/cnn/model_qdq.q8"
dots mobilenet_qdq "$src/examples/mobilenet/model_qdq.q8"

# q8c dot: the same text as --dot, or rendered by Graphviz
"$q8c" dot "$src/examples/cnn/model_qdq.q8" -o "$tmp/cnn_qdq.dot" && same "$gold/cnn_qdq-07-plan.dot" "$tmp/cnn_qdq.dot"
"$q8c" dot "$src/examples/cnn/model_qdq.q8" --after quantize -o "$tmp/q.dot" &&
	same "$gold/cnn_qdq-03-quantize.dot" "$tmp/q.dot"
"$q8c" dot "$tmp/cnn_qdq/05-fixedpoint.q8" --after none -o "$tmp/q.dot" &&
	same "$gold/cnn_qdq-05-fixedpoint.dot" "$tmp/q.dot"
if command -v dot >/dev/null; then
	"$q8c" dot "$src/examples/cnn/model_qdq.q8" -o "$tmp/cnn.svg" && grep -q "<svg" "$tmp/cnn.svg" &&
		grep -q "conv2d + bias + requantize" "$tmp/cnn.svg" && ok || bad "q8c dot -o cnn.svg"
	"$q8c" dot "$src/examples/cnn/model_qdq.q8" -o "$tmp/cnn.png" &&
		[ "$(head -c 4 "$tmp/cnn.png" | tail -c 3)" = PNG ] && ok || bad "q8c dot -o cnn.png"
else
	bad "Graphviz's dot is not installed (tools/setup.sh installs graphviz)"
fi
# errors: no dot on PATH, a bad suffix, a bad model; nothing written
expect_error 1 "apt-get install graphviz" env PATH=/nonexistent "$q8c" dot "$src/examples/cnn/model_qdq.q8" -o "$tmp/none.png"
expect_error 1 "FILE.svg, FILE.png or FILE.dot" "$q8c" dot "$src/examples/cnn/model_qdq.q8" -o "$tmp/none.jpg"
expect_error 1 "error:" "$q8c" dot "$src/tests/errors/attr_arity.q8" -o "$tmp/none.svg"
expect_error 1 "no pass named 'nope'" "$q8c" dot "$src/examples/cnn/model_qdq.q8" --after nope -o "$tmp/none.svg"
expect_error 1 "needs --dump-after" "$q8c" compile "$src/examples/cnn/model_qdq.q8" -o "$tmp/none" --dot
# --report-format json is one JSON object whatever the report holds
json_keys() { # keys command...: the JSON object's keys, in order
	local want=$1
	shift
	"$@" --report --report-format json >"$tmp/r.json" &&
		[ "$(/usr/bin/python3 -c 'import json, sys; print(" ".join(json.load(open(sys.argv[1]))))' "$tmp/r.json")" = "$want" ] &&
		ok || bad "$* --report --report-format json: $(head -c 300 "$tmp/r.json")"
}
json_keys "model tensors memory" "$q8c" compile "$src/examples/cnn/model_qdq.q8" -o "$tmp/json"
json_keys "model memory" "$q8c" compile "$src/examples/cnn/model.q8" --float -o "$tmp/json"
json_keys "model" "$q8c" run "$src/examples/mlp/model.q8" --float --input "$src/examples/mlp/test_x.npy" --output "$tmp/y.npy"
json_keys "model tensors samples data output qdq_pairs_removed int8_sqnr_db simulated_sqnr_db int8_vs_simulated_sqnr_db layer_samples layers" \
	"$q8c" run "$src/examples/mlp/model_qdq.q8" --input "$src/examples/mlp/test_x.npy" --output "$tmp/y.npy"

# --simulate, --report-format: their misuses
m=$src/examples/mlp
expect_error 1 "no meaning with --float" "$q8c" run "$m/model.q8" --float --simulate --input "$m/test_x.npy" --output "$tmp/none.npy"
expect_error 1 "unknown option '--simulate'" "$q8c" compile "$m/model.q8" --simulate -o "$tmp/none"
expect_error 1 "--report-format takes text or json" "$q8c" compile "$m/model.q8" --report --report-format xml -o "$tmp/none"
expect_error 1 "give --report too" "$q8c" compile "$m/model.q8" --report-format json -o "$tmp/none"
expect_error 1 "x.npy: cannot open" "$q8c" run "$m/model.q8" --simulate --calib "$m/calib.npy" --input "$tmp/x.npy" --output "$tmp/none.npy"
if ls "$tmp"/none* >/dev/null 2>&1; then bad "an error left $(ls "$tmp"/none*)"; else ok; fi

# q8c diff: each pass's changelog on two examples (fp32 calibrated, QDQ)
for name in cnn cnn_qdq; do
	prev=
	for d in "$tmp/$name"/*.q8; do
		if [ -n "$prev" ]; then
			# the golden names the dumps by their path under the scratch dir
			(cd "$tmp" && "$q8c" diff "$name/$(basename "$prev")" "$name/$(basename "$d")") >"$tmp/diff.out" ||
				bad "q8c diff $prev $d"
			same "$gold/$name-diff-$(basename "$d" .q8).out" "$tmp/diff.out"
		fi
		prev=$d
	done
done
"$q8c" diff "$src/examples/cnn/model.q8" "$src/examples/cnn/model.q8" >"$tmp/diff.out" &&
	[ "$(grep -c . "$tmp/diff.out")" = 3 ] && grep -q "0 added, 0 removed, 0 fused away, 0 changed; .* 0 changed" "$tmp/diff.out" &&
	ok || bad "q8c diff of a model with itself: $(cat "$tmp/diff.out")"
expect_error 1 "diff takes two models" "$q8c" diff "$src/examples/cnn/model.q8"
expect_error 1 "nonexistent.q8: cannot open" "$q8c" diff "$src/examples/cnn/model.q8" "$tmp/nonexistent.q8"
expect_error 1 "attr_arity.q8:" "$q8c" diff "$src/tests/errors/attr_arity.q8" "$src/examples/cnn/model.q8"

# progress: calibration reports samples and rate on a terminal only; in a
# pipe (here) stderr stays empty.  --time-passes: one line per pass.
m=$src/examples/mlp
"$q8c" compile "$m/model.q8" -o "$tmp/mlp" --calib "$m/calib.npy" 2>"$tmp/err.out" &&
	[ ! -s "$tmp/err.out" ] && ok || bad "calibration wrote to a pipe: $(head -c 300 "$tmp/err.out")"
if command -v script >/dev/null; then # a pseudo-terminal; cnn calibrates for long enough (0.4 s) to show it
	c=$src/examples/cnn
	script -qec "'$q8c' compile '$c/model.q8' -o '$tmp/cnn.out' --calib '$c/calib.npy'" /dev/null >"$tmp/tty.out" 2>&1
	grep -aq "calibrate: [a-z]* ([12]/2): [0-9]*/200 samples, [0-9]* samples/s" "$tmp/tty.out" && ok ||
		bad "no progress on a terminal: $(head -c 300 "$tmp/tty.out")"
else
	bad "'script' (util-linux) is missing: the progress is not tested"
fi
"$q8c" compile "$m/model.q8" -o "$tmp/mlp" --calib "$m/calib.npy" --time-passes 2>"$tmp/err.out"
# one line per pass, their sum, lower and emit
[ "$(grep -c '^time: [a-z]* *[0-9.]* ms' "$tmp/err.out")" = "$(( $("$q8c" passes | wc -l) + 3 ))" ] && ok ||
	bad "--time-passes: $(cat "$tmp/err.out")"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
