"""`gradwork train --nproc N`: data-parallel training on N processes over MPI.

`--nproc N` starts `mpiexec -n N python -m gradwork.cli train ...` (the same
command without `--nproc`) and returns its exit code. Each process it starts,
like each process of `mpiexec -n N gradwork train CONFIG` on a cluster with its
own launcher, finds MPI's variables in its environment and joins the process
group. Every rank builds the same session; the model is wrapped in
`DistributedDataParallel` and the training data sharded with a
`DistributedSampler` (`data.batch_size` is per process: the global batch is N
times it). Rank 0 creates the run folder and tells the others its path; only
rank 0 writes, prints and tests. Resuming needs the same N (distributed.json).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from gradwork import data
from gradwork import distributed as dist
from gradwork.nn.parallel import DistributedDataParallel
from gradwork.train.config import ConfigError

NPROC_VARIABLE = "GRADWORK_NPROC"  # set by --nproc: how many ranks the children expect
# Variables MPI launchers give each process (MPICH/Intel MPI, Open MPI, PMIx, Slurm).
_RANK_VARIABLES = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "MPI_LOCALRANKID")
_INSTALL = 'pip install "gradwork[mpi]"  (mpi4py and the MPICH wheel, with its mpiexec)'


def find_mpiexec() -> str | None:
    """The mpiexec beside this Python (the MPICH wheel installs it there), else on PATH."""
    beside = Path(sys.executable).parent / "mpiexec"
    return str(beside) if beside.is_file() else shutil.which("mpiexec")


def launched_by_mpi() -> bool:
    return any(name in os.environ for name in _RANK_VARIABLES) or NPROC_VARIABLE in os.environ


def launch_or_join(args: Any, argv: list[str]) -> int | None:
    """With --nproc: run the command on N processes and return its exit code.

    Under an MPI launcher: join the process group and return None (the command
    then runs here, as one of the ranks). Otherwise None: one process, as ever.
    """
    nproc = getattr(args, "nproc", None)
    if nproc is not None:
        return launch(nproc, argv)
    if launched_by_mpi():
        join()
    return None


def launch(nproc: int, argv: list[str]) -> int:
    if nproc < 1:
        raise ConfigError(f"--nproc must be at least 1, got {nproc}")
    mpiexec = find_mpiexec()
    if not dist.is_available() or mpiexec is None:
        missing = "mpi4py" if not dist.is_available() else "mpiexec"
        raise ConfigError(f"--nproc needs MPI, and {missing} is not installed: {_INSTALL}")
    command = [mpiexec, "-n", str(nproc), sys.executable, "-m", "gradwork.cli",
               *_without_nproc(argv)]  # fmt: skip
    environment = {**os.environ, NPROC_VARIABLE: str(nproc)}
    process = subprocess.Popen(command, env=environment)
    try:
        return process.wait()
    except KeyboardInterrupt:  # mpiexec passes Ctrl-C on to the ranks; let them save
        return process.wait()


def _without_nproc(argv: list[str]) -> list[str]:
    kept, skip = [], False
    for argument in argv:
        if skip:
            skip = False
        elif argument == "--nproc":
            skip = True
        elif not argument.startswith("--nproc="):
            kept.append(argument)
    return kept


def join() -> None:
    """Join the process group; quiet this rank's standard output unless it is rank 0."""
    dist.init_process_group(backend="mpi")
    expected = os.environ.get(NPROC_VARIABLE)
    if expected is not None and int(expected) != dist.get_world_size():
        raise RuntimeError(
            f"gradwork train --nproc {expected}: this process is one of "
            f"{dist.get_world_size()}, not {expected}: the mpiexec found ({find_mpiexec()}) "
            f"belongs to another MPI than the one mpi4py loaded; reinstall with {_INSTALL}"
        )
    if dist.get_rank() != 0:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - for the life of the process
    elif hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)  # a pipe to mpiexec: show each epoch


def world_size() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def is_writer() -> bool:
    return not dist.is_initialized() or dist.get_rank() == 0


def distribute(trainer: Any, session: Any) -> None:
    """On several ranks: wrap the trainer's model in DDP and shard the training data."""
    if world_size() == 1:
        return
    trainer.model = DistributedDataParallel(trainer.model)
    loader = session.loaders["train"]
    sampler = data.DistributedSampler(loader.dataset, shuffle=True, seed=session.config["seed"])
    session.loaders["train"] = data.DataLoader(
        loader.dataset, loader.batch_size, sampler=sampler, seed=session.config["seed"]
    )


def shared_run_path(create: Any) -> Path:
    """`create()` (which makes the run folder and returns it) on rank 0; its path everywhere."""
    if world_size() == 1:
        return Path(create().path)
    text = str(create().path).encode() if dist.get_rank() == 0 else b""
    length = np.array([len(text)], np.int64)
    dist.broadcast(length, 0)
    buffer = np.zeros(int(length[0]), np.uint8)
    buffer[: len(text)] = np.frombuffer(text, np.uint8)
    dist.broadcast(buffer, 0)
    path = Path(buffer.tobytes().decode())
    if dist.get_rank() == 0:
        _write_nproc(path)
    return path


def _write_nproc(path: Path) -> None:
    (path / "distributed.json").write_text(f'{{"nproc": {world_size()}}}\n')


def check_resume(run_path: Path) -> None:
    """A run resumes on as many processes as it was trained on (the data shards depend on it)."""
    import json

    record = Path(run_path) / "distributed.json"
    trained = json.loads(record.read_text())["nproc"] if record.is_file() else 1
    if trained != world_size():
        raise ConfigError(
            f"--resume: {run_path} was trained on {trained} process(es) and this is "
            f"{world_size()}: resume with --nproc {trained} (each process's share of the "
            "data, and so the exact continuation, depends on the number)"
        )


def create_run(config: dict, info: dict, source: Any) -> Any:
    """A new run folder, made (and its files written) by rank 0 only; every rank gets it."""
    from gradwork import train
    from gradwork.train.build import write_run_files

    def create() -> Any:
        run = train.RunFolder.create(config["output"], config["name"])
        write_run_files(run, config, info, source)
        return run

    return train.RunFolder(shared_run_path(create))
