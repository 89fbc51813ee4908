#!/usr/bin/python3
"""The ONNX importer end to end on tests/onnx (models built by tests/onnx/gen.py,
expected outputs from PyTorch):
  - fp32: `q8c run MODEL.onnx --float` matches PyTorch to 1e-4 relative, with NHWC
    inputs (the default) and with --input-layout nchw;
  - `q8c import` then `q8c run OUT.q8` gives the bytes `q8c run MODEL.onnx` gives,
    in fp32 and int8 (calibrated on the input);
  - golden texts: tests/onnx/NAME.q8 is what `q8c import NAME.onnx` writes;
  - every file of tests/onnx/errors exits 1 with its .err message, and a failed
    import leaves nothing behind (nor changes an earlier import).
usage: onnx_import.py Q8C SRCDIR SCRATCH"""
import os
import shutil
import subprocess
import sys

import numpy as np

q8c, src, scratch = (os.path.abspath(a) for a in sys.argv[1:4])
d = os.path.join(src, "tests", "onnx")
shutil.rmtree(scratch, ignore_errors=True)
os.makedirs(scratch)
fails, skips = [], []


def run(*args):
    return subprocess.run([q8c, *args], capture_output=True, text=True)


def check(name, ok, what):
    if not ok:
        fails.append(f"{name}: {what}")
        print(f"FAIL {name}: {what}")


def run_ok(name, *args):
    r = run(*args)
    if r.returncode == 2 and "no lowering" in r.stderr:
        skips.append(f"{name}: {r.stderr.strip()}")  # an op of the lut branch not lowered yet
        print(f"SKIP {name}: {r.stderr.strip()}")
        return False
    check(name, r.returncode == 0, f"q8c {' '.join(args)}: exit {r.returncode}: {r.stderr.strip()}")
    return r.returncode == 0


models = sorted(f[:-5] for f in os.listdir(d) if f.endswith(".onnx"))
for m in models:
    onnx_path = os.path.join(d, m + ".onnx")
    x = np.load(os.path.join(d, m + "_x.npy"))
    y = np.load(os.path.join(d, m + "_y.npy"))
    s = lambda f: os.path.join(scratch, f"{m}_{f}")
    x_nhwc = x.transpose(0, 2, 3, 1) if x.ndim == 4 else x
    np.save(s("x_nhwc.npy"), x_nhwc)
    np.save(s("x_nchw.npy"), x)
    # a rank-4 output leaves NHWC by default (the activations model transposes to NHWC itself)
    y_nhwc = y.transpose(0, 2, 3, 1) if y.ndim == 4 and m != "activations" else y
    for layout, xin, want in (("nhwc", s("x_nhwc.npy"), y_nhwc), ("nchw", s("x_nchw.npy"), y)):
        out = s(f"{layout}.npy")
        if not run_ok(f"{m} fp32 {layout}", "run", onnx_path, "--float", "--input-layout", layout,
                      "--input", xin, "--output", out):
            continue
        o = np.load(out)
        check(f"{m} fp32 {layout}", o.shape == want.shape and np.allclose(o, want, rtol=1e-4, atol=1e-5),
              f"output {o.shape} differs from PyTorch {want.shape}: max |diff| "
              f"{np.abs(o - want).max() if o.shape == want.shape else 'shape'}")
    # import, then the text gives the same bytes as the ONNX file
    q8 = os.path.join(scratch, m + ".q8")
    if not run_ok(f"{m} import", "import", onnx_path, "-o", q8):
        continue
    np.save(s("calib.npy"), np.concatenate([x_nhwc, x_nhwc * 0.5]) if x.ndim > 0 else x)
    for mode in (["--float"], ["--calib", s("calib.npy")]):
        a, b = s("from_onnx.npy"), s("from_q8.npy")
        if run_ok(f"{m} {mode[0]} onnx", "run", onnx_path, *mode, "--input", s("x_nhwc.npy"), "--output", a) and \
           run_ok(f"{m} {mode[0]} q8", "run", q8, *mode, "--input", s("x_nhwc.npy"), "--output", b):
            with open(a, "rb") as fa, open(b, "rb") as fb:
                check(f"{m} {mode[0]} import", fa.read() == fb.read(),
                      "q8c run OUT.q8 and q8c run MODEL.onnx differ")

# golden text: NAME.q8 is what `q8c import NAME.onnx` writes (NAME_nchw.q8 with --input-layout nchw)
for g in sorted(f for f in os.listdir(d) if f.endswith(".q8")):
    m, flags = (g[:-8], ["--input-layout", "nchw"]) if g.endswith("_nchw.q8") else (g[:-3], [])
    out = os.path.join(scratch, "golden", m + ".q8")  # the model name comes from the ONNX file
    os.makedirs(os.path.dirname(out), exist_ok=True)
    r = run("import", os.path.join(d, m + ".onnx"), "-o", out, *flags)
    check(f"golden {g}", r.returncode == 0 and open(out).read() == open(os.path.join(d, g)).read(),
          f"import differs from {g}: {r.stderr.strip()}")

# bad files
ed = os.path.join(d, "errors")
for f in sorted(os.listdir(ed)):
    if not f.endswith(".onnx"):
        continue
    want = open(os.path.join(ed, f[:-5] + ".err")).read().strip()
    path = os.path.join(scratch, "bad.onnx")  # the messages name bad.onnx
    shutil.copy(os.path.join(ed, f), path)
    out = os.path.join(scratch, "bad_out")
    os.makedirs(out, exist_ok=True)
    r = subprocess.run([q8c, "import", "bad.onnx", "-o", "bad_out/m.q8"], capture_output=True, text=True,
                       cwd=scratch)
    check(f"errors/{f}", r.returncode == 1 and want in r.stderr,
          f"exit {r.returncode}, stderr {r.stderr.strip()!r}, expected {want!r}")
    check(f"errors/{f} leftovers", os.listdir(out) == [], f"a failed import left {os.listdir(out)}")
    shutil.rmtree(out)

# a failed import over an earlier one leaves it as it was; a new one replaces it whole
at = os.path.join(scratch, "atomic")
os.makedirs(at)
r1 = run("import", os.path.join(d, "conv_gemm.onnx"), "-o", os.path.join(at, "m.q8"))
before = {f: open(os.path.join(at, "m.data", f), "rb").read() for f in os.listdir(os.path.join(at, "m.data"))}
text = open(os.path.join(at, "m.q8")).read()
open(os.path.join(at, "m.data", "stale.npy"), "w").close()
r2 = run("import", os.path.join(ed, "cycle.onnx"), "-o", os.path.join(at, "m.q8"))
check("atomic: failed import", r1.returncode == 0 and r2.returncode == 1 and
      open(os.path.join(at, "m.q8")).read() == text and sorted(os.listdir(at)) == ["m.data", "m.q8"],
      f"exit {r1.returncode}, {r2.returncode}; directory {sorted(os.listdir(at))}")
r3 = run("import", os.path.join(d, "conv_gemm.onnx"), "-o", os.path.join(at, "m.q8"))
after = {f: open(os.path.join(at, "m.data", f), "rb").read() for f in os.listdir(os.path.join(at, "m.data"))}
check("atomic: import again", r3.returncode == 0 and after == before and sorted(os.listdir(at)) == ["m.data", "m.q8"],
      f"exit {r3.returncode}: {sorted(after)} vs {sorted(before)}")

print(f"onnx_import: {len(models)} models, {len(fails)} failures, {len(skips)} skipped")
if fails:
    sys.exit(1)
if skips:
    sys.exit(77)
