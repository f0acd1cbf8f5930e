"""Weight tying: an Embedding and a Linear head sharing one Parameter (`head.weight = emb.weight`).

Language models tie the input embedding to the output projection (Press & Wolf,
2017): one (vocab, d) table both reads tokens in and scores them out. It must
stay ONE parameter through training, saving, loading and conversions.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

import gradwork as gw
from gradwork import nn, optim, train
from tests.helpers import to_numpy


class Tied(nn.Module):
    def __init__(self, vocab: int = 7, width: int = 4) -> None:
        super().__init__()
        self.emb = nn.Embedding(vocab, width)
        self.mix = nn.Linear(width, width)
        self.head = nn.Linear(width, vocab, bias=False)
        self.head.weight = self.emb.weight

    def forward(self, ids):
        return self.head(self.mix(self.emb(ids)).tanh())


def torch_tied(torch, vocab: int = 7, width: int = 4):
    class TorchTied(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = torch.nn.Embedding(vocab, width)
            self.mix = torch.nn.Linear(width, width)
            self.head = torch.nn.Linear(width, vocab, bias=False)
            self.head.weight = self.emb.weight

        def forward(self, ids):
            return self.head(torch.tanh(self.mix(self.emb(ids))))

    return TorchTied()


IDS = [[1, 2, 3, 1], [0, 6, 6, 5]]


def _step(model, optimizer):
    optimizer.zero_grad()
    model(gw.tensor(IDS)).pow(2).mean().backward()
    optimizer.step()


def _weights(model):
    return {k: np.array(to_numpy(v)) for k, v in model.state_dict().items()}


def test_parameters_yield_the_shared_weight_once():
    model = Tied()
    assert model.head.weight is model.emb.weight
    names = [name for name, _ in model.named_parameters()]
    assert names == ["emb.weight", "mix.weight", "mix.bias"]
    assert sum(p.numel() for p in model.parameters()) == 7 * 4 + 4 * 4 + 4
    table = nn.summary(model, (2, 4), dtype=gw.int64)
    assert table.total_parameters == 7 * 4 + 4 * 4 + 4  # not 28 twice


def test_state_dict_has_both_keys_like_torch(torch):
    ours, theirs = Tied(), torch_tied(torch)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert list(ours.state_dict()) == ["emb.weight", "mix.weight", "mix.bias", "head.weight"]
    state = ours.state_dict()
    np.testing.assert_array_equal(to_numpy(state["emb.weight"]), to_numpy(state["head.weight"]))


def test_gradient_sums_both_uses_and_matches_torch(torch):
    theirs = torch_tied(torch).double()
    ours = Tied().double()
    ours.load_state_dict(theirs.state_dict())
    assert ours.head.weight is ours.emb.weight  # loading both keys keeps it tied
    ours(gw.tensor(IDS)).pow(2).mean().backward()
    theirs(torch.tensor(IDS)).pow(2).mean().backward()
    np.testing.assert_allclose(
        to_numpy(ours.emb.weight.grad), to_numpy(theirs.emb.weight.grad), rtol=1e-10, atol=1e-12
    )


@pytest.mark.parametrize("name", ["SGD", "AdamW"])
def test_optimizer_updates_the_shared_weight_once_as_torch(torch, name):
    theirs = torch_tied(torch).double()
    ours = Tied().double()
    ours.load_state_dict(theirs.state_dict())
    ours_opt = getattr(optim, name)(ours.parameters(), lr=0.1)
    theirs_opt = getattr(torch.optim, name)(theirs.parameters(), lr=0.1)
    assert len(ours_opt.param_groups[0]["params"]) == 3
    for _ in range(3):
        _step(ours, ours_opt)
        theirs_opt.zero_grad()
        theirs(torch.tensor(IDS)).pow(2).mean().backward()
        theirs_opt.step()
    for key, value in theirs.state_dict().items():
        np.testing.assert_allclose(
            to_numpy(_weights(ours)[key]), to_numpy(value), rtol=1e-10, err_msg=key
        )
    assert ours.head.weight is ours.emb.weight


def test_sgd_step_is_one_update_not_two():
    model = Tied()
    before = to_numpy(model.emb.weight).copy()
    optimizer = optim.SGD(model.parameters(), lr=0.5)
    optimizer.zero_grad()
    model(gw.tensor(IDS)).pow(2).mean().backward()
    grad = to_numpy(model.emb.weight.grad).copy()
    optimizer.step()
    np.testing.assert_allclose(to_numpy(model.head.weight), before - 0.5 * grad, rtol=1e-6)


def test_load_state_dict_restores_values_and_keeps_the_tie():
    source, target = Tied(), Tied()
    _step(source, optim.Adam(source.parameters(), lr=0.05))
    target.load_state_dict(source.state_dict())
    assert target.head.weight is target.emb.weight
    for key, value in _weights(source).items():
        np.testing.assert_array_equal(to_numpy(_weights(target)[key]), to_numpy(value), err_msg=key)
    # Training the loaded model moves both names together.
    _step(target, optim.SGD(target.parameters(), lr=0.5))
    np.testing.assert_array_equal(
        to_numpy(target.state_dict()["head.weight"]), to_numpy(target.emb.weight)
    )


@pytest.mark.parametrize("file_name", ["tied.pt", "tied.safetensors"])
def test_save_and_load_of_the_state_dict_round_trip(tmp_path, file_name):
    source = Tied()
    _step(source, optim.Adam(source.parameters(), lr=0.05))
    gw.save(source.state_dict(), tmp_path / file_name)
    loaded = gw.load(tmp_path / file_name)
    assert sorted(loaded) == sorted(source.state_dict())
    target = Tied()
    target.load_state_dict(loaded)
    assert target.head.weight is target.emb.weight
    np.testing.assert_array_equal(to_numpy(target.emb.weight), to_numpy(source.emb.weight))
    np.testing.assert_array_equal(
        to_numpy(target(gw.tensor(IDS))), to_numpy(source(gw.tensor(IDS)))
    )


def test_torch_state_dict_loads_into_the_tied_model(torch):
    theirs = torch_tied(torch)
    ours = Tied()
    ours.load_state_dict(theirs.state_dict())
    np.testing.assert_allclose(
        to_numpy(ours(gw.tensor(IDS))),
        to_numpy(theirs(torch.tensor(IDS))),
        rtol=1e-5,
        atol=1e-6,
    )


def test_conversions_and_copies_keep_the_tie():
    for model in (Tied().double(), Tied().float(), Tied().to("cpu"), copy.deepcopy(Tied())):
        assert model.head.weight is model.emb.weight
        assert model.emb.weight.dtype in (np.float32, np.float64)


def test_trainer_checkpoint_resumes_tied(tmp_path):
    gw.manual_seed(0)
    x = gw.tensor(np.random.default_rng(0).integers(0, 7, (8, 4)))
    y = gw.tensor(np.random.default_rng(1).integers(0, 7, (8, 4, 7)).astype(np.float32))
    model = Tied()
    trainer = train.Trainer(model, optim.Adam(model.parameters(), lr=0.01), nn.MSELoss())
    trainer.fit([(x, y)], epochs=1)
    trainer.save(tmp_path / "c.npz")
    fresh = Tied()
    train.Trainer(fresh, optim.Adam(fresh.parameters(), lr=0.01), nn.MSELoss()).resume(
        tmp_path / "c.npz"
    )
    assert fresh.head.weight is fresh.emb.weight
    np.testing.assert_array_equal(to_numpy(fresh.emb.weight), to_numpy(model.emb.weight))


def test_listing_the_shared_weight_twice_is_refused_clearly():
    # Collecting parameters per submodule lists a tied weight twice; torch only warns,
    # gradwork refuses (a flat update buffer would otherwise step it twice).
    model = Tied()
    doubled = list(model.emb.parameters()) + list(model.head.parameters())
    with pytest.raises(ValueError, match=r"appears twice in one parameter group"):
        optim.SGD(doubled, lr=0.1)
