"""`x[index]` fuzzed against torch, forward and backward, for each family of index."""

import pytest

from tests.fuzz.index_strategies import FAMILIES
from tests.fuzz.suite import getitem_test

pytest.importorskip("torch")


@pytest.mark.parametrize("family", FAMILIES)
def test_getitem_matches_torch(family: str):
    getitem_test(family)()
