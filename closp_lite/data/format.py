"""The CrisisLandMark files: read and write them exactly as the real corpus lays them out (chapter 0).

A corpus folder holds

* one HDF5 *shard* per source (``<shard>.h5``), one group per sample named by its key, with the
  datasets ``image`` float32 (B, 120, 120), ``coords`` float32 (2, 120, 120), optionally ``mask``
  uint8 (120, 120), and the attributes ``crs`` (EPSG), ``timestamp`` (if known) and ``labels``;
* the master file ``crisislandmark.h5``, made only of HDF5 *external links* to every group in
  every shard;
* ``metadata.parquet`` with the columns ``key``, ``split`` (``train`` / ``test``) and ``labels``
  (source labels) - plus, in corpora written here, ``modality``, ``source`` and ``shard``;
* optionally ``queries.jsonl``, a ``qrels/`` folder (TREC relevance judgements) and
  ``captions.parquet`` (one column per caption style).

:class:`CorpusWriter` writes such a folder, :class:`CrisisLandMark` reads it (also the official
corpus, whose metadata has only ``key``, ``split`` and ``labels``).
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Self

import h5py
import hdf5plugin
import numpy as np
import pandas as pd

from closp_lite.data.bands import N_BANDS, PATCH_SIZE, Modality, modality_from_bands

MASTER = "crisislandmark.h5"
METADATA = "metadata.parquet"
QUERIES = "queries.jsonl"
QRELS_DIR = "qrels"
CAPTIONS = "captions.parquet"
SPLITS: tuple[str, ...] = ("train", "test")
PART_SUFFIX = ".part"
"""Files being written carry this suffix until they are complete, so nothing half-written looks done."""

SOURCES: dict[str, tuple[str, Modality]] = {
    "benv2s1": ("benv2s1", "s1"),
    "benv2s2": ("benv2s2", "s2"),
    "cabuar": ("cabuar", "s2"),
    "mmflood": ("mmflood", "s1"),
    "sen1flood": ("sen12flood", "s1"),
    "sen2flood": ("sen12flood", "s2"),
    "quakeset": ("quakeset", "s1"),
}
"""Source -> (shard stem, modality) of the official corpus: ``benv2s1_part1..4.h5``, ...;
``sen1flood`` and ``sen2flood`` share one shard file, ``sen12flood.h5``."""
_PART_RE = re.compile(r"_part\d+$")
TIMESTAMP_RESOLUTION_S = 128
"""Spacing of float32 values near today's POSIX time (2**30 s .. 2**31 s): a timestamp stored as
float32, as the dataset card documents, is only known to within about two minutes."""

__all__ = [
    "CAPTIONS",
    "MASTER",
    "METADATA",
    "QRELS_DIR",
    "QUERIES",
    "SOURCES",
    "SPLITS",
    "TIMESTAMP_RESOLUTION_S",
    "CorpusWriter",
    "CrisisLandMark",
    "Patch",
    "atomic_path",
    "centre_lonlat",
    "check_patch",
    "corpus_files",
    "decode_labels",
    "external_links",
    "finish_swap",
    "lonlat",
    "parse_crs",
    "parse_timestamp",
    "read_captions",
    "read_qrels",
    "read_queries",
    "shard_modality",
    "source_of_shard",
    "write_captions",
    "write_qrels",
    "write_queries",
]


@dataclass
class Patch:
    """One stored CrisisLandMark sample (chapter 0); see the "Stored patch" contract in CONTRIBUTING.md."""

    key: str
    image: np.ndarray
    coords: np.ndarray
    crs: int
    labels: list[str]
    timestamp: str | None = None
    mask: np.ndarray | None = field(default=None)

    @property
    def modality(self) -> Modality:
        """``"s1"`` or ``"s2"``, from the band count of :attr:`image`."""
        return modality_from_bands(self.image.shape[0])


def check_patch(patch: Patch) -> None:
    """Check that ``patch`` follows the stored-patch contract (chapter 0).

    Raises:
        ValueError: naming the key and the field that is wrong.
    """
    where = f"patch {patch.key!r}"
    if not isinstance(patch.key, str) or not patch.key or "/" in patch.key:
        raise ValueError(f"{where}: the key must be a non-empty string without '/'")
    image = patch.image
    if not isinstance(image, np.ndarray) or image.dtype != np.float32:
        raise ValueError(f"{where}: image must be a float32 numpy array, got {getattr(image, 'dtype', type(image))}")
    if image.ndim != 3 or image.shape[1:] != (PATCH_SIZE, PATCH_SIZE) or image.shape[0] not in N_BANDS.values():
        raise ValueError(
            f"{where}: image must have shape (2, {PATCH_SIZE}, {PATCH_SIZE}) for S1 or "
            f"(12, {PATCH_SIZE}, {PATCH_SIZE}) for S2, got {image.shape}"
        )
    coords = patch.coords
    if not isinstance(coords, np.ndarray) or coords.dtype != np.float32 or coords.shape != (2, PATCH_SIZE, PATCH_SIZE):
        raise ValueError(
            f"{where}: coords must be float32 with shape (2, {PATCH_SIZE}, {PATCH_SIZE}), "
            f"got {getattr(coords, 'dtype', type(coords))} {getattr(coords, 'shape', '')}"
        )
    if isinstance(patch.crs, bool) or not isinstance(patch.crs, int | np.integer) or patch.crs <= 0:
        raise ValueError(f"{where}: crs must be a positive EPSG code (int), got {patch.crs!r}")
    if not isinstance(patch.labels, list | tuple) or not all(isinstance(label, str) for label in patch.labels):
        raise ValueError(f"{where}: labels must be a list of strings, got {patch.labels!r}")
    if patch.timestamp is not None and not isinstance(patch.timestamp, str):
        raise ValueError(f"{where}: timestamp must be an ISO 8601 string or None, got {patch.timestamp!r}")
    mask = patch.mask
    if mask is not None and (
        not isinstance(mask, np.ndarray) or mask.dtype != np.uint8 or mask.shape != (PATCH_SIZE, PATCH_SIZE)
    ):
        raise ValueError(
            f"{where}: mask must be None or uint8 with shape ({PATCH_SIZE}, {PATCH_SIZE}), "
            f"got {getattr(mask, 'dtype', type(mask))} {getattr(mask, 'shape', '')}"
        )


def _scalar(value: Any) -> Any:
    """The one value of a scalar or a one-element array (the published format stores (1,) arrays)."""
    if isinstance(value, np.ndarray):
        if value.size != 1:
            raise ValueError(f"expected one value, got an array of shape {value.shape}")
        value = value.reshape(()).item()
    return value.item() if isinstance(value, np.generic) else value


def parse_crs(value: Any) -> int:
    """EPSG code of a ``crs`` attribute (chapter 0).

    Accepts an integer, a string such as ``"32633"`` / ``"EPSG:32633"``, or a float or a float
    array of shape (1,) holding an integral value (the dataset card's encoding: float32 (1,)).

    Raises:
        ValueError: if the value holds no EPSG code.
    """
    try:
        value = _scalar(value)
    except ValueError as err:
        raise ValueError(f"crs {value!r} is not an EPSG code ({err})") from err
    if isinstance(value, float) and value.is_integer() and value > 0:
        return int(value)
    text = _decode_str(value).strip()
    match = re.fullmatch(r"(?:EPSG:)?(\d+)", text, flags=re.IGNORECASE)
    if match is None:
        raise ValueError(f"crs {text!r} is not an EPSG code (expected e.g. 32633, 32633.0 or 'EPSG:32633')")
    return int(match.group(1))


def parse_timestamp(value: Any) -> str | None:
    """ISO 8601 text of a ``timestamp`` attribute, or ``None`` if it is empty (chapter 0).

    Strings are kept as they are. Numbers (also float32 arrays of shape (1,), the dataset card's
    encoding) are POSIX seconds, written as UTC; float32 holds them only to about
    :data:`TIMESTAMP_RESOLUTION_S` seconds, so the minutes are approximate.

    Raises:
        ValueError: for a value that is neither text nor a finite number.
    """
    from datetime import UTC, datetime

    try:
        value = _scalar(value)
    except ValueError as err:
        raise ValueError(f"timestamp {value!r} is not one value ({err})") from err
    if isinstance(value, bytes | str):
        text = _decode_str(value).strip()
        return text or None
    if isinstance(value, int | float) and not isinstance(value, bool) and np.isfinite(value):
        return datetime.fromtimestamp(round(float(value)), tz=UTC).isoformat().replace("+00:00", "Z")
    raise ValueError(f"timestamp {value!r} is neither ISO 8601 text nor POSIX seconds")


def _shard_stem(shard: str) -> str:
    return _PART_RE.sub("", Path(shard).name.removesuffix(".h5"))


def source_of_shard(shard: str, modality: str | None = None) -> str:
    """The source of a sample from its shard file name (and modality where a shard holds two) (chapter 0).

    ``benv2s1_part3.h5`` -> ``benv2s1``; ``sen12flood.h5`` -> ``sen1flood`` (S1) or
    ``sen2flood`` (S2). A shard outside :data:`SOURCES` (a simulated corpus) is its own source.

    Raises:
        ValueError: for a shared shard without a modality.
    """
    stem = _shard_stem(shard)
    candidates = [source for source, (shard_stem, _) in SOURCES.items() if shard_stem == stem]
    if len(candidates) <= 1:
        return candidates[0] if candidates else stem
    matching = [source for source in candidates if SOURCES[source][1] == modality]
    if len(matching) != 1:
        raise ValueError(f"{shard} holds the sources {candidates}: the modality (s1 or s2) decides, got {modality!r}")
    return matching[0]


def shard_modality(shard: str) -> Modality | None:
    """The modality of every sample of an official shard, or ``None`` if it holds both or is unknown (chapter 0)."""
    modalities = {modality for shard_stem, modality in SOURCES.values() if shard_stem == _shard_stem(shard)}
    return modalities.pop() if len(modalities) == 1 else None


def external_links(master: str | Path) -> dict[str, str]:
    """``key -> shard file name`` of the top-level external links of a master file (chapter 0).

    Raises:
        OSError: if the master file cannot be opened.
    """
    found: dict[str, str] = {}

    def visit(name: str, link: Any) -> None:
        if isinstance(link, h5py.ExternalLink) and "/" not in name:
            found[name] = link.filename

    with h5py.File(master, "r") as handle:
        handle.visititems_links(visit)
    return found


def _part(path: Path) -> Path:
    return path.with_name(path.name + PART_SUFFIX)


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` only if the block succeeds (chapter 0)."""
    tmp = _part(path)
    tmp.unlink(missing_ok=True)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _compression() -> dict[str, Any]:
    # Byte shuffling groups the similar high bytes of neighbouring floats, which Zstandard then
    # compresses far better; hdf5plugin registers the filter, so readers need `import hdf5plugin`.
    return {**hdf5plugin.Zstd(clevel=3), "shuffle": True}


STAGING = ".closp-new.part"
"""Folder inside a corpus folder where :class:`CorpusWriter` stages a new corpus."""
SWAP_JOURNAL = ".closp-swap.json"
"""Written once the staged corpus is complete; while it exists, :func:`finish_swap` completes the swap."""


def corpus_files(root: str | Path) -> list[str]:
    """The files of the corpus in ``root``: metadata, master and every shard it links to (chapter 0)."""
    root = Path(root)
    files = [name for name in (METADATA, MASTER) if (root / name).is_file()]
    if (root / MASTER).is_file():
        with contextlib.suppress(OSError):
            # Only plain names: a link outside the folder is never ours to replace.
            files += sorted({name for name in external_links(root / MASTER).values() if Path(name).name == name})
    return files


def finish_swap(root: str | Path) -> None:
    """Complete or undo a corpus swap that a killed process left in ``root`` (chapter 0).

    With a journal the staged corpus was complete: it is moved in (again) and the old corpus
    files it does not replace are removed. Without one the staging folder is an unfinished
    corpus and is removed. Either way ``root`` ends with exactly one corpus and no staging files.
    """
    root = Path(root)
    staging, journal = root / STAGING, root / SWAP_JOURNAL
    if journal.is_file():
        plan = json.loads(journal.read_text())
        if (staging / METADATA).exists():
            (root / METADATA).unlink(missing_ok=True)  # from here on root is not a finished corpus
        for name in plan["new"]:
            if name != METADATA and (staging / name).exists():
                os.replace(staging / name, root / name)
        for name in set(plan["old"]) - set(plan["new"]):
            (root / name).unlink(missing_ok=True)
        if (staging / METADATA).exists():
            os.replace(staging / METADATA, root / METADATA)  # the metadata last: the corpus is complete
        journal.unlink()
    if staging.exists():
        shutil.rmtree(staging)


class CorpusWriter:
    """Write patches into a CrisisLandMark folder (chapter 0).

    Use as a context manager; :meth:`add` streams each patch to its shard. Everything is written
    into a staging folder (:data:`STAGING`) inside ``root`` first. On a clean exit the staged
    corpus replaces the old one (only the old corpus's own files: :func:`corpus_files`), the
    metadata last, through a journal, so a process killed at any moment leaves the old corpus, or
    the new one once :func:`finish_swap` has run (the next writer or reader runs it). On an
    exception the staging folder is removed and the old corpus stays as it was.

    Raises:
        FileExistsError: if ``root`` holds a corpus and ``overwrite`` is false, or if a file of
            ``root`` that is not part of its corpus would be replaced.
    """

    def __init__(self, root: str | Path, overwrite: bool = False) -> None:
        self.root = Path(root)
        self.overwrite = overwrite
        self._shards: dict[str, h5py.File] = {}
        self._rows: list[dict[str, Any]] = []
        self._keys: set[str] = set()
        self._old: list[str] = []
        self._open = False

    @property
    def staging(self) -> Path:
        """The folder the new corpus is written to until it is complete."""
        return self.root / STAGING

    def __enter__(self) -> Self:
        finish_swap(self.root)
        self._old = corpus_files(self.root)
        if self._old and not self.overwrite:
            raise FileExistsError(f"{self.root} already holds a corpus ({', '.join(self._old[:3])}, ...); pass overwrite=True to replace it")
        self.staging.mkdir(parents=True)
        self._open = True
        return self

    def add(self, patch: Patch, shard: str, split: str = "train", source: str | None = None) -> None:
        """Add one patch to ``shard`` (file ``<shard>.h5``) with its ``split`` and ``source`` (default: shard).

        Raises:
            ValueError: for a duplicate key, a bad shard/split name or a patch that breaks the contract.
        """
        if not self._open:
            raise ValueError("CorpusWriter.add() must be called inside `with CorpusWriter(root) as writer:`")
        check_patch(patch)
        if patch.key in self._keys:
            raise ValueError(f"patch {patch.key!r}: duplicate key (keys must be unique across all shards)")
        if split not in SPLITS:
            raise ValueError(f"patch {patch.key!r}: split must be one of {SPLITS}, got {split!r}")
        if not re.fullmatch(r"[A-Za-z0-9_\-]+", shard) or shard == MASTER.removesuffix(".h5"):
            raise ValueError(f"patch {patch.key!r}: bad shard name {shard!r} (letters, digits, '_' and '-' only)")
        group = self._shard(shard).create_group(patch.key)
        group.create_dataset("image", data=patch.image, chunks=patch.image.shape, **_compression())
        group.create_dataset("coords", data=patch.coords, chunks=patch.coords.shape, **_compression())
        if patch.mask is not None:
            group.create_dataset("mask", data=patch.mask, chunks=patch.mask.shape, **_compression())
        group.attrs["crs"] = int(patch.crs)
        if patch.timestamp is not None:
            group.attrs["timestamp"] = patch.timestamp
        group.attrs.create("labels", np.array(list(patch.labels), dtype=object), dtype=h5py.string_dtype())
        self._keys.add(patch.key)
        self._rows.append(
            {
                "key": patch.key,
                "split": split,
                "labels": list(patch.labels),
                "modality": patch.modality,
                "source": source or shard,
                "shard": shard,
            }
        )

    def _shard(self, shard: str) -> h5py.File:
        if shard not in self._shards:
            self._shards[shard] = h5py.File(self.staging / f"{shard}.h5", "w", track_order=True)
        return self._shards[shard]

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._open = False
        for handle in self._shards.values():
            handle.close()
        if exc_type is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
            return
        with h5py.File(self.staging / MASTER, "w", track_order=True) as master:
            for row in self._rows:
                master[row["key"]] = h5py.ExternalLink(f"{row['shard']}.h5", f"/{row['key']}")
        table = pd.DataFrame(self._rows, columns=["key", "split", "labels", "modality", "source", "shard"])
        table.to_parquet(self.staging / METADATA, index=False)
        new = [f"{shard}.h5" for shard in self._shards] + [MASTER, METADATA]
        clashes = [name for name in new if (self.root / name).exists() and name not in self._old]
        if clashes:
            shutil.rmtree(self.staging)
            raise FileExistsError(f"{self.root}: {', '.join(clashes)} would be replaced but are not part of its corpus; move them away")
        with atomic_path(self.root / SWAP_JOURNAL) as tmp:
            tmp.write_text(json.dumps({"old": self._old, "new": new}))
        finish_swap(self.root)


def decode_labels(value: Any) -> list[str]:
    """A ``labels`` attribute as a list of str: arrays of str/bytes, or one string holding a list (chapter 0)."""
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return [str(item) for item in ast.literal_eval(text)]
        return [text] if text else []
    return [item.decode() if isinstance(item, bytes) else str(item) for item in np.asarray(value).ravel()]


def _decode_str(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class CrisisLandMark:
    """Read a CrisisLandMark folder (ours or the official corpus) sample by sample (chapter 0).

    Shard files are opened lazily, once per process, and kept open: reading through the master's
    external links would reopen the target file on every access. Handles are dropped when the
    object is pickled or used in a forked process, so it is safe in torch DataLoader workers.

    Raises:
        FileNotFoundError: if ``metadata.parquet`` (or the master file) is missing.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if (self.root / SWAP_JOURNAL).is_file():
            finish_swap(self.root)  # a writer was killed after its new corpus was complete
        for name in (METADATA, MASTER):
            if not (self.root / name).is_file():
                raise FileNotFoundError(
                    f"{self.root / name} not found: {self.root} is not a CrisisLandMark folder "
                    "(write one with `closp-lite simulate`, `closp-lite data examples` or `closp-lite data download`)"
                )
        self.metadata = _read_metadata(self.root)
        self._index = {key: i for i, key in enumerate(self.metadata["key"])}
        self._handles: dict[str, h5py.File] = {}
        self._pid = os.getpid()
        self._shard_of: dict[str, str] | None = None
        if "shard" not in self.metadata.columns or "modality" not in self.metadata.columns:
            self._complete_metadata()

    def _complete_metadata(self) -> None:
        """Add ``shard``, ``source`` and ``modality`` to official metadata, from the master's links."""
        shard_of = self._links()
        missing = [key for key in self.metadata["key"] if key not in shard_of]
        if missing:
            raise ValueError(
                f"{self.root / METADATA}: {len(missing)} keys have no link in {MASTER} (first: {missing[0]!r}); "
                "the download is incomplete - run `closp-lite data verify` on the folder"
            )
        shards = self.metadata["key"].map(shard_of)
        self.metadata["shard"] = shards
        if "modality" not in self.metadata.columns:
            self.metadata["modality"] = [self._modality(key, shard) for key, shard in zip(self.metadata["key"], shards)]
        if "source" not in self.metadata.columns:
            self.metadata["source"] = [source_of_shard(s, m) for s, m in zip(shards, self.metadata["modality"])]

    def _links(self) -> dict[str, str]:
        try:
            links = external_links(self.root / MASTER)
        except OSError as err:
            raise ValueError(f"{self.root / MASTER} cannot be read ({err}): download it again, then run `closp-lite data verify`") from err
        return {key: filename.removesuffix(".h5") for key, filename in links.items()}

    def _modality(self, key: str, shard: str) -> Modality:
        return shard_modality(shard) or modality_from_bands(self._group(key, shard)["image"].shape[0])

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every open shard file."""
        if self._pid == os.getpid():
            for handle in self._handles.values():
                handle.close()
        self._handles = {}

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_handles"] = {}
        return state

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, key: object) -> bool:
        return key in self._index

    def keys(self) -> list[str]:
        """All sample keys, in metadata order."""
        return list(self.metadata["key"])

    def _file(self, shard: str) -> h5py.File:
        if self._pid != os.getpid():  # a forked worker: the parent's HDF5 handles are not ours to use
            self._handles, self._pid = {}, os.getpid()
        if shard not in self._handles:
            path = self.root / f"{shard}.h5"
            if not path.is_file():
                raise FileNotFoundError(f"{path} not found: the shard is missing from {self.root} (download it again)")
            try:
                self._handles[shard] = h5py.File(path, "r")
            except OSError as err:
                raise ValueError(f"{path} cannot be opened ({err}): truncated or damaged - download it again") from err
        return self._handles[shard]

    def _group(self, key: str, shard: str) -> h5py.Group:
        handle = self._file(shard)
        if key not in handle:
            raise ValueError(f"{handle.filename}: no group for sample {key!r} (run `closp-lite data verify` on {self.root})")
        return handle[key]

    def lonlat(self, key: str) -> tuple[float, float]:
        """(lon, lat) of sample ``key``'s centre pixel, reading only that pixel's coordinates (chapter 7).

        Raises:
            ValueError: naming the file and key, for a key the corpus lacks or a sample without ``crs`` or ``coords``.
        """
        if key not in self._index:
            raise ValueError(f"sample {key!r} is not in {self.root / METADATA} (see CrisisLandMark.keys())")
        shard = str(self.metadata["shard"].iat[self._index[key]])
        group = self._group(key, shard)
        if "crs" not in group.attrs or "coords" not in group:
            raise ValueError(f"{self.root / (shard + '.h5')}: sample {key!r} has no 'crs' or 'coords' (run `closp-lite data verify` on {self.root})")
        centre = PATCH_SIZE // 2
        try:  # a 1 x 1 window around the centre: centre_lonlat takes its middle pixel
            return centre_lonlat(group["coords"][:, centre : centre + 1, centre : centre + 1], parse_crs(group.attrs["crs"]))
        except ValueError as err:
            raise ValueError(f"sample {key!r}: {err}") from err

    def read(self, key: str) -> Patch:
        """Read sample ``key`` as a :class:`Patch` that follows the stored-patch contract (chapter 0).

        Raises:
            ValueError: naming the file and the key, for a key the corpus lacks, a missing
                dataset or attribute, a wrong shape, an image without a finite pixel, or
                unreadable (truncated) data.
        """
        if key not in self._index:
            raise ValueError(f"sample {key!r} is not in {self.root / METADATA} (see CrisisLandMark.keys())")
        shard = str(self.metadata["shard"].iat[self._index[key]])
        where = f"{self.root / (shard + '.h5')}: sample {key!r}"
        group = self._group(key, shard)
        attrs = group.attrs
        missing = [f"dataset {n!r}" for n in ("image", "coords") if n not in group] + [f"attribute {n!r}" for n in ("crs",) if n not in attrs]
        if missing:
            raise ValueError(f"{where} has no {', '.join(missing)} (run `closp-lite data verify` on {self.root})")
        try:
            patch = Patch(
                key=key,
                image=group["image"][()].astype(np.float32, copy=False),
                coords=group["coords"][()].astype(np.float32, copy=False),
                crs=parse_crs(attrs["crs"]),
                labels=decode_labels(attrs["labels"]) if "labels" in attrs else decode_labels(self.metadata["labels"].iat[self._index[key]]),
                timestamp=parse_timestamp(attrs["timestamp"]) if "timestamp" in attrs else None,
                mask=group["mask"][()] if "mask" in group else None,
            )
            check_patch(patch)
        except OSError as err:
            raise ValueError(f"{where}: cannot read the data ({err}): the file is truncated or damaged - download it again") from err
        except ValueError as err:
            raise ValueError(f"{where}: {err}") from err
        if not np.isfinite(patch.image).any():
            raise ValueError(f"{where}: the image has no finite pixel (all NaN); remove the sample or skip it (closp-lite data verify --skip-bad)")
        return patch


def _read_metadata(root: Path) -> pd.DataFrame:
    path = root / METADATA
    table = pd.read_parquet(path)
    if "key" not in table.columns and table.index.name == "key":
        table = table.reset_index()
    missing = [column for column in ("key", "split", "labels") if column not in table.columns]
    if missing:
        raise ValueError(f"{path}: missing columns {missing}; a CrisisLandMark metadata table has key, split, labels")
    table["key"] = table["key"].astype(str)
    table["labels"] = table["labels"].map(lambda labels: [str(label) for label in labels])
    return table


# ---------------------------------------------------------------- queries, qrels, captions

_ID_FIELDS = ("id", "_id", "qid", "query_id", "query-id")
_TEXT_FIELDS = ("text", "query", "caption", "sentence")


def write_queries(root: str | Path, queries: list[dict]) -> Path:
    """Write ``queries.jsonl`` (one JSON object a line, each with ``id`` and ``text``); return its path (chapter 4).

    Raises:
        ValueError: for a query without an ``id`` or a ``text`` string, or duplicate ids.
    """
    seen: set[str] = set()
    for number, query in enumerate(queries):
        if not isinstance(query.get("text"), str) or "id" not in query:
            raise ValueError(f"query number {number} ({query!r}) needs an 'id' and a 'text' string")
        if str(query["id"]) in seen:
            raise ValueError(f"duplicate query id {query['id']!r}")
        seen.add(str(query["id"]))
    path = Path(root) / QUERIES
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text("".join(json.dumps({**q, "id": str(q["id"])}, ensure_ascii=False) + "\n" for q in queries))
    return path


def _field(query: dict, names: tuple[str, ...]) -> str | None:
    return next((name for name in names if name in query), None)


def read_queries(root: str | Path) -> list[dict]:
    """Read ``queries.jsonl`` (a folder or the file) into dicts with ``id`` and ``text`` (chapter 4).

    Other common field names (``_id``, ``qid``, ``query``, ...) are renamed to ``id`` / ``text``;
    every other field is kept.

    Raises:
        FileNotFoundError: if the file is missing; ValueError for a line without id or text.
    """
    path = Path(root)
    path = path / QUERIES if path.is_dir() else path
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: no query file (write one with write_queries or download it)")
    queries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}, line {number}: not valid JSON ({err})") from err
        id_name, text_name = _field(raw, _ID_FIELDS), _field(raw, _TEXT_FIELDS)
        if id_name is None or text_name is None:
            raise ValueError(f"{path}, line {number}: a query needs an id ({'/'.join(_ID_FIELDS)}) and a text ({'/'.join(_TEXT_FIELDS)})")
        query = {k: v for k, v in raw.items() if k not in (id_name, text_name)}
        queries.append({"id": str(raw[id_name]), "text": str(raw[text_name]), **query})
    return queries


def write_qrels(root: str | Path, qrels: dict[str, dict[str, int]], name: str = "test") -> Path:
    """Write graded relevance judgements as TREC lines ``qid 0 docid rel`` to ``qrels/<name>.txt`` (chapter 4).

    Raises:
        ValueError: for ids with whitespace or non-integer relevance.
    """
    lines = []
    for qid, docs in qrels.items():
        for docid, rel in docs.items():
            if re.search(r"\s", f"{qid}{docid}") or not isinstance(rel, int | np.integer):
                raise ValueError(f"qrels: bad entry query {qid!r}, document {docid!r}, relevance {rel!r} (ids without spaces, int relevance)")
            lines.append(f"{qid} 0 {docid} {int(rel)}\n")
    path = Path(root) / QRELS_DIR / f"{name}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text("".join(lines))
    return path


def _qrels_file(path: Path, name: str | None) -> Path:
    folder = path / QRELS_DIR if (path / QRELS_DIR).is_dir() else path
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.endswith(PART_SUFFIX)) if folder.is_dir() else []
    if name is not None:
        files = [p for p in files if p.stem == name]
    if len(files) != 1:
        found = ", ".join(p.name for p in files) or "none"
        raise FileNotFoundError(f"{folder}: expected one qrels file{f' named {name!r}' if name else ''}, found {found}")
    return files[0]


def read_qrels(path_or_root: str | Path, name: str | None = None) -> dict[str, dict[str, int]]:
    """Read relevance judgements: a file, a ``qrels/`` folder or a corpus folder (chapter 6).

    Accepts TREC lines (``qid 0 docid rel``) and BEIR tables (``query-id corpus-id score`` with a
    header line). ``name`` picks ``qrels/<name>.*`` when the folder holds several files.

    Raises:
        FileNotFoundError: if no (or no unique) qrels file is found; ValueError for a bad line.
    """
    path = Path(path_or_root)
    if path.is_dir():
        path = _qrels_file(path, name)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: no qrels file")
    qrels: dict[str, dict[str, int]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        parts = line.split()
        if not parts or (number == 1 and not parts[-1].lstrip("-").isdigit()):
            continue  # blank line or BEIR header
        if len(parts) == 4:
            qid, _, docid, rel = parts
        elif len(parts) == 3:
            qid, docid, rel = parts
        else:
            raise ValueError(f"{path}, line {number}: expected 'qid 0 docid rel' or 'qid docid rel', got {line!r}")
        try:
            qrels.setdefault(qid, {})[docid] = int(rel)
        except ValueError as err:
            raise ValueError(f"{path}, line {number}: relevance {rel!r} is not an integer") from err
    return qrels


def write_captions(root: str | Path, table: pd.DataFrame) -> Path:
    """Write ``captions.parquet``: a ``key`` column plus one string column per caption style (chapter 4).

    Raises:
        ValueError: without a ``key`` column, with duplicate keys or with no style column.
    """
    if "key" not in table.columns or len(table.columns) < 2:
        raise ValueError(f"captions need a 'key' column and at least one style column, got {list(table.columns)}")
    duplicated = table["key"][table["key"].duplicated()]
    if len(duplicated):
        raise ValueError(f"captions: duplicate key {duplicated.iloc[0]!r}")
    path = Path(root) / CAPTIONS
    with atomic_path(path) as tmp:
        table.reset_index(drop=True).to_parquet(tmp, index=False)
    return path


def read_captions(root: str | Path) -> pd.DataFrame | None:
    """Read ``captions.parquet`` of a corpus folder, or ``None`` if there is none (chapter 4)."""
    path = Path(root) / CAPTIONS
    return pd.read_parquet(path) if path.is_file() else None


# ---------------------------------------------------------------- location


@lru_cache(maxsize=64)
def _to_lonlat(crs: int) -> Any:
    from pyproj import Transformer
    from pyproj.exceptions import CRSError

    try:
        return Transformer.from_crs(crs, 4326, always_xy=True)
    except CRSError as err:
        raise ValueError(f"EPSG:{crs} is not a coordinate reference system pyproj knows ({err})") from err


def centre_lonlat(coords: np.ndarray, crs: int) -> tuple[float, float]:
    """Longitude and latitude (degrees) of the centre pixel ``coords[:, 60, 60]``, as GeoCLOSP uses it (chapter 0).

    Raises:
        ValueError: if pyproj does not know the CRS.
    """
    centre = coords.shape[-1] // 2
    lon, lat = _to_lonlat(int(crs)).transform(float(coords[0, centre, centre]), float(coords[1, centre, centre]))
    return float(lon), float(lat)


def lonlat(patch: Patch) -> tuple[float, float]:
    """Longitude and latitude (degrees) of the centre pixel of a patch (chapter 0).

    Raises:
        ValueError: naming the key if the CRS is unknown.
    """
    try:
        return centre_lonlat(patch.coords, patch.crs)
    except ValueError as err:
        raise ValueError(f"patch {patch.key!r}: {err}") from err

