import pytest

from gradwork.tune import (
    Categorical,
    HyperbandPruner,
    MedianPruner,
    SuccessiveHalvingPruner,
    TrialPruned,
    TrialState,
    maximize,
    minimize,
)

C, P = TrialState.COMPLETE, TrialState.PRUNED


def learning_curve(trial):
    """Loss after epoch s is q + 1 / (s + 1): a lower q is a better configuration."""
    quality = trial.params["q"]
    for step in range(9):
        loss = quality + 1.0 / (step + 1)
        trial.report(loss, step)
        if trial.should_prune():
            raise TrialPruned()
    return loss


def run(qualities, pruner, direction=minimize, objective=learning_curve):
    space = {"q": Categorical(qualities)}
    return direction(objective, space, algorithm="grid", n_trials=len(qualities), pruner=pruner,
                     algorithm_options={"shuffle": False})  # fmt: skip


@pytest.mark.parametrize(
    "qualities, pruner, states, pruned_at",
    [
        # Median of completed trials at the same step, after 3 startup trials.
        ([0.1, 0.5, 0.3, 0.9, 0.05, 0.7], MedianPruner(n_startup_trials=3),
         [C, C, C, P, C, P], {3: 0, 5: 0}),
        # Warm-up steps are never pruned.
        ([0.1, 0.5, 0.3, 0.9], MedianPruner(n_startup_trials=3, n_warmup_steps=4),
         [C, C, C, P], {3: 4}),
        # ASHA, eta = 2: rungs at 1, 2, 4, 8; a trial must lead its rung while < 2 peers.
        ([0.1, 0.5, 0.3, 0.9, 0.05, 0.7], SuccessiveHalvingPruner(1, 2),
         [C, P, P, P, C, P], {1: 1, 2: 1, 3: 1, 5: 1}),
        # Hyperband, 3 brackets (first rungs 1, 2, 4; trials 0-7 in brackets 0,1,2,0,1,2,0,1).
        ([0.1, 0.5, 0.3, 0.9, 0.6, 0.05, 0.7, 0.95], HyperbandPruner(1, 8, 2),
         [C, C, C, P, P, C, P, P], {3: 1, 4: 2, 6: 1, 7: 2}),
    ],
)  # fmt: skip
def test_pruners_on_synthetic_learning_curves(qualities, pruner, states, pruned_at):
    study = run(qualities, pruner)
    assert [t.state for t in study.trials] == states
    assert {t.number: t.last_step for t in study.trials if t.state == P} == pruned_at
    for trial in study.trials:
        if trial.state == P:
            assert trial.value == pytest.approx(trial.params["q"] + 1 / (trial.last_step + 1))


def rising_curve(trial):
    quality = trial.params["q"]
    for step in range(9):
        trial.report(-(quality + 1.0 / (step + 1)), step)
        if trial.should_prune():
            raise TrialPruned()
    return -(quality + 1.0 / 9)


def test_pruners_follow_the_direction():
    study = run([0.1, 0.5, 0.3, 0.9, 0.05, 0.7], MedianPruner(3), maximize, rising_curve)
    # Ignoring the direction would keep trial 3 (q=0.9) and prune trial 4 (q=0.05).
    assert [t.state for t in study.trials] == [C, C, C, P, C, P]


def test_hyperband_bracket_count_and_bad_arguments():
    assert HyperbandPruner(1, 81, 3).n_brackets == 4
    with pytest.raises(ValueError, match="max_resource=1 <= min_resource=3"):
        HyperbandPruner(3, 1)
    with pytest.raises(ValueError, match="reduction_factor=1"):
        SuccessiveHalvingPruner(1, 1)


def test_no_pruner_means_should_prune_is_false():
    study = run([0.1, 0.9, 0.8], None)
    assert [t.state for t in study.trials] == [C, C, C]
    assert study.trials[1].intermediate[8] == pytest.approx(0.9 + 1 / 9)


@pytest.mark.parametrize(
    "low, high, eta", [(1, 81, 3), (1, 27, 3), (1, 8, 2), (2, 30, 3), (1, 2, 2)]
)
def test_hyperband_every_bracket_can_prune_before_the_last_step(low, high, eta):
    # Issue 18: with 4 brackets for (1, 27, 3), trials n % 4 == 3 went to a bracket whose
    # only rung was step 27, the last one: a quarter of the trials could never be pruned.
    pruner = HyperbandPruner(low, high, eta)
    brackets = [pruner.bracket(type("T", (), {"number": n})) for n in range(300)]
    assert set(brackets) == set(range(pruner.n_brackets))
    assert all(pruner.first_rung(b) < high for b in brackets)
    # Hyperband's budgets: the most aggressive bracket gets the most trials.
    counts = [brackets.count(b) for b in range(pruner.n_brackets)]
    assert counts[0] == max(counts)
    assert counts == sorted(counts, reverse=True)


def test_hyperband_prunes_in_every_bracket():
    qualities = [round(0.05 * i, 2) for i in range(1, 21)]  # best first: later ones lose
    study = run(qualities, HyperbandPruner(1, 8, 2))
    pruner = HyperbandPruner(1, 8, 2)
    pruned_brackets = {pruner.bracket(t) for t in study.trials if t.state == P}
    assert pruned_brackets == {0, 1, 2}
