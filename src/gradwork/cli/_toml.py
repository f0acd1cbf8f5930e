"""Write a configuration back as TOML (tomllib only reads).

Enough of TOML for gradwork's configurations: tables, arrays of tables
([[model.layers]]), strings, booleans, integers, floats and nested arrays.
"""

from __future__ import annotations

import json
import math
from typing import Any


def _value(value: Any, key: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)  # NOTE: repr round-trips exactly; 1e-05 is valid TOML
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string uses JSON's escapes
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(item, key) for item in value) + "]"
    if isinstance(value, dict):
        items = ", ".join(f"{_key(k)} = {_value(v, key)}" for k, v in value.items())
        return "{" + items + "}"
    raise TypeError(f"gradwork.cli: cannot write {key} = {value!r} as TOML")


def _key(key: str) -> str:
    bare = key.replace("_", "").replace("-", "").isalnum()
    return key if bare else json.dumps(key)


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def dumps(config: dict, prefix: str = "") -> str:
    """TOML text for ``config`` (``tomllib.loads(dumps(c)) == c`` for plain data).

    Example:
        >>> print(dumps({"seed": 1, "optimizer": {"name": "SGD", "lr": 0.1}}))
        seed = 1
        <BLANKLINE>
        [optimizer]
        name = "SGD"
        lr = 0.1
        <BLANKLINE>
    """
    lines = []
    nested = []
    for key, value in config.items():
        if isinstance(value, dict) or _is_table_array(value):
            nested.append((key, value))
        else:
            lines.append(f"{_key(key)} = {_value(value, prefix + key)}")
    text = "\n".join(lines) + ("\n" if lines else "")
    for key, value in nested:
        name = f"{prefix}{_key(key)}"
        if isinstance(value, dict):
            body = dumps(value, name + ".")
            scalars = any(
                not isinstance(v, dict) and not _is_table_array(v) for v in value.values()
            )
            header = f"\n[{name}]\n" if scalars or not value else "\n"
            text += header + body.lstrip("\n") if scalars or not value else body
        else:
            for table in value:
                text += f"\n[[{name}]]\n" + dumps(table, name + ".").lstrip("\n")
    return text
