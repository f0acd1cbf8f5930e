"""The bundled 8x8 handwritten digits: real data, no download, loads in about a millisecond."""

from __future__ import annotations

from importlib import resources

import numpy as np

from gradwork.data.dataset import TensorDataset

# UCI "Optical Recognition of Handwritten Digits" (test part, 1,797 images), by
# E. Alpaydin and C. Kaynak, CC BY 4.0; see DIGITS_LICENSE.md next to this file.
_FILE = "digits.npz"


def load_digits(flatten: bool = False) -> TensorDataset:
    """1,797 real handwritten digits (0-9), 8x8 pixels, bundled with gradwork.

    Args:
        flatten: Return images as (N, 64) rows instead of (N, 1, 8, 8).

    Returns:
        `TensorDataset(images, labels)`: float32 images scaled from the
        original 0..16 grey levels to [0, 1], int64 labels.

    Example:
        >>> images, labels = load_digits().tensors
        >>> images.shape, int(labels.max()), float(images.max())
        ((1797, 1, 8, 8), 9, 1.0)
    """
    with resources.files("gradwork.data").joinpath(_FILE).open("rb") as handle:
        with np.load(handle) as archive:
            images, labels = archive["images"], archive["labels"]
    # NOTE: the original pixels are counts of set bits in 4x4 blocks: 0..16.
    images = images.astype(np.float32) / np.float32(16.0)
    shape = (len(images), 64) if flatten else (len(images), 1, 8, 8)
    return TensorDataset(images.reshape(shape), labels.astype(np.int64))
