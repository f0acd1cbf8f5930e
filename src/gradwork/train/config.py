"""Read a TOML run configuration and check every key and type before anything runs.

Unknown keys name the closest valid key; wrong types name the key, the value
and the type expected. The result is the *resolved* configuration: every
default filled in, so a run folder's config.json says exactly what ran.
"""

from __future__ import annotations

import copy
import math
import re
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

DATASETS = ("digits", "mnist", "moons", "xor", "circles", "spirals", "regression", "npz", "text")
ARCHITECTURES = ("auto", "mlp", "cnn", "resnet-small", "transformer-lm", "layers")

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
        "classes": (INT, 0),  # 0: max(label) + 1
        "download": (BOOL, False),  # mnist: fetch missing files (checksum-verified)
    },
    "model": {
        "arch": (STR, "auto"),
        "hidden": (INTS, [64]),
        "channels": (INTS, [16, 32]),
        "activation": (STR, "ReLU"),
        "dropout": (FLOAT, 0.1),
        "layers": (TABLES, []),
        # transformer-lm (data.name = "text": block_size is also the window length)
        "d_model": (INT, 64),
        "nhead": (INT, 4),
        "num_layers": (INT, 2),
        "block_size": (INT, 64),
        "dim_feedforward": (INT, 256),
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
        # "auto": the GPU when gradwork.cuda.is_available() (CuPy installed and a GPU seen)
        "device": (STR, "auto"),
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
            "safetensors": (BOOL, False),  # also the weights alone: best/last.safetensors
        },
        # gradwork.diagnose's monitor callbacks: record one training step in `every`
        "monitor": {
            "gradients": (BOOL, False),
            "activations": (BOOL, False),
            "every": (INT, 10),
        },
        # TensorBoard event files (gradwork.train.TensorBoardLogger); the table enables it
        "tensorboard": {
            "enabled": (BOOL, False),
            "log_dir": (STR, ""),  # "": tensorboard/ in the run folder
            "histogram_freq": (INT, 1),  # weight and gradient histograms every n epochs (0: off)
            "update_freq": (INT, 0),  # also the batch loss every n steps (0: per epoch only)
            "doctor": (BOOL, False),  # the doctor's findings on the first batch, as text
        },
    },
}
OPEN_SECTIONS = ("optimizer", "scheduler", "loss")
CHOICES = {
    "data.name": DATASETS,
    "model.arch": ARCHITECTURES,
    "scheduler.interval": ("epoch", "batch"),
    "train.device": ("auto", "cpu", "cuda"),
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
    _check_finite(user, "")
    resolved = _merge(user, SCHEMA, "")
    for name in ("early_stopping", "tensorboard"):
        table = user.get("callbacks", {}).get(name)
        if isinstance(table, dict) and "enabled" not in table:
            resolved["callbacks"][name]["enabled"] = True  # writing the table enables it
    _follow_early_stopping(user, resolved["callbacks"])
    _check_values(resolved)
    return resolved


def _follow_early_stopping(user: dict, callbacks: dict) -> None:
    """A checkpoint left at its default monitor follows early stopping's.

    One meaning of "best" per run: otherwise early stopping restores the best
    epoch by val_accuracy while checkpoints/best.npz (which `evaluate`, `predict`
    and the printed test figure use) holds the best by val_loss.
    """
    stopping, checkpoint = callbacks["early_stopping"], callbacks["checkpoint"]
    given = user.get("callbacks", {}).get("checkpoint", {})
    if stopping["enabled"] and "monitor" not in given:
        checkpoint["monitor"] = stopping["monitor"]
        if "mode" not in given:
            checkpoint["mode"] = stopping["mode"]


def _check_finite(value: Any, key: str) -> None:
    """TOML reads nan and inf as numbers; no setting of a run means them."""
    if isinstance(value, dict):
        for name, item in value.items():
            _check_finite(item, f"{key}.{name}" if key else str(name))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_finite(item, f"{key}[{index}]")
    elif isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{key} = {value}: numbers in a config must be finite")


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
    positive += [
        f"model.{key}"
        for key in ("d_model", "nhead", "num_layers", "block_size", "dim_feedforward")
    ]
    for dotted in positive:
        if _get(config, dotted) < 1:
            raise ConfigError(f"{dotted} = {_get(config, dotted)} must be at least 1")
    if config["data"]["classes"] < 0:
        raise ConfigError(f"data.classes = {config['data']['classes']} must be 0 (infer) or more")
    check_name(config["name"])
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


# Characters a run name may not hold: path separators, and what Windows refuses in names.
_UNSAFE_NAME_CHARACTERS = set('/\\:*?"<>|')


def check_name(name: str, key: str = "name") -> None:
    """Refuse a run name that could leave the output folder or is not a portable file name.

    Example:
        >>> check_name("moons-mlp")
        >>> check_name("x/../../foo")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        gradwork.train.config.ConfigError: name = 'x/../../foo' ...
    """
    bad = sorted({c for c in name if c in _UNSAFE_NAME_CHARACTERS or not c.isprintable()})
    if name.strip(" .") and not bad and len(name) <= 100:
        return
    safe = re.sub(r"[-. ]*-[-. ]*", "-", "".join("-" if c in bad else c for c in name))
    safe = safe.strip(" .-")[:100] or "run"
    if bad:
        reason = f"holds {', '.join(repr(c) for c in bad)}"
    else:
        reason = "is longer than 100 characters" if len(name) > 100 else "has no letters"
    raise ConfigError(
        f"{key} = {name!r} {reason}: a run name becomes part of one folder name inside the "
        'output folder, so it may not hold / \\ : * ? " < > | or control characters. '
        f"Use e.g. {key} = {safe!r} (choose the folder with output = ...)"
    )


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
