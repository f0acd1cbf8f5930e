"""Running trials: one trial in a worker, and the serial / async / synchronous loops."""

from __future__ import annotations

import math
import time
import traceback
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Executor, wait
from typing import Any

import numpy as np

from ._stats import CV, cv_gap_error, mean_and_error
from ._study import Study
from ._trial import Trial, TrialPruned, TrialState


class _BadValueError(Exception):
    pass


def _as_float(value: Any) -> float:
    if isinstance(value, (bool, np.bool_)):
        raise _BadValueError(
            f"objective returned {value!r}, a bool; expected a number (return a loss or a "
            "score, e.g. float(correct) / total)"
        )
    try:
        number = float(np.asarray(value).item())
    except (TypeError, ValueError) as error:
        raise _BadValueError(f"objective returned {value!r}; expected a number") from error
    if not math.isfinite(number):
        raise _BadValueError(f"objective returned a non-finite value ({number})")
    return number


def _as_floats(value: Any, count: int) -> list[float]:
    """The values of a multi-objective objective: a sequence of ``count`` numbers."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != count:
        raise _BadValueError(
            f"objective returned {value!r}; with {count} directions it must return {count} "
            "numbers, e.g. (accuracy, n_parameters)"
        )
    return [_as_float(v) for v in value]


def _folds(objective: Callable, argument: Any, trial: Trial, cv: CV, best: Any) -> float:
    """Run the folds; stop early (raising TrialPruned) when clearly losing."""
    sign = 1.0 if trial._direction == "minimize" else -1.0
    for fold in range(cv.n_splits):
        trial.fold = fold
        trial.fold_values.append(_as_float(objective(argument, fold)))
        mean, error = mean_and_error(trial.fold_values)
        trial.value, trial.std_error = mean, error
        done = len(trial.fold_values)
        if cv.stop_z is None or best is None or done < cv.min_folds or done == cv.n_splits:
            continue
        best_loss, best_error = best if isinstance(best, tuple) else (best, 0.0)
        gap = sign * mean - best_loss  # > 0: worse than the best so far
        limit = cv.stop_z * cv_gap_error(trial.fold_values, best_error, cv.n_splits)
        if gap > 0 and limit > 0 and gap > limit:
            trial.user_attrs["cv_stopped"] = f"after {done} folds: {gap:.4g} worse than best"
            raise TrialPruned()
    return trial.value


def run_trial(
    objective: Callable,
    trial: Trial,
    takes_trial: bool,
    cv: CV | None = None,
    best: Any = None,
    n_objectives: int = 1,
) -> Trial:
    """Evaluate ``trial`` and return its record; module-level so process pools can pickle it.

    ``best`` is the best loss so far (or ``(loss, std_error)``), for the cv early stop.
    Exceptions from the objective mark the trial FAILED with the traceback;
    ``KeyboardInterrupt`` and ``SystemExit`` are not caught.
    """
    start = time.perf_counter()
    argument = trial if takes_trial else dict(trial.params)
    try:
        if n_objectives > 1:
            trial.values = _as_floats(objective(argument), n_objectives)
        elif cv is None:
            trial.value = _as_float(objective(argument))
        else:
            trial.value = _folds(objective, argument, trial, cv, best)
        trial.state = TrialState.COMPLETE
    except TrialPruned:
        trial.state = TrialState.PRUNED
        if not trial.fold_values:
            last = trial.last_step
            trial.value = None if last is None else trial.intermediate[last]
    except _BadValueError as error:
        trial.state, trial.error, trial.value = TrialState.FAILED, str(error), None
    except Exception:
        trial.state, trial.error, trial.value = TrialState.FAILED, traceback.format_exc(), None
    trial.duration = time.perf_counter() - start
    return trial.record()


def concurrency(executor: Executor) -> int:
    """How many trials to keep in flight on ``executor``."""
    workers = getattr(executor, "_max_workers", None)
    if workers:
        return int(workers)
    client = getattr(executor, "_client", None)  # dask's ClientExecutor
    if client is not None:
        return max(1, sum(client.nthreads().values()))
    return 2


class Runner:
    """Drives a study to ``n_trials`` finished trials on an executor."""

    def __init__(self, study: Study, objective: Callable, takes_trial: bool, **options: Any):
        self.study = study
        self.objective = objective
        self.takes_trial = takes_trial
        self.n_trials = options["n_trials"]
        self.pruner = options["pruner"]
        self.cv = options["cv"]
        self.executor = options["executor"]

    def left(self) -> int:
        return self.n_trials - self.study.counted() - len(self.study.running())

    def prepare(self, trial: Trial, live: bool) -> tuple:
        trial._pruner = self.pruner
        # A live view when trials share this process; a snapshot otherwise (or when sync).
        trial._peers = self.study.peers if live else self.study.finished()
        if live and hasattr(self.study.storage, "path"):
            trial._on_report = self.study.storage.append
        best = self.study.best_with_error()
        objectives = len(self.study.directions)
        return (self.objective, trial, self.takes_trial, self.cv, best, objectives)

    def run_serial(self) -> None:
        while self.left() > 0:
            trials = self.study.launch(1)
            if not trials:
                return
            self.study.finish(run_trial(*self.prepare(trials[0], live=True)))

    def run_sync(self, batch: int) -> None:
        """Batches of ``batch`` trials, told in trial-number order: the same on every executor."""
        while self.left() > 0:
            trials = self.study.launch(min(batch, self.left()))
            if not trials:
                return
            jobs = [self.prepare(trial, live=False) for trial in trials]
            if self.executor is None:
                results = [run_trial(*job) for job in jobs]
            else:
                futures = [self.executor.submit(run_trial, *job) for job in jobs]
                results = [future.result() for future in futures]
            for result in sorted(results, key=lambda record: record.number):
                self.study.finish(result)

    def run_async(self) -> None:
        """Keep every worker busy; tell each result as soon as it arrives."""
        workers = concurrency(self.executor)
        futures: dict[Any, int] = {}
        try:
            while True:
                while len(futures) < workers and self.left() > 0:
                    trials = self.study.launch(1)
                    if not trials:
                        break
                    job = self.prepare(trials[0], live=True)
                    futures[self.executor.submit(run_trial, *job)] = trials[0].number
                if not futures:
                    return
                done, _ = wait(list(futures), return_when=FIRST_COMPLETED)
                for future in done:
                    del futures[future]
                    self.study.finish(future.result())
        finally:
            for future in futures:
                future.cancel()
