"""In-place operators and `_` methods fuzzed against torch, on four kinds of target.

plain: no grad (value, dtype, exception); leaf: requires grad (torch refuses);
no_grad_leaf: inside no_grad (the manual SGD step); non_leaf: derived from a
leaf (gradients, or the exception when backward needs the modified tensor).
"""

import pytest

from tests.fuzz.ops_table import INPLACE, INPLACE_MODES, InplaceSpec, skip_if_missing
from tests.fuzz.suite import inplace_test

pytest.importorskip("torch")


@pytest.mark.parametrize("mode", INPLACE_MODES)
@pytest.mark.parametrize("spec", INPLACE, ids=lambda spec: spec.name)
def test_inplace_matches_torch(spec: InplaceSpec, mode: str):
    skip_if_missing(spec.name)
    inplace_test(spec, mode)()
