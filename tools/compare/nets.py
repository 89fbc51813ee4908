"""PyTorch rebuilds of the four example models, loaded from the exported weights.

Every model is a plain nn.Module with the q8c node names as module names, NCHW
activations (the exported weights are NHWC/OHWI and are converted on load).
The same classes serve three uses:
  - the fp32 model (checked against `q8c run --float`),
  - the input of PyTorch FX post-training quantization,
  - the ORT-style QDQ model exported to ONNX: batchnorm folded into the conv,
    int8 per-channel weights and int32 biases as DequantizeLinear of constants,
    u8 QuantizeLinear/DequantizeLinear pairs at the points model_qdq.q8 has them.
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'train'))
import npref  # noqa: E402  the project's NumPy reader of the model format

F32 = np.float32
MODELS = ('mlp', 'cnn', 'resnet', 'mobilenet')

# DequantizeLinear constants for the ONNX export, looked up by key in symbolic().
DQ_CONSTS = {}


class DQConst(torch.autograd.Function):
    """Returns its float input unchanged; in an ONNX export it becomes
    DequantizeLinear(Constant q, Constant scale, Constant zero_point, axis)."""

    @staticmethod
    def forward(ctx, value, key):
        return value.clone()

    @staticmethod
    def symbolic(g, value, key):
        q, s, z, axis = DQ_CONSTS[key]
        return g.op('DequantizeLinear', g.op('Constant', value_t=q), g.op('Constant', value_t=s),
                    g.op('Constant', value_t=z), axis_i=axis)


class Base(nn.Module):
    """Helpers shared by the four models: optional fake-quant points (fq) and
    optional DequantizeLinear weights (qw); both empty for the fp32 model."""

    def __init__(self):
        super().__init__()
        self.fq = {}       # tensor name -> (scale, zero_point) of a u8 Q/DQ pair
        self.qw = {}       # layer name -> (key of weight DQ, key of bias DQ)
        self.folded = False

    def q(self, name, t):
        if name in self.fq:
            s, z = self.fq[name]
            return torch.fake_quantize_per_tensor_affine(t, s, z, 0, 255)
        return t

    def lin(self, name, t):
        m = getattr(self, name)
        if name not in self.qw:
            return m(t)
        kw, kb = self.qw[name]
        w = DQConst.apply(m.weight, kw)
        b = DQConst.apply(m.bias, kb)
        if isinstance(m, nn.Conv2d):
            return F.conv2d(t, w, b, m.stride, m.padding, m.dilation, m.groups)
        return F.linear(t, w, b)

    def bn(self, name, t):
        return t if self.folded else getattr(self, name)(t)


def conv(cin, cout, k, s=1, p=0, groups=1):
    return nn.Conv2d(cin, cout, k, s, p, groups=groups, bias=True)


class MLP(Base):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(784, 128), nn.Linear(128, 64), nn.Linear(64, 10)
        self.relu1, self.relu2 = nn.ReLU(), nn.ReLU()

    def forward(self, x):
        x = self.q('x', x)
        x = self.q('relu1', self.relu1(self.lin('fc1', x)))
        x = self.q('relu2', self.relu2(self.lin('fc2', x)))
        return self.q('fc3', self.lin('fc3', x))


class CNN(Base):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = conv(1, 16, 3, p=1), conv(16, 32, 3, p=1)
        self.relu1, self.relu2, self.relu3 = nn.ReLU(), nn.ReLU(), nn.ReLU()
        self.pool1, self.pool2 = nn.MaxPool2d(2), nn.MaxPool2d(2)
        self.flat = nn.Flatten()
        self.fc1, self.fc2 = nn.Linear(7 * 7 * 32, 64), nn.Linear(64, 10)

    def forward(self, x):
        x = self.q('x', x)
        x = self.q('relu1', self.relu1(self.lin('conv1', x)))
        x = self.q('pool1', self.pool1(x))
        x = self.q('relu2', self.relu2(self.lin('conv2', x)))
        x = self.q('pool2', self.pool2(x))
        x = self.q('flat', self.flat(x))
        x = self.q('relu3', self.relu3(self.lin('fc1', x)))
        return self.q('fc2', self.lin('fc2', x))


class ResNet(Base):
    def __init__(self):
        super().__init__()
        self.stem, self.stem_bn, self.stem_relu = conv(1, 16, 3, p=1), nn.BatchNorm2d(16), nn.ReLU6()
        self.pool = nn.AvgPool2d(2)
        self.b1_conv1, self.b1_bn1, self.b1_relu1 = conv(16, 16, 3, p=1), nn.BatchNorm2d(16), nn.ReLU6()
        self.b1_conv2, self.b1_bn2, self.b1_relu2 = conv(16, 16, 3, p=1), nn.BatchNorm2d(16), nn.ReLU6()
        self.b2_conv1, self.b2_bn1, self.b2_relu1 = conv(16, 32, 3, s=2, p=1), nn.BatchNorm2d(32), nn.ReLU6()
        self.b2_conv2, self.b2_bn2, self.b2_relu2 = conv(32, 32, 3, p=1), nn.BatchNorm2d(32), nn.ReLU6()
        self.b2_sc, self.b2_sc_bn = conv(16, 32, 1, s=2), nn.BatchNorm2d(32)
        self.gap, self.flat, self.fc = nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10)

    def forward(self, x):
        x = self.q('x', x)
        t = self.q('stem_relu', self.stem_relu(self.bn('stem_bn', self.lin('stem', x))))
        t = self.q('pool', self.pool(t))
        r = self.q('b1_relu1', self.b1_relu1(self.bn('b1_bn1', self.lin('b1_conv1', t))))
        r = self.q('b1_bn2', self.bn('b1_bn2', self.lin('b1_conv2', r)))
        t = self.q('b1_relu2', self.b1_relu2(r + t))
        r = self.q('b2_relu1', self.b2_relu1(self.bn('b2_bn1', self.lin('b2_conv1', t))))
        r = self.q('b2_bn2', self.bn('b2_bn2', self.lin('b2_conv2', r)))
        s = self.q('b2_sc_bn', self.bn('b2_sc_bn', self.lin('b2_sc', t)))
        t = self.q('b2_relu2', self.b2_relu2(r + s))
        t = self.q('flat', self.flat(self.q('gap', self.gap(t))))
        return self.q('fc', self.lin('fc', t))


class MobileNet(Base):
    def __init__(self):
        super().__init__()
        self.stem, self.stem_bn, self.stem_relu = conv(1, 16, 3, s=2, p=1), nn.BatchNorm2d(16), nn.ReLU6()
        c = 16
        for i, (cout, s) in enumerate([(32, 1), (64, 2), (64, 1)], 1):
            setattr(self, 'b%d_dw' % i, conv(c, c, 3, s=s, p=1, groups=c))
            setattr(self, 'b%d_dw_bn' % i, nn.BatchNorm2d(c))
            setattr(self, 'b%d_dw_relu' % i, nn.ReLU6())
            setattr(self, 'b%d_pw' % i, conv(c, cout, 1))
            setattr(self, 'b%d_pw_bn' % i, nn.BatchNorm2d(cout))
            setattr(self, 'b%d_pw_relu' % i, nn.ReLU6())
            c = cout
        self.gap, self.flat, self.fc = nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10)

    def forward(self, x):
        x = self.q('x', x)
        t = self.q('stem_relu', self.stem_relu(self.bn('stem_bn', self.lin('stem', x))))
        for i in (1, 2, 3):
            for part in ('dw', 'pw'):
                n = 'b%d_%s' % (i, part)
                t = self.q(n + '_relu', getattr(self, n + '_relu')(self.bn(n + '_bn', self.lin(n, t))))
        t = self.q('flat', self.flat(self.q('gap', self.gap(t))))
        return self.q('fc', self.lin('fc', t))


CLASSES = dict(mlp=MLP, cnn=CNN, resnet=ResNet, mobilenet=MobileNet)


def to_torch_layout(name, layer, w):
    """An exported weight (conv OHWI, dense [O,K]) in PyTorch layout (OIHW)."""
    if w.ndim == 4:
        w = w.transpose(0, 3, 1, 2)
    elif name == 'cnn' and layer == 'fc1':
        # q8c flattens NHWC; nn.Flatten flattens NCHW: reorder the columns
        w = w.reshape(64, 7, 7, 32).transpose(0, 3, 1, 2).reshape(64, -1)
    return np.ascontiguousarray(w)


def load_fp32(name, model_dir):
    """The fp32 model with the weights of MODEL_DIR/model.q8 (OHWI -> OIHW)."""
    net = CLASSES[name]()
    c = npref.parse(os.path.join(model_dir, 'model.q8'))['consts']
    with torch.no_grad():
        for mname, m in net.named_modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                w = to_torch_layout(name, mname, c['@%s_w' % mname])
                m.weight.copy_(torch.from_numpy(w))
                m.bias.copy_(torch.from_numpy(c['@%s_b' % mname]))
            elif isinstance(m, nn.BatchNorm2d):
                for attr, key in (('weight', 'gamma'), ('bias', 'beta'), ('running_mean', 'mean'),
                                  ('running_var', 'var')):
                    getattr(m, attr).copy_(torch.from_numpy(c['@%s_%s' % (mname, key)]))
    return net.eval()


def to_nchw(x):
    """test_x / calib arrays (NHWC images or [N,784]) as a PyTorch input tensor."""
    x = np.ascontiguousarray(x, F32)
    return torch.from_numpy(x.transpose(0, 3, 1, 2).copy() if x.ndim == 4 else x)


def qdq_params(model_dir):
    """{tensor: (scale, zero_point)} of every u8 quantize node in model_qdq.q8."""
    m = npref.parse(os.path.join(model_dir, 'model_qdq.q8'))
    out = {}
    for res, ann, op, ops, at in m['nodes']:
        if op == 'quantize':
            assert res.endswith('.q') and at.get('dtype') == 'u8', res
            out[res[1:-2]] = (float(at['scale']), int(at.get('zero_point', 0)))
    return out, m


def fold_bn(net):
    """Fold every batchnorm into the conv feeding it (in float64), as torch.onnx.export
    does in eval mode; forward() then skips the batchnorm modules."""
    with torch.no_grad():
        for mname, m in list(net.named_modules()):
            if isinstance(m, nn.BatchNorm2d):
                cv = getattr(net, bn_owner(mname))
                k = m.weight.double() / torch.sqrt(m.running_var.double() + m.eps)
                cv.weight.copy_((cv.weight.double() * k.view(-1, 1, 1, 1)).float())
                cv.bias.copy_(((cv.bias.double() - m.running_mean.double()) * k + m.bias.double()).float())
    net.folded = True
    return net


def bn_owner(mname):
    """Conv feeding a batchnorm module (naming scheme of train.py)."""
    if mname.endswith('_bn'):
        return mname[:-3]                     # stem_bn -> stem, b2_sc_bn -> b2_sc, b1_dw_bn -> b1_dw
    return mname.replace('_bn', '_conv')      # b1_bn1 -> b1_conv1


def make_qdq(name, model_dir):
    """The ORT-style QDQ model for the ONNX export.
    Weights are quantized the way onnxruntime.quantization does it (per output channel,
    symmetric int8 [-127,127], scale absmax/127; bias int32 with scale s_in*s_w) from
    the batchnorm-folded fp32 weights; activation scales/zero points are model_qdq.q8's."""
    net = load_fp32(name, model_dir)
    has_bn = any(isinstance(m, nn.BatchNorm2d) for m in net.modules())
    fold_bn(net)
    fq, qmodel = qdq_params(model_dir)
    prev = {'cnn': 'pool2', 'resnet': 'gap', 'mobilenet': 'gap'}
    if name in prev:
        fq['flat'] = fq[prev[name]]   # flatten: same parameters (exact), keeps QGemm's input a DQ
    net.fq = fq
    in_of = input_points(name)
    with torch.no_grad():
        for mname, m in net.named_modules():
            if not isinstance(m, (nn.Conv2d, nn.Linear)):
                continue
            w = m.weight.double()
            amax = w.reshape(w.shape[0], -1).abs().max(1).values
            sw = torch.where(amax > 0, amax / 127.0, torch.ones_like(amax)).float()
            shape = (-1,) + (1,) * (w.dim() - 1)
            wq = torch.clamp(torch.round(m.weight / sw.view(shape)), -127, 127).to(torch.int8)
            sb = (torch.tensor(fq[in_of[mname]][0], dtype=torch.float32) * sw).float()
            bq = torch.round(m.bias.double() / sb.double()).to(torch.int32)
            m.weight.copy_(wq.float() * sw.view(shape))
            m.bias.copy_(bq.float() * sb)
            kw, kb = '%s/%s/w' % (name, mname), '%s/%s/b' % (name, mname)
            DQ_CONSTS[kw] = (wq, sw, torch.zeros(len(sw), dtype=torch.int8), 0)
            DQ_CONSTS[kb] = (bq, sb, torch.zeros(len(sb), dtype=torch.int32), 0)
            net.qw[mname] = (kw, kb)
            if not has_bn:
                # nothing folded: must be exactly the int8 weights of model_qdq.q8
                ref = to_torch_layout(name, mname, qmodel['consts']['@%s_wq' % mname])
                if not np.array_equal(wq.numpy(), ref):
                    raise SystemExit('compare: %s/%s: int8 weights differ from model_qdq.q8' % (name, mname))
    return net.eval()


def input_points(name):
    """The QDQ tensor feeding each conv/dense (its input scale sets the bias scale)."""
    if name == 'mlp':
        return dict(fc1='x', fc2='relu1', fc3='relu2')
    if name == 'cnn':
        return dict(conv1='x', conv2='pool1', fc1='flat', fc2='relu3')
    if name == 'resnet':
        return dict(stem='x', b1_conv1='pool', b1_conv2='b1_relu1', b2_conv1='b1_relu2',
                    b2_conv2='b2_relu1', b2_sc='b1_relu2', fc='flat')
    d = dict(stem='x', b1_dw='stem_relu', fc='flat')
    for i in (1, 2, 3):
        d['b%d_pw' % i] = 'b%d_dw_relu' % i
        if i > 1:
            d['b%d_dw' % i] = 'b%d_pw_relu' % (i - 1)
    return d
