"""`gradwork.backends.mps`: Apple's Metal backend, which gradwork does not have."""

from __future__ import annotations


def is_available() -> bool:
    """False: gradwork has no Metal (MPS) backend."""
    return False


def is_built() -> bool:
    """False: this gradwork was not built with Metal (MPS) support."""
    return False
