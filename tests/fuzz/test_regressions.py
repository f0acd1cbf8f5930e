"""Known bugs, pinned down for good; each test runs on gradwork and, when installed, on torch.

A test parametrized by `lib` makes the same assertions on both libraries: the
torch run shows that what is asserted is torch's behaviour, the gradwork run
is the regression test. Without torch, only the gradwork runs are collected.
"""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest

import gradwork as gw
from tests.helpers import to_numpy

try:
    import torch
except ImportError:  # the gradwork half of every test still runs
    torch = None

LIBS = [gw] + ([torch] if torch is not None else [])


def name(lib) -> str:
    return lib.__name__


def values(t) -> np.ndarray:
    return np.array(to_numpy(t), copy=True)


def dtype_name(t) -> str:
    text = str(t.dtype)
    return text.removeprefix("torch.") if text.startswith("torch.") else np.dtype(t.dtype).name


# ------------------------------------------------------ 1. in-place updates
@pytest.mark.parametrize("lib", LIBS, ids=name)
def test_no_grad_step_updates_the_parameter_in_place(lib):
    p = lib.tensor([1.0, -2.0, 3.0], requires_grad=True)
    (p * p).sum().backward()  # grad = 2p
    before, storage = p, p.detach()  # shares p's storage in both libraries
    with lib.no_grad():
        p -= 0.25 * p.grad
    assert p is before
    assert p.is_leaf and p.requires_grad
    np.testing.assert_allclose(values(p), [0.5, -1.0, 1.5])
    np.testing.assert_allclose(to_numpy(storage), [0.5, -1.0, 1.5])  # the same array, updated


@pytest.mark.parametrize("lib", LIBS, ids=name)
def test_modifying_an_output_saved_for_backward_raises_at_backward(lib):
    x = lib.tensor([0.5, 1.0], requires_grad=True)
    y = x.exp()  # exp saves its output
    y += 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


@pytest.mark.parametrize("lib", LIBS, ids=name)
def test_modifying_an_output_nothing_saved_keeps_the_gradient(lib):
    x = lib.tensor([0.5, 1.0], requires_grad=True)
    y = x * 2
    y += 1
    y.sum().backward()
    np.testing.assert_allclose(values(y), [2.0, 3.0])
    np.testing.assert_allclose(values(x.grad), [2.0, 2.0])


# ------------------------------------------------------------- 2. promotion
PROMOTIONS = {
    "int / int": (lambda lib: lib.tensor([5, 6, 7]) / lib.tensor([1, 2, 3]), [5, 3, 7 / 3]),
    "exp(int)": (lambda lib: lib.tensor(2).exp(), np.exp(2)),
    "int ** 0.5": (lambda lib: lib.tensor([4, 9]) ** 0.5, [2.0, 3.0]),
    "int + 0.5": (lambda lib: lib.tensor([1]) + 0.5, [1.5]),
    "float32 + 0-dim float64": (
        lambda lib: lib.tensor([1.0, 2.0]) + lib.tensor(0.5, dtype=lib.float64),
        [1.5, 2.5],
    ),
}


@pytest.mark.parametrize("lib", LIBS, ids=name)
@pytest.mark.parametrize("expression", PROMOTIONS)
def test_promotion_gives_float32(lib, expression):
    compute, expected = PROMOTIONS[expression]
    result = compute(lib)
    assert dtype_name(result) == "float32"
    np.testing.assert_allclose(values(result), to_numpy(expected), rtol=1e-6)


def test_result_type_matches_torch():
    pytest.importorskip("torch")
    samples = {
        "bool[]": np.array(True),
        "int32[2]": np.array([1, 2], np.int32),
        "int64[]": np.array(3),
        "float32[2]": np.array([1.0, 2.0], np.float32),
        "float64[]": np.array(1.5),
    }
    scalars = {"True": True, "2": 2, "2.5": 2.5}
    mismatches = []
    for left_name, left in samples.items():
        for right_name, right in [*samples.items(), *scalars.items()]:
            ours = gw.result_type(gw.from_numpy(left), _operand(gw, right))
            theirs = torch.result_type(torch.from_numpy(left), _operand(torch, right))
            if np.dtype(ours).name != str(theirs).removeprefix("torch."):
                mismatches.append(f"{left_name}, {right_name}: {ours} vs {theirs}")
    assert mismatches == []


def _operand(lib, value):
    return lib.from_numpy(value) if isinstance(value, np.ndarray) else value


# ------------------------------------------------------------------ 3. dims
@pytest.mark.parametrize("lib", LIBS, ids=name)
def test_a_dim_out_of_range_raises_index_error(lib):
    with pytest.raises(IndexError):
        lib.ones(3, 4, 5, 6).sum(5)


@pytest.mark.parametrize("lib", LIBS, ids=name)
@pytest.mark.parametrize(
    "reduce",
    [lambda t: t.sum(0), lambda t: t.mean(-1), lambda t: t.max(0)[0], lambda t: t.squeeze(-1)],
    ids=["sum(0)", "mean(-1)", "max(0)", "squeeze(-1)"],
)
def test_a_0_dim_tensor_accepts_dim_0_and_minus_1(lib, reduce):
    result = reduce(lib.tensor(3.0))
    assert tuple(result.shape) == ()
    assert result.item() == 3.0


@pytest.mark.parametrize("lib", LIBS, ids=name)
def test_max_along_dim_0_of_a_0_dim_tensor_gives_index_0(lib):
    assert lib.tensor(3.0).max(0)[1].item() == 0


@pytest.mark.parametrize("lib", LIBS, ids=name)
def test_prod_along_dim_0_of_a_0_dim_tensor_has_gradient_1(lib):
    x = lib.tensor(3.0, requires_grad=True)
    x.prod(0).backward()
    assert x.grad.item() == 1.0


# -------------------------------------------------------------- 4. indexing
@pytest.mark.parametrize("lib", LIBS, ids=name)
def test_an_int_and_a_list_around_a_slice_put_the_list_dim_in_place(lib):
    a = lib.arange(24).reshape(2, 3, 4)
    result = a[0, :, [0, 1]]
    assert tuple(result.shape) == (3, 2)
    np.testing.assert_array_equal(values(result), [[0, 1], [4, 5], [8, 9]])


@pytest.mark.parametrize("lib", LIBS, ids=name)
def test_an_int_and_an_index_tensor_around_a_slice_forward_and_backward(lib):
    x = lib.arange(24).reshape(2, 3, 4).double().requires_grad_(True)
    index = lib.tensor([2, 0, 1])
    result = x[1, :, index]
    np.testing.assert_array_equal(values(result), [[14, 12, 13], [18, 16, 17], [22, 20, 21]])
    weight = np.arange(1.0, 10.0).reshape(3, 3)
    (result * lib.tensor(weight)).sum().backward()
    expected = np.zeros((2, 3, 4))
    expected[1][:, [2, 0, 1]] = weight
    np.testing.assert_array_equal(values(x.grad), to_numpy(expected))


# ---------------------------------------------------- 5. out-of-range errors
@pytest.mark.parametrize("lib", LIBS, ids=name)
@pytest.mark.parametrize("index", [[[0, 2]], [[-1, 0]]], ids=["too large", "negative"])
def test_gather_with_an_index_out_of_range_raises_runtime_error(lib, index):
    x = lib.tensor([[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(RuntimeError):
        x.gather(1, lib.tensor(index))


@pytest.mark.parametrize("lib", LIBS, ids=name)
def test_circular_padding_wider_than_the_input_raises(lib):
    with pytest.raises(RuntimeError, match="wrapping around more than once"):
        lib.nn.functional.pad(lib.ones(1, 2, 3), (4, 4), mode="circular")


# ------------------------------------------------ 6. integer negative powers
@pytest.mark.parametrize("lib", LIBS, ids=name)
def test_integers_to_a_negative_integer_power_raise(lib):
    with pytest.raises(RuntimeError, match="Integers to negative integer powers are not allowed"):
        lib.tensor([1, 2, 3]) ** -2


# ------------------------------------------------------------- 7. nn.utils
@pytest.mark.parametrize("module", ["gradwork"] + (["torch"] if torch is not None else []))
def test_nn_utils_is_reachable_right_after_import(module):
    # A fresh interpreter: in this one another test may already have imported nn.utils.
    script = (
        f"import {module} as lib\n"
        "p = lib.nn.Parameter(lib.tensor([3.0, 4.0]))\n"
        "p.grad = lib.tensor([3.0, 4.0])\n"
        "norm = lib.nn.utils.clip_grad_norm_([p], max_norm=1.0)\n"
        "print(float(norm), *p.grad.tolist())\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    np.testing.assert_allclose([float(v) for v in run.stdout.split()], [5.0, 0.6, 0.8], rtol=1e-5)


# ------------------------------------------------------------ 8. mse_loss
@pytest.mark.parametrize("lib", LIBS, ids=name)
def test_mse_loss_warns_when_the_target_broadcasts_differently(lib):
    prediction = lib.tensor([[1.0], [2.0], [3.0], [4.0]])
    target = lib.tensor([1.0, 2.0, 3.0, 4.0])
    with pytest.warns(UserWarning, match="target size"):
        loss = lib.nn.functional.mse_loss(prediction, target)
    # It still broadcasts (N, 1) against (N,) to (N, N), as torch does.
    expected = np.mean((np.arange(1.0, 5.0)[:, None] - np.arange(1.0, 5.0)[None, :]) ** 2)
    np.testing.assert_allclose(loss.item(), to_numpy(expected), rtol=1e-6)


# ----------------------------------------------------- 9. .data, state_dict
@pytest.mark.parametrize("lib", LIBS, ids=name)
def test_data_is_a_tensor_sharing_the_parameters_storage(lib):
    p = lib.nn.Parameter(lib.tensor([1.0, 2.0]))
    assert isinstance(p.data, lib.Tensor)
    assert not p.data.requires_grad
    p.data.add_(1)
    np.testing.assert_allclose(values(p), [2.0, 3.0])
    p.data.copy_(lib.tensor([5.0, 6.0]))
    np.testing.assert_allclose(values(p), [5.0, 6.0])
    p.data.zero_()
    np.testing.assert_allclose(values(p), [0.0, 0.0])
    assert p.requires_grad


@pytest.mark.parametrize("lib", LIBS, ids=name)
def test_state_dict_values_are_tensors_sharing_storage(lib):
    model = lib.nn.Linear(2, 3)
    state = model.state_dict()
    assert list(state) == ["weight", "bias"]
    for key, value in state.items():
        assert isinstance(value, lib.Tensor), key
        np.testing.assert_array_equal(values(value.clone()), values(getattr(model, key)))
        assert to_numpy(value).shape == tuple(getattr(model, key).shape)
    state["bias"].fill_(7.0)
    np.testing.assert_array_equal(values(model.bias), [7.0, 7.0, 7.0])


# ------------------------------------------------------------------ 10. misc
def cube_function(lib):
    """y = x**3 * w in torch's spelling of a custom Function; records needs_input_grad."""

    class Cube(lib.autograd.Function):
        seen = []

        @staticmethod
        def forward(ctx, x, w):
            ctx.save_for_backward(x, w)
            return x * x * x * w

        @staticmethod
        def backward(ctx, grad):
            x, w = ctx.saved_tensors
            Cube.seen.append(tuple(ctx.needs_input_grad))
            grad_x = grad * 3 * x * x * w if ctx.needs_input_grad[0] else None
            grad_w = grad * x * x * x if ctx.needs_input_grad[1] else None
            return grad_x, grad_w

    return Cube


@pytest.mark.parametrize("lib", LIBS, ids=name)
def test_a_custom_function_in_torchs_spelling(lib):
    cube = cube_function(lib)
    x = lib.tensor([1.0, 2.0, -1.0], requires_grad=True)
    w = lib.tensor([2.0, 1.0, 3.0])  # no grad: needs_input_grad says so
    y = cube.apply(x, w)
    np.testing.assert_allclose(values(y), [2.0, 8.0, -3.0])
    y.sum().backward()
    np.testing.assert_allclose(values(x.grad), [6.0, 12.0, 9.0])
    assert cube.seen == [(True, False)]


@pytest.mark.parametrize("lib", LIBS, ids=name)
def test_format_spec_of_a_one_element_tensor(lib):
    assert "{:+.2f}".format(lib.tensor(1.5)) == "+1.50"  # noqa: UP032 - str.format, as reported


@pytest.mark.parametrize("lib", LIBS, ids=name)
def test_dropout2d_on_a_2d_input_warns_and_drops_elements(lib):
    lib.manual_seed(0)
    x = lib.ones(100, 100)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y = values(lib.nn.functional.dropout2d(x, p=0.5, training=True))
    assert any("2-D input" in str(w.message) for w in caught), [str(w.message) for w in caught]
    assert set(np.unique(y)) <= {0.0, 2.0}  # kept elements are scaled by 1 / (1 - p)
    assert 0.4 < (y == 0).mean() < 0.6
    # Element-wise, as torch: rows and columns are neither all dropped nor all kept.
    dropped_per_row = (y == 0).sum(axis=1)
    assert ((dropped_per_row > 0) & (dropped_per_row < 100)).all()


@pytest.mark.parametrize("name", ["sum", "mean", "std", "amax", "argmax", "logsumexp", "all"])
def test_reductions_take_numpys_axis_for_dim_as_torch_does(name):
    oracle = pytest.importorskip("torch")
    values = np.arange(6.0).reshape(2, 3)
    ours = getattr(gw.tensor(values), name)(axis=1)
    theirs = getattr(oracle.tensor(values), name)(axis=1)
    np.testing.assert_allclose(to_numpy(ours).astype(float), to_numpy(theirs.double()))
    with pytest.raises(TypeError):
        getattr(gw.tensor(values), name)(dim=0, axis=1)


# ------------------------------------------------- 11. fuzz corners, pinned
def _zeros(lib, *shape, dtype="float32"):
    return lib.zeros(*shape, dtype=getattr(lib, dtype))


def _index(lib, *values):
    return lib.tensor(list(values), dtype=lib.int64)


# name -> (compute(lib), (dtype, shape) of the result, or the exception class)
CORNERS = {
    # torch checks an index while it copies: none is checked when nothing is copied...
    "x[:, [5]] of an empty x": (lambda lib: _zeros(lib, 0, 3)[:, [5]], ("float32", (0, 1))),
    "x[[5]] with an empty dim left": (lambda lib: _zeros(lib, 2, 0)[[5]], ("float32", (1, 0))),
    # ...but an index into a dim of size 0 with a non-empty result raises.
    "x[[0], [1]] of an empty x": (lambda lib: _zeros(lib, 0, 2)[[0], [1]], IndexError),
    "x[..., 0, ...]": (lambda lib: lib.arange(6).reshape(2, 3)[..., 0, ...], ("int64", (2,))),
    "x[..., None, ...]": (lambda lib: _zeros(lib, 2, 3)[..., None, ...], ("float32", (2, 3, 1))),
    "gather with an empty, larger index": (
        lambda lib: _zeros(lib, 0, 1).gather(1, _zeros(lib, 1, 0, dtype="int64")),
        ("float32", (1, 0)),
    ),
    "tensor([[[], []], [[]]])": (lambda lib: lib.tensor([[[], []], [[]]]), ("float32", (2, 2, 0))),
    "tensor([[], [1]])": (lambda lib: lib.tensor([[], [1]]), ("float32", (2, 0))),
    "tensor([[1], []])": (lambda lib: lib.tensor([[1], []]), ValueError),
    "0-dim index_select with a 2-D index": (
        lambda lib: lib.tensor(1.0).index_select(0, _zeros(lib, 2, 2, dtype="int64")),
        IndexError,
    ),
    "index_add of a 0-dim source to a matrix": (
        lambda lib: _zeros(lib, 2, 3).index_add(1, _index(lib, 0), lib.tensor(1.0)),
        RuntimeError,
    ),
    "index_add of a (1, 1) source to a 0-dim tensor": (
        lambda lib: lib.tensor(1.0).index_add(0, _index(lib, 0), lib.ones(1, 1)),
        RuntimeError,
    ),
    "index_add of a 0-dim source with 2 indices": (
        lambda lib: lib.tensor(1.0).index_add(0, _index(lib, 0, 0), lib.tensor(2.0)),
        IndexError,
    ),
    "index_add out of range into an empty matrix": (
        lambda lib: _zeros(lib, 0, 3).index_add(0, _index(lib, 3), lib.ones(1, 3)),
        ("float32", (0, 3)),
    ),
    "index_add out of range into an empty vector": (
        lambda lib: _zeros(lib, 0).index_add(0, _index(lib, 3), lib.ones(1)),
        IndexError,
    ),
    "chunk of an empty dim": (lambda lib: _zeros(lib, 2, 0).chunk(3, 1)[2], ("float32", (2, 0))),
    # index_select out of range: the class depends on torch's kernel (dim 1, or empty self).
    "index_select out of range, dim 0": (
        lambda lib: _zeros(lib, 2, 3).index_select(0, _index(lib, 2)),
        IndexError,
    ),
    "index_select out of range, dim 1": (
        lambda lib: _zeros(lib, 1, 1).index_select(1, _index(lib, 1)),
        RuntimeError,
    ),
    "x[:, ::0] of a vector": (lambda lib: _zeros(lib, 0)[:, ::0], IndexError),
    "x[::0] of a 0-dim tensor": (lambda lib: lib.tensor(0)[::0], ValueError),
    "erfc of a 0-dim int": (lambda lib: lib.tensor(0).erfc(), ("float32", ())),
}


@pytest.mark.parametrize("lib", LIBS, ids=name)
@pytest.mark.parametrize("corner", CORNERS)
def test_fuzz_corner(lib, corner):
    compute, expected = CORNERS[corner]
    if isinstance(expected, type):
        with pytest.raises(expected):
            compute(lib)
        return
    result = compute(lib)
    assert (dtype_name(result), tuple(result.shape)) == expected


@pytest.mark.parametrize("lib", LIBS, ids=name)
def test_chunk_of_an_empty_dim_gives_every_chunk(lib):
    assert len(_zeros(lib, 0).chunk(2)) == 2


@pytest.mark.parametrize("lib", LIBS, ids=name)
def test_indexing_out_of_range_selects_nothing_and_backpropagates_zeros(lib):
    x = lib.zeros(0, 3, requires_grad=True)
    x[:, [5, -7]].sum().backward()
    assert tuple(x.grad.shape) == (0, 3)


@pytest.mark.parametrize("lib", LIBS, ids=name)
def test_erfc_keeps_its_float32_tail(lib):
    x = lib.tensor([3.0, 5.0, 9.0, 10.0], requires_grad=True)
    y = lib.erfc(x)
    # math.erfc in double; 1 - erf(x) would round all of these to 0 in float32 but 3.0.
    expected = [2.209049699858544e-05, 1.5374597944280351e-12, 4.137031746513810e-37, 0.0]
    np.testing.assert_allclose(values(y), to_numpy(expected), rtol=1e-5, atol=1e-44)
    y.sum().backward()
    slope = -2 / np.sqrt(np.pi) * np.exp(-np.array([9.0, 25.0, 81.0, 100.0]))
    np.testing.assert_allclose(values(x.grad), to_numpy(slope), rtol=1e-5, atol=1e-43)


@pytest.mark.parametrize("lib", LIBS, ids=name)
@pytest.mark.parametrize("largest", [True, False])
def test_topk_among_ties_picks_torchs_positions(lib, largest):
    x = lib.tensor([[1.0, 2.0, 2.0, 1.0, 2.0, 1.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]])
    indices = x.topk(4, largest=largest).indices.tolist()
    # What torch 2.13's CPU kernel returns (nth_element, then sort of the first k - 1).
    expected = [[2, 4, 1, 5], [3, 5, 4, 0]] if largest else [[3, 5, 0, 2], [3, 5, 4, 0]]
    assert indices == expected


@pytest.mark.parametrize("lib", LIBS, ids=name)
def test_topk_among_ties_in_a_long_row_picks_torchs_positions(lib):
    x = lib.tensor([float(i % 3) for i in range(130)])  # k * 64 <= 130: a partial_sort
    assert x.topk(2).indices.tolist() == [5, 2]
    assert x.topk(2, largest=False).indices.tolist() == [3, 0]
    # k - 1 > 16: nth_element, then an introsort of the first k - 1.
    assert x.topk(20).indices.tolist()[:8] == [89, 62, 74, 59, 71, 56, 68, 44]


def test_atan2_of_a_bool_differentiates_where_torch_refuses():
    # torch's backward negates the bool input (a torch bug, see TORCH_BACKWARD_BUGS in
    # tests/fuzz/compare.py); d/db atan2(a, b) = -a / (a^2 + b^2) = -1/2 here.
    b = gw.tensor([1.0], requires_grad=True)
    gw.atan2(gw.tensor([True]), b).sum().backward()
    np.testing.assert_allclose(values(b.grad), [-0.5])
    if torch is not None:
        b = torch.tensor([1.0], requires_grad=True)
        with pytest.raises(RuntimeError, match="Negation"):
            torch.atan2(torch.tensor([True]), b).sum().backward()
