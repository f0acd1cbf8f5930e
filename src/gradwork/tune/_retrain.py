"""Train the chosen configuration on training + validation data and open the test set once."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gradwork import data
from gradwork._arrays import to_host
from gradwork.data.bootstrap import ConfidenceInterval, bootstrap_ci
from gradwork.train import RunFolder, build, get_metric, load_checkpoint
from gradwork.train.config import ConfigError

from ._study import Study
from .training import cached_splits, config_for


@dataclass
class FinalResult:
    """The retrained best configuration and its one evaluation of the sealed test set."""

    config: dict
    run_dir: Path
    test: dict  # every quantity of the one test evaluation (loss, metrics)
    metric: str  # the tuned metric without its "val_" prefix, e.g. "accuracy"
    ci: ConfidenceInterval  # bootstrap interval of test[metric]


def final_config(base: Mapping, params: Mapping, space: Mapping | None = None) -> dict:
    """The best configuration, adjusted to train without validation data.

    Checkpoints and early stopping that watch a ``val_`` quantity would have
    nothing to watch: the checkpoint follows the training quantity instead and
    early stopping is switched off (the epochs are the ones the trials used).
    """
    config = config_for(base, params, space)
    callbacks = config["callbacks"]
    if callbacks["checkpoint"]["monitor"].startswith("val_"):
        callbacks["checkpoint"]["monitor"] = callbacks["checkpoint"]["monitor"][len("val_") :]
    if callbacks["early_stopping"]["monitor"].startswith("val_"):
        callbacks["early_stopping"]["enabled"] = False
    return config


def _merged_splits(config: dict) -> tuple[tuple, dict]:
    (train_split, val_split, test_split), info = cached_splits(config)
    if len(test_split) == 0:
        raise ConfigError(
            f"data.split = {config['data']['split']} leaves no test data to evaluate the "
            "best configuration on; give the test part a fraction, e.g. [0.7, 0.15, 0.15]"
        )
    rows = np.concatenate([train_split.indices, val_split.indices])
    merged = data.Subset(train_split.dataset, rows)
    empty = data.Subset(train_split.dataset, rows[:0])
    info["sizes"] = {"train": len(merged), "val": 0, "test": len(test_split)}
    info["train_is"] = "train + validation of the tuning split"
    return (merged, empty, test_split), info


class DivergedError(RuntimeError):
    """Training produced NaN/Inf: the model is not tested."""


def _finite(value: Any) -> bool:
    # .cpu(): an explicit copy when the run trained on a GPU (train.device = "cuda")
    array = np.asarray(value.cpu().array if hasattr(value, "cpu") else value)
    return array.dtype.kind != "f" or bool(np.isfinite(array).all())


def retrain_best(
    study: Study,
    base_config: Mapping,
    run_dir: str | os.PathLike,
    search_space: Mapping | None = None,
    metric: str | None = None,
    progress: bool = False,
    seed: int = 0,
) -> FinalResult:
    """Train ``study``'s best configuration on train + validation, then test it once.

    Writes a run folder at ``run_dir`` (config.json, data.json, history.csv,
    checkpoints, tests.json with exactly one record, summary.json). The bootstrap
    interval resamples the test examples of that evaluation.

    Args:
        study: A finished study from `tune_training`.
        base_config: The base configuration given to `tune_training`.
        run_dir: The run folder to create (e.g. ``study_dir / "final"``).
        search_space: The space given to `tune_training` (to decode list choices).
        metric: The tuned metric (``"val_accuracy"``); its test counterpart gets the interval.
        progress: Show the progress bar while training.
        seed: Seed of the bootstrap resampling.

    Returns:
        A FinalResult with the test quantities and ``ci``.
    """
    config = final_config(base_config, study.best_params, search_space)
    splits, info = _merged_splits(config)
    session = build.build(config, splits=splits, info=info)
    run = RunFolder(run_dir)
    build.write_run_files(run, config, info)
    trainer = build.make_trainer(session, run.path, progress=progress)
    trainer.fit(session.loaders["train"], None, epochs=config["train"]["epochs"])
    losses = trainer.history.history.get("loss", [])
    weights = session.model.state_dict().values()
    if not losses or not math.isfinite(losses[-1]) or not all(_finite(w) for w in weights):
        # NOTE: the sealed test set is never spent on a diverged model.
        run.update_summary(status="diverged")
        raise DivergedError(
            f"retraining the best configuration diverged (training loss {losses[-1:]}); the "
            f"sealed test set was not evaluated. Run folder: {run.path}"
        )
    best = run.best_checkpoint
    if best.is_file():  # test the weights `gradwork predict` uses by default
        state = load_checkpoint(best)
        session.model.load_state_dict(state["model"])
        trainer.epoch = int(state["position"]["epoch"])  # recorded with the test
    test_loader = session.loaders["test"]
    result = trainer.test(test_loader)  # the one evaluation of the sealed test set
    name = (metric or "val_loss").removeprefix("val_")
    outputs = trainer.predict(test_loader).numpy()
    # The bootstrap runs on the host: device targets are copied there, explicitly.
    batches = [to_host(getattr(b[1], "array", b[1])) for b in test_loader]
    targets = np.concatenate([np.asarray(batch) for batch in batches])
    ci = _interval(name, session, outputs, targets, seed)
    run.update_summary(test_ci={name: vars(ci)})
    return FinalResult(config, run.path, result, name, ci)


def _interval(
    name: str, session: Any, outputs: np.ndarray, targets: np.ndarray, seed: int
) -> ConfidenceInterval:
    """Bootstrap interval of the test quantity ``name`` over the test examples."""
    from gradwork.tensor import Tensor

    if name == "loss":

        def score(out: np.ndarray, y: np.ndarray) -> float:
            return float(session.loss(Tensor(out), Tensor(y)).array)
    else:

        def score(out: np.ndarray, y: np.ndarray) -> float:
            metric = get_metric(name)
            metric.reset()
            metric.update(out, y)
            return float(metric.compute())

    # NOTE: 1000 resamples keep the percentile ends steady to about 0.01 for a few
    # hundred test examples, and cost well under a second.
    return bootstrap_ci(score, outputs, targets, n_resamples=1000, seed=seed)
