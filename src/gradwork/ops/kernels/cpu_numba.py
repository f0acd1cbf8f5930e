"""The CPU kernels compiled with Numba, selected by default when it is installed.

`pip install "gradwork[fast]"` adds Numba; with it, the kernels whose NumPy
form makes several passes over memory run as one compiled loop each (the
rules they follow: compiled.py). Every other kernel is cpu.py's. Each is
checked against reference.py by tests/ops/test_kernels.py, like the others.
`GRADWORK_KERNELS=cpu` (or `kernels.use("cpu")`) runs the NumPy ones instead.

    cpu_numba_optim.py   Adam's update in one pass (bit-identical)
    cpu_numba_pool.py    max pooling over 2x2 tiles and ReLU, one pass each (bit-identical)
    cpu_numba_norm.py    batch norm (training) in 3 passes forward, 2 backward, float64 sums
    cpu_numba_recurrent.py  the LSTM step's pointwise work in one compiled call each way,
                         on a vectorised exp (kernels.RECURRENT_MODULES sends it recurrences)

Example:
    >>> from gradwork.ops import kernels
    >>> with kernels.using("numba"):
    ...     kernels.backend_name()
    'numba'
"""

from __future__ import annotations

import numpy as np

from gradwork.ops.kernels import compiled  # noqa: F401  (first: it sizes Numba's thread pool)
from gradwork.ops.kernels.cpu import (  # noqa: F401  (BLAS-bound, or one einsum)
    channel_sums,
    conv2d_backward,
    conv2d_forward,
)
from gradwork.ops.kernels.cpu_numba_norm import batch_norm_backward, batch_norm_forward  # noqa: F401
from gradwork.ops.kernels.cpu_numba_optim import adam_step
from gradwork.ops.kernels.cpu_numba_pool import (  # noqa: F401
    max_pool2d_backward,
    max_pool2d_forward,
    relu_backward,
    relu_forward,
)


def load_runtime() -> None:
    """Load Numba's code generator now rather than at the first compiled call.

    The first call of any compiled kernel in a process starts LLVM (about
    58 MiB resident here, once: library code, as torch's 180 MiB are at its
    import); later kernels add their own machine code (under 1 MiB each).
    benchmarks/suite.py calls this before it measures what training adds.
    """
    param = np.zeros(1, np.float32)
    adam_step(param, param.copy(), param.copy(), param.copy(), None, 0.0, 0.9, 0.999, 1e-8, 1)
