"""Where a gradwork training step spends its time, op by op (issue: CPU speed).

Trains a suite workload (`_models.py`) for a few hundred steps with every
primitive's forward and backward timed, plus the GEMMs inside them, the
optimizer step and the whole step. What the ops and the optimizer do not
account for is the engine's own Python: building the graph, walking it
backwards, accumulating gradients.

Run: python benchmarks/breakdown.py cnn [--steps 100] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict

_THREADS = next((sys.argv[i + 1] for i, a in enumerate(sys.argv[:-1]) if a == "--threads"), None)
if _THREADS:  # read once by BLAS when NumPy loads: set it first
    for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_name] = _THREADS

import numpy as np  # noqa: E402
from _mnist import load  # noqa: E402
from _models import WORKLOADS  # noqa: E402

import gradwork as gw  # noqa: E402
from gradwork.autograd import Function  # noqa: E402
from gradwork.ops.kernels import cpu_blas, cpu_conv, reference  # noqa: E402

SPENT: defaultdict[str, float] = defaultdict(float)


def _timed(function, key):
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            SPENT[key] += time.perf_counter() - start

    return wrapper


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def instrument(optimizer):
    """Wrap every primitive's forward/backward, the convolution GEMMs and optimizer.step."""
    for cls in set(_subclasses(Function)):
        for phase in ("forward", "backward"):
            if phase in vars(cls):
                original = vars(cls)[phase].__func__
                setattr(cls, phase, staticmethod(_timed(original, f"{cls.__name__}.{phase}")))
    optimizer.step = _timed(optimizer.step, "optimizer.step")
    # the convolutions' GEMMs (one over the batch, one per sample, or a series over kernel
    # positions: cpu_conv_shifted's cblas calls), counted inside Conv2d's forward/backward too
    reference.grouped_matmul = _timed(reference.grouped_matmul, "  of which conv GEMMs")
    cpu_conv.stacked_matmul = _timed(cpu_conv.stacked_matmul, "  of which conv GEMMs")
    cpu_blas.gemm_series = _timed(cpu_blas.gemm_series, "  of which conv GEMMs")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("workload", choices=[w.name for w in WORKLOADS if not w.inference])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--threads")
    args = parser.parse_args()
    spec = next(w for w in WORKLOADS if w.name == args.workload)
    x, y, _, _ = spec.prepare(*load())
    model = spec.build(gw.nn)
    optimizer = spec.optimizer(gw.optim, model.parameters())
    order = np.random.default_rng(0).permutation(len(x))

    def step(index):
        loss = gw.nn.functional.cross_entropy(
            model(gw.from_numpy(x[index])), gw.from_numpy(y[index])
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    batches = [order[s : s + spec.batch] for s in range(0, len(order) - spec.batch + 1, spec.batch)]
    for index in batches[:5]:  # warm-up: caches, compiled kernels
        step(index)
    instrument(optimizer)
    total = 0.0
    for n in range(args.steps):
        start = time.perf_counter()
        step(batches[n % len(batches)])
        total += time.perf_counter() - start
    print(f"{args.workload}: {total / args.steps * 1e3:.2f} ms per step "
          f"({gw.get_num_threads()} threads, "
          f"kernels: {gw.ops.kernels.backend_name()})")  # fmt: skip
    accounted = sum(v for k, v in SPENT.items() if not k.startswith(" "))
    rows = sorted(SPENT.items(), key=lambda kv: -kv[1])
    rows.append(("engine and Python (the rest)", total - accounted))
    for key, seconds in rows:
        print(f"  {key:36}{seconds / args.steps * 1e3:8.2f} ms {seconds / total:6.1%}")


if __name__ == "__main__":
    main()
