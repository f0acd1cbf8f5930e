"""The `gradwork` command line: parse, load TOML, call the library.

    gradwork train [CONFIG.toml] [--epochs N] [--output DIR] [--nproc N] [--device cpu|cuda|auto]
    gradwork train --resume RUN_DIR [--device cpu|cuda|auto]
    gradwork evaluate RUN_DIR [--data val|test|train|FILE.npz] [--checkpoint best|last] [--force]
    gradwork predict RUN_DIR INPUT.npy [--output FILE.npy]
    (evaluate and predict take --device too; checkpoints load on either device)
    gradwork report RUN_DIR [--doctor] [--html]     (RUN_DIR or a study folder)
    gradwork tune CONFIG.toml [--n-trials N] [--output DIR]
    gradwork tune --resume STUDY_DIR [--n-trials N]
    gradwork lr-find [CONFIG.toml] [--plot FILE]    gradwork diff RUN_A RUN_B [--plot FILE]
    gradwork train [CONFIG.toml] --check-determinism [--steps N]
    gradwork --version                (also: python -m gradwork ...)

Exit codes: 0 success, 1 training diverged (NaN/Inf; nothing tested, the last good
checkpoint kept), 2 bad input (nothing written), 130 interrupted (resumable).
"""

from __future__ import annotations

import argparse
import sys

from gradwork.cli._diagnose_parsers import add_diagnose_commands
from gradwork.serialization import FileFormatError
from gradwork.train.config import ConfigError

USAGE_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gradwork",
        description="Train, evaluate and use gradwork models from TOML configurations.",
    )
    parser.add_argument("--version", action="version", version=f"gradwork {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    fit = commands.add_parser("train", help="train from a TOML config (default: CNN on digits)")
    fit.add_argument("config", nargs="?", help="TOML file; omit for the built-in digits CNN")
    fit.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its last checkpoint")
    fit.add_argument("--epochs", type=int, help="override train.epochs")
    fit.add_argument("--output", help="override output (the folder that holds run folders)")
    fit.add_argument(
        "--nproc", type=int, metavar="N", help="train on N processes over MPI (gradwork[mpi])"
    )
    fit.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        help='override train.device (cuda needs CuPy: pip install "gradwork[cuda12]")',
    )
    evaluate = commands.add_parser("evaluate", help="evaluate a run's checkpoint")
    evaluate.add_argument("run_dir", metavar="RUN_DIR")
    evaluate.add_argument("--data", default="val", help="train, val, test, or an .npz with x, y")
    evaluate.add_argument("--checkpoint", choices=("best", "last"), default="best")
    evaluate.add_argument("--force", action="store_true", help="re-open the sealed test set")
    evaluate.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        help="where to run the model (default: auto, whatever the run trained on)",
    )
    predict = commands.add_parser("predict", help="predict for samples in an .npy file")
    predict.add_argument("run_dir", metavar="RUN_DIR")
    predict.add_argument("input", metavar="INPUT", help=".npy array of samples")
    predict.add_argument("--output", help="write predictions to this .npy file")
    predict.add_argument("--checkpoint", choices=("best", "last"), default="best")
    predict.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        help="where to run the model (default: auto, whatever the run trained on)",
    )
    report = commands.add_parser("report", help="summarise a run folder")
    report.add_argument("run_dir", metavar="RUN_DIR")
    report.add_argument(
        "--doctor", action="store_true", help="also run gradwork.diagnose.doctor on the setup"
    )
    report.add_argument(
        "--html", action="store_true", help="write DIR/report.html (pictures embedded) instead"
    )
    tune = commands.add_parser(
        "tune", help="search a training config ([tune] section), retrain the best, test once"
    )
    tune.add_argument("config", nargs="?", help="TOML file: a training config plus [tune]")
    tune.add_argument("--resume", metavar="STUDY_DIR", help="continue a study from its journal")
    tune.add_argument("--n-trials", type=int, help="override tune.n_trials")
    tune.add_argument("--output", help="override output (the folder that holds study folders)")
    add_diagnose_commands(commands, fit)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (0, 2 for bad input, 130 on Ctrl-C)."""
    args = build_parser().parse_args(argv)
    from gradwork.cli import _commands, _launch, _report, _tune  # nn/optim/data: when one runs
    from gradwork.cli import _diagnose_commands as _diagnose

    handlers = {
        "train": _commands.train_command,
        "evaluate": _commands.evaluate_command,
        "predict": _commands.predict_command,
        "report": _report.report_command,
        "tune": _tune.tune_command,
        "lr-find": _diagnose.lr_find_command,
        "diff": _diagnose.diff_command,
    }
    try:
        if args.command == "train" and args.check_determinism:
            return _diagnose.determinism_command(args)
        if args.command == "train":  # --nproc N starts N ranks; a rank joins the others
            launched = _launch.launch_or_join(args, sys.argv[1:] if argv is None else argv)
            if launched is not None:
                return launched
        return handlers[args.command](args)
    except (ConfigError, FileFormatError) as error:  # a bad file is bad input too
        print(f"gradwork {args.command}: error: {error}", file=sys.stderr)
        return USAGE_ERROR


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("gradwork")
    except metadata.PackageNotFoundError:  # run from a source tree that is not installed
        return "(not installed)"
