"""Run every fuzz check once and print the discrepancies, grouped by kind, and the missing ops.

    python -m tests.fuzz.report                                # the CI budget
    GRADWORK_FUZZ_EXAMPLES=2000 python -m tests.fuzz.report    # the long run

Hypothesis shrinks each failure to a minimal case and reports distinct kinds
of failure of one test separately, so each line is one (op, kind) finding.
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from collections.abc import Callable

from tests.fuzz.index_strategies import FAMILIES
from tests.fuzz.ops_table import INPLACE, INPLACE_MODES, MISSING, OPS
from tests.fuzz.suite import getitem_test, inplace_test, op_test


def findings(test: Callable[[], None]) -> list[tuple[str, str]]:
    """(kind, message) for every failure hypothesis reports; [] when the test passes."""
    try:
        test()
    except BaseException as error:  # noqa: BLE001 - an ExceptionGroup of several, or one
        if isinstance(error, KeyboardInterrupt):
            raise
        errors = list(getattr(error, "exceptions", [error]))  # an ExceptionGroup, or one
        return [(getattr(e, "kind", f"harness error ({type(e).__name__})"), str(e)) for e in errors]
    return []


def tests() -> list[tuple[str, Callable[[], None]]]:
    named = [(spec.name, op_test(spec)) for spec in OPS if spec.name not in MISSING]
    named += [(f"x[index] {family}", getitem_test(family)) for family in FAMILIES]
    named += [
        (f"{spec.name} {mode}", inplace_test(spec, mode))
        for spec in INPLACE
        if spec.name not in MISSING
        for mode in INPLACE_MODES
    ]
    return named


def main() -> int:
    start = time.perf_counter()
    by_kind: dict[str, list[str]] = defaultdict(list)
    for name, test in tests():
        for kind, message in findings(test):
            by_kind[kind].append(f"[{name}] {message}")
    for kind in sorted(by_kind):
        print(f"\n=== {kind}: {len(by_kind[kind])}")
        for message in by_kind[kind]:
            print(message)
    print(f"\n=== missing: {len(MISSING)}")
    for name, absent in MISSING.items():
        print(f"[{name}] gradwork lacks {', '.join(absent)}")
    total = sum(map(len, by_kind.values()))
    print(f"\n{total} discrepancies in {time.perf_counter() - start:.0f} s")
    return 1 if by_kind else 0


if __name__ == "__main__":
    sys.exit(main())
