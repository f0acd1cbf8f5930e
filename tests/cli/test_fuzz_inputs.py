"""Fuzzing the command line and the readers with bad input (issue 17).

Hypothesis generates configs (valid and broken), .npz data (wrong shapes and
dtypes, NaN, Inf, huge values, stray labels, damaged bytes), IDX files and
checkpoints (truncated, bytes flipped, random), and runs them through
`gradwork train / evaluate / predict` in this process and through the Python
readers. What must hold for every input:

- the command returns 0, 2, or 1 for a run that diverged (saying so) — an
  exception escaping `main` (a traceback on a terminal) fails the test;
- exit 2 leaves nothing behind: no output folder, no changed run folder;
- exit 0 leaves a finished run: summary.json "completed", checkpoints, the test
  evaluated once when there is a test split;
- a reader either returns or raises its one documented error naming the file.

In CI each test draws GRADWORK_FUZZ_EXAMPLES examples (default 12, derandomized).
The long mode, on demand:

    GRADWORK_FUZZ_EXAMPLES=300 GRADWORK_FUZZ_RANDOM=1 python -m pytest tests/cli/test_fuzz_inputs.py
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import gradwork as gw
from gradwork import train
from gradwork.cli._toml import dumps
from gradwork.data import read_idx, write_idx
from gradwork.serialization import FileFormatError
from gradwork.train.build import npz_dataset
from tests.cli.bad_inputs import config_text, only_run, run_cli, tiny_arrays, write_config

EXAMPLES = int(os.environ.get("GRADWORK_FUZZ_EXAMPLES", "12"))
RANDOM = os.environ.get("GRADWORK_FUZZ_RANDOM", "") == "1"

fuzz = settings(
    max_examples=EXAMPLES,
    derandomize=not RANDOM,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
    suppress_health_check=list(HealthCheck),
    **({} if RANDOM else {"database": None}),
)


# ------------------------------------------------------------------ invariants
def check_train_outcome(code: int, out: str, err: str, output: Path) -> None:
    """The contract of `gradwork train` on any input."""
    assert code in (0, 1, 2), (code, out, err)
    assert "Traceback" not in out + err
    if code == 2:
        assert err.startswith("gradwork train: error: "), err
        assert not output.exists() or not any(output.iterdir()), "exit 2 wrote files"
        return
    run = only_run(output)
    summary = json.loads((run / "summary.json").read_text())
    if code == 1:
        assert "training diverged" in err and summary["status"] == "diverged", err
        assert not (run / "tests.json").exists(), "a diverged model was tested"
        return
    assert summary["status"] in ("completed", "stopped"), summary
    assert (run / "checkpoints" / "last.npz").is_file() or (
        run / "checkpoints" / "best.npz"
    ).is_file()
    sizes = json.loads((run / "data.json").read_text())["sizes"]
    assert (run / "tests.json").is_file() == (sizes["test"] > 0)
    assert not list(run.rglob("*.tmp"))


def train_on(folder: Path, text: str) -> tuple[int, str, str, Path]:
    config = write_config(folder, text)
    output = folder / "runs"
    code, out, err = run_cli("train", config, "--output", output)
    return code, out, err, output


# --------------------------------------------------------------- npz data files
VALUES = st.sampled_from(
    ["normal", "nan", "inf", "-inf", "huge", "1e30", "1e300", "zeros", "ints", "tiny"]
)
X_SHAPES = st.sampled_from(["(n, 4)", "(n,)", "(n, 0)", "(0, 4)", "(n, 2, 3)", "(n, 1)"])
X_DTYPES = st.sampled_from(["float32", "float64", "int64", "uint8", "bool", "float16"])
Y_KINDS = st.sampled_from(
    ["labels", "negative", "stray-huge", "one-class", "floats", "float-nan", "2-d labels",
     "short", "bool", "uint8", "(n, 2) floats"]
)  # fmt: skip


def make_x(rng, shape: str, dtype: str, values: str, n: int) -> np.ndarray:
    dims = {"(n, 4)": (n, 4), "(n,)": (n,), "(n, 0)": (n, 0), "(0, 4)": (0, 4),
            "(n, 2, 3)": (n, 2, 3), "(n, 1)": (n, 1)}[shape]  # fmt: skip
    x = rng.normal(size=dims)
    if x.size:
        spot = tuple(rng.integers(0, d) for d in dims)
        special = {"nan": np.nan, "inf": np.inf, "-inf": -np.inf, "huge": 3e38,
                   "1e30": 1e30, "1e300": 1e300}  # fmt: skip
        if values in special:
            x[spot] = special[values]
        elif values == "zeros":
            x[...] = 0
        elif values == "ints":
            x = np.round(x * 100)
        elif values == "tiny":
            x *= 1e-30
    with np.errstate(all="ignore"):
        return x.astype(dtype)


def make_y(rng, kind: str, n: int) -> np.ndarray:
    y = rng.permutation(np.arange(n) % 3)
    if kind == "negative":
        y[rng.integers(0, n)] = -int(rng.integers(1, 1000))
    elif kind == "stray-huge":
        y[rng.integers(0, n)] = int(rng.integers(100, 10**12))
    elif kind == "one-class":
        y[...] = 0
    elif kind == "floats":
        return rng.normal(size=n).astype(np.float32)
    elif kind == "float-nan":
        z = rng.normal(size=n)
        z[rng.integers(0, n)] = np.nan
        return z
    elif kind == "2-d labels":
        return y[:, None]
    elif kind == "short":
        return y[: n // 2]
    elif kind == "bool":
        return y % 2 == 0
    elif kind == "uint8":
        return y.astype(np.uint8)
    elif kind == "(n, 2) floats":
        return rng.normal(size=(n, 2))
    return y


@fuzz
@given(
    seed=st.integers(0, 2**16),
    shape=X_SHAPES,
    dtype=X_DTYPES,
    values=VALUES,
    y_kind=Y_KINDS,
    n=st.sampled_from([1, 2, 5, 24, 40]),
    damage=st.sampled_from(["none", "none", "none", "truncate", "flip", "random"]),
)
def test_fuzz_npz_data_through_train(seed, shape, dtype, values, y_kind, n, damage):
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        path = folder / "data.npz"
        np.savez(path, x=make_x(rng, shape, dtype, values, n), y=make_y(rng, y_kind, n))
        _damage(path, damage, rng)
        code, out, err, output = train_on(folder, config_text(path, epochs=1))
        check_train_outcome(code, out, err, output)
        if code == 2:
            assert "data" in err  # the message names the key or the file
        try:
            npz_dataset(str(path))
        except ValueError as error:
            assert "data.npz" in str(error)


def _damage(path: Path, how: str, rng) -> None:
    data = bytearray(path.read_bytes())
    if how == "truncate":
        del data[int(rng.integers(0, len(data))) :]
    elif how == "flip":
        for _ in range(int(rng.integers(1, 20))):
            data[int(rng.integers(0, len(data)))] ^= int(rng.integers(1, 256))
    elif how == "random":
        data = bytearray(rng.bytes(int(rng.integers(0, 3000))))
    path.write_bytes(bytes(data))


# ---------------------------------------------------------------------- configs
VALID = {
    "name": st.sampled_from(["ok", "run-1", "über", "a b", "x.y"]),
    "data.name": st.sampled_from(["moons", "xor", "circles", "regression", "spirals"]),
    "data.n_samples": st.sampled_from([40, 60]),
    "data.batch_size": st.sampled_from([8, 16, 1000]),
    "data.split": st.sampled_from([[0.6, 0.2, 0.2], [0.8, 0.2, 0.0], [0.5, 0.25, 0.25]]),
    "model": st.sampled_from([{"arch": "mlp", "hidden": [8]}, {"arch": "mlp", "hidden": []},
                              {"arch": "mlp", "hidden": [4, 4], "dropout": 0.5}]),
    "optimizer.name": st.sampled_from(["Adam", "SGD", "RMSprop"]),
    "optimizer.lr": st.floats(1e-4, 0.5),
    "loss.name": st.sampled_from(["auto"]),
    "train.epochs": st.sampled_from([1, 2]),
    "train.metrics": st.sampled_from([["auto"]]),
}  # fmt: skip
BROKEN = {
    "name": st.one_of(st.sampled_from(["x/../../y", "..", "", "a:b", "t\x00"]), st.text()),
    "data.name": st.sampled_from(["nope", "mnist", "npz"]),
    "data.n_samples": st.sampled_from([1, 0, -3, 3]),
    "data.batch_size": st.sampled_from([0, -1]),
    "data.split": st.sampled_from([[1.0, 0.0, 0.0], [0.0, 0.5, 0.5], [0.5, 0.5], [0.7, 0.2, 0.2]]),
    "model": st.sampled_from([
        {"arch": "mlp", "hidden": [0]}, {"arch": "cnn"}, {"arch": "resnet-small"},
        {"layers": [{"type": "Linear", "in_features": 3, "out_features": 9}]},
        {"layers": [{"type": "Linear", "in_features": 2, "out_features": 1}]},
        {"layers": [{"type": "Flatten"}]}, {"arch": "mlp", "hidden": "8"},
        {"arch": "mlp", "dropout": 2.0}]),
    "optimizer.name": st.sampled_from(["Adma", "LBFGS", "Optimizer"]),
    "optimizer.lr": st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                              st.sampled_from([0.0, -1.0, 1e6, 1e300, "0.1", True])),
    "loss.name": st.sampled_from(["MSELoss", "NLLLoss", "L1Loss", "HuberLoss", "BCELoss", "x"]),
    "train.epochs": st.sampled_from([0, -1, 1.5]),
    "train.metrics": st.sampled_from([["nope"], ["r2"], ["accuracy", "mae"], []]),
}  # fmt: skip


@st.composite
def configs(draw) -> dict:
    """Run configs: about half valid, the rest with one to three fields broken."""
    broken = draw(st.sampled_from([[], [], [], *([k] for k in BROKEN)]))
    if broken and draw(st.booleans()):
        broken = broken + draw(st.lists(st.sampled_from(sorted(BROKEN)), max_size=2))
    values = {key: draw(BROKEN[key] if key in broken else strategy)
              for key, strategy in VALID.items()}  # fmt: skip
    config: dict = {"name": values["name"], "seed": draw(st.integers(0, 3)), "model": {}}
    for key, value in values.items():
        if "." in key:
            section, name = key.split(".")
            config.setdefault(section, {})[name] = value
    config["model"] = values["model"]
    config["train"]["progress"] = False
    if draw(st.integers(0, 4)) == 0:
        monitor = draw(st.sampled_from(["val_loss", "loss", "val_nope"]))
        stopping = {"patience": draw(st.integers(0, 2)), "monitor": monitor}
        config["callbacks"] = {"early_stopping": stopping}
    if draw(st.integers(0, 9)) == 0:
        config[draw(st.sampled_from(["trian", "data"]))] = {"unknown": 1}
    return config


@fuzz
@given(config=configs())
def test_fuzz_configs_through_train(config):
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        text = dumps(config)
        code, out, err, output = train_on(folder, text)
        check_train_outcome(code, out, err, output)


# ------------------------------------------------------------------ checkpoints
@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("fuzz-run")
    x, y = tiny_arrays()
    np.savez(folder / "data.npz", x=x, y=y)
    code, out, err, output = train_on(folder, config_text(folder / "data.npz", epochs=2))
    assert code == 0, out + err
    return only_run(output)


@fuzz
@given(seed=st.integers(0, 2**32 - 1), how=st.sampled_from(["truncate", "flip", "random"]))
def test_fuzz_checkpoints_through_readers_and_cli(finished_run, seed, how):
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as name:
        run = Path(name) / "run"
        shutil.copytree(finished_run, run)
        for checkpoint in ("best.npz", "last.npz"):
            _damage(run / "checkpoints" / checkpoint, how, rng)
        path = run / "checkpoints" / "best.npz"
        for reader in (train.load_checkpoint, gw.load):
            try:
                reader(path)
            except FileFormatError as error:
                assert "best.npz" in str(error)
        np.save(Path(name) / "x.npy", np.zeros((2, 4), np.float32))
        before = sorted((p.name, p.stat().st_size) for p in run.rglob("*") if p.is_file())
        for argv in (("evaluate", run), ("predict", run, Path(name) / "x.npy"),
                     ("report", run)):  # fmt: skip
            code, out, err = run_cli(*argv)
            assert code in (0, 2) and "Traceback" not in err, (argv, out, err)
            if code == 2:
                assert ".npz" in err, err
        after = sorted((p.name, p.stat().st_size) for p in run.rglob("*") if p.is_file())
        assert after == before


# --------------------------------------------------------------------- IDX files
@fuzz
@given(
    seed=st.integers(0, 2**32 - 1),
    how=st.sampled_from(["none", "truncate", "flip", "random", "label"]),
    gz=st.booleans(),
)
def test_fuzz_idx_files_through_read_idx_and_mnist(seed, how, gz):
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as name:
        root = Path(name) / "mnist"
        root.mkdir()
        suffix = ".gz" if gz else ""
        labels = (np.arange(30) % 10).astype(np.uint8)
        if how == "label":
            labels[int(rng.integers(0, 30))] = int(rng.integers(10, 256))
        write_idx(
            root / f"train-images-idx3-ubyte{suffix}",
            rng.integers(0, 256, (30, 8, 8), dtype=np.uint8),
        )
        write_idx(root / f"train-labels-idx1-ubyte{suffix}", labels)
        target = root / f"train-{rng.choice(['images-idx3', 'labels-idx1'])}-ubyte{suffix}"
        if how in ("truncate", "flip", "random"):
            _damage(target, how, rng)
        try:
            read_idx(target)
        except ValueError as error:
            assert target.name in str(error)
        text = f'name = "m"\n[data]\nname = "mnist"\npath = "{root.as_posix()}"\n' \
               "[train]\nepochs = 1\nprogress = false\n"  # fmt: skip
        code, out, err, output = train_on(Path(name), text)
        check_train_outcome(code, out, err, output)
        if how in ("label",):
            assert code == 2 and "label" in err


def test_fuzz_settings_are_bounded_in_ci():
    """The default must stay quick; the long mode is opt-in."""
    if "GRADWORK_FUZZ_EXAMPLES" not in os.environ:
        assert EXAMPLES == 12 and not RANDOM
    assert gzip  # the .gz variants above go through gzip's reader
