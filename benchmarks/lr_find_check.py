"""Does `lr_find`'s suggestion train as well as the best of a 12-point learning-rate grid?

For the digits CNN and the moons MLP (examples/configs), this trains the
config once per learning rate of a log grid (1e-4 .. 1, 12 points) and once
at the finder's suggestion, everything else (seed, epochs, data) as in the
config with its callbacks removed, and prints each run's final validation
accuracy. The claim holds for a task when the suggestion's accuracy is within
1 point of the grid's best.

    python benchmarks/lr_find_check.py            # both tasks (minutes on 2 cores)
    python benchmarks/lr_find_check.py moons      # one task
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from gradwork.diagnose import lr_find
from gradwork.train import Trainer
from gradwork.train.build import build
from gradwork.train.config import load_toml, resolve

CONFIGS = Path(__file__).resolve().parents[1] / "examples" / "configs"
TASKS = {"digits": "digits_cnn.toml", "moons": "moons_mlp.toml"}
GRID = np.logspace(-4, 0, 12)


def config_of(task: str, lr: float | None = None) -> dict:
    user = load_toml(CONFIGS / TASKS[task])
    user.pop("callbacks", None)
    if lr is not None:
        user["optimizer"]["lr"] = float(lr)
    return resolve(user)


def val_accuracy(task: str, lr: float) -> float:
    config = config_of(task, lr)
    session = build(config)
    trainer = Trainer(session.model, session.optimizer, session.loss, metrics=["accuracy"])
    trainer.fit(session.loaders["train"], epochs=config["train"]["epochs"])
    return trainer.evaluate(session.loaders["val"])["accuracy"]


def suggestion(task: str):
    session = build(config_of(task))
    return lr_find(session.model, session.loss, session.loaders["train"], session.optimizer,
                   start_lr=1e-6, end_lr=10.0, num_steps=100)  # fmt: skip


def check(task: str) -> None:
    start = time.perf_counter()
    found = suggestion(task)
    print(f"{task}: {found}", flush=True)
    grid = {}
    for lr in GRID:
        grid[float(lr)] = val_accuracy(task, lr)
        print(f"  lr {lr:9.2e}  val accuracy {grid[float(lr)]:.4f}", flush=True)
    best_lr = max(grid, key=grid.get)
    found_accuracy = val_accuracy(task, found.suggestion)
    gap = 100 * (grid[best_lr] - found_accuracy)
    print(f"  suggestion {found.suggestion:.2e}: val accuracy {found_accuracy:.4f}; grid best "
          f"{grid[best_lr]:.4f} at {best_lr:.2e}; gap {gap:.2f} points "
          f"({'within' if gap <= 1 else 'NOT within'} 1 point); "
          f"{time.perf_counter() - start:.0f} s")  # fmt: skip


if __name__ == "__main__":
    for name in sys.argv[1:] or list(TASKS):
        check(name)
