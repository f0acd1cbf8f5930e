"""Turn a resolved configuration into data loaders, a model, an optimizer, callbacks.

Everything here runs before the run folder exists: a class name that does not
exist, an argument it does not take or of the wrong type, all become a
ConfigError (exit 2) with nothing written. Shared by `gradwork train` and
`gradwork.tune.tune_training`, which builds one session per trial.
"""

from __future__ import annotations

import inspect
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gradwork import _arrays, data, nn, optim
from gradwork.random import manual_seed
from gradwork.suggest import did_you_mean
from gradwork.train import _accumulators, callbacks, preflight
from gradwork.train._model_checkpoint import ModelCheckpoint
from gradwork.train._tensorboard import TensorBoardLogger
from gradwork.train._text_data import text_splits
from gradwork.train.architectures import ARCHITECTURES
from gradwork.train.config import ConfigError
from gradwork.train.devices import resolve_device
from gradwork.train.language_model import TokenCrossEntropyLoss
from gradwork.train.run import RunFolder
from gradwork.train.trainer import Trainer


@dataclass
class Session:
    """What one run needs, built from a config."""

    config: dict
    info: dict  # task, input_shape, outputs, split sizes
    model: Any = None
    optimizer: Any = None
    loss: Any = None
    scheduler: Any = None
    metrics: list = field(default_factory=list)
    callbacks: list = field(default_factory=list)
    loaders: dict = field(default_factory=dict)


def build(
    config: dict,
    with_data: bool = True,
    info: dict | None = None,
    make_callbacks: Any = None,
    splits: tuple | None = None,
) -> Session:
    """Build every object of a run; raises ConfigError on any problem.

    Args:
        config: A resolved configuration (`gradwork.train.config.resolve`).
        with_data: Load the data set and make the loaders (else `info` is needed).
        info: What the model needs to know about the data, when `with_data` is False.
        make_callbacks: `spec -> list` for [callbacks] (default `build_callbacks`);
            the command line adds gradwork.diagnose's monitors this way.
        splits: Ready (train, val, test) subsets, to skip loading the data again.
    """
    manual_seed(config["seed"])
    np.random.seed(config["seed"])
    device = resolve_device(config["train"].get("device", "auto"))  # before any data loads
    if with_data and splits is None:
        splits, info = load_splits(config)
    session = Session(config, info)
    # On its device before the optimizer is made, as torch advises (the optimizer's
    # state is then born there); the loaders stay on the host, the Trainer sends batches.
    session.model = build_model(config["model"], info).to(device)
    session.loss = build_loss(config["loss"], info)
    if isinstance(session.loss, nn.Module):
        session.loss.to(device)  # a class-weight buffer goes where the outputs are
    session.metrics = build_metrics(config["train"]["metrics"], info)
    session.optimizer = build_optimizer(config["optimizer"], session.model)
    session.scheduler = build_scheduler(config["scheduler"], session.optimizer)
    session.callbacks = (make_callbacks or build_callbacks)(config["callbacks"])
    if with_data:
        session.loaders = make_loaders(splits, config)
    return session


def load_dataset(config: dict) -> Any:
    """The whole data set named by [data]."""
    spec, seed = config["data"], config["seed"]
    name, n, noise = spec["name"], spec["n_samples"], spec["noise"]
    try:
        if name == "digits":
            return data.load_digits()
        if name == "mnist":
            return data.MNIST(spec["path"], train=True, download=spec.get("download", False))
        if name == "npz":
            return npz_dataset(spec["path"])
        makers = {
            "moons": data.make_moons,
            "xor": data.make_xor,
            "circles": data.make_circles,
            "spirals": data.make_spirals,
            "regression": data.make_regression_curve,
        }
        return makers[name](n=n, noise=noise, seed=seed)
    except FileNotFoundError as error:
        if name != "mnist":
            raise ConfigError(f"data: could not load {name!r}: {error}") from None
        missing = str(error).split("missing ", 1)[-1].split(". Pass", 1)[0]
        raise ConfigError(
            f"data.path = {spec['path']!r}: missing {missing}. Set data.download = true in "
            "[data] to fetch them (checksum-verified), or copy the published MNIST files there"
        ) from None
    except (OSError, ValueError, TypeError) as error:
        where = f"data.path = {spec['path']!r}" if spec["path"] else f"data.name = {name!r}"
        raise ConfigError(f"{where}: could not load the data: {error}") from None


def npz_dataset(path: str) -> Any:
    """A TensorDataset of the arrays `x` and `y` in an .npz file; ValueError naming the file."""
    with open(path, "rb") as stream:
        start = stream.read(6)
    if not start.startswith(b"PK"):  # NOTE: else np.load would take it for a pickle
        kind = "a single-array .npy file" if start == b"\x93NUMPY" else "not a zip archive"
        raise ValueError(
            f"{path} is {kind}, not an .npz archive of x and y (it starts with {start!r}); "
            "write one with np.savez(path, x=..., y=...)"
        )
    try:
        with np.load(Path(path), allow_pickle=False) as archive:
            files = list(getattr(archive, "files", []))
            if not {"x", "y"} <= set(files):
                raise ValueError(
                    f"{path} must be an .npz archive holding arrays named 'x' and 'y' "
                    f"(np.savez(path, x=..., y=...)), has {files or 'no named arrays'}"
                )
            x, y = archive["x"], archive["y"]
    except ValueError as error:
        if str(path) in str(error):
            raise
        raise ValueError(f"{path} is not a readable .npz archive of x and y: {error}") from None
    except Exception as error:  # noqa: BLE001 - zip, zlib, EOF, pickle refusals: all bad files
        raise ValueError(
            f"{path} is not a readable .npz archive (truncated, damaged or another format: "
            f"{type(error).__name__}: {error}); write it with np.savez(path, x=..., y=...)"
        ) from None
    for name, array in (("x", x), ("y", y)):
        if array.dtype.kind not in "biuf":
            raise ValueError(f"{path}: {name} has dtype {array.dtype}; expected integers or floats")
    with np.errstate(over="ignore"):  # too large for float32: Inf, refused by the data check
        x = x.astype(np.float32)
        y = y.astype(np.int64) if y.dtype.kind in "iub" else y.astype(np.float32)
    if x.ndim == 0 or y.ndim == 0 or len(x) != len(y):
        raise ValueError(
            f"{path}: x has shape {x.shape} and y has shape {y.shape}; they need one row per "
            "sample, the same number of rows"
        )
    return data.TensorDataset(x, y)


def load_splits(config: dict) -> tuple[tuple, dict]:
    """(train, val, test) subsets and what the model needs to know about the data."""
    if config["data"]["name"] == "text":  # windows of characters, split by position
        return text_splits(config)
    dataset = load_dataset(config)
    # The preflight reads the data on the host: device data is copied there, explicitly.
    x, y = (np.asarray(_arrays.to_host(t.array)) for t in dataset.tensors[:2])
    spec = config["data"]
    source = f"data.path = {spec['path']!r}" if spec["path"] else f"data.name = {spec['name']!r}"
    info = preflight.describe_data(
        x, y, source, spec.get("classes", 0), config["loss"].get("ignore_index")
    )
    stratify = y if info["task"] == "classification" else None
    try:
        splits = data.train_val_test_split(
            dataset, config["data"]["split"], stratify, config["seed"]
        )
    except ValueError as error:
        raise ConfigError(f"data.split: {error}") from None
    info["sizes"] = dict(zip(("train", "val", "test"), (len(s) for s in splits), strict=False))
    return splits, info


def make_loaders(splits: tuple, config: dict) -> dict:
    size, seed = config["data"]["batch_size"], config["seed"]
    train_split, val_split, test_split = splits
    loaders = {"train": data.DataLoader(train_split, size, shuffle=True, seed=seed)}
    for name, split in (("val", val_split), ("test", test_split)):
        loaders[name] = data.DataLoader(split, size) if len(split) else None
    return loaders


def build_model(spec: dict, info: dict) -> Any:
    arch = spec["arch"]
    if spec["layers"]:
        if arch not in ("auto", "layers"):
            raise ConfigError(
                f"model: give either model.arch = {arch!r} or [[model.layers]], not both"
            )
        layers = [_layer(i, dict(table)) for i, table in enumerate(spec["layers"])]
        return nn.Sequential(*layers)
    if arch == "layers":
        raise ConfigError("model.arch = 'layers' needs a list of [[model.layers]] tables")
    if arch == "auto" and info["task"] == "language-model":
        arch = "transformer-lm"
    if arch == "auto":
        arch = "cnn" if len(info["input_shape"]) == 3 else "mlp"
    options = {
        "mlp": ("hidden", "activation", "dropout"),
        "resnet-small": ("channels",),
        "cnn": ("channels", "hidden", "activation", "dropout"),
        "transformer-lm": LANGUAGE_MODEL_KEYS,
    }[arch]
    try:
        return ARCHITECTURES[arch](
            info["input_shape"], info["outputs"], **{k: spec[k] for k in options}
        )
    except ValueError as error:
        raise ConfigError(f"model.arch = {arch!r}: {error}") from None


LANGUAGE_MODEL_KEYS = ("d_model", "nhead", "num_layers", "block_size", "dim_feedforward", "dropout")


def _layer(index: int, table: dict) -> Any:
    where = f"model.layers[{index}]"
    if "type" not in table:
        raise ConfigError(f"{where} needs a 'type' key, e.g. type = \"Linear\"")
    name = table.pop("type")
    cls = find_class(nn, name, where + ".type", base=nn.Module)
    return construct(cls, table, where)


def build_loss(spec: dict, info: dict) -> Any:
    spec = dict(spec)
    name = spec.pop("name")
    if name in ("auto", "TokenCrossEntropyLoss") and info["task"] == "language-model":
        return construct(TokenCrossEntropyLoss, spec, "loss")  # over every position
    if name == "auto":
        name = "CrossEntropyLoss" if info["task"] == "classification" else "MSELoss"
    return construct(find_class(nn, name, "loss.name", base=nn.Module), spec, "loss")


def build_metrics(names: list[str], info: dict) -> list:
    if names == ["auto"]:
        names = ["accuracy"] if info["task"] == "classification" else ["mae", "r2"]
        names = ["perplexity", "accuracy"] if info["task"] == "language-model" else names
    for name in names:
        if name not in _accumulators.METRIC_NAMES:
            hint = did_you_mean(name, _accumulators.METRIC_NAMES)
            raise ConfigError(
                f"train.metrics: unknown metric {name!r}.{hint} Valid: "
                f"{', '.join(_accumulators.METRIC_NAMES)}"
            )
    return list(names)


def build_optimizer(spec: dict, model: Any) -> Any:
    spec = dict(spec)
    cls = find_class(optim, spec.pop("name"), "optimizer.name", base=optim.Optimizer)
    return construct(cls, spec, "optimizer", model.parameters())


def build_scheduler(spec: dict, optimizer: Any) -> Any:
    spec = {k: v for k, v in spec.items() if k not in ("interval", "monitor")}
    name = spec.pop("name")
    if not name:
        if spec:
            raise ConfigError(f"scheduler: arguments {sorted(spec)} given without scheduler.name")
        return None
    cls = find_class(optim.lr_scheduler, name, "scheduler.name")
    return construct(cls, spec, "scheduler", optimizer)


def build_callbacks(spec: dict) -> list:
    """TerminateOnNaN and EarlyStopping from [callbacks] ([callbacks.monitor] is the CLI's)."""
    made = []
    if spec["terminate_on_nan"]:
        made.append(callbacks.TerminateOnNaN())
    stopping = dict(spec["early_stopping"])
    if stopping.pop("enabled"):
        made.append(callbacks.EarlyStopping(**stopping))
    if spec.get("tensorboard", {}).get("enabled"):
        made.append(_tensorboard_logger(spec["tensorboard"]))
    return made


def _tensorboard_logger(spec: dict) -> Any:
    """The TensorBoardLogger of [callbacks.tensorboard]; a missing package is a ConfigError."""
    for key in ("histogram_freq", "update_freq"):
        if spec[key] < 0:
            raise ConfigError(f"callbacks.tensorboard.{key} = {spec[key]} must be 0 or more")
    try:
        return TensorBoardLogger(
            spec["log_dir"] or None,
            histogram_freq=spec["histogram_freq"],
            update_freq=spec["update_freq"] or "epoch",
            doctor=spec["doctor"],
        )
    except ImportError as error:
        raise ConfigError(f"[callbacks.tensorboard]: {error}") from None


def find_class(namespace: Any, name: str, key: str, base: type | None = None) -> type:
    """The public class `name` in a module (case-insensitive), or a ConfigError listing them."""
    classes = {
        n: c
        for n, c in vars(namespace).items()
        if isinstance(c, type) and not n.startswith("_") and (base is None or issubclass(c, base))
    }
    if name in classes:
        return classes[name]
    by_lower = {n.lower(): c for n, c in classes.items()}
    if name.lower() in by_lower:
        return by_lower[name.lower()]
    hint = did_you_mean(name, list(classes), cutoff=0.5)
    raise ConfigError(
        f"{key} = {name!r} is not a class in {namespace.__name__}.{hint} "
        f"Valid: {', '.join(sorted(classes))}"
    )


def construct(cls: type, kwargs: dict, where: str, *leading: Any) -> Any:
    """`cls(*leading, **kwargs)` with every keyword checked against the signature first."""
    parameters = dict(list(inspect.signature(cls).parameters.items())[len(leading) :])
    takes_any = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
    named = [n for n, p in parameters.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    for key, value in kwargs.items():
        if key not in parameters and not takes_any:
            hint = did_you_mean(key, named)
            raise ConfigError(
                f"unknown key '{where}.{key}' for {cls.__name__}.{hint} "
                f"Valid keys: {', '.join(named) or 'none'}"
            )
        if key in parameters:
            _check_argument(f"{where}.{key}", value, parameters[key])
    try:
        return cls(*leading, **kwargs)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"[{where}] {cls.__name__}: {error}") from None


_KINDS = {
    "bool": ("true or false", lambda v: isinstance(v, bool)),
    "int": ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    "float": ("a number", lambda v: isinstance(v, int | float) and not isinstance(v, bool)),
    "str": ("a string", lambda v: isinstance(v, str)),
}


def _check_argument(key: str, value: Any, parameter: inspect.Parameter) -> None:
    """Reject a value that cannot have the type the signature promises.

    NOTE: the annotation decides when it is a plain bool/int/float/str; else a bool
    or str default does (a numeric default is no guide: torch writes momentum=0).
    """
    annotation = parameter.annotation
    name = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    if name not in _KINDS and isinstance(parameter.default, bool | str):
        name = type(parameter.default).__name__
    if name in _KINDS and not _KINDS[name][1](value):
        raise ConfigError(
            f"{key} = {value!r} has type {type(value).__name__}; expected {_KINDS[name][0]}"
        )


def make_trainer(session: Session, run_dir: Any = None, progress: bool = False) -> Trainer:
    """The Trainer of a session; with a run folder, checkpoints as [callbacks.checkpoint] says."""
    config = session.config
    made = list(session.callbacks)
    if run_dir is not None:
        spec = config["callbacks"]["checkpoint"]
        made.append(
            ModelCheckpoint(
                Path(run_dir) / "checkpoints",
                monitor=spec["monitor"],
                mode=spec["mode"],
                save_best_only=spec["save_best_only"],
                every_n_batches=spec["every_n_batches"] or None,
                safetensors=spec.get("safetensors", False),
            )
        )
    return Trainer(
        session.model,
        session.optimizer,
        session.loss,
        metrics=session.metrics,
        callbacks=made,
        scheduler=session.scheduler,
        run_dir=run_dir,
        batch_size=config["data"]["batch_size"],
        progress=progress,
        scheduler_interval=config["scheduler"]["interval"],
        scheduler_monitor=config["scheduler"]["monitor"],
    )


def write_run_files(run: RunFolder, config: dict, info: dict, source: Any = None) -> None:
    """config.json, config.toml (a copy of `source`), seeds.json and data.json."""
    run.write_json("config.json", config)
    if source:
        shutil.copyfile(source, run.path / "config.toml")
    run.write_json(
        "seeds.json",
        {"seed": config["seed"], "split_seed": config["seed"], "loader_seed": config["seed"]},
    )
    run.write_json("data.json", info)
