"""`gradwork train | evaluate | predict`: read the inputs, call the library, report.

`gradwork report` lives in _report.py.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from gradwork import data, train
from gradwork.cli._build import build
from gradwork.train.build import (
    Session,
    load_splits,
    make_loaders,
    make_trainer,
    npz_dataset,
    write_run_files,
)
from gradwork.train.config import ConfigError, load_toml, resolve

INTERRUPTED = 130  # the shell's code for "stopped by Ctrl-C"


def train_command(args: Any) -> int:
    """Validate and build everything, then create the run folder, fit, and test once."""
    if args.resume:
        run_path, config = _resumed_config(args)
    else:
        user = load_toml(args.config) if args.config else {}
        config = resolve(_with_overrides(user, args))
        run_path = None

    session = build(config)  # every ConfigError happens before anything is written
    _check_monitors(config, session)
    if run_path is None:
        run = train.RunFolder.create(config["output"], config["name"])

        write_run_files(run, config, session.info, args.config)
    else:
        run = train.RunFolder(run_path)

    trainer = make_trainer(session, run.path, progress=config["train"]["progress"])
    if args.resume:
        trainer.resume(_checkpoint(run.path, "last"))
        print(f"resuming {run.path} at epoch {trainer.epoch + 1}, batch {trainer.batch}")
    loaders = session.loaders
    try:
        trainer.fit(loaders["train"], loaders["val"], epochs=config["train"]["epochs"])
    except KeyboardInterrupt:
        _report_interrupt(trainer, run.path)
        return INTERRUPTED
    if loaders["test"] is not None and not trainer.tests:
        _print_metrics("test", trainer.test(loaders["test"]))
    elif trainer.tests:
        print("test set already evaluated in this run (see tests.json); not evaluated again")
    print(f"run folder: {run.path}")
    return 0


def _check_monitors(config: dict, session: Session) -> None:
    if session.loaders["val"] is not None:
        return
    for key in ("early_stopping", "checkpoint"):
        spec = config["callbacks"][key]
        if spec["monitor"].startswith("val_") and spec.get("enabled", True):
            raise ConfigError(
                f"callbacks.{key}.monitor = {spec['monitor']!r} needs validation data, but "
                f"data.split = {config['data']['split']} leaves none; monitor 'loss' instead"
            )


def _with_overrides(user: dict, args: Any) -> dict:
    user = json.loads(json.dumps(user))  # a deep copy of plain TOML data
    if args.epochs is not None:
        user.setdefault("train", {})["epochs"] = args.epochs
    if args.output is not None:
        user["output"] = args.output
    return user


def _resumed_config(args: Any) -> tuple[Path, dict]:
    run_path = Path(args.resume)
    if args.config:
        raise ConfigError("give either a CONFIG file or --resume RUN_DIR, not both")
    if not (run_path / "config.json").is_file():
        raise ConfigError(f"--resume: not a run folder (no config.json): {str(run_path)!r}")
    _checkpoint(run_path, "last")
    config = json.loads((run_path / "config.json").read_text())
    if args.epochs is not None:
        config["train"]["epochs"] = args.epochs
    return run_path, resolve(config)


def _report_interrupt(trainer: train.Trainer, run_path: Path) -> None:
    if trainer.interrupt_checkpoint is None:
        print("\ninterrupted; no exact checkpoint could be saved", file=sys.stderr)
        return
    print(
        f"\ninterrupted at epoch {trainer.epoch + 1}, batch {trainer.batch}; checkpoint saved "
        f"to {trainer.interrupt_checkpoint}\nresume with: gradwork train --resume {run_path}",
        file=sys.stderr,
    )


def _checkpoint(run_path: Path, which: str) -> Path:
    path = Path(run_path) / "checkpoints" / f"{which}.npz"
    if not path.is_file():
        raise ConfigError(f"no {which} checkpoint in the run folder: {str(path)!r} is missing")
    return path


def read_run_config(run_dir: str) -> tuple[Path, dict]:
    """A run folder's path and its resolved config.json; ConfigError if it is not one."""
    run_path = Path(run_dir)
    if not run_path.is_dir():
        what = "not a folder" if run_path.exists() else "no such folder"
        raise ConfigError(f"{what}: {str(run_path)!r}; give the path of a run folder")
    if not (run_path / "config.json").is_file():
        raise ConfigError(
            f"not a run folder (no config.json): {str(run_path)!r}; run folders are made by "
            "'gradwork train' inside its output folder (runs/ by default)"
        )
    try:
        return run_path, resolve(json.loads((run_path / "config.json").read_text()))
    except json.JSONDecodeError as error:
        raise ConfigError(f"{run_path / 'config.json'} is not valid JSON: {error}") from None


def _load_run(run_dir: str, which: str) -> tuple[Session, train.Trainer, Path]:
    """The run's config and model, with the chosen checkpoint's weights loaded."""
    run_path, config = read_run_config(run_dir)
    info = json.loads((run_path / "data.json").read_text())

    session = build(config, with_data=False, info=info)
    state = train.load_checkpoint(_checkpoint(run_path, which))
    session.model.load_state_dict(state["model"])
    trainer = train.Trainer(
        session.model,
        session.optimizer,
        session.loss,
        metrics=session.metrics,
        batch_size=config["data"]["batch_size"],
    )
    trainer.epoch = int(state["position"]["epoch"])  # the epochs behind these weights
    return session, trainer, run_path


def evaluate_command(args: Any) -> int:
    """Evaluate a run's checkpoint on a split (train, val, test) or an .npz file (x, y)."""
    session, trainer, run_path = _load_run(args.run_dir, args.checkpoint)
    if args.data in ("train", "val", "test"):
        loaders = make_loaders(load_splits(session.config)[0], session.config)
        loader = loaders[args.data]
        if loader is None:
            raise ConfigError(f"--data {args.data}: this run has an empty {args.data} split")
    else:
        if not Path(args.data).is_file():
            raise ConfigError(f"--data: file not found: {args.data!r}")
        loader = data.DataLoader(npz_dataset(args.data), session.config["data"]["batch_size"])
    if args.data == "test":
        sealed = train.Trainer(
            trainer.model,
            trainer.optimizer,
            trainer.loss_fn,
            metrics=session.metrics,
            run_dir=run_path,
        )
        sealed.epoch = trainer.epoch  # recorded in tests.json with the evaluation
        try:
            result = sealed.test(loader, force=args.force)
        except RuntimeError as error:
            raise ConfigError(str(error).replace("force=True", "--force")) from None
    else:
        result = trainer.evaluate(loader)
    _print_metrics(args.data, result)
    return 0


def predict_command(args: Any) -> int:
    """Predict for the samples in an .npy file; print them or write them to --output."""
    session, trainer, _ = _load_run(args.run_dir, args.checkpoint)
    path = Path(args.input)
    if not path.is_file():
        raise ConfigError(f"INPUT file not found: {str(path)!r}")
    try:
        samples = np.load(path, allow_pickle=False).astype(np.float32)
    except ValueError as error:
        raise ConfigError(f"INPUT {str(path)!r} is not a NumPy .npy array: {error}") from None
    expected = tuple(session.info["input_shape"])
    if samples.shape == expected:
        samples = samples[None]  # one sample without its batch axis
    if samples.shape[1:] != expected:
        raise ConfigError(
            f"INPUT has samples of shape {samples.shape[1:]}, the model expects {expected} "
            f"(an array of shape (N, {', '.join(map(str, expected))}))"
        )
    outputs = trainer.predict(samples).numpy()
    result = outputs.argmax(axis=1) if session.info["task"] == "classification" else outputs
    if args.output:
        np.save(args.output, result)
        print(f"wrote {len(result)} predictions to {args.output}")
    else:
        for row in result:
            print(row if np.ndim(row) == 0 else " ".join(f"{v:.6g}" for v in np.ravel(row)))
    return 0


def _print_metrics(split: str, metrics: dict) -> None:
    parts = [f"{k} {v:.4f}" for k, v in metrics.items() if isinstance(v, float)]
    print(f"{split}: " + "  ".join(parts))
