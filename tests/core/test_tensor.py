"""Tensor creation, dtypes, conversion and the small semantics torch users rely on."""

import numpy as np
import pytest

import gradwork as gw
from tests.helpers import to_numpy


@pytest.mark.parametrize(
    ("data", "dtype"),
    [
        (1.5, gw.float32),
        ([1.0, 2.0], gw.float32),
        ([1, 2], gw.int64),
        (True, gw.bool),
        (np.array([1.0, 2.0]), gw.float64),
        (np.array([1, 2], dtype=np.int32), gw.int32),
    ],
)
def test_tensor_infers_torch_dtypes(data, dtype):
    assert gw.tensor(data).dtype == dtype


def test_tensor_copies_and_from_numpy_shares():
    array = np.zeros(2)
    copied, shared = gw.tensor(array), gw.from_numpy(array)
    array[0] = 7
    assert copied.tolist() == [0, 0] and shared.tolist() == [7, 0]


def test_promotion_follows_numpy_and_python_scalars_are_weak():
    f32 = gw.ones(2)
    assert (f32 * 2.5).dtype == gw.float32
    assert (f32 * np.float64(2.5)).dtype == gw.float32  # numpy scalar treated like torch
    assert (f32 + gw.ones(2, dtype=gw.float64)).dtype == gw.float64
    assert (gw.tensor([1, 2]) + 1).dtype == gw.int64


def test_a_python_number_first_in_a_function_form_is_a_wrapped_number():
    # torch.add(0.1, t) with t float64 adds 0.1 in float64, not 0.1 rounded to float32
    f64 = gw.zeros(1, dtype=gw.float64)
    assert gw.add(1.6479459031795494, f64).tolist() == [1.6479459031795494]
    assert gw.sub(0.1, f64).tolist() == [0.1]
    assert gw.mul(0.5, gw.tensor([1, 2])).dtype == gw.float32  # a float beats an int tensor
    assert gw.add(2, gw.ones(1, dtype=gw.float16)).dtype == gw.float16
    assert gw.add(1.5, gw.tensor(2.0)).dtype == gw.float32  # a 0-dim tensor outranks it
    with pytest.raises(RuntimeError, match="bool tensor"):  # a bool stays bool, as in torch
        gw.sub(False, gw.zeros(1))


@pytest.mark.parametrize(
    ("make", "shape", "dtype"),
    [
        (lambda: gw.zeros(2, 3), (2, 3), gw.float32),
        (lambda: gw.ones((2, 3), dtype=gw.float64), (2, 3), gw.float64),
        (lambda: gw.full((2,), 7), (2,), gw.int64),
        (lambda: gw.full((2,), 0.5), (2,), gw.float32),
        (lambda: gw.zeros_like(gw.ones(4, dtype=gw.float64)), (4,), gw.float64),
        (lambda: gw.ones_like(gw.ones(1, 2)), (1, 2), gw.float32),
        (lambda: gw.arange(5), (5,), gw.int64),
        (lambda: gw.arange(0, 1, 0.25), (4,), gw.float32),
        (lambda: gw.eye(3), (3, 3), gw.float32),
        (lambda: gw.rand(2, 2), (2, 2), gw.float32),
        (lambda: gw.randn(3), (3,), gw.float32),
        (lambda: gw.randint(0, 10, (4,)), (4,), gw.int64),
    ],
)
def test_creation_functions(make, shape, dtype):
    t = make()
    assert t.shape == shape and t.dtype == dtype


def test_manual_seed_reproduces_every_draw():
    gw.manual_seed(42)
    first = (gw.rand(3).tolist(), gw.randn(2).tolist(), gw.randint(0, 100, (3,)).tolist())
    gw.manual_seed(42)
    second = (gw.rand(3).tolist(), gw.randn(2).tolist(), gw.randint(0, 100, (3,)).tolist())
    assert first == second
    state = gw.get_rng_state()
    a = gw.rand(2).tolist()
    gw.set_rng_state(state)
    assert gw.rand(2).tolist() == a


def test_conversions():
    t = gw.tensor([[1.5, 2.5]], device="cpu")  # NumPy's view of a CPU tensor
    assert gw.tensor([3.0]).item() == 3.0 and isinstance(gw.tensor([3.0]).item(), float)
    assert t.tolist() == [[1.5, 2.5]]
    np.testing.assert_array_equal(np.asarray(t), [[1.5, 2.5]])
    assert t.long().tolist() == [[1, 2]] and t.double().dtype == gw.float64
    assert t.to(gw.float64).dtype == gw.float64 and t.to("cpu") is t
    with pytest.raises(RuntimeError, match="one-element"):
        t.item()
    with pytest.raises(RuntimeError, match=r"detach\(\)\.numpy\(\)"):
        gw.ones(2, device="cpu", requires_grad=True).numpy()


def test_cast_gradient_returns_in_the_original_dtype():
    x = gw.ones(2, requires_grad=True)
    (x.double() * 2).sum().backward()
    assert x.grad.dtype == gw.float32 and x.grad.tolist() == [2.0, 2.0]


def test_repr_is_torch_like():
    with gw.device("cpu"):  # a CPU tensor's repr names no device (tests/device: CUDA's)
        assert repr(gw.tensor([1.0, 2.0])) == "tensor([1., 2.])"
        assert repr(gw.tensor([1.0], requires_grad=True)) == "tensor([1.], requires_grad=True)"
        assert repr(gw.tensor([1.0], dtype=gw.float64)) == "tensor([1.], dtype=gradwork.float64)"
        y = gw.tensor([1.0], requires_grad=True) * 2
        assert repr(y) == "tensor([2.], grad_fn=<MulBackward>)"


def test_max_and_min_forms():
    t = gw.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 7.0]])
    assert t.max().item() == 7.0
    values, indices = t.max(dim=1)
    assert values.tolist() == [5.0, 7.0] and indices.tolist() == [1, 0]
    assert t.min(0).indices.tolist() == [0, 1, 0]
    assert t.max(gw.full((3,), 3.0)).tolist() == [[3.0, 5.0, 3.0], [7.0, 3.0, 7.0]]
    assert t.argmax().item() == 3 and t.argmin(1, keepdim=True).shape == (2, 1)


def test_ties_share_the_gradient_like_torch():
    x = gw.tensor([3.0, 3.0, 1.0], requires_grad=True)
    x.max().backward()
    assert x.grad.tolist() == [0.5, 0.5, 0.0]
    a = gw.tensor([2.0], requires_grad=True)
    b = gw.tensor([2.0], requires_grad=True)
    gw.maximum(a, b).sum().backward()
    assert a.grad.item() == 0.5 and b.grad.item() == 0.5


def test_boundary_derivatives_follow_torch():
    x = gw.tensor([0.0, 0.0, 0.0], requires_grad=True)
    (x.relu() + x.abs() + x.clamp(0.0, 1.0)).sum().backward()
    assert x.grad.tolist() == [1.0, 1.0, 1.0]  # relu'(0)=0, |x|'(0)=0, clamp passes at bound


def test_prod_gradient_with_zeros():
    x = gw.tensor([2.0, 0.0, 3.0], requires_grad=True)
    x.prod().backward()
    assert x.grad.tolist() == [0.0, 6.0, 0.0]


def test_split_chunk_squeeze_shapes():
    t = gw.arange(10).reshape(2, 5)
    assert [p.shape for p in t.split(2, dim=1)] == [(2, 2), (2, 2), (2, 1)]
    assert [p.shape for p in t.chunk(2, dim=1)] == [(2, 3), (2, 2)]
    assert gw.zeros(1, 3, 1).squeeze().shape == (3,)
    assert gw.zeros(2, 3).squeeze(0).shape == (2, 3)  # not size 1: unchanged
    with pytest.raises(IndexError, match="out of range"):
        gw.zeros(2, 3).unsqueeze(4)


def test_function_forms_match_methods():
    t = gw.tensor([[1.0, -2.0], [3.0, 4.0]])
    assert gw.sum(t, 0).tolist() == t.sum(0).tolist()
    assert gw.abs(t).tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert gw.stack([t, t]).shape == (2, 2, 2)
    assert gw.where(t > 0, t, 0.0).tolist() == [[1.0, 0.0], [3.0, 4.0]]
    assert gw.var(t).item() == pytest.approx(np.var(to_numpy(t), ddof=1))


def test_numpy_on_the_left_defers_to_tensor():
    out = np.ones(2) + gw.ones(2, device="cpu", requires_grad=True)
    assert isinstance(out, gw.Tensor) and out.requires_grad


def test_cat_and_stack_errors_are_clear():
    with pytest.raises(ValueError, match="cat: tensor 1 has shape"):
        gw.cat([gw.zeros(2, 3), gw.zeros(3, 2)], dim=0)
    with pytest.raises(ValueError, match="same shape"):
        gw.stack([gw.zeros(2), gw.zeros(3)])
    with pytest.raises(ValueError, match="reshape: shape"):
        gw.zeros(2, 3).reshape(4, 2)


def test_subpackages_are_reachable_from_the_package():
    import importlib

    fresh = importlib.import_module("gradwork")
    assert fresh.nn.Linear(2, 3).weight.shape == (3, 2)
    assert hasattr(fresh.optim, "Adam") and hasattr(fresh.data, "DataLoader")
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        fresh.nope  # noqa: B018
