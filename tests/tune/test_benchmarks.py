"""Loose guards on search quality (the full study is benchmarks/tune_bench.py)."""

import numpy as np
from objectives import branin

from gradwork.tune import Float, minimize

BRANIN_SPACE = {"x1": Float(-5.0, 10.0), "x2": Float(0.0, 15.0)}
BRANIN_MINIMUM = 0.397887


def branin_regret(algorithm, seed, n_trials=30):
    study = minimize(branin, BRANIN_SPACE, algorithm=algorithm, n_trials=n_trials, seed=seed)
    return study.best_value - BRANIN_MINIMUM


def test_bayes_reaches_branin_regret_005_in_30_trials_for_4_of_5_seeds():
    regrets = [branin_regret("bayes", seed) for seed in range(5)]
    assert sum(regret <= 0.05 for regret in regrets) >= 4, regrets


def test_tpe_beats_random_search_on_branin_at_30_trials():
    seeds = range(5)
    tpe = np.median([branin_regret("tpe", seed) for seed in seeds])
    random = np.median([branin_regret("random", seed) for seed in seeds])
    assert tpe < random, (tpe, random)
