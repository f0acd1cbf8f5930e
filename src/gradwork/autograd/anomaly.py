"""Anomaly mode: stop at the first op whose forward or backward makes a NaN or an Inf.

`enabled` is a plain module global (one attribute lookup per op), so the mode
costs nothing when it is off.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from gradwork import _arrays
from gradwork.autograd.grad_mode import _state

enabled = False


# --------------------------------------------------------------------------
# Anomaly mode
# --------------------------------------------------------------------------
def is_anomaly_enabled() -> bool:
    return enabled


class detect_anomaly(contextlib.ContextDecorator):  # noqa: N801 - torch's name
    """Stop at the FIRST op that produces a NaN or Inf, forward or backward.

    The error names the op, the pass, the module path (when the op ran inside
    an `nn.Module`) and the range of the op's inputs, e.g.
    ``log in forward got min=0.0, max=2.0: produced -inf``. When the mode is
    off the only cost is one boolean test per op.

    Example:
        >>> import gradwork as gw
        >>> x = gw.tensor([0.0, 1.0], requires_grad=True)
        >>> with gw.detect_anomaly():
        ...     x.log()
        Traceback (most recent call last):
        ...
        FloatingPointError: log in forward got min=0, max=1: produced -inf
    """

    def __init__(self) -> None:
        self.previous: list[bool] = []

    def __enter__(self) -> None:
        global enabled
        self.previous.append(enabled)
        enabled = True

    def __exit__(self, *exc: object) -> None:
        global enabled
        enabled = self.previous.pop()


@contextlib.contextmanager
def module_scope(name: str) -> Iterator[None]:
    """Record that ops now run inside the module at path `name` (anomaly mode)."""
    _state.module_path.append(name)
    try:
        yield
    finally:
        _state.module_path.pop()


def _describe(values: Any) -> str:
    """'min=…, max=…' of an array, ignoring non-finite entries where possible."""
    a = np.asarray(_arrays.to_host(values))  # for the error message only: a copy is fine
    if a.size == 0 or not np.issubdtype(a.dtype, np.number):
        return f"shape={a.shape}"
    return f"min={a.min():.5g}, max={a.max():.5g}"


def _first_bad(array: Any) -> str | None:
    """'nan', 'inf' or '-inf' if the float array holds one, else None.

    NOTE: computed on the array's device; only the verdicts come to the host.
    """
    xp = _arrays.xp_of(array)
    a = _arrays.as_array(array)
    if a.dtype.kind != "f" or bool(xp.isfinite(a).all()):
        return None
    if bool(xp.isnan(a).any()):
        return "nan"
    return "inf" if bool(xp.isposinf(a).any()) else "-inf"


def _where(node: Any) -> str:
    return f" (in module `{node._module}`)" if node._module else ""


def _check_forward(node: Any, arrays: tuple, out: Any) -> None:
    bad = _first_bad(out)
    if bad is None:
        return
    ranges = "; ".join(
        _describe(a) for a in arrays if isinstance(a, np.ndarray) or _arrays.is_device_array(a)
    )
    upstream = [i for i, a in enumerate(arrays) if _first_bad(a) is not None]
    cause = f" (input {upstream[0]} already held non-finite values)" if upstream else ""
    raise FloatingPointError(
        f"{node.name} in forward got {ranges}: produced {bad}{cause}{_where(node)}"
    )


def _check_backward(node: Any, grad: Any, grads: tuple) -> None:
    for i, g in enumerate(grads):
        bad = None if g is None else _first_bad(g)
        if bad is not None:
            raise FloatingPointError(
                f"{node.name} in backward produced {bad} in the gradient of input {i}; "
                f"incoming gradient {_describe(grad)}{_where(node)}"
            )
