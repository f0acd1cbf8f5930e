"""Every entry of the op table, fuzzed against torch: value, dtype, shape, gradient, exception."""

import pytest

from tests.fuzz.ops_table import OPS, OpSpec, skip_if_missing
from tests.fuzz.suite import op_test

pytest.importorskip("torch")


@pytest.mark.parametrize("spec", OPS, ids=lambda spec: spec.name)
def test_op_matches_torch(spec: OpSpec):
    skip_if_missing(spec.name)
    op_test(spec)()
