"""`gradwork.autograd.grad` and `inference_mode`, against torch where it is installed."""

import numpy as np
import pytest

import gradwork as gw
from gradwork import autograd
from tests.helpers import to_numpy

try:
    import torch
except ImportError:  # the numeric checks below still run
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch not installed")


def _leaf(values):
    return gw.tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


def test_grad_of_a_leaf_leaves_dot_grad_alone():
    x = _leaf([1.0, 2.0, 3.0])
    (g,) = autograd.grad((x * x).sum(), x)
    np.testing.assert_allclose(to_numpy(g), [2.0, 4.0, 6.0])
    assert x.grad is None


def test_grad_of_non_leaf_and_leaf_together():
    x = _leaf([1.0, -2.0])
    y = x * 3
    z = (y * y).sum()
    gx, gy = autograd.grad(z, [x, y])
    np.testing.assert_allclose(to_numpy(gy), 2 * to_numpy(y))
    np.testing.assert_allclose(to_numpy(gx), 18 * to_numpy(x))
    assert x.grad is None


def test_grad_does_not_accumulate_into_other_leaves():
    x, w = _leaf([1.0, 2.0]), _leaf([3.0, 4.0])
    (gx,) = autograd.grad((x * w).sum(), x)
    np.testing.assert_allclose(to_numpy(gx), to_numpy(w))
    assert w.grad is None


def test_several_outputs_and_grad_outputs():
    x = _leaf([1.0, 2.0])
    (g,) = autograd.grad([x * 2, x * x], x, grad_outputs=[gw.ones(2), gw.tensor([1.0, 10.0])])
    np.testing.assert_allclose(to_numpy(g), [2 + 2 * 1.0, 2 + 10 * 4.0])


def test_grad_output_is_not_returned_by_reference():
    x = _leaf([1.0, 2.0])
    seed = gw.tensor([5.0, 6.0], dtype=gw.float64)
    (g,) = autograd.grad(x + 0.0, x, seed)
    g.array[0] = 100.0
    assert to_numpy(seed)[0] == 5.0


def test_graph_is_freed_unless_retained():
    x = _leaf([1.0, 2.0])
    z = (x.exp()).sum()
    autograd.grad(z, x, retain_graph=True)
    autograd.grad(z, x)
    with pytest.raises(RuntimeError, match="second time"):
        autograd.grad(z, x)


def test_backward_still_works_after_a_retained_grad_call():
    x = _leaf([1.0, 2.0])
    z = (x * x).sum()
    autograd.grad(z, x, retain_graph=True)
    z.backward()
    np.testing.assert_allclose(to_numpy(x.grad), [2.0, 4.0])


def test_unused_input_raises_unless_allowed():
    x, unused = _leaf([1.0]), _leaf([2.0])
    with pytest.raises(RuntimeError, match="index 1 appears to not have been used in the graph"):
        autograd.grad((x * 2).sum(), [x, unused])
    gx, gu = autograd.grad((x * 2).sum(), [x, unused], retain_graph=True, allow_unused=True)
    assert gu is None and gx.array.tolist() == [2.0]
    _, gu = autograd.grad((x * 2).sum(), [x, unused], materialize_grads=True)
    assert gu.array.tolist() == [0.0]


def test_errors_as_torch():
    x = _leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="does not require grad"):
        autograd.grad((x * 2).sum(), [gw.ones(2)])
    with pytest.raises(RuntimeError, match="element 0 of tensors does not require grad"):
        autograd.grad(gw.ones(2).sum(), [x])
    with pytest.raises(RuntimeError, match="implicitly created only for scalar outputs"):
        autograd.grad(x * 2, [x])
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        autograd.grad(x * 2, [x], grad_outputs=gw.ones(3))
    with pytest.raises(NotImplementedError, match="first-order"):
        autograd.grad((x * 2).sum(), [x], create_graph=True)


def test_hooks_run_once_and_retained_grads_fill_as_in_torch():
    calls = []
    x = _leaf([1.0, 1.0])
    x.register_hook(lambda g: calls.append("x") or g * 2)
    y = x * 3
    y.retain_grad()
    y.register_hook(lambda g: calls.append("y"))
    (g,) = autograd.grad(y.sum(), x)
    assert calls == ["y", "x"]
    np.testing.assert_allclose(to_numpy(g), [6.0, 6.0])
    np.testing.assert_allclose(to_numpy(y.grad), [1.0, 1.0])


def test_root_hook_runs_once_on_backward():
    calls = []
    x = _leaf([1.0, 1.0])
    z = (x * 2).sum()
    z.register_hook(lambda g: calls.append(float(g.array)))
    z.backward()
    assert calls == [1.0]


@needs_torch
def test_matches_torch_on_a_small_network():
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) for s in [(4, 3), (3, 5), (5,)]]
    ours = [gw.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]

    def loss(lib, x, w, b):
        hidden = lib.tanh(x @ w + b)
        return (hidden * hidden).sum(), hidden

    our_loss, our_hidden = loss(gw, *ours)
    their_loss, their_hidden = loss(torch, *theirs)
    mine = autograd.grad(our_loss, [ours[1], our_hidden, ours[2]])
    expected = torch.autograd.grad(their_loss, [theirs[1], their_hidden, theirs[2]])
    for a, b in zip(mine, expected, strict=True):
        np.testing.assert_allclose(to_numpy(a), b.numpy(), rtol=1e-10)


def test_inference_mode_stops_recording_and_nests():
    x = _leaf([1.0])
    with gw.inference_mode():
        assert not (x * 2).requires_grad
        assert gw.is_inference_mode_enabled()
        with gw.inference_mode(False):
            assert (x * 2).requires_grad and gw.is_grad_enabled()
    assert (x * 2).requires_grad and not gw.is_inference_mode_enabled()


def test_inference_mode_as_decorator_with_and_without_call():
    x = _leaf([1.0])

    @gw.inference_mode()
    def called(t):
        return t * 2

    @gw.inference_mode
    def bare(t):
        return t * 2

    assert not called(x).requires_grad and not bare(x).requires_grad
    assert gw.is_grad_enabled()
