"""Module hooks: forward (pre-)hooks and torch's "full" backward (pre-)hooks.

`Module` inherits `HookMethods`; this file holds the registration methods and
what `Module.__call__` does when a hook is set.

Backward hooks work as torch's `BackwardHook` does: the module's tensor inputs
go through one identity node (`_HookJunction`) before `forward`, and its tensor
outputs through another after it. The engine delivers each junction ONE
gradient (its output's), after every consumer has contributed, so the output
junction sees all grad_outputs at once (where backward pre-hooks run) and the
input junction all grad_inputs at once (where full backward hooks run, and
may replace them). With several tensors a junction concatenates them into one
flat array and hands the module slices of it: the engine's nodes have one
output each, and this keeps all gradients of a call meeting in one node.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

from gradwork import autograd
from gradwork.hooks import RemovableHandle
from gradwork.nn._placement import as_array
from gradwork.tensor import Tensor


def _add(
    registry: OrderedDict, hook: Callable, prepend: bool, flags: tuple = ()
) -> RemovableHandle:
    """Register `hook`; `flags` are (condition, dict) pairs marking it, e.g. with_kwargs."""
    marked = [flagged for condition, flagged in flags if condition]
    handle = RemovableHandle(registry, extra_dict=[flagged for _, flagged in flags])
    registry[handle.id] = hook
    for flagged in marked:
        flagged[handle.id] = True
    if prepend:
        registry.move_to_end(handle.id, last=False)
    return handle


def _registry(module: Any, name: str) -> OrderedDict:
    """The module's dict `name`, created on first use (modules built before it existed)."""
    registry = module.__dict__.get(name)
    if registry is None:
        registry = OrderedDict()
        object.__setattr__(module, name, registry)
    return registry


class HookMethods:
    """The `register_*_hook` methods of `Module`, with torch's arguments and semantics."""

    def register_forward_pre_hook(
        self, hook: Callable, *, prepend: bool = False, with_kwargs: bool = False
    ) -> RemovableHandle:
        """`hook(module, args)` runs before forward and may return new args.

        With `with_kwargs=True` it is `hook(module, args, kwargs)` and may return
        `(args, kwargs)`. A single non-tuple return value becomes `(value,)`.
        """
        flags = ((with_kwargs, _registry(self, "_forward_pre_hooks_with_kwargs")),)
        return _add(self._forward_pre_hooks, hook, prepend, flags)

    def register_forward_hook(
        self,
        hook: Callable,
        *,
        prepend: bool = False,
        with_kwargs: bool = False,
        always_call: bool = False,
    ) -> RemovableHandle:
        """`hook(module, args, output)` runs after forward; it may return a new output.

        With `with_kwargs=True` it is `hook(module, args, kwargs, output)`;
        with `always_call=True` it also runs (with output None) when forward raises.
        """
        flags = (
            (with_kwargs, _registry(self, "_forward_hooks_with_kwargs")),
            (always_call, _registry(self, "_forward_hooks_always_called")),
        )
        return _add(self._forward_hooks, hook, prepend, flags)

    def register_full_backward_pre_hook(
        self, hook: Callable, prepend: bool = False
    ) -> RemovableHandle:
        """`hook(module, grad_output)` runs when the gradients of the outputs are known.

        `grad_output` is a tuple with one entry per output (None for outputs that
        are not tensors requiring grad, or that no gradient reached, as in
        torch); the hook may return a replacement tuple.
        """
        return _add(_registry(self, "_backward_pre_hooks"), hook, prepend)

    def register_full_backward_hook(self, hook: Callable, prepend: bool = False) -> RemovableHandle:
        """`hook(module, grad_input, grad_output)` runs when the input gradients are known.

        `grad_input` has one entry per positional argument of forward, as in
        torch: zeros for a tensor that does not require grad or that forward
        left unused, None for a non-tensor (and all None when no argument
        requires grad). `grad_output` is as for backward pre-hooks. The hook
        may return a replacement tuple of the same length, which is what flows
        on upstream.

        Example:
            >>> import gradwork as gw
            >>> layer = gw.nn.Linear(2, 1)
            >>> seen = []
            >>> handle = layer.register_full_backward_hook(
            ...     lambda m, gin, gout: seen.append((gin[0].shape, gout[0].shape)))
            >>> layer(gw.ones(3, 2, requires_grad=True)).sum().backward()
            >>> seen
            [((3, 2), (3, 1))]
        """
        return _add(_registry(self, "_backward_hooks"), hook, prepend)

    def _has_hooks(self) -> bool:
        get = self.__dict__.get
        return bool(self._forward_pre_hooks or self._forward_hooks or get("_backward_hooks")
                    or get("_backward_pre_hooks"))  # fmt: skip

    def _call_with_extras(self, args: tuple, kwargs: dict) -> Any:
        args, kwargs = _run_pre_hooks(self, args, kwargs)
        get = self.__dict__.get
        backward = None
        if (get("_backward_hooks") or get("_backward_pre_hooks")) and autograd.is_grad_enabled():
            backward = BackwardHook(self, len(args))
            args = backward.wrap_inputs(args)
        try:
            output = self._forward_in_scope(args, kwargs)
        except BaseException:
            _run_forward_hooks(self, args, kwargs, None, only_always_called=True)
            raise
        output = _run_forward_hooks(self, args, kwargs, output)
        return output if backward is None else backward.wrap_outputs(output)


def _run_pre_hooks(module: Any, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    with_kwargs = module.__dict__.get("_forward_pre_hooks_with_kwargs") or {}
    for hook_id, hook in list(module._forward_pre_hooks.items()):
        if hook_id in with_kwargs:
            result = hook(module, args, kwargs)
            if result is not None:
                if not (isinstance(result, tuple) and len(result) == 2):
                    raise RuntimeError(
                        "forward pre-hook must return None or a tuple of (new_args, new_kwargs), "
                        f"but got {result}."
                    )
                args, kwargs = result
        else:
            result = hook(module, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
    return args, kwargs


def _run_forward_hooks(module: Any, args: tuple, kwargs: dict, output: Any,
                       only_always_called: bool = False) -> Any:  # fmt: skip
    with_kwargs = module.__dict__.get("_forward_hooks_with_kwargs") or {}
    always = module.__dict__.get("_forward_hooks_always_called") or {}
    for hook_id, hook in list(module._forward_hooks.items()):
        if only_always_called and hook_id not in always:
            continue
        if hook_id in with_kwargs:
            result = hook(module, args, kwargs, output)
        else:
            result = hook(module, args, output)
        if result is not None and not only_always_called:
            output = result
    return output


# --------------------------------------------------------------------------
# Backward hooks
# --------------------------------------------------------------------------
class _HookJunction(autograd.Function):
    """Identity on several tensors at once: the one node where their gradients meet.

    NOTE: one tensor passes as a view (sharing storage and version, as torch's
    alias does); several are concatenated, flat, and handed on as slices
    (`_JunctionPiece`), which note which of them received a gradient: torch's
    hooks see None for an output that no gradient reached, not zeros.
    """

    @staticmethod
    def forward(ctx: Any, *arrays: Any) -> Any:
        ctx.shapes = [(a.shape, a.dtype) for a in arrays]
        ctx.arrived = set()
        if len(arrays) == 1:
            return arrays[0].view()
        return np.concatenate([a.ravel() for a in arrays])

    @staticmethod
    def backward(ctx: Any, grad: Any) -> tuple:
        single = len(ctx.shapes) == 1
        grads, offset = [], 0
        for index, (shape, dtype) in enumerate(ctx.shapes):
            size = int(np.prod(shape))
            if single:
                grads.append(grad.astype(dtype, copy=False))
            elif index in ctx.arrived or not ctx.outputs:
                grads.append(grad[offset : offset + size].reshape(shape).astype(dtype, copy=False))
            else:
                grads.append(None)
            offset += size
        ctx.arrived.clear()  # a retained graph may run backward again
        grads = ctx.on_backward(grads)
        if ctx.outputs:  # NOTE: torch hands zeros on where its hooks saw None
            # np.zeros_like: zeros on the gradient's device (a GPU array's, on a GPU)
            grads = [np.zeros_like(grad, shape=shape, dtype=dtype) if g is None else g
                     for g, (shape, dtype) in zip(grads, ctx.shapes, strict=True)]  # fmt: skip
        return tuple(grads)


class _JunctionPiece(autograd.Function):
    """One tensor's slice of a junction's flat output; notes that a gradient reached it."""

    @staticmethod
    def forward(ctx: Any, flat: Any, index: int, start: int, shape: tuple, arrived: set) -> Any:
        ctx.index, ctx.start, ctx.size, ctx.arrived = index, start, flat.size, arrived
        return flat[start : start + int(np.prod(shape))].reshape(shape)

    @staticmethod
    def backward(ctx: Any, grad: Any) -> tuple:
        ctx.arrived.add(ctx.index)
        full = np.zeros_like(grad, shape=ctx.size)  # on the gradient's device
        full[ctx.start : ctx.start + grad.size] = grad.ravel()
        return full, None, None, None, None


def _through_junction(tensors: list, on_backward: Callable, outputs: bool) -> list:
    """The tensors passed through one `_HookJunction`, whose backward calls `on_backward`.

    For a module's `outputs`, as torch: the hooks see None for a tensor that
    no gradient reached, and zeros go on wherever a gradient is None. For its
    inputs, the hooks see zeros for an unused tensor, and a None they return
    stops that gradient.
    """
    joint = _HookJunction.apply(*tensors)
    joint.grad_fn.on_backward = on_backward
    joint.grad_fn.outputs = outputs
    if len(tensors) == 1:
        return [joint]
    pieces, offset = [], 0
    for index, tensor in enumerate(tensors):
        piece = _JunctionPiece.apply(joint, index, offset, tensor.shape, joint.grad_fn.arrived)
        pieces.append(piece if piece.dtype == tensor.dtype else piece.to(tensor.dtype))
        offset += tensor.array.size
    return pieces


def _pack(grads: list, positions: list, size: int) -> tuple:
    packed: list = [None] * size
    for position, g in zip(positions, grads, strict=False):
        packed[position] = None if g is None else Tensor(g)
    return tuple(packed)


def _unpack(packed: tuple, positions: list) -> list:
    return [None if packed[i] is None else as_array(packed[i]) for i in positions]


class BackwardHook:
    """One call's backward hooks: where the module's gradients are caught and handed on."""

    def __init__(self, module: Any, n_args: int) -> None:
        self.module, self.n_args = module, n_args
        self.input_positions: list[int] = []
        self.constant_inputs: dict[int, Any] = {}  # tensors without grad: their arrays
        self.grad_output: tuple = ()

    def wrap_inputs(self, args: tuple) -> tuple:
        self.input_positions = [i for i, a in enumerate(args) if _tracked(a)]
        if not self.input_positions:
            return args
        self.constant_inputs = {
            i: a.array for i, a in enumerate(args) if isinstance(a, Tensor) and not a.requires_grad
        }
        tensors = [args[i] for i in self.input_positions]
        pieces = _through_junction(tensors, self._input_grads, outputs=False)
        args = list(args)
        for i, piece in zip(self.input_positions, pieces, strict=True):
            args[i] = piece
        return tuple(args)

    def wrap_outputs(self, output: Any) -> Any:
        single = isinstance(output, Tensor)
        if not single and not isinstance(output, tuple | list):
            return output  # e.g. a dict: torch's hooks see only tensors and sequences of them
        items = [output] if single else list(output)
        positions = [i for i, o in enumerate(items) if _tracked(o)]
        if not positions:
            return output
        self.n_outputs, self.output_positions = len(items), positions
        pieces = _through_junction([items[i] for i in positions], self._output_grads, outputs=True)
        for i, piece in zip(positions, pieces, strict=False):
            items[i] = piece
        if single:
            return items[0]
        return type(output)(*items) if hasattr(output, "_fields") else type(output)(items)

    def _output_grads(self, grads: list) -> list:
        """Run the pre-hooks (and, with no input to wait for, the hooks) on grad_output.

        As torch: None for an output no gradient reached, and for non-tensor
        outputs and tensors that do not require grad.
        """
        packed = _pack(grads, self.output_positions, self.n_outputs)
        for hook in list(self.module.__dict__.get("_backward_pre_hooks", {}).values()):
            result = hook(self.module, packed)
            if result is not None:
                packed = _checked(result, len(packed), "grad_output")
        self.grad_output = packed
        if not self.input_positions:  # no input gets a gradient: the hooks run now
            none = (None,) * self.n_args
            for hook in list(self.module.__dict__.get("_backward_hooks", {}).values()):
                result = hook(self.module, none, packed)
                if result is not None and any(r is not None for r in result):
                    raise RuntimeError(
                        "Backward hook for Modules where no input requires gradient should "
                        "always return None or None for all gradients."
                    )
        return _unpack(packed, self.output_positions)

    def _input_grads(self, grads: list) -> list:
        """Run the hooks on grad_input and hand on what they return.

        As torch: zeros for a tensor argument that does not require grad, or
        that forward did not use (torch materializes them); None for the
        other arguments.
        """
        packed = list(_pack(grads, self.input_positions, self.n_args))
        for i, like in self.constant_inputs.items():
            packed[i] = Tensor(np.zeros_like(like))  # shape, dtype and device of the input
        packed = tuple(packed)
        for hook in list(self.module.__dict__.get("_backward_hooks", {}).values()):
            result = hook(self.module, packed, self.grad_output)
            if result is not None:
                packed = _checked(result, len(packed), "grad_input")
        return _unpack(packed, self.input_positions)


def _tracked(value: Any) -> bool:
    return isinstance(value, Tensor) and value.requires_grad


def _checked(result: Any, expected: int, what: str) -> tuple:
    result = tuple(result) if isinstance(result, tuple | list) else (result,)
    if len(result) != expected:
        raise RuntimeError(
            f"Backward hook returned an invalid number of {what}, got {len(result)}, but "
            f"expected {expected}"
        )
    return result
