"""'Did you mean ...?' hints for names a person typed: config keys, metric names, classes.

Closeness is the edit distance with transpositions (a swapped pair of letters,
the commonest typo, counts as one edit), ignoring case, so 'Adma' suggests
'Adam' rather than the longer 'Adamax'.

Example:
    >>> did_you_mean("acuracy", ["accuracy", "mae", "r2"])
    " Did you mean 'accuracy'?"
    >>> did_you_mean("Adma", ["Adam", "Adamax", "SGD"])
    " Did you mean 'Adam'?"
    >>> did_you_mean("zzz", ["accuracy"])
    ''
"""

from __future__ import annotations

from collections.abc import Iterable


def edit_distance(a: str, b: str) -> int:
    """Insertions, deletions, substitutions and swaps of neighbours turning `a` into `b`."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


def closest(name: str, choices: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The choice most like `name`, or None when none is close enough.

    `cutoff` is the share of `name` that must survive: a choice within
    (1 - cutoff) * len(name) edits (at least one) qualifies.
    """
    name = str(name)
    allowed = max(1, int((1 - cutoff) * len(name) + 0.5))
    scored = [(edit_distance(name.lower(), str(c).lower()), str(c)) for c in choices]
    scored = [(distance, c) for distance, c in scored if distance <= allowed]
    return min(scored, key=lambda pair: pair[0])[1] if scored else None


def did_you_mean(name: str, choices: Iterable[str], cutoff: float = 0.6) -> str:
    """' Did you mean 'x'?' for the closest choice, or '' (ready to append to a message)."""
    match = closest(name, choices, cutoff)
    return f" Did you mean {match!r}?" if match else ""
