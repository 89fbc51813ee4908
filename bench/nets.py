#!/usr/bin/python3
"""Real-size networks (issue 12): torchvision mobilenet_v2 (width 1.0),
mobilenet_v3_small and resnet18, batch 1, 224x224x3, random weights from a
fixed seed (batchnorm statistics measured on synthetic images), exported to ONNX at benchmark time (into --work, never
committed) and compiled by q8c straight from the .onnx (NHWC input).

For each network:
  - accuracy: q8c int8 (calibrated on --calib synthetic images: smooth random
    fields with ImageNet's per-channel mean and std, normalized as torchvision
    does) against PyTorch fp32 on --eval other such images: SQNR of the logits
    and top-1 agreement;
  - speed, in one interleaved run (--rounds turns; per round every build runs
    its reps back to back; medians of the times and of the per-round ratios):
    q8c int8 (C and LLVM emitters), q8c fp32 (--float, C), ONNX Runtime fp32
    and ONNX Runtime int8 (a QDQ model written here with the `onnx` package
    from MinMax calibration ranges: u8 activations, per-channel s8 weights,
    int32 bias), one thread each; and q8c int8 (C) through NAME_run_parallel
    with the pthreads pool of tools/driver/pool.h on --threads threads.
All q8c builds link tools/driver/bench_driver.c (cc -O2 -march=native), timing
NAME_run: float in, float out, as ORT is timed.

usage: /usr/bin/python3 bench/nets.py [--q8c build/q8c] [--nets a,b] [--work DIR]
           [--calib 200] [--eval 50] [--rounds 5] [--budget 1.0] [--threads 2] [--time-only [--rebuild]]
Needs python3-torch, python3-torchvision, python3-onnx, node and
onnxruntime-node in --ort-dir (default /tmp/ortnode). Prints markdown tables
(figures, not pass/fail)."""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, 'tools', 'compare'))
NETS = ('mobilenet_v2', 'mobilenet_v3_small', 'resnet18')
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)
T0 = time.time()
warnings.filterwarnings('ignore')


def log(msg):
    print('[%6.1fs] %s' % (time.time() - T0, msg), file=sys.stderr, flush=True)


def sh(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise RuntimeError('failed (%d): %s\n%s' % (r.returncode, ' '.join(cmd), r.stderr[-2000:]))
    return r.stdout


def images(n, seed):
    """n smooth random RGB images in [0, 1] with ImageNet's channel mean/std,
    normalized; NCHW float32."""
    import torch
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(n, 3, 224, 224)
    for cells, w in ((7, 1.0), (28, 0.5), (112, 0.25)):   # three octaves of value noise
        x += w * torch.nn.functional.interpolate(torch.randn(n, 3, cells, cells, generator=g), size=224,
                                                 mode='bilinear', align_corners=False)
    x = x / x.flatten(1).std(1).view(n, 1, 1, 1)
    x = (torch.from_numpy(MEAN).view(1, 3, 1, 1) + torch.from_numpy(STD).view(1, 3, 1, 1) * x).clamp(0, 1)
    x = (x - torch.from_numpy(MEAN).view(1, 3, 1, 1)) / torch.from_numpy(STD).view(1, 3, 1, 1)
    return x.numpy().astype(np.float32)


def export(name, path):
    """torchvision's random init (seed 0), then batchnorm statistics measured
    on 64 synthetic images: with its initial statistics (mean 0, var 1)
    mobilenet_v2's activations shrink ~16x per depthwise layer (to 1e-8 at
    the logits), far below the [0, 6] that its relu6 fixes as their range.
    With measured statistics every batchnorm output is normalized, as in a
    trained network."""
    import torch
    import torchvision
    torch.manual_seed(0)
    net = getattr(torchvision.models, name)(weights=None)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None   # a plain average over the batches
    net.train()
    xb = torch.from_numpy(images(64, 3))
    with torch.no_grad():
        for i in range(0, 64, 16):
            net(xb[i:i + 16])
    net.eval()
    with torch.no_grad():
        torch.onnx.export(net, torch.zeros(1, 3, 224, 224), path, opset_version=13, input_names=['x'],
                          output_names=['y'], do_constant_folding=True)
    return net


# ---- the QDQ model for ONNX Runtime int8
def ranges(fp32, xbin, n, work, ort_dir):
    """min/max of every node output over n samples (ORT, fp32)."""
    import onnx
    from onnx import shape_inference
    m = shape_inference.infer_shapes(onnx.load(fp32))
    have = {o.name for o in m.graph.output}
    for vi in m.graph.value_info:
        if vi.name not in have and vi.type.tensor_type.elem_type == onnx.TensorProto.FLOAT:
            m.graph.output.append(vi)
    p = os.path.join(work, os.path.basename(fp32) + '.all.onnx')
    onnx.save(m, p)
    out = sh(['node', os.path.join(HERE, 'ort_ranges.js'), p, xbin, str(n), '3,224,224'],
             env=dict(os.environ, ORT_NODE_DIR=ort_dir))
    return json.loads(out.strip().splitlines()[-1])


def make_qdq(fp32, rng, path):
    """QuantizeLinear/DequantizeLinear around every float activation (u8,
    MinMax range widened to hold 0), per-channel s8 weights and int32 bias
    of Conv and Gemm as DequantizeLinear of initializers: the form ORT's own
    quantizer writes and its optimizer fuses into QLinearConv & co."""
    import onnx
    from onnx import helper, numpy_helper, TensorProto
    m = onnx.load(fp32)
    g = m.graph
    init = {t.name: t for t in g.initializer}
    nodes, new_init = [], []

    def const(name, arr):
        new_init.append(numpy_helper.from_array(arr, name))
        return name

    def act_qparams(t):
        lo, hi = rng[t]
        lo, hi = min(lo, 0.0), max(hi, 0.0)
        s = (hi - lo) / 255.0 or 1.0
        return np.float32(s), np.uint8(np.clip(round(-lo / s), 0, 255))

    qd = {}   # float tensor -> its dequantized copy

    def qdq(t):
        if t not in qd:
            s, z = act_qparams(t)
            sn, zn = const(t + '_qs', np.array(s, np.float32)), const(t + '_qz', np.array(z, np.uint8))
            nodes.append(helper.make_node('QuantizeLinear', [t, sn, zn], [t + '_q'], name=t + '_Q'))
            nodes.append(helper.make_node('DequantizeLinear', [t + '_q', sn, zn], [t + '_dq'], name=t + '_DQ'))
            qd[t] = t + '_dq'
        return qd[t]

    def deq_weight(w, name, bias, in_scale):
        a = numpy_helper.to_array(init[w]).astype(np.float32)
        ws = np.maximum(np.abs(a.reshape(a.shape[0], -1)).max(1), 1e-12) / 127.0
        q = np.clip(np.round(a / ws.reshape((-1,) + (1,) * (a.ndim - 1))), -127, 127).astype(np.int8)
        outs = [const(w + '_q', q), const(w + '_s', ws.astype(np.float32)),
                const(w + '_z', np.zeros(len(ws), np.int8))]
        nodes.append(helper.make_node('DequantizeLinear', outs, [w + '_dq'], name=w + '_DQ', axis=0))
        bq = None
        if bias is not None:
            b = numpy_helper.to_array(init[bias]).astype(np.float64)
            bs = (in_scale * ws).astype(np.float32)
            bi = np.round(b / bs).astype(np.int32)
            bo = [const(bias + '_q', bi), const(bias + '_s', bs), const(bias + '_z', np.zeros(len(bs), np.int32))]
            nodes.append(helper.make_node('DequantizeLinear', bo, [bias + '_dq'], name=bias + '_DQ', axis=0))
            bq = bias + '_dq'
        return w + '_dq', bq

    # a Conv output read only by Relu/Clip gets no Q/DQ of its own: ORT's
    # quantizer does the same, and its optimizer then drops the Relu/Clip
    # in front of the Q (ReluQuantFusion, ClipQuantFusion) and fuses
    # DQ -> Conv -> Q into QLinearConv
    users = {}
    for nd in g.node:
        for t in nd.input:
            users.setdefault(t, []).append(nd.op_type)
    for nd in g.node:
        if nd.op_type == 'Conv' and all(u in ('Relu', 'Clip') for u in users.get(nd.output[0], ['x'])):
            rng.pop(nd.output[0], None)
    for nd in g.node:
        ins = list(nd.input)
        if nd.op_type in ('Conv', 'Gemm') and len(ins) >= 2 and ins[1] in init and \
                not (nd.op_type == 'Gemm' and not any(a.name == 'transB' and a.i == 1 for a in nd.attribute)):
            ins[0] = qdq(ins[0])
            s, _ = act_qparams(nd.input[0])
            ins[1], bq = deq_weight(ins[1], nd.name, ins[2] if len(ins) > 2 and ins[2] in init else None, s)
            if bq:
                ins[2] = bq
        else:
            ins = [qdq(t) if t in rng else t for t in ins]
        nd2 = onnx.NodeProto()
        nd2.CopyFrom(nd)
        del nd2.input[:]
        nd2.input.extend(ins)
        nodes.append(nd2)
    # the graph's output stays float: the Q/DQ of the last node's output is not needed
    del g.node[:]
    g.node.extend(nodes)
    used = {i for nd in nodes for i in nd.input}
    keep = [t for t in g.initializer if t.name in used]
    del g.initializer[:]
    g.initializer.extend(keep + new_init)
    onnx.checker.check_model(m)
    onnx.save(m, path)


# ---- q8c builds
def build(q8c, model, out, flags, threads_ok):
    sh([q8c, 'compile', model, '-o', out, '--name', 'm'] + flags)
    objs = sorted(os.path.join(out, f) for f in os.listdir(out) if f.endswith(('.c', '.o')))
    exe = out + '.exe'
    par = ['-DQ8_PARALLEL', '-pthread'] if threads_ok and 'm_run_parallel' in open(os.path.join(out, 'm.h')).read() \
        else []
    sh(['cc', '-O2', '-march=native', '-I', out, '-I', os.path.join(ROOT, 'tools', 'driver'),
        '-DQ8_MODEL_H="m.h"', '-DQ8_NAME=m'] + par + [os.path.join(HERE, '..', 'tools', 'driver', 'bench_driver.c')] + objs + ['-lm', '-o', exe])
    return exe, bool(par)


def sqnr(ref, y):
    return 10 * np.log10(float(np.sum(ref.astype(np.float64) ** 2)) / max(float(np.sum((ref - y) ** 2.0)), 1e-30))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--q8c', default=os.path.join(ROOT, 'build', 'q8c'))
    ap.add_argument('--nets', default=','.join(NETS))
    ap.add_argument('--work', default=None)
    ap.add_argument('--ort-dir', default='/tmp/ortnode')
    ap.add_argument('--calib', type=int, default=200)
    ap.add_argument('--eval', type=int, default=50)
    ap.add_argument('--rounds', type=int, default=5)
    ap.add_argument('--budget', type=float, default=1.0, help='seconds per build per round')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--time-only', action='store_true',
                    help='only the interleaved timing, of the builds a previous run left in --work (no fp32 C)')
    ap.add_argument('--rebuild', action='store_true',
                    help='with --time-only: first rebuild the int8 builds with --q8c from the calibration dump '
                         'a previous run left in --work (new kernels, same calibration), checking C = LLVM and '
                         'run_parallel = run bit for bit')
    a = ap.parse_args()
    a.q8c = os.path.abspath(a.q8c)
    work = a.work or tempfile.mkdtemp(prefix='q8c-nets-')
    os.makedirs(work, exist_ok=True)
    import torch
    torch.set_num_threads(1)
    import ort
    log('work folder %s' % work)
    xc, xe = images(a.calib, 1), images(a.eval, 2)
    np.save(os.path.join(work, 'calib.npy'), xc.transpose(0, 2, 3, 1))
    calib_nchw = os.path.join(work, 'calib_nchw.bin')
    xc.tofile(calib_nchw)
    x_nhwc, x_nchw = os.path.join(work, 'x_nhwc.bin'), os.path.join(work, 'x_nchw.bin')
    np.ascontiguousarray(xe.transpose(0, 2, 3, 1)).tofile(x_nhwc)
    xe.tofile(x_nchw)
    acc, speed = [], []
    for name in a.nets.split(','):
        d = os.path.join(work, name)
        os.makedirs(d, exist_ok=True)
        f32 = os.path.join(d, name + '.onnx')
        if a.time_only:
            exes = {k: os.path.join(d, k.replace(' ', '_') + '.exe') for k in ('int8 C', 'int8 LLVM')}
            par = True
            if a.rebuild:
                rebuild(a, name, d, exes, x_nhwc)
            ort_rows = {'ORT fp32': dict(path=f32), 'ORT int8': dict(path=os.path.join(d, name + '_qdq.onnx'))}
        else:
            exes, par, ort_rows = prepare(a, name, d, f32, work, xc, xe, calib_nchw, x_nhwc, x_nchw, acc)
        time_net(a, name, exes, par, ort_rows, x_nhwc, x_nchw, speed)
    finish(a, work, acc, speed)


def prepare(a, name, d, f32, work, xc, xe, calib_nchw, x_nhwc, x_nchw, acc):
    """export, calibrate, build, check run_parallel, ORT models, accuracy row"""
    import torch
    import ort
    if True:
        net = export(name, f32)
        with torch.no_grad():
            ref = net(torch.from_numpy(xe)).numpy()
        log('%s: exported; calibrating q8c on %d images' % (name, a.calib))
        # one calibration for both emitters: the dump after `calibrate` resumes the pipeline
        dumps = os.path.join(d, 'dumps')
        sh([a.q8c, 'compile', f32, '-o', os.path.join(d, 'cal'), '--calib', os.path.join(work, 'calib.npy'),
            '--dump-after', 'calibrate', '--dump-dir', dumps])
        cal = os.path.join(dumps, sorted(f for f in os.listdir(dumps) if f.endswith('calibrate.q8'))[0])
        exes, par = {}, False
        for key, model, flags in (('int8 C', cal, ['--emit', 'c']), ('int8 LLVM', cal, ['--emit', 'llvm']),
                                  ('fp32 C', f32, ['--float', '--emit', 'c'])):
            exes[key], p = build(a.q8c, model, os.path.join(d, key.replace(' ', '_')), flags, key == 'int8 C')
            par = par or p
        ys = {}
        for key, exe in exes.items():
            yb = exe + '.y'
            sh([exe, x_nhwc, yb, str(a.eval), '0', '1', '0'])
            ys[key] = np.fromfile(yb, '<f4').reshape(a.eval, -1)
        if par:
            yb = exes['int8 C'] + '.py'
            sh([exes['int8 C'], x_nhwc, yb, str(a.eval), '0', '1', str(a.threads)])
            same = np.array_equal(np.fromfile(yb, '<f4').reshape(a.eval, -1), ys['int8 C'])
            log('%s: NAME_run_parallel on %d threads %s NAME_run' % (name, a.threads,
                                                                  'bit-identical to' if same else 'DIFFERS from'))
            if not same:
                sys.exit('run_parallel differs from run')
        same = np.array_equal(ys['int8 C'], ys['int8 LLVM'])
        # ORT: fp32 and QDQ
        log('%s: ranges for the QDQ model' % name)
        rng = ranges(f32, calib_nchw, a.calib, d, a.ort_dir)
        rng['x'] = [float(xc.min()), float(xc.max())]
        qdq = os.path.join(d, name + '_qdq.onnx')
        make_qdq(f32, rng, qdq)
        ort_rows = {}
        for key, path in (('ORT fp32', f32), ('ORT int8', qdq)):
            opt = path.replace('.onnx', '.opt.onnx')
            r = ort.run(path, x_nchw, a.eval, [3, 224, 224], path + '.y', 2, 3, a.ort_dir, opt)
            ys[key] = r['y']
            qops, _ = ort.describe(ort.op_types(opt))
            ort_rows[key] = dict(path=path, version=r['version'], fused=qops)
        row = dict(net=name, emitters_same=same, ort_version=ort_rows['ORT int8']['version'],
                   ort_fused=ort_rows['ORT int8']['fused'])
        for key, y in ys.items():
            row[key] = (sqnr(ref, y), 100.0 * float(np.mean(y.argmax(1) == ref.argmax(1))))
        acc.append(row)
        log('%s: %s' % (name, ', '.join('%s SQNR %.1f dB top-1 %.0f %%' % (k, *row[k]) for k in ys)))
    return exes, par, ort_rows


def rebuild(a, name, d, exes, x_nhwc):
    """the int8 builds again from the calibration dump, with their bit checks"""
    dumps = os.path.join(d, 'dumps')
    cal = os.path.join(dumps, sorted(f for f in os.listdir(dumps) if f.endswith('calibrate.q8'))[0])
    for key, flags in (('int8 C', ['--emit', 'c']), ('int8 LLVM', ['--emit', 'llvm'])):
        out = os.path.join(d, key.replace(' ', '_'))
        shutil.rmtree(out, ignore_errors=True)
        exes[key], _ = build(a.q8c, cal, out, flags, key == 'int8 C')
    ys = {}
    for key, thr in (('int8 C', 0), ('int8 LLVM', 0), ('par', a.threads)):
        exe = exes['int8 LLVM' if key == 'int8 LLVM' else 'int8 C']
        yb = exe + ('.py' if key == 'par' else '.y')
        sh([exe, x_nhwc, yb, str(a.eval), '0', '1', str(thr)])
        ys[key] = np.fromfile(yb, '<f4')
    same = np.array_equal(ys['int8 C'], ys['int8 LLVM']) and np.array_equal(ys['int8 C'], ys['par'])
    log('%s: rebuilt; C, LLVM and run_parallel on %d threads %s' % (name, a.threads,
                                                                 'bit-identical' if same else 'DIFFER'))
    if not same:
        sys.exit('the rebuilt int8 builds differ')


def time_net(a, name, exes, par, ort_rows, x_nhwc, x_nchw, speed):
    """the builds in turns, a.rounds rounds: medians of the median and p10 times, and of their per-round ratios"""
    import ort
    if True:
        runs = [(k, 'q8c', exe, 0) for k, exe in exes.items()]
        if par:
            runs.append(('int8 C %d threads' % a.threads, 'q8c', exes['int8 C'], a.threads))
        runs += [(k, 'ort', v['path'], 0) for k, v in ort_rows.items()]

        def once(kind, what, thr, reps, warm):
            """(median, p10) µs of reps single inferences"""
            if kind == 'q8c':
                return tuple(map(float, sh([what, x_nhwc, what + '.t', str(a.eval), str(warm), str(reps),
                                            str(thr)]).split()[:2]))
            r = ort.run(what, x_nchw, a.eval, [3, 224, 224], what + '.t', warm, reps, a.ort_dir)
            return r['median_us'], r['p10_us']

        reps = {}
        for key, kind, what, thr in runs:
            est = once(kind, what, thr, 1, 0)[0]
            reps[key] = max(3, min(200, int(a.budget * 1e6 / est)))
        t = {key: [] for key, *_ in runs}
        t10 = {key: [] for key, *_ in runs}
        for k in range(a.rounds):
            for key, kind, what, thr in runs:
                m, p10 = once(kind, what, thr, reps[key], max(1, reps[key] // 5))
                t[key].append(m)
                t10[key].append(p10)
            log('%s round %d: %s' % (name, k + 1, ', '.join('%s %.0f' % (key, v[-1]) for key, v in t.items())))
        med = statistics.median
        res = dict(net=name, us={key: med(v) for key, v in t.items()}, p10={key: med(v) for key, v in t10.items()},
                   reps=reps, rounds=a.rounds, ratio={}, ratio10={})
        pairs = [('int8 C', 'ORT int8'), ('int8 LLVM', 'ORT int8'), ('int8 C', 'ORT fp32'), ('int8 LLVM', 'ORT fp32'),
                 ('int8 C', 'fp32 C'), ('ORT int8', 'ORT fp32')]
        if par:
            pk = 'int8 C %d threads' % a.threads
            pairs.append(('int8 C', pk))
        for num, den in pairs:
            if num in t and den in t:
                lab = 'speedup on %d threads' % a.threads if 'threads' in den else num + ' / ' + den
                res['ratio'][lab] = med([x / y for x, y in zip(t[num], t[den])])
                res['ratio10'][lab] = med([x / y for x, y in zip(t10[num], t10[den])])
        speed.append(res)
        log('%s: %s' % (name, json.dumps(res)))


def finish(a, work, acc, speed):
    with open(os.path.join(work, 'nets.json'), 'w') as f:
        json.dump(dict(acc=acc, speed=speed), f, indent=1, default=float)
    if acc:
        print('Accuracy against PyTorch fp32 on %d synthetic images (q8c calibrated on %d others):\n'
              % (a.eval, a.calib))
        print('| network | q8c int8 SQNR dB | top-1 agree | ORT int8 (QDQ) SQNR dB | top-1 agree |'
              ' q8c fp32 SQNR dB | C = LLVM bits |')
        print('|---|---|---|---|---|---|---|')
        for r in acc:
            print('| %s | %.1f | %.0f %% | %.1f | %.0f %% | %.1f | %s |' % (
                r['net'], *r['int8 C'], *r['ORT int8'], r['fp32 C'][0], 'yes' if r['emitters_same'] else 'NO'))
    print('\nµs per inference, one thread unless said (medians of %d interleaved rounds):\n' % a.rounds)
    keys = [k for k in speed[0]['us']]
    print('| network | ' + ' | '.join(keys) + ' |')
    print('|---|' + '---|' * len(keys))
    for r in speed:
        print('| %s | ' % r['net'] + ' | '.join('%.0f' % r['us'][k] for k in keys) + ' |')
    print('\nThe same, 10th percentile of each build\'s single-inference times (the runs that had a core):\n')
    print('| network | ' + ' | '.join(keys) + ' |')
    print('|---|' + '---|' * len(keys))
    for r in speed:
        print('| %s | ' % r['net'] + ' | '.join('%.0f' % r['p10'][k] for k in keys) + ' |')
    for title, field in (('Medians of the per-round ratios (of the medians):', 'ratio'),
                         ('Medians of the per-round ratios of the 10th percentiles:', 'ratio10')):
        print('\n%s\n' % title)
        rk = list(speed[0][field])
        print('| network | ' + ' | '.join(rk) + ' |')
        print('|---|' + '---|' * len(rk))
        for r in speed:
            print('| %s | ' % r['net'] + ' | '.join('%.2f' % r[field][k] for k in rk) + ' |')
    if acc:
        print('\nONNX Runtime %s; its int8 graph after optimization: %s' % (
            acc[0]['ort_version'], '; '.join('%s: %s' % (r['net'], ', '.join(r['ort_fused'])) for r in acc)))


if __name__ == '__main__':
    main()
