"""`gradwork report RUN_DIR --html`: one self-contained report.html for a run folder.

The page holds the config, the data and model summaries, the learning curves, the
monitors' and the doctor's findings with their fixes, the sealed test result with its
bootstrap interval, and every picture that applies to the run (gradwork.plots): gradient
flow and activations (from diagnostics.json), the confusion matrix, misclassified images,
first-layer filters and decision boundaries (from the best checkpoint on validation data;
the test set stays sealed). The PNGs are kept in the run folder's plots/ as well.
`gradwork train` writes it at the end of a run; study folders: _html_study.py.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

from gradwork import _arrays, plots, train
from gradwork.cli import _html as h
from gradwork.cli._commands import read_run_config
from gradwork.cli._figures import model_figures
from gradwork.cli._report import read_history
from gradwork.cli._toml import dumps
from gradwork.data.bootstrap import bootstrap_ci
from gradwork.diagnose import Finding, doctor
from gradwork.train.callbacks import monitor_mode

REPORT_FILE = "report.html"
PLOTS = "plots"  # the run folder's pictures


class Figures:
    """Draws pictures into a folder; remembers what could not be drawn, and why."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.drawn, self.notes = folder, {}, []
        self.missing = not plots.available()
        if self.missing:
            self.notes.append(f"No pictures: matplotlib is not installed; {plots.INSTALL_HINT}.")

    def draw(self, name: str, caption: str, function: Any, *args: Any, **kwargs: Any) -> None:
        if self.missing:
            return
        try:
            path = function(*args, self.folder / f"{name}.png", **kwargs)
        except Exception as error:  # one picture failing must not cost the report
            note = f"{name}.png could not be drawn: {type(error).__name__}: {error}"
            self.notes.append(note)
            print(f"warning: {note}", file=sys.stderr)
            return
        self.drawn[name] = (path, caption)

    def html(self, *names: str) -> str:
        return "".join(
            h.image(self.drawn[n][0], n, self.drawn[n][1]) for n in names if n in self.drawn
        )


def write_run_report(run_dir: str | Path, with_doctor: bool = True) -> Path:
    """Draw the run's pictures into RUN_DIR/plots and write RUN_DIR/report.html."""
    run_path, config = read_run_config(str(run_dir))
    run = train.RunFolder(run_path)
    figures = Figures(run.path / PLOTS)
    info = run.read_json("data.json", {})
    history = {k: v for k, v in read_history(run.history_csv).items() if k != "epoch"}
    monitor = config["callbacks"]["checkpoint"]["monitor"]
    best = _best_epoch(history, monitor)
    if history:
        figures.draw(
            "learning_curves",
            f"Per epoch; dotted line: the best {monitor} (checkpoints/best.npz).",
            plots.plot_learning_curves,
            history,
            title=f"Learning curves: {config['name']}",
            best_epoch=best,
        )
    saved = run.read_json("diagnostics.json", {})
    _monitor_figures(figures, saved)
    session, notes = model_figures(figures, run, config, info)
    sections = [
        ("summary", "Summary", _summary(run, config, history, monitor, best)),
        ("config", "Configuration", h.pre(dumps(config))),
        ("data", "Data", _data(config, info)),
        ("model", "Model", _model(session, info)),
        (
            "curves",
            "Learning curves",
            figures.html("learning_curves")
            or h.paragraph("No epoch finished yet (history.csv is empty).", "note"),
        ),
        ("findings", "Findings: monitors and doctor", _findings(saved, session, with_doctor)),
        ("test", "Test result", _test(run)),
        ("plots", "Pictures", _pictures(figures, notes)),
    ]
    status = run.read_json("summary.json", {}).get("status", "unknown")
    subtitle = f"{run.path} · status {status} · {len(next(iter(history.values()), []))} epochs"
    target = run.path / REPORT_FILE
    target.write_text(h.page(f"gradwork run {run.path.name}", subtitle, sections), "utf-8")
    return target


def _best_epoch(history: dict, monitor: str) -> int | None:
    values = np.array([v if isinstance(v, float) else math.nan for v in history.get(monitor, [])])
    if not np.isfinite(values).any():
        return None
    return int(
        np.nanargmin(values) if monitor_mode(monitor, "auto") == "min" else np.nanargmax(values)
    )


def _monitor_figures(figures: Figures, saved: dict) -> None:
    series = saved.get("gradient monitor", {}).get("series")
    if series and series.get("steps"):
        figures.draw(
            "gradient_flow",
            "Gradient norm of each layer at the recorded training steps ([callbacks.monitor]).",
            plots.plot_gradient_flow,
            series["layers"],
            series["steps"],
        )
    layers = saved.get("activation monitor", {}).get("layers")
    if layers:
        scope = saved["activation monitor"].get("scope", "")
        figures.draw(
            "activations", f"Activation statistics ({scope}).", plots.plot_activation_stats, layers
        )


def _summary(run, config, history, monitor, best) -> str:
    summary = run.read_json("summary.json", {})
    rows = [
        ("run", run.path.name),
        ("config name", config["name"]),
        ("status", summary.get("status", "?")),
        ("epochs", summary.get("epochs_completed", len(history.get("loss", [])))),
    ]
    seconds = summary.get("durations", {}).get("train_seconds")
    if isinstance(seconds, int | float):
        rows.append(("training time", f"{seconds:.1f} s"))
    if best is not None:
        rows.append((f"best {monitor}", f"{history[monitor][best]:.4g} (epoch {best + 1})"))
    for record in run.test_records()[:1]:
        rows.append(
            (
                "test",
                "  ".join(
                    f"{k} {v:.4g}" for k, v in record["metrics"].items() if isinstance(v, float)
                ),
            )
        )
    versions = summary.get("versions", {})
    if versions:
        rows.append(("versions", ", ".join(f"{k} {v}" for k, v in versions.items())))
    return h.table(["", ""], rows)


def _data(config: dict, info: dict) -> str:
    spec = config["data"]
    rows = [
        ("data set", spec["name"] + (f" ({spec['path']})" if spec.get("path") else "")),
        ("task", info.get("task", "?")),
        ("input shape (one sample)", " x ".join(map(str, info.get("input_shape", [])))),
        ("outputs", info.get("outputs", "?")),
        ("split (train/val/test)", "/".join(f"{s:g}" for s in spec["split"])),
        ("batch size", spec["batch_size"]),
    ]
    rows += [(f"{name} examples", count) for name, count in info.get("sizes", {}).items()]
    rows += [
        (k, v) for k, v in info.items() if k not in ("task", "input_shape", "outputs", "sizes")
    ]
    return h.table(["", ""], rows)


def _model(session: Any, info: dict) -> str:
    if session is None:
        return h.paragraph("The model could not be rebuilt from config.json.", "note")
    from gradwork.nn import summary

    table = summary(session.model, (1, *info.get("input_shape", [])))
    return h.pre(str(table))


def _findings(saved: dict, session: Any, with_doctor: bool) -> str:
    parts = []
    for name, entry in saved.items():
        parts.append(
            f"<h3>{h.escape(name)} <span class='note'>({h.escape(entry.get('scope', ''))})"
            "</span></h3>"
        )
        found = [Finding(**f) for f in entry.get("findings", [])]
        parts += [
            h.finding(f.check, f.severity, f.message, f.fix, ", ".join(f.layers)) for f in found
        ] or [h.finding(name, "ok", "no problem flagged")]
    if not saved:
        parts.append(
            h.paragraph(
                "No monitor ran during training (add [callbacks.monitor] "
                "gradients = true, activations = true).",
                "note",
            )
        )
    if with_doctor and session is not None and session.loaders.get("train") is not None:
        parts.append(
            "<h3>doctor <span class='note'>(the run's setup rebuilt from config.json, "
            "fresh weights, one training batch)</span></h3>"
        )
        try:
            batch = next(iter(session.loaders["train"]))
            report = doctor(session.model, session.loss, batch, optimizer=session.optimizer)
            parts += [
                h.finding(f.check, f.severity, f.message, f.fix, ", ".join(f.layers))
                for f in report.findings
            ]
        except Exception as error:  # the doctor is advice; its failure is not the run's
            parts.append(h.paragraph(f"the doctor could not run: {error}", "note"))
    return "\n".join(parts)


def _test(run: train.RunFolder) -> str:
    records = run.test_records()
    if not records:
        return h.paragraph("The sealed test set was not evaluated in this run.", "note")
    saved = run.read_json("summary.json", {}).get("test_ci", {})
    intervals = {n: ci for n, ci in saved.items() if {"estimate", "low", "high"} <= set(ci)}
    parts = []
    for name, ci in intervals.items():
        percent = round(100 * ci["confidence"])
        parts.append(
            f"<p class='big'>test {h.escape(name)} = {ci['estimate']:.4f} "
            f"<span class='note'>({percent}% bootstrap CI {ci['low']:.4f} to "
            f"{ci['high']:.4f})</span></p>"
        )
    if not intervals:
        parts.append(h.paragraph("No bootstrap interval was recorded for this run.", "note"))
    rows = [
        (
            r.get("time", "?"),
            r.get("epoch", "?"),
            "yes" if r.get("forced") else "no",
            "  ".join(
                f"{k} {v:.4g}" for k, v in r.get("metrics", {}).items() if isinstance(v, float)
            ),
        )
        for r in records
    ]
    parts.append(h.table(["evaluated", "after epoch", "forced", "metrics"], rows))
    return "\n".join(parts)


def _pictures(figures: Figures, notes: list[str]) -> str:
    shown = [n for n in figures.drawn if n != "learning_curves"]
    parts = [figures.html(*shown)] if shown else []
    parts += [h.paragraph(note, "note") for note in [*figures.notes, *notes]]
    return "\n".join(parts) or h.paragraph("No picture applies to this run.", "note")


def record_test_interval(
    tester: train.Trainer, session: Any, loader: Any, run: train.RunFolder, seed: int = 0
) -> Any:
    """Bootstrap interval of the first metric (or the loss) over the test examples just
    evaluated; stored as summary.json's test_ci and printed. The same predictions, no
    second look at anything else."""
    names = [getattr(m, "name", m) for m in session.metrics]
    name = next((n for n in names if isinstance(n, str)), "loss")
    outputs = tester.predict(loader).numpy()
    # The bootstrap runs on the host: device targets are copied there, explicitly.
    batches = [_arrays.to_host(getattr(b[1], "array", b[1])) for b in loader]
    targets = np.concatenate([np.asarray(batch) for batch in batches])
    if name == "loss":
        from gradwork.tensor import Tensor

        def score(out: np.ndarray, y: np.ndarray) -> float:
            return session.loss(Tensor(out), Tensor(y)).item()
    else:
        metric = train.get_metric(name)

        def score(out: np.ndarray, y: np.ndarray) -> float:
            metric.reset()
            metric.update(out, y)
            return float(metric.compute())

    ci = bootstrap_ci(score, outputs, targets, n_resamples=1000, seed=seed)
    fields = {"estimate": ci.estimate, "low": ci.low, "high": ci.high, "confidence": ci.confidence}
    run.update_summary(test_ci={name: fields})
    print(
        f"  test {name} {ci.estimate:.4f}, {round(100 * ci.confidence)}% bootstrap CI "
        f"{ci.low:.4f} to {ci.high:.4f} ({len(targets)} examples)"
    )
    return ci


def html_report_command(args: Any) -> int:
    """`gradwork report DIR --html`: write DIR/report.html (a run or a study folder)."""
    from gradwork.cli._html_study import is_study_folder, write_study_report

    folder = Path(args.run_dir)
    if is_study_folder(folder):
        path = write_study_report(folder)
    else:
        path = write_run_report(folder, with_doctor=True)
    print(f"report: {path}")
    return 0


def report_at_end(folder: Path, study: bool = False) -> Path | None:
    """Write report.html at the end of `gradwork train` / `gradwork tune` and print its path.

    Without matplotlib the page is written without pictures, and the console says how to
    get them. A report that cannot be written is a warning: the run itself succeeded.
    """
    from gradwork.cli._html_study import write_study_report

    if not plots.available():
        print(f"no pictures: matplotlib is not installed; {plots.INSTALL_HINT}")
    try:
        path = write_study_report(folder) if study else write_run_report(folder)
    except Exception as error:
        print(f"warning: report.html could not be written: {type(error).__name__}: {error}")
        return None
    print(f"report: {path}")
    return path
