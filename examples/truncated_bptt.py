"""Truncated backpropagation through time: an LSTM learns a long signal chunk by chunk.

Run: python examples/truncated_bptt.py [--quick]

A 4,000-step signal (a sum of two sines plus noise) is too long to
backpropagate through in one piece, so it is cut into chunks of 40 steps.
The hidden state is carried from chunk to chunk, so the model sees the whole
history, but it is *detached* at each boundary, so each backward pass stops
at the start of its chunk:

    output, state = lstm(chunk, state)
    loss.backward()
    state = tuple(s.detach() for s in state)   # (h, c); for RNN/GRU: state.detach()

Forget the detach and the second backward reaches into the first chunk's
graph, which the first backward already freed; gradwork then stops with an
error that says to detach the state. The script shows that error first.
"""

from __future__ import annotations

import argparse

import numpy as np

import gradwork as gw
from gradwork import nn, optim

CHUNK, BATCH, HIDDEN = 40, 8, 32


def make_signal(steps: int, rng: np.random.Generator) -> np.ndarray:
    """(steps, batch, 1): each batch row the same two sines at a different phase, plus noise."""
    t = np.arange(steps)[:, None] + rng.uniform(0, 100, BATCH)[None, :]
    signal = np.sin(0.07 * t) + 0.5 * np.sin(0.23 * t) + 0.05 * rng.standard_normal(t.shape)
    return signal[:, :, None].astype(np.float32)


class Forecaster(nn.Module):
    """Reads the signal and predicts its next value at every step."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(1, HIDDEN)
        self.head = nn.Linear(HIDDEN, 1)

    def forward(self, x, state=None):
        output, state = self.lstm(x, state)
        return self.head(output), state


def show_the_error_without_detach(model: Forecaster, signal: np.ndarray) -> str:
    criterion = nn.MSELoss()
    state = None
    try:
        for start in (0, CHUNK):
            chunk = gw.tensor(signal[start : start + CHUNK])
            prediction, state = model(chunk, state)  # state NOT detached
            criterion(prediction[:-1], chunk[1:]).backward()
    except RuntimeError as error:
        print(f"Without detach, the second chunk's backward fails:\n  {error}\n")
        return str(error)
    raise AssertionError("expected an error when the state is not detached")


def train(model: Forecaster, signal: np.ndarray, epochs: int) -> list[float]:
    optimizer = optim.Adam(model.parameters(), lr=1e-2)
    criterion = nn.MSELoss()
    losses = []
    for epoch in range(1, epochs + 1):
        state, total, count = None, 0.0, 0
        for start in range(0, len(signal) - 1, CHUNK):
            chunk = gw.tensor(signal[start : start + CHUNK + 1])  # one extra step: the target
            prediction, state = model(chunk[:-1], state)
            loss = criterion(prediction, chunk[1:])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            state = tuple(s.detach() for s in state)  # cut the graph at the chunk boundary
            total, count = total + loss.item(), count + 1
        losses.append(total / count)
        print(f"epoch {epoch}: mean one-step-ahead MSE {losses[-1]:.4f}")
    return losses


def main(quick: bool = False, seed: int = 0) -> dict:
    gw.manual_seed(seed)
    rng = np.random.default_rng(seed)
    signal = make_signal(800 if quick else 4000, rng)
    model = Forecaster()
    message = show_the_error_without_detach(model, signal)
    losses = train(model, signal, epochs=2 if quick else 5)
    print(
        f"signal variance {signal.var():.4f}; final MSE {losses[-1]:.4f} "
        f"({len(signal) // CHUNK} chunks of {CHUNK} steps per epoch)"
    )
    return {"error": message, "losses": losses, "variance": float(signal.var())}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds, for the tests")
    main(parser.parse_args().quick)
