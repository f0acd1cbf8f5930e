"""What the default-on mistake watch (`gradwork.diagnose.watch`) costs per training step.

For the suite's training workloads (benchmarks/_models.py) on random data of
MNIST's shape, a DataLoader feeds a hand-written loop (zero_grad, forward,
cross-entropy, backward, step). Blocks of steps alternate between watch off
and watch on (ABAB...), so a machine that speeds up or slows down during the
run shifts both alike; the overhead is the ratio of the median block times.
The first blocks of each mode are discarded (the watch reads the loss graph
on its first 3 steps only, and warm-up is not the steady state).

    python benchmarks/watch_overhead.py                 # mlp, cnn, resnet
    python benchmarks/watch_overhead.py cnn --blocks 20 --steps 20

Blocks are timed in process CPU time (time spent waiting for a busy CPU does
not count) with one BLAS thread by default. A second figure is independent of
the machine's load: the time spent inside the detectors' event handlers, as a
share of step time (the wrappers' dispatch itself is a few function calls per
step and is not in it). On a shared or busy machine the on/off ratio is still
noisy: run it on an idle machine, several times, and look at the spread of the
block ratios printed beside the median.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from _models import WORKLOADS

import gradwork as gw
from gradwork import data, nn, optim
from gradwork.diagnose import watch
from gradwork.diagnose.mistakes import _patch


def loader_for(workload, n=2048):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, n)
    x_train, y_train, _, _ = workload.prepare(x, y, x[:1], y[:1])
    return data.DataLoader(data.TensorDataset(x_train, y_train), workload.batch, shuffle=True)


def forever(loader):
    """The loader's batches, epoch after epoch."""
    while True:
        yield from loader


def block(model, optimizer, batches, steps):
    """CPU seconds of `steps` training steps (CPU time: waiting for a busy CPU is not counted)."""
    start = time.process_time()
    for _ in range(steps):
        x, y = next(batches)
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
    return time.process_time() - start


def timed_detectors():
    """Count the seconds spent in the watcher's event handlers (the detectors themselves).

    Each event pays two perf_counter calls more here (well under a microsecond).
    """
    spent = [0.0]
    tell = _patch._tell

    def timed(watchers, event, *args):
        start = time.perf_counter()
        tell(watchers, event, *args)
        spent[0] += time.perf_counter() - start

    _patch._tell = timed
    return spent, tell


def measure(workload, blocks: int, steps: int) -> tuple[float, list[float]]:
    gw.manual_seed(0)
    model = workload.build(nn)
    optimizer = workload.optimizer(optim, model.parameters())
    loader = loader_for(workload)

    off, on = [], []
    with watch(warn=False) as watcher:
        batches = forever(loader)  # the loader is iterated under the watch in both modes
        for index in range(2 * blocks):
            if index % 2:
                on.append(block(model, optimizer, batches, steps))
            else:
                watcher.stop()  # off: the originals are back in place
                off.append(block(model, optimizer, batches, steps))
                watcher.start()
    assert watcher.findings == [] and watcher.errors == [], watcher.findings
    ratios = [b / a for a, b in zip(off[2:], on[2:], strict=True)]
    return statistics.median(on[2:]) / statistics.median(off[2:]) - 1, ratios, off


def detector_share(workload, steps: int) -> float:
    """Seconds in the detectors per second of training (after the first 3 steps)."""
    gw.manual_seed(0)
    model = workload.build(nn)
    optimizer = workload.optimizer(optim, model.parameters())
    spent, tell = timed_detectors()
    with watch(warn=False):
        batches = forever(loader_for(workload))
        block(model, optimizer, batches, 3)
        spent[0] = 0.0
        start = time.perf_counter()
        block(model, optimizer, batches, steps)
        total = time.perf_counter() - start
    _patch._tell = tell
    return spent[0] / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workloads", nargs="*", default=["mlp", "cnn", "resnet"])
    parser.add_argument("--blocks", type=int, default=10)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (1: least noise)")
    args = parser.parse_args()
    if args.threads:
        gw.set_num_threads(args.threads)
    for workload in WORKLOADS:
        if workload.name in args.workloads:
            overhead, ratios, off = measure(workload, args.blocks, args.steps)
            share = detector_share(workload, args.steps)
            step_ms = 1000 * statistics.median(off[2:]) / args.steps
            print(
                f"{workload.name:10s} step {step_ms:6.1f} ms CPU; watch on vs off "
                f"{100 * overhead:+.2f}% (block ratios {min(ratios):.3f} .. {max(ratios):.3f}); "
                f"time inside the detectors {100 * share:.2f}% of step time"
            )


if __name__ == "__main__":
    main()
