"""`gradwork.sum(t, ...)`, `gradwork.exp(t)`, ...: function forms of Tensor methods.

They are generated into this module alone because their names (sum, min, max,
abs, any, all, pow) shadow Python's builtins wherever they are defined.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradwork.tensor import Tensor

# Functions that just call the method of the same name on their first argument.
_METHOD_FORMS = (
    "add sub mul div true_divide neg pow matmul exp log log1p sqrt rsqrt abs sign sin cos "
    "reciprocal square clamp clip maximum minimum relu sigmoid tanh softmax log_softmax "
    "logsumexp sum mean var std prod amax amin max min argmax argmin all any isnan isfinite "
    "reshape flatten squeeze unsqueeze transpose permute split chunk unbind gather "
    "index_select masked_fill numel"
).split()


def _method_form(name: str):
    def function(input: Tensor, *args: Any, **kwargs: Any) -> Any:  # noqa: A002
        if not isinstance(input, Tensor):
            input = Tensor(np.asarray(input))  # noqa: A001
        return getattr(input, name)(*args, **kwargs)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"`gradwork.{name}(t, ...)` is `t.{name}(...)`; see Tensor.{name}."
    return function


for _name in _METHOD_FORMS:
    globals()[_name] = _method_form(_name)

__all__ = list(_METHOD_FORMS)
