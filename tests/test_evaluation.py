"""Retrieval metrics (closp_lite.evaluation): hand-computed cases and scikit-learn's ndcg_score."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import ndcg_score

from closp_lite import evaluation as ev

# ranking a, b, c with a graded 1 and c graded 2: worked out by hand below
RANKING = ["a", "b", "c"]
JUDGED = {"a": 1, "c": 2}


def test_dcg_and_ndcg_by_hand() -> None:
    assert ev.dcg([1, 0, 2]) == pytest.approx(1 / 1 + 0 + 2 / 2)
    ideal_linear = 2 + 1 / math.log2(3)
    assert ev.ndcg_at_k(RANKING, JUDGED, k=3) == pytest.approx(2 / ideal_linear)
    ideal_exp = 3 + 1 / math.log2(3)
    assert ev.ndcg_at_k(RANKING, JUDGED, k=3, gain="exponential") == pytest.approx((1 + 3 / 2) / ideal_exp)
    # cut at 1: DCG@1 = 1, ideal DCG@1 = 2 (linear)
    assert ev.ndcg_at_k(RANKING, JUDGED, k=1) == pytest.approx(0.5)
    assert ev.ndcg_at_k(["c", "a", "b"], JUDGED, k=3) == pytest.approx(1.0)
    assert ev.ndcg_at_k(RANKING, {}, k=3) == 0.0


def test_average_precision_and_hits_by_hand() -> None:
    assert ev.average_precision(RANKING, JUDGED) == pytest.approx((1 / 1 + 2 / 3) / 2)
    # a relevant document that was never retrieved still counts in the denominator
    assert ev.average_precision(RANKING, {"a": 1, "z": 1}) == pytest.approx(0.5)
    assert ev.average_precision(RANKING, JUDGED, k=2) == pytest.approx(0.5)
    assert ev.hit_at_k(RANKING, JUDGED, 1) == 1.0
    assert ev.hit_at_k(RANKING, {"c": 1}, 2) == 0.0 and ev.hit_at_k(RANKING, {"c": 1}, 3) == 1.0


def test_bad_inputs_raise() -> None:
    with pytest.raises(ValueError, match="gain"):
        ev.dcg([1, 2], gain="cubic")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="non-negative"):
        ev.dcg([-1, 2])
    with pytest.raises(ValueError, match="cut-off"):
        ev.ndcg_at_k(RANKING, JUDGED, k=0)
    with pytest.raises(ValueError, match="documents"):
        ev.rank_documents(np.zeros((2, 3)), ["a", "b"])
    with pytest.raises(ValueError, match="modalit"):
        ev.evaluate_corpora(np.zeros((1, 2)), ["q"], ["a", "b"], ["s1", "s3"], {"q": {"a": 1}})


@pytest.mark.parametrize("k", [1, 5, 20, None])
@pytest.mark.parametrize("gain", ["linear", "exponential"])
def test_ndcg_matches_sklearn_without_ties(k: int | None, gain: str) -> None:
    rng = np.random.default_rng(0)
    grades = rng.integers(0, 4, size=(8, 40))
    grades[:, 0] = 1  # every query has something relevant
    scores = rng.normal(size=grades.shape)  # continuous: no ties
    docs = [f"d{i}" for i in range(grades.shape[1])]
    ours = [
        ev.ndcg_at_k(ranking, {d: int(g) for d, g in zip(docs, row)}, k=k or len(docs), gain=gain)  # type: ignore[arg-type]
        for ranking, row in zip(ev.rank_documents(scores, docs), grades)
    ]
    # sklearn's gain is linear: exponential gain is linear gain on 2**grade - 1
    relevance = grades if gain == "linear" else 2.0**grades - 1
    assert np.mean(ours) == pytest.approx(ndcg_score(relevance, scores, k=k, ignore_ties=True))
    assert np.mean(ours) == pytest.approx(ndcg_score(relevance, scores, k=k))


def test_ranking_is_stable_on_ties_and_partial_sort_agrees() -> None:
    assert ev.rank_documents(np.array([[1.0, 1.0, 0.0, 1.0]]), ["w", "x", "y", "z"]) == [["w", "x", "z", "y"]]
    assert ev.rank_documents(np.array([[1.0, 1.0, 0.0, 1.0]]), ["w", "x", "y", "z"], k=2) == [["w", "x"]]
    rng = np.random.default_rng(1)
    scores = rng.integers(0, 5, size=(5, 60)).astype(float)  # many ties
    docs = [f"d{i}" for i in range(60)]
    full = ev.rank_documents(scores, docs)
    assert [r[:7] for r in full] == ev.rank_documents(scores, docs, k=7)


def _toy_corpus() -> tuple[list[str], list[str], list[str], dict[str, dict[str, int]]]:
    queries = ["water", "crops", "burned"]
    docs = ["s1_a", "s1_b", "s2_a", "s2_b", "s2_c"]
    modalities = ["s1", "s1", "s2", "s2", "s2"]
    qrels = {
        "water": {"s1_a": 2, "s2_a": 1},
        "crops": {"s1_b": 1, "s2_b": 1, "s2_c": 2},
        "burned": {"s2_c": 1},  # no S1 image is burned: skipped on the S1 corpus
    }
    return queries, docs, modalities, qrels


def _grade_matrix(queries: list[str], docs: list[str], qrels: dict[str, dict[str, int]]) -> np.ndarray:
    return np.array([[qrels[q].get(d, 0) for d in docs] for q in queries], dtype=float)


def test_perfect_scores_give_100_everywhere_and_corpora_are_restricted() -> None:
    queries, docs, modalities, qrels = _toy_corpus()
    perfect = _grade_matrix(queries, docs, qrels) + 1e-3 * np.arange(len(docs))[::-1]
    results = ev.evaluate_corpora(perfect, queries, docs, modalities, qrels, ndcg_k=10)
    assert set(results) == {"s1", "s2", "mixed"}
    for corpus in results.values():
        for name in ("ndcg@10", "map@10", "R@1", "R@5", "R@10", "i2t_R@1", "mR"):
            assert corpus[name] == pytest.approx(100.0), name
    assert results["s1"]["n_queries"] == 2 and results["mixed"]["n_queries"] == 3
    assert results["s1"]["n_documents"] == 2 and results["mixed"]["n_documents"] == 5


def test_worst_scores_by_hand() -> None:
    queries, docs, modalities, qrels = _toy_corpus()
    worst = -_grade_matrix(queries, docs, qrels)
    s2 = ev.evaluate_corpora(worst, queries, docs, modalities, qrels, ndcg_k=10)["s2"]
    # S2 corpus: "water" finds s2_a last of 3; "crops" ranks s2_a, then s2_b (1), then s2_c (2)
    water = 1 / math.log2(4)
    crops = (1 / math.log2(3) + 2 / math.log2(4)) / (2 + 1 / math.log2(3))
    burned = (1 / math.log2(4)) / 1  # s2_c last of 3
    assert s2["ndcg@10"] == pytest.approx(100 * (water + crops + burned) / 3)
    assert s2["R@1"] == 0.0 and s2["R@5"] == 100.0
    # image -> text: s2_a's best query is "burned" (score 0), then "crops" (0): not "water"
    assert 0.0 <= s2["i2t_R@1"] < 100.0
    assert s2["mR"] == pytest.approx(np.mean([s2[f"{p}R@{k}"] for p in ("", "i2t_") for k in (1, 5, 10)]))


def test_ndcg_curve_grows_to_one_hundred_for_a_good_ranking() -> None:
    queries, docs, _, qrels = _toy_corpus()
    curve = ev.ndcg_curve(-_grade_matrix(queries, docs, qrels), queries, docs, qrels, ks=[1, 2, 5])
    assert list(curve) == [1, 2, 5] and curve[1] == 0.0 and 0 < curve[5] <= 100
    with pytest.raises(ValueError, match="no query"):
        ev.ndcg_curve(np.zeros((1, 1)), ["q"], ["x"], {"q": {"y": 1}}, ks=[1])


def test_transpose_qrels_drops_zero_grades() -> None:
    assert ev.transpose_qrels({"q1": {"a": 1, "b": 0}, "q2": {"a": 3}}) == {"a": {"q1": 1, "q2": 3}}
