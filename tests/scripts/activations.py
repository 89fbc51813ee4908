#!/usr/bin/python3
"""The table activations and transpose against NumPy (an independent reference).

usage: activations.py Q8C SRC_DIR SCRATCH

- --float: sigmoid, tanh, hardswish, hardsigmoid (default and given
  alpha/beta), leaky_relu on a dense grid over [-12, 12] and a few edge
  values, `q8c run --float`, within 4 units in the last place of the
  float64 NumPy value (rounded to float32), or 1e-7 absolute near 0.
- int8: each function in a QDQ model (u8 and i8, zero points) with
  `q8c run`: the quantize of the input, the function on the dequantized
  value in float64, the quantize of the result, computed here in NumPy,
  must give the same bits (the qlut table is exact).
- transpose of f32 and u8 tensors, ranks 2 to 5, several perms: exact."""
import os
import subprocess
import sys

import numpy as np

# f(x, c): c rounds the attributes: float32 for the float kernel (which
# takes them as float), float64 for the tables (built in double)
FUNCS = {
    'sigmoid': ('sigmoid(%x)', lambda x, c: 1 / (1 + np.exp(-x))),
    'tanh': ('tanh(%x)', lambda x, c: np.tanh(x)),
    'hardswish': ('hardswish(%x)', lambda x, c: x * np.clip(x + 3, 0, 6) / 6),
    'hardsigmoid': ('hardsigmoid(%x)', lambda x, c: np.clip(c(0.2) * x + c(0.5), 0, 1)),
    'hardsigmoid_ab': ('hardsigmoid(%x, alpha=0.16666666666666666, beta=0.5)',
                       lambda x, c: np.clip(c(1 / 6) * x + c(0.5), 0, 1)),
    'leaky_relu': ('leaky_relu(%x)', lambda x, c: np.where(x >= 0, x, c(0.01) * x)),
    'leaky_relu_a': ('leaky_relu(%x, alpha=0.3)', lambda x, c: np.where(x >= 0, x, c(0.3) * x)),
}

fails = 0


def fail(msg):
    global fails
    fails += 1
    print('FAIL ' + msg)


def run(q8c, model, x, work, extra=()):
    xp, yp = os.path.join(work, 'x.npy'), os.path.join(work, 'y.npy')
    np.save(xp, x)
    r = subprocess.run([q8c, 'run', model, '--input', xp, '--output', yp] + list(extra),
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError('%s: q8c run failed: %s' % (model, r.stderr.strip()))
    return np.load(yp)


def write(path, text):
    with open(path, 'w') as f:
        f.write(text)
    return path


def float_checks(q8c, work):
    grid = np.linspace(-12, 12, 24001, dtype=np.float32)
    edge = np.array([0, -0.0, 1e-8, -1e-8, 1e-30, -3, 3, -2.5, 2.5, -6, 6, 88, -88, 100, -100],
                    np.float32)
    x = np.concatenate([grid, edge]).reshape(1, -1)
    for name, (expr, f) in FUNCS.items():
        m = write(os.path.join(work, name + '.q8'), 'input %%x : f32%s;\n%%y = %s;\noutput %%y;\n'
                  % (list(x.shape), expr))
        y = run(q8c, m, x, work, ['--float'])
        ref = f(x.astype(np.float64), lambda v: np.float64(np.float32(v))).astype(np.float32)
        tol = np.maximum(4 * np.spacing(np.abs(ref)), 1e-7)
        bad = np.abs(y.astype(np.float64) - ref) > tol
        if bad.any():
            i = np.flatnonzero(bad.ravel())[0]
            fail('%s --float: %d of %d differ, first x = %r: %r vs NumPy %r'
                 % (name, bad.sum(), bad.size, x.ravel()[i], y.ravel()[i], ref.ravel()[i]))
        else:
            print('ok   %s --float: %d values within 4 ulp of NumPy' % (name, x.size))


def qdq_checks(q8c, work):
    # (input dtype, scale, zero point) -> (output dtype, scale, zero point)
    cases = [(('u8', 0.05, 128), ('u8', 1 / 256, 0)),
             (('i8', 0.03, -9), ('i8', 0.0078125, 3)),
             (('u8', 0.1, 200), ('u8', 0.06, 40))]
    x = np.linspace(-14, 14, 2000, dtype=np.float32).reshape(1, -1)

    def fq(v, dt, s, z):
        lo, hi = (0, 255) if dt == 'u8' else (-128, 127)
        return np.clip(np.rint(v / np.float32(s)) + z, lo, hi)

    for name, (expr, f) in FUNCS.items():
        for (dx, sx, zx), (dy, sy, zy) in cases:
            m = write(os.path.join(work, name + '_q.q8'),
                      'input %%x : f32%s;\n'
                      '%%xq = quantize(%%x, scale=%r, zero_point=%d, dtype=%s);\n'
                      '%%xd = dequantize(%%xq, scale=%r, zero_point=%d);\n'
                      '%%y = %s;\n'
                      '%%yq = quantize(%%y, scale=%r, zero_point=%d, dtype=%s);\n'
                      '%%yd = dequantize(%%yq, scale=%r, zero_point=%d);\n'
                      'output %%yd;\n'
                      % (list(x.shape), sx, zx, dx, sx, zx, expr.replace('%x', '%xd'), sy, zy, dy, sy, zy))
            y = run(q8c, m, x, work)
            qx = fq(x, dx, sx, zx)
            r = f((qx.astype(np.float64) - zx) * sx, np.float64)  # all in float64
            qy = np.clip(np.rint(r / sy) + zy, *((0, 255) if dy == 'u8' else (-128, 127)))
            ref = (np.float32(sy) * (qy - zy).astype(np.float32)).astype(np.float32)
            if not np.array_equal(y, ref):
                i = np.flatnonzero((y != ref).ravel())[0]
                fail('%s int8 %s->%s: %d differ, first x = %r: %r vs NumPy %r'
                     % (name, dx, dy, (y != ref).sum(), x.ravel()[i], y.ravel()[i], ref.ravel()[i]))
            else:
                print('ok   %s int8 (%s %g %d -> %s %g %d): %d values, the same bits as NumPy'
                      % (name, dx, sx, zx, dy, sy, zy, x.size))


def transpose_checks(q8c, work):
    rng = np.random.default_rng(7)
    cases = [([1, 3, 4, 5], [0, 2, 3, 1]), ([1, 4, 5, 3], [0, 3, 1, 2]), ([6, 7], [1, 0]),
             ([2, 3, 1, 4, 5], [4, 2, 0, 3, 1]), ([1, 1, 1, 9], [3, 1, 2, 0]), ([2, 3, 4], [0, 1, 2])]
    for shape, perm in cases:
        x = rng.uniform(-1, 1, shape).astype(np.float32)
        ref = np.transpose(x, perm)
        m = write(os.path.join(work, 'tr.q8'), 'input %%x : f32%s;\n%%y = transpose(%%x, perm=%s);\noutput %%y;\n'
                  % (shape, perm))
        y = run(q8c, m, x, work, ['--float'])
        if y.shape != ref.shape or not np.array_equal(y, ref):
            fail('transpose f32 %s by %s differs from NumPy' % (shape, perm))
        # u8 in a QDQ pair: the integer kernel
        m = write(os.path.join(work, 'trq.q8'),
                  'input %%x : f32%s;\n%%q = quantize(%%x, scale=0.01, zero_point=100, dtype=u8);\n'
                  '%%d = dequantize(%%q, scale=0.01, zero_point=100);\n%%t = transpose(%%d, perm=%s);\n'
                  '%%tq = quantize(%%t, scale=0.01, zero_point=100, dtype=u8);\n'
                  '%%y = dequantize(%%tq, scale=0.01, zero_point=100);\noutput %%y;\n' % (shape, perm))
        y = run(q8c, m, x, work)
        q = np.clip(np.rint(x / np.float32(0.01)) + 100, 0, 255)
        refq = np.transpose((np.float32(0.01) * (q - 100).astype(np.float32)).astype(np.float32), perm)
        if not np.array_equal(y, refq):
            fail('transpose u8 %s by %s differs from NumPy' % (shape, perm))
        else:
            print('ok   transpose %s by %s: f32 and u8 the same as NumPy' % (shape, perm))


def main():
    if len(sys.argv) < 4:
        print(__doc__)
        sys.exit(2)
    q8c, _src, work = (os.path.abspath(a) for a in sys.argv[1:4])
    os.makedirs(work, exist_ok=True)
    float_checks(q8c, work)
    qdq_checks(q8c, work)
    transpose_checks(q8c, work)
    print('%d failed' % fails)
    sys.exit(1 if fails else 0)


if __name__ == '__main__':
    main()
