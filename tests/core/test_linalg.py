"""Linear algebra beyond the table: errors, dtypes and dtype views, checked against torch."""

from __future__ import annotations

import numpy as np
import pytest

import gradwork as gw

INF = float("inf")

# (label, call(lib)): the same misuse in both libraries must raise the same class.
MISUSES = [
    ("mm 1-D", lambda lib: lib.ones(2, 3).mm(lib.ones(3))),
    ("mm shapes", lambda lib: lib.ones(2, 3).mm(lib.ones(2, 3))),
    ("mm dtypes", lambda lib: lib.ones(2, 3).mm(lib.ones(3, 2, dtype=lib.float64))),
    ("mm bool", lambda lib: lib.ones(2, 2, dtype=lib.bool).mm(lib.ones(2, 2, dtype=lib.bool))),
    ("bmm 2-D", lambda lib: lib.ones(2, 3).bmm(lib.ones(3, 2))),
    ("bmm batch", lambda lib: lib.ones(2, 2, 3).bmm(lib.ones(1, 3, 2))),
    ("dot 2-D", lambda lib: lib.ones(2, 3).dot(lib.ones(3))),
    ("dot sizes", lambda lib: lib.ones(3).dot(lib.ones(4))),
    ("dot dtypes", lambda lib: lib.ones(3).dot(lib.ones(3, dtype=lib.float64))),
    ("outer 0-D", lambda lib: lib.ones(3).outer(lib.ones(()))),
    ("einsum operands", lambda lib: lib.einsum("i,j->ij", lib.ones(2))),
    ("einsum ndim", lambda lib: lib.einsum("ijk", lib.ones(2, 3))),
    ("einsum output", lambda lib: lib.einsum("ij->k", lib.ones(2, 3))),
    ("einsum diagonal", lambda lib: lib.einsum("ii->i", lib.ones(2, 3))),
    ("einsum subscript", lambda lib: lib.einsum("i1", lib.ones(2, 3))),
    ("norm of ints", lambda lib: lib.ones(3, dtype=lib.int64).norm()),
    ("norm nuc 3 dims", lambda lib: lib.ones(2, 2, 2).norm("nuc")),
    ("inf norm of nothing", lambda lib: lib.ones(0).norm(INF)),
    ("vector_norm 'fro'", lambda lib: lib.linalg.vector_norm(lib.ones(3), "fro")),
    ("matrix_norm 1-D", lambda lib: lib.linalg.matrix_norm(lib.ones(3))),
    ("matrix_norm ord 3", lambda lib: lib.linalg.matrix_norm(lib.ones(2, 2), 3)),
    ("linalg.norm 3-D with ord", lambda lib: lib.linalg.norm(lib.ones(2, 2, 2), 2)),
    ("std_mean of ints", lambda lib: lib.std_mean(lib.ones(3, dtype=lib.int64))),
    ("view(dtype) of 0-D", lambda lib: lib.ones(()).view(lib.int16)),
    ("view(dtype) size", lambda lib: lib.ones(3, dtype=lib.int8).view(lib.int16)),
    ("view(dtype) stride", lambda lib: lib.ones(3, 4).t().view(lib.int16)),
]


@pytest.mark.parametrize("label, call", MISUSES, ids=[m[0] for m in MISUSES])
def test_misuse_raises_torch_class(label, call, torch):
    with pytest.raises(Exception) as theirs:
        call(torch)
    expected = RuntimeError if theirs.type is NotImplementedError else theirs.type
    with pytest.raises(expected):
        call(gw)


def test_dtype_views_and_names():
    x = gw.tensor([1.0, -2.0])
    assert x.type() == "gradwork.FloatTensor" and x.long().type() == "gradwork.LongTensor"
    assert x.type(gw.float64).dtype == gw.float64 and x.type(gw.float32) is x
    assert x.type("torch.HalfTensor").dtype == gw.float16 == x.half().dtype
    assert x.type_as(gw.tensor([1])).dtype == gw.int64
    bits = x.view(gw.int32)
    assert bits.tolist() == np.array([1.0, -2.0], np.float32).view(np.int32).tolist()
    assert x.view(gw.float16).shape == (4,) and x.view(2, 1).shape == (2, 1)
    bits[0] = 0  # a view: the change shows through, as in torch
    assert x.tolist() == [0.0, -2.0]


def test_gradients_at_zero_are_torch_subgradients():
    for p in (2, 1, 3, 0.5, INF):
        x = gw.zeros(3, requires_grad=True)
        x.norm(p).backward()
        assert x.grad.tolist() == [0.0, 0.0, 0.0]
    x = gw.tensor([0.0, 0.0], requires_grad=True)
    gw.linalg.vector_norm(x).backward()
    assert x.grad.tolist() == [0.0, 0.0]


def test_statistics_return_tuples():
    x = gw.tensor([[1.0, 3.0], [5.0, 9.0]])
    var, mean = gw.var_mean(x, 1, keepdim=True)
    assert var.tolist() == [[2.0], [8.0]] and mean.tolist() == [[2.0], [7.0]]
    std, mean = gw.std_mean(x, True)  # torch's (input, unbiased) overload
    assert mean.item() == 4.5 and abs(std.item() - x.std().item()) < 1e-6
