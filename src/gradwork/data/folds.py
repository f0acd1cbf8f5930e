"""K-fold cross-validation index generators, with scikit-learn's fold sizes."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

from gradwork.data.loader import make_generator
from gradwork.data.splits import _labels_array, _n_samples


class KFold:
    """Split `n` samples into `n_splits` consecutive folds; each is the validation set once.

    The first `n % n_splits` folds have `n // n_splits + 1` samples, the rest
    `n // n_splits` (scikit-learn's rule). Indices come back sorted.

    Args:
        n_splits: Number of folds, at least 2.
        shuffle: Shuffle the samples before cutting folds.
        seed: Seed of that shuffle (None: gradwork's stream). Only with shuffle=True.

    Example:
        >>> [val.tolist() for _, val in KFold(3).split(7)]
        [[0, 1, 2], [3, 4], [5, 6]]
    """

    def __init__(self, n_splits: int = 5, shuffle: bool = False, seed: int | None = None) -> None:
        name = type(self).__name__
        if isinstance(n_splits, bool) or not isinstance(n_splits, int | np.integer):
            raise TypeError(f"{name}: n_splits must be an int, got {n_splits!r}")
        if n_splits < 2:
            raise ValueError(
                f"{name}: n_splits must be at least 2 (one fold to validate, one to train), "
                f"got {n_splits}"
            )
        if not shuffle and seed is not None:
            raise ValueError(
                f"{name}: seed={seed} has no effect with shuffle=False; pass shuffle=True or "
                f"drop the seed."
            )
        self.n_splits = int(n_splits)
        self.shuffle = bool(shuffle)
        self.seed = seed

    def get_n_splits(self) -> int:
        return self.n_splits

    def _check_size(self, n: int) -> None:
        if self.n_splits > n:
            raise ValueError(
                f"{type(self).__name__}: n_splits={self.n_splits} is greater than the number of "
                f"samples {n}; use at most {n} folds."
            )

    def _test_folds(self, n: int, labels: Any) -> np.ndarray:
        """The fold number of every sample."""
        order = np.arange(n)
        if self.shuffle:
            make_generator(None, self.seed, type(self).__name__).shuffle(order)
        sizes = np.full(self.n_splits, n // self.n_splits)
        sizes[: n % self.n_splits] += 1
        folds = np.empty(n, dtype=np.int64)
        folds[order] = np.repeat(np.arange(self.n_splits), sizes)
        return folds

    def split(self, n_samples_or_dataset: Any, labels: Any = None) -> Iterator[tuple]:
        """Yield `(train_indices, val_indices)` int64 arrays, one pair per fold."""
        n = _n_samples(n_samples_or_dataset, f"{type(self).__name__}.split")
        self._check_size(n)
        folds = self._test_folds(n, labels)
        for fold in range(self.n_splits):
            yield np.flatnonzero(folds != fold), np.flatnonzero(folds == fold)


class StratifiedKFold(KFold):
    """K-fold where every fold keeps the class proportions of `labels`.

    Follows scikit-learn's allocation: the sorted labels are dealt to the
    folds in turn, so fold sizes differ by at most one and every class is
    spread as evenly as its count allows.

    Example:
        >>> import numpy as np
        >>> labels = np.array([0] * 6 + [1] * 3)
        >>> [labels[val].tolist() for _, val in StratifiedKFold(3).split(9, labels)]
        [[0, 0, 1], [0, 0, 1], [0, 0, 1]]
    """

    def _test_folds(self, n: int, labels: Any) -> np.ndarray:
        name = type(self).__name__
        if labels is None:
            raise ValueError(
                f"{name}.split: needs labels, e.g. split(dataset, labels=dataset.tensors[-1])"
            )
        labels = _labels_array(labels, n, f"{name}.split")
        _, first, encoded = np.unique(labels, return_index=True, return_inverse=True)
        # NOTE: classes are numbered in order of first appearance, as scikit-learn does.
        encoded = np.argsort(np.argsort(first))[encoded]
        counts = np.bincount(encoded)
        if np.all(counts < self.n_splits):
            raise ValueError(
                f"{name}: n_splits={self.n_splits} is greater than the number of members in "
                f"every class (largest class: {counts.max()}); use fewer folds."
            )
        if counts.min() < self.n_splits:
            warnings.warn(
                f"{name}: the smallest class has only {counts.min()} members, fewer than "
                f"n_splits={self.n_splits}; some folds will lack it.",
                stacklevel=3,
            )
        dealt = np.sort(encoded)
        allocation = np.stack(
            [
                np.bincount(dealt[i :: self.n_splits], minlength=len(counts))
                for i in range(self.n_splits)
            ]
        )
        rng = make_generator(None, self.seed, name) if self.shuffle else None
        folds = np.empty(n, dtype=np.int64)
        for c in range(len(counts)):
            folds_of_class = np.repeat(np.arange(self.n_splits), allocation[:, c])
            if rng is not None:
                rng.shuffle(folds_of_class)
            folds[encoded == c] = folds_of_class
        return folds
