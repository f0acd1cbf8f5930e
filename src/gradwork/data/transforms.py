"""Batch augmentation: vectorised transforms of a whole (N, C, H, W) batch at once.

A transform is called as `transform(batch, generator=None)`; `batch` is a
NumPy array or a Tensor (the result has the same kind), `generator` a
`numpy.random.Generator` (None: gradwork's stream). Apply them per batch with
`DataLoader(..., transform=...)`, which seeds each batch's generator from the
epoch and batch number so that augmentations survive a checkpoint/resume.

Example:
    >>> import numpy as np
    >>> augment = Compose([RandomCrop(4, padding=1), RandomHorizontalFlip()])
    >>> augment(np.ones((2, 1, 4, 4), np.float32), np.random.default_rng(0)).shape
    (2, 1, 4, 4)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from gradwork import _arrays
from gradwork.random import generator as global_generator
from gradwork.tensor import Tensor


def _unwrap(batch: Any, owner: str, min_ndim: int = 1) -> tuple[np.ndarray, bool]:
    is_tensor = isinstance(batch, Tensor)
    array = batch.array if is_tensor else np.asarray(batch)
    if array.ndim < min_ndim:
        raise ValueError(
            f"{owner}: expects a batch with at least {min_ndim} dimensions (N, C, H, W), got "
            f"shape {array.shape}; transforms work on whole batches, not single images."
        )
    return array, is_tensor


def _wrap(array: np.ndarray, is_tensor: bool) -> Any:
    return Tensor(array) if is_tensor else array


def _rng(generator: np.random.Generator | None) -> np.random.Generator:
    return global_generator() if generator is None else generator


class Compose:
    """Apply transforms in order, passing the same generator to each.

    Example:
        >>> Compose([Normalize(1.0, 2.0), Normalize(0.0, 0.5)])(np.array([3.0])).tolist()
        [2.0]
    """

    def __init__(self, transforms: Sequence[Callable]) -> None:
        self.transforms = list(transforms)

    def __call__(self, batch: Any, generator: np.random.Generator | None = None) -> Any:
        for transform in self.transforms:
            batch = transform(batch, generator=generator)
        return batch

    def __repr__(self) -> str:
        return f"Compose({self.transforms!r})"


class RandomCrop:
    """Pad by `padding` zeros on each side of H and W, then crop `size` at a random place per image.

    Args:
        size: Output (height, width), or one int for a square.
        padding: Zeros added on every side before cropping.

    Example:
        >>> x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
        >>> RandomCrop(4, padding=0)(x, np.random.default_rng(0)).tolist() == x.tolist()
        True
    """

    def __init__(self, size: int | Sequence[int], padding: int = 0) -> None:
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        if len(self.size) != 2 or min(self.size) <= 0:
            raise ValueError(f"RandomCrop: size must be a positive int or (h, w), got {size!r}")
        if padding < 0:
            raise ValueError(f"RandomCrop: padding must be >= 0, got {padding}")
        self.padding = int(padding)

    def __call__(self, batch: Any, generator: np.random.Generator | None = None) -> Any:
        array, is_tensor = _unwrap(batch, "RandomCrop", min_ndim=3)
        pad = self.padding
        if pad:
            widths = [(0, 0)] * (array.ndim - 2) + [(pad, pad), (pad, pad)]
            array = _arrays.xp_of(array).pad(array, widths)  # on the batch's device
        height, width = self.size
        if height > array.shape[-2] or width > array.shape[-1]:
            raise ValueError(
                f"RandomCrop: crop {self.size} is larger than the padded image "
                f"{array.shape[-2:]}; lower size or raise padding."
            )
        rng = _rng(generator)
        n = array.shape[0]
        top = rng.integers(0, array.shape[-2] - height + 1, size=n)
        left = rng.integers(0, array.shape[-1] - width + 1, size=n)
        if _arrays.is_device_array(array):
            return _wrap(_crop_on_device(array, top, left, height, width), is_tensor)
        windows = np.lib.stride_tricks.sliding_window_view(array, (height, width), axis=(-2, -1))
        # (N, ..., H', W', h, w) -> (N, H', W', ..., h, w): pick one window per image with a
        # single fancy index (one copy, no loop over the batch).
        windows = np.moveaxis(windows, (-4, -3), (1, 2))
        cropped = windows[np.arange(n), top, left]
        return _wrap(np.ascontiguousarray(cropped), is_tensor)

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding})"


def _crop_on_device(array: Any, top: np.ndarray, left: np.ndarray, height: int, width: int):
    """RandomCrop's windows gathered with one fancy index on the batch's device (NumPy's
    sliding_window_view has no device counterpart); the offsets were drawn on the host."""
    n = array.shape[0]
    rows = _arrays.asarray_like(top[:, None] + np.arange(height), array)  # (N, h)
    cols = _arrays.asarray_like(left[:, None] + np.arange(width), array)  # (N, w)
    images = _arrays.asarray_like(np.arange(n)[:, None, None], array)
    # Advanced indices split by `...` come first: (N, h, w, C...) -> (N, C..., h, w).
    cropped = array[images, ..., rows[:, :, None], cols[:, None, :]]
    return _arrays.contiguous(_arrays.xp_of(array).moveaxis(cropped, (1, 2), (-2, -1)))


class RandomHorizontalFlip:
    """Mirror each image left-right with probability `p`.

    Example:
        >>> x = np.arange(6.0).reshape(1, 1, 2, 3)
        >>> RandomHorizontalFlip(p=1.0)(x)[0, 0, 0].tolist()
        [2.0, 1.0, 0.0]
    """

    def __init__(self, p: float = 0.5) -> None:
        if not 0 <= p <= 1:
            raise ValueError(f"RandomHorizontalFlip: p must lie in [0, 1], got {p!r}")
        self.p = float(p)

    def __call__(self, batch: Any, generator: np.random.Generator | None = None) -> Any:
        array, is_tensor = _unwrap(batch, "RandomHorizontalFlip", min_ndim=2)
        flip = _rng(generator).random(array.shape[0]) < self.p
        flip = _arrays.asarray_like(flip.reshape((-1,) + (1,) * (array.ndim - 1)), array)
        return _wrap(_arrays.xp_of(array).where(flip, array[..., ::-1], array), is_tensor)

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"


class GaussianNoise:
    """Add independent normal noise with standard deviation `std` (and mean `mean`).

    Example:
        >>> x = GaussianNoise(0.5)(np.zeros((1000, 10), np.float32), np.random.default_rng(0))
        >>> x.dtype, round(float(x.std()), 1)
        (dtype('float32'), 0.5)
    """

    def __init__(self, std: float, mean: float = 0.0) -> None:
        if not std >= 0:
            raise ValueError(f"GaussianNoise: std must be >= 0, got {std!r}")
        self.std = float(std)
        self.mean = float(mean)

    def __call__(self, batch: Any, generator: np.random.Generator | None = None) -> Any:
        array, is_tensor = _unwrap(batch, "GaussianNoise")
        if array.dtype.kind != "f":
            raise TypeError(f"GaussianNoise: needs a floating-point batch, got {array.dtype}")
        noise = _rng(generator).standard_normal(array.shape, dtype=np.float32)
        noise = (noise * self.std + self.mean).astype(array.dtype, copy=False)
        noisy = array + _arrays.asarray_like(noise, array)  # drawn on the host: one stream
        return _wrap(noisy, is_tensor)

    def __repr__(self) -> str:
        return f"GaussianNoise(std={self.std}, mean={self.mean})"


class Normalize:
    """Per-channel `(x - mean[c]) / std[c]` on dimension 1; scalars apply to all channels.

    Example:
        >>> x = np.ones((2, 3, 1, 1), np.float32)
        >>> Normalize([0.0, 1.0, 0.5], [1.0, 1.0, 0.5])(x)[0, :, 0, 0].tolist()
        [1.0, 0.0, 1.0]
    """

    def __init__(self, mean: float | Sequence[float], std: float | Sequence[float]) -> None:
        self.mean = np.atleast_1d(np.asarray(mean, dtype=np.float64))
        self.std = np.atleast_1d(np.asarray(std, dtype=np.float64))
        if np.any(self.std <= 0):
            raise ValueError(f"Normalize: std must be positive, got {std!r}")

    def __call__(self, batch: Any, generator: np.random.Generator | None = None) -> Any:
        array, is_tensor = _unwrap(batch, "Normalize")
        channels = max(len(self.mean), len(self.std))
        if channels > 1 and (array.ndim < 2 or array.shape[1] != channels):
            raise ValueError(
                f"Normalize: {channels} channel statistics but the batch has shape "
                f"{array.shape}; dimension 1 must have {channels} channels."
            )
        shape = (1, -1) + (1,) * (array.ndim - 2) if channels > 1 else (1,)
        dtype = array.dtype if array.dtype.kind == "f" else np.float32
        mean = _arrays.asarray_like(self.mean.reshape(shape), array, dtype)
        std = _arrays.asarray_like(self.std.reshape(shape), array, dtype)
        return _wrap((array - mean) / std, is_tensor)

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"
