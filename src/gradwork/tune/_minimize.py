"""``minimize`` and ``maximize``: the entry points of gradwork.tune."""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from typing import Any

import numpy as np

from ._distributions import Distribution
from ._run import Runner
from ._search_space import Space
from ._stats import make_cv
from ._storage import make_storage
from ._study import Study
from ._trial import Trial
from .algorithms import Auto, make_algorithm

DEFAULT_SYNC_BATCH = 4


def takes_trial(objective: Callable) -> bool:
    """The rule: pass a ``Trial`` if the first parameter is named ``trial`` or annotated ``Trial``.

    Example:
        >>> takes_trial(lambda trial: 0.0), takes_trial(lambda params: 0.0)
        (True, False)
    """
    try:
        parameters = list(inspect.signature(objective).parameters.values())
    except (TypeError, ValueError):
        return False
    if not parameters:
        raise TypeError(
            f"gradwork.tune: objective {objective!r} takes no arguments; it must accept the "
            "params dict (or a Trial)"
        )
    first = parameters[0]
    annotation = first.annotation
    if isinstance(annotation, str):
        return annotation.split(".")[-1] == "Trial" or first.name == "trial"
    return first.name == "trial" or annotation is Trial


class TuneArgumentError(TypeError, ValueError):
    """A bad argument to ``minimize``: a TypeError that ``except ValueError`` also catches."""


def _whole(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _check_seed(seed: Any) -> int:
    if not _whole(seed):
        raise TuneArgumentError(
            f"gradwork.tune: seed={seed!r}; expected a whole number such as 0 (it seeds the "
            "algorithm and every trial.seed, so a study can be repeated)"
        )
    if seed < 0:
        raise TuneArgumentError(f"gradwork.tune: seed={seed!r}; expected a whole number >= 0")
    return int(seed)


def _check_pruner(pruner: Any) -> None:
    if pruner is not None and not callable(getattr(pruner, "prune", None)):
        raise TuneArgumentError(
            f"gradwork.tune: pruner={pruner!r}; expected a pruner object such as "
            "MedianPruner(), SuccessiveHalvingPruner() or HyperbandPruner() (a name such as "
            "'median' is only understood by the `gradwork tune` config)"
        )


def _check(n_trials: Any, sync: Any, executor: Any) -> int:
    if not _whole(n_trials) or n_trials < 1:
        raise TuneArgumentError(
            f"gradwork.tune: n_trials={n_trials!r}; expected a whole number >= 1"
        )
    if executor is not None and not isinstance(executor, Executor):
        raise TypeError(
            f"gradwork.tune: executor={executor!r}; expected a concurrent.futures.Executor "
            "(ThreadPoolExecutor, ProcessPoolExecutor, dask Client.get_executor())"
        )
    if isinstance(sync, bool):
        return DEFAULT_SYNC_BATCH if sync else 0
    if isinstance(sync, int) and sync >= 1:
        return sync
    raise ValueError(f"gradwork.tune: sync={sync!r}; expected True/False or a batch size >= 1")


def _check_directions(direction: str, directions: Any, options: Mapping[str, Any]) -> list[str]:
    if directions is None:
        return [direction]
    if isinstance(directions, str) or not isinstance(directions, Sequence) or not directions:
        raise TuneArgumentError(
            f"gradwork.tune: directions={directions!r}; expected a list such as "
            "['maximize', 'minimize'], one entry per value the objective returns"
        )
    for entry in directions:
        if entry not in ("minimize", "maximize"):
            raise TuneArgumentError(
                f"gradwork.tune: directions entry {entry!r}; expected 'minimize' or 'maximize'"
            )
    if len(directions) > 1 and (options["pruner"] is not None or options["cv"] is not None):
        raise TuneArgumentError(
            "gradwork.tune: pruner and cv apply to one objective; with several directions "
            "leave them as None"
        )
    return list(directions)


def _optimize(direction: str, objective: Callable, space: Any, **options: Any) -> Study:
    batch = _check(options["n_trials"], options["sync"], options["executor"])
    directions = _check_directions(direction, options["directions"], options)
    options["n_trials"] = int(options["n_trials"])
    seed = _check_seed(options["seed"])
    _check_pruner(options["pruner"])
    if not callable(objective):
        raise TypeError(f"gradwork.tune: objective={objective!r} is not callable")
    space = Space(space)
    by_trial = takes_trial(objective)
    if not space and not by_trial:
        raise ValueError(
            "gradwork.tune: the search space is empty; give a dict such as "
            "{'lr': Float(1e-4, 1e-1, log=True)}, or write the objective as "
            "objective(trial) and call trial.suggest_float(...) inside it"
        )
    algorithm = make_algorithm(options["algorithm"], options["algorithm_options"])
    if isinstance(algorithm, Auto) and algorithm.budget is None:
        algorithm.budget = options["n_trials"]
    algorithm.n_objectives = len(directions)
    storage = make_storage(options["storage"])
    study = Study(directions, space, algorithm, seed, storage)
    study.resume()
    runner = Runner(
        study,
        objective,
        by_trial,
        n_trials=options["n_trials"],
        pruner=options["pruner"],
        cv=make_cv(options["cv"]),
        executor=options["executor"],
    )
    if batch:
        runner.run_sync(batch)
    elif options["executor"] is None:
        runner.run_serial()
    else:
        runner.run_async()
    return study


def minimize(
    objective: Callable[[Any], float],
    space: Mapping[str, Distribution] | None = None,
    algorithm: str | Any = "bayes",
    n_trials: int = 50,
    seed: int = 0,
    pruner: Any = None,
    executor: Executor | None = None,
    storage: Any = None,
    cv: Any = None,
    sync: bool | int = False,
    algorithm_options: Mapping[str, Any] | None = None,
    directions: Sequence[str] | None = None,
) -> Study:
    """Search ``space`` for the parameters that minimise ``objective``.

    Args:
        objective: ``objective(params) -> float`` with ``params`` a dict of real
            values; or ``objective(trial) -> float`` when its first parameter is
            named ``trial`` or annotated ``Trial`` (then it may call
            ``trial.suggest_*``, ``trial.report`` and ``trial.should_prune``).
            With ``cv`` it is called as ``objective(x, fold)`` once per fold.
        space: Dict name -> ``Float``/``Int``/``Categorical``; may be empty for an
            objective that suggests its own parameters (define-by-run).
        algorithm: ``"bayes"``, ``"tpe"``, ``"random"``, ``"sobol"``, ``"grid"``,
            ``"ga"``, ``"de"``, ``"pso"``, ``"auto"`` (picks by the space and
            ``n_trials``), or an ``Algorithm`` instance.
        n_trials: Trials to finish in total (including those resumed from
            ``storage``; trials cut off by a crash do not count).
        seed: Seeds the algorithm and every ``trial.seed``.
        pruner: ``MedianPruner()``, ``SuccessiveHalvingPruner()``, ``HyperbandPruner()``.
        executor: Any ``concurrent.futures.Executor`` (serial when None). Process
            pools and Dask need a picklable, module-level objective.
        storage: None (memory), a path to a JSON-lines journal, or ``JournalStorage``;
            calling again with the same journal resumes the study.
        cv: An int k, ``CV(k, stop_z=...)`` or a splitter with ``n_splits``.
        sync: True (batches of 4) or a batch size: synchronous batches told in
            trial-number order, so the history is identical on every executor.
        algorithm_options: Keyword options for an algorithm given by name.
        directions: Several objectives: one ``"minimize"``/``"maximize"`` per value
            the objective returns (a tuple). ``study.best_trials`` is then the
            Pareto front and ``trial.values`` holds the values. ``ga`` runs
            NSGA-II, ``bayes`` ParEGO; ``auto`` picks one.

    Returns:
        The ``Study`` with ``best_value``, ``best_params`` and ``trials``.

    Example:
        >>> from gradwork.tune import Float, minimize
        >>> study = minimize(lambda p: (p["x"] - 2) ** 2, {"x": Float(-5, 5)},
        ...                  algorithm="random", n_trials=40)
        >>> abs(study.best_params["x"] - 2) < 0.5
        True
    """
    return _optimize(
        "minimize", objective, space, algorithm=algorithm, n_trials=n_trials, seed=seed,
        pruner=pruner, executor=executor, storage=storage, cv=cv, sync=sync,
        algorithm_options=algorithm_options, directions=directions,
    )  # fmt: skip


def maximize(
    objective: Callable[[Any], float],
    space: Mapping[str, Distribution] | None = None,
    algorithm: str | Any = "bayes",
    n_trials: int = 50,
    seed: int = 0,
    pruner: Any = None,
    executor: Executor | None = None,
    storage: Any = None,
    cv: Any = None,
    sync: bool | int = False,
    algorithm_options: Mapping[str, Any] | None = None,
    directions: Sequence[str] | None = None,
) -> Study:
    """Like ``minimize``, for an objective to maximise (accuracy, reward).

    Example:
        >>> from gradwork.tune import Int, maximize
        >>> maximize(lambda p: -abs(p["k"] - 3), {"k": Int(0, 4)}, algorithm="grid").best_params
        {'k': 3}
    """
    return _optimize(
        "maximize", objective, space, algorithm=algorithm, n_trials=n_trials, seed=seed,
        pruner=pruner, executor=executor, storage=storage, cv=cv, sync=sync,
        algorithm_options=algorithm_options, directions=directions,
    )  # fmt: skip
