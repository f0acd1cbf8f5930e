"""The arguments of `gradwork lr-find`, `gradwork diff` and `train --check-determinism`.

Kept apart from `_diagnose_commands.py` (which imports gradwork.diagnose) so
that `gradwork --help` stays fast.
"""

from __future__ import annotations

import argparse
from typing import Any


def add_diagnose_commands(commands: Any, fit: argparse.ArgumentParser) -> None:
    """Add `lr-find` and `diff` to the subcommands, and `--check-determinism` to `train`."""
    fit.add_argument(
        "--check-determinism",
        action="store_true",
        help="run the first --steps steps twice from the seed; report the first tensor that "
        "differs (exit 1), write nothing",
    )
    fit.add_argument("--steps", type=int, default=5, help="steps for --check-determinism")
    finder = commands.add_parser("lr-find", help="learning-rate range test on a config's setup")
    finder.add_argument("config", nargs="?", help="TOML file; omit for the built-in digits CNN")
    finder.add_argument("--start-lr", type=float, default=1e-7)
    finder.add_argument("--end-lr", type=float, default=10.0)
    finder.add_argument("--steps", type=int, default=100)
    finder.add_argument("--plot", metavar="FILE", help="save the loss-vs-lr plot (PNG)")
    diff = commands.add_parser("diff", help="compare two run folders: config, seeds, curves")
    diff.add_argument("run_a", metavar="RUN_A")
    diff.add_argument("run_b", metavar="RUN_B")
    diff.add_argument("--plot", metavar="FILE", help="save both learning curves overlaid (PNG)")
