"""Grad mode: whether ops record the graph (`no_grad`, `enable_grad`, `inference_mode`)."""

from __future__ import annotations

import contextlib
import threading
from typing import Any


# --------------------------------------------------------------------------
# Grad mode is per thread, as in torch: a `no_grad` evaluation in one thread
# must not stop another thread's backward.
# --------------------------------------------------------------------------
class _ThreadState(threading.local):
    grad_enabled = True
    inference = False

    def __init__(self) -> None:
        self.saved_modes: list[bool] = []  # for nested set_grad_enabled blocks
        self.saved_inference: list[tuple[bool, bool]] = []  # for nested inference_mode blocks
        self.module_path: list[str] = []  # filled by nn.Module.__call__ in anomaly mode


_state = _ThreadState()


def is_grad_enabled() -> bool:
    """Whether ops record the graph for backward in this thread (False inside `no_grad`)."""
    return _state.grad_enabled


class set_grad_enabled(contextlib.ContextDecorator):  # noqa: N801 - torch's name
    """Turn graph recording on or off inside a `with` block or a decorated function.

    The setting belongs to the current thread. The previous mode is kept on a
    per-thread stack, so one decorator instance is safe to use from many threads.
    """

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)

    def __enter__(self) -> None:
        _state.saved_modes.append(_state.grad_enabled)
        _state.grad_enabled = self.mode

    def __exit__(self, *exc: object) -> None:
        _state.grad_enabled = _state.saved_modes.pop()


class no_grad(set_grad_enabled):  # noqa: N801
    """Run ops without recording a graph: for evaluation and parameter updates.

    Example:
        >>> import gradwork as gw
        >>> x = gw.ones(2, requires_grad=True)
        >>> with gw.no_grad():
        ...     y = x * 2
        >>> y.requires_grad
        False
    """

    def __init__(self) -> None:
        super().__init__(False)


class enable_grad(set_grad_enabled):  # noqa: N801
    """Record the graph again, e.g. inside a function called under `no_grad`."""

    def __init__(self) -> None:
        super().__init__(True)


def is_inference_mode_enabled() -> bool:
    """Whether this thread is inside `inference_mode()` (torch's name)."""
    return _state.inference


class inference_mode(contextlib.ContextDecorator):  # noqa: N801 - torch's name
    """`no_grad` for code that will never need a gradient: evaluation and serving.

    As in torch, `inference_mode(False)` turns graph recording back on inside
    an outer `inference_mode()`. Usable as `with`, `@inference_mode()` or bare
    `@inference_mode`.

    NOTE: torch also marks tensors made inside as inference tensors and makes
    ops faster by skipping version counting; gradwork only stops recording the
    graph (already the fast path here), and its tensors carry no inference flag.

    Example:
        >>> import gradwork as gw
        >>> w = gw.ones(2, requires_grad=True)
        >>> with gw.inference_mode():
        ...     y = w * 2
        >>> y.requires_grad, gw.is_inference_mode_enabled()
        (False, False)
    """

    def __new__(cls, mode: Any = True) -> Any:
        if isinstance(mode, bool):
            return super().__new__(cls)
        return cls()(mode)  # used as a bare decorator: `mode` is the function

    def __init__(self, mode: bool = True) -> None:
        self.mode = mode

    def __enter__(self) -> None:
        _state.saved_inference.append((_state.grad_enabled, _state.inference))
        _state.grad_enabled, _state.inference = not self.mode, self.mode

    def __exit__(self, *exc: object) -> None:
        _state.grad_enabled, _state.inference = _state.saved_inference.pop()
