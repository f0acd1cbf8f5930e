"""Emitters for the `gradwork.nn.functional` calls that export whole (see `_trace.FUNCTIONS`).

Activations map to their ONNX op (or a short composition where ONNX has no
op at opset 17), dropout to the identity in eval mode, `embedding` to Gather.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gradwork import _arrays
from gradwork.onnx._graph import Call, Graph, onnx_type

FUNCTIONS: dict[str, Any] = {}


def emits(*names: str) -> Any:
    def register(emitter: Any) -> Any:
        for name in names:
            FUNCTIONS[name] = emitter
        return emitter

    return register


def _x(c: Call) -> str:
    return c.name("input")


def _scalar(g: Graph, value: float, out: Any) -> str:
    return g.const(value, out.array.dtype)


_SIMPLE = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "softsign": "Softsign",
           "hardswish": "HardSwish"}  # fmt: skip


@emits(*_SIMPLE)
def simple(g: Graph, c: Call, out: Any) -> str:
    return g.node(_SIMPLE[c.record.target.__name__], [_x(c)])


@emits("leaky_relu")
def leaky_relu(g: Graph, c: Call, out: Any) -> str:
    return g.node("LeakyRelu", [_x(c)], alpha=float(c["negative_slope"]))


@emits("elu")
def elu(g: Graph, c: Call, out: Any) -> str:
    return g.node("Elu", [_x(c)], alpha=float(c["alpha"]))


@emits("celu")
def celu(g: Graph, c: Call, out: Any) -> str:
    return g.node("Celu", [_x(c)], alpha=float(c["alpha"]))


@emits("selu")
def selu(g: Graph, c: Call, out: Any) -> str:
    return g.node("Selu", [_x(c)], alpha=1.6732632423543772, gamma=1.0507009873554805)


@emits("gelu")
def gelu(g: Graph, c: Call, out: Any) -> str:
    x = _x(c)
    if c["approximate"] == "tanh":  # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        cube = g.node("Mul", [g.node("Mul", [x, x]), x])
        inner = g.node("Add", [x, g.node("Mul", [cube, _scalar(g, 0.044715, out)])])
        inner = g.node("Mul", [inner, _scalar(g, math.sqrt(2 / math.pi), out)])
        gate = g.node("Tanh", [inner])
    else:  # 0.5 x (1 + erf(x / sqrt(2)))
        gate = g.node("Erf", [g.node("Mul", [x, _scalar(g, math.sqrt(0.5), out)])])
    half = g.node("Mul", [g.node("Add", [gate, _scalar(g, 1.0, out)]), _scalar(g, 0.5, out)])
    return g.node("Mul", [x, half])


@emits("silu", "swish")
def silu(g: Graph, c: Call, out: Any) -> str:
    x = _x(c)
    return g.node("Mul", [x, g.node("Sigmoid", [x])])


@emits("softplus")
def softplus(g: Graph, c: Call, out: Any) -> str:
    x, beta, threshold = _x(c), float(c["beta"]), float(c["threshold"])
    scaled = g.node("Mul", [x, _scalar(g, beta, out)])
    smooth = g.node("Div", [g.node("Softplus", [scaled]), _scalar(g, beta, out)])
    linear = g.node("Greater", [scaled, _scalar(g, threshold, out)])
    return g.node("Where", [linear, x, smooth])


@emits("mish")
def mish(g: Graph, c: Call, out: Any) -> str:
    x = _x(c)
    return g.node("Mul", [x, g.node("Tanh", [g.node("Softplus", [x])])])


@emits("logsigmoid")
def logsigmoid(g: Graph, c: Call, out: Any) -> str:
    return g.node("Neg", [g.node("Softplus", [g.node("Neg", [_x(c)])])])


@emits("hardtanh", "relu6")
def hardtanh(g: Graph, c: Call, out: Any) -> str:
    low, high = (0.0, 6.0) if c.record.target.__name__ == "relu6" else (c["min_val"], c["max_val"])
    return g.node("Clip", [_x(c), _scalar(g, low, out), _scalar(g, high, out)])


@emits("hardsigmoid")
def hardsigmoid(g: Graph, c: Call, out: Any) -> str:
    return g.node("HardSigmoid", [_x(c)], alpha=1.0 / 6.0, beta=0.5)


@emits("softmax", "log_softmax", "softmin")
def softmax(g: Graph, c: Call, out: Any) -> str:
    name, x = c.record.target.__name__, _x(c)
    dim = c["dim"]
    if dim is None:  # torch's legacy choice, as F.softmax makes it (with a warning)
        dim = 0 if c.array("input").ndim in (0, 1, 3) else 1
    if c["dtype"] is not None:
        x = g.node("Cast", [x], to=onnx_type(out.array.dtype))
    if name == "softmin":
        x = g.node("Neg", [x])
    return g.node("LogSoftmax" if name == "log_softmax" else "Softmax", [x], axis=int(dim))


@emits("dropout", "dropout2d")
def dropout(g: Graph, c: Call, out: Any) -> str:
    if c["training"] and c["p"] > 0:
        raise g.fail(
            "dropout with training=True is random and can't be exported; the model is in eval "
            "mode during export, so pass training=self.training to F.dropout"
        )
    return g.node("Identity", [_x(c)])


@emits("embedding")
def embedding(g: Graph, c: Call, out: Any) -> str:
    if c["max_norm"] is not None:
        raise g.fail("embedding with max_norm changes the table while it runs; export without it")
    return g.node("Gather", [c.name("weight"), c.name("input", np.int64)], axis=0)


_COMPARE = {"less": ("Less", False), "less_equal": ("LessOrEqual", False),
            "greater": ("Greater", False), "greater_equal": ("GreaterOrEqual", False),
            "equal": ("Equal", False), "not_equal": ("Equal", True)}  # fmt: skip


@emits("_compare")
def compare(g: Graph, c: Call, out: Any) -> str:
    ufunc = c["compare"]
    if ufunc.__name__ not in _COMPARE:
        raise g.fail(f"comparison {ufunc.__name__} has no ONNX mapping")
    op, negate = _COMPARE[ufunc.__name__]
    arrays = [
        np.asarray(_arrays.to_host(getattr(v, "array", v))) for v in (c.first["a"], c.first["b"])
    ]
    dtype = np.result_type(*arrays)
    result = g.node(op, [c.name("a", dtype), c.name("b", dtype)])
    return g.node("Not", [result]) if negate else result


@emits("canonical_mask")
def canonical_mask(g: Graph, c: Call, out: Any) -> Any:
    """A bool attention mask (True = masked out) as an additive float mask: -inf or 0."""
    if out is None:
        return []
    dtype = out.array.dtype
    if c.array("mask").dtype != np.bool_:
        return g.node("Identity", [c.name("mask", dtype)])
    zero, minus_inf = g.const(0, dtype), g.const(-np.inf, dtype)
    return g.node("Where", [c.name("mask"), minus_inf, zero])


@emits("_extreme_along")
def max_along(g: Graph, c: Call, out: Any) -> list[str]:
    """`t.max(dim)` / `t.min(dim)`: (values, indices), first index on ties as NumPy's."""
    largest = c["arg"] is np.argmax
    x, dim, keep = c.name("self"), int(c["dim"]), int(bool(c["keepdim"]))
    values = g.reduce("ReduceMax" if largest else "ReduceMin", x, [dim], keep)
    indices = g.node("ArgMax" if largest else "ArgMin", [x], axis=dim, keepdims=keep)
    return [values, indices]


@emits("argmax", "argmin")
def argmax(g: Graph, c: Call, out: Any) -> str:
    op = "ArgMax" if c.record.target.__name__ == "argmax" else "ArgMin"
    x, dim, keep = c.name("self"), c["dim"], int(bool(c["keepdim"]))
    if dim is None:  # over the flattened tensor
        x, dim = g.node("Reshape", [x, g.ints([-1])]), 0
        result = g.node(op, [x], axis=0, keepdims=keep)
        return result if not keep else g.node("Reshape", [result, g.ints([1] * out.ndim)])
    return g.node(op, [x], axis=int(dim), keepdims=keep)
