"""Download the real CrisisLandMark corpus from the Hugging Face dataset hub, verified (chapter 0).

Files come from the dataset ``DarthReca/crisislandmark`` (CC-BY-NC-4.0) through ``huggingface_hub``:
the hub's file metadata gives each file's size and, for the large (LFS) files, its SHA-256, and
``hf_hub_download`` writes into the corpus folder through its own incomplete-file handling. A file
counts as downloaded only when its size (and SHA-256, where the hub publishes one) match; each is
then recorded in ``download_manifest.json``, which ``closp-lite data verify`` checks.

Without a network (or with ``HF_HUB_OFFLINE=1``) :func:`download` raises a ``ConnectionError``
that lists the files to fetch by hand and where to put them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from closp_lite.config import data_dir
from closp_lite.data.checksum import sha256_of
from closp_lite.data.format import atomic_path

REPO_ID = "DarthReca/crisislandmark"
DATASET_URL = f"https://huggingface.co/datasets/{REPO_ID}"
MANIFEST = "download_manifest.json"
FILES: tuple[str, ...] = (
    *(f"benv2s1_part{i}.h5" for i in range(1, 5)),
    *(f"benv2s2_part{i}.h5" for i in range(1, 5)),
    "cabuar.h5", "mmflood.h5", "sen12flood.h5", "quakeset.h5", "crisislandmark.h5", "metadata.parquet", "queries.jsonl",
)  # fmt: skip
"""The files of the published corpus (the dataset's file list)."""

__all__ = ["DATASET_URL", "FILES", "MANIFEST", "REPO_ID", "Hub", "HuggingFaceHub", "RemoteFile", "download", "read_manifest"]


@dataclass(frozen=True)
class RemoteFile:
    """One file of the dataset: its path, its size, and its SHA-256 when the hub publishes one (LFS files)."""

    name: str
    size: int
    sha256: str | None = None


class Hub(Protocol):
    """Where files come from: :class:`HuggingFaceHub`, or a stand-in in tests."""

    def files(self, names: Sequence[str]) -> dict[str, RemoteFile]:
        """Size and SHA-256 of each named file that exists."""
        ...

    def fetch(self, name: str, out: Path) -> Path:
        """Download ``name`` into the folder ``out``; return the local path."""
        ...


class HuggingFaceHub:
    """The dataset on the Hugging Face hub, through ``huggingface_hub`` (chapter 0)."""

    def __init__(self, repo_id: str = REPO_ID, revision: str | None = None) -> None:
        self.repo_id = repo_id
        self.revision = revision

    def files(self, names: Sequence[str]) -> dict[str, RemoteFile]:
        """Size and SHA-256 (LFS files) of each named file, from the hub's file metadata."""
        from huggingface_hub import HfApi
        from huggingface_hub.hf_api import RepoFile

        infos = HfApi().get_paths_info(self.repo_id, list(names), repo_type="dataset", revision=self.revision)
        return {
            info.path: RemoteFile(info.path, int(info.size), info.lfs.sha256 if info.lfs else None)
            for info in infos if isinstance(info, RepoFile)
        }  # fmt: skip

    def fetch(self, name: str, out: Path) -> Path:
        """Download one file into ``out`` (the hub resumes or restarts an incomplete file)."""
        from huggingface_hub import hf_hub_download

        return Path(hf_hub_download(self.repo_id, name, repo_type="dataset", revision=self.revision, local_dir=out))


def read_manifest(folder: str | Path) -> dict[str, dict[str, Any]]:
    """``name -> {size, sha256}`` of every file a download completed in ``folder`` (empty without a manifest) (chapter 0).

    Raises:
        ValueError: if the manifest is not valid JSON.
    """
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return {}
    try:
        return dict(json.loads(path.read_text()))
    except ValueError as err:
        raise ValueError(f"{path} is not valid JSON ({err}): delete it and run `closp-lite data download` again") from err


def _save_manifest(out: Path, manifest: dict[str, dict[str, Any]]) -> None:
    with atomic_path(out / MANIFEST) as tmp:
        tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def _offline_message(names: Sequence[str], out: Path, err: BaseException) -> str:
    lines = [f"cannot reach the dataset hub ({type(err).__name__}: {err}). Fetch these files by hand from",
             f"{DATASET_URL}/tree/main (or `huggingface-cli download {REPO_ID} --repo-type dataset --local-dir {out}`)",
             f"and put them in {out}:"]  # fmt: skip
    lines += [f"  {DATASET_URL}/resolve/main/{name}  ->  {out / name}" for name in names]
    lines.append(f"then run `closp-lite data verify {out}`.")
    return "\n".join(lines)


def _check(entry: RemoteFile, path: Path) -> str:
    """SHA-256 of a fetched file, after checking the hub's size and checksum; a bad file is removed."""
    size = path.stat().st_size
    if size != entry.size:
        path.unlink()
        raise ValueError(f"{path}: {size} bytes, but the hub lists {entry.size}; the file was removed - run the download again")
    digest = sha256_of(path)
    if entry.sha256 is not None and digest != entry.sha256:
        path.unlink()
        raise ValueError(f"{path}: SHA-256 {digest} differs from the hub's {entry.sha256}; the file was removed - run the download again")
    return digest


def _connection_errors() -> tuple[type[BaseException], ...]:
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, OfflineModeIsEnabled

    return (ConnectionError, TimeoutError, OSError, OfflineModeIsEnabled, LocalEntryNotFoundError, HfHubHTTPError)


def download(files: Sequence[str] | None = None, out_dir: str | Path | None = None, hub: Hub | None = None) -> Path:
    """Download corpus files (default: all of :data:`FILES`) into ``out_dir``; return the folder (chapter 0).

    Files recorded in the manifest with the hub's size and SHA-256 are not fetched again.

    Raises:
        ValueError: for a file the dataset does not have, or a size/checksum mismatch.
        ConnectionError: when the hub cannot be reached, listing what to fetch by hand.
    """
    hub = hub or HuggingFaceHub()
    names = list(FILES if files is None else files)
    out = Path(out_dir) if out_dir is not None else data_dir() / "crisislandmark"
    out.mkdir(parents=True, exist_ok=True)
    errors = _connection_errors()
    try:
        remote = hub.files(names)
    except errors as err:
        raise ConnectionError(_offline_message(names, out, err)) from err
    unknown = [name for name in names if name not in remote]
    if unknown:
        raise ValueError(f"the dataset {REPO_ID} has no files {unknown}; it has {sorted(FILES)}")
    manifest = read_manifest(out)
    for done, name in enumerate(names):
        entry = remote[name]
        recorded = manifest.get(name, {})
        same = recorded.get("size") == entry.size and entry.sha256 in (None, recorded.get("sha256"))
        if same and (out / name).is_file() and (out / name).stat().st_size == entry.size:
            continue
        try:
            path = hub.fetch(name, out)
        except errors as err:
            raise ConnectionError(_offline_message(names[done:], out, err)) from err
        manifest[name] = {"size": entry.size, "sha256": _check(entry, path)}
        _save_manifest(out, manifest)
    return out
