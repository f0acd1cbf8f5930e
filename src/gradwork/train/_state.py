"""What a checkpoint captures besides the model: RNG streams, loop position, epoch sums."""

from __future__ import annotations

import random
from typing import Any

import numpy as np

from gradwork import random as gw_random


def rng_state() -> dict:
    """Every random stream the loop can touch: gradwork's, NumPy's legacy global, Python's."""
    return {
        "gradwork": gw_random.get_rng_state(),
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }


def set_rng_state(state: dict) -> None:
    gw_random.set_rng_state(state["gradwork"])
    np.random.set_state(state["numpy"])
    # NOTE: JSON turns Python's nested tuple state into lists; random wants tuples back.
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))


class EpochSums:
    """Running sums for the epoch's logs: the loss (and its terms) weighted by batch size."""

    def __init__(self) -> None:
        self.samples = 0
        self.totals: dict[str, float] = {}

    def add(self, values: dict[str, float], size: int) -> None:
        self.samples += size
        for key, value in values.items():
            self.totals[key] = self.totals.get(key, 0.0) + value * size

    def means(self) -> dict[str, float]:
        return {key: total / max(self.samples, 1) for key, total in self.totals.items()}

    def state_dict(self) -> dict:
        return {"samples": self.samples, "totals": dict(self.totals)}

    def load_state_dict(self, state: dict) -> None:
        self.samples, self.totals = int(state["samples"]), dict(state["totals"])


def batch_size_of(target: Any) -> int:
    shape = getattr(target, "shape", None)
    return int(shape[0]) if shape else len(target)


def split_batch(batch: Any) -> tuple[Any, Any]:
    """(inputs, targets) from a loader's batch."""
    if isinstance(batch, tuple | list) and len(batch) >= 2:
        return batch[0], batch[1]
    raise TypeError(
        f"Trainer: a training batch must be a pair (inputs, targets), got "
        f"{type(batch).__name__}; use a DataLoader over a TensorDataset(x, y)"
    )


def callback_states(callbacks: list) -> list[dict]:
    """The states of the callbacks that have one (stateless ones may differ on resume)."""
    states = [{"class": type(c).__name__, "state": c.state_dict()} for c in callbacks]
    return [s for s in states if s["state"]]


def load_callback_states(callbacks: list, states: list[dict]) -> None:
    """Give each stateful callback its saved state; they must match class by class."""
    stateful = [c for c in callbacks if c.state_dict()]
    saved = [s["class"] for s in states]
    present = [type(c).__name__ for c in stateful]
    if saved != present:
        raise ValueError(
            f"Trainer.resume: the checkpoint was saved with stateful callbacks {saved} but "
            f"this trainer has {present}; build the trainer with the same callbacks, in the "
            "same order, to resume exactly"
        )
    for callback, state in zip(stateful, states, strict=False):
        callback.load_state_dict(state["state"])
