"""One contiguous buffer per parameter group, so a step is a few whole-array calls.

An MLP has a handful of parameter arrays; updating them one at a time costs
a dozen NumPy calls each, and at small sizes the fixed cost per call is the
whole cost. So on its first step the optimizer copies a group's parameters
into ONE flat buffer and re-points each `p.array` at a reshaped view of its
slice (values and Tensor identity preserved). Its state (exp_avg, ...) lives
in one flat array per name, and each parameter's state entries are views of
their slices, so `state_dict()` still reads per parameter. A step gathers the
gradients into a flat gradient buffer with one `np.concatenate` and runs the
optimizer's `update` once on the flat arrays.

The layout is a cache, never the truth: if a user re-assigns `p.array` (or adds
a parameter to the group), `is_intact` notices and the optimizer rebuilds it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from gradwork.optim._state_dict import is_state_array, on_device_of


def can_flatten(params: Sequence[Any]) -> bool:
    """Whether a group's parameters can share one buffer: same array type, one float dtype."""
    if not params:
        return False
    first = params[0].array
    if first.dtype.kind != "f":
        return False
    return all(type(p.array) is type(first) and p.array.dtype == first.dtype for p in params)


class FlatGroup:
    """The flat buffers of one parameter group: values, gradients and state.

    Args:
        params: the group's parameter tensors (their `.array` is re-pointed).
        state: the optimizer's per-parameter state; existing array entries are
            copied into the flat state and replaced by views of it.
        init_state: `init_state(array) -> {name: array}`, the optimizer's fresh
            state for an array of parameters (called once, on the whole buffer).
    """

    def __init__(
        self,
        params: Sequence[Any],
        state: dict,
        init_state: Callable[[Any], dict[str, Any]],
    ) -> None:
        self.params = list(params)
        sizes = [int(p.array.size) for p in self.params]
        self.offsets = [0, *np.cumsum(sizes).tolist()]
        self.buffer = np.empty_like(self.params[0].array, shape=(self.offsets[-1],))
        np.concatenate([p.array.reshape(-1) for p in self.params], out=self.buffer)
        self.param_views = self.views_of(self.buffer)
        for p, view in zip(self.params, self.param_views, strict=False):
            p.array = view
        self.grad = np.empty_like(self.buffer)
        # NOTE: uninitialised parameters' slices hold init values from here on,
        # because nothing writes a slice before its parameter's state exists.
        fresh = init_state(self.buffer)
        self.state = {k: v for k, v in fresh.items() if is_state_array(v)}
        # Per-parameter numbers (NAdam's mu_product): kept in each parameter's
        # own state, like "step", and advanced once per step, not per chunk.
        self.scalars = {k: v for k, v in fresh.items() if k not in self.state}
        self.state_views = {name: self.views_of(array) for name, array in self.state.items()}
        for index, p in enumerate(self.params):
            if state.get(p):
                self.adopt(state[p], index)

    def views_of(self, flat: Any) -> list[Any]:
        """One view of `flat` per parameter, shaped like that parameter."""
        return [
            flat[start:stop].reshape(p.array.shape)
            for p, start, stop in zip(self.params, self.offsets, self.offsets[1:], strict=False)
        ]

    def adopt(self, param_state: dict, index: int) -> None:
        """Copy one parameter's existing state arrays in, and point its entries at views."""
        for name, views in self.state_views.items():
            if param_state.get(name) is not None:
                # On another device when the model moved after this state was made.
                views[index][...] = on_device_of(param_state[name], views[index])
            param_state[name] = views[index]

    def attach(self, param_state: dict, index: int) -> None:
        """Give a parameter with no state yet its views (holding init values) and step 0."""
        param_state["step"] = 0.0
        param_state.update(self.scalars)
        for name, views in self.state_views.items():
            param_state[name] = views[index]

    def is_intact(self, params: Sequence[Any]) -> bool:
        """Whether the group still has these parameters, each still on its view of the buffer."""
        if len(params) != len(self.params):
            return False
        for p, mine, view in zip(params, self.params, self.param_views, strict=False):
            if p is not mine or p.array is not view:
                return False
        return True

    def gather_grads(self) -> Any:
        """Copy every parameter's gradient into the flat gradient buffer (one call)."""
        np.concatenate([p.grad.array.reshape(-1) for p in self.params], out=self.grad)
        return self.grad
