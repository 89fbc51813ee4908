#!/usr/bin/python3
"""Writes the ONNX importer's test models (tests/onnx/*.onnx), built node by
node with onnx.helper, with inputs and expected outputs computed by PyTorch
(torch.nn.functional: an implementation independent of q8c).  Committed
with its outputs; the tests need only numpy.  Run: /usr/bin/python3 gen.py

  NAME.onnx       the model
  NAME_x.npy      input, NCHW (as ONNX takes it)
  NAME_y.npy      expected output (fp32)
  errors/NAME.onnx + NAME.err   a bad file and the message it must give
"""
import os
import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import TensorProto as TP, helper as H, numpy_helper as NH

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(11)


def f32(*shape, lo=-1.0, hi=1.0):
    return rng.uniform(lo, hi, shape).astype(np.float32)


def init(name, a):
    return NH.from_array(np.asarray(a), name)


def model(name, nodes, inits, x_shape, y_name, y_shape, opset=13, x_name="x"):
    g = H.make_graph(nodes, name, [H.make_tensor_value_info(x_name, TP.FLOAT, x_shape)],
                     [H.make_tensor_value_info(y_name, TP.FLOAT, y_shape)], inits)
    m = H.make_model(g, opset_imports=[H.make_opsetid("", opset)], producer_name="q8c tests/onnx/gen.py")
    m.ir_version = 7
    return m


def save(name, m, x, y):
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(HERE, name + ".onnx"))
    np.save(os.path.join(HERE, name + "_x.npy"), np.asarray(x, np.float32))
    np.save(os.path.join(HERE, name + "_y.npy"), np.asarray(y, np.float32))


T = torch.from_numpy


def conv_gemm():
    """Conv(pads) -> Relu -> Flatten of NCHW data (4x4 spatial) -> Gemm(transB): the weight columns permuted"""
    x = f32(1, 2, 6, 6)
    w, b = f32(4, 2, 3, 3), f32(4)
    fw, fb = f32(5, 4 * 3 * 3), f32(5)
    nodes = [H.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 0, 0, 1], strides=[2, 2]),
             H.make_node("Relu", ["c"], ["r"], name="relu"),
             H.make_node("Flatten", ["r"], ["f"], name="flat"),
             H.make_node("Gemm", ["f", "fw", "fb"], ["y"], name="fc", transB=1, alpha=0.5, beta=2.0)]
    c = F.relu(F.conv2d(F.pad(T(x), (0, 1, 1, 0)), T(w), T(b), stride=2))  # pads: top 1, right 1
    y = 0.5 * c.flatten(1) @ T(fw).T + 2.0 * T(fb)
    save("conv_gemm", model("conv_gemm", nodes, [init("w", w), init("b", b), init("fw", fw), init("fb", fb)],
                            [1, 2, 6, 6], "y", [1, 5]), x, y)


def groups():
    """depthwise (dilation 2, SAME_UPPER, stride 2), grouped conv, MatMul over a flatten"""
    x = f32(1, 4, 7, 7)
    dw, g2 = f32(4, 1, 3, 3), f32(6, 2, 1, 1)
    mw = f32(6 * 4 * 4, 3)
    nodes = [H.make_node("Conv", ["x", "dw"], ["d"], name="dw", group=4, dilations=[2, 2], strides=[2, 2],
                         auto_pad="SAME_UPPER", kernel_shape=[3, 3]),
             H.make_node("Conv", ["d", "g2"], ["g"], name="grouped", group=2),
             H.make_node("Reshape", ["g", "shape"], ["f"], name="view"),
             H.make_node("MatMul", ["f", "mw"], ["y"], name="mm")]
    out = 4  # SAME_UPPER: ceil(7 / 2)
    total = max(0, (out - 1) * 2 + 5 - 7)
    d = F.conv2d(F.pad(T(x), (total // 2, total - total // 2, total // 2, total - total // 2)), T(dw),
                 stride=2, dilation=2, groups=4)
    g = F.conv2d(d, T(g2), groups=2)
    y = g.reshape(1, -1) @ T(mw)
    save("groups", model("groups", nodes, [init("dw", dw), init("g2", g2), init("mw", mw),
                                           init("shape", np.array([1, -1], np.int64))],
                         [1, 4, 7, 7], "y", [1, 3]), x, y)


def pools():
    """MaxPool(ceil_mode), AveragePool with count_include_pad 1 and 0, GlobalAveragePool, Softmax"""
    x = f32(1, 3, 9, 9)
    nodes = [H.make_node("MaxPool", ["x"], ["m"], name="max", kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1),
             H.make_node("AveragePool", ["m"], ["a"], name="avg_incl", kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                         count_include_pad=1),
             H.make_node("AveragePool", ["a"], ["b"], name="avg_excl", kernel_shape=[3, 3], strides=[2, 2],
                         pads=[1, 1, 1, 1]),
             H.make_node("GlobalAveragePool", ["b"], ["g"], name="gap"),
             H.make_node("Flatten", ["g"], ["f"], name="flat"),
             H.make_node("Softmax", ["f"], ["y"], name="softmax", axis=1)]
    m = F.max_pool2d(T(x), 2, 2, ceil_mode=True)
    a = F.avg_pool2d(m, 3, 1, 1, count_include_pad=True)
    b = F.avg_pool2d(a, 3, 2, 1, count_include_pad=False)
    y = torch.softmax(b.mean((2, 3)), 1)
    save("pools", model("pools", nodes, [], [1, 3, 9, 9], "y", [1, 3]), x, y)


def elementwise():
    """BatchNormalization, Clip (inputs), Add/Mul/Sub/Div by constants, tensor + tensor,
    x * GAP(x) (channel broadcast), Concat on channels, Pad; a 4-D output (NHWC by default)"""
    x = f32(1, 3, 4, 5)
    sc, bi, mu, var = f32(3), f32(3), f32(3), f32(3, lo=0.5, hi=2)
    k1 = f32(3, 1, 1)
    k2 = f32(1, 3, 4, 5)
    nodes = [H.make_node("BatchNormalization", ["x", "sc", "bi", "mu", "var"], ["bn"], name="bn", epsilon=1e-3),
             H.make_node("Clip", ["bn", "lo", "hi"], ["cl"], name="clip"),
             H.make_node("Add", ["cl", "k1"], ["a1"], name="add_c"),
             H.make_node("Mul", ["two", "a1"], ["m1"], name="mul_s"),
             H.make_node("Sub", ["k2", "m1"], ["s1"], name="rsub_full"),
             H.make_node("Div", ["s1", "four"], ["d1"], name="div"),
             H.make_node("Add", ["d1", "x"], ["r"], name="residual"),
             H.make_node("GlobalAveragePool", ["r"], ["gp"], name="gap"),
             H.make_node("Mul", ["r", "gp"], ["se"], name="se"),
             H.make_node("Sub", ["se", "gp"], ["se2"], name="se_sub"),
             H.make_node("Concat", ["se2", "r"], ["cat"], name="cat", axis=1),
             H.make_node("Pad", ["cat", "pads", "pv"], ["y"], name="pad")]
    bn = (T(x) - T(mu)[:, None, None]) / torch.sqrt(T(var)[:, None, None] + 1e-3) * T(sc)[:, None, None] + T(bi)[:, None, None]
    cl = bn.clamp(-0.5, 0.75)
    r = (T(k2) - 2 * (cl + T(k1))) / 4 + T(x)
    gp = r.mean((2, 3), keepdim=True)
    cat = torch.cat([r * gp - gp, r], 1)
    y = F.pad(cat, (2, 0, 1, 1), value=0.25)
    inits = [init("sc", sc), init("bi", bi), init("mu", mu), init("var", var), init("lo", np.float32(-0.5)),
             init("hi", np.float32(0.75)), init("k1", k1), init("k2", k2), init("two", np.float32(2)),
             init("four", np.float32(4)), init("pads", np.array([0, 0, 1, 2, 0, 0, 1, 0], np.int64)),
             init("pv", np.float32(0.25))]
    save("elementwise", model("elementwise", nodes, inits, [1, 3, 4, 5], "y", [1, 6, 6, 7]), x, y)


def activations():
    """Sigmoid, Tanh, HardSigmoid, HardSwish, LeakyRelu, Identity, Dropout, Transpose to NHWC at the end"""
    x = f32(1, 2, 3, 3, lo=-4, hi=4)
    nodes = [H.make_node("Sigmoid", ["x"], ["s"], name="sig"),
             H.make_node("Sub", ["s", "half"], ["s2"], name="center"),
             H.make_node("Tanh", ["x"], ["t"], name="tanh"),
             H.make_node("Add", ["s2", "t"], ["a"], name="sum"),
             H.make_node("HardSigmoid", ["a"], ["hs"], name="hsig", alpha=0.3, beta=0.4),
             H.make_node("HardSwish", ["x"], ["hw"], name="hswish"),
             H.make_node("LeakyRelu", ["hw"], ["lr"], name="leaky", alpha=0.1),
             H.make_node("Identity", ["lr"], ["id"], name="id"),
             H.make_node("Dropout", ["id"], ["dr"], name="drop"),
             H.make_node("Mul", ["dr", "hs"], ["m"], name="mul"),
             H.make_node("Transpose", ["m"], ["y"], name="to_nhwc", perm=[0, 2, 3, 1])]
    xt = T(x)
    hs = torch.clamp(0.3 * (torch.sigmoid(xt) - 0.5 + torch.tanh(xt)) + 0.4, 0, 1)
    hw = xt * torch.clamp(xt + 3, 0, 6) / 6
    lr = torch.where(hw >= 0, hw, 0.1 * hw)
    y = (lr * hs).permute(0, 2, 3, 1)
    save("activations", model("activations", nodes, [init("half", np.float32(0.5))], [1, 2, 3, 3], "y",
                              [1, 3, 3, 2], opset=14), x, y)


def view_chain():
    """what torch.onnx.export writes for x.view(x.size(0), -1) with a dynamic batch: Shape, Gather,
    Unsqueeze, Concat, Reshape folded to constants; exported by torch itself"""
    torch.manual_seed(3)

    class M(torch.nn.Module):
        def __init__(s):
            super().__init__()
            s.c = torch.nn.Conv2d(2, 3, 3, padding=1)
            s.bn = torch.nn.BatchNorm2d(3)
            s.f = torch.nn.Linear(3 * 2 * 2, 4)

        def forward(s, x):
            x = F.max_pool2d(F.relu6(s.bn(s.c(x))), 2)
            return s.f(x.view(x.size(0), -1))

    m = M().eval()
    with torch.no_grad():
        m.bn.running_mean.uniform_(-0.5, 0.5)
        m.bn.running_var.uniform_(0.5, 2)
    x = torch.from_numpy(f32(1, 2, 4, 4))
    path = os.path.join(HERE, "view_chain.onnx")
    torch.onnx.export(m, x, path, opset_version=13, input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "N"}, "y": {0: "N"}}, do_constant_folding=False)
    ops = [n.op_type for n in onnx.load(path).graph.node]
    assert "Shape" in ops and "Gather" in ops and "Concat" in ops, ops
    np.save(os.path.join(HERE, "view_chain_x.npy"), x.numpy())
    np.save(os.path.join(HERE, "view_chain_y.npy"), m(x).detach().numpy())


def old_opsets():
    """Clip and Pad in their attribute forms (opset 10), Squeeze/Unsqueeze with axes attributes"""
    x = f32(1, 2, 3, 3, lo=-2, hi=2)
    w = f32(2, 5)
    nodes = [H.make_node("Clip", ["x"], ["c"], name="clip", min=-1.0, max=1.5),
             H.make_node("Pad", ["c"], ["p"], name="pad", pads=[0, 0, 1, 1, 0, 0, 0, 0], value=-0.5),
             H.make_node("GlobalAveragePool", ["p"], ["g"], name="gap"),
             H.make_node("Squeeze", ["g"], ["s"], name="sq", axes=[2, 3]),
             H.make_node("MatMul", ["s", "w"], ["mm"], name="mm"),
             H.make_node("Unsqueeze", ["mm"], ["u"], name="unsq", axes=[0]),
             H.make_node("Squeeze", ["u"], ["y"], name="sq0", axes=[0])]
    p = F.pad(T(x).clamp(-1, 1.5), (1, 0, 1, 0), value=-0.5)
    y = p.mean((2, 3)) @ T(w)
    save("old_opsets", model("old_opsets", nodes, [init("w", w)], [1, 2, 3, 3], "y", [1, 5], opset=10), x, y)


def qdq():
    """QDQ as ONNX Runtime writes it: u8 activations (per tensor), i8 weights per output channel
    (axis 0 for Conv, axis 1 for MatMul), an int32 bias; fake quantization in torch as the reference"""
    x = f32(1, 2, 5, 5, lo=0, hi=1)
    w = f32(3, 2, 3, 3)
    ws = (np.abs(w).reshape(3, -1).max(1) / 127).astype(np.float32)
    wq = np.clip(np.rint(w / ws[:, None, None, None]), -127, 127).astype(np.int8)
    xs, xz = np.float32(1 / 255), np.uint8(0)
    bs = (xs * ws).astype(np.float32)
    bq = np.array([100, -200, 300], np.int32)
    rs, rz = np.float32(0.02), np.uint8(10)
    mw = f32(3 * 3 * 3, 4)
    ms = (np.abs(mw).max(0) / 127).astype(np.float32)
    mq = np.clip(np.rint(mw / ms), -127, 127).astype(np.int8)
    nodes = [H.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"], name="qx"),
             H.make_node("DequantizeLinear", ["xq", "xs", "xz"], ["xd"], name="dqx"),
             H.make_node("DequantizeLinear", ["wq", "ws"], ["wd"], name="dqw", axis=0),
             H.make_node("DequantizeLinear", ["bq", "bs"], ["bd"], name="dqb", axis=0),
             H.make_node("Conv", ["xd", "wd", "bd"], ["c"], name="conv"),
             H.make_node("Relu", ["c"], ["r"], name="relu"),
             H.make_node("QuantizeLinear", ["r", "rs", "rz"], ["rq"], name="qr"),
             H.make_node("DequantizeLinear", ["rq", "rs", "rz"], ["rd"], name="dqr"),
             H.make_node("Flatten", ["rd"], ["f"], name="flat"),
             H.make_node("DequantizeLinear", ["mq", "ms"], ["md"], name="dqm", axis=1),
             H.make_node("MatMul", ["f", "md"], ["y"], name="mm")]
    inits = [init("xs", xs), init("xz", xz), init("wq", wq), init("ws", ws), init("bq", bq), init("bs", bs),
             init("rs", rs), init("rz", rz), init("mq", mq), init("ms", ms)]

    def fq(t, s, z, lo, hi):
        return (torch.clamp(torch.round(t / float(s)) + float(z), lo, hi) - float(z)) * float(s)

    xd = fq(T(x), xs, xz, 0, 255)
    wd = T(wq.astype(np.float32) * ws[:, None, None, None])
    c = F.relu(F.conv2d(xd, wd, T(bq.astype(np.float32) * bs)))
    rd = fq(c, rs, rz, 0, 255)
    y = rd.flatten(1) @ T(mq.astype(np.float32) * ms)
    save("qdq", model("qdq", nodes, inits, [1, 2, 5, 5], "y", [1, 4], opset=13), x, y)


def names():
    """ONNX names outside [A-Za-z0-9_.] sanitised, and made unique when two meet (golden names.q8)"""
    x = f32(1, 4)
    nodes = [H.make_node("Relu", ["in:0"], ["a/b"], name="r1"),
             H.make_node("Relu", ["a/b"], ["a_b"], name="r2"),
             H.make_node("Add", ["a/b", "a_b"], ["y:0"], name="add")]
    y = 2 * np.maximum(x, 0)
    save("names", model("names", nodes, [], [1, 4], "y:0", [1, 4], x_name="in:0"), x, y)


def unsorted():
    """conv_gemm with its nodes in reverse order (not topological: onnx.checker refuses it, q8c orders it)"""
    m = onnx.load(os.path.join(HERE, "conv_gemm.onnx"))
    nodes = list(m.graph.node)[::-1]
    del m.graph.node[:]
    m.graph.node.extend(nodes)
    m.graph.name = "unsorted"
    onnx.save(m, os.path.join(HERE, "unsorted.onnx"))
    for f in ("x", "y"):
        np.save(os.path.join(HERE, f"unsorted_{f}.npy"), np.load(os.path.join(HERE, f"conv_gemm_{f}.npy")))


# ---- bad files: each must exit 1 with this message (a substring of stderr) ----

def bad(name, data, msg):
    d = os.path.join(HERE, "errors")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name + ".onnx"), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.SerializeToString())
    with open(os.path.join(d, name + ".err"), "w") as f:
        f.write(msg + "\n")


def tiny(nodes, inits=(), opset=13, x_shape=(1, 2, 3, 3), y="y", y_shape=None):
    return model("bad", nodes, list(inits), list(x_shape), y, y_shape or [1], opset=opset)


def errors():
    good = onnx.load(os.path.join(HERE, "conv_gemm.onnx")).SerializeToString()
    bad("truncated", good[: len(good) // 2], "error: not an ONNX model")
    bad("random", bytes(np.random.default_rng(5).integers(0, 256, 300, dtype=np.uint8)), "error: not an ONNX model")
    bad("empty", b"", "error: not an ONNX model (no ir_version")
    bad("text_magic", b"model m;\ninput %x : f32[1, 4];\noutput %x;\n", "error: not an ONNX model")
    relu = H.make_node("Relu", ["x"], ["y"], name="r")
    bad("opset8", tiny([relu], opset=8), "error: opset 8 is not supported")
    bad("unsupported_op", tiny([H.make_node("LSTM", ["x"], ["y"], name="rnn")]),
        "bad.onnx: node 'rnn' (LSTM): error: operator LSTM is not supported")
    bad("cycle", tiny([H.make_node("Relu", ["x", "b"], ["a"], name="n1"), H.make_node("Relu", ["a"], ["b"], name="n2"),
                       H.make_node("Relu", ["b"], ["y"], name="n3")]), "the graph has a cycle")
    bad("missing_init", tiny([H.make_node("Conv", ["x", "w"], ["y"], name="conv")]),
        "node 'conv' (Conv): error: input 'w' is not defined")
    t = onnx.TensorProto(name="w", data_type=TP.FLOAT, dims=[1 << 40, 1 << 40])
    bad("dims_overflow", tiny([H.make_node("Conv", ["x", "w"], ["y"], name="conv")], [t]),
        "initializer 'w': error: tensor too large")
    t = onnx.TensorProto(name="w", data_type=TP.FLOAT, dims=[4, 2, 3, 3], raw_data=b"\0" * 12)
    bad("short_raw", tiny([H.make_node("Conv", ["x", "w"], ["y"], name="conv")], [t]),
        "raw data holds 12 bytes")
    bad("dtype_f16", tiny([H.make_node("Conv", ["x", "w"], ["y"], name="conv")],
                          [init("w", np.zeros((4, 2, 3, 3), np.float16))]),
        "initializer 'w': error: initializer: element type float16 is not supported")
    bad("huge_input", tiny([relu], x_shape=(1 << 20, 1 << 20, 1 << 20, 1)), "input 'x': error: tensor too large")
    # a length prefix that claims 2^40 bytes: protobuf refuses it without allocating
    bad("huge_length", b"\x08\x07\x3a\x80\x80\x80\x80\x80\x20" + b"\0" * 16, "error: not an ONNX model")
    t = onnx.TensorProto(name="w", data_type=TP.FLOAT, dims=[4, 2, 3, 3], data_location=TP.EXTERNAL)
    t.external_data.add(key="location", value="../../etc/passwd")
    bad("external_escape", tiny([H.make_node("Conv", ["x", "w"], ["y"], name="conv")], [t]),
        "leaves the model's directory")
    t = onnx.TensorProto(name="w", data_type=TP.FLOAT, dims=[4, 2, 3, 3], data_location=TP.EXTERNAL)
    t.external_data.add(key="location", value="no_such_file.bin")
    bad("external_missing", tiny([H.make_node("Conv", ["x", "w"], ["y"], name="conv")], [t]),
        "cannot open \"no_such_file.bin\"")
    bad("computed_weight", tiny([H.make_node("Conv", ["x", "x"], ["y"], name="conv")]),
        "node 'conv' (Conv): error: the weight must be a 4-D constant")
    bad("conv_transpose", tiny([H.make_node("ConvTranspose", ["x", "w"], ["y"], name="up")],
                               [init("w", np.zeros((2, 2, 3, 3), np.float32))]),
        "operator ConvTranspose is not supported")
    bad("zero_dim", tiny([relu], [init("z", np.zeros((0, 3), np.float32))]),
        "zero-size and negative dimensions are not supported")
    bad("twice", tiny([relu, H.make_node("Relu", ["x"], ["y"], name="again")]), "tensor 'y' is defined twice")
    bad("domain", tiny([H.make_node("QLinearSigmoid", ["x"], ["y"], name="ms", domain="com.microsoft")]),
        "operators of domain 'com.microsoft' are not supported")
    # found by fuzz_onnx: a NaN weight (the model text cannot hold it), a node without outputs
    bad("nan_weight", tiny([H.make_node("Conv", ["x", "w"], ["y"], name="conv")],
                           [init("w", np.full((4, 2, 3, 3), np.nan, np.float32))]), "w: element 0 is not finite")
    bad("no_output", tiny([H.make_node("Relu", ["x"], [], name="r"), relu]),
        "node 'r' (Relu): error: the node has no output")
    ones = [init(n, np.ones(2, np.float32)) for n in ("s", "b", "m", "v")]
    bad("bn_epsilon", tiny([H.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], name="bn",
                                        epsilon=-1e-3)], ones), "node 'bn' (BatchNormalization): error: epsilon")
    bad("int_input", model("bad", [relu], [], [1, 4], "y", [1, 4]).SerializeToString().replace(
        b"\x08\x01\x12", b"\x08\x06\x12", 1), "inputs must be float")


# external data, beside the model: a Conv weight in a .bin file
def external():
    x = f32(1, 2, 4, 4)
    w = f32(3, 2, 1, 1)
    t = onnx.TensorProto(name="w", data_type=TP.FLOAT, dims=w.shape, data_location=TP.EXTERNAL)
    pre = b"HEAD"
    t.external_data.add(key="location", value="external.bin")
    t.external_data.add(key="offset", value=str(len(pre)))
    t.external_data.add(key="length", value=str(w.nbytes))
    with open(os.path.join(HERE, "external.bin"), "wb") as f:
        f.write(pre + w.tobytes())
    nodes = [H.make_node("Conv", ["x", "w"], ["y"], name="conv")]
    y = F.conv2d(T(x), T(w))
    m = model("external", nodes, [t], [1, 2, 4, 4], "y", [1, 3, 4, 4])
    onnx.save(m, os.path.join(HERE, "external.onnx"))
    np.save(os.path.join(HERE, "external_x.npy"), x)
    np.save(os.path.join(HERE, "external_y.npy"), y.numpy())


if __name__ == "__main__":
    conv_gemm()
    groups()
    pools()
    elementwise()
    activations()
    view_chain()
    old_opsets()
    qdq()
    external()
    names()
    unsorted()
    errors()
