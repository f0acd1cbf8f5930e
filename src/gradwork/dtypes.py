"""dtypes: gradwork's names for NumPy dtypes, and the inference rules of `tensor()`."""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

float16 = np.dtype("float16")
float32 = np.dtype("float32")
float64 = np.dtype("float64")
int8 = np.dtype("int8")
uint8 = np.dtype("uint8")
int16 = np.dtype("int16")
int32 = np.dtype("int32")
int64 = np.dtype("int64")
bool_ = np.dtype("bool")

# torch's aliases
half, float, double = float16, float32, float64  # noqa: A001
short, int, long = int16, int32, int64  # noqa: A001

DEFAULT_FLOAT = float32


def as_dtype(dtype: Any) -> np.dtype:
    """Turn gradwork.float32, np.float32, 'float32' or Python's float into a dtype."""
    # NOTE: this module rebinds `float` and `int` to dtypes (torch's aliases),
    # so Python's own types are reached through `builtins`.
    if dtype is builtins.float:
        return DEFAULT_FLOAT
    if dtype is builtins.int:
        return int64
    if dtype is builtins.bool:
        return bool_
    try:
        return np.dtype(dtype)
    except TypeError:
        raise TypeError(
            f"unknown dtype {dtype!r}: use gradwork.float32, float64, int64 or bool"
        ) from None


def infer_array(data: Any, dtype: Any = None) -> np.ndarray:
    """An array from Python data with torch's rules.

    Python floats become float32 (the default float), Python ints int64 and
    bools bool; a NumPy array keeps its dtype.
    """
    if dtype is not None:
        return np.array(data, dtype=as_dtype(dtype))
    if isinstance(data, np.ndarray):
        return data.copy()
    array = np.array(data)
    if array.dtype == float64 and not isinstance(data, np.floating):
        return array.astype(DEFAULT_FLOAT)
    if array.dtype.kind in "iu" and not isinstance(data, np.integer):
        return array.astype(int64)
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"tensor: cannot make a tensor from {type(data).__name__} holding "
            f"{array.dtype} values; give numbers, nested lists of numbers or an array"
        )
    return array


# --------------------------------------------------------------------------
# Type promotion, as torch does it (not NumPy): categories bool < int < float,
# and a dimensioned tensor outranks a 0-dim tensor, which outranks a Python
# number. A lower-ranked operand changes the result only when its category
# is higher: int32 tensor + 0.5 -> float32, float32 tensor + float64 0-dim
# tensor -> float32, int64 tensor + True -> int64.
# --------------------------------------------------------------------------
def _category(dtype: np.dtype) -> builtins.int:
    return {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}[dtype.kind]


def promote_types(a: np.dtype, b: np.dtype) -> np.dtype:
    """torch.promote_types: the smallest dtype holding both; a float beats any int.

    Example:
        >>> promote_types(int64, float16), promote_types(uint8, int8)
        (dtype('float16'), dtype('int16'))
    """
    if a == b:
        return a
    category_a, category_b = _category(a), _category(b)
    if category_a != category_b and 0 < min(category_a, category_b):
        # NumPy widens the float to hold every int (int64 + float16 -> float64); torch keeps it.
        return a if category_a > category_b else b
    return np.promote_types(a, b)


def _combine(higher: np.dtype | None, lower: np.dtype | None) -> np.dtype | None:
    """torch's combine_categories: the lower-priority result only counts if it is of
    a higher category (or the higher one is bool)."""
    if higher is None:
        return lower
    if lower is None:
        return higher
    if _category(higher) >= 2:
        return higher
    if higher == bool_ or _category(lower) >= 2:
        return promote_types(higher, lower)
    return higher


def result_type(*operands: Any) -> np.dtype:
    """The dtype torch gives an op on these operands (Tensors, arrays or Python numbers).

    Example:
        >>> import gradwork as gw
        >>> gw.result_type(gw.tensor([1, 2]), 0.5), gw.result_type(gw.tensor([1.0]), 2)
        (dtype('float32'), dtype('float32'))
    """
    dimensioned = zero_dim = wrapped = None
    for value in operands:
        array = getattr(value, "array", value)
        if isinstance(array, builtins.bool):
            wrapped = _combine_same_rank(wrapped, bool_)
        elif isinstance(array, builtins.int):
            wrapped = _combine_same_rank(wrapped, int64)
        elif isinstance(array, builtins.float):
            wrapped = _combine_same_rank(wrapped, DEFAULT_FLOAT)
        elif isinstance(array, builtins.complex):
            wrapped = _combine_same_rank(wrapped, np.dtype("complex64"))
        elif array.ndim == 0:
            zero_dim = _combine_same_rank(zero_dim, array.dtype)
        else:
            dimensioned = _combine_same_rank(dimensioned, array.dtype)
    return _combine(dimensioned, _combine(zero_dim, wrapped))


def _combine_same_rank(current: np.dtype | None, dtype: np.dtype) -> np.dtype:
    return dtype if current is None else promote_types(current, dtype)


def float_result(dtype: np.dtype) -> np.dtype:
    """The dtype of a float function (exp, sqrt, true division) of `dtype`: ints become float32."""
    return dtype if dtype.kind in "fc" else DEFAULT_FLOAT


def can_cast(source: np.dtype, target: np.dtype) -> builtins.bool:
    """torch's canCast for in-place results: never float -> int, nor anything -> bool."""
    return _category(source) <= _category(target) or (target.kind in "fc" and source.kind in "fc")
