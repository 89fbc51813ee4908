#!/usr/bin/python3
"""Real ONNX networks against ONNX Runtime: tests/onnx/nets, written by
tools/onnx/export.py (the four examples as PyTorch exports them, and
torchvision's mobilenet_v2, mobilenet_v3_small and resnet18, small, with
random weights), each fp32 (M.onnx) and QDQ (M_qdq.onnx), with ONNX
Runtime's outputs on the same inputs (M_ort.npy, M_qdq_ort.npy):
  - fp32: `q8c run --float M.onnx` against ORT's fp32 run of the file:
    relative error max |q8c - ort| / max |ort| (over all outputs of all
    inputs) at most 1e-4;
  - int8: `q8c run M_qdq.onnx` (q8c's integer code) against ORT's own int8
    run of the same QDQ file: the top-1 class agrees on at least 99.5 % of
    the inputs (the examples: their 1000 MNIST test digits; the networks:
    200 images); also printed: the share of outputs that are equal and the
    largest difference in output quantization steps;
  - `q8c import M.onnx` then `q8c run OUT.q8` gives the bytes `q8c run M.onnx`
    gives, fp32 and int8;
  - rounding once: a QDQ model whose clip and pools are quantized at other
    scales than their inputs (as in mobilenet_v2 and v3) gives NumPy's
    fake quantization in float64 bit for bit.
usage: onnx_nets.py Q8C SRCDIR SCRATCH"""
import os
import shutil
import subprocess
import sys

import numpy as np

q8c, src, scratch = (os.path.abspath(a) for a in sys.argv[1:4])
d = os.path.join(src, "tests", "onnx", "nets")
shutil.rmtree(scratch, ignore_errors=True)
os.makedirs(scratch)
fails = []
EXAMPLES = ("mlp", "cnn", "resnet", "mobilenet")
NETS = ("mobilenet_v2", "mobilenet_v3", "resnet18")


def check(name, ok, what):
    print(("ok   " if ok else "FAIL ") + name + ": " + what, flush=True)
    if not ok:
        fails.append(name)


def q8c_run(name, model, x, *flags):
    out = os.path.join(scratch, name + ".npy")
    r = subprocess.run([q8c, "run", model, "--input", x, "--output", out, *flags], capture_output=True, text=True)
    if r.returncode != 0:
        check(name, False, f"q8c run {model} {' '.join(flags)}: exit {r.returncode}: {r.stderr.strip()}")
        return None
    return out


# the inputs, NHWC as q8c takes them (the default --input-layout)
inputs = {}
for e in EXAMPLES:
    inputs["ex_" + e] = os.path.join(src, "examples", e, "test_x.npy")
u8 = np.load(os.path.join(d, "nets_x.npy"))
np.save(os.path.join(scratch, "nets_x.npy"), (u8.astype(np.float32) - np.float32(128)) / np.float32(64))
for n in NETS:
    inputs[n] = os.path.join(scratch, "nets_x.npy")

for m, x in inputs.items():
    ref = np.load(os.path.join(d, m + "_ort.npy"))
    y = q8c_run(m + "_fp32", os.path.join(d, m + ".onnx"), x, "--float")
    if y:
        a = np.load(y).reshape(ref.shape)
        err = float(np.abs(a.astype(np.float64) - ref).max() / np.abs(ref).max())
        check(m + " fp32", err <= 1e-4, f"max |q8c - ORT| / max |ORT| = {err:.2e} ({len(ref)} inputs)")
    ref = np.load(os.path.join(d, m + "_qdq_ort.npy"))
    y = q8c_run(m + "_int8", os.path.join(d, m + "_qdq.onnx"), x)
    if y:
        a = np.load(y).reshape(ref.shape)
        agree = float(np.mean(a.argmax(1) == ref.argmax(1)))
        # the output's quantization step: the smallest nonzero difference of ORT's outputs
        v = np.unique(ref)
        step = float(np.diff(v).min()) if len(v) > 1 else 1.0
        check(m + " int8", agree >= 0.995,
              f"top-1 agrees with ORT on {100 * agree:.1f} % of {len(ref)} inputs; outputs equal: "
              f"{100 * np.mean(a == ref):.1f} %, largest difference {np.abs(a - ref).max() / step:.0f} steps")

# import, then the text gives the same bytes as the ONNX file (on 20 inputs)
for m, x in inputs.items():
    few = os.path.join(scratch, m + "_few.npy")
    np.save(few, np.load(x)[:20])
    x = few
    for suffix, flags in (("", ["--float"]), ("_qdq", [])):
        onnx_path = os.path.join(d, m + suffix + ".onnx")
        q8 = os.path.join(scratch, "import", m + suffix + ".q8")
        os.makedirs(os.path.dirname(q8), exist_ok=True)
        r = subprocess.run([q8c, "import", onnx_path, "-o", q8], capture_output=True, text=True)
        if r.returncode != 0:
            check(m + suffix + " import", False, r.stderr.strip())
            continue
        a = q8c_run(m + suffix + "_a", onnx_path, x, *flags)
        b = q8c_run(m + suffix + "_b", q8, x, *flags)
        if a and b:
            check(m + suffix + " import", open(a, "rb").read() == open(b, "rb").read(),
                  "q8c run OUT.q8 gives the bytes of q8c run MODEL.onnx")

# rounding once: a clip and pools read by QDQ nodes at other scales than their inputs
def fq(v, s, z, lo, hi):
    """ONNX QuantizeLinear then DequantizeLinear, in float64 (round half to even)."""
    s = float(np.float32(s))
    return (np.clip(np.round(v / s) + z, lo, hi) - z) * s


# (name, op text, input scale, zero point, output scale, zero point, u8?, NumPy of the op,
#  range of the input)
ROUND = [
    ("clip", "clip(%x.dq, min=0, max=6)", 0.0748, 146, 6 / 255, 0, True, lambda v: np.clip(v, 0, 6), (-12, 9)),
    ("avgpool", "avgpool2d(%x.dq, size=[2, 2])", 6 / 255, 0, 0.005, 0, True,
     lambda v: v.reshape(2, 2, 2, 2, 2, 3).mean(axis=(2, 4)), (0, 1.2)),
    ("global_avgpool", "global_avgpool(%x.dq)", 0.031, -128, 0.0045, -128, False,
     lambda v: v.mean(axis=(1, 2), keepdims=True), (0.3, 1.7)),
]
rng = np.random.default_rng(11)
for name, op, sx, zx, sy, zy, u8, f, r in ROUND:
    dt, lo, hi = ("u8", 0, 255) if u8 else ("i8", -128, 127)
    text = f"""model {name};
input %x : f32[2, 4, 4, 3];
%x.q = quantize(%x, scale={sx!r}, zero_point={zx}, dtype={dt});
%x.dq = dequantize(%x.q, scale={sx!r}, zero_point={zx});
%t = {op};
%t.q = quantize(%t, scale={sy!r}, zero_point={zy}, dtype={dt});
%y = dequantize(%t.q, scale={sy!r}, zero_point={zy});
output %y;
"""
    model, xp = os.path.join(scratch, name + ".q8"), os.path.join(scratch, name + "_x.npy")
    open(model, "w").write(text)
    x = rng.uniform(*r, (2, 4, 4, 3)).astype(np.float32)
    np.save(xp, x)
    y = q8c_run("round_" + name, model, xp)
    if y:
        want = fq(f(fq(x.astype(np.float64), sx, zx, lo, hi)), sy, zy, lo, hi).astype(np.float32)
        got = np.load(y)
        check("rounding once: " + name, got.shape == want.shape and np.array_equal(got, want),
              f"QDQ {op} at a new scale: "
              f"{np.sum(got != want) if got.shape == want.shape else 'shape'} values differ from NumPy")

print(f"onnx_nets: {len(inputs)} networks, {len(fails)} failures")
sys.exit(1 if fails else 0)
