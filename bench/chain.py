#!/usr/bin/python3
"""Compile time of a deep model: a generated chain of L convolutions
(3x3, C channels, relu, on an H x W image; weights random, He-scaled so
that activations stay in range) calibrated on S samples.  Prints the
median whole-process wall time and CPU time (user + system: what the
process itself used, less sensitive to other jobs on the machine) of
`q8c compile` over R runs (with --calib-method mse, the default, and
max), and the median of each pass's wall time from --time-passes (with
lowering and emission).  Figures, not pass/fail.
usage: bench/chain.py [Q8C] [L] [S]"""
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
q8c = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, 'build', 'q8c')
L = int(sys.argv[2]) if len(sys.argv) > 2 else 100
S = int(sys.argv[3]) if len(sys.argv) > 3 else 32
C, H, W, R = 16, 16, 16, 5
tmp = tempfile.mkdtemp(prefix='q8c-chain-')
rng = np.random.default_rng(1)

lines = [f'model chain{L};', '', f'input %x : f32[1, {H}, {W}, {C}];']
prev = '%x'
for i in range(L):
    w = rng.normal(0, np.sqrt(2 / (9 * C)), (C, 3, 3, C)).astype(np.float32)
    np.save(os.path.join(tmp, f'w{i}.npy'), w)
    b = rng.normal(0, 0.01, C)
    lines.append(f'const @w{i} : f32[{C}, 3, 3, {C}] = "w{i}.npy";')
    lines.append(f'const @b{i} : f32[{C}] = [{", ".join(f"{v:.6f}" for v in b)}];')
    lines.append(f'%c{i} : f32[1, {H}, {W}, {C}] = conv2d({prev}, @w{i}, @b{i}, pads=[1, 1, 1, 1]);')
    lines.append(f'%r{i} : f32[1, {H}, {W}, {C}] = relu(%c{i});')
    prev = f'%r{i}'
lines.append(f'output {prev};')
model = os.path.join(tmp, 'model.q8')
open(model, 'w').write('\n'.join(lines) + '\n')
np.save(os.path.join(tmp, 'calib.npy'), rng.uniform(0, 1, (S, H, W, C)).astype(np.float32))

print(f'chain of {L} conv3x3+relu ({C} channels, {H}x{W}), {S} calibration samples; '
      f'median of {R} runs, whole process')
for method in ('mse', 'max'):
    walls, cpus, passes = [], [], {}
    for _ in range(R):
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        r = subprocess.run([q8c, 'compile', model, '-o', os.path.join(tmp, 'out'), '--calib',
                            os.path.join(tmp, 'calib.npy'), '--calib-method', method, '--time-passes'],
                           capture_output=True, text=True)
        walls.append(time.perf_counter() - t)
        ru2 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(ru2.ru_utime + ru2.ru_stime - ru.ru_utime - ru.ru_stime)
        if r.returncode:
            sys.exit(r.stderr)
        for m in re.finditer(r'^time: (\S+)\s+([\d.]+) ms', r.stderr, re.M):
            passes.setdefault(m.group(1), []).append(float(m.group(2)))
    print(f'\n--calib-method {method}: compile {statistics.median(walls) * 1e3:.0f} ms wall, '
          f'{statistics.median(cpus) * 1e3:.0f} ms CPU')
    for name, ts in passes.items():
        print(f'  {name:<10} {statistics.median(ts):9.2f} ms')
