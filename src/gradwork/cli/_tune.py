"""`gradwork tune CONFIG.toml`: search a training config, retrain the best, test it once.

Study folder (``<output>/<timestamp>-<name>-tune/``)::

    tune.toml          the config the study was started from (--resume reads it)
    journal.jsonl      every ask/report/tell; --resume continues from it
    trials.csv         number, state, value, one column per parameter, duration, pruned_at_epoch
    importance.json    share of variance per parameter ± bootstrap sd (given enough completed)
    history.png        value of every completed trial and the best so far (and importance.png,
                       parallel_coordinates.png, contour.png where they apply; gradwork.plots)
    report.html        the study's report, pictures embedded (final/report.html: the final run's)
    best_config.toml   the best configuration, runnable with `gradwork train`
    pareto/            several objectives (metric = [...]): trial-N.toml, runnable, for each
                       trial of the Pareto front; summary.json lists the front (no retraining)
    final/             run folder of the best config trained on train + val (tests.json: 1 test)
    summary.json       best parameters and value, test metric with its bootstrap interval
"""

from __future__ import annotations

import csv
import json
import shutil
import sys
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

from gradwork.cli._toml import dumps
from gradwork.cli._tune_config import make_pruner, objective_names, resolve_tune
from gradwork.plots import PlotsUnavailableError
from gradwork.train.config import ConfigError, load_toml
from gradwork.tune import (
    DivergedError,
    JournalStorage,
    config_for,
    plot_study,
    retrain_best,
    tune_training,
)
from gradwork.tune.algorithms import make_algorithm
from gradwork.tune.training import check_setup

INTERRUPTED = 130


def _prepare(args: Any) -> tuple[Path | None, Path, dict, dict, dict]:
    """(study folder or None, config path, user config, [tune] settings, space)."""
    if args.resume:
        if args.config:
            raise ConfigError("give either CONFIG.toml or --resume STUDY_DIR, not both")
        study_dir = Path(args.resume)
        source = study_dir / "tune.toml"
        if not source.is_file():
            raise ConfigError(f"--resume: not a study folder (no tune.toml): {str(study_dir)!r}")
    elif not args.config:
        raise ConfigError("give a CONFIG.toml with a [tune] section, or --resume STUDY_DIR")
    else:
        study_dir, source = None, Path(args.config)
    user = load_toml(source)
    settings, space = resolve_tune(user.pop("tune", None))
    if args.n_trials is not None:
        if args.n_trials < 1:
            raise ConfigError(f"--n-trials {args.n_trials}: give at least 1")
        settings["n_trials"] = args.n_trials
    if args.output is not None:
        user["output"] = args.output
    return study_dir, source, user, settings, space


def _importance(study: Any, completed: int) -> dict:
    """Shares with bootstrap errors, or none (and why) when too few trials completed."""
    needed = study.importance_min_trials()
    if completed < needed:
        note = f"{completed} completed trials; importance needs {needed} to mean anything"
        return {"completed": completed, "needed": needed, "shares": {}, "note": note}
    shares = study.importance(return_std=True)
    note = "share of variance ± bootstrap standard deviation"
    return {"completed": completed, "needed": needed, "shares": shares, "note": note}


def _check_algorithm(settings: dict) -> None:

    try:
        make_algorithm(settings["algorithm"])
    except ImportError as error:
        raise ConfigError(f"tune.algorithm = {settings['algorithm']!r}: {error}") from None


def _new_study_dir(config: dict) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(config["output"]) / f"{stamp}-{config['name']}-tune"
    path, suffix = base, 1
    while path.exists():
        suffix += 1
        path = base.with_name(f"{base.name}-{suffix}")
    path.mkdir(parents=True)
    return path


def tune_command(args: Any) -> int:
    """Validate everything, then search, write the study folder, retrain and test once."""

    study_dir, source, user, settings, space = _prepare(args)
    _check_algorithm(settings)
    names = objective_names(settings)
    base = check_setup(user, space, names[0])  # every ConfigError before writing
    if study_dir is None:
        study_dir = _new_study_dir(base)
        shutil.copyfile(source, study_dir / "tune.toml")
    journal = Path(settings["storage"] or study_dir / "journal.jsonl")
    print(f"study folder: {study_dir}")
    executor = _executor(settings)
    try:
        study = tune_training(
            user, space, algorithm=settings["algorithm"], n_trials=settings["n_trials"],
            pruner=make_pruner(settings, base["train"]["epochs"]), metric=settings["metric"],
            direction=settings["direction"], seed=settings["seed"], executor=executor,
            storage=_PrintingJournal(journal, names), cv=settings["cv"] or None,
            sync=settings["sync"],
        )  # fmt: skip
    except KeyboardInterrupt:
        print(f"\ninterrupted; resume with: gradwork tune --resume {study_dir}", file=sys.stderr)
        return INTERRUPTED
    finally:
        if executor is not None:
            executor.shutdown(cancel_futures=True)
    return _finish(study, study_dir, user, settings, space)


def _executor(settings: dict) -> Any:
    kinds = {"threads": ThreadPoolExecutor, "processes": ProcessPoolExecutor}
    kind = kinds.get(settings["executor"])
    return None if kind is None else kind(max_workers=settings["workers"])


def _finish(study: Any, study_dir: Path, user: dict, settings: dict, space: dict) -> int:

    write_trials_csv(study, study_dir / "trials.csv", objective_names(settings))
    _pictures(study, study_dir, settings["metric"])
    if study.multi_objective:
        return _finish_front(study, study_dir, user, settings, space)
    try:
        best = study.best_trial
    except ValueError as error:
        print(f"gradwork tune: {error}", file=sys.stderr)
        return 1
    counts = _state_counts(study)
    importances = _importance(study, counts.get("COMPLETE", 0))
    (study_dir / "importance.json").write_text(json.dumps(importances, indent=2) + "\n")
    best_config = config_for(user, best.params, space)
    header = (
        f"# best of {len(study.trials)} trials in {study_dir} (trial {best.number}: "
        f"{settings['metric']} = {best.value:.6g})\n# run it with: gradwork train THIS_FILE\n\n"
    )
    (study_dir / "best_config.toml").write_text(header + dumps(best_config))
    summary = {
        "metric": settings["metric"],
        "direction": study.direction,
        "n_trials": len(study.trials),
        "states": counts,
        "best_trial": best.number,
        "best_value": best.value,
        "best_params": best.params,
        "importance": importances,
    }
    if settings["retrain"]:
        try:
            summary["final"] = _final(study, study_dir, user, settings, space)
        except DivergedError as error:
            print(f"gradwork tune: {error}", file=sys.stderr)
            (study_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
            return 1
    (study_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print_summary(summary, study_dir)
    _reports(study_dir, settings["retrain"])
    return 0


def _finish_front(study: Any, study_dir: Path, user: dict, settings: dict, space: dict) -> int:
    """Several objectives: the Pareto front in summary.json and one runnable config per point.

    NOTE: no configuration is retrained or tested: which point of the front to
    deploy is the user's trade-off, so the sealed test set stays unopened.
    """
    names = objective_names(settings)
    front = sorted(study.best_trials, key=lambda trial: tuple(study.losses(trial)))
    if not front:
        print("gradwork tune: no trial completed, so there is no Pareto front", file=sys.stderr)
        return 1
    folder = study_dir / "pareto"
    folder.mkdir(exist_ok=True)
    rows = []
    for trial in front:
        values = dict(zip(names, trial.values, strict=True))
        path = folder / f"trial-{trial.number}.toml"
        shown = ", ".join(f"{name} = {value:.6g}" for name, value in values.items())
        header = (
            f"# trial {trial.number}, on the Pareto front of {study_dir} ({shown})\n"
            "# run it with: gradwork train THIS_FILE\n\n"
        )
        path.write_text(header + dumps(config_for(user, trial.params, space)))
        rows.append({"trial": trial.number, "values": values, "params": trial.params,
                     "config": str(path)})  # fmt: skip
    summary = {
        "metrics": names,
        "directions": study.directions,
        "n_trials": len(study.trials),
        "states": _state_counts(study),
        "pareto_front": rows,
    }
    (study_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print_front(summary, study_dir)
    _reports(study_dir, False)
    return 0


def print_front(summary: dict, study_dir: Path) -> None:
    """The Pareto front, one line per trial, best in the first objective first."""
    states = ", ".join(f"{n} {s.lower()}" for s, n in sorted(summary["states"].items()))
    pairs = zip(summary["metrics"], summary["directions"], strict=True)
    directions = ", ".join(f"{direction} {metric}" for metric, direction in pairs)
    print(f"\n{summary['n_trials']} trials ({states})")
    print(f"Pareto front ({len(summary['pareto_front'])} trials; {directions}):")
    for row in summary["pareto_front"]:
        values = "  ".join(f"{name} {value:.4g}" for name, value in row["values"].items())
        params = ", ".join(_shown(k, v) for k, v in row["params"].items())
        print(f"  trial {row['trial']:>3}  {values}  {params}")
    print(f"configs: {study_dir / 'pareto'}/trial-N.toml (not retrained or tested: choose one)")
    print(f"study folder: {study_dir}")


def _shown(key: str, value: Any) -> str:
    return f"{key}={value:.3g}" if isinstance(value, float) else f"{key}={value}"


def _pictures(study: Any, study_dir: Path, metric: Any) -> None:
    """history.png, importance.png, ... (gradwork.plots); without matplotlib, say how."""
    try:
        plot_study(study, study_dir, metric)
    except PlotsUnavailableError as missing:
        print(f"no pictures: {missing}")


def _reports(study_dir: Path, retrained: bool) -> None:
    """report.html of the final run (when retrained) and of the study; their paths printed."""
    from gradwork.cli._html_report import report_at_end

    if retrained and (study_dir / "final" / "config.json").is_file():
        report_at_end(study_dir / "final")
    report_at_end(study_dir, study=True)


def _final(study: Any, study_dir: Path, user: dict, settings: dict, space: dict) -> dict:
    """Retrain and test once; a resumed study whose final run exists is not tested again."""

    final_dir = study_dir / "final"
    if (final_dir / "tests.json").is_file():
        previous = json.loads((study_dir / "summary.json").read_text()).get("final", {})
        print(f"final run already tested ({final_dir / 'tests.json'}); not evaluated again")
        return previous
    if final_dir.exists():
        shutil.rmtree(final_dir)  # an interrupted retraining: the test set was not opened
    print("retraining the best configuration on train + validation ...")
    result = retrain_best(study, user, final_dir, space, settings["metric"], seed=settings["seed"])
    return {
        "run_dir": str(result.run_dir),
        "test": result.test,
        "metric": result.metric,
        "value": result.ci.estimate,
        "ci_low": result.ci.low,
        "ci_high": result.ci.high,
        "confidence": result.ci.confidence,
        "train_examples": int(json.loads((final_dir / "data.json").read_text())["sizes"]["train"]),
    }


def _state_counts(study: Any) -> dict:
    counts: dict[str, int] = {}
    for trial in study.trials:
        counts[trial.state.value] = counts.get(trial.state.value, 0) + 1
    return counts


def write_trials_csv(study: Any, path: Path, metrics: list[str] | None = None) -> None:
    """One row per trial; one column per parameter (empty where a parameter is inactive).

    With several objectives, one column per metric (``metrics``) replaces ``value``.
    """
    names = list(study.space)
    values = list(metrics or []) if study.multi_objective else ["value"]
    columns = ["number", "state", *values, *names, "duration", "pruned_at_epoch", "epochs"]
    if any(trial.fold_values for trial in study.trials):
        columns.insert(3, "std_error")
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(file, columns)
        writer.writeheader()
        for trial in study.trials:
            row = {
                "number": trial.number,
                "state": trial.state.value,
                "value": trial.value,
                "std_error": trial.std_error,
                "duration": None if trial.duration is None else round(trial.duration, 3),
                "pruned_at_epoch": trial.user_attrs.get("pruned_at_epoch"),
                "epochs": trial.user_attrs.get("epochs"),
                **{name: trial.params.get(name) for name in names},
            }
            if study.multi_objective:
                row.update(zip(values, trial.values or [None] * len(values), strict=True))
            writer.writerow({key: row[key] for key in columns})


def print_summary(summary: dict, study_dir: Path) -> None:
    states = ", ".join(f"{n} {s.lower()}" for s, n in sorted(summary["states"].items()))
    print(f"\n{summary['n_trials']} trials ({states})")
    print(f"best trial {summary['best_trial']}: {summary['metric']} = {summary['best_value']:.4f}")
    for key, value in summary["best_params"].items():
        print(f"  {key} = {value:.4g}" if isinstance(value, float) else f"  {key} = {value}")
    shares = summary["importance"]["shares"]
    if shares:
        print("importance: " + ", ".join(f"{k} {v:.2f} ± {e:.2f}" for k, (v, e) in shares.items()))
    else:
        print(f"importance: not shown ({summary['importance']['note']})")
    final = summary.get("final")
    if final:
        percent = round(100 * final["confidence"])
        print(
            f"test {final['metric']} = {final['value']:.4f} ({percent}% bootstrap CI "
            f"{final['ci_low']:.4f} to {final['ci_high']:.4f}), retrained on "
            f"{final['train_examples']} examples, test set evaluated once"
        )
    print(f"study folder: {study_dir}")


class _PrintingJournal:
    """A JournalStorage that also prints one line per finished trial."""

    def __init__(self, path: Path, metrics: list[str]) -> None:
        self.journal, self.metrics = JournalStorage(path), metrics

    def __repr__(self) -> str:
        return repr(self.journal)

    def load(self) -> list:
        return self.journal.load()

    def append(self, event: dict) -> None:
        self.journal.append(event)
        if event.get("event") == "tell":
            print(_trial_line(event, self.metrics), flush=True)


def _trial_line(event: dict, metrics: list[str]) -> str:
    values = event.get("values") or [event.get("value")] + [None] * (len(metrics) - 1)
    # The metric with 4 decimals; costs (parameter counts, milliseconds) in 6 digits.
    shown = "  ".join(
        f"{metric} " + ("-" if value is None else f"{value:.4f}" if i == 0 else f"{value:.6g}")
        for i, (metric, value) in enumerate(zip(metrics, values, strict=True))
    )
    pruned = (event.get("user_attrs") or {}).get("pruned_at_epoch")
    state = event["state"].lower() + (f" at epoch {pruned}" if pruned else "")
    params = ", ".join(_shown(k, v) for k, v in event["params"].items())
    duration = event.get("duration") or 0.0
    return f"trial {event['number']:>3}  {shown}  {state:<20} {duration:5.1f}s  {params}"
