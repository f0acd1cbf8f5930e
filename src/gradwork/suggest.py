"""'Did you mean ...?' hints for names a person typed: config keys, metric names, classes.

Example:
    >>> did_you_mean("acuracy", ["accuracy", "mae", "r2"])
    " Did you mean 'accuracy'?"
    >>> did_you_mean("zzz", ["accuracy"])
    ''
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(name: str, choices: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The choice most like `name`, or None when none is close enough."""
    matches = difflib.get_close_matches(str(name), [str(c) for c in choices], n=1, cutoff=cutoff)
    return matches[0] if matches else None


def did_you_mean(name: str, choices: Iterable[str], cutoff: float = 0.6) -> str:
    """' Did you mean 'x'?' for the closest choice, or '' (ready to append to a message)."""
    match = closest(name, choices, cutoff)
    return f" Did you mean {match!r}?" if match else ""
