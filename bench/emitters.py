#!/usr/bin/python3
"""C emitter vs LLVM emitter on the benchmark shapes, through the whole
compiler: each layer is a one-op model with random weights, compiled for the
host with --emit c and --emit llvm, linked with tools/driver/demo_driver.c and
timed (median µs per inference of 7 rounds, float in and out included).
usage: bench/emitters.py [Q8C] — prints a markdown table (figures, not pass/fail)."""
import os, subprocess, sys, tempfile
import numpy as np

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
q8c = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, 'build', 'q8c')
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


print('| layer | C µs | LLVM µs | C GOPS | LLVM GOPS | LLVM / C time |')
print('|---|---|---|---|---|---|')
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
    times = {}
    for emit in ('c', 'llvm'):
        out = os.path.join(d, emit)
        sh([q8c, 'compile', os.path.join(d, 'model.q8'), '-o', out, '--emit', emit, '--name', 'm',
            '--calib', os.path.join(d, 'calib.npy')])
        objs = sorted(os.path.join(out, f) for f in os.listdir(out) if f.endswith(('.c', '.o')))
        exe = os.path.join(d, emit + '.exe')
        sh(['cc', os.environ.get('CFLAGS_OPT', '-O2'), '-march=native', '-I', out, '-DQ8_MODEL_H="m.h"', '-DQ8_NAME=m',
            os.path.join(root, 'tools', 'driver', 'demo_driver.c')] + objs + ['-lm', '-o', exe])
        reps = str(max(3, int(2e8 / macs)))
        times[emit] = float(sh([exe, os.path.join(d, 'x.bin'), os.path.join(d, 'y.bin'), '4', reps]).split()[-1])
    c, l = times['c'], times['llvm']
    print(f'| {name} | {c:.1f} | {l:.1f} | {2 * macs / c / 1e3:.0f} | {2 * macs / l / 1e3:.0f} | {l / c:.2f} |', flush=True)
