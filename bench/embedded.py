#!/usr/bin/python3
"""Instructions per inference on the bare-metal boards under qemu-system
(docs/embedded.md): q8c's portable kernels against the DSP (Cortex-M4/M7)
and MVE (Cortex-M55) kernels, for every example, built with gcc
(--emit c) and with LLVM (--emit llvm).

usage: bench/embedded.py [Q8C] [--models SUBSTR] [--weight-bits 4] [--granularity G]

qemu is not cycle-accurate: the figure is instructions executed by one
NAME_run_int8 (qemu -icount shift=0; the board's counter, board.h), not
time.  "portable" is the --target riscv32 output (runtime/ref.c only,
plain C) built for the Cortex-M board with gcc; LLVM has no portable
Cortex-M build (its kernels come with the target), so the LLVM column
is the DSP/MVE build only.  Every run is also checked bit-identical
(tests/scripts/embedded.py's checks); a failure prints instead of a figure."""
import os
import sys
import tempfile

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(root, 'tests', 'scripts'))
import cross_c  # noqa: E402
import embedded  # noqa: E402
import numpy as np  # noqa: E402

args = [a for i, a in enumerate(sys.argv[1:], 1)
        if not a.startswith('--') and sys.argv[i - 1] not in ('--models', '--weight-bits', '--granularity')]
q8c = os.path.abspath(args[0] if args else os.path.join(root, 'build', 'q8c'))
sub = cross_c.arg('--models', '')
tmp = tempfile.mkdtemp(prefix='q8c-bench-emb-')
boards = embedded.usable(None)
print('instructions per NAME_run_int8 (qemu -icount shift=0), first test image')
print('%-10s %-13s %12s %12s %7s %12s' % ('model', 'board', 'portable', 'dsp/mve gcc', 'gain', 'dsp/mve llvm'))
for d in sorted(os.listdir(os.path.join(root, 'examples'))):
    ex = os.path.join(root, 'examples', d)
    if sub not in d or not os.path.exists(os.path.join(ex, 'model.q8')):
        continue
    model, calib = os.path.join(ex, 'model.q8'), os.path.join(ex, 'calib.npy')
    x = os.path.join(tmp, d + '.npy')
    np.save(x, np.load(os.path.join(ex, 'test_x.npy'))[:1])
    ref = cross_c.reference(q8c, model, calib, x, os.path.join(tmp, d, 'ref'))
    host = embedded.host_int8(q8c, model, calib, x, ref, os.path.join(tmp, d, 'host'))
    for b in boards:
        w = os.path.join(tmp, d, b.target)
        fig = {}
        for key, emit, qt in (('port', 'c', 'riscv32'), ('gcc', 'c', None), ('llvm', 'llvm', None)):
            if key == 'port' and not b.fpu:
                qt = None  # riscv32 itself: portable is all there is
            r = embedded.check(q8c, root, b, emit, model, calib, x, ref, host, os.path.join(w, key), qt)
            fig[key] = r['insns'] if r['status'] == 'ok' else r['status']
        gain = ('%.2fx' % (fig['port'] / fig['gcc'])) if b.fpu and all(
            isinstance(fig[k], int) for k in ('port', 'gcc')) else '-'
        print('%-10s %-13s %12s %12s %7s %12s' % (d, b.target, fig['port'], fig['gcc'] if b.fpu else '-', gain,
                                                  fig['llvm']), flush=True)
