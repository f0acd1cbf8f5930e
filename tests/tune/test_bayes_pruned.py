"""Bayes with a pruner: pruned trials must steer the search away, not be forgotten."""

import math

from gradwork.tune import Categorical, Float, SuccessiveHalvingPruner, TrialPruned, minimize


def learning_curve(trial):
    """A training-like objective: the loss falls by epoch towards a final value."""
    lr, dropout, width = trial.params["lr"], trial.params["dropout"], trial.params["width"]
    final = 0.1 * (math.log10(lr) + 2) ** 2 + 0.2 * dropout + (0.05 if width == 16 else 0.0)
    for epoch in range(1, 10):
        trial.report(final + 1.0 / epoch, epoch)
        if trial.should_prune():
            raise TrialPruned()
    return final


def test_bayes_keeps_exploring_when_most_trials_are_pruned():
    # Aggressive ASHA prunes most trials, so the GP sees few completed ones.
    # Before pruned trials counted as bad, it proposed one corner (lr 1.5e-4,
    # dropout 0) trial after trial: 11 distinct configurations out of 40.
    study = minimize(
        learning_curve,
        {"lr": Float(1e-4, 1.0, log=True), "dropout": Float(0.0, 0.5),
         "width": Categorical([16, 64])},
        algorithm="bayes", n_trials=40, seed=0,
        pruner=SuccessiveHalvingPruner(min_resource=1, reduction_factor=4),
    )  # fmt: skip
    configurations = {tuple(sorted(t.params.items())) for t in study.trials}
    assert len(configurations) == 40, "a configuration was proposed twice"
    assert sum(t.state.name == "PRUNED" for t in study.trials) >= 20
    assert study.best_value < 0.005  # lr near 1e-2, dropout near 0, width 64
