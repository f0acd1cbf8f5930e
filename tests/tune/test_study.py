import json
import math

import pytest
from objectives import quadratic

from gradwork.tune import (
    Categorical,
    Float,
    Int,
    JournalStorage,
    Trial,
    TrialState,
    maximize,
    minimize,
)

SPACE = {"x": Float(-2.0, 2.0), "y": Float(-3.0, 1.0), "kind": Categorical(["a", "b", "c"])}


def test_minimize_and_maximize_agree_on_the_best_trial():
    low = minimize(quadratic, SPACE, algorithm="random", n_trials=30, seed=4)
    high = maximize(lambda p: -quadratic(p), SPACE, algorithm="random", n_trials=30, seed=4)
    assert high.best_value == pytest.approx(-low.best_value)
    assert high.best_params == low.best_params
    assert low.best_value == min(t.value for t in low.trials)
    assert low.best_trial.number == min(low.trials, key=lambda t: t.value).number


def test_same_seed_same_history_other_seed_differs():
    first = minimize(quadratic, SPACE, algorithm="tpe", n_trials=15, seed=7)
    again = minimize(quadratic, SPACE, algorithm="tpe", n_trials=15, seed=7)
    other = minimize(quadratic, SPACE, algorithm="tpe", n_trials=15, seed=8)
    assert [t.params for t in first.trials] == [t.params for t in again.trials]
    assert [t.params for t in first.trials] != [t.params for t in other.trials]


def failing_sometimes(params):
    if params["x"] < 0:
        raise RuntimeError("diverged at lr too high")
    if params["x"] > 1.5:
        return math.nan
    return params["x"]


def test_failed_objective_keeps_the_study_going_with_traceback(caplog):
    study = minimize(failing_sometimes, {"x": Float(-2, 2)}, algorithm="random", n_trials=30)
    states = [t.state for t in study.trials]
    assert len(study.trials) == 30
    assert states.count(TrialState.FAILED) >= 5 and states.count(TrialState.COMPLETE) >= 5
    raised = [t for t in study.trials if t.state == TrialState.FAILED and t.params["x"] < 0]
    assert all("RuntimeError: diverged at lr too high" in t.error for t in raised)
    assert all("Traceback" in t.error for t in raised)
    non_finite = [t for t in study.trials if t.params["x"] > 1.5]
    assert non_finite and all("non-finite" in t.error for t in non_finite)
    assert 0 <= study.best_value <= 1.5
    assert "trial" in caplog.text and "failed" in caplog.text


def test_all_failed_study_explains_best_value():
    study = minimize(lambda p: 1 / 0, {"x": Float(0, 1)}, algorithm="random", n_trials=3)
    with pytest.raises(ValueError, match="no completed trial"):
        _ = study.best_value


def test_keyboard_interrupt_is_not_swallowed():
    def objective(params):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        minimize(objective, {"x": Float(0, 1)}, algorithm="random", n_trials=3)


def test_define_by_run_registers_and_learns_parameters():
    def objective(trial):
        kind = trial.suggest_categorical("kind", ["a", "b", "c"])
        x = trial.suggest_float("x", -2.0, 2.0)
        y = trial.suggest_float("y", -3.0, 1.0)
        if kind == "a":
            trial.suggest_int("extra", 1, 4)  # conditional by construction
        return quadratic({"x": x, "y": y, "kind": kind})

    study = minimize(objective, None, algorithm="tpe", n_trials=60, seed=0)
    assert set(study.space) == {"kind", "x", "y", "extra"}
    assert all(("extra" in t.params) == (t.params["kind"] == "a") for t in study.trials)
    assert study.best_value < 0.2 and study.best_params["kind"] == "b"


def test_objective_gets_trial_by_name_or_annotation_and_seed_is_stable():
    def by_annotation(t: Trial) -> float:
        return t.seed % 7 + t.params["x"]

    first = minimize(by_annotation, {"x": Float(0, 1)}, algorithm="random", n_trials=4, seed=11)
    second = minimize(by_annotation, {"x": Float(0, 1)}, algorithm="random", n_trials=4, seed=11)
    seeds = [t.seed for t in first.trials]
    assert seeds == [t.seed for t in second.trials] and len(set(seeds)) == 4
    assert [t.value for t in first.trials] == [
        s % 7 + t.params["x"] for s, t in zip(seeds, first.trials, strict=True)
    ]


def test_trials_table_and_importance():
    study = minimize(lambda p: 10 * p["a"] + 0.01 * p["b"], {"a": Float(0, 1), "b": Int(0, 9)},
                     algorithm="sobol", n_trials=32)  # fmt: skip
    table = study.trials_table()
    assert [row["number"] for row in table] == list(range(32))
    assert set(table[0]) == {"number", "state", "value", "params", "duration"}
    text = str(table)
    assert text.splitlines()[0].split() == ["number", "state", "value", "params", "duration"]
    assert len(text.splitlines()) == 33
    shares = study.importance()
    assert list(shares) == ["a", "b"] and shares["a"] > 0.95
    assert sum(shares.values()) == pytest.approx(1.0)


def crash_after(limit):
    calls = []

    def objective(params):
        calls.append(params)
        if len(calls) > limit:
            raise SystemExit("killed")
        return quadratic(params)

    return objective, calls


@pytest.mark.parametrize("algorithm", ["random", "bayes", "tpe", "de"])
def test_journal_resume_after_a_kill(tmp_path, algorithm):
    path = tmp_path / "study.jsonl"
    objective, _ = crash_after(6)
    with pytest.raises(SystemExit):
        minimize(objective, SPACE, algorithm=algorithm, n_trials=12, storage=str(path), seed=2)
    before = path.read_text()
    lines = [json.loads(line) for line in before.splitlines()]
    assert sum(e["event"] == "tell" for e in lines) == 6
    assert sum(e["event"] == "ask" for e in lines) == 7  # the seventh was running
    objective, calls = crash_after(100)
    study = minimize(objective, SPACE, algorithm=algorithm, n_trials=12, storage=str(path), seed=2)
    assert path.read_text().startswith(before)  # appended, never rewritten
    assert len(calls) == 6  # 12 - 6 finished; the interrupted one is retried first
    assert calls[0] == lines[-1]["params"]
    assert len(study.trials) == 13
    assert study.trials[6].state == TrialState.FAILED and "interrupted" in study.trials[6].error
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert len(complete) == 12
    first_six = [e for e in lines if e["event"] == "tell"]
    assert [t.value for t in study.trials[:6]] == [e["value"] for e in first_six]
    again = minimize(objective, SPACE, algorithm=algorithm, n_trials=12, storage=str(path))
    assert len(again.trials) == 13 and len(calls) == 6  # nothing left to do


def test_journal_with_a_torn_last_line_and_handwritten_trials(tmp_path):
    path = tmp_path / "study.jsonl"
    events = [
        {"event": "study", "direction": "minimize", "version": 1},
        {"event": "ask", "number": 0, "params": {"x": 0.5}, "seed": 1},
        {"event": "tell", "number": 0, "state": "COMPLETE", "value": 0.25, "params": {"x": 0.5}},
        {"event": "ask", "number": 1, "params": {"x": 0.9}, "seed": 2},
    ]
    path.write_text("\n".join(json.dumps(e) for e in events) + '\n{"event": "tell", "numb')
    study = minimize(lambda p: p["x"] ** 2, {"x": Float(0, 1)}, algorithm="random",
                     n_trials=4, storage=JournalStorage(path))  # fmt: skip
    assert study.trials[0].value == 0.25
    assert study.trials[1].state == TrialState.FAILED
    assert study.trials[2].params == {"x": 0.9}  # retried
    assert sum(t.state == TrialState.COMPLETE for t in study.trials) == 4
    assert '\n{"event": "tell", "numb\n' in path.read_text()  # torn line kept, not extended


def test_journal_refuses_the_other_direction(tmp_path):
    path = tmp_path / "s.jsonl"
    minimize(lambda p: p["x"], {"x": Float(0, 1)}, algorithm="random", n_trials=2, storage=path)
    with pytest.raises(ValueError, match="direction='minimize'"):
        maximize(lambda p: p["x"], {"x": Float(0, 1)}, algorithm="random", n_trials=2, storage=path)
