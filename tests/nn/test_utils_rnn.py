"""pack_padded_sequence / pad_packed_sequence / pad_sequence / pack_sequence vs torch."""

import numpy as np
import pytest

import gradwork as gw
from gradwork.diagnose import gradcheck
from gradwork.nn import utils_rnn
from tests.helpers import to_numpy

# name: (lengths, batch_first, enforce_sorted, padding_value, total_length)
CASES = {
    "sorted": ([4, 3, 1], False, True, 0.0, None),
    "unsorted": ([1, 4, 3], False, False, 0.0, None),
    "batch_first_unsorted": ([2, 4, 3], True, False, -1.0, None),
    "total_length": ([3, 3, 2], False, True, 0.0, 6),
}


def test_every_function_is_covered():
    assert set(utils_rnn.__all__) == {
        "PackedSequence",
        "pack_padded_sequence",
        "pad_packed_sequence",
        "pad_sequence",
        "pack_sequence",
    }


@pytest.mark.parametrize("name", CASES)
def test_round_trip_matches_torch(torch, name):
    lengths, batch_first, enforce_sorted, padding_value, total_length = CASES[name]
    shape = (3, 4, 2) if batch_first else (4, 3, 2)
    data = np.random.default_rng(0).standard_normal(shape)
    x, tx = gw.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    packed = utils_rnn.pack_padded_sequence(x, lengths, batch_first, enforce_sorted)
    expected = torch.nn.utils.rnn.pack_padded_sequence(tx, lengths, batch_first, enforce_sorted)
    np.testing.assert_array_equal(to_numpy(packed.data), to_numpy(expected.data))
    assert packed.batch_sizes.tolist() == expected.batch_sizes.tolist()
    for mine, theirs in [
        (packed.sorted_indices, expected.sorted_indices),
        (packed.unsorted_indices, expected.unsorted_indices),
    ]:
        assert (mine is None) == (theirs is None)
        assert mine is None or mine.tolist() == theirs.tolist()
    padded, out_lengths = utils_rnn.pad_packed_sequence(
        packed, batch_first, padding_value, total_length
    )
    torch_padded, torch_lengths = torch.nn.utils.rnn.pad_packed_sequence(
        expected, batch_first, padding_value, total_length
    )
    np.testing.assert_array_equal(to_numpy(padded), to_numpy(torch_padded))
    assert out_lengths.tolist() == torch_lengths.tolist()
    weights = np.random.default_rng(1).standard_normal(padded.shape)
    (padded * gw.tensor(weights)).sum().backward()
    (torch_padded * torch.tensor(weights)).sum().backward()
    np.testing.assert_array_equal(to_numpy(x.grad), to_numpy(tx.grad))


def test_packing_is_differentiable():
    x = gw.randn(4, 3, 2, dtype=gw.float64, requires_grad=True)

    def round_trip(x):
        packed = utils_rnn.pack_padded_sequence(x, [2, 4, 1], enforce_sorted=False)
        return utils_rnn.pad_packed_sequence(packed, padding_value=0.5)[0] * 2

    gradcheck(round_trip, [x])


def test_pad_sequence_and_pack_sequence_match_torch(torch):
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal((n, 2)) for n in (2, 5, 3)]
    for batch_first in (False, True):
        ours = utils_rnn.pad_sequence([gw.tensor(a) for a in arrays], batch_first, 9.0)
        theirs = torch.nn.utils.rnn.pad_sequence(
            [torch.tensor(a) for a in arrays], batch_first, 9.0
        )
        np.testing.assert_array_equal(to_numpy(ours), to_numpy(theirs))
    packed = utils_rnn.pack_sequence([gw.tensor(a) for a in arrays], enforce_sorted=False)
    expected = torch.nn.utils.rnn.pack_sequence([torch.tensor(a) for a in arrays], False)
    np.testing.assert_array_equal(to_numpy(packed.data), to_numpy(expected.data))


def test_errors_explain_the_fix():
    packed = utils_rnn.pack_padded_sequence(gw.randn(4, 2, 1), [4, 2])
    with pytest.raises(ValueError, match="total_length=3 is shorter"):
        utils_rnn.pad_packed_sequence(packed, total_length=3)
    with pytest.raises(ValueError, match="got 3 lengths for a batch of 2"):
        utils_rnn.pack_padded_sequence(gw.randn(4, 2, 1), [4, 2, 1])
