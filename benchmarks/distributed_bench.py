"""Data-parallel step time over MPI: the wide MLP and the CNN at 1 and 2 processes.

    python benchmarks/distributed_bench.py            # runs mpiexec -n 1 and -n 2 itself
    python benchmarks/distributed_bench.py --json benchmarks/results/distributed.json

Each process uses one BLAS thread and a per-process batch (the suite's: 512 for
the wide MLP, 64 for the CNN), so 2 processes do twice the work per step. For
each model it reports the median step time (forward, backward with the
gradient all-reduce, Adam), the time inside MPI calls of DDP's reducer
(starting bucket all-reduces, polling them while backward runs, and the final
wait) and the part of it spent in that final wait (communication not hidden
behind backward), and the bytes all-reduced per step. It also times bare
`all_reduce` calls from 4 KB to 64 MB for the cost model in README.md.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"  # one thread per process, before NumPy starts its pool

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
MODELS = {"wide_mlp": (512, 6), "cnn": (64, 30)}  # per-process batch, timed steps


def _build(name: str, nn):
    sys.path.insert(0, str(HERE))
    from _models import cnn, mlp

    return mlp(nn, (784, 4096, 4096, 10)) if name == "wide_mlp" else cnn(nn)


def rank_main(out: Path) -> None:
    import gradwork as gw
    import gradwork.distributed as dist
    from gradwork.nn.parallel import DistributedDataParallel

    dist.init_process_group(backend="mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    rng = np.random.default_rng(rank)
    results = {"world_size": world}
    for name, (batch, steps) in MODELS.items():
        gw.manual_seed(0)
        model = DistributedDataParallel(_build(name, gw.nn))
        optimizer = gw.optim.Adam(model.parameters(), lr=1e-3)
        loss_fn = gw.nn.CrossEntropyLoss()
        x = gw.tensor(rng.random((batch, 1, 28, 28), dtype=np.float32))
        y = gw.tensor(rng.integers(0, 10, batch))
        times, comm, wait = [], [], []
        for step in range(steps + 2):  # two warm-up steps
            reducer = model.reducer
            before = (reducer.communication_seconds, reducer.wait_seconds, reducer.bytes_reduced)
            dist.barrier()
            start = time.perf_counter()
            optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()
            elapsed = time.perf_counter() - start
            if step >= 2:
                times.append(elapsed)
                comm.append(reducer.communication_seconds - before[0])
                wait.append(reducer.wait_seconds - before[1])
                step_bytes = reducer.bytes_reduced - before[2]
        record = {
            "step_ms": 1e3 * statistics.median(times),
            "allreduce_ms": 1e3 * statistics.median(comm),
            "exposed_wait_ms": 1e3 * statistics.median(wait),
            "gradient_bytes": step_bytes,
            "ring_bytes_sent": 2 * (world - 1) / world * step_bytes,
            "buckets": len(model.reducer.buckets),
            "per_process_batch": batch,
        }
        # the slowest rank sets the pace: take each figure's max over ranks
        figures = np.array([record["step_ms"], record["allreduce_ms"], record["exposed_wait_ms"]])
        dist.all_reduce(figures, dist.ReduceOp.MAX)
        keys = ("step_ms", "allreduce_ms", "exposed_wait_ms")
        record.update(zip(keys, figures.tolist(), strict=True))
        record["allreduce_fraction"] = record["allreduce_ms"] / record["step_ms"]
        results[name] = record
    results["allreduce_curve"] = _allreduce_curve(dist)
    if rank == 0:
        out.write_text(json.dumps(results, indent=2) + "\n")


def _allreduce_curve(dist) -> list:
    """Median time of a blocking float32 all_reduce of each size (for alpha + bytes/beta)."""
    curve = []
    for size in (2**10, 2**14, 2**18, 2**20, 2**22, 2**24):  # floats: 4 KB .. 64 MB
        array = np.ones(size, np.float32)
        times = []
        for _ in range(7 if size <= 2**20 else 3):
            dist.barrier()
            start = time.perf_counter()
            dist.all_reduce(array)
            times.append(time.perf_counter() - start)
        figure = np.array([statistics.median(times)])
        dist.all_reduce(figure, dist.ReduceOp.MAX)
        curve.append({"bytes": 4 * size, "seconds": float(figure[0])})
    return curve


def driver(json_path: Path | None) -> None:
    sys.path.insert(0, str(HERE.parent / "src"))
    mpiexec = Path(sys.executable).parent / "mpiexec"
    runs = {}
    for nproc in (1, 2):
        out = HERE / f".distributed_{nproc}.json"
        command = [str(mpiexec), "-n", str(nproc), sys.executable, __file__, "--rank", str(out)]
        subprocess.run(command, check=True, timeout=1800)
        runs[nproc] = json.loads(out.read_text())
        out.unlink()
    print("| model | processes | step (ms) | in MPI calls (ms) | exposed wait (ms) "
          "| share of step | gradient bytes/step | ring bytes sent/step |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for name in MODELS:
        for nproc, run in runs.items():
            r = run[name]
            print(f"| {name} | {nproc} | {r['step_ms']:.1f} | {r['allreduce_ms']:.1f} | "
                  f"{r['exposed_wait_ms']:.1f} | {100 * r['allreduce_fraction']:.0f}% | "
                  f"{r['gradient_bytes'] / 1e6:.2f} MB | "
                  f"{r['ring_bytes_sent'] / 1e6:.2f} MB |")  # fmt: skip
    print("\nall_reduce at 2 processes:")
    for point in runs[2]["allreduce_curve"]:
        rate = point["bytes"] / point["seconds"] / 1e9
        milliseconds = 1e3 * point["seconds"]
        print(f"  {point['bytes'] / 1e6:9.3f} MB  {milliseconds:8.3f} ms  {rate:.2f} GB/s")
    if json_path:
        json_path.write_text(json.dumps(runs, indent=2) + "\n")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--rank":
        rank_main(Path(sys.argv[2]))
    else:
        driver(Path(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[1] == "--json" else None)
