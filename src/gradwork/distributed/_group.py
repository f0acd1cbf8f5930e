"""The default process group: MPI's COMM_WORLD, its rank and size, and the timeout.

mpi4py is imported only by `init_process_group`, so `import gradwork` never
loads an MPI library. Once initialised, an exception that nothing catches on
any rank calls `MPI_Abort`, which ends every rank: without it the other ranks
would wait forever in their next collective (MPI_Finalize, run at exit, waits
for them too).
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
import traceback
from datetime import timedelta
from typing import Any

INSTALL_HINT = (
    'install MPI support with `pip install "gradwork[mpi]"` (mpi4py and the MPICH wheel, '
    "which brings its own mpiexec; no system MPI needed)"
)
DEFAULT_TIMEOUT = timedelta(minutes=30)  # torch's default for its CPU backends
TIMEOUT_VARIABLE = "GRADWORK_DISTRIBUTED_TIMEOUT"  # seconds; overrides the default


class _Group:
    """What `init_process_group` sets up (one per process)."""

    def __init__(self, comm: Any, mpi: Any, timeout: float) -> None:
        self.comm, self.mpi, self.timeout = comm, mpi, timeout
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        self.previous_excepthook: Any = None


_group: _Group | None = None
ABORT_GRACE_SECONDS = 0.5  # time for mpiexec to pass on a failing rank's report


def is_available() -> bool:
    """Whether mpi4py is installed (without initialising MPI), as torch's `is_available`.

    Example:
        >>> isinstance(is_available(), bool)
        True
    """
    return importlib.util.find_spec("mpi4py") is not None


is_mpi_available = is_available  # torch's name for the same question


def is_initialized() -> bool:
    """Whether `init_process_group` has run (and `destroy_process_group` has not).

    Example:
        >>> is_initialized()
        False
    """
    return _group is not None


def load_mpi() -> Any:
    """mpi4py's `MPI` module (initialises MPI), or a RuntimeError saying how to install it."""
    if not is_available():
        raise RuntimeError(f"gradwork.distributed needs mpi4py, which is not installed: "
                           f"{INSTALL_HINT}")  # fmt: skip
    try:
        from mpi4py import MPI
    except (ImportError, RuntimeError) as error:  # mpi4py present, no MPI library found
        raise RuntimeError(
            f"gradwork.distributed: mpi4py is installed but could not load an MPI library "
            f"({error}); {INSTALL_HINT}"
        ) from error
    return MPI


def init_process_group(
    backend: str | None = "mpi",
    init_method: str | None = None,
    timeout: timedelta | None = None,
    world_size: int = -1,
    rank: int = -1,
    **_ignored: Any,
) -> None:
    """Join the processes started by `mpiexec` (or run alone as a group of one).

    Ranks and the world size come from MPI; `world_size` and `rank`, when
    given, must agree with them. Every collective waits at most `timeout`
    (default 30 minutes, or `GRADWORK_DISTRIBUTED_TIMEOUT` seconds) for the
    other ranks, then raises; an exception no code catches aborts all ranks.

    Args:
        backend: "mpi" (the only backend; None means "mpi").
        init_method: unused (MPI's launcher connects the processes); accepted
            for torch's signature.
        timeout: how long a collective may wait for the other ranks.
        world_size: the expected number of processes, or -1.
        rank: this process's expected rank, or -1.

    Raises:
        ValueError: another backend, or a rank/world size MPI contradicts.
        RuntimeError: initialised twice, or mpi4py/MPI missing.
    """
    global _group
    if backend not in (None, "mpi"):
        raise ValueError(
            f"gradwork.distributed.init_process_group: backend {backend!r} is not supported; "
            f"gradwork runs its processes over MPI: use backend='mpi'"
        )
    if _group is not None:
        raise RuntimeError("trying to initialize the default process group twice!")
    mpi = load_mpi()
    group = _Group(mpi.COMM_WORLD, mpi, _timeout_seconds(timeout))
    for name, given, actual in (("world_size", world_size, group.size), ("rank", rank, group.rank)):
        if given not in (-1, None) and given != actual:
            raise ValueError(
                f"gradwork.distributed.init_process_group: {name}={given} but MPI says "
                f"{actual}; start the processes with `mpiexec -n N` and leave {name} out"
            )
    _group = group
    group.previous_excepthook = sys.excepthook
    sys.excepthook = _abort_all_ranks


def destroy_process_group(group: Any = None) -> None:
    """Leave the process group (MPI itself is finalised when the process exits)."""
    global _group
    if _group is None:
        raise RuntimeError(_NOT_INITIALIZED)
    if sys.excepthook is _abort_all_ranks:
        sys.excepthook = _group.previous_excepthook
    _group = None


def get_rank(group: Any = None) -> int:
    """This process's rank, 0 .. world size - 1."""
    return current().rank


def get_world_size(group: Any = None) -> int:
    """The number of processes in the group."""
    return current().size


def get_backend(group: Any = None) -> str:
    """The backend of the group: "mpi"."""
    current()
    return "mpi"


_NOT_INITIALIZED = (
    "Default process group has not been initialized, please make sure to call "
    "init_process_group (gradwork.distributed.init_process_group(backend='mpi'))."
)


def current() -> _Group:
    """The default group, or torch's RuntimeError when there is none."""
    if _group is None:
        raise RuntimeError(_NOT_INITIALIZED)
    return _group


def _timeout_seconds(timeout: timedelta | None) -> float:
    if timeout is not None:
        return float(timeout.total_seconds())
    from_environment = os.environ.get(TIMEOUT_VARIABLE)
    if from_environment:
        try:
            return float(from_environment)
        except ValueError:
            raise ValueError(
                f"{TIMEOUT_VARIABLE}={from_environment!r} is not a number of seconds"
            ) from None
    return DEFAULT_TIMEOUT.total_seconds()


def _abort_all_ranks(kind: type, value: BaseException, trace: Any) -> None:
    """sys.excepthook while initialised: report, then end every rank (no one waits forever)."""
    group = _group
    if group is None or issubclass(kind, KeyboardInterrupt) and group.size == 1:
        sys.__excepthook__(kind, value, trace)
        return
    text = "".join(traceback.format_exception(kind, value, trace))
    sys.stderr.write(
        f"{text}gradwork.distributed: rank {group.rank} of {group.size} failed "
        f"({kind.__name__}, above); aborting all ranks (MPI_Abort)\n"
    )
    sys.stderr.flush()
    # NOTE: mpiexec forwards each rank's stderr asynchronously and MPI_Abort ends the
    # job at once: without a pause the report above was lost in about one run in three.
    time.sleep(ABORT_GRACE_SECONDS)
    group.comm.Abort(1)
