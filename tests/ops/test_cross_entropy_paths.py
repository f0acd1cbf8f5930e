"""Cross-entropy's unit-weight path (no class weights, nothing ignored, no smoothing)
skips its multiplications by 1; it must give the same bits as the weighted path
with every weight 1, which is the general formula."""

from __future__ import annotations

import numpy as np
import pytest

from gradwork.ops.loss import CrossEntropy
from tests.helpers import to_numpy


def run(logits, target, weight, reduction):
    ctx = CrossEntropy()
    ctx.needs_input_grad = [True, False, False]
    out = CrossEntropy.forward(ctx, logits, target, weight, reduction=reduction)
    upstream = np.full(np.shape(out), 0.7, dtype=logits.dtype)
    return to_numpy(out), CrossEntropy.backward(ctx, upstream)[0], ctx.per_weight


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(32, 10), (6, 5, 3, 2), (1, 4)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unit_weight_path_equals_the_weighted_formula(shape, reduction, dtype):
    rng = np.random.default_rng(0)
    logits = (rng.standard_normal(shape) * 3).astype(dtype)
    target = rng.integers(0, shape[1], (shape[0], *shape[2:]))
    fast = run(logits, target, None, reduction)
    general = run(logits, target, np.ones(shape[1], dtype), reduction)
    assert fast[2] is None and general[2] is not None  # the two paths really ran
    assert np.array_equal(fast[0], general[0]) and fast[0].dtype == general[0].dtype
    assert np.array_equal(fast[1], general[1]) and fast[1].dtype == general[1].dtype


def test_an_ignored_target_or_a_bad_index_takes_the_checked_path():
    logits = np.zeros((3, 4), np.float32)
    ctx = CrossEntropy()
    ctx.needs_input_grad = [True, False, False]
    CrossEntropy.forward(ctx, logits, np.array([0, -100, 3]), None)
    assert ctx.per_weight is not None  # -100 is inside [min, max] of the targets
    with pytest.raises(ValueError, match="class index 4"):
        CrossEntropy.forward(ctx, logits, np.array([0, 4, 1]), None)
