"""Emitters for the movement primitives (reshape, permute, indexing, cat, pad, ...) and
scaled dot-product attention; registered in `_ops.OPS` like the arithmetic ones."""

from __future__ import annotations

from typing import Any

import numpy as np

from gradwork import _arrays, ops
from gradwork.onnx._graph import INT64_MAX, Call, Graph, onnx_type, same
from gradwork.onnx._ops import OPS, dtype_of, emits

__all__ = ["OPS"]


# -- movement -----------------------------------------------------------------------
@emits(ops.Reshape)
def reshape(g: Graph, c: Call, out: Any) -> str:
    first, second = c.both("shape")
    return g.node("Reshape", [c.name("a"), g.shape(first, second, infer=True)])


@emits(ops.Expand)
def expand(g: Graph, c: Call, out: Any) -> str:
    first, second = c.both("shape")
    return g.node("Expand", [c.name("a"), g.shape(first, second)])


@emits(ops.Permute)
def permute(g: Graph, c: Call, out: Any) -> str:
    return g.node("Transpose", [c.name("a")], perm=[int(d) for d in c["dims"]])


@emits(ops.Cast)
def cast(g: Graph, c: Call, out: Any) -> str:
    if c.array("a").dtype == dtype_of(out):
        return g.node("Identity", [c.name("a")])
    return g.node("Cast", [c.name("a")], to=onnx_type(dtype_of(out)))


@emits(ops.Cat)
def cat(g: Graph, c: Call, out: Any) -> str:
    return g.node("Concat", c.names("arrays", dtype_of(out)), axis=int(c["dim"]))


@emits(ops.Stack)
def stack(g: Graph, c: Call, out: Any) -> str:
    dim = int(c["dim"]) % out.ndim
    parts = [
        g.node("Unsqueeze", [name, g.ints([dim])]) for name in c.names("arrays", dtype_of(out))
    ]
    return g.node("Concat", parts, axis=dim)


@emits(ops.ConstantPad)
def constant_pad(g: Graph, c: Call, out: Any) -> str:
    widths = [(int(lo), int(hi)) for lo, hi in c["widths"]]
    pads = [lo for lo, _ in widths] + [hi for _, hi in widths]
    value = g.const(c["value"], dtype_of(out))
    return g.node("Pad", [c.name("a"), g.ints(pads), value], mode="constant")


@emits(ops.IndexSelect)
def index_select(g: Graph, c: Call, out: Any) -> str:
    return g.node("Gather", [c.name("a"), c.name("index", np.int64)], axis=int(c["dim"]))


@emits(ops.Gather)
def gather(g: Graph, c: Call, out: Any) -> str:
    if c.array("index").shape != c.array("a").shape and c.array("index").ndim:
        trim = [slice(0, n) for n in c.array("index").shape]
        source = _index(g, c.name("a"), tuple(trim), tuple(trim), c.array("a").ndim)
    else:
        source = c.name("a")
    return g.node("GatherElements", [source, c.name("index", np.int64)], axis=int(c["dim"]))


@emits(ops.GetItem)
def get_item(g: Graph, c: Call, out: Any) -> str:
    index, index2 = c.both("index")
    x = _index(g, c.name("a"), index, index2, c.array("a").ndim)
    if c["then"] is not None:
        x = _index(
            g, x, c["then"], c["then"], np.asarray(_arrays.to_host(c.array("a")[index])).ndim
        )
    return x


def _index(g: Graph, x: str, index: Any, index2: Any, ndim: int) -> str:
    """NumPy basic indexing (ints, slices, None) plus one integer array, as ONNX nodes.

    `index2` is the index of the second trace: a slice end that follows a dynamic
    axis (`pe[:length]`) is read at run time.
    """
    items, items2 = (_items(i, ndim) for i in (index, index2))
    if len(items) != len(items2):
        raise g.fail("the index changed with the input's size")
    if sum(isinstance(i, np.ndarray) for i in items) > 1:
        raise g.fail("indexing with several index arrays at once has no ONNX mapping here")
    axis = 0
    for item, item2 in zip(items, items2, strict=True):
        if isinstance(item, slice) and isinstance(item2, slice):
            x = _slice(g, x, item, item2, axis)
            axis += 1
            continue
        if not same(item, item2):
            raise g.fail(
                f"index {item!r} changed with the input's size (then {item2!r}); keep that "
                "axis static (leave it out of dynamic_axes)"
            )
        if item is None:
            x = g.node("Unsqueeze", [x, g.ints([axis])])
            axis += 1
        elif isinstance(item, np.ndarray) and item.dtype == np.bool_:
            raise g.fail("a boolean mask index gives a data-dependent shape; use torch.where")
        elif isinstance(item, np.ndarray):
            x = g.node("Gather", [x, g.const(item.astype(np.int64))], axis=axis)
            axis += item.ndim
        elif isinstance(item, int | np.integer):
            x = g.node("Gather", [x, g.const(np.int64(item))], axis=axis)
        else:
            raise g.fail(f"index item {item!r} has no ONNX mapping")
    return x


def _items(index: Any, ndim: int) -> tuple:
    items = index if isinstance(index, tuple) else (index,)
    if any(item is Ellipsis for item in items):
        used = sum(item is not None and item is not Ellipsis for item in items)
        at = next(i for i, item in enumerate(items) if item is Ellipsis)
        items = items[:at] + (slice(None),) * (ndim - used) + items[at + 1 :]
    return items


def _slice(g: Graph, x: str, item: slice, item2: slice, axis: int) -> str:
    step = item.step or 1
    start = (0 if step > 0 else -1) if item.start is None else item.start
    stop = item.stop
    if (item.start, item.step) != (item2.start, item2.step):
        raise g.fail(f"slice {item} changed with the input's size (then {item2})")
    if stop == item2.stop:
        if (start, stop, step) == (0, None, 1):
            return x
        # an open end: past the last element (or before the first, going backwards)
        end = g.ints([(INT64_MAX if step > 0 else -INT64_MAX - 1) if stop is None else stop])
    else:
        end = g.dim(stop, item2.stop) if None not in (stop, item2.stop) else None
        if end is None:
            raise g.fail(
                f"slice end {stop} changed with the input's size (then {item2.stop}) but "
                "matches no dynamic axis of an input; keep that axis static (leave it out "
                "of dynamic_axes)"
            )
    return g.node("Slice", [x, g.ints([start]), end, g.ints([axis]), g.ints([step])])


@emits(ops.ScaledDotProductAttention)
def scaled_dot_product_attention(g: Graph, c: Call, out: Any) -> str:
    if c["gqa_repeats"] is not None or c["dropout_p"] > 0:
        raise g.fail("attention with dropout or grouped-query heads can't be exported")
    dtype = dtype_of(out)
    if c.first.get("key") is None:  # packed self-attention: query is q, k, v stacked
        stacked = c.name("query")
        query, key, value = (
            g.node("Gather", [stacked, g.const(np.int64(i))], axis=0) for i in range(3)
        )
        ndim = c.array("query").ndim - 1
    else:
        query, key, value = c.name("query"), c.name("key"), c.name("value")
        ndim = c.array("key").ndim
    key = g.node("Transpose", [key], perm=_swap_last(ndim))
    scores = g.node("Mul", [g.node("MatMul", [query, key]), g.const(c["scale"], dtype)])
    allowed = None
    if c.first["mask"] is not None and c.array("mask").dtype == np.bool_:
        allowed = c.name("mask")
    elif c.first["mask"] is not None:
        scores = g.node("Add", [scores, c.name("mask", dtype)])
    if c["is_causal"]:
        shape = g.node("Shape", [scores], start=-2)
        ones = g.node("ConstantOfShape", [shape], value=_tensor(np.ones(1, dtype)))
        lower = g.node("Cast", [g.node("Trilu", [ones], upper=0)], to=onnx_type(np.bool_))
        allowed = lower if allowed is None else g.node("And", [allowed, lower])
    if allowed is not None:
        scores = g.node("Where", [allowed, scores, g.const(-np.inf, dtype)])
    weights = g.node("Softmax", [scores], axis=-1)
    # a row with every position masked: zeros, as gradwork (and torch's CPU kernel) give
    weights = g.node("Where", [g.node("IsNaN", [weights]), g.const(0, dtype), weights])
    return g.node("MatMul", [weights, value])


def _swap_last(ndim: int) -> list[int]:
    return list(range(ndim - 2)) + [ndim - 1, ndim - 2]


def _tensor(array: np.ndarray) -> Any:
    from onnx import numpy_helper

    return numpy_helper.from_array(array, "value")
