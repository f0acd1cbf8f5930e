"""Helpers for the bad-input tests: tiny data files, configs, and running the CLI in process.

`run_cli` calls `gradwork.cli.main` and returns (exit code, stdout, stderr); an
exception escaping `main` (which would be a traceback on the terminal) fails the
test that called it, with the exception attached.
"""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np

from gradwork.cli import main

FEATURES, SAMPLES = 4, 60


def tiny_arrays(seed: int = 0, classes: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(SAMPLES, FEATURES)).astype(np.float32)
    y = np.arange(SAMPLES) % classes  # every class present, in every split
    return x, rng.permutation(y).astype(np.int64)


def save_npz(path: Path, x: np.ndarray, y: np.ndarray) -> Path:
    np.savez(path, x=x, y=y)
    return path


def config_text(data_path: Path | str, extra: str = "", name: str = "bad", epochs: int = 2) -> str:
    """A run config on an .npz; `extra` adds or replaces tables (TOML appended)."""
    head = f'name = "{name}"\nseed = 0\n' if name is not None else "seed = 0\n"
    body = (
        f'[data]\nname = "npz"\npath = "{Path(data_path).as_posix()}"\nbatch_size = 16\n'
        + (
            ""
            if "[model]" in extra or "[[model.layers]]" in extra
            else '[model]\narch = "mlp"\nhidden = [8]\ndropout = 0.0\n'
        )  # fmt: skip
        + ("" if "[train]" in extra else f"[train]\nepochs = {epochs}\nprogress = false\n")
    )
    return head + body + extra


def write_config(folder: Path, text: str, name: str = "run.toml") -> Path:
    path = folder / name
    path.write_text(text)
    return path


def run_cli(*argv: str) -> tuple[int, str, str]:
    """`gradwork ARGV` in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in Path(folder).rglob("*")) if Path(folder).exists() else []


def only_run(parent: Path) -> Path:
    runs = [p for p in Path(parent).iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]


def broken_checkpoints(good: bytes) -> dict[str, bytes]:
    """Malformed checkpoint files by kind, made from the bytes of a good one."""
    npy, npz, torch_like, no_arrays = io.BytesIO(), io.BytesIO(), io.BytesIO(), io.BytesIO()
    np.save(npy, np.zeros(3))
    np.savez(npz, x=np.zeros(3))
    with zipfile.ZipFile(torch_like, "w") as archive:
        archive.writestr("archive/data.pkl", b"\x80\x04N.")
        archive.writestr("archive/version", "3")
    tree = '{"format": "gradwork-checkpoint-1", "state": {"model": {"w": {"__array__": "a9"}}}}'
    np.savez(no_arrays, __tree__=np.array(tree))
    return {
        "empty": b"",
        "truncated-half": good[: len(good) // 2],
        "truncated-tail": good[:-10],
        "one-byte": good[:1],
        "random-bytes": np.random.default_rng(0).bytes(2000),
        "pickle": pickle.dumps({"model": {}}),
        "npy": npy.getvalue(),
        "plain-npz": npz.getvalue(),
        "torch-save": torch_like.getvalue(),
        "json": b'{"model": {}}',
        "dangling-array": no_arrays.getvalue(),
        "flipped-bytes": _flip(good),
    }


def _flip(good: bytes) -> bytes:
    data = bytearray(good)
    for i in range(100, len(data), 97):
        data[i] ^= 0xFF
    return bytes(data)


def umask() -> int:
    value = os.umask(0o022)
    os.umask(value)
    return value
