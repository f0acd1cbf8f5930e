"""The primitives behind gradwork.nn: one table entry each; gradcheck and torch parity."""

from __future__ import annotations

import numpy as np
import pytest

import gradwork as gw
from gradwork import nn, ops
from gradwork.diagnose import gradcheck
from tests.helpers import assert_parity, randn64, to_numpy

NN_MODULES = {"gradwork.ops.conv", "gradwork.ops.pool", "gradwork.ops.norm",
              "gradwork.ops.loss", "gradwork.ops.special"}  # fmt: skip


def _labels(n, c, seed=0):
    return np.random.default_rng(seed).integers(0, c, n)


def _unpool_indices():
    """Distinct flat indices into 4x5 planes, one per pooled value of (2, 3, 2, 2)."""
    rng = np.random.default_rng(2)
    return np.stack([rng.choice(20, 4, replace=False) for _ in range(6)]).reshape(2, 3, 2, 2)


# (primitive, ours(*inputs), theirs(torch, F, *inputs), make_inputs)
CASES = [
    (ops.Conv2d,
     lambda x, w, b: ops.Conv2d.apply(x, w, b, stride=(2, 1), padding=(1, 0), dilation=(1, 2),
                                      groups=2),
     lambda t, F, x, w, b: F.conv2d(x, w, b, (2, 1), (1, 0), (1, 2), 2),
     lambda: [randn64(2, 4, 5, 6), randn64(4, 2, 3, 2), randn64(4)]),
    (ops.ConvTranspose2d,
     lambda x, w, b: ops.ConvTranspose2d.apply(x, w, b, stride=(2, 2), padding=(1, 0),
                                               dilation=(1, 1), groups=1, out_hw=(5, 6)),
     lambda t, F, x, w, b: F.conv_transpose2d(x, w, b, 2, (1, 0)),
     lambda: [randn64(2, 3, 3, 3), randn64(3, 2, 3, 2), randn64(2)]),
    (ops.MaxPool2d,
     lambda x: ops.MaxPool2d.apply(x, (3, 2), (2, 2), (1, 1), (1, 1), True),
     lambda t, F, x: F.max_pool2d(x, (3, 2), 2, 1, 1, True),
     lambda: [randn64(2, 2, 5, 6)]),
    (ops.AvgPool2d,
     lambda x: ops.AvgPool2d.apply(x, (3, 3), (2, 2), (1, 1), False, False),
     lambda t, F, x: F.avg_pool2d(x, 3, 2, 1, False, False),
     lambda: [randn64(2, 2, 5, 6)]),
    (ops.MaxUnpool2d,
     lambda x: ops.MaxUnpool2d.apply(x, indices=_unpool_indices(), out_hw=(4, 5)),
     lambda t, F, x: F.max_unpool2d(x, t.tensor(_unpool_indices()), 2, output_size=(4, 5)),
     lambda: [randn64(2, 3, 2, 2)]),
    (ops.Unfold,
     lambda x: ops.Unfold.apply(x, (2, 3), (2, 1), (1, 0), (1, 2)),
     lambda t, F, x: F.unfold(x, (2, 3), (1, 2), (1, 0), (2, 1)),
     lambda: [randn64(2, 3, 5, 6)]),
    (ops.Fold,
     lambda x: ops.Fold.apply(x, (5, 6), (2, 3), (2, 1), (1, 0), (1, 2), (3, 2)),
     lambda t, F, x: F.fold(x, (5, 6), (2, 3), (1, 2), (1, 0), (2, 1)),
     lambda: [randn64(2, 18, 6)]),
    (ops.BatchNorm,
     lambda x, w, b: ops.BatchNorm.apply(x, w, b, None, None, training=True),
     lambda t, F, x, w, b: F.batch_norm(x, None, None, w, b, True),
     lambda: [randn64(4, 3, 2, 2), randn64(3), randn64(3)]),
    (ops.Normalize,
     lambda x, w, b: ops.Normalize.apply(x, w, b, axes=(-1,)),
     lambda t, F, x, w, b: F.layer_norm(x, (4,), w, b),
     lambda: [randn64(3, 4), randn64(4), randn64(4)]),
    (ops.CrossEntropy,
     lambda x: ops.CrossEntropy.apply(x, _labels(5, 4), None, label_smoothing=0.1),
     lambda t, F, x: F.cross_entropy(x, t.tensor(_labels(5, 4)), label_smoothing=0.1),
     lambda: [randn64(5, 4)]),
    (ops.NLLLoss,
     lambda x: ops.NLLLoss.apply(x, _labels(5, 4), reduction="sum"),
     lambda t, F, x: F.nll_loss(x, t.tensor(_labels(5, 4)), reduction="sum"),
     lambda: [randn64(5, 4)]),
    (ops.BinaryCrossEntropy,
     lambda p, y: ops.BinaryCrossEntropy.apply(p, y, None, reduction="mean"),
     lambda t, F, p, y: F.binary_cross_entropy(p, y),
     lambda: [gw.tensor(np.random.default_rng(0).uniform(0.1, 0.9, (3, 4)), requires_grad=True),
              gw.tensor(np.random.default_rng(1).uniform(0, 1, (3, 4)), requires_grad=True)]),
    (ops.BinaryCrossEntropyWithLogits,
     lambda x, y: ops.BinaryCrossEntropyWithLogits.apply(x, y, None, np.array([2.0, 0.5, 1.0])),
     lambda t, F, x, y: F.binary_cross_entropy_with_logits(
         x, y, pos_weight=t.tensor([2.0, 0.5, 1.0], dtype=t.float64)),
     lambda: [randn64(4, 3),
              gw.tensor(np.random.default_rng(1).uniform(0, 1, (4, 3)), requires_grad=True)]),
    (ops.Erf, lambda x: ops.Erf.apply(x), lambda t, F, x: t.erf(x),
     lambda: [gw.tensor(np.linspace(-7, 7, 57), requires_grad=True)]),
    (ops.Step, lambda x: ops.Step.apply(x, threshold=0.5, surrogate="zero"),
     lambda t, F, x: (x >= 0.5).to(x.dtype) + 0 * x, lambda: [randn64(3, 4)]),
]  # fmt: skip


def test_every_nn_primitive_has_a_case():
    covered = {case[0] for case in CASES}
    mine = {cls for cls in ops.PRIMITIVES if cls.__module__ in NN_MODULES}
    assert mine - covered == set(), sorted(c.__name__ for c in mine - covered)


@pytest.mark.parametrize("case", CASES, ids=[c[0].__name__ for c in CASES])
def test_gradcheck(case):
    _, ours, _, make = case
    gradcheck(ours, make())


@pytest.mark.parametrize("case", CASES, ids=[c[0].__name__ for c in CASES])
def test_torch_parity(case, torch):
    import torch.nn.functional as F

    _, ours, theirs, make = case
    assert_parity(torch, ours, lambda *xs: theirs(torch, F, *xs), make(), atol=1e-9, rtol=1e-7)


def test_erf_is_accurate_to_a_few_ulp():
    import math

    x = np.linspace(-8, 8, 40001)
    expected = np.array([math.erf(v) for v in x])
    assert np.abs(ops.special.erf(x) - expected).max() < 3e-15
    tiny = np.array([1e-300, 1e-10, -1e-8])
    np.testing.assert_allclose(ops.special.erf(tiny), [math.erf(v) for v in tiny], rtol=1e-15)


@pytest.mark.parametrize("surrogate", ["straight_through", "sigmoid"])
def test_step_surrogate_gradients(surrogate):
    x = gw.tensor([-2.0, 0.0, 3.0], requires_grad=True)
    ops.Step.apply(x, threshold=0.0, surrogate=surrogate, beta=2.0).sum().backward()
    if surrogate == "straight_through":
        expected = np.ones(3)
    else:
        s = 1 / (1 + np.exp(-2.0 * x.array))
        expected = 2.0 * s * (1 - s)
    np.testing.assert_allclose(to_numpy(x.grad), to_numpy(expected), rtol=1e-6)


def test_cross_entropy_stable_for_huge_logits(torch):
    import torch.nn.functional as F

    logits = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5e3], [0.0, 0.0, 1e4]])
    target = np.array([1, 1, 0])
    x = gw.tensor(logits, requires_grad=True)
    loss = ops.CrossEntropy.apply(x, target)
    loss.backward()
    t = torch.tensor(logits, requires_grad=True)
    expected = F.cross_entropy(t, torch.tensor(target))
    expected.backward()
    assert np.isfinite(loss.item()) and np.isfinite(x.grad.array).all()
    np.testing.assert_allclose(loss.item(), expected.item(), rtol=1e-12)
    np.testing.assert_allclose(to_numpy(x.grad), to_numpy(t.grad), atol=1e-12)


def test_bce_with_logits_stable_for_huge_logits(torch):
    import torch.nn.functional as F

    logits = np.array([[1e4, -1e4], [-1e4, 1e4]])
    target = np.array([[0.0, 1.0], [0.3, 1.0]])
    x = gw.tensor(logits, requires_grad=True)
    loss = ops.BinaryCrossEntropyWithLogits.apply(x, target, None, None, reduction="sum")
    loss.backward()
    t = torch.tensor(logits, requires_grad=True)
    expected = F.binary_cross_entropy_with_logits(t, torch.tensor(target), reduction="sum")
    expected.backward()
    assert np.isfinite(loss.item()) and np.isfinite(x.grad.array).all()
    np.testing.assert_allclose(loss.item(), expected.item(), rtol=1e-12)
    np.testing.assert_allclose(to_numpy(x.grad), to_numpy(t.grad), atol=1e-12)


def test_cross_entropy_is_one_graph_node():
    x = randn64(4, 3)
    loss = nn.functional.cross_entropy(x, gw.tensor([0, 1, 2, 0]))
    assert type(loss.grad_fn).__name__ == "CrossEntropy"
    assert all(t is x for t in loss.grad_fn.inputs if isinstance(t, gw.Tensor) and t.requires_grad)


def test_bce_clamps_log_at_minus_100(torch):
    p = gw.tensor([0.0, 1.0, 0.5], dtype=gw.float64)
    y = gw.tensor([1.0, 0.0, 1.0], dtype=gw.float64)
    loss = ops.BinaryCrossEntropy.apply(p, y, None, reduction="none")
    np.testing.assert_allclose(to_numpy(loss), [100.0, 100.0, np.log(2)])


def test_max_pool_ties_send_the_gradient_to_the_first_maximum(torch):
    x = np.maximum(np.random.default_rng(0).standard_normal((2, 3, 6, 6)), 0)  # many ties at 0
    x[0, 0, :2, :2] = 1.5  # a window of equal maxima
    assert_parity(
        torch,
        lambda t: ops.MaxPool2d.apply(t, (2, 2), (2, 2)),
        lambda t: torch.nn.functional.max_pool2d(t, 2),
        [gw.tensor(x, requires_grad=True)],
    )
    assert_parity(torch, lambda t: ops.MaxPool2d.apply(t, (3, 3), (1, 1), (1, 1)),
                  lambda t: torch.nn.functional.max_pool2d(t, 3, 1, 1),
                  [gw.tensor(x, requires_grad=True)])  # fmt: skip


@pytest.mark.parametrize("ceil_mode", [False, True])
def test_max_pool_odd_sizes_leave_no_stale_gradient(ceil_mode, torch):
    # 7x7 under a 2x2/2 pool: floor mode skips the last row and column (they
    # must get exactly 0), ceil mode pads them; backward skips the zero fill
    # only when the windows tile the padded image exactly.
    x = np.random.default_rng(1).standard_normal((2, 3, 7, 7))
    assert_parity(
        torch,
        lambda t: ops.MaxPool2d.apply(t, (2, 2), (2, 2), (0, 0), (1, 1), ceil_mode),
        lambda t: torch.nn.functional.max_pool2d(t, 2, 2, ceil_mode=ceil_mode),
        [gw.tensor(x, requires_grad=True)],
    )


# Stride-1 convolutions take their own input-gradient path (col2im on the
# widened output grid): cover padding, dilation, groups and asymmetric kernels.
STRIDE1_CONVS = [
    dict(padding=(1, 2), dilation=(2, 1), groups=2, x=(2, 4, 6, 7), w=(4, 2, 3, 2)),
    dict(padding=(0, 0), dilation=(1, 1), groups=1, x=(2, 3, 5, 6), w=(2, 3, 2, 3)),
    dict(padding=(1, 1), dilation=(1, 1), groups=1, x=(3, 2, 4, 4), w=(3, 2, 3, 3)),
]


@pytest.mark.parametrize("geometry", STRIDE1_CONVS, ids=lambda g: str(g["w"]))
def test_stride1_conv_gradients(geometry, torch):
    options = dict(stride=(1, 1), padding=geometry["padding"], dilation=geometry["dilation"],
                   groups=geometry["groups"])  # fmt: skip
    inputs = [randn64(*geometry["x"]), randn64(*geometry["w"]), randn64(geometry["w"][0])]

    def ours(x, w, b):
        return ops.Conv2d.apply(x, w, b, **options)

    def theirs(x, w, b):
        return torch.nn.functional.conv2d(x, w, b, **options)

    gradcheck(ours, inputs)
    assert_parity(torch, ours, theirs, inputs, atol=1e-9, rtol=1e-7)
