"""Mark the fuzz cases listed in known_discrepancies.txt as expected failures.

The fuzzer finds differences faster than they are fixed; the list keeps CI
green without hiding them: each stays visible as an xfail in every run, and
the file is the to-do list.
"""

from __future__ import annotations

from pathlib import Path

import pytest

_LIST = Path(__file__).with_name("known_discrepancies.txt")


def _known() -> set[str]:
    lines = _LIST.read_text().splitlines() if _LIST.exists() else []
    return {line.strip() for line in lines if line.strip() and not line.startswith("#")}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    known = _known()
    here = Path(__file__).parent
    for item in items:
        path = Path(str(item.fspath))
        if path.parent != here:
            continue
        if f"{path.name}::{item.name}" in known:
            reason = "a known difference from torch (tests/fuzz/known_discrepancies.txt)"
            item.add_marker(pytest.mark.xfail(reason=reason, strict=False))
