"""``Trial``: one evaluation of the objective, both the live handle and the record."""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np

from ._distributions import Categorical, Distribution, Float, Int


class TrialState(str, enum.Enum):
    """Where a trial stands. ``str`` so that it writes to JSON as its name."""

    RUNNING = "RUNNING"
    COMPLETE = "COMPLETE"
    PRUNED = "PRUNED"
    FAILED = "FAILED"


class TrialPruned(Exception):  # noqa: N818 - the name users know from Optuna
    """Raise from the objective to stop a trial the pruner gave up on.

    Example:
        >>> def objective(trial):
        ...     for epoch in range(10):
        ...         loss = 1.0 / (epoch + 1)
        ...         trial.report(loss, epoch)
        ...         if trial.should_prune():
        ...             raise TrialPruned()
        ...     return loss
    """


INTERRUPTED = "interrupted: the study stopped while this trial ran; its parameters are retried"


def trial_seed(study_seed: int, number: int) -> int:
    """The seed of trial ``number``: the same on every machine and every executor."""
    return int(np.random.SeedSequence([int(study_seed), int(number)]).generate_state(1)[0])


class Trial:
    """One evaluation: its parameters, reports, result and timing.

    The objective gets a ``Trial`` when its first parameter is named ``trial`` or
    annotated ``Trial``. It can read ``trial.params``, ask for more parameters
    (``suggest_float``/``suggest_int``/``suggest_categorical``), report
    intermediate values and ask ``should_prune()``. ``trial.seed`` derives from the
    study seed and ``trial.number``; seed your model with it for reproducible runs.

    Example:
        >>> trial = Trial(number=0, params={}, seed=1)
        >>> 0.0 <= trial.suggest_float("lr", 0.0, 1.0) <= 1.0
        True
        >>> trial.suggest_int("layers", 2, 2)
        2
    """

    def __init__(
        self,
        number: int,
        params: dict[str, Any],
        seed: int,
        proposed: dict[str, Any] | None = None,
        fold: int | None = None,
    ) -> None:
        self.number = number
        self.params = dict(params)
        self.seed = seed
        self.state = TrialState.RUNNING
        self.value: float | None = None
        self.values: list[float] | None = None  # one per objective, with several objectives
        self.intermediate: dict[int, float] = {}
        self.fold = fold
        self.fold_values: list[float] = []
        self.std_error: float | None = None
        self.error: str | None = None
        self.duration: float | None = None
        self.distributions: dict[str, Distribution] = {}
        self.user_attrs: dict[str, Any] = {}
        self._proposed = dict(proposed or {})
        self._rng = np.random.default_rng(seed)
        self._pruner: Any = None
        self._direction = "minimize"
        self._peers: Callable[[], Sequence[Trial]] | Sequence[Trial] = ()
        self._on_report: Callable[[dict], None] | None = None

    def __repr__(self) -> str:
        return (
            f"Trial(number={self.number}, state={self.state.value}, value={self.value}, "
            f"params={self.params})"
        )

    def __getstate__(self) -> dict[str, Any]:
        # A live view of the study cannot cross a process boundary: send a snapshot.
        state = dict(self.__dict__)
        if callable(state["_peers"]):
            state["_peers"] = [peer.record() for peer in state["_peers"]()]
        state["_on_report"] = None
        return state

    def record(self) -> Trial:
        """A copy without links to the study or pruner (what gets stored and sent)."""
        copy = Trial.__new__(Trial)
        copy.__dict__.update(self.__dict__)
        copy.params = dict(self.params)
        copy.intermediate = dict(self.intermediate)
        copy.fold_values = list(self.fold_values)
        copy._pruner, copy._peers, copy._on_report = None, (), None
        return copy

    @property
    def rng(self) -> np.random.Generator:
        """A NumPy generator seeded with ``trial.seed``."""
        return np.random.default_rng(self.seed)

    def _suggest(self, name: str, distribution: Distribution) -> Any:
        if name in self.params and distribution.contains(self.params[name]):
            return self.params[name]
        value = self._proposed.get(name)
        if value is None or not distribution.contains(value):
            # A parameter the algorithm has not seen yet: sample it uniformly.
            value = distribution.decode(float(self._rng.random()))
        self.params[name] = value
        self.distributions[name] = distribution
        return value

    def suggest_float(self, name: str, low: float, high: float, log: bool = False) -> float:
        """A real value for ``name`` in ``[low, high]`` (registers ``Float(low, high, log)``)."""
        return self._suggest(name, Float(low, high, log=log))

    def suggest_int(self, name: str, low: int, high: int, log: bool = False, step: int = 1) -> int:
        """An integer for ``name`` in ``[low, high]`` (registers ``Int(...)``)."""
        return self._suggest(name, Int(low, high, log=log, step=step))

    def suggest_categorical(self, name: str, choices: Sequence[Hashable]) -> Any:
        """One of ``choices`` for ``name`` (registers ``Categorical(choices)``)."""
        return self._suggest(name, Categorical(choices))

    def report(self, value: float, step: int) -> None:
        """Record an intermediate value (e.g. validation loss after epoch ``step``)."""
        value = float(value)
        if not math.isfinite(value):
            value = math.inf if self._direction == "minimize" else -math.inf
        self.intermediate[int(step)] = value
        if self._on_report is not None:
            self._on_report(
                {"event": "report", "number": self.number, "step": step, "value": value}
            )

    def should_prune(self) -> bool:
        """Whether the pruner says to stop; if so, ``raise TrialPruned()``."""
        if self._pruner is None or not self.intermediate:
            return False
        peers = self._peers() if callable(self._peers) else self._peers
        others = [peer for peer in peers if peer.number != self.number]
        return bool(self._pruner.prune(self, others, self._direction))

    def set_user_attr(self, key: str, value: Any) -> None:
        """Keep a JSON-able value with the trial (a checkpoint path, a metric)."""
        self.user_attrs[key] = value

    @property
    def last_step(self) -> int | None:
        """The largest reported step, or None before the first report."""
        return max(self.intermediate) if self.intermediate else None
