"""Max pooling over 2x2 tiles and ReLU compiled with Numba: one pass over memory each.

Max pooling, forward: each 2x2 window's maximum and the position of its
FIRST maximum (an int8) in one pass over x, where cpu.py copies x into four
phase planes first and then makes passes over them for the maximum and the
winner. Backward: one pass writing every input's gradient once. The values
are bit-identical to reference.py (the backward writes the reference's 0 + g,
so even a -0.0 gradient comes out as its 0.0), except for a NaN: it wins its
window, as in torch, and the LAST NaN of the window takes the gradient
(torch's `val > max || isnan(val)`; the reference skips NaNs). This is the
hot case, the suite's CNN and ResNet stem (MaxPool2d(2) on 28x28 and 14x14);
other windows (padding, dilation, overlap, ceil_mode's partial windows) run
cpu.py's kernels, which were faster than a compiled loop over each window's
inputs (3x3 stride 2 on 64x16x28x28, forward and backward: 6.4 ms NumPy,
9.0 ms compiled).

ReLU: one compiled pass each way, where NumPy makes one (forward, against a
row of zeros) and two (backward: a mask, then the product).

Pooling runs over the (sample, channel) planes as a `numba.prange` loop when
compiled.prange_allowed() allows (one thread; LLVM vectorised that form better:
64x16x28x28 forward 0.28 against 0.48 ms as `range`), ReLU as a plain
`range` loop (the same speed either way, so it needs no OpenMP). Each output
is computed alike in either form: results do not depend on threads.

Measured, float32, 1 thread, CPU time, best of 30 interleaved (cpu.py -> here);
2 threads wall time gave the same figures (Numba runs on one thread):
    MaxPool2d(2) forward + backward, 64x16x28x28     1.44 -> 0.69 ms
    MaxPool2d(2) forward + backward, 64x32x14x14     0.93 -> 0.47 ms
    MaxPool2d(2) forward, no_grad, 256x16x28x28     2.76 -> 0.72 ms
    MaxPool2d(2) forward, no_grad, 256x32x14x14     1.11 -> 0.49 ms
    ReLU forward / backward, 64x16x28x28    0.20 -> 0.09 / 0.27 -> 0.14 ms
    ReLU forward / backward, 64x32x14x14    0.12 -> 0.06 / 0.16 -> 0.08 ms
    the suite's CNN, training step (batch 64)        15.5 -> 13.0 ms
    the same CNN, eval under no_grad (batch 256)     23.6 -> 20.7 ms
    the suite's ResNet, training step (batch 64)     29.7 -> 28.6 ms

Example:
    >>> import numpy as np
    >>> from gradwork.ops.kernels import reference
    >>> x = np.array([[[[1, 3, 0, 0], [3, 2, 0, 0], [4, 4, 4, 4], [4, 4, 4, 5]]]], np.float32)
    >>> out, saved = max_pool2d_forward(x, (2, 2), (2, 2), (0, 0), (1, 1), False)
    >>> want, want_saved = reference.max_pool2d_forward(x, (2, 2), (2, 2), (0, 0), (1, 1), False)
    >>> bool(np.array_equal(out, want))
    True
    >>> grad_x = max_pool2d_backward(saved, np.ones_like(out))
    >>> grad_x[0, 0].tolist()  # on a tie the first maximum takes the gradient
    [[0.0, 1.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]]
    >>> bool(np.array_equal(grad_x, reference.max_pool2d_backward(want_saved, np.ones_like(out))))
    True
"""

from __future__ import annotations

import numba
import numpy as np

from gradwork.autograd.grad_mode import is_grad_enabled
from gradwork.ops.kernels import cpu
from gradwork.ops.kernels.compiled import jit, prange_allowed
from gradwork.ops.windows import pool_geometry


# -- max pooling over 2x2 tiles ----------------------------------------------------------------
@jit(inline="always")
def _better(value, best):
    """Whether `value` replaces the running maximum: greater, or a NaN (torch's rule).

    Bitwise `|`, not `or`: no branch, so loops using it can be vectorised.
    """
    return (value > best) | (value != value)


@jit(inline="always")
def _window_2x2(x, p, i, j):
    """The window of output (i, j) in plane p: a, b over c, d."""
    return (
        x[p, 2 * i, 2 * j],
        x[p, 2 * i, 2 * j + 1],
        x[p, 2 * i + 1, 2 * j],
        x[p, 2 * i + 1, 2 * j + 1],
    )


@jit(inline="always")
def _max_of(a, b, c, d):
    best = a
    best = b if _better(b, best) else best
    best = c if _better(c, best) else best
    return d if _better(d, best) else best


@jit(inline="always")
def _pool_2x2_plane(x, out, winner, p, keep):
    """Plane p's windows: each maximum, then the position of the first input equal to it.

    The position is found by equality after the maximum, not tracked along it:
    a loop without branches is vectorised (measured 1 thread, 64x16x28x28, as
    `range` loops: 0.47 against 2.6 ms tracked). Indexed [p, row, column], not
    by a flat offset, whose sign Numba cannot know (a check per load: 0.75 ms).
    A NaN maximum equals nothing: `_last_nans_2x2` gives those windows theirs.
    """
    for i in range(out.shape[1]):
        if keep:
            for j in range(out.shape[2]):
                a, b, c, d = _window_2x2(x, p, i, j)
                best = _max_of(a, b, c, d)
                out[p, i, j] = best
                on_a, on_b, on_c = a == best, b == best, c == best
                k = 3 - np.int8(on_a | on_b | on_c) - np.int8(on_a | on_b) - np.int8(on_a)
                winner[p, i, j] = k
        else:
            for j in range(out.shape[2]):
                a, b, c, d = _window_2x2(x, p, i, j)
                out[p, i, j] = _max_of(a, b, c, d)


@jit(parallel=True)
def _pool_2x2(x, out, winner, keep, parallel):
    if parallel:
        for p in numba.prange(x.shape[0]):
            _pool_2x2_plane(x, out, winner, p, keep)
    else:
        for p in range(x.shape[0]):
            _pool_2x2_plane(x, out, winner, p, keep)


@jit
def _last_nans_2x2(x, out, winner):
    """Windows whose maximum is NaN: their LAST NaN takes the gradient, as in torch."""
    for p in range(out.shape[0]):
        for i in range(out.shape[1]):
            for j in range(out.shape[2]):
                if out[p, i, j] == out[p, i, j]:
                    continue
                for k in range(4):
                    value = x[p, 2 * i + k // 2, 2 * j + k % 2]
                    if value != value:
                        winner[p, i, j] = k


@jit(inline="always")
def _unpool_2x2_plane(bits, winner, image, p, negative_zero):
    """Plane p's inputs written once each: their window's gradient if they won it, else 0.

    On the gradients' bits (`bits` and `image` are unsigned views of the same
    width): "g if won else 0" as a mask, with no branch; a select on floats
    was compiled as a branch, mispredicted (measured 1 thread, 64x16x28x28:
    0.34 against 1.5 ms). A -0.0 gradient is written as 0.0, the reference's
    0 + g. The row or column no window reads (odd sizes) gets 0.
    """
    height, width = image.shape[1], image.shape[2]
    ho, wo = bits.shape[1], bits.shape[2]
    zero = negative_zero ^ negative_zero
    for i in range(ho):
        for j in range(wo):
            g = bits[p, i, j]
            g &= zero - (g != negative_zero)
            k = winner[p, i, j]
            image[p, 2 * i, 2 * j] = g & (zero - (k == 0))
            image[p, 2 * i, 2 * j + 1] = g & (zero - (k == 1))
            image[p, 2 * i + 1, 2 * j] = g & (zero - (k == 2))
            image[p, 2 * i + 1, 2 * j + 1] = g & (zero - (k == 3))
        for c in range(2 * wo, width):
            image[p, 2 * i, c] = zero
            image[p, 2 * i + 1, c] = zero
    for r in range(2 * ho, height):
        for c in range(width):
            image[p, r, c] = zero


@jit(parallel=True)
def _unpool_2x2(bits, winner, image, negative_zero, parallel):
    if parallel:
        for p in numba.prange(image.shape[0]):
            _unpool_2x2_plane(bits, winner, image, p, negative_zero)
    else:
        for p in range(image.shape[0]):
            _unpool_2x2_plane(bits, winner, image, p, negative_zero)


def _tiles_2x2(x, kernel, stride, padding, dilation, out_hw):
    """Whether the windows are 2x2 tiles from the top left of a float (N, C, H, W) array."""
    layout = type(x) is np.ndarray and x.ndim == 4 and x.dtype in (np.float32, np.float64)
    if not layout or not x.flags.c_contiguous or x.size == 0:
        return False
    geometry = tuple(kernel) == tuple(stride) == (2, 2) and tuple(dilation) == (1, 1)
    return (
        geometry
        and tuple(padding) == (0, 0)
        and tuple(out_hw) == (x.shape[2] // 2, x.shape[3] // 2)
    )


def max_pool2d_forward(x, kernel, stride, padding, dilation, ceil_mode):
    """reference.max_pool2d_forward: 2x2 tiles in one compiled pass, other windows by cpu.py's.

    NOTE: a NaN wins its window, as in torch (and cpu.py); on 2x2 tiles the
    LAST NaN takes the gradient, as in torch.
    """
    out_hw = pool_geometry(x, kernel, stride, padding, dilation, ceil_mode)
    if not _tiles_2x2(x, kernel, stride, padding, dilation, out_hw):
        out, saved = cpu.max_pool2d_forward(x, kernel, stride, padding, dilation, ceil_mode)
        return out, None if saved is None else ("cpu", saved)
    n, c, height, width = x.shape
    planes = x.reshape(n * c, height, width)
    out = np.empty((n * c, *out_hw), x.dtype)
    keep = is_grad_enabled()  # without a graph nothing is kept for a backward
    winner = np.empty(out.shape if keep else (1, 1, 1), np.int8)
    with prange_allowed() as parallel:
        _pool_2x2(planes, out, winner, keep, parallel)
    if keep and np.isnan(np.max(out)):  # rare: one pass over out to find out
        _last_nans_2x2(planes, out, winner)
    return out.reshape(n, c, *out_hw), ("tiles", winner, x.shape) if keep else None


def max_pool2d_backward(saved, grad):
    """Each window's gradient to its winner, from what max_pool2d_forward kept."""
    if saved[0] == "cpu":
        return cpu.max_pool2d_backward(saved[1], grad)
    _, winner, x_shape = saved
    n, c, height, width = x_shape
    planes = np.ascontiguousarray(grad).reshape(winner.shape)
    image = np.empty((n * c, height, width), grad.dtype)  # every input is written
    unsigned = np.dtype(f"u{grad.dtype.itemsize}")
    negative_zero = unsigned.type(1 << (8 * grad.dtype.itemsize - 1))  # -0.0's bits
    with prange_allowed() as parallel:
        _unpool_2x2(planes.view(unsigned), winner, image.view(unsigned), negative_zero, parallel)
    return image.reshape(x_shape)


# -- ReLU --------------------------------------------------------------------------------------
@jit(inline="always")
def _relu_element(i, a, out, zero):
    value = a[i]
    out[i] = value if _better(value, zero) else zero  # -0.0 -> 0.0 (as np.maximum), NaN stays


@jit
def _relu(a, out, zero):
    for i in range(a.size):
        _relu_element(i, a, out, zero)


@jit(inline="always")
def _relu_grad_element(i, grad, out, result, zero, one):
    # the reference's product with its mask, not a select: an inf gradient times 0 is NaN there
    result[i] = grad[i] * (zero if out[i] <= zero else one)


@jit
def _relu_grad(grad, out, result, zero, one):
    for i in range(grad.size):
        _relu_grad_element(i, grad, out, result, zero, one)


def _flat(a):
    """a as a 1-D view when it is a contiguous float32/float64 array, else None."""
    if type(a) is not np.ndarray or a.dtype not in (np.float32, np.float64):
        return None
    return a.reshape(-1) if a.flags.c_contiguous else None


def relu_forward(a):
    """reference.relu_forward in one compiled pass; other layouts go to cpu.py's."""
    flat = _flat(a)
    if flat is None:
        return cpu.relu_forward(a)
    out = np.empty_like(flat)
    _relu(flat, out, a.dtype.type(0))
    return out.reshape(a.shape)


def relu_backward(grad, out):
    """reference.relu_backward in one compiled pass (mask and product together)."""
    flat_grad, flat_out = _flat(grad), _flat(out)
    if flat_grad is None or flat_out is None or grad.shape != out.shape:
        return cpu.relu_backward(grad, out)
    result = np.empty_like(flat_grad)
    dtype = grad.dtype.type
    _relu_grad(flat_grad, flat_out.astype(grad.dtype, copy=False), result, dtype(0), dtype(1))
    return result.reshape(grad.shape)
