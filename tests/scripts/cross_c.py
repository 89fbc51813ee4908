#!/usr/bin/python3
"""End-to-end test of the C emitter on every target.

usage: cross_c.py Q8C SRC_DIR SCRATCH [--models SUBSTR] [--targets T,T] [--float]
                  [--weight-bits 4] [--granularity group:G]

For every test model (the conformance models, the examples' model.q8 and
model_qdq.q8, tests/models/*.q8, the ONNX networks of tests/onnx/nets) and
every target, compiles the model with
`q8c compile --emit c --target T`, builds it with a driver using the
target's C compiler (-Wall -Wextra -Wpedantic -Werror), runs it natively
or under qemu, and compares the float outputs of NAME_run with `q8c run`
bit for bit.  The driver also feeds NAME_run_int8 the input quantized with
the header's scale and zero point: its int8 outputs must agree on every
target and, when the float output is just their dequantization, with
NAME_run too.  It also runs NAME_run_parallel, with a parallel-for that
runs the tasks in reverse order and with the pthreads pool of
tools/driver/pool.h on 2 threads: both must give NAME_run's bits.
The driver fills the arena with garbage before every call:
generated code must not read what it did not write.

With --float, the models are compiled and run with --float instead (the
fp32 path must give q8c run's bits too).  --weight-bits and --granularity
pass on to every q8c compile and run (int4 weights, docs/precision.md).

Prints a table (model x target: ok / DIFF / INT8 / FAIL), the failures in
detail, and `N passed, N failed` last; exits 1 on any failure.  Targets
this machine cannot run are named on a visible SKIP line.
random_graphs.py imports this file for its machinery."""
import concurrent.futures as cf
import glob
import os
import re
import shutil
import subprocess
import sys

import numpy as np

QEMU_A64 = ['qemu-aarch64', '-L', '/usr/aarch64-linux-gnu']
QEMU_RV = ['qemu-riscv64', '-L', '/usr/riscv64-linux-gnu', '-cpu']
RV_CPU = 'rv64,v=true,vext_spec=v1.0,vlen=%d'
CLANG_RV = ['clang-16', '--target=riscv64-linux-gnu']
RV_LD = ['-fuse-ld=bfd']   # lld 16 cannot link riscv64 glibc objects


class Target:
    def __init__(self, name, cc, runs, need=(), ld=()):
        self.name = name      # as --target spells it
        self.cc = cc          # compiler and its flags
        self.ld = list(ld)    # link flags
        self.runs = runs      # [(label, command prefix)]: every run must match
        self.need = need      # /proc/cpuinfo flags the host needs to run it natively


TARGETS = [
    Target('x86-64', ['gcc'], [('', [])]),
    Target('x86-64-avx2', ['gcc'], [('', [])], ('avx2', 'fma')),
    Target('x86-64-avx512', ['gcc'], [('', [])], ('avx512f', 'avx512bw', 'avx512vl', 'avx512vnni')),
    Target('aarch64', ['aarch64-linux-gnu-gcc'], [('', QEMU_A64)]),
    Target('aarch64-dotprod', ['aarch64-linux-gnu-gcc'], [('', QEMU_A64)]),
    Target('riscv64', CLANG_RV + ['-march=rv64gc'], [('', QEMU_RV + [RV_CPU % 128])], ld=RV_LD),
    Target('riscv64-v', CLANG_RV + ['-march=rv64gcv'],
           [('vlen=128', QEMU_RV + [RV_CPU % 128]), ('vlen=256', QEMU_RV + [RV_CPU % 256])], ld=RV_LD),
]

DRIVER = r'''/* cross_c.py driver: IN.bin OUT.bin OUTQ.bin COUNT */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "m.h"
#include "pool.h"
static _Alignas(64) unsigned char arena[m_ARENA_SIZE + 64];
static float in[m_INPUT0_SIZE], out[m_OUTPUT0_SIZE], outp[m_OUTPUT0_SIZE];
/* a parallel-for that runs the tasks in reverse order on this thread */
static void serial_for(void *ctx, void (*task)(void *, size_t), void *arg, size_t n)
{
	(void)ctx;
	while (n--)
		task(arg, n);
}
int main(int argc, char **argv)
{
	if (argc != 5)
		return 2;
	q8_pool *pool = q8_pool_new(2);
	long n = atol(argv[4]);
	FILE *fi = fopen(argv[1], "rb"), *fo = fopen(argv[2], "wb"), *fq = fopen(argv[3], "wb");
	if (!fi || !fo || !fq)
		return 3;
	for (long i = 0; i < n; i++) {
		if (fread(in, sizeof(float), m_INPUT0_SIZE, fi) != m_INPUT0_SIZE)
			return 4;
		const float *ins[1] = {in};
		float *outs[1] = {out};
		memset(arena, 0xa5 ^ (int)i, sizeof arena);
		if (m_run(ins, outs, arena) != 0)
			return 5;
		fwrite(out, sizeof(float), m_OUTPUT0_SIZE, fo);
		/* m_run_parallel gives m_run's bits, with tasks in any order and on 2 threads */
		for (int k = 0; k < 2; k++) {
			float *pouts[1] = {outp};
			memset(arena, 0x3c ^ (int)i, sizeof arena);
			if (m_run_parallel(ins, pouts, arena, k ? q8_pool_for : serial_for, pool) != 0)
				return 7;
			if (memcmp(out, outp, sizeof out) != 0) {
				fprintf(stderr, "m_run_parallel (%s) differs from m_run on sample %ld\n",
					k ? "2 threads" : "serial, reversed", i);
				return 8;
			}
		}
#ifdef m_INPUT0_SCALE
		/* quantize as the spec says: round half to even, saturate.
		   lrintf, not a cast: clang vectorizes a float -> int cast
		   into vfcvt.rtz, which qemu 7.2 aborts on */
		static int8_t xq[m_INPUT0_SIZE], yq[m_OUTPUT0_SIZE];
		for (long k = 0; k < m_INPUT0_SIZE; k++) {
			float r = nearbyintf(in[k] / m_INPUT0_SCALE);
			long v = lrintf(r < -1000 ? -1000 : r > 1000 ? 1000 : r) + m_INPUT0_ZERO_POINT;
			xq[k] = (int8_t)(v < -128 ? -128 : v > 127 ? 127 : v);
		}
		const int8_t *qi[1] = {xq};
		int8_t *qo[1] = {yq};
		memset(arena, 0x5a ^ (int)i, sizeof arena);
		if (m_run_int8(qi, qo, arena) != 0)
			return 6;
		fwrite(yq, 1, m_OUTPUT0_SIZE, fq);
#endif
	}
	fclose(fo);
	fclose(fq);
	q8_pool_free(pool);
	return 0;
}
'''
# the driver's pthreads pool (tools/driver/pool.h): flags to build it
POOL_FLAGS = ['-I', os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'tools', 'driver'), '-pthread']


def workers():
    return max(2, min(8, os.cpu_count() or 2))


def run(args, timeout=600):
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(args, -1, '', 'timed out after %d s' % timeout)
    except OSError as e:
        return subprocess.CompletedProcess(args, -1, '', str(e))


def tail(s, n=400):
    s = (s or '').strip()
    return s if len(s) <= n else '...' + s[-n:]


def cpu_flags():
    try:
        for line in open('/proc/cpuinfo'):
            if line.startswith('flags'):
                # the kernel spells it avx512_vnni; keep both spellings
                fl = set(line.split(':', 1)[1].split())
                return fl | {f.replace('_', '') for f in fl}
    except OSError:
        pass
    return set()


def usable_targets(only=None):
    """The targets this machine can build and run; prints a SKIP line for the others."""
    flags, out = cpu_flags(), []
    for t in TARGETS:
        if only and t.name not in only:
            continue
        missing = [f for f in t.need if f not in flags]
        tools = [t.cc[0]] + sorted({r[1][0] for r in t.runs if r[1]})
        absent = [x for x in tools if not shutil.which(x)]
        if missing:
            print('SKIP %s: host has no %s' % (t.name, ' '.join(missing)), flush=True)
        elif absent:
            print('SKIP %s: %s not installed' % (t.name, ' '.join(absent)), flush=True)
        else:
            out.append(t)
    return out


def input_shape(model):
    m = re.search(r'^\s*input\s+%[\w.]+\s*:\s*\w+\s*\[([^\]]*)\]', open(model).read(), re.M)
    if not m:
        raise ValueError('%s: no input declaration' % model)
    return [int(d) for d in m.group(1).split(',') if d.strip()]


def extra_flags():
    """--weight-bits N and --granularity G given to the script pass on to q8c."""
    out = []
    for f in ('--weight-bits', '--granularity'):
        if f in sys.argv:
            out += [f, arg(f)]
    return out


def quant_flags(calib, flags=()):
    if '--float' in sys.argv:
        return ['--float']
    return ['--calib', calib] + extra_flags() + list(flags)


def reference(q8c, model, calib, x, work, flags=()):
    """`q8c run` on x: {'y': float32 array} or {'err': message}."""
    os.makedirs(work, exist_ok=True)
    y = os.path.join(work, 'ref.npy')
    r = run([q8c, 'run', model, '--input', x, '--output', y] + quant_flags(calib, flags))
    if r.returncode != 0 or not os.path.exists(y):
        return {'err': 'q8c run failed (%d): %s' % (r.returncode, tail(r.stderr))}
    return {'y': np.load(y).astype('<f4')}


def header_info(out):
    h = open(os.path.join(out, 'm.h')).read()
    d = dict(re.findall(r'#define m_(\w+)\s+\(?(-?[0-9][^\s)]*)', h))
    return d


def plain_dequant_tail(out):
    """True when m_run ends with a single dequantize after the int8 body:
    then its float output is the dequantized int8 output."""
    c = open(os.path.join(out, 'm.c')).read()
    i = c.find('int m_run(')
    body = c[i:c.find('\n}\n', i)]
    j = body.find('m_body(A);')
    return j >= 0 and re.findall(r'q8k_(\w+)\(', body[j:]) == ['dequantize']


def check(q8c, t, model, calib, x, ref, work, flags=()):
    """Compile, build and run one model for one target.
    Returns {'status': ok|DIFF|INT8|FAIL, 'detail': str, 'yq': bytes or None}."""
    def res(status, detail='', yq=None):
        return {'status': status, 'detail': detail, 'yq': yq}
    if 'err' in ref:
        return res('FAIL', ref['err'])
    os.makedirs(work, exist_ok=True)
    out = os.path.join(work, 'out')
    r = run([q8c, 'compile', model, '-o', out, '--emit', 'c', '--target', t.name, '--name', 'm']
            + quant_flags(calib, flags))
    if r.returncode != 0:
        return res('FAIL', 'q8c compile failed (%d): %s' % (r.returncode, tail(r.stderr)))
    srcs = sorted(glob.glob(os.path.join(out, '*.c')))
    objs = []
    for s in srcs:
        o = os.path.join(work, os.path.basename(s)[:-2] + '.o')
        r = run(t.cc + ['-std=c11', '-O2', '-Wall', '-Wextra', '-Wpedantic', '-Werror', '-I', out,
                        '-c', s, '-o', o])
        if r.returncode != 0:
            return res('FAIL', 'build of %s failed: %s' % (os.path.basename(s), tail(r.stderr, 800)))
        objs.append(o)
    drv = os.path.join(work, 'driver.c')
    open(drv, 'w').write(DRIVER)
    exe = os.path.join(work, 'm.exe')
    r = run(t.cc + t.ld + ['-std=c11', '-O2', '-I', out] + POOL_FLAGS + [drv] + objs + ['-lm', '-o', exe])
    if r.returncode != 0:
        return res('FAIL', 'link failed: %s' % tail(r.stderr, 800))

    info = header_info(out)
    nin, nout = int(info['INPUT0_SIZE']), int(info['OUTPUT0_SIZE'])
    xs = np.load(x).astype('<f4')
    if xs.size % nin:
        return res('FAIL', 'input %s has %d values, not a multiple of m_INPUT0_SIZE %d' % (x, xs.size, nin))
    count = xs.size // nin
    xb = os.path.join(work, 'x.bin')
    xs.tofile(xb)
    want = ref['y'].tobytes()
    if len(want) != count * nout * 4:
        return res('FAIL', 'q8c run gave %d floats, the header says %d x %d' % (len(want) // 4, count, nout))
    int8 = 'INPUT0_SCALE' in info
    yq_all = None
    for label, prefix in t.runs:
        yb, qb = os.path.join(work, 'y.bin'), os.path.join(work, 'yq.bin')
        for f in (yb, qb):
            if os.path.exists(f):
                os.remove(f)
        r = run(prefix + [exe, xb, yb, qb, str(count)])
        where = ' (%s)' % label if label else ''
        if r.returncode != 0:
            return res('FAIL', 'run%s exited %d: %s' % (where, r.returncode, tail(r.stderr)))
        got = open(yb, 'rb').read()
        if got != want:
            a = np.frombuffer(got, '<f4')
            b = np.frombuffer(want, '<f4')
            if a.size != b.size:
                return res('DIFF', '%s%d floats, q8c run %d' % (where, a.size, b.size))
            bad = np.flatnonzero(a.view('<u4') != b.view('<u4'))
            return res('DIFF', '%s%d of %d floats differ from q8c run, first at %d: %r vs %r (max abs %.3g)'
                       % (where, bad.size, a.size, bad[0], float(a[bad[0]]), float(b[bad[0]]),
                          float(np.nanmax(np.abs(a.astype(np.float64) - b)))))
        if int8:
            yq = open(qb, 'rb').read()
            if yq_all is not None and yq != yq_all:
                return res('INT8', 'm_run_int8 differs between runs%s' % where)
            yq_all = yq
    if int8 and plain_dequant_tail(out):
        s, zp = np.float32(float(info['OUTPUT0_SCALE'].rstrip('f'))), int(info['OUTPUT0_ZERO_POINT'])
        q = np.frombuffer(yq_all, np.int8).astype(np.int32)
        deq = (s * (q - zp).astype(np.float32)).astype('<f4')
        if deq.tobytes() != want:
            bad = np.flatnonzero(deq != np.frombuffer(want, '<f4'))
            return res('INT8', 'dequantized m_run_int8 output differs from m_run at %d of %d values'
                       % (bad.size, deq.size), yq_all)
    return res('ok', '', yq_all)


def int8_agreement(results, labels, tnames):
    """The int8 outputs of a model must be the same on every target."""
    for m in labels:
        base = None
        for t in tnames:
            r = results.get((m, t))
            if not r or r['status'] != 'ok' or r['yq'] is None:
                continue
            if base is None:
                base = (t, r['yq'])
            elif r['yq'] != base[1]:
                r['status'] = 'INT8'
                r['detail'] = 'm_run_int8 output differs from %s' % base[0]


def report(results, labels, tnames):
    """Prints the table and the failures; returns True when all passed."""
    short = {t: t.replace('x86-64', 'x86').replace('aarch64', 'a64').replace('riscv64', 'rv64') for t in tnames}
    w = max(len(m) for m in labels) + 2
    print('%-*s' % (w, 'model') + ''.join('%-11s' % short[t] for t in tnames))
    for m in labels:
        print('%-*s' % (w, m) + ''.join('%-11s' % results[(m, t)]['status'] for t in tnames))
    passed = failed = 0
    for m in labels:
        for t in tnames:
            r = results[(m, t)]
            if r['status'] == 'ok':
                passed += 1
            else:
                failed += 1
                print('%s %s on %s: %s' % (r['status'], m, t, r['detail']))
    print('%d passed, %d failed' % (passed, failed))
    return failed == 0


def models(src, scratch):
    """(label, model, calib, input) for every test model."""
    out = []
    conf = os.path.normpath(os.path.join(src, '..', 'shared', 'conformance', 'models'))
    for d in sorted(glob.glob(os.path.join(conf, '*'))):
        if os.path.exists(os.path.join(d, 'model.q8')):
            x = os.path.join(d, 'x.npy')
            out.append(('conf/' + os.path.basename(d), os.path.join(d, 'model.q8'), x, x))
    inputs = os.path.join(scratch, 'inputs')
    os.makedirs(inputs, exist_ok=True)
    for d in sorted(glob.glob(os.path.join(src, 'examples', '*'))):
        calib, test_x = os.path.join(d, 'calib.npy'), os.path.join(d, 'test_x.npy')
        if not os.path.exists(calib):
            continue
        # a few samples keep the qemu runs short
        x = os.path.join(inputs, os.path.basename(d) + '.npy')
        np.save(x, np.load(test_x if os.path.exists(test_x) else calib)[:3])
        for m in ('model.q8', 'model_qdq.q8'):
            if os.path.exists(os.path.join(d, m)):
                out.append(('ex/%s/%s' % (os.path.basename(d), m[:-3]), os.path.join(d, m), calib, x))
    for m in sorted(glob.glob(os.path.join(src, 'tests', 'models', '*.q8'))):
        stem = os.path.basename(m)[:-3]
        # deterministic data from the declared input shape
        shape = input_shape(m)
        rng = np.random.default_rng(sum(map(ord, stem)))
        calib, x = os.path.join(inputs, stem + '.calib.npy'), os.path.join(inputs, stem + '.x.npy')
        np.save(calib, rng.uniform(-1, 1, [32] + shape[1:]).astype(np.float32))
        np.save(x, rng.uniform(-1.2, 1.2, [4] + shape[1:]).astype(np.float32))
        out.append(('tests/' + stem, m, calib, x))
    out += onnx_nets(src, inputs)
    return out


def onnx_nets(src, inputs):
    """The ONNX networks of tests/onnx/nets (fp32 and QDQ), imported by q8c: the
    examples' QDQ files with their calibration and test digits (their fp32 files hold
    the networks of examples/*/model.q8, which are here already), the torchvision
    networks with 32 of their test images as calibration data; two inputs each.
    (The small models of tests/onnx are left to onnx_import.py: each model here
    costs some 20 s of CPU in the two cross tests.)"""
    out = []
    d = os.path.join(src, 'tests', 'onnx', 'nets')
    if not os.path.isdir(d):
        return out
    u8 = np.load(os.path.join(d, 'nets_x.npy'))
    xn = (u8.astype(np.float32) - np.float32(128)) / np.float32(64)
    np.save(os.path.join(inputs, 'nets.calib.npy'), xn[-32:])
    np.save(os.path.join(inputs, 'nets.x.npy'), xn[:2])
    for m in sorted(glob.glob(os.path.join(d, '*.onnx'))):
        stem = os.path.basename(m)[:-5]
        base = stem[:-4] if stem.endswith('_qdq') else stem
        if base.startswith('ex_'):
            if stem == base:
                continue
            e = os.path.join(src, 'examples', base[3:])
            calib, x = os.path.join(e, 'calib.npy'), os.path.join(inputs, base + '.x.npy')
            np.save(x, np.load(os.path.join(e, 'test_x.npy'))[:2])
        else:
            calib, x = os.path.join(inputs, 'nets.calib.npy'), os.path.join(inputs, 'nets.x.npy')
        out.append(('onnx/' + stem, m, calib, x))
    return out


def run_all(q8c, ms, targets, scratch):
    """ms: [(label, model, calib, input[, q8c flags])]; returns True when all passed."""
    ms = [m if len(m) == 5 else tuple(m) + ((),) for m in ms]
    refs = {}
    with cf.ThreadPoolExecutor(workers()) as ex:
        fut = {ex.submit(reference, q8c, m, c, x, os.path.join(scratch, 'ref', l.replace('/', '_')), fl): l
               for l, m, c, x, fl in ms}
        for f in cf.as_completed(fut):
            refs[fut[f]] = f.result()
    with cf.ThreadPoolExecutor(workers()) as ex:
        jobs = {(l, t.name): ex.submit(check, q8c, t, m, c, x, refs[l],
                                       os.path.join(scratch, l.replace('/', '_'), t.name), fl)
                for l, m, c, x, fl in ms for t in targets}
        results = {k: f.result() for k, f in jobs.items()}
    labels, tnames = [m[0] for m in ms], [t.name for t in targets]
    int8_agreement(results, labels, tnames)
    return report(results, labels, tnames)


def arg(name, default=None):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def main():
    if len(sys.argv) < 4:
        print(__doc__)
        sys.exit(2)
    q8c, src, scratch = (os.path.abspath(a) for a in sys.argv[1:4])
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch)
    only = arg('--targets')
    targets = usable_targets(only.split(',') if only else None)
    ms = [m for m in models(src, scratch) if m[0].find(arg('--models', '')) >= 0]
    if not ms or not targets:
        print('SKIP: no model or no usable target')
        sys.exit(77)
    print('%d models x %d targets' % (len(ms), len(targets)), flush=True)
    ok = run_all(q8c, ms, targets, scratch)
    sys.exit(0 if ok else 1)


if __name__ == '__main__':
    main()
