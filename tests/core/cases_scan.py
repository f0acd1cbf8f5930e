"""Table entries for scans, sorting, shape extras, selection and scatter (gradwork._tensor_scan).

Each runs a float64 gradcheck and a value + gradient comparison with torch.
Index tensors are built per library by `_ix`, so one lambda serves both.
"""

from __future__ import annotations

import numpy as np

import gradwork as gw
from gradwork import ops
from gradwork.ops import scan
from tests.core.case import Case


def _ix(like, values):
    """An int64 index tensor of the library `like` belongs to (gradwork or torch)."""
    if isinstance(like, gw.Tensor):
        return gw.tensor(np.array(values, dtype=np.int64))
    import torch

    return torch.tensor(values, dtype=torch.int64)


def _lib(like):
    if isinstance(like, gw.Tensor):
        return gw
    import torch

    return torch


def _same(name, primitive, fn, shapes, low=None):
    """A case whose gradwork and torch code are the same lambda."""
    return Case(name, primitive, fn, fn, shapes, low)


def _with_zeros(a):
    """`a` with some entries set to exactly 0 (a product's hard case), differentiably."""
    mask = _ix(a, [[1, 0, 1, 1], [0, 0, 1, 1], [1, 1, 1, 0]]) > 0
    return a * mask


def _cumprod_zeros(a):
    return _with_zeros(a).cumprod(1) + _with_zeros(a).cumprod(0)


def _scatter_prod_zeros(a, b):
    index = _ix(a, [[0, 1, 0, 1], [0, 0, 0, 0]])
    return _with_zeros(a).scatter_reduce(0, index, b * (b > 0), "prod")


SCATTER_INDEX = [[0, 1, 2, 0], [2, 2, 1, 0]]
# scatter with a repeated index keeps one write: torch's src gradient (a gather) then
# disagrees with the numeric one, so scatter's cases use distinct positions.
UNIQUE_INDEX = [[0, 1, 4, 3], [2, 3, 1, 0]]

CASES = [
    # ------------------------------------------------------------------ scans
    _same("cumsum", scan.CumSum, lambda a: a.cumsum(1), ((3, 4),)),
    _same("cumsum neg dim", scan.CumSum, lambda a: a.cumsum(-3), ((2, 3, 2),)),
    Case(
        "gw.cumsum",
        scan.CumSum,
        lambda a: gw.cumsum(a, 0),
        lambda a: __import__("torch").cumsum(a, 0),
        ((4,),),
    ),  # fmt: skip
    _same("cumsum 0-dim", scan.CumSum, lambda a: a.cumsum(0), ((),)),
    _same("cumprod", scan.CumProd, lambda a: a.cumprod(1), ((3, 4),)),
    _same("cumprod with zeros", scan.CumProd, _cumprod_zeros, ((3, 4),)),
    _same("cummax values", ops.Gather, lambda a: a.cummax(1).values, ((3, 5),)),
    _same("cummin values", ops.Gather, lambda a: a.cummin(0)[0], ((4, 3),)),
    # ---------------------------------------------------------------- sorting
    _same("sort", ops.Gather, lambda a: a.sort(1).values, ((3, 5),)),
    _same("sort descending", ops.Gather, lambda a: a.sort(0, descending=True)[0], ((4, 3),)),
    _same("topk", ops.Gather, lambda a: a.topk(2).values, ((3, 5),)),
    _same("topk smallest", ops.Gather, lambda a: a.topk(3, 0, largest=False)[0], ((4, 2),)),
    Case(
        "gw.sort",
        ops.Gather,
        lambda a: gw.sort(a, 0)[0],
        lambda a: __import__("torch").sort(a, 0)[0],
        ((5,),),
    ),  # fmt: skip
    # ------------------------------------------------------------------ shape
    _same("flip", ops.GetItem, lambda a: a.flip(0, 2), ((2, 3, 4),)),
    _same("flip list", ops.GetItem, lambda a: a.flip([-1]), ((3, 4),)),
    _same("roll", ops.Cat, lambda a: a.roll(1, 1), ((3, 4),)),
    _same("roll dims", ops.Cat, lambda a: a.roll((2, -1), (0, 1)), ((3, 4),)),
    _same("roll flat", ops.Cat, lambda a: a.roll(5), ((3, 4),)),
    _same("repeat", ops.Expand, lambda a: a.repeat(2, 1, 3), ((3, 2),)),
    _same("repeat_interleave", ops.IndexSelect, lambda a: a.repeat_interleave(2), ((2, 3),)),
    _same(
        "repeat_interleave dim",
        ops.IndexSelect,
        lambda a: a.repeat_interleave(_ix(a, [1, 0, 3]), dim=1),
        ((2, 3),),
    ),  # fmt: skip
    _same("tril", ops.Where, lambda a: a.tril(), ((4, 4),)),
    _same("triu batched offset", ops.Where, lambda a: a.triu(1), ((2, 3, 4),)),
    _same("tril negative", ops.Where, lambda a: a.tril(-1), ((3, 5),)),
    _same("diagonal", ops.GetItem, lambda a: a.diagonal(), ((3, 4),)),
    _same("diagonal offset dims", ops.GetItem, lambda a: a.diagonal(-1, 2, 0), ((3, 2, 4),)),
    _same("diag of vector", ops.SetItem, lambda a: a.diag(1), ((3,),)),
    _same("diag of matrix", ops.GetItem, lambda a: a.diag(-1), ((3, 4),)),
    _same("trace", ops.GetItem, lambda a: a.trace(), ((3, 4),)),
    _same("unflatten", ops.Reshape, lambda a: a.unflatten(1, (2, -1)), ((3, 6),)),
    _same("unfold", ops.IndexSelect, lambda a: a.unfold(1, 3, 2), ((2, 7, 3),)),
    Case(
        "meshgrid xy",
        ops.Expand,
        lambda a, b: gw.meshgrid(a, b, indexing="xy")[0] * gw.meshgrid(a, b, indexing="xy")[1],
        lambda a, b: (lambda g: g[0] * g[1])(__import__("torch").meshgrid(a, b, indexing="xy")),
        ((3,), (4,)),
    ),  # fmt: skip
    # ------------------------------------------------------ selection/scatter
    _same("masked_select", ops.GetItem, lambda a: a.masked_select(a > 0), ((3, 4),)),
    _same(
        "masked_select broadcast",
        ops.GetItem,
        lambda a, b: a.masked_select(b > 0),
        ((3, 1), (2, 3, 4)),
    ),  # fmt: skip
    _same(
        "scatter",
        scan.Scatter,
        lambda a, b: a.scatter(1, _ix(a, UNIQUE_INDEX), b),
        ((2, 5), (2, 4)),
    ),  # fmt: skip
    _same(
        "scatter value", scan.Scatter, lambda a: a.scatter(0, _ix(a, [[1, 0, 1]]), 2.5), ((2, 3),)
    ),  # fmt: skip
    _same(
        "scatter_add",
        scan.ScatterReduce,
        lambda a, b: a.scatter_add(1, _ix(a, SCATTER_INDEX), b),
        ((2, 5), (2, 4)),
    ),  # fmt: skip
    *[
        _same(
            f"scatter_reduce {reduce} include_self={include}",
            scan.ScatterReduce,
            lambda a, b, r=reduce, i=include: a.scatter_reduce(
                0, _ix(a, [[0, 1, 0, 1], [2, 0, 0, 1]]), b, r, include_self=i
            ),
            ((3, 4), (2, 4)),
        )
        for reduce in ("sum", "prod", "mean", "amax", "amin")
        for include in (True, False)
    ],  # fmt: skip
    _same(
        "scatter_reduce prod zeros", scan.ScatterReduce, _scatter_prod_zeros, ((3, 4), (2, 4))
    ),  # fmt: skip
    _same(
        "scatter_reduce amax ties",
        scan.ScatterReduce,
        lambda a, b: a.scatter_reduce(0, _ix(a, [[0, 0, 1]]), b.expand(1, 3), "amax"),
        ((2, 3), (1, 1)),
    ),  # fmt: skip
    _same(
        "index_add",
        scan.ScatterReduce,
        lambda a, b: a.index_add(1, _ix(a, [0, 2, 0]), b, alpha=2.0),
        ((2, 4), (2, 3)),
    ),
    Case(
        "gw.index_add",
        scan.ScatterReduce,
        lambda a, b: gw.index_add(a, 0, _ix(a, [1, 1]), b),
        lambda a, b: __import__("torch").index_add(a, 0, _ix(a, [1, 1]), b),
        ((3, 2), (2, 2)),
    ),  # fmt: skip
    _same(
        "scatter_ non-leaf",
        scan.Scatter,
        lambda a, b: (a * 1).scatter_(0, _ix(a, [[1, 0]]), b),
        ((2, 2), (1, 2)),
    ),  # fmt: skip
    _same(
        "index_add_ non-leaf",
        scan.ScatterReduce,
        lambda a, b: (a * 1).index_add_(0, _ix(a, [1]), b) * a,
        ((2, 2), (1, 2)),
    ),  # fmt: skip
    _same(
        "masked_fill_ non-leaf", ops.Where, lambda a: (a * 2).masked_fill_(a > 0, 1.0), ((3, 3),)
    ),  # fmt: skip
]
