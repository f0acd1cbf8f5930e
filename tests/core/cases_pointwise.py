"""Table entries for the pointwise math family (_tensor_pointwise.py, ops/pointwise.py).

Inputs are float64 standard normals (above `low` when given); ops with a
narrow domain (asin, atanh, erfinv) take `tanh(a) * 0.9`, in both libraries.
"""

from __future__ import annotations

from gradwork import ops
from gradwork.ops import pointwise
from tests.core.case import Case


def _same(call):
    """The same expression in gradwork and torch: (ours, theirs)."""
    return call, call


def _unary(name, primitive, low=None, inner=None, shape=(3, 4)):
    """`a.name()`, or `inner(a).name()` to keep the input in the op's domain."""
    if inner is None:
        return Case(name, primitive, *_same(lambda a: getattr(a, name)()), (shape,), low)
    return Case(name, primitive, *_same(lambda a: getattr(inner(a), name)()), (shape,), low)


def _inside_one(a):
    return a.tanh() * 0.9


CASES = [
    # -------------------------------------------------------------- rounding
    _unary("floor", pointwise.Round),
    _unary("ceil", pointwise.Round),
    _unary("trunc", pointwise.Round),
    _unary("round", pointwise.Round),
    Case("round decimals", pointwise.Round, *_same(lambda a: a.round(decimals=2)), ((5,),)),
    Case(
        "round negative decimals",
        pointwise.Round,
        *_same(lambda a: (a * 100).round(decimals=-1)),
        ((5,),),
    ),  # fmt: skip
    _unary("frac", pointwise.Round),
    # ------------------------------------------------ division and remainder
    Case(
        "div floor",
        pointwise.DivRound,
        *_same(lambda a, b: a.div(b, rounding_mode="floor")),
        ((3, 4), (4,)),
        0.5,
    ),  # fmt: skip
    Case(
        "div trunc",
        pointwise.DivRound,
        *_same(lambda a, b: (a - 1.7).div(b, rounding_mode="trunc")),
        ((3, 4), (3, 1)),
        0.5,
    ),  # fmt: skip
    Case(
        "remainder", pointwise.Remainder, *_same(lambda a, b: (a - 1.7) % b), ((3, 4), (4,)), 0.5
    ),  # fmt: skip
    Case(
        "remainder negative divisor",
        pointwise.Remainder,
        *_same(lambda a, b: a.remainder(-b)),
        ((3, 4), (4,)),
        0.5,
    ),  # fmt: skip
    Case("rmod 0-dim", pointwise.Remainder, *_same(lambda a, b: b.sum() % a), ((5,), (2,)), 0.5),
    Case("fmod", pointwise.Fmod, *_same(lambda a, b: (a - 1.7).fmod(b)), ((3, 4), (3, 1)), 0.5),
    Case("fmod scalar", pointwise.Fmod, *_same(lambda a: a.fmod(-0.7)), ((6,),)),
    # --------------------------------------------- trigonometry, hyperbolic
    _unary("tan", pointwise.Tan),
    _unary("asin", pointwise.Asin, inner=_inside_one),
    _unary("acos", pointwise.Acos, inner=_inside_one),
    _unary("atan", pointwise.Atan),
    Case("atan2", pointwise.Atan2, *_same(lambda a, b: a.atan2(b)), ((3, 4), (4,))),
    _unary("sinh", pointwise.Sinh),
    _unary("cosh", pointwise.Cosh),
    _unary("asinh", pointwise.Asinh),
    _unary("acosh", pointwise.Acosh, low=1.1),
    _unary("atanh", pointwise.Atanh, inner=_inside_one),
    Case("hypot", pointwise.Hypot, *_same(lambda a, b: a.hypot(b)), ((3, 4), (3, 1))),
    # -------------------------------------------- exponentials, logarithms
    _unary("log2", pointwise.LogBase, low=0.1),
    _unary("log10", pointwise.LogBase, low=0.1),
    _unary("exp2", ops.Pow),
    _unary("expm1", pointwise.Expm1),
    Case("logaddexp", pointwise.LogAddExp, *_same(lambda a, b: a.logaddexp(b)), ((3, 4), (4,))),
    Case(
        "logaddexp2", pointwise.LogAddExp, *_same(lambda a, b: a.logaddexp2(b)), ((3, 4), (3, 1))
    ),  # fmt: skip
    _unary("erf", ops.Erf),
    _unary("erfc", ops.Erf),
    _unary("erfinv", pointwise.Erfinv, inner=_inside_one),
    Case("lerp scalar weight", ops.Sub, *_same(lambda a, b: a.lerp(b, 0.3)), ((3, 4), (4,))),
    Case(
        "lerp tensor weight", ops.Sub, *_same(lambda a, b, w: a.lerp(b, w)), ((3, 4), (3, 4), (4,))
    ),  # fmt: skip
]
