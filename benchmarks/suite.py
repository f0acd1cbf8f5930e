"""gradwork against PyTorch on the CPU: the performance suite (issue: performance).

Each workload trains the same model, from the same initial weights (torch's
state_dict loaded into gradwork), on the same batches, with the same
optimizer, in gradwork and in PyTorch, in one process, epochs interleaved.
Per workload it reports the fastest and median epoch time, the ratio
gradwork/torch, the peak memory each framework added during an epoch, and the
final test accuracy of both. Data: the real MNIST test set (first 8,000
images train, last 2,000 test).

Peak memory is measured apart, in a fresh process per framework and
workload (`--memory-probe`), so neither framework's allocator caches count
against the other: the resident memory a process gains over its first
MEMORY_STEPS training steps, after the model and optimizer are built.

With `--compile`, a third contender trains each workload with its step
captured once and replayed (`gradwork.compile`), reported as its own row
("mlp+compile") beside the eager one, against the same torch epochs.

Run: python benchmarks/suite.py [--epochs 5] [--only mlp,cnn] [--threads 1] [--json PATH]
     [--compile] [--torch-plain]
"""

from __future__ import annotations

import os
import sys


def _threads_from_argv(argv: list[str]) -> str | None:
    """The --threads value, read before NumPy and torch start their thread pools."""
    for index, arg in enumerate(argv):
        if arg == "--threads" and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith("--threads="):
            return arg.split("=", 1)[1]
    return None


_THREADS = _threads_from_argv(sys.argv)
if _THREADS:  # must precede the imports below: BLAS and OpenMP read these once
    for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_name] = _THREADS

import argparse  # noqa: E402
import functools  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from _memory import PeakMemory  # noqa: E402
from _mnist import load  # noqa: E402
from _models import WORKLOADS  # noqa: E402

import gradwork as gw  # noqa: E402

MEMORY_STEPS = 20
# Seconds of idle time before each timed epoch. WHY: after a burst of work
# OpenBLAS's threads spin-wait (tens of ms) before they sleep, and so do
# torch's OpenMP threads; on a 2-core machine an epoch started right after
# the other framework's shares the cores with those spinning threads. Without
# the pause torch's MLP epoch measured 0.20 s here against 0.11-0.12 s in a
# plain torch loop; each framework must be timed on a quiet machine.
SETTLE_S = 0.5

RESULTS = Path(__file__).resolve().parent / "results" / "suite.json"


class Framework:
    """What differs between torch and gradwork in a training epoch."""

    def __init__(self, name, module, functional, optim):
        self.name, self.module, self.F, self.optim = name, module, functional, optim
        self.lib = gw if module is gw.nn else __import__("torch")

    def tensor(self, array):
        return self.lib.from_numpy(array)

    def no_grad(self):
        return self.lib.no_grad()

    def inference_mode(self):
        """The fastest no-graph mode each offers (torch's skips version counting too)."""
        return self.lib.inference_mode()


# torch's optimizers with fused=True (its one-kernel CPU update, opt-in in torch): the
# fastest plain torch loop, so the baseline by default (on 2026-11-28 fused=True cut
# torch's MLP epoch from 0.181 to 0.158 s). --torch-plain measures the
# `torch.optim.Adam(params, lr)` most scripts write instead.
_TORCH_FUSED = "--torch-plain" not in sys.argv
FUSED = ("Adam", "AdamW", "SGD")


class _FusedOptim:
    """torch.optim, with fused=True on the optimizers that have a fused CPU kernel."""

    def __init__(self, optim):
        self.optim = optim

    def __getattr__(self, name):
        cls = getattr(self.optim, name)
        return functools.partial(cls, fused=True) if name in FUSED else cls


def frameworks():
    import torch

    if _THREADS:
        torch.set_num_threads(int(_THREADS))
    torch.manual_seed(0)
    torch_optim = _FusedOptim(torch.optim) if _TORCH_FUSED else torch.optim
    return (
        Framework("gradwork", gw.nn, gw.nn.functional, gw.optim),
        Framework("torch", torch.nn, torch.nn.functional, torch_optim),
    )


def train_epoch(fw, model, optimizer, x, y, order, batch_size, compiled=None):
    """One epoch of the plain loop; `compiled` (gradwork only) replaces its body."""
    model.train()
    for start in range(0, len(order), batch_size):
        index = order[start : start + batch_size]
        inputs, targets = fw.tensor(x[index]), fw.tensor(y[index])
        if compiled is not None:
            compiled(inputs, targets)
            continue
        loss = fw.F.cross_entropy(model(inputs), targets)
        optimizer.zero_grad(set_to_none=True)  # torch 2.x's default, spelled out
        loss.backward()
        optimizer.step()


def compiled_step(fw, model, optimizer):
    """The body of train_epoch's loop, captured once and replayed (gradwork.compile)."""

    def step(inputs, targets):
        loss = fw.F.cross_entropy(model(inputs), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss

    return gw.compile(step)


def accuracy(fw, model, x, y, batch_size=500):
    model.eval()
    correct = 0
    with fw.no_grad():
        for start in range(0, len(x), batch_size):
            logits = model(fw.tensor(x[start : start + batch_size]))
            correct += int((np.asarray(logits.argmax(1)) == y[start : start + batch_size]).sum())
    return correct / len(x)


def run_training(spec, data, epochs, compile_too=False):
    x_train, y_train, x_test, y_test = spec.prepare(*data)
    ours, theirs = frameworks()
    torch_model = spec.build(theirs.module)
    models = {"torch": torch_model, "gradwork": spec.build(ours.module)}
    contenders = [ours, theirs]
    if compile_too:  # a separate gradwork model, stepped by a compiled step
        models["compiled"] = spec.build(ours.module)
        contenders.append(Framework("compiled", gw.nn, gw.nn.functional, gw.optim))
    for name in ("gradwork", "compiled"):
        if name in models:
            models[name].load_state_dict(torch_model.state_dict())
    optimizers = {fw.name: spec.optimizer(fw.optim, models[fw.name].parameters())
                  for fw in contenders}  # fmt: skip
    steps = {"compiled": compiled_step(ours, models["compiled"], optimizers["compiled"])
             } if compile_too else {}  # fmt: skip
    times = {fw.name: [] for fw in contenders}
    rng = np.random.default_rng(0)
    for _ in range(epochs):
        order = rng.permutation(len(x_train))
        for fw in contenders:  # interleaved: noise hits all alike
            time.sleep(SETTLE_S)
            start = time.perf_counter()
            train_epoch(fw, models[fw.name], optimizers[fw.name], x_train, y_train, order,
                        spec.batch, compiled=steps.get(fw.name))  # fmt: skip
            times[fw.name].append(time.perf_counter() - start)
    result = {"workload": spec.name, "batch_size": spec.batch}
    for fw in (ours, theirs):
        result[fw.name] = {
            "epoch_s_fastest": min(times[fw.name]),
            "epoch_s_median": float(np.median(times[fw.name])),
            "epoch_s_all": times[fw.name],
            "peak_mib": measure_memory(spec.name, fw.name),
            "test_accuracy": accuracy(fw, models[fw.name], x_test, y_test),
        }
    result["ratio_fastest"] = (
        result["gradwork"]["epoch_s_fastest"] / result["torch"]["epoch_s_fastest"]
    )
    result["ratio_median"] = (
        result["gradwork"]["epoch_s_median"] / result["torch"]["epoch_s_median"]
    )
    if spec.flops_per_sample:
        result.update(_flop_rates(spec, result))
    if compile_too:
        fastest, median = min(times["compiled"]), float(np.median(times["compiled"]))
        result["compiled"] = {
            "epoch_s_fastest": fastest,
            "epoch_s_median": median,
            "epoch_s_all": times["compiled"],
            "ratio_fastest": fastest / result["torch"]["epoch_s_fastest"],
            "ratio_median": median / result["torch"]["epoch_s_median"],
            "peak_mib": measure_memory(spec.name, "compiled"),
            "test_accuracy": accuracy(ours, models["compiled"], x_test, y_test),
            "replay_stats": dict(steps["compiled"].stats),
        }
    return result


def measure_memory(workload, framework):
    """Peak MiB that MEMORY_STEPS training steps add, in a fresh process (see memory_probe)."""
    command = [sys.executable, __file__, "--memory-probe", workload, framework]
    if _THREADS:
        command += ["--threads", _THREADS]
    if not _TORCH_FUSED:
        command += ["--torch-plain"]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def memory_probe(workload, framework):
    """Print the resident memory MEMORY_STEPS training steps add to this (fresh) process."""
    spec = next(w for w in WORKLOADS if w.name == workload)
    x_train, y_train, _, _ = spec.prepare(*load())
    ours, theirs = frameworks()
    torch_model = spec.build(theirs.module)
    fw = ours if framework in ("gradwork", "compiled") else theirs
    model = torch_model
    if fw is ours:
        model = spec.build(ours.module)
        model.load_state_dict(torch_model.state_dict())
        del torch_model
    optimizer = spec.optimizer(fw.optim, model.parameters())
    compiled = compiled_step(fw, model, optimizer) if framework == "compiled" else None
    order = np.arange(min(MEMORY_STEPS * spec.batch, len(x_train)))  # wide_mlp: 15 steps
    if fw is ours and getattr(gw.ops.kernels, "cpu_numba", None) is not None:
        # Numba's LLVM (58 MiB, once per process) is library code, loaded at the first
        # compiled call as torch's libraries are at its import: before the measurement.
        gw.ops.kernels.cpu_numba.load_runtime()
    with PeakMemory() as peak:
        train_epoch(fw, model, optimizer, x_train, y_train, order, spec.batch, compiled)
    print(peak.added_mib)


def _flop_rates(spec, result):
    """Achieved training FLOP/s against NumPy's own float32 GEMM rate, same run."""
    samples = 8000 - 8000 % spec.batch
    achieved = spec.flops_per_sample * samples / result["gradwork"]["epoch_s_fastest"]
    peak = gemm_rate(spec.batch, 4096, 4096)
    return {"gflops_achieved": achieved / 1e9, "gflops_numpy_gemm": peak / 1e9,
            "fraction_of_gemm": achieved / peak}  # fmt: skip


def gemm_rate(m, k, n, repeats=10):
    a = np.random.default_rng(0).standard_normal((m, k), dtype=np.float32)
    b = np.random.default_rng(1).standard_normal((k, n), dtype=np.float32)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(repeats))
    return 2 * m * k * n / best


def _timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run_inference(spec, data, repeats=5):
    """Images per second for the CNN in eval mode, batch 256, no graph."""
    x_test = data[2]
    ours, theirs = frameworks()
    torch_model = spec.build(theirs.module)
    model = spec.build(ours.module)
    model.load_state_dict(torch_model.state_dict())
    result = {"workload": spec.name, "batch_size": spec.batch}
    rates = {"gradwork": [], "torch": []}
    for _ in range(repeats):
        for fw, net in ((ours, model), (theirs, torch_model)):
            net.eval()
            time.sleep(SETTLE_S)
            start = time.perf_counter()
            with fw.inference_mode():
                for begin in range(0, len(x_test), spec.batch):
                    net(fw.tensor(x_test[begin : begin + spec.batch]))
            rates[fw.name].append(len(x_test) / (time.perf_counter() - start))
    for name in rates:
        result[name] = {"images_per_s_best": max(rates[name]),
                        "images_per_s_median": float(np.median(rates[name]))}  # fmt: skip
    result["ratio_fastest"] = (
        result["torch"]["images_per_s_best"] / result["gradwork"]["images_per_s_best"]
    )
    return result


def print_table(results):
    head = f"{'workload':12}{'gw s':>8}{'torch s':>9}{'ratio':>7}{'med':>7}"
    head += f"{'gw MiB':>8}{'th MiB':>8}{'gw acc':>8}{'th acc':>8}  note"
    print(head)
    for r in results:
        ours, theirs = r["gradwork"], r["torch"]
        if "images_per_s_best" in ours:
            print(f"{r['workload']:12}{'':8}{'':9}{r['ratio_fastest']:7.2f}{'':7}{'':8}{'':8}"
                  f"{'':8}{'':8}  {ours['images_per_s_best']:.0f} vs "
                  f"{theirs['images_per_s_best']:.0f} images/s")  # fmt: skip
            continue
        note = ""
        if "fraction_of_gemm" in r:
            note = f"{r['gflops_achieved']:.0f} of {r['gflops_numpy_gemm']:.0f} GFLOP/s "
            note += f"= {r['fraction_of_gemm']:.0%} of NumPy's GEMM"
        print(f"{r['workload']:12}{ours['epoch_s_fastest']:8.3f}{theirs['epoch_s_fastest']:9.3f}"
              f"{r['ratio_fastest']:7.2f}{r['ratio_median']:7.2f}{ours['peak_mib']:8.1f}"
              f"{theirs['peak_mib']:8.1f}{ours['test_accuracy']:8.4f}"
              f"{theirs['test_accuracy']:8.4f}  {note}")  # fmt: skip
        if "compiled" in r:
            c = r["compiled"]
            print(f"{r['workload'] + '+compile':12}{c['epoch_s_fastest']:8.3f}"
                  f"{theirs['epoch_s_fastest']:9.3f}{c['ratio_fastest']:7.2f}"
                  f"{c['ratio_median']:7.2f}{c['peak_mib']:8.1f}{theirs['peak_mib']:8.1f}"
                  f"{c['test_accuracy']:8.4f}{theirs['test_accuracy']:8.4f}  "
                  f"replays {c['replay_stats']['replays']}, "
                  f"traces {c['replay_stats']['traces']}")  # fmt: skip


def _load_average():
    """The 1-minute load average: how busy the machine was (the figures mean little above ~1)."""
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return float("nan")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--only", default="", help="comma-separated workload names")
    parser.add_argument("--json", type=Path, default=RESULTS)
    parser.add_argument("--threads", help="threads for NumPy's BLAS and torch (default: theirs)")
    parser.add_argument(
        "--torch-plain",
        action="store_true",
        help="torch's Adam/AdamW/SGD without fused=True (by default torch gets its fastest, "
        "fused, optimizers)",
    )
    parser.add_argument("--compile", action="store_true",
                        help="also train with gradwork.compile (a separate row)")  # fmt: skip
    parser.add_argument("--memory-probe", nargs=2, metavar=("WORKLOAD", "FRAMEWORK"),
                        help=argparse.SUPPRESS)  # fmt: skip
    args = parser.parse_args()
    if args.memory_probe:
        memory_probe(*args.memory_probe)
        return
    try:
        import torch
    except ImportError:
        raise SystemExit("the suite compares against PyTorch: pip install torch==2.13.0") from None
    load_before = _load_average()
    data = load()
    chosen = [w for w in WORKLOADS if not args.only or w.name in args.only.split(",")]
    results = []
    for spec in chosen:
        runner = run_inference if spec.inference else run_training
        results.append(runner(spec, data) if spec.inference
                       else runner(spec, data, args.epochs, args.compile))  # fmt: skip
        print_table(results[-1:])
    print()
    machine = platform.processor() or platform.machine()
    threads = torch.get_num_threads()
    print(f"gradwork {gw.__version__} (kernels: {gw.ops.kernels.backend_name()}), ", end="")
    fused = ", fused optimizers" if _TORCH_FUSED else ""
    print(f"torch {torch.__version__} ({threads} threads{fused}), ", end="")
    print(f"numpy {np.__version__}, {machine}, load average before/after: {load_before} / ", end="")
    print(_load_average())
    print_table(results)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    record = {"results": results, "epochs": args.epochs, "torch_threads": threads,
              "torch_fused": _TORCH_FUSED,
              "kernels": gw.ops.kernels.backend_name(),
              "load_average": [load_before, _load_average()]}  # fmt: skip
    args.json.write_text(json.dumps(record, indent=2))
    print(f"\nwritten to {args.json}")


if __name__ == "__main__":
    main()
