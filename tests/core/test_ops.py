"""Every primitive, through the Tensor API: float64 gradcheck always, torch parity when installed.

One table entry per case. `primitive` names the op the case exercises, so a
meta-test can fail when a primitive in `gradwork.ops.PRIMITIVES` has none.
"""

from __future__ import annotations

import numpy as np
import pytest

import gradwork as gw
from gradwork import ops
from gradwork.diagnose import gradcheck
from tests.core.case import Case, family_cases
from tests.helpers import assert_parity


def _set_into(a, index, value):
    """`t[index] = value` on a non-leaf copy: the same code runs in gradwork and torch."""
    out = a * 1
    out[index] = value
    return out * a


def _idx(values):
    return np.array(values, dtype=np.int64)


CASES = [
    # ---------------------------------------------------------- elementwise
    Case("add", ops.Add, lambda a, b: a + b, lambda a, b: a + b, ((3, 4), (3, 4))),
    Case("add broadcast", ops.Add, lambda a, b: a + b, lambda a, b: a + b, ((2, 3, 4), (4,))),
    Case("add keep-dim", ops.Add, lambda a, b: a + b, lambda a, b: a + b, ((3, 1), (1, 4))),
    Case("radd scalar", ops.Add, lambda a: 2.5 + a, lambda a: 2.5 + a, ((3,),)),
    Case("sub broadcast", ops.Sub, lambda a, b: a - b, lambda a, b: a - b, ((3, 4), (3, 1))),
    Case("rsub scalar", ops.Sub, lambda a: 1 - a, lambda a: 1 - a, ((3,),)),
    Case("mul broadcast", ops.Mul, lambda a, b: a * b, lambda a, b: a * b, ((2, 3), (2, 1))),
    Case("mul scalar", ops.Mul, lambda a: a * 3, lambda a: a * 3, ((4,),)),
    Case("div", ops.Div, lambda a, b: a / b, lambda a, b: a / b, ((3, 4), (4,)), low=0.5),
    Case("rdiv scalar", ops.Div, lambda a: 2 / a, lambda a: 2 / a, ((5,),), low=0.5),
    Case("reciprocal", ops.Div, lambda a: a.reciprocal(), lambda a: a.reciprocal(), ((5,),), 0.5),
    Case("neg", ops.Neg, lambda a: -a, lambda a: -a, ((3, 2),)),
    Case("pow scalar", ops.Pow, lambda a: a**3, lambda a: a**3, ((4,),)),
    Case("pow fractional", ops.Pow, lambda a: a**1.5, lambda a: a**1.5, ((4,),), low=0.2),
    Case("pow tensor", ops.Pow, lambda a, b: a**b, lambda a, b: a**b, ((3,), (3,)), low=0.2),
    Case("rpow", ops.Pow, lambda a: 2.0**a, lambda a: 2.0**a, ((4,),)),
    Case("exp", ops.Exp, lambda a: a.exp(), lambda a: a.exp(), ((3, 4),)),
    Case("log", ops.Log, lambda a: a.log(), lambda a: a.log(), ((3, 4),), low=0.1),
    Case("log1p", ops.Log1p, lambda a: a.log1p(), lambda a: a.log1p(), ((6,),), low=0.0),
    Case("sqrt", ops.Sqrt, lambda a: a.sqrt(), lambda a: a.sqrt(), ((6,),), low=0.1),
    Case("rsqrt", ops.Sqrt, lambda a: a.rsqrt(), lambda a: a.rsqrt(), ((6,),), low=0.1),
    Case("abs", ops.Abs, lambda a: a.abs(), lambda a: a.abs(), ((3, 4),)),
    Case("sign", ops.Sign, lambda a: a.sign() * a, lambda a: a.sign() * a, ((5,),)),
    Case("sin", ops.Sin, lambda a: a.sin(), lambda a: a.sin(), ((5,),)),
    Case("cos", ops.Cos, lambda a: a.cos(), lambda a: a.cos(), ((5,),)),
    Case("clamp", ops.Clamp, lambda a: a.clamp(-0.5, 0.5), lambda a: a.clamp(-0.5, 0.5), ((8,),)),
    Case("clamp min", ops.Clamp, lambda a: a.clamp(min=0.1), lambda a: a.clamp(min=0.1), ((8,),)),
    Case("clip max", ops.Clamp, lambda a: a.clip(max=0.2), lambda a: a.clip(max=0.2), ((8,),)),
    Case("relu", ops.Relu, lambda a: a.relu(), lambda a: a.relu(), ((3, 5),)),
    Case("sigmoid", ops.Sigmoid, lambda a: a.sigmoid(), lambda a: a.sigmoid(), ((3, 5),)),
    Case("tanh", ops.Tanh, lambda a: a.tanh(), lambda a: a.tanh(), ((3, 5),)),
    Case("maximum", ops.Maximum, gw.maximum, lambda a, b: a.maximum(b), ((3, 4), (4,))),
    Case("minimum", ops.Minimum, gw.minimum, lambda a, b: a.minimum(b), ((3, 4), (3, 1))),
    Case(
        "where",
        ops.Where,
        lambda a, b: gw.where(a > 0, a, b),
        lambda a, b: a.where(a > 0, b),
        ((3, 4), (4,)),
    ),
    Case(
        "masked_fill",
        ops.Where,
        lambda a: a.masked_fill(a < 0, 0.5),
        lambda a: a.masked_fill(a < 0, 0.5),
        ((3, 4),),
    ),
    # ----------------------------------------------------------- reductions
    Case("sum all", ops.Sum, lambda a: a.sum(), lambda a: a.sum(), ((3, 4),)),
    Case("sum dim", ops.Sum, lambda a: a.sum(1), lambda a: a.sum(1), ((3, 4, 2),)),
    Case(
        "sum dims keepdim",
        ops.Sum,
        lambda a: a.sum((0, 2), keepdim=True),
        lambda a: a.sum((0, 2), keepdim=True),
        ((3, 4, 2),),
    ),
    Case("mean", ops.Mean, lambda a: a.mean(), lambda a: a.mean(), ((3, 4),)),
    Case("mean dim", ops.Mean, lambda a: a.mean(-1, True), lambda a: a.mean(-1, True), ((3, 4),)),
    Case("var", ops.Mean, lambda a: a.var(1), lambda a: a.var(1), ((3, 5),)),
    Case(
        "var biased",
        ops.Mean,
        lambda a: a.var(0, unbiased=False),
        lambda a: a.var(0, unbiased=False),
        ((4, 3),),
    ),
    Case("std", ops.Sqrt, lambda a: a.std(), lambda a: a.std(), ((4, 3),)),
    Case("amax", ops.Amax, lambda a: a.amax(1), lambda a: a.amax(1), ((3, 4),)),
    Case("max all", ops.Amax, lambda a: a.max(), lambda a: a.max(), ((3, 4),)),
    Case("amin", ops.Amin, lambda a: a.amin(0, True), lambda a: a.amin(0, True), ((3, 4),)),
    Case("min all", ops.Amin, lambda a: a.min(), lambda a: a.min(), ((5,),)),
    Case("max dim", ops.Gather, lambda a: a.max(1)[0], lambda a: a.max(1)[0], ((3, 4),)),
    Case(
        "min dim keepdim",
        ops.Gather,
        lambda a: a.min(0, keepdim=True).values,
        lambda a: a.min(0, keepdim=True).values,
        ((3, 4),),
    ),
    Case("prod all", ops.Prod, lambda a: a.prod(), lambda a: a.prod(), ((2, 3),)),
    Case("prod dim", ops.Prod, lambda a: a.prod(1), lambda a: a.prod(1), ((3, 4),)),
    Case(
        "logsumexp",
        ops.LogSumExp,
        lambda a: a.logsumexp(1),
        lambda a: a.logsumexp(1),
        ((3, 4),),
    ),
    Case(
        "log_softmax",
        ops.LogSoftmax,
        lambda a: a.log_softmax(-1),
        lambda a: a.log_softmax(-1),
        ((3, 4),),
    ),
    Case("softmax", ops.LogSoftmax, lambda a: a.softmax(0), lambda a: a.softmax(0), ((3, 4),)),
    # -------------------------------------------------------------- movement
    Case("reshape", ops.Reshape, lambda a: a.reshape(4, 3), lambda a: a.reshape(4, 3), ((3, 4),)),
    Case("view -1", ops.Reshape, lambda a: a.view(-1), lambda a: a.view(-1), ((3, 4),)),
    Case("flatten", ops.Reshape, lambda a: a.flatten(1), lambda a: a.flatten(1), ((2, 3, 4),)),
    Case("squeeze", ops.Reshape, lambda a: a.squeeze(1), lambda a: a.squeeze(1), ((3, 1, 2),)),
    Case("unsqueeze", ops.Reshape, lambda a: a.unsqueeze(-1), lambda a: a.unsqueeze(-1), ((3,),)),
    Case(
        "transpose",
        ops.Permute,
        lambda a: a.transpose(0, 2),
        lambda a: a.transpose(0, 2),
        ((2, 3, 4),),
    ),
    Case(
        "permute",
        ops.Permute,
        lambda a: a.permute(2, 0, 1),
        lambda a: a.permute(2, 0, 1),
        ((2, 3, 4),),
    ),
    Case("T", ops.Permute, lambda a: a.T, lambda a: a.T, ((2, 3),)),
    Case(
        "expand",
        ops.Expand,
        lambda a: a.expand(2, 3, 4),
        lambda a: a.expand(2, 3, 4),
        ((3, 1),),
    ),
    Case("clone", ops.Cast, lambda a: a.clone() * a, lambda a: a.clone() * a, ((3,),)),
    Case(
        "contiguous",
        ops.Cast,
        lambda a: a.T.contiguous(),
        lambda a: a.T.contiguous(),
        ((3, 4),),
    ),
    Case("getitem int", ops.GetItem, lambda a: a[1], lambda a: a[1], ((3, 4),)),
    Case("getitem slice", ops.GetItem, lambda a: a[:, 1:3], lambda a: a[:, 1:3], ((3, 4),)),
    Case("getitem step", ops.GetItem, lambda a: a[::2, -1], lambda a: a[::2, -1], ((5, 4),)),
    Case("getitem none", ops.GetItem, lambda a: a[None, 0], lambda a: a[None, 0], ((3, 4),)),
    Case(
        "getitem repeated ints",
        ops.GetItem,
        lambda a: a[[0, 2, 0, 0]],
        lambda a: a[[0, 2, 0, 0]],
        ((3, 4),),
    ),
    Case(
        "getitem int arrays",
        ops.GetItem,
        lambda a: a[_idx([0, 1, 1]), _idx([2, 2, 0])],
        lambda a: a[[0, 1, 1], [2, 2, 0]],
        ((3, 4),),
    ),
    Case(
        "getitem int then arrays (torch's layout)",
        ops.GetItem,
        lambda a: a[1, :, _idx([2, 0, 1])],
        lambda a: a[1, :, [2, 0, 1]],
        ((2, 3, 4),),
    ),
    Case(
        "setitem slice",
        ops.SetItem,
        lambda a, b: _set_into(a, (0, slice(1, 3)), b),
        lambda a, b: _set_into(a, (0, slice(1, 3)), b),
        ((3, 4), (2,)),
    ),
    Case(
        "setitem int then arrays, broadcast value",
        ops.SetItem,
        lambda a, b: _set_into(a, (1, slice(None), _idx([0, 2])), b),
        lambda a, b: _set_into(a, (1, slice(None), [0, 2]), b),
        ((2, 3, 4), (1,)),
    ),
    Case(
        "getitem mask",
        ops.GetItem,
        lambda a: a[a > 0],
        lambda a: a[a > 0],
        ((4, 5),),
    ),
    Case(
        "index_select",
        ops.IndexSelect,
        lambda a: a.index_select(1, gw.tensor([2, 0, 2])),
        lambda a: a.index_select(1, __import__("torch").tensor([2, 0, 2])),
        ((3, 4),),
    ),
    Case(
        "gather",
        ops.Gather,
        lambda a: a.gather(1, gw.tensor([[0, 0], [3, 1], [2, 2]])),
        lambda a: a.gather(1, __import__("torch").tensor([[0, 0], [3, 1], [2, 2]])),
        ((3, 4),),
    ),
    Case(
        "pad constant",
        ops.ConstantPad,
        lambda a: gw.pad(a, (1, 2, 0, 1), value=0.5),
        lambda a: __import__("torch").nn.functional.pad(a, (1, 2, 0, 1), value=0.5),
        ((2, 3, 4),),
    ),
    Case(
        "pad reflect",
        ops.IndexSelect,
        lambda a: gw.pad(a, (2, 1), mode="reflect"),
        lambda a: __import__("torch").nn.functional.pad(a, (2, 1), mode="reflect"),
        ((2, 3, 4),),
    ),
    Case(
        "pad replicate",
        ops.IndexSelect,
        lambda a: gw.pad(a, (1, 2, 2, 0), mode="replicate"),
        lambda a: __import__("torch").nn.functional.pad(a, (1, 2, 2, 0), mode="replicate"),
        ((1, 2, 3, 4),),
    ),
    Case(
        "pad circular",
        ops.IndexSelect,
        lambda a: gw.pad(a, (1, 2), mode="circular"),
        lambda a: __import__("torch").nn.functional.pad(a, (1, 2), mode="circular"),
        ((1, 2, 4),),
    ),
    Case(
        "cat",
        ops.Cat,
        lambda a, b: gw.cat([a, b, a], dim=1),
        lambda a, b: __import__("torch").cat([a, b, a], dim=1),
        ((2, 3), (2, 1)),
    ),
    Case(
        "stack",
        ops.Stack,
        lambda a, b: gw.stack([a, b], dim=-1),
        lambda a, b: __import__("torch").stack([a, b], dim=-1),
        ((2, 3), (2, 3)),
    ),
    Case(
        "split",
        ops.GetItem,
        lambda a: a.split([1, 3], dim=1)[1] * 2 + a.split(2)[0].sum(),
        lambda a: a.split([1, 3], dim=1)[1] * 2 + a.split(2)[0].sum(),
        ((3, 4),),
    ),
    Case(
        "chunk",
        ops.GetItem,
        lambda a: a.chunk(3, 1)[2],
        lambda a: a.chunk(3, 1)[2],
        ((2, 7),),
    ),
    # ---------------------------------------------------------------- linalg
    Case("matmul 2d", ops.MatMul, lambda a, b: a @ b, lambda a, b: a @ b, ((3, 4), (4, 2))),
    Case("matmul batch", ops.MatMul, lambda a, b: a @ b, lambda a, b: a @ b, ((2, 3, 4), (4, 5))),
    Case(
        "matmul broadcast batch",
        ops.MatMul,
        lambda a, b: a @ b,
        lambda a, b: a @ b,
        ((2, 1, 3, 4), (3, 4, 2)),
    ),
    Case("matmul vec-mat", ops.MatMul, lambda a, b: a @ b, lambda a, b: a @ b, ((4,), (4, 3))),
    Case("matmul mat-vec", ops.MatMul, lambda a, b: a @ b, lambda a, b: a @ b, ((3, 4), (4,))),
    Case("matmul vec-vec", ops.MatMul, lambda a, b: a @ b, lambda a, b: a @ b, ((4,), (4,))),
    Case(
        "matmul vec-batch",
        ops.MatMul,
        lambda a, b: a @ b,
        lambda a, b: a @ b,
        ((4,), (2, 4, 3)),
    ),
    Case(
        "linear",
        ops.Linear,
        lambda x, w, b: ops.Linear.apply(x, w, b),
        lambda x, w, b: __import__("torch").nn.functional.linear(x, w, b),
        ((5, 3), (4, 3), (4,)),
    ),
    Case(
        "linear 3d no bias",
        ops.Linear,
        lambda x, w: ops.Linear.apply(x, w),
        lambda x, w: __import__("torch").nn.functional.linear(x, w),
        ((2, 5, 3), (4, 3)),
    ),
]
CASES += family_cases()  # tests/core/cases_<family>.py


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_gradcheck(case):
    gradcheck(case.ours, case.inputs())


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_torch_parity(case, torch):
    assert_parity(torch, case.ours, case.theirs, case.inputs(), atol=1e-9, rtol=1e-7)


# The core's op modules; other op files (conv, pooling, losses, ...) keep
# tables of their own next to their layers' tests.
# Every primitive in these modules needs a table entry (the nn-level fused ops
# have their own tables in tests/ops and tests/nn).
CORE_MODULES = {
    f"gradwork.ops.{name}"
    for name in ("elementwise", "reduce", "movement", "linalg", "pointwise", "scan")
}


def test_every_primitive_has_a_case():
    covered = {case.primitive for case in CASES}
    core = [cls for cls in ops.PRIMITIVES if cls.__module__ in CORE_MODULES]
    assert len(core) >= 40
    missing = [cls.__name__ for cls in core if cls not in covered]
    assert not missing, f"primitives without a test entry: {missing}"
