"""The engine: accumulation, graph freeing, hooks, no_grad, anomaly mode, errors."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import gradwork as gw
from gradwork import autograd
from tests.helpers import to_numpy


def test_gradients_accumulate_across_backward_calls():
    x = gw.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(to_numpy(x.grad), [3 + 2, 3 + 4])


def test_shared_input_gets_the_sum_of_both_paths():
    x = gw.tensor([2.0], requires_grad=True)
    y = x * x + x  # dy/dx = 2x + 1
    y.backward()
    assert x.grad.item() == 5.0


def test_leaf_grads_are_not_aliased_between_inputs():
    # add hands one gradient array to both inputs; changing one .grad in place
    # (as gradient clipping does) must not change the other.
    a = gw.tensor([1.0], requires_grad=True)
    b = gw.tensor([1.0], requires_grad=True)
    (a + b).sum().backward()
    a.grad.array *= 10
    assert b.grad.item() == 1.0


def test_broadcast_gradient_is_summed_back_to_the_operand_shape():
    a = gw.ones(2, 3, requires_grad=True)
    b = gw.ones(3, requires_grad=True)
    c = gw.ones(2, 1, requires_grad=True)
    (a * b * c).sum().backward()
    assert b.grad.shape == (3,) and c.grad.shape == (2, 1)
    np.testing.assert_allclose(to_numpy(b.grad), [2, 2, 2])
    np.testing.assert_allclose(to_numpy(c.grad), [[3], [3]])


def test_backward_twice_through_a_freed_graph_says_retain_graph():
    x = gw.tensor([1.0], requires_grad=True)
    y = (x * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = gw.tensor([1.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.item() == 4.0


def test_stale_state_from_a_previous_graph_says_detach():
    w = gw.tensor([0.5], requires_grad=True)
    h = gw.zeros(1)
    h = (h + 1) * w  # chunk 1
    h.sum().backward()
    h = (h + 1) * w  # chunk 2 still hangs on chunk 1's freed graph
    with pytest.raises(RuntimeError, match=r"h = h\.detach\(\)"):
        h.sum().backward()


def test_deep_graph_has_no_recursion_limit():
    x = gw.tensor([1.0], dtype=gw.float64, requires_grad=True)
    y = x
    for _ in range(20_000):
        y = y * 1.0001
    y.backward()
    np.testing.assert_allclose(to_numpy(x.grad), [1.0001**20_000], rtol=1e-9)


def test_non_scalar_backward_needs_a_gradient():
    x = gw.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"only for scalar outputs.*shape \(3,\)"):
        (x * 2).backward()
    (x * 2).backward(gw.tensor([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(to_numpy(x.grad), [2, 4, 6])


def test_backward_on_a_tensor_without_grad_explains():
    with pytest.raises(RuntimeError, match="does not require grad"):
        gw.ones(2).sum().backward()


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(RuntimeError, match="only floating-point.*int64.*float"):
        gw.tensor([1, 2], requires_grad=True)


def test_no_grad_records_nothing_and_enable_grad_reenables():
    x = gw.ones(2, requires_grad=True)
    with gw.no_grad():
        y = x * 2
        with gw.enable_grad():
            z = x * 2
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad


def test_no_grad_as_decorator():
    @gw.no_grad()
    def double(t):
        return t * 2

    assert not double(gw.ones(1, requires_grad=True)).requires_grad
    assert gw.is_grad_enabled()


def test_detach_cuts_the_graph_and_shares_memory():
    x = gw.ones(2, requires_grad=True)
    d = (x * 2).detach()
    assert not d.requires_grad and d.grad_fn is None
    y = x * 1
    assert y.detach().array is y.array


def test_retain_grad_keeps_a_non_leaf_gradient():
    x = gw.tensor([3.0], requires_grad=True)
    y = x * 2
    y.retain_grad()
    (y * y).sum().backward()
    assert y.grad.item() == 12.0 and x.grad.item() == 24.0


def test_hooks_see_and_can_replace_the_gradient():
    x = gw.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g.tolist()))
    y = x * 3
    handle = y.register_hook(lambda g: g * 10)
    y.sum().backward()
    assert seen == [[30.0, 30.0]]
    np.testing.assert_allclose(to_numpy(x.grad), [30, 30])
    handle.remove()
    x.grad = None
    y = x * 3
    y.sum().backward()
    np.testing.assert_allclose(to_numpy(x.grad), [3, 3])


def test_anomaly_mode_names_the_first_bad_op_in_forward():
    x = gw.tensor([0.0, 2.0], requires_grad=True)
    with gw.detect_anomaly():
        with pytest.raises(
            FloatingPointError, match=r"^log in forward got min=0, max=2: produced -inf"
        ):
            (x * 1).log().exp()


def test_anomaly_mode_catches_nan_in_backward():
    x = gw.tensor([0.0, 4.0], requires_grad=True)
    with gw.detect_anomaly():
        y = x.sqrt()  # finite forward, infinite derivative at 0
        with pytest.raises(FloatingPointError, match="sqrt in backward produced inf"):
            y.sum().backward()


def test_anomaly_mode_names_the_module_path():
    x = gw.tensor([-1.0], requires_grad=True)
    with gw.detect_anomaly(), autograd.module_scope("encoder"), autograd.module_scope("fc1"):
        with pytest.raises(FloatingPointError, match=r"in module `encoder\.fc1`"):
            x.sqrt()


def test_anomaly_mode_is_off_by_default_and_restored():
    assert not gw.is_anomaly_enabled()
    with gw.detect_anomaly():
        assert gw.is_anomaly_enabled()
    assert not gw.is_anomaly_enabled()
    with np.errstate(all="ignore"):
        assert gw.tensor([-1.0]).log().isnan().all()  # no error when off


def test_matmul_shape_error_names_both_shapes():
    with pytest.raises(
        ValueError, match=r"matmul: \(3, 4\) @ \(5, 2\): inner sizes 4 and 5 differ"
    ):
        gw.ones(3, 4) @ gw.ones(5, 2)


def test_broadcast_error_names_the_op_and_shapes():
    with pytest.raises(ValueError, match=r"add: operands with shapes \(3, 4\), \(5,\)"):
        gw.ones(3, 4) + gw.ones(5)


def test_float_index_tensor_is_refused_with_a_fix():
    with pytest.raises(IndexError, match="must be integer.*float32.*long"):
        gw.ones(3)[gw.tensor([0.0, 1.0])]


def test_repeated_integer_indices_accumulate():
    x = gw.zeros(3, requires_grad=True)
    x[gw.tensor([0, 0, 2, 0])].sum().backward()
    np.testing.assert_allclose(to_numpy(x.grad), [3, 0, 1])


def test_inplace_on_a_leaf_that_requires_grad_is_refused():
    x = gw.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="no_grad"):
        x.zero_()
    with pytest.raises(RuntimeError, match="where"):
        x[0] = 5.0
    with gw.no_grad():
        x[0] = 5.0
    assert x.tolist() == [5.0, 1.0]


# ---------------------------------------------------------------- properties
broadcastable = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3)


@settings(max_examples=40, deadline=None)
@given(shapes=broadcastable)
def test_broadcast_gradients_have_operand_shapes(shapes):
    a_shape, b_shape = shapes.input_shapes
    a = gw.ones(*a_shape, dtype=gw.float64, requires_grad=True)
    b = gw.ones(*b_shape, dtype=gw.float64, requires_grad=True)
    out = a * b
    assert out.shape == shapes.result_shape
    out.sum().backward()
    assert a.grad.shape == a_shape and b.grad.shape == b_shape
    # Each operand element was used (result size / operand size) times.
    result = int(np.prod(shapes.result_shape))
    np.testing.assert_allclose(to_numpy(a.grad), result / max(int(np.prod(a_shape)), 1))


@settings(max_examples=40, deadline=None)
@given(
    array=hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=4),
                     elements=st.floats(-10, 10)),
    keepdim=st.booleans(),
    data=st.data(),
)  # fmt: skip
def test_reductions_match_numpy(array, keepdim, data):
    dim = data.draw(st.integers(-array.ndim, array.ndim - 1))
    t = gw.tensor(array)
    np.testing.assert_allclose(to_numpy(t.sum(dim, keepdim)), array.sum(dim, keepdims=keepdim))
    np.testing.assert_allclose(to_numpy(t.mean(dim, keepdim)), array.mean(dim, keepdims=keepdim))
    np.testing.assert_allclose(to_numpy(t.amax(dim, keepdim)), array.max(dim, keepdims=keepdim))
    expected = np.log(np.exp(array).sum(dim, keepdims=keepdim))
    # atol: for tiny inputs ours is the more exact (log(exp(1e-69)) rounds to 0).
    np.testing.assert_allclose(
        to_numpy(t.logsumexp(dim, keepdim)), expected, rtol=1e-10, atol=1e-12
    )


def test_log_softmax_and_logsumexp_are_finite_for_huge_logits():
    logits = gw.tensor([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]], dtype=gw.float32, requires_grad=True)
    out = logits.log_softmax(-1)
    lse = logits.logsumexp(-1)
    assert np.isfinite(lse.array).all()
    np.testing.assert_allclose(to_numpy(lse), [1e4, -1e4 + np.log(3)], rtol=1e-6)
    np.testing.assert_allclose(to_numpy(out)[0], [0.0, -2e4, -1e4])
    (out[:, 0].sum() + lse.sum()).backward()
    assert np.isfinite(logits.grad.array).all()


def test_grad_mode_belongs_to_each_thread():
    import threading

    inside_no_grad = threading.Event()
    recorded = threading.Event()
    results = {}

    def evaluator():
        with gw.no_grad():
            inside_no_grad.set()
            recorded.wait(timeout=10)  # hold no_grad while the other thread records
            results["evaluator"] = gw.is_grad_enabled()

    worker = threading.Thread(target=evaluator)
    worker.start()
    assert inside_no_grad.wait(timeout=10)
    x = gw.ones(2, requires_grad=True)
    y = (x * 3).sum()  # this thread's graph is recorded although another is in no_grad
    recorded.set()
    worker.join()
    y.backward()
    assert x.grad.tolist() == [3.0, 3.0]
    assert results["evaluator"] is False and gw.is_grad_enabled()
