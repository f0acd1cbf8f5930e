"""`RemovableHandle`: what every `register_*hook` returns, tensors' and modules' alike.

Example:
    >>> hooks = {}
    >>> handle = RemovableHandle(hooks)
    >>> hooks[handle.id] = print
    >>> handle.remove()
    >>> hooks
    {}
"""

from __future__ import annotations

from typing import Any


class RemovableHandle:
    """Returned by the `register_*_hook` methods; `.remove()` takes the hook off."""

    _next_id = 0

    def __init__(self, hooks: dict, *, extra_dict: Any = None) -> None:
        self.hooks, self.id = hooks, RemovableHandle._next_id
        RemovableHandle._next_id += 1
        extra = [] if extra_dict is None else extra_dict
        self.extra_dicts = list(extra) if isinstance(extra, list | tuple) else [extra]

    def remove(self) -> None:
        for registry in [self.hooks, *self.extra_dicts]:
            registry.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()
