"""F.interpolate: resize (N, C, L) or (N, C, H, W) input by nearest or (bi)linear sampling.

Both modes are separable, so each spatial axis is resampled on its own by
gathering whole slices (`IndexSelect`, whose backward adds the gradient back
to the rows it read): nearest takes one slice per output position, linear
blends two. Gradients come free, and the source positions and weights are
computed exactly as torch's CPU kernels compute them (same rounding, float32
where torch uses float32), so values and gradients match bit for bit or to
the last ulp.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gradwork import ops
from gradwork.tensor import Tensor

MODES = ("nearest", "nearest-exact", "linear", "bilinear")
_TORCH_MODES = "nearest | linear | bilinear | bicubic | trilinear | area | nearest-exact"
_LINEAR_NDIM = {"linear": 3, "bilinear": 4}


def interpolate(input: Tensor, size: Any = None, scale_factor: Any = None,  # noqa: A002
                mode: str = "nearest", align_corners: bool | None = None,
                recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Tensor:  # fmt: skip
    """Resize the spatial dims of (N, C, L) or (N, C, H, W) input to `size` or by `scale_factor`.

    Args:
        size: the output size (an int for every axis, or one per axis).
        scale_factor: multiplier of each spatial size (the output is floored).
        mode: 'nearest' (torch's index floor(i * in / out)), 'nearest-exact',
            'linear' (3-D input) or 'bilinear' (4-D input).
        align_corners: linear modes only: True maps the corner pixels onto
            each other, False (the default) maps pixel centres.
        recompute_scale_factor: recompute the scale from the floored output
            size instead of using scale_factor itself.

    Example:
        >>> import gradwork as gw
        >>> interpolate(gw.tensor([[[1.0, 2.0]]]), scale_factor=2)
        tensor([[[1., 1., 2., 2.]]])
        >>> interpolate(gw.tensor([[[1.0, 2.0]]]), size=3, mode="linear", align_corners=True)
        tensor([[[1. , 1.5, 2. ]]])
    """
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported")
    spatial = input.ndim - 2
    _check_mode(input, mode, align_corners)
    out_sizes, scales = _output_geometry(input, size, scale_factor, recompute_scale_factor)
    for axis in range(spatial):
        in_size, out_size = input.shape[2 + axis], out_sizes[axis]
        if mode.startswith("nearest"):
            exact = mode == "nearest-exact"
            index = nearest_source(in_size, out_size, scales[axis], exact, spatial == 2)
            input = ops.IndexSelect.apply(input, 2 + axis, index)
        elif in_size != out_size:  # NOTE: torch copies an axis whose size is kept, whatever
            # the scale_factor (1.1 on 7 rows gives 7 rows, copied, not resampled by 1/1.1)
            input = _linear_axis(input, 2 + axis, out_size, scales[axis], bool(align_corners))
    return input


def _check_mode(input: Tensor, mode: str, align_corners: bool | None) -> None:
    if mode not in MODES:
        raise NotImplementedError(
            f"interpolate: mode {mode!r} is not supported by gradwork; use one of {MODES}"
        )
    if mode.startswith("nearest") and align_corners is not None:
        raise ValueError(
            "align_corners option can only be set with the interpolating modes: "
            "linear | bilinear | bicubic | trilinear"
        )
    if input.ndim not in (3, 4):
        raise NotImplementedError(
            f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.ndim}D) for "
            f"the modes: {_TORCH_MODES} (got {mode})"
        )
    needed = _LINEAR_NDIM.get(mode)
    if needed is not None and input.ndim != needed:
        raise NotImplementedError(f"Got {input.ndim}D input, but {mode} mode needs {needed}D input")


def _output_geometry(input, size, scale_factor, recompute_scale_factor):
    """(output sizes, scales passed to the kernels) per spatial axis, torch's rules."""
    spatial = input.ndim - 2
    in_sizes = list(input.shape[2:])
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is None and scale_factor is None:
        raise ValueError("either size or scale_factor should be defined")
    if recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    if size is not None:
        sizes = list(size) if isinstance(size, list | tuple) else [size] * spatial
        if len(sizes) != spatial:
            raise ValueError(
                "Input and output must have the same number of spatial dimensions, but got "
                f"input with spatial dimensions of {in_sizes} and output size of {size}. "
                "Please provide input tensor in (N, C, d1, d2, ...,dK) format and output size "
                "in (o1, o2, ...,oK) format."
            )
        if not all(isinstance(s, int | np.integer) for s in sizes):
            raise TypeError(
                "expected size to be one of int or Tuple[int] or Tuple[int, int] or "
                f"Tuple[int, int, int], but got size with types {[type(s) for s in sizes]}"
            )
        return [int(s) for s in sizes], [None] * spatial
    factors = list(scale_factor) if isinstance(scale_factor, list | tuple) else None
    if factors is not None and len(factors) != spatial:
        raise ValueError(
            "Input and scale_factor must have the same number of spatial dimensions, but got "
            f"input with spatial dimensions of {in_sizes} and scale_factor of shape "
            f"{scale_factor}. Please provide input tensor in (N, C, d1, d2, ...,dK) format and "
            "scale_factor in (s1, s2, ...,sK) format."
        )
    factors = [float(f) for f in (factors or [scale_factor] * spatial)]
    sizes = [math.floor(float(n) * f) for n, f in zip(in_sizes, factors, strict=False)]
    return sizes, ([None] * spatial if recompute_scale_factor else factors)


def nearest_source(in_size: int, out_size: int, scale: float | None, exact: bool,
                   shortcut: bool = True) -> np.ndarray:  # fmt: skip
    """The input index each output position copies, torch's float32 rule.

    'nearest' is floor(i * s), 'nearest-exact' floor((i + 0.5) * s), with
    s = 1 / scale_factor when one was given, else in / out (in float32).

    NOTE: torch's 2-D 'nearest' kernel copies an axis whose size is kept and
    halves the index of one whose size doubles, whatever the scale_factor
    (`shortcut`); its 1-D forward does not (its 1-D backward does, so there
    torch's gradient is not the gradient of its forward: ours is).

    Example:
        >>> nearest_source(3, 5, None, exact=False)
        array([0, 0, 1, 1, 2])
    """
    positions = np.arange(out_size)
    if shortcut and not exact and out_size == in_size:
        return positions
    if shortcut and not exact and out_size == 2 * in_size:
        return positions >> 1
    step = _float_scale(np.float32, in_size, out_size, scale)
    if exact:
        source = np.floor(((positions + 0.5) * np.float64(step)).astype(np.float32))
    else:
        source = np.floor(positions.astype(np.float32) * step)
    return np.minimum(source.astype(np.int64), in_size - 1)


def _float_scale(dtype, in_size, out_size, scale):
    """torch's compute_scales_value: 1 / scale when given (and > 0), else in / out."""
    if scale is not None and scale > 0:
        return dtype(1.0 / scale)
    return dtype(in_size) / dtype(out_size)


def linear_source(in_size: int, out_size: int, scale: float | None, align_corners: bool,
                  dtype: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """(left index, right index, weight of the right one) of each output position.

    Computed in `dtype` (torch's opmath: float32 for float32 input). With
    align_corners the corners map onto each other (step (in-1)/(out-1));
    without, pixel centres do (step 1/scale or in/out), clamped at 0.
    """
    dtype = np.dtype(dtype).type
    positions = np.arange(out_size).astype(dtype)
    if align_corners:
        step = dtype(in_size - 1) / dtype(out_size - 1) if out_size > 1 else dtype(0)
        source = step * positions
    else:
        step = _float_scale(dtype, in_size, out_size, scale)
        source = np.maximum(step * (positions + dtype(0.5)) - dtype(0.5), dtype(0))
    left = np.minimum(np.floor(source).astype(np.int64), in_size - 1)
    weight = np.clip(source - left.astype(dtype), 0, 1).astype(dtype)
    right = left + (left < in_size - 1)
    return left, right, weight


def _linear_axis(x: Tensor, axis: int, out_size: int, scale, align_corners: bool) -> Tensor:
    """Blend the two nearest input slices along `axis` for every output position."""
    if x.dtype.kind != "f":
        raise RuntimeError(
            f"interpolate: linear modes need floating-point input, got {x.dtype}; call .float()"
        )
    left, right, weight = linear_source(x.shape[axis], out_size, scale, align_corners, x.dtype)
    shape = [1] * x.ndim
    shape[axis] = out_size
    weight = weight.reshape(shape)
    near = ops.IndexSelect.apply(x, axis, left) * (1 - weight)
    far = ops.IndexSelect.apply(x, axis, right) * weight
    return near + far
