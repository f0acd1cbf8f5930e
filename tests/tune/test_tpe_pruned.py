"""tpe under a pruner: pruned trials ranked as Optuna's TPE ranks them."""

import numpy as np
import pytest

from gradwork.tune import (
    Float,
    Space,
    SuccessiveHalvingPruner,
    TrialPruned,
    TrialState,
    minimize,
)
from gradwork.tune.algorithms import TPE


def test_pruned_trials_rank_after_completed_ones_by_step_then_loss():
    tpe = TPE()
    tpe.setup(Space({"x": Float(0.0, 1.0)}), seed=0)
    tpe.tell({"x": 0.1}, 5.0)  # completed, even a poor loss ranks first
    tpe.tell({"x": 0.2}, TrialState.PRUNED, estimate=0.0, progress=(1, 0.5))
    tpe.tell({"x": 0.3}, TrialState.PRUNED, estimate=0.0, progress=(3, 2.0))
    tpe.tell({"x": 0.4}, 1.0)
    tpe.tell({"x": 0.5}, TrialState.PRUNED, estimate=0.0, progress=(3, 1.0))
    tpe.tell({"x": 0.6}, TrialState.PRUNED, estimate=0.0, progress=(1, 0.1))
    ranked, completed = tpe._ranked()
    assert completed == 2
    assert ranked[:, 0] == pytest.approx([0.4, 0.1, 0.5, 0.3, 0.6, 0.2])
    assert tpe.losses == [5.0, 1.0]  # the estimates were not learned as losses


def test_without_progress_a_pruned_trial_is_learned_from_its_estimate():
    tpe = TPE()
    tpe.setup(Space({"x": Float(0.0, 1.0)}), seed=0)
    assert tpe.tell({"x": 0.2}, TrialState.PRUNED, estimate=0.7) == 0.7
    assert tpe.losses == [0.7] and tpe._pruned == []


def curve(trial):
    final = (trial.params["x"] - 0.7) ** 2
    for epoch in range(1, 10):
        trial.report(final + 1.0 / epoch, epoch)
        if trial.should_prune():
            raise TrialPruned()
    return final


def test_the_study_tells_tpe_each_pruned_trials_step_and_loss():
    told = []

    class Spy(TPE):
        def tell(self, params, outcome, estimate=None, progress=None):
            if outcome is TrialState.PRUNED:
                told.append((params["x"], progress))
            return super().tell(params, outcome, estimate, progress)

    asha = SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    study = minimize(curve, {"x": Float(0.0, 1.0)}, algorithm=Spy(), n_trials=25, seed=1,
                     pruner=asha)  # fmt: skip
    pruned = [t for t in study.trials if t.state == TrialState.PRUNED]
    assert len(told) == len(pruned) >= 5
    for (x, (step, loss)), trial in zip(told, pruned, strict=True):
        assert x == trial.params["x"] and step == trial.last_step
        assert loss == trial.intermediate[step]
    assert abs(study.best_params["x"] - 0.7) < 0.1


def test_auto_passes_progress_to_its_tpe():
    from gradwork.tune.algorithms import Auto

    auto = Auto(budget=30)
    auto.setup(Space({"x": Float(0.0, 1.0)}), seed=0)
    auto._start("tpe")
    auto.tell({"x": 0.2}, TrialState.PRUNED, estimate=0.3, progress=(2, 0.9))
    assert len(auto.inner._pruned) == 1 and auto.inner.losses == []
    auto._start("bayes")  # the GP has no ranking: it learns the estimate
    assert np.asarray(auto.inner.losses).tolist() == [0.3]


def test_the_good_share_counts_completed_trials_only(monkeypatch):
    from gradwork.tune.algorithms import _tpe

    fitted = []

    class Recording(_tpe.Parzen):
        def __init__(self, points, kinds, bandwidth):
            fitted.append(np.array(points))
            super().__init__(points, kinds, bandwidth)

    monkeypatch.setattr(_tpe, "Parzen", Recording)
    tpe = TPE(gamma=0.2)
    tpe.setup(Space({"x": Float(0.0, 1.0)}), seed=0)
    for i in range(10):  # completed: loss grows with x
        tpe.tell({"x": i / 10}, float(i))
    for i in range(20):  # pruned, some early and low: still not good
        tpe.tell({"x": 0.01 + i / 25}, TrialState.PRUNED, estimate=-1.0, progress=(1, -1.0))
    tpe.propose([])
    good, bad = fitted
    assert good[:, 0] == pytest.approx([0.0, 0.1])  # ceil(0.2 * 10) best completed
    assert len(bad) == 28


def mixed_curve(trial):
    """benchmarks/tune_bench.py's pruned problem: 27-epoch curves towards a mixed objective."""
    p = trial.params
    final = (np.log10(p["lr"]) + 2) ** 2 / 4 + (p["layers"] - 7) ** 2 / 9
    final += {"a": 0.5, "b": 4 * (p.get("x", 0.0) - 0.3) ** 2, "c": 1.0}[p["kind"]]
    for epoch in range(1, 28):
        trial.report(final + 2.0 / epoch, epoch)
        if trial.should_prune():
            raise TrialPruned()
    return final


def test_tpe_under_asha_finds_the_optimum_of_a_mixed_space():
    # Learning the study's estimate as a loss left seeds 0-4 at regrets
    # [0.32, 0.34, 0.04, 0.001, 0.51] after 30 trials (median 0.32; Optuna's TPE 0.20).
    from gradwork.tune import Categorical, Int

    space = {
        "lr": Float(1e-4, 1.0, log=True),
        "layers": Int(1, 10),
        "kind": Categorical(["a", "b", "c"]),
        "x": Float(0.0, 1.0, when=("kind", "b")),
    }
    regrets = []
    for seed in range(5):
        asha = SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
        study = minimize(mixed_curve, space, algorithm="tpe", n_trials=30, seed=seed, pruner=asha)
        regrets.append(study.best_value)
    assert np.median(regrets) < 0.05, regrets
