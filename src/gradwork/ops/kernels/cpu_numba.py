"""The CPU kernels compiled with Numba, selected by default when it is installed.

`pip install "gradwork[fast]"` adds Numba; with it, the kernels whose NumPy
form makes several passes over memory run as one compiled loop each (the
rules they follow: compiled.py). Every other kernel is cpu.py's. Each is
checked against reference.py by tests/ops/test_kernels.py, like the others.
`GRADWORK_KERNELS=cpu` (or `kernels.use("cpu")`) runs the NumPy ones instead.

    cpu_numba_optim.py   Adam's update in one pass (bit-identical)

Example:
    >>> from gradwork.ops import kernels
    >>> with kernels.using("numba"):
    ...     kernels.backend_name()
    'numba'
"""

from __future__ import annotations

from gradwork.ops.kernels.cpu import (  # noqa: F401  (the kernels not compiled here)
    batch_norm_backward,
    batch_norm_forward,
    conv2d_backward,
    conv2d_forward,
    max_pool2d_backward,
    max_pool2d_forward,
    relu_backward,
    relu_forward,
)
from gradwork.ops.kernels.cpu_numba_optim import adam_step  # noqa: F401
