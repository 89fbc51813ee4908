#!/usr/bin/python3
"""Cross test of the LLVM emitter: the C emitter's model x target matrix.

usage: cross_llvm.py Q8C SRC_DIR SCRATCH [--models SUBSTR] [--targets T,T]
                     [--weight-bits 4] [--granularity group:G]

The models, inputs, targets and driver are those of cross_c.py (imported,
so the two matrices stay the same): the conformance models, the examples,
tests/models/*.q8, the ONNX networks of tests/onnx/nets.  For each model and target: `q8c compile --emit llvm`,
link NAME.o with the driver using the target's gcc (cc,
aarch64-linux-gnu-gcc, riscv64-linux-gnu-gcc), run it natively or under
qemu (RVV at vlen 128 and 256), and compare bit for bit with `q8c run`;
build the C emitter's program for the same model and target (cross_c's
check) and compare NAME_run_int8's outputs of the two (NAME_run's are
both compared with `q8c run`).  The conformance models also run with
--float on one target per architecture.

Then the dot-product instructions must be in the objects (llvm-objdump):
vpdpbusd for x86-64-avx512, sdot for aarch64-dotprod, vsetvli for
riscv64-v, in the dense and conv models.  A target the host cannot run
(x86-64-avx512 without avx512vnni) is skipped with a visible SKIP line.
Last line: `N passed, N failed`; exit 1 on any failure.
"""
import concurrent.futures as cf
import os
import re
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cross_c  # noqa: E402
import numpy as np  # noqa: E402

run, tail = cross_c.run, cross_c.tail

# the objects link with the target's gcc
GCC = {'x86': ['gcc'], 'aarch64': ['aarch64-linux-gnu-gcc'], 'riscv64': ['riscv64-linux-gnu-gcc']}
FLOAT_TARGETS = ['x86-64', 'aarch64', 'riscv64-v']

# (target, mnemonic, llvm-objdump --mattr, intrinsic in the .ll)
INSNS = [
    ('x86-64-avx512', 'vpdpbusd', '+avx512vnni', 'llvm.x86.avx512.vpdpbusd'),
    ('aarch64-dotprod', 'sdot', '+dotprod', 'llvm.aarch64.neon.sdot'),
    ('riscv64-v', 'vsetvli', '+v', 'llvm.riscv.v'),  # the RVV intrinsics of rvv.c
]
# the models whose objects must hold them: the dense and conv layers the
# SIMD kernels are for (those present)
NEED_INSNS = ['conf/dense', 'conf/conv2d_basic', 'ex/mlp/model', 'ex/cnn/model']


def gcc(t):
    return GCC[t.name.split('-')[0]]


def reference(q8c, model, calib, x, flags, work):
    os.makedirs(work, exist_ok=True)
    y = os.path.join(work, 'ref.npy')
    r = run([q8c, 'run', model, '--input', x, '--output', y] + flags)
    if r.returncode != 0 or not os.path.exists(y):
        return {'err': 'q8c run failed (%d): %s' % (r.returncode, tail(r.stderr))}
    return {'y': np.load(y).astype('<f4')}


def check_llvm(q8c, t, model, flags, x, ref, work):
    """Compile with --emit llvm, link, run.  Returns (ok, detail, yq)."""
    if 'err' in ref:
        return False, ref['err'], None
    os.makedirs(work, exist_ok=True)
    out = os.path.join(work, 'out')
    r = run([q8c, 'compile', model, '-o', out, '--emit', 'llvm', '--target', t.name, '--name', 'm'] + flags)
    if r.returncode != 0:
        return False, 'q8c compile --emit llvm failed (%d): %s' % (r.returncode, tail(r.stderr)), None
    files = sorted(os.listdir(out))
    if files != ['m.h', 'm.ll', 'm.o']:
        return False, 'expected m.h m.ll m.o, found %s' % ' '.join(files), None
    drv = os.path.join(work, 'driver.c')
    open(drv, 'w').write(cross_c.DRIVER)
    exe = os.path.join(work, 'm.exe')
    r = run(gcc(t) + ['-std=c11', '-O2', '-I', out] + cross_c.POOL_FLAGS + [drv, os.path.join(out, 'm.o'), '-lm', '-o', exe])
    if r.returncode != 0:
        return False, 'link with %s failed: %s' % (gcc(t)[0], tail(r.stderr, 800)), None
    info = cross_c.header_info(out)
    nin = int(info['INPUT0_SIZE'])
    xs = np.load(x).astype('<f4')
    count = xs.size // nin
    xb = os.path.join(work, 'x.bin')
    xs.tofile(xb)
    want = ref['y'].tobytes()
    yq_all = None
    for label, prefix in t.runs:
        where = ' (%s)' % label if label else ''
        yb, qb = os.path.join(work, 'y.bin'), os.path.join(work, 'yq.bin')
        for f in (yb, qb):
            if os.path.exists(f):
                os.remove(f)
        r = run(prefix + [exe, xb, yb, qb, str(count)])
        if r.returncode != 0:
            return False, 'run%s exited %d: %s' % (where, r.returncode, tail(r.stderr)), None
        got = open(yb, 'rb').read()
        if got != want:
            a, b = np.frombuffer(got, '<f4'), np.frombuffer(want, '<f4')
            if a.size != b.size:
                return False, '%s%d floats, q8c run %d' % (where, a.size, b.size), None
            bad = np.flatnonzero(a.view('<u4') != b.view('<u4'))
            return False, ('%s%d of %d floats differ from q8c run, first at %d: %r vs %r'
                           % (where, bad.size, a.size, bad[0], float(a[bad[0]]), float(b[bad[0]]))), None
        if 'INPUT0_SCALE' not in info:
            continue  # no m_run_int8 (an int16 input or output), as cross_c.check
        yq = open(qb, 'rb').read()
        if yq_all is not None and yq != yq_all:
            return False, 'm_run_int8 differs between runs%s' % where, None
        yq_all = yq
    return True, '', yq_all


def job(q8c, t, m, scratch):
    """one model on one target: [(ok, message)]"""
    label, model, flags, x, ref = m
    base = os.path.join(scratch, label.replace('/', '_'), t.name)
    name = '%s on %s' % (label, t.name)
    good, detail, yq = check_llvm(q8c, t, model, flags, x, ref, os.path.join(base, 'llvm'))
    res = [(good, '%s: llvm = q8c run' % name if good else '%s: llvm: %s' % (name, detail))]
    if '--float' in flags:
        return res
    c = cross_c.check(q8c, t, model, flags[1], x, ref, os.path.join(base, 'c'))
    if c['status'] != 'ok':
        res.append((False, '%s: c: %s %s' % (name, c['status'], c['detail'])))
    elif good:
        same = c['yq'] == yq
        res.append((same, '%s: llvm %s c (m_run_int8)' % (name, '=' if same else 'differs from')))
    return res


def insn_checks(scratch, done, labels, results):
    for target, insn, mattr, intrinsic in INSNS:
        if target not in done:
            print('SKIP %s in %s objects: target not run here' % (insn, target))
            continue
        checked = 0
        for label in NEED_INSNS:
            out = os.path.join(scratch, label.replace('/', '_'), target, 'llvm', 'out')
            if not os.path.isdir(os.path.dirname(out)):
                continue  # model not in this run
            checked += 1
            obj = os.path.join(out, 'm.o')
            if not os.path.exists(obj):
                results.append((False, '%s on %s: no m.o to look for %s in' % (label, target, insn)))
                continue
            r = run(['llvm-objdump-16', '-d', '--mattr=' + mattr, obj])
            n = len(re.findall(r'\t' + insn + r'(?:\s|$)', r.stdout, re.M))
            results.append((n > 0, '%s on %s: %d %s in m.o (llvm-objdump-16 -d --mattr=%s)%s'
                            % (label, target, n, insn, mattr,
                               '' if n else ': the SIMD kernels are not in the object')))
            if intrinsic:
                has = intrinsic in open(os.path.join(out, 'm.ll')).read()
                results.append((has, '%s on %s: %s %s m.ll' % (label, target, intrinsic,
                                                              'in' if has else 'NOT in')))
        if checked == 0 and not any(l in labels for l in NEED_INSNS):
            print('SKIP %s in %s objects: --models selected none of %s' % (insn, target, NEED_INSNS))
        elif checked == 0:
            results.append((False, '%s: none of %s was compiled for %s' % (insn, NEED_INSNS, target)))


def main():
    if len(sys.argv) < 4:
        print(__doc__)
        sys.exit(2)
    q8c, src, scratch = (os.path.abspath(a) for a in sys.argv[1:4])
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch)
    only = cross_c.arg('--targets')
    targets = cross_c.usable_targets(only.split(',') if only else None)
    sel = cross_c.arg('--models', '')
    ms = [m for m in cross_c.models(src, scratch) if m[0].find(sel) >= 0]
    if not ms or not targets:
        print('no model or no usable target')
        print('0 passed, 1 failed')
        sys.exit(1)
    # (label, model, flags, input): quantized, and --float for conformance
    cases = [(l, m, ['--calib', c] + cross_c.extra_flags(), x) for l, m, c, x in ms]
    cases += [(l + '.float', m, ['--float'], x) for l, m, c, x in ms if l.startswith('conf/')]
    with cf.ThreadPoolExecutor(cross_c.workers()) as ex:
        refs = [ex.submit(reference, q8c, m, None, x, f, os.path.join(scratch, 'ref', l.replace('/', '_')))
                for l, m, f, x in cases]
        cases = [c + (r.result(),) for c, r in zip(cases, refs)]
    print('%d models x %d targets' % (len(cases), len(targets)), flush=True)
    results = []
    with cf.ThreadPoolExecutor(cross_c.workers()) as ex:
        jobs = [ex.submit(job, q8c, t, m, scratch) for t in targets for m in cases
                if '--float' not in m[2] or t.name in FLOAT_TARGETS]
        for j in jobs:
            results += j.result()
    insn_checks(scratch, {t.name for t in targets}, {c[0] for c in cases}, results)
    passed = sum(1 for ok, _ in results if ok)
    for ok, msg in results:
        print(('PASS ' if ok else 'FAIL ') + msg)
    print('%d passed, %d failed' % (passed, len(results) - passed))
    sys.exit(0 if passed == len(results) else 1)


if __name__ == '__main__':
    main()
