import math

import numpy as np
import pytest

from gradwork.tune import Categorical, Float, Int, Space, minimize


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: Float(2.0, 1.0), "greater than high"),
        (lambda: Float(0.0, 1.0, log=True), "log=True needs low > 0"),
        (lambda: Int(-1, 5, log=True), "log=True needs low > 0"),
        (lambda: Int(0, 10, step=0), "step=0"),
        (lambda: Int(0, 10, step=-2), "step=-2"),
        (lambda: Int(0.5, 3), "whole numbers"),
        (lambda: Int(1, 10, log=True, step=2), "log spacing needs step=1"),
        (lambda: Categorical([]), "choices is empty"),
        (lambda: Float(0, 1, when="opt"), "expected a pair"),
        (lambda: Space({"a": Float(0, 1, when=("nope", 1))}), "no parameter 'nope'"),
        (lambda: Space({"o": Categorical(["a"]), "m": Float(0, 1, when=("o", "z"))}), "never take"),
    ],
)
def test_bad_distributions_raise_value_error(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_types_raise_type_error():
    with pytest.raises(TypeError, match="expected a list or tuple"):
        Categorical("abc")
    with pytest.raises(TypeError, match="expected Float"):
        Space({"a": (0, 1)})


def test_distributions_are_frozen():
    space_entry = Float(0, 1)
    with pytest.raises(AttributeError):
        space_entry.low = 2


@pytest.mark.parametrize(
    "distribution, values",
    [
        (Float(-3.0, 5.0), [-3.0, 0.25, 5.0]),
        (Float(1e-4, 1.0, log=True), [1e-4, 3e-3, 1.0]),
        (Int(2, 11, step=3), [2, 5, 8, 11]),
        (Int(1, 1024, log=True), [1, 7, 1024]),
        (Categorical(["sgd", 3, None]), ["sgd", 3, None]),
    ],
)
def test_encode_decode_round_trip(distribution, values):
    for value in values:
        unit = distribution.encode(value)
        assert 0.0 <= unit <= 1.0
        decoded = distribution.decode(unit)
        assert decoded == pytest.approx(value) if isinstance(value, float) else decoded == value


def test_int_cells_are_equally_likely():
    distribution = Int(0, 4, step=2)  # 0, 2, 4
    units = np.random.default_rng(0).random(30000)
    counts = np.bincount([distribution.decode(u) // 2 for u in units])
    assert np.allclose(counts / counts.sum(), 1 / 3, atol=0.01)


def test_log_float_is_uniform_in_log_space():
    distribution = Float(1e-4, 1.0, log=True)
    values = np.array([distribution.decode(u) for u in np.linspace(0, 1, 5)])
    assert np.allclose(np.log10(values), [-4, -3, -2, -1, 0])


def test_conditional_parameters_follow_their_parent():
    space = Space(
        {
            "momentum": Float(0.0, 0.99, when=("optimizer", "sgd")),
            "optimizer": Categorical(["sgd", "adam"]),
        }
    )
    assert space.names == ["optimizer", "momentum"]  # parents first
    assert space.decode([0.25, 0.5]) == {"optimizer": "sgd", "momentum": 0.495}
    assert space.decode([0.75, 0.5]) == {"optimizer": "adam"}


def test_space_size_counts_discrete_configurations():
    assert Space({"a": Int(0, 2), "b": Categorical("xy" and ["x", "y"])}).size() == 6
    assert math.isinf(Space({"a": Float(0, 1)}).size())


def test_empty_space_without_define_by_run_is_an_error():
    with pytest.raises(ValueError, match="search space is empty"):
        minimize(lambda params: 0.0, {}, algorithm="random")
    with pytest.raises(ValueError, match="search space is empty"):
        minimize(lambda params: 0.0, None, algorithm="random")


@pytest.mark.parametrize("n_trials", [0, -3, 2.5, True])
def test_bad_n_trials(n_trials):
    with pytest.raises(ValueError, match="n_trials"):
        minimize(lambda p: p["x"], {"x": Float(0, 1)}, n_trials=n_trials)


def test_unknown_algorithm_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown algorithm 'anneal'.*'bayes'.*'tpe'"):
        minimize(lambda p: p["x"], {"x": Float(0, 1)}, algorithm="anneal")
