"""Embedding a whole corpus in shards that survive interruptions (chapter 10).

Embedding the 517,000-patch corpus split takes hours on one GPU and days on a CPU, so
:func:`embed_sharded` cuts the split's key list into fixed ranges of ``shard_size`` patches and
writes each range as a small embedding-index folder under ``OUT/shards/`` (``00000``, ``00001``,
... written as ``NNNNN.part`` and renamed when complete). Started again on the same folder it skips
the complete shards, so an interrupted run resumed gives exactly the vectors of a straight run
(the model is in eval mode, the inputs are the same). ``OUT/shards/plan.json`` records the model's
fingerprint, the corpus keys and the shard size; a resume with anything else is refused.

When every shard is there they are merged into ``OUT`` (an :class:`~closp_lite.index.EmbeddingIndex`
folder) and a FAISS index is built beside them (:mod:`closp_lite.faiss_index`), with its provenance.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from closp_lite.config import settings
from closp_lite.experiments import Encoders
from closp_lite.faiss_index import FaissSearcher, IndexSpec, build, keys_digest
from closp_lite.index import EmbeddingIndex, embed_dataset

SHARDS_DIR = "shards"
PLAN_FILE = "plan.json"
DEFAULT_SHARD_SIZE = 8192

__all__ = ["DEFAULT_SHARD_SIZE", "PLAN_FILE", "SHARDS_DIR", "ShardedEmbedding", "embed_sharded", "shard_ranges"]


def shard_ranges(n: int, shard_size: int) -> list[range]:
    """Row ranges of the shards of ``n`` patches (chapter 10)."""
    if shard_size < 1:
        raise ValueError(f"shard_size must be a positive integer, got {shard_size}")
    return [range(start, min(start + shard_size, n)) for start in range(0, n, shard_size)]


class ShardedEmbedding:
    """The shard folders of one embedding job: which are done, and the plan they follow (chapter 10)."""

    def __init__(self, out: str | Path, plan: dict[str, Any]) -> None:
        self.out = Path(out)
        self.folder = self.out / SHARDS_DIR
        self.plan = plan
        self._check_plan()

    def _check_plan(self) -> None:
        path = self.folder / PLAN_FILE
        if not path.is_file():
            self.folder.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(self.plan, indent=2) + "\n")
            return
        before = json.loads(path.read_text())
        differ = sorted(name for name in set(before) | set(self.plan) if before.get(name) != self.plan.get(name))
        if differ:
            raise ValueError(
                f"{path}: an embedding job with other {', '.join(differ)} is under way in {self.out}; "
                "resume it with the same model, corpus and shard size, or choose another --out"
            )

    def shard(self, number: int) -> Path:
        """Folder of shard ``number``."""
        return self.folder / f"{number:05d}"

    def done(self, number: int) -> bool:
        """Whether shard ``number`` was written completely."""
        return (self.shard(number) / "info.json").is_file()

    def write(self, number: int, part: EmbeddingIndex) -> None:
        """Save shard ``number`` under a ``.part`` name, then rename it (never half a shard)."""
        tmp = self.folder / f"{number:05d}.part"
        shutil.rmtree(tmp, ignore_errors=True)
        part.save(tmp, dtype="float32")
        tmp.rename(self.shard(number))

    def merge(self, count: int) -> EmbeddingIndex:
        """All shards, in order, as one index (float32 in memory; saved as float16)."""
        parts = [EmbeddingIndex.load(self.shard(i), mmap=False) for i in range(count)]
        return EmbeddingIndex(
            np.concatenate([p.vectors for p in parts]),
            [k for p in parts for k in p.keys],
            np.concatenate([p.modalities for p in parts]),
            [labels for p in parts for labels in p.labels],
            dict(self.plan),
        )


def _loader(dataset: Any, rows: range, workers: int) -> Any:
    """Samples of ``rows``, read by ``workers`` processes ahead of the model (each opens its own HDF5 handles)."""
    from torch.utils.data import DataLoader, Subset

    return DataLoader(Subset(dataset, list(rows)), batch_size=None, num_workers=workers,
                      persistent_workers=False, prefetch_factor=4 if workers else None)  # fmt: skip


def embed_sharded(
    encoders: Encoders,
    root: str | Path,
    out: str | Path,
    split: str | None = "test",
    shard_size: int = DEFAULT_SHARD_SIZE,
    batch_size: int | None = None,
    workers: int | None = None,
    spec: IndexSpec | None = None,
    stop_after_shards: int | None = None,
    progress: bool = True,
) -> tuple[EmbeddingIndex, FaissSearcher] | None:
    """Embed the ``split`` of the corpus in ``root`` shard by shard into ``out``, then index it with FAISS (chapter 10).

    Args:
        encoders: the model (``encoders.image`` embeds a batch of one modality).
        root: the corpus folder.
        out: the index folder to write (``shards/`` inside it holds the work in progress).
        split: ``test`` (the searched 80 %), ``train`` or ``None`` (every patch).
        shard_size: patches per shard; a resume loses at most one shard of work.
        batch_size: images per forward pass (default: the mode's ``embed_batch_size``).
        workers: DataLoader processes reading patches ahead (0: read in this process; default: the mode's ``num_workers``).
        spec: which FAISS index to build (default: exact up to 50,000 vectors, IVF above).
        stop_after_shards: stop (return ``None``) after writing this many new shards (simulates an interruption).
        progress: show progress bars.

    Returns:
        The merged embeddings and the FAISS searcher (both saved in ``out``), or ``None`` if stopped early.
    """
    from tqdm.auto import tqdm

    from closp_lite.data.datasets import CrisisLandMarkDataset

    dataset = CrisisLandMarkDataset(root, split=split)
    keys = dataset.metadata["key"].tolist()
    ranges = shard_ranges(len(keys), shard_size)
    plan = {"model": encoders.name, "model_fingerprint": encoders.fingerprint, "corpus": str(root), "split": split,
            "keys_sha256": keys_digest(keys), "n": len(keys), "shard_size": shard_size}  # fmt: skip
    job = ShardedEmbedding(out, plan)
    batch = batch_size or settings().embed_batch_size
    workers = settings().num_workers if workers is None else workers
    written = 0
    for number, rows in enumerate(tqdm(ranges, desc="shards", unit="shard", disable=not progress)):
        if job.done(number):
            continue
        if stop_after_shards is not None and written >= stop_after_shards:
            return None
        part = embed_dataset(encoders.image, _loader(dataset, rows, workers), batch, total=len(rows), progress=progress)
        job.write(number, part)
        written += 1
    embeddings = job.merge(len(ranges))
    embeddings.save(out)
    searcher = build(embeddings.vectors, spec or IndexSpec(), provenance=plan)
    searcher.save(out)
    return embeddings, searcher
