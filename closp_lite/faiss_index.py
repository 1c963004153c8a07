"""Searching a large corpus with FAISS: exact for small corpora, approximate for large ones (chapter 10).

An :class:`~closp_lite.index.EmbeddingIndex` folder (``vectors.npy``, ``items.parquet``,
``info.json``) gains two files:

* ``index.faiss`` - a FAISS index over the same rows, in the same order;
* ``faiss.json`` - its kind and parameters, its recall@10 against exact search measured at build
  time on a seeded sample of the vectors used as queries, and its *provenance*: the model's
  fingerprint (:attr:`closp_lite.experiments.Encoders.fingerprint`) and the SHA-256 of the sorted
  key list. :func:`check_provenance` refuses a FAISS index that does not belong to the embeddings
  beside it; :func:`closp_lite.experiments.check_index` then checks those against the model and
  the corpus.

Kinds (all inner product = cosine on unit vectors):

* ``flat`` - exact, every vector scored (``IndexFlatIP``); the default up to :data:`FLAT_MAX` vectors.
* ``ivf`` - ``IVF{nlist},SQ8``: k-means cells, 8-bit scalar-quantised vectors, ``nprobe`` cells
  visited per query. The default above :data:`FLAT_MAX` (chapter 10 measures the trade-off).
* ``hnsw`` - a navigable small-world graph (``IndexHNSWFlat``), an option.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from closp_lite.config import DEFAULT_SEED
from closp_lite.index import EmbeddingIndex, SearchHits, top_k

Kind = Literal["auto", "flat", "ivf", "hnsw"]
KINDS: tuple[str, ...] = ("auto", "flat", "ivf", "hnsw")
FAISS_FILE = "index.faiss"
FAISS_INFO = "faiss.json"
FLAT_MAX = 50_000
"""Up to this many vectors exact search is fast enough (about 2 ms a query on 2 cores)."""
DEFAULT_NPROBE = 16
DEFAULT_EF_SEARCH = 128
RECALL_QUERIES = 200

__all__ = [
    "FAISS_FILE",
    "FAISS_INFO",
    "FLAT_MAX",
    "KINDS",
    "FaissEmbeddingIndex",
    "FaissSearcher",
    "IndexSpec",
    "build",
    "check_provenance",
    "keys_digest",
    "open_index",
    "recall_at_k",
    "search_hits",
]


@dataclass(frozen=True)
class IndexSpec:
    """Which FAISS index to build and how to search it (chapter 10).

    ``nlist`` (IVF cells) defaults to about ``sqrt(N)``, a power of two, at most 4096.
    """

    kind: Kind = "auto"
    nlist: int | None = None
    nprobe: int = DEFAULT_NPROBE
    hnsw_m: int = 32
    ef_search: int = DEFAULT_EF_SEARCH
    seed: int = DEFAULT_SEED
    ef_construction: int = 40  # HNSW: candidates kept while linking a new vector (FAISS's default); more = better graph, slower build

    def resolved(self, n: int) -> IndexSpec:
        """The spec with ``auto`` and ``nlist`` decided for ``n`` vectors."""
        if self.kind not in KINDS:
            raise ValueError(f"unknown FAISS index kind {self.kind!r}: choose one of {', '.join(KINDS)}")
        kind = self.kind if self.kind != "auto" else ("flat" if n <= FLAT_MAX else "ivf")
        # About sqrt(N) cells (1024 for the 647k corpus): more cells search faster but k-means
        # training grows with them, and 2 cores train 1024 cells in seconds.
        nlist = self.nlist or min(4096, 2 ** max(4, round(math.log2(math.sqrt(max(n, 1))))))
        return replace(self, kind=kind, nlist=min(nlist, max(1, n // 39)))

    def factory(self, dim: int) -> Any:
        """An empty FAISS index of this kind for ``dim``-dimensional vectors."""
        import faiss

        if self.kind == "flat":
            return faiss.IndexFlatIP(dim)
        if self.kind == "ivf":
            return faiss.index_factory(dim, f"IVF{self.nlist},SQ8", faiss.METRIC_INNER_PRODUCT)
        if self.kind == "hnsw":
            index = faiss.IndexHNSWFlat(dim, self.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = self.ef_construction
            return index
        raise ValueError(f"resolve the spec first: kind {self.kind!r}")


def keys_digest(keys: Sequence[str]) -> str:
    """SHA-256 of the sorted key list: which corpus (split) an index covers, whatever its row order (chapter 10)."""
    return hashlib.sha256("\n".join(sorted(map(str, keys))).encode()).hexdigest()


def recall_at_k(found: np.ndarray, exact: np.ndarray, k: int = 10) -> float:
    """Mean share of the exact top-``k`` that the approximate top-``k`` also returns (chapter 10)."""
    if found.shape[0] != exact.shape[0]:
        raise ValueError(f"recall needs the same queries: {found.shape[0]} vs {exact.shape[0]} rows")
    hits = [len(set(a[:k].tolist()) & set(b[:k].tolist())) / k for a, b in zip(found, exact)]
    return float(np.mean(hits))


def _set_search_params(index: Any, spec: IndexSpec) -> None:
    import faiss

    if spec.kind == "ivf":
        faiss.extract_index_ivf(index).nprobe = spec.nprobe
    elif spec.kind == "hnsw":
        index.hnsw.efSearch = spec.ef_search


def _train_sample(vectors: np.ndarray, spec: IndexSpec) -> np.ndarray:
    """A seeded sample of 64 vectors per IVF cell: enough for k-means, far cheaper than all."""
    n = vectors.shape[0]
    size = min(n, 64 * (spec.nlist or 1))
    rows = np.sort(np.random.default_rng(spec.seed).choice(n, size=size, replace=False))
    return np.ascontiguousarray(vectors[rows], dtype=np.float32)


def _add_in_chunks(index: Any, vectors: np.ndarray, chunk: int = 65_536) -> None:
    # vectors may be a float16 memory map: convert a chunk at a time to keep memory bounded.
    for start in range(0, vectors.shape[0], chunk):
        index.add(np.ascontiguousarray(vectors[start : start + chunk], dtype=np.float32))


@dataclass
class FaissSearcher:
    """A FAISS index over an :class:`EmbeddingIndex`'s rows, with its build report (chapter 10)."""

    index: Any
    spec: IndexSpec
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def ntotal(self) -> int:
        """Number of vectors in the index."""
        return int(self.index.ntotal)

    def search(self, queries: np.ndarray, k: int = 10, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` row numbers and scores per query, optionally among ``rows`` only (chapter 10)."""
        import faiss

        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if queries.shape[1] != self.index.d:
            raise ValueError(f"query vectors must have {self.index.d} dimensions like the index, got {queries.shape}")
        if k < 1:
            raise ValueError(f"k must be a positive integer, got {k}")
        params = None
        if rows is not None and len(rows) < self.ntotal:
            selector = faiss.IDSelectorBatch(np.asarray(rows, dtype=np.int64))
            # Per-search parameters replace the index's own, so nprobe / efSearch are set again.
            name = {"ivf": "SearchParametersIVF", "hnsw": "SearchParametersHNSW"}.get(self.spec.kind, "SearchParameters")
            params = getattr(faiss, name)(sel=selector)
            if self.spec.kind == "ivf":
                params.nprobe = self.spec.nprobe
            elif self.spec.kind == "hnsw":
                params.efSearch = self.spec.ef_search
        scores, indices = self.index.search(queries, k, params=params)
        return indices.astype(np.int64), scores

    def save(self, folder: str | Path) -> Path:
        """Write ``index.faiss`` and ``faiss.json`` into ``folder`` (an embedding index folder)."""
        import faiss

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self.index, str(folder / FAISS_FILE))
        (folder / FAISS_INFO).write_text(json.dumps({**self.info, "spec": self.spec.__dict__}, indent=2) + "\n")
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> FaissSearcher:
        """Read ``index.faiss`` + ``faiss.json`` written by :meth:`save`.

        Raises:
            FileNotFoundError: naming the folder and the command that builds the index.
        """
        import faiss

        folder = Path(folder)
        if not (folder / FAISS_FILE).is_file() or not (folder / FAISS_INFO).is_file():
            raise FileNotFoundError(
                f"{folder} has no FAISS index ({FAISS_FILE}, {FAISS_INFO}): build it with "
                f"`closp-lite embed RUN --data PATH --out {folder}`"
            )
        info = json.loads((folder / FAISS_INFO).read_text())
        spec = IndexSpec(**info.pop("spec"))
        searcher = cls(faiss.read_index(str(folder / FAISS_FILE)), spec, info)
        _set_search_params(searcher.index, spec)
        return searcher


def build(
    vectors: np.ndarray, spec: IndexSpec | None = None, provenance: dict[str, Any] | None = None, recall_queries: int = RECALL_QUERIES
) -> FaissSearcher:
    """Build a FAISS index of ``vectors`` and measure its recall@10 against exact search (chapter 10).

    The recall is measured with ``recall_queries`` seeded vectors of the corpus itself as queries
    (the only queries known at build time); text queries can fare worse (chapter 10 shows it).
    """
    import time

    n, dim = vectors.shape
    if n == 0:
        raise ValueError("cannot index an empty set of vectors: the corpus split has no patches")
    spec = (spec or IndexSpec()).resolved(n)
    index = spec.factory(dim)
    start = time.perf_counter()
    if not index.is_trained:
        index.train(_train_sample(vectors, spec))
    _add_in_chunks(index, vectors)
    _set_search_params(index, spec)
    seconds = time.perf_counter() - start
    searcher = FaissSearcher(index, spec, {**(provenance or {}), "n": n, "dim": dim, "build_seconds": round(seconds, 3)})
    rows = np.random.default_rng(spec.seed).choice(n, size=min(n, recall_queries), replace=False)
    queries = np.asarray(vectors[np.sort(rows)], dtype=np.float32)
    k = min(10, n)
    exact, _ = top_k(queries, vectors, k)
    found, _ = searcher.search(queries, k)
    searcher.info["recall_at_10"] = round(recall_at_k(found, exact, k), 4)
    return searcher


def check_provenance(searcher: FaissSearcher, embeddings: EmbeddingIndex) -> None:
    """Refuse a FAISS index that was not built from these embeddings: other rows or another model (chapter 10).

    Raises:
        ValueError: naming what differs and the command that rebuilds the index.
    """
    rebuild = "rebuild it with `closp-lite embed RUN --data PATH --out INDEX`"
    if searcher.ntotal != len(embeddings):
        raise ValueError(f"the FAISS index holds {searcher.ntotal} vectors but the embeddings {len(embeddings)}: {rebuild}")
    if searcher.info.get("keys_sha256") != keys_digest(embeddings.keys):
        raise ValueError(f"the FAISS index was built for other rows than items.parquet lists: {rebuild}")
    if searcher.info.get("model_fingerprint") != embeddings.info.get("model_fingerprint"):
        raise ValueError(f"the FAISS index was built by another model than the embeddings beside it (weights differ): {rebuild}")


def search_hits(searcher: FaissSearcher, embeddings: EmbeddingIndex, queries: np.ndarray, k: int = 10, modality: str = "all") -> SearchHits:
    """:meth:`EmbeddingIndex.search` through FAISS: top-``k`` of one modality or all (chapter 10)."""
    rows = embeddings.rows(modality)
    indices, scores = searcher.search(queries, min(k, len(rows)), None if modality == "all" else rows)
    return SearchHits(indices, scores, [[embeddings.keys[i] for i in row if i >= 0] for row in indices])


class FaissEmbeddingIndex(EmbeddingIndex):
    """An :class:`EmbeddingIndex` whose :meth:`search` goes through its FAISS index (chapter 10).

    Everything that takes an embedding index (``closp_lite.experiments.search_text``, the
    explorer) then searches with FAISS without knowing it; :meth:`scores` stays exact.
    """

    def __init__(self, embeddings: EmbeddingIndex, searcher: FaissSearcher) -> None:
        super().__init__(embeddings.vectors, embeddings.keys, embeddings.modalities, embeddings.labels, embeddings.info)
        self.searcher = searcher

    def search(self, queries: np.ndarray, k: int = 10, modality: str = "all") -> SearchHits:
        """Top-``k`` images for each query vector through FAISS, over one modality or all (chapter 10)."""
        return search_hits(self.searcher, self, queries, k, modality)


def open_index(folder: str | Path) -> EmbeddingIndex:
    """Open an index folder: searched through FAISS if it holds a FAISS index built from its embeddings (chapter 10).

    Check it against the model and the corpus with :func:`closp_lite.experiments.check_index`.

    Raises:
        FileNotFoundError: if the folder is not an embedding index.
        ValueError: if the FAISS index does not belong to the embeddings.
    """
    embeddings = EmbeddingIndex.load(folder)
    if not (Path(folder) / FAISS_FILE).is_file():
        return embeddings
    searcher = FaissSearcher.load(folder)
    check_provenance(searcher, embeddings)
    return FaissEmbeddingIndex(embeddings, searcher)
