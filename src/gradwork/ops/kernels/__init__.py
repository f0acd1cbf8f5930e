"""The kernels layer: the few hot loops, fast, each beside the plain reference it must equal.

Ops (`gradwork.ops.*`) say WHAT they compute, on arrays, as the math; the
loops that decide how fast it runs live here, one module per device (`cpu.py`
for NumPy, `cuda.py` for CuPy), next to the reference:

    reference.py   the plain NumPy definition of each kernel (read this first)
    cpu_numba.py   (the default when Numba is installed: `gradwork[fast]`) the
                   kernels NumPy runs in several passes as one compiled loop
                   each (compiled.py has the rules), the rest from cpu.py
    cpu.py         fast NumPy versions: max pooling on contiguous phase planes
                   with an int8 winner index, batch norm and ReLU in fewer
                   passes, Adam through a scratch buffer
    cpu_conv.py    convolution: a per-sample column layout for thin layers, the
                   zero-copy form (cpu_conv_shifted.py: kh*kw GEMMs on shifted
                   views, through cblas in cpu_blas.py) for the rest, the
                   widened-grid im2col where cblas is missing (`_layout`)
    reference_recurrent.py, cpu_recurrent.py (+ cpu_recurrent_lstm.py)
                   RNN, LSTM and GRU over a sequence: the plain step-by-step
                   loops and the fast ones (RECURRENT_KERNELS; checked by
                   tests/ops/test_recurrent_kernels.py)
    threads.py     BLAS thread control (one place in the package)
    memory.py      the allocator policy: freed temporaries stay for the next step

Every module exposes the same functions (`KERNELS`); tests/ops/test_kernels.py
checks each fast one against the reference on random geometries. The ops
call the functions below, which forward by the type of their array: NumPy
arrays go to the selected module ("numba", else "cpu", by default; "reference" with
`GRADWORK_KERNELS=reference` in the environment or `use("reference")`, to
rule the fast paths out when a result looks wrong); device arrays (CuPy, the
CPU stand-in) go to `DEVICE`:

    cuda.py        (the default for device arrays) the elementwise chains as ONE
                   fused kernel each through cupy.fuse (cuda_fusion.py): Adam's
                   update, ReLU backward, batch norm's normalise/affine and input
                   gradient, cross-entropy's softmax-minus-target; convolution
                   and pooling as the reference (im2col + cuBLAS GEMM; CuPy v14
                   has no cuDNN). Checked by tests/device/test_cuda_kernels.py.

`GRADWORK_DEVICE_KERNELS=reference` (or `use_device("reference")`) sends
device arrays to the xp-generic reference instead, and runs every fused
kernel unfused: the switch benchmarks/gpu.py times the fused kernels against.
The CPU modules may use CPU-only tricks (as_strided views, out= chains,
threads) because they only ever receive NumPy arrays.

Example:
    >>> from gradwork.ops import kernels
    >>> kernels.backend_name() == kernels.DEFAULT  # "numba" when installed, else "cpu"
    True
    >>> with kernels.using("reference"):
    ...     kernels.backend_name()
    'reference'
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator
from types import ModuleType

import numpy as np

from gradwork.ops.kernels import (
    cpu,
    cpu_recurrent,
    cuda,
    cuda_fusion,
    memory,
    reference,
    reference_recurrent,
)

KERNELS = (
    "relu_forward",
    "relu_backward",
    "conv2d_forward",
    "conv2d_backward",
    "max_pool2d_forward",
    "max_pool2d_backward",
    "batch_norm_forward",
    "batch_norm_backward",
    "adam_step",
    "channel_sums",
)
BACKENDS: dict[str, ModuleType] = {"cpu": cpu, "reference": reference}
try:  # the compiled kernels (the `gradwork[fast]` extra): cpu_numba.py
    from gradwork.ops.kernels import cpu_numba
except ImportError as error:  # no Numba: the NumPy kernels
    cpu_numba = None
    if getattr(error, "name", None) != "numba":  # installed, but it cannot load: say why
        warnings.warn(f"gradwork: Numba is installed but cannot be used ({error}); the "
                      "NumPy kernels run instead", RuntimeWarning, stacklevel=2)  # fmt: skip
else:
    BACKENDS["numba"] = cpu_numba
DEFAULT = "numba" if cpu_numba is not None else "cpu"
DEVICE_BACKENDS: dict[str, ModuleType] = {"cuda": cuda, "reference": reference}

_active: ModuleType = cpu
DEVICE: ModuleType = cuda  # the kernels for device arrays (CuPy, the stand-in)


def _for(array) -> ModuleType:
    """The kernel module for `array`: the selected CPU one for NumPy, DEVICE otherwise."""
    return _active if type(array) is np.ndarray else DEVICE


def use(name: str) -> None:
    """Select the kernel module by name: one of BACKENDS."""
    global _active
    if name == "numba" and cpu_numba is None:
        raise ValueError('kernels "numba" need Numba: pip install "gradwork[fast]"')
    if name not in BACKENDS:
        raise ValueError(f"unknown kernels {name!r}: choose one of {sorted(BACKENDS)}")
    _active = BACKENDS[name]


def use_device(name: str) -> None:
    """Select the kernels for device arrays: "cuda" (fused) or "reference" (unfused)."""
    global DEVICE
    if name not in DEVICE_BACKENDS:
        raise ValueError(
            f"unknown device kernels {name!r}: choose one of {sorted(DEVICE_BACKENDS)}"
        )
    DEVICE = DEVICE_BACKENDS[name]
    cuda_fusion.ENABLED = name == "cuda"


def device_backend_name() -> str:
    """The name of the selected device kernel module."""
    return next(name for name, module in DEVICE_BACKENDS.items() if module is DEVICE)


def backend_name() -> str:
    """The name of the selected kernel module."""
    return next(name for name, module in BACKENDS.items() if module is _active)


@contextlib.contextmanager
def using(name: str) -> Iterator[None]:
    """Run a block with another kernel module; the previous one comes back after."""
    previous = backend_name()
    use(name)
    try:
        yield
    finally:
        use(previous)


def relu_forward(a):
    return _for(a).relu_forward(a)


def relu_backward(grad, out):
    return _for(grad).relu_backward(grad, out)


def conv2d_forward(x, weight, bias, stride, padding, dilation, groups):
    return _for(x).conv2d_forward(x, weight, bias, stride, padding, dilation, groups)


def conv2d_backward(saved, weight, grad, stride, padding, dilation, groups, need_x, need_w):
    return _for(weight).conv2d_backward(saved, weight, grad, stride, padding, dilation, groups,
                                   need_x, need_w)  # fmt: skip


def max_pool2d_forward(x, kernel, stride, padding, dilation, ceil_mode):
    return _for(x).max_pool2d_forward(x, kernel, stride, padding, dilation, ceil_mode)


def max_pool2d_backward(saved, grad):
    return _for(grad).max_pool2d_backward(saved, grad)


def batch_norm_forward(x, weight, bias, eps):
    return _for(x).batch_norm_forward(x, weight, bias, eps)


def batch_norm_backward(grad, xhat, invstd, weight, need_x):
    return _for(grad).batch_norm_backward(grad, xhat, invstd, weight, need_x)


def channel_sums(a):
    """The sums of `a` (N, C, ...) over every axis but 1, shape (C,)."""
    return _for(a).channel_sums(a)


def adam_step(param, grad, m, v, v_max, lr, beta1, beta2, eps, step, work=None):
    """One Adam update in place; `work`, when given, is a scratch array shaped like param."""
    return _for(param).adam_step(param, grad, m, v, v_max, lr, beta1, beta2, eps, step, work)


def softmax_minus_target(log_p, target, amount):
    """Cross-entropy's gradient with respect to the logits, class axis 1:
    exp(log_p) * amount, less `amount` at each element's target class.

    log_p (N, C, ...), target (N, ...) class indices in range, amount
    broadcastable to (N, 1, ...). On NumPy a multiply and a scatter; on a
    device (`cuda.softmax_minus_target`) one fused kernel.

    Example:
        >>> log_p = np.log(np.array([[0.25, 0.75]]))
        >>> softmax_minus_target(log_p, np.array([1]), np.array([[2.0]])).tolist()
        [[0.5, -0.5]]
    """
    if type(log_p) is not np.ndarray and DEVICE is cuda:
        return cuda.softmax_minus_target(log_p, target, amount)
    grad = np.exp(log_p) * amount
    reference.subtract_at_target(grad, target, amount)
    return grad


# Recurrences (RNN, LSTM, GRU over a sequence): reference_recurrent.py and its fast
# form cpu_recurrent.py, selected with the rest; tests/ops/test_recurrent_kernels.py.
RECURRENT_KERNELS = ("rnn_forward", "rnn_backward", "lstm_forward", "lstm_backward",
                     "gru_forward", "gru_backward")  # fmt: skip


# The recurrences of each CPU kernel module (reference and device arrays: reference_recurrent).
RECURRENT_MODULES: dict[ModuleType, ModuleType] = {cpu: cpu_recurrent}
if cpu_numba is not None:
    from gradwork.ops.kernels import cpu_numba_recurrent  # (needs Numba: imported here)

    RECURRENT_MODULES[cpu_numba] = cpu_numba_recurrent


def _recurrent_for(array) -> ModuleType:
    return RECURRENT_MODULES.get(_for(array), reference_recurrent)


def rnn_forward(gates_x, weight_hh, bias_hh, h0, nonlinearity, batch_sizes, reverse):
    return _recurrent_for(gates_x).rnn_forward(gates_x, weight_hh, bias_hh, h0, nonlinearity,
                                               batch_sizes, reverse)  # fmt: skip


def rnn_backward(work, weight_hh, grad, nonlinearity, batch_sizes, reverse, need_w, need_b):
    return _recurrent_for(grad).rnn_backward(work, weight_hh, grad, nonlinearity, batch_sizes,
                                             reverse, need_w, need_b)  # fmt: skip


def lstm_forward(gates_x, weight_hh, bias_hh, h0, c0, batch_sizes, reverse):
    return _recurrent_for(gates_x).lstm_forward(gates_x, weight_hh, bias_hh, h0, c0,
                                                batch_sizes, reverse)  # fmt: skip


def lstm_backward(work, weight_hh, grad, batch_sizes, reverse, need_w, need_b):
    return _recurrent_for(grad).lstm_backward(work, weight_hh, grad, batch_sizes, reverse,
                                              need_w, need_b)  # fmt: skip


def gru_forward(gates_x, weight_hh, bias_hh, h0, batch_sizes, reverse):
    return _recurrent_for(gates_x).gru_forward(gates_x, weight_hh, bias_hh, h0, batch_sizes,
                                               reverse)  # fmt: skip


def gru_backward(work, weight_hh, grad, batch_sizes, reverse, need_w, need_b):
    return _recurrent_for(grad).gru_backward(work, weight_hh, grad, batch_sizes, reverse,
                                             need_w, need_b)  # fmt: skip


use(os.environ.get("GRADWORK_KERNELS", DEFAULT))
use_device(os.environ.get("GRADWORK_DEVICE_KERNELS", "cuda"))
memory.keep_freed_memory()  # no page faults for each step's temporaries: see memory.py
