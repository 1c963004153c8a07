"""Embeddings on disk and exact top-k search (closp_lite.index) against brute force."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from closp_lite import evaluation
from closp_lite.index import EmbeddingIndex, embed_dataset, top_k


def _random_index(n: int = 300, dim: int = 16, seed: int = 0) -> EmbeddingIndex:
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    modalities = np.where(rng.random(n) < 0.4, "s1", "s2")
    return EmbeddingIndex(vectors, [f"k{i:04d}" for i in range(n)], modalities, [["Water"]] * n, {"seed": seed})


@pytest.mark.parametrize("chunk_rows", [7, 64, 10_000])
def test_top_k_equals_brute_force(chunk_rows: int) -> None:
    index = _random_index()
    queries = np.random.default_rng(1).normal(size=(5, index.dim)).astype(np.float32)
    indices, scores = top_k(queries, index.vectors, 12, chunk_rows=chunk_rows)
    brute = np.argsort(-(queries @ index.vectors.T), axis=1, kind="stable")[:, :12]
    np.testing.assert_array_equal(indices, brute)
    np.testing.assert_allclose(scores, np.take_along_axis(queries @ index.vectors.T, brute, 1), rtol=1e-6)
    assert np.all(np.diff(scores, axis=1) <= 0)


def test_ties_and_ranking_agree_with_evaluation() -> None:
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]], dtype=np.float32)
    indices, _ = top_k(np.array([1.0, 0.0]), vectors, 3, chunk_rows=1)
    assert indices.tolist() == [[0, 2, 3]]
    keys = ["a", "b", "c", "d"]
    assert evaluation.rank_documents(np.array([[1.0, 0.0, 1.0, 1.0]]), keys, 3) == [[keys[i] for i in indices[0]]]


def test_modality_filter_and_k_larger_than_corpus() -> None:
    index = _random_index(n=40)
    query = index.vectors[3]
    hits = index.search(query, k=100, modality="s1")
    s1_rows = set(index.rows("s1").tolist())
    assert set(hits.indices[0].tolist()) == s1_rows  # k > corpus: everything of that modality
    assert all(index.modalities[i] == "s1" for i in hits.indices[0])
    best = index.search(query, k=1)
    assert best.keys == [[index.keys[3]]] and best.scores[0, 0] == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ValueError, match="modality"):
        index.search(query, modality="rgb")
    with pytest.raises(ValueError, match="dimensions"):
        index.search(np.ones(3))


def test_save_and_load_memory_mapped(tmp_path: Path) -> None:
    index = _random_index(n=50)
    folder = index.save(tmp_path / "emb")
    loaded = EmbeddingIndex.load(folder)
    assert isinstance(loaded.vectors, np.memmap) and loaded.vectors.dtype == np.float16
    assert loaded.keys == index.keys and loaded.modalities.tolist() == index.modalities.tolist()
    assert loaded.labels == index.labels and loaded.info["seed"] == 0 and loaded.info["dim"] == 16
    queries = index.vectors[:4]
    np.testing.assert_allclose(loaded.scores(queries), index.scores(queries), atol=2e-3)  # float16 storage
    assert loaded.search(queries, 1).keys == [[k] for k in index.keys[:4]]
    exact = index.save(tmp_path / "exact", dtype="float32")
    np.testing.assert_array_equal(EmbeddingIndex.load(exact, mmap=False).vectors, index.vectors)


def test_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="closp-lite embed"):
        EmbeddingIndex.load(tmp_path)
    with pytest.raises(ValueError, match="one key"):
        EmbeddingIndex(np.zeros((2, 3)), ["a"], np.array(["s1", "s1"]), [[], []])
    with pytest.raises(ValueError, match="modalities"):
        EmbeddingIndex(np.zeros((1, 3)), ["a"], np.array(["rgb"]), [[]])
    with pytest.raises(ValueError, match="dtype"):
        _random_index(5).save(tmp_path / "x", dtype="int8")


def test_embed_dataset_batches_per_modality() -> None:
    # S1 has 2 channels and S2 13: a mixed batch could not be stacked
    samples = [
        {"image": torch.full((2 if i % 3 else 13, 4, 4), float(i + 1)), "key": f"p{i}", "modality": "s1" if i % 3 else "s2", "labels": ["Crops"]}
        for i in range(10)
    ]
    batches: list[int] = []

    def encode(images: torch.Tensor) -> torch.Tensor:
        batches.append(images.shape[0])
        assert images.shape[1] in (2, 13)
        mean = images.mean(dim=(1, 2, 3))
        return torch.stack([mean, 2 * mean, torch.full_like(mean, float(images.shape[1]))], dim=1)

    index = embed_dataset(encode, samples, batch_size=3, info={"run": "test"})
    assert sorted(index.keys) == sorted(s["key"] for s in samples) and sum(batches) == 10 and max(batches) == 3
    np.testing.assert_allclose(np.linalg.norm(index.vectors, axis=1), 1.0, rtol=1e-6)
    for key, modality in zip(index.keys, index.modalities):
        assert modality == ("s1" if int(key[1:]) % 3 else "s2")
    with pytest.raises(ValueError, match="empty"):
        embed_dataset(encode, [], batch_size=3)
