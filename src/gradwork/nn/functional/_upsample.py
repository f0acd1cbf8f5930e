"""F.interpolate: resize (N, C, L) or (N, C, H, W) input by nearest, (bi)linear,
bicubic or area sampling.

The sampling modes are separable, so each spatial axis is resampled on its own
by gathering whole slices (`IndexSelect`, whose backward adds the gradient
back to the rows it read): nearest takes one slice per output position,
linear blends two, bicubic four. Gradients come free, and the source
positions and weights are computed exactly as torch's CPU kernels compute
them (same rounding, float32 where torch uses float32), so values and
gradients match bit for bit or to the last ulp. 'area' is adaptive average
pooling, as in torch.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gradwork import ops
from gradwork.nn._placement import to_device_of
from gradwork.nn.functional._conv_pool import adaptive_avg_pool2d
from gradwork.tensor import Tensor

MODES = ("nearest", "nearest-exact", "linear", "bilinear", "bicubic", "area")
_TORCH_MODES = "nearest | linear | bilinear | bicubic | trilinear | lanczos | area | nearest-exact"
_INTERPOLATING = ("linear", "bilinear", "bicubic", "trilinear")
_MODE_NDIM = {"linear": 3, "bilinear": 4}
CUBIC_A = -0.75  # torch's (and OpenCV's) cubic convolution coefficient


def interpolate(input: Tensor, size: Any = None, scale_factor: Any = None,  # noqa: A002
                mode: str = "nearest", align_corners: bool | None = None,
                recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Tensor:  # fmt: skip
    """Resize the spatial dims of (N, C, L) or (N, C, H, W) input to `size` or by `scale_factor`.

    Args:
        size: the output size (an int for every axis, or one per axis).
        scale_factor: multiplier of each spatial size (the output is floored).
        mode: 'nearest' (torch's index floor(i * in / out)), 'nearest-exact',
            'linear' (3-D input), 'bilinear' or 'bicubic' (4-D input), or
            'area' (adaptive average pooling to the output size).
        align_corners: linear and cubic modes only: True maps the corner
            pixels onto each other, False (the default) maps pixel centres.
        recompute_scale_factor: recompute the scale from the floored output
            size instead of using scale_factor itself.

    Example:
        >>> import gradwork as gw
        >>> interpolate(gw.tensor([[[1.0, 2.0]]]), scale_factor=2)
        tensor([[[1., 1., 2., 2.]]])
        >>> interpolate(gw.tensor([[[1.0, 2.0]]]), size=3, mode="linear", align_corners=True)
        tensor([[[1. , 1.5, 2. ]]])
        >>> interpolate(gw.tensor([[[1.0, 2.0, 4.0, 8.0]]]), size=2, mode="area")
        tensor([[[1.5, 6. ]]])
    """
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported")
    spatial = input.ndim - 2
    _check_mode(input, mode, align_corners)
    if mode == "area":  # NOTE: torch sizes area's output by the floored scale, never the scale
        recompute_scale_factor = recompute_scale_factor or size is None
    out_sizes, scales = _output_geometry(input, size, scale_factor, recompute_scale_factor)
    if mode == "area":
        return _area(input, out_sizes)
    _check_sizes(list(input.shape[2:]), out_sizes)
    if mode == "bicubic":
        return _bicubic(input, out_sizes, scales, bool(align_corners))
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
    if mode not in _INTERPOLATING and align_corners is not None:
        raise ValueError(
            "align_corners option can only be set with the interpolating modes: "
            "linear | bilinear | bicubic | trilinear"
        )
    if input.ndim == 5:
        raise NotImplementedError(
            f"interpolate: gradwork resizes 3-D (N, C, L) and 4-D (N, C, H, W) input; 5-D "
            f"input (mode {mode!r}) is not supported yet. Resize the volume slice by slice."
        )
    if input.ndim not in (3, 4) or (mode == "bicubic" and input.ndim != 4):
        raise NotImplementedError(
            f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {input.ndim}D) for "
            f"the modes: {_TORCH_MODES} (got {mode})"
        )
    needed = _MODE_NDIM.get(mode)
    if needed is not None and input.ndim != needed:
        raise NotImplementedError(f"Got {input.ndim}D input, but {mode} mode needs {needed}D input")
    if mode not in ("nearest", "nearest-exact") and input.dtype.kind != "f":
        raise NotImplementedError(  # torch's class: its kernels exist for floats only
            f"interpolate: mode {mode!r} needs floating-point input, got {input.dtype}; "
            "call .float()"
        )


def _check_sizes(in_sizes: list, out_sizes: list) -> None:
    if min(in_sizes + out_sizes) > 0:
        return
    names = "HW"[-len(in_sizes) :]
    given = ", ".join(f"{name}: {n}" for name, n in zip(names, in_sizes, strict=True))
    wanted = ", ".join(f"{name}: {n}" for name, n in zip(names, out_sizes, strict=True))
    joint = " and" if len(in_sizes) == 1 else ""  # torch's two wordings
    raise RuntimeError(
        f"Input and output sizes should be greater than 0, but got input ({given}){joint} "
        f"output ({wanted})"
    )


def _area(input: Tensor, out_sizes: list) -> Tensor:
    """torch's 'area': adaptive average pooling (1-D input pooled as one-row images)."""
    pooled = ([1] if input.ndim == 3 else []) + out_sizes
    if min(pooled) < 0:
        raise RuntimeError(
            "adaptive_avg_pool2d: elements of output_size must be greater than or equal to 0 "
            f"but received {{{', '.join(map(str, pooled))}}}"
        )
    if 0 in input.shape[2:]:
        raise RuntimeError(
            "adaptive_avg_pool2d(): Expected input to have non-zero size for non-batch "
            f"dimensions, but input has sizes {list(input.shape)}; pass a non-empty input"
        )
    if 0 in out_sizes:  # an empty result, still linked to the input (its gradient is zero)
        for axis, out_size in enumerate(out_sizes):
            input = ops.IndexSelect.apply(input, 2 + axis, np.zeros(out_size, np.int64))
        return input
    if input.ndim == 3:
        return adaptive_avg_pool2d(input.unsqueeze(-2), (1, out_sizes[0])).squeeze(-2)
    return adaptive_avg_pool2d(input, tuple(out_sizes))


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


def _source_positions(in_size, out_size, scale, align_corners, dtype, clamp):
    """Where each output position samples the input, in `dtype` (torch's arithmetic).

    With align_corners the corners map onto each other (step (in-1)/(out-1));
    without, pixel centres do (step 1/scale or in/out) through torch's fused
    multiply-add, clamped at 0 when `clamp` (linear modes; cubic ones are not).
    """
    positions = np.arange(out_size).astype(dtype)
    if align_corners:
        step = dtype(in_size - 1) / dtype(out_size - 1) if out_size > 1 else dtype(0)
        return step * positions
    step = _float_scale(dtype, in_size, out_size, scale)
    source = _fused(step, positions + dtype(0.5), dtype(-0.5), dtype)
    return np.maximum(source, dtype(0)) if clamp else source


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
    without, pixel centres do (step 1/scale or in/out), clamped at 0, with
    torch's fused multiply-add (see `cubic_source`).
    """
    dtype = np.dtype(dtype).type
    source = _source_positions(in_size, out_size, scale, align_corners, dtype, clamp=True)
    left = np.minimum(np.floor(source).astype(np.int64), in_size - 1)
    weight = np.clip(source - left.astype(dtype), 0, 1).astype(dtype)
    right = left + (left < in_size - 1)
    return left, right, weight


def _linear_axis(x: Tensor, axis: int, out_size: int, scale, align_corners: bool) -> Tensor:
    """Blend the two nearest input slices along `axis` for every output position."""
    left, right, weight = linear_source(x.shape[axis], out_size, scale, align_corners, x.dtype)
    shape = [1] * x.ndim
    shape[axis] = out_size
    weight = to_device_of(weight.reshape(shape), x.array)  # computed on the host, once
    near = ops.IndexSelect.apply(x, axis, left) * (1 - weight)
    far = ops.IndexSelect.apply(x, axis, right) * weight
    return near + far


def cubic_source(in_size: int, out_size: int, scale: float | None, align_corners: bool,
                 dtype: Any) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(indices, weights), each (out, 4): the four input taps of each output position.

    torch's rule, in `dtype`: the source position is not clamped at 0 (a cubic
    reaches past the border), taps past either border repeat the border pixel,
    and the weights are Keys' cubic convolution with a = -0.75 at distances
    1 + t, t, 1 - t and 2 - t from the four taps.

    NOTE: torch's compiled kernel fuses each `a * b + c` of these formulas into
    one rounding (FMA); `_fused` does the same, else float32 positions drift by
    an ulp, which moves float32 outputs by ~1e-6.

    Example:
        >>> indices, weights = cubic_source(4, 2, None, False, np.float64)
        >>> indices.tolist()
        [[0, 0, 1, 2], [1, 2, 3, 3]]
        >>> weights.sum(axis=1).tolist()
        [1.0, 1.0]
    """
    dtype = np.dtype(dtype).type
    source = _source_positions(in_size, out_size, scale, align_corners, dtype, clamp=False)
    floor = np.minimum(np.floor(source).astype(np.int64), in_size - 1)
    t = np.clip(source - floor.astype(dtype), 0, 1).astype(dtype)
    a, one = dtype(CUBIC_A), dtype(1)

    def near(x):  # |x| <= 1: ((a + 2) x - (a + 3)) x^2 + 1
        return _fused(_fused(a + dtype(2), x, -(a + dtype(3)), dtype) * x, x, one, dtype)

    def far(x):  # 1 < |x| < 2: ((a x - 5a) x + 8a) x - 4a
        inner = _fused(_fused(a, x, dtype(-5) * a, dtype), x, dtype(8) * a, dtype)
        return _fused(inner, x, dtype(-4) * a, dtype)

    weights = np.stack([far(t + one), near(t), near(one - t), far((one - t) + one)], axis=1)
    indices = np.clip(floor[:, None] + np.arange(-1, 3), 0, in_size - 1)
    return indices, weights.astype(dtype)


def _fused(a: Any, b: Any, c: Any, dtype: Any) -> np.ndarray:
    """a * b + c rounded once to `dtype` (exact for float32 operands: float64 holds a * b)."""
    return (np.float64(a) * np.asarray(b, np.float64) + np.float64(c)).astype(dtype)


def _bicubic(input: Tensor, out_sizes: list, scales: list, align_corners: bool) -> Tensor:  # noqa: A002
    """Cubic convolution along W, then H.

    NOTE: the last axis first, so each sum adds up in torch's order (rows of
    columns). torch's backward copies the gradient when no size changes,
    though its forward resamples (scale_factor=1.1 on 7 x 7 gives 7 x 7, moved
    by 1/1.1): ours is the gradient of the forward.
    """
    for axis in (1, 0):
        input = _cubic_axis(input, 2 + axis, out_sizes[axis], scales[axis], align_corners)
    return input


def _cubic_axis(x: Tensor, axis: int, out_size: int, scale, align_corners: bool) -> Tensor:
    """Sum four input slices along `axis`, weighted by the cubic kernel, per output position."""
    indices, weights = cubic_source(x.shape[axis], out_size, scale, align_corners, x.dtype)
    weights = to_device_of(weights, x.array)  # computed on the host, once
    shape = [1] * x.ndim
    shape[axis] = out_size
    total = None
    for tap in range(4):
        term = ops.IndexSelect.apply(x, axis, indices[:, tap]) * weights[:, tap].reshape(shape)
        total = term if total is None else total + term
    return total
