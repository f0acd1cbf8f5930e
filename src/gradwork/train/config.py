"""Read a TOML run configuration and check every key and type before anything runs.

Unknown keys name the closest valid key; wrong types name the key, the value
and the type expected. The result is the *resolved* configuration: every
default filled in, so a run folder's config.json says exactly what ran.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

from gradwork.suggest import did_you_mean

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


class ConfigError(ValueError):
    """A problem with the user's configuration or arguments (exit code 2)."""


# The value types a key may take, and the words used to describe them in errors.
FLOAT, INT, STR, BOOL = "a number", "an integer", "a string", "true or false"
FLOATS, INTS, STRS, TABLES = (
    "a list of numbers",
    "a list of integers",
    "a list of strings",
    ("a list of tables"),
)

DATASETS = ("digits", "mnist", "moons", "xor", "circles", "spirals", "regression", "npz")
ARCHITECTURES = ("auto", "mlp", "cnn", "resnet-small", "layers")

# section -> key -> (type, default). Sections marked OPEN also take the keyword
# arguments of the class they name; those are checked against its signature later.
SCHEMA: dict[str, Any] = {
    "name": (STR, "digits-cnn"),
    "seed": (INT, 0),
    "output": (STR, "runs"),
    "data": {
        "name": (STR, "digits"),
        "path": (STR, ""),
        "split": (FLOATS, [0.8, 0.1, 0.1]),
        "batch_size": (INT, 32),
        "n_samples": (INT, 1000),
        "noise": (FLOAT, 0.1),
    },
    "model": {
        "arch": (STR, "auto"),
        "hidden": (INTS, [64]),
        "channels": (INTS, [16, 32]),
        "activation": (STR, "ReLU"),
        "dropout": (FLOAT, 0.1),
        "layers": (TABLES, []),
    },
    "optimizer": {"name": (STR, "Adam"), "lr": (FLOAT, 0.003)},
    "scheduler": {
        "name": (STR, ""),
        "interval": (STR, "epoch"),
        "monitor": (STR, "val_loss"),
    },
    "loss": {"name": (STR, "auto")},
    "train": {
        "epochs": (INT, 15),
        "metrics": (STRS, ["auto"]),
        "progress": (BOOL, True),
    },
    "callbacks": {
        "terminate_on_nan": (BOOL, True),
        "early_stopping": {
            "enabled": (BOOL, False),
            "monitor": (STR, "val_loss"),
            "mode": (STR, "auto"),
            "patience": (INT, 5),
            "min_delta": (FLOAT, 0.0),
            "restore_best_weights": (BOOL, True),
        },
        "checkpoint": {
            "monitor": (STR, "val_loss"),
            "mode": (STR, "auto"),
            "save_best_only": (BOOL, False),
            "every_n_batches": (INT, 0),
        },
        # gradwork.diagnose's monitor callbacks: record one training step in `every`
        "monitor": {
            "gradients": (BOOL, False),
            "activations": (BOOL, False),
            "every": (INT, 10),
        },
    },
}
OPEN_SECTIONS = ("optimizer", "scheduler", "loss")
CHOICES = {
    "data.name": DATASETS,
    "model.arch": ARCHITECTURES,
    "scheduler.interval": ("epoch", "batch"),
    "callbacks.early_stopping.mode": ("auto", "min", "max"),
    "callbacks.checkpoint.mode": ("auto", "min", "max"),
}


def load_toml(path: str | Path) -> dict:
    """Parse a TOML file, turning a missing file or a syntax error into a ConfigError."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {str(path)!r}")
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None


def resolve(user: dict) -> dict:
    """The user's config merged over the defaults, with every key and type checked.

    Example:
        >>> resolve({"train": {"epochs": 3}})["train"]["epochs"]
        3
        >>> try:
        ...     resolve({"train": {"epoch": 3}})
        ... except ConfigError as error:
        ...     print(error)  # doctest: +ELLIPSIS
        unknown key 'train.epoch'. Did you mean 'epochs'? Valid keys in [train]: ...
    """
    resolved = _merge(user, SCHEMA, "")
    stopping = user.get("callbacks", {}).get("early_stopping")
    if stopping is not None and "enabled" not in stopping:
        resolved["callbacks"]["early_stopping"]["enabled"] = True  # writing the table enables it
    _check_values(resolved)
    return resolved


def _merge(user: dict, schema: dict, prefix: str) -> dict:
    section = prefix.rstrip(".")
    open_section = section in OPEN_SECTIONS
    unknown = [k for k in user if k not in schema and not open_section]
    if unknown:
        raise ConfigError(unknown_key_message(prefix, unknown[0], schema))
    resolved = {}
    for key, spec in schema.items():
        if isinstance(spec, dict):
            value = user.get(key, {})
            if not isinstance(value, dict):
                raise ConfigError(f"{prefix}{key} must be a table ([{prefix}{key}]), got {value!r}")
            resolved[key] = _merge(value, spec, f"{prefix}{key}.")
            continue
        kind, default = spec
        value = user.get(key, copy.deepcopy(default))
        check_type(f"{prefix}{key}", value, kind)
        resolved[key] = float(value) if kind == FLOAT else value
    for key in user:  # an open section's extra keyword arguments
        if key not in schema:
            resolved[key] = user[key]
    return resolved


def unknown_key_message(prefix: str, key: str, schema: dict) -> str:
    valid = sorted(schema)
    hint = did_you_mean(key, valid)
    where = f"[{prefix.rstrip('.')}]" if prefix else "the top level"
    return f"unknown key '{prefix}{key}'.{hint} Valid keys in {where}: {', '.join(valid)}"


def check_type(key: str, value: Any, kind: str) -> None:
    checks = {
        FLOAT: lambda v: _is_number(v),
        INT: lambda v: isinstance(v, int) and not isinstance(v, bool),
        STR: lambda v: isinstance(v, str),
        BOOL: lambda v: isinstance(v, bool),
        FLOATS: lambda v: isinstance(v, list) and all(_is_number(x) for x in v),
        INTS: lambda v: isinstance(v, list) and all(_is_int(x) for x in v),
        STRS: lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
        TABLES: lambda v: isinstance(v, list) and all(isinstance(x, dict) for x in v),
    }
    if not checks[kind](value):
        raise ConfigError(
            f"{key} = {value!r} has type {_toml_type(value)}; expected {kind}"
            + (f" (write {key.split('.')[-1]} = 32, without quotes)" if kind == INT else "")
        )


def _check_values(config: dict) -> None:
    for dotted, choices in CHOICES.items():
        value = _get(config, dotted)
        if value not in choices:
            hint = did_you_mean(str(value), choices)
            raise ConfigError(f"{dotted} = {value!r} is not one of {', '.join(choices)}.{hint}")
    positive = ["data.batch_size", "train.epochs", "data.n_samples", "callbacks.monitor.every"]
    for dotted in positive:
        if _get(config, dotted) < 1:
            raise ConfigError(f"{dotted} = {_get(config, dotted)} must be at least 1")
    split = config["data"]["split"]
    if len(split) != 3 or any(s < 0 for s in split) or abs(sum(split) - 1.0) > 1e-6:
        raise ConfigError(
            f"data.split = {split} must be three non-negative fractions (train, validation, "
            "test) that sum to 1, e.g. [0.8, 0.1, 0.1]"
        )
    if config["data"]["name"] in ("mnist", "npz") and not config["data"]["path"]:
        raise ConfigError(f"data.name = {config['data']['name']!r} needs data.path")
    if config["data"]["path"] and not Path(config["data"]["path"]).exists():
        raise ConfigError(f"data.path: file or folder not found: {config['data']['path']!r}")


def _get(config: dict, dotted: str) -> Any:
    for part in dotted.split("."):
        config = config[part]
    return config


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _toml_type(value: Any) -> str:
    names = {
        bool: "boolean",
        int: "integer",
        float: "float",
        str: "string",
        list: "array",
        dict: "table",
    }
    return names.get(type(value), type(value).__name__)
