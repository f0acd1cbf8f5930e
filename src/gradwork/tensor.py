"""`Tensor`: an n-dimensional array that records the ops applied to it.

The class is split by theme: this file holds construction, the autograd
interface, conversion and the Python protocol; `_tensor_math.py` the
operators, math and reductions (with torch's type promotion);
`_tensor_shape.py` reshaping and indexing (with torch's index layout);
`_tensor_inplace.py` the in-place methods (with version counting);
`_tensor_pointwise.py` further elementwise math; `_tensor_rounding.py`
rounding and the divisions that round; `_tensor_scan.py` scans,
sorting and scatter; `_tensor_rearrange.py` flips, repeats, triangles and
diagonals; `_tensor_linalg.py` linear algebra and statistics. Every
method that computes calls a primitive in `gradwork.ops` or composes several.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from gradwork import _arrays, _device, _device_checks, autograd, dtypes
from gradwork._tensor_inplace import InPlaceMethods, replace_in_place
from gradwork._tensor_linalg import LinalgMethods
from gradwork._tensor_math import MathMethods, operand, promote
from gradwork._tensor_pointwise import PointwiseMethods
from gradwork._tensor_rearrange import RearrangeMethods
from gradwork._tensor_rounding import RoundingMethods
from gradwork._tensor_scan import ScanMethods
from gradwork._tensor_shape import ShapeMethods, index_array
from gradwork.hooks import RemovableHandle
from gradwork.ops import Cast, ToDevice

# Helpers the layers above (nn, ...) use to treat operands as Tensor methods do.
__all__ = ["Tensor", "index_array", "operand", "promote", "replace_in_place", "to_arguments",
           "to_target"]  # fmt: skip


def to_arguments(args: tuple, kwargs: dict) -> Any:
    """The dtype (or None) that torch's `.to(...)` forms ask for; a device they name
    is checked (`to_target` gives it too), and one this build lacks raises as torch does.

    Example:
        >>> to_arguments(("cpu", "float64"), {})
        'float64'
    """
    return to_target(args, kwargs)[0]


def to_target(args: tuple, kwargs: dict) -> tuple[Any, _device.device | None]:
    """(dtype or None, device or None) that torch's `.to(...)` forms ask for.

    Reads `to(dtype)`, `to(device)`, `to(device, dtype)`, `to(other_tensor)` (its
    dtype and device) and the `dtype=` / `device=` keywords, for Tensor.to and
    Module.to alike. A device this build cannot hold tensors on raises
    (`gradwork._device.check_placeable`).

    Example:
        >>> to_target(("cpu", "float64"), {})
        ('float64', device(type='cpu'))
    """
    target, place = kwargs.get("dtype"), kwargs.get("device")
    for arg in args:
        if isinstance(arg, Tensor):
            target, place = arg.dtype, arg.device
        elif isinstance(arg, _device.device | int) and not isinstance(arg, bool):
            place = arg
        elif isinstance(arg, str) and arg.partition(":")[0] in _device.DEVICE_TYPES:
            place = arg
        elif not isinstance(arg, bool):  # non_blocking and copy may come positionally
            target = arg
    return target, _device.check_placeable(place)


class Tensor(
    MathMethods,
    ShapeMethods,
    InPlaceMethods,
    PointwiseMethods,
    RoundingMethods,
    ScanMethods,
    RearrangeMethods,
    LinalgMethods,
):
    """An array with an optional gradient, like `torch.Tensor`.

    `array` is the underlying NumPy array (a CuPy array on a GPU); `data` is,
    as in torch, a Tensor sharing that storage but cut from the graph; `grad`
    is a Tensor once backward has reached this tensor, or None.

    Example:
        >>> import gradwork as gw
        >>> x = gw.tensor([1.0, 2.0, 3.0], requires_grad=True)
        >>> (x * x).sum().backward()
        >>> x.grad
        tensor([2., 4., 6.])
    """

    __slots__ = ("array", "grad_fn", "grad", "_requires_grad", "_hooks", "_retains_grad",
                 "_version_counter", "_base", "_view_of", "__weakref__")  # fmt: skip
    # Make NumPy hand `ndarray + tensor` to Tensor.__radd__ instead of looping.
    __array_ufunc__ = None

    def __init__(self, data: Any, dtype: Any = None, requires_grad: bool = False) -> None:
        if _arrays.is_device_array(data):  # stays on its device; a dtype given makes a copy
            self.array = data if dtype is None else data.astype(dtypes.as_dtype(dtype))
        else:
            self.array = (
                data if dtype is None and _is_array(data) else dtypes.infer_array(data, dtype)
            )
        self.grad_fn = None
        self.grad = None
        self._requires_grad = False
        self._hooks = None
        self._retains_grad = False
        self._version_counter = autograd.VersionCounter()
        self._base = None  # the tensor whose storage this one views (torch's `_base`)
        self._view_of = None  # (source, inverse): how to rebuild the source after `view +=`
        if requires_grad:
            self.requires_grad = True

    # ------------------------------------------------------------------ autograd
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        if self.grad_fn is not None and not flag:
            raise RuntimeError(
                "requires_grad: you can only change the flag of a leaf tensor; use "
                ".detach() to get a tensor cut from the graph."
            )
        if flag and self.array.dtype.kind not in "fc":
            raise RuntimeError(
                f"requires_grad: only floating-point tensors can require gradients, this "
                f"one is {self.array.dtype}. Convert it first with .float()."
            )
        self._requires_grad = bool(flag)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    def backward(self, gradient: Any = None, retain_graph: bool = False) -> None:
        """Accumulate the gradient of this tensor into every leaf's `.grad`."""
        autograd.backward(self, gradient, retain_graph)

    def detach(self) -> Tensor:
        """The same data, cut from the graph (shares memory and version, like torch)."""
        out = _from_op(self.array)
        out._version_counter = self._version_counter
        return out

    @property
    def data(self) -> Tensor:
        """A Tensor sharing this one's storage, outside the graph (torch's `.data`).

        Changes made through it (`p.data.add_(1)`) reach this tensor and, as in
        torch, are not seen by autograd's version check. Assigning a tensor or
        array replaces the storage.
        """
        return _from_op(self.array)

    @data.setter
    def data(self, value: Any) -> None:
        array = getattr(value, "array", value)
        if not _is_array(array):
            array = np.asarray(array)
        self.array = array

    @property
    def _version(self) -> int:
        """How many in-place changes this tensor's storage has had (torch's `_version`)."""
        return self._version_counter.value

    def retain_grad(self) -> None:
        """Keep `.grad` on this non-leaf tensor after backward."""
        if self.grad_fn is not None:
            self._retains_grad = True
            autograd.track_output(self.grad_fn, self)

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> RemovableHandle:
        """Call `hook(grad)` when this tensor's gradient is computed; it may return a new one."""
        if not self.requires_grad:
            raise RuntimeError("register_hook: this tensor does not require grad")
        if self._hooks is None:
            self._hooks = {}
        if self.grad_fn is not None:
            autograd.track_output(self.grad_fn, self)
        handle = RemovableHandle(self._hooks)
        self._hooks[handle.id] = hook
        return handle

    # ---------------------------------------------------------------- properties
    @property
    def shape(self) -> tuple[int, ...]:
        return self.array.shape

    @property
    def ndim(self) -> int:
        return self.array.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.array.dtype

    @property
    def device(self) -> _device.device:
        """Where the data lives: `device(type='cpu')` or `device(type='cuda', index=0)`.

        As in torch it is a device, not a string: compare with `gw.device("cpu")`
        or read `.device.type`.
        """
        return _arrays.device_of(self.array)

    @property
    def is_cuda(self) -> bool:
        return _arrays.is_device_array(self.array)

    @property
    def is_cpu(self) -> bool:
        return not _arrays.is_device_array(self.array)

    def get_device(self) -> int:
        """The CUDA device index, or -1 on the CPU (torch's convention)."""
        return 0 if _arrays.is_device_array(self.array) else -1

    def dim(self) -> int:
        return self.array.ndim

    def size(self, dim: int | None = None) -> Any:
        return self.array.shape if dim is None else self.array.shape[dim]

    def numel(self) -> int:
        return int(self.array.size)

    def is_floating_point(self) -> bool:
        return self.array.dtype.kind == "f"

    # ---------------------------------------------------------------- conversion
    def numpy(self) -> np.ndarray:
        """The NumPy array behind this CPU tensor (shared memory); a CUDA tensor raises
        torch's TypeError, since its data must be copied to the host first (`.cpu()`)."""
        if _arrays.is_device_array(self.array):
            raise TypeError(_ON_DEVICE)
        if self.requires_grad:
            raise RuntimeError(
                "numpy: can't call numpy() on a tensor that requires grad; use "
                "tensor.detach().numpy()"
            )
        return self.array

    def item(self) -> Any:
        if self.array.size != 1:
            raise RuntimeError(
                f"a Tensor with {self.array.size} elements cannot be converted to Scalar: "
                f"item() needs a one-element tensor, this one has shape {tuple(self.shape)}"
            )
        if _arrays.is_device_array(self.array):
            _device_checks.raise_pending()  # device-side checks are reported at a host read
        return self.array.item()

    def tolist(self) -> Any:
        if _arrays.is_device_array(self.array):
            _device_checks.raise_pending()
        return self.array.tolist()

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if _arrays.is_device_array(self.array):
            raise TypeError(_ON_DEVICE)
        return self.array if dtype is None else self.array.astype(dtype, copy=False)

    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        """`to(dtype)`, `to(device)`, `to(device, dtype)` or `to(other_tensor)`; differentiable.

        The tensor itself when nothing changes; a move between devices is a
        copy whose gradient moves back (`ops.ToDevice`).

        Example:
            >>> import gradwork as gw
            >>> x = gw.ones(2, requires_grad=True)
            >>> x.to("cpu") is x, x.to(gw.float64).dtype
            (True, dtype('float64'))
        """
        target, place = to_target(args, kwargs)
        result = self if place is None else self._to_device(place)
        result = result if target is None else result._to_dtype(target)
        return result.clone() if kwargs.get("copy") and result is self else result

    def _to_device(self, place: _device.device) -> Tensor:
        return self if place.type == self.device.type else ToDevice.apply(self, place.type)

    def _to_dtype(self, target: Any) -> Tensor:
        dtype = dtypes.as_dtype(target)
        if dtype == self.array.dtype:
            return self
        if dtype.kind not in "fc":
            return Tensor(self.array.astype(dtype))  # integers carry no gradient
        return Cast.apply(self, dtype)

    def cuda(self, device: Any = None, non_blocking: bool = False) -> Tensor:
        """This tensor on the CUDA device (a differentiable copy; itself when already there).

        Without a CUDA backend it raises torch's AssertionError, saying how to install CuPy.
        """
        return self.to("cuda" if device is None else device)

    def float(self) -> Tensor:
        return self.to(dtypes.float32)

    def double(self) -> Tensor:
        return self.to(dtypes.float64)

    def long(self) -> Tensor:
        return self.to(dtypes.int64)

    def int(self) -> Tensor:
        return self.to(dtypes.int32)

    def bool(self) -> Tensor:
        return self.to(dtypes.bool_)

    def cpu(self) -> Tensor:
        """This tensor on the host (a differentiable copy from a device; itself on the CPU)."""
        return self if not _arrays.is_device_array(self.array) else ToDevice.apply(self, "cpu")

    def clone(self) -> Tensor:
        """A differentiable copy with storage of its own."""
        return Cast.apply(self, self.array.dtype, copy=True)

    # ----------------------------------------------------------- Python protocol
    def __len__(self) -> int:
        if self.array.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.array.shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __bool__(self) -> bool:
        if self.array.size != 1:
            raise RuntimeError(
                f"the truth value of a tensor with {self.array.size} elements is ambiguous; "
                "use .any() or .all()"
            )
        if _arrays.is_device_array(self.array):
            _device_checks.raise_pending()  # a host read: report device-side checks
        return bool(self.array)

    def __format__(self, spec: str) -> str:
        # One-element tensors format as their number ('{:+.2f}'.format(loss)), as in torch.
        if self.array.size == 1 and spec:
            return format(self.item(), spec)
        return format(repr(self), spec)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.array.dtype.kind not in "iu" or self.array.size != 1:
            raise TypeError("only one-element integer tensors can be used as an index")
        return int(self.array)

    __hash__ = object.__hash__  # == is elementwise, so hash by identity (as torch)

    def __repr__(self) -> str:
        body = np.array2string(
            np.asarray(_arrays.to_host(self.array)), separator=", ", prefix="tensor(", precision=4
        )
        extras = [] if not self.is_cuda else [f"device='{self.device}'"]
        if self.array.dtype not in (dtypes.float32, dtypes.int64, dtypes.bool_):
            extras.append(f"dtype=gradwork.{self.array.dtype}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{type(self.grad_fn).__name__}Backward>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([body, *extras]) + ")"


_ON_DEVICE = (
    "can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu() to copy the tensor "
    "to host memory first."
)


def _is_array(data: Any) -> bool:
    return isinstance(data, np.ndarray) or _arrays.is_device_array(data)


def _from_op(data: Any, grad_fn: autograd.Function | None = None) -> Tensor:
    """Wrap an op's output; bypasses __init__ because this runs once per op."""
    if not isinstance(data, np.ndarray) and type(data) not in _arrays._NAMESPACES:
        data = np.asarray(data)  # NumPy reductions return scalars, not 0-d arrays
    tensor = object.__new__(Tensor)
    tensor.array = data
    tensor.grad_fn = grad_fn
    tensor.grad = None
    tensor._requires_grad = grad_fn is not None
    tensor._hooks = None
    tensor._retains_grad = False
    tensor._version_counter = autograd.VersionCounter()
    tensor._base = None
    tensor._view_of = None
    return tensor


# The engine wraps each op's output in a Tensor; it sits below this module, so
# the class is handed to it here, once (the one upward reference, by design).
autograd.set_tensor_factory(_from_op, Tensor)
