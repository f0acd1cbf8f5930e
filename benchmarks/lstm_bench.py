"""One LSTM training step, gradwork against PyTorch on the same CPU (issue: sequence models).

LSTM(input 32, hidden 128), sequence 50, batch 32: forward, MSE loss against a
fixed target, backward through time, one Adam step. `--shape suite` runs the
suite's "lstm" workload's recurrence instead: LSTM(28, 128), sequence 28, batch 64.
Both libraries start from the same weights (torch's state_dict loaded unchanged
into gradwork) and see the same data; rounds alternate between them so machine
noise hits both alike. Reports the fastest and the median time per step over the rounds and
the ratio gradwork / torch of each.

Run: python benchmarks/lstm_bench.py [--rounds 9] [--steps 10] [--shape suite]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

import gradwork as gw
from gradwork import nn

SHAPES = {"default": (32, 128, 50, 32), "suite": (28, 128, 28, 64)}  # input, hidden, steps, batch
INPUT, HIDDEN, STEPS, BATCH = SHAPES["default"]


def make_adam(parameters, lr):
    """gradwork.optim.Adam when it exists; before it is merged, torch's Adam rule in NumPy."""
    try:
        from gradwork.optim import Adam

        return Adam(parameters, lr=lr), "gradwork.optim.Adam"
    except ImportError:
        return NumpyAdam(parameters, lr), "Adam in NumPy (gradwork.optim not available)"


class NumpyAdam:
    """torch.optim.Adam's default update (betas 0.9, 0.999, eps 1e-8), in place."""

    def __init__(self, parameters, lr, betas=(0.9, 0.999), eps=1e-8):
        self.parameters, self.lr, self.betas, self.eps = list(parameters), lr, betas, eps
        self.moments = [(np.zeros_like(p.array), np.zeros_like(p.array)) for p in self.parameters]
        self.step_count = 0

    def zero_grad(self):
        for p in self.parameters:
            p.grad = None

    def step(self):
        self.step_count += 1
        beta1, beta2 = self.betas
        correction1, correction2 = 1 - beta1**self.step_count, 1 - beta2**self.step_count
        for p, (m, v) in zip(self.parameters, self.moments, strict=True):
            g = p.grad.array
            m *= beta1
            m += (1 - beta1) * g
            v *= beta2
            v += (1 - beta2) * g * g
            denominator = np.sqrt(v / correction2) + self.eps
            p.array -= (self.lr / correction1) * m / denominator


def build(seed: int = 0):
    torch.manual_seed(seed)
    theirs = torch.nn.LSTM(INPUT, HIDDEN)
    ours = nn.LSTM(INPUT, HIDDEN)
    ours.load_state_dict(theirs.state_dict())
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((STEPS, BATCH, INPUT)).astype(np.float32)
    target = rng.standard_normal((STEPS, BATCH, HIDDEN)).astype(np.float32)
    return ours, theirs, x, target


def timed_steps(step, count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        step()
    return (time.perf_counter() - start) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--steps", type=int, default=10, help="training steps timed per round")
    parser.add_argument("--torch-threads", type=int, default=None, help="default: torch's own")
    parser.add_argument("--shape", choices=sorted(SHAPES), default="default")
    args = parser.parse_args()
    global INPUT, HIDDEN, STEPS, BATCH
    INPUT, HIDDEN, STEPS, BATCH = SHAPES[args.shape]
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)

    ours, theirs, x, target = build()
    optimizer, adam_name = make_adam(ours.parameters(), 1e-3)
    torch_optimizer = torch.optim.Adam(theirs.parameters(), lr=1e-3)
    x_ours, target_ours = gw.tensor(x), gw.tensor(target)
    x_torch, target_torch = torch.tensor(x), torch.tensor(target)

    def gradwork_step():
        optimizer.zero_grad()
        output, _ = ours(x_ours)
        difference = output - target_ours
        loss = (difference * difference).mean()
        loss.backward()
        optimizer.step()

    def torch_step():
        torch_optimizer.zero_grad()
        output, _ = theirs(x_torch)
        difference = output - target_torch
        loss = (difference * difference).mean()
        loss.backward()
        torch_optimizer.step()

    gradwork_step(), torch_step()  # warm-up: first-call allocations, lazy state
    times = {"gradwork": [], "torch": []}
    for _ in range(args.rounds):
        times["gradwork"].append(timed_steps(gradwork_step, args.steps))
        times["torch"].append(timed_steps(torch_step, args.steps))

    print(f"LSTM({INPUT}, {HIDDEN}), sequence {STEPS}, batch {BATCH}: forward + backward + Adam")
    print(f"gradwork optimizer: {adam_name}; torch threads: {torch.get_num_threads()}")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{args.rounds} rounds x {args.steps} steps, ms per step; load average {load:.2f}")
    print(f"{'':10}{'fastest':>10}{'median':>10}")
    for name, values in times.items():
        print(f"{name:10}{min(values) * 1e3:10.2f}{np.median(values) * 1e3:10.2f}")
    fastest = min(times["gradwork"]) / min(times["torch"])
    median = np.median(times["gradwork"]) / np.median(times["torch"])
    print(f"{'ratio':10}{fastest:10.2f}{median:10.2f}   (gradwork / torch; target <= 1.0)")


if __name__ == "__main__":
    main()
