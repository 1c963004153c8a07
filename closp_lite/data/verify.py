"""Check a CrisisLandMark folder before using it: files, links, schema and every sample (chapter 0)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import h5py
import hdf5plugin  # noqa: F401  (registers the compression filters needed to read the images)
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from closp_lite.data.bands import N_BANDS, PATCH_SIZE, modality_from_bands
from closp_lite.data.checksum import sha256_of
from closp_lite.data.download import MANIFEST, read_manifest
from closp_lite.data.format import MASTER, METADATA, decode_labels, external_links, parse_crs, parse_timestamp

__all__ = ["Problem", "VerifyReport", "verify"]

Problem = tuple[str, str, str]
"""(file, sample key or "", message)."""


@dataclass
class VerifyReport:
    """What :func:`verify` found (chapter 0).

    ``problems`` lists (file, key, message); ``skipped`` the keys of bad samples when verified
    with ``skip_bad=True`` (use ``usable`` keys then); ``checked`` the number of samples read.
    """

    root: str
    checked: int = 0
    problems: list[Problem] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    usable: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing is wrong, or (skip mode) when only whole samples were bad and at least one is usable."""
        if self.skipped:
            return bool(self.usable) and all(key for _, key, _ in self.problems)
        return not self.problems

    def to_dict(self) -> dict:
        """A JSON-ready summary."""
        return {
            "root": self.root,
            "ok": self.ok,
            "checked": self.checked,
            "problems": [{"file": f, "key": k, "message": m} for f, k, m in self.problems],
            "skipped": self.skipped,
            "usable": len(self.usable),
        }


@lru_cache(maxsize=256)
def _crs_known(epsg: int) -> bool:
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        CRS.from_epsg(epsg)
    except CRSError:
        return False
    return True


def _check_sample(group: h5py.Group, modality: str | None) -> list[str]:
    """Messages for one sample group (empty if it is fine)."""
    messages = []
    for name in ("image", "coords"):
        if name not in group:
            messages.append(f"no '{name}' dataset")
    for name in ("crs", "labels"):
        if name not in group.attrs:
            messages.append(f"no '{name}' attribute")
    if messages:
        return messages
    shape = group["image"].shape
    if len(shape) != 3 or shape[0] not in N_BANDS.values():
        return [f"image has {shape[0] if shape else 0} bands (shape {shape}); expected 2 (S1) or 12 (S2)"]
    if shape[1:] != (PATCH_SIZE, PATCH_SIZE):
        return [f"image shape {shape}, expected (B, {PATCH_SIZE}, {PATCH_SIZE})"]
    if group["coords"].shape != (2, PATCH_SIZE, PATCH_SIZE):
        messages.append(f"coords shape {group['coords'].shape}, expected (2, {PATCH_SIZE}, {PATCH_SIZE})")
    if modality is not None and modality_from_bands(shape[0]) != modality:
        messages.append(f"metadata says {modality} but the image has {shape[0]} bands")
    try:
        image = group["image"][()]
        group["coords"][()]
    except (OSError, ValueError) as err:
        return [*messages, f"cannot read the data ({err}); the file is damaged - download it again"]
    if not np.isfinite(image).any():
        messages.append("image is all NaN / infinite (no valid pixel)")
    try:
        known = _crs_known(parse_crs(group.attrs["crs"]))
    except ValueError:
        known = False
    if not known:
        messages.append(f"crs {group.attrs['crs']!r} is not an EPSG code pyproj knows")
    if "timestamp" in group.attrs:
        try:
            parse_timestamp(group.attrs["timestamp"])
        except ValueError as err:
            messages.append(str(err))
    unmapped = _unmapped(tuple(decode_labels(group.attrs["labels"])))
    if unmapped:
        messages.append(f"labels {list(unmapped)} map to none of the 12 vocabulary labels (closp-lite labels harmonize)")
    if "mask" in group and group["mask"].shape != (PATCH_SIZE, PATCH_SIZE):
        messages.append(f"mask shape {group['mask'].shape}, expected ({PATCH_SIZE}, {PATCH_SIZE})")
    return messages


@lru_cache(maxsize=4096)
def _unmapped(labels: tuple[str, ...]) -> tuple[str, ...]:
    from closp_lite.labels import harmonize

    return tuple(harmonize(list(labels)).unmapped)


def _links(master_path: Path, report: VerifyReport) -> dict[str, str] | None:
    """key -> shard file name from the master's external links (None if the master is unreadable)."""
    try:
        return external_links(master_path)
    except OSError as err:
        report.problems.append((str(master_path), "", f"cannot open the master file ({err}); download it again"))
        return None


def _open_shards(root: Path, shards: set[str], report: VerifyReport) -> dict[str, h5py.File]:
    handles = {}
    for name in sorted(shards):
        path = root / name
        if not path.is_file():
            continue  # reported per key by the caller
        try:
            handles[name] = h5py.File(path, "r")
        except OSError as err:
            report.problems.append((str(path), "", f"cannot open the shard ({err}): truncated or damaged - download it again"))
    return handles


def _check_manifest(root: Path, report: VerifyReport, checksums: bool) -> None:
    """Compare the files a download recorded with what is on disk (size; SHA-256 if ``checksums``)."""
    try:
        manifest = read_manifest(root)
    except ValueError as err:
        report.problems.append((str(root / MANIFEST), "", str(err)))
        return
    for name, entry in sorted(manifest.items()):
        path = root / name
        if not path.is_file():
            report.problems.append((str(path), "", f"listed in the download manifest but missing; run `closp-lite data download --out {root}`"))
        elif path.stat().st_size != entry.get("size"):
            report.problems.append((str(path), "", f"{path.stat().st_size} bytes, the download manifest says {entry.get('size')}: download it again"))
        elif checksums and sha256_of(path) != entry.get("sha256"):
            report.problems.append((str(path), "", "SHA-256 differs from the download manifest: download it again"))


def verify(root: str | Path, skip_bad: bool = False, progress: bool = True, checksums: bool = False) -> VerifyReport:
    """Check every file and every sample of a CrisisLandMark folder (chapter 0).

    Detects: a missing master or metadata, metadata keys without a link, links to missing or
    damaged (truncated) shards, missing datasets or attributes, wrong band counts or shapes,
    all-NaN images, unknown CRS codes, unreadable timestamps, labels outside the vocabulary, and
    files that differ from the download manifest (sizes; SHA-256 with ``checksums=True``).
    Every problem names the file and the sample key. With
    ``skip_bad=True`` the keys of bad samples are listed in ``skipped`` and the good ones in
    ``usable``, so work can go on with the rest - nothing is skipped silently.
    """
    root = Path(root)
    report = VerifyReport(root=str(root))
    for name in (METADATA, MASTER):
        if not (root / name).is_file():
            report.problems.append((str(root / name), "", f"{name} is missing; {root} is not a complete CrisisLandMark folder"))
    _check_manifest(root, report, checksums)
    if report.problems:
        return report
    try:
        metadata = pd.read_parquet(root / METADATA)
    except (OSError, ValueError) as err:
        report.problems.append((str(root / METADATA), "", f"cannot read the metadata ({err})"))
        return report
    links = _links(root / MASTER, report)
    if links is None:
        return report
    modalities = metadata["modality"] if "modality" in metadata.columns else pd.Series([None] * len(metadata))
    handles = _open_shards(root, set(links.values()), report)
    bad: list[str] = []
    try:
        for key, modality in tqdm(zip(metadata["key"], modalities), total=len(metadata), desc="verifying", disable=not progress):
            messages, file = _check_key(root, str(key), modality, links, handles)
            report.problems.extend((file, str(key), message) for message in messages)
            (bad if messages else report.usable).append(str(key))
            report.checked += 1
    finally:
        for handle in handles.values():
            handle.close()
    if skip_bad:
        report.skipped = bad
    else:
        report.usable = []
    return report


def _check_key(
    root: Path, key: str, modality: str | None, links: dict[str, str], handles: dict[str, h5py.File]
) -> tuple[list[str], str]:
    """(messages, file) for one metadata key."""
    if key not in links:
        return [f"key is in {METADATA} but has no external link in {MASTER}"], str(root / MASTER)
    shard = links[key]
    path = str(root / shard)
    if shard not in handles:
        if not (root / shard).is_file():
            return [f"the external link points to {shard}, which is missing; download it into {root}"], path
        return ["the shard cannot be opened (see the file-level problem)"], path
    if key not in handles[shard]:
        return [f"no group {key!r} in the shard"], path
    return _check_sample(handles[shard][key], modality), path
