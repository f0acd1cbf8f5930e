"""gradwork: a deep-learning framework in Python on NumPy, with PyTorch's API.

Example:
    >>> import gradwork as gw
    >>> w = gw.tensor([2.0], requires_grad=True)
    >>> loss = ((w * 3.0 - 1.0) ** 2).sum()
    >>> loss.backward()
    >>> w.grad
    tensor([30.])
"""

from gradwork._function_forms import *  # noqa: F403 - sum, mean, exp, ... (function forms)
from gradwork._function_forms import _METHOD_FORMS
from gradwork.autograd import (
    Function,
    detect_anomaly,
    enable_grad,
    is_anomaly_enabled,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from gradwork.creation import (
    arange,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from gradwork.dtypes import (
    bool_ as bool,  # noqa: A004 - torch's name
)
from gradwork.dtypes import (
    can_cast,
    double,
    float16,
    float32,
    float64,
    half,
    int8,
    int16,
    int32,
    int64,
    long,
    promote_types,
    result_type,
    uint8,
)
from gradwork.functions import cat, concatenate, is_tensor, pad, stack, where
from gradwork.random import get_rng_state, manual_seed, set_rng_state
from gradwork.tensor import Tensor

# --- exports of the everyday torch surface, one block per family ---------
# (pointwise math, scans and sorting, linear algebra, plumbing: save/load, devices)
# isort: split
from gradwork import linalg  # noqa: E402 - linear algebra
from gradwork._device import device  # noqa: E402 - plumbing: devices
from gradwork._tensor_linalg import einsum, std_mean, var_mean  # noqa: E402 - linear algebra
from gradwork._tensor_scan import meshgrid  # scans and sorting
from gradwork.autograd import inference_mode, is_inference_mode_enabled  # noqa: E402 - plumbing
from gradwork.creation import empty, empty_like  # scans and sorting: creation
from gradwork.ops.kernels.threads import get_num_threads, set_num_threads  # noqa: E402 - plumbing
from gradwork.serialization import load, save  # noqa: E402 - plumbing: save/load

__version__ = "0.1.0"

# Subpackages load on first use (`gw.nn`, `gw.optim`, ...), as `torch.nn` does,
# without making `import gradwork` pay for all of them.
_SUBPACKAGES = {"nn", "optim", "data", "train", "diagnose", "tune", "cli", "ops", "linalg"}
_SUBPACKAGES |= {"utils", "cuda", "accelerator", "backends"}  # torch's module paths
_SUBPACKAGES |= {"onnx"}  # export; needs the onnx package only when called


def __getattr__(name: str):
    if name == "compile":  # capture and replay of a training step (gradwork/_compile)
        from gradwork._compile import compile

        return compile
    if name in _SUBPACKAGES:
        import importlib

        return importlib.import_module(f"gradwork.{name}")
    raise AttributeError(f"module 'gradwork' has no attribute {name!r}")


float = float32  # noqa: A001 - torch.float is float32

__all__ = [
    "Tensor", "Function", "tensor", "from_numpy", "zeros", "ones", "full", "zeros_like",
    "ones_like", "full_like", "arange", "linspace", "eye", "rand", "randn", "randint",
    "rand_like", "randn_like", "randperm", "cat", "concatenate", "stack", "where", "pad",
    "is_tensor", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
    "detect_anomaly", "is_anomaly_enabled", "manual_seed", "get_rng_state", "set_rng_state",
    "float16", "float32", "float64", "half", "double", "int8", "int16", "int32", "int64",
    "long", "uint8", "bool", "result_type", "promote_types", "can_cast", *_METHOD_FORMS,
    "einsum", "std_mean", "var_mean", "linalg",
    "meshgrid", "empty", "empty_like",
    "device", "inference_mode", "is_inference_mode_enabled", "save", "load",
    "get_num_threads", "set_num_threads",
]  # fmt: skip
