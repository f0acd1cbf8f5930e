"""gradwork on CuPy against PyTorch CUDA eager: time per training step and peak GPU memory.

Each workload is the suite's model (`_models.py`) at a GPU batch size, plus a
ResNet on 3x32x32 inputs. Both frameworks start from the same weights
(torch's state_dict loaded into gradwork), run the same optimizer on the same
batches (random inputs and labels, placed on the GPU before timing), in one
process. After `--warmup` steps, `--steps` steps are timed between two
synchronisations, `--repeats` times; the fastest mean is reported.

Peak memory: for gradwork the bytes CuPy's memory pool holds after the steps
(the pool is emptied first, and a pool never gives memory back while it runs,
so what it holds is its high-water mark); for torch `max_memory_reserved()`,
the same quantity of its caching allocator (`max_memory_allocated()` is shown
beside it).

Goals (issue "GPU"): step time within 1.5x torch's on the ResNets and the
Transformer, within 1.2x on the MLPs; peak memory at most 1.5x torch's.

Run on a machine with an NVIDIA GPU, CuPy and torch's CUDA build:
    PYTHONPATH=src python benchmarks/gpu.py [--only mlp,resnet] [--json PATH]
`--device-kernels reference` runs gradwork's device arrays on the unfused
xp-generic reference kernels instead of the fused ones (ops/kernels/cuda.py),
to see what fusing gains on a whole step; benchmarks/gpu_kernels.py times the
kernels one by one.
Smoke test anywhere (gradwork on the CPU stand-in for CuPy, torch on the CPU,
tiny batches; the figures mean nothing):
    PYTHONPATH=src python benchmarks/gpu.py --standin --batch 4 --steps 1 --warmup 0
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from _models import basic_block, cnn, mlp, patch_transformer, resnet_small

import gradwork as gw
from gradwork.ops import kernels

NO_GPU = 2  # exit code when there is nothing to measure on


def resnet_rgb(nn, widths=(32, 64, 128)):
    """A CIFAR-sized ResNet: a 3-channel stem and one BasicBlock per width (the last two
    downsample), batch-norm throughout, global average pooling and a linear head."""

    BasicBlock = basic_block(nn)  # noqa: N806 - a class
    blocks, cin = [], widths[0]
    for index, width in enumerate(widths):
        blocks.append(BasicBlock(cin, width, 1 if index == 0 else 2))
        cin = width
    return nn.Sequential(
        nn.Conv2d(3, widths[0], 3, padding=1, bias=False),
        nn.BatchNorm2d(widths[0]),
        nn.ReLU(),
        *blocks,
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(widths[-1], 10),
    )


@dataclass
class GpuWorkload:
    name: str
    build: object  # nn namespace -> model
    optimizer: str  # "adam", "adamw" or "sgd"
    batch: int
    input_shape: tuple
    goal: float  # the step-time ratio gradwork/torch to stay within


WORKLOADS = [
    GpuWorkload("mlp", mlp, "adam", 1024, (784,), 1.2),
    GpuWorkload("wide_mlp", lambda nn: mlp(nn, (784, 4096, 4096, 10)), "adam", 1024, (784,), 1.2),
    GpuWorkload("cnn", cnn, "adam", 512, (1, 28, 28), 1.5),
    GpuWorkload("resnet", resnet_small, "sgd", 256, (1, 28, 28), 1.5),
    GpuWorkload("resnet_rgb32", resnet_rgb, "sgd", 256, (3, 32, 32), 1.5),
    GpuWorkload("transformer", patch_transformer, "adamw", 256, (64, 16), 1.5),
]
MEMORY_GOAL = 1.5


def make_optimizer(optim, kind, params):
    if kind == "adam":
        return optim.Adam(params, lr=1e-3)
    if kind == "adamw":
        return optim.AdamW(params, lr=1e-3)
    return optim.SGD(params, lr=0.05, momentum=0.9)


class Side:
    """One framework on one device: tensors, synchronisation, peak memory."""

    def __init__(self, name, lib, device, synchronize, reset_memory, peak_memory):
        self.name, self.lib, self.device = name, lib, device
        self.synchronize, self.reset_memory, self.peak_memory = (
            synchronize,
            reset_memory,
            peak_memory,
        )

    def batches(self, arrays):
        return [
            (self.lib.from_numpy(x).to(self.device), self.lib.from_numpy(y).to(self.device))
            for x, y in arrays
        ]


def torch_side(torch, device):
    cuda = device == "cuda"

    def reset():
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()

    def peak():
        if not cuda:
            return None
        return {
            "reserved": torch.cuda.max_memory_reserved(),
            "allocated": torch.cuda.max_memory_allocated(),
        }

    sync = torch.cuda.synchronize if cuda else (lambda: None)
    return Side("torch", torch, device, sync, reset, peak)


def gradwork_side(standin):
    if standin:  # the stand-in has no memory pool: memory is not measured
        return Side("gradwork", gw, "cuda", gw.cuda.synchronize, lambda: None, lambda: None)
    import cupy  # noqa: PLC0415 - only on a GPU machine

    pool = cupy.get_default_memory_pool()

    def reset():
        cupy.cuda.Device().synchronize()
        pool.free_all_blocks()

    def peak():
        return {"reserved": pool.total_bytes(), "allocated": pool.used_bytes()}

    return Side("gradwork", gw, "cuda", gw.cuda.synchronize, reset, peak)


def run_side(side, workload, model, arrays, args):
    """Build the optimizer, warm up, then time `args.steps` steps `args.repeats` times."""
    nn = side.lib.nn
    optimizer = make_optimizer(side.lib.optim, workload.optimizer, model.parameters())
    loss_fn = nn.CrossEntropyLoss()
    side.reset_memory()
    batches = side.batches(arrays)
    model.train()

    def step(x, y):
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    first_loss = step(*batches[0]).item()  # the same weights and batch on both sides
    for index in range(args.warmup):
        step(*batches[(index + 1) % len(batches)])
    side.synchronize()
    best = float("inf")
    for _ in range(args.repeats):
        side.synchronize()
        start = time.perf_counter()
        for index in range(args.steps):
            step(*batches[index % len(batches)])
        side.synchronize()
        best = min(best, (time.perf_counter() - start) / args.steps)
    return {"step_ms": best * 1e3, "first_loss": first_loss, "memory": side.peak_memory()}


def run_workload(workload, torch, torch_device, gw_side, args):
    batch = args.batch or workload.batch
    rng = np.random.default_rng(0)
    arrays = [
        (
            rng.standard_normal((batch, *workload.input_shape)).astype(np.float32),
            rng.integers(0, 10, batch).astype(np.int64),
        )
        for _ in range(args.batches)
    ]
    torch.manual_seed(0)
    torch_model = workload.build(torch.nn)
    gw_model = workload.build(gw.nn)
    gw_model.load_state_dict(torch_model.state_dict())  # same initial weights
    torch_model.to(torch_device)
    gw_model.to("cuda")
    result = {"name": workload.name, "batch": batch, "goal": workload.goal}
    result["gradwork"] = run_side(gw_side, workload, gw_model, arrays, args)
    del gw_model
    result["torch"] = run_side(torch_side(torch, torch_device), workload, torch_model, arrays, args)
    result["ratio"] = result["gradwork"]["step_ms"] / result["torch"]["step_ms"]
    gw_memory, torch_memory = result["gradwork"]["memory"], result["torch"]["memory"]
    if gw_memory and torch_memory:
        result["memory_ratio"] = gw_memory["reserved"] / max(torch_memory["reserved"], 1)
    return result


def table(results, standin):
    mib = 2**20
    lines = [
        f"{'workload':<14}{'batch':>6}{'gradwork ms':>13}{'torch ms':>10}{'ratio':>7}"
        f"{'goal':>6}{'':>3}{'gw MiB':>9}{'torch MiB':>11}{'(alloc)':>9}{'mem':>6}{'':>3}"
    ]
    for r in results:
        gw_ms, torch_ms = r["gradwork"]["step_ms"], r["torch"]["step_ms"]
        verdict = "" if standin else ("ok" if r["ratio"] <= r["goal"] else "MISS")
        gw_memory, torch_memory = r["gradwork"]["memory"], r["torch"]["memory"]
        if gw_memory and torch_memory:
            memory = (
                f"{gw_memory['reserved'] / mib:>9.0f}{torch_memory['reserved'] / mib:>11.0f}"
                f"{torch_memory['allocated'] / mib:>9.0f}{r['memory_ratio']:>6.2f}"
                f"{'ok' if r['memory_ratio'] <= MEMORY_GOAL else 'MISS':>5}"
            )
        else:
            memory = f"{'n/a':>9}{'n/a':>11}{'':>9}{'':>6}"
        lines.append(
            f"{r['name']:<14}{r['batch']:>6}{gw_ms:>13.2f}{torch_ms:>10.2f}{r['ratio']:>7.2f}"
            f"{r['goal']:>6.1f}{verdict:>5} {memory}"
        )
    lines.append(
        f"goals: step time <= 1.2x torch on the MLPs, <= 1.5x on the ResNets, CNN and "
        f"Transformer; peak memory (pool/reserved) <= {MEMORY_GOAL}x torch's"
    )
    return "\n".join(lines)


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="comma-separated workload names")
    parser.add_argument("--batch", type=int, help="override every workload's batch size")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per repeat")
    parser.add_argument("--warmup", type=int, default=5, help="steps before timing")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batches", type=int, default=4, help="distinct batches cycled")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument(
        "--device-kernels",
        choices=sorted(kernels.DEVICE_BACKENDS),
        default="cuda",
        help="gradwork's kernels for device arrays: cuda (fused, the default) or reference",
    )
    parser.add_argument(
        "--standin",
        action="store_true",
        help="smoke test: gradwork on the CPU stand-in for CuPy, torch on the CPU",
    )
    args = parser.parse_args(argv)
    if min(args.steps, args.repeats, args.batches) < 1 or args.warmup < 0:
        parser.error("--steps, --repeats and --batches must be at least 1, --warmup at least 0")
    return args


def main(argv=None):
    args = parse(argv)
    try:
        import torch  # noqa: PLC0415 - after argument errors, which need no torch
    except ImportError:
        print("benchmarks/gpu.py compares with PyTorch: install torch (its CUDA build on a "
              "GPU machine)", file=sys.stderr)  # fmt: skip
        return NO_GPU

    if args.standin:
        from gradwork import _standin  # noqa: PLC0415

        _standin.enable()
        torch_device = "cpu"
    else:
        missing = []
        if not gw.cuda.is_available():
            missing.append(
                'gradwork sees no CUDA device (install CuPy: pip install "gradwork[cuda12]" '
                'or "gradwork[cuda13]")'
            )
        if not torch.cuda.is_available():
            missing.append("torch sees no CUDA device (a CUDA build of torch is needed)")
        if missing:
            print(
                "benchmarks/gpu.py measures on an NVIDIA GPU, and there is none to use here: "
                + "; ".join(missing)
                + ". Run it on a GPU machine, or pass --standin for a smoke test of the "
                "script on the CPU (its figures mean nothing).",
                file=sys.stderr,
            )
            return NO_GPU
        torch_device = "cuda"
        torch.backends.cudnn.benchmark = True  # torch's best eager convolutions
    chosen = [w for w in WORKLOADS if not args.only or w.name in args.only.split(",")]
    if not chosen:
        print(f"--only {args.only}: no such workload", file=sys.stderr)
        return NO_GPU
    side = gradwork_side(args.standin)
    kernels.use_device(args.device_kernels)
    results = []
    for workload in chosen:
        results.append(run_workload(workload, torch, torch_device, side, args))
        print(f"  {workload.name}: done", file=sys.stderr, flush=True)
    device = "CPU stand-in (smoke test)" if args.standin else torch.cuda.get_device_name(0)
    print(f"device: {device}; torch {torch.__version__}; {platform.python_version()}; "
          f"gradwork device kernels: {args.device_kernels}")  # fmt: skip
    print(table(results, args.standin))
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "device": device,
                    "standin": args.standin,
                    "device_kernels": args.device_kernels,
                    "results": results,
                },
                indent=1,
            )  # fmt: skip
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
