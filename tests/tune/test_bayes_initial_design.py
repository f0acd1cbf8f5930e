"""Issue 18: bayes's initial design (Latin hypercube from 5 parameters) and Hartmann6."""

import numpy as np
import scipy.stats

from gradwork.tune import Bayes, Float, Space, minimize

ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)
HARTMANN6_MINIMUM = -3.32237
UNIT6 = {f"x{i}": Float(0.0, 1.0) for i in range(6)}


def hartmann6(params):
    x = np.array([params[f"x{i}"] for i in range(6)])
    return float(-(ALPHA * np.exp(-(A * (x - P) ** 2).sum(axis=1))).sum())


def test_initial_design_is_a_latin_hypercube_in_six_dimensions():
    algorithm = Bayes()
    algorithm.setup(Space(UNIT6), seed=3)
    design = algorithm._initial[: algorithm._n_initial]
    assert algorithm._n_initial == 10
    for column in design.T:  # one point in each tenth of every coordinate
        assert sorted(np.floor(column * 10).astype(int)) == list(range(10))


def test_low_dimensional_spaces_keep_the_sobol_prefix():
    # Branin (2-D) was worse from a hypercube: its trajectories are unchanged.
    algorithm = Bayes()
    algorithm.setup(Space({"x1": Float(-5.0, 10.0), "x2": Float(0.0, 15.0)}), seed=0)
    sobol = scipy.stats.qmc.Sobol(2, scramble=True, seed=0).random(64)
    assert np.allclose(algorithm._initial, sobol)


def test_bayes_reaches_hartmann6_regret_01_in_35_trials_for_2_of_3_seeds():
    # Issue 18: from the Sobol prefix seeds 0 and 2 stalled at regret 0.12 (50 trials) and
    # seed 1 needed 36; from the hypercube seeds 0 and 2 need 24 and 29 (seed 1: 49).
    hits = []
    for seed in range(3):
        study = minimize(hartmann6, UNIT6, algorithm="bayes", n_trials=35, seed=seed)
        hits.append(study.best_value - HARTMANN6_MINIMUM <= 0.1)
    assert sum(hits) >= 2, hits
