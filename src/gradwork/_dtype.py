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
