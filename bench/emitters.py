#!/usr/bin/python3
"""C emitter vs LLVM emitter on the benchmark shapes, through the whole
compiler: each layer is a one-op model with random weights, compiled for the
host with --emit c and --emit llvm.  Two timings per emitter (median µs per
call of 7 rounds, tools/driver/demo_driver.c): the int8 entry point
NAME_run_int8 (the layer's kernel alone; the driver built with
-DQ8_TIME_INT8) gives the GOPS and % of PEAK, and NAME_run (float in and
out: quantize + kernel + dequantize).
usage: bench/emitters.py [Q8C [PEAK_GOPS]] — prints a markdown table
(figures, not pass/fail); PEAK_GOPS from bench/peak (vnni_zmm)."""
import os, subprocess, sys, tempfile
import numpy as np

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
q8c = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, 'build', 'q8c')
peak = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
tmp = tempfile.mkdtemp(prefix='q8c-emitters-')
rng = np.random.default_rng(0)

# name, input shape, weight shape, op text, MACs
shapes = [
    ('dense 1x1024x1024', [1, 1024], [1024, 1024], 'dense(%x, @w)', 1024 * 1024),
    ('GEMM 256x256x256 (1x1 conv)', [1, 16, 16, 256], [256, 1, 1, 256], 'conv2d(%x, @w)', 256 ** 3),
    ('conv 3x3 28x28x16->32', [1, 28, 28, 16], [32, 3, 3, 16], 'conv2d(%x, @w, pads=[1,1,1,1])', 28 * 28 * 32 * 9 * 16),
    ('conv 3x3 56x56x64->64', [1, 56, 56, 64], [64, 3, 3, 64], 'conv2d(%x, @w, pads=[1,1,1,1])', 56 * 56 * 64 * 9 * 64),
    ('conv 3x3 14x14x128->128', [1, 14, 14, 128], [128, 3, 3, 128], 'conv2d(%x, @w, pads=[1,1,1,1])', 14 * 14 * 128 * 9 * 128),
    ('depthwise 3x3 56x56x64', [1, 56, 56, 64], [64, 3, 3, 1], 'conv2d(%x, @w, pads=[1,1,1,1], groups=64)', 56 * 56 * 64 * 9),
]


def sh(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        sys.exit(f'failed: {" ".join(cmd)}\n{r.stderr[-1500:]}')
    return r.stdout


pct = ' %peak C | %peak LLVM |' if peak else ''
print('| layer | int8 C µs | int8 LLVM µs | C GOPS | LLVM GOPS |' + pct + ' float I/O C µs | float I/O LLVM µs |')
print('|---|---|---|---|---|' + ('---|---|' if peak else '') + '---|---|')
for i, (name, xs, ws, op, macs) in enumerate(shapes):
    d = os.path.join(tmp, f'l{i}'); os.makedirs(d)
    np.save(os.path.join(d, 'w.npy'), (rng.standard_normal(ws) * 0.1).astype('<f4'))
    dims = ', '.join(map(str, xs)); wdims = ', '.join(map(str, ws))
    open(os.path.join(d, 'model.q8'), 'w').write(
        f'model l{i};\ninput %x : f32[{dims}];\nconst @w : f32[{wdims}] = "w.npy";\n'
        f'%y = {op};\noutput %y;\n')
    x = rng.standard_normal([4] + xs[1:]).astype('<f4')
    np.save(os.path.join(d, 'calib.npy'), x)
    x.tofile(os.path.join(d, 'x.bin'))
    t8, tf = {}, {}
    reps = str(max(3, int(2e8 / macs)))
    for emit in ('c', 'llvm'):
        out = os.path.join(d, emit)
        sh([q8c, 'compile', os.path.join(d, 'model.q8'), '-o', out, '--emit', emit, '--name', 'm',
            '--calib', os.path.join(d, 'calib.npy')])
        objs = sorted(os.path.join(out, f) for f in os.listdir(out) if f.endswith(('.c', '.o')))
        cc = ['cc', os.environ.get('CFLAGS_OPT', '-O2'), '-march=native', '-I', out,
              '-DQ8_MODEL_H="m.h"', '-DQ8_NAME=m']
        exe = os.path.join(d, emit + '.exe')
        driver = os.path.join(root, 'tools', 'driver', 'demo_driver.c')
        run = [exe, os.path.join(d, 'x.bin'), os.path.join(d, 'y.bin'), '4', reps]
        sh(cc + ['-DQ8_TIME_INT8', driver] + objs + ['-lm', '-o', exe])
        t8[emit] = float(sh(run).split()[-1])
        sh(cc + [driver] + objs + ['-lm', '-o', exe])
        tf[emit] = float(sh(run).split()[-1])
    gc, gl = 2 * macs / t8['c'] / 1e3, 2 * macs / t8['llvm'] / 1e3
    row = f'| {name} | {t8["c"]:.1f} | {t8["llvm"]:.1f} | {gc:.0f} | {gl:.0f} |'
    if peak:
        row += f' {100 * gc / peak:.0f} % | {100 * gl / peak:.0f} % |'
    print(row + f' {tf["c"]:.1f} | {tf["llvm"]:.1f} |', flush=True)
