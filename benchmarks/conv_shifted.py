"""A/B: the zero-copy convolution (`cpu_conv_shifted`) against the layouts before it, per layer.

For the suite's CNN and ResNet layers (float32), times forward and backward
of each form in interleaved rounds in one process and prints the fastest
round (and the median) in ms of CPU time (`time.process_time`) at 1 thread,
or wall time with `--threads 2`.

Run: python benchmarks/conv_shifted.py [--threads 1] [--rounds 15]
"""

from __future__ import annotations

import argparse
import os
import sys

_THREADS = next((sys.argv[i + 1] for i, a in enumerate(sys.argv[:-1]) if a == "--threads"), "1")
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):  # read once when NumPy loads
    os.environ[_name] = _THREADS

import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from gradwork.ops.kernels import cpu_blas, cpu_conv, reference  # noqa: E402

LAYERS = [  # name, x shape, (O, kh, kw), stride, padding, need_x, forward only
    ("cnn conv1 (1->16, 28x28)", (64, 1, 28, 28), (16, 3, 3), 1, (1, 1), False, False),
    ("cnn conv2 (16->32, 14x14)", (64, 16, 14, 14), (32, 3, 3), 1, (1, 1), True, False),
    ("resnet block1 conv (16->16, 14x14)", (64, 16, 14, 14), (16, 3, 3), 1, (1, 1), True, False),
    (
        "resnet block2 conv1 (16->32, stride 2)",
        (64, 16, 14, 14),
        (32, 3, 3),
        2,
        (1, 1),
        True,
        False,
    ),
    ("resnet block2 conv2 (32->32, 7x7)", (64, 32, 7, 7), (32, 3, 3), 1, (1, 1), True, False),
    ("inference conv2 (256x16->32, 14x14)", (256, 16, 14, 14), (32, 3, 3), 1, (1, 1), True, True),
]


def _before(x, weight, grad, stride, padding, need_x, forward_only):
    """cpu_conv before "shifted": "samples" for thin layers, else "widened" or the reference."""
    stride = (stride, stride)
    if cpu_conv._layout(x, weight, stride, 1) == "samples":
        out, saved = cpu_conv.conv2d_forward(x, weight, None, stride, padding, (1, 1), 1)
        backward = cpu_conv.conv2d_backward
        arguments = (saved, weight, grad, stride, padding, (1, 1), 1, need_x, True)
    elif stride != (1, 1):
        out, saved = reference.conv2d_forward(x, weight, None, stride, padding, (1, 1), 1)
        backward = reference.conv2d_backward
        arguments = (saved, weight, grad, stride, padding, (1, 1), 1, need_x, True)
    else:
        out, saved = cpu_conv._widened_forward(x, weight, None, padding, (1, 1), 1)
        backward = cpu_conv._widened_backward
        arguments = (saved, weight, grad, padding, (1, 1), 1, need_x, True)
    if not forward_only:
        backward(*arguments)
    return out


def _after(x, weight, grad, stride, padding, need_x, forward_only):
    """cpu_conv as it is: "shifted" at stride 1, the strided input gradient by phase planes."""
    geometry = ((stride, stride), padding, (1, 1), 1)
    out, saved = cpu_conv.conv2d_forward(x, weight, None, *geometry)
    if not forward_only:
        cpu_conv.conv2d_backward(saved, weight, grad, *geometry, need_x, True)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", default="1")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--repeats", type=int, default=5, help="calls per timed round")
    args = parser.parse_args()
    clock = time.process_time if args.threads == "1" else time.perf_counter
    assert cpu_blas.available(), "no cblas in NumPy's OpenBLAS"
    rng = np.random.default_rng(0)
    print(f"threads {args.threads}, {'CPU' if args.threads == '1' else 'wall'} ms per "
          f"forward+backward, fastest (median) of {args.rounds} rounds; "
          f"load {open('/proc/loadavg').read().split()[:3]}")  # fmt: skip
    for name, x_shape, (o, kh, kw), stride, padding, need_x, forward_only in LAYERS:
        x = rng.standard_normal(x_shape).astype(np.float32)
        weight = rng.standard_normal((o, x_shape[1], kh, kw)).astype(np.float32)
        out_hw = [
            (s + 2 * p - k) // stride + 1
            for s, p, k in zip(x_shape[2:], padding, (kh, kw), strict=True)
        ]
        grad = rng.standard_normal((x_shape[0], o, *out_hw)).astype(np.float32)
        arguments = (x, weight, grad, stride, padding, need_x, forward_only)
        np.testing.assert_allclose(_after(*arguments), _before(*arguments), rtol=1e-3, atol=1e-3)
        times = {"before": [], "after": []}
        for _ in range(args.rounds):
            for form, function in (("before", _before), ("after", _after)):
                start = clock()
                for _ in range(args.repeats):
                    function(*arguments)
                times[form].append((clock() - start) / args.repeats * 1e3)
        row = ", ".join(f"{form} {min(t):.2f} ({statistics.median(t):.2f})"
                        for form, t in times.items())  # fmt: skip
        print(f"  {name}{' forward' if forward_only else ''}: {row}")
    print(f"load after {open('/proc/loadavg').read().split()[:3]}")


if __name__ == "__main__":
    main()
