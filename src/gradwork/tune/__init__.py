"""gradwork.tune: hyperparameter search in NumPy (SciPy for the Bayesian optimiser).

Define a space, write an objective, call ``minimize`` or ``maximize``::

    from gradwork.tune import Categorical, Float, minimize

    space = {"lr": Float(1e-4, 1e-1, log=True), "optimizer": Categorical(["sgd", "adam"]),
             "momentum": Float(0.0, 0.99, when=("optimizer", "sgd"))}
    study = minimize(train_and_validate, space, algorithm="bayes", n_trials=30)
    study.best_params, study.best_value

Several objectives (accuracy against size): return a tuple and give ``directions``;
``study.best_trials`` is the Pareto front::

    study = minimize(train, space, directions=["maximize", "minimize"], algorithm="auto")

Training configurations (``gradwork tune CONFIG.toml``): ``tune_training`` and
``retrain_best`` in ``gradwork.tune.training``; they import gradwork.train, so
they load on first use and ``import gradwork.tune`` stays NumPy-only.
"""

from typing import Any

from gradwork.data.bootstrap import ConfidenceInterval, bootstrap_ci

from ._distributions import Categorical, Float, Int
from ._minimize import maximize, minimize
from ._pruners import HyperbandPruner, MedianPruner, SuccessiveHalvingPruner
from ._search_space import Space
from ._stats import CV
from ._storage import InMemoryStorage, JournalStorage
from ._study import Study
from ._trial import Trial, TrialPruned, TrialState
from .algorithms import (
    ALGORITHMS,
    DE,
    GA,
    PSO,
    TPE,
    Algorithm,
    Auto,
    Bayes,
    Grid,
    Random,
    Sobol,
)

__all__ = [
    "ALGORITHMS",
    "CV",
    "DE",
    "GA",
    "PSO",
    "TPE",
    "Algorithm",
    "Auto",
    "Bayes",
    "Categorical",
    "ConfidenceInterval",
    "Float",
    "Grid",
    "HyperbandPruner",
    "InMemoryStorage",
    "Int",
    "JournalStorage",
    "MedianPruner",
    "Random",
    "Sobol",
    "Space",
    "Study",
    "SuccessiveHalvingPruner",
    "Trial",
    "TrialPruned",
    "TrialState",
    "bootstrap_ci",
    "maximize",
    "minimize",
    "tune_training",
    "retrain_best",
    "DivergedError",
    "config_for",
    "plot_history",
    "plot_study",
]

_LAZY = {
    "tune_training": "training",
    "config_for": "training",
    "retrain_best": "_retrain",
    "FinalResult": "_retrain",
    "DivergedError": "_retrain",
    "plot_history": "_plot",
    "plot_study": "_plot",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
