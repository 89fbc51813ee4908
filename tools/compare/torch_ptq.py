"""PyTorch 1.13 FX graph-mode post-training quantization of the rebuilt models,
and the single-thread batch-1 timing used for every PyTorch row."""
import time
import warnings

import numpy as np
import torch
import torch.nn as nn
from torch.ao.quantization import (HistogramObserver, MinMaxObserver, PerChannelMinMaxObserver,
                                   QConfig, QConfigMapping)
from torch.ao.quantization import backend_config as bc
from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

import nets

warnings.filterwarnings('ignore')
OBSERVERS = {'MinMax': MinMaxObserver, 'Histogram': HistogramObserver}


def latency(fn, xs, warm, reps):
    """Median and 10th percentile (µs) of single batch-1 calls of fn, cycling through xs."""
    with torch.inference_mode():
        for k in range(warm):
            fn(xs[k % len(xs)])
        t = np.empty(reps)
        for k in range(reps):
            x = xs[k % len(xs)]
            t0 = time.perf_counter_ns()
            fn(x)
            t[k] = (time.perf_counter_ns() - t0) / 1e3
    return float(np.median(t)), float(np.percentile(t, 10))


def predict(fn, x, bs=1):
    with torch.inference_mode():
        return torch.cat([fn(x[i:i + bs]) for i in range(0, len(x), bs)]).numpy()


class ContigReLU6(nn.Module):
    """ReLU6 on a contiguous (NCHW) copy: works around qnnpack's quantized ReLU6,
    which is wrong on the channels-last tensors its quantized conv returns."""

    def __init__(self):
        super().__init__()
        self.act = nn.ReLU6()

    def forward(self, x):
        return self.act(x.contiguous())


def has_relu6(net):
    return any(isinstance(m, nn.ReLU6) for m in net.modules())


def contig_relu6(net):
    for name, m in list(net.named_children()):
        if isinstance(m, nn.ReLU6):
            setattr(net, name, ContigReLU6())
    return net


def ptq(net, engine, observer, calib, example):
    """FX PTQ: u8 per-tensor affine activations (observer over the calibration images),
    s8 per-channel symmetric weights; the backend config of the engine."""
    torch.backends.quantized.engine = engine
    qc = QConfig(activation=OBSERVERS[observer].with_args(dtype=torch.quint8, qscheme=torch.per_tensor_affine,
                                                          reduce_range=False),
                 weight=PerChannelMinMaxObserver.with_args(dtype=torch.qint8, qscheme=torch.per_channel_symmetric))
    cfg = bc.get_qnnpack_backend_config() if engine == 'qnnpack' else bc.get_native_backend_config()
    layers = [n for n, m in net.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    p = prepare_fx(net, QConfigMapping().set_global(qc), example_inputs=(example,), backend_config=cfg)
    with torch.inference_mode():
        for i in range(0, len(calib), 50):
            p(calib[i:i + 50])
    qm = convert_fx(p, backend_config=cfg)
    # every conv/dense must have become an int8 module with per-channel weights
    mods = dict(qm.named_modules())
    for n in layers:
        m = mods.get(n)
        if m is None or 'quantized' not in type(m).__module__ or m.weight().qscheme() not in (
                torch.per_channel_affine, torch.per_channel_symmetric):
            raise SystemExit('compare: %s/%s: layer %s not quantized per channel (%s)'
                             % (engine, observer, n, type(m).__name__))
    return qm, len(layers)


def run_all(name, model_dir, x, calib, ref_logits, labels, warm, reps, log):
    """All PyTorch rows for one model. x/calib: NCHW tensors. Returns a list of dicts."""
    torch.set_num_threads(1)
    rows = []
    net = nets.load_fp32(name, model_dir)
    out = predict(net, x, bs=len(x))
    diff = float(np.abs(out - ref_logits).max())
    if diff > 1e-4:
        raise SystemExit('compare: %s: PyTorch rebuild differs from q8c --float by %g (> 1e-4)' % (name, diff))
    log('  PyTorch fp32 rebuild matches q8c --float: max |diff| %.2g' % diff)
    xs = [x[i:i + 1] for i in range(len(x))]
    med, p10 = latency(net, xs, warm, reps)
    rows.append(dict(tool='PyTorch', config='fp32 eager', top1=top1(out, labels), us=med, p10=p10,
                     note='max abs logit diff vs q8c --float %.1g' % diff))
    configs = [(e, o, False) for e in ('onednn', 'qnnpack') for o in OBSERVERS]
    if has_relu6(net):
        configs += [('qnnpack', o, True) for o in OBSERVERS]
    for engine, obs, fix in configs:
        t0 = time.time()
        base = nets.load_fp32(name, model_dir)
        if fix:
            contig_relu6(base)
        qm, nl = ptq(base, engine, obs, calib, x[:1])
        y = predict(qm, x)
        med, p10 = latency(qm, xs, warm, reps)
        cfg = 'FX PTQ %s, %s act., per-channel w' % (engine, obs)
        note = '%d conv/dense int8' % nl
        if fix:
            cfg += ', ReLU6 on .contiguous()'
            note += '; workaround for the channels-last ReLU6 bug'
        elif engine == 'qnnpack' and has_relu6(net):
            note += '; quantized ReLU6 wrong on channels-last (qnnpack bug)'
        rows.append(dict(tool='PyTorch', config=cfg, top1=top1(y, labels), us=med, p10=p10, note=note,
                         int8=True))
        log('  %-60s top-1 %5.1f %%  %8.1f µs  (%.1fs)' % (cfg, rows[-1]['top1'], med, time.time() - t0))
        if engine == 'onednn' and obs == 'Histogram':
            # the same int8 model without Python dispatch: traced + frozen TorchScript
            with torch.inference_mode():
                ts = torch.jit.freeze(torch.jit.trace(qm, x[:1]).eval())
            ys = predict(ts, x)
            med, p10 = latency(ts, xs, warm, reps)
            rows.append(dict(tool='PyTorch', config=cfg + ', TorchScript (trace+freeze)', top1=top1(ys, labels),
                             us=med, p10=p10, note='same int8 model, no Python per op', int8=True))
            log('  %-60s top-1 %5.1f %%  %8.1f µs' % ('  ... TorchScript', rows[-1]['top1'], med))
    torch.backends.quantized.engine = 'onednn'
    return rows


def top1(y, labels):
    return 100.0 * float(np.mean(np.argmax(y, 1) == labels))
