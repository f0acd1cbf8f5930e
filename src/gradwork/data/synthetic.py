"""Small synthetic data sets from the course material, for seeing models learn in seconds.

Every function returns a `TensorDataset` of float32 features and int64 class
labels (float32 targets of shape (N, 1) for regression), in shuffled order,
drawn from `numpy.random.default_rng(seed)` (seed=None: gradwork's stream).
"""

from __future__ import annotations

import numpy as np

from gradwork.data.dataset import TensorDataset
from gradwork.data.loader import make_generator


def _check(owner: str, n: int, noise: float, minimum: int = 1) -> None:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < minimum:
        raise ValueError(f"{owner}: n must be an int >= {minimum}, got {n!r}")
    if not noise >= 0:
        raise ValueError(f"{owner}: noise must be >= 0 (a standard deviation), got {noise!r}")


def _finish(points: np.ndarray, labels: np.ndarray, noise: float, rng) -> TensorDataset:
    points = points + noise * rng.standard_normal(points.shape)
    order = rng.permutation(len(points))
    return TensorDataset(points[order].astype(np.float32), labels[order].astype(np.int64))


def make_xor(n: int = 200, noise: float = 0.2, seed: int | None = 0) -> TensorDataset:
    """Four blobs at the corners (+-1, +-1); label 1 where the signs of x and y differ.

    No straight line separates the classes: the classic case for a hidden layer.

    Example:
        >>> x, y = make_xor(8, noise=0.0).tensors
        >>> bool(((x[:, 0] * x[:, 1] < 0).numpy() == (y.numpy() == 1)).all())
        True
    """
    _check("make_xor", n, noise)
    rng = make_generator(None, seed, "make_xor")
    corner = np.arange(n) % 4
    signs = np.array([[1, 1], [-1, -1], [1, -1], [-1, 1]], dtype=np.float64)
    return _finish(signs[corner], (corner >= 2).astype(np.int64), noise, rng)


def make_moons(n: int = 200, noise: float = 0.1, seed: int | None = 0) -> TensorDataset:
    """Two interleaving half circles (scikit-learn's layout); labels 0 (upper) and 1 (lower).

    Example:
        >>> x, y = make_moons(100).tensors
        >>> x.shape, int(y.sum())
        ((100, 2), 50)
    """
    _check("make_moons", n, noise, minimum=2)
    rng = make_generator(None, seed, "make_moons")
    n_upper = n // 2
    upper = np.linspace(0, np.pi, n_upper)
    lower = np.linspace(0, np.pi, n - n_upper)
    points = np.concatenate(
        [np.c_[np.cos(upper), np.sin(upper)], np.c_[1 - np.cos(lower), 0.5 - np.sin(lower)]]
    )
    labels = np.repeat([0, 1], [n_upper, n - n_upper])
    return _finish(points, labels, noise, rng)


def make_circles(
    n: int = 200, noise: float = 0.05, factor: float = 0.5, seed: int | None = 0
) -> TensorDataset:
    """A circle of radius 1 (label 0) around one of radius `factor` (label 1).

    Example:
        >>> x, y = make_circles(100, noise=0.0, factor=0.5).tensors
        >>> radius = np.linalg.norm(x.numpy(), axis=1)
        >>> bool(np.allclose(radius[y.numpy() == 1], 0.5, atol=1e-6))
        True
    """
    _check("make_circles", n, noise, minimum=2)
    if not 0 < factor < 1:
        raise ValueError(f"make_circles: factor (inner radius) must lie in (0, 1), got {factor!r}")
    rng = make_generator(None, seed, "make_circles")
    n_outer = n // 2
    outer = np.linspace(0, 2 * np.pi, n_outer, endpoint=False)
    inner = np.linspace(0, 2 * np.pi, n - n_outer, endpoint=False)
    points = np.concatenate(
        [np.c_[np.cos(outer), np.sin(outer)], factor * np.c_[np.cos(inner), np.sin(inner)]]
    )
    labels = np.repeat([0, 1], [n_outer, n - n_outer])
    return _finish(points, labels, noise, rng)


def make_spirals(
    n: int = 300, classes: int = 2, noise: float = 0.02, seed: int | None = 0
) -> TensorDataset:
    """`classes` interleaved spiral arms, each winding 1.5 turns from the centre outwards.

    Arm k starts at angle 2*pi*k/classes; radius grows linearly to 1.

    Example:
        >>> x, y = make_spirals(90, classes=3).tensors
        >>> np.bincount(y.numpy()).tolist()
        [30, 30, 30]
    """
    _check("make_spirals", n, noise, minimum=2)
    if isinstance(classes, bool) or not isinstance(classes, int) or classes < 2:
        raise ValueError(f"make_spirals: classes must be an int >= 2, got {classes!r}")
    rng = make_generator(None, seed, "make_spirals")
    labels = np.arange(n) % classes
    share = np.empty(n)  # position of each point along its arm, in [0, 1]
    for k in range(classes):
        members = labels == k
        share[members] = np.linspace(0.0, 1.0, members.sum())
    angle = 2 * np.pi * labels / classes + 3 * np.pi * share
    radius = 0.05 + 0.95 * share
    points = radius[:, None] * np.c_[np.cos(angle), np.sin(angle)]
    return _finish(points, labels, noise, rng)


def make_regression_curve(n: int = 200, noise: float = 0.1, seed: int | None = 0) -> TensorDataset:
    """Noisy samples of y = sin(x) for x uniform in [-pi, pi]; x and y have shape (n, 1).

    Example:
        >>> x, y = make_regression_curve(50, noise=0.0).tensors
        >>> x.shape, y.dtype, bool(np.allclose(np.sin(x.numpy()), y.numpy(), atol=1e-6))
        ((50, 1), dtype('float32'), True)
    """
    _check("make_regression_curve", n, noise)
    rng = make_generator(None, seed, "make_regression_curve")
    x = rng.uniform(-np.pi, np.pi, size=(n, 1))
    y = np.sin(x) + noise * rng.standard_normal((n, 1))
    return TensorDataset(x.astype(np.float32), y.astype(np.float32))
