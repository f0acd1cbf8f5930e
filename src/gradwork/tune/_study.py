"""``Study``: the history of a search, its bookkeeping and its journal."""

from __future__ import annotations

import inspect
import json
import logging
import math
import threading
from collections.abc import Mapping
from typing import Any

import numpy as np

from ._importance import importance as _importance
from ._importance import min_trials as _importance_min_trials
from ._pareto import pareto_front
from ._search_space import Space
from ._storage import distribution_from_json, distribution_to_json, params_from_json
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

    def __init__(
        self, direction: str | list[str], space: Space, algorithm: Any, seed: int, storage: Any
    ) -> None:
        # Several objectives: ``directions`` lists one direction each; ``direction`` is the first.
        self.directions = [direction] if isinstance(direction, str) else list(direction)
        self.direction = self.directions[0]
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
        if self.multi_objective:
            front = len(self.best_trials)
            return f"Study({self.directions}, {len(self.trials)} trials, {front} on the front)"
        best = self.best_value if done else None
        return f"Study({self.direction}, {len(self.trials)} trials, best_value={best})"

    # ---- results -----------------------------------------------------------
    @property
    def multi_objective(self) -> bool:
        """Whether the study has several objectives (``directions=[...]``)."""
        return len(self.directions) > 1

    def loss(self, value: float) -> float:
        """``value`` as a quantity to minimise."""
        return value if self.direction == "minimize" else -value

    def losses(self, trial: Trial) -> np.ndarray:
        """The objective values of a completed trial as losses (one per objective)."""
        values = trial.values if trial.values is not None else [trial.value]
        signs = [1.0 if d == "minimize" else -1.0 for d in self.directions]
        return np.asarray(values, dtype=float) * signs

    @property
    def best_trials(self) -> list[Trial]:
        """The completed trials on the Pareto front (none is beaten in every objective).

        With one objective: the trials that share the best value.
        """
        complete = [trial for trial in self.trials if trial.state == TrialState.COMPLETE]
        if not complete:
            return []
        losses = np.array([self.losses(trial) for trial in complete])
        return [complete[i] for i in pareto_front(losses)]

    @property
    def best_trial(self) -> Trial:
        """The completed trial with the best value."""
        if self.multi_objective:
            raise RuntimeError(
                f"gradwork.tune: this study has {len(self.directions)} objectives, so there is no "
                "single best trial; read study.best_trials (the Pareto front)"
            )
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
        if self.multi_objective:
            return None
        losses = [self.loss(t.value) for t in self.trials if t.state == TrialState.COMPLETE]
        return min(losses) if losses else None

    def best_with_error(self) -> tuple[float, float] | None:
        """The best loss and that trial's standard error (0 without cv), or None."""
        if self.multi_objective or self.best_loss() is None:
            return None
        best = self.best_trial
        return self.loss(best.value), float(best.std_error or 0.0)

    def trials_table(self) -> TrialsTable:
        """One row per trial: number, state, value, params, duration (+ std_error with cv)."""
        rows = TrialsTable()
        for trial in self.trials:
            row = {"number": trial.number, "state": trial.state.value, "value": trial.value}
            if self.multi_objective:
                row["value"] = None if trial.values is None else list(trial.values)
            if trial.fold_values:
                row["std_error"] = trial.std_error
            row.update(params=dict(trial.params), duration=trial.duration)
            rows.append(row)
        return rows

    def importance_min_trials(self) -> int:
        """Completed trials ``importance()`` needs for this space (10, or 2 a parameter + 4)."""
        return _importance_min_trials(self.space)

    def importance(self, bins: int = 4, return_std: bool = False) -> dict[str, Any]:
        """Share of the variance of the objective explained by each parameter.

        Needs ``importance_min_trials()`` completed trials (at least 10): from
        fewer, the shares are noise and a ValueError says so. ``return_std=True``
        gives ``{name: (share, std)}`` with a bootstrap standard deviation.
        See ``gradwork.tune._importance.importance`` for the method.
        """
        complete = [t for t in self.trials if t.state == TrialState.COMPLETE]
        if self.multi_objective:
            raise RuntimeError(
                "gradwork.tune: importance is defined for one objective; this study has "
                f"{len(self.directions)}"
            )
        return _importance(self.space, complete, bins, return_std=return_std, seed=self.seed)

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
            losses = self.losses(trial)
            self.algorithm.tell(trial.params, losses if self.multi_objective else float(losses[0]))
        elif trial.state == TrialState.PRUNED and _takes(self.algorithm, "estimate"):
            extra = {"estimate": self.pruned_estimate(trial)}
            if _takes(self.algorithm, "progress"):
                extra["progress"] = self.pruned_progress(trial)
            self.algorithm.tell(trial.params, trial.state, **extra)
        else:
            self.algorithm.tell(trial.params, trial.state)

    def pruned_estimate(self, trial: Trial) -> float | None:
        """A guess of the final loss a pruned trial would have reached.

        NOTE: a pruned trial has no final value, but its rank among the trials
        that reported at the same step says how good it was: at quantile q there,
        it gets the q-quantile of the completed trials' final losses. Dropping
        pruned trials (or calling them all the worst) leaves a model to learn from
        the few trials that completed, no better than random under ASHA.
        """
        if self.multi_objective:
            return None
        if trial.fold_values and trial.value is not None:
            return self.loss(trial.value)  # stopped by cv: the mean of its folds so far
        if trial.last_step is None:
            return None
        step = trial.last_step
        own = self.loss(trial.intermediate[step])
        earlier = [t for t in self.trials[: trial.number] if t.state != TrialState.RUNNING]
        finals = [self.loss(t.value) for t in earlier if t.state == TrialState.COMPLETE]
        if not finals:
            return own
        at_step = [self.loss(v) for t in earlier if (v := _value_at(t, step)) is not None]
        if at_step:
            better = sum(v < own for v in at_step) + 0.5 * sum(v == own for v in at_step)
            quantile = (better + 0.5) / (len(at_step) + 1)
        else:
            quantile = 0.75  # stopped, so probably worse than the median
        return float(np.quantile(finals, quantile))

    def pruned_progress(self, trial: Trial) -> tuple[int, float] | None:
        """``(last step, loss reported there)`` of a pruned trial, or None (cv, no report).

        What Optuna's TPE ranks pruned trials by: those that got further first,
        then by their last value.
        """
        if self.multi_objective or trial.fold_values or trial.last_step is None:
            return None
        return trial.last_step, self.loss(trial.intermediate[trial.last_step])

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
        if headers:
            self._check_header(headers[0])
        else:
            self.storage.append({
                "event": "study", "direction": self.direction, "version": 2,
                "directions": self.directions,
                "space": {k: distribution_to_json(v) for k, v in self.static_space.items()},
            })  # fmt: skip
        for event in events:
            _apply(self.trials, event)
        for trial in self.trials:
            known = {**self.static_space, **trial.distributions}
            trial.params = params_from_json(trial.params, known)
            trial._proposed = params_from_json(trial._proposed, known)
            self._grow_space(trial)
            if trial.state == TrialState.RUNNING:
                trial.state, trial.error = TrialState.FAILED, INTERRUPTED
                self.storage.append(_tell_event(trial))
                self._retry.append(dict(trial._proposed))
        self.replay()

    def _check_header(self, header: Mapping[str, Any]) -> None:
        directions = header.get("directions", [header.get("direction")])
        if directions != self.directions:
            shown = directions[0] if len(directions) == 1 else directions
            ours = self.direction if len(self.directions) == 1 else self.directions
            raise ValueError(
                f"gradwork.tune: the journal {self.storage!r} holds a study that was run with "
                f"direction={shown!r}, not {ours!r}; use another file or the same direction"
            )
        if "space" not in header:
            return  # written before the space was recorded
        # Compared as JSON, the form the journal keeps (tuples become lists there).
        theirs = _as_json(header["space"])
        ours = _as_json({k: distribution_to_json(v) for k, v in self.static_space.items()})
        if theirs != ours:
            changed = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k))
            raise ValueError(
                f"gradwork.tune: the journal {self.storage!r} holds a study over another search "
                f"space (parameters that differ: {changed}); resuming would mix trials the "
                "algorithm cannot compare. Use a new journal file, or the space it was run with"
            )


def _as_json(data: Any) -> Any:
    return json.loads(json.dumps(data, default=repr))


def _takes(algorithm: Any, argument: str) -> bool:
    try:
        return argument in inspect.signature(algorithm.tell).parameters
    except (TypeError, ValueError):
        return False


def _value_at(trial: Trial, step: int) -> float | None:
    """The value a trial reported at ``step`` (or at the first later step it reported)."""
    if step in trial.intermediate:
        return trial.intermediate[step]
    later = [s for s in trial.intermediate if s >= step]
    return trial.intermediate[min(later)] if later else None


def _tell_event(trial: Trial) -> dict[str, Any]:
    return {
        "event": "tell",
        "number": trial.number,
        "state": trial.state.value,
        "value": trial.value,
        "values": trial.values,
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
        values = event.get("values")
        trial.values = None if values is None else [float(v) for v in values]
        trial.params = dict(event.get("params", trial.params))
        trial.intermediate = {int(k): v for k, v in event.get("intermediate", {}).items()}
        trial.fold_values = list(event.get("fold_values", []))
        trial.std_error, trial.error = event.get("std_error"), event.get("error")
        trial.duration, trial.user_attrs = event.get("duration"), event.get("user_attrs", {})
        trial.distributions = {
            k: distribution_from_json(v) for k, v in event.get("distributions", {}).items()
        }
