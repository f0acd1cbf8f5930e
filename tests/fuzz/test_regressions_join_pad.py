"""Pinned from the long fuzz run: cat, pad, bool matmul, std and einsum rules, as torch has them.

As in test_regressions.py, each test makes the same assertions on gradwork and,
when installed, on torch, so the torch run shows the asserted behaviour is torch's.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.fuzz.test_regressions import LIBS, dtype_name, name, values
from tests.helpers import to_numpy


@pytest.mark.parametrize("lib", LIBS, ids=name)
def test_cat_refuses_zero_dim_tensors(lib):
    with pytest.raises(RuntimeError, match="zero-dimensional tensor"):
        lib.cat([lib.tensor(1.0), lib.tensor(2.0)])


@pytest.mark.parametrize("lib", LIBS, ids=name)
def test_cat_lets_legacy_empty_vectors_join_anything_and_promote(lib):
    joined = lib.cat([lib.zeros(0, dtype=lib.float64), lib.ones(2, 3)])
    assert tuple(joined.shape) == (2, 3) and dtype_name(joined) == "float64"
    assert tuple(lib.cat([lib.zeros(0), lib.zeros(0)], dim=1).shape) == (0,)
    mixed = lib.cat([lib.zeros(0, dtype=lib.int64), lib.zeros(0)])
    assert dtype_name(mixed) == "float32"


@pytest.mark.parametrize("lib", LIBS, ids=name)
@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("widths", [(-1, 2), (2, -1), (-2, -1)])
def test_negative_widths_crop_in_every_pad_mode(lib, mode, widths):
    x = lib.tensor(np.arange(5.0).reshape(1, 1, 5))
    expected = {
        ("reflect", (-1, 2)): [1, 2, 3, 4, 3, 2],
        ("reflect", (2, -1)): [2, 1, 0, 1, 2, 3],
        ("replicate", (-1, 2)): [1, 2, 3, 4, 4, 4],
        ("replicate", (2, -1)): [0, 0, 0, 1, 2, 3],
        ("circular", (-1, 2)): [1, 2, 3, 4, 1, 2],
        ("circular", (2, -1)): [2, 3, 0, 1, 2, 3],  # circular crops first, then wraps
    }.get((mode, widths), [2, 3])
    assert values(lib.nn.functional.pad(x, widths, mode=mode)).ravel().tolist() == expected


@pytest.mark.parametrize("lib", LIBS, ids=name)
def test_reflect_and_replicate_pads_want_non_empty_dims_and_no_bools(lib):
    pad = lib.nn.functional.pad
    assert tuple(pad(lib.zeros(0, 2, 3, 3), (1, 1, 1, 1), mode="reflect").shape) == (0, 2, 5, 5)
    with pytest.raises(RuntimeError, match="possibly 0 batch size"):
        pad(lib.zeros(2, 0, 3, 3), (1, 1, 1, 1), mode="replicate")
    with pytest.raises(NotImplementedError):
        pad(lib.zeros(1, 2, 3, dtype=lib.bool), (1, 1), mode="reflect")


@pytest.mark.parametrize("lib", LIBS, ids=name)
@pytest.mark.parametrize(
    ("a", "b", "shape"),
    [((0, 3), (3, 2), (0, 2)), ((2, 0), (0, 3), (2, 3)), ((2, 3), (3, 0), (2, 0)),
     ((0, 3), (3,), (0,)), ((2, 0, 3), (3, 1), (2, 0, 1))],
)  # fmt: skip
def test_bool_matmul_with_no_work_gives_false(lib, a, b, shape):
    out = lib.ones(a, dtype=lib.bool) @ lib.ones(b, dtype=lib.bool)
    assert tuple(out.shape) == shape and dtype_name(out) == "bool" and not values(out).any()


@pytest.mark.parametrize("lib", LIBS, ids=name)
@pytest.mark.parametrize(("a", "b"), [((3,), (3,)), ((0,), (0,)), ((2, 3), (3, 2))])
def test_bool_matmul_with_work_is_not_implemented(lib, a, b):
    with pytest.raises(NotImplementedError):
        lib.ones(a, dtype=lib.bool) @ lib.ones(b, dtype=lib.bool)


@pytest.mark.parametrize("lib", LIBS, ids=name)
def test_std_of_tiny_float32_spreads_accumulates_in_double(lib):
    x = lib.full((5,), 1e-27, requires_grad=True)
    spread = (x * lib.tensor([1.0, 2.0, 3.0, 4.0, 5.0])).std()
    spread.backward()
    assert dtype_name(spread) == "float32"
    np.testing.assert_allclose(values(spread), 1.5811388e-27, rtol=1e-6)
    np.testing.assert_allclose(
        to_numpy(values(x.grad)[[0, 3, 4]]), [-0.31623, 0.63246, 1.58114], rtol=1e-4
    )


@pytest.mark.parametrize("lib", LIBS, ids=name)
def test_einsum_with_an_empty_operand_takes_the_last_dtype_unchecked(lib):
    empty_int = lib.zeros(0, 3, dtype=lib.int32)
    assert dtype_name(lib.einsum("ij,jk->ik", empty_int, lib.ones(3, 2))) == "float32"
    out = lib.einsum("ij,jk->ik", lib.zeros(2, 0), lib.zeros(0, 2, dtype=lib.int32))
    assert dtype_name(out) == "int32" and not values(out).any()


@pytest.mark.parametrize("lib", LIBS, ids=name)
def test_cat_promotes_as_torch_and_keeps_requires_grad_of_empty_pieces(lib):
    assert dtype_name(lib.cat([lib.tensor([0]), lib.tensor([0.0])])) == "float32"
    assert dtype_name(lib.cat([lib.ones(2, dtype=lib.int32), lib.ones(1)])) == "float32"
    joined = lib.cat([lib.zeros(0, dtype=lib.int64), lib.zeros(0, requires_grad=True)])
    assert joined.requires_grad and dtype_name(joined) == "float32"
