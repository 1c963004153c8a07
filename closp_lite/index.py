"""Embeddings on disk and exact top-k search over them (chapter 6).

An *embedding index* is a folder of three files, readable without closp-lite:

* ``vectors.npy`` - ``(N, D)`` L2-normalised image embeddings (float16 by default: half the
  disk and memory; scores are computed in float32). Loaded memory-mapped, so a corpus larger
  than the RAM can be searched chunk by chunk.
* ``items.parquet`` - one row per vector: ``key``, ``modality`` (``s1``/``s2``), ``labels``
  (harmonized labels, for display).
* ``info.json`` - what produced the vectors (run folder, model, dimension, dtype).

Search is exact: the dot product of the query with every vector (= cosine similarity, as
vectors are normalised), keeping a running top-k per chunk of rows, so memory stays bounded
whatever the corpus size (``benchmarks/search_speed.py`` measures how long it takes). At full
scale :mod:`closp_lite.faiss_index` adds a FAISS index beside the vectors (chapter 10).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

VECTORS_FILE = "vectors.npy"
ITEMS_FILE = "items.parquet"
INFO_FILE = "info.json"
MODALITY_CHOICES: tuple[str, ...] = ("s1", "s2", "all")
DEFAULT_CHUNK_ROWS = 65_536

__all__ = [
    "MODALITY_CHOICES",
    "EmbeddingIndex",
    "SearchHits",
    "embed_dataset",
    "top_k",
]


@dataclass(frozen=True)
class SearchHits:
    """The top-k of one or more queries: ``indices`` and ``scores`` are ``(queries, k)``, best first."""

    indices: np.ndarray
    scores: np.ndarray
    keys: list[list[str]]


def _check_queries(queries: np.ndarray, dim: int) -> np.ndarray:
    queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
    if queries.ndim != 2 or queries.shape[1] != dim:
        raise ValueError(f"query vectors must have {dim} dimensions like the index, got shape {queries.shape}")
    return queries


def _best_first(indices: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Keep the ``k`` best columns per row: descending score, ties by ascending row index."""
    by_index = np.argsort(indices, axis=1, kind="stable")
    indices, scores = np.take_along_axis(indices, by_index, 1), np.take_along_axis(scores, by_index, 1)
    by_score = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(indices, by_score, 1), np.take_along_axis(scores, by_score, 1)


def top_k(
    queries: np.ndarray,
    vectors: np.ndarray,
    k: int,
    rows: np.ndarray | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` rows of ``vectors`` by dot product with each query (chapter 6).

    ``rows`` restricts the search to those row numbers (e.g. one modality); returned indices
    are row numbers of ``vectors``. Works chunk by chunk so ``vectors`` may be a memory map.
    Ties are broken by the lower row number, like :func:`closp_lite.evaluation.rank_documents`.
    """
    queries = _check_queries(queries, vectors.shape[1])
    if k < 1:
        raise ValueError(f"k must be a positive integer, got {k}")
    rows = np.arange(vectors.shape[0]) if rows is None else np.asarray(rows, dtype=np.int64)
    best_idx = np.empty((queries.shape[0], 0), dtype=np.int64)
    best_scores = np.empty((queries.shape[0], 0), dtype=np.float32)
    for start in range(0, rows.size, chunk_rows):
        chunk = rows[start : start + chunk_rows]
        scores = queries @ np.asarray(vectors[chunk], dtype=np.float32).T
        best_idx, best_scores = _best_first(
            np.concatenate([best_idx, np.broadcast_to(chunk, scores.shape)], axis=1),
            np.concatenate([best_scores, scores], axis=1),
            k,
        )
    return best_idx, best_scores


@dataclass
class EmbeddingIndex:
    """Image embeddings with their keys, modalities and labels; saved as a folder (chapter 6)."""

    vectors: np.ndarray
    keys: list[str]
    modalities: np.ndarray
    labels: list[list[str]]
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.modalities = np.asarray(self.modalities, dtype=str)
        n = self.vectors.shape[0]
        if self.vectors.ndim != 2 or not len(self.keys) == self.modalities.size == len(self.labels) == n:
            raise ValueError(
                f"an index needs one key, modality and label list per vector: {n} vectors, {len(self.keys)} keys, "
                f"{self.modalities.size} modalities, {len(self.labels)} label lists"
            )
        unknown = set(self.modalities.tolist()) - {"s1", "s2"}
        if unknown:
            raise ValueError(f"unknown modalities {sorted(unknown)} in the index: expected 's1' or 's2'")

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def dim(self) -> int:
        """Embedding dimension."""
        return int(self.vectors.shape[1])

    def rows(self, modality: str = "all") -> np.ndarray:
        """Row numbers of one modality (``s1``, ``s2``) or of all vectors (``all``)."""
        if modality not in MODALITY_CHOICES:
            raise ValueError(f"unknown modality {modality!r}: choose one of {', '.join(MODALITY_CHOICES)}")
        return np.arange(len(self)) if modality == "all" else np.flatnonzero(self.modalities == modality)

    def search(self, queries: np.ndarray, k: int = 10, modality: str = "all") -> SearchHits:
        """Exact top-``k`` images for each query vector, over one modality or all (chapter 6)."""
        indices, scores = top_k(queries, self.vectors, k, self.rows(modality))
        return SearchHits(indices, scores, [[self.keys[i] for i in row] for row in indices])

    def search_scores(self, scores: np.ndarray, k: int = 10, modality: str = "all") -> SearchHits:
        """The top-``k`` rows of a precomputed ``(queries, N)`` score matrix, over one modality or all (chapter 6).

        For scores that are not plain dot products, e.g. after a modality-gap remedy
        (:func:`closp_lite.fusion.fused_scores`); ties go to the lower row, as in :meth:`search`.
        """
        scores = np.atleast_2d(np.asarray(scores, dtype=np.float32))
        if scores.shape[1] != len(self):
            raise ValueError(f"scores must have one column per vector ({len(self)}), got shape {scores.shape}")
        if k < 1:
            raise ValueError(f"k must be a positive integer, got {k}")
        rows = self.rows(modality)
        indices, best = _best_first(np.broadcast_to(rows, (scores.shape[0], rows.size)), scores[:, rows], k)
        return SearchHits(indices, best, [[self.keys[i] for i in row] for row in indices])

    def scores(self, queries: np.ndarray) -> np.ndarray:
        """The full ``(queries, N)`` similarity matrix, for the metrics of :mod:`closp_lite.evaluation`."""
        queries = _check_queries(queries, self.dim)
        return np.concatenate(
            [
                queries @ np.asarray(self.vectors[s : s + DEFAULT_CHUNK_ROWS], dtype=np.float32).T
                for s in range(0, len(self), DEFAULT_CHUNK_ROWS)
            ],
            axis=1,
        )

    def save(self, folder: str | Path, dtype: str = "float16") -> Path:
        """Write ``vectors.npy``, ``items.parquet`` and ``info.json`` into ``folder``; return it."""
        import pandas as pd

        if dtype not in ("float16", "float32"):
            raise ValueError(f"dtype must be 'float16' or 'float32', got {dtype!r}")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / VECTORS_FILE, np.asarray(self.vectors, dtype=dtype))
        items = pd.DataFrame({"key": self.keys, "modality": self.modalities, "labels": [list(x) for x in self.labels]})
        items.to_parquet(folder / ITEMS_FILE, index=False)
        info = {**self.info, "n": len(self), "dim": self.dim, "dtype": dtype}
        (folder / INFO_FILE).write_text(json.dumps(info, indent=2, default=str) + "\n")
        return folder

    @classmethod
    def load(cls, folder: str | Path, mmap: bool = True) -> EmbeddingIndex:
        """Read an index folder written by :meth:`save` (vectors memory-mapped by default)."""
        import pandas as pd

        folder = Path(folder)
        missing = [name for name in (VECTORS_FILE, ITEMS_FILE, INFO_FILE) if not (folder / name).is_file()]
        if missing:
            raise FileNotFoundError(
                f"{folder} is not an embedding index (missing {', '.join(missing)}): create it with "
                "`closp-lite embed RUN/ --data PATH --out FOLDER`"
            )
        items = pd.read_parquet(folder / ITEMS_FILE)
        vectors = np.load(folder / VECTORS_FILE, mmap_mode="r" if mmap else None)
        info = json.loads((folder / INFO_FILE).read_text())
        return cls(vectors, items["key"].tolist(), items["modality"].to_numpy(), [list(x) for x in items["labels"]], info)


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    library = ctypes.CDLL(name) if name else None
    return getattr(library, "malloc_trim", None)  # glibc only


def _release_freed_memory() -> None:
    """Hand memory freed by the last batch back to the OS (glibc; a no-op elsewhere).

    Each patch is read into fresh ~0.7 MB arrays; glibc then raises its mmap threshold and keeps
    freed blocks in a fragmented heap, which grew the peak memory of embedding the 2,400-patch
    sample corpus from 0.8 to 2.1 GB - over the 2 GB of a Binder machine.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def _flush(
    encode: Callable[[torch.Tensor], torch.Tensor], buffer: list[Mapping[str, Any]], out: list[tuple[Any, ...]]
) -> None:
    import torch

    with torch.no_grad():
        vectors = encode(torch.stack([sample["image"] for sample in buffer])).float().cpu().numpy()
    out.extend(zip(vectors, (s["key"] for s in buffer), (s["modality"] for s in buffer), (s["labels"] for s in buffer)))
    buffer.clear()
    _release_freed_memory()


def embed_dataset(
    encode: Callable[[torch.Tensor], torch.Tensor],
    samples: Iterable[Mapping[str, Any]],
    batch_size: int = 128,
    info: Mapping[str, Any] | None = None,
    total: int | None = None,
    progress: bool = True,
) -> EmbeddingIndex:
    """Embed every sample dict (``image``, ``key``, ``modality``, ``labels``) into an index (chapter 6).

    ``encode`` maps a batch of images of one modality to ``(B, D)`` embeddings (e.g. a CLOSP-lite
    model's image encoder). S1 and S2 images have different channel counts, so samples are
    buffered per modality and sent in batches of ``batch_size``; the index keeps the input order
    within each modality. Vectors are L2-normalised here whatever ``encode`` returns.
    """
    from tqdm.auto import tqdm

    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    buffers: dict[str, list[Mapping[str, Any]]] = {}
    rows: list[tuple[Any, ...]] = []
    for sample in tqdm(samples, total=total, desc="embedding images", unit="img", disable=not progress):
        buffer = buffers.setdefault(str(sample["modality"]), [])
        buffer.append(sample)
        if len(buffer) == batch_size:
            _flush(encode, buffer, rows)
    for buffer in buffers.values():
        if buffer:
            _flush(encode, buffer, rows)
    if not rows:
        raise ValueError("no samples to embed: the dataset is empty")
    vectors = np.stack([row[0] for row in rows]).astype(np.float32)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return EmbeddingIndex(
        vectors, [str(r[1]) for r in rows], np.array([r[2] for r in rows]), [list(r[3]) for r in rows], dict(info or {})
    )

