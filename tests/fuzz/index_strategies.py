"""Index expressions for `x[index]`: ints, slices, None, Ellipsis, integer arrays, masks.

An expression is drawn as a plan of component kinds first; each component is
then drawn for the dims it indexes (components after an Ellipsis index the
trailing dims), so that most indices are in range and the error paths (out of
range, too many indices, a mask of the wrong shape, step <= 0) come rarely.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tests.fuzz.compare import Case
from tests.fuzz.strategies import arrays, optional, rarely, shapes

# Component kinds drawn by each family of index expressions. "list" is a Python
# list of ints, "array" an integer tensor, "mask" a boolean tensor over 1-2 dims,
# "bool" a Python bool (adds a dim, like None).
FAMILIES = {
    "basic": ("int", "slice", "none", "ellipsis"),
    "integer": ("list", "array", "full"),
    # Ints and index arrays apart, a slice between: torch's layout differs from NumPy's.
    "int_slice_array": ("int", "list", "array", "full", "slice", "none"),
    "mask": ("mask", "bool", "full"),
    "mixed": ("int", "slice", "none", "ellipsis", "list", "array", "mask", "full"),
}

WIDTHS = {"none": 0, "bool": 0, "ellipsis": 0}  # dims a component indexes; masks draw theirs


@st.composite
def index_cases(draw: Callable, family: str) -> Case:
    x = draw(arrays(draw(shapes(min_dims=0 if rarely(draw) else 1))))
    return Case([x], {"index": draw(index_expressions(x.shape, FAMILIES[family]))})


@st.composite
def index_expressions(draw: Callable, shape: tuple[int, ...], kinds: tuple[str, ...]) -> Any:
    plan = draw(st.lists(st.sampled_from(kinds), min_size=1, max_size=len(shape) + 1))
    if plan.count("ellipsis") > 1 and not rarely(draw):
        first = plan.index("ellipsis")
        plan = [k if k != "ellipsis" or i == first else "none" for i, k in enumerate(plan)]
    widths = [draw(st.integers(1, 2)) if k == "mask" else WIDTHS.get(k, 1) for k in plan]
    components = []
    for kind, sizes in zip(plan, _sizes_indexed(shape, plan, widths), strict=True):
        components.append(draw(COMPONENTS[kind](sizes)))
    if len(components) == 1 and draw(st.booleans()):
        return components[0]  # x[i] rather than x[(i,)]
    return tuple(components)


def _sizes_indexed(shape: tuple[int, ...], plan: list[str], widths: list[int]) -> list[list]:
    """The sizes of the dims each component indexes (3 past the last dim: an error anyway)."""
    ndim = len(shape)
    ellipsis = plan.index("ellipsis") if "ellipsis" in plan else len(plan)
    cursor, result = 0, []
    for i, width in enumerate(widths):
        if i == ellipsis:  # the ellipsis covers the dims that the rest leaves over
            cursor = max(cursor, ndim - sum(widths[i + 1 :]))
        result.append([shape[d] if d < ndim else 3 for d in range(cursor, cursor + width)])
        cursor += width
    return result


def _position(sizes: list[int]) -> st.SearchStrategy:
    """A valid index along a dim (negative too); out of range when the dim is empty."""
    size = sizes[0]
    return st.integers(-size, size - 1) if size else st.sampled_from([-1, 0])


@st.composite
def ints(draw: Callable, sizes: list[int]) -> int:
    if rarely(draw, 10):
        return draw(st.sampled_from([-sizes[0] - 1, sizes[0]]))  # IndexError
    return draw(_position(sizes))


@st.composite
def slices(draw: Callable, sizes: list[int]) -> slice:
    bound = st.integers(-sizes[0] - 2, sizes[0] + 2)
    step = st.sampled_from([0, -1]) if rarely(draw, 10) else st.sampled_from([None, 1, 2, 3])
    return slice(draw(optional(bound)), draw(optional(bound)), draw(step))


@st.composite
def int_lists(draw: Callable, sizes: list[int]) -> list[int]:
    return draw(st.lists(ints(sizes), max_size=3))


@st.composite
def int_arrays(draw: Callable, sizes: list[int]) -> np.ndarray:
    shape = draw(st.sampled_from([(0,), (1,), (2,), (3,), (2, 2), (1, 3), ()]))
    return draw(hnp.arrays(np.int64, shape, elements=_position(sizes)))


@st.composite
def masks(draw: Callable, sizes: list[int]) -> np.ndarray:
    shape = list(sizes)
    if rarely(draw, 10):
        shape[-1] += 1  # IndexError: the mask's shape does not match
    return draw(arrays(tuple(shape), "bool"))


COMPONENTS: dict[str, Callable[[list[int]], st.SearchStrategy]] = {
    "int": ints,
    "slice": slices,
    "none": lambda sizes: st.none(),
    "ellipsis": lambda sizes: st.just(Ellipsis),
    "full": lambda sizes: st.just(slice(None)),
    "list": int_lists,
    "array": int_arrays,
    "mask": masks,
    "bool": lambda sizes: st.booleans(),
}
