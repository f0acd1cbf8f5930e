"""Synthetic data sets and the bundled digits: shapes, dtypes, classes, learnability."""

import time

import numpy as np
import pytest

import gradwork as gw
from gradwork.data import (
    TensorDataset,
    load_digits,
    make_circles,
    make_moons,
    make_regression_curve,
    make_spirals,
    make_xor,
)
from tests.helpers import to_numpy

# name: (factory, kwargs, number of classes)
CLASSIFICATION = {
    "xor": (make_xor, {}, 2),
    "moons": (make_moons, {}, 2),
    "circles": (make_circles, {}, 2),
    "spirals2": (make_spirals, {"classes": 2}, 2),
    "spirals5": (make_spirals, {"classes": 5}, 5),
}


def nearest_neighbour_accuracy(x, y):
    """Leave-one-out 1-NN accuracy: high when classes form clean, separate regions."""
    distances = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(distances, np.inf)
    return np.mean(y[distances.argmin(1)] == y)


def linear_accuracy(x, y):
    """Training accuracy of least squares on one-hot targets (a linear classifier)."""
    features = np.c_[x, np.ones(len(x))]
    weights, *_ = np.linalg.lstsq(features, np.eye(y.max() + 1)[y], rcond=None)
    return np.mean((features @ weights).argmax(1) == y)


@pytest.mark.parametrize("name", CLASSIFICATION)
def test_classification_sets_shapes_balance_and_reproducibility(name):
    factory, kwargs, classes = CLASSIFICATION[name]
    ds = factory(200, seed=1, **kwargs)
    assert isinstance(ds, TensorDataset)
    x, y = ds.tensors
    assert x.shape == (200, 2) and x.dtype == np.float32 and y.dtype == np.int64
    counts = np.bincount(to_numpy(y))
    assert len(counts) == classes and counts.max() - counts.min() <= 1
    again = to_numpy(factory(200, seed=1, **kwargs).tensors[0])
    other = to_numpy(factory(200, seed=2, **kwargs).tensors[0])
    assert np.array_equal(to_numpy(x), again) and not np.array_equal(to_numpy(x), other)


@pytest.mark.parametrize("name", CLASSIFICATION)
def test_classification_sets_separable_but_not_linearly(name):
    factory, kwargs, classes = CLASSIFICATION[name]
    # NOTE: five arms need more points to trace each arm densely near the centre.
    n = 1000 if classes == 5 else 300
    x, y = (to_numpy(t) for t in factory(n, seed=0, **kwargs).tensors)
    assert nearest_neighbour_accuracy(x, y) > 0.95  # learnable by a small network
    # NOTE: moons are nearly linearly separable (~85%); the others are far from it.
    assert linear_accuracy(x, y) < (0.9 if name == "moons" else 0.75)


@pytest.mark.parametrize("name", CLASSIFICATION)
def test_noise_controls_spread(name):
    factory, kwargs, _ = CLASSIFICATION[name]
    clean = to_numpy(factory(100, noise=0.0, seed=0, **kwargs).tensors[0])
    noisy = to_numpy(factory(100, noise=0.3, seed=0, **kwargs).tensors[0])
    assert np.abs(noisy - clean).mean() > 0.1


def test_seed_none_follows_manual_seed():
    gw.manual_seed(4)
    a = to_numpy(make_moons(50, seed=None).tensors[0])
    gw.manual_seed(4)
    b = to_numpy(make_moons(50, seed=None).tensors[0])
    assert np.array_equal(a, b)


def test_circles_radii_and_xor_corners():
    x, y = (to_numpy(t) for t in make_circles(200, noise=0.0, factor=0.3).tensors)
    radius = np.linalg.norm(x, axis=1)
    assert np.allclose(radius[y == 0], 1.0, atol=1e-6)
    assert np.allclose(radius[y == 1], 0.3, atol=1e-6)
    x, y = (to_numpy(t) for t in make_xor(100, noise=0.0).tensors)
    assert set(map(tuple, np.abs(x).tolist())) == {(1.0, 1.0)}
    assert np.array_equal(y, (x[:, 0] * x[:, 1] < 0).astype(np.int64))


def test_regression_curve():
    x, y = make_regression_curve(500, noise=0.1, seed=0).tensors
    assert x.shape == (500, 1) and y.shape == (500, 1) and y.dtype == np.float32
    residual = to_numpy(y) - np.sin(to_numpy(x))
    assert abs(residual.std() - 0.1) < 0.015 and abs(residual.mean()) < 0.02
    assert to_numpy(x).min() >= -np.pi and to_numpy(x).max() <= np.pi


def test_digits_bundle():
    start = time.perf_counter()
    ds = load_digits()
    elapsed = time.perf_counter() - start
    images, labels = ds.tensors
    assert images.shape == (1797, 1, 8, 8) and images.dtype == np.float32
    assert labels.dtype == np.int64 and len(ds) == 1797
    counts = [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    assert np.bincount(to_numpy(labels)).tolist() == counts
    values = to_numpy(images)
    assert values.min() == 0.0 and values.max() == 1.0
    assert np.allclose(values * 16, np.round(values * 16))  # 17 grey levels, 0..16
    assert elapsed < 0.5  # instant: the CLI's default data


def test_digits_flatten_and_real_content():
    flat, labels = (to_numpy(t) for t in load_digits(flatten=True).tensors)
    assert flat.shape == (1797, 64)
    # The first image is the well-known zero from the UCI set.
    assert labels[0] == 0 and (flat[0].reshape(8, 8) * 16)[0].tolist() == [0, 0, 5, 13, 9, 1, 0, 0]
    # Real digits: nearest neighbour classifies them well, far above chance.
    assert nearest_neighbour_accuracy(flat[:600], labels[:600]) > 0.95


def test_digits_license_note_is_packaged():
    from importlib import resources

    note = resources.files("gradwork.data").joinpath("DIGITS_LICENSE.md").read_text()
    assert "CC BY 4.0" in note and "Alpaydin" in note
