"""Test-only stand-ins: a linear model with dropout, SGD with momentum, a seeded loader.

They follow the interfaces of gradwork.nn / optim / data (state_dict and
load_state_dict everywhere) so the loop, callbacks and checkpoints can be tested
on core tensors alone.
"""

from __future__ import annotations

import numpy as np

import gradwork as gw
from gradwork import random, train
from tests.helpers import to_numpy


class TinyLinear:
    """x @ w + b, with optional inverted dropout on the input drawn from gradwork's stream."""

    def __init__(self, inputs: int, outputs: int, dropout: float = 0.0) -> None:
        self.weight = gw.randn(inputs, outputs) * 0.1
        self.weight.requires_grad_()
        self.bias = gw.zeros(outputs, requires_grad=True)
        self.dropout, self.training = dropout, True

    def parameters(self):
        return [self.weight, self.bias]

    def state_dict(self):
        return {"weight": self.weight.array.copy(), "bias": self.bias.array.copy()}

    def load_state_dict(self, state):
        # gw.tensor: a copy on the default device (or on the saved array's own)
        self.weight.array = gw.tensor(state["weight"], dtype=gw.float32).array
        self.bias.array = gw.tensor(state["bias"], dtype=gw.float32).array

    def train(self, mode=True):
        self.training = mode
        return self

    def eval(self):
        return self.train(False)

    def __call__(self, x):
        if self.training and self.dropout:
            keep = random.generator().random(x.shape) >= self.dropout
            x = x * gw.tensor(keep.astype(np.float32) / (1 - self.dropout))
        return x @ self.weight + self.bias


class TinySGD:
    """SGD with momentum; state_dict holds the momentum buffers keyed by index."""

    def __init__(self, params, lr=0.1, momentum=0.0) -> None:
        self.params = list(params)
        self.param_groups = [{"lr": lr, "momentum": momentum}]
        self.state = {}

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def step(self):
        group = self.param_groups[0]
        for index, p in enumerate(self.params):
            if p.grad is None:
                continue
            buffer = self.state.get(index)
            g = p.grad.array
            buffer = g.copy() if buffer is None else group["momentum"] * buffer + g
            self.state[index] = buffer
            p.array = p.array - group["lr"] * buffer

    def state_dict(self):
        return {
            "state": {i: b.copy() for i, b in self.state.items()},
            "param_groups": [dict(g) for g in self.param_groups],
        }

    def load_state_dict(self, state):
        self.state = {int(i): gw.tensor(b).array for i, b in state["state"].items()}  # copies
        self.param_groups = [dict(g) for g in state["param_groups"]]


class TinyLoader:
    """Batches of (x, y), reshuffled each epoch from its own seeded generator."""

    def __init__(self, x, y, batch_size, shuffle=False, seed=0) -> None:
        self.x, self.y = to_numpy(x), to_numpy(y)
        self.batch_size, self.shuffle = batch_size, shuffle
        self.generator = np.random.default_rng(seed)
        self.epoch, self.position, self.order = 0, 0, None
        self._epoch_start_state = self.generator.bit_generator.state

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def _new_order(self):
        self._epoch_start_state = self.generator.bit_generator.state
        n = len(self.x)
        self.order = self.generator.permutation(n) if self.shuffle else np.arange(n)

    def __iter__(self):
        if self.order is None:
            self._new_order()
        while self.position < len(self):
            rows = self.order[
                self.position * self.batch_size : (self.position + 1) * self.batch_size
            ]
            self.position += 1
            yield gw.tensor(self.x[rows]), gw.tensor(self.y[rows])
        self.epoch, self.position, self.order = self.epoch + 1, 0, None

    def state_dict(self):
        return {
            "epoch": self.epoch,
            "position": self.position,
            "generator": self._epoch_start_state
            if self.order is not None
            else self.generator.bit_generator.state,
            "started": self.order is not None,
        }

    def load_state_dict(self, state):
        self.epoch, self.position = state["epoch"], state["position"]
        self.generator.bit_generator.state = state["generator"]
        self.order = None
        if state["started"]:
            self._new_order()


def mse(output, target):
    return ((output - target) ** 2).mean()


def regression_data(n=64, inputs=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, inputs)).astype(np.float32)
    true_weight = np.arange(1, inputs + 1, dtype=np.float32).reshape(inputs, 1)
    return x, (x @ true_weight + 0.5).astype(np.float32)


class StopAt(train.Callback):
    """Stop after a given global step (mid-epoch when it is not a multiple of the epoch)."""

    def __init__(self, step):
        self.step = step

    def on_batch_end(self, batch, logs=None):
        if self.trainer.global_step == self.step:
            self.trainer.stop_training = True
