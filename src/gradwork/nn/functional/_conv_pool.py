"""Functional linear, convolution and pooling layers (torch's signatures)."""

from __future__ import annotations

from typing import Any

import numpy as np

from gradwork import ops
from gradwork.functions import pad as _pad
from gradwork.nn._placement import as_array, to_host
from gradwork.ops.windows import output_size
from gradwork.tensor import Tensor


def pair(value: Any, name: str = "argument") -> tuple[int, int]:
    """An int or a pair of ints as a pair of ints."""
    if isinstance(value, int | np.integer):
        return int(value), int(value)
    values = tuple(int(v) for v in value)
    if len(values) == 1:
        return values[0], values[0]
    if len(values) != 2:
        raise ValueError(f"{name}: expected an int or a pair of ints, got {value!r}")
    return values


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:  # noqa: A002
    """x @ weight.T + bias, as one graph node.

    Example:
        >>> import gradwork as gw
        >>> linear(gw.ones(2, 3), gw.ones(4, 3)).shape
        (2, 4)
    """
    return ops.Linear.apply(input, weight, bias)


def _same_padding(kernel, dilation, stride, name):
    if any(s != 1 for s in stride):
        raise ValueError(f"{name}: padding='same' is not supported for strided convolutions")
    totals = [d * (k - 1) for k, d in zip(kernel, dilation, strict=False)]
    return [t // 2 for t in totals], [t - t // 2 for t in totals]


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,  # noqa: A002
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:  # fmt: skip
    """2-D cross-correlation of (N, C, H, W) or unbatched (C, H, W) input.

    `padding` is an int, a pair, 'valid' (none) or 'same' (output as large as
    the input; stride 1 only).

    Example:
        >>> import gradwork as gw
        >>> conv2d(gw.ones(1, 2, 5, 5), gw.ones(3, 2, 3, 3), padding="same").shape
        (1, 3, 5, 5)
    """
    if input.ndim == 3:
        return conv2d(input.unsqueeze(0), weight, bias, stride, padding, dilation, groups)[0]
    stride, dilation = pair(stride, "conv2d stride"), pair(dilation, "conv2d dilation")
    if padding == "valid":
        padding = (0, 0)
    elif padding == "same":
        before, after = _same_padding(weight.shape[2:], dilation, stride, "conv2d")
        if before != after:  # asymmetric: pad the extra row/column on the bottom/right
            input = _pad(input, (0, after[1] - before[1], 0, after[0] - before[0]))
        padding = tuple(before)
    else:
        padding = pair(padding, "conv2d padding")
    return ops.Conv2d.apply(input, weight, bias, stride=stride, padding=padding,
                            dilation=dilation, groups=groups)  # fmt: skip


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,  # noqa: A002
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:  # fmt: skip
    """1-D cross-correlation of (N, C, L) or (C, L) input, through conv2d on a height-1 image."""
    if input.ndim == 2:
        return conv1d(input.unsqueeze(0), weight, bias, stride, padding, dilation, groups)[0]
    padding2d = padding if isinstance(padding, str) else (0, _single(padding))
    out = conv2d(input.unsqueeze(2), weight.unsqueeze(2), bias, (1, _single(stride)),
                 padding2d, (1, _single(dilation)), groups)  # fmt: skip
    return out.squeeze(2)


def _single(value: Any) -> int:
    return int(value if isinstance(value, int | np.integer) else tuple(value)[0])


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None,  # noqa: A002
                     stride: Any = 1, padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                     dilation: Any = 1) -> Tensor:  # fmt: skip
    """The transpose of conv2d (a 'deconvolution'); weight is (C_in, C_out/groups, kh, kw)."""
    if input.ndim == 3:
        return conv_transpose2d(input.unsqueeze(0), weight, bias, stride, padding,
                                output_padding, groups, dilation)[0]  # fmt: skip
    stride, padding = pair(stride), pair(padding)
    output_padding, dilation = pair(output_padding), pair(dilation)
    for op, s, d in zip(output_padding, stride, dilation, strict=False):
        if op >= max(s, d):
            raise ValueError(
                f"conv_transpose2d: output_padding {output_padding} must be smaller than "
                f"either stride {stride} or dilation {dilation}"
            )
    out_hw = tuple(
        (size - 1) * s - 2 * p + d * (k - 1) + op + 1
        for size, s, p, d, k, op in zip(
            input.shape[2:],
            stride,
            padding,
            dilation,
            weight.shape[2:],
            output_padding,
            strict=False,
        )  # fmt: skip
    )
    return ops.ConvTranspose2d.apply(input, weight, bias, stride=stride, padding=padding,
                                     dilation=dilation, groups=groups, out_hw=out_hw)  # fmt: skip


def _pool_arguments(name, kernel_size, stride, padding, dilation=1):
    kernel = pair(kernel_size, name)
    stride = kernel if stride is None or stride == [] or stride == () else pair(stride, name)
    padding, dilation = pair(padding, name), pair(dilation, name)
    for p, k, d in zip(padding, kernel, dilation, strict=False):
        if p > (d * (k - 1) + 1) // 2:
            raise ValueError(
                f"{name}: padding {padding} must be at most half of the (effective) kernel "
                f"size {kernel}; use a larger kernel or less padding"
            )
    return kernel, stride, padding, dilation


def _batched(input, fn):
    """Run a pooling function on unbatched (C, H, W) input by adding a batch axis."""
    return fn(input.unsqueeze(0))[0] if input.ndim == 3 else fn(input)


def max_pool2d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,  # noqa: A002
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """Max over (dilated) windows; with return_indices also the flat H*W index of each max.

    The indices (int64, torch's: the first maximum of each window, counted
    row-major within its (H, W) plane) are computed with or without a graph.

    Example:
        >>> import gradwork as gw
        >>> x = gw.tensor([[[[1.0, 5.0], [7.0, 2.0]]]])
        >>> max_pool2d(x, 2, return_indices=True)
        (tensor([[[[7.]]]]), tensor([[[[2]]]]))
    """
    kernel, stride, padding, dilation = _pool_arguments(
        "max_pool2d", kernel_size, stride, padding, dilation
    )

    def pool(x):
        return ops.MaxPool2d.apply(x, kernel, stride, padding, dilation, ceil_mode)

    out = _batched(input, pool)
    if not return_indices:
        return out
    batched = input.array[None] if input.ndim == 3 else input.array
    indices = ops.pool.max_pool2d_indices(batched, kernel, stride, padding, dilation, ceil_mode)
    return out, Tensor(indices[0] if input.ndim == 3 else indices)


def max_unpool2d(input: Tensor, indices: Any, kernel_size: Any, stride: Any = None,  # noqa: A002
                 padding: Any = 0, output_size: Any = None) -> Tensor:  # fmt: skip
    """Undo max_pool2d: each value goes back to the flat index max_pool2d returned; zeros elsewhere.

    Example:
        >>> import gradwork as gw
        >>> x = gw.tensor([[[[1.0, 5.0], [7.0, 2.0]]]])
        >>> values, indices = max_pool2d(x, 2, return_indices=True)
        >>> max_unpool2d(values, indices, 2)
        tensor([[[[0., 0.],
                  [7., 0.]]]])
    """
    kernel = pair(kernel_size, "max_unpool2d kernel_size")
    stride = kernel if stride is None else pair(stride, "max_unpool2d stride")
    padding = pair(padding, "max_unpool2d padding")
    out_hw = _unpool_output_size(input, kernel, stride, padding, output_size)
    index = as_array(indices)  # GPU indices stay on the GPU
    if index.shape != tuple(input.shape):
        raise RuntimeError(
            f"max_unpool2d: Expected shape of indices to be same as that of the input tensor "
            f"({tuple(input.shape)}) but got indices tensor with shape {index.shape}"
        )
    if index.dtype.kind not in "iu":
        raise RuntimeError(f"max_unpool2d: indices must be int64, got {index.dtype}")
    bad = (index < 0) | (index >= out_hw[0] * out_hw[1])
    if bad.any():
        raise RuntimeError(
            f"Found an invalid max index: {to_host(index[bad]).flat[0]} (output volumes are "
            f"of size {out_hw[0]}x{out_hw[1]}); pass the indices max_pool2d returned and its "
            "input size"
        )
    return ops.MaxUnpool2d.apply(input, indices=index.astype(np.int64), out_hw=out_hw)


def _unpool_output_size(input, kernel, stride, padding, output_size):
    """(H, W) of max_unpool2d's output: torch's default, or output_size checked against it."""
    if input.ndim not in (3, 4):
        raise RuntimeError(
            f"max_unpool2d: Expected 3D or 4D tensor, but got a tensor of shape "
            f"{tuple(input.shape)}"
        )
    default = [(size - 1) * s + k - 2 * p
               for size, k, s, p in zip(input.shape[-2:], kernel, stride, padding,
                                        strict=False)]  # fmt: skip
    if output_size is None:
        return tuple(default)
    sizes = list(output_size)
    if len(sizes) == 4:
        sizes = sizes[2:]
    if len(sizes) != 2:
        raise ValueError(
            "output_size should be a sequence containing 2 or 4 elements, but it has a length "
            f"of '{len(sizes)}'"
        )
    for d, (want, s) in enumerate(zip(sizes, stride, strict=False)):
        if not default[d] - s < want < default[d] + s:
            raise ValueError(
                f'invalid output_size "{list(sizes)}" (dim {d} must be between '
                f"{default[d] - s} and {default[d] + s})"
            )
    return tuple(int(v) for v in sizes)


def avg_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,  # noqa: A002
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:  # fmt: skip
    kernel, stride, padding, _ = _pool_arguments("avg_pool2d", kernel_size, stride, padding)
    return _batched(input, lambda x: ops.AvgPool2d.apply(
        x, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override))  # fmt: skip


def max_pool1d(input: Tensor, kernel_size: int, stride: Any = None, padding: int = 0,  # noqa: A002
               dilation: int = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Any:  # fmt: skip
    """Max over windows of (N, C, L) or (C, L) input; indices count along L."""
    stride = kernel_size if stride is None else _single(stride)
    out = max_pool2d(input.unsqueeze(-2), (1, _single(kernel_size)), (1, stride),
                     (0, _single(padding)), (1, _single(dilation)), ceil_mode,
                     return_indices)  # fmt: skip
    if return_indices:
        return out[0].squeeze(-2), out[1].squeeze(-2)
    return out.squeeze(-2)


def avg_pool1d(input: Tensor, kernel_size: int, stride: Any = None, padding: int = 0,  # noqa: A002
               ceil_mode: bool = False, count_include_pad: bool = True) -> Tensor:  # fmt: skip
    stride = kernel_size if stride is None else _single(stride)
    out = avg_pool2d(input.unsqueeze(-2), (1, _single(kernel_size)), (1, stride),
                     (0, _single(padding)), ceil_mode, count_include_pad)  # fmt: skip
    return out.squeeze(-2)


def _adaptive_size(input, output_size):
    size = pair(output_size) if not isinstance(output_size, tuple | list) else output_size
    return tuple(input.shape[-2 + i] if s is None else int(s) for i, s in enumerate(size))


def _averaging_matrix(size, out, dtype):
    """(out, size) matrix averaging torch's adaptive windows [floor(i n/o), ceil((i+1) n/o))."""
    matrix = np.zeros((out, size), dtype=dtype)
    for i in range(out):
        start, end = (i * size) // out, -((-(i + 1) * size) // out)
        matrix[i, start:end] = 1.0 / (end - start)
    return matrix


def adaptive_avg_pool2d(input: Tensor, output_size: Any) -> Tensor:  # noqa: A002
    """Average into a fixed output size; (1, 1) is global average pooling (one mean)."""
    out_h, out_w = _adaptive_size(input, output_size)
    height, width = input.shape[-2:]
    if (out_h, out_w) == (1, 1):
        return input.mean(dim=(-2, -1), keepdim=True)
    if height % out_h == 0 and width % out_w == 0:
        kernel = (height // out_h, width // out_w)
        return avg_pool2d(input, kernel, kernel)
    # Windows overlap or differ in size: average rows then columns (two matmuls).
    rows = Tensor(_averaging_matrix(height, out_h, input.dtype)).to(input.device)
    cols = Tensor(_averaging_matrix(width, out_w, input.dtype).T.copy()).to(input.device)
    return (rows @ input) @ cols


def adaptive_max_pool2d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:  # noqa: A002
    """Max into a fixed output size (torch's window rule)."""
    out_h, out_w = _adaptive_size(input, output_size)
    height, width = input.shape[-2:]
    if height % out_h == 0 and width % out_w == 0:
        kernel = (height // out_h, width // out_w)
        return max_pool2d(input, kernel, kernel, return_indices=return_indices)
    if return_indices:
        raise NotImplementedError("adaptive_max_pool2d: return_indices needs divisible sizes")
    from gradwork.functions import stack

    cells = []
    for i in range(out_h):
        top, bottom = (i * height) // out_h, -((-(i + 1) * height) // out_h)
        for j in range(out_w):
            left, right = (j * width) // out_w, -((-(j + 1) * width) // out_w)
            cells.append(input[..., top:bottom, left:right].amax(dim=(-2, -1)))
    return stack(cells, dim=-1).reshape(*input.shape[:-2], out_h, out_w)


__all__ = [
    "pair", "linear", "conv1d", "conv2d", "conv_transpose2d", "max_pool1d", "max_pool2d",
    "avg_pool1d", "avg_pool2d", "adaptive_avg_pool2d", "adaptive_max_pool2d", "output_size",
    "max_unpool2d",
]  # fmt: skip
