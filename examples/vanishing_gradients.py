"""Why LSTMs: how far back a gradient reaches in a vanilla RNN and in an LSTM.

Run: python examples/vanishing_gradients.py [--quick]

Feed a random sequence of 200 steps through a freshly initialised RNN (tanh)
and an LSTM of the same width, take as loss the sum of the outputs at the LAST
step only, and backpropagate through time. The norm of d(loss)/d(input at step
t) says how much step t can still influence (and be trained by) that loss.
In the vanilla RNN the gradient is multiplied by W_hh^T diag(1 - h^2) at every
step back, so it shrinks geometrically; the LSTM's cell state carries it
through an additive path scaled only by the forget gate, so it fades far more
slowly - the more so when the forget gate starts open (bias 1, a common init).
"""

from __future__ import annotations

import argparse

import numpy as np

import gradwork as gw
from gradwork import nn

HIDDEN, INPUT, BATCH = 64, 8, 16


def gradient_norms(layer: nn.Module, steps: int) -> np.ndarray:
    """||d(sum of outputs at the last step) / d(x_t)|| for every step t, batch-averaged."""
    # NOTE: float64, so the RNN's tiny gradients show instead of underflowing to 0.
    x = gw.randn(steps, BATCH, INPUT, dtype=gw.float64, requires_grad=True)
    output, _ = layer(x)
    output[-1].sum().backward()
    return np.linalg.norm(x.grad.array, axis=2).mean(axis=1)


def main(quick: bool = False, seed: int = 0) -> dict:
    gw.manual_seed(seed)
    steps = 60 if quick else 200
    lstm_open = nn.LSTM(INPUT, HIDDEN)
    with gw.no_grad():  # forget-gate biases (second quarter, gates i, f, g, o) start at 1
        lstm_open.bias_ih_l0.data[HIDDEN : 2 * HIDDEN] = 1.0
        lstm_open.bias_hh_l0.data[HIDDEN : 2 * HIDDEN] = 0.0
    layers = {
        "RNN (tanh)": nn.RNN(INPUT, HIDDEN),
        "LSTM": nn.LSTM(INPUT, HIDDEN),
        "LSTM, forget bias 1": lstm_open,
    }
    norms = {name: gradient_norms(layer.double(), steps) for name, layer in layers.items()}
    distances = [d for d in (0, 1, 2, 5, 10, 20, 50, 100, 150, 199) if d < steps]
    print(
        f"||dL/dx_t|| where L = sum of the outputs at the last step ({steps} steps, "
        f"hidden {HIDDEN}); t = last - distance"
    )
    print(f"{'distance':>9}" + "".join(f"{name:>22}" for name in norms))
    for distance in distances:
        cells = "".join(f"{values[steps - 1 - distance]:22.3e}" for values in norms.values())
        print(f"{distance:9d}{cells}")
    return {name: values[::-1] for name, values in norms.items()}  # index = distance


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a shorter sequence, for the tests")
    main(parser.parse_args().quick)
