#!/usr/bin/python3
"""Peer comparison: q8c vs PyTorch 1.13 PTQ vs ONNX Runtime on the four example models.

usage: /usr/bin/python3 tools/compare/compare.py [--q8c PATH] [--models mlp,cnn,...]
           [--ort-dir DIR] [--warmup N] [--reps N] [--work DIR] [--out FILE] [--json FILE]

For every model in examples/, on the same 1000 test images and 200 calibration images:
  - q8c: top-1 of the int8 interpreter for each calibration method (without and with
    --bias-correction) and for the QDQ model;
    top-1 and batch-1 latency of the generated code (C and LLVM emitters, host target,
    cc -O2 -march=native): int8 from model.q8 (default calibration), int8 from
    model_qdq.q8, and fp32 (--float);
  - PyTorch 1.13 (Debian python3-torch): the model rebuilt from the exported weights
    (checked against `q8c run --float` to 1e-4), FX graph-mode PTQ with per-channel
    weights on the onednn and qnnpack engines with MinMax and Histogram observers;
  - ONNX Runtime (npm onnxruntime-node, one thread, sequential): fp32 ONNX exported from
    the rebuild, and an ORT-quantizer-style QDQ ONNX built from model_qdq.q8's activation
    parameters.
Latency: one thread, batch 1, median of --reps single-inference times after --warmup.
Then, per model, q8c int8 (both emitters), ORT int8 and ORT's near-empty probe model
are timed in turns for --rounds rounds (a quarter of --reps each), so that the
q8c / ORT ratios of the summary compare runs made under the same machine load.
Writes docs/comparison.md (or --out) and a JSON of every figure (--json).

Needs: python3-torch, python3-numpy, node + `ONNXRUNTIME_NODE_INSTALL=skip npm install
onnxruntime-node` in --ort-dir (default /tmp/ortnode), cc, and a built q8c.
"""
import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import nets  # noqa: E402
import ort  # noqa: E402
import report  # noqa: E402
import torch_ptq  # noqa: E402

METHODS = ('max', 'percentile', 'kl', 'mse')
T0 = time.time()


def log(msg):
    print('[%6.1fs] %s' % (time.time() - T0, msg), flush=True)


def sh(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise RuntimeError('command failed (%d): %s\n%s' % (r.returncode, ' '.join(cmd), r.stderr[-2000:]))
    return r.stdout


def top1(y, labels):
    return 100.0 * float(np.mean(np.argmax(y.reshape(len(labels), -1), 1) == labels))


def q8c_rows(a, name, mdir, xnpy, xbin, labels, work):
    """Interpreter top-1 per calibration method and compiled-code top-1 + latency."""
    model, qdq, calib = (os.path.join(mdir, f) for f in ('model.q8', 'model_qdq.q8', 'calib.npy'))
    rows, interp = [], {}

    def qrun(path, *flags):
        out = os.path.join(work, 'q8y.npy')
        sh([a.q8c, 'run', path, '--input', xnpy, '--output', out] + list(flags))
        return np.load(out).reshape(len(labels), -1)

    fp32 = qrun(model, '--float')
    for m in METHODS:
        interp[m] = qrun(model, '--calib', calib, '--calib-method', m)
        rows.append(dict(tool='q8c', config='int8 interpreter, calibration %s' % m, top1=top1(interp[m], labels),
                         us=None, int8=True))
    for m in METHODS:
        y = qrun(model, '--calib', calib, '--calib-method', m, '--bias-correction')
        rows.append(dict(tool='q8c', config='int8 interpreter, calibration %s, --bias-correction' % m,
                         top1=top1(y, labels), us=None, int8=True, bc=True))
    # model_qdq.q8 keeps batchnorm as its own op, so the conv outputs before it have no
    # quantize pair: q8c calibrates those. Use max (the QDQ model's own MinMax convention)
    # and show the default method too.
    for m in sorted({'max', a.method}):
        interp['qdq_' + m] = qrun(qdq, '--calib', calib, '--calib-method', m)
        rows.append(dict(tool='q8c', config='int8 interpreter, model_qdq.q8 (unranged tensors: %s)' % m,
                         top1=top1(interp['qdq_' + m], labels), us=None, int8=True))
    builds = [('int8 (calibration %s)' % a.method, model, ['--calib', calib, '--calib-method', a.method], 'm8',
               a.method),
              ('int8 from model_qdq.q8 (unranged: max)', qdq, ['--calib', calib, '--calib-method', 'max'], 'mq',
               'qdq_max'),
              ('fp32 (--float)', model, ['--float'], 'mf', None)]
    for cfg, path, flags, tag, ref in builds:
        for emit in ('c', 'llvm'):
            out = os.path.join(work, '%s_%s_%s' % (name, tag, emit))
            shutil.rmtree(out, ignore_errors=True)
            sh([a.q8c, 'compile', path, '-o', out, '--emit', emit, '--name', 'm'] + flags)
            srcs = sorted(os.path.join(out, f) for f in os.listdir(out) if f.endswith('.c' if emit == 'c' else '.o'))
            exe = out + '.exe'
            sh(['cc', '-O2', '-march=native', '-I', out, '-DQ8_MODEL_H="m.h"', '-DQ8_NAME=m',
                os.path.join(HERE, '..', 'driver', 'bench_driver.c')] + srcs + ['-lm', '-o', exe])
            ybin = out + '.y'
            med, p10 = map(float, sh([exe, xbin, ybin, str(len(labels)), str(a.warmup), str(a.reps), '0']).split())
            y = np.fromfile(ybin, '<f4').reshape(len(labels), -1)
            if ref is not None:
                same = np.array_equal(y, interp[ref])
                note = 'bit-exact with the interpreter' if same else \
                    'DIFFERS from the interpreter on %d images' % int((y != interp[ref]).any(1).sum())
            else:
                note = 'max abs diff vs interpreter --float %.1g' % float(np.abs(y - fp32).max())
            rows.append(dict(tool='q8c', config='%s, %s emitter' % (cfg, 'C' if emit == 'c' else 'LLVM'),
                             top1=top1(y, labels), us=med, p10=p10, note=note, int8=ref is not None,
                             emit=emit, kind=tag, exe=exe))
            log('  q8c %-56s top-1 %5.1f %%  %8.2f µs  (%s)' % (rows[-1]['config'], rows[-1]['top1'], med, note))
    return rows, fp32


def paired(a, rows, xbin, n):
    """q8c int8 (C and LLVM), ORT int8 and ORT's probe in turns, a.rounds rounds:
    per emitter, the medians of the times and of the per-round ratios to ORT
    (as run, and net of the probe's fixed per-run cost)."""
    q = [r for r in rows if r.get('kind') == 'm8']
    o = next(r for r in rows if r['tool'].startswith('ONNX') and r.get('int8'))
    reps = max(a.reps // 4, 50)
    t = {r['emit']: [] for r in q}
    t_ort, t_probe = [], []
    for k in range(a.rounds):
        for r in q:
            out = sh([r['exe'], xbin, r['exe'] + '.pair', str(n), str(a.warmup), str(reps), '0'])
            t[r['emit']].append(float(out.split()[0]))
        t_ort.append(ort.run(o['model'], xbin, n, o['dims'], o['model'] + '.pair', a.warmup, reps,
                             a.ort_dir)['median_us'])
        t_probe.append(ort.run(o['probe_model'], xbin, 10, o['dims'], o['probe_model'] + '.pair', a.warmup,
                               reps, a.ort_dir)['median_us'])
        log('  round %d: q8c %s; ORT int8 %.1f µs, probe %.1f µs' % (
            k + 1, ', '.join('%s %.2f µs' % (e, v[-1]) for e, v in t.items()), t_ort[-1], t_probe[-1]))
    med = statistics.median
    res = dict(rounds=a.rounds, reps=reps, ort_us=med(t_ort), probe_us=med(t_probe), q8c_us={}, raw={}, net={})
    for e, v in t.items():
        res['q8c_us'][e] = med(v)
        res['raw'][e] = med([x / y for x, y in zip(v, t_ort)])
        res['net'][e] = med([x / (y - z) if y > z else float('inf') for x, y, z in zip(v, t_ort, t_probe)])
    res['emit'] = min(t, key=lambda e: res['q8c_us'][e])
    log('  interleaved: q8c ÷ ORT int8 %.2f as run, %.2f net (%s emitter)' % (
        res['raw'][res['emit']], res['net'][res['emit']], res['emit']))
    return res


def machine():
    info = {}
    lscpu = sh(['lscpu'])
    mm = re.search(r'Model name:\s*(.+)', lscpu)
    info['cpu'] = mm.group(1).strip() if mm else platform.processor()
    flags = open('/proc/cpuinfo').read()
    info['isa'] = ', '.join(f for f in ('avx2', 'avx512f', 'avx512_vnni', 'avx_vnni') if f in flags.split())
    info['cores'] = os.cpu_count()
    info['cc'] = sh(['cc', '--version']).splitlines()[0]
    info['node'] = sh(['node', '--version']).strip()
    import torch
    info['torch'] = torch.__version__
    info['engines'] = [e for e in torch.backends.quantized.supported_engines if e != 'none']
    return info


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--q8c', default=os.path.join(REPO, 'build', 'q8c'))
    ap.add_argument('--models', default=','.join(nets.MODELS))
    ap.add_argument('--examples', default=os.path.join(REPO, 'examples'))
    ap.add_argument('--ort-dir', default='/tmp/ortnode')
    ap.add_argument('--method', default=None, choices=METHODS,
                    help='calibration method of the compiled int8 rows (default: q8c\'s own default)')
    ap.add_argument('--warmup', type=int, default=100)
    ap.add_argument('--reps', type=int, default=1000)
    ap.add_argument('--rounds', type=int, default=7, help='rounds of the interleaved q8c/ORT timing')
    ap.add_argument('--work', default=None, help='scratch folder (default: a new temporary one)')
    ap.add_argument('--out', default=os.path.join(REPO, 'docs', 'comparison.md'))
    ap.add_argument('--json', default=None, help='also write every figure here')
    a = ap.parse_args()
    a.q8c = os.path.abspath(a.q8c)
    if not os.access(a.q8c, os.X_OK):
        sys.exit('compare: no q8c at %s (build it, or pass --q8c)' % a.q8c)
    if not os.path.isdir(os.path.join(a.ort_dir, 'node_modules', 'onnxruntime-node')):
        sys.exit('compare: onnxruntime-node not found in %s; install it with\n'
                 '  mkdir -p %s && cd %s && ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node'
                 % (a.ort_dir, a.ort_dir, a.ort_dir))
    if a.method is None:
        mm = re.search(r'--calib-method[^\n]*\(default (\w+)\)', sh([a.q8c, '--help']))
        a.method = mm.group(1) if mm and mm.group(1) in METHODS else 'kl'
    work = a.work or tempfile.mkdtemp(prefix='q8c-compare-')
    os.makedirs(work, exist_ok=True)
    import torch
    torch.set_num_threads(1)
    info = machine()
    info['q8c_version'] = sh([a.q8c, '--version']).strip()
    info['method'] = a.method
    info['load_start'] = os.getloadavg()
    log('machine: %s (%s), torch %s, engines %s; load average %.1f' % (
        info['cpu'], info['isa'], info['torch'], info['engines'], info['load_start'][0]))
    results = {}
    for name in a.models.split(','):
        mdir = os.path.join(a.examples, name)
        x = np.load(os.path.join(mdir, 'test_x.npy')).astype('<f4')
        labels = np.load(os.path.join(mdir, 'test_y.npy'))
        calib = np.load(os.path.join(mdir, 'calib.npy')).astype('<f4')
        xnpy, xbin = os.path.join(work, name + '_x.npy'), os.path.join(work, name + '_x.bin')
        np.save(xnpy, x)
        # NHWC with C = 1 and [N,784] have the same bytes as NCHW: one input file for all
        x.tofile(xbin)
        log('%s: %d test images, %d calibration images' % (name, len(x), len(calib)))
        rows, fp32 = q8c_rows(a, name, mdir, xnpy, xbin, labels, work)
        xt, ct = nets.to_nchw(x), nets.to_nchw(calib)
        rows += torch_ptq.run_all(name, mdir, xt, ct, fp32, labels, a.warmup, a.reps, log)
        rows += ort.run_all(name, mdir, xt, xbin, labels, work, a.warmup, a.reps, a.ort_dir, log)
        results[name] = dict(rows=rows, fp32_top1=top1(fp32, labels), n_test=len(x), n_calib=len(calib),
                             probe=next(r['probe_us'] for r in rows if 'probe_us' in r),
                             paired=paired(a, rows, xbin, len(x)))
    info['load_end'] = os.getloadavg()
    info['seconds'] = time.time() - T0
    args = ' '.join(sys.argv[1:])
    md = report.markdown(results, info, a, args)
    with open(a.out, 'w') as f:
        f.write(md)
    if a.json:
        with open(a.json, 'w') as f:
            json.dump(dict(info=info, results=results), f, indent=1, default=str)
    log('wrote %s (%.0f s)' % (a.out, info['seconds']))


if __name__ == '__main__':
    main()
