"""How much gradwork's autodiff engine adds over hand-written NumPy (issue: core).

Trains the same 784-256-128-10 ReLU MLP with plain SGD on 8,000 real MNIST
images (batch 128), twice per round: once with forward and backward written by
hand in NumPy, once with gradwork's autodiff. Both start from the same weights
and see the same batches; rounds alternate so machine noise hits both alike.

Run: python benchmarks/engine_overhead.py [--epochs 5] [--cpu-time]

`--cpu-time` times with the process's CPU time instead of the wall clock: on
a machine shared with other jobs it leaves out the time this process waits
for a core. Run it with OMP_NUM_THREADS=1 (CPU time adds up over threads).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _mnist import load

import gradwork as gw
from gradwork import ops

SIZES = (784, 256, 128, 10)


def initial_weights(seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    weights = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:], strict=True):
        bound = 1 / np.sqrt(fan_in)
        weights.append(rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32))
        weights.append(rng.uniform(-bound, bound, fan_out).astype(np.float32))
    return weights


def numpy_epoch(params, x, y, order, lr, batch):
    """Forward and backward by hand: the floor the engine is measured against."""
    w1, b1, w2, b2, w3, b3 = params
    for start in range(0, len(order), batch):
        index = order[start : start + batch]
        xb, yb = x[index], y[index]
        h1 = np.maximum(xb @ w1.T + b1, 0)
        h2 = np.maximum(h1 @ w2.T + b2, 0)
        logits = h2 @ w3.T + b3
        shifted = logits - logits.max(axis=1, keepdims=True)
        probs = np.exp(shifted)
        probs /= probs.sum(axis=1, keepdims=True)
        g3 = probs
        g3[np.arange(len(yb)), yb] -= 1
        g3 /= len(yb)
        g2 = (g3 @ w3) * (h2 > 0)
        g1 = (g2 @ w2) * (h1 > 0)
        grads = (g1.T @ xb, g1.sum(0), g2.T @ h1, g2.sum(0), g3.T @ h2, g3.sum(0))
        for p, g in zip(params, grads, strict=True):
            p -= lr * g


def gradwork_epoch(params, x, y, order, lr, batch):
    """The same step through the autodiff engine (fused linear op, log-softmax, gather)."""
    w1, b1, w2, b2, w3, b3 = params
    for start in range(0, len(order), batch):
        index = order[start : start + batch]
        xb, yb = gw.from_numpy(x[index]), y[index]
        h1 = ops.Linear.apply(xb, w1, b1).relu()
        h2 = ops.Linear.apply(h1, w2, b2).relu()
        logits = ops.Linear.apply(h2, w3, b3)
        loss = -logits.log_softmax(-1).gather(1, yb[:, None]).mean()
        for p in params:
            p.grad = None
        loss.backward()
        for p in params:
            p.array -= lr * p.grad.array


def accuracy(weights, x, y) -> float:
    w1, b1, w2, b2, w3, b3 = weights
    h = np.maximum(np.maximum(x @ w1.T + b1, 0) @ w2.T + b2, 0)
    return float(((h @ w3.T + b3).argmax(1) == y).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--cpu-time", action="store_true", help="time CPU, not wall clock")
    args = parser.parse_args()
    clock = time.process_time if args.cpu_time else time.perf_counter
    x_train, y_train, x_test, y_test = load()
    x_train, x_test = x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)
    lr, batch = 0.1, 128
    plain = initial_weights()
    autodiff = [gw.tensor(w, requires_grad=True) for w in initial_weights()]
    times = {"numpy": [], "gradwork": []}
    rng = np.random.default_rng(0)
    for _ in range(args.epochs):
        order = rng.permutation(len(x_train))
        start = clock()
        numpy_epoch(plain, x_train, y_train, order, lr, batch)
        times["numpy"].append(clock() - start)
        start = clock()
        gradwork_epoch(autodiff, x_train, y_train, order, lr, batch)
        times["gradwork"].append(clock() - start)
    drift = max(float(np.abs(a - p.array).max()) for a, p in zip(plain, autodiff, strict=True))
    print(
        f"MLP 784-256-128-10, SGD lr={lr}, batch {batch}, 8,000 MNIST images, {args.epochs} epochs"
    )
    print(f"{'':10}{'fastest s':>11}{'median s':>11}{'test acc':>10}")
    for name, weights in (("numpy", plain), ("gradwork", [p.array for p in autodiff])):
        t = times[name]
        acc = accuracy(weights, x_test, y_test)
        print(f"{name:10}{min(t):11.3f}{np.median(t):11.3f}{acc:10.4f}")
    ratio_min = min(times["gradwork"]) / min(times["numpy"])
    ratio_median = np.median(times["gradwork"]) / np.median(times["numpy"])
    print(
        f"ratio gradwork/numpy: fastest {ratio_min:.3f}, median {ratio_median:.3f} "
        f"(goal <= 1.15); max weight difference after training {drift:.2e}"
    )


if __name__ == "__main__":
    main()
