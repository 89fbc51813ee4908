#!/usr/bin/python3
"""Writes the ONNX networks of tests/onnx/nets and their ONNX Runtime outputs.

usage: /usr/bin/python3 tools/onnx/export.py [--out DIR] [--only a,b]

Needs python3-torch, python3-torchvision, python3-onnx and onnxruntime-node
(`npm install onnxruntime-node` in $ORT_NODE_DIR, default /tmp/ortnode). The tests
need none of them: they read what this writes.

  - the four examples (examples/NAME) as PyTorch exports them, fp32 (ex_NAME.onnx)
    and ORT-style QDQ (ex_NAME_qdq.onnx), built by tools/compare/nets.py from the
    examples' weights; inputs: examples/NAME/test_x.npy (1000 MNIST test digits);
  - torchvision networks with random weights from a fixed seed (32x32 RGB input,
    10 classes): mobilenet_v2(width_mult=0.25) with its last conv to 256 channels,
    mobilenet_v3_small(width_mult=0.35, reduced tail), resnet18 at 1/8 of its width; their batchnorms are set to
    the statistics of calibration images (else random weights give vanishing or
    exploding activations); fp32 (NAME.onnx) and QDQ (NAME_qdq.onnx, written here
    with the onnx package: per-channel symmetric s8 weights, int32 biases, u8
    activations (s8 for mobilenet_v3) with scales from the min/max that ONNX
    Runtime measures on the calibration images, as onnxruntime.quantization's
    MinMax calibration computes them); inputs: nets_x.npy, 200 smooth random
    images as uint8 NHWC, x = (u8 - 128) / 64 in float32 (exact);
  - for every model M: M_ort.npy, ONNX Runtime's output on its inputs (the QDQ
    files: ORT's own int8 run).
"""
import argparse
import copy
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import torch
import torch.nn as nn
import torchvision
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, 'tools', 'compare'))
import nets  # noqa: E402
import ort  # noqa: E402

F32 = np.float32
SEED = 0
NETS_N, CALIB_N, SIDE = 200, 64, 32


# ------------------------------------------------------------------ ONNX Runtime
def ort_eval(path, x_nchw):
    """Every graph output of PATH on every sample of X_NCHW: {name: [N, ...] array}."""
    x = np.ascontiguousarray(x_nchw, '<f4')
    with tempfile.TemporaryDirectory() as tmp:
        xb = os.path.join(tmp, 'x.bin')
        x.tofile(xb)
        r = subprocess.run(['node', os.path.join(HERE, 'ort_eval.js'), path, xb, str(len(x)),
                            ','.join(map(str, x.shape[1:])), tmp], capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit('ort_eval.js failed on %s: %s' % (path, r.stderr[-2000:]))
        info = json.load(open(os.path.join(tmp, 'outputs.json')))
        return {n: np.fromfile(os.path.join(tmp, '%d.bin' % k), '<f4').reshape(len(x), -1)
                for k, n in enumerate(info['names'])}, info['version']


# ------------------------------------------------------------------ QDQ writer
def act_params(lo, hi, signed):
    """onnxruntime.quantization's asymmetric scale and zero point of a range (MinMax)."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    qmin, qmax = (-128, 127) if signed else (0, 255)
    scale = F32((hi - lo) / (qmax - qmin))
    if scale <= 0:
        return F32(1.0), 0
    return scale, int(np.clip(round(qmin - lo / float(scale)), qmin, qmax))


def weight_params(w, axis):
    """Per-channel symmetric s8 in [-127, 127] (ORT's per_channel weights)."""
    m = np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1)
    amax = np.abs(m).max(axis=1)
    s = np.where(amax > 0, amax / F32(127.0), F32(1.0)).astype(F32)
    shape = [1] * w.ndim
    shape[axis] = -1
    q = np.clip(np.round(w / s.reshape(shape)), -127, 127).astype(np.int8)
    return q, s


# ops whose output takes its input's scale and zero point (exact pass-through, as ORT does)
SAME_AS_INPUT = {'MaxPool', 'Flatten', 'Reshape', 'Squeeze', 'Unsqueeze', 'Transpose', 'Identity'}


def make_qdq(model, calib_nchw, signed=False):
    """The QDQ version of an fp32 ONNX model: a QuantizeLinear/DequantizeLinear pair on
    every float activation, DequantizeLinear of s8 per-channel weights and int32 biases
    of every Conv and Gemm."""
    m = onnx.shape_inference.infer_shapes(model)
    g = m.graph
    inits = {t.name: t for t in g.initializer}
    is_float = {v.name for v in list(g.value_info) + list(g.input) + list(g.output)
                if v.type.tensor_type.elem_type == TensorProto.FLOAT}
    acts = [i.name for i in g.input if i.name not in inits]
    for n in g.node:
        if n.op_type != 'Constant':
            acts += [o for o in n.output if o in is_float]
    # ranges: every activation as an output of a copy, run in ORT on the calibration images
    probe = copy.deepcopy(m)
    have = {o.name for o in probe.graph.output}
    for a in acts:
        if a not in have:
            probe.graph.output.append(helper.make_tensor_value_info(a, TensorProto.FLOAT, None))
    with tempfile.TemporaryDirectory() as tmp:
        p = os.path.join(tmp, 'probe.onnx')
        onnx.save(probe, p)
        vals, _ = ort_eval(p, calib_nchw)
    params = {a: act_params(vals[a].min(), vals[a].max(), signed) for a in acts}
    producer = {o: n for n in g.node for o in n.output}
    for a in acts:   # in graph order, so the input's parameters are final
        n = producer.get(a)
        if n is not None and n.op_type in SAME_AS_INPUT and n.input[0] in params:
            params[a] = params[n.input[0]]

    qt = TensorProto.INT8 if signed else TensorProto.UINT8
    new_inits, new_nodes = [], []

    def const(name, arr):
        new_inits.append(numpy_helper.from_array(arr, name))
        return name

    outputs = {o.name for o in g.output}
    rename = {}   # activation -> its dequantized name, for the consumers
    for a in acts:
        s, z = params[a]
        src = a + '_f' if a in outputs else a
        dq = a if a in outputs else a + '_dq'
        sc, zc = const(a + '_scale', np.array(s, F32)), const(a + '_zp', np.array(z, np.int8 if signed else np.uint8))
        new_nodes.append((a, helper.make_node('QuantizeLinear', [src, sc, zc], [a + '_q'], name=a + '_Q')))
        new_nodes.append((a, helper.make_node('DequantizeLinear', [a + '_q', sc, zc], [dq], name=a + '_DQ')))
        rename[a] = dq
    nodes = []
    pending = {}
    for a, n in new_nodes:
        pending.setdefault(a, []).append(n)
    for i in g.input:
        nodes += pending.get(i.name, [])
    for n in g.node:
        n = copy.deepcopy(n)
        ins = list(n.input)
        if n.op_type in ('Conv', 'Gemm') and ins[1] in inits:
            w = numpy_helper.to_array(inits[ins[1]])
            axis = 1 if n.op_type == 'Gemm' and not any(at.name == 'transB' and at.i for at in n.attribute) else 0
            q, sw = weight_params(w, axis)
            wn = ins[1] + '_wdq'
            zq = np.zeros(len(sw), np.int8)
            nodes.append(helper.make_node('DequantizeLinear', [const(ins[1] + '_wq', q), const(ins[1] + '_ws', sw),
                                                               const(ins[1] + '_wz', zq)], [wn], axis=axis,
                                          name=ins[1] + '_DQ'))
            ins[1] = wn
            if len(ins) > 2 and ins[2] in inits:
                b = numpy_helper.to_array(inits[ins[2]]).astype(np.float64)
                sb = (F32(params[ins[0]][0]) * sw).astype(F32)
                bq = np.round(b / sb.astype(np.float64)).astype(np.int32)
                bn = ins[2] + '_bdq'
                nodes.append(helper.make_node('DequantizeLinear', [const(ins[2] + '_bq', bq), const(ins[2] + '_bs', sb),
                                                                   const(ins[2] + '_bz', np.zeros(len(sb), np.int32))],
                                              [bn], axis=0, name=ins[2] + '_DQ'))
                ins[2] = bn
        ins = [rename.get(x, x) for x in ins]
        del n.input[:]
        n.input.extend(ins)
        outs = [o + '_f' if o in outputs and o in rename else o for o in n.output]
        del n.output[:]
        n.output.extend(outs)
        nodes.append(n)
        for o in n.output:
            nodes += pending.get(o[:-2] if o.endswith('_f') and o[:-2] in outputs else o, [])
    used = {x for n in nodes for x in n.input}
    keep = [t for t in g.initializer if t.name in used]
    out = helper.make_model(helper.make_graph(nodes, g.name, list(g.input), list(g.output), keep + new_inits),
                            opset_imports=list(m.opset_import), producer_name='q8c tools/onnx/export.py')
    out.ir_version = m.ir_version
    onnx.checker.check_model(out)
    return out


# ------------------------------------------------------------------ the networks
def small_resnet18():
    """resnet18 with every width divided by 8 (8, 16, 32, 64 channels)."""
    from torchvision.models.resnet import BasicBlock, ResNet

    class Quarter(ResNet):
        def _make_layer(self, block, planes, blocks, stride=1, dilate=False):
            if planes == 64:
                self.inplanes = 8
            return super()._make_layer(block, planes // 8, blocks, stride, dilate)

    net = Quarter(BasicBlock, [2, 2, 2, 2], num_classes=10)
    net.conv1 = nn.Conv2d(3, 8, 7, 2, 3, bias=False)
    net.bn1 = nn.BatchNorm2d(8)
    net.fc = nn.Linear(64, 10)
    return net


def small_mobilenet_v2():
    """mobilenet_v2(width_mult=0.25) with its last 1x1 conv to 256 channels, not 1280
    (which would be 40 % of the weights)."""
    from torchvision.ops.misc import Conv2dNormActivation
    net = torchvision.models.mobilenet_v2(width_mult=0.25, num_classes=10)
    net.features[18] = Conv2dNormActivation(80, 256, kernel_size=1, activation_layer=nn.ReLU6)
    net.classifier[1] = nn.Linear(256, 10)
    return net


NETS = {
    'mobilenet_v2': small_mobilenet_v2,
    'mobilenet_v3': lambda: torchvision.models.mobilenet_v3_small(width_mult=0.35, reduced_tail=True,
                                                                  num_classes=10),
    'resnet18': small_resnet18,
}
SIGNED = {'mobilenet_v3'}   # s8 activations (the others u8)


def images(n, seed):
    """Smooth random RGB images, uint8 NHWC: 4x4 colour blobs upsampled, plus noise."""
    g = torch.Generator().manual_seed(seed)
    low = torch.rand(n, 3, 4, 4, generator=g)
    x = torch.nn.functional.interpolate(low, size=(SIDE, SIDE), mode='bilinear', align_corners=False)
    x = x + 0.08 * torch.randn(n, 3, SIDE, SIDE, generator=g)
    return np.clip(np.round(x.numpy() * 255), 0, 255).astype(np.uint8).transpose(0, 2, 3, 1).copy()


def to_float(u8_nhwc):
    """The network input (NCHW float32) of uint8 NHWC images: (u8 - 128) / 64, exact."""
    return ((u8_nhwc.astype(F32) - F32(128)) / F32(64)).transpose(0, 3, 1, 2).copy()


@torch.no_grad()
def build_net(name, calib):
    torch.manual_seed(SEED)
    net = NETS[name]()
    for mod in net.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.weight.uniform_(0.5, 1.5)
            mod.bias.normal_(0.0, 0.25)
            mod.reset_running_stats()
            mod.momentum = None      # cumulative: the statistics of all calibration batches
        elif isinstance(mod, nn.Linear):
            nn.init.normal_(mod.weight, 0.0, 1.0 / np.sqrt(mod.in_features))
            nn.init.normal_(mod.bias, 0.0, 0.1)
    net.train()
    x = torch.from_numpy(calib)
    for i in range(0, len(x), 16):
        net(x[i:i + 16])
    return net.eval()


def export(net, example, path, opset):
    with torch.no_grad():
        torch.onnx.export(net, example, path, opset_version=opset, input_names=['x'], output_names=['y'],
                          do_constant_folding=True)


def save_ref(out, name, path, x_nchw, log):
    vals, ver = ort_eval(path, x_nchw)
    y = vals['y']
    np.save(os.path.join(out, name + '_ort.npy'), y)
    log('%-22s %7.1f KB  ORT %s: %d outputs' % (name, os.path.getsize(path) / 1024, ver, len(y)))
    return y


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default=os.path.join(REPO, 'tests', 'onnx', 'nets'))
    ap.add_argument('--only', default='')
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    only = set(a.only.split(',')) if a.only else None
    log = lambda s: print(s, flush=True)  # noqa: E731

    for name in nets.MODELS:
        if only and 'ex_' + name not in only:
            continue
        d = os.path.join(REPO, 'examples', name)
        x = nets.to_nchw(np.load(os.path.join(d, 'test_x.npy')))
        ex = x[:1]
        f32, qdq = os.path.join(a.out, 'ex_%s.onnx' % name), os.path.join(a.out, 'ex_%s_qdq.onnx' % name)
        ort.export(nets.load_fp32(name, d), ex, f32)
        ort.export(nets.make_qdq(name, d), ex, qdq)
        save_ref(a.out, 'ex_' + name, f32, x.numpy(), log)
        save_ref(a.out, 'ex_%s_qdq' % name, qdq, x.numpy(), log)

    test_u8 = images(NETS_N, SEED + 1)
    if not only or any(n in only for n in NETS):
        np.save(os.path.join(a.out, 'nets_x.npy'), test_u8)
    calib = to_float(images(CALIB_N, SEED + 2))
    x = to_float(test_u8)
    for name in NETS:
        if only and name not in only:
            continue
        net = build_net(name, calib)
        f32, qdq = os.path.join(a.out, name + '.onnx'), os.path.join(a.out, name + '_qdq.onnx')
        export(net, torch.from_numpy(x[:1]), f32, 17)
        onnx.save(make_qdq(onnx.load(f32), calib, name in SIGNED), qdq)
        yf = save_ref(a.out, name, f32, x, log)
        yq = save_ref(a.out, name + '_qdq', qdq, x, log)
        with torch.no_grad():
            yt = net(torch.from_numpy(x)).numpy()
        log('  PyTorch vs ORT fp32: max |diff| / max |y| = %.2e; ORT int8 vs fp32 top-1 %.1f %%; '
            'top-2 gap / logit range: median %.3f' % (
                np.abs(yt - yf).max() / np.abs(yf).max(), 100 * np.mean(yq.argmax(1) == yf.argmax(1)),
                np.median(np.diff(np.sort(yf, 1)[:, -2:], axis=1) / np.ptp(yf))))


if __name__ == '__main__':
    main()
