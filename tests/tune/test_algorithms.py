import numpy as np
import pytest
from objectives import quadratic

from gradwork.tune import (
    ALGORITHMS,
    PSO,
    Categorical,
    Float,
    Grid,
    Int,
    Space,
    TrialState,
    minimize,
)
from gradwork.tune.algorithms import make_algorithm

QUADRATIC_SPACE = {
    "x": Float(-2.0, 2.0),
    "y": Float(-3.0, 1.0),
    "kind": Categorical(["a", "b", "c"]),
}

# name -> (n_trials, largest acceptable best value); the minimum is 0 at x=0.7, y=-1.2, kind=b.
BUDGETS = {
    "auto": (25, 0.01),
    "bayes": (25, 0.01),
    "tpe": (80, 0.1),
    "random": (150, 0.25),
    "sobol": (128, 0.25),
    "grid": (300, 0.1),
    "ga": (150, 0.1),
    "de": (150, 0.1),
    "pso": (150, 0.1),
}


def test_every_algorithm_has_a_budget_entry():
    assert set(BUDGETS) == set(ALGORITHMS)


@pytest.mark.parametrize("name", sorted(BUDGETS))
def test_finds_the_optimum_region(name):
    n_trials, tolerance = BUDGETS[name]
    options = {"levels": 9} if name == "grid" else None
    study = minimize(quadratic, QUADRATIC_SPACE, algorithm=name, n_trials=n_trials, seed=1,
                     algorithm_options=options)  # fmt: skip
    assert study.best_value <= tolerance
    assert study.best_params["kind"] == "b"
    assert abs(study.best_params["x"] - 0.7) < 0.35
    assert abs(study.best_params["y"] + 1.2) < 0.35


MIXED_SPACE = {
    "lr": Float(1e-5, 1e-1, log=True),
    "width": Int(16, 256, log=True),
    "layers": Int(1, 7, step=2),
    "optimizer": Categorical(["sgd", "adam"]),
    "momentum": Float(0.5, 0.99, when=("optimizer", "sgd")),
    "nesterov": Categorical([True, False], when=("optimizer", "sgd")),
}


def mixed_objective(params):
    loss = (np.log10(params["lr"]) + 3) ** 2 + abs(params["width"] - 64) / 64 + params["layers"]
    if params["optimizer"] == "sgd":
        loss += (params["momentum"] - 0.9) ** 2 - 0.5 * params["nesterov"]
    return loss


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_values_respect_types_bounds_and_conditions(name):
    seen = []

    def objective(params):
        seen.append(dict(params))
        return mixed_objective(params)

    minimize(objective, MIXED_SPACE, algorithm=name, n_trials=24, seed=3)
    space = Space(MIXED_SPACE)
    assert len(seen) == 24
    for params in seen:
        space.check(params)
        assert 1e-5 <= params["lr"] <= 1e-1 and isinstance(params["lr"], float)
        assert type(params["width"]) is int and 16 <= params["width"] <= 256
        assert params["layers"] in (1, 3, 5, 7)
        has_children = "momentum" in params and "nesterov" in params
        assert has_children == (params["optimizer"] == "sgd")
    assert {p["optimizer"] for p in seen} == {"sgd", "adam"}


def test_grid_enumerates_completely_without_duplicates_even_with_pending():
    space = Space({"a": Int(0, 3), "b": Categorical(["x", "y"])})
    grid = Grid()
    grid.setup(space, seed=0)
    first = grid.ask(3)
    second = grid.ask(10, pending=first)
    keys = [space.key(p) for p in first + second]
    assert len(keys) == len(set(keys)) == 8
    assert grid.ask(1, pending=first + second) == []
    for params in first:
        grid.tell(params, 1.0)
    assert grid.ask(5, pending=second) == []


def test_grid_study_stops_when_the_grid_is_exhausted():
    space = {"a": Int(0, 2), "b": Categorical(["x", "y"]), "c": Float(0, 1, when=("b", "x"))}
    study = minimize(lambda p: p["a"], space, algorithm="grid", n_trials=100,
                     algorithm_options={"levels": 2})  # fmt: skip
    keys = [Space(space).key(trial.params) for trial in study.trials]
    assert len(keys) == len(set(keys)) == 2 * (2 + 1)  # a in {0, 2}; c only when b == "x"


def test_grid_levels_are_configurable():
    study = minimize(lambda p: p["x"], {"x": Float(0, 1)}, algorithm="grid", n_trials=50,
                     algorithm_options={"levels": 11})  # fmt: skip
    assert sorted(t.params["x"] for t in study.trials) == pytest.approx(np.linspace(0, 1, 11))


@pytest.mark.parametrize("name", ["bayes", "random", "tpe", "sobol", "ga", "de", "pso"])
def test_ask_never_returns_pending_points(name):
    space = Space({"a": Int(0, 5), "b": Categorical(["x", "y", "z"])})  # 18 points
    algorithm = make_algorithm(name)
    algorithm.setup(space, seed=0)
    rng = np.random.default_rng(0)
    for _ in range(12):
        params = space.decode(rng.random(2))
        if space.key(params) not in algorithm.seen:
            algorithm.tell(params, float(params["a"]))
    pending = algorithm.ask(2)
    asked = algorithm.ask(3, pending=pending)
    keys = [space.key(p) for p in pending + asked]
    assert len(set(keys)) == 5
    assert not set(keys) & algorithm.seen


def test_bayes_batch_spreads_out_with_constant_liar():
    space = Space({"x": Float(0, 1), "y": Float(0, 1)})
    algorithm = make_algorithm("bayes")
    algorithm.setup(space, seed=0)
    for unit in np.random.default_rng(1).random((8, 2)):
        params = space.decode(unit)
        algorithm.tell(params, (params["x"] - 0.5) ** 2 + (params["y"] - 0.5) ** 2)
    batch = np.array([space.encode(p) for p in algorithm.ask(4)])
    gaps = np.linalg.norm(batch[:, None] - batch[None], axis=-1)[np.triu_indices(4, 1)]
    assert gaps.min() > 1e-3


def test_algorithm_options_and_instances():
    study = minimize(quadratic, QUADRATIC_SPACE, algorithm="pso", n_trials=12,
                     algorithm_options={"inertia": 0.2, "social": 2.0})  # fmt: skip
    assert study.algorithm.inertia == 0.2 and study.algorithm.social == 2.0
    algorithm = PSO(inertia=0.5)
    assert (
        minimize(quadratic, QUADRATIC_SPACE, algorithm=algorithm, n_trials=5).algorithm is algorithm
    )
    with pytest.raises(TypeError, match="bad algorithm_options"):
        minimize(quadratic, QUADRATIC_SPACE, algorithm="pso", algorithm_options={"speed": 1})


def test_failed_and_pruned_outcomes_are_accepted_by_every_algorithm():
    space = Space(QUADRATIC_SPACE)
    for name in ALGORITHMS:
        algorithm = make_algorithm(name)
        algorithm.setup(space, seed=0)
        for i, params in enumerate(algorithm.ask(6)):
            outcome = [TrialState.FAILED, TrialState.PRUNED, quadratic(params)][i % 3]
            algorithm.tell(params, outcome)
        assert len(algorithm.ask(2)) == 2
