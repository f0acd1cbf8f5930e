"""The loop's events, seen from outside: thin wrappers around five methods while a watch is on.

`watch()` needs to see a hand-written loop that never calls it: the loss's
`backward()`, `optimizer.zero_grad()`/`step()`, `scheduler.step()`, a model
called at top level, and a `DataLoader` starting an epoch. While at least one
watcher is active those methods (on the base classes and on every subclass
that overrides them) are wrapped; the wrapper tells the watchers and calls the
original. With no watcher the originals are put back, so nothing is left.
Inner calls (a model calling its layers, `SequentialLR` stepping its children,
LBFGS's closure inside `step`) are not reported: only the outermost one is.
"""

from __future__ import annotations

import weakref
from typing import Any

from gradwork import ops
from gradwork.autograd import Function
from gradwork.data import DataLoader
from gradwork.diagnose.mistakes._where import user_location
from gradwork.nn import Module
from gradwork.optim import Optimizer
from gradwork.optim.lr_scheduler import LRScheduler
from gradwork.tensor import Tensor

ACTIVE: list[Any] = []  # the watchers, innermost last
_installed: list[tuple[type, str, Any]] = []
_ABSENT = object()
# Where each softmax/sigmoid node was made, while a watcher still reads loss graphs
# (its first steps): the finding then names that line, not the backward's.
CREATED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
TRACED_OPS = (ops.LogSoftmax, ops.Sigmoid)


class _Depth:
    """Which outer call is in progress (its inner calls are not reported)."""

    forward = stepping = zeroing = scheduling = False


def add(watcher: Any) -> None:
    if not ACTIVE:
        _install()
    ACTIVE.append(watcher)


def remove(watcher: Any) -> None:
    if watcher in ACTIVE:
        ACTIVE.remove(watcher)
    if not ACTIVE:
        _uninstall()


def _classes(base: type, name: str) -> list[type]:
    """`base` and every subclass that defines `name` itself."""
    found, pending = [base], list(base.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if name in cls.__dict__:
            found.append(cls)
    return found


def _install() -> None:
    wrappers = [
        (Tensor, "backward", _backward),
        (Module, "__call__", _forward),
        (Module, "zero_grad", _zero_grad),
        (Optimizer, "zero_grad", _zero_grad),
        (Optimizer, "step", _step),
        (LRScheduler, "step", _scheduler_step),
        (DataLoader, "__iter__", _loader_iter),
    ]
    for base, name, wrap in wrappers:
        for cls in _classes(base, name):
            original = cls.__dict__[name]
            _installed.append((cls, name, original))
            setattr(cls, name, wrap(original))
    for cls in TRACED_OPS:
        _installed.append((cls, "apply", cls.__dict__.get("apply", _ABSENT)))
        cls.apply = _traced_apply(Function.apply.__func__)


def _uninstall() -> None:
    _Batches.last_inputs = _Batches.last_loader = None
    while _installed:
        cls, name, original = _installed.pop()
        if original is _ABSENT:
            delattr(cls, name)
        else:
            setattr(cls, name, original)


def _tell(watchers: list, event: str, *args: Any) -> None:
    """Hand an event to each watcher; a watcher's own failure never stops training."""
    for watcher in list(watchers):
        try:
            getattr(watcher, event)(*args)
        except Exception as error:  # noqa: BLE001 - a diagnostic must not break the run
            watcher.errors.append(f"{event}: {type(error).__name__}: {error}")


# ---------------------------------------------------------------- the wrappers
def _backward(original: Any) -> Any:
    def backward(self: Tensor, gradient: Any = None, retain_graph: bool = False) -> None:
        if _Depth.stepping:  # LBFGS's closure: the optimizer's own business
            return original(self, gradient, retain_graph)
        where = user_location()
        watchers = list(ACTIVE)
        _tell(watchers, "before_backward", self, where)
        original(self, gradient, retain_graph)
        _tell(watchers, "after_backward", self, retain_graph)

    return backward


def _forward(original: Any) -> Any:
    def __call__(self: Module, *args: Any, **kwargs: Any) -> Any:  # noqa: N807
        if _Depth.forward:
            return original(self, *args, **kwargs)
        _Depth.forward = True
        try:
            output = original(self, *args, **kwargs)
        finally:
            _Depth.forward = False
        if not _Depth.stepping and type(self).__module__ != "gradwork.nn.loss":
            where = user_location()
            _tell(ACTIVE, "on_forward", self, args, output, where)
        return output

    return __call__


def _zero_grad(original: Any) -> Any:
    def zero_grad(self: Any, *args: Any, **kwargs: Any) -> None:
        if _Depth.stepping or _Depth.zeroing:
            return original(self, *args, **kwargs)
        where = user_location()
        _tell(ACTIVE, "on_zero_grad", self, where)
        _Depth.zeroing = True
        try:
            return original(self, *args, **kwargs)
        finally:
            _Depth.zeroing = False

    return zero_grad


def _step(original: Any) -> Any:
    def step(self: Optimizer, *args: Any, **kwargs: Any) -> Any:
        if _Depth.stepping:
            return original(self, *args, **kwargs)
        where = user_location()
        _tell(ACTIVE, "before_step", self, where)
        _Depth.stepping = True
        try:
            return original(self, *args, **kwargs)
        finally:
            _Depth.stepping = False

    return step


def _scheduler_step(original: Any) -> Any:
    def step(self: LRScheduler, *args: Any, **kwargs: Any) -> Any:
        # The constructor's own first step (`_is_initial`) is not the user's.
        if _Depth.scheduling or getattr(self, "_is_initial", False):
            return original(self, *args, **kwargs)
        where = user_location()
        _tell(ACTIVE, "on_scheduler_step", self, where)
        _Depth.scheduling = True
        try:
            return original(self, *args, **kwargs)
        finally:
            _Depth.scheduling = False

    return step


def _loader_iter(original: Any) -> Any:
    def __iter__(self: DataLoader) -> Any:  # noqa: N807
        where = user_location()
        _tell(ACTIVE, "on_loader_iter", self, where)
        return _Batches(original(self), self)

    return __iter__


def last_batch_inputs() -> Any:
    """The inputs of the batch a watched loader handed out last (None before any)."""
    return _Batches.last_inputs


def last_batch_loader() -> Any:
    """The loader that handed out that batch."""
    return _Batches.last_loader


class _Batches:
    """A loader's iterator that remembers the inputs of the batch it handed out last."""

    __slots__ = ("batches", "loader")
    last_inputs: Any = None  # one batch's inputs, for "the same batch every step"
    last_loader: Any = None

    def __init__(self, batches: Any, loader: Any) -> None:
        self.batches, self.loader = batches, loader

    def __iter__(self) -> _Batches:
        return self

    def __next__(self) -> Any:
        batch = next(self.batches)
        _Batches.last_inputs = batch[0] if isinstance(batch, tuple | list) and batch else batch
        _Batches.last_loader = self.loader
        return batch

    def __getattr__(self, name: str) -> Any:  # the loader iterator's own methods
        return getattr(self.batches, name)


def _traced_apply(original: Any) -> classmethod:
    def apply(cls: type, *inputs: Any, **options: Any) -> Any:
        result = original(cls, *inputs, **options)
        node = result.grad_fn
        if node is not None and any(w.reads_graphs for w in ACTIVE):
            CREATED[node] = user_location()
        return result

    return classmethod(apply)
