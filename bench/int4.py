#!/usr/bin/python3
"""The cost of int4 weights (two per byte, unpacked in the kernels) on the
host target: each layer a one-op model with random weights, compiled with
--emit c at --weight-bits 8 and 4, NAME_run_int8 timed
(tools/driver/demo_driver.c, -DQ8_TIME_INT8), the two builds in turns,
ROUNDS rounds; prints the median µs of each and the median of the per-round
ratios 4-bit / 8-bit (figures, never pass/fail), and the weight bytes.
usage: bench/int4.py [Q8C [ROUNDS]]"""
import os, re, statistics, subprocess, sys, tempfile
import numpy as np

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
q8c = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, 'build', 'q8c')
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 7
tmp = tempfile.mkdtemp(prefix='q8c-int4-')
rng = np.random.default_rng(0)

# name, input shape, weight shape, op text, MACs
shapes = [
    ('dense 1x1024x1024', [1, 1024], [1024, 1024], 'dense(%x, @w)', 1024 * 1024),
    ('GEMM 256x256x256 (1x1 conv)', [1, 16, 16, 256], [256, 1, 1, 256], 'conv2d(%x, @w)', 256 ** 3),
    ('conv 3x3 28x28x16->32', [1, 28, 28, 16], [32, 3, 3, 16], 'conv2d(%x, @w, pads=[1,1,1,1])', 28 * 28 * 32 * 9 * 16),
    ('conv 3x3 14x14x128->128', [1, 14, 14, 128], [128, 3, 3, 128], 'conv2d(%x, @w, pads=[1,1,1,1])', 14 * 14 * 128 * 9 * 128),
    ('depthwise 3x3 56x56x64', [1, 56, 56, 64], [64, 3, 3, 1], 'conv2d(%x, @w, pads=[1,1,1,1], groups=64)', 56 * 56 * 64 * 9),
]


def sh(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        sys.exit(f'failed: {" ".join(cmd)}\n{r.stderr[-1500:]}')
    return r.stdout + r.stderr


print('| layer | weights 8-bit (B) | 4-bit (B) | kernel 4-bit | µs 8-bit | µs 4-bit | 4-bit / 8-bit |')
print('|---|---|---|---|---|---|---|')
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
    reps = str(max(3, int(2e8 / macs)))
    exes, wbytes, kern = {}, {}, ''
    for bits in ('8', '4'):
        out = os.path.join(d, 'w' + bits)
        rep = sh([q8c, 'compile', os.path.join(d, 'model.q8'), '-o', out, '--emit', 'c', '--name', 'm',
                  '--calib', os.path.join(d, 'calib.npy'), '--weight-bits', bits, '--report'])
        wbytes[bits] = re.search(r'weights (\d+) bytes', rep).group(1)
        if bits == '4':
            kern = ' '.join(sorted(set(re.findall(r'q8k_(\w+_w4|conv2d_i8|dense_i8)\(&step',
                                                  open(os.path.join(out, 'm.c')).read()))))
        objs = sorted(os.path.join(out, f) for f in os.listdir(out) if f.endswith('.c'))
        exe = os.path.join(d, bits + '.exe')
        sh(['cc', '-O2', '-march=native', '-I', out, '-DQ8_MODEL_H="m.h"', '-DQ8_NAME=m', '-DQ8_TIME_INT8',
            os.path.join(root, 'tools', 'driver', 'demo_driver.c')] + objs + ['-lm', '-o', exe])
        exes[bits] = exe
    t = {'8': [], '4': []}
    for _ in range(rounds):
        for bits in ('8', '4'):
            t[bits].append(float(sh([exes[bits], os.path.join(d, 'x.bin'), os.path.join(d, 'y.bin'), '4',
                                     reps]).split()[-1]))
    ratio = statistics.median(a / b for a, b in zip(t['4'], t['8']))
    print(f'| {name} | {wbytes["8"]} | {wbytes["4"]} | {kern} | {statistics.median(t["8"]):.1f} | '
          f'{statistics.median(t["4"]):.1f} | {ratio:.3f} |', flush=True)
