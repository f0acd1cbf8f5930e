"""`gradwork report RUN_DIR [--doctor]`: what a run folder says, in one screen.

Every section reads one file of the run folder (see gradwork.train.run) and
is left out, or says so, when that file is absent: a run stopped in its
first epoch has a config but no history yet.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

from gradwork import train
from gradwork.cli._build import build
from gradwork.cli._commands import read_run_config
from gradwork.diagnose import Finding, doctor
from gradwork.train.build import build_loss, build_metrics
from gradwork.train.config import ConfigError
from gradwork.train.run import best_and_last

# Epoch-log columns that describe the training, not its quality: no "best" for them.
NOT_SCORES = ("lr", "grad_norm", "update_ratio", "dead_relu_fraction", "saturated_fraction")
SPARKS = "▁▂▃▄▅▆▇█"
MAX_ROWS = 12  # longer histories show their first and last epochs (and the best one)


def report_command(args: Any) -> int:
    """Print the report of a run folder; with --doctor, run the doctor on its setup.

    A study folder of `gradwork tune` gets the study's report instead. With --html,
    DIR/report.html is written instead (gradwork.cli._html_report).
    """
    if getattr(args, "html", False):
        from gradwork.cli._html_report import html_report_command

        return html_report_command(args)
    folder = Path(args.run_dir)
    if (folder / "tune.toml").is_file() and not (folder / "config.json").is_file():
        if args.doctor:
            print("--doctor examines a run folder; the study's best run is in final/")
        print(study_report(folder))
        return 0
    run_path, config = read_run_config(args.run_dir)
    run = train.RunFolder(run_path)
    sections = [
        header(run, config),
        config_section(config, run.read_json("data.json", {}), run.read_json("seeds.json", {})),
        history_section(run.history_csv, config["callbacks"]["checkpoint"]["monitor"]),
        tests_section(run.test_records()),
        checkpoints_section(run.checkpoints),
        diagnostics_section(run.read_json("diagnostics.json", {})),
    ]
    print("\n\n".join(section for section in sections if section))
    if args.doctor:
        print("\n" + doctor_section(config))
    return 0


def header(run: train.RunFolder, config: dict) -> str:
    summary = run.read_json("summary.json", {})
    title = f"run {run.path.name} ({config['name']})"
    if not summary:
        return f"{title}\nstatus: no summary.json yet (training never finished an epoch?)"
    seconds = summary.get("durations", {}).get("train_seconds")
    parts = [
        f"status: {summary.get('status', '?')}",
        f"{summary.get('epochs_completed', '?')} epochs, {summary.get('global_step', '?')} steps",
        f"{seconds:.1f}s training" if isinstance(seconds, int | float) else "",
        f"updated {summary['updated']}" if "updated" in summary else "",
    ]
    return f"{title}\n" + "  ·  ".join(part for part in parts if part)


# ------------------------------------------------------------------- config
def config_section(config: dict, info: dict, seeds: dict) -> str:
    metrics = _metrics(config, info)
    rows = [
        ("data", _data_line(config["data"], info)),
        ("model", _model_line(config["model"])),
        ("optimizer", _call_line(config["optimizer"])),
        ("scheduler", _scheduler_line(config["scheduler"])),
        ("loss", _call_line(config["loss"]) + _auto_loss(config, info)),
        ("training", f"{config['train']['epochs']} epochs, metrics " + ", ".join(metrics)),
        ("callbacks", _callbacks_line(config["callbacks"])),
        ("seeds", ", ".join(f"{k} {v}" for k, v in seeds.items()) or "(no seeds.json)"),
    ]
    return "config\n" + "\n".join(f"  {name:<10} {text}" for name, text in rows)


def _auto_loss(config: dict, info: dict) -> str:
    """What loss.name = "auto" became (the CLI's own builder decides)."""
    if config["loss"]["name"] != "auto" or "task" not in info:
        return ""

    return f" → {type(build_loss(config['loss'], info)).__name__}"


def _metrics(config: dict, info: dict) -> list[str]:
    """The metric names, with "auto" resolved by the CLI's own builder."""
    if "task" not in info:
        return config["train"]["metrics"]

    return build_metrics(config["train"]["metrics"], info)


def _data_line(spec: dict, info: dict) -> str:
    name = spec["name"] + (f" ({spec['path']})" if spec["path"] else "")
    if spec["name"] in ("moons", "xor", "circles", "spirals", "regression"):
        name += f", {spec['n_samples']} samples, noise {spec['noise']:g}"
    split = "/".join(f"{s:g}" for s in spec["split"])
    line = f"{name}, split {split}, batch {spec['batch_size']}"
    if info:
        sizes = "/".join(str(n) for n in info.get("sizes", {}).values())
        shape = "x".join(map(str, info.get("input_shape", [])))
        line += f"; {info.get('task', '?')}, inputs {shape}, {info.get('outputs', '?')} outputs"
        line += f", {sizes} samples" if sizes else ""
    return line


def _model_line(spec: dict) -> str:
    if spec["layers"]:
        return "layers: " + " → ".join(str(layer.get("type", "?")) for layer in spec["layers"])
    keys = {"mlp": ("hidden", "activation", "dropout"), "resnet-small": ("channels",)}
    chosen = keys.get(spec["arch"], ("channels", "hidden", "activation", "dropout"))
    return spec["arch"] + ", " + ", ".join(f"{k} {spec[k]}" for k in chosen)


def _call_line(spec: dict) -> str:
    arguments = ", ".join(f"{k}={v}" for k, v in spec.items() if k != "name")
    return f"{spec['name']}({arguments})" if arguments else spec["name"]


def _scheduler_line(spec: dict) -> str:
    if not spec["name"]:
        return "none"
    rest = {k: v for k, v in spec.items() if k not in ("interval", "monitor")}
    return f"{_call_line(rest)} per {spec['interval']}"


def _callbacks_line(spec: dict) -> str:
    parts = ["terminate_on_nan"] if spec["terminate_on_nan"] else []
    stopping = spec["early_stopping"]
    if stopping["enabled"]:
        parts.append(f"early_stopping({stopping['monitor']}, patience {stopping['patience']})")
    checkpoint = spec["checkpoint"]
    parts.append(f"checkpoint(best by {checkpoint['monitor']})")
    monitor = spec["monitor"]
    watched = [k for k in ("gradients", "activations") if monitor[k]]
    if watched:
        parts.append(f"monitor({', '.join(watched)}, every {monitor['every']})")
    return ", ".join(parts)


# ------------------------------------------------------------------ history
def read_history(path: Path) -> dict[str, list]:
    """history.csv as {column: [values]} (numbers where they parse; NaN for blanks)."""
    if not path.is_file():
        return {}
    with open(path, newline="") as stream:
        rows = list(csv.DictReader(stream))
    columns = list(rows[0]) if rows else []
    return {column: [_number(row.get(column)) for row in rows] for column in columns}


def _number(text: str | None) -> Any:
    try:
        return float(text) if text not in (None, "") else math.nan
    except ValueError:
        return text


def history_section(path: Path, monitor: str) -> str:
    history = read_history(path)
    epochs = len(history.get("epoch", []))
    if not epochs:
        return "history: no epoch finished yet (history.csv is empty or missing)"
    columns = [c for c in history if c != "epoch"]
    best, last = best_and_last({c: history[c] for c in columns if c not in NOT_SCORES}, {})
    best_epoch = best.get(monitor, {}).get("epoch")
    marked = None if best_epoch is None else best_epoch - 1  # a row index
    lines = [f"history ({epochs} epochs; * = best {monitor})" if marked is not None
             else f"history ({epochs} epochs)"]  # fmt: skip
    lines += _table(history, columns, _shown_rows(epochs, marked), marked)
    lines.append("best: " + "  ".join(
        f"{c} {_fmt(b['value'])} (epoch {b['epoch']})" for c, b in best.items()))  # fmt: skip
    lines.append("last: " + "  ".join(f"{c} {_fmt(last[c])}" for c in best))
    width = len("val_loss") if "val_loss" in history else len("loss")
    for column in ("loss", "val_loss"):
        if column in history:
            values = history[column]
            lines.append(f"{column:<{width}} {sparkline(values)}  {_fmt(values[0])} → "
                         f"{_fmt(values[-1])}")  # fmt: skip
    return "\n".join(lines)


def _shown_rows(epochs: int, marked: int | None) -> list[int | None]:
    """Row indices to print; None stands for the elided middle."""
    if epochs <= MAX_ROWS:
        return list(range(epochs))
    head, tail = list(range(4)), list(range(epochs - 5, epochs))
    middle = [marked] if marked is not None and 4 <= marked < epochs - 5 else []
    return [*head, None, *middle, *([None] if middle else []), *tail]


def _table(history: dict, columns: list[str], rows: list, marked: int | None) -> list[str]:
    header = ["epoch", *columns]
    cells = [header]
    for index in rows:
        if index is None:
            cells.append(["…"] + [""] * len(columns))
            continue
        star = "*" if index == marked else ""
        cells.append([f"{index + 1}{star}", *(_fmt(history[c][index]) for c in columns)])
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return [
        "  " + "  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=False))
        for row in cells
    ]


def sparkline(values: list[float], width: int = 40) -> str:
    """One character per epoch (averaged into `width` buckets), ▁ lowest … █ highest.

    Example:
        >>> sparkline([4.0, 2.0, 1.0, 0.5, float("nan")])
        '█▄▂▁ '
    """
    if len(values) > width:
        size = len(values) / width
        buckets = [values[int(i * size) : int((i + 1) * size)] for i in range(width)]
        values = [_mean(bucket) for bucket in buckets]
    finite = [v for v in values if isinstance(v, float) and math.isfinite(v)]
    if not finite:
        return " " * len(values)
    low, span = min(finite), (max(finite) - min(finite)) or 1.0
    return "".join(
        SPARKS[round((v - low) / span * (len(SPARKS) - 1))] if v in finite else " " for v in values
    )


def _mean(bucket: list[float]) -> float:
    finite = [v for v in bucket if isinstance(v, float) and math.isfinite(v)]
    return sum(finite) / len(finite) if finite else math.nan


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.4g}"
    return str(value)


# ------------------------------------------- tests, checkpoints, diagnostics
def tests_section(records: list[dict]) -> str:
    if not records:
        return "test set: not evaluated (sealed)"
    lines = [f"test set: evaluated {len(records)} time{'s' if len(records) > 1 else ''}"]
    for record in records:
        forced = "  FORCED (re-opened with --force)" if record.get("forced") else ""
        metrics = "  ".join(f"{k} {_fmt(v)}" for k, v in record.get("metrics", {}).items())
        lines.append(f"  {record.get('time', '?')}  after epoch {record.get('epoch', '?')}  "
                     f"{metrics}{forced}")  # fmt: skip
    return "\n".join(lines)


def checkpoints_section(folder: Path) -> str:
    files = sorted(folder.glob("*.npz")) if folder.is_dir() else []
    if not files:
        return "checkpoints: none"
    parts = [f"{path.name} ({path.stat().st_size / 1024:.1f} KiB)" for path in files]
    return "checkpoints: " + ", ".join(parts)


def diagnostics_section(saved: dict) -> str:
    """The monitor callbacks' findings ([callbacks.monitor]), as they printed them."""
    if not saved:
        return ""

    lines = ["monitors"]
    for name, entry in saved.items():
        findings = [Finding(**finding) for finding in entry.get("findings", [])]
        lines.append(f"  {name} ({entry.get('scope', '')}):")
        body = [str(f) for f in findings] or ["✓ no problem flagged"]
        lines += ["    " + line for text in body for line in text.splitlines()]
    return "\n".join(lines)


def study_report(folder: Path) -> str:
    """A `gradwork tune` study folder: its trials, the best one and the final test."""
    result = _read_json(folder / "summary.json")
    trials = _read_trials(folder / "trials.csv")
    lines = [f"study {folder.name}"]
    if not result:
        lines.append(
            f"status: no summary.json yet (stopped early?); {len(trials)} trials in trials.csv. "
            f"Continue with: gradwork tune --resume {folder}"
        )
    else:
        states = ", ".join(f"{n} {s.lower()}" for s, n in sorted(result.get("states", {}).items()))
        lines.append(f"{result.get('n_trials', '?')} trials ({states})")
        if "pareto_front" in result:  # several objectives (tune.metric = [...])
            goals = zip(result.get("metrics", []), result.get("directions", []), strict=False)
            lines.append("Pareto front (" + ", ".join(f"{d} {m}" for m, d in goals) + "):")
            for row in result["pareto_front"]:
                values = "  ".join(f"{m} {_fmt(v)}" for m, v in row["values"].items())
                lines.append(f"  trial {row['trial']}  {values}  config {row['config']}")
            return "\n".join(lines)
        lines.append(
            f"best trial {result.get('best_trial', '?')}: {result.get('metric', '?')} = "
            f"{_fmt(result.get('best_value'))}"
        )
        lines += [f"  {k} = {v:.4g}" if isinstance(v, float) else f"  {k} = {v}"
                  for k, v in result.get("best_params", {}).items()]  # fmt: skip
    complete = [t for t in trials if t.get("state") == "COMPLETE" and t.get("value")]
    if complete:
        reverse = result.get("direction", "minimize") == "maximize"
        ranked = sorted(complete, key=lambda t: float(t["value"]), reverse=reverse)[:5]
        lines.append("top trials: " + ", ".join(f"#{t['number']} {float(t['value']):.4g}"
                                                for t in ranked))  # fmt: skip
    final = result.get("final")
    if final:
        lines.append(
            f"test {final.get('metric')} = {_fmt(final.get('value'))} (95% bootstrap CI "
            f"{_fmt(final.get('ci_low'))} to {_fmt(final.get('ci_high'))}), run folder "
            f"{final.get('run_dir')}"
        )
    if (folder / "best_config.toml").is_file():
        lines.append(f"best config: {folder / 'best_config.toml'} (gradwork train runs it)")
    return "\n".join(lines)


def _read_json(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        value = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConfigError(f"{str(path)!r} is not valid JSON ({error})") from None
    return value if isinstance(value, dict) else {}


def _read_trials(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with open(path, newline="") as stream:
        return list(csv.DictReader(stream))


def doctor_section(config: dict) -> str:
    """Rebuild the run's setup from its config (fresh weights, as at the start) and examine it."""

    session = build(config)  # the CLI's own builders: the same model, optimizer and data
    batch = next(iter(session.loaders["train"]))
    report = doctor(session.model, session.loss, batch, optimizer=session.optimizer)
    title = "doctor (the run's setup rebuilt from config.json, one training batch)"
    return f"{title}\n{report}"
