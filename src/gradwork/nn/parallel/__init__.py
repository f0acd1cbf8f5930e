"""gradwork.nn.parallel: data-parallel training over processes (torch.nn.parallel's names).

`DistributedDataParallel` averages gradients over the ranks of
`gradwork.distributed`'s process group; `SyncBatchNorm` shares batch
statistics across them (also reachable as `gradwork.nn.SyncBatchNorm`).
"""

from gradwork.nn.parallel._sync_batchnorm import SyncBatchNorm
from gradwork.nn.parallel.distributed import DistributedDataParallel

__all__ = ["DistributedDataParallel", "SyncBatchNorm"]
