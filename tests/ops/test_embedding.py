"""The EmbeddingLookup primitive: gradcheck and torch's F.embedding, option by option."""

import numpy as np
import pytest

from gradwork import ops
from gradwork.diagnose import gradcheck
from tests.helpers import assert_parity, randn64

INDICES = np.array([[3, 0, 1], [1, 1, 4]])

# name: (padding_idx, scale_grad_by_freq); the padding row's gradient is zero by design
# and scale_grad_by_freq rescales on purpose, so gradcheck covers only the plain entry.
OPTIONS = {"plain": (None, False), "padding": (1, False), "by_frequency": (None, True)}


def test_gradcheck_plain_lookup():
    gradcheck(lambda w: ops.EmbeddingLookup.apply(w, INDICES), [randn64(5, 2)])


@pytest.mark.parametrize("name", OPTIONS)
def test_torch_parity(torch, name):
    padding_idx, by_frequency = OPTIONS[name]

    def theirs(weight):
        return torch.nn.functional.embedding(
            torch.tensor(INDICES), weight, padding_idx, scale_grad_by_freq=by_frequency
        )

    assert_parity(
        torch,
        lambda weight: ops.EmbeddingLookup.apply(weight, INDICES, padding_idx, by_frequency),
        theirs,
        [randn64(5, 2)],
    )
