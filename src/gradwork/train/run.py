"""Run folders: one folder per training run holding everything needed to trust it later.

Layout::

    runs/20250101-120000-digits/
        config.json        the resolved configuration (every default filled in)
        config.toml        the file the run was started from, verbatim (command line)
        seeds.json         the seeds used
        history.csv        one row per epoch (CSVLogger)
        checkpoints/       last.npz (resume from here) and best.npz
        tests.json         every evaluation of the sealed test set, with time and `forced`
        summary.json       best/last metrics, test evaluations (test_ci: bootstrap interval),
                           durations, versions
        diagnostics.json   the monitors' findings and series ([callbacks.monitor])
        report.html        everything above on one page, pictures embedded (gradwork train)
        plots/             the report's PNGs (with the plot extra, matplotlib)
"""

from __future__ import annotations

import json
import os
import platform
import sys
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from gradwork.serialization import FileFormatError
from gradwork.train.checkpoint import atomic_write


class RunFolder:
    """Paths and writers for one run folder (created on construction).

    Example:
        >>> import tempfile
        >>> run = RunFolder(tempfile.mkdtemp() + "/demo")
        >>> run.write_json("seeds.json", {"seed": 0}).name
        'seeds.json'
        >>> run.read_json("seeds.json")
        {'seed': 0}
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.checkpoints.mkdir(exist_ok=True)

    @classmethod
    def create(cls, parent: str | os.PathLike, name: str) -> RunFolder:
        """A new folder `parent/<YYYYmmdd-HHMMSS>-<name>` (a suffix keeps it unique)."""
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        base = Path(parent) / f"{stamp}-{name}"
        path, suffix = base, 1
        while path.exists():
            suffix += 1
            path = base.with_name(f"{base.name}-{suffix}")
        return cls(path)

    checkpoints = property(lambda self: self.path / "checkpoints")
    history_csv = property(lambda self: self.path / "history.csv")
    last_checkpoint = property(lambda self: self.checkpoints / "last.npz")
    best_checkpoint = property(lambda self: self.checkpoints / "best.npz")

    def remove_temporaries(self) -> list[Path]:
        """Delete what an atomic write killed mid-way left: `.<name>.<random>.tmp` files.

        Call it only when no other process writes this folder (e.g. when a run resumes).
        """
        removed = []
        for folder in (self.path, self.checkpoints):
            for path in folder.glob(".*.tmp"):
                if path.is_file():
                    path.unlink(missing_ok=True)
                    removed.append(path)
        return removed

    def write_json(self, name: str, value: Any) -> Path:
        """Write `value` as indented JSON to `name` in the folder, atomically."""
        text = json.dumps(_plain(value), indent=2) + "\n"
        atomic_write(self.path / name, lambda stream: stream.write(text), mode="w")
        return self.path / name

    def read_json(self, name: str, default: Any = None) -> Any:
        path = self.path / name
        if not path.is_file():
            return default
        try:
            return json.loads(path.read_text())
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise FileFormatError(
                f"{str(path)!r} is not valid JSON ({error}); the run folder is damaged: "
                "restore the file or delete it"
            ) from None

    def test_records(self) -> list[dict]:
        """Every recorded evaluation of the sealed test set, oldest first."""
        return self.read_json("tests.json", [])

    def record_test(self, metrics: dict, forced: bool, epoch: int) -> dict:
        """Append one test evaluation to tests.json and return the record."""
        record = {
            "time": datetime.now().isoformat(timespec="seconds"),
            "forced": forced,
            "epoch": epoch,
            "metrics": metrics,
        }
        self.write_json("tests.json", [*self.test_records(), record])
        return record

    def update_summary(self, **fields: Any) -> Path:
        """Merge `fields` into summary.json (written atomically) and refresh the versions."""
        summary = self.read_json("summary.json", {})
        summary.update(fields)
        summary["tests"] = self.test_records()
        summary["versions"] = versions()
        summary["updated"] = datetime.now().isoformat(timespec="seconds")
        return self.write_json("summary.json", summary)


def versions() -> dict:
    """Versions of what produced the numbers: gradwork, NumPy, Python, the platform."""
    return {
        "gradwork": metadata.version("gradwork"),
        "numpy": np.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }


def best_and_last(history: dict[str, list], modes: dict[str, str]) -> tuple[dict, dict]:
    """The best value (and its epoch) and the last value of every logged quantity."""
    from gradwork.train.callbacks import monitor_mode

    best, last = {}, {}
    for key, values in history.items():
        numbers = [v for v in values if isinstance(v, int | float) and v == v]  # drop NaN
        if not values:
            continue
        last[key] = values[-1]
        if not numbers:
            continue
        mode = modes.get(key) or monitor_mode(key, "auto")
        value = min(numbers) if mode == "min" else max(numbers)
        # NOTE: epochs are numbered from 1 in every file a run writes, as on the console.
        best[key] = {"value": value, "epoch": values.index(value) + 1, "mode": mode}
    return best, last


def _plain(value: Any) -> Any:
    """JSON-ready: NumPy numbers and arrays become Python numbers and lists."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value
