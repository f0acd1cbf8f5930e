"""`gradwork report STUDY_DIR --html` (and the end of `gradwork tune`): the study's report.html.

Sections: the result (best trial, its parameters, importance), the search's pictures
(history, importance, parallel coordinates, contour, or the Pareto front), the trials,
the final run's test result with its bootstrap interval and learning curves, and tune.toml.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from gradwork import plots
from gradwork.cli import _html as h
from gradwork.cli._html_report import PLOTS, REPORT_FILE
from gradwork.cli._report import read_history

SEARCH_PICTURES = {
    "history": "Each completed trial's validation value and the best so far; pruned trials "
    "at their last report (triangles: beyond the completed trials' range).",
    "importance": "Share of the metric's variance explained by each parameter; bars: 80% "
    "bootstrap interval over the trials.",
    "parallel_coordinates": "One line per completed trial through every parameter, coloured "
    "by the metric; the best trial is thick.",
    "contour": "The metric over the two most important numeric parameters, interpolated "
    "between the trials.",
    "pareto_front": "The trials no other trial beats in both objectives.",
}
TOP_TRIALS = 15


def write_study_report(study_dir: str | Path) -> Path:
    """Write STUDY_DIR/report.html from the files `gradwork tune` left in the folder."""
    folder = Path(study_dir)
    summary = _json(folder / "summary.json")
    trials = _trials(folder / "trials.csv")
    sections = [
        ("result", "Result", _result(summary, trials)),
        ("search", "Search", _search(folder)),
        ("trials", "Trials", _trials_table(trials, summary)),
        ("final", "Final run and test result", _final(folder, summary)),
        ("config", "Configuration (tune.toml)", _config(folder)),
    ]
    subtitle = f"{folder} · {summary.get('n_trials', len(trials))} trials"
    target = folder / REPORT_FILE
    target.write_text(h.page(f"gradwork study {folder.name}", subtitle, sections), "utf-8")
    return target


def is_study_folder(folder: Path) -> bool:
    return (folder / "tune.toml").is_file() and not (folder / "config.json").is_file()


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_text()) if path.is_file() else {}
    except json.JSONDecodeError:
        return {}


def _trials(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with open(path, newline="") as stream:
        return list(csv.DictReader(stream))


def _result(summary: dict, trials: list[dict]) -> str:
    if not summary:
        return h.paragraph(
            f"No summary.json yet (the study stopped early?); {len(trials)} trials in trials.csv.",
            "note",
        )
    states = ", ".join(f"{n} {s.lower()}" for s, n in sorted(summary.get("states", {}).items()))
    if "pareto_front" in summary:
        return _front(summary, states)
    parts = [
        f"<p class='big'>best trial {h.escape(summary.get('best_trial', '?'))}: "
        f"{h.escape(summary.get('metric', '?'))} = {_number(summary.get('best_value'))}</p>",
        h.paragraph(
            f"{summary.get('n_trials', '?')} trials ({states}); direction: "
            f"{summary.get('direction', '?')}."
        ),
    ]
    params = summary.get("best_params", {})
    importance = _shares(summary.get("importance", {}))
    rows = [
        (k, f"{v:.4g}" if isinstance(v, float) else v, importance.get(k, "-"))
        for k, v in params.items()
    ]
    parts.append(h.table(["parameter", "best value", "importance (share of variance)"], rows))
    note = (
        summary.get("importance", {}).get("note")
        if isinstance(summary.get("importance"), dict)
        else None
    )
    if note:
        parts.append(h.paragraph(f"importance: {note}", "note"))
    return "\n".join(parts)


def _front(summary: dict, states: str) -> str:
    """Several objectives: the Pareto front, one row per trial (summary.json's pareto_front)."""
    metrics, front = summary.get("metrics", []), summary["pareto_front"]
    pairs = zip(metrics, summary.get("directions", []), strict=False)
    goals = ", ".join(f"{direction} {metric}" for metric, direction in pairs)
    params = list(front[0]["params"]) if front else []
    rows = [
        [
            row["trial"],
            *(row["values"].get(m) for m in metrics),
            *(row["params"].get(k) for k in params),
        ]
        for row in front
    ]
    return h.paragraph(
        f"{len(front)} trials on the Pareto front ({goals}); {summary.get('n_trials', '?')} "
        f"trials ({states}). Each is runnable: pareto/trial-N.toml."
    ) + h.table(["trial", *metrics, *params], rows)


def _shares(saved: dict) -> dict[str, str]:
    """importance.json's shares ({name: share} or {"shares": {name: [share, sd]}}) as text."""
    shares = saved.get("shares", saved) if isinstance(saved, dict) else {}
    shown = {}
    for name, value in shares.items():
        if isinstance(value, list | tuple) and len(value) == 2:
            shown[name] = f"{100 * value[0]:.0f}% ± {100 * value[1]:.0f}%"
        elif isinstance(value, int | float):
            shown[name] = f"{100 * value:.0f}%"
    return shown


def _search(folder: Path) -> str:
    shown = [
        h.image(folder / f"{n}.png", n, caption)
        for n, caption in SEARCH_PICTURES.items()
        if (folder / f"{n}.png").is_file()
    ]
    if not shown:
        why = "" if plots.available() else f" matplotlib is not installed; {plots.INSTALL_HINT}."
        return h.paragraph(f"No pictures of the search in this folder.{why}", "note")
    return "\n".join(shown)


def _trials_table(trials: list[dict], summary: dict) -> str:
    if not trials:
        return h.paragraph("No trial finished yet.", "note")
    column = summary.get("metrics", ["value"])[0]  # several objectives: rank by the first
    complete = [t for t in trials if t.get("state") == "COMPLETE" and t.get(column)]
    direction = summary.get("directions", [summary.get("direction", "minimize")])[0]
    ranked = sorted(complete, key=lambda t: float(t[column]), reverse=direction == "maximize")
    ranked = ranked[:TOP_TRIALS]
    columns = [c for c in trials[0] if c not in ("state",)]
    rows = [[_cell(t.get(c)) for c in columns] for t in ranked]
    others = len(trials) - len(ranked)
    note = h.paragraph(
        f"The best {len(ranked)} completed trials; {others} more (pruned, failed "
        "or worse) are in trials.csv.",
        "note",
    )
    return h.table(columns, rows) + note


def _cell(text: str | None) -> object:
    try:
        number = float(text)
    except (TypeError, ValueError):
        return text or ""
    return int(number) if number.is_integer() and "." not in str(text) else number


def _final(folder: Path, summary: dict) -> str:
    final = summary.get("final")
    if not final and "pareto_front" in summary:
        return h.paragraph(
            "Several objectives: no configuration was retrained or tested; pick a point "
            "of the front and train its pareto/trial-N.toml.",
            "note",
        )
    if not final:
        return h.paragraph(
            "The best configuration was not retrained (tune.retrain = false, "
            "or the study stopped early).",
            "note",
        )
    percent = round(100 * final.get("confidence", 0.95))
    parts = [
        f"<p class='big'>test {h.escape(final.get('metric'))} = "
        f"{_number(final.get('value'))} <span class='note'>({percent}% bootstrap CI "
        f"{_number(final.get('ci_low'))} to {_number(final.get('ci_high'))})</span></p>",
        h.paragraph(
            f"The best configuration retrained on {final.get('train_examples', '?')} "
            "training + validation examples; the sealed test set evaluated once. "
            f"Run folder: {final.get('run_dir')} (its own report.html has more)."
        ),
    ]
    curves = folder / "final" / PLOTS / "learning_curves.png"
    if not curves.is_file() and plots.available() and (folder / "final" / "history.csv").is_file():
        history = read_history(folder / "final" / "history.csv")
        history.pop("epoch", None)
        plots.plot_learning_curves(history, curves, "Learning curves of the final run")
    if curves.is_file():
        parts.append(
            h.image(
                curves,
                "final learning curves",
                "Training on train + validation (no validation curve: nothing was held out).",
            )
        )
    return "\n".join(parts)


def _config(folder: Path) -> str:
    source = folder / "tune.toml"
    return h.pre(source.read_text("utf-8")) if source.is_file() else h.paragraph("(no tune.toml)")


def _number(value: object) -> str:
    return f"{value:.4f}" if isinstance(value, float) else h.escape(value)
