"""`LayerInputError`: a wrong input shape, explained with the module path and the fix.

A layer raises it knowing only its own type; the path is built on the way
out: each `Module.__call__` the error passes through prepends the name its
module is registered under, and a `Sequential` adds which sibling produced the
bad input. So no module needs to know its path in advance, and the happy path
costs nothing (a `try` block is free in Python until something raises).
"""

from __future__ import annotations

from math import prod
from typing import Any


class LayerInputError(ValueError):
    """A layer got an input it cannot take.

    Renders as: "`3.fc` (Linear) expects in_features=784, got 1568 = 32x7x7
    from `2` (Flatten): set in_features=1568".

    Args:
        layer: the layer's type name, e.g. "Linear".
        expected: what it expects, e.g. "in_features=784".
        got: what it got, e.g. "1568 (input shape (64, 1568))".
        fix: the usual fix, e.g. "set in_features=1568".
        received: the offending input tensor (to find which module produced it).
        context: said after `got` when the producing module is unknown,
            e.g. " (input shape (64, 1568))".
    """

    def __init__(self, layer: str, expected: str, got: str, fix: str, received: Any = None,
                 context: str = "") -> None:  # fmt: skip
        super().__init__()
        self.layer, self.expected, self.got, self.fix = layer, expected, got, fix
        self.context = context
        self.received_id = id(received) if received is not None else None
        self.path: list[str] = []
        self.source: tuple[list[str], str, str] | None = None  # (path, type, detail)

    def add_parent(self, name: str) -> None:
        """Called by each enclosing module's __call__: prefix its registered name."""
        if name:
            self.path.insert(0, name)
            if self.source is not None:
                self.source[0].insert(0, name)

    def set_source(self, name: str, module: Any, module_input: Any) -> None:
        """Called by a container: its child `name` produced the offending input."""
        if self.source is None:
            self.source = ([name], type(module).__name__, _detail(module, module_input))

    @property
    def module_path(self) -> str:
        return ".".join(self.path)

    def __str__(self) -> str:
        where = f"`{self.module_path}` ({self.layer})" if self.path else self.layer
        source = self.context
        if self.source is not None:
            path, kind, detail = self.source
            source = f"{detail} from `{'.'.join(path)}` ({kind})"
        return f"{where} expects {self.expected}, got {self.got}{source}: {self.fix}"


def _detail(module: Any, module_input: Any) -> str:
    """For a Flatten source, how the features arose: ' = 32x7x7'."""
    shape = getattr(module_input, "shape", None)
    if type(module).__name__ != "Flatten" or shape is None:
        return ""
    start = module.start_dim % len(shape)
    end = module.end_dim % len(shape)
    dims = shape[start : end + 1]
    if len(dims) < 2 or prod(dims) == 0:
        return ""
    return " = " + "x".join(str(d) for d in dims)
