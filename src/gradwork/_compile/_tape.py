"""Recording one training step: the ops it ran, its backward walks, its optimizer calls.

`Tracer` is installed while a step runs eagerly for the first time (see
`autograd.function._tracer`). Every `Function.apply`, `backward()`,
`optimizer.step()` and `optimizer.zero_grad()` reports to it, in program
order, and it writes them down as a flat list of events, the *tape*:

    ("call", cls, sources, options, needs)   one op's forward; its output is value k
    ("backward", root, plan)                 a reverse walk, precomputed (see `on_backward`)
    ("step", optimizer)                      optimizer.step()
    ("zero_grad", optimizer, set_to_none)    optimizer.zero_grad(...)

An op input is named by where it comes from, never by the array it held:
ARG (the i-th tensor argument of the step), VALUE (the output of an earlier
call), EXTERNAL (a tensor that existed before the step: a parameter, a
buffer; read afresh at each replay) or CONST (a Python value baked in).

Whatever the tape cannot express makes the tracer refuse: the step then
runs eagerly (the list is in `gradwork.compile`'s docstring; see the `refuse` calls).
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from gradwork._arrays import is_device_array
from gradwork.autograd import anomaly, function
from gradwork.tensor import Tensor

from ._effects import SideEffects, fingerprint, same_as

ARG, VALUE, EXTERNAL, CONST = range(4)


class NotReplayableError(Exception):
    """The step does something a tape cannot replay; the message says what."""


class Tracer:
    """Builds the tape of one eager run of a step.

    Args:
        args: the step's tensor arguments, in order (each becomes an ARG source).
    """

    def __init__(self, args: list[Tensor]) -> None:
        self.args = {id(t): i for i, t in enumerate(args)}
        self.arg_tensors = list(args)
        self.effects = SideEffects()  # Python's raw writes, which a tape would miss
        self.leaves: list[Tensor] = []  # those the last backward walk wrote gradients to
        # Some ops take an argument's raw array (cross_entropy's class indices).
        self.arg_arrays = {id(t.array): i for i, t in enumerate(args)}
        self.events: list[tuple] = []
        self.count = 0  # op outputs so far
        # id(op output) -> its index. The tracer keeps no op output alive (the
        # trace must not hold more memory than the eager step); an id that a new
        # tensor takes over is dropped here as the new tensor is made.
        self.value_of: dict[int, int] = {}
        self.call_of_node: dict[int, int] = {}  # id(graph node) -> index of its value
        self.event_of_value: list[int] = []  # value index -> index of its "call" event
        self.created: set[int] = set()  # tensors made during the step by anything but an op
        # (weak tensor, version, id of its array): what must not change in place
        self.watched: list[tuple] = []
        self.modules: dict[int, Any] = {}
        self.buffers: list[tuple] = []  # (buffer, fingerprint of its values before the step)
        self.reason: str | None = None

    # ------------------------------------------------------------------ refusal
    def refuse(self, reason: str) -> None:
        """Remember the first reason the tape cannot stand for the step."""
        if self.reason is None:
            self.reason = reason

    # ---------------------------------------------------------------- reports
    def on_apply(self, cls: type, inputs: tuple, options: dict, needs: list, result: Any) -> None:
        if anomaly.enabled:
            self.refuse("anomaly detection is on")
        sources = tuple(self._source(x) for x in inputs)
        for name, option in options.items():
            if isinstance(option, np.ndarray) or is_device_array(option):
                self.refuse(f"{cls.__name__} was given an array as its option {name!r}: its "
                            "values would be frozen in the replay")  # fmt: skip
        self.value_of[id(result)] = self.count
        if result.grad_fn is not None:
            self.call_of_node[id(result.grad_fn)] = self.count
        self.count += 1
        self.event_of_value.append(len(self.events))
        self.watch(result)
        self.events.append(("call", cls, sources, options, tuple(needs)))

    def watch(self, tensor: Tensor) -> None:
        self.watched.append((weakref.ref(tensor), tensor._version_counter.value, id(tensor.array)))

    def made(self, tensor: Tensor) -> None:
        """A tensor was made during the step (by an op or not): its id is new."""
        self.value_of.pop(id(tensor), None)
        self.created.add(id(tensor))

    def _source(self, x: Any) -> tuple:
        if not isinstance(x, Tensor):
            if isinstance(x, np.ndarray) or is_device_array(x):
                if id(x) in self.arg_arrays:
                    return (ARG, self.arg_arrays[id(x)])
                owner = self._module_tensor_of(x)  # batch norm's running statistics
                if owner is not None:
                    self.watch(owner)
                    return (EXTERNAL, owner)
                self.refuse("an op was given a raw array that is not a tensor argument of "
                            "the step (a class weight, an index made in Python): its values "
                            "would be frozen in the replay")  # fmt: skip
            elif isinstance(x, tuple | list) and any(_holds_array(item) for item in x):
                self.refuse(
                    "an op was given arrays inside a tuple or list (an index "
                    "like t[rows, cols]): their values would be frozen in the replay"
                )
            return (CONST, x)
        key = id(x)
        if key in self.value_of:
            return (VALUE, self.value_of[key])
        if key in self.args:
            return (ARG, self.args[key])
        if key in self.created:
            self.refuse("an op read a tensor made inside the step by something other than an "
                        "op (a factory such as gw.rand or gw.tensor, .detach(), .data, a "
                        "dropout mask): its values would be frozen in the replay")  # fmt: skip
        self.watch(x)
        self.effects.note_values(x)
        return (EXTERNAL, x)

    def _module_tensor_of(self, array: Any) -> Tensor | None:
        """The buffer or parameter (of a module the step called) whose array this is."""
        for module in self.modules.values():
            for tensor in (*module.buffers(recurse=False), *module.parameters(recurse=False)):
                if tensor is not None and tensor.array is array:
                    return tensor
        return None

    def on_backward(self, tensor: Tensor, implicit: bool, order: list) -> None:
        """Precompute the walk: for each node, where each of its input gradients goes."""
        root = self.value_of.get(id(tensor))
        if root is None or not implicit:
            self.refuse("backward() must start from a one-element result of the step's own "
                        "ops, with no gradient argument")  # fmt: skip
            return
        self._check_unchanged()
        self.check_effects()
        plan = []
        self.leaves = []
        for node in order:
            index = self.call_of_node.get(id(node))
            if index is None:
                self.refuse("backward() reached a graph built before the step (a tensor "
                            "carried over from the last step: detach it)")  # fmt: skip
                return
            if node._output_ref is not None:
                self.refuse("a tensor in the step has a hook or retain_grad()")
            _, _, sources, _, needs = self.events[self.event_of_value[index]]
            routes = []
            for source, parent, needed in zip(sources, node.parents, needs, strict=False):
                if not needed:
                    routes.append(None)
                elif parent is not None:
                    routes.append(("node", self.call_of_node.get(id(parent))))
                else:
                    leaf = self._leaf(source)
                    self.leaves.append(leaf)
                    routes.append(("leaf", source))
                    if leaf is not None and leaf._hooks:
                        self.refuse("a leaf tensor has a gradient hook")
            plan.append((index, sources, tuple(routes)))
        if any(route is not None and route[0] == "node" and route[1] is None
               for _, _, routes in plan for route in routes):  # fmt: skip
            self.refuse("backward() reached a graph built before the step")
        self.events.append(("backward", root, tuple(plan)))

    def _leaf(self, source: tuple) -> Tensor:
        return source[1] if source[0] == EXTERNAL else self.arg_tensors[source[1]]

    def after_backward(self) -> None:
        self.effects.note_grads(self.leaves)

    def after_optimizer_step(self, optimizer: Any) -> None:
        self.effects.stepped(optimizer)

    def check_effects(self) -> None:
        reason = self.effects.first_change()
        if reason is not None:
            self.refuse(reason)

    def on_optimizer_step(self, optimizer: Any, closure: Any) -> None:
        if closure is not None:
            self.refuse("optimizer.step() was given a closure")
        self._check_unchanged()
        self.check_effects()
        self.effects.note_optimizer(optimizer)
        self.events.append(("step", optimizer))

    def on_zero_grad(self, optimizer: Any, set_to_none: bool) -> None:
        self.effects.note_optimizer(optimizer)
        self.effects.zeroing(optimizer)
        self.events.append(("zero_grad", optimizer, set_to_none))

    def note_buffers(self, module: Any) -> None:
        """Fingerprint a module's buffers as the step first calls it (see `check_buffers`)."""
        for buffer in module.buffers(recurse=False):
            if buffer is not None:
                self.buffers.append((buffer, fingerprint(buffer.array)))

    def check_buffers(self) -> None:
        """A buffer changed by Python, not by an op's forward, would not change in a replay.

        Batch norm's running statistics are updated inside its op (replayed);
        its `num_batches_tracked` counter is advanced by the layer's Python, so
        a training step through batch norm runs eagerly.
        """
        read_by_ops = {id(s[1]) for e in self.events if e[0] == "call" for s in e[2]
                       if s[0] == EXTERNAL}  # fmt: skip
        for buffer, before in self.buffers:
            if id(buffer) in read_by_ops:
                continue
            if not same_as(buffer.array, before):
                raise NotReplayableError("a module buffer was changed by Python code, not by an op "
                              "(batch norm's num_batches_tracked in training mode): a replay "
                              "would not change it")  # fmt: skip

    def check_values_unchanged(self) -> None:
        """At the end: no op output was changed in place after the last backward or step."""
        for ref, version, array in self.watched:
            tensor = ref()
            if (
                tensor is not None
                and id(tensor) in self.value_of
                and (tensor._version_counter.value != version or id(tensor.array) != array)
            ):
                raise NotReplayableError("a result of the step's ops was changed in place")

    def _check_unchanged(self) -> None:
        """No tensor the tape reads was changed in place (the tape would miss the change)."""
        for ref, version, array in self.watched:
            tensor = ref()
            if tensor is None:  # gone: nothing can change it any more
                continue
            if tensor._version_counter.value != version or id(tensor.array) != array:
                self.refuse("a tensor was changed in place inside the step (+=, add_, "
                            "t[i] = v, ...): write the step out of place")  # fmt: skip
                return


class Recording:
    """Installs a tracer for the duration of a `with` block (and notes what it must).

    Besides the engine's own reports, it watches, only while it records:
    which modules are called (their train/eval flags become guards), which
    tensors are made by anything other than an op, and value reads (`.item()`,
    `float(t)`, `if t:`), which could steer Python in a way a replay cannot follow.
    """

    def __init__(self, tracer: Tracer) -> None:
        self.tracer = tracer
        self._saved: list[tuple] = []

    def __enter__(self) -> Tracer:
        from gradwork import tensor as tensor_module
        from gradwork.nn import Module

        tracer = self.tracer
        if function._tracer is not None:
            raise RuntimeError("gradwork.compile: a compiled step called another compiled step "
                               "while tracing; compile the outer step only")  # fmt: skip
        make, init, call = function._make_tensor, Tensor.__init__, Module.__call__

        def made_by_factory(*args: Any, **kwargs: Any) -> Any:
            tensor = make(*args, **kwargs)
            tracer.made(tensor)
            return tensor

        def init_noting(self: Tensor, *args: Any, **kwargs: Any) -> None:
            init(self, *args, **kwargs)
            tracer.made(self)

        def call_noting(module: Any, *args: Any, **kwargs: Any) -> Any:
            if id(module) not in tracer.modules:
                tracer.modules[id(module)] = module
                tracer.note_buffers(module)
            return call(module, *args, **kwargs)

        self._patch(function, "_make_tensor", made_by_factory)
        self._patch(tensor_module, "_from_op", made_by_factory)
        self._patch(Tensor, "__init__", init_noting)
        self._patch(Module, "__call__", call_noting)
        for name in ("item", "tolist", "__bool__", "__float__", "__int__", "__index__"):
            self._patch(Tensor, name, _refusing_read(getattr(Tensor, name), tracer, name))
        function._tracer = tracer
        return tracer

    def _patch(self, owner: Any, name: str, value: Any) -> None:
        own = owner.__dict__ if isinstance(owner, type) else vars(owner)
        self._saved.append((owner, name, own.get(name, _INHERITED)))
        setattr(owner, name, value)

    def __exit__(self, *exc: object) -> None:
        function._tracer = None
        for owner, name, value in reversed(self._saved):
            if value is _INHERITED:
                delattr(owner, name)
            else:
                setattr(owner, name, value)
        self._saved.clear()


_INHERITED = object()  # marks an attribute the class did not define itself


def _holds_array(value: Any) -> bool:
    if isinstance(value, tuple | list):
        return any(_holds_array(item) for item in value)
    return isinstance(value, np.ndarray | Tensor) or is_device_array(value)


def _refusing_read(read: Any, tracer: Tracer, name: str) -> Any:
    def reading(self: Tensor, *args: Any, **kwargs: Any) -> Any:
        tracer.refuse(f"the step read a tensor's value ({name}): Python may branch on it, "
                      "which a replay cannot follow; return the tensor and read it outside "
                      "the compiled step")  # fmt: skip
        return read(self, *args, **kwargs)

    return reading
