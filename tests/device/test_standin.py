"""The CPU stand-in for CuPy: an array that is not an ndarray and refuses what CuPy refuses."""

from __future__ import annotations

import numpy as np
import pytest

from gradwork import _arrays
from gradwork import _standin as xp

IMPLICIT = "Implicit conversion to a NumPy array is not allowed"


def test_its_array_wraps_numpy_without_being_an_ndarray():
    x = xp.arange(6.0).reshape(2, 3)
    assert not isinstance(x, np.ndarray) and isinstance(x, xp.ndarray)
    assert (x.shape, x.ndim, x.size, x.dtype) == ((2, 3), 2, 6, np.float64)
    assert x.strides == (24, 8) and x.flags.c_contiguous and x.T.shape == (3, 2)


def test_numpy_calls_run_on_the_device_and_stay_there():
    x = xp.asarray(np.array([1.0, 4.0, 9.0]))
    for result in (
        np.sqrt(x),
        x + 1,
        2 * x,
        -x,
        x @ x,
        np.concatenate([x, x]),
        np.where(x > 2, x, 0),
        x.sum(),
        np.max(x),
        x[1:],
        x[np.array([0, 2])],
        np.linalg.svd(x[None]).S,
    ):  # noqa: E501
        assert isinstance(result, xp.ndarray), type(result)
    assert x.sum().ndim == 0  # a reduction gives a 0-d device array, as CuPy's does


def test_host_arrays_are_refused_as_cupy_refuses_them():
    x = xp.ones(3)
    host = np.ones(3)
    for mixed in (lambda: x + host, lambda: host + x, lambda: np.add(x, host),
                  lambda: np.concatenate([x, host]), lambda: x + [1.0, 2.0, 3.0]):  # fmt: skip
        with pytest.raises(TypeError, match="Unsupported type"):
            mixed()
    assert (x + np.float32(2)).get().tolist() == [3.0] * 3  # scalars and 0-d arrays pass
    assert (x + np.array(2.0)).get().tolist() == [3.0] * 3


def test_implicit_conversion_raises_and_transfers_are_explicit():
    x = xp.arange(3)
    for convert in (np.asarray, np.array, lambda a: np.ascontiguousarray(a)):
        with pytest.raises(TypeError, match=IMPLICIT):
            convert(x)
    host = np.arange(3.0)
    on_device = xp.asarray(host)
    host[0] = 7  # asarray copied the host data, as cupy.asarray does
    assert on_device.get().tolist() == [0.0, 1.0, 2.0]
    back = xp.asnumpy(on_device)
    assert isinstance(back, np.ndarray) and back.tolist() == [0.0, 1.0, 2.0]
    on_device.set(np.array([5.0, 6.0, 7.0]))
    assert on_device.tolist() == [5.0, 6.0, 7.0] and on_device[1].item() == 6.0


def test_in_place_work_and_views_share_memory():
    x = xp.zeros((2, 3))
    row = x[0]
    assert row.base is not None and xp.zeros(2).base is None
    row += 1  # the operator writes through the view
    np.multiply(x, 2, out=x)
    out = xp.empty((2, 3))
    assert np.add(x, 1, out=out) is out
    x[1, np.array([0, 2])] = np.array([5.0, 6.0])  # host index and host values: copied over
    np.add.at(x, (np.array([0, 0]), np.array([1, 1])), 1.0)
    assert x.get().tolist() == [[2.0, 4.0, 2.0], [5.0, 0.0, 6.0]]
    assert x.astype(np.float64, copy=False) is x and x.astype(np.float32).dtype == np.float32
    x.fill(1)
    assert x.get().sum() == 6
    x.flat[4] = 3.0
    assert isinstance(x.flat[4], xp.ndarray) and x.flat[4].item() == 3.0


def test_the_namespace_mirrors_cupys():
    assert xp.float32 is np.float32 and xp.add is np.add and xp.newaxis is None
    for made in (xp.zeros((2,)), xp.ones(2), xp.full(2, 3), xp.empty(2), xp.eye(2), xp.tri(2),
                 xp.zeros_like(xp.ones(2)), xp.linspace(0, 1, 3), xp.indices((2, 2))):  # fmt: skip
        assert isinstance(made, xp.ndarray)
    base = xp.arange(6.0)
    windows = xp.lib.stride_tricks.as_strided(base, (4, 3), (8, 8))
    assert windows.get().tolist()[1] == [1.0, 2.0, 3.0]
    xp.cuda.Device().synchronize()
    xp.random.seed(1)
    first = xp.random.standard_normal(3)
    xp.random.seed(1)
    assert first.get().tolist() == xp.random.standard_normal(3).get().tolist()
    assert xp.get_array_module(base) is xp and xp.get_array_module(np.ones(1)) is np


def test_registering_makes_xp_of_answer_the_standin():
    x = xp.ones(2)
    was_on = xp.enabled()
    xp.enable()
    try:
        assert _arrays.xp_of(1.0, x) is xp and _arrays.device_of(x) == _arrays.CUDA
    finally:
        if not was_on:
            xp.disable()
    if not was_on:
        assert _arrays.xp_of(x) is np
