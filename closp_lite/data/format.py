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
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

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

# Shard-name prefixes of the official corpus whose modality is known without opening an image.
_SHARD_MODALITY: dict[str, Modality] = {
    "benv2s1": "s1",
    "benv2s2": "s2",
    "sen1flood": "s1",
    "sen2flood": "s2",
    "mmflood": "s1",
    "quakeset": "s1",
    "cabuar": "s2",
}
_PART_RE = re.compile(r"_part\d+$")

__all__ = [
    "CAPTIONS",
    "MASTER",
    "METADATA",
    "QRELS_DIR",
    "QUERIES",
    "SPLITS",
    "CorpusWriter",
    "CrisisLandMark",
    "Patch",
    "check_patch",
    "lonlat",
    "parse_crs",
    "read_captions",
    "read_qrels",
    "read_queries",
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


def parse_crs(value: Any) -> int:
    """EPSG code of a ``crs`` attribute: an integer, or a string such as ``"32633"`` / ``"EPSG:32633"`` (chapter 0).

    Raises:
        ValueError: if the value holds no EPSG code.
    """
    text = _decode_str(value.item() if isinstance(value, np.ndarray) else value).strip()
    match = re.fullmatch(r"(?:EPSG:)?(\d+)", text, flags=re.IGNORECASE)
    if match is None:
        raise ValueError(f"crs {text!r} is not an EPSG code (expected e.g. 32633 or 'EPSG:32633')")
    return int(match.group(1))


def source_of_shard(shard: str) -> str:
    """The source name of a shard file name: ``benv2s1_part3.h5`` -> ``benv2s1`` (chapter 0)."""
    return _PART_RE.sub("", Path(shard).name.removesuffix(".h5"))


def _part(path: Path) -> Path:
    return path.with_name(path.name + PART_SUFFIX)


@contextlib.contextmanager
def _atomic(path: Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` only if the block succeeds."""
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


class CorpusWriter:
    """Write patches into a CrisisLandMark folder (chapter 0).

    Use as a context manager; :meth:`add` streams each patch to its shard (``<shard>.h5.part``).
    On a clean exit the shards are renamed, then the master file and ``metadata.parquet`` are
    written, the metadata last: a folder without ``metadata.parquet`` is never a finished corpus.
    On an exception every partial file is removed.
    """

    def __init__(self, root: str | Path, overwrite: bool = False) -> None:
        self.root = Path(root)
        self.overwrite = overwrite
        self._shards: dict[str, h5py.File] = {}
        self._rows: list[dict[str, Any]] = []
        self._keys: set[str] = set()
        self._open = False

    def __enter__(self) -> CorpusWriter:
        existing = [name for name in (MASTER, METADATA) if (self.root / name).exists()]
        if existing and not self.overwrite:
            raise FileExistsError(f"{self.root} already holds a corpus ({', '.join(existing)}); pass overwrite=True to replace it")
        if existing:
            _remove_corpus(self.root)
        self.root.mkdir(parents=True, exist_ok=True)
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
            path = _part(self.root / f"{shard}.h5")
            self._shards[shard] = h5py.File(path, "w", track_order=True)
        return self._shards[shard]

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._open = False
        for handle in self._shards.values():
            handle.close()
        if exc_type is not None:
            for shard in self._shards:
                _part(self.root / f"{shard}.h5").unlink(missing_ok=True)
            return
        for shard in self._shards:
            os.replace(_part(self.root / f"{shard}.h5"), self.root / f"{shard}.h5")
        with _atomic(self.root / MASTER) as tmp, h5py.File(tmp, "w", track_order=True) as master:
            for row in self._rows:
                master[row["key"]] = h5py.ExternalLink(f"{row['shard']}.h5", f"/{row['key']}")
        table = pd.DataFrame(self._rows, columns=["key", "split", "labels", "modality", "source", "shard"])
        with _atomic(self.root / METADATA) as tmp:
            table.to_parquet(tmp, index=False)


def _remove_corpus(root: Path) -> None:
    """Delete the master, the metadata and every shard the master links to (nothing else in ``root``)."""
    (root / METADATA).unlink(missing_ok=True)
    master = root / MASTER
    if master.exists():
        shards: set[str] = set()
        with contextlib.suppress(OSError), h5py.File(master, "r") as handle:
            handle.visititems_links(lambda _name, link: shards.add(getattr(link, "filename", "")) and None)
        master.unlink()
        for name in shards - {""}:
            if Path(name).name == name:  # never follow a link outside the folder
                (root / name).unlink(missing_ok=True)


def _decode_labels(value: Any) -> list[str]:
    """Labels attribute -> list of str (arrays of str/bytes, or one string holding a list)."""
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
        if "source" not in self.metadata.columns:
            self.metadata["source"] = shards.map(source_of_shard)
        if "modality" not in self.metadata.columns:
            self.metadata["modality"] = [self._modality(key, shard) for key, shard in zip(self.metadata["key"], shards)]

    def _links(self) -> dict[str, str]:
        found: dict[str, str] = {}

        def visit(name: str, link: h5py.ExternalLink | h5py.SoftLink | h5py.HardLink) -> None:
            if isinstance(link, h5py.ExternalLink) and "/" not in name:
                found[name] = link.filename.removesuffix(".h5")

        with h5py.File(self.root / MASTER, "r") as master:
            master.visititems_links(visit)
        return found

    def _modality(self, key: str, shard: str) -> Modality:
        known = _SHARD_MODALITY.get(source_of_shard(shard))
        return known or modality_from_bands(self._group(key, shard)["image"].shape[0])

    def __enter__(self) -> CrisisLandMark:
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
            self._handles[shard] = h5py.File(path, "r")
        return self._handles[shard]

    def _group(self, key: str, shard: str) -> h5py.Group:
        handle = self._file(shard)
        if key not in handle:
            raise KeyError(f"{handle.filename}: no group for sample {key!r}")
        return handle[key]

    def lonlat(self, key: str) -> tuple[float, float]:
        """(lon, lat) of sample ``key``'s centre pixel, reading only that pixel's coordinates (chapter 7).

        Raises:
            KeyError: if ``key`` is not in the metadata; ValueError for a group without ``crs``.
        """
        if key not in self._index:
            raise KeyError(f"sample {key!r} is not in {self.root / METADATA}")
        shard = self.metadata["shard"].iat[self._index[key]]
        group = self._group(key, shard)
        if "crs" not in group.attrs:
            raise ValueError(f"{self.root / (shard + '.h5')}: sample {key!r} has no 'crs' attribute")
        centre = PATCH_SIZE // 2
        return centre_lonlat(group["coords"][:, centre, centre], parse_crs(group.attrs["crs"]), key)

    def read(self, key: str) -> Patch:
        """Read sample ``key`` as a :class:`Patch`.

        Raises:
            KeyError: if ``key`` is not in the metadata; ValueError for a group without ``crs``.
        """
        if key not in self._index:
            raise KeyError(f"sample {key!r} is not in {self.root / METADATA}")
        shard = self.metadata["shard"].iat[self._index[key]]
        group = self._group(key, shard)
        attrs = group.attrs
        if "crs" not in attrs:
            raise ValueError(f"{self.root / (shard + '.h5')}: sample {key!r} has no 'crs' attribute")
        return Patch(
            key=key,
            image=group["image"][()].astype(np.float32, copy=False),
            coords=group["coords"][()].astype(np.float32, copy=False),
            crs=parse_crs(attrs["crs"]),
            labels=_decode_labels(attrs["labels"]) if "labels" in attrs else list(self.metadata["labels"].iat[self._index[key]]),
            timestamp=_decode_str(attrs["timestamp"]) if "timestamp" in attrs else None,
            mask=group["mask"][()] if "mask" in group else None,
        )


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
    with _atomic(path) as tmp:
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
    with _atomic(path) as tmp:
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
    with _atomic(path) as tmp:
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


def lonlat(patch: Patch) -> tuple[float, float]:
    """Longitude and latitude (degrees) of the centre pixel ``coords[:, 60, 60]`` (chapters 0, 7).

    Raises:
        ValueError: naming the key if the CRS is unknown.
    """
    centre = PATCH_SIZE // 2
    return centre_lonlat(patch.coords[:, centre, centre], patch.crs, patch.key)


def centre_lonlat(xy: Any, crs: int, key: str) -> tuple[float, float]:
    """(lon, lat) degrees of the centre pixel's projected ``xy`` in EPSG ``crs`` (chapter 7).

    Raises:
        ValueError: naming the key if the CRS is unknown.
    """
    x, y = (float(v) for v in xy)
    try:
        lon, lat = _to_lonlat(int(crs)).transform(x, y)
    except ValueError as err:
        raise ValueError(f"patch {key!r}: {err}") from err
    return float(lon), float(lat)

