#!/usr/bin/python3
"""End to end on the example models (examples/*): each compiled for the
host three ways — int8 with --emit c, int8 with --emit llvm, and q8c's own
fp32 build of model.q8 (--float, --emit c; the QDQ rows share it) — linked with tools/driver/demo_driver.c
(cc -O2 -march=native) and timed on the first 50 test images: median µs
per inference (float in, float out) of 7 rounds.  The rounds of the three
builds are interleaved 5 times and the median of those taken, so that a
change in machine load hits all three alike.
usage: bench/models.py [Q8C] — prints a markdown table (figures, not pass/fail)."""
import os, statistics, subprocess, sys, tempfile
import numpy as np

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
q8c = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, 'build', 'q8c')
tmp = tempfile.mkdtemp(prefix='q8c-models-')
N = 50


def sh(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        sys.exit(f'failed: {" ".join(cmd)}\n{r.stderr[-1500:]}')
    return r.stdout


def build(model, out, extra):
    sh([q8c, 'compile', model, '-o', out, '--name', 'm'] + extra)
    objs = sorted(os.path.join(out, f) for f in os.listdir(out) if f.endswith(('.c', '.o')))
    exe = out + '.exe'
    sh(['cc', '-O2', '-march=native', '-I', out, '-DQ8_MODEL_H="m.h"', '-DQ8_NAME=m',
        os.path.join(root, 'tools', 'driver', 'demo_driver.c')] + objs + ['-lm', '-o', exe])
    return exe


print('| model | int8 C µs | int8 LLVM µs | fp32 µs | fp32 / int8 (C) |')
print('|---|---|---|---|---|')
for name in ('mlp', 'cnn', 'resnet', 'mobilenet'):
    for variant, calib in (('model', True), ('model_qdq', False)):
        ex = os.path.join(root, 'examples', name)
        model = os.path.join(ex, variant + '.q8')
        d = os.path.join(tmp, f'{name}-{variant}')
        os.makedirs(d)
        x = np.load(os.path.join(ex, 'test_x.npy'))[:N].astype('<f4')
        xb = os.path.join(d, 'x.bin')
        x.tofile(xb)
        cal = ['--calib', os.path.join(ex, 'calib.npy')] if calib else []
        exes = {'c': build(model, os.path.join(d, 'c'), cal + ['--emit', 'c']),
                'llvm': build(model, os.path.join(d, 'llvm'), cal + ['--emit', 'llvm']),
                'f32': build(os.path.join(ex, 'model.q8'), os.path.join(d, 'f32'), ['--float', '--emit', 'c'])}
        t = {k: [] for k in exes}
        for _ in range(5):
            for k, exe in exes.items():
                t[k].append(float(sh([exe, xb, os.path.join(d, k + '.y'), str(N), '200']).split()[-1]))
        m = {k: statistics.median(v) for k, v in t.items()}
        label = name + (' (QDQ)' if variant == 'model_qdq' else '')
        print(f'| {label} | {m["c"]:.1f} | {m["llvm"]:.1f} | {m["f32"]:.1f} | {m["f32"] / m["c"]:.1f}x |', flush=True)
