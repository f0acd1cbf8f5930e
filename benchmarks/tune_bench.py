"""Benchmark gradwork.tune's algorithms (and Optuna's, when installed) on Branin and Hartmann6.

Usage:
    python benchmarks/tune_bench.py [--seeds 10] [--quick] [--algorithms bayes,tpe]

Reports, per algorithm, the median simple regret (best value found minus the
global minimum) after 10/20/30/50(/100) trials over the seeds, and the median
number of trials needed to reach regret <= 0.01 (Branin) / <= 0.1 (Hartmann6)
(">N" when fewer than half the seeds got there). Writes the figures to
benchmarks/results/tune.json.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from gradwork.tune import Float, minimize  # noqa: E402

HARTMANN_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
HARTMANN_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
HARTMANN_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)


def branin(params: dict) -> float:
    """Branin-Hoo on [-5, 10] x [0, 15]; global minimum 0.397887."""
    x1, x2 = params["x1"], params["x2"]
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


def hartmann6(params: dict) -> float:
    """Hartmann-6 on [0, 1]^6; global minimum -3.32237."""
    x = np.array([params[f"x{i}"] for i in range(6)])
    inner = (HARTMANN_A * (x - HARTMANN_P) ** 2).sum(axis=1)
    return float(-(HARTMANN_ALPHA * np.exp(-inner)).sum())


PROBLEMS = {
    "branin": {
        "function": branin,
        "space": {"x1": Float(-5.0, 10.0), "x2": Float(0.0, 15.0)},
        "minimum": 0.397887,
        "budget": 50,
        "budgets": [10, 20, 30, 50],
        "threshold": 0.01,
    },
    "hartmann6": {
        "function": hartmann6,
        "space": {f"x{i}": Float(0.0, 1.0) for i in range(6)},
        "minimum": -3.32237,
        "budget": 100,
        "budgets": [10, 20, 30, 50, 100],
        "threshold": 0.1,
    },
}
ALGORITHMS = ["bayes", "tpe", "random", "sobol", "grid", "ga", "de", "pso"]


def run_gradwork(algorithm: str, problem: dict, seed: int, budget: int) -> list[float]:
    study = minimize(problem["function"], problem["space"], algorithm=algorithm,
                     n_trials=budget, seed=seed)  # fmt: skip
    return [trial.value for trial in study.trials]


def run_optuna(sampler_name: str, problem: dict, seed: int, budget: int) -> list[float]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = getattr(optuna.samplers, sampler_name)(seed=seed)
    space = problem["space"]

    def objective(trial: optuna.Trial) -> float:
        params = {name: trial.suggest_float(name, d.low, d.high) for name, d in space.items()}
        return problem["function"](params)

    study = optuna.create_study(sampler=sampler)
    study.optimize(objective, n_trials=budget)
    return [trial.value for trial in study.trials]


def summarise(histories: list[list[float]], problem: dict) -> dict:
    # A finite grid may stop early: its best value then stands for the rest of the budget.
    padded = [list(h) + [h[-1]] * (problem["budget"] - len(h)) for h in histories]
    values = np.array([[math.inf if v is None else v for v in h] for h in padded])
    regrets = np.minimum.accumulate(values, axis=1) - problem["minimum"]
    at = {str(b): float(np.median(regrets[:, b - 1])) for b in problem["budgets"]}
    hits = [
        int(np.argmax(r <= problem["threshold"])) + 1 if (r <= problem["threshold"]).any()
        else math.inf
        for r in regrets
    ]  # fmt: skip
    median_hit = float(np.median(hits))
    return {"median_regret": at, "trials_to_threshold": median_hit, "hits": hits}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="3 seeds, bayes/tpe/random only")
    parser.add_argument("--algorithms", default=",".join(ALGORITHMS))
    parser.add_argument("--problems", default="branin,hartmann6")
    parser.add_argument("--no-optuna", action="store_true")
    args = parser.parse_args()
    seeds = range(3 if args.quick else args.seeds)
    runners = {name: (run_gradwork, name) for name in args.algorithms.split(",")}
    if args.quick:
        runners = {name: runners[name] for name in ("bayes", "tpe", "random") if name in runners}
    try:
        import optuna  # noqa: F401

        if not args.no_optuna:
            runners["optuna-GP"] = (run_optuna, "GPSampler")
            runners["optuna-TPE"] = (run_optuna, "TPESampler")
    except ImportError:
        print("optuna not installed: skipping Optuna's samplers")
    results = {}
    for problem_name in args.problems.split(","):
        problem = PROBLEMS[problem_name]
        results[problem_name] = {}
        header = "".join(f"{'@' + str(b):>10}" for b in problem["budgets"])
        print(f"\n{problem_name}: median simple regret over {len(seeds)} seeds; "
              f"trials to regret <= {problem['threshold']}")  # fmt: skip
        print(f"{'algorithm':<12}{header}{'to thr':>9}{'sec/run':>9}")
        for label, (runner, name) in runners.items():
            start = time.perf_counter()
            histories = [runner(name, problem, seed, problem["budget"]) for seed in seeds]
            seconds = (time.perf_counter() - start) / len(seeds)
            summary = summarise(histories, problem)
            summary["seconds_per_run"] = seconds
            results[problem_name][label] = summary
            cells = "".join(
                f"{summary['median_regret'][str(b)]:>10.4f}" for b in problem["budgets"]
            )
            hit = summary["trials_to_threshold"]
            hit_text = f">{problem['budget']}" if math.isinf(hit) else f"{hit:g}"
            print(f"{label:<12}{cells}{hit_text:>9}{seconds:>9.2f}", flush=True)
    out = Path(__file__).resolve().parent / "results" / "tune.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"seeds": list(seeds), "results": results}, indent=1, default=str))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
