#!/usr/bin/python3
"""End-to-end test of the bare-metal targets under qemu-system.

usage: embedded.py Q8C SRC_DIR SCRATCH [--models SUBSTR] [--targets T,T] [--graphs N] [--seed S]
                   [--table FILE]

For each example model (examples/*/model.q8 with its calib.npy, 2 samples
of test_x.npy) and N random graphs (tests/scripts/random_graphs.py, default
6, seed 1; every third with int4 weights, as random_graphs.py makes
them), and each bare-metal target, compiles the model with q8c (the
examples with both emitters, graph k with --emit c for even k and llvm for
odd k), builds it with the board's cross compiler and picolibc
(tests/embedded/: memory map, our start-up code instead of picolibc's crt0,
semihosted exit, test program) with
-ffreestanding, runs it under qemu-system with semihosting and -icount
shift=0, and checks:
  - the floats of NAME_run are q8c run's, bit for bit, except a softmax
    tail, which calls picolibc's expf where q8c run calls glibc's: up to 2
    ulp apart there is printed on a NOTE line, not failed;
  - the int8 outputs of NAME_run_int8 are the host build's (cross_c.py's
    x86-64 driver on the same input), bit for bit, and, when NAME_run ends
    in one dequantize, dequantize to NAME_run's floats (a model with an
    int16 input or output, random graph k % 4 == 2, has no NAME_run_int8:
    NAME_run is checked, none of the int8 checks and figures below);
  - NAME_run_int8 linked alone (tests/embedded/int8_only.c, --gc-sections)
    pulls in no float routine, no libm and, on the hard-float Cortex-M, no
    float instruction;
  - tests/embedded/fault.c on each board: main's return code is qemu's exit
    status, and a call to a non-executable address or an undefined
    instruction ends qemu with status 128 + the exception number (a 30 s
    timeout: a fault must not hang);
  - on the Cortex-M boards, tests/embedded/kernels.c: runtime/dsp.c or
    mve.c against ref.c on 278 random conv2d_i8 / dense_i8 geometries
    (groups, 37 depthwise, strides, dilations, padding; every third with
    int4 weights through the *_w4 kernels), byte for byte;
  - with --emit llvm, the stack NAME_run_int8 used (painted stack) is at
    most the header's NAME_STACK_BYTES, and NAME_FLASH_BYTES is the
    .text + .rodata of the object as binutils' size counts them; with
    --emit c the figures of the gcc build are printed beside the header's
    (which are those of the LLVM object, docs/embedded.md).
Prints a table (model x target/emitter: ok / DIFF / INT8 / FLOAT / STACK /
FAIL), the failures, the measured figures (instructions of one
NAME_run_int8, stack), and `N passed, N failed`; exits 1 on any failure.
--table FILE also writes the figures as JSON.  A board whose compiler or
qemu is missing is named on a SKIP line (exit 77 when none is usable)."""
import concurrent.futures as cf
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cross_c  # noqa: E402
import random_graphs  # noqa: E402

SEMI = ['-nographic', '-semihosting-config', 'enable=on,target=native', '-icount', 'shift=0']
ARM = ['arm-none-eabi-gcc', '-mthumb']
RV32 = ['riscv64-unknown-elf-gcc', '-mabi=ilp32']


class Board:
    def __init__(self, target, cc, ld, qemu, tick, fpu):
        self.target = target  # q8c --target
        self.cc = cc          # compiler and flags
        self.ld = ld          # tests/embedded/*.ld
        self.start = 'start_cortexm.c' if fpu else 'start_rv32.c'  # tests/embedded/: our start-up code
        # the fault test's statuses (fault.c): 128 + HardFault's exception number (3; the
        # configurable faults escalate to it), or 128 + mcause (1: instruction access fault,
        # 2: illegal instruction)
        self.fault_status = {0: 7, 1: 131, 2: 131} if fpu else {0: 7, 1: 129, 2: 130}
        self.qemu = qemu      # qemu command up to -kernel
        self.tick = tick      # instructions per tick of the board's counter (board.h)
        self.fpu = fpu        # hard-float ARM: look for FPU instructions in the int8 path


BOARDS = [
    Board('cortex-m4', ARM + ['-mcpu=cortex-m4', '-mfpu=fpv4-sp-d16', '-mfloat-abi=hard'], 'mps2.ld',
          ['qemu-system-arm', '-M', 'mps2-an386'], 40, True),
    Board('cortex-m7', ARM + ['-mcpu=cortex-m7', '-mfpu=fpv5-d16', '-mfloat-abi=hard'], 'mps2.ld',
          ['qemu-system-arm', '-M', 'mps2-an500'], 40, True),
    Board('cortex-m55', ARM + ['-mcpu=cortex-m55', '-mfloat-abi=hard'], 'an547.ld',
          ['qemu-system-arm', '-M', 'mps3-an547'], 31.25, True),
    Board('riscv32', RV32 + ['-march=rv32imc'], 'virt.ld',
          ['qemu-system-riscv32', '-M', 'virt', '-bios', 'none'], 1, False),
    Board('riscv32-imac', RV32 + ['-march=rv32imac'], 'virt.ld',
          ['qemu-system-riscv32', '-M', 'virt', '-bios', 'none'], 1, False),
]

CFLAGS = ['--specs=picolibc.specs', '--oslib=semihost', '-O2', '-std=c11', '-ffreestanding',
          '-ffunction-sections', '-fdata-sections', '-Wall', '-Wextra', '-Werror']
# linking: our start-up code (Board.start) instead of picolibc's crt0, whose
# specs have no --crt0=none (picolibc 1.8: no crt0-none.o)
LINK = ['-nostartfiles']

# what an int8 path must not reach: soft-float and float-conversion
# routines of libgcc (__addsf3, __aeabi_fmul, __fixdfsi, ...) and libm
FLOAT_SYM = re.compile(r'^(__aeabi_[fdil]2[fd]|__aeabi_[fd](add|sub|mul|div|cmp\w*|neg|rsub)|'
                       r'__aeabi_[fd]2\w+|__\w*[sd]f[23i]?\d?|__\w*(sf|df)\w*|'
                       r'(exp|log|pow|sqrt|nearbyint|rint|lrint|llrint|round|floor|ceil|tanh|fabs)f?)$')
# a float instruction: a VFP or MVE mnemonic on .f16/.f32/.f64 data, or a
# conversion.  Not register moves (vmov, also vmov.f32 between s
# registers, which LLVM uses for MVE lanes; vpush/vpop of d8-d15 around MVE
# code: the vector registers share the file), nor vmsr/vmrs (a crt0 may set
# FPSCR, MVE moves its predicate VPR): those compute nothing in float.
FPU_INSN = re.compile(r'\tv(?!mov)[a-z0-9]*\.(f16|f32|f64)\b|\tvcvt')


def run(args, cwd=None, timeout=300):
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd=cwd)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(args, -1, '', 'timed out after %d s' % timeout)
    except OSError as e:
        return subprocess.CompletedProcess(args, -1, '', str(e))


def usable(only):
    out = []
    for b in BOARDS:
        if only and b.target not in only:
            continue
        absent = [x for x in (b.cc[0], b.qemu[0]) if not shutil.which(x)]
        if absent:
            print('SKIP %s: %s not installed' % (b.target, ' '.join(absent)), flush=True)
        else:
            out.append(b)
    return out


def header(out):
    h = open(os.path.join(out, 'm.h')).read()
    return dict(re.findall(r'#define m_(\w+)\s+\(?(-?[0-9][^\s)]*)', h))


def text_rodata(size_out):
    """Flash bytes from `size -A` of an object: every .text.*, .rodata.* and
    .ARM.exidx.* section (ARM's unwind index is allocated, so in flash)."""
    n = 0
    for line in size_out.splitlines():
        f = line.split()
        if len(f) >= 2 and re.match(r'^\.(text|rodata|ARM\.exidx)(\.|$)', f[0]):
            n += int(f[1])
    return n


def check(q8c, src, b, emit, model, calib, xfile, ref, host_yq, work, qtarget=None, flags=()):
    """One model on one board with one emitter: {'status', 'detail', 'insns', 'stack', ...}.
    qtarget: compile for this --target instead of the board's (bench/embedded.py builds
    riscv32's portable C for a Cortex-M board)."""
    res = {'status': 'ok', 'detail': '', 'insns': None, 'stack': None}

    def fail(status, detail):
        res.update(status=status, detail=detail)
        return res
    if 'err' in ref:
        return fail('FAIL', ref['err'])
    os.makedirs(work, exist_ok=True)
    out = os.path.join(work, 'out')
    r = run([q8c, 'compile', model, '-o', out, '--target', qtarget or b.target, '--emit', emit, '--name', 'm',
             '--calib', calib] + cross_c.extra_flags() + list(flags))
    if r.returncode != 0:
        return fail('FAIL', 'q8c compile: %s' % cross_c.tail(r.stderr))
    bdir = os.path.join(src, 'tests', 'embedded')
    code = [os.path.join(out, 'm.c' if emit == 'c' else 'm.o')]
    # LLVM's ARM objects say 32-bit enums, gcc's short ones: no enum crosses NAME.h
    base = b.cc + CFLAGS + LINK + ['-I', out, '-I', bdir, '-L', bdir, '-T', b.ld, '-Wl,--gc-sections',
                            '-Wl,--no-enum-size-warning' if b.fpu else '-Wl,--gc-sections']
    elf = os.path.join(work, 'm.elf')
    start = os.path.join(bdir, b.start)
    r = run(base + [start, os.path.join(bdir, 'main.c')] + code + ['-lm', '-o', elf])
    if r.returncode != 0:
        return fail('FAIL', 'build: %s' % cross_c.tail(r.stderr, 800))
    # the int8 path alone: float-free (a model with an int16 input or output has none)
    if 'INPUT0_SCALE' in header(out):
        qelf = os.path.join(work, 'int8_only.elf')
        r = run(base + [start, os.path.join(bdir, 'int8_only.c')] + code + ['-o', qelf])
        if r.returncode != 0:
            return fail('FLOAT', 'int8_only build: %s' % cross_c.tail(r.stderr, 800))
        nm = b.cc[0].replace('gcc', 'nm')
        syms = [line.split()[-1] for line in run([nm, qelf]).stdout.splitlines() if line.strip()]
        bad = sorted({s for s in syms if FLOAT_SYM.match(s)})
        if bad:
            return fail('FLOAT', 'NAME_run_int8 reaches %s' % ' '.join(bad[:8]))
        if b.fpu:
            dis = run([b.cc[0].replace('gcc', 'objdump'), '-d', '--no-show-raw-insn', qelf]).stdout
            fp = [line.strip() for line in dis.splitlines() if FPU_INSN.search(line)]
            if fp:
                return fail('FLOAT', 'float instructions in the int8 program: %s' % '; '.join(fp[:4]))
    # footprint: the header's flash figure covers the model's own .text + .rodata
    info = header(out)
    obj = code[0]
    if emit == 'c':
        obj = os.path.join(work, 'm_only.o')
        r = run(b.cc + CFLAGS + ['-I', out, '-c', code[0], '-o', obj])
        if r.returncode != 0:
            return fail('FAIL', 'build of m.c: %s' % cross_c.tail(r.stderr))
    res['size'] = text_rodata(run([b.cc[0].replace('gcc', 'size'), '-A', obj]).stdout)
    int8 = 'INPUT0_SCALE' in info  # else no NAME_run_int8 (an int16 boundary): NAME_run only
    if 'FLASH_BYTES' in info and 'RAM_BYTES' in info:
        res['flash'], res['ram'] = int(info['FLASH_BYTES']), int(info['RAM_BYTES'])
    # run
    xs = np.load(xfile).astype('<f4')
    nin, nout = int(info['INPUT0_SIZE']), int(info['OUTPUT0_SIZE'])
    xs.tofile(os.path.join(work, 'x.bin'))
    count = xs.size // nin
    for f in ('y.bin', 'yq.bin'):
        if os.path.exists(os.path.join(work, f)):
            os.remove(os.path.join(work, f))
    r = run(b.qemu + SEMI + ['-kernel', elf], cwd=work, timeout=600)
    if r.returncode != 0:
        return fail('FAIL', 'qemu exited %d: %s %s' % (r.returncode, cross_c.tail(r.stdout), cross_c.tail(r.stderr)))
    m = re.search(r'stack (\d+) ticks (\d+)', r.stdout + r.stderr)
    if not m and int8:
        return fail('FAIL', 'no figures in the output: %s' % cross_c.tail(r.stdout))
    if m:
        res['stack'] = int(m.group(1))
        ticks = int(m.group(2))
        res['insns'] = None if ticks >= 2 ** 63 else int(ticks * b.tick)
    want = ref['y'].tobytes()
    if int8:
        yq = open(os.path.join(work, 'yq.bin'), 'rb').read()
        if len(yq) != count * nout:
            return fail('INT8', '%d int8 outputs, want %d' % (len(yq), count * nout))
        if host_yq is None:
            return fail('FAIL', 'no host int8 output to compare with')
        if yq != host_yq:
            bad = np.flatnonzero(np.frombuffer(yq, np.int8) != np.frombuffer(host_yq, np.int8))
            return fail('INT8', '%d of %d int8 outputs differ from the host build' % (bad.size, len(yq)))
    if int8 and (cross_c.plain_dequant_tail(out) if emit == 'c' else False):
        s, zp = np.float32(float(info['OUTPUT0_SCALE'].rstrip('f'))), int(info['OUTPUT0_ZERO_POINT'])
        deq = (s * (np.frombuffer(yq, np.int8).astype(np.int32) - zp).astype(np.float32)).astype('<f4')
        if deq.tobytes() != want:
            return fail('INT8', 'dequantized NAME_run_int8 output differs from NAME_run')
    got = open(os.path.join(work, 'y.bin'), 'rb').read()
    if got != want:
        a, w = np.frombuffer(got, '<f4'), np.frombuffer(want, '<f4')
        if a.size != w.size:
            return fail('DIFF', '%d floats, q8c run %d' % (a.size, w.size))
        bad = np.flatnonzero(a.view('<u4') != w.view('<u4'))
        ulps = int(np.max(np.abs(a.view('<i4')[bad].astype(np.int64) - w.view('<i4')[bad])))
        if 'softmax' in open(model).read() and ulps <= 2:
            # the float tail calls expf: picolibc's, not the host glibc's
            res['note'] = ('NAME_run: %d of %d floats of the softmax tail differ from q8c run by at most '
                           '%d ulp (picolibc expf vs glibc expf)%s'
                           % (bad.size, a.size, ulps, '; the int8 outputs are identical' if int8 else ''))
        else:
                return fail('DIFF', '%d of %d floats of NAME_run differ from q8c run, first at %d: %r vs %r'
                        % (bad.size, a.size, bad[0], float(a[bad[0]]), float(w[bad[0]])))
    # the header's figures are those of the LLVM object: checked there (the
    # stack bound is NAME_run_int8's; NAME_run calls libm, its stack is unknown)
    if not int8:
        return res
    if 'FLASH_BYTES' not in info or 'STACK_BYTES' not in info:
        return fail('FLASH', 'no NAME_FLASH_BYTES / NAME_STACK_BYTES in the header')
    if emit == 'llvm' and res['stack'] > int(info['STACK_BYTES']):
        return fail('STACK', 'NAME_run_int8 used %d bytes of stack, the header says at most %s'
                    % (res['stack'], info['STACK_BYTES']))
    if emit == 'llvm' and res['size'] != int(info['FLASH_BYTES']):
        return fail('FLASH', '.text + .rodata %d bytes, the header says flash %s' % (res['size'], info['FLASH_BYTES']))
    if int(info['RAM_BYTES']) != int(info['ARENA_SIZE']) + int(info['STACK_BYTES']):
        return fail('FLASH', 'RAM %s is not arena %s + stack %s' % (info['RAM_BYTES'], info['ARENA_SIZE'],
                                                                    info['STACK_BYTES']))
    return res


def kernels(src, b, work):
    """tests/embedded/kernels.c: the board's DSP/MVE kernels against ref.c."""
    res = {'status': 'ok', 'detail': '', 'insns': None, 'stack': None}
    os.makedirs(work, exist_ok=True)
    bdir, elf = os.path.join(src, 'tests', 'embedded'), os.path.join(work, 'kernels.elf')
    r = run(b.cc + CFLAGS + LINK + ['-I', bdir, '-I', os.path.join(src, 'runtime'), '-L', bdir, '-T', b.ld,
                                    os.path.join(bdir, b.start), os.path.join(bdir, 'kernels.c'), '-lm', '-o', elf])
    if r.returncode != 0:
        res.update(status='FAIL', detail='build: %s' % cross_c.tail(r.stderr, 800))
        return res
    r = run(b.qemu + SEMI + ['-kernel', elf], cwd=work)
    out = (r.stdout + r.stderr).strip()
    if r.returncode != 0 or not re.search(r'kernels \d+ cases', out):
        res.update(status='DIFF', detail='%s (exit %d)' % (cross_c.tail(out), r.returncode))
    else:
        res['detail'] = out
    return res


def faults(src, b, work):
    """tests/embedded/fault.c: main's return code is qemu's exit status, and a
    fault (a call to an address that cannot be executed, an undefined
    instruction) ends qemu with the start-up code's fault status instead of
    hanging it (a 30 s timeout bounds each run)."""
    res = {'status': 'ok', 'detail': '', 'insns': None, 'stack': None}
    os.makedirs(work, exist_ok=True)
    bdir = os.path.join(src, 'tests', 'embedded')
    got = []
    for k, want in sorted(b.fault_status.items()):
        elf = os.path.join(work, 'fault%d.elf' % k)
        r = run(b.cc + CFLAGS + LINK + ['-DFAULT=%d' % k, '-I', bdir, '-L', bdir, '-T', b.ld, '-Wl,--gc-sections',
                                        os.path.join(bdir, b.start), os.path.join(bdir, 'fault.c'), '-o', elf])
        if r.returncode != 0:
            res.update(status='FAIL', detail='build of fault.c -DFAULT=%d: %s' % (k, cross_c.tail(r.stderr, 800)))
            return res
        r = run(b.qemu + SEMI + ['-kernel', elf], cwd=work, timeout=30)
        got.append('FAULT=%d: exit %d' % (k, r.returncode))
        if r.returncode != want:
            res.update(status='FAULT', detail='fault.c -DFAULT=%d: qemu %s, want exit %d' % (
                k, 'timed out' if r.returncode == -1 else 'exited %d' % r.returncode, want))
            return res
    res['detail'] = ', '.join(got)
    return res


def host_int8(q8c, model, calib, xfile, ref, work, flags=()):
    """The host build's int8 outputs (cross_c.py's x86-64 driver), or None."""
    t = [t for t in cross_c.TARGETS if t.name == 'x86-64'][0]
    r = cross_c.check(q8c, t, model, calib, xfile, ref, work, flags)
    return r['yq'] if r['status'] == 'ok' else None


def main():
    if len(sys.argv) < 4:
        print(__doc__)
        sys.exit(2)
    q8c, src, scratch = (os.path.abspath(a) for a in sys.argv[1:4])
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch)
    only = cross_c.arg('--targets')
    boards = usable(only.split(',') if only else None)
    if not boards:
        print('SKIP: no usable board')
        sys.exit(77)
    ngraphs, seed = int(cross_c.arg('--graphs', 6)), int(cross_c.arg('--seed', 1))
    inputs = os.path.join(scratch, 'inputs')
    os.makedirs(inputs)
    ms = []  # (label, model, calib, x, emitters, q8c flags)
    for d in sorted(os.listdir(os.path.join(src, 'examples'))):
        ex = os.path.join(src, 'examples', d)
        if not os.path.exists(os.path.join(ex, 'model.q8')):
            continue
        x = os.path.join(inputs, d + '.npy')
        np.save(x, np.load(os.path.join(ex, 'test_x.npy'))[:2])
        ms.append(('ex/' + d, os.path.join(ex, 'model.q8'), os.path.join(ex, 'calib.npy'), x, ('c', 'llvm'), ()))
    for k in range(ngraphs):
        d = os.path.join(scratch, 'graphs', 'g%d' % k)
        os.makedirs(d)
        label, model, calib, x, flags = random_graphs.make_graph(k, seed, d)
        ms.append(('rg/' + label, model, calib, x, ('c',) if k % 2 == 0 else ('llvm',), flags))
    sub = cross_c.arg('--models', '')
    ms = [m for m in ms if sub in m[0]]
    print('%d models (%d examples, %d random graphs, seed %d) x %d boards'
          % (len(ms), sum(m[0].startswith('ex/') for m in ms), sum(m[0].startswith('rg/') for m in ms),
             seed, len(boards)), flush=True)
    refs, host = {}, {}
    with cf.ThreadPoolExecutor(2) as ex:
        for l, m, c, x, _, fl in ms:
            w = os.path.join(scratch, 'ref', l.replace('/', '_'))
            refs[l] = cross_c.reference(q8c, m, c, x, w, fl)
        hf = {l: ex.submit(host_int8, q8c, m, c, x, refs[l], os.path.join(scratch, 'host', l.replace('/', '_')), fl)
              for l, m, c, x, _, fl in ms}
        host = {l: f.result() for l, f in hf.items()}
        jobs = {(l, b.target, e): ex.submit(check, q8c, src, b, e, m, c, x, refs[l], host[l],
                                            os.path.join(scratch, l.replace('/', '_'), b.target, e), flags=fl)
                for l, m, c, x, es, fl in ms for b in boards for e in es}
        kj = {('kernels', b.target, 'c'): ex.submit(kernels, src, b, os.path.join(scratch, 'kernels', b.target))
              for b in boards if b.fpu}
        kj.update({('faults', b.target, 'c'): ex.submit(faults, src, b, os.path.join(scratch, 'faults', b.target))
                   for b in boards})
        results = {k: f.result() for k, f in list(jobs.items()) + list(kj.items())}
    cols = [(b.target, e) for b in boards for e in ('c', 'llvm')]
    w = max(len(m[0]) for m in ms) + 2
    print('%-*s' % (w, 'model') + ''.join('%-16s' % ('%s/%s' % c) for c in cols))
    for l in [m[0] for m in ms] + (['kernels'] if any(b.fpu for b in boards) else []) + ['faults']:
        print('%-*s' % (w, l) + ''.join('%-16s' % results[(l,) + c]['status'] if (l,) + c in results
                                        else '%-16s' % '-' for c in cols))
    print('(examples: both emitters; random graph k: --emit c for even k, llvm for odd k)')
    print('\nfigures (one NAME_run_int8: instructions under qemu -icount; stack painted; '
          '.text+.rodata of the model; header flash / RAM)')
    table = []
    for (l, t, e), r in sorted(results.items()):
        if r['status'] == 'ok' and l.startswith('ex/'):
            print('  %-14s %-13s %-5s insns %10s  stack %6d  text+rodata %7d  flash %7s  ram %7s'
                  % (l, t, e, r['insns'], r['stack'], r['size'], r.get('flash', '-'), r.get('ram', '-')))
        table.append({'model': l, 'target': t, 'emit': e, **{k: v for k, v in r.items()}})
    if cross_c.arg('--table'):
        json.dump(table, open(cross_c.arg('--table'), 'w'), indent=1)
    passed = sum(r['status'] == 'ok' for r in results.values())
    for (l, t, e), r in sorted(results.items()):
        if r['status'] != 'ok':
            print('%s %s on %s (%s): %s' % (r['status'], l, t, e, r['detail']))
    for (l, t, e), r in sorted(results.items()):
        if r.get('note'):
            print('NOTE %s on %s (%s): %s' % (l, t, e, r['note']))
    print('%d passed, %d failed' % (passed, len(results) - passed))
    sys.exit(0 if passed == len(results) else 1)


if __name__ == '__main__':
    main()
