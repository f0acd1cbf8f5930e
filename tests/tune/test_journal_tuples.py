"""Resuming a journal whose categorical choices are tuples (JSON keeps them as lists)."""

import json

import pytest

from gradwork.tune import Categorical, Float, TrialState, minimize
from gradwork.tune._storage import distribution_from_json, params_from_json

LAYERS = [(64,), (128, 64)]


def define_by_run(trial):
    layers = trial.suggest_categorical("layers", LAYERS)
    x = trial.suggest_float("x", 0.0, 1.0)
    return x + len(layers)


@pytest.mark.parametrize("algorithm", ["random", "tpe", "bayes", "ga", "grid"])
def test_define_by_run_journal_with_tuple_choices_resumes(tmp_path, algorithm):
    path = tmp_path / "study.jsonl"
    minimize(define_by_run, None, algorithm=algorithm, n_trials=4, storage=path, seed=0)
    assert "[128, 64]" in path.read_text() or "[64]" in path.read_text()  # written as lists
    study = minimize(define_by_run, None, algorithm=algorithm, n_trials=9, storage=path, seed=0)
    assert len(study.trials) == 9
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    for trial in study.trials:
        assert type(trial.params["layers"]) is tuple and trial.params["layers"] in LAYERS
        assert trial.value == pytest.approx(trial.params["x"] + len(trial.params["layers"]))
    assert study.best_params["layers"] == (64,)


def test_static_space_with_tuple_choices_and_a_tuple_parent_value_resumes(tmp_path):
    space = {
        "layers": Categorical(LAYERS),
        "dropout": Float(0.0, 0.5, when=("layers", (128, 64))),
        "x": Float(0.0, 1.0),
    }
    calls = []

    def objective(params):
        calls.append(params)
        if len(calls) == 5:
            raise SystemExit("killed")  # leaves trial 4 running in the journal
        return params["x"] + len(params["layers"]) + params.get("dropout", 0.0)

    path = tmp_path / "study.jsonl"
    with pytest.raises(SystemExit):
        minimize(objective, space, algorithm="tpe", n_trials=10, storage=path, seed=3)
    interrupted = calls[-1]
    study = minimize(objective, space, algorithm="tpe", n_trials=10, storage=path, seed=3)
    assert study.trials[4].state == TrialState.FAILED
    assert calls[5] == interrupted  # retried with its tuple, not a list
    assert type(calls[5]["layers"]) is tuple
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert len(complete) == 10
    for trial in complete:
        assert ("dropout" in trial.params) == (trial.params["layers"] == (128, 64))


def test_json_round_trip_keeps_choices_apart():
    data = json.loads(json.dumps({"type": "Categorical", "choices": [[1, 2], 1, 1.0, True]}))
    distribution = distribution_from_json(data)
    assert distribution.choices == ((1, 2), 1, 1.0, True)
    params = params_from_json({"a": [1, 2], "b": True, "c": 1.0}, {
        "a": distribution, "b": distribution, "c": distribution
    })  # fmt: skip
    assert params == {"a": (1, 2), "b": True, "c": 1.0}
    assert type(params["b"]) is bool and type(params["c"]) is float
