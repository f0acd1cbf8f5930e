"""Operand layouts: an op's tensors and the params that depend on them, drawn together.

The op table names a layout per op ("pair", "matmul", "gather", ...); `cases`
draws it, then each param the table lists by kind (strategies.PARAM_KINDS).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tests.fuzz.compare import Case
from tests.fuzz.strategies import (
    FLOATS,
    PARAM_KINDS,
    arrays,
    clamp_bounds,
    dims,
    optional,
    python_scalars,
    rarely,
    reshape_targets,
    shapes,
)

Layout = Callable[[Any], st.SearchStrategy]


@st.composite
def cases(draw: Callable, spec: Any) -> Case:
    """A Case for an op-table entry: its layout, then its params."""
    operands, params = draw(LAYOUTS[spec.layout](spec))
    shape = _first_shape(operands)
    for name, kind in spec.params.items():
        params[name] = draw(PARAM_KINDS[kind](shape))
    return Case(operands, params)


def _first_shape(operands: list) -> tuple[int, ...]:
    for x in operands:
        if isinstance(x, np.ndarray):
            return x.shape
        if isinstance(x, list) and x and isinstance(x[0], np.ndarray):
            return x[0].shape
    return ()


@st.composite
def broadcastable_to(draw: Callable, shape: tuple[int, ...]) -> tuple[int, ...]:
    """A shape that broadcasts to `shape` (a suffix, some sizes 1); any shape rarely."""
    if rarely(draw, 10):
        return draw(shapes())
    keep = draw(st.integers(0, len(shape)))
    return tuple(1 if draw(st.booleans()) else n for n in shape[len(shape) - keep :])


# --------------------------------------------------------------- elementwise
@st.composite
def one(draw: Callable, spec: Any) -> tuple[list, dict]:
    return [draw(arrays(allowed=spec.dtypes))], {}


@st.composite
def pair(draw: Callable, spec: Any) -> tuple[list, dict]:
    """Two broadcastable operands; sometimes a 0-dim one, a Python scalar, or a mismatch."""
    found = draw(
        hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=1, max_dims=4, max_side=4)
    )
    left, right = (list(shape) for shape in found.input_shapes)
    if rarely(draw, 4):
        # A 0-dim tensor beside a dimensioned one: it must not widen the result's dtype.
        for side in draw(st.sampled_from([[left], [right], [left, right]])):
            side.clear()
    elif rarely(draw, 10):
        left[-1], right[-1] = 2, 3  # not broadcastable: RuntimeError in torch
    elif rarely(draw, 10):
        _empty_dim(draw, left, right)
    operands = [
        draw(arrays(tuple(left), allowed=spec.dtypes)),
        draw(arrays(tuple(right), allowed=spec.dtypes)),
    ]
    if spec.scalars and rarely(draw, 3):
        operands[draw(st.integers(0, 1))] = draw(python_scalars())
    return operands, {}


def _empty_dim(draw: Callable, left: list[int], right: list[int]) -> None:
    """Make one aligned dim empty, keeping the pair broadcastable (1 broadcasts to 0)."""
    position = -draw(st.integers(1, max(len(left), len(right))))
    holders = [shape for shape in (left, right) if len(shape) >= -position]
    for shape in [s for s in holders if s[position] != 1] or holders[:1]:
        shape[position] = 0


@st.composite
def where_triple(draw: Callable, spec: Any) -> tuple[list, dict]:
    """condition, input, other: three broadcastable shapes; a scalar input or other sometimes."""
    found = draw(hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=3, max_side=4))
    condition_shape, *value_shapes = found.input_shapes
    operands = [draw(arrays(condition_shape, "bool"))]
    operands += [draw(arrays(shape, allowed=spec.dtypes)) for shape in value_shapes]
    if spec.scalars and rarely(draw, 3):
        operands[draw(st.integers(1, 2))] = draw(python_scalars())
    return operands, {}


@st.composite
def masked(draw: Callable, spec: Any) -> tuple[list, dict]:
    """A tensor and a boolean mask that broadcasts to it."""
    x = draw(arrays(allowed=spec.dtypes))
    return [x, draw(arrays(draw(broadcastable_to(x.shape)), "bool"))], {}


@st.composite
def matmul_pair(draw: Callable, spec: Any) -> tuple[list, dict]:
    """matmul-compatible shapes (1-D, 2-D, batched); mismatched or 0-dim rarely."""
    found = draw(
        hnp.mutually_broadcastable_shapes(signature=np.matmul.signature, max_dims=2, max_side=4)
    )
    left, right = (list(shape) for shape in found.input_shapes)
    if rarely(draw, 10):
        left[-1] += 1  # inner sizes differ
    elif rarely(draw, 10):
        left, right = ([], right) if draw(st.booleans()) else (left, [])
    elif rarely(draw, 10):
        left[-1] = right[-2 if len(right) > 1 else -1] = 0  # an empty sum
    dtype = draw(st.sampled_from(spec.dtypes))
    other = draw(st.sampled_from(spec.dtypes)) if rarely(draw) else dtype
    return [draw(arrays(tuple(left), dtype)), draw(arrays(tuple(right), other))], {}


@st.composite
def attention_triple(draw: Callable, spec: Any) -> tuple[list, dict]:
    """query (..., L, E), key (..., S, E), value (..., S, Ev) of one float dtype; batch dims
    that broadcast; now and then an empty L or S, or a key whose E or S does not fit."""
    batch = list(draw(shapes(max_dims=2)))
    length, source, width, value_width = (draw(st.integers(1, 4)) for _ in range(4))
    if rarely(draw, 10):
        length, source = (0, source) if draw(st.booleans()) else (length, 0)
    query, key, value = (batch + [length, width], batch + [source, width],
                         batch + [source, value_width])  # fmt: skip
    if rarely(draw, 10):
        key[-1 if draw(st.booleans()) else -2] += 1  # a mismatch torch refuses
    dtype = draw(st.sampled_from(spec.dtypes))
    return [draw(arrays(tuple(shape), dtype)) for shape in (query, key, value)], {}


# ------------------------------------------------------------------- shapes
@st.composite
def cat_sequence(draw: Callable, spec: Any) -> tuple[list, dict]:
    """1-3 tensors equal but along `dim`; a mismatch, mixed dtypes, or 0-dim rarely."""
    base = list(draw(shapes(min_dims=0 if rarely(draw) else 1, max_dims=3)))
    dim = draw(dims(len(base)))
    dtype = draw(st.sampled_from(spec.dtypes))
    tensors = []
    for _ in range(draw(st.integers(1, 3))):
        shape = list(base)
        if -len(base) <= dim < len(base):
            shape[dim] = draw(st.integers(0, 3))
        if shape and rarely(draw, 10):
            shape[draw(st.integers(0, len(shape) - 1))] += 1
        mixed = rarely(draw)
        tensors.append(draw(arrays(tuple(shape), None if mixed else dtype, spec.dtypes)))
    return [tensors], {"dim": dim}


@st.composite
def stack_sequence(draw: Callable, spec: Any) -> tuple[list, dict]:
    """1-3 tensors of one shape (one differs rarely), stacked along a new dim."""
    shape = draw(shapes(max_dims=3))
    dtype = draw(st.sampled_from(spec.dtypes))
    tensors = [draw(arrays(shape, dtype)) for _ in range(draw(st.integers(1, 3)))]
    if rarely(draw, 10):
        tensors.append(draw(arrays(allowed=spec.dtypes)))
    return [tensors], {"dim": draw(dims(len(shape) + 1))}


@st.composite
def vectors(draw: Callable, spec: Any) -> tuple[list, dict]:
    """1-3 vectors of one dtype (dot, outer, meshgrid); a 0-dim or 2-D one rarely."""
    dtype = draw(st.sampled_from(spec.dtypes))
    shapes_ = [(draw(st.integers(0, 4)),) for _ in range(draw(st.integers(1, 3)))]
    if rarely(draw, 10):
        shapes_[0] = draw(st.sampled_from([(), (2, 2)]))
    return [draw(arrays(shape, dtype)) for shape in shapes_], {}


@st.composite
def unflatten_inputs(draw: Callable, spec: Any) -> tuple[list, dict]:
    """A dim and sizes that multiply to its length (-1 sometimes, wrong rarely)."""
    x = draw(arrays(draw(shapes(min_dims=0 if rarely(draw) else 1)), allowed=spec.dtypes))
    dim = draw(dims(x.ndim))
    length = x.shape[dim] if -x.ndim <= dim < x.ndim else 3
    return [x], {"dim": dim, "sizes": draw(reshape_targets((length,)))}


@st.composite
def split_inputs(draw: Callable, spec: Any) -> tuple[list, dict]:
    """A split size, or sections that sum to the length (off by one rarely)."""
    x = draw(arrays(draw(shapes(min_dims=0 if rarely(draw) else 1)), allowed=spec.dtypes))
    dim = draw(dims(x.ndim))
    length = x.shape[dim] if -x.ndim <= dim < x.ndim else 3
    if draw(st.booleans()):
        return [x], {"split_size_or_sections": draw(st.integers(0 if rarely(draw) else 1, 5)),
                     "dim": dim}  # fmt: skip
    cuts = sorted(draw(st.lists(st.integers(0, length), max_size=3)))
    sections = [b - a for a, b in zip([0, *cuts], [*cuts, length], strict=True)]
    if rarely(draw):
        sections.append(1)
    return [x], {"split_size_or_sections": sections, "dim": dim}


@st.composite
def pad_inputs(draw: Callable, spec: Any) -> tuple[list, dict]:
    """F.pad: widths for the last 1-3 dims in every mode; negative widths rarely."""
    x = draw(arrays(allowed=spec.dtypes))
    mode = draw(st.sampled_from(["constant", "reflect", "replicate", "circular"]))
    widths = draw(st.lists(st.integers(0, 3), min_size=1, max_size=3).map(lambda w: w * 2))
    widths = draw(st.permutations(widths))
    if rarely(draw):
        widths[0] = -1
    value = draw(optional(st.floats(-2, 2))) if mode == "constant" else None
    return [x], {"pad": tuple(widths), "mode": mode, "value": value}


# ------------------------------------------------------------------ indices
def _positions(length: int, draw: Callable) -> st.SearchStrategy:
    """Valid positions along a dim of `length`; the out-of-range ones -1 and length rarely."""
    if length == 0 or rarely(draw, 10):
        return st.integers(-1, length)
    return st.integers(0, length - 1)


@st.composite
def gather_inputs(draw: Callable, spec: Any) -> tuple[list, dict]:
    x = draw(arrays(draw(shapes(max_dims=3)), allowed=spec.dtypes))
    dim = draw(dims(x.ndim))
    axis = dim % x.ndim if x.ndim and -x.ndim <= dim < x.ndim else 0
    index_shape = []
    for d, size in enumerate(x.shape):
        largest = 3 if d == axis else size + rarely(draw, 10)  # larger than x: torch raises
        index_shape.append(draw(st.integers(0, largest)))
    length = x.shape[axis] if x.ndim else 1
    dtype = np.int32 if rarely(draw, 10) else np.int64  # torch wants int64
    index = draw(hnp.arrays(dtype, tuple(index_shape), elements=_positions(length, draw)))
    return [x], {"dim": dim, "index": index}


@st.composite
def scatter_inputs(draw: Callable, spec: Any) -> tuple[list, dict]:
    """gather's index, and a source of the index's shape and x's dtype (another rarely)."""
    (x,), params = draw(gather_inputs(spec))
    dtype = None if rarely(draw) else x.dtype.name
    source = draw(arrays(params["index"].shape, dtype, spec.dtypes))
    return [x, source], params


@st.composite
def index_add_inputs(draw: Callable, spec: Any) -> tuple[list, dict]:
    """A 1-D index along dim, and a source shaped like x with len(index) along dim."""
    (x,), params = draw(index_select_inputs(spec))
    shape = list(x.shape)
    if params["index"].ndim == 1 and -x.ndim <= params["dim"] < x.ndim:
        shape[params["dim"]] = len(params["index"])
    dtype = None if rarely(draw) else x.dtype.name
    return [x, draw(arrays(tuple(shape), dtype, spec.dtypes))], params


@st.composite
def index_select_inputs(draw: Callable, spec: Any) -> tuple[list, dict]:
    x = draw(arrays(draw(shapes(max_dims=3)), allowed=spec.dtypes))
    dim = draw(dims(x.ndim))
    length = x.shape[dim] if x.ndim and -x.ndim <= dim < x.ndim else 1
    index_shape = (draw(st.integers(0, 4)),)
    if rarely(draw):
        index_shape = draw(st.sampled_from([(), (2, 2)]))  # 0-dim: one index; 2-D: an error
    index = draw(hnp.arrays(np.int64, index_shape, elements=_positions(length, draw)))
    return [x], {"dim": dim, "index": index}


# ----------------------------------------------------------------- creation
@st.composite
def nested_data(draw: Callable, spec: Any) -> tuple[list, dict]:
    """Nested lists of Python numbers (tensor(data) infers the dtype); ragged rarely."""
    data = draw(arrays(allowed=spec.dtypes)).tolist()
    if isinstance(data, list) and data and rarely(draw, 4):
        data[draw(st.integers(0, len(data) - 1))] = _like(data[0], draw(python_scalars()))
    rows = data if isinstance(data, list) and data and isinstance(data[0], list) else None
    if rows and rows[0] and rarely(draw, 10):
        rows[0] = [*rows[0], rows[0][0]]  # ragged: ValueError in torch
    return [data], {}


def _like(template: Any, scalar: Any) -> Any:
    """`scalar` in the nesting of `template`, so the list stays rectangular."""
    if isinstance(template, list):
        return [_like(item, scalar) for item in template]
    return scalar


@st.composite
def arange_params(draw: Callable, spec: Any) -> tuple[list, dict]:
    number = st.one_of(st.integers(-5, 5), st.sampled_from([-2.5, 0.5, 1.25, 3.0]))
    step = st.sampled_from([1, 2, -1, 0.5, 0.25, 3]) if not rarely(draw) else st.just(0)
    return [], {"start": draw(number), "end": draw(number), "step": draw(step)}


def no_operands(spec: Any) -> st.SearchStrategy:
    return st.builds(lambda: ([], {}))  # a fresh dict each time: cases() fills it


LAYOUTS: dict[str, Layout] = {
    "one": one,
    "pair": pair,
    "where": where_triple,
    "masked": masked,
    "matmul": matmul_pair,
    "attention": attention_triple,
    "cat": cat_sequence,
    "stack": stack_sequence,
    "split": split_inputs,
    "vectors": vectors,
    "unflatten": unflatten_inputs,
    "pad": pad_inputs,
    "gather": gather_inputs,
    "index_select": index_select_inputs,
    "scatter": scatter_inputs,
    "index_add": index_add_inputs,
    "data": nested_data,
    "arange": arange_params,
    "none": no_operands,
}


# ----------------------------------------------------------------- in place
@st.composite
def inplace_cases(draw: Callable, spec: Any, mode: str, producers: list[str]) -> Case:
    """A target, the operand of the in-place op, and (for a non-leaf) what derives the target.

    mode: "plain" (no grad), "leaf" (requires grad: torch refuses), "no_grad_leaf"
    (inside no_grad: the SGD step), "non_leaf" (derived from a leaf: gradients).
    """
    grad = mode != "plain"
    target = draw(arrays(allowed=FLOATS if grad else spec.dtypes))
    params: dict = {}
    if spec.operand == "other" and rarely(draw, 4):
        operand = draw(python_scalars())
    elif spec.operand == "other":
        operand = draw(arrays(draw(broadcastable_to(target.shape)), allowed=spec.dtypes))
    elif spec.operand == "value":
        operand = draw(python_scalars()) if not rarely(draw) else draw(arrays((), "float64"))
    elif spec.operand == "bounds":
        operand, params = None, {"min": draw(clamp_bounds()), "max": draw(clamp_bounds())}
    else:
        operand = None
    if mode == "non_leaf":
        params["producer"] = draw(st.sampled_from(producers))
    return Case([target, operand], params)
