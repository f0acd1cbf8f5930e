"""`Optimizer`: parameter groups, lazy per-parameter state, and the update loop.

A subclass writes only its rule, Keras-style, on raw arrays:

- `init_state(param, group) -> {name: array}`: fresh state for an array of
  parameters (e.g. Adam's zero moments);
- `update(param, grad, state, step, group)`: one step, in place on `param`
  and the state arrays; `step` counts from 1; `grad` must not be modified.

The base does the rest: groups with per-group hyperparameters, lazy state,
the loop under `no_grad`, and the flat fast path (see `_flat.py`): when a
group's parameters share one float dtype, `update` runs ONCE on the group's
flat arrays instead of once per parameter. The same `update` serves both
paths, so they give the same numbers.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from gradwork.autograd import enable_grad, no_grad
from gradwork.autograd import function as _function
from gradwork.optim import _state_dict
from gradwork.optim._flat import FlatGroup, can_flatten
from gradwork.tensor import Tensor

__all__ = ["Optimizer"]

CHUNK = 1 << 17  # elements per flat update step: 512 KiB of float32 per array, fits in cache


class Optimizer:
    """Base class of the optimizers, with torch.optim.Optimizer's interface.

    Args:
        params: an iterable of tensors, of `(name, tensor)` pairs (as from
            `model.named_parameters()`; the names go into `state_dict()` so
            state can be loaded by name), or of dicts, each a parameter group
            with its own hyperparameters (`{"params": [...], "lr": 0.1}`).
        defaults: the hyperparameters a group takes when it does not set them.

    Example:
        >>> import gradwork as gw
        >>> from gradwork import optim
        >>> w, b = gw.ones(2, requires_grad=True), gw.zeros(1, requires_grad=True)
        >>> opt = optim.SGD([{"params": [w]}, {"params": [b], "lr": 0.5}], lr=0.1)
        >>> [group["lr"] for group in opt.param_groups]
        [0.1, 0.5]
    """

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors "
                "or dicts, but got a single Tensor; wrap it in a list: [tensor]"
            )
        self.defaults = dict(defaults)
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        self._flat_groups: list[FlatGroup | None] = []
        self._scratch: dict[tuple, Any] = {}
        groups = list(params)
        if not groups:
            raise ValueError(
                f"{self._name()}: optimizer got an empty parameter list; pass "
                "model.parameters() of a model that has parameters"
            )
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # ------------------------------------------------------------ what a rule writes
    def init_state(self, param: Any, group: dict[str, Any]) -> dict[str, Any]:
        """Fresh state arrays for `param` (an array); none by default."""
        return {}

    def update(self, param: Any, grad: Any, state: dict, step: float, group: dict) -> None:
        """Apply one step of the rule in place on `param` and the `state` arrays."""
        raise NotImplementedError(f"{self._name()} must define update()")

    def scratch(self, like: Any) -> Any:
        """A reusable work array shaped like `like`, for the temporaries of `update`.

        WHY: at a few hundred thousand parameters and up, each temporary array
        an update allocates costs as much as the arithmetic (fresh pages); a
        rule that writes its intermediates here with `out=` allocates nothing.
        The contents are garbage on entry and must not be kept across calls.
        """
        key = (type(like), like.shape, like.dtype)
        buffer = self._scratch.get(key)
        if buffer is None:
            buffer = self._scratch[key] = np.empty_like(like)
        return buffer

    # ------------------------------------------------------------------ groups
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own hyperparameters (defaults fill the rest).

        Example:
            >>> import gradwork as gw
            >>> from gradwork import optim
            >>> opt = optim.SGD([gw.ones(2, requires_grad=True)], lr=0.1)
            >>> opt.add_param_group({"params": [gw.zeros(3, requires_grad=True)], "lr": 0.01})
            >>> len(opt.param_groups)
            2
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"{self._name()}: a param group must be a dict, got {param_group!r}")
        group = dict(param_group)
        tensors, names = _split_names(group["params"], self._name())
        group["params"] = tensors
        if names is not None:
            group["param_names"] = names
        elif "param_names" in group and len(group["param_names"]) != len(tensors):
            raise ValueError(
                f"{self._name()}: a group has {len(tensors)} params but "
                f"{len(group['param_names'])} param_names; give one name per parameter"
            )
        for name, default in self.defaults.items():
            group.setdefault(name, default)
        self._check_new_group(group)
        self.param_groups.append(group)
        self._flat_groups.append(None)

    def _check_new_group(self, group: dict[str, Any]) -> None:
        seen: set[int] = set()
        for tensor in group["params"]:
            if id(tensor) in seen:
                raise ValueError(
                    f"{self._name()}: a parameter of shape {tensor.shape} appears twice in "
                    "one parameter group; each parameter may be given only once"
                )
            seen.add(id(tensor))
        for other in self.param_groups:
            if ("param_names" in other) != ("param_names" in group):
                kind = "with names" if "param_names" in group else "without names"
                raise ValueError(
                    "all optimizer param groups should be with/without names. "
                    f"cannot add param group {kind} to the optimizer"
                )
            if any(id(p) in seen for p in other["params"]):
                raise ValueError(
                    "some parameters appear in more than one parameter group "
                    f"({self._name()}: give each parameter to one group only)"
                )

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's gradient: to None (the default), or to zeros in place."""
        if _function._tracer is not None:  # gradwork.compile is recording this step
            _function._tracer.on_zero_grad(self, set_to_none)
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.array[...] = 0

    # ------------------------------------------------------------------- step
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; return `closure()` if given.

        `closure` re-evaluates the model and returns the loss (it runs with
        gradient recording on, before the update).
        """
        if _function._tracer is not None:  # gradwork.compile is recording this step
            _function._tracer.on_optimizer_step(self, closure)
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for index, group in enumerate(self.param_groups):
                self._step_group(index, group)
                # The updates write into the arrays directly: count them as in-place
                # changes, so a graph still holding the old weights refuses backward.
                for p in group["params"]:
                    if p.grad is not None:
                        p._version_counter.value += 1
        if _function._tracer is not None:
            _function._tracer.after_optimizer_step(self)
        return loss

    def _step_group(self, index: int, group: dict[str, Any]) -> None:
        params = group["params"]
        flat = self._flat_groups[index]
        if flat is None or not flat.is_intact(params):
            flat = self._build_flat(group) if can_flatten(params) else None
            self._flat_groups[index] = flat
        if flat is not None and self._all_in_step(params):
            self._step_flat(flat, group)
        else:
            self._step_each(group, flat)

    def _build_flat(self, group: dict[str, Any]) -> FlatGroup:
        return FlatGroup(group["params"], self.state, lambda array: self.init_state(array, group))

    def _all_in_step(self, params: list[Tensor]) -> bool:
        """Every parameter has a gradient and the same step and scalars (so one update fits)."""
        steps = set()
        for p in params:
            if p.grad is None:
                return False
            entries = self.state.get(p)  # .get: never create state for a mere check
            steps.add(tuple(sorted(_scalars(entries).items())) if entries else None)
        return len(steps) == 1

    def _step_flat(self, flat: FlatGroup, group: dict[str, Any]) -> None:
        params = group["params"]
        if not self.state.get(params[0]):
            for index, p in enumerate(params):
                flat.attach(self.state[p], index)
        step = self.state[params[0]]["step"] + 1
        scalars = _scalars(self.state[params[0]])
        grads = flat.gather_grads()
        # WHY chunks: an update is a dozen whole-array passes; over a few
        # million parameters each pass streams from main memory, while a
        # chunk's arrays stay in cache across all of them. Every rule here is
        # elementwise (the flat path already relies on that), so the chunks
        # are independent. On a device there is no cache to fit: ONE chunk, so the
        # update is one fused kernel per group (ops/kernels/cuda.py).
        chunk = CHUNK if type(flat.buffer) is np.ndarray else max(flat.buffer.size, 1)
        for start in range(0, flat.buffer.size, chunk):
            part = slice(start, start + chunk)
            # Each chunk starts from the same scalars, so each computes the same new ones.
            state = {**scalars, **{name: array[part] for name, array in flat.state.items()}}
            self.update(flat.buffer[part], grads[part], state, step, group)
        advanced = {name: state[name] for name in scalars if name != "step"}
        for p in params:
            self.state[p].update(advanced, step=step)

    def _step_each(self, group: dict[str, Any], flat: FlatGroup | None) -> None:
        # NOTE: like torch, a parameter whose grad is None is skipped: its
        # state, step count included, stays as it was.
        for index, p in enumerate(group["params"]):
            if p.grad is None:
                continue
            state = self.state[p]
            if state:
                _state_dict.follow_device(state, p.array)  # the model moved since (Module.to)
            else:
                if flat is not None:
                    flat.attach(state, index)
                else:
                    state["step"] = 0.0
                    state.update(self.init_state(p.array, group))
            state["step"] += 1
            self.update(p.array, p.grad.array, state, state["step"], group)

    # ------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Torch's format: `{"state": {index: {...}}, "param_groups": [{..., "params": [...]}]}`.

        Parameters are numbered across groups in order; groups built from
        `named_parameters()` also carry `"param_names"`. State arrays are
        copies, so later steps do not change a saved dict.
        """
        return _state_dict.pack(self.param_groups, self.state)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load state saved by `state_dict()` here or by a torch optimizer.

        When both the saved and the current groups carry `param_names`,
        state goes to the parameter of the same NAME, so a model whose
        parameters were reordered still gets the right moments; otherwise it
        goes by position, as in torch. Torch tensors are converted to arrays.
        """
        self.state = _state_dict.unpack(self, state_dict)
        self._flat_groups = [None] * len(self.param_groups)
        for group in self.param_groups:
            for name, default in self.defaults.items():
                group.setdefault(name, default)

    # -------------------------------------------------------------------- misc
    def _name(self) -> str:
        return f"gradwork.optim.{type(self).__name__}"

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for index, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {index}")
            for key in sorted(k for k in group if k not in ("params", "param_names")):
                lines.append(f"    {key}: {group[key]}")
        return "\n".join([*lines, ")"])


def _scalars(entries: dict[str, Any]) -> dict[str, Any]:
    """A parameter's state entries that are numbers, not arrays ("step", NAdam's mu_product)."""
    return {k: v for k, v in entries.items() if not _state_dict.is_state_array(v)}


def _split_names(params: Any, owner: str) -> tuple[list[Tensor], list[str] | None]:
    """Tensors, and their names when given as `(name, tensor)` pairs."""
    if isinstance(params, Tensor):
        params = [params]
    elif isinstance(params, set):
        raise TypeError(
            "optimizer parameters need to be organized in ordered collections, but the "
            "ordering of tensors in sets will change between runs. Please use a list instead."
        )
    items = list(params)
    named = [isinstance(item, tuple) for item in items]
    if any(named) and not all(named):
        raise ValueError(
            "all optimizer params should be with/without names. Some param names are missing"
        )
    names = [item[0] for item in items] if items and all(named) else None
    tensors = [item[1] for item in items] if names is not None else items
    for tensor in tensors:
        if not isinstance(tensor, Tensor):
            raise TypeError(
                f"optimizer can only optimize Tensors, but one of the params is "
                f"{type(tensor).__name__} ({owner}: pass model.parameters() or tensors)"
            )
        if not tensor.is_leaf:
            raise ValueError(
                f"can't optimize a non-leaf Tensor ({owner}: optimize the leaf it was "
                "computed from, or call .detach().requires_grad_() to make a new leaf)"
            )
    return tensors, names


_LABELS = {
    "lr": "learning rate",
    "eps": "epsilon value",
    "momentum": "momentum value",
    "weight_decay": "weight_decay value",
    "alpha": "alpha value",
    "lr_decay": "lr_decay value",
    "initial_accumulator_value": "initial_accumulator_value value",
    "rho": "rho value",
    "momentum_decay": "momentum_decay value",
}


def check_non_negative(owner: str, **values: float) -> None:
    """Raise torch's `Invalid <name>: <value>` error for a negative (or NaN) hyperparameter."""
    for name, value in values.items():
        if not 0.0 <= value:
            raise ValueError(
                f"Invalid {_LABELS[name]}: {value} (gradwork.optim.{owner}: {name} must be >= 0)"
            )


def check_betas(owner: str, betas: tuple[float, float]) -> None:
    """Raise torch's `Invalid beta parameter at index i` error unless each beta is in [0, 1)."""
    for index, beta in enumerate(betas):
        if not 0.0 <= beta < 1.0:
            raise ValueError(
                f"Invalid beta parameter at index {index}: {beta} "
                f"(gradwork.optim.{owner}: each beta must lie in [0, 1))"
            )


def lerp_(start: Any, end: Any, weight: float, work: Any) -> None:
    """`start += weight * (end - start)` in place, rounded as `torch.lerp_` rounds it.

    NOTE: torch switches to `end - (end - start) * (1 - weight)` for weights
    of 0.5 and up (exact at weight 1); the two forms differ in the last bit.
    `work` is a scratch array shaped like `start`.
    """
    np.subtract(end, start, out=work)
    if weight < 0.5:
        work *= weight
        start += work
    else:
        work *= 1 - weight
        np.subtract(end, work, out=start)
