"""A/B of whole training steps: a suite workload with a kernel variant on and off, interleaved.

Variants (`VARIANTS`) switch one fast path off for the "before" side, so
both sides run in one process on the same batches: rounds alternate
before/after and the fastest round (and the median) is printed, in ms of
CPU time per step at 1 thread (`time.process_time`), wall time otherwise.

Run: python benchmarks/conv_step_ab.py resnet --variant shifted [--threads 1] [--rounds 9]
(`inference` times forward passes of the eval-mode CNN under no_grad instead.)
"""

from __future__ import annotations

import argparse
import os
import sys

_THREADS = next((sys.argv[i + 1] for i, a in enumerate(sys.argv[:-1]) if a == "--threads"), "1")
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):  # read once when NumPy loads
    os.environ[_name] = _THREADS

import contextlib  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from _mnist import load  # noqa: E402
from _models import WORKLOADS  # noqa: E402

import gradwork as gw  # noqa: E402
from gradwork.ops.kernels import cpu, cpu_conv_shifted  # noqa: E402


@contextlib.contextmanager
def _without_shifted():
    """cpu_conv as before the zero-copy layout: stride-1 layers take the widened im2col."""
    usable = cpu_conv_shifted.usable
    cpu_conv_shifted.usable = lambda *args: False
    try:
        yield
    finally:
        cpu_conv_shifted.usable = usable


@contextlib.contextmanager
def _without_relu_rows():
    """ReLU as before: np.maximum against a 0-d zero; the backward's product float * bool."""
    forward, backward = cpu.relu_forward, cpu.relu_backward
    cpu.relu_forward = lambda a: np.maximum(a, np.zeros((), dtype=a.dtype))
    cpu.relu_backward = lambda grad, out: np.multiply(grad, np.not_equal(out, 0))
    try:
        yield
    finally:
        cpu.relu_forward, cpu.relu_backward = forward, backward


VARIANTS = {  # name -> a context that turns the variant off
    "shifted": _without_shifted,
    "relu": _without_relu_rows,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("workload", choices=[w.name for w in WORKLOADS])
    parser.add_argument("--variant", choices=sorted(VARIANTS), required=True)
    parser.add_argument("--threads", default="1")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--steps", type=int, default=10, help="steps per timed round")
    args = parser.parse_args()
    clock = time.process_time if args.threads == "1" else time.perf_counter
    spec = next(w for w in WORKLOADS if w.name == args.workload)
    x, y, _, _ = spec.prepare(*load())
    model = spec.build(gw.nn)
    optimizer = spec.optimizer(gw.optim, model.parameters())
    if spec.inference:
        model.eval()
    batches = [slice(s, s + spec.batch) for s in range(0, len(x) - spec.batch + 1, spec.batch)]

    def steps(count, offset):
        for n in range(count):
            index = batches[(offset + n) % len(batches)]
            if spec.inference:  # the model in eval mode, no graph: forward only
                with gw.no_grad():
                    model(gw.from_numpy(x[index]))
                continue
            loss = gw.nn.functional.cross_entropy(
                model(gw.from_numpy(x[index])), gw.from_numpy(y[index])
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    sides = {"before": VARIANTS[args.variant], "after": contextlib.nullcontext}
    for make in sides.values():  # warm-up
        with make():
            steps(3, 0)
    times = {side: [] for side in sides}
    load_before = open("/proc/loadavg").read().split()[:3]
    for round_ in range(args.rounds):
        for side, make in sides.items():
            with make():
                start = clock()
                steps(args.steps, round_ * args.steps)
                times[side].append((clock() - start) / args.steps * 1e3)
    load_after = open("/proc/loadavg").read().split()[:3]
    unit = "CPU" if args.threads == "1" else "wall"
    print(f"{args.workload}, variant {args.variant!r}, {args.threads} thread(s), {unit} ms "
          f"per step, fastest (median) of {args.rounds} rounds of {args.steps} steps; "
          f"load {load_before} -> {load_after}")  # fmt: skip
    for side, values in times.items():
        print(f"  {side:7}{min(values):8.2f} ({statistics.median(values):.2f})")
    print(f"  after/before {min(times['after']) / min(times['before']):.3f} (fastest), "
          f"{statistics.median(times['after']) / statistics.median(times['before']):.3f} "
          f"(median)")  # fmt: skip


if __name__ == "__main__":
    main()
