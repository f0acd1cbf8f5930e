"""Changes a tape would miss: Python writing raw arrays or plain attributes inside the step.

A tape replays ops, backward walks and optimizer calls. A step that also
updates weights by hand (`p.array -= lr * p.grad.array`), replaces or clips
gradients on raw arrays (`p.grad = None`, `g *= scale`) or steps a learning-rate
schedule would replay without those changes, silently. While tracing,
`SideEffects` fingerprints what such code could touch (shape, dtype and a
CRC of the bytes: no copies, so a trace needs no more memory than an eager
step) and compares afterwards:

- the values of the tensors the ops read as parameters (EXTERNAL), from first
  use to the optimizer's step, and from the step to the end;
- each gradient a backward walk left, until `zero_grad`, the next walk, the
  optimizer's step and the end of the step;
- the hyperparameters of every optimizer the step calls.

The fingerprints are taken while tracing, never during a replay.
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np

_PARAMETERS = ("a parameter's values were changed by Python code inside the step "
               "(p.array -= ..., p.data.copy_ on raw arrays): a replay would not change them; "
               "update them with an optimizer")  # fmt: skip
_GRADIENTS = ("a gradient was replaced or changed by Python code after backward (p.grad = "
              "None, clipping on raw arrays): a replay would not do it; use "
              "optimizer.zero_grad(), or clip outside the compiled step")  # fmt: skip
_HYPERPARAMETERS = ("an optimizer's hyperparameters changed inside the step (a scheduler's "
                    "step()): call it outside the compiled step")  # fmt: skip


class SideEffects:
    """Copies taken while tracing, and the first difference found in them."""

    def __init__(self) -> None:
        self.values: dict[int, tuple] = {}  # id -> (tensor, fingerprint of its array)
        self.grads: dict[int, tuple] = {}  # id(leaf) -> (leaf, its .grad, fingerprint or None)
        self.settings: dict[int, tuple] = {}  # id(optimizer) -> (optimizer, hyperparameters)

    def note_values(self, tensor: Any) -> None:
        if id(tensor) not in self.values:
            self.values[id(tensor)] = (tensor, fingerprint(tensor.array))

    def note_grads(self, leaves: list[Any]) -> None:
        for leaf in leaves:
            grad = leaf.grad
            self.grads[id(leaf)] = (leaf, grad, None if grad is None else fingerprint(grad.array))

    def note_optimizer(self, optimizer: Any) -> None:
        if id(optimizer) not in self.settings:
            self.settings[id(optimizer)] = (optimizer, _hyperparameters(optimizer))

    def stepped(self, optimizer: Any) -> None:
        """The optimizer changed its parameters: their new values are the ones to keep."""
        for p in _parameters(optimizer):
            if id(p) in self.values:
                self.values[id(p)] = (p, fingerprint(p.array))

    def zeroing(self, optimizer: Any) -> None:
        """zero_grad is about to reset these gradients: that change is on the tape."""
        for p in _parameters(optimizer):
            self.grads.pop(id(p), None)

    def first_change(self) -> str | None:
        """Why the tape would miss a change made so far, or None."""
        for tensor, before in self.values.values():
            if not same_as(tensor.array, before):
                return _PARAMETERS
        for leaf, grad, before in self.grads.values():
            if leaf.grad is not grad or (before is not None and not same_as(grad.array, before)):
                return _GRADIENTS
        for optimizer, before in self.settings.values():
            if _hyperparameters(optimizer) != before:
                return _HYPERPARAMETERS
        return None


def fingerprint(array: Any) -> tuple:
    """What a change to `array` alters: shape, dtype and a CRC-32 of its bytes (on a
    device, whose memory the host cannot read cheaply, a copy of the array)."""
    if isinstance(array, np.ndarray):
        return (array.shape, array.dtype, zlib.crc32(np.ascontiguousarray(array).data))
    return (array.shape, array.dtype, array.copy())


def same_as(array: Any, before: tuple) -> bool:
    """Whether `array` still matches a fingerprint taken before."""
    if (array.shape, array.dtype) != before[:2]:
        return False
    if isinstance(array, np.ndarray):
        return zlib.crc32(np.ascontiguousarray(array).data) == before[2]
    return bool(np.array_equal(array, before[2], equal_nan=True))


def _parameters(optimizer: Any) -> list[Any]:
    return [p for group in optimizer.param_groups for p in group["params"]]


def _hyperparameters(optimizer: Any) -> list:
    return [{k: v for k, v in group.items() if k not in ("params", "param_names")}
            for group in optimizer.param_groups]  # fmt: skip
