"""Benchmark gradwork.tune's algorithms against Optuna's samplers on every problem class.

Usage:
    python benchmarks/tune_bench.py [--seeds 10] [--scale 1.0] [--problems branin,mixed]
                                    [--algorithms bayes,tpe,auto,random] [--optuna GP,TPE]

Problems (one per class): smooth low-dim (Branin), 6-D (Hartmann6), ill-conditioned
(Rosenbrock, 4-D), multimodal (Ackley, 3-D), mixed/conditional (log-float, int,
categorical, a float active for one choice), failing regions (Branin that raises for
x1 < 2.5), noisy (Hartmann6 + N(0, 0.1) noise, scored by the true value of the best
observed trial), under pruning (learning curves under ASHA, the same pruner settings
for both libraries), and two-objective ZDT1/ZDT2 (hypervolume, reference (1.1, 1.1)).

For each problem and algorithm it prints the median regret (best true value found minus
the optimum; for ZDT: ideal hypervolume minus the front's) after several budgets, the
interquartile range at the full budget, the median number of trials to the threshold
(">N" when fewer than half the seeds got there), the median number of failed trials,
and seconds per run. ``--scale`` multiplies every budget (0.5 halves them). Seeds are
0..seeds-1 for both libraries. Results go to benchmarks/results/tune.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from gradwork.tune import (  # noqa: E402
    Categorical,
    Float,
    Int,
    SuccessiveHalvingPruner,
    TrialPruned,
    TrialState,
    minimize,
)
from gradwork.tune._pareto import hypervolume_2d  # noqa: E402

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


def rosenbrock(params: dict) -> float:
    """Rosenbrock in 4-D on [-2, 2]^4 (a curved, ill-conditioned valley); minimum 0."""
    x = np.array([params[f"x{i}"] for i in range(4)])
    return float((100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum())


def ackley(params: dict) -> float:
    """Ackley in 3-D on [-5, 5]^3 (many local minima); minimum 0 at the origin."""
    x = np.array([params[f"x{i}"] for i in range(3)])
    first = -20 * math.exp(-0.2 * math.sqrt((x**2).mean()))
    return float(first - math.exp(np.cos(2 * math.pi * x).mean()) + 20 + math.e)


def mixed(params: dict) -> float:
    """Log-float, int, categorical and a float active only for kind == 'b'; minimum 0."""
    value = (math.log10(params["lr"]) + 2) ** 2 / 4 + (params["layers"] - 7) ** 2 / 9
    offset = {"a": 0.5, "b": 4 * (params.get("x", 0.0) - 0.3) ** 2, "c": 1.0}
    return value + offset[params["kind"]]


def failing(params: dict) -> float:
    """Branin that raises for x1 < 2.5 (two of its three minima remain feasible)."""
    if params["x1"] < 2.5:
        raise RuntimeError("diverged")
    return branin(params)


def noisy_hartmann6(params: dict) -> float:
    """Hartmann-6 plus N(0, 0.1) noise, seeded by the parameters."""
    key = hash(tuple(round(params[f"x{i}"], 12) for i in range(6))) % 2**32
    return hartmann6(params) + 0.1 * np.random.default_rng(key).standard_normal()


def curve(params: dict, report) -> float:
    """A learning curve over 27 epochs towards ``mixed``'s value; ``report`` may stop it."""
    final = mixed(params)
    for epoch in range(1, 28):
        loss = final + 2.0 / epoch
        if report(loss, epoch):
            return None
    return final


def zdt(params: dict, which: int) -> tuple[float, float]:
    x = np.array([params[f"x{i}"] for i in range(6)])
    f1 = x[0]
    g = 1 + 9 * x[1:].mean()
    ratio = f1 / g
    return f1, g * (1 - (math.sqrt(ratio) if which == 1 else ratio**2))


UNIT6 = {f"x{i}": Float(0.0, 1.0) for i in range(6)}
MIXED_SPACE = {
    "lr": Float(1e-4, 1.0, log=True),
    "layers": Int(1, 10),
    "kind": Categorical(["a", "b", "c"]),
    "x": Float(0.0, 1.0, when=("kind", "b")),
}
BRANIN_SPACE = {"x1": Float(-5.0, 10.0), "x2": Float(0.0, 15.0)}
# Ideal hypervolumes for reference (1.1, 1.1): area under the true fronts.
ZDT_IDEAL = {1: 1.21 - 1 / 3, 2: 1.21 - 2 / 3}

PROBLEMS = {
    "branin": dict(function=branin, space=BRANIN_SPACE, minimum=0.397887, budget=50,
                   budgets=[10, 20, 30, 50], threshold=0.01),
    "hartmann6": dict(function=hartmann6, space=UNIT6, minimum=-3.32237, budget=100,
                      budgets=[10, 20, 30, 50, 100], threshold=0.1),
    "rosenbrock": dict(function=rosenbrock, space={f"x{i}": Float(-2.0, 2.0) for i in range(4)},
                       minimum=0.0, budget=80, budgets=[20, 40, 80], threshold=1.0),
    "ackley": dict(function=ackley, space={f"x{i}": Float(-5.0, 5.0) for i in range(3)},
                   minimum=0.0, budget=80, budgets=[20, 40, 80], threshold=1.0),
    "mixed": dict(function=mixed, space=MIXED_SPACE, minimum=0.0, budget=60,
                  budgets=[20, 40, 60], threshold=0.01),
    "failing": dict(function=failing, space=BRANIN_SPACE, minimum=0.397887, budget=50,
                    budgets=[20, 30, 50], threshold=0.01),
    "noisy": dict(function=noisy_hartmann6, truth=hartmann6, space=UNIT6, minimum=-3.32237,
                  budget=80, budgets=[20, 40, 80], threshold=0.2),
    "pruned": dict(curve=curve, space=MIXED_SPACE, minimum=0.0, budget=60,
                   budgets=[20, 40, 60], threshold=0.05),
    "zdt1": dict(objectives=lambda p: zdt(p, 1), ideal=ZDT_IDEAL[1], space=UNIT6, budget=100,
                 budgets=[50, 100], threshold=0.05),
    "zdt2": dict(objectives=lambda p: zdt(p, 2), ideal=ZDT_IDEAL[2], space=UNIT6, budget=100,
                 budgets=[50, 100], threshold=0.05),
}  # fmt: skip
REFERENCE = np.array([1.1, 1.1])


def record(problem: dict, params: dict, value) -> float:
    """The true value of a finished trial (inf when it failed or was pruned)."""
    if value is None:
        return math.inf
    truth = problem.get("truth")
    return truth(params) if truth else value


def run_gradwork(algorithm: str, problem: dict, seed: int, budget: int) -> list:
    """Per trial: the true value (or a tuple for two objectives), or None; and failures."""
    if "objectives" in problem:
        two = ["minimize", "minimize"]
        study = minimize(problem["objectives"], problem["space"], algorithm=algorithm,
                         n_trials=budget, seed=seed, directions=two)  # fmt: skip
        return [t.values if t.state == TrialState.COMPLETE else None for t in study.trials]
    if "curve" in problem:

        def objective(trial):
            def report(value, step):
                trial.report(value, step)
                if trial.should_prune():
                    raise TrialPruned()
                return False

            return problem["curve"](dict(trial.params), report)

        pruner = SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
        study = minimize(objective, problem["space"], algorithm=algorithm, n_trials=budget,
                         seed=seed, pruner=pruner)  # fmt: skip
    else:
        study = minimize(problem["function"], problem["space"], algorithm=algorithm,
                         n_trials=budget, seed=seed)  # fmt: skip
    return [
        (record(problem, t.params, t.value) if t.state == TrialState.COMPLETE else None, t.state)
        for t in study.trials
    ]


def _suggest(trial, space: dict) -> dict:
    params = {}
    for name, d in space.items():
        if d.when is not None and params.get(d.when[0]) != d.when[1]:
            continue
        if isinstance(d, Float):
            params[name] = trial.suggest_float(name, d.low, d.high, log=d.log)
        elif isinstance(d, Int):
            params[name] = trial.suggest_int(name, d.low, d.high, log=d.log, step=d.step)
        else:
            params[name] = trial.suggest_categorical(name, list(d.choices))
    return params


def run_optuna(sampler_name: str, problem: dict, seed: int, budget: int) -> list:
    import optuna

    try:  # GPSampler runs on torch: one thread, as gradwork's GP (fair, and no oversubscription)
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    sampler = getattr(optuna.samplers, sampler_name)(seed=seed)
    space = problem["space"]
    if "objectives" in problem:
        study = optuna.create_study(sampler=sampler, directions=["minimize", "minimize"])
        study.optimize(lambda t: problem["objectives"](_suggest(t, space)), n_trials=budget)
        return [tuple(t.values) if t.values else None for t in study.trials]

    def objective(trial):
        params = _suggest(trial, space)
        if "curve" in problem:

            def report(value, step):
                trial.report(value, step)
                if trial.should_prune():
                    raise optuna.TrialPruned()
                return False

            return problem["curve"](params, report)
        return problem["function"](params)

    pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    study = optuna.create_study(sampler=sampler, pruner=pruner)
    study.optimize(objective, n_trials=budget, catch=(RuntimeError,))
    states = {"COMPLETE": TrialState.COMPLETE, "PRUNED": TrialState.PRUNED}
    return [
        (
            record(problem, t.params, t.value) if t.state.name == "COMPLETE" else None,
            states.get(t.state.name, TrialState.FAILED),
        )
        for t in study.trials
    ]


def regret_curves(histories: list, problem: dict) -> np.ndarray:
    """(seeds, budget) regret after each trial."""
    budget = problem["budget"]
    rows = []
    for history in histories:
        if "objectives" in problem:
            row, front = [], []
            for values in history:
                if values is not None:
                    front.append(values)
                volume = hypervolume_2d(np.array(front), REFERENCE) if front else 0.0
                row.append(problem["ideal"] - volume)
        else:
            values = [math.inf if v is None else v for v, _ in history]
            row = list(np.minimum.accumulate(values) - problem["minimum"])
        rows.append(row + [row[-1]] * (budget - len(row)))
    return np.array(rows)


def summarise(histories: list, problem: dict) -> dict:
    regrets = regret_curves(histories, problem)
    at = {str(b): float(np.median(regrets[:, b - 1])) for b in problem["budgets"]}
    final = regrets[:, problem["budget"] - 1]
    hits = [
        int(np.argmax(r <= problem["threshold"])) + 1 if (r <= problem["threshold"]).any()
        else math.inf
        for r in regrets
    ]  # fmt: skip
    failed = 0.0
    if "objectives" not in problem:
        failed = float(np.median([sum(s == TrialState.FAILED for _, s in h) for h in histories]))
    return {
        "median_regret": at,
        "iqr": [float(np.percentile(final, 25)), float(np.percentile(final, 75))],
        "trials_to_threshold": float(np.median(hits)),
        "hits": hits,
        "failed": failed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every budget")
    parser.add_argument("--algorithms", default="bayes,tpe,auto,random")
    parser.add_argument("--optuna", default="GP,TPE,Random",
                        help="Optuna samplers (+NSGAII for ZDT); 'none' skips")  # fmt: skip
    parser.add_argument("--problems", default=",".join(PROBLEMS))
    parser.add_argument(
        "--out", default=str(Path(__file__).resolve().parent / "results" / "tune.json")
    )
    args = parser.parse_args()
    logging.getLogger("gradwork.tune").setLevel(logging.ERROR)
    seeds = range(args.seeds)
    runners = {name: (run_gradwork, name) for name in args.algorithms.split(",")}
    optuna_names = [] if args.optuna == "none" else args.optuna.split(",")
    try:
        import optuna  # noqa: F401
    except ImportError:
        print("optuna not installed (pip install gradwork[bench]): skipping Optuna's samplers")
        optuna_names = []
    results = {}
    for problem_name in args.problems.split(","):
        problem = dict(PROBLEMS[problem_name])
        problem["budget"] = max(2, round(problem["budget"] * args.scale))
        problem["budgets"] = sorted({max(1, round(b * args.scale)) for b in problem["budgets"]})
        rows = dict(runners)
        multi = "objectives" in problem
        if multi:
            rows = {k: v for k, v in rows.items() if k in ("bayes", "auto", "random", "ga")}
            rows.setdefault("ga", (run_gradwork, "ga"))
        for name in optuna_names + (["NSGAII"] if multi and optuna_names else []):
            if multi and name == "GP":
                continue  # Optuna's GPSampler optimises one objective
            rows[f"optuna-{name}"] = (run_optuna, f"{name}Sampler")
        results[problem_name] = {}
        header = "".join(f"{'@' + str(b):>9}" for b in problem["budgets"])
        what = "hypervolume gap" if multi else "regret"
        print(f"\n{problem_name}: median {what} over {len(seeds)} seeds (IQR at "
              f"{problem['budget']}); trials to {what} <= {problem['threshold']}")  # fmt: skip
        print(f"{'algorithm':<15}{header}{'IQR':>18}{'to thr':>8}{'failed':>7}{'s/run':>8}")
        for label, (runner, name) in rows.items():
            start = time.perf_counter()
            histories = [runner(name, problem, seed, problem["budget"]) for seed in seeds]
            seconds = (time.perf_counter() - start) / len(seeds)
            summary = summarise(histories, problem)
            summary["seconds_per_run"] = seconds
            results[problem_name][label] = summary
            cells = "".join(f"{summary['median_regret'][str(b)]:>9.4f}" for b in problem["budgets"])
            low, high = summary["iqr"]
            hit = summary["trials_to_threshold"]
            hit_text = f">{problem['budget']}" if math.isinf(hit) else f"{hit:g}"
            print(f"{label:<15}{cells}{f'{low:.4f}-{high:.4f}':>18}{hit_text:>8}"
                  f"{summary['failed']:>7g}{seconds:>8.2f}", flush=True)  # fmt: skip
    out = Path(args.out)
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"seeds": list(seeds), "scale": args.scale, "results": results},
                              indent=1, default=str))  # fmt: skip
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
