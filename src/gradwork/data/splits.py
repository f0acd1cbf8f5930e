"""Dividing a data set: random splits, stratified train/val/test, k-fold cross-validation."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from gradwork import _arrays
from gradwork.data.dataset import Subset
from gradwork.data.loader import make_generator


def _lengths_from(lengths: Sequence[Any], n: int, owner: str) -> list[int]:
    """Part sizes with torch's rule: fractions summing to 1, or ints summing to n."""
    if len(lengths) == 0:
        raise ValueError(f"{owner}: lengths is empty; pass e.g. [0.8, 0.2] or [80, 20]")
    total = sum(lengths)
    if math.isclose(total, 1) and total <= 1:
        if any(not 0 <= fraction <= 1 for fraction in lengths):
            raise ValueError(f"{owner}: fractions must lie in [0, 1], got {list(lengths)}")
        sizes = [math.floor(n * fraction) for fraction in lengths]
        # NOTE: torch hands the remainder out one by one, round-robin from the first part.
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
        return sizes
    if any(not float(size).is_integer() or size < 0 for size in lengths):
        raise ValueError(
            f"{owner}: lengths must be fractions summing to 1 or non-negative ints summing to "
            f"the data set's length {n}, got {list(lengths)} (sum {total})"
        )
    if total != n:
        raise ValueError(
            f"{owner}: lengths {list(lengths)} sum to {total} but the data set has {n} samples; "
            f"make the counts sum to {n} or pass fractions that sum to 1."
        )
    return [int(size) for size in lengths]


def random_split(
    dataset: Any,
    lengths: Sequence[Any],
    generator: np.random.Generator | None = None,
    seed: int | None = None,
) -> list[Subset]:
    """Split `dataset` into non-overlapping random Subsets of the given lengths.

    Args:
        dataset: The data set to split.
        lengths: Sizes of the parts, as ints summing to `len(dataset)` or as
            fractions summing to 1 (rounded down, the remainder handed out one
            by one from the first part, as torch does).
        generator: A `numpy.random.Generator` to draw the permutation from.
        seed: Or a seed for one. With neither, gradwork's stream is used.

    Example:
        >>> import numpy as np
        >>> from gradwork.data import TensorDataset
        >>> train, val = random_split(TensorDataset(np.arange(10)), [0.7, 0.3], seed=0)
        >>> len(train), len(val)
        (7, 3)
    """
    n = len(dataset)
    sizes = _lengths_from(lengths, n, "random_split")
    if generator is None and seed is None:
        order = make_generator(None, None, "random_split").permutation(n)
    else:
        order = make_generator(generator, seed, "random_split").permutation(n)
    bounds = np.cumsum([0, *sizes])
    return [
        Subset(dataset, order[start:stop])
        for start, stop in zip(bounds[:-1], bounds[1:], strict=False)
    ]


def _check_fractions(fractions: Sequence[float], owner: str) -> None:
    if len(fractions) == 0 or any(f < 0 for f in fractions):
        raise ValueError(f"{owner}: fractions must be non-negative, got {list(fractions)}")
    if not math.isclose(sum(fractions), 1.0, abs_tol=1e-9):
        raise ValueError(
            f"{owner}: fractions must sum to 1, got {list(fractions)} (sum {sum(fractions):g}); "
            f"e.g. fractions=(0.8, 0.1, 0.1)"
        )


def _stratified_sizes(counts: np.ndarray, fractions: Sequence[float], totals: list[int]):
    """Per-class part sizes whose rows sum to the class counts and columns to `totals`.

    Each entry is the floor or ceiling of `count * fraction`; the leftovers go to
    the parts still short of their total (largest shortfall first), the
    constructive step of the Gale-Ryser theorem.
    """
    ideal = np.outer(counts, fractions)
    sizes = np.floor(ideal + 1e-9).astype(np.int64)
    deficit = np.asarray(totals) - sizes.sum(axis=0)
    for c in np.argsort(-(counts - sizes.sum(axis=1)), kind="stable"):
        # Largest shortfall first; among equals, the largest rounding loss.
        score = deficit + 0.5 * (ideal[c] - sizes[c])
        for _ in range(counts[c] - sizes[c].sum()):
            part = int(np.argmax(score))
            sizes[c, part] += 1
            deficit[part] -= 1
            score[part] = -np.inf  # at most one extra per (class, part)
    return sizes


def train_val_test_split(
    dataset: Any,
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    stratify: Any = None,
    seed: int | None = 0,
) -> tuple[Subset, ...]:
    """Random train/validation/test Subsets, optionally keeping class proportions.

    Args:
        dataset: The data set to split.
        fractions: One fraction per part (usually three), summing to 1.
        stratify: Optional labels (one per sample): each part then holds every
            class in (nearly) the same proportion as the whole.
        seed: Seed of the shuffle (None: gradwork's stream).

    Returns:
        One Subset per fraction: `(train, val, test)` for the default.

    Example:
        >>> import numpy as np
        >>> from gradwork.data import TensorDataset
        >>> labels = np.repeat([0, 1], [80, 20])
        >>> train, val, test = train_val_test_split(TensorDataset(labels), stratify=labels)
        >>> len(train), len(val), len(test), int(labels[val.indices].sum())
        (80, 10, 10, 2)
    """
    _check_fractions(fractions, "train_val_test_split")
    n = len(dataset)
    totals = _lengths_from(list(fractions), n, "train_val_test_split")
    rng = make_generator(None, seed, "train_val_test_split")
    if stratify is None:
        order = rng.permutation(n)
        bounds = np.cumsum([0, *totals])
        return tuple(
            Subset(dataset, order[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=False)
        )
    labels = _labels_array(stratify, n, "train_val_test_split")
    classes, encoded = np.unique(labels, return_inverse=True)
    sizes = _stratified_sizes(np.bincount(encoded), fractions, totals)
    parts: list[list[np.ndarray]] = [[] for _ in fractions]
    for c in range(len(classes)):
        members = rng.permutation(np.flatnonzero(encoded == c))
        bounds = np.cumsum([0, *sizes[c]])
        for part, (a, b) in enumerate(zip(bounds[:-1], bounds[1:], strict=False)):
            parts[part].append(members[a:b])
    # Shuffle within each part so classes are not in blocks.
    return tuple(Subset(dataset, rng.permutation(np.concatenate(p))) for p in parts)


def _labels_array(labels: Any, n: int, owner: str) -> np.ndarray:
    # Splits are planned on the host: device labels are copied there, explicitly.
    array = np.asarray(_arrays.to_host(getattr(labels, "array", labels)))
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1 or len(array) != n:
        raise ValueError(
            f"{owner}: labels must be a 1-d array with one label per sample ({n}), got shape "
            f"{array.shape}"
        )
    return array


def _n_samples(n_samples_or_dataset: Any, owner: str) -> int:
    if isinstance(n_samples_or_dataset, int | np.integer):
        return int(n_samples_or_dataset)
    if hasattr(n_samples_or_dataset, "__len__"):
        return len(n_samples_or_dataset)
    raise TypeError(
        f"{owner}: expected a number of samples or a data set, got "
        f"{type(n_samples_or_dataset).__name__}"
    )
