"""Zero-copy convolution: kh*kw accumulating GEMMs on shifted views, no im2col, no col2im.

Lay the input out channel by channel as one long row per channel, each
image row followed by `gap` zero columns and each image by zero rows, so
that the input every output reads through kernel position (ki, kj) is the
same row shifted by one constant offset:

    grid[c, q + offset(ki, kj)] == x_padded[n, c, i + ki*dh, j + kj*dw]
    for the output at q = n*plane + i*row + j   (row = W + gap columns)

The gaps are shared: the zeros right of one image row are the left
padding of the next, the zero rows under one image the top padding of the
next (a gap of `padding` zeros serves both sides). Then, with G the
output gradient on the same grid (zeros in its junk places) and W_k the
(O, C) weight of kernel position k:

    out    = sum over k of  W_k   @ grid[:, offset_k : offset_k + L]
    grad_W_k =              G     @ grid[:, offset_k : offset_k + L]^T
    grad_grid[:, offset_k : offset_k + L] += W_k^T @ G

Each product reads a window of longer rows and adds into one accumulator:
BLAS's leading dimension and beta = 1, which NumPy's matmul does not offer,
so they go to cblas through `cpu_blas.py`. Copies: the input into the grid
(once, and that grid is what backward keeps: C*L floats where im2col kept
kh*kw times as many), the output and the gradients out of it (once each).
The junk places (gap rows and columns) cost GEMM work: L / (N*Ho*Wo) is
(15*15)/(14*14) = 1.15 on a 14x14 map with padding 1, 1.31 on 7x7.

At stride s > 1 (`PhaseGrid`) the padded input is split into s*s phase
planes, each laid out as above, and kernel position (ki, kj) reads one plane
at one offset: the same products, and no output computed only to be
dropped. cpu_conv runs whole stride-1 layers here, and only the input
gradient of strided ones (where one im2col GEMM beat nine small ones for
the forward and the weight gradient).

Measured (1 thread, CPU time, interleaved, load 1.1-2.4; benchmarks/
conv_shifted.py), forward + backward against cpu_conv's widened im2col:
16->16 channels at 14x14 6.46-8.15 -> 4.74-5.65 ms, 16->32 at 14x14
8.95-9.58 -> 7.78-8.20, 32->32 at 7x7 5.36-5.99 -> 4.37-5.10; the
no-graph forward at batch 256 12.8-15.3 -> 10.9-11.8. Per product the
small GEMMs (K = C) run at about the rate of im2col's one GEMM (K = 9C) on
one thread; the saving is the copies. On two threads each of the nine
calls splits and joins its threads, so they scale less well (a 16->16
forward's nine products: 1.33 -> 0.83-1.41 ms from 1 to 2 threads, the
one im2col GEMM 1.23 -> 0.66-0.91).

NOTE: grad_W multiplies junk places of G (exact zeros) by the grid, so an
inf in the input can give nan where the reference gives inf, as in
cpu_conv's widened layout.

Example:
    >>> import numpy as np
    >>> from gradwork.ops.kernels import reference
    >>> x = np.arange(2 * 3 * 5 * 4, dtype=np.float64).reshape(2, 3, 5, 4)
    >>> weight = np.ones((4, 3, 3, 3))
    >>> want, _ = reference.conv2d_forward(x, weight, None, (1, 1), (1, 1), (1, 1), 1)
    >>> if usable(x, weight, groups=1):
    ...     got, _ = conv2d_forward(x, weight, None, (1, 1), (1, 1), (1, 1))
    ... else:  # no cblas in this NumPy: cpu_conv keeps its im2col
    ...     got = want
    >>> bool(np.allclose(got, want))
    True
"""

from __future__ import annotations

import numpy as np

from gradwork.ops.kernels import cpu_blas


def usable(x, weight, groups) -> bool:
    """Whether this layer runs here: one group, float32/64, non-empty, cblas available."""
    return (
        groups == 1
        and x.dtype == weight.dtype
        and x.dtype in (np.float32, np.float64)
        and x.size > 0
        and weight.size > 0
        and cpu_blas.available()
    )


class _Layout:
    """What both grids share: output places on (N, rows, row) blocks of a flat row."""

    out_hw: tuple[int, int]  # (Ho, Wo)
    n: int  # samples
    rows: int  # rows per sample's block
    row: int  # places per row
    length: int  # n * rows * row: the GEMMs' width

    def outputs(self, flat):
        """The (O, N, Ho, Wo) output places of an (O, length) array (a view)."""
        ho, wo = self.out_hw
        return flat.reshape(-1, self.n, self.rows, self.row)[:, :, :ho, :wo]

    def spread(self, grad):
        """grad (N, O, Ho, Wo) on the output places, zeros in the junk ones: (O, length)."""
        ho, wo = self.out_hw
        flat = np.empty_like(grad, shape=(grad.shape[1], self.length))
        blocks = flat.reshape(-1, self.n, self.rows, self.row)
        blocks[:, :, ho:] = 0
        blocks[:, :, :ho, wo:] = 0
        blocks[:, :, :ho, :wo] = grad.transpose(1, 0, 2, 3)
        return flat


class Grid(_Layout):
    """Stride 1: one (C, total) grid with shared zero gaps; offset 0 is kernel position (0, 0)."""

    def __init__(self, x_shape, kernel, padding, dilation):
        self.n, _, h, w = x_shape
        (kh, kw), (ph, pw), (dh, dw) = kernel, padding, dilation
        self.x_shape = x_shape
        self.out_hw = (h + 2 * ph - dh * (kh - 1), w + 2 * pw - dw * (kw - 1))
        # the gap must hold the padding, and each sample's outputs must fit its block
        self.row = max(w + pw, self.out_hw[1])
        self.rows = max(h + ph, self.out_hw[0])
        self.length = self.n * self.rows * self.row  # the GEMMs' width: every output place
        self.start = ph * self.row + pw  # where the first image begins
        self.offsets = [
            self.start + (ki * dh - ph) * self.row + kj * dw - pw
            for ki in range(kh)
            for kj in range(kw)
        ]
        self.total = self.start + self.length + dh * (kh - 1) * self.row + dw * (kw - 1) + 1

    def _images(self, flat):
        _, _, h, w = self.x_shape
        body = flat[:, self.start : self.start + self.length]
        return body.reshape(-1, self.n, self.rows, self.row)[:, :, :h, :w]

    def fill(self, x):
        """x (N, C, H, W) on the grid, zeros everywhere else: (C, total)."""
        flat = np.empty_like(x, shape=(x.shape[1], self.total))
        _, _, h, w = self.x_shape
        flat[:, : self.start] = 0
        flat[:, self.start + self.length :] = 0
        blocks = flat[:, self.start : self.start + self.length].reshape(-1, self.n, self.rows,
                                                                        self.row)  # fmt: skip
        blocks[:, :, h:] = 0
        blocks[:, :, :h, w:] = 0
        blocks[:, :, :h, :w] = x.transpose(1, 0, 2, 3)
        return flat

    def windows(self, flat):
        """(the (C, length) window at offset 0, each kernel position's offset from it)."""
        return flat[:, : self.length], self.offsets

    def gradient_grid(self, like, channels):
        """(an empty (C, total) grid, beta of the first product): the first window (offset
        0) is written, not added to, so only what lies past it needs zeros."""
        buffer = np.empty_like(like, shape=(channels, self.total))
        buffer[:, self.length :] = 0
        return buffer, 0.0

    def image(self, flat):
        """The (N, C, H, W) image of a grid, contiguous."""
        return np.ascontiguousarray(self._images(flat).transpose(1, 0, 2, 3))


class PhaseGrid(_Layout):
    """Stride s > 1: the padded input split into s*s phase planes, each its own grid.

    Plane (a, b) holds x_padded[n, c, u*sh + a, v*sw + b]; kernel position
    (ki, kj) reads plane ((ki*dh) % sh, (kj*dw) % sw) shifted by
    ((ki*dh) // sh, (kj*dw) // sw): a stride-1 correlation per plane, so the
    same kh*kw GEMMs, and no output is computed only to be dropped.
    """

    def __init__(self, x_shape, kernel, stride, padding, dilation):
        self.n, _, h, w = x_shape
        self.x_shape, self.stride, self.padding = x_shape, stride, padding
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
        self.out_hw = ((h + 2 * ph - dh * (kh - 1) - 1) // sh + 1,
                       (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1)  # fmt: skip
        # plane sizes: the largest phase; valid outputs read only inside their plane
        self.rows = -(-(h + 2 * ph) // sh)
        self.row = -(-(w + 2 * pw) // sw)
        self.length = self.n * self.rows * self.row
        self.sources = [
            ((ki * dh % sh) * sw + kj * dw % sw, (ki * dh // sh) * self.row + kj * dw // sw)
            for ki in range(kh)
            for kj in range(kw)
        ]
        self.total = self.length + max(offset for _, offset in self.sources)
        self.planes = range(sh * sw)

    def _phases(self, flat):
        """For each phase: (its places of x's pixels in a (s*s, C, total) grid, x's rows, cols).

        Phase (a, b) holds padded rows u*sh + a: x's rows from the first such
        row at or past the padding, every sh-th, and likewise for columns.
        """
        (sh, sw), (ph, pw) = self.stride, self.padding
        h, w = self.x_shape[2:]
        body = flat[:, :, : self.length].reshape(sh, sw, -1, self.n, self.rows, self.row)
        for a in range(sh):
            rows, first_row = _phase_range(a, sh, ph, h)
            for b in range(sw):
                cols, first_col = _phase_range(b, sw, pw, w)
                yield body[a, b, :, :, rows, cols], (first_row, first_col)

    def fill(self, x):
        """The phase planes of x padded, zeros everywhere else: (s*s, C, total)."""
        (sh, sw), c = self.stride, x.shape[1]
        flat = np.zeros_like(x, shape=(sh * sw, c, self.total))
        for plane, (row, col) in self._phases(flat):
            plane[...] = x[:, :, row::sh, col::sw].transpose(1, 0, 2, 3)
        return flat

    def windows(self, flat):
        """(the (C, length) window of plane 0 at offset 0, each kernel position's offset
        from it in elements of `flat`)."""
        plane = flat.shape[1] * flat.shape[2]
        return flat[0, :, : self.length], [phase * plane + offset for phase, offset in self.sources]

    def gradient_grid(self, like, channels):
        """(zeros (s*s, C, total), 1.0): positions of one phase need not start at offset 0."""
        return np.zeros_like(like, shape=(len(self.planes), channels, self.total)), 1.0

    def image(self, flat):
        """The (N, C, H, W) image of a phase grid (the padding dropped): each pixel is in
        exactly one phase."""
        sh, sw = self.stride
        image = np.empty_like(flat, shape=(self.n, *self.x_shape[1:]))
        for plane, (row, col) in self._phases(flat):
            image[:, :, row::sh, col::sw] = plane.transpose(1, 0, 2, 3)
        return image


def _phase_range(phase, stride, padding, size):
    """(slice of plane indices u, first x index) of x's pixels in phase `phase`:
    padded index u*stride + phase = x index + padding, for x index in [0, size)."""
    first_u = -(-(padding - phase) // stride) if padding > phase else 0
    first_x = first_u * stride + phase - padding
    count = max(0, -(-(size - first_x) // stride))
    return slice(first_u, first_u + count), first_x


def make_grid(x_shape, kernel, stride, padding, dilation):
    """The layout for this geometry: Grid at stride 1, PhaseGrid otherwise."""
    if stride == (1, 1):
        return Grid(x_shape, kernel, padding, dilation)
    return PhaseGrid(x_shape, kernel, stride, padding, dilation)


def conv2d_forward(x, weight, bias, stride, padding, dilation):
    """(out, saved) as reference.conv2d_forward, for a layer `usable` accepts."""
    grid = make_grid(x.shape, weight.shape[2:], stride, padding, dilation)
    flat = grid.fill(x)
    o, c = weight.shape[:2]
    per_position = np.ascontiguousarray(weight.transpose(2, 3, 0, 1)).reshape(-1, o, c)
    out = np.empty_like(x, shape=(o, grid.length))
    window, offsets = grid.windows(flat)  # out = sum over k of W_k @ window_k
    steps = [(k * o * c, offset, 0) for k, offset in enumerate(offsets)]
    cpu_blas.gemm_series(per_position[0], window, out, steps, first_beta=0.0)
    result = np.empty_like(x, shape=(x.shape[0], o, *grid.out_hw))
    result[...] = grid.outputs(out).transpose(1, 0, 2, 3)
    if bias is not None:
        result += bias.reshape(-1, 1, 1)
    return result, ("shifted", flat, grid)


def conv2d_backward(saved, weight, grad, need_x, need_w):
    """(grad_x, grad_w) as reference.conv2d_backward, from `conv2d_forward`'s saved grid."""
    _, flat, grid = saved
    spread = grid.spread(grad)
    o, c = weight.shape[:2]
    grad_x = grad_w = None
    if need_w:  # grad_W_k = G @ window_k^T, each written (beta 0)
        per_position = np.empty_like(weight, shape=(weight[0, 0].size, o, c))
        window, offsets = grid.windows(flat)
        steps = [(0, offset, k * o * c) for k, offset in enumerate(offsets)]
        cpu_blas.gemm_series(spread, window.T, per_position[0], steps, 0.0, then_beta=0.0)
        grad_w = per_position.reshape(*weight.shape[2:], o, c).transpose(2, 3, 0, 1).copy()
    if need_x:
        grad_x = input_gradient(grid, weight, spread)
    return grad_x, grad_w


def input_gradient(grid, weight, spread):
    """(N, C, H, W): each kernel position's W_k^T @ G added into its window of a gradient
    grid (no col2im); `spread` is grid.spread(grad). Needs no saved input."""
    o, c = weight.shape[:2]
    weights_t = np.ascontiguousarray(weight.transpose(2, 3, 1, 0)).reshape(-1, c, o)
    grad_flat, first_beta = grid.gradient_grid(spread, c)
    window, offsets = grid.windows(grad_flat)
    steps = [(k * c * o, 0, offset) for k, offset in enumerate(offsets)]
    cpu_blas.gemm_series(weights_t[0], spread, window, steps, first_beta)
    return grid.image(grad_flat)
