#!/usr/bin/python3
"""`q8c run --simulate` against a fake quantization written here in NumPy.

usage: simulate.py Q8C SRC_DIR SCRATCH

The fp32 MLP example (dense 784-128, relu, dense 128-64, relu, dense
64-10) is calibrated by q8c; the scales it chose are read from the final
IR dump (07-plan.q8): the input's, each activation's, each weight's per
output channel and each bias's.  NumPy then rounds the float weights and
biases to those grids, and runs the float model quantizing and
dequantizing the input and every activation the integer graph holds
(round half to even, saturate to the integer type), in float32 like the
kernels.  q8c's --simulate outputs must agree with it: within 1e-4 for
all but a handful of elements (float sums in another order can move a
value across a rounding boundary: those may differ by one step of the
output scale, never more).  Also checked: the simulation is not the float
model (its SQNR vs fp32 is finite and matches --report's, computed here),
and --report's figures for the integer run match the outputs q8c wrote;
on the resnet example (average pools, residual adds) the simulation and
the integer run differ; for the QDQ MLP the report's reference takes out
every activation QDQ pair of the model, and the simulation stays within
one output step of the QDQ model run in float."""
import json
import os
import re
import subprocess
import sys

import numpy as np

q8c, src, tmp = sys.argv[1], sys.argv[2], sys.argv[3]
os.makedirs(tmp, exist_ok=True)
ex = os.path.join(src, 'examples', 'mlp')
model = os.path.join(ex, 'model.q8')
x = np.load(os.path.join(ex, 'test_x.npy'))[:200]
xpath = os.path.join(tmp, 'x.npy')
np.save(xpath, x)
dumps = os.path.join(tmp, 'dumps')


def q8(*args, out=None):
    r = subprocess.run([q8c, *args], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f'q8c {" ".join(args)} failed ({r.returncode}): {r.stderr}')
    return r.stdout


calib = ['--calib', os.path.join(ex, 'calib.npy')]
q8('run', model, *calib, '--input', xpath, '--output', f'{tmp}/ys.npy', '--simulate',
   '--dump-after', 'plan', '--dump-dir', dumps)
q8('run', model, *calib, '--input', xpath, '--output', f'{tmp}/yq.npy')
q8('run', model, '--float', '--input', xpath, '--output', f'{tmp}/yf.npy')
rep = json.loads(q8('run', model, *calib, '--input', xpath, '--output', f'{tmp}/yr.npy',
                    '--report', '--report-format', 'json'))
ys, yq, yf = (np.load(f'{tmp}/{n}.npy') for n in ('ys', 'yq', 'yf'))

# ---- the scales q8c chose, from the final dump ----
ir = open(os.path.join(dumps, '07-plan.q8')).read()


def act_scale(name):
    m = re.search(r'^%' + re.escape(name) + r' : i8\[[^\]]*\]\{scale=([^,]+), zero_point=(-?\d+)', ir, re.M)
    assert m, f'no %{name} in the dump'
    return np.float32(float(m.group(1))), int(m.group(2))


def const_scales(name):
    m = re.search(r'^const @' + re.escape(name) + r' : (i8|i32)\[[^\]]*\]\{scale=\[([^\]]*)\], zero_point=(-?\d+)',
                  ir, re.M)
    assert m, f'no @{name} in the dump'
    assert int(m.group(3)) == 0
    return m.group(1), np.array([float(s) for s in m.group(2).split(',')], np.float32)


def float_bias(name):
    """the float bias of the model: a .npy or a list in the model text"""
    text = open(model).read()
    m = re.search(r'^const @' + name + r' : f32\[\d+\] = (\[[^\]]*\]|"[^"]*");', text, re.M)
    v = m.group(1)
    if v.startswith('"'):
        return np.load(os.path.join(ex, v.strip('"'))).astype(np.float32)
    return np.array([float(s) for s in v.strip('[]').split(',')], np.float32)


RANGE = {'i8': (-128, 127), 'i32': (-2**31, 2**31 - 1)}


def fq(v, s, zp=0, dt='i8'):
    """quantize (x / s in float32, half to even, saturate) and dequantize"""
    lo, hi = RANGE[dt]
    q = np.clip(np.rint(v.astype(np.float32) / s).astype(np.float64) + zp, lo, hi)
    return ((q - zp).astype(np.float32) * s).astype(np.float32)


def layer(h, i, out_name, relu):
    w = np.load(os.path.join(ex, f'fc{i}_w.npy')).astype(np.float32)  # [O, K]
    dtw, sw = const_scales(f'fc{i}_w')
    dtb, sb = const_scales(f'fc{i}_b')
    wq = fq(w, sw[:, None], dt=dtw)
    bq = fq(float_bias(f'fc{i}_b'), sb, dt=dtb)
    y = (h @ wq.T + bq).astype(np.float32)
    if relu:
        y = np.maximum(y, 0)
    return fq(y, *act_scale(out_name))


h = fq(x.reshape(len(x), -1), *act_scale('x.q'))
h = layer(h, 1, 'relu1', True)
h = layer(h, 2, 'relu2', True)
ref = layer(h, 3, 'fc3.q', False)
s_out = act_scale('fc3.q')[0]

fails = []
ys = ys.reshape(ref.shape)
d = np.abs(ys - ref)
far = int((d > 1e-4).sum())
print(f'--simulate vs NumPy: {ref.size} outputs, max |difference| {d.max():.3g}, {far} beyond 1e-4 '
      f'(output step {s_out:.4g})')
if far > ref.size // 200:
    fails.append(f'{far} of {ref.size} simulated outputs differ from NumPy by more than 1e-4')
if d.max() > s_out * 1.001:
    fails.append(f'a simulated output is {d.max()} from NumPy: more than one step {s_out}')


def sqnr(r, y):
    r = r.astype(np.float64).ravel()
    e = y.astype(np.float64).ravel() - r
    return 10 * np.log10((r * r).sum() / (e * e).sum())


sim_db = sqnr(yf, ys)
print(f'simulated vs fp32 {sim_db:.2f} dB; --report says {rep["simulated_sqnr_db"]}')
if not (15 < sim_db < 80):
    fails.append(f'simulated vs fp32: {sim_db} dB: is the simulation quantizing at all?')
if abs(sim_db - rep['simulated_sqnr_db']) > 0.01:
    fails.append(f'--report simulated_sqnr_db {rep["simulated_sqnr_db"]}, NumPy {sim_db:.3f}')
int_db = sqnr(yf, yq)
if abs(int_db - rep['int8_sqnr_db']) > 0.01:
    fails.append(f'--report int8_sqnr_db {rep["int8_sqnr_db"]}, NumPy {int_db:.3f}')
if not np.array_equal(np.load(f'{tmp}/yr.npy'), yq):
    fails.append('--report changed the outputs of the integer run')
# per layer: every layer present, and quantizing everything up to the last
# layer is the whole simulation (first layer_samples samples)
names = sorted(l['layer'] for l in rep['layers'])
if names != ['%fc3.q', '%relu1', '%relu2', '%x.q']:
    fails.append(f'layers {names}')
n = rep['layer_samples']
last = [l for l in rep['layers'] if l['layer'] == '%fc3.q'][0]
want = sqnr(yf[:n], ys[:n])
if abs(last['upto_sqnr_db'] - want) > 0.01:
    fails.append(f'%fc3.q up to it: {last["upto_sqnr_db"]} dB, NumPy {want:.3f} on {n} samples')
costs = [l['alone_sqnr_db'] for l in rep['layers']]
if costs != sorted(costs):
    fails.append(f'layers not sorted by cost: {costs}')
# a model whose integer arithmetic adds error of its own (average pools,
# residual adds): the simulation must not be the integer run
rx = os.path.join(src, 'examples', 'resnet')
np.save(f'{tmp}/rx.npy', np.load(os.path.join(rx, 'test_x.npy'))[:20])
for flag in ([], ['--simulate']):
    q8('run', os.path.join(rx, 'model.q8'), '--calib', os.path.join(rx, 'calib.npy'), '--input', f'{tmp}/rx.npy',
       '--output', f'{tmp}/r{len(flag)}.npy', *flag)
r0, r1 = np.load(f'{tmp}/r0.npy'), np.load(f'{tmp}/r1.npy')
print(f'resnet: simulated and integer outputs differ in {(r0 != r1).sum()} of {r0.size}')
if np.array_equal(r0, r1):
    fails.append('resnet: --simulate gave the bits of the integer run')
# a QDQ model: the reference takes out each activation's quantize/dequantize
# pair (counted here in the model text), and the simulation puts them back at
# the same scales: within a step of the QDQ model run in float
qm = os.path.join(ex, 'model_qdq.q8')
npairs = len(re.findall(r'= quantize\(%', open(qm).read()))
rq = json.loads(q8('run', qm, '--input', xpath, '--output', f'{tmp}/yq2.npy', '--report', '--report-format', 'json'))
if rq['qdq_pairs_removed'] != npairs:
    fails.append(f'mlp_qdq: {rq["qdq_pairs_removed"]} QDQ pairs taken out, the model has {npairs}')
q8('run', qm, '--input', xpath, '--output', f'{tmp}/ys2.npy', '--simulate')
q8('run', qm, '--float', '--input', xpath, '--output', f'{tmp}/yf2.npy')
step = float(re.search(r'%fc3.dq = dequantize\(%fc3.q, scale=([^,]+)', open(qm).read()).group(1))
d2 = np.abs(np.load(f'{tmp}/ys2.npy') - np.load(f'{tmp}/yf2.npy'))
print(f'mlp_qdq: {npairs} pairs; --simulate vs the QDQ model in float: max |difference| {d2.max():.3g} (step {step:.3g})')
if d2.max() > step * 1.001:
    fails.append(f'mlp_qdq: --simulate is {d2.max()} from the QDQ model in float (step {step})')
for f in fails:
    print('FAIL', f)
sys.exit(1 if fails else 0)
