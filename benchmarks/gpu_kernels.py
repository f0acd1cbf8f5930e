"""The fused device kernels (ops/kernels/cuda.py) against the unfused reference, on a GPU.

For each kernel: the same inputs go through `kernels.use_device("cuda")`
(one cupy.fuse kernel per chain) and `kernels.use_device("reference")` (the
xp-generic reference, one CuPy call per operation); the outputs must agree
(float32: rtol 1e-5, as nvrtc may contract a*b+c into FMA), and each side is
timed in interleaved rounds (the minimum of `--rounds`, each the mean of
`--repeat` calls between two synchronisations). A disagreement exits with 1.

    PYTHONPATH=src python benchmarks/gpu_kernels.py [--json PATH]
Smoke test without a GPU (the CPU stand-in; the figures mean nothing):
    PYTHONPATH=src python benchmarks/gpu_kernels.py --standin --scale 0.01
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

import gradwork as gw
from gradwork.ops import kernels

NO_GPU = 2


def _cases(scale):
    """name -> (make host inputs, run on device arrays -> arrays to compare)."""
    rng = np.random.default_rng(0)
    n = max(int(25_000_000 * scale), 1000)  # a ResNet-50-sized parameter group
    image = (max(int(256 * scale), 2), 64, 32, 32)
    rows = max(int(4096 * scale), 8)

    def normal(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    def adam(amsgrad):
        def make():
            v = np.abs(normal(n))
            return [normal(n), normal(n), normal(n), v, v + 1 if amsgrad else None]

        def run(param, grad, m, v, v_max):
            kernels.adam_step(param, grad, m, v, v_max, 1e-3, 0.9, 0.999, 1e-8, 10)
            return [param, m, v]

        return make, run

    def relu_backward():
        return lambda: [normal(*image), np.maximum(normal(*image), 0)], lambda g, o: [
            kernels.relu_backward(g, o)
        ]

    def batch_norm():
        def make():
            return [normal(*image), normal(image[1]), normal(image[1]), normal(*image)]

        def run(x, weight, bias, grad):
            out, xhat, invstd, _, _ = kernels.batch_norm_forward(x, weight, bias, 1e-5)
            grad_x, _, _ = kernels.batch_norm_backward(grad, xhat, invstd, weight, True)
            return [out, grad_x]

        return make, run

    def softmax_minus_target():
        def make():
            logits = normal(rows, 1000)
            log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
            return [log_p, rng.integers(0, 1000, rows), np.full((rows, 1), 1 / rows, np.float32)]

        return make, lambda log_p, t, a: [kernels.softmax_minus_target(log_p, t, a)]

    return {
        "adam": adam(False),
        "amsgrad": adam(True),
        "relu_backward": relu_backward(),
        "batch_norm_fwd_bwd": batch_norm(),
        "softmax_minus_target": softmax_minus_target(),
    }


def _on_device(xp, host):
    return [None if a is None else xp.asarray(a) for a in host]


def _timed(xp, run, host, repeat):
    arrays = _on_device(xp, host)
    gw.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeat):
        run(*arrays)
    gw.cuda.synchronize()
    return (time.perf_counter() - start) / repeat


def measure(xp, name, make, run, args):
    host = make()
    results = {}
    for mode in ("cuda", "reference"):  # the first call of each compiles / warms up
        kernels.use_device(mode)
        results[mode] = [xp.asnumpy(a) for a in run(*_on_device(xp, host))]
    agree = all(
        np.allclose(a, b, rtol=1e-5, atol=1e-6)
        for a, b in zip(results["cuda"], results["reference"], strict=True)
    )
    best = {"cuda": float("inf"), "reference": float("inf")}
    for _ in range(args.rounds):  # interleaved, so drift hits both sides alike
        for mode in best:
            kernels.use_device(mode)
            best[mode] = min(best[mode], _timed(xp, run, host, args.repeat))
    kernels.use_device("cuda")
    return {
        "kernel": name,
        "fused_ms": best["cuda"] * 1e3,
        "unfused_ms": best["reference"] * 1e3,
        "speedup": best["reference"] / best["cuda"],
        "agree": agree,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="size of every input")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=20, help="calls per timed round")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--standin", action="store_true", help="smoke test on the CPU")
    args = parser.parse_args(argv)
    if args.standin:
        from gradwork import _standin as xp  # noqa: PLC0415

        xp.enable()
    elif not gw.cuda.is_available():
        print("benchmarks/gpu_kernels.py needs CuPy and an NVIDIA GPU (or --standin)",
              file=sys.stderr)  # fmt: skip
        return NO_GPU
    else:
        import cupy as xp  # noqa: PLC0415

    results = [measure(xp, name, *case, args) for name, case in _cases(args.scale).items()]
    print(f"{'kernel':<22}{'fused ms':>10}{'unfused ms':>12}{'speedup':>9}  agree")
    for r in results:
        print(f"{r['kernel']:<22}{r['fused_ms']:>10.3f}{r['unfused_ms']:>12.3f}"
              f"{r['speedup']:>9.2f}  {'yes' if r['agree'] else 'NO'}")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps({"standin": args.standin, "results": results}))
    return 0 if all(r["agree"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
