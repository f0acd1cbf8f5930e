"""`build` for the command line: `gradwork.train.build.build` plus gradwork.diagnose's monitors.

The builders live in `gradwork.train.build` so that `gradwork.tune` can build a
run from a config without importing the command line; only [callbacks.monitor]
needs gradwork.diagnose, which sits to the right of train.
"""

from __future__ import annotations

from gradwork import diagnose
from gradwork.train import build as _train_build
from gradwork.train.build import Session


def build_callbacks(spec: dict) -> list:
    """The training callbacks of [callbacks] plus the monitors of [callbacks.monitor]."""
    made = _train_build.build_callbacks(spec)
    monitor = spec["monitor"]
    if monitor["gradients"]:
        made.append(diagnose.GradientMonitorCallback(every=monitor["every"]))
    if monitor["activations"]:
        made.append(diagnose.ActivationMonitorCallback(every=monitor["every"]))
    return made


def build(config: dict, with_data: bool = True, info: dict | None = None) -> Session:
    """`gradwork.train.build.build` with this module's `build_callbacks`."""
    # NOTE: looked up at call time so a test can monkeypatch build_callbacks here.
    return _train_build.build(
        config, with_data, info, make_callbacks=lambda spec: build_callbacks(spec)
    )
