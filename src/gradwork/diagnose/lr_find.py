"""`lr_find`: the learning-rate range test, with a suggestion that says why, and nothing changed.

The learning rate grows exponentially from `start_lr` to `end_lr`, one step
per batch; the loss is smoothed with a debiased exponential average. The test
stops once the smoothed loss exceeds `diverge` times its best (or goes
non-finite). The suggestion is the point of steepest descent of the loss,
smoothed by a centred moving average (no lag, unlike the running average),
against log(lr), searched only before that curve's minimum (the cut before
divergence). Afterwards the model (parameters, buffers, mode, gradients), the
optimizer (state and learning rates), the random streams and the loader's
position are restored bit for bit.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gradwork import random as gw_random
from gradwork.tensor import Tensor
from gradwork.train.devices import model_device, to_device


@dataclass
class LRFindResult:
    """What the range test measured and what it suggests.

    Attributes:
        lrs: the learning rate of each step.
        losses: the raw loss of each step.
        smoothed: the debiased exponential average of the losses.
        suggestion: the suggested learning rate (None when the curve never fell).
        reason: how the suggestion was chosen, in words and numbers.
        min_loss_lr: the learning rate at the smoothed loss's minimum.
        diverged_at: the learning rate where the test stopped on divergence, if it did.
    """

    lrs: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    smoothed: list[float] = field(default_factory=list)
    suggestion: float | None = None
    reason: str = ""
    min_loss_lr: float | None = None
    diverged_at: float | None = None

    def __str__(self) -> str:
        if self.suggestion is None:
            return f"lr_find: no suggestion ({self.reason})"
        return f"lr_find: suggested lr {self.suggestion:.3g}: {self.reason}"

    def plot(self, path: Any = None) -> Any:
        """Draw loss against lr (log scale) with the suggestion; save to `path` if given."""
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError as error:
            raise ImportError(
                "LRFindResult.plot needs matplotlib: pip install matplotlib"
            ) from error
        figure, axes = plt.subplots(figsize=(6, 4))
        axes.plot(self.lrs, self.losses, alpha=0.3, label="loss")
        axes.plot(self.lrs, self.smoothed, label="smoothed loss")
        if self.suggestion is not None:
            axes.axvline(self.suggestion, color="red", linestyle="--",
                         label=f"suggestion {self.suggestion:.2g}")  # fmt: skip
        axes.set_xscale("log")
        axes.set_xlabel("learning rate")
        axes.set_ylabel("loss")
        finite = [v for v in self.smoothed if math.isfinite(v)]
        lowest = min([v for v in self.losses if math.isfinite(v)] + finite, default=None)
        if finite:  # the interesting part: from the lowest loss up to 4x the first
            axes.set_ylim(lowest * 0.9, min(max(finite), 4 * finite[0]) * 1.05)
        axes.legend()
        figure.tight_layout()
        if path is not None:
            figure.savefig(path, dpi=100)
            plt.close(figure)
        return figure


def lr_find(
    model: Any,
    loss_fn: Any,
    loader: Any,
    optimizer: Any,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    num_steps: int = 100,
    smoothing: float = 0.98,
    diverge: float = 4.0,
) -> LRFindResult:
    """Run the learning-rate range test and suggest a learning rate.

    Args:
        model: the model to train (restored afterwards).
        loss_fn: `loss_fn(output, target)` returning a scalar Tensor.
        loader: batches of `(inputs, targets)`; cycled when shorter than `num_steps`.
        optimizer: the optimizer over the model's parameters (restored afterwards);
            every parameter group gets the same learning rate during the test.
        start_lr, end_lr: the range, swept exponentially.
        num_steps: steps from `start_lr` to `end_lr`.
        smoothing: the exponential average's factor (0: no smoothing).
        diverge: stop when the smoothed loss exceeds this multiple of its best.

    Returns:
        An `LRFindResult`: the curve, the suggestion and its reason; `.plot(path)` draws it.

    Example:
        >>> import gradwork as gw
        >>> from gradwork import data, nn, optim
        >>> from gradwork.diagnose import lr_find
        >>> _ = gw.manual_seed(0)
        >>> model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
        >>> optimizer = optim.SGD(model.parameters(), lr=0.1)
        >>> loader = data.DataLoader(data.make_moons(256), batch_size=32, shuffle=True)
        >>> before = model[0].weight.detach().numpy().copy()
        >>> result = lr_find(model, nn.CrossEntropyLoss(), loader, optimizer, num_steps=40)
        >>> 1e-7 < result.suggestion < 10
        True
        >>> after = model[0].weight.detach().numpy()
        >>> bool((after == before).all()), optimizer.param_groups[0]["lr"]
        (True, 0.1)
    """
    if not 0 < start_lr < end_lr:
        raise ValueError(f"lr_find: need 0 < start_lr < end_lr, got {start_lr} and {end_lr}")
    if num_steps < 5:
        raise ValueError(f"lr_find: num_steps must be at least 5, got {num_steps}")
    saved = _snapshot(model, optimizer, loader)
    try:
        result = _sweep(model, loss_fn, loader, optimizer,
                        (start_lr, end_lr, num_steps), smoothing, diverge)  # fmt: skip
    finally:
        _restore(model, optimizer, loader, saved)
    _suggest(result)
    return result


def _sweep(model: Any, loss_fn: Any, loader: Any, optimizer: Any, ramp: tuple,
           smoothing: float, diverge: float) -> LRFindResult:  # fmt: skip
    start_lr, end_lr, num_steps = ramp
    result = LRFindResult()
    average, best = 0.0, math.inf
    model.train()
    device = model_device(model)  # host batches go where the model is, as in the Trainer
    batches = iter(loader)
    for step in range(num_steps):
        lr = start_lr * (end_lr / start_lr) ** (step / (num_steps - 1))
        for group in optimizer.param_groups:
            group["lr"] = lr
        batch = next(batches, None)
        if batch is None:  # cycle through the loader again
            batches = iter(loader)
            batch = next(batches)
        inputs, targets = to_device((batch[0], batch[1]), device)
        loss = loss_fn(model(inputs), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        value = float(loss.item())
        average = smoothing * average + (1 - smoothing) * value
        smoothed = average / (1 - smoothing ** (step + 1))
        result.lrs.append(lr)
        result.losses.append(value)
        result.smoothed.append(smoothed)
        if not math.isfinite(smoothed) or (step > 0 and smoothed > diverge * best):
            result.diverged_at = lr
            break
        best = min(best, smoothed)
    return result


def centered_average(values: list[float], window: int) -> np.ndarray:
    """A moving average centred on each step (edges padded): smooth, and without lag.

    The running exponential average that decides when to stop lags behind the
    loss by about 1/(1 - smoothing) steps (50 at 0.98): several decades of lr
    in a 100-step test, which would push the steepest point far to the right.
    """
    values = np.asarray(values, dtype=np.float64)
    half = window // 2
    padded = np.concatenate([np.full(half, values[0]), values, np.full(half, values[-1])])
    return np.convolve(padded, np.ones(window) / window, mode="valid")


def _suggest(result: LRFindResult) -> None:
    """Steepest descent of the centred, smoothed loss against log(lr), before its minimum."""
    losses = np.asarray(result.losses, dtype=np.float64)
    finite = int(np.argmin(np.isfinite(losses))) if not np.all(np.isfinite(losses)) else None
    losses = losses[:finite]
    if len(losses) < 5:
        result.reason = "fewer than 5 finite losses: lower start_lr or check the data"
        return
    curve = centered_average(losses, window=max(3, len(result.lrs) // 10 | 1))
    lowest = int(np.argmin(curve))
    result.min_loss_lr = result.lrs[lowest]
    if lowest < 3:
        result.reason = (f"the smoothed loss was lowest at lr {result.min_loss_lr:.3g}, near "
                         "the start: lower start_lr")  # fmt: skip
        return
    slope = np.gradient(curve[: lowest + 1], np.log10(result.lrs[: lowest + 1]))
    steepest = int(np.argmin(slope))
    result.suggestion = result.lrs[steepest]
    stop = (f", diverged at {result.diverged_at:.3g}" if result.diverged_at is not None
            else "")  # fmt: skip
    result.reason = (
        f"steepest descent of the smoothed loss ({slope[steepest]:.3g} per decade of lr, "
        f"loss {curve[steepest]:.3g}); its minimum is at lr {result.min_loss_lr:.3g}{stop}; "
        f"the search stops at that minimum, before divergence"
    )


# ------------------------------------------------------------------- restore
def _snapshot(model: Any, optimizer: Any, loader: Any) -> dict:
    loader_state = getattr(loader, "state_dict", None)
    return {
        # copies on the model's own device (`.copy()` of a GPU array stays on the GPU)
        "model": {k: getattr(v, "array", v).copy() for k, v in model.state_dict().items()},
        "modes": [m.training for m in model.modules()],
        "grads": [None if p.grad is None else p.grad.array.copy() for p in model.parameters()],
        "optimizer": copy.deepcopy(optimizer.state_dict()),
        "rng": (gw_random.get_rng_state(), np.random.get_state()),
        "loader": copy.deepcopy(loader_state()) if loader_state else None,
    }


def _restore(model: Any, optimizer: Any, loader: Any, saved: dict) -> None:
    for key, value in model.state_dict().items():
        target = getattr(value, "array", value)
        target[...] = saved["model"][key]  # in place: the optimizer's references stay valid
    for module, mode in zip(model.modules(), saved["modes"], strict=False):
        module.training = mode
    for p, grad in zip(model.parameters(), saved["grads"], strict=False):
        p.grad = None if grad is None else Tensor(grad)
    optimizer.load_state_dict(saved["optimizer"])
    gw_random.set_rng_state(saved["rng"][0])
    np.random.set_state(saved["rng"][1])
    if saved["loader"] is not None:
        loader.load_state_dict(saved["loader"])
