"""Learning-rate schedules as pure functions of the step (JAX style).

Each function here builds a schedule `f(step) -> value`: a plain Python
function of an integer step, with no state, so it can be plotted, tested,
composed and stored as easily as a number. Called with `start=1.0` (the
default) a schedule yields a multiplier of the base learning rate; called
with `start=base_lr` it yields the learning rate itself. The schedulers in
`gradwork.optim.lr_scheduler` are thin adapters that evaluate these at
`last_epoch` and write the result into an optimizer's parameter groups.

Example:
    >>> from gradwork.optim import schedules
    >>> f = schedules.warmup(2, after=schedules.exponential(0.5))
    >>> [round(f(t), 3) for t in range(5)]
    [0.1, 0.55, 1.0, 0.5, 0.25]
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable, Iterable

Schedule = Callable[[int], float]

__all__ = [
    "constant",
    "step",
    "multistep",
    "exponential",
    "cosine",
    "linear",
    "one_cycle",
    "inverse_time",
    "warmup",
    "polynomial",
    "cosine_restarts",
    "cyclic",
]


def constant(value: float = 1.0) -> Schedule:
    """`f(t) = value`.

    Example:
        >>> constant(0.1)(1000)
        0.1
    """
    return lambda t: value


def step(step_size: int, gamma: float = 0.1, start: float = 1.0) -> Schedule:
    """Multiply by `gamma` every `step_size` steps: `f(t) = start * gamma ** (t // step_size)`.

    Example:
        >>> [step(2, 0.5)(t) for t in range(5)]
        [1.0, 1.0, 0.5, 0.5, 0.25]
    """
    return lambda t: start * gamma ** (t // step_size)


def multistep(milestones: Iterable[int], gamma: float = 0.1, start: float = 1.0) -> Schedule:
    """Multiply by `gamma` at each milestone (a repeated milestone counts twice).

    Example:
        >>> [multistep([1, 3], 0.5)(t) for t in range(5)]
        [1.0, 0.5, 0.5, 0.25, 0.25]
    """
    ordered = sorted(milestones)
    return lambda t: start * gamma ** bisect_right(ordered, t)


def exponential(gamma: float, start: float = 1.0) -> Schedule:
    """`f(t) = start * gamma ** t`.

    Example:
        >>> exponential(0.5)(3)
        0.125
    """
    return lambda t: start * gamma**t


def cosine(total_steps: int, start: float = 1.0, end: float = 0.0) -> Schedule:
    """Half a cosine from `start` down to `end` over `total_steps` (SGDR without restarts).

    `f(t) = end + (start - end) * (1 + cos(pi * t / total_steps)) / 2`; past
    `total_steps` it climbs back, as torch's CosineAnnealingLR does.

    Example:
        >>> [round(cosine(4)(t), 4) for t in range(5)]
        [1.0, 0.8536, 0.5, 0.1464, 0.0]
    """
    return lambda t: end + (start - end) * (1 + math.cos(math.pi * t / total_steps)) / 2


def linear(total_steps: int, start: float = 1.0 / 3, end: float = 1.0) -> Schedule:
    """From `start` to `end` in a straight line over `total_steps`, then hold `end`.

    Example:
        >>> [linear(4, 0.0, 1.0)(t) for t in (0, 2, 4, 9)]
        [0.0, 0.5, 1.0, 1.0]
    """
    return lambda t: start + (end - start) * min(total_steps, t) / total_steps


def inverse_time(decay_rate: float, start: float = 1.0) -> Schedule:
    """Time-based decay (Keras' classic `decay`): `f(t) = start / (1 + decay_rate * t)`.

    Example:
        >>> inverse_time(0.5)(2)
        0.5
    """
    return lambda t: start / (1 + decay_rate * t)


def one_cycle(
    total_steps: int,
    peak: float = 1.0,
    initial: float | None = None,
    final: float | None = None,
    pct_start: float = 0.3,
    anneal_strategy: str = "cos",
    three_phase: bool = False,
) -> Schedule:
    """The 1cycle policy (Smith & Topin, 2018): up from `initial` to `peak`, then down to `final`.

    The rise takes `pct_start` of the steps. With `three_phase`, the value
    comes back to `initial` symmetrically first and then falls to `final`.
    Defaults follow torch's OneCycleLR: `initial = peak / 25`,
    `final = initial / 1e4`. Momentum cycles the other way with the same
    function: `one_cycle(n, peak=base_momentum, initial=max_momentum,
    final=max_momentum)`.

    Example:
        >>> f = one_cycle(10, peak=1.0, anneal_strategy="linear")
        >>> [round(f(t), 3) for t in (0, 2, 9)]
        [0.04, 1.0, 0.0]
    """
    initial = peak / 25.0 if initial is None else initial
    final = initial / 1e4 if final is None else final
    anneal = _anneal_cos if anneal_strategy == "cos" else _anneal_linear
    if three_phase:
        phases = [
            (float(pct_start * total_steps) - 1, initial, peak),
            (float(2 * pct_start * total_steps) - 2, peak, initial),
            (total_steps - 1, initial, final),
        ]
    else:
        phases = [
            (float(pct_start * total_steps) - 1, initial, peak),
            (total_steps - 1, peak, final),
        ]

    def schedule(t: int) -> float:
        start_step = 0.0
        for index, (end_step, begin, end) in enumerate(phases):
            if t <= end_step or index == len(phases) - 1:
                return anneal(begin, end, (t - start_step) / (end_step - start_step))
            start_step = end_step
        raise AssertionError("unreachable")

    return schedule


def _anneal_cos(start: float, end: float, pct: float) -> float:
    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)


def _anneal_linear(start: float, end: float, pct: float) -> float:
    return (end - start) * pct + start


def warmup(warmup_steps: int, after: Schedule | None = None, start_factor: float = 0.1) -> Schedule:
    """Ramp linearly from `start_factor * after(0)` to `after(0)`, then follow `after`.

    During the first `warmup_steps` steps `f(t) = after(0) * (start_factor +
    (1 - start_factor) * t / warmup_steps)`; from then on `f(t) = after(t -
    warmup_steps)`, so `after` starts counting at the end of the warm-up.
    Without `after` the value holds at 1.

    Example:
        >>> f = warmup(4, after=cosine(10))
        >>> [round(f(t), 3) for t in (0, 2, 4, 9, 14)]
        [0.1, 0.55, 1.0, 0.5, 0.0]
    """
    after = constant(1.0) if after is None else after

    def schedule(t: int) -> float:
        if t < warmup_steps:
            return after(0) * (start_factor + (1 - start_factor) * t / warmup_steps)
        return after(t - warmup_steps)

    return schedule


def polynomial(total_steps: int, power: float = 1.0, start: float = 1.0) -> Schedule:
    """Decay to 0 over `total_steps`: `f(t) = start * (1 - min(t, total) / total) ** power`.

    Example:
        >>> [polynomial(4, power=2.0)(t) for t in (0, 2, 4, 6)]
        [1.0, 0.25, 0.0, 0.0]
    """
    return lambda t: start * (1.0 - min(total_steps, t) / total_steps) ** power


def cosine_restarts(T_0: int, T_mult: int = 1, start: float = 1.0, end: float = 0.0) -> Schedule:
    """SGDR (Loshchilov & Hutter, 2017): a cosine from `start` to `end`, restarted every cycle.

    The first cycle lasts `T_0` steps, each next one `T_mult` times longer;
    within a cycle the value is `cosine(cycle_length, start, end)` of the
    steps since the restart.

    Example:
        >>> f = cosine_restarts(2, T_mult=2)
        >>> [round(f(t), 3) for t in range(7)]
        [1.0, 0.5, 1.0, 0.854, 0.5, 0.146, 1.0]
    """

    def schedule(t: float) -> float:
        length = T_0
        while t >= length:  # NOTE: exact for integer (and fractional) t, unlike a float log
            t, length = t - length, length * T_mult
        return cosine(length, start, end)(t)

    return schedule


def cyclic(
    step_size_up: float,
    step_size_down: float | None = None,
    start: float = 0.0,
    peak: float = 1.0,
    mode: str = "triangular",
    gamma: float = 1.0,
    scale_fn: Callable[[float], float] | None = None,
    scale_mode: str = "cycle",
) -> Schedule:
    """Cyclical learning rates (Smith, 2017): from `start` up to `peak` and back, cycle after cycle.

    A cycle rises for `step_size_up` steps and falls for `step_size_down`
    (default: the same). The height of each cycle is scaled by `scale_fn`,
    evaluated at the cycle number (`scale_mode="cycle"`) or at the step
    ("iterations"); without one, `mode` picks torch's: "triangular" (1),
    "triangular2" (halved every cycle), "exp_range" (`gamma ** step`).
    Momentum cycles the other way with `start=max_momentum, peak=base_momentum`.

    Example:
        >>> f = cyclic(2, start=0.0, peak=1.0, mode="triangular2")
        >>> [f(t) for t in range(7)]
        [0.0, 0.5, 1.0, 0.5, 0.0, 0.25, 0.5]
    """
    up = float(step_size_up)
    total = up + (float(step_size_down) if step_size_down is not None else up)
    ratio = up / total
    if scale_fn is None:
        scale_fn, scale_mode = _CYCLIC_MODES[mode](gamma)

    def schedule(t: int) -> float:
        cycle = math.floor(1 + t / total)
        x = 1.0 + t / total - cycle
        factor = x / ratio if x <= ratio else (x - 1) / (ratio - 1)
        height = (peak - start) * factor
        return start + height * scale_fn(cycle if scale_mode == "cycle" else t)

    return schedule


_CYCLIC_MODES = {  # mode -> gamma -> (scale_fn, scale_mode), as torch's CyclicLR
    "triangular": lambda gamma: (lambda x: 1.0, "cycle"),
    "triangular2": lambda gamma: (lambda x: 1 / (2.0 ** (x - 1)), "cycle"),
    "exp_range": lambda gamma: (lambda x: gamma**x, "iterations"),
}
