"""``Study``: the history of a search, its bookkeeping and its journal."""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Mapping
from typing import Any

from ._importance import importance as _importance
from ._search_space import Space
from ._storage import distribution_from_json, distribution_to_json
from ._trial import INTERRUPTED, Trial, TrialState, trial_seed

logger = logging.getLogger("gradwork.tune")


class TrialsTable(list):
    """A list of row dicts that prints as an aligned table."""

    def __str__(self) -> str:
        if not self:
            return "(no trials)"
        columns = list(self[0])
        cells = [[_cell(row[column]) for column in columns] for row in self]
        widths = [
            max(len(column), *(len(row[i]) for row in cells)) for i, column in enumerate(columns)
        ]
        lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=False)).rstrip()]
        lines += [
            "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)).rstrip()
            for row in cells
        ]
        return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_cell(v)}" for k, v in value.items())
    return "" if value is None else str(value)


class Study:
    """The trials of one search and its best result.

    Made by ``minimize``/``maximize``; read ``best_value``, ``best_params``,
    ``best_trial``, ``trials``, ``trials_table()`` and ``importance()``.
    """

    def __init__(self, direction: str, space: Space, algorithm: Any, seed: int, storage: Any):
        self.direction = direction
        self.space = space
        self.static_space = space
        self.algorithm = algorithm
        self.seed = seed
        self.storage = storage
        self.trials: list[Trial] = []
        self._retry: list[dict[str, Any]] = []
        # Launched and not yet finished by the study. A worker thread may already have
        # set its trial's state, so the state alone cannot tell.
        self._open: set[int] = set()
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        done = sum(trial.state == TrialState.COMPLETE for trial in self.trials)
        best = self.best_value if done else None
        return f"Study({self.direction}, {len(self.trials)} trials, best_value={best})"

    # ---- results -----------------------------------------------------------
    def loss(self, value: float) -> float:
        """``value`` as a quantity to minimise."""
        return value if self.direction == "minimize" else -value

    @property
    def best_trial(self) -> Trial:
        """The completed trial with the best value."""
        complete = [trial for trial in self.trials if trial.state == TrialState.COMPLETE]
        if not complete:
            raise ValueError(
                "gradwork.tune: the study has no completed trial yet; every trial failed or "
                "was pruned (see study.trials_table() and trial.error)"
            )
        return min(complete, key=lambda trial: self.loss(trial.value))

    @property
    def best_value(self) -> float:
        """The best objective value."""
        return self.best_trial.value

    @property
    def best_params(self) -> dict[str, Any]:
        """The parameters of the best trial (real values)."""
        return dict(self.best_trial.params)

    def best_loss(self) -> float | None:
        """The best value as a loss, or None before the first completed trial."""
        losses = [self.loss(t.value) for t in self.trials if t.state == TrialState.COMPLETE]
        return min(losses) if losses else None

    def trials_table(self) -> TrialsTable:
        """One row per trial: number, state, value, params, duration (+ std_error with cv)."""
        rows = TrialsTable()
        for trial in self.trials:
            row = {"number": trial.number, "state": trial.state.value, "value": trial.value}
            if trial.fold_values:
                row["std_error"] = trial.std_error
            row.update(params=dict(trial.params), duration=trial.duration)
            rows.append(row)
        return rows

    def importance(self, bins: int = 4) -> dict[str, float]:
        """Share of the variance of the objective explained by each parameter.

        See ``gradwork.tune._importance.importance`` for the method.
        """
        complete = [t for t in self.trials if t.state == TrialState.COMPLETE]
        return _importance(self.space, complete, bins)

    # ---- bookkeeping used by the runner -----------------------------------
    def counted(self) -> int:
        """Trials that used up budget (all but running and interrupted ones)."""
        return sum(
            trial.number not in self._open
            and trial.state != TrialState.RUNNING
            and trial.error != INTERRUPTED
            for trial in self.trials
        )

    def running(self) -> list[Trial]:
        """Trials launched and not finished."""
        return [self.trials[number] for number in sorted(self._open)]

    def peers(self) -> list[Trial]:
        """A snapshot of every trial (what pruners compare against)."""
        with self._lock:
            return list(self.trials)

    def finished(self) -> list[Trial]:
        """Copies of the trials the study has finished (a snapshot independent of timing)."""
        with self._lock:
            return [trial.record() for trial in self.trials if trial.number not in self._open]

    def launch(self, n: int) -> list[Trial]:
        """Create up to ``n`` trials: retries first, then the algorithm's proposals."""
        with self._lock:
            pending = [trial._proposed for trial in self.running()]
            proposals = [self._retry.pop(0) for _ in range(min(n, len(self._retry)))]
            if len(proposals) < n:
                proposals += self.algorithm.ask(n - len(proposals), pending)
            return [self._create(params) for params in proposals]

    def _create(self, params: dict[str, Any]) -> Trial:
        number = len(self.trials)
        seed = trial_seed(self.seed, number)
        fixed = {k: v for k, v in params.items() if k in self.static_space}
        trial = Trial(number, fixed, seed, proposed=params)
        trial._direction = self.direction
        self.trials.append(trial)
        self._open.add(number)
        self.storage.append({"event": "ask", "number": number, "params": params, "seed": seed})
        return trial

    def finish(self, result: Trial) -> None:
        """Store the returned record, journal it, log failures and tell the algorithm."""
        with self._lock:
            result = result.record()
            self.trials[result.number] = result
            self._open.discard(result.number)
            self.storage.append(_tell_event(result))
            if result.state == TrialState.FAILED:
                logger.warning("gradwork.tune: trial %d failed: %s", result.number, result.error)
            if self._grow_space(result):
                self.replay()
            else:
                self._tell(result)

    def _tell(self, trial: Trial) -> None:
        if trial.state == TrialState.COMPLETE:
            self.algorithm.tell(trial.params, self.loss(trial.value))
        else:
            self.algorithm.tell(trial.params, trial.state)

    def _grow_space(self, trial: Trial) -> bool:
        new = {
            name: distribution
            for name, distribution in trial.distributions.items()
            if self.space.get(name) != distribution
        }
        if new:
            self.space = self.space.merged(new)
        return bool(new)

    def replay(self) -> None:
        """Restart the algorithm and tell it every finished trial, in order."""
        self.algorithm.setup(self.space, self.seed)
        for trial in self.trials:
            if trial.state != TrialState.RUNNING and trial.number not in self._open:
                self._tell(trial)

    # ---- resuming from a journal ------------------------------------------
    def resume(self) -> None:
        """Rebuild trials from the storage; interrupted trials become failed and retried."""
        events = self.storage.load()
        headers = [event for event in events if event.get("event") == "study"]
        if headers and headers[0].get("direction") != self.direction:
            raise ValueError(
                f"gradwork.tune: the journal {self.storage!r} holds a study that was run with "
                f"direction={headers[0].get('direction')!r}, not {self.direction!r}; use "
                "another file or the same direction"
            )
        if not headers:
            self.storage.append({"event": "study", "direction": self.direction, "version": 1})
        for event in events:
            _apply(self.trials, event)
        for trial in self.trials:
            self._grow_space(trial)
            if trial.state == TrialState.RUNNING:
                trial.state, trial.error = TrialState.FAILED, INTERRUPTED
                self.storage.append(_tell_event(trial))
                self._retry.append(dict(trial._proposed))
        self.replay()


def _tell_event(trial: Trial) -> dict[str, Any]:
    return {
        "event": "tell",
        "number": trial.number,
        "state": trial.state.value,
        "value": trial.value,
        "params": trial.params,
        "intermediate": {str(k): v for k, v in trial.intermediate.items()},
        "fold_values": trial.fold_values,
        "std_error": trial.std_error,
        "error": trial.error,
        "duration": trial.duration,
        "user_attrs": trial.user_attrs,
        "distributions": {k: distribution_to_json(v) for k, v in trial.distributions.items()},
    }


def _apply(trials: list[Trial], event: Mapping[str, Any]) -> None:
    """Replay one journal event onto the trial list."""
    kind, number = event.get("event"), event.get("number")
    if kind == "ask" and number == len(trials):
        trials.append(Trial(number, {}, event["seed"], proposed=event["params"]))
        trials[-1].params = dict(event["params"])
    elif kind == "report" and number is not None and number < len(trials):
        trials[number].intermediate[int(event["step"])] = float(event["value"])
    elif kind == "tell" and number is not None and number < len(trials):
        trial = trials[number]
        trial.state = TrialState(event["state"])
        value = event.get("value")
        trial.value = None if value is None or not math.isfinite(value) else float(value)
        trial.params = dict(event.get("params", trial.params))
        trial.intermediate = {int(k): v for k, v in event.get("intermediate", {}).items()}
        trial.fold_values = list(event.get("fold_values", []))
        trial.std_error, trial.error = event.get("std_error"), event.get("error")
        trial.duration, trial.user_attrs = event.get("duration"), event.get("user_attrs", {})
        trial.distributions = {
            k: distribution_from_json(v) for k, v in event.get("distributions", {}).items()
        }
