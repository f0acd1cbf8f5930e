"""`Parameter`: a tensor that a `Module` registers as learnable."""

from __future__ import annotations

from typing import Any

import numpy as np

from gradwork import _arrays, dtypes
from gradwork.nn._placement import device_type
from gradwork.tensor import Tensor


class Parameter(Tensor):
    """A leaf tensor that requires grad and that modules list in `parameters()`.

    Args:
        data: a Tensor (its array is shared, as in torch) or any array-like;
            None gives an empty float32 parameter.
        requires_grad: whether the optimiser should train it.

    Example:
        >>> import gradwork as gw
        >>> p = gw.nn.Parameter(gw.zeros(2))
        >>> p.requires_grad, p.is_leaf
        (True, True)
    """

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        if data is None:
            array = np.empty(0, dtype=dtypes.float32)
        elif isinstance(data, Tensor):
            array = data.array
        elif device_type(data) != "cpu":
            array = data  # a GPU array stays where it is (np.asarray would refuse it)
        else:
            array = dtypes.infer_array(np.asarray(data) if hasattr(data, "__array__") else data)
        if not isinstance(data, Tensor):
            array = _arrays.on_default_device(array)  # host data: where factories put tensors
        super().__init__(array, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __reduce_ex__(self, protocol: int) -> Any:
        return (_rebuild, (self.array, self.requires_grad))

    def __deepcopy__(self, memo: dict) -> Parameter:
        copy = Parameter(self.array.copy(), self.requires_grad)
        if self.grad is not None:
            copy.grad = Tensor(self.grad.array.copy())
        memo[id(self)] = copy
        return copy


def _rebuild(data: Any, requires_grad: bool) -> Parameter:
    return Parameter(data, requires_grad)
