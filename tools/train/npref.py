#!/usr/bin/python3
"""Independent NumPy (NHWC, float32) reference for the q8c model text format.

It reads a .q8 file the way /work/shared/spec/model-format.md defines it (the subset the
examples use: conv2d, dense, add, relu, relu6, maxpool2d, avgpool2d, global_avgpool,
batchnorm, flatten, softmax, quantize, dequantize) and runs it on a batch, loading the
.npy constants from disk. It shares no code with PyTorch, so it checks the exported
text, weight layouts (OHWI, NHWC flatten order) and QDQ parameters independently.

usage: npref.py MODEL.q8 X.npy [Y.npy]     prints the output shape and, with labels, top-1
"""
import os
import re
import sys

import numpy as np

F32 = np.float32
DTYPES = {'f32': np.dtype('<f4'), 'i8': np.dtype('i1'), 'u8': np.dtype('u1'),
          'i16': np.dtype('<i2'), 'i32': np.dtype('<i4')}
QRANGE = {'i8': (-128, 127), 'u8': (0, 255), 'i16': (-32768, 32767), 'i32': (-2**31, 2**31 - 1)}
NUM = r'[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?0[xX][0-9a-fA-F.]+(?:[pP][-+]?\d+)?'


class Q8Error(Exception):
    pass


def _num(s):
    s = s.strip()
    if re.fullmatch(r'[-+]?\d+', s):
        return int(s)
    if 'x' in s.lower():
        return float.fromhex(s)
    if not re.fullmatch(NUM, s):
        raise Q8Error('bad number %r' % s)
    return float(s)


def _split_top(s):
    """Split on commas that are not inside [...]."""
    out, depth, cur = [], 0, ''
    for ch in s:
        if ch == '[':
            depth += 1
        elif ch == ']':
            depth -= 1
        if ch == ',' and depth == 0:
            out.append(cur.strip())
            cur = ''
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def _value(s):
    s = s.strip()
    if s.startswith('['):
        inner = s[1:-1].strip()
        return [_num(v) for v in inner.split(',')] if inner else []
    if re.fullmatch(r'[A-Za-z_][A-Za-z0-9_]*', s):
        return s
    return _num(s)


def _type(s):
    m = re.fullmatch(r'\s*(f32|i8|u8|i16|i32)\s*\[([^\]]*)\]\s*', s)
    if not m:
        raise Q8Error('bad type %r' % s)
    dims = [int(d) for d in m.group(2).split(',')] if m.group(2).strip() else []
    if any(d <= 0 for d in dims):
        raise Q8Error('non-positive dim in %r' % s)
    return m.group(1), tuple(dims)


def _strip_comments(text):
    lines = []
    for line in text.split('\n'):
        out, in_str, i = '', False, 0
        while i < len(line):
            c = line[i]
            if in_str and c == '\\':
                out += line[i:i + 2]
                i += 2
                continue
            if c == '"':
                in_str = not in_str
            if c == '#' and not in_str:
                break
            out += c
            i += 1
        lines.append(out)
    return '\n'.join(lines)


def parse(path):
    """Return dict(name, inputs=[(name, dtype, shape)], consts={name: array},
    nodes=[(result, annotated_type|None, op, operands, attrs)], outputs=[names])."""
    text = _strip_comments(open(path).read())
    base = os.path.dirname(os.path.abspath(path))
    m = dict(name=os.path.splitext(os.path.basename(path))[0], inputs=[], consts={},
             nodes=[], outputs=[])
    defined = set()

    def define(n):
        if n in defined:
            raise Q8Error('redefinition of %s' % n)
        defined.add(n)

    for st in text.split(';'):
        st = st.strip()
        if not st:
            continue
        if re.match(r'model\s', st):
            m['name'] = st.split()[1]
        elif re.match(r'input\s', st):
            mm = re.fullmatch(r'input\s+(%[A-Za-z0-9_.]+)\s*:\s*(.+)', st, re.S)
            dt, shape = _type(mm.group(2))
            define(mm.group(1))
            m['inputs'].append((mm.group(1), dt, shape))
        elif re.match(r'const\s', st):
            mm = re.fullmatch(r'const\s+(@[A-Za-z0-9_.]+)\s*:\s*([^=]+)=\s*(.+)', st, re.S)
            dt, shape = _type(mm.group(2))
            rhs = mm.group(3).strip()
            if rhs.startswith('"'):
                rel = rhs[1:-1]
                if os.path.isabs(rel) or '..' in rel.split('/'):
                    raise Q8Error('path escapes model directory: %s' % rel)
                arr = np.load(os.path.join(base, rel))
                if arr.dtype != DTYPES[dt] or tuple(arr.shape) != shape:
                    raise Q8Error('%s: npy %s %s, declared %s %s' % (mm.group(1), arr.dtype.str,
                                  arr.shape, dt, shape))
                if not arr.flags.c_contiguous:
                    raise Q8Error('%s: npy not C order' % mm.group(1))
            else:
                v = _value(rhs)
                v = v if isinstance(v, list) else [v]
                if len(v) != int(np.prod(shape)):
                    raise Q8Error('%s: %d numbers for shape %s' % (mm.group(1), len(v), shape))
                arr = np.array(v, dtype=DTYPES[dt]).reshape(shape)
            define(mm.group(1))
            m['consts'][mm.group(1)] = arr
        elif re.match(r'output\s', st):
            for o in st.split(None, 1)[1].split(','):
                m['outputs'].append(o.strip())
        else:
            mm = re.fullmatch(r'(%[A-Za-z0-9_.]+)\s*(?::\s*([^=]+))?=\s*([a-z0-9_]+)\s*\((.*)\)',
                              st, re.S)
            if not mm:
                raise Q8Error('cannot parse statement: %r' % st[:80])
            operands, attrs = [], {}
            for a in _split_top(mm.group(4)):
                if '=' in a:
                    k, v = a.split('=', 1)
                    attrs[k.strip()] = _value(v)
                else:
                    if a not in defined:
                        raise Q8Error('use of undefined %s' % a)
                    operands.append(a)
            define(mm.group(1))
            ann = _type(mm.group(2)) if mm.group(2) else None
            m['nodes'].append((mm.group(1), ann, mm.group(3), operands, attrs))
    return m


# ---------------------------------------------------------------- operators (NHWC, f32)
def _pad_nhwc(x, pads, value=0.0):
    t, l, b, r = pads
    return np.pad(x, ((0, 0), (t, b), (l, r), (0, 0)), constant_values=value)


def conv2d(x, w, b=None, strides=(1, 1), pads=(0, 0, 0, 0), dilations=(1, 1), groups=1):
    n, h, wd, c = x.shape
    o, kh, kw, cg = w.shape
    sh, sw = strides
    dh, dw = dilations
    assert c == cg * groups and o % groups == 0
    xp = _pad_nhwc(x, pads)
    oh = (h + pads[0] + pads[2] - dh * (kh - 1) - 1) // sh + 1
    ow = (wd + pads[1] + pads[3] - dw * (kw - 1) - 1) // sw + 1
    og = o // groups
    y = np.zeros((n, oh, ow, o), F32)
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, i * dh:i * dh + sh * (oh - 1) + 1:sh, j * dw:j * dw + sw * (ow - 1) + 1:sw, :]
            if groups == 1:
                y += patch @ w[:, i, j, :].T
            elif groups == c and og == 1:
                y += patch * w[:, i, j, 0]
            else:
                for g in range(groups):
                    y[..., g * og:(g + 1) * og] += patch[..., g * cg:(g + 1) * cg] @ w[g * og:(g + 1) * og, i, j, :].T
    if b is not None:
        y += b
    return y.astype(F32)


def pool2d(x, size, strides=None, pads=(0, 0, 0, 0), mode='max'):
    kh, kw = size
    sh, sw = strides if strides is not None else size
    n, h, wd, c = x.shape
    oh = (h + pads[0] + pads[2] - kh) // sh + 1
    ow = (wd + pads[1] + pads[3] - kw) // sw + 1
    if mode == 'max':
        xp = _pad_nhwc(x, pads, -np.inf)
        y = np.full((n, oh, ow, c), -np.inf, F32)
    else:
        xp = _pad_nhwc(x, pads, 0.0)
        cnt = _pad_nhwc(np.ones((1, h, wd, 1), F32), pads, 0.0)
        y = np.zeros((n, oh, ow, c), F32)
        ysum = np.zeros((1, oh, ow, 1), F32)
    for i in range(kh):
        for j in range(kw):
            sl = (slice(None), slice(i, i + sh * (oh - 1) + 1, sh), slice(j, j + sw * (ow - 1) + 1, sw))
            if mode == 'max':
                y = np.maximum(y, xp[sl])
            else:
                y += xp[sl]
                ysum += cnt[sl]
    return y if mode == 'max' else (y / ysum).astype(F32)


def quantize(x, scale, zero_point=0, dtype='i8', axis=None):
    s, z = _qparams(x, scale, zero_point, axis)
    lo, hi = QRANGE[dtype]
    q = np.clip(np.round(x.astype(F32) / s) + z, lo, hi)   # np.round: half to even
    return q.astype(DTYPES[dtype])


def dequantize(q, scale, zero_point=0, axis=None):
    s, z = _qparams(q, scale, zero_point, axis)
    return ((q.astype(F32) - z) * s).astype(F32)


def _qparams(x, scale, zero_point, axis):
    s = np.array(scale, F32)
    z = np.array(zero_point, F32)
    if axis is not None:
        ax = axis % x.ndim
        shape = [1] * x.ndim
        shape[ax] = x.shape[ax]
        s = s.reshape(shape) if s.ndim else s
        z = z.reshape(shape) if z.ndim else z
    return s, z


def run(model, *xs, env_out=None):
    """Run a parsed model on batched inputs (leading dim N replaces the declared batch 1).
    If env_out is a dict, every named value is stored in it."""
    env = dict(model['consts'])
    for (name, dt, shape), x in zip(model['inputs'], xs):
        if tuple(x.shape[1:]) != shape[1:]:
            raise Q8Error('input %s: got %s, declared %s' % (name, x.shape, shape))
        env[name] = np.asarray(x, DTYPES[dt])
    for res, ann, op, ops, at in model['nodes']:
        a = [env[o] for o in ops]
        if op == 'conv2d':
            y = conv2d(a[0], a[1], a[2] if len(a) > 2 else None, at.get('strides', [1, 1]),
                       at.get('pads', [0, 0, 0, 0]), at.get('dilations', [1, 1]), at.get('groups', 1))
        elif op == 'dense':
            y = a[0] @ a[1].T + (a[2] if len(a) > 2 else 0)
        elif op == 'add':
            y = a[0] + a[1]
        elif op == 'mul':
            y = a[0] * a[1]
        elif op == 'sub':
            y = a[0] - a[1]
        elif op == 'relu':
            y = np.maximum(a[0], 0)
        elif op == 'relu6':
            y = np.clip(a[0], 0, 6)
        elif op in ('maxpool2d', 'avgpool2d'):
            y = pool2d(a[0], at['size'], at.get('strides'), at.get('pads', [0, 0, 0, 0]), op[:3])
        elif op == 'global_avgpool':
            y = a[0].mean(axis=(1, 2), keepdims=True, dtype=F32)
        elif op == 'batchnorm':
            g, bt, mu, var = a[1:5]
            y = (a[0] - mu) / np.sqrt(var + F32(at.get('epsilon', 1e-5))) * g + bt
        elif op == 'flatten':
            y = a[0].reshape(a[0].shape[0], -1)
        elif op == 'softmax':
            e = np.exp(a[0] - a[0].max(axis=at.get('axis', -1), keepdims=True))
            y = e / e.sum(axis=at.get('axis', -1), keepdims=True)
        elif op == 'quantize':
            y = quantize(a[0], at['scale'], at.get('zero_point', 0), at.get('dtype', 'i8'), at.get('axis'))
        elif op == 'dequantize':
            y = dequantize(a[0], at['scale'], at.get('zero_point', 0), at.get('axis'))
        else:
            raise Q8Error('npref: unsupported op %s' % op)
        if op not in ('quantize',):
            y = np.asarray(y, F32)
        if ann is not None:
            dt, shape = ann
            if tuple(y.shape[1:]) != shape[1:] or DTYPES[dt] != y.dtype:
                raise Q8Error('%s: annotated %s%s, inferred %s%s' % (res, dt, shape, y.dtype, y.shape))
        env[res] = y
    if env_out is not None:
        env_out.update(env)
    outs = [env[o] for o in model['outputs']]
    return outs[0] if len(outs) == 1 else outs


def run_file(path, x, batch=100):
    m = parse(path)
    return np.concatenate([run(m, x[i:i + batch]) for i in range(0, len(x), batch)])


if __name__ == '__main__':
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    x = np.load(sys.argv[2])
    y = run_file(sys.argv[1], x)
    print('output', y.shape, y.dtype)
    if len(sys.argv) > 3:
        lab = np.load(sys.argv[3])[:len(y)]
        print('top-1 %.4f on %d images' % ((y.argmax(1) == lab).mean(), len(y)))
