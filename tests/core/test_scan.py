"""Scans, sorting, shape extras, selection and scatter beyond the table: return types,
index dtypes, ties, integer inputs, errors, in-place forms (gradwork._tensor_scan)."""

from __future__ import annotations

import numpy as np
import pytest

import gradwork as gw
from gradwork.diagnose import gradcheck
from tests.helpers import to_numpy


def _same(ours, theirs):
    """Same values, shape and dtype name as a torch tensor."""
    expected = theirs.detach().numpy()
    assert ours.shape == expected.shape
    assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch.")
    np.testing.assert_array_equal(to_numpy(ours), expected)


@pytest.mark.parametrize("name", ["sort", "topk", "cummax", "cummin"])
def test_values_indices_namedtuple(name):
    x = gw.tensor([[3.0, 1.0, 2.0]])
    args = (2,) if name == "topk" else (1,) if name.startswith("cum") else ()
    out = getattr(x, name)(*args)
    values, indices = out
    assert out.values is values and out.indices is indices
    assert indices.dtype == np.int64 and not indices.requires_grad


def test_ties_match_torch(torch):
    data = [1, 2, 1, 2, 1, 1, 2, 1, 2, 1, 2]
    ours, theirs = gw.tensor(data), torch.tensor(data)
    for descending in (False, True):
        _same(ours.sort(descending=descending).indices, theirs.sort(descending=descending)[1])
        _same(ours.argsort(descending=descending), theirs.argsort(descending=descending))
    for k in (1, 3, 5):
        for largest in (True, False):
            _same(ours.topk(k, largest=largest).indices, theirs.topk(k, largest=largest)[1])
    _same(ours.cummax(0).indices, theirs.cummax(0)[1])
    _same(ours.cummin(0).indices, theirs.cummin(0)[1])


def test_nan_ordering_matches_torch(torch):
    data = [1.0, float("nan"), -2.0, float("nan"), 0.5]
    ours, theirs = gw.tensor(data), torch.tensor(data)
    for descending in (False, True):
        _same(ours.sort(descending=descending).indices, theirs.sort(descending=descending)[1])
    _same(ours.cummax(0).indices, theirs.cummax(0)[1])
    _same(ours.cummin(0).indices, theirs.cummin(0)[1])


def test_integer_and_bool_dtypes(torch):
    ints = [[1, 0, 3], [2, 2, 0]]
    for dtype in ("int32", "int64", "bool"):
        ours = gw.tensor(ints).to(getattr(gw, dtype))
        theirs = torch.tensor(ints).to(getattr(torch, dtype))
        _same(ours.cumsum(1), theirs.cumsum(1))  # int64 accumulation
        _same(ours.cumprod(0), theirs.cumprod(0))
        _same(ours.sort(1).values, theirs.sort(1).values)
        _same(ours.flip(0), theirs.flip(0))
        _same(ours.tril(), theirs.tril())
        _same(ours.nonzero(), theirs.nonzero())
    _same(
        gw.tensor([1.5]).cumsum(0, dtype=gw.float64),
        torch.tensor([1.5]).cumsum(0, dtype=torch.float64),
    )


def test_cumprod_gradient_exact_with_zeros(torch):
    data = [[2.0, 0.0, 3.0, 0.0, 5.0], [0.0, 1.5, -2.0, 4.0, 1.0]]
    x, t = (
        gw.tensor(data, dtype=gw.float64, requires_grad=True),
        torch.tensor(data, requires_grad=True, dtype=torch.float64),
    )
    x.cumprod(1).sum().backward()
    t.cumprod(1).sum().backward()
    np.testing.assert_allclose(to_numpy(x.grad), t.grad.numpy())
    gradcheck(lambda a: a.cumprod(1), [x])


@pytest.mark.filterwarnings("ignore:The reduce argument")
def test_scatter_reduce_integers_and_value_forms(torch):
    index = [[0, 1, 0], [1, 1, 0]]
    base, src = [[5, 6, 7], [1, 2, 3]], [[1, 2, 3], [4, 5, 6]]
    for reduce in ("sum", "prod", "mean", "amax", "amin"):
        for include_self in (True, False):
            options = {"include_self": include_self}
            ours = gw.tensor(base).scatter_reduce(
                0, gw.tensor(index), gw.tensor(src), reduce, **options
            )
            theirs = torch.tensor(base).scatter_reduce(
                0, torch.tensor(index), torch.tensor(src), reduce, **options
            )
            _same(ours, theirs)
    _same(gw.tensor(base).scatter(1, gw.tensor([[2], [0]]), 2.7),
          torch.tensor(base).scatter(1, torch.tensor([[2], [0]]), 2.7))  # fmt: skip
    _same(
        gw.tensor(base).scatter(0, gw.tensor(index), gw.tensor(src), reduce="add"),
        torch.tensor(base).scatter(0, torch.tensor(index), torch.tensor(src), reduce="add"),
    )


def test_scatter_with_src_larger_than_index_gets_zero_gradient_outside():
    # torch raises in backward here ("invalid gradient"); gradwork gives the gradient.
    x = gw.zeros(2, 3, dtype=gw.float64, requires_grad=True)
    src = gw.ones(3, 4, dtype=gw.float64, requires_grad=True)
    x.scatter(0, gw.tensor([[1, 0]]), src).sum().backward()
    assert src.grad.array.sum() == 2 and src.grad.array[0, :2].tolist() == [1, 1]
    gradcheck(lambda s: x.detach().scatter(0, gw.tensor([[1, 0]]), s), [src])


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda x: x.scatter(0, gw.tensor([[3, 0]]), gw.ones(1, 2)), RuntimeError),
        (lambda x: x.scatter(0, gw.tensor([0, 1]), gw.ones(2)), RuntimeError),
        (
            lambda x: x.scatter(0, gw.tensor([[0, 1]]), gw.ones(1, 2, dtype=gw.float64)),
            RuntimeError,
        ),
        (
            lambda x: x.scatter(0, gw.tensor([[0.0, 1.0]]), gw.ones(1, 2)),
            (RuntimeError, IndexError),
        ),
        (lambda x: x.scatter_reduce(0, gw.tensor([[0]]), gw.ones(1, 1), "max"), RuntimeError),
        (lambda x: x.index_add(0, gw.tensor([[0, 1]]), gw.ones(2, 4)), IndexError),
        (lambda x: x.index_add(0, gw.tensor([0, 3]), gw.ones(2, 4)), RuntimeError),
        (lambda x: x.index_add(0, gw.tensor([0, 1]), gw.ones(2, 3)), RuntimeError),
        (lambda x: x.masked_select(gw.tensor([1, 0, 1, 1])), RuntimeError),
        (lambda x: x.topk(5), RuntimeError),
        (lambda x: x.cumsum(2), IndexError),
        (lambda x: x.flip(0, 0), RuntimeError),
        (lambda x: x.diagonal(0, 1, 1), RuntimeError),
        (lambda x: x[0].tril(), RuntimeError),
        (lambda x: x[0].trace(), RuntimeError),
        (lambda x: x.reshape(3, 2, 2).diag(), RuntimeError),
        (lambda x: x.repeat(2), RuntimeError),
        (lambda x: x.repeat_interleave(-1), RuntimeError),
        (lambda x: x.roll((1, 2), 0), RuntimeError),
        (lambda x: x.unflatten(1, (3, 2)), RuntimeError),
        (lambda x: x.unfold(1, 5, 1), RuntimeError),
        (lambda x: gw.meshgrid(x[0], x[0].double()), RuntimeError),
        (lambda x: gw.meshgrid(x, x[0]), RuntimeError),
    ],
)
def test_errors_have_torch_classes(call, error):
    with pytest.raises(error):
        call(gw.zeros(3, 4))


def test_inplace_forms_write_into_storage():
    x = gw.zeros(2, 3)
    alias = x.detach()
    assert x.scatter_(1, gw.tensor([[2], [0]]), 1.0) is x
    assert alias.array.tolist() == [[0, 0, 1], [1, 0, 0]]
    x.scatter_add_(0, gw.tensor([[1, 1, 1]]), gw.ones(1, 3))
    x.index_add_(1, gw.tensor([0]), gw.ones(2, 1), alpha=2)
    x.masked_fill_(x > 1.5, -1.0)
    assert alias.array.tolist() == [[-1, 0, 1], [-1, 1, 1]]
    assert x._version == 4


def test_inplace_on_leaf_requiring_grad_raises():
    w = gw.zeros(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError):
        w.scatter_(1, gw.tensor([[0], [1]]), 1.0)
    with gw.no_grad():
        w.index_add_(0, gw.tensor([1]), gw.ones(1, 3))
    assert w.array[1].tolist() == [1, 1, 1] and w.requires_grad


def test_shapes_and_creation(torch):
    rows, cols = gw.meshgrid(gw.arange(2), gw.arange(3), indexing="xy")
    assert rows.shape == cols.shape == (3, 2)
    assert [g.shape for g in gw.meshgrid([gw.arange(2), gw.tensor(5), gw.arange(4)])] == [
        (2, 1, 4)
    ] * 3
    x = gw.arange(12.0).reshape(3, 4)
    _same(x.unfold(1, 2, 1), torch.arange(12.0).reshape(3, 4).unfold(1, 2, 1))
    _same(gw.tensor([1, 2]).diag(-1), torch.tensor([1, 2]).diag(-1))
    _same(x.nonzero(as_tuple=True)[1], torch.arange(12.0).reshape(3, 4).nonzero(as_tuple=True)[1])
    assert len(gw.tensor(3.0).nonzero(as_tuple=True)) == 1
    assert gw.empty(2, 3).shape == (2, 3) and gw.empty((4,), dtype=gw.int64).dtype == np.int64
    assert gw.empty_like(x).shape == x.shape and gw.empty(1, requires_grad=True).requires_grad


def test_function_forms():
    x = gw.tensor([[3.0, 1.0], [2.0, 4.0]])
    assert gw.sort(x, 1).values.tolist() == [[1, 3], [2, 4]]
    assert gw.trace(x).item() == 7 and gw.flip(x, [0]).tolist() == [[2, 4], [3, 1]]
    assert gw.topk(x, 1).indices.tolist() == [[0], [1]]
    assert gw.masked_select(x, x > 2).tolist() == [3, 4]
