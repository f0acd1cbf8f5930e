"""Record one forward pass: every primitive op, plus the calls that export whole.

While a `Tracer` is active it wraps three entry points, for the tracing thread only:

* `Function.apply`: each primitive op (Add, Conv2d, Reshape, ...) becomes a record;
* the functions of `gradwork.nn.functional` listed in `FUNCTIONS` (activations,
  dropout, embedding, ...) and tensor comparisons: one record each, with the
  primitives inside them left out, because their ONNX form is one node or
  because they compute masks on raw arrays that an op-level trace would bake in;
* `Module.__call__`: keeps the module path for error messages, and records
  modules with an emitter of their own (RNN, LSTM, GRU) as a single call.

A record holds the target, its arguments and its result, all as they were in
this pass; `gradwork.onnx._graph` turns the records into ONNX nodes.
"""

from __future__ import annotations

import functools
import importlib
import sys
import threading
from dataclasses import dataclass, field
from typing import Any

from gradwork import autograd
from gradwork.autograd import Function
from gradwork.nn.module import Module
from gradwork.tensor import Tensor

# (module, name) of every wrapped function; each is also replaced in gradwork.nn.functional.
FUNCTIONS = [
    ("gradwork.nn.functional._activation", name)
    for name in (
        "relu", "leaky_relu", "elu", "gelu", "silu", "swish", "sigmoid", "tanh", "softplus",
        "softmax", "log_softmax", "softmin", "hardtanh", "relu6", "hardsigmoid", "hardswish",
        "mish", "selu", "celu", "softsign", "logsigmoid",
    )
] + [
    ("gradwork.nn.functional._norm_dropout", "dropout"),
    ("gradwork.nn.functional._norm_dropout", "dropout2d"),
    ("gradwork.nn.embedding", "embedding"),
    ("gradwork._tensor_math", "_compare"),
    ("gradwork.nn._attention_masks", "canonical_mask"),
    # Tensor methods that pick indices with NumPy (max(dim), argmax): `Class.method`
    ("gradwork._tensor_math", "MathMethods._extreme_along"),
    ("gradwork._tensor_math", "MathMethods.argmax"),
    ("gradwork._tensor_math", "MathMethods.argmin"),
]  # fmt: skip


@dataclass
class Record:
    """One call seen during the forward pass."""

    kind: str  # "op" (a Function), "function" or "module"
    target: Any  # the Function class, the function, or the module
    args: tuple
    kwargs: dict
    output: Any
    path: str  # the module path where it ran ("" at the top)
    # each output tensor's (version, graph node) when it was made: an in-place op may
    # change both later (`out += x` moves `out` on to the Add node)
    made: list = field(default_factory=list)
    # id -> (version, graph node) of each input tensor when the call began, for the same reason
    seen: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        if self.kind == "op":
            return self.target.__name__
        if self.kind == "module":
            return type(self.target).__name__
        return f"F.{self.target.__name__}"


@dataclass
class Tracer:
    """Patches the entry points while active (`with Tracer(modules) as tracer:`)."""

    whole_modules: tuple  # module classes recorded as one call
    records: list = field(default_factory=list)
    path: list = field(default_factory=list)
    quiet: int = 0  # > 0 inside a call recorded whole: its inner ops are not recorded
    keep: list = field(default_factory=list)  # keeps every traced object alive (ids stay unique)

    def __enter__(self) -> Tracer:
        self.thread = threading.get_ident()
        self.saved: list[tuple[Any, str, Any]] = []
        try:
            self._install()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _install(self) -> None:
        apply = Function.__dict__["apply"].__func__
        self._patch(Function, "apply", classmethod(self._wrap_apply(apply)))
        self._patch(Module, "__call__", self._wrap_call(Module.__call__))
        for module_name, name in FUNCTIONS:
            try:
                owner = importlib.import_module(module_name)
                if "." in name:  # a method: patched on its class
                    class_name, name = name.split(".")
                    owner = getattr(owner, class_name)
                original = owner.__dict__[name]
            except (ImportError, AttributeError, KeyError):
                continue  # (not in this tree: its ops are traced one by one instead)
            wrapped = self._wrap_function(original)
            if isinstance(owner, type):
                self._patch(owner, name, wrapped)
                continue
            # every gradwork module that holds it: `F.relu` and `from ... import relu` alike
            for module in list(sys.modules.values()):
                if getattr(module, "__name__", "").startswith("gradwork.") and (
                    module.__dict__.get(name) is original
                ):
                    self._patch(module, name, wrapped)

    def __exit__(self, *exc: Any) -> None:
        for owner, name, value in reversed(self.saved):
            setattr(owner, name, value)

    def _patch(self, owner: Any, name: str, value: Any) -> None:
        self.saved.append((owner, name, owner.__dict__[name]))
        setattr(owner, name, value)

    def _active(self) -> bool:
        return self.quiet == 0 and threading.get_ident() == self.thread

    def _record(self, kind: str, target: Any, args: tuple, kwargs: dict, output: Any,
                seen: dict) -> None:  # fmt: skip
        self.keep.append((args, kwargs, output))
        made = [(t._version_counter.value, t.grad_fn) for t in tensors_in(output)]
        path = ".".join(self.path)
        self.records.append(Record(kind, target, args, kwargs, output, path, made, seen))

    def _wrap_apply(self, apply: Any) -> Any:
        tracer = self

        def traced_apply(cls: type, *inputs: Any, **options: Any) -> Any:
            if not tracer._active():
                return apply(cls, *inputs, **options)
            seen = _states(inputs, options)
            output = apply(cls, *inputs, **options)
            tracer._record("op", cls, inputs, options, output, seen)
            return output

        return traced_apply

    def _wrap_function(self, function: Any) -> Any:
        tracer = self

        @functools.wraps(function)
        def traced(*args: Any, **kwargs: Any) -> Any:
            if not tracer._active():
                return function(*args, **kwargs)
            seen = _states(args, kwargs)
            tracer.quiet += 1
            try:
                output = function(*args, **kwargs)
            finally:
                tracer.quiet -= 1
            tracer._record("function", function, args, kwargs, output, seen)
            return output

        return traced

    def _wrap_call(self, call: Any) -> Any:
        tracer = self

        def traced_call(module: Module, *args: Any, **kwargs: Any) -> Any:
            if threading.get_ident() != tracer.thread:
                return call(module, *args, **kwargs)
            name = getattr(module, "_registered_name", "") or ""
            whole = tracer.quiet == 0 and isinstance(module, tracer.whole_modules)
            seen = _states(args, kwargs) if whole else {}
            if name:
                tracer.path.append(name)
            tracer.quiet += whole
            try:
                output = call(module, *args, **kwargs)
            finally:
                tracer.quiet -= whole
                if name:
                    tracer.path.pop()
            if whole:
                if name:
                    tracer.path.append(name)
                tracer._record("module", module, args, kwargs, output, seen)
                if name:
                    tracer.path.pop()
            return output

        return traced_call


def tensors_in(value: Any) -> list:
    """The tensors of an output, in order: a tensor, or tuples, lists and dicts of them."""
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, tuple | list):
        return [t for item in value for t in tensors_in(item)]
    if isinstance(value, dict):
        return [t for item in value.values() for t in tensors_in(item)]
    return []


def _states(args: tuple, kwargs: dict) -> dict:
    tensors = tensors_in(list(args)) + tensors_in(kwargs)
    return {id(t): (t._version_counter.value, t.grad_fn) for t in tensors}


def trace(model: Any, args: tuple, kwargs: dict, whole_modules: tuple) -> tuple:
    """Run `model(*args, **kwargs)` once with gradients on: (records, output, keep-alive)."""
    with autograd.enable_grad(), Tracer(whole_modules) as tracer:
        output = model(*args, **kwargs)
    return tracer.records, output, tracer.keep
