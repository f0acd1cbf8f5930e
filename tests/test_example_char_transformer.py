"""examples/char_transformer.py --quick: the loss falls and the perplexity beats chance."""

from __future__ import annotations

import importlib
import math
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load(name):
    sys.path.insert(0, str(EXAMPLES))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(EXAMPLES))


def test_quick_run_learns_and_samples(capsys):
    result = load("char_transformer").main(quick=True)
    output = capsys.readouterr().out
    history = result["history"]
    assert len(history) == 3
    # The loss falls: from ~log(vocab) at the start to clearly below it.
    assert history[-1]["train_loss"] < history[0]["train_loss"] - 0.3
    assert history[-1]["val_loss"] < history[0]["val_loss"]
    assert history[0]["train_loss"] < math.log(result["vocab_size"]) + 0.5
    perplexity = result["val_perplexity"]
    assert math.isfinite(perplexity) and perplexity < result["vocab_size"]
    assert perplexity == math.exp(result["val_loss"])
    assert f"val perplexity {perplexity:.2f}" in output
    assert output.count("--- sample") == 2 and "The " in output
