"""File checksums, the one place they are computed (chapter 0)."""

from __future__ import annotations

import hashlib
from pathlib import Path

CHUNK = 1 << 20

__all__ = ["sha256_of"]


def sha256_of(path: str | Path) -> str:
    """SHA-256 hex digest of a file, read in 1 MiB chunks (chapter 0)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()
