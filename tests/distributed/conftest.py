"""Run a scenario of _worker.py on 2 MPI ranks; skip when MPI is not installed."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def find_mpiexec() -> str | None:
    """The mpiexec beside this Python (the MPICH wheel's), else the one on PATH."""
    beside = Path(sys.executable).parent / "mpiexec"
    return str(beside) if beside.is_file() else shutil.which("mpiexec")


MPIEXEC = find_mpiexec()
MISSING = (
    "mpi4py is not installed" if importlib.util.find_spec("mpi4py") is None
    else "no mpiexec found" if MPIEXEC is None else None
)  # fmt: skip
needs_mpi = pytest.mark.skipif(
    MISSING is not None, reason=f'{MISSING}: pip install "gradwork[mpi]"'
)


def run_ranks(arguments: list[str], n: int = 2, timeout: float = 120, env: dict | None = None,
              cwd: Path = HERE) -> subprocess.CompletedProcess:  # fmt: skip
    """`mpiexec -n N python ARGUMENTS...`, never longer than `timeout` seconds."""
    environment = {**os.environ, "GRADWORK_DISTRIBUTED_TIMEOUT": "60", **(env or {})}
    command = [MPIEXEC, "-n", str(n), *arguments]
    try:
        return subprocess.run(command, cwd=cwd, env=environment, capture_output=True,
                              text=True, timeout=timeout)  # fmt: skip
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"{' '.join(command)} hung for {timeout} s:\n{error.stdout}\n{error.stderr}")


def run_scenario(name: str, extra: list[str] = (), **options) -> subprocess.CompletedProcess:
    return run_ranks([sys.executable, str(HERE / "_worker.py"), name, *extra], **options)
