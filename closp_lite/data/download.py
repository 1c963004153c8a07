"""Download the real CrisisLandMark corpus from the Hugging Face dataset hub, resumably and verified (chapter 9).

Files come from ``https://huggingface.co/datasets/DarthReca/crisislandmark`` (CC-BY-NC-4.0). Sizes and
SHA-256 sums are not published with the dataset, so :data:`REGISTRY` holds them as optional; what
is known is checked, and the SHA-256 of every completed file is recorded in
``download_manifest.json`` so later runs (and ``closp-lite data verify``) can trust it.
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.error
from dataclasses import dataclass
from pathlib import Path
from urllib.request import Request, urlopen

from tqdm.auto import tqdm

from closp_lite.config import data_dir
from closp_lite.data.format import PART_SUFFIX

BASE_URL = "https://huggingface.co/datasets/DarthReca/crisislandmark/resolve/main"
MANIFEST = "download_manifest.json"
CHUNK = 1 << 20

__all__ = ["BASE_URL", "MANIFEST", "REGISTRY", "RemoteFile", "download", "sha256_of"]


@dataclass(frozen=True)
class RemoteFile:
    """One file of the corpus: its path in the dataset, and its size / SHA-256 when known."""

    name: str
    size: int | None = None
    sha256: str | None = None


_NAMES = (
    [f"benv2s1_part{i}.h5" for i in range(1, 5)]
    + [f"benv2s2_part{i}.h5" for i in range(1, 5)]
    + ["cabuar.h5", "mmflood.h5", "sen12flood.h5", "quakeset.h5", "crisislandmark.h5", "metadata.parquet", "queries.jsonl"]
    # The qrels file name is inferred from the BEIR layout that queries.jsonl follows (not published).
    + ["qrels/test.tsv"]
)
REGISTRY: dict[str, RemoteFile] = {name: RemoteFile(name) for name in _NAMES}


def sha256_of(path: str | Path) -> str:
    """SHA-256 hex digest of a file, read in 1 MiB chunks (chapter 9)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _load_manifest(out: Path) -> dict[str, dict]:
    path = out / MANIFEST
    return json.loads(path.read_text()) if path.is_file() else {}


def _save_manifest(out: Path, manifest: dict[str, dict]) -> None:
    tmp = out / (MANIFEST + PART_SUFFIX)
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, out / MANIFEST)


def _fetch(url: str, part: Path, progress: bool) -> None:
    """Append the rest of ``url`` to ``part``, asking the server to start where ``part`` ends."""
    offset = part.stat().st_size if part.exists() else 0
    request = Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
    with urlopen(request, timeout=60) as response:
        if offset and getattr(response, "status", None) != 206:
            # The server (or a file:// URL) ignored the range: skip the bytes we already have.
            remaining = offset
            while remaining:
                block = response.read(min(CHUNK, remaining))
                if not block:
                    break
                remaining -= len(block)
        total = response.headers.get("Content-Length")
        with open(part, "ab") as handle, tqdm(
            total=int(total) if total else None, initial=0, unit="B", unit_scale=True, desc=part.name, disable=not progress
        ) as bar:
            for block in iter(lambda: response.read(CHUNK), b""):
                handle.write(block)
                bar.update(len(block))


def _check(entry: RemoteFile, part: Path) -> str:
    """SHA-256 of the finished ``part``, after checking the known size and checksum."""
    size = part.stat().st_size
    if entry.size is not None and size != entry.size:
        if size > entry.size:
            part.unlink()
        raise ValueError(f"{entry.name}: downloaded {size} bytes, expected {entry.size}; run the download again to resume")
    digest = sha256_of(part)
    if entry.sha256 is not None and digest != entry.sha256:
        part.unlink()
        raise ValueError(f"{entry.name}: SHA-256 {digest} does not match the expected {entry.sha256}; the damaged file was removed, run the download again")
    return digest


def _offline_message(names: list[str], base_url: str, out: Path, err: Exception) -> str:
    lines = [f"cannot reach {base_url} ({err}). Download these files by hand and put them in {out}:"]
    lines += [f"  {base_url}/{name}  ->  {out / name}" for name in names]
    lines.append("then run `closp-lite data verify` on the folder.")
    return "\n".join(lines)


def download(
    files: list[str] | None = None,
    out_dir: str | Path | None = None,
    base_url: str = BASE_URL,
    progress: bool = True,
    registry: dict[str, RemoteFile] | None = None,
) -> Path:
    """Download corpus files (default: all of :data:`REGISTRY`) into ``out_dir``; return the folder (chapter 9).

    Resumable: bytes go to ``<file>.part`` and an interrupted run continues where it stopped (HTTP
    Range; for ``file://`` URLs the bytes already there are skipped). A file is renamed into place
    only after its known size and SHA-256 are checked; files listed in the manifest with the same
    size are not downloaded again.

    Raises:
        ValueError: for an unknown file name or a size/checksum mismatch.
        ConnectionError: when the server cannot be reached, listing which files to fetch by hand.
    """
    registry = REGISTRY if registry is None else registry
    names = list(registry) if files is None else list(files)
    unknown = [name for name in names if name not in registry]
    if unknown:
        raise ValueError(f"unknown corpus files {unknown}; choose from {sorted(registry)}")
    out = Path(out_dir) if out_dir is not None else data_dir() / "crisislandmark"
    out.mkdir(parents=True, exist_ok=True)
    manifest = _load_manifest(out)
    base_url = base_url.rstrip("/")
    for done, name in enumerate(names):
        entry, target = registry[name], out / name
        recorded = manifest.get(name)
        if target.is_file() and recorded and recorded["size"] == target.stat().st_size:
            continue
        part = target.with_name(target.name + PART_SUFFIX)
        part.parent.mkdir(parents=True, exist_ok=True)
        try:
            _fetch(f"{base_url}/{name}", part, progress)
        except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
            raise ConnectionError(_offline_message(names[done:], base_url, out, err)) from err
        digest = _check(entry, part)
        os.replace(part, target)
        manifest[name] = {"size": target.stat().st_size, "sha256": digest, "url": f"{base_url}/{name}"}
        _save_manifest(out, manifest)
    return out
