"""gradwork.tune's pictures of a Study: which are drawn, and what they are drawn from."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from gradwork.tune import Categorical, Float, Int, TrialPruned, minimize, plot_study  # noqa: E402
from gradwork.tune._plot import contour_pair, history_points  # noqa: E402

SPACE = {"lr": Float(1e-4, 1e-1, log=True), "wd": Float(0, 0.3), "opt": Categorical(["a", "b"]),
         "n": Int(1, 4)}  # fmt: skip


def objective(p):
    return (np.log10(p["lr"]) + 2) ** 2 + 3 * p["wd"] + 0.5 * (p["opt"] == "a") + 0.1 * p["n"]


def test_a_study_gets_history_importance_parallel_coordinates_and_contour(tmp_path):
    study = minimize(objective, SPACE, algorithm="random", n_trials=24, seed=0)
    written = plot_study(study, tmp_path, "val_loss")
    assert set(written) == {"history", "importance", "parallel_coordinates", "contour"}
    assert all(path.read_bytes()[:4] == b"\x89PNG" for path in written.values())
    assert contour_pair(study) == ("lr", "wd")  # the two numeric ones, most important first


def test_too_few_trials_skip_importance_but_keep_the_history(tmp_path):
    study = minimize(objective, SPACE, algorithm="random", n_trials=3, seed=0)
    assert "importance" not in plot_study(study, tmp_path)
    assert (tmp_path / "history.png").is_file()


def test_history_counts_completed_trials_only(tmp_path):
    def pruned_every_third(trial):
        x = trial.params["x"]
        trial.report(x, 1)
        if trial.number % 3 == 2:
            raise TrialPruned()
        return x

    study = minimize(pruned_every_third, {"x": Float(0, 1)}, algorithm="random", n_trials=6)
    numbers, values, best = history_points(study)
    assert numbers == [0, 1, 3, 4] and best == list(np.minimum.accumulate(values))
    assert plot_study(study, tmp_path)["history"].is_file()


def test_a_multi_objective_study_gets_its_pareto_front(tmp_path):
    study = minimize(lambda p: [p["x"], (1 - p["x"]) ** 2 + p["y"]],
                     {"x": Float(0, 1), "y": Float(0, 1)}, algorithm="random", n_trials=12,
                     directions=["minimize", "minimize"])  # fmt: skip
    written = plot_study(study, tmp_path, ["error", "size"])
    assert list(written) == ["pareto_front"] and written["pareto_front"].is_file()
