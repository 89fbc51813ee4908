#!/usr/bin/python3
"""Weight granularity and bits on the example models: top-1 and output SQNR
of the int8 model for --granularity tensor, group:G and channel, with 8-bit
and with 4-bit weights (figures, never pass/fail).

usage: bench/granularity.py Q8C [GROUPS, default 16,8,4,2]

For each examples/M/model.q8 (calibrated on its calib.npy with the default
method): top-1 on test_x/test_y and the SQNR 10 log10(sum f^2 / sum (q - f)^2)
of the int8 logits q against q8c's fp32 logits f over the test set."""
import os
import subprocess
import sys
import tempfile

import numpy as np

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')


def run(q8c, d, tmp, *flags):
    y = os.path.join(tmp, 'y.npy')
    subprocess.run([q8c, 'run', os.path.join(d, 'model.q8'), '--calib', os.path.join(d, 'calib.npy'),
                    '--input', os.path.join(d, 'test_x.npy'), '--output', y] + list(flags), check=True)
    return np.load(y).astype(np.float64)


def table(q8c, tmp, bits, modes):
    print('\n%s-bit weights:\n' % bits)
    print('| model (fp32 top-1) | ' + ' | '.join(modes) + ' |')
    print('|---' * (len(modes) + 1) + '|')
    for m in ['mlp', 'cnn', 'resnet', 'mobilenet']:
        d = os.path.join(root, 'examples', m)
        labels = np.load(os.path.join(d, 'test_y.npy')).reshape(-1)
        f = run(q8c, d, tmp, '--float').reshape(len(labels), -1)
        cells = []
        for g in modes:
            q = run(q8c, d, tmp, '--granularity', g, '--weight-bits', bits).reshape(len(labels), -1)
            sqnr = 10 * np.log10(np.sum(f * f) / np.sum((q - f) ** 2))
            cells.append('%.2f %% / %.2f dB' % (100 * np.mean(q.argmax(1) == labels), sqnr))
        print('| %s (%.2f %%) | %s |' % (m, 100 * np.mean(f.argmax(1) == labels), ' | '.join(cells)), flush=True)


def main():
    q8c = os.path.abspath(sys.argv[1])
    groups = sys.argv[2].split(',') if len(sys.argv) > 2 else ['16', '8', '4', '2']
    modes = ['tensor'] + ['group:' + g for g in groups] + ['channel']
    with tempfile.TemporaryDirectory() as tmp:
        for bits in ['8', '4']:
            table(q8c, tmp, bits, modes)


if __name__ == '__main__':
    main()
