"""Pointwise math beyond the table: operators on ints and bools, errors, edge gradients.

Each expression runs in gradwork and in torch (when installed) and must give
the same values and dtype, or the same exception class.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import gradwork as gw
from tests.helpers import to_numpy

INTS = [-7, 7, 3, 0, -1]
FLOATS = [-7.5, 7.5, 3.0, -0.0, 2.25]
BOOLS = [True, False, True, False, True]


def _operands(lib):
    return {
        "i": lib.tensor(INTS),
        "j": lib.tensor([2, -3, 5, 4, -2]),
        "f": lib.tensor(FLOATS),
        "g": lib.tensor([2.0, -0.5, 1.5, 4.0, -2.0]),
        "b": lib.tensor(BOOLS),
        "c": lib.tensor([True, True, False, False, True]),
        "i32": lib.tensor(INTS, dtype=lib.int32),
    }


VALUE_EXPRESSIONS = [
    "i // j", "i // 2", "i // -2", "i // 2.5", "7 // j", "f // g", "f // 2", "-3.5 // g",
    "i % j", "i % -3", "f % g", "f % -2", "2.5 % g", "i32 % 2", "i32 // j",
    "b & c", "b | c", "b ^ c", "~b", "i & j", "i | 3", "i ^ j", "~i", "5 & j", "True ^ b",
    "b | 1", "i32 & j", "i & b",
    "i.div(j, rounding_mode='trunc')", "i.div(j, rounding_mode='floor')",
    "f.div(g, rounding_mode='trunc')", "f.div(2, rounding_mode='floor')", "i.div(j)",
    "i32.div(2, rounding_mode='trunc')", "i.divide(2.0, rounding_mode='floor')",
    "i.fmod(j)", "f.fmod(g)", "i.fmod(2.5)", "i.remainder(j)", "f.remainder(-1.5)",
    "f.floor()", "f.ceil()", "f.trunc()", "f.round()", "f.frac()", "i.floor()", "i.round()",
    "(f * 1.2345).round(decimals=2)", "(f * 100).round(decimals=-1)",
    "i.tan()", "b.exp2()", "i.log2()", "b.log10()", "i.expm1()", "i.erf()", "i.erfc()",
    "f.sinh()", "i.cosh()", "f.asinh()", "f.atan()", "i.atan2(j)", "b.atan2(i)",
    "(f / 8).asin()", "(f / 8).acos()", "(f / 8).atanh()", "(f.abs() + 1).acosh()",
    "(f / 8).erfinv()", "f.hypot(g)", "f.logaddexp(g)", "f.logaddexp2(g)",
    "f.isinf()", "i.isinf()", "f.isposinf()", "i.isneginf()", "b.isposinf()",
    "f.isclose(g)", "i.isclose(j, atol=3)", "b.isclose(c)", "f.isclose(f + 1e-6)",
    "i.logical_and(f)", "f.logical_or(b)", "i.logical_xor(j)", "f.logical_not()",
    "i.bitwise_and(j)", "b.bitwise_or(c)", "i.bitwise_xor(3)", "b.bitwise_not()",
    "f.lerp(g, 0.25)", "f.lerp(g, 0.75)", "f.lerp(g, g / 4)", "i.floor_divide(j)",
]  # fmt: skip


def _evaluate(lib, expression):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # NumPy's divide-by-zero warnings must not leak
        return eval(expression, {}, _operands(lib))  # noqa: S307 - our own expressions


@pytest.mark.parametrize("expression", VALUE_EXPRESSIONS)
def test_values_and_dtypes_match_torch(expression, torch):
    ours, theirs = _evaluate(gw, expression), _evaluate(torch, expression)
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
    np.testing.assert_allclose(to_numpy(ours), theirs.numpy(), rtol=1e-6, atol=1e-6)


ERROR_EXPRESSIONS = [
    "i // 0", "i % (j * 0)", "i.fmod(0)", "i.div(0, rounding_mode='trunc')", "b // c", "b % c",
    "f & g", "i & 1.5", "~f", "f.bitwise_not()", "b.floor()", "b.round()", "i.round(decimals=0)",
    "i.frac()", "f.round(decimals=1.5)", "i.div(2, rounding_mode='down')",
    "i.logaddexp(j)", "i.hypot(j)", "i.lerp(j, 0.5)", "f.lerp(f.double(), 0.5)",
    "f.isclose(f.double())", "i.isclose(f)", "f.isclose(1.0)", "f.isclose(g, rtol=-1)",
    "f.isclose(g, atol=-1)", "f[:2] // g", "i[:2] & j", "b[:2].logical_and(c)",
    "f[:2].isclose(g)",
]  # fmt: skip


@pytest.mark.parametrize("expression", ERROR_EXPRESSIONS)
def test_errors_match_torch(expression, torch):
    with pytest.raises(Exception) as theirs:
        _evaluate(torch, expression)
    expected = next(c for c in type(theirs.value).__mro__ if c in (TypeError, RuntimeError))
    with pytest.raises(expected):
        _evaluate(gw, expression)


def _gradients(lib, call, *values):
    leaves = [lib.tensor(v, dtype=lib.float64, requires_grad=True) for v in values]
    call(*leaves).sum().backward()
    return [to_numpy(leaf.grad) for leaf in leaves]


INF = float("inf")
EDGE_GRADIENTS = [
    ("round at half and inf", lambda a: a.round(), [[0.5, 1.5, INF, np.nan]]),
    ("floor at an integer", lambda a: a.floor() + a.ceil() + a.trunc(), [[1.0, -2.0, INF]]),
    ("frac", lambda a: a.frac(), [[0.5, -1.5, INF]]),
    ("div floor by zero", lambda a, b: a.div(b, rounding_mode="floor"), [[1.5, 2], [0.0, 1]]),
    ("remainder", lambda a, b: a % b, [[1.5, -3, 3, INF], [0.0, 2, INF, 2]]),
    ("fmod", lambda a, b: a.fmod(b), [[1.5, -3.5, 3, 5], [0.0, 2, INF, -2]]),
    ("asin at the ends", lambda a: a.asin() + a.acos(), [[1.0, -1.0, 2.0]]),
    ("acosh at 1", lambda a: a.acosh(), [[1.0, 0.5, 2.0]]),
    ("atanh", lambda a: a.atanh(), [[1.0, 2.0, 0.5]]),
    ("erfinv at the ends", lambda a: a.erfinv(), [[1.0, -1.0, 0.0, 0.5, 2.0]]),
    ("logaddexp at infinities", lambda a, b: a.logaddexp(b), [[INF, -INF, 1.0], [1.0, -INF, INF]]),
    ("logaddexp2", lambda a, b: a.logaddexp2(b), [[INF, -INF, 1.0], [1.0, -INF, 2.0]]),
    ("hypot at the origin", lambda a, b: a.hypot(b), [[0.0, 3.0], [0.0, 4.0]]),
    ("atan2 at the origin", lambda a, b: a.atan2(b), [[0.0, 1.0], [0.0, 0.0]]),
    ("lerp", lambda a, b, w: a.lerp(b, w), [[1.0, 2.0], [3.0, 5.0], [0.2, 0.7]]),
    ("lerp from inf", lambda a, b: a.lerp(b, 2.0), [[INF, 1.0], [0.0, 2.0]]),
    ("log2 at 0", lambda a: a.log2() + a.log10(), [[0.0, 2.0]]),
]  # fmt: skip


@pytest.mark.parametrize("name, call, values", EDGE_GRADIENTS, ids=[e[0] for e in EDGE_GRADIENTS])
def test_edge_gradients_match_torch(name, call, values, torch):
    ours = _gradients(gw, call, *values)
    for got, expected in zip(ours, _gradients(torch, call, *values), strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-12)


@pytest.mark.parametrize(
    "call", [lambda a: a // 2, lambda a: a.floor_divide(a), lambda a: 2.5 % a], ids=str
)
def test_ops_torch_cannot_differentiate_raise_in_backward(call):
    x = gw.tensor([1.5, 2.5], requires_grad=True)
    out = call(x)
    assert out.requires_grad
    with pytest.raises(RuntimeError, match="derivative for aten::"):
        out.sum().backward()


def test_floor_division_rounds_the_exact_quotient():
    # floor(1 / 0.1) is 10; the exact quotient 9.99... rounds down to 9 (Python, torch).
    assert (gw.tensor(1.0, dtype=gw.float64) // 0.1).item() == 1.0 // 0.1 == 9.0
    assert (gw.tensor([-7, 7]) % 3).tolist() == [-7 % 3, 7 % 3]


def test_log2_and_log10_are_exact_at_powers():
    powers = gw.arange(-20, 20).double()
    assert gw.log2(2.0**powers).tolist() == powers.tolist()
    assert gw.log10(gw.tensor([1e-3, 1.0, 1e3], dtype=gw.float64)).tolist() == [-3.0, 0.0, 3.0]


def test_allclose_returns_a_python_bool_and_isclose_handles_nan_and_inf():
    a = gw.tensor([1.0, float("nan"), float("inf")])
    assert gw.allclose(a[:1], a[:1] + 1e-7) is True
    assert gw.allclose(a, a) is False  # NaN is not equal to itself ...
    assert gw.allclose(a, a, equal_nan=True) is True  # ... unless asked
    assert gw.isclose(a, a).tolist() == [True, False, True]
    assert gw.isclose(a, -a).tolist() == [False, False, False]


@pytest.mark.parametrize(
    "expression, expected",
    [("x //= 4", [1, 1, -2]), ("x %= 4", [1, 2, 1]), ("x &= 6", [4, 6, 0]),
     ("x |= 1", [5, 7, -7]), ("x ^= 1", [4, 7, -8])],
)  # fmt: skip
def test_inplace_operators_write_into_the_tensor(expression, expected):
    x = gw.tensor([5, 6, -7])
    alias = x.detach()
    namespace = {"x": x}
    exec(expression, {}, namespace)  # noqa: S102 - our own statements
    assert namespace["x"] is x
    assert alias.tolist() == expected


def test_inplace_operators_keep_the_dtype():
    x = gw.tensor([5, 6])
    with pytest.raises(RuntimeError, match="can't be cast"):
        x //= 2.5
    b = gw.tensor([True, False])
    b &= gw.tensor([True, True])
    assert b.dtype == gw.bool and b.tolist() == [True, False]


def test_function_forms_and_aliases():
    x = gw.tensor([0.25, -1.5])
    assert gw.floor(x).tolist() == [0.0, -2.0]
    assert gw.round(x.double(), decimals=1).tolist() == [0.2, -1.5]
    assert gw.remainder(x, 1).tolist() == [0.25, 0.5]
    assert gw.arctan2(x, x).tolist() == gw.atan2(x, x).tolist()
    assert gw.fix(x).tolist() == [0.0, -1.0]
    assert gw.div(gw.tensor([7]), 2, rounding_mode="floor").tolist() == [3]
    assert gw.divide(x, 2).tolist() == [0.125, -0.75]
    assert gw.logical_not(x).tolist() == [False, False]


def test_no_numpy_warnings_on_domain_edges():
    x = gw.tensor([2.0, -1.0, 0.0, 1.0, 1e30, float("inf")], requires_grad=True)
    ops = [gw.asin, gw.acos, gw.acosh, gw.atanh, gw.erfinv, gw.log2, gw.sinh, gw.cosh, gw.expm1,
           gw.tan, lambda t: t // 0.0, lambda t: t % 0.0, lambda t: t.fmod(0.0),
           lambda t: t.hypot(t), lambda t: t.logaddexp(-t), lambda t: t.atan2(t)]  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch is silent here; so must NumPy be
        for op in ops:
            out = op(x)
            if op not in (ops[10],):  # `//` has no derivative (torch)
                out.backward(gw.ones_like(out))
            x.grad = None
