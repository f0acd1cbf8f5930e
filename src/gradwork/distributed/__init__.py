"""gradwork.distributed: processes that train together over MPI (mpi4py), in torch's words.

Start the processes with MPI's launcher (`mpiexec -n 2 python train.py`, or
`gradwork train CONFIG --nproc 2`), then in each::

    import gradwork.distributed as dist
    dist.init_process_group(backend="mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)   # in place, on every rank

Collectives take Tensors or NumPy arrays and go through mpi4py's buffer API:
arrays are never pickled. `gradwork.nn.parallel.DistributedDataParallel`
averages gradients with them; `gradwork.data.DistributedSampler` shards a
data set. Install with `pip install "gradwork[mpi]"`. See README.md here.

Example:
    >>> import gradwork.distributed as dist
    >>> dist.is_initialized()
    False
"""

from gradwork.distributed._collectives import (
    ReduceOp,
    Work,
    all_gather,
    all_gather_into_tensor,
    all_reduce,
    barrier,
    broadcast,
)
from gradwork.distributed._group import (
    destroy_process_group,
    get_backend,
    get_rank,
    get_world_size,
    init_process_group,
    is_available,
    is_initialized,
    is_mpi_available,
)

__all__ = [
    "init_process_group", "destroy_process_group", "is_initialized", "is_available",
    "is_mpi_available", "get_rank", "get_world_size", "get_backend", "ReduceOp", "Work",
    "all_reduce", "broadcast", "all_gather", "all_gather_into_tensor", "barrier",
]  # fmt: skip
