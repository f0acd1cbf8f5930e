"""Emitters for gradwork's primitive ops: one function per op, `(graph, call, output) -> name`.

`call["x"]` is an option (the same in both traces), `call.name("x")` the ONNX
name of a tensor argument, `output` the op's result in the first trace (its
dtype and shape). An emitter returns the ONNX name of that result. Arithmetic,
convolution, pooling and normalisation are here; movement and attention in
`_movement.py`, which registers into the same `OPS`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradwork import ops
from gradwork.onnx._graph import Call, Graph, onnx_type
from gradwork.ops import linalg, pointwise, scan, special

OPS: dict[type, Any] = {}


def emits(*functions: type) -> Any:
    def register(emitter: Any) -> Any:
        for function in functions:
            OPS[function] = emitter
        return emitter

    return register


def dtype_of(output: Any) -> Any:
    return output.array.dtype


# -- elementwise -----------------------------------------------------------------
_BINARY = {ops.Add: "Add", ops.Sub: "Sub", ops.Mul: "Mul", ops.Div: "Div",
           ops.Maximum: "Max", ops.Minimum: "Min"}  # fmt: skip
_UNARY = {ops.Neg: "Neg", ops.Exp: "Exp", ops.Log: "Log", ops.Sqrt: "Sqrt", ops.Abs: "Abs",
          ops.Sign: "Sign", ops.Sin: "Sin", ops.Cos: "Cos", ops.Relu: "Relu",
          ops.Sigmoid: "Sigmoid", ops.Tanh: "Tanh"}  # fmt: skip
_TRIGONOMETRY = ("Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh")
_UNARY.update({getattr(pointwise, name): name for name in _TRIGONOMETRY})


@emits(*_BINARY)
def binary(g: Graph, c: Call, out: Any) -> str:
    dtype = dtype_of(out)
    return g.node(_BINARY[c.record.target], [c.name("a", dtype), c.name("b", dtype)])


@emits(*_UNARY)
def unary(g: Graph, c: Call, out: Any) -> str:
    return g.node(_UNARY[c.record.target], [c.name("a", dtype_of(out))])


@emits(ops.Pow)
def power(g: Graph, c: Call, out: Any) -> str:
    return g.node("Pow", [c.name("a", dtype_of(out)), c.name("b", dtype_of(out))])


@emits(ops.Log1p)
def log1p(g: Graph, c: Call, out: Any) -> str:
    one = g.const(1, dtype_of(out))
    return g.node("Log", [g.node("Add", [c.name("a"), one])])


@emits(pointwise.Expm1)
def expm1(g: Graph, c: Call, out: Any) -> str:
    return g.node("Sub", [g.node("Exp", [c.name("a")]), g.const(1, dtype_of(out))])


@emits(ops.Erf)
def erf(g: Graph, c: Call, out: Any) -> str:
    result = g.node("Erf", [c.name("a")])
    if not c["complement"]:
        return result
    return g.node("Sub", [g.const(1, dtype_of(out)), result])


@emits(pointwise.Round)
def round_(g: Graph, c: Call, out: Any) -> str:
    how, x = c["how"], c.name("a")
    if how == "trunc":
        return _trunc(g, x, out)
    if how != "round":
        return g.node("Floor" if how == "floor" else "Ceil", [x])
    if not c["decimals"]:
        return g.node("Round", [x])  # half to even, as NumPy and torch
    scale = g.const(10.0 ** c["decimals"], dtype_of(out))
    return g.node("Div", [g.node("Round", [g.node("Mul", [x, scale])]), scale])


def _trunc(g: Graph, x: str, out: Any) -> str:
    """Round towards zero: floor for positives, ceil for negatives."""
    negative = g.node("Less", [x, g.const(0, dtype_of(out))])
    return g.node("Where", [negative, g.node("Ceil", [x]), g.node("Floor", [x])])


@emits(pointwise.DivRound)
def div_round(g: Graph, c: Call, out: Any) -> str:
    dtype = dtype_of(out)
    a, b = c.name("a", dtype), c.name("b", dtype)
    if dtype.kind != "f":
        raise g.fail("integer floor/trunc division has no exact ONNX mapping here; use floats")
    quotient = g.node("Div", [a, b])
    return g.node("Floor", [quotient]) if c["mode"] == "floor" else _trunc(g, quotient, out)


@emits(pointwise.Remainder, pointwise.Fmod)
def remainder(g: Graph, c: Call, out: Any) -> str:
    dtype = dtype_of(out)
    a, b = c.name("a", dtype), c.name("b", dtype)
    if c.record.target is pointwise.Fmod or dtype.kind == "f":
        fmod = g.node("Mod", [a, b], fmod=1)
        if c.record.target is pointwise.Fmod:
            return fmod
        # Python's sign (of b): add b where the C remainder is non-zero and has a's sign
        differs = g.node("Xor", [g.node("Less", [fmod, g.const(0, dtype)]),
                                 g.node("Less", [b, g.const(0, dtype)])])  # fmt: skip
        nonzero = g.node("Not", [g.node("Equal", [fmod, g.const(0, dtype)])])
        fix = g.node("And", [differs, nonzero])
        return g.node("Where", [fix, g.node("Add", [fmod, b]), fmod])
    return g.node("Mod", [a, b], fmod=0)


@emits(pointwise.LogBase)
def log_base(g: Graph, c: Call, out: Any) -> str:
    scale = g.const(np.log(c["base"]), dtype_of(out))
    return g.node("Div", [g.node("Log", [c.name("a")]), scale])


@emits(pointwise.Hypot)
def hypot(g: Graph, c: Call, out: Any) -> str:
    a, b = c.name("a", dtype_of(out)), c.name("b", dtype_of(out))
    return g.node("Sqrt", [g.node("Add", [g.node("Mul", [a, a]), g.node("Mul", [b, b])])])


@emits(pointwise.LogAddExp)
def logaddexp(g: Graph, c: Call, out: Any) -> str:
    """max + log1p(exp(-|a - b|)), stable for large operands (base 2 if asked)."""
    dtype = dtype_of(out)
    a, b = c.name("a", dtype), c.name("b", dtype)
    ln2 = g.const(np.log(2.0), dtype)
    if c["base2"]:
        a, b = g.node("Mul", [a, ln2]), g.node("Mul", [b, ln2])
    gap = g.node("Neg", [g.node("Abs", [g.node("Sub", [a, b])])])
    tail = g.node("Log", [g.node("Add", [g.node("Exp", [gap]), g.const(1, dtype)])])
    result = g.node("Add", [g.node("Max", [a, b]), tail])
    return g.node("Div", [result, ln2]) if c["base2"] else result


@emits(linalg.VectorNorm)
def vector_norm(g: Graph, c: Call, out: Any) -> str:
    order, x, keep = c["ord"], c.name("x"), c["keepdim"]
    axes = list(range(c.array("x").ndim)) if c["dim"] is None else c["dim"]
    if order in (np.inf, -np.inf):
        op = "ReduceMax" if order > 0 else "ReduceMin"
        return g.reduce(op, g.node("Abs", [x]), axes, keep)
    if order in (1, 2):
        return g.reduce("ReduceL1" if order == 1 else "ReduceL2", x, axes, keep)
    raise g.fail(f"vector norm of order {order} has no ONNX mapping here (1, 2 and inf do)")


@emits(special.Step)
def step(g: Graph, c: Call, out: Any) -> str:
    above = g.node("GreaterOrEqual", [c.name("a"), g.const(c["threshold"], dtype_of(out))])
    return g.node("Cast", [above], to=onnx_type(dtype_of(out)))


@emits(ops.Clamp)
def clamp(g: Graph, c: Call, out: Any) -> str:
    dtype = dtype_of(out)
    return g.node("Clip", [c.name("a", dtype), c.name("low", dtype), c.name("high", dtype)])


@emits(ops.Where)
def where(g: Graph, c: Call, out: Any) -> str:
    condition = c.name("condition", np.bool_)
    return g.node("Where", [condition, c.name("a", dtype_of(out)), c.name("b", dtype_of(out))])


# -- linear algebra, convolution, pooling, normalisation ----------------------------
@emits(ops.MatMul)
def matmul(g: Graph, c: Call, out: Any) -> str:
    return g.node("MatMul", [c.name("a", dtype_of(out)), c.name("b", dtype_of(out))])


@emits(ops.Linear)
def linear(g: Graph, c: Call, out: Any) -> str:
    x, weight, bias = c.name("x"), c.name("weight"), c.name("bias")
    if c.array("x").ndim == 2:
        return g.node("Gemm", [x, weight] + ([bias] if bias else []), transB=1)
    product = g.node("MatMul", [x, g.node("Transpose", [weight], perm=[1, 0])])
    return g.node("Add", [product, bias]) if bias else product


def _pads(padding: Any) -> list[int]:
    padding = [int(p) for p in padding]
    return padding + padding


@emits(ops.Conv2d)
def conv2d(g: Graph, c: Call, out: Any) -> str:
    inputs = [c.name("x"), c.name("weight")] + (
        [c.name("bias")] if c.first["bias"] is not None else []
    )
    kernel = list(c.array("weight").shape[2:])
    return g.node("Conv", inputs, kernel_shape=kernel, strides=list(c["stride"]),
                  pads=_pads(c["padding"]), dilations=list(c["dilation"]),
                  group=int(c["groups"]))  # fmt: skip


@emits(ops.ConvTranspose2d)
def conv_transpose2d(g: Graph, c: Call, out: Any) -> str:
    inputs = [c.name("x"), c.name("weight")] + (
        [c.name("bias")] if c.first["bias"] is not None else []
    )
    kernel = list(c.array("weight").shape[2:])
    stride, padding, dilation = c["stride"], c["padding"], c["dilation"]
    size_in, size_out = c.array("x").shape[2:], out.shape[2:]
    extra = [
        int(o - ((i - 1) * s - 2 * p + d * (k - 1) + 1))
        for i, o, s, p, d, k in zip(
            size_in, size_out, stride, padding, dilation, kernel, strict=True
        )
    ]
    return g.node("ConvTranspose", inputs, kernel_shape=kernel, strides=list(stride),
                  pads=_pads(padding), dilations=list(dilation), group=int(c["groups"]),
                  output_padding=extra)  # fmt: skip


@emits(ops.MaxPool2d)
def max_pool2d(g: Graph, c: Call, out: Any) -> str:
    return g.node("MaxPool", [c.name("x")], kernel_shape=list(c["kernel"]),
                  strides=list(c["stride"]), pads=_pads(c["padding"]),
                  dilations=list(c["dilation"]), ceil_mode=int(bool(c["ceil_mode"])))  # fmt: skip


@emits(ops.AvgPool2d)
def avg_pool2d(g: Graph, c: Call, out: Any) -> str:
    if c["divisor_override"] is not None:
        raise g.fail("avg_pool2d with divisor_override has no ONNX equivalent")
    return g.node("AveragePool", [c.name("x")], kernel_shape=list(c["kernel"]),
                  strides=list(c["stride"]), pads=_pads(c["padding"]),
                  ceil_mode=int(bool(c["ceil_mode"])),
                  count_include_pad=int(bool(c["count_include_pad"])))  # fmt: skip


@emits(ops.BatchNorm)
def batch_norm(g: Graph, c: Call, out: Any) -> str:
    if c["training"] or c.first["running_mean"] is None:
        raise g.fail(
            "batch norm with batch statistics (training mode, or no running statistics) "
            "can't be exported; call model.eval() (export does) and keep track_running_stats"
        )
    channels, dtype = c.array("x").shape[1], dtype_of(out)
    scale = c.name("weight") or g.const(np.ones(channels, dtype))
    bias = c.name("bias") or g.const(np.zeros(channels, dtype))
    inputs = [c.name("x"), scale, bias, c.name("running_mean"), c.name("running_var")]
    return g.node("BatchNormalization", inputs, epsilon=float(c["eps"]))


@emits(ops.Normalize)
def normalize(g: Graph, c: Call, out: Any) -> str:
    x, ndim, dtype = c.name("x"), c.array("x").ndim, dtype_of(out)
    axes = sorted(int(a) % ndim for a in c["axes"])
    trailing = axes == list(range(ndim - len(axes), ndim))
    if trailing and c["affine_shape"] is None:
        shape = c.array("x").shape[ndim - len(axes) :]
        weight = c.name("weight") or g.const(np.ones(shape, dtype))
        inputs = [x, weight] + ([c.name("bias")] if c.first["bias"] is not None else [])
        return g.node("LayerNormalization", inputs, axis=-len(axes), epsilon=float(c["eps"]))
    # (x - mean) / sqrt(biased var + eps), then the affine, as ops.Normalize computes it
    centred = g.node("Sub", [x, g.reduce("ReduceMean", x, axes, True)])
    variance = g.reduce("ReduceMean", g.node("Mul", [centred, centred]), axes, True)
    spread = g.node("Sqrt", [g.node("Add", [variance, g.const(c["eps"], dtype)])])
    result = g.node("Div", [centred, spread])
    for key, op in (("weight", "Mul"), ("bias", "Add")):
        if c.first[key] is not None:
            value = c.name(key)
            if c["affine_shape"] is not None:
                value = g.node("Reshape", [value, g.ints(c["affine_shape"])])
            result = g.node(op, [result, value])
    return result


@emits(ops.LogSoftmax)
def log_softmax(g: Graph, c: Call, out: Any) -> str:
    return g.node("LogSoftmax", [c.name("a")], axis=int(c["dim"]))


@emits(ops.LogSumExp)
def logsumexp(g: Graph, c: Call, out: Any) -> str:
    return g.reduce("ReduceLogSumExp", c.name("a"), c["dim"], c["keepdim"])


_REDUCE = {ops.Sum: "ReduceSum", ops.Mean: "ReduceMean", ops.Amax: "ReduceMax",
           ops.Amin: "ReduceMin", ops.Prod: "ReduceProd"}  # fmt: skip


@emits(*_REDUCE)
def reduce(g: Graph, c: Call, out: Any) -> str:
    x = c.name("a", dtype_of(out))
    return g.reduce(_REDUCE[c.record.target], x, c["dim"], c["keepdim"])


@emits(scan.CumSum)
def cumsum(g: Graph, c: Call, out: Any) -> str:
    return g.node("CumSum", [c.name("a"), g.const(int(c["dim"]), np.int64)])


@emits(ops.Einsum)
def einsum(g: Graph, c: Call, out: Any) -> str:
    return g.node("Einsum", c.names("arrays", dtype_of(out)), equation=c["equation"])
