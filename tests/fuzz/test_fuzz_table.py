"""The fuzzer checks itself: the tables cover API.md, and a broken op makes it fail."""

import pytest

import gradwork as gw
from tests.fuzz.compare import (
    ExceptionDiscrepancy,
    GradientDiscrepancy,
    InplaceDiscrepancy,
    ValueDiscrepancy,
)
from tests.fuzz.layouts import LAYOUTS
from tests.fuzz.ops_table import API_OPS, INPLACE, OPS, InplaceSpec, OpSpec
from tests.fuzz.strategies import PARAM_KINDS
from tests.fuzz.suite import inplace_test, op_test

pytest.importorskip("torch")


def test_every_api_op_has_a_table_entry():
    covered = {path for spec in [*OPS, *INPLACE] for path in spec.requires}
    assert [path for path in API_OPS if path not in covered] == []


def test_entries_have_unique_names_and_known_layouts_and_params():
    names = [spec.name for spec in OPS]
    assert len(names) == len(set(names)), "test ids must be unique"
    assert {spec.layout for spec in OPS} <= set(LAYOUTS)
    assert {kind for spec in OPS for kind in spec.params.values()} <= set(PARAM_KINDS)


def _differs(make_wrong):
    """An op that is torch's in torch and `make_wrong(x)` in gradwork."""
    return lambda lib, x: make_wrong(x) if lib is gw else x.exp()


@pytest.mark.parametrize(
    "wrong, kind",
    [
        (lambda x: x.exp() * 1.001, ValueDiscrepancy),
        (lambda x: x.detach().exp(), GradientDiscrepancy),  # no gradient flows
        (lambda x: x.exp() + x.sum(dim=99), ExceptionDiscrepancy),  # raises where torch doesn't
    ],
    ids=["value", "gradient", "exception"],
)
def test_a_wrong_op_is_caught(wrong, kind):
    spec = OpSpec("wrong exp", _differs(wrong), (), dtypes=("float32",))
    with pytest.raises(kind):
        op_test(spec)()


def test_an_inplace_op_that_returns_a_new_tensor_is_caught():
    def add(target, operand):
        return target + operand if isinstance(target, gw.Tensor) else target.add_(operand)

    spec = InplaceSpec("not in place", add, (), dtypes=("float32",))
    with pytest.raises(InplaceDiscrepancy):
        inplace_test(spec, "plain")()
