"""ONNX export of the PyTorch rebuilds (fp32 and ORT-style QDQ) and their runs in
ONNX Runtime through onnxruntime-node (ort_run.js)."""
import json
import os
import subprocess
import warnings
from collections import Counter

import numpy as np
import torch

import nets

HERE = os.path.dirname(os.path.abspath(__file__))
warnings.filterwarnings('ignore')


def export(net, example, path):
    with torch.no_grad():
        torch.onnx.export(net, example, path, opset_version=13, input_names=['x'], output_names=['y'],
                          do_constant_folding=True)


class Probe(torch.nn.Module):
    """Nearly empty model (flatten, slice of 10 values, multiply): its run time is the
    fixed cost of one run (N-API marshalling plus ORT's own per-run work)."""

    def forward(self, x):
        return x.flatten(1)[:, :10] * 2.0


def run(model, xbin, count, dims, out, warm, reps, ort_dir, opt=None):
    cmd = ['node', os.path.join(HERE, 'ort_run.js'), model, xbin, str(count), ','.join(map(str, dims)),
           out, str(warm), str(reps)] + ([opt] if opt else [])
    r = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, ORT_NODE_DIR=ort_dir))
    if r.returncode != 0:
        raise RuntimeError('ort_run.js failed on %s: %s' % (model, r.stderr[-1500:]))
    res = json.loads(r.stdout.strip().splitlines()[-1])
    res['y'] = np.fromfile(out, '<f4').reshape(count, -1)
    return res


# ---- a minimal protobuf reader: the op types of an (optimized) ONNX model
def _varint(b, i):
    v = s = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7f) << s
        s += 7
        if c < 0x80:
            return v, i


def _fields(b):
    i = 0
    while i < len(b):
        key, i = _varint(b, i)
        f, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(b, i)
        elif wt == 1:
            v, i = b[i:i + 8], i + 8
        elif wt == 5:
            v, i = b[i:i + 4], i + 4
        elif wt == 2:
            n, i = _varint(b, i)
            v, i = b[i:i + n], i + n
        else:
            raise ValueError('protobuf wire type %d' % wt)
        yield f, v


def op_types(path):
    """Counter of the node op types of the main graph (ModelProto.graph = 7,
    GraphProto.node = 1, NodeProto.op_type = 4)."""
    ops = Counter()
    b = open(path, 'rb').read()
    for f, v in _fields(b):
        if f == 7:
            for g, node in _fields(v):
                if g == 1:
                    for h, s in _fields(node):
                        if h == 4:
                            ops[s.decode()] += 1
    return ops


def describe(ops):
    q = sorted('%s×%d' % (k, n) if n > 1 else k for k, n in ops.items()
               if k.startswith('QLinear') or k in ('QGemm', 'QuantizeLinear', 'DequantizeLinear'))
    skip = {'Flatten', 'Reshape', 'Identity', 'MaxPool', 'Transpose'}
    fl = sorted('%s×%d' % (k, n) if n > 1 else k for k, n in ops.items()
                if k not in skip and not (k.startswith('QLinear') or k in ('QGemm', 'QuantizeLinear',
                                                                          'DequantizeLinear')))
    return q, fl


def run_all(name, model_dir, x_nchw, xbin, labels, work, warm, reps, ort_dir, log):
    """fp32 and QDQ int8 rows for one model, and the fixed per-run cost measured
    just before them on a near-empty model with the same input."""
    rows = []
    dims = list(x_nchw.shape[1:])
    ex = x_nchw[:1]
    p = os.path.join(work, name + '_probe.onnx')
    export(Probe(), ex, p)
    probe = run(p, xbin, 10, dims, p + '.y', warm, reps, ort_dir)['median_us']
    log('  ORT fixed cost of one run (near-empty model): %.1f µs' % probe)
    f32 = os.path.join(work, name + '_fp32.onnx')
    qdq = os.path.join(work, name + '_qdq.onnx')
    export(nets.load_fp32(name, model_dir), ex, f32)
    qnet = nets.make_qdq(name, model_dir)
    export(qnet, ex, qdq)
    with torch.no_grad():
        sim = qnet(x_nchw).numpy()
    n = len(x_nchw)
    for path, cfg, int8 in ((f32, 'fp32', False), (qdq, 'int8 QDQ (u8 act., s8 per-channel w, int32 bias)', True)):
        opt = path.replace('.onnx', '.opt.onnx')
        r = run(path, xbin, n, dims, path + '.y', warm, reps, ort_dir, opt)
        acc = 100.0 * float(np.mean(r['y'].argmax(1) == labels))
        qops, fops = describe(op_types(opt))
        note = 'optimized graph: %s; `await session.run()`: %.1f µs' % (', '.join(qops + fops), r['async_us'])
        if int8:
            note += '; float fake-quant simulation of this graph: top-1 %.1f %%' % (
                100.0 * float(np.mean(sim.argmax(1) == labels)))
        rows.append(dict(tool='ONNX Runtime %s' % r['version'], config=cfg, top1=acc, us=r['median_us'],
                         p10=r['p10_us'], net_us=r['median_us'] - probe, probe_us=probe,
                         model=path, probe_model=p, dims=dims,
                         async_us=r['async_us'], note=note, int8=int8, fused=qops, float_ops=fops))
        log('  ORT %-56s top-1 %5.1f %%  %8.1f µs  [%s]' % (cfg, acc, r['median_us'], note))
    return rows
