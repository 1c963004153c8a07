"""Modality-gap remedies (closp_lite.fusion) and the search path that applies them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from closp_lite import fusion
from closp_lite.index import EmbeddingIndex


def _gapped(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Simulated embeddings with a modality gap: every S2 vector is shifted along one axis.

    Rows 0-9 are S1, 10-19 S2; within each modality, row i resembles the query the more the
    larger its signal. The raw cosine puts every S2 image above every S1 image.
    """
    rng = np.random.default_rng(seed)
    signal = np.tile(np.linspace(0.0, 1.0, 10), 2)
    vectors = np.zeros((20, 4), dtype=np.float32)
    vectors[:, 0] = signal + 0.01 * rng.standard_normal(20)
    vectors[:, 1] = 1.0
    vectors[10:, 2] = 3.0  # the gap: S2 sits apart from S1
    vectors[:10, 3] = 3.0
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    query = np.array([[0.6, 0.0, 0.8, 0.0]], dtype=np.float32)  # nearer the S2 side, as a caption often is
    return vectors, np.array(["s1"] * 10 + ["s2"] * 10), query


def _top_modalities(scores: np.ndarray, modalities: np.ndarray, k: int) -> list[str]:
    return list(modalities[np.argsort(-scores[0], kind="stable")[:k]])


def test_raw_scores_show_the_gap_and_remedies_close_it() -> None:
    vectors, modalities, query = _gapped()
    raw = fusion.fused_scores(query, vectors, modalities, "none")
    np.testing.assert_allclose(raw, query @ vectors.T, rtol=1e-6)
    assert fusion.modality_share(_top_modalities(raw, modalities, 10), "s1", 10) == 0.0
    # Anchor captions sit on the text side of the gap, like the query.
    anchors = np.array([[1.0, 0.0, 1.3, 0.0], [0.0, 1.0, 1.3, 0.0], [0.5, 0.5, 1.3, 0.0]], dtype=np.float32)
    anchors /= np.linalg.norm(anchors, axis=1, keepdims=True)
    for remedy in ("centre", "zscore", "anchor", "interleave"):
        fused = fusion.fused_scores(query, vectors, modalities, remedy, anchors=anchors)
        share = fusion.modality_share(_top_modalities(fused, modalities, 10), "s1", 10)
        assert 0.3 <= share <= 0.7, (remedy, share)


def test_order_within_a_modality_is_kept_except_by_centring() -> None:
    vectors, modalities, query = _gapped(1)
    raw = fusion.fused_scores(query, vectors, modalities, "none")[0]
    for remedy in ("zscore", "anchor", "interleave"):
        fused = fusion.fused_scores(query, vectors, modalities, remedy, anchors=vectors[:3])[0]
        for m in ("s1", "s2"):
            rows = np.flatnonzero(modalities == m)
            assert list(np.argsort(-fused[rows], kind="stable")) == list(np.argsort(-raw[rows], kind="stable")), remedy


def test_interleave_merges_by_percentile_in_proportion() -> None:
    vectors, modalities, query = _gapped()
    fused = fusion.fused_scores(query, vectors, modalities, "interleave")[0]
    assert sorted(fused[modalities == "s1"].round(3)) == sorted(fused[modalities == "s2"].round(3))
    assert fused.max() == pytest.approx(0.95) and fused.min() == pytest.approx(0.05)
    # 10 S1 vs 5 S2 images: the top 3 holds 2 S1 and 1 S2
    keep = np.r_[0:10, 15:20]
    merged = fusion.fused_scores(query, vectors[keep], modalities[keep], "interleave")
    assert sorted(_top_modalities(merged, modalities[keep], 3)) == ["s1", "s1", "s2"]


def _toy_scores(seed: int, queries: int = 40, size: int = 100) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Simulated cosines of ``queries`` against ``size`` S1 and ``size`` S2 images, with their relevance.

    Per query 35 S1 and 15 S2 images are relevant (S1 holds 70 % of the relevant images); every
    S2 cosine is 0.25 above its S1 counterpart (the gap), relevant ones 0.1 above irrelevant ones.
    """
    rng = np.random.default_rng(seed)
    modalities = np.array(["s1"] * size + ["s2"] * size)
    relevant = np.zeros((queries, 2 * size), dtype=bool)
    for q in range(queries):
        relevant[q, rng.choice(size, 35, replace=False)] = True
        relevant[q, size + rng.choice(size, 15, replace=False)] = True
    raw = 0.2 + 0.1 * relevant + 0.25 * (modalities == "s2") + 0.03 * rng.standard_normal(relevant.shape)
    raw += 0.05 * rng.standard_normal((queries, 1))  # some queries score everything higher
    return raw.astype(np.float32), relevant, modalities


def _merged_top(scores: np.ndarray, modalities: np.ndarray, relevant: np.ndarray, k: int = 20) -> tuple[float, float]:
    """Mean S1 share and mean precision of the top ``k`` over queries."""
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return float(np.mean(modalities[top] == "s1")), float(np.mean(np.take_along_axis(relevant, top, axis=1)))


def _fused(raw: np.ndarray, modalities: np.ndarray, remedy: str, calibration: fusion.Calibration | None = None) -> np.ndarray:
    """``fused_scores`` of given raw cosines: query q is the q-th unit vector, image i the column ``raw[:, i]``."""
    return fusion.fused_scores(np.eye(raw.shape[0]), raw.T, modalities, remedy, calibration=calibration)


def test_calibrated_merge_follows_the_share_of_relevant_images() -> None:
    calibration = fusion.fit_calibration(*_toy_scores(0))
    raw, relevant, modalities = _toy_scores(1)
    assert _merged_top(_fused(raw, modalities, "none"), modalities, relevant)[0] == 0.0  # the gap: every S2 image first
    assert _merged_top(_fused(raw, modalities, "interleave"), modalities, relevant)[0] == pytest.approx(0.5, abs=0.01)
    probabilities = _fused(raw, modalities, "probability", calibration)
    assert probabilities[relevant].mean() > 0.8 and probabilities[~relevant].mean() < 0.2  # calibrated across the gap
    s1_share, precision = _merged_top(_fused(raw, modalities, "calibrate", calibration), modalities, relevant)
    assert s1_share == pytest.approx(0.7, abs=0.06)  # the share of the relevant images, not of the corpus (0.5)
    assert precision > 0.9
    # Within a modality the order stays that of the cosine.
    merged = _fused(raw, modalities, "calibrate", calibration)[0]
    for m in ("s1", "s2"):
        rows = np.flatnonzero(modalities == m)
        assert list(np.argsort(-merged[rows], kind="stable")) == list(np.argsort(-raw[0, rows], kind="stable"))


def test_calibration_round_trips_and_refuses_what_it_cannot_fit() -> None:
    calibration = fusion.fit_calibration(*_toy_scores(0))
    assert fusion.Calibration.from_dict(json.loads(json.dumps(calibration.to_dict()))) == calibration
    raw, relevant, modalities = _toy_scores(0)
    with pytest.raises(ValueError, match="cannot calibrate s2"):
        fusion.fit_calibration(raw, relevant & (modalities == "s1"), modalities)
    with pytest.raises(ValueError, match="needs a Calibration"):
        _fused(raw, modalities, "probability")
    # Without a calibration, the calibrated merge is interleave: every modality assumed relevant in proportion to its size.
    np.testing.assert_allclose(_fused(raw, modalities, "calibrate"), _fused(raw, modalities, "interleave"))
    with pytest.raises(ValueError, match="no map for modality 's3'"):
        calibration.probabilities(raw, np.where(modalities == "s1", "s1", "s3"))
    assert fusion.needs_calibration("calibrate") and fusion.needs_calibration("probability") and not fusion.needs_calibration("zscore")


def test_errors_name_the_fix() -> None:
    vectors, modalities, query = _gapped()
    with pytest.raises(ValueError, match="choose one of none, centre"):
        fusion.fused_scores(query, vectors, modalities, "magic")
    with pytest.raises(ValueError, match="anchor text vectors"):
        fusion.fused_scores(query, vectors, modalities, "anchor")
    with pytest.raises(ValueError, match="one modality per vector"):
        fusion.fused_scores(query, vectors, modalities[:3], "none")
    assert fusion.needs_anchors("anchor") and not fusion.needs_anchors("interleave")
    assert fusion.DEFAULT_REMEDY in fusion.REMEDIES


def test_index_search_scores_matches_search_on_raw_scores() -> None:
    vectors, modalities, query = _gapped()
    index = EmbeddingIndex(vectors, [f"k{i}" for i in range(20)], modalities, [[] for _ in range(20)])
    for modality in ("s1", "s2", "all"):
        direct = index.search(query, 5, modality)
        via_scores = index.search_scores(index.scores(query), 5, modality)
        assert direct.keys == via_scores.keys
        np.testing.assert_allclose(direct.scores, via_scores.scores, rtol=1e-6)
    with pytest.raises(ValueError, match="one column per vector"):
        index.search_scores(np.zeros((1, 3)), 2)


def test_search_text_applies_the_remedy(tmp_path: Path) -> None:
    import torch

    from closp_lite import experiments as ex

    vectors, modalities, query = _gapped()
    index = EmbeddingIndex(vectors, [f"k{i}" for i in range(20)], modalities, [["Water"]] * 20)
    encoders = ex.Encoders(lambda x: x, lambda texts: torch.tensor(np.repeat(query, len(texts), 0)))
    raw = ex.search_text(encoders, index, "water", k=10, remedy="none")
    fused = ex.search_text(encoders, index, "water", k=10)
    assert {r["modality"] for r in raw} == {"s2"}
    assert {r["modality"] for r in fused} == {"s1", "s2"}
    assert all(r["cosine"] == pytest.approx(float(query[0] @ vectors[int(r["key"][1:])])) for r in fused)
    folder = index.save(tmp_path / "emb", dtype="float32")
    assert json.loads((folder / "info.json").read_text())["n"] == 20


def test_default_remedy_is_the_measured_best() -> None:
    record = json.loads((Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "modality_gap.json").read_text())
    assert record["results"]["best"] == fusion.DEFAULT_REMEDY
    best = record["results"]["remedies"][fusion.DEFAULT_REMEDY]
    assert best["land_cover_share_gap_points"] <= 15 and best["mixed_over_mean_s1_s2_ndcg@10"] >= 0.9


def test_cli_search_and_evaluate_take_a_remedy(tiny_corpus, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    from closp_lite.cli import main

    root, _ = tiny_corpus
    argv = ["search", "forest", "--run", "untrained", "--data", str(root), "--k", "4", "--json"]
    assert main([*argv, "--remedy", "none"]) == 0
    raw = json.loads(capsys.readouterr().out)
    assert raw["remedy"] == "none" and all(r["score"] == pytest.approx(r["cosine"], abs=1e-5) for r in raw["results"])
    assert main(argv) == 0
    fused = json.loads(capsys.readouterr().out)
    assert fused["remedy"] == fusion.DEFAULT_REMEDY and len(fused["results"]) == 4
    with pytest.raises(SystemExit):
        main([*argv, "--remedy", "magic"])
    assert "invalid choice" in capsys.readouterr().err


def test_the_cli_calibrates_on_the_hold_out_of_the_runs_own_seed(tmp_path) -> None:
    from closp_lite.cli.retrieval import _training_seed
    from closp_lite.config import DEFAULT_SEED
    from closp_lite.training import TRAIN_CONFIG

    (tmp_path / TRAIN_CONFIG).write_text('{"seed": 7}')
    assert _training_seed(str(tmp_path)) == 7  # another seed's hold-out would hold this run's training images
    assert _training_seed(str(tmp_path / "no-run")) == DEFAULT_SEED
