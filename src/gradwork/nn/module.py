"""`Module`: the base class of layers and models, with torch's registry and API.

Assigning a `Parameter`, a `Module` or (after `register_buffer`) a tensor to an
attribute registers it, exactly as in torch; names compose with dots
(`encoder.0.weight`). Each registered child also remembers the name it was
registered under, which is how error messages and anomaly mode name module
paths without any module storing its full path (see _errors.py).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from gradwork import autograd, dtypes
from gradwork.autograd import anomaly
from gradwork.hooks import RemovableHandle  # noqa: F401 - re-exported (torch keeps it here too)
from gradwork.nn import _placement, _state_dict
from gradwork.nn._errors import LayerInputError
from gradwork.nn._hooks import HookMethods
from gradwork.nn.parameter import Parameter
from gradwork.tensor import Tensor


class Module(HookMethods):
    """Base class of every layer and model: subclass it and write `forward`.

    Example:
        >>> import gradwork as gw
        >>> class TwoLayer(gw.nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.fc1 = gw.nn.Linear(4, 8)
        ...         self.fc2 = gw.nn.Linear(8, 2)
        ...     def forward(self, x):
        ...         return self.fc2(self.fc1(x).relu())
        >>> model = TwoLayer()
        >>> [name for name, _ in model.named_parameters()]
        ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']
        >>> model(gw.randn(3, 4)).shape
        (3, 2)
    """

    training: bool

    def __init__(self) -> None:
        setter = object.__setattr__
        setter(self, "training", True)
        setter(self, "_parameters", OrderedDict())
        setter(self, "_buffers", OrderedDict())
        setter(self, "_non_persistent", set())
        setter(self, "_modules", OrderedDict())
        setter(self, "_forward_hooks", OrderedDict())
        setter(self, "_forward_pre_hooks", OrderedDict())
        setter(self, "_backward_hooks", OrderedDict())
        setter(self, "_backward_pre_hooks", OrderedDict())
        setter(self, "_registered_name", "")

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(
            f"{type(self).__name__} has no forward(): define `def forward(self, x): ...`"
        )

    # ------------------------------------------------------------------ calling
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if (self._forward_pre_hooks or self._forward_hooks or anomaly.enabled
                or self._backward_hooks or self._backward_pre_hooks):  # fmt: skip
            return self._call_with_extras(args, kwargs)  # hooks: see _hooks.py
        try:
            return self.forward(*args, **kwargs)
        except LayerInputError as error:
            error.add_parent(self._registered_name)
            raise

    def _forward_in_scope(self, args: tuple, kwargs: dict) -> Any:
        """`forward`, named in anomaly mode's module path and in layer-input errors."""
        try:
            if anomaly.enabled and self._registered_name:
                with autograd.module_scope(self._registered_name):
                    return self.forward(*args, **kwargs)
            return self.forward(*args, **kwargs)
        except LayerInputError as error:
            error.add_parent(self._registered_name)
            raise

    # ----------------------------------------------------------------- registry
    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, Parameter):
            self._forget(name)
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._forget(name)
            self._modules[name] = value
            object.__setattr__(value, "_registered_name", name)
        elif name in self._parameters:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as parameter '{name}' of "
                    f"{type(self).__name__}: wrap it as nn.Parameter(...) or assign None"
                )
            self._parameters[name] = None
        elif name in self._buffers:
            self._buffers[name] = _as_buffer(value)
        elif name in self._modules and value is None:
            self._modules[name] = None
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name: str) -> None:
        for registry in (self._parameters, self._buffers, self._modules):
            registry.pop(name, None)
        self.__dict__.pop(name, None)

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails: look in the registries.
        registries = self.__dict__
        for key in ("_parameters", "_buffers", "_modules"):
            registry = registries.get(key)
            if registry is not None and name in registry:
                return registry[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for registry in (self._parameters, self._buffers, self._modules):
            if name in registry:
                del registry[name]
                self._non_persistent.discard(name)
                return
        object.__delattr__(self, name)

    def register_buffer(self, name: str, tensor: Any, persistent: bool = True) -> None:
        """Register state that is not trained (running statistics); `persistent`: in state_dict."""
        if "." in name or not name:
            raise KeyError(
                f"register_buffer: buffer name can't be empty or contain '.', got {name!r}"
            )
        self._forget(name)
        self._buffers[name] = _as_buffer(tensor)
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        self._forget(name)
        self._parameters[name] = param

    def add_module(self, name: str, module: Module | None) -> None:
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {type(module).__name__} is not a Module")
        self._forget(name)
        self._modules[name] = module
        if module is not None:
            object.__setattr__(module, "_registered_name", name)

    register_module = add_module

    def get_submodule(self, target: str) -> Module:
        module = self
        for part in target.split(".") if target else []:
            if part not in module._modules:
                raise AttributeError(f"{type(module).__name__} has no submodule `{part}`")
            module = module._modules[part]
        return module

    # ---------------------------------------------------------------- iteration
    def named_modules(self, memo: set | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:  # fmt: skip
        """(path, module) for this module and every descendant, depth first."""
        memo = set() if memo is None else memo
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                path = prefix + ("." if prefix else "") + name
                yield from child.named_modules(memo, path, remove_duplicate)

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen = set()
        for name, child in self._modules.items():
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self) -> Iterator[Module]:
        for _, child in self.named_children():
            yield child

    def _named_members(self, registry: str, prefix: str, recurse: bool, remove_duplicate: bool):
        seen = set()
        modules = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for path, module in modules:
            for name, value in getattr(module, registry).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield path + ("." if path else "") + name, value

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, parameter in self.named_parameters(recurse=recurse):
            yield parameter

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:  # fmt: skip
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    # -------------------------------------------------------------------- state
    def state_dict(self) -> OrderedDict:
        """Parameters and persistent buffers by torch's names, as NumPy array copies."""
        return _state_dict.state_dict(self)

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> Any:
        """Load arrays (NumPy, gradwork or torch tensors) in place; returns (missing, unexpected).

        Raises RuntimeError listing every missing, unexpected and mis-shaped key
        when `strict` (mis-shaped keys raise even when not strict, as in torch).
        """
        return _state_dict.load_state_dict(self, state_dict, strict)

    def train(self, mode: bool = True) -> Module:
        if not isinstance(mode, bool):
            raise ValueError(f"train: mode must be a bool, got {mode!r}")
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for parameter in self.parameters():
            parameter.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        for parameter in self.parameters():
            if parameter.grad is None:
                continue
            if set_to_none:
                parameter.grad = None
            else:
                parameter.grad.array = np.zeros_like(parameter.grad.array)

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call `fn` on every child (recursively), then on this module; e.g. custom init."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def to(self, *args: Any, **kwargs: Any) -> Module:
        """Move and/or cast every parameter, buffer and gradient IN PLACE; returns self.

        torch's forms: `to(device)`, `to(dtype)`, `to(device, dtype)`,
        `to(tensor)` and the `device=`/`dtype=` keywords. Parameters keep their
        identity (an optimizer built earlier still holds them; its state
        follows them on its next step). A dtype applies to floating tensors
        only, so integer buffers such as `num_batches_tracked` stay integers.

        Example:
            >>> import gradwork as gw
            >>> layer = gw.nn.Linear(2, 2)
            >>> weight = layer.weight
            >>> layer.to("cpu", gw.float64).weight is weight, weight.dtype
            (True, dtype('float64'))
        """
        place, dtype = _placement.parse_to(args, kwargs)
        if place is None and dtype is None:
            return self
        for tensor in [*self.parameters(), *self.buffers()]:
            _placement.move_in_place(tensor, place, dtype)
        return self

    def float(self) -> Module:
        return self.to(dtypes.float32)

    def double(self) -> Module:
        return self.to(dtypes.float64)

    def cuda(self, device: Any = None) -> Module:
        """Move every parameter and buffer to the GPU (`device`: an index or "cuda:N")."""
        return self.to("cuda" if device is None else device)

    def cpu(self) -> Module:
        """Move every parameter and buffer to the host memory."""
        return self.to("cpu")

    # ------------------------------------------------------------------ display
    def extra_repr(self) -> str:
        """The text inside this module's parentheses in repr(); layers print their sizes."""
        return ""

    def _get_name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [
            f"({name}): " + _indent(repr(child), 2) for name, child in self._modules.items()
        ]
        return _compose_repr(self._get_name(), extra_lines, child_lines)

    def summary(self, input_shape: Any, dtype: Any = None) -> Any:
        """A table of layers with output shapes, parameter counts and multiply-adds.

        See `gradwork.nn.summary`.
        """
        from gradwork.nn.summary import summary

        return summary(self, input_shape, dtype)


def _as_buffer(value: Any) -> Tensor | None:
    if value is None or isinstance(value, Tensor):
        return value
    # A device array is wrapped as it is: np.asarray would copy it to the host (or refuse).
    return Tensor(value if _placement.device_type(value) != "cpu" else np.asarray(value))


def _indent(text: str, spaces: int) -> str:
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    return lines[0] + "\n" + "\n".join(" " * spaces + line for line in lines[1:])


def _compose_repr(name: str, extra_lines: list[str], child_lines: list[str]) -> str:
    """torch's layout: one line when there is only a short extra_repr, else indented."""
    lines = extra_lines + child_lines
    body = ""
    if lines:
        if len(extra_lines) == 1 and not child_lines:
            body = extra_lines[0]
        else:
            body = "\n  " + "\n  ".join(lines) + "\n"
    return f"{name}({body})"
