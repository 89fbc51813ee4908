#!/usr/bin/python3
"""Per-layer table for issue 12: every distinct conv / depthwise / dense shape
of torchvision mobilenet_v2, mobilenet_v3_small and resnet18 (batch 1,
224x224x3, exported to ONNX at run time as bench/nets.py does), each run by
q8c's int8 kernel for the host and by oneDNN's int8 convolution (Debian
libdnnl-dev), one thread, in turns (bench/netlayers.c), with % of the
host's vpdpbusd zmm peak measured first by bench/peak.c.

usage: /usr/bin/python3 bench/netlayers.py [RUNS] [--work DIR] [--nets A,B]
                                          [--only REGEX] [--vnni-only] [--kind conv|dw|dense]
--nets: export only these networks; --only: keep the shapes whose row label
(e.g. 'conv3x3 56x56x64->64 [r18×4]') matches REGEX (re.search), e.g.
'^conv(1x1|3x3) ' or 'r18'; --vnni-only: skip the second run (oneDNN's own
choice of ISA), whose columns then read '-'.  A work folder given again
reuses its exported networks.
Builds into the work folder with cc -O3 -march=native; prints a markdown
table (figures, not pass/fail)."""
import argparse
import os
import re
import subprocess
import sys
import tempfile
from collections import OrderedDict

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from nets import NETS  # noqa: E402


def shapes(work, names):
    import onnx
    from onnx import shape_inference
    import nets
    found = OrderedDict()
    for name in names:
        path = os.path.join(work, name + '.onnx')
        if not os.path.exists(path):
            nets.export(name, path + '.tmp')
            os.replace(path + '.tmp', path)
        m = shape_inference.infer_shapes(onnx.load(path))
        dims = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
                for v in list(m.graph.value_info) + list(m.graph.input) + list(m.graph.output)}
        init = {t.name: list(t.dims) for t in m.graph.initializer}
        for nd in m.graph.node:
            at = {a.name: (list(a.ints) if a.ints else a.i) for a in nd.attribute}
            if nd.op_type == 'Conv':
                n, c, h, w = dims[nd.input[0]]
                oc, _, kh, kw = init[nd.input[1]]
                g = at.get('group', 1)
                sh, sw = at.get('strides', [1, 1])
                pt, pl, pb, pr = at.get('pads', [0, 0, 0, 0])
                kind = 'dw' if g == c and g > 1 else 'conv'
                key = (n, h, w, c, oc, kh, kw, sh, sw, pt, pl, pb, pr, g)
                label = '%s%dx%d %dx%dx%d->%d%s' % (kind, kh, kw, h, w, c, oc, ' s%d' % sh if sh > 1 else '')
            elif nd.op_type == 'Gemm':
                k = dims[nd.input[0]][1]
                oc = init[nd.input[1]][0]
                key = (1, 1, 1, k, oc, 1, 1, 1, 1, 0, 0, 0, 0, 1)
                label = 'dense %d->%d' % (k, oc)
            else:
                continue
            e = found.setdefault(key, [label, OrderedDict()])
            e[1][name] = e[1].get(name, 0) + 1
    return found


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('runs', nargs='?', type=int, default=31)
    ap.add_argument('--work', default=None)
    ap.add_argument('--kind', choices=('conv', 'dw', 'dense'), help='only the shapes of one kind')
    ap.add_argument('--nets', default=None, help='comma-separated subset of ' + ','.join(NETS))
    ap.add_argument('--only', default=None, help='regex over the row labels')
    ap.add_argument('--vnni-only', action='store_true', help="skip oneDNN's own choice of ISA")
    a = ap.parse_args()
    names = a.nets.split(',') if a.nets else list(NETS)
    bad = [n for n in names if n not in NETS]
    if bad:
        sys.exit('netlayers.py: unknown network %s (known: %s)' % (', '.join(bad), ', '.join(NETS)))
    work = a.work or tempfile.mkdtemp(prefix='q8c-netlayers-')
    os.makedirs(work, exist_ok=True)
    found = shapes(work, names)
    short = {'mobilenet_v2': 'v2', 'mobilenet_v3_small': 'v3s', 'resnet18': 'r18'}
    lines = []
    for key, (label, where) in found.items():
        if a.kind and not label.startswith(a.kind):
            continue
        tag = '%s [%s]' % (label, ' '.join('%s×%d' % (short[k], v) for k, v in where.items()))
        if a.only and not re.search(a.only, tag):
            continue
        lines.append(tag.replace(' ', '_') + ' ' + ' '.join(map(str, key)))
    if not lines:
        sys.exit('netlayers.py: no shape matches --only %r' % a.only)
    cc = os.environ.get('CC', 'gcc')
    subprocess.run([cc, '-O3', '-march=native', '-o', os.path.join(work, 'peak'), os.path.join(HERE, 'peak.c')],
                   check=True)
    exe = os.path.join(work, 'netlayers')
    subprocess.run([cc, '-O3', '-march=native', '-std=c11', '-D_POSIX_C_SOURCE=200809L', '-I', ROOT,
                    '-I', os.path.join(ROOT, 'ir'), '-o', exe, os.path.join(HERE, 'netlayers.c'),
                    os.path.join(ROOT, 'codegen', 'select.c'), os.path.join(ROOT, 'ir', 'util.c'),
                    os.path.join(ROOT, 'ir', 'ir.c'), '-ldnnl', '-lm'], check=True)
    out = subprocess.run([os.path.join(work, 'peak')], capture_output=True, text=True, check=True).stdout
    peak = next((float(l.split()[1]) for l in out.splitlines() if l.startswith('vnni_zmm')), 0.0)
    print('vpdpbusd zmm peak of this run: %.0f GOPS; %d shapes, median of %d turns each\n' % (
        peak, len(lines), a.runs))
    sys.stdout.flush()
    # oneDNN twice: limited to AVX-512 VNNI (q8c's instruction set), then as
    # it chooses (AMX on hosts that have it); q8c runs in both, the first
    # run's figures are shown
    rows = {}
    for isa in ('AVX512_CORE_VNNI',) + (() if a.vnni_only else ('ALL',)):
        env = dict(os.environ, OMP_NUM_THREADS='1', DNNL_MAX_CPU_ISA=isa)
        r = subprocess.run([exe, str(peak), str(a.runs)], input='\n'.join(lines) + '\n', text=True, env=env,
                           capture_output=True, check=True).stdout
        rows[isa] = [[c.strip() for c in l.split('|')[1:-1]] for l in r.splitlines()[2:]]
    print('| layer [network×count] | q8c kernel | q8c µs | q8c GOPS | q8c % peak | oneDNN VNNI GOPS | % peak |'
          ' q8c / oneDNN VNNI | oneDNN (AMX) GOPS | q8c / oneDNN AMX | oneDNN impl |')
    print('|---|---|---|---|---|---|---|---|---|---|---|')
    for i, v in enumerate(rows['AVX512_CORE_VNNI']):
        x = rows['ALL'][i] if 'ALL' in rows else None
        print('| %s |' % ' | '.join([v[0].replace('_', ' '), v[2], v[3], v[4], v[5], v[7], v[8], v[9],
                                     x[7] if x else '-', '%.2f' % (float(x[6]) / float(v[3])) if x else '-',
                                     x[10] if x else v[10]]))


if __name__ == '__main__':
    main()
