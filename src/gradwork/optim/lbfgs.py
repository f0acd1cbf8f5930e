"""L-BFGS (Liu & Nocedal, 1989), as torch.optim.LBFGS, strong-Wolfe search included."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from gradwork._arrays import asarray_like, is_device_array, xp_of
from gradwork.autograd import enable_grad, no_grad
from gradwork.optim._line_search import strong_wolfe
from gradwork.optim.optimizer import Optimizer, check_non_negative

__all__ = ["LBFGS"]


class LBFGS(Optimizer):
    """Limited-memory BFGS, as `torch.optim.LBFGS`: `step(closure)` iterates up to `max_iter` times.

    Each iteration builds a quasi-Newton direction from the last `history_size`
    pairs (s = step taken, y = change of gradient) by the two-loop recursion,
    then moves along it: by `lr` (the first iteration: by `min(1, 1 / |g|_1) * lr`),
    or by the step a strong-Wolfe line search finds. It stops early when the
    gradient, the step or the change of loss falls below the tolerances. All
    parameters are treated as one flat vector; like torch, there is one param
    group and the whole state lives under the first parameter.

    Args:
        params: tensors or `(name, tensor)` pairs (one group only).
        lr: learning rate (default 1).
        max_iter: iterations per `step()`.
        max_eval: closure evaluations per `step()` (default `max_iter * 5 // 4`).
        tolerance_grad: stop when the largest gradient entry is this small.
        tolerance_change: stop when the step or the loss change is this small.
        history_size: number of (s, y) pairs kept.
        line_search_fn: None (fixed steps) or "strong_wolfe".

    Example:
        >>> import gradwork as gw
        >>> from gradwork import optim
        >>> w = gw.tensor([3.0, -1.0], requires_grad=True)
        >>> opt = optim.LBFGS([w], line_search_fn="strong_wolfe")
        >>> def closure():
        ...     opt.zero_grad()
        ...     loss = ((w - 1.0) ** 2).sum()
        ...     loss.backward()
        ...     return loss
        >>> _ = opt.step(closure)
        >>> [round(v, 6) for v in w.tolist()]
        [1.0, 1.0]
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1,
        max_iter: int = 20,
        max_eval: int | None = None,
        tolerance_grad: float = 1e-7,
        tolerance_change: float = 1e-9,
        history_size: int = 100,
        line_search_fn: str | None = None,
    ) -> None:
        check_non_negative("LBFGS", lr=lr)
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = dict(
            lr=lr,
            max_iter=max_iter,
            max_eval=max_eval,
            tolerance_grad=tolerance_grad,
            tolerance_change=tolerance_change,
            history_size=history_size,
            line_search_fn=line_search_fn,
        )
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError(
                "LBFGS doesn't support per-parameter options (parameter groups) "
                f"(gradwork.optim.LBFGS got {len(self.param_groups)} groups; pass one list)"
            )
        self._params = self.param_groups[0]["params"]

    # ------------------------------------------------------------- flat vector
    def _gather_flat_grad(self) -> np.ndarray:
        xp = xp_of(self._params[0].array)  # on the parameters' device
        return xp.concatenate(
            [
                xp.zeros(p.array.size, p.array.dtype) if p.grad is None else p.grad.array.ravel()
                for p in self._params
            ]
        )

    def _add_grad(self, step_size: float, update: np.ndarray) -> None:
        offset = 0
        for p in self._params:
            size = p.array.size
            p.array += step_size * update[offset : offset + size].reshape(p.array.shape)
            p._version_counter.value += 1  # an in-place change, as in Optimizer.step
            offset += size

    def _set_param(self, arrays: list[np.ndarray]) -> None:
        for p, array in zip(self._params, arrays, strict=False):
            p.array[...] = array
            p._version_counter.value += 1

    def _evaluate(self, closure: Callable[[], Any]) -> tuple[float, np.ndarray]:
        with enable_grad():
            loss = float(closure())
        return loss, self._gather_flat_grad()

    def _directional_evaluate(self, closure, x, t, d) -> tuple[float, np.ndarray]:
        self._add_grad(t, d)
        loss, flat_grad = self._evaluate(closure)
        self._set_param(x)
        return loss, flat_grad

    # -------------------------------------------------------------------- step
    def step(self, closure: Callable[[], Any]) -> Any:  # type: ignore[override]
        """Run up to `max_iter` iterations; `closure` re-evaluates the loss (and its gradients).

        Returns the loss the first evaluation gave, as torch does.
        """
        group = self.param_groups[0]
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)
        with enable_grad():
            orig_loss = closure()
        with no_grad():
            flat_grad = self._gather_flat_grad()
            state["func_evals"] += 1
            if np.abs(flat_grad).max() <= group["tolerance_grad"]:
                return orig_loss  # already optimal
            self._iterate(closure, state, group, float(orig_loss), flat_grad)
        return orig_loss

    def _iterate(self, closure, state: dict, group: dict, loss: float, flat_grad) -> None:
        current_evals, n_iter = 1, 0
        while n_iter < group["max_iter"]:
            n_iter += 1
            state["n_iter"] += 1
            d = state["d"] = self._direction(state, flat_grad, group["history_size"])
            state["prev_flat_grad"], state["prev_loss"] = flat_grad.copy(), loss
            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / np.abs(flat_grad).sum()) * group["lr"]
            else:
                t = group["lr"]
            state["t"] = t
            gtd = flat_grad.dot(d)  # the directional derivative
            if gtd > -group["tolerance_change"]:
                break
            loss, flat_grad, t, evals, optimal = self._move(
                closure, group, loss, flat_grad, t, d, gtd, current_evals, n_iter
            )
            state["t"] = t
            current_evals += evals
            state["func_evals"] += evals
            if n_iter == group["max_iter"] or current_evals >= group["max_eval"] or optimal:
                break
            if np.abs(d * t).max() <= group["tolerance_change"]:
                break  # the step is too small
            if abs(loss - state["prev_loss"]) < group["tolerance_change"]:
                break  # the loss has stopped changing

    def _direction(self, state: dict, flat_grad: np.ndarray, history_size: int) -> np.ndarray:
        """Steepest descent first; then the two-loop recursion over the (s, y) history."""
        if state["n_iter"] == 1:
            state.update(old_dirs=[], old_stps=[], ro=[], H_diag=1)
            return -flat_grad
        y = flat_grad - state["prev_flat_grad"]
        s = state["d"] * state["t"]
        ys = y.dot(s)
        old_dirs, old_stps, ro = state["old_dirs"], state["old_stps"], state["ro"]
        if ys > 1e-10:  # NOTE: a pair without positive curvature would break the update
            if len(old_dirs) == history_size:
                old_dirs.pop(0)
                old_stps.pop(0)
                ro.pop(0)
            old_dirs.append(y)
            old_stps.append(s)
            ro.append(1.0 / ys)
            state["H_diag"] = ys / y.dot(y)  # scale of the initial inverse Hessian
        al = state.setdefault("al", [None] * history_size)
        q = -flat_grad
        for i in range(len(old_dirs) - 1, -1, -1):
            al[i] = old_stps[i].dot(q) * ro[i]
            q += -al[i] * old_dirs[i]
        r = q * state["H_diag"]
        for i in range(len(old_dirs)):
            be_i = old_dirs[i].dot(r) * ro[i]
            r += (al[i] - be_i) * old_stps[i]
        return r

    def _move(self, closure, group, loss, flat_grad, t, d, gtd, current_evals, n_iter) -> tuple:
        """Step along d: by t, or as the line search finds; (loss, grad, t, evals, optimal)."""
        line_search_fn = group["line_search_fn"]
        if line_search_fn is not None:
            if line_search_fn != "strong_wolfe":
                raise RuntimeError(
                    f"only 'strong_wolfe' is supported (gradwork.optim.LBFGS got "
                    f"line_search_fn={line_search_fn!r}; pass 'strong_wolfe' or None)"
                )
            x_init = [p.array.copy() for p in self._params]

            def obj_func(x, step, direction):
                return self._directional_evaluate(closure, x, step, direction)

            loss, flat_grad, t, evals = strong_wolfe(
                obj_func, x_init, t, d, loss, flat_grad, gtd,
                max_ls=group["max_eval"] - current_evals,
            )  # fmt: skip
            self._add_grad(t, d)
            return loss, flat_grad, t, evals, np.abs(flat_grad).max() <= group["tolerance_grad"]
        self._add_grad(t, d)
        if n_iter == group["max_iter"]:
            # NOTE: torch skips the evaluation after the last iteration (in a
            # stochastic setting it would be wasted); so do we.
            return loss, flat_grad, t, 0, False
        loss, flat_grad = self._evaluate(closure)
        return loss, flat_grad, t, 1, np.abs(flat_grad).max() <= group["tolerance_grad"]

    # ------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Torch's layout: the whole state under parameter 0 (lists of history arrays included)."""
        return copy.deepcopy(super().state_dict())

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load state saved here or by torch's LBFGS (tensors become arrays and floats)."""
        saved = list(state_dict["state"].values())
        super().load_state_dict({**state_dict, "state": {}})
        if saved:
            like = self._params[0].array  # arrays go to the parameters' device
            self.state[self._params[0]] = {k: _plain(v, like) for k, v in saved[0].items()}


def _plain(value: Any, like: Any) -> Any:
    """A saved value with torch tensors made arrays on `like`'s device (0-dim ones floats),
    lists included."""
    if isinstance(value, list):
        return [_plain(v, like) for v in value]
    if hasattr(value, "detach") and hasattr(value, "numpy"):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        return float(value) if value.ndim == 0 else asarray_like(value.copy(), like)
    if is_device_array(value):
        return value.copy()
    return copy.deepcopy(value)
