"""The fuzz checks as hypothesis tests, shared by the pytest files and report.py."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import given

from tests.fuzz.compare import check_inplace, check_op
from tests.fuzz.index_strategies import index_cases
from tests.fuzz.layouts import cases, inplace_cases
from tests.fuzz.ops_table import PRODUCERS, InplaceSpec, OpSpec
from tests.fuzz.strategies import fuzz_settings


def op_test(spec: OpSpec) -> Callable[[], None]:
    @fuzz_settings()
    @given(case=cases(spec))
    def check(case):
        check_op(spec.name, spec.call, case, spec.grad)

    return check


def getitem(lib, x, index):
    return x[index]


def getitem_test(family: str) -> Callable[[], None]:
    # Index expressions are a larger space than one op's arguments: twice the budget.
    @fuzz_settings(scale=2)
    @given(case=index_cases(family))
    def check(case):
        check_op(f"x[index] ({family})", getitem, case)

    return check


def inplace_test(spec: InplaceSpec, mode: str) -> Callable[[], None]:
    @fuzz_settings()
    @given(case=inplace_cases(spec, mode, list(PRODUCERS)))
    def check(case):
        check_inplace(spec.name, spec.call, case, mode, PRODUCERS)

    return check
