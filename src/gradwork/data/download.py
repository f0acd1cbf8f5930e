"""Fetching files from a list of mirrors with MD5 verification, safely."""

from __future__ import annotations

import hashlib
import os
import urllib.request
from pathlib import Path


def md5sum(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """The MD5 hex digest of a file (integrity check against published checksums)."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def download_file(
    name: str, md5: str, mirrors: list[str], root: Path, timeout: float = 60.0
) -> Path:
    """Make `root / name` a verified copy, trying `mirrors` (base URLs) in turn.

    A file that is already there and matches `md5` is kept untouched. A new
    download goes to `name.part` and replaces the target only once its
    checksum matches; a failed or bad download is removed.

    Example:
        >>> import tempfile, pathlib
        >>> source = pathlib.Path(tempfile.mkdtemp()); target = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (source / "a.bin").write_bytes(b"abc")
        >>> download_file("a.bin", md5sum(source / "a.bin"), [source.as_uri() + "/"], target).name
        'a.bin'
    """
    root.mkdir(parents=True, exist_ok=True)
    target = root / name
    if target.is_file() and md5sum(target) == md5:
        return target
    partial = root / (name + ".part")
    errors = []
    for mirror in mirrors:
        url = mirror + name
        try:
            with (
                urllib.request.urlopen(url, timeout=timeout) as response,
                open(partial, "wb") as out,
            ):
                while chunk := response.read(1 << 20):
                    out.write(chunk)
            found = md5sum(partial)
            if found != md5:
                raise ValueError(f"checksum mismatch: md5 {found}, expected {md5}")
            os.replace(partial, target)
            return target
        except Exception as error:  # noqa: BLE001 - try the next mirror, report all at the end
            errors.append(f"{url}: {error}")
        finally:
            partial.unlink(missing_ok=True)
    raise RuntimeError(
        f"download: could not fetch a verified {name} into {root}. Tried:\n  "
        + "\n  ".join(errors)
        + f"\nCheck your connection, or place the file in {root} yourself."
    )
