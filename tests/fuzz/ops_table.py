"""The fuzzer's tables: one entry per op, the same call run on gradwork and on torch.

An `OpSpec` says how to call the op (`call(lib, *operands, **params)`, where
`lib` is the `gradwork` or the `torch` module), which operand layout to draw
(layouts.LAYOUTS), which params to draw by kind (strategies.PARAM_KINDS: "dim"
draws dims in and out of range, ...), which operand dtypes, and whether Python
scalars may stand in for tensors. Entries for ops gradwork lacks stay in the
table: they are listed in MISSING, skipped, and run as soon as the op exists.
"""

from __future__ import annotations

import operator as op
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.fuzz.compare import missing
from tests.fuzz.strategies import DTYPES, FLOATS


@dataclass(frozen=True)
class OpSpec:
    name: str
    call: Callable[..., Any]  # call(lib, *operands, **params)
    requires: tuple[str, ...]  # gradwork attributes the call needs: "Tensor.sum", "cat"
    layout: str = "one"  # operands and their params: a key of layouts.LAYOUTS
    params: dict[str, str] = field(default_factory=dict)  # name -> strategies.PARAM_KINDS key
    dtypes: tuple[str, ...] = DTYPES  # dtypes of the generated tensors
    scalars: bool = False  # a Python scalar may replace a tensor operand
    grad: bool = True  # floating inputs require grad; input gradients are compared


def supplied(params: dict) -> dict:
    """The params that were drawn as something: None means "leave the argument out"."""
    return {name: value for name, value in params.items() if value is not None}


def resolve(lib: Any, path: str) -> Any:
    for name in path.split("."):
        lib = getattr(lib, name)
    return lib


def method(name: str, positional: bool = False, **spec: Any) -> OpSpec:
    """`x.name(*other_operands, **params)`; params by position if `positional`."""

    def call(lib, x, *operands, **params):
        if positional:
            return getattr(x, name)(*operands, *supplied(params).values())
        return getattr(x, name)(*operands, **supplied(params))

    return OpSpec(f"x.{name}", call, (f"Tensor.{name}",), **spec)


def function(path: str, positional: bool = False, **spec: Any) -> OpSpec:
    """`lib.path(*operands, **params)`: "sum", "nn.functional.pad"."""

    def call(lib, *operands, **params):
        if positional:
            return resolve(lib, path)(*operands, *supplied(params).values())
        return resolve(lib, path)(*operands, **supplied(params))

    return OpSpec(path.replace("nn.functional.", "F.") + "(...)", call, (path,), **spec)


def unpacked(name: str, kind: str) -> OpSpec:
    """`x.name(*sizes)`, the everyday spelling of view/permute/expand/repeat.

    No sizes at all pass an empty tuple: torch needs one argument.
    """

    def call(lib, x, sizes):
        return getattr(x, name)(*sizes) if sizes else getattr(x, name)(sizes)

    return OpSpec(f"x.{name}(*sizes)", call, (f"Tensor.{name}",), params={"sizes": kind})


def operator(label: str, fn: Callable, dunder: str, **spec: Any) -> OpSpec:
    return OpSpec(label, lambda lib, *operands: fn(*operands), (f"Tensor.{dunder}",), **spec)


def reduction(name: str, dim: str = "dims", function: bool = False, **extra: str) -> OpSpec:
    """`x.name()` over everything when dim is None, else `x.name(dim, keepdim=...)`.

    With `function`, `lib.name(x, ...)` instead (torch takes keepdim only with a dim).
    """

    def call(lib, x, dim, keepdim, **params):
        reduce = getattr(lib, name) if function else getattr(x, name)
        operands = (x,) if function else ()
        if dim is None:
            return reduce(*operands, **supplied(params))
        return reduce(*operands, dim, keepdim=keepdim, **supplied(params))

    label, requires = (f"{name}(...)", name) if function else (f"x.{name}", f"Tensor.{name}")
    return OpSpec(label, call, (requires,), params={"dim": dim, "keepdim": "keepdim", **extra})


def _to(lib, x, dtype):
    return x.to(getattr(lib, dtype))


def _split(lib, x, split_size_or_sections, dim):
    return x.split(split_size_or_sections, dim)  # by position: torch's method says split_size


def _scatter(name: str) -> Callable:
    return lambda lib, x, source, dim, index: getattr(x, name)(dim, index, source)


BINARY_OPERATORS = [
    ("a + b", op.add, "__add__"), ("a - b", op.sub, "__sub__"), ("a * b", op.mul, "__mul__"),
    ("a / b", op.truediv, "__truediv__"), ("a // b", op.floordiv, "__floordiv__"),
    ("a % b", op.mod, "__mod__"), ("a ** b", op.pow, "__pow__"), ("a & b", op.and_, "__and__"),
    ("a | b", op.or_, "__or__"), ("a ^ b", op.xor, "__xor__"), ("a < b", op.lt, "__lt__"),
    ("a <= b", op.le, "__le__"), ("a > b", op.gt, "__gt__"), ("a >= b", op.ge, "__ge__"),
    ("a == b", op.eq, "__eq__"), ("a != b", op.ne, "__ne__"),
]  # fmt: skip

UNARY_METHODS = (
    "exp log log1p sqrt rsqrt abs sign sin cos reciprocal square relu sigmoid tanh neg "
    "contiguous clone detach float double long int bool "
    # The rest of API.md's elementwise surface (MISSING while gradwork lacks them):
    "floor ceil round trunc tan asin acos atan sinh cosh asinh acosh atanh log2 log10 exp2 "
    "expm1 erf erfinv isnan isinf isfinite nonzero trace diag"
).split()

BINARY_METHODS = "maximum minimum atan2 logaddexp fmod remainder isclose".split()

OPS: list[OpSpec] = [
    *[operator(label, fn, dunder, layout="pair", scalars=True)
      for label, fn, dunder in BINARY_OPERATORS],
    operator("a @ b", op.matmul, "__matmul__", layout="matmul"),
    operator("-a", op.neg, "__neg__"),
    operator("~a", op.invert, "__invert__"),
    operator("abs(a)", abs, "__abs__"),
    *[method(name) for name in UNARY_METHODS],
    *[method(name, layout="pair") for name in BINARY_METHODS],
    *[function(name, layout="pair", scalars=True) for name in ("add", "sub", "mul", "div")],
    function("pow", layout="pair", scalars=True),
    function("maximum", layout="pair"),
    function("minimum", layout="pair"),
    function("exp"),
    # pointwise math beyond API.md's list (_tensor_pointwise.py)
    *[method(name) for name in "frac fix erfc isposinf isneginf logical_not bitwise_not".split()],
    *[method(name, layout="pair") for name in ("hypot", "logaddexp2", "floor_divide",
                                               "logical_and", "logical_or", "logical_xor",
                                               "bitwise_and", "bitwise_or", "bitwise_xor")],
    *[OpSpec(f"div(rounding_mode={mode!r})",
             lambda lib, a, b, mode=mode: lib.div(a, b, rounding_mode=mode), ("div",),
             layout="pair", scalars=True) for mode in ("trunc", "floor")],
    function("remainder", layout="pair"),
    OpSpec("x.round(decimals=...)", lambda lib, x, decimals: x.round(decimals=decimals),
           ("Tensor.round",), params={"decimals": "small_int"}),
    function("allclose", layout="pair", grad=False),
    function("result_type", layout="pair", scalars=True, grad=False),
    method("clamp", params={"min": "bound", "max": "bound"}),
    method("clip", params={"min": "bound", "max": "bound"}),
    function("clamp", params={"min": "bound", "max": "bound"}),
    method("pow", params={"exponent": "exponent"}),
    method("lerp", layout="pair", params={"weight": "scalar"}, dtypes=FLOATS),
    OpSpec("x.to(dtype)", _to, ("Tensor.to",), params={"dtype": "dtype"}),
    # ------------------------------------------------------------ reductions
    *[reduction(name) for name in ("sum", "mean", "amax", "amin", "all", "any")],
    reduction("var", correction="correction"),
    reduction("std", correction="correction"),
    *[reduction(name, dim="dim_opt") for name in ("prod", "max", "min", "argmax", "argmin")],
    reduction("norm"),
    method("logsumexp", params={"dim": "dim_list", "keepdim": "keepdim"}),
    *[reduction(name, function=True) for name in ("sum", "mean")],
    reduction("max", dim="dim_opt", function=True),
    function("logsumexp", params={"dim": "dim_list"}),
    *[method(name, params={"dim": "dim"}) for name in ("softmax", "log_softmax", "cumsum",
                                                         "cumprod", "unbind")],
    function("softmax", params={"dim": "dim"}),
    function("nn.functional.softmax", params={"dim": "dim"}),
    function("nn.functional.log_softmax", params={"dim": "dim"}),
    # attention and the Transformer's norms
    function("nn.functional.scaled_dot_product_attention", layout="attention",
             params={"is_causal": "flag"}, dtypes=FLOATS),
    function("nn.functional.rms_norm", params={"normalized_shape": "trailing_shape"},
             dtypes=FLOATS),
    function("nn.functional.layer_norm", params={"normalized_shape": "trailing_shape"},
             dtypes=FLOATS),
    method("sort", params={"dim": "dim", "descending": "flag"}),
    method("argsort", params={"dim": "dim", "descending": "flag"}),
    method("topk", params={"k": "small_int", "dim": "dim"}),
    # ------------------------------------------------------------------ shape
    # Shapes and dims by position: that is how shapes are passed, and torch's
    # keyword names for them (shape, dims, size) are not what the fuzzer is after.
    method("reshape", positional=True, params={"shape": "shape"}),
    function("reshape", positional=True, params={"shape": "shape"}),
    unpacked("reshape", "shape"),
    unpacked("view", "shape"),
    method("flatten", params={"start_dim": "dim", "end_dim": "dim"}),
    function("flatten", params={"start_dim": "dim", "end_dim": "dim"}),
    method("squeeze", params={"dim": "dims"}),
    function("squeeze", params={"dim": "dims"}),
    method("unsqueeze", params={"dim": "new_dim"}),
    function("unsqueeze", params={"dim": "new_dim"}),
    method("transpose", params={"dim0": "dim", "dim1": "dim"}),
    function("transpose", params={"dim0": "dim", "dim1": "dim"}),
    unpacked("permute", "perm"),
    function("permute", positional=True, params={"dims": "perm"}),
    unpacked("expand", "sizes"),
    OpSpec("x.split", _split, ("Tensor.split",), layout="split"),
    function("split", layout="split"),
    OpSpec("x.chunk", lambda lib, x, chunks, dim: x.chunk(chunks, dim), ("Tensor.chunk",),
           params={"chunks": "chunks", "dim": "dim"}),
    function("chunk", params={"chunks": "chunks", "dim": "dim"}),
    method("flip", params={"dims": "dim_list"}),
    method("roll", params={"shifts": "small_int", "dims": "dim_opt"}),
    method("tril", params={"diagonal": "small_int"}),
    method("triu", params={"diagonal": "small_int"}),
    method("diagonal", params={"offset": "small_int", "dim1": "dim", "dim2": "dim"}),
    method("repeat_interleave", params={"repeats": "chunks", "dim": "dim_opt"}),
    unpacked("repeat", "sizes"),
    OpSpec("x.unflatten", lambda lib, x, dim, sizes: x.unflatten(dim, sizes),
           ("Tensor.unflatten",), layout="unflatten"),
    # ------------------------------------------------------ several tensors
    function("cat", layout="cat"),
    function("stack", layout="stack"),
    function("where", layout="where", scalars=True),
    OpSpec("x.where(cond, y)", lambda lib, c, x, y: x.where(c, y), ("Tensor.where",),
           layout="where"),
    method("masked_fill", layout="masked", params={"value": "scalar"}),
    OpSpec("x.masked_select", lambda lib, x, mask: x.masked_select(mask),
           ("Tensor.masked_select",), layout="masked"),
    function("matmul", layout="matmul"),
    *[function(name, layout="matmul") for name in ("mm", "bmm")],
    *[function(name, layout="vectors") for name in ("dot", "outer", "meshgrid")],
    OpSpec("einsum('i,j->ij')", lambda lib, *vs: lib.einsum("i,j->ij", *vs), ("einsum",),
           layout="vectors"),
    # linear algebra and statistics beyond API.md's list (gradwork.linalg, *_mean, dtypes)
    OpSpec("einsum('...ij,...jk')", lambda lib, a, b: lib.einsum("...ij,...jk", a, b),
           ("einsum",), layout="matmul"),
    OpSpec("einsum('...i->...')", lambda lib, x: lib.einsum("...i->...", x), ("einsum",)),
    OpSpec("einsum('ii')", lambda lib, x: lib.einsum("ii", x), ("einsum",)),
    # One dim or None, no correction: torch's backward of these reduces nothing for dim=(),
    # and differs where correction >= count (as x.var's, see known_discrepancies.txt).
    *[reduction(name, dim="dim_opt", function=True) for name in ("std_mean", "var_mean")],
    function("linalg.vector_norm", params={"ord": "exponent", "dim": "dims",
                                           "keepdim": "keepdim"}),
    function("linalg.norm", params={"dim": "dim_opt", "keepdim": "keepdim"}),
    OpSpec("linalg.matrix_norm(ord)", lambda lib, x, ord: lib.linalg.matrix_norm(x, ord),
           ("linalg.matrix_norm",), params={"ord": "small_int"}),
    OpSpec("linalg.matrix_norm('fro')", lambda lib, x, keepdim: lib.linalg.matrix_norm(
        x, keepdim=keepdim), ("linalg.matrix_norm",), params={"keepdim": "keepdim"}),
    method("half"),
    method("type_as", layout="pair"),
    OpSpec("x.gather", lambda lib, x, dim, index: x.gather(dim, index), ("Tensor.gather",),
           layout="gather"),
    function("gather", layout="gather"),
    OpSpec("x.index_select", lambda lib, x, dim, index: x.index_select(dim, index),
           ("Tensor.index_select",), layout="index_select"),
    function("index_select", layout="index_select"),
    OpSpec("x.scatter", _scatter("scatter"), ("Tensor.scatter",), layout="scatter"),
    OpSpec("x.scatter_add", _scatter("scatter_add"), ("Tensor.scatter_add",), layout="scatter"),
    OpSpec("x.index_add", _scatter("index_add"), ("Tensor.index_add",), layout="index_add"),
    function("nn.functional.pad", layout="pad"),
    # --------------------------------------------------------------- creation
    function("tensor", layout="data", grad=False),
    function("arange", layout="arange", grad=False),
    *[function(name, positional=True, layout="none", params={"size": "size"}, grad=False)
      for name in ("zeros", "ones")],
    function("full", positional=True, layout="none", params={"size": "size",
             "fill_value": "scalar"}, grad=False),
    function("linspace", layout="none", params={"start": "scalar", "end": "scalar",
             "steps": "small_int"}, grad=False),
    function("eye", layout="none", params={"n": "small_int", "m": "small_int"}, grad=False),
    *[function(name) for name in ("zeros_like", "ones_like")],
    function("full_like", params={"fill_value": "scalar"}),
]  # fmt: skip


# ------------------------------------------------------------------ in place
@dataclass(frozen=True)
class InplaceSpec:
    name: str
    call: Callable[..., Any]  # call(target, operand, **params) -> what the op returns
    requires: tuple[str, ...]
    operand: str = "other"  # "other" (a tensor or scalar), "value", "bounds", "none"
    dtypes: tuple[str, ...] = DTYPES  # dtypes of target and operand (floats when grad)


def _augmented(fn: Callable) -> Callable:
    def call(target, operand):
        target = fn(target, operand)  # Python's `target += operand`: rebinds the name
        return target

    return call


INPLACE: list[InplaceSpec] = [
    InplaceSpec("+=", _augmented(op.iadd), ("Tensor.__add__",)),
    InplaceSpec("-=", _augmented(op.isub), ("Tensor.__sub__",)),
    InplaceSpec("*=", _augmented(op.imul), ("Tensor.__mul__",)),
    InplaceSpec("/=", _augmented(op.itruediv), ("Tensor.__truediv__",)),
    *[InplaceSpec(label, _augmented(fn), (f"Tensor.{dunder}",))
      for label, fn, dunder in (("//=", op.ifloordiv, "__ifloordiv__"),
                                ("%=", op.imod, "__imod__"), ("&=", op.iand, "__iand__"),
                                ("|=", op.ior, "__ior__"), ("^=", op.ixor, "__ixor__"))],
    *[InplaceSpec(name, lambda t, o, name=name: getattr(t, name)(o), (f"Tensor.{name}",))
      for name in ("add_", "sub_", "mul_", "div_", "copy_")],
    InplaceSpec("clamp_", lambda t, o, min, max: t.clamp_(**supplied({"min": min, "max": max})),
                ("Tensor.clamp_",), operand="bounds"),
    InplaceSpec("zero_", lambda t, o: t.zero_(), ("Tensor.zero_",), operand="none"),
    InplaceSpec("fill_", lambda t, o: t.fill_(o), ("Tensor.fill_",), operand="value"),
]  # fmt: skip

INPLACE_MODES = ("plain", "leaf", "no_grad_leaf", "non_leaf")

# How the non-leaf target of an in-place op is made from a leaf x. Those that
# save their output for backward (exp, sigmoid, tanh, relu, sqrt, softmax)
# make torch's backward raise once the output is modified in place.
PRODUCERS: dict[str, Callable] = {
    "x * 2": lambda x: x * 2,
    "x + 1": lambda x: x + 1,
    "x * x": lambda x: x * x,
    "x ** 2": lambda x: x**2,
    "x.clone()": lambda x: x.clone(),
    "x.sin()": lambda x: x.sin(),
    "x.exp()": lambda x: x.exp(),
    "x.sigmoid()": lambda x: x.sigmoid(),
    "x.tanh()": lambda x: x.tanh(),
    "x.relu()": lambda x: x.relu(),
    "x.sqrt()": lambda x: x.sqrt(),
    "x.softmax(-1)": lambda x: x.softmax(-1),
}

# Every Tensor-section op of API.md, as a `requires` path: the meta-test fails
# when one of them has no table entry.
API_OPS = [
    *[f"Tensor.{dunder}" for _, _, dunder in BINARY_OPERATORS],
    *"Tensor.__matmul__ Tensor.__neg__ Tensor.__invert__".split(),
    *[f"Tensor.{name}" for name in (
        "sum mean var std amax amin max min argmax argmin prod exp log log1p sqrt abs sign "
        "clamp clip pow reciprocal sin cos relu sigmoid tanh softmax log_softmax logsumexp "
        "reshape view flatten squeeze unsqueeze transpose permute expand contiguous maximum "
        "minimum gather index_select cumsum cumprod sort argsort topk flip repeat "
        "repeat_interleave roll tril triu diag diagonal trace scatter scatter_add index_add "
        "nonzero masked_select masked_fill norm floor ceil round trunc tan asin acos atan "
        "atan2 sinh cosh asinh acosh atanh log2 log10 exp2 expm1 erf erfinv isnan isinf "
        "isfinite isclose logaddexp lerp fmod remainder float double long to clone unflatten"
    ).split()],
    *"matmul cat stack where allclose mm bmm dot outer einsum meshgrid result_type".split(),
    *"nn.functional.pad tensor zeros ones full zeros_like ones_like full_like arange".split(),
    *"linspace eye".split(),
    *[f"Tensor.{name}" for name in ("add_", "sub_", "mul_", "div_", "zero_", "fill_", "copy_",
                                    "clamp_")],
]  # fmt: skip

# Table entries whose op gradwork lacks, with the names it lacks.
MISSING: dict[str, list[str]] = {
    spec.name: missing(spec.requires) for spec in [*OPS, *INPLACE] if missing(spec.requires)
}


def skip_if_missing(name: str) -> None:
    """Skip the test of a table entry whose op gradwork lacks, naming what it lacks."""
    if name in MISSING:
        pytest.skip(f"gradwork lacks {', '.join(MISSING[name])} (the op is not implemented yet)")
