"""`gradwork train | evaluate | predict`: read the inputs, call the library, report.

`gradwork report` lives in _report.py.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

from gradwork import data, train
from gradwork.cli import _launch
from gradwork.cli._build import build
from gradwork.serialization import FileFormatError
from gradwork.train import preflight
from gradwork.train.build import (
    Session,
    load_splits,
    make_loaders,
    make_trainer,
    npz_dataset,
)
from gradwork.train.config import ConfigError, load_toml, resolve
from gradwork.train.devices import resolve_device, to_host

INTERRUPTED = 130  # the shell's code for "stopped by Ctrl-C"
DIVERGED = 1  # training produced NaN/Inf: nothing tested


def train_command(args: Any) -> int:
    """Validate and build everything, dry-run one batch, then create the run folder and fit.

    After training, the sealed test set is evaluated once on the weights `evaluate`
    and `predict` use (checkpoints/best.npz), and never on a diverged model: that
    stops with exit code 1, keeping the last good checkpoint.
    """
    if getattr(args, "device", None):
        resolve_device(args.device, key="--device")  # no CUDA: exit 2 with the way to get it
    if args.resume:
        run_path, config = _resumed_config(args)
    else:
        user = load_toml(args.config) if args.config else {}
        config = resolve(_with_overrides(user, args))
        run_path = None
    _cpu_when_distributed(config)

    session = build(config)  # every ConfigError happens before anything is written
    _check_monitors(config, session)
    preflight.dry_run(session, session.loaders["train"].dataset, config)
    if run_path is None:
        run = _launch.create_run(config, session.info, args.config)  # rank 0 writes it
    else:
        _launch.check_resume(run_path)  # on as many processes as it was trained on
        run = train.RunFolder(run_path)
        run.remove_temporaries()  # what a killed write left behind

    trainer = make_trainer(session, run.path, progress=config["train"]["progress"])
    _launch.distribute(trainer, session)  # under MPI: DDP and a DistributedSampler
    if args.resume:
        _resume(trainer, _checkpoint(run.path, "last"))
        print(f"resuming {run.path} at epoch {trainer.epoch + 1}, batch {trainer.batch}")
    loaders = session.loaders
    try:
        trainer.fit(loaders["train"], loaders["val"], epochs=config["train"]["epochs"])
    except KeyboardInterrupt:
        _report_interrupt(trainer, run.path)
        return INTERRUPTED
    if not _launch.is_writer():
        return 0  # rank 0 checks, tests and reports
    _report_early_stop(trainer)
    problem = _divergence(trainer)
    if problem:
        code = _stop_diverged(run, problem)
        _write_report(run)  # its curves and the doctor help most when training went wrong
        return code
    if loaders["test"] is not None and not trainer.tests:
        _test_once(session, run, loaders["test"])
    elif trainer.tests:
        print("test set already evaluated in this run (see tests.json); not evaluated again")
    _write_report(run)
    print(f"run folder: {run.path}")
    return 0


def _cpu_when_distributed(config: dict) -> None:
    """Several ranks (--nproc) train on the CPU: DDP's gradient reducer is host memory.

    "auto" then means the CPU (config.json says so); "cuda" is refused before
    anything is written.
    """
    if _launch.world_size() == 1 or resolve_device(config["train"]["device"]) == "cpu":
        return
    if config["train"]["device"] == "auto":
        config["train"]["device"] = "cpu"
        return
    raise ConfigError(
        'train.device = "cuda" with several processes (--nproc): data-parallel training '
        'runs on the CPU only in this version; use --device cpu (or "auto")'
    )


def _write_report(run: train.RunFolder) -> None:
    from gradwork.cli._html_report import report_at_end  # it imports this module

    report_at_end(run.path)


def _resume(trainer: train.Trainer, path: Path) -> None:
    try:
        trainer.resume(path)
    except FileFormatError as error:
        raise ConfigError(str(error)) from None
    except (KeyError, TypeError, ValueError, IndexError, RuntimeError) as error:
        raise ConfigError(
            f"{str(path)!r} does not fit this run's model and optimizer ({type(error).__name__}: "
            f"{error}); it is damaged or from another run"
        ) from None


def _report_early_stop(trainer: train.Trainer) -> None:
    for callback in trainer.callbacks.callbacks:
        if isinstance(callback, train.EarlyStopping) and callback.stopped_epoch >= 0:
            restored = "; the best epoch's weights restored" if callback.best_weights else ""
            print(
                f"early stopping: {callback.monitor} did not improve for {callback.patience} "
                f"epoch(s); stopped after epoch {callback.stopped_epoch + 1} of "
                f"{trainer.epochs} (best {callback.best:.4g} at epoch "
                f"{callback.best_epoch + 1}){restored}"
            )


def _divergence(trainer: train.Trainer) -> str | None:
    """Why the model is unfit to test (NaN/Inf loss or weights), or None."""
    for callback in trainer.callbacks.callbacks:
        if isinstance(callback, train.TerminateOnNaN) and callback.message:
            reason = callback.message.split(" Stopping.")[0]
            return reason.removeprefix("TerminateOnNaN: ").rstrip(".")
    losses = trainer.history.history.get("loss", [])
    if losses and not math.isfinite(losses[-1]):
        return f"the training loss of epoch {len(losses)} is {losses[-1]}"
    bad = [name for name, value in trainer.model.state_dict().items() if not _finite(value)]
    if bad:
        return f"the model's {', '.join(bad[:3])} hold NaN or Inf"
    return None


def _stop_diverged(run: train.RunFolder, problem: str) -> int:
    kept = [p.name for p in (run.best_checkpoint, run.last_checkpoint) if p.is_file()]
    keeping = (
        f"the last good checkpoints are kept ({', '.join(kept)})"
        if kept
        else "no epoch finished before it, so there is no checkpoint"
    )
    message = (
        f"training diverged: {problem}. The sealed test set was not evaluated; {keeping}. "
        "Usual fixes: lower optimizer.lr, standardise the inputs, clip gradients"
    )
    run.update_summary(status="diverged", message=message)
    print(f"gradwork train: {message}\nrun folder: {run.path}", file=sys.stderr)
    return DIVERGED


def _test_once(session: Session, run: train.RunFolder, loader: Any) -> None:
    """Test the weights `evaluate` and `predict` use by default: best.npz (else last.npz)."""
    which = "best" if run.best_checkpoint.is_file() else "last"
    path = _checkpoint(run.path, which)
    state = _read_checkpoint(path)
    session.model.load_state_dict(state["model"])
    tester = train.Trainer(
        session.model,
        session.optimizer,
        session.loss,
        metrics=session.metrics,
        run_dir=run.path,
        batch_size=session.config["data"]["batch_size"],
    )
    tester.epoch = int(state["position"]["epoch"])  # recorded in tests.json
    result = tester.test(loader)
    _print_metrics("test", result)
    from gradwork.cli._html_report import record_test_interval  # it imports this module

    record_test_interval(tester, session, loader, run)
    print(f"  (the {which} checkpoint, checkpoints/{which}.npz after epoch {tester.epoch}: "
          "the weights 'evaluate' and 'predict' use)")  # fmt: skip


def _finite(value: Any) -> bool:
    array = to_host(value)  # an explicit copy off the GPU
    return array.dtype.kind not in "fc" or bool(np.isfinite(array).all())


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
    if getattr(args, "device", None):
        user.setdefault("train", {})["device"] = args.device
    return user


def _resumed_config(args: Any) -> tuple[Path, dict]:
    run_path = Path(args.resume)
    if args.config:
        raise ConfigError("give either a CONFIG file or --resume RUN_DIR, not both")
    if not (run_path / "config.json").is_file():
        raise ConfigError(f"--resume: not a run folder (no config.json): {str(run_path)!r}")
    _checkpoint(run_path, "last")
    run_path, config = read_run_config(str(run_path))
    if args.epochs is not None:
        config["train"]["epochs"] = args.epochs
    if getattr(args, "device", None):
        config["train"]["device"] = args.device  # a checkpoint loads on either device
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
    path = run_path / "config.json"
    try:
        config = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConfigError(f"{path} is not valid JSON: {error}") from None
    if not isinstance(config, dict):
        raise ConfigError(f"{str(path)!r} holds {type(config).__name__}, not a run config")
    try:
        return run_path, resolve(config)
    except ConfigError as error:
        raise ConfigError(f"{str(path)!r} is not a valid run config: {error}") from None


def _load_run(run_dir: str, which: str, device: str | None = None) -> tuple:
    """The run's config and model, with the chosen checkpoint's weights loaded.

    The model goes to `device` ("auto" when None: the GPU if there is one), not to
    the device the run trained on: checkpoints hold host arrays and load on either.
    """
    run_path, config = read_run_config(run_dir)
    config["train"]["device"] = resolve_device(device or "auto", key="--device")
    info = train.RunFolder(run_path).read_json("data.json")
    if not isinstance(info, dict) or not {"task", "input_shape", "outputs"} <= set(info):
        raise ConfigError(
            f"{str(run_path / 'data.json')!r} is missing or damaged (it must hold task, "
            "input_shape and outputs); the run folder cannot be used"
        )

    session = build(config, with_data=False, info=info)
    path = _checkpoint(run_path, which)
    state = _read_checkpoint(path)
    try:
        session.model.load_state_dict(state["model"])
        epoch = int(state["position"]["epoch"])  # the epochs behind these weights
    except (KeyError, TypeError, ValueError, IndexError, RuntimeError) as error:
        raise ConfigError(
            f"{str(path)!r} does not fit this run's model ({type(error).__name__}: {error}); "
            "it is damaged or from another run"
        ) from None
    bad = [name for name, value in state["model"].items() if not _finite(value)]
    if bad:
        raise ConfigError(
            f"{str(path)!r} holds NaN or Inf weights ({', '.join(bad[:3])}): the model "
            "diverged; use --checkpoint best, or train again with a lower learning rate"
        )
    trainer = train.Trainer(
        session.model,
        session.optimizer,
        session.loss,
        metrics=session.metrics,
        batch_size=config["data"]["batch_size"],
    )
    trainer.epoch = epoch
    return session, trainer, run_path


def _read_checkpoint(path: Path) -> dict:
    """A checkpoint's state; any malformed file is one ConfigError naming it."""
    try:
        state = train.load_checkpoint(path)
    except FileFormatError as error:
        raise ConfigError(str(error)) from None
    except Exception as error:  # noqa: BLE001 - a malformed file, whatever broke on it
        raise ConfigError(
            f"{str(path)!r} is not a readable gradwork checkpoint ({type(error).__name__}: "
            f"{error}); it is truncated or damaged"
        ) from None
    if not isinstance(state, dict) or not isinstance(state.get("model"), dict):
        raise ConfigError(f"{str(path)!r} is a gradwork file but not a training checkpoint")
    return state


def evaluate_command(args: Any) -> int:
    """Evaluate a run's checkpoint on a split (train, val, test) or an .npz file (x, y)."""
    session, trainer, run_path = _load_run(args.run_dir, args.checkpoint, args.device)
    if args.data in ("train", "val", "test"):
        loaders = make_loaders(load_splits(session.config)[0], session.config)
        loader = loaders[args.data]
        if loader is None:
            raise ConfigError(f"--data {args.data}: this run has an empty {args.data} split")
    else:
        loader = data.DataLoader(_npz_for(args.data, session), session.config["data"]["batch_size"])
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
    session, trainer, _ = _load_run(args.run_dir, args.checkpoint, args.device)
    path = Path(args.input)
    if not path.is_file():
        raise ConfigError(f"INPUT file not found: {str(path)!r}")
    with open(path, "rb") as stream:
        start = stream.read(6)
    if start != b"\x93NUMPY":  # NOTE: else np.load would take it for a pickle
        kind = "an .npz archive" if start.startswith(b"PK") else "not a NumPy .npy file"
        raise ConfigError(
            f"INPUT {str(path)!r} is {kind} (it starts with {start!r}); predict reads one "
            "array of samples saved with np.save(path, x)"
        )
    try:
        samples = np.load(path, allow_pickle=False)
        if not isinstance(samples, np.ndarray) or samples.dtype.kind not in "biuf":
            raise ValueError(f"it holds {getattr(samples, 'dtype', type(samples).__name__)}")
        with np.errstate(over="ignore"):
            samples = samples.astype(np.float32)
    except Exception as error:  # noqa: BLE001 - any unreadable file is the same bad input
        raise ConfigError(
            f"INPUT {str(path)!r} is not a NumPy .npy array of numbers ({error}); save one "
            "with np.save(path, x)"
        ) from None
    if not np.isfinite(samples).all():
        where = tuple(int(i) for i in np.argwhere(~np.isfinite(samples))[0])
        raise ConfigError(
            f"INPUT {str(path)!r} holds NaN or Inf (first at index {where}); a prediction "
            "for it would mean nothing: remove or impute those samples"
        )
    expected = tuple(session.info["input_shape"])
    if samples.shape == expected:
        samples = samples[None]  # one sample without its batch axis
    if samples.ndim == 0 or samples.shape[1:] != expected or len(samples) == 0:
        shape = f"(N, {', '.join(map(str, expected))})"
        raise ConfigError(
            f"INPUT {str(path)!r} has shape {samples.shape}: "
            + (
                "no samples"
                if samples.ndim and not len(samples)
                else f"samples of shape {samples.shape[1:]}"
            )  # fmt: skip
            + f"; the model expects {expected} per sample (an array of shape {shape})"
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


def _npz_for(path: str, session: Session) -> Any:
    """The x, y of an .npz for `evaluate --data FILE`, checked against the run's model."""
    if not Path(path).is_file():
        raise ConfigError(f"--data: file not found: {path!r}")
    try:
        dataset = npz_dataset(path)
    except ValueError as error:
        raise ConfigError(f"--data: {error}") from None
    x, y = (np.asarray(t.array) for t in dataset.tensors[:2])
    info = session.info
    found = preflight.describe_data(x, y, f"--data {path!r}", classes=info["outputs"]
                                    if info["task"] == "classification" else 0)  # fmt: skip
    if found["task"] != info["task"] or found["input_shape"] != list(info["input_shape"]):
        raise ConfigError(
            f"--data {path!r}: a {found['task']} set with samples of shape "
            f"{tuple(found['input_shape'])}; this run's model is for {info['task']} on "
            f"samples of shape {tuple(info['input_shape'])}"
        )
    return dataset


def _print_metrics(split: str, metrics: dict) -> None:
    parts = [f"{k} {v:.4f}" for k, v in metrics.items() if isinstance(v, float)]
    print(f"{split}: " + "  ".join(parts))
