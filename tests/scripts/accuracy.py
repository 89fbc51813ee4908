#!/usr/bin/python3
"""Accuracy on the real example models (examples/*): usage accuracy.py Q8C SRC SCRATCH
- q8c's fp32 interpreter reproduces PyTorch's logits (expected_fp32_logits.npy,
  computed by tools/train/train.py, independently of q8c) within 1e-4;
- int8 top-1 (default calibration, calib.npy) is within 0.5 points of fp32 top-1;
- the QDQ export runs without calibration data where its ranges are all fixed,
  and its top-1 is within 0.5 points of PyTorch's fake-quantized model;
- the QAT model (examples/cnn_qat, 4-bit weights) keeps its trained integers and
  matches PyTorch's fake-quantized forward."""
import glob, os, re, subprocess, sys
import numpy as np

q8c, src, scratch = sys.argv[1:4]
os.makedirs(scratch, exist_ok=True)
passed, failed = 0, 0


def check(ok, what):
    global passed, failed
    print(('ok    ' if ok else 'FAIL  ') + what, flush=True)
    passed += ok
    failed += not ok


def run(model, x, *flags):
    y = os.path.join(scratch, 'y.npy')
    r = subprocess.run([q8c, 'run', model, '--input', x, '--output', y] + list(flags),
                       capture_output=True, text=True)
    if r.returncode != 0:
        return None, r.stderr.strip()[-300:]
    return np.load(y), ''


def top1(y, labels):
    return 100.0 * float(np.mean(np.argmax(y.reshape(len(labels), -1), axis=1) == labels))


dirs = sorted(glob.glob(os.path.join(src, 'examples', '*', 'model.q8')))
if not dirs:
    print('no example models found'); sys.exit(1)
for model in dirs:
    d = os.path.dirname(model); name = os.path.basename(d)
    x = os.path.join(d, 'test_x.npy'); labels = np.load(os.path.join(d, 'test_y.npy'))
    calib = os.path.join(d, 'calib.npy')
    yf, err = run(model, x, '--float')
    if yf is None:
        check(False, f'{name}: fp32 run failed: {err}'); continue
    ref = np.load(os.path.join(d, 'expected_fp32_logits.npy'))
    diff = float(np.abs(yf.reshape(len(labels), -1)[:len(ref)] - ref).max())
    check(diff < 1e-4, f'{name}: fp32 logits vs PyTorch, max abs diff {diff:.2e}')
    acc_f = top1(yf, labels)
    yq, err = run(model, x, '--calib', calib)
    if yq is None:
        check(False, f'{name}: int8 run failed: {err}'); continue
    acc_q = top1(yq, labels)
    check(abs(acc_q - acc_f) <= 0.5, f'{name}: top-1 fp32 {acc_f:.2f} %, int8 {acc_q:.2f} %')

    qdq = os.path.join(d, 'model_qdq.q8')
    if os.path.exists(qdq):
        yd, err = run(qdq, x, '--calib', calib)
        if yd is None:
            check(False, f'{name}: QDQ int8 run failed: {err}'); continue
        fq = np.load(os.path.join(d, 'expected_qdq_logits.npy'))
        acc_d = top1(yd, labels)
        acc_fq = top1(fq, labels[:len(fq)])
        agree = 100.0 * float(np.mean(np.argmax(yd.reshape(len(labels), -1)[:len(fq)], 1) == np.argmax(fq, 1)))
        check(abs(acc_d - acc_f) <= 0.5 and agree >= 97.0,
              f'{name}: QDQ int8 top-1 {acc_d:.2f} % (fp32 {acc_f:.2f} %), argmax agrees with '
              f'PyTorch fake-quant on {agree:.0f} % of {len(fq)}')

# The QAT model (tools/train/qat.py): q8c keeps its 4-bit integers and scales as
# trained (the quantize dump holds the very integers of the .npy files) and its
# integer run matches PyTorch's fake-quantized forward (expected_qat_logits.npy)
# to one step of the u8 logits, argmax for argmax.
qat = os.path.join(src, 'examples', 'cnn_qat', 'model_qdq.q8')
cx = os.path.join(src, 'examples', 'cnn', 'test_x.npy')
ref = np.load(os.path.join(src, 'examples', 'cnn_qat', 'expected_qat_logits.npy'))
yq, err = run(qat, cx)
if yq is None:
    check(False, f'cnn_qat: run failed: {err}')
else:
    yq = yq.reshape(-1, 10)[:len(ref)]
    step = float(re.search(r'quantize\(%fc2, scale=([0-9.e-]+)', open(qat).read()).group(1))
    within = float(np.mean(np.abs(yq - ref).max(1) <= 1.001 * step))
    agree = float(np.mean(yq.argmax(1) == ref.argmax(1)))
    check(within >= 0.97 and agree >= 0.99,
          f'cnn_qat: logits within one step ({step:.4g}) of PyTorch QAT on {100 * within:.0f} %, '
          f'argmax on {100 * agree:.0f} % of {len(ref)}')
dd = os.path.join(scratch, 'qat_dump')
r = subprocess.run([q8c, 'compile', qat, '-o', os.path.join(scratch, 'qat_out'), '--dump-after', 'quantize',
                    '--dump-dir', dd], capture_output=True, text=True)
if r.returncode != 0:
    check(False, f'cnn_qat: compile failed: {r.stderr.strip()[-300:]}')
else:
    for w in ['conv1_wq', 'conv2_wq', 'fc1_wq', 'fc2_wq']:
        mine = np.load(os.path.join(src, 'examples', 'cnn_qat', w + '.npy'))
        dumped = np.load(os.path.join(dd, '03-quantize.%s.npy' % w))
        check(np.array_equal(mine, dumped) and np.abs(mine).max() <= 7,
              f'cnn_qat: {w} kept as trained (4-bit, max |q| {np.abs(dumped).max()})')

print(f'{passed} passed, {failed} failed')
sys.exit(1 if failed else 0)
