"""Errors that say what to do, the summary table, and train/eval behaviour."""

from __future__ import annotations

import numpy as np
import pytest

import gradwork as gw
from gradwork import nn
from tests.helpers import to_numpy


def _cnn(in_features=784):
    head = nn.Sequential()
    head.fc = nn.Linear(in_features, 10)
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1),
        nn.MaxPool2d(4),
        nn.Flatten(),
        head,
    )


def test_linear_error_names_path_source_and_fix():
    with pytest.raises(ValueError) as info:
        _cnn()(gw.zeros(2, 1, 28, 28))
    assert str(info.value) == (
        "`3.fc` (Linear) expects in_features=784, got 1568 = 32x7x7 from `2` (Flatten): "
        "set in_features=1568"
    )
    assert info.value.module_path == "3.fc"


def test_linear_error_without_a_known_source():
    with pytest.raises(
        ValueError, match=r"^Linear expects in_features=3, got 5 \(input shape \(2, 5\)\)"
    ):
        nn.Linear(3, 1)(gw.zeros(2, 5))


def test_conv2d_rejects_wrong_rank_and_channels():
    model = nn.Sequential(nn.Conv2d(1, 4, 3))
    with pytest.raises(
        ValueError,
        match=r"`0` \(Conv2d\) expects a 4-D input .*got a 2-D input "
        r"of shape \(8, 784\).*x\.view\(-1, 1, 28, 28\)",
    ):
        model(gw.zeros(8, 784))
    with pytest.raises(ValueError, match=r"expects a 4-D .*got a 5-D input"):
        model(gw.zeros(1, 1, 1, 5, 5))
    with pytest.raises(
        ValueError, match=r"expects in_channels=1, got 3 channels.*set in_channels=3"
    ):
        model(gw.zeros(2, 3, 8, 8))
    assert model(gw.zeros(1, 8, 8)).shape == (4, 6, 6)  # unbatched (C, H, W), like torch


def test_batchnorm_single_value_per_channel_says_drop_last_or_eval():
    layer = nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match="drop_last=True.*model.eval()"):
        layer(gw.zeros(1, 3))
    layer.eval()
    assert layer(gw.zeros(1, 3)).shape == (1, 3)


def test_residual_shape_mismatch_suggests_projection():
    block = nn.Residual(nn.Linear(3, 4))
    with pytest.raises(
        ValueError, match=r"\(2, 4\) differs from shortcut output shape \(2, 3\).*1x1"
    ):
        block(gw.zeros(2, 3))


def test_summary_table_of_a_small_cnn():
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64, 10),
    )
    model.train()
    table = model.summary((2, 1, 8, 8))
    assert [row.output_shape for row in table.rows] == [
        (2, 4, 8, 8),
        (2, 4, 8, 8),
        (2, 4, 8, 8),
        (2, 4, 4, 4),
        (2, 64),
        (2, 10),
    ]
    assert [row.trainable for row in table.rows] == [40, 8, 0, 0, 0, 650]
    assert table.trainable == 698 and table.error is None
    assert table.rows[0].mult_adds == 9 * 2 * 4 * 64 and table.rows[-1].mult_adds == 64 * 20
    text = str(table)
    assert "Total parameters: 698" in text and "[2, 4, 4, 4]" in text
    assert model.training and int(model[1].num_batches_tracked.item()) == 0  # untouched
    assert str(nn.summary(model, (2, 1, 8, 8))) == text


def test_summary_reports_the_first_misfitting_layer():
    table = nn.summary(_cnn(), (1, 1, 28, 28))
    assert [row.path for row in table.rows] == ["0", "1", "2"]
    assert table.failed_module == "3.fc"
    assert "ERROR at `3.fc`" in str(table) and "set in_features=1568" in str(table)


def test_dropout_trains_and_evaluates_like_torch():
    layer = nn.Dropout(0.25)
    out = layer(gw.ones(200, 100)).array
    kept = out != 0
    assert abs(kept.mean() - 0.75) < 0.01
    np.testing.assert_allclose(to_numpy(out[kept]), 1 / 0.75, rtol=1e-6)
    layer.eval()
    np.testing.assert_array_equal(to_numpy(layer(gw.ones(3, 3))), 1)
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)
    assert (nn.Dropout(1.0)(gw.ones(4)).array == 0).all()


def test_dropout2d_drops_whole_channels():
    out = nn.Dropout2d(0.5)(gw.ones(50, 40, 3, 3)).array
    per_channel = out.reshape(50, 40, 9)
    assert ((per_channel == 0).all(-1) | (per_channel == 2).all(-1)).all()
    assert abs((per_channel[..., 0] == 0).mean() - 0.5) < 0.05


def test_dropout_is_reproducible_with_manual_seed():
    gw.manual_seed(3)
    a = nn.Dropout()(gw.ones(10)).array
    gw.manual_seed(3)
    np.testing.assert_array_equal(to_numpy(a), to_numpy(nn.Dropout()(gw.ones(10))))


def test_batchnorm_running_stats_follow_torch_over_steps(torch):
    ours, theirs = nn.BatchNorm2d(3).double(), torch.nn.BatchNorm2d(3).double()
    rng = np.random.default_rng(0)
    for _ in range(3):
        x = rng.standard_normal((4, 3, 2, 2)) * 3 + 1
        ours(gw.tensor(x)), theirs(torch.tensor(x))
    for name, value in ours.state_dict().items():
        np.testing.assert_allclose(to_numpy(value), to_numpy(theirs.state_dict()[name]), rtol=1e-12)
    assert int(ours.num_batches_tracked.item()) == 3
