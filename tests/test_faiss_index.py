"""FAISS search (chapter 10): exact flat = closp-lite's exact search, IVF/HNSW recall reported, provenance checked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from closp_lite.faiss_index import (
    FaissSearcher,
    IndexSpec,
    build,
    check_provenance,
    keys_digest,
    recall_at_k,
    search_hits,
)
from closp_lite.index import EmbeddingIndex, top_k


def _unit(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _embeddings(n: int = 300) -> EmbeddingIndex:
    modalities = np.array(["s1", "s2"] * (n // 2))
    return EmbeddingIndex(_unit(n), [f"k{i}" for i in range(n)], modalities, [["crops"]] * n)


def test_auto_spec_is_exact_for_small_and_ivf_for_large() -> None:
    assert IndexSpec().resolved(1000).kind == "flat"
    large = IndexSpec().resolved(647_000)
    assert large.kind == "ivf" and 1024 <= (large.nlist or 0) <= 4096
    with pytest.raises(ValueError, match="unknown FAISS index kind"):
        IndexSpec(kind="lsh").resolved(10)  # type: ignore[arg-type]


def test_flat_index_equals_exact_search_and_filters_modality() -> None:
    emb = _embeddings()
    searcher = build(emb.vectors, IndexSpec(kind="flat"))
    queries = _unit(5, seed=1)
    exact_rows, exact_scores = top_k(queries, emb.vectors, 7)
    rows, scores = searcher.search(queries, 7)
    assert np.array_equal(rows, exact_rows) and np.allclose(scores, exact_scores, atol=1e-5)
    assert searcher.info["recall_at_10"] == 1.0
    hits = search_hits(searcher, emb, queries, 5, "s2")
    assert all(emb.modalities[i] == "s2" for i in hits.indices.ravel())
    assert hits.keys == emb.search(queries, 5, "s2").keys


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_approximate_index_reports_its_recall(kind: str) -> None:
    vectors = _unit(4000, seed=2)
    searcher = build(vectors, IndexSpec(kind=kind, nlist=16, nprobe=16), recall_queries=50)  # type: ignore[arg-type]
    assert searcher.spec.kind == kind
    assert 0.8 <= searcher.info["recall_at_10"] <= 1.0  # all 16 cells probed: only SQ8 rounding is lost
    s2 = np.arange(0, 4000, 2)
    rows, _ = searcher.search(vectors[:3], 5, rows=s2)
    assert set(rows.ravel().tolist()) <= set(s2.tolist())
    few = build(vectors, IndexSpec(kind="ivf", nlist=64, nprobe=1), recall_queries=50)
    assert few.info["recall_at_10"] < searcher.info["recall_at_10"]  # one cell of 64: neighbours are missed


def test_recall_at_k_counts_shared_results() -> None:
    assert recall_at_k(np.array([[1, 2, 3, 4]]), np.array([[4, 3, 9, 8]]), k=4) == 0.5


def test_save_load_and_provenance(tmp_path: Path) -> None:
    emb = _embeddings()
    emb.info["model_fingerprint"] = "weights one"
    searcher = build(emb.vectors, IndexSpec(kind="flat"), {"model_fingerprint": "weights one", "keys_sha256": keys_digest(emb.keys)})
    loaded = FaissSearcher.load(searcher.save(tmp_path / "index"))
    check_provenance(loaded, emb)
    emb.info["model_fingerprint"] = "weights two"
    with pytest.raises(ValueError, match="weights differ"):
        check_provenance(loaded, emb)
    fewer = EmbeddingIndex(emb.vectors[:-1], emb.keys[:-1], emb.modalities[:-1], emb.labels[:-1], emb.info)
    with pytest.raises(ValueError, match="299"):
        check_provenance(loaded, fewer)
    with pytest.raises(FileNotFoundError, match="closp-lite embed"):
        FaissSearcher.load(tmp_path / "nothing")


def test_cli_embed_then_search_through_faiss(tiny_corpus: tuple[Path, list], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import json

    from closp_lite.cli import main

    root, _ = tiny_corpus
    index = tmp_path / "index"
    assert main(["embed", "untrained", "--data", str(root), "--out", str(index), "--shard-size", "2", "--json"]) == 0
    built = json.loads(capsys.readouterr().out)
    assert built["n"] == 4 and built["faiss"] == "flat" and built["recall_at_10"] == 1.0
    assert sorted(p.name for p in (index / "shards").iterdir()) == ["00000", "00001", "plan.json"]
    assert main(["search", "coniferous forest", "--run", "untrained", "--data", str(root), "--index", str(index), "--k", "3", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)["results"]
    assert len(found) == 3 and all(r["key"].startswith(("s1_", "s2_")) for r in found)
    info = json.loads((index / "faiss.json").read_text())
    (index / "faiss.json").write_text(json.dumps({**info, "model_fingerprint": "another model"}))
    assert main(["search", "forest", "--run", "untrained", "--data", str(root), "--index", str(index)]) == 1
    assert "weights differ" in capsys.readouterr().err


def test_hnsw_build_effort_is_set_and_saved(tmp_path: Path) -> None:
    searcher = build(_unit(500, seed=3), IndexSpec(kind="hnsw", hnsw_m=8, ef_construction=20), recall_queries=20)
    assert searcher.index.hnsw.efConstruction == 20 and searcher.spec.ef_construction == 20
    assert FaissSearcher.load(searcher.save(tmp_path / "index")).spec.ef_construction == 20
