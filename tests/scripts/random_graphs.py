#!/usr/bin/python3
"""Randomized small graphs, compiled for every target and compared with `q8c run`.

usage: random_graphs.py Q8C SRC_DIR SCRATCH [--count N] [--seed S] [--targets T,T]

Generates N (default 20) small random models in the text format: random
shapes, strides, paddings, dilations, groups (depthwise too), residual
adds, concat, pools, pad, batchnorm, activations (relu, relu6, clip and
the tables: sigmoid, tanh, hardswish, hardsigmoid, leaky_relu), transpose,
dense, a trailing softmax sometimes; every other one is a QDQ model
(random scales and zero points, u8 and i8 activations, per-channel int8
weights), and every other float one (k % 4 == 2) an a16 model: nine in
ten conv2d, and the dense when it has at most 400 inputs, read int16
activations (abits=16, docs/precision.md); every third one compiles
with --weight-bits 4 --granularity group:G (int4 weights packed two per
byte; G from 1 to 3).  Weights are .npy files.  Each model is calibrated with random data (--calib) and runs
on every target through cross_c.py's machinery: the float outputs of the
generated code must equal `q8c run` bit for bit.  Seeded: the same seed
gives the same models.  The models stay in SCRATCH/graphs/gN for replay."""
import os
import shutil
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cross_c  # noqa: E402


def dims(shape):
    return '[' + ', '.join(str(d) for d in shape) + ']'


def flist(a):
    return '[' + ', '.join(repr(float(v)) for v in np.asarray(a).reshape(-1)) + ']'


class Graph:
    def __init__(self, rng, qdq, d, a16=False):
        self.rng, self.qdq, self.dir, self.a16 = rng, qdq, d, a16
        self.lines, self.n = [], 0
        self.vals = []   # (name, shape, nonneg) of every activation so far

    def fresh(self, base):
        self.n += 1
        return '%s%d' % (base, self.n)

    def emit(self, s):
        self.lines.append(s)

    def const(self, base, a, dt='f32'):
        """A constant: inline when small, else an .npy file."""
        name = self.fresh(base)
        if a.ndim == 0:
            self.emit('const @%s : f32[] = %r;' % (name, float(a)))
        elif a.size <= 8 and dt == 'f32':
            self.emit('const @%s : f32%s = %s;' % (name, dims(a.shape), flist(a)))
        else:
            np.save(os.path.join(self.dir, name + '.npy'), a)
            self.emit('const @%s : %s%s = "%s.npy";' % (name, dt, dims(a.shape), name))
        return '@' + name

    def weight(self, w):
        """Weights, as per-channel int8 + dequantize in QDQ models."""
        if not self.qdq:
            return self.const('w', w.astype(np.float32))
        s = np.maximum(np.abs(w.reshape(w.shape[0], -1)).max(axis=1), 1e-3) / 127
        q = np.clip(np.rint(w / s.reshape([-1] + [1] * (w.ndim - 1))), -127, 127).astype(np.int8)
        c = self.const('wq', q, 'i8')
        name = self.fresh('w')
        self.emit('%%%s = dequantize(%s, scale=%s, zero_point=0, axis=0);' % (name, c, flist(s.astype(np.float32))))
        return '%' + name

    def act(self, expr, shape, nonneg=False, base='t'):
        """Defines an activation (with a QDQ pair in QDQ models); returns its name."""
        name = self.fresh(base)
        self.emit('%%%s = %s;' % (name, expr))
        v = '%' + name
        if self.qdq:
            r = self.rng
            if nonneg and r.random() < 0.6:
                dt, s, zp = 'u8', r.uniform(3, 7) / 255, int(r.integers(0, 10))
            else:
                dt, s = 'i8', r.uniform(3, 7) / 255
                zp = int(r.integers(-20, 21)) if r.random() < 0.7 else 0
            self.emit('%%%s.q = quantize(%s, scale=%r, zero_point=%d, dtype=%s);' % (name, v, s, zp, dt))
            self.emit('%%%s.dq = dequantize(%%%s.q, scale=%r, zero_point=%d);' % (name, name, s, zp))
            v = '%%%s.dq' % name
        self.vals.append((v, list(shape), nonneg))
        return v

    # ---- ops ----

    def conv(self, x, shp):
        r = self.rng
        n, h, w, c = shp
        for _ in range(50):
            k = [int(r.integers(1, 4)), int(r.integers(1, 4))]
            st = [int(r.integers(1, 3)), int(r.integers(1, 3))]
            dl = [int(r.integers(1, 3)) if r.random() < 0.3 else 1 for _ in range(2)]
            pads = [int(r.integers(0, kk)) for kk in (k[0], k[1], k[0], k[1])]
            oh = (h + pads[0] + pads[2] - dl[0] * (k[0] - 1) - 1) // st[0] + 1
            ow = (w + pads[1] + pads[3] - dl[1] * (k[1] - 1) - 1) // st[1] + 1
            if oh >= 1 and ow >= 1:
                break
        else:
            return x, shp
        kind = r.random()
        if kind < 0.3:                       # depthwise, multiplier 1 or 2
            g, o = c, c * int(r.integers(1, 3))
        elif kind < 0.45 and c % 2 == 0:     # grouped
            g = 2
            o = 2 * int(r.integers(1, 5))
        else:
            g, o = 1, int(r.integers(1, 13))
        fan = k[0] * k[1] * (c // g)
        wt = self.weight(r.normal(0, 1 / np.sqrt(fan), (o, k[0], k[1], c // g)))
        args = '%s, %s' % (x, wt)
        if r.random() < 0.8:
            args += ', ' + self.const('b', r.normal(0, 0.2, o).astype(np.float32))
        attrs = 'strides=%s, pads=%s' % (dims(st), dims(pads))
        if dl != [1, 1]:
            attrs += ', dilations=%s' % dims(dl)
        if g > 1:
            attrs += ', groups=%d' % g
        if self.a16 and r.random() < 0.9:
            attrs += ', abits=16'
        shp = [n, oh, ow, o]
        v = self.act('conv2d(%s, %s)' % (args, attrs), shp, base='conv')
        return v, shp

    def activation(self, x, shp):
        r = self.rng.random()
        if r < 0.4:
            return self.act('relu(%s)' % x, shp, True, 'relu'), shp
        if r < 0.7:
            return self.act('relu6(%s)' % x, shp, True, 'relu6'), shp
        lo = -round(float(self.rng.uniform(0, 0.5)), 3)
        hi = round(float(self.rng.uniform(0.5, 2)), 3)
        return self.act('clip(%s, min=%r, max=%r)' % (x, lo, hi), shp, lo >= 0, 'clip'), shp

    def lut(self, x, shp):
        """One of the table activations (qlut in the integer graph)."""
        r = self.rng
        k = int(r.integers(0, 5))
        if k == 0:
            return self.act('sigmoid(%s)' % x, shp, True, 'sig'), shp
        if k == 1:
            return self.act('tanh(%s)' % x, shp, base='tanh'), shp
        if k == 2:
            return self.act('hardswish(%s)' % x, shp, base='hsw'), shp
        if k == 3:
            a, b = round(float(r.uniform(0.1, 0.4)), 3), round(float(r.uniform(0.3, 0.7)), 3)
            return self.act('hardsigmoid(%s, alpha=%r, beta=%r)' % (x, a, b), shp, True, 'hsig'), shp
        a = round(float(r.uniform(0.01, 0.3)), 3)
        return self.act('leaky_relu(%s, alpha=%r)' % (x, a), shp, base='lrelu'), shp

    def transpose(self, x, shp):
        """H and W swapped, or a round trip through NCHW."""
        n, h, w, c = shp
        if self.rng.random() < 0.5:
            return self.act('transpose(%s, perm=[0, 2, 1, 3])' % x, [n, w, h, c], base='tr'), [n, w, h, c]
        y = self.act('transpose(%s, perm=[0, 3, 1, 2])' % x, [n, c, h, w], base='nchw')
        return self.act('transpose(%s, perm=[0, 2, 3, 1])' % y, shp, base='nhwc'), shp

    def pool(self, x, shp):
        r = self.rng
        n, h, w, c = shp
        k = [int(r.integers(1, min(3, h) + 1)), int(r.integers(1, min(3, w) + 1))]
        st = [int(r.integers(1, k[0] + 1)), int(r.integers(1, k[1] + 1))]
        pads = [int(r.integers(0, kk)) for kk in (k[0], k[1], k[0], k[1])] if r.random() < 0.5 else [0, 0, 0, 0]
        oh = (h + pads[0] + pads[2] - k[0]) // st[0] + 1
        ow = (w + pads[1] + pads[3] - k[1]) // st[1] + 1
        op = 'maxpool2d' if r.random() < 0.5 else 'avgpool2d'
        shp = [n, oh, ow, c]
        nonneg = self.vals[-1][2] if self.vals else False
        return self.act('%s(%s, size=%s, strides=%s, pads=%s)' % (op, x, dims(k), dims(st), dims(pads)),
                        shp, nonneg, op[:3]), shp

    def residual(self, x, shp):
        same = [v for v in self.vals if v[1] == shp and v[0] != x]
        r = self.rng.random()
        if same and r < 0.7:
            y = same[int(self.rng.integers(0, len(same)))][0]
            op = 'add' if self.rng.random() < 0.8 else 'sub'
            return self.act('%s(%s, %s)' % (op, x, y), shp, base=op), shp
        if r < 0.85:
            b = self.const('c', self.rng.normal(0, 0.5, shp[-1]).astype(np.float32))
            return self.act('add(%s, %s)' % (x, b), shp, base='addc'), shp
        s = self.const('s', np.array(round(float(self.rng.uniform(0.5, 1.5)), 3), np.float32))
        return self.act('mul(%s, %s)' % (x, s), shp, base='mul'), shp

    def concat(self, x, shp):
        same = [v for v in self.vals if v[1][:3] == shp[:3] and v[0] != x]
        if not same:
            return x, shp
        y, yshp, _ = same[int(self.rng.integers(0, len(same)))]
        shp = shp[:3] + [shp[3] + yshp[3]]
        return self.act('concat(%s, %s, axis=-1)' % (x, y), shp, base='cat'), shp

    def pad(self, x, shp):
        p = [int(self.rng.integers(0, 3)) for _ in range(4)]
        shp = [shp[0], shp[1] + p[0] + p[2], shp[2] + p[1] + p[3], shp[3]]
        return self.act('pad(%s, pads=%s)' % (x, dims(p)), shp, base='pad'), shp

    def batchnorm(self, x, shp):
        c, r = shp[-1], self.rng
        args = [self.const('g', r.uniform(0.5, 1.5, c).astype(np.float32)),
                self.const('be', r.normal(0, 0.2, c).astype(np.float32)),
                self.const('m', r.normal(0, 0.2, c).astype(np.float32)),
                self.const('v', r.uniform(0.5, 2, c).astype(np.float32))]
        return self.act('batchnorm(%s, %s)' % (x, ', '.join(args)), shp, base='bn'), shp


def make_graph(k, seed, d):
    rng = np.random.default_rng(seed * 1000 + k)
    qdq, a16 = k % 2 == 1, k % 4 == 2
    g = Graph(rng, qdq, d, a16)
    shp = [1, int(rng.integers(4, 11)), int(rng.integers(4, 11)), int(rng.integers(1, 7))]
    g.emit('model g%d;' % k)
    g.emit('input %%x : f32%s;' % dims(shp))
    x = '%x'
    if qdq:
        s, zp = rng.uniform(1.5, 3) / 255, int(rng.integers(-10, 11))
        g.emit('%%x.q = quantize(%%x, scale=%r, zero_point=%d, dtype=i8);' % (s, zp))
        g.emit('%%x.dq = dequantize(%%x.q, scale=%r, zero_point=%d);' % (s, zp))
        x = '%x.dq'
    g.vals.append((x, list(shp), False))
    x, shp = g.conv(x, shp)
    ops = [g.conv, g.activation, g.pool, g.residual, g.concat, g.pad, g.batchnorm, g.lut, g.transpose]
    prob = [0.27, 0.16, 0.11, 0.14, 0.07, 0.05, 0.07, 0.09, 0.04]
    for _ in range(int(rng.integers(2, 7))):
        op = ops[rng.choice(len(ops), p=prob)]
        if op == g.pool and min(shp[1], shp[2]) < 2:
            continue
        if shp[1] * shp[2] * shp[3] > 2000:   # keep qemu runs short
            op = g.pool if min(shp[1], shp[2]) >= 2 else g.conv
        x, shp = op(x, shp)
    # the head: global average or flatten, then dense, sometimes softmax
    if rng.random() < 0.5:
        x = g.act('global_avgpool(%s)' % x, [shp[0], 1, 1, shp[3]], g.vals[-1][2], 'gap')
        shp = [shp[0], 1, 1, shp[3]]
    feat = shp[1] * shp[2] * shp[3]
    x = g.act('flatten(%s)' % x, [1, feat], g.vals[-1][2], 'flat')
    o = int(rng.integers(1, 11))
    w = g.weight(rng.normal(0, 1 / np.sqrt(feat), (o, feat)))
    args = '%s, %s' % (x, w)
    if rng.random() < 0.7:
        args += ', ' + g.const('b', rng.normal(0, 0.2, o).astype(np.float32))
    if a16 and feat <= 400:   # 32768 * sum|w| stays below 2^31 (docs/numerics.md)
        args += ', abits=16'
    x = g.act('dense(%s)' % args, [1, o], base='fc')
    if rng.random() < 0.25:
        name = g.fresh('prob')
        g.emit('%%%s = softmax(%s);' % (name, x))
        x = '%' + name
    g.emit('output %s;' % x)
    open(os.path.join(d, 'model.q8'), 'w').write('\n'.join(g.lines) + '\n')
    inshape = [int(v) for v in g.lines[1].split('[')[1].split(']')[0].split(',')]
    calib = rng.uniform(-1, 1, [24] + inshape[1:]).astype(np.float32)
    xs = rng.uniform(-1.1, 1.1, [3] + inshape[1:]).astype(np.float32)
    np.save(os.path.join(d, 'calib.npy'), calib)
    np.save(os.path.join(d, 'x.npy'), xs)
    # every third model with int4 weights, packed two per byte, by groups
    # of 1 to 3 output channels (docs/precision.md)
    flags = ['--weight-bits', '4', '--granularity', 'group:%d' % (1 + k // 3 % 3)] if k % 3 == 2 else []
    return ('g%d%s%s' % (k, '_qdq' if qdq else '_a16' if a16 else '', '_w4' if flags else ''),
            os.path.join(d, 'model.q8'), os.path.join(d, 'calib.npy'), os.path.join(d, 'x.npy'), flags)


def main():
    if len(sys.argv) < 4:
        print(__doc__)
        sys.exit(2)
    q8c, _src, scratch = (os.path.abspath(a) for a in sys.argv[1:4])
    count = int(cross_c.arg('--count', 20))
    seed = int(cross_c.arg('--seed', 1))
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch)
    only = cross_c.arg('--targets')
    targets = cross_c.usable_targets(only.split(',') if only else None)
    if not targets:
        print('SKIP: no usable target')
        sys.exit(77)
    ms = []
    for k in range(count):
        d = os.path.join(scratch, 'graphs', 'g%d' % k)
        os.makedirs(d)
        ms.append(make_graph(k, seed, d))
    print('%d random graphs (seed %d) x %d targets; models in %s/graphs' % (count, seed, len(targets), scratch),
          flush=True)
    ok = cross_c.run_all(q8c, ms, targets, os.path.join(scratch, 'runs'))
    sys.exit(0 if ok else 1)


if __name__ == '__main__':
    main()
