"""Tune a training configuration: one `gradwork train` run per trial, judged on validation.

The search space is keyed by dotted configuration keys (``"optimizer.lr"``,
``"model.hidden"``, ``"data.batch_size"``, ``"optimizer.momentum"`` with
``when=("optimizer.name", "SGD")``). Each trial copies the base configuration,
writes its values over it, builds the run with `gradwork.train.build` (the
builders of `gradwork train`), and trains; after every epoch it reports the
validation metric so that a pruner (ASHA) can stop it. Only the training and
validation splits are read here: the test set belongs to `retrain_best`.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any

import numpy as np

from gradwork import data
from gradwork.suggest import closest
from gradwork.train import Callback, build, preflight
from gradwork.train import config as schema
from gradwork.train.callbacks import monitor_mode
from gradwork.train.config import ConfigError

from ._distributions import Categorical, Distribution
from ._minimize import maximize, minimize
from ._search_space import Space
from ._study import Study
from ._trial import Trial, TrialPruned


def _label(choice: Any) -> Any:
    """A hashable stand-in for a list choice (``[64, 64]`` -> ``"[64, 64]"``)."""
    return json.dumps(choice) if isinstance(choice, list | tuple | dict) else choice


def study_space(space: Mapping[str, Distribution]) -> dict[str, Distribution]:
    """``space`` with list-valued categorical choices written as JSON strings.

    NOTE: a study's journal stores values as JSON, where a tuple comes back as a
    list that no longer equals the choice; strings survive the round trip.

    Example:
        >>> study_space({"model.hidden": Categorical([[32], [64, 64]])})["model.hidden"].choices
        ('[32]', '[64, 64]')
    """
    converted = {}
    for name, distribution in space.items():
        if isinstance(distribution, Categorical):
            labels = tuple(_label(choice) for choice in distribution.choices)
            distribution = Categorical(labels, when=distribution.when)
        converted[name] = distribution
    return converted


def config_for(base: Mapping, params: Mapping[str, Any], space: Mapping | None = None) -> dict:
    """The resolved configuration of ``base`` with ``params`` written over it.

    Args:
        base: A training configuration (as read from TOML, or resolved).
        params: Values by dotted key, e.g. ``{"optimizer.lr": 0.01}``.
        space: The search space, to turn list choices written as JSON back into lists.

    Example:
        >>> config = config_for({"data": {"name": "moons"}}, {"optimizer.lr": 0.01})
        >>> config["optimizer"]["lr"], config["data"]["name"]
        (0.01, 'moons')
    """
    user = copy.deepcopy(dict(base))
    user.pop("tune", None)
    for key, value in params.items():
        distribution = (space or {}).get(key)
        if isinstance(distribution, Categorical) and isinstance(value, str):
            lists = {_label(c): c for c in distribution.choices if isinstance(c, list | tuple)}
            value = list(lists[value]) if value in lists else value
        *sections, last = key.split(".")
        table = user
        for section in sections:
            table = table.setdefault(section, {})
        table[last] = value
    return schema.resolve(user)


def check_key(key: str) -> None:
    """Raise ConfigError unless ``key`` names a training-configuration key (dotted)."""
    table: Any = schema.SCHEMA
    parts = key.split(".")
    for depth, part in enumerate(parts):
        prefix = ".".join(parts[:depth])
        if isinstance(table, dict) and part in table:
            table = table[part]
            continue
        if prefix in schema.OPEN_SECTIONS and depth == len(parts) - 1:
            return  # a keyword argument of the optimizer/scheduler/loss class: probed later
        if not isinstance(table, dict):
            break
        match = closest(part, table)
        hint = f" Did you mean {'.'.join([*parts[:depth], match])!r}?" if match else ""
        raise ConfigError(
            f"tune.space: {key!r} is not a training-config key.{hint} Valid keys in "
            f"[{prefix or 'top level'}]: {', '.join(sorted(table))}"
        )
    if isinstance(table, dict):
        raise ConfigError(f"tune.space: {key!r} is a section; name one of its keys")
    if len(parts) == 1 and key in ("output", "name"):
        raise ConfigError(f"tune.space: {key!r} does not change training; it cannot be tuned")


def probe_points(space: Space) -> list[dict[str, Any]]:
    """Configurations that visit every categorical choice and both ends of every range."""
    names = space.names
    points = [space.decode([0.0] * len(names)), space.decode([1.0] * len(names))]
    for index, name in enumerate(names):
        distribution = space[name]
        if isinstance(distribution, Categorical):
            for choice in range(distribution.size):
                unit = [0.5] * len(names)
                unit[index] = (choice + 0.5) / distribution.size
                points.append(space.decode(unit))
    return points


_SPLITS: dict[str, tuple] = {}
_SPLITS_LOCK = threading.Lock()


def cached_splits(config: Mapping) -> tuple[tuple, dict]:
    """``build.load_splits(config)``, loaded once per data set and seed in this process."""
    data_spec = {k: v for k, v in config["data"].items() if k != "batch_size"}
    key = json.dumps([data_spec, config["seed"]], sort_keys=True)
    with _SPLITS_LOCK:
        if key not in _SPLITS:
            _SPLITS[key] = build.load_splits(config)
        splits, info = _SPLITS[key]
    return splits, dict(info)


def check_setup(base: Mapping, space: Mapping[str, Distribution], metric: str) -> dict:
    """Validate the base config, every space key and the metric; returns the resolved base.

    Builds (without training) one configuration per categorical choice and at
    both ends of every range, so an argument a class does not take, or a value of
    the wrong type, is a ConfigError before anything is written.
    """
    resolved = schema.resolve({k: v for k, v in base.items() if k != "tune"})
    for key in space:
        check_key(key)
    try:
        checked = Space(study_space(space))
    except (TypeError, ValueError) as error:
        raise ConfigError(f"tune.space: {error}") from None
    for params in probe_points(checked):
        config = _probe_config(base, params, space)
        splits, info = cached_splits(config)
        if len(splits[1]) == 0:
            raise ConfigError(
                f"data.split = {config['data']['split']} leaves no validation data; tuning "
                "judges trials on validation data, e.g. data.split = [0.7, 0.15, 0.15]"
            )
        session = build.build(config, splits=splits, info=info)
        preflight.dry_run(session, splits[0], config)  # one batch: forward, loss, backward
        valid = ["val_loss"] + [f"val_{name}" for name in session.metrics]
        if metric not in valid:
            raise ConfigError(
                f"tune.metric = {metric!r} is not logged by these runs; expected one of "
                f"{', '.join(valid)} (add the metric to train.metrics)"
            )
    return resolved


def _probe_config(base: Mapping, params: Mapping, space: Mapping) -> dict:
    try:
        return config_for(base, params, space)
    except ConfigError as error:
        shown = ", ".join(f"{k} = {v!r}" for k, v in params.items())
        raise ConfigError(f"tune.space: with {shown}: {error}") from None


class _ReportToTrial(Callback):
    """Report the monitored validation metric to the trial after every epoch; prune."""

    def __init__(self, trial: Trial, metric: str) -> None:
        super().__init__()
        self.trial, self.metric, self.value = trial, metric, None

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.value = float((logs or {})[self.metric])
        if self.trial.fold is not None:
            return  # NOTE: with cv, steps would repeat per fold; CV's own early stop prunes
        self.trial.report(self.value, epoch + 1)  # step = epochs trained
        if self.trial.should_prune():
            self.trial.set_user_attr("pruned_at_epoch", epoch + 1)
            raise TrialPruned()


#: Costs a training study can trade against its validation metric (always minimised).
COSTS = ("n_parameters", "latency_ms")


def model_cost(session: Any, cost: str) -> float:
    """The model's ``n_parameters``, or ``latency_ms`` on a validation batch (median of 5)."""
    model = session.model
    if cost == "n_parameters":
        return float(sum(parameter.numel() for parameter in model.parameters()))
    from gradwork import cuda
    from gradwork.autograd import no_grad
    from gradwork.train.devices import model_device, to_device

    batch = next(iter(session.loaders["val"]))
    inputs = batch[0] if isinstance(batch, list | tuple) else batch
    device = model_device(model)  # train.device may have put the model on the GPU
    inputs = to_device(inputs, device)
    times = []
    with no_grad():
        for _ in range(5):
            start = time.perf_counter()
            model(inputs)
            if device == "cuda":
                cuda.synchronize()  # a GPU runs asynchronously: wait for the work to end
            times.append(1000 * (time.perf_counter() - start))
    return float(np.median(times))


class TrainingObjective:
    """``objective(trial[, fold])``: train one configuration, return its validation metric.

    With ``costs`` (names from ``COSTS``) it returns ``(metric, *costs)`` for a
    study with several objectives. A module-level class holding plain data, so
    process pools can pickle it.
    """

    def __init__(
        self, base: Mapping, space: Mapping, metric: str, cv_splits: int = 0, costs: Any = ()
    ) -> None:
        self.base, self.space = copy.deepcopy(dict(base)), dict(space)
        self.metric, self.cv_splits, self.costs = metric, cv_splits, tuple(costs)

    def __call__(self, trial: Trial, fold: int | None = None) -> Any:
        config = config_for(self.base, trial.params, self.space)
        splits, info = cached_splits(config)
        if fold is not None:
            splits = fold_splits(splits, fold, self.cv_splits, config["seed"])
        session = build.build(config, splits=splits, info=info)
        reporter = _ReportToTrial(trial, self.metric)
        session.callbacks.append(reporter)
        trainer = build.make_trainer(session)
        trainer.fit(session.loaders["train"], session.loaders["val"], config["train"]["epochs"])
        trial.set_user_attr("epochs", trainer.epoch)
        if self.costs:
            return (reporter.value, *(model_cost(session, cost) for cost in self.costs))
        return reporter.value


def fold_splits(splits: tuple, fold: int, n_splits: int, seed: int) -> tuple:
    """Fold ``fold`` of k-fold cross-validation over training + validation (test untouched)."""
    train_split, val_split, test_split = splits
    pool = np.concatenate([train_split.indices, val_split.indices])
    folds = data.KFold(n_splits, shuffle=True, seed=seed).split(len(pool))
    train_rows, val_rows = list(folds)[fold]
    dataset = train_split.dataset
    return data.Subset(dataset, pool[train_rows]), data.Subset(dataset, pool[val_rows]), test_split


def tune_training(
    base_config: Mapping,
    search_space: Mapping[str, Distribution],
    algorithm: str | Any = "tpe",
    n_trials: int = 20,
    pruner: Any = None,
    metric: str | list[str] = "val_loss",
    direction: str = "auto",
    seed: int = 0,
    executor: Executor | None = None,
    storage: Any = None,
    cv: int | Any = None,
    sync: bool | int = False,
    algorithm_options: Mapping[str, Any] | None = None,
) -> Study:
    """Search ``search_space`` for the training configuration with the best validation metric.

    Args:
        base_config: A `gradwork train` configuration (a TOML dict; [tune] is ignored).
        search_space: Distributions by dotted config key; conditionals name the dotted
            parent, e.g. ``Float(0, 0.99, when=("optimizer.name", "SGD"))``. List
            choices (``Categorical([[32], [64, 64]])``) appear as JSON strings in
            ``trial.params``; `config_for` turns them back into lists.
        algorithm, n_trials, seed, executor, storage, sync, algorithm_options: As in
            `gradwork.tune.minimize`. Thread pools are refused: threads would share
            gradwork's random stream, so trials could not be reproduced; use a process pool.
        pruner: e.g. ``SuccessiveHalvingPruner()``; steps are epochs (1, 2, ...).
        metric: A logged validation quantity: ``"val_loss"`` or ``"val_<metric>"``;
            or a list of it followed by costs from ``COSTS`` (``"n_parameters"``,
            ``"latency_ms"``), minimised alongside it: a study with several objectives
            whose ``best_trials`` is the accuracy/size (or latency) Pareto front.
        direction: ``"minimize"``, ``"maximize"`` or ``"auto"`` (from the metric name).
        cv: k (or ``CV(k)``, ``KFold(k)``): k-fold cross-validation over training +
            validation; per-epoch pruning is then off (CV stops bad folds early).

    Returns:
        The Study; ``config_for(base_config, study.best_params, search_space)`` is the
        best configuration. Every trial records ``user_attrs["epochs"]`` (and
        ``"pruned_at_epoch"`` when pruned).

    Example:
        >>> from gradwork.tune import Float
        >>> base = {"data": {"name": "moons", "n_samples": 120, "split": [0.6, 0.2, 0.2]},
        ...         "train": {"epochs": 2, "progress": False}, "model": {"hidden": [8]}}
        >>> study = tune_training(base, {"optimizer.lr": Float(1e-3, 1e-1, log=True)},
        ...                       algorithm="random", n_trials=2, metric="val_accuracy")
        >>> study.direction, len(study.trials)
        ('maximize', 2)
    """
    metric, costs = _split_metric(metric)
    if direction == "auto":
        direction = "maximize" if monitor_mode(metric, "auto") == "max" else "minimize"
    if direction not in ("minimize", "maximize"):
        raise ValueError(
            f"gradwork.tune.tune_training: direction={direction!r}; expected 'minimize', "
            "'maximize' or 'auto'"
        )
    if isinstance(executor, ThreadPoolExecutor):
        raise ValueError(
            "gradwork.tune.tune_training: executor is a ThreadPoolExecutor; trainings in "
            "parallel threads would draw initial weights, dropout masks and shuffles from "
            "gradwork's one random stream in an unpredictable order, so no trial could be "
            "reproduced from its seed. Use a ProcessPoolExecutor (or no executor)"
        )
    check_setup(base_config, search_space, metric)
    cv_splits = 0 if cv is None else int(getattr(cv, "n_splits", cv))
    objective = TrainingObjective(base_config, search_space, metric, cv_splits, costs)
    search = minimize if direction == "minimize" else maximize
    directions = [direction] + ["minimize"] * len(costs) if costs else None
    return search(
        objective, study_space(search_space), algorithm=algorithm, n_trials=n_trials,
        seed=seed, pruner=pruner, executor=executor, storage=storage, cv=cv, sync=sync,
        algorithm_options=algorithm_options, directions=directions,
    )  # fmt: skip


def _split_metric(metric: Any) -> tuple[str, list[str]]:
    """``"val_accuracy"`` -> (it, []); ``["val_accuracy", "n_parameters"]`` -> (first, rest)."""
    if isinstance(metric, str):
        return metric, []
    names = list(metric)
    if not names or not isinstance(names[0], str) or any(n not in COSTS for n in names[1:]):
        raise ValueError(
            f"gradwork.tune.tune_training: metric={metric!r}; expected a validation metric "
            f"such as 'val_accuracy', optionally followed by costs from {list(COSTS)}, e.g. "
            "['val_accuracy', 'n_parameters'] (accuracy against model size)"
        )
    return names[0], names[1:]
