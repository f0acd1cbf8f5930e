"""Hypothesis strategies: shapes, dtypes, values, dims, scalars, params by kind; settings.

Everything drawn is plain data (NumPy arrays, Python scalars, tuples); compare.py
turns it into each library's tensors. Draws favour the common case and take an
unusual branch (an empty dimension, a dim out of range, incompatible shapes,
NaN) only `rarely`, so most examples compare values and a few the error paths.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable

import numpy as np
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

# float32 first: hypothesis shrinks towards the first, so a failure that is not
# about the dtype is reported on the everyday one.
DTYPES = ("float32", "float64", "int64", "int32", "bool")
INTEGERS = ("int32", "int64")
FLOATS = ("float32", "float64")

EXAMPLES = int(os.environ.get("GRADWORK_FUZZ_EXAMPLES", "40"))
RANDOM = os.environ.get("GRADWORK_FUZZ_RANDOM", "") == "1"


def fuzz_settings(scale: int = 1) -> settings:
    """CI: the same EXAMPLES * scale examples every run; GRADWORK_FUZZ_RANDOM=1 explores."""
    extra = {} if RANDOM else {"database": None}
    return settings(
        max_examples=EXAMPLES * scale,
        derandomize=not RANDOM,
        deadline=None,
        # No "explain" phase: its extra runs per failure cost more than its hints are worth.
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        **extra,
    )


def rarely(draw: Callable, one_in: int = 8) -> bool:
    # The unusual branch is the *largest* integer: shrinking moves towards 0 and
    # so leaves the branch whenever the branch is not what makes the test fail.
    return draw(st.integers(0, one_in - 1)) == one_in - 1


# ------------------------------------------------------------------ values
@st.composite
def shapes(draw: Callable, min_dims: int = 0, max_dims: int = 4) -> tuple[int, ...]:
    """0 to 4 dims of size 1..4; now and then one empty dimension."""
    shape = list(
        draw(hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=4))
    )
    if shape and rarely(draw, 10):
        shape[draw(st.integers(0, len(shape) - 1))] = 0
    return tuple(shape)


def elements(dtype: str, special: bool = False) -> st.SearchStrategy:
    if dtype == "bool":
        return st.booleans()
    if dtype in INTEGERS:
        return st.integers(-5, 5)
    width = 32 if dtype == "float32" else 64
    finite = st.floats(-3, 3, width=width, allow_subnormal=False)
    if special:
        return st.one_of(finite, st.sampled_from([math.nan, math.inf, -math.inf]))
    return finite


@st.composite
def arrays(
    draw: Callable,
    shape: tuple[int, ...] | None = None,
    dtype: str | None = None,
    allowed: tuple[str, ...] = DTYPES,
) -> np.ndarray:
    dtype = dtype or draw(st.sampled_from(allowed))
    shape = draw(shapes()) if shape is None else tuple(shape)
    special = dtype in FLOATS and rarely(draw, 20)  # NaN and infinities
    return draw(hnp.arrays(np.dtype(dtype), shape, elements=elements(dtype, special)))


def python_scalars() -> st.SearchStrategy:
    return st.one_of(st.integers(-3, 3), st.floats(-3, 3, allow_subnormal=False), st.booleans())


# -------------------------------------------------------------------- dims
@st.composite
def dims(draw: Callable, ndim: int) -> int:
    """A dim of an ndim tensor, negative or not; out of range rarely (IndexError)."""
    bound = max(ndim, 1)  # a 0-dim tensor takes dim 0 and -1, as in torch
    if rarely(draw):
        return draw(st.sampled_from([-bound - 1, bound]))
    return draw(st.integers(-bound, bound - 1))


@st.composite
def dim_lists(draw: Callable, ndim: int) -> int | tuple[int, ...]:
    """One dim or a tuple of them; a repeated dim rarely (torch raises)."""
    if draw(st.booleans()):
        return draw(dims(ndim))
    bound = max(ndim, 1)
    unique = None if rarely(draw) else (lambda d: d % bound)
    return tuple(draw(st.lists(dims(ndim), max_size=bound, unique_by=unique)))


def optional(strategy: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(st.none(), strategy)


# --------------------------------------------------- shape-dependent params
@st.composite
def reshape_targets(draw: Callable, shape: tuple[int, ...]) -> tuple[int, ...]:
    """A shape with the same number of elements (a -1 sometimes); a wrong one rarely."""
    if rarely(draw, 10):
        return draw(shapes())
    count = math.prod(shape)
    if count == 0:
        target = list(draw(shapes(min_dims=1)))
        target[draw(st.integers(0, len(target) - 1))] = 0
    else:
        slots = draw(st.integers(1, 4))
        target = [1] * slots
        for factor in draw(st.permutations(_prime_factors(count))):
            target[draw(st.integers(0, slots - 1))] *= factor
        if count == 1 and draw(st.booleans()):
            target = []
    if target and draw(st.booleans()):
        target[draw(st.integers(0, len(target) - 1))] = -1
    return tuple(target)


def _prime_factors(n: int) -> list[int]:
    factors, p = [], 2
    while n > 1:
        while n % p == 0:
            factors.append(p)
            n //= p
        p += 1
    return factors


@st.composite
def permutations(draw: Callable, shape: tuple[int, ...]) -> tuple[int, ...]:
    """A permutation of the dims, some written negative; a repeat or a wrong length rarely."""
    ndim = len(shape)
    perm = [d - ndim if draw(st.booleans()) else d for d in draw(st.permutations(range(ndim)))]
    if rarely(draw):
        perm = perm[:-1] if perm and draw(st.booleans()) else [*perm, 0]
    return tuple(perm)


@st.composite
def expand_sizes(draw: Callable, shape: tuple[int, ...]) -> tuple[int, ...]:
    """Sizes `expand` accepts: new leading dims, size-1 dims stretched, -1 kept; wrong rarely."""
    lead = draw(st.lists(st.integers(0, 3), max_size=2))
    sizes = []
    for size in shape:
        if size == 1:
            sizes.append(draw(st.sampled_from([1, 2, 3, -1])))
        else:
            sizes.append(draw(st.sampled_from([size, -1])))
    if rarely(draw) and (lead or sizes):
        where = draw(st.integers(0, len(lead) + len(sizes) - 1))
        if where < len(lead):
            lead[where] = -1  # -1 is not allowed for a new dim
        else:
            sizes[where - len(lead)] = shape[where - len(lead)] + 1
    return tuple(lead + sizes)


def clamp_bounds() -> st.SearchStrategy:
    return optional(st.one_of(st.integers(-2, 2), st.floats(-2, 2, allow_subnormal=False)))


# Parameter kinds named by the op table; each maps the first operand's shape to a strategy.
@st.composite
def trailing_shapes(draw: Callable, shape: tuple[int, ...]) -> list[int]:
    """The last 1..ndim sizes of `shape` (a layer norm's normalized_shape); one size
    off, or more dims than the input has, rarely."""
    count = draw(st.integers(1, max(len(shape), 1)))
    trailing = list(shape[len(shape) - count :]) if shape else [1]
    if rarely(draw, 10):
        trailing[0] += 1
    elif rarely(draw, 10):
        trailing = [2, *trailing]
    return trailing


PARAM_KINDS: dict[str, Callable[[tuple[int, ...]], st.SearchStrategy]] = {
    "dim": lambda shape: dims(len(shape)),
    "dim_opt": lambda shape: optional(dims(len(shape))),
    "dims": lambda shape: optional(dim_lists(len(shape))),
    "dim_list": lambda shape: dim_lists(len(shape)),
    "new_dim": lambda shape: dims(len(shape) + 1),
    "keepdim": lambda shape: st.booleans(),
    "flag": lambda shape: st.booleans(),
    "correction": lambda shape: optional(st.integers(0, 2)),
    "shape": reshape_targets,
    "perm": permutations,
    "sizes": expand_sizes,
    "chunks": lambda shape: st.integers(0, 5),
    "bound": lambda shape: clamp_bounds(),
    "exponent": lambda shape: st.one_of(
        st.integers(-2, 3), st.sampled_from([0.5, -0.5, 2.0, 1.5, 0.0])
    ),
    "scalar": lambda shape: python_scalars(),
    "dtype": lambda shape: st.sampled_from(DTYPES),
    "size": lambda shape: shapes(),
    "small_int": lambda shape: st.integers(-1, 4),
    "trailing_shape": lambda shape: trailing_shapes(shape),
}
