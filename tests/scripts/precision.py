#!/usr/bin/python3
"""--error-budget (passes/precision.c) on the example models: usage precision.py Q8C SRC SCRATCH

Checked independently of q8c's own bookkeeping, with NumPy on what q8c writes:
- the int8 outputs of `q8c run --error-budget B` on the calibration samples are within
  B dB of q8c's fp32 outputs (SQNR 10 log10(sum f^2 / sum (q - f)^2) >= B);
- the layers --report says it put at 4 bits are exactly those whose weights in the
  quantize dump lie in [-7, 7], and there is at least one;
- a budget of 1 dB puts every conv/dense at 4 bits, except one pinned by `wbits=8`;
- a budget above what 8-bit weights and activations reach is met with int16 activations:
  the layers the report puts at abits 16 read an i16 value in the quantize dump, and the
  output SQNR meets the budget; --optimize speed meets it with no 4-bit weights;
- a budget above what int16 activations reach is refused (exit 1, a message)."""
import glob, os, re, shutil, subprocess, sys
import numpy as np

q8c, src, scratch = sys.argv[1:4]
shutil.rmtree(scratch, ignore_errors=True)
os.makedirs(scratch)
passed = failed = 0


def check(ok, what):
    global passed, failed
    print(('ok    ' if ok else 'FAIL  ') + what, flush=True)
    passed += bool(ok)
    failed += not ok


def run(model, calib, out, *flags):
    return subprocess.run([q8c, 'run', model, '--calib', calib, '--input', calib, '--output', out] + list(flags),
                          capture_output=True, text=True)


def sqnr(q, f):
    return 10 * np.log10(np.sum(f.astype(np.float64) ** 2) / np.sum((q.astype(np.float64) - f) ** 2))


def dumped_bits(d):
    """layer weights in the quantize dump: name -> 4 when every integer is in [-7, 7]"""
    bits = {}
    for p in glob.glob(os.path.join(d, '03-quantize.*_w*.npy')):
        w = np.load(p)
        bits[p.split('03-quantize.')[1][:-4]] = 4 if np.abs(w).max() <= 7 else 8
    return bits


def calib_subset(name):
    """the first 40 calibration samples: each budget runs the pipeline and the
    interpreter (layers + 2) times over them, and this test also runs under ASan"""
    p = os.path.join(scratch, name + '_calib.npy')
    np.save(p, np.load(os.path.join(src, 'examples', name, 'calib.npy'))[:40])
    return p


for name, budget in [('cnn', 30.0), ('mobilenet', 22.0)]:
    d = os.path.join(src, 'examples', name)
    model, calib = os.path.join(d, 'model.q8'), calib_subset(name)
    yf_path, yq_path = os.path.join(scratch, name + '_f.npy'), os.path.join(scratch, name + '_q.npy')
    r = subprocess.run([q8c, 'run', model, '--float', '--input', calib, '--output', yf_path], capture_output=True, text=True)
    dd = os.path.join(scratch, name + '_dump')
    r2 = run(model, calib, yq_path, '--error-budget', str(budget), '--report', '--dump-after', 'quantize', '--dump-dir', dd)
    if r.returncode or r2.returncode:
        check(False, f'{name}: run failed: {r.stderr[-300:]} {r2.stderr[-300:]}')
        continue
    s = sqnr(np.load(yq_path), np.load(yf_path))
    check(s >= budget, f'{name}: output SQNR {s:.2f} dB on the calibration samples >= budget {budget} dB')
    said = {m.group(1): int(m.group(2)) for m in re.finditer(r'^%(\S+)\s+([48])\s+\d+\s', r2.stdout, re.M)}
    got = dumped_bits(dd)
    four = sorted(k for k, v in got.items() if v == 4)
    check(len(four) >= 1 and sum(v == 4 for v in said.values()) == len(four),
          f'{name}: {len(four)} layers at 4 bits in the dump ({", ".join(four)}), the report says '
          f'{sum(v == 4 for v in said.values())}')

# budget 1 dB: all at 4 bits but the one pinned by wbits=8
d = os.path.join(src, 'examples', 'cnn')
pin = os.path.join(scratch, 'pinned')
os.makedirs(pin)
for p in glob.glob(os.path.join(d, '*_w.npy')):
    shutil.copy(p, pin)
text = open(os.path.join(d, 'model.q8')).read()
text = text.replace('conv2d(%pool1, @conv2_w, @conv2_b, strides=[1, 1], pads=[1, 1, 1, 1])',
                    'conv2d(%pool1, @conv2_w, @conv2_b, strides=[1, 1], pads=[1, 1, 1, 1], wbits=8)')
open(os.path.join(pin, 'model.q8'), 'w').write(text)
dd = os.path.join(scratch, 'pinned_dump')
r = run(os.path.join(pin, 'model.q8'), calib_subset('cnn'), os.path.join(scratch, 'p.npy'),
        '--error-budget', '1', '--dump-after', 'quantize', '--dump-dir', dd)
got = dumped_bits(dd) if r.returncode == 0 else {}
check(got == {'conv1_w': 4, 'conv2_w': 8, 'fc1_w': 4, 'fc2_w': 4},
      f'cnn, budget 1 dB, conv2 pinned at wbits=8: {got or r.stderr[-300:]}')


def abits_said(out):
    return {m.group(1): int(m.group(2)) for m in re.finditer(r'^%(\S+)\s+[48]\s+(8|16)\s+\d+\s', out, re.M)}


def i16_inputs(d):
    """conv/dense ops of the quantize dump whose first operand is an i16 value"""
    text = open(os.path.join(d, '03-quantize.q8')).read()
    i16 = set(re.findall(r'^\s*%(\S+)\s*:\s*i16', text, re.M))
    got = set()
    for m in re.finditer(r'^%(\S+?)\.acc\s*:.*?=\s*q(?:conv2d|dense)\(%([^,\s)]+)', text, re.M):
        if m.group(2) in i16:
            got.add(m.group(1))
    return got


# above w8a8: mobilenet reaches about 25.5 dB with 8 bits everywhere on these samples
m = os.path.join(src, 'examples', 'mobilenet')
mc = calib_subset('mobilenet')
yf = os.path.join(scratch, 'mobilenet_f.npy')
for opt, budget in [('size', 28.0), ('speed', 28.0)]:
    dd = os.path.join(scratch, 'a16_' + opt)
    yq = os.path.join(scratch, 'a16_%s.npy' % opt)
    r = run(os.path.join(m, 'model.q8'), mc, yq, '--error-budget', str(budget), '--optimize', opt, '--report',
            '--dump-after', 'quantize', '--dump-dir', dd)
    if r.returncode:
        check(False, f'mobilenet, {budget} dB, --optimize {opt}: {r.stderr[-300:]}')
        continue
    s = sqnr(np.load(yq), np.load(yf))
    wide = sorted(k for k, v in abits_said(r.stdout).items() if v == 16)
    got = i16_inputs(dd)
    four = sorted(k for k, v in dumped_bits(dd).items() if v == 4)
    check(s >= budget, f'mobilenet, {budget} dB, --optimize {opt}: output SQNR {s:.2f} dB >= budget')
    check(len(wide) >= 1 and got == set(wide),
          f'mobilenet, {budget} dB, --optimize {opt}: {len(wide)} layers at abits 16 in the report '
          f'({", ".join(wide)}), {len(got)} conv/dense read i16 in the dump ({", ".join(sorted(got))})')
    if opt == 'speed':
        check(four == [], f'mobilenet, {budget} dB, --optimize speed: no 4-bit weights ({four})')

r = run(os.path.join(d, 'model.q8'), calib_subset('cnn'), os.path.join(scratch, 'x.npy'), '--error-budget', '80')
check(r.returncode == 1 and 'cannot be met' in r.stderr and 'dB' in r.stderr,
      f'cnn, budget 80 dB: exit {r.returncode}, {r.stderr.strip()[-200:]}')

print(f'{passed} passed, {failed} failed')
sys.exit(1 if failed else 0)
