"""The sequence-model and autoencoder examples run in quick mode and print real metrics."""

import importlib
import sys
from pathlib import Path

import pytest

from gradwork import plots

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load(name):
    sys.path.insert(0, str(EXAMPLES))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(EXAMPLES))


def check_seq2seq(result, output, tmp_path):
    assert "sequence accuracy" in output and "token accuracy" in output
    assert 0 <= result["sequence_accuracy"] <= result["token_accuracy"] <= 1
    assert result["token_accuracy"] > 0.3  # chance is about 1/13


def check_autoencoders(result, output, tmp_path):
    assert "clean" in output and "masking" in output
    if plots.available():
        assert (tmp_path / "ae.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    else:
        assert "pip install" in output and not (tmp_path / "ae.png").exists()
    assert all(0 < error < 0.1 for errors in result.values() for error in errors.values())
    if "conv plain" in result:  # MNIST found: the conv models are trained too
        plain, denoising = result["conv plain"], result["conv denoising"]
        # Quick mode already shows it for the conv models (the dense ones need the full
        # run): trained on corrupted inputs, the denoiser rebuilds corrupted test images
        # better than the plain autoencoder, which in turn is better on clean ones.
        assert denoising["gaussian"] < plain["gaussian"]
        assert denoising["masking"] < plain["masking"]
        assert plain["clean"] < denoising["clean"]


def check_vanishing(result, output, tmp_path):
    assert "distance" in output
    rnn, lstm_open = result["RNN (tanh)"], result["LSTM, forget bias 1"]
    assert rnn[20] < 1e-3 * rnn[0]  # the vanilla RNN's gradient is all but gone ...
    assert lstm_open[20] / lstm_open[0] > 100 * rnn[20] / rnn[0]  # ... the LSTM's is not


def check_truncated(result, output, tmp_path):
    assert "detach" in result["error"] and "Without detach" in output
    assert result["losses"][-1] < 0.5 * result["variance"]


EXAMPLE_TABLE = {
    "seq2seq_reverse": ({}, check_seq2seq),
    "autoencoders": ({"out": "ae.png"}, check_autoencoders),
    "vanishing_gradients": ({}, check_vanishing),
    "truncated_bptt": ({}, check_truncated),
}


@pytest.mark.parametrize("name", EXAMPLE_TABLE)
def test_example_quick_mode(name, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    kwargs, check = EXAMPLE_TABLE[name]
    result = load(name).main(quick=True, **kwargs)
    check(result, capsys.readouterr().out, tmp_path)
