"""lr_find: the range test's curve, its suggestion, and a model and optimizer left bit-identical."""

import numpy as np
import pytest

import gradwork as gw
from gradwork import data, nn, optim
from gradwork.diagnose import LRFindResult, lr_find
from tests.helpers import to_numpy


def setup(optimizer_class=optim.Adam, lr=0.01):
    gw.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(2, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 2)
    )
    optimizer = optimizer_class(model.parameters(), lr=lr)
    loader = data.DataLoader(data.make_moons(256, seed=0), batch_size=32, shuffle=True, seed=1)
    return model, optimizer, loader


def train(model, optimizer, loader, epochs=1):
    for _ in range(epochs):
        for x, y in loader:
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()


def snapshot(model, optimizer):
    arrays = [to_numpy(v).copy() for v in model.state_dict().values()]
    state = optimizer.state_dict()["state"]
    moments = [to_numpy(v).copy() for s in state.values() for v in s.values()]
    return arrays, moments


def test_model_optimizer_and_streams_are_restored_bit_for_bit():
    model, optimizer, loader = setup()
    train(model, optimizer, loader)  # Adam has moments; batch norm has running statistics
    reference = snapshot(model, optimizer)
    grads = [to_numpy(p.grad).copy() for p in model.parameters()]
    model.eval()
    result = lr_find(model, nn.CrossEntropyLoss(), loader, optimizer, num_steps=30)
    assert len(result.lrs) == 30
    assert not model.training and optimizer.param_groups[0]["lr"] == 0.01
    restored = snapshot(model, optimizer)
    for before, after in zip(reference[0] + reference[1], restored[0] + restored[1], strict=True):
        assert np.array_equal(before, after)
    for before, p in zip(grads, model.parameters(), strict=True):
        assert np.array_equal(before, to_numpy(p.grad))
    # training on from here gives exactly what it gives without the range test
    model.train()
    train(model, optimizer, loader, epochs=2)
    twin, twin_optimizer, twin_loader = setup()
    train(twin, twin_optimizer, twin_loader, epochs=3)
    for a, b in zip(snapshot(model, optimizer)[0], snapshot(twin, twin_optimizer)[0], strict=True):
        assert np.array_equal(a, b)


def test_suggestion_is_the_steepest_descent_before_the_minimum():
    model, optimizer, loader = setup(optim.SGD, lr=0.1)
    result = lr_find(model, nn.CrossEntropyLoss(), loader, optimizer, 1e-5, 100.0, num_steps=80)
    assert isinstance(result, LRFindResult)
    assert result.diverged_at is not None and len(result.lrs) < 80  # stopped on divergence
    assert 1e-5 < result.suggestion < result.min_loss_lr <= result.diverged_at
    lowest = int(np.argmin(result.smoothed))
    assert result.smoothed[lowest] < 0.9 * result.smoothed[0]  # the loss did fall
    assert "steepest descent" in result.reason and "diverged at" in result.reason
    assert str(result).startswith(f"lr_find: suggested lr {result.suggestion:.3g}")
    # the lrs grow exponentially: a constant ratio
    ratios = np.diff(np.log(result.lrs))
    assert np.allclose(ratios, ratios[0])


def test_smoothing_is_a_debiased_exponential_average():
    model, optimizer, loader = setup(optim.SGD)
    result = lr_find(model, nn.CrossEntropyLoss(), loader, optimizer, num_steps=10, smoothing=0.5)
    expected, average = [], 0.0
    for step, loss in enumerate(result.losses):
        average = 0.5 * average + 0.5 * loss
        expected.append(average / (1 - 0.5 ** (step + 1)))
    assert np.allclose(result.smoothed, expected)
    assert result.smoothed[0] == pytest.approx(result.losses[0])


def test_bad_ranges_are_refused():
    model, optimizer, loader = setup()
    with pytest.raises(ValueError, match="start_lr < end_lr"):
        lr_find(model, nn.CrossEntropyLoss(), loader, optimizer, start_lr=1.0, end_lr=0.1)
    with pytest.raises(ValueError, match="num_steps"):
        lr_find(model, nn.CrossEntropyLoss(), loader, optimizer, num_steps=2)


def test_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    model, optimizer, loader = setup()
    result = lr_find(model, nn.CrossEntropyLoss(), loader, optimizer, num_steps=20)
    result.plot(tmp_path / "lr.png")
    assert (tmp_path / "lr.png").read_bytes()[:4] == b"\x89PNG"


def test_the_suggestion_reads_a_centred_average_without_lag():
    from gradwork.diagnose.lr_find import centered_average

    ramp = np.arange(20.0)
    assert np.allclose(centered_average(list(ramp), 5)[2:-2], ramp[2:-2])  # no lag, no shift
    noisy = ramp + np.tile([1.0, -1.0], 10)
    assert np.abs(centered_average(list(noisy), 5)[2:-2] - ramp[2:-2]).max() <= 0.2 + 1e-12
