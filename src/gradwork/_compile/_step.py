"""`CompiledStep`: trace a step once per input signature, replay it after, guard every call."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from gradwork._arrays import is_device_array
from gradwork.autograd import anomaly, is_grad_enabled, is_inference_mode_enabled
from gradwork.tensor import Tensor

from ._replay import release_plan, replay, wrap
from ._tape import ARG, EXTERNAL, VALUE, NotReplayableError, Recording, Tracer

MAX_TAPES = 4  # per input signature: the train/eval combinations a step switches between


class Tape:
    """One recorded step: its events, what it returns, and what must hold to replay it."""

    def __init__(self, tracer: Tracer, output: Any, refusal: str | None = None) -> None:
        self.refusal = refusal  # set: this signature and these modes run eagerly, and why
        self.events = () if refusal else tuple(tracer.events)
        self.output = None if refusal else _output_spec(output, tracer)
        self.modules = [(m, m.training) for m in tracer.modules.values()]
        externals = {id(s[1]): s[1] for e in self.events if e[0] == "call"
                     for s in e[2] if s[0] == EXTERNAL}  # fmt: skip
        self.externals = [(t, t.array.shape, t.array.dtype, t._requires_grad)
                          for t in externals.values()]  # fmt: skip
        self.signature = tuple((e[1].__name__, tuple(e[4])) if e[0] == "call" else e[0]
                               for e in self.events)  # fmt: skip
        self.releases = release_plan(self.events, set(_returned_values(self.output)))

    def holds(self) -> bool:
        """The guards beyond the input signature: train/eval modes, the tensors read."""
        for module, training in self.modules:
            if module.training is not training:
                return False
        for tensor, shape, dtype, requires_grad in self.externals:
            if tensor.array.shape != shape or tensor.array.dtype != dtype:
                return False
            if tensor._requires_grad is not requires_grad:
                return False
        return True


class CompiledStep:
    """A training step, traced on its first call and replayed on later ones.

    See `gradwork.compile` for what is guarded and what is not.
    """

    def __init__(self, step_fn: Callable[..., Any], check_every: int = 0) -> None:
        if not callable(step_fn):
            raise TypeError(f"gradwork.compile: expected a function, got {type(step_fn).__name__}")
        if check_every < 0:
            raise ValueError(f"gradwork.compile: check_every must be >= 0, got {check_every}")
        self.step_fn = step_fn
        self.check_every = check_every
        # input signature -> its tapes, or the reason the step runs eagerly for it
        self._tapes: dict[tuple, list[Tape] | str] = {}
        self.calls = 0
        self.stats = {"traces": 0, "replays": 0, "eager": 0, "changed": 0}
        self.__wrapped__ = step_fn
        self.__doc__ = getattr(step_fn, "__doc__", None)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        tensors: list[Tensor] = []
        key = _signature((args, kwargs), tensors)
        if key is None or anomaly.enabled:
            self.stats["eager"] += 1
            return self.step_fn(*args, **kwargs)
        key = (key, is_grad_enabled(), is_inference_mode_enabled())
        # Several tapes per signature: one per combination of train/eval modes seen.
        tape = next((t for t in self._tapes.get(key, ()) if t.holds()), None)
        if tape is None or (self.check_every and self.calls % self.check_every == 0):
            return self._trace(key, tensors, args, kwargs, tape)
        if tape.refusal is not None:  # refused before, for this signature and these modes
            self.stats["eager"] += 1
            return self.step_fn(*args, **kwargs)
        self.stats["replays"] += 1
        values = replay(tape.events, tape.releases, tensors)
        return _build_output(tape.output, tensors, values)

    def _trace(self, key: tuple, tensors: list, args: tuple, kwargs: dict, old: Any) -> Any:
        tracer = Tracer(tensors)
        with Recording(tracer):
            output = self.step_fn(*args, **kwargs)
        self.stats["traces"] += 1
        try:
            if tracer.reason is not None:
                raise NotReplayableError(tracer.reason)
            tracer.check_values_unchanged()
            tracer.check_buffers()
            tracer.check_effects()
            if tracer.reason is not None:
                raise NotReplayableError(tracer.reason)
            tape = Tape(tracer, output)
        except NotReplayableError as refusal:
            tape = Tape(tracer, output, refusal=str(refusal))
            warnings.warn(f"gradwork.compile: running this step eagerly: {refusal}",
                          stacklevel=3)  # fmt: skip
        tapes = [t for t in self._tapes.get(key, []) if t is not old and t.holds() is False]
        if old is not None and old.refusal is None and old.signature != tape.signature:
            self.stats["changed"] += 1
        self._tapes[key] = [tape, *tapes][:MAX_TAPES]
        return output

    def reasons(self) -> list[str]:
        """Why some input signatures run eagerly (empty when every one replays)."""
        return [t.refusal for tapes in self._tapes.values() for t in tapes if t.refusal]


def _signature(value: Any, tensors: list[Tensor]) -> Any:
    """A hashable description of the arguments: shapes and dtypes of tensors, other values.

    Collects the tensors (in order) into `tensors`; None if an argument
    cannot be guarded (an unhashable non-tensor value, a raw array).
    """
    if isinstance(value, Tensor):
        tensors.append(value)
        array = value.array  # NumPy's shape and dtype: cheap to read and to hash
        return ("T", array.shape, array.dtype, value._requires_grad, type(array))
    if isinstance(value, tuple | list):
        parts = tuple(_signature(v, tensors) for v in value)
        return None if None in parts else (type(value).__name__, parts)
    if isinstance(value, dict):
        parts = tuple((k, _signature(v, tensors)) for k, v in sorted(value.items()))
        return None if any(p is None for _, p in parts) else ("dict", parts)
    if hasattr(value, "__array__") or is_device_array(value):
        return None  # a raw array: its values can't be guarded cheaply
    try:
        hash(value)
    except TypeError:
        return None
    return ("V", type(value).__name__, value)


def _output_spec(output: Any, tracer: Tracer) -> Any:
    if output is None:
        return None
    if isinstance(output, Tensor):
        key = id(output)
        if key in tracer.value_of:
            return (VALUE, tracer.value_of[key])
        if key in tracer.args:
            return (ARG, tracer.args[key])
        if key in tracer.created:
            raise NotReplayableError("the step returns a tensor made outside its ops")
        return (EXTERNAL, output)
    if isinstance(output, tuple | list):
        return (type(output), [_output_spec(o, tracer) for o in output])
    if isinstance(output, dict):
        return (dict, {k: _output_spec(v, tracer) for k, v in output.items()})
    raise NotReplayableError(
        f"the step returns a {type(output).__name__}: a replay can only return tensors "
        "(None, or tuples, lists and dicts of them); return the loss tensor, not loss.item()"
    )


def _returned_values(spec: Any) -> list[int]:
    """The value indices an output spec refers to."""
    if spec is None:
        return []
    kind = spec[0]
    if kind is dict:
        return [k for v in spec[1].values() for k in _returned_values(v)]
    if kind is tuple or kind is list:
        return [k for v in spec[1] for k in _returned_values(v)]
    return [spec[1]] if kind == VALUE else []


def _build_output(spec: Any, tensors: list, values: list) -> Any:
    if spec is None:
        return None
    kind = spec[0]
    if kind is dict:
        return {k: _build_output(v, tensors, values) for k, v in spec[1].items()}
    if kind is tuple or kind is list:
        return kind(_build_output(v, tensors, values) for v in spec[1])
    if kind == VALUE:
        return wrap(values[spec[1]])
    if kind == ARG:
        return tensors[spec[1]]
    return spec[1]  # EXTERNAL
