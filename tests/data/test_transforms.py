"""Batch transforms: crop, flip, noise, normalize, compose — numbers, seeding, Tensors."""

import numpy as np
import pytest

import gradwork as gw
from gradwork.data.transforms import (
    Compose,
    GaussianNoise,
    Normalize,
    RandomCrop,
    RandomHorizontalFlip,
)
from tests.helpers import to_numpy


def batch(n=8, c=3, h=6, w=5):
    return np.random.default_rng(0).standard_normal((n, c, h, w)).astype(np.float32)


def rng(seed=0):
    return np.random.default_rng(seed)


# name: (transform, is random)
TRANSFORMS = {
    "crop": (RandomCrop((6, 5), padding=2), True),
    "flip": (RandomHorizontalFlip(), True),
    "noise": (GaussianNoise(0.1), True),
    "normalize": (Normalize([0.1, 0.2, 0.3], [1.0, 2.0, 0.5]), False),
    "compose": (Compose([RandomCrop(4, padding=1), RandomHorizontalFlip()]), True),
}


@pytest.mark.parametrize("name", TRANSFORMS)
def test_generic_shape_dtype_seeding_and_tensor_input(name):
    transform, is_random = TRANSFORMS[name]
    x = batch()
    out = transform(x, rng(1))
    assert out.dtype == np.float32 and out.shape[:2] == x.shape[:2]
    assert np.array_equal(out, transform(x, rng(1)))  # same generator state, same output
    assert is_random == (not np.array_equal(out, transform(x, rng(2))))
    tensor_out = transform(gw.tensor(x), rng(1))
    assert isinstance(tensor_out, gw.Tensor) and np.array_equal(to_numpy(tensor_out), out)
    assert np.array_equal(x, batch())  # the input is never modified in place


def test_global_stream_when_no_generator():
    gw.manual_seed(3)
    a = RandomHorizontalFlip()(batch())
    gw.manual_seed(3)
    assert np.array_equal(a, RandomHorizontalFlip()(batch()))


def test_flip_twice_is_identity_and_flips_columns():
    x = batch()
    once = RandomHorizontalFlip(p=1.0)(x)
    assert np.array_equal(once, x[..., ::-1])
    assert np.array_equal(RandomHorizontalFlip(p=1.0)(once), x)
    assert np.array_equal(RandomHorizontalFlip(p=0.0)(x), x)


def test_flip_probability_per_image():
    x = np.arange(2.0).reshape(1, 1, 1, 2).repeat(4000, axis=0)
    flipped = RandomHorizontalFlip(p=0.3)(x, rng())[:, 0, 0, 0] == 1.0
    assert abs(flipped.mean() - 0.3) < 0.03


def test_crop_keeps_shape_and_takes_a_window_of_the_padded_image():
    x = batch(n=50, c=2, h=6, w=6)
    out = RandomCrop(6, padding=2)(x, rng())
    assert out.shape == x.shape
    padded = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)))
    offsets = set()
    for i in range(len(x)):
        matches = [(t, l) for t in range(5) for l in range(5)
                   if np.array_equal(padded[i, :, t:t + 6, l:l + 6], out[i])]  # fmt: skip
        assert matches, "every output is a window of its own padded image"
        offsets.add(matches[0])
    assert len(offsets) > 10  # offsets vary per image


def test_crop_without_padding_to_smaller_size_and_3d_batches():
    x = np.arange(2 * 4 * 4, dtype=np.float32).reshape(2, 4, 4)  # (N, H, W)
    out = RandomCrop((2, 3))(x, rng())
    assert out.shape == (2, 2, 3)
    assert np.array_equal(RandomCrop(4)(x, rng()), x)  # a full-size crop is the identity


def test_noise_statistics():
    x = np.zeros((2000, 1, 8, 8), np.float32)
    out = GaussianNoise(0.25, mean=1.0)(x, rng())
    assert abs(out.std() - 0.25) < 0.005 and abs(out.mean() - 1.0) < 0.005
    x64 = np.zeros((10, 3))
    assert GaussianNoise(0.1)(x64, rng()).dtype == np.float64


def test_normalize_per_channel_and_scalar():
    x = batch(n=500)
    mean, std = x.mean(axis=(0, 2, 3)), x.std(axis=(0, 2, 3))
    out = Normalize(mean.tolist(), std.tolist())(x)
    assert np.allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    assert np.allclose(out.std(axis=(0, 2, 3)), 1, atol=1e-5)
    assert np.allclose(Normalize(1.0, 2.0)(np.full((2, 5), 3.0, np.float32)), 1.0)
