"""`gradwork lr-find`, `gradwork diff` and `gradwork train --check-determinism`.

    gradwork lr-find CONFIG.toml [--start-lr 1e-7] [--end-lr 10] [--steps 100] [--plot FILE]
    gradwork diff RUN_A RUN_B [--plot FILE]
    gradwork train CONFIG.toml --check-determinism [--steps N]

Each reads its inputs, calls the library (gradwork.diagnose, gradwork.train)
and prints; nothing is written but the plot asked for.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import numpy as np

from gradwork.cli._build import build
from gradwork.cli._commands import read_run_config
from gradwork.diagnose import lr_find
from gradwork.train.build import Session
from gradwork.train.config import ConfigError, load_toml, resolve
from gradwork.train.devices import model_device, resolve_device, to_device, to_host

NOT_DETERMINISTIC = 1


# -------------------------------------------------------------------- lr-find
def lr_find_command(args: Any) -> int:
    """The range test on the config's model, loss, optimizer and training data."""
    config = resolve(load_toml(args.config) if args.config else {})
    session = build(config)
    result = lr_find(session.model, session.loss, session.loaders["train"], session.optimizer,
                     start_lr=args.start_lr, end_lr=args.end_lr, num_steps=args.steps)  # fmt: skip
    print(result)
    print(f"{'lr':>12} {'loss':>9} {'smoothed':>9}")
    for i in range(0, len(result.lrs), max(1, len(result.lrs) // 12)):
        print(f"   {result.lrs[i]:9.2e} {result.losses[i]:9.4f} {result.smoothed[i]:9.4f}")
    if result.suggestion is not None:
        print(f"to use it: [optimizer] lr = {result.suggestion:.3g}   (config: {config['name']})")
    _plot(lambda path: result.plot(path), args.plot)
    return 0


def _plot(draw: Any, path: str | None) -> None:
    if not path:
        return
    try:
        draw(path)
    except ImportError as error:
        print(f"no plot: {error}")
        return
    print(f"plot: {path}")


# ----------------------------------------------------------------------- diff
def diff_command(args: Any) -> int:
    """Config, seeds and versions that differ between two runs, and where their curves part."""
    runs = [read_run_config(path) for path in (args.run_a, args.run_b)]
    (path_a, config_a), (path_b, config_b) = runs
    print(f"A: {path_a}\nB: {path_b}")
    _print_differences("config", _flatten(config_a), _flatten(config_b))
    for name, key in (("seeds", "seeds.json"), ("versions", "summary.json")):
        a, b = (_read_json(path / key) for path in (path_a, path_b))
        if key == "summary.json":
            a, b = a.get("versions", {}), b.get("versions", {})
        _print_differences(name, _flatten(a), _flatten(b))
    history_a, history_b = _history(path_a), _history(path_b)
    print(_parting(history_a, history_b))
    _plot(lambda path: _plot_histories(history_a, history_b, path), args.plot)
    return 0


def _flatten(value: Any, prefix: str = "") -> dict:
    if not isinstance(value, dict):
        return {prefix: value}
    flat: dict = {}
    for key, item in value.items():
        flat.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def _print_differences(title: str, a: dict, b: dict) -> None:
    keys = sorted(k for k in a.keys() | b.keys() if a.get(k, "-") != b.get(k, "-"))
    if not keys:
        print(f"{title}: the same")
        return
    print(f"{title}: {len(keys)} difference(s)")
    for key in keys:
        print(f"  {key}: {a.get(key, '-')!r} -> {b.get(key, '-')!r}")


def _read_json(path: Path) -> dict:
    import json

    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _history(run: Path) -> dict[str, list[float]]:
    """history.csv as columns of numbers ({} when the run has none)."""
    path = run / "history.csv"
    if not path.is_file():
        return {}
    with path.open(newline="") as file:
        rows = list(csv.DictReader(file))
    columns: dict[str, list[float]] = {}
    for row in rows:
        for key, value in row.items():
            try:
                columns.setdefault(key, []).append(float(value))
            except (TypeError, ValueError):
                columns.setdefault(key, []).append(math.nan)
    return columns


def _parting(a: dict, b: dict, rtol: float = 1e-6) -> str:
    """Where the learning curves part: the first epoch whose logged numbers differ."""
    shared = [k for k in a if k in b and k != "epoch"]
    if not shared:
        return "learning curves: no shared history.csv columns to compare"
    epochs = min(len(a[shared[0]]), len(b[shared[0]]))
    for epoch in range(epochs):
        for key in shared:
            x, y = a[key][epoch], b[key][epoch]
            if not (x == y or abs(x - y) <= rtol * max(abs(x), abs(y))):
                return (f"learning curves: identical for {epoch} epoch(s); they part at epoch "
                        f"{epoch + 1} on {key}: {x:.6g} (A) vs {y:.6g} (B)")  # fmt: skip
    lengths = f"{len(a[shared[0]])} vs {len(b[shared[0]])} epochs"
    return f"learning curves: identical over the {epochs} shared epoch(s) ({lengths})"


def _plot_histories(a: dict, b: dict, path: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError("the plot needs matplotlib: pip install matplotlib") from error
    keys = [k for k in ("loss", "val_loss") if k in a and k in b]
    figure, axes = plt.subplots(figsize=(6, 4))
    for key in keys:
        axes.plot(a.get("epoch"), a[key], label=f"A {key}")
        axes.plot(b.get("epoch"), b[key], linestyle="--", label=f"B {key}")
    axes.set_xlabel("epoch")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


# --------------------------------------------------------- check-determinism
def determinism_command(args: Any) -> int:
    """Run the first steps twice from the same seed; report the first tensor that differs."""
    if args.resume:
        raise ConfigError("--check-determinism starts from the config's seed: drop --resume")
    user = load_toml(args.config) if args.config else {}
    if getattr(args, "device", None):  # train's --device: check determinism on that device
        resolve_device(args.device, key="--device")
        user.setdefault("train", {})["device"] = args.device
    config = resolve(user)
    steps = args.steps
    first, second = _steps(build(config), steps), _steps(build(config), steps)
    for step, (a, b) in enumerate(zip(first, second, strict=True)):
        for name in a:
            if not np.array_equal(a[name], b[name], equal_nan=True):
                gap = _gap(a[name], b[name])
                print(f"not deterministic: step {step + 1} of {steps}, {name} differs (max "
                      f"|Δ| {gap:.3g}) between two runs from seed {config['seed']}")  # fmt: skip
                return NOT_DETERMINISTIC
    print(f"deterministic: {steps} step(s) from seed {config['seed']} gave bit-identical "
          f"losses, gradients, parameters and optimizer state in two runs")  # fmt: skip
    return 0


def _gap(a: np.ndarray, b: np.ndarray) -> float:
    if a.shape != b.shape:
        return math.inf
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)), initial=0.0))


def _steps(session: Session, steps: int) -> list[dict[str, np.ndarray]]:
    """Every tensor of each of the first `steps` training steps, in the order they are made."""
    model, optimizer, loss_fn = session.model, session.optimizer, session.loss
    names = {id(p): name for name, p in model.named_parameters()}
    device = model_device(model)
    model.train()
    records: list[dict[str, np.ndarray]] = []
    batches = iter(session.loaders["train"])
    for _ in range(steps):
        batch = next(batches, None)
        if batch is None:
            batches = iter(session.loaders["train"])
            batch = next(batches)
        x, y = to_device((batch[0], batch[1]), device)
        record = {"batch inputs": np.array(to_host(x)), "batch targets": np.array(to_host(y))}
        output = model(x)
        loss = loss_fn(output, y)
        record["model output"], record["loss"] = np.array(to_host(output)), to_host(loss).copy()
        optimizer.zero_grad()
        loss.backward()
        for p in model.parameters():
            grad = p.grad
            record[f"gradient of {names[id(p)]}"] = None if grad is None else to_host(grad).copy()
        optimizer.step()
        for name, value in model.state_dict().items():
            record[f"parameter {name}"] = np.array(to_host(value))
        for index, state in optimizer.state_dict()["state"].items():
            for key, value in state.items():
                record[f"optimizer state {index}.{key}"] = np.array(to_host(value))
        records.append({k: v for k, v in record.items() if v is not None})
    return records
