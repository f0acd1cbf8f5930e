"""`tune_training` and `retrain_best`: tuning a `gradwork train` configuration."""

from __future__ import annotations

import json
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

from gradwork.train.config import ConfigError
from gradwork.tune import (
    Categorical,
    Float,
    Int,
    SuccessiveHalvingPruner,
    TrialState,
    config_for,
    retrain_best,
    tune_training,
)
from gradwork.tune.training import cached_splits, check_key, check_setup, fold_splits

BASE = {
    "name": "tiny",
    "seed": 1,
    "data": {"name": "moons", "n_samples": 200, "split": [0.6, 0.2, 0.2], "batch_size": 32},
    "model": {"arch": "mlp", "hidden": [8]},
    "train": {"epochs": 4, "progress": False, "metrics": ["accuracy"]},
}
SPACE = {
    "optimizer.lr": Float(1e-4, 0.3, log=True),
    "optimizer.name": Categorical(["Adam", "SGD"]),
    "optimizer.momentum": Float(0.0, 0.9, when=("optimizer.name", "SGD")),
    "model.hidden": Categorical([[4], [16, 16]]),
}


def test_config_for_writes_dotted_keys_and_lists_back():
    config = config_for(BASE, {"optimizer.lr": 0.02, "model.hidden": "[16, 16]"}, SPACE)
    assert config["optimizer"]["lr"] == 0.02
    assert config["model"]["hidden"] == [16, 16]
    assert config["data"]["n_samples"] == 200  # the base is kept
    assert BASE["model"]["hidden"] == [8]  # and not modified


@pytest.mark.parametrize(
    "key, message",
    [
        ("model.hiden", "Did you mean 'model.hidden'"),
        ("optimiser.lr", "Did you mean 'optimizer'"),
        ("callbacks.early_stopping", "is a section"),
        ("output", "cannot be tuned"),
    ],
)
def test_check_key_rejects_keys_that_are_not_config_keys(key, message):
    with pytest.raises(ConfigError, match=message):
        check_key(key)


def test_check_key_accepts_schema_and_class_arguments():
    for key in ("optimizer.lr", "optimizer.momentum", "callbacks.early_stopping.patience"):
        check_key(key)


@pytest.mark.parametrize(
    "space, metric, message",
    [
        ({"optimizer.momentum": Float(0, 0.9)}, "val_loss", "optimizer.momentum"),  # Adam
        ({"data.batch_size": Float(8, 64)}, "val_loss", "expected an integer"),
        ({"optimizer.lr": Float(1e-3, 1e-1)}, "val_f1", "val_accuracy"),
        ({"optimizer.lr": Float(1e-3, 1e-1)}, "accuracy", "val_loss"),
    ],
)
def test_check_setup_finds_problems_before_training(space, metric, message):
    with pytest.raises(ConfigError, match=message):
        check_setup(BASE, space, metric)


def test_check_setup_needs_validation_data():
    base = {**BASE, "data": {**BASE["data"], "split": [0.8, 0.0, 0.2]}}
    with pytest.raises(ConfigError, match="no validation data"):
        check_setup(base, {"optimizer.lr": Float(1e-3, 1e-1)}, "val_loss")


def test_aggressive_asha_prunes_by_epochs_and_reports_every_epoch():
    pruner = SuccessiveHalvingPruner(min_resource=1, reduction_factor=4)
    study = tune_training(
        BASE, SPACE, algorithm="random", n_trials=8, pruner=pruner, metric="val_accuracy"
    )
    assert study.direction == "maximize"
    states = [trial.state for trial in study.trials]
    assert TrialState.PRUNED in states and TrialState.COMPLETE in states
    for trial in study.trials:
        steps = sorted(trial.intermediate)
        assert steps == list(range(1, len(steps) + 1))  # epochs 1, 2, ...
        if trial.state == TrialState.PRUNED:
            assert trial.user_attrs["pruned_at_epoch"] == steps[-1] in (1, 4)  # the rungs
        if trial.state == TrialState.COMPLETE:
            assert trial.user_attrs["epochs"] == 4 and steps[-1] == 4
            assert trial.value == trial.intermediate[4]  # the value is the last epoch's
        if trial.params["optimizer.name"] == "Adam":
            assert "optimizer.momentum" not in trial.params
    complete = [t.value for t in study.trials if t.state == TrialState.COMPLETE]
    assert study.best_value == max(complete)


def test_the_same_seed_gives_the_same_study():
    runs = [
        tune_training(BASE, SPACE, algorithm="random", n_trials=3, metric="val_loss", seed=5)
        for _ in range(2)
    ]
    assert [t.value for t in runs[0].trials] == [t.value for t in runs[1].trials]
    assert runs[0].direction == "minimize"


def test_process_pool_runs_trials():
    with ProcessPoolExecutor(2) as pool:
        study = tune_training(
            BASE, {"optimizer.lr": Float(1e-3, 1e-1)}, algorithm="random", n_trials=2,
            metric="val_accuracy", executor=pool,
        )  # fmt: skip
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 2


def test_thread_pools_are_refused():
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool, pytest.raises(ValueError, match="ProcessPoolExecutor"):
        tune_training(BASE, SPACE, algorithm="random", n_trials=2, executor=pool)


def test_fold_splits_cover_train_and_validation_and_leave_test_alone():
    splits, _ = cached_splits(config_for(BASE, {}))
    pool = set(splits[0].indices) | set(splits[1].indices)
    validation_rows = []
    for fold in range(3):
        train_part, val_part, test_part = fold_splits(splits, fold, 3, seed=1)
        assert set(train_part.indices) | set(val_part.indices) == pool
        assert not set(train_part.indices) & set(val_part.indices)
        assert test_part is splits[2]
        validation_rows += list(val_part.indices)
    assert sorted(validation_rows) == sorted(pool)  # every row validates exactly once


def test_cross_validation_gives_fold_values():
    study = tune_training(
        BASE, {"optimizer.lr": Float(1e-2, 1e-1), "model.hidden": Categorical([[8]])},
        algorithm="random", n_trials=2, metric="val_accuracy", cv=2,
    )  # fmt: skip
    for trial in study.trials:
        assert len(trial.fold_values) in (1, 2)
        assert trial.value == pytest.approx(np.mean(trial.fold_values))


def test_retrain_best_tests_once_with_a_bootstrap_interval(tmp_path):
    space = {"optimizer.lr": Float(1e-2, 1e-1, log=True), "train.epochs": Int(3, 5)}
    study = tune_training(BASE, space, algorithm="random", n_trials=2, metric="val_accuracy")
    final = retrain_best(study, BASE, tmp_path / "final", space, "val_accuracy")
    tests = json.loads((tmp_path / "final" / "tests.json").read_text())
    assert len(tests) == 1 and tests[0]["forced"] is False
    assert tests[0]["epoch"] == study.best_params["train.epochs"]
    assert final.metric == "accuracy"
    assert final.ci.estimate == pytest.approx(final.test["accuracy"])
    assert final.ci.low <= final.ci.estimate <= final.ci.high
    sizes = json.loads((tmp_path / "final" / "data.json").read_text())["sizes"]
    assert sizes == {"train": 160, "val": 0, "test": 40}  # 120 train + 40 validation
    assert final.config["optimizer"]["lr"] == study.best_params["optimizer.lr"]
    assert final.config["callbacks"]["checkpoint"]["monitor"] == "loss"  # no validation data


def test_tune_training_trades_accuracy_against_size_and_latency():
    # Issue 18's use case: accuracy (maximised) against parameter count and latency.
    study = tune_training(BASE, {"model.hidden": Categorical([[4], [16, 16], [64]])},
                          algorithm="grid", n_trials=3,
                          metric=["val_accuracy", "n_parameters", "latency_ms"])  # fmt: skip
    assert study.directions == ["maximize", "minimize", "minimize"]
    sizes = {t.params["model.hidden"]: t.values[1] for t in study.trials}
    assert sizes == {"[4]": 2 * 4 + 4 + 4 * 2 + 2, "[16, 16]": 48 + 272 + 34, "[64]": 192 + 130}
    assert all(t.values[2] > 0 for t in study.trials)
    assert {t.number for t in study.best_trials} <= {t.number for t in study.trials}
    assert any(t.params["model.hidden"] == "[4]" for t in study.best_trials)  # the smallest
    with pytest.raises(ValueError, match="costs from"):
        tune_training(BASE, SPACE, metric=["val_accuracy", "flops"])
