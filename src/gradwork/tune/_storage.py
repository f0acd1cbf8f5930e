"""Where a study keeps its history: in memory, or an append-only JSON-lines journal."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._distributions import Categorical, Distribution, Float, Int


def distribution_to_json(distribution: Distribution) -> dict[str, Any]:
    """A JSON-able description of a distribution."""
    data = {"type": type(distribution).__name__, **vars(distribution)}
    if isinstance(distribution, Categorical):
        data["choices"] = list(distribution.choices)
    return data


def _as_tuples(value: Any) -> Any:
    """``value`` with every list turned back into a tuple (JSON keeps tuples as lists)."""
    if isinstance(value, list):
        return tuple(_as_tuples(item) for item in value)
    return value


def distribution_from_json(data: dict[str, Any]) -> Distribution:
    """Inverse of ``distribution_to_json``.

    NOTE: JSON writes a tuple as a list, and a list cannot be a categorical
    choice (choices must be hashable), so lists read back as tuples.

    Example:
        >>> distribution_from_json({"type": "Categorical", "choices": [[64], [128, 64]]})
        Categorical(choices=((64,), (128, 64)), when=None)
    """
    kinds = {"Float": Float, "Int": Int, "Categorical": Categorical}
    data = dict(data)
    kind = kinds[data.pop("type")]
    if "choices" in data:
        data["choices"] = tuple(_as_tuples(choice) for choice in data["choices"])
    if data.get("when") is not None:
        parent, value = data["when"]
        data["when"] = (parent, _as_tuples(value))
    return kind(**data)


def params_from_json(
    params: dict[str, Any], distributions: Mapping[str, Distribution]
) -> dict[str, Any]:
    """``params`` read from a journal, each categorical value back as its own choice.

    A journal keeps the choice ``(128, 64)`` as ``[128, 64]``, which is neither
    hashable nor equal to the choice; it is matched to the choice with the same
    JSON form (so ``1``, ``1.0`` and ``True`` stay apart).

    Example:
        >>> params_from_json({"layers": [128, 64]}, {"layers": Categorical([(64,), (128, 64)])})
        {'layers': (128, 64)}
    """
    restored = dict(params)
    for name, value in params.items():
        distribution = distributions.get(name)
        if isinstance(distribution, Categorical):
            written = _json_form(value)
            for choice in distribution.choices:
                if _json_form(choice) == written:
                    restored[name] = choice
                    break
    return restored


def _json_form(value: Any) -> str:
    return json.dumps(value, default=repr, sort_keys=True)


class InMemoryStorage:
    """Keeps nothing: the study's trial list is the only copy."""

    def load(self) -> list[dict[str, Any]]:
        """No earlier events."""
        return []

    def append(self, event: dict[str, Any]) -> None:
        """Forget ``event``."""


class JournalStorage:
    """An append-only JSON-lines file: one line per ask, report and tell.

    Calling ``minimize`` again with the same journal resumes the study: finished
    trials are replayed into the algorithm and trials that were running when the
    process died are marked failed and retried. The file is only ever appended to;
    a torn last line (a kill mid-write) is skipped on reading.

    Args:
        path: The journal file (created if missing).
        fsync: Also ``os.fsync`` after each line (survives power loss; slower).

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "study.jsonl")
        >>> journal = JournalStorage(path)
        >>> journal.append({"event": "ask", "number": 0})
        >>> journal.load()
        [{'event': 'ask', 'number': 0}]
    """

    def __init__(self, path: str | os.PathLike, fsync: bool = False) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"JournalStorage({str(self.path)!r})"

    def load(self) -> list[dict[str, Any]]:
        """Every complete event in the file, in order."""
        if not self.path.exists():
            return []
        events = []
        with open(self.path, encoding="utf-8") as file:
            for line in file:
                try:
                    events.append(json.loads(line))
                except json.JSONDecodeError:
                    continue  # a line torn by a kill mid-write
        return events

    def append(self, event: dict[str, Any]) -> None:
        """Append one event as a JSON line and flush it."""
        line = json.dumps(event, default=repr, allow_nan=True)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a+b") as file:
                file.seek(0, os.SEEK_END)
                if file.tell() > 0:
                    file.seek(-1, os.SEEK_END)
                    if file.read(1) != b"\n":
                        file.write(b"\n")  # end a torn line instead of extending it
                file.write(line.encode("utf-8") + b"\n")
                file.flush()
                if self.fsync:
                    os.fsync(file.fileno())


def make_storage(storage: Any) -> InMemoryStorage | JournalStorage:
    """``None`` -> memory, a path -> journal, a storage object -> itself."""
    if storage is None:
        return InMemoryStorage()
    if isinstance(storage, (str, os.PathLike)):
        return JournalStorage(storage)
    if hasattr(storage, "load") and hasattr(storage, "append"):
        return storage
    raise TypeError(
        f"gradwork.tune: storage={storage!r}; expected None, a path such as 'study.jsonl' "
        "or JournalStorage(path)"
    )
