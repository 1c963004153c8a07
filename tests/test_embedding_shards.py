"""Sharded, resumable embedding (chapter 10): a resumed run equals a straight run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from closp_lite.embedding_shards import embed_sharded, shard_ranges
from closp_lite.experiments import Encoders
from closp_lite.faiss_index import FaissSearcher


def _encoders(fingerprint: str = "m1") -> Encoders:
    """A deterministic stand-in model: per-channel means through a fixed projection."""
    weights = {c: torch.randn(c, 8, generator=torch.Generator().manual_seed(c)) for c in (2, 13)}

    def image(images: torch.Tensor) -> torch.Tensor:
        return images.mean(dim=(2, 3)) @ weights[images.shape[1]]

    return Encoders(image, lambda texts: torch.zeros(len(texts), 8), name="fixed", fingerprint=fingerprint)


def test_shard_ranges_cover_every_row_once() -> None:
    assert [list(r) for r in shard_ranges(5, 2)] == [[0, 1], [2, 3], [4]]
    with pytest.raises(ValueError, match="shard_size"):
        shard_ranges(5, 0)


def test_resumed_embedding_equals_straight_run(tiny_corpus: tuple[Path, list], tmp_path: Path) -> None:
    root, _ = tiny_corpus
    straight = embed_sharded(_encoders(), root, tmp_path / "straight", shard_size=1, progress=False)
    assert straight is not None
    assert embed_sharded(_encoders(), root, tmp_path / "resumed", shard_size=1, stop_after_shards=2, progress=False) is None
    assert sorted(p.name for p in (tmp_path / "resumed" / "shards").iterdir()) == ["00000", "00001", "plan.json"]
    resumed = embed_sharded(_encoders(), root, tmp_path / "resumed", shard_size=1, progress=False)
    assert resumed is not None
    (a, _), (b, _) = straight, resumed
    assert a.keys == b.keys and len(a) == 4  # the 4 test-split patches
    assert np.array_equal(a.vectors, b.vectors)
    loaded = FaissSearcher.load(tmp_path / "resumed")
    assert loaded.ntotal == 4 and loaded.info["model_fingerprint"] == "m1" and loaded.info["recall_at_10"] == 1.0


def test_resume_with_another_model_is_refused(tiny_corpus: tuple[Path, list], tmp_path: Path) -> None:
    root, _ = tiny_corpus
    embed_sharded(_encoders(), root, tmp_path / "out", shard_size=1, stop_after_shards=1, progress=False)
    with pytest.raises(ValueError, match="model_fingerprint"):
        embed_sharded(_encoders("m2"), root, tmp_path / "out", shard_size=1, progress=False)
