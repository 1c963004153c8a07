"""Retrieval metrics: nDCG@k, mAP and R@k / mean recall, per corpus (chapter 6).

Everything here works on plain NumPy arrays and TREC-style relevance judgements, so it can be
checked by hand and against other implementations:

* ``qrels`` is ``dict[query_id, dict[doc_id, grade]]`` (grades are non-negative integers;
  0 or absent = not relevant), exactly the TREC ``qrels`` file read into a dict.
* A *ranking* is a list of document ids, best first. A *score matrix* ``scores[q, d]`` (e.g.
  cosine similarities between query texts and images) is turned into rankings by
  :func:`rank_documents`: descending score, ties broken by corpus order (a stable sort), so
  the result is deterministic. scikit-learn's ``ndcg_score`` instead averages over tied orders
  by default; the two coincide whenever scores have no ties (any trained model).

Conventions follow ``trec_eval``: nDCG uses the ideal ordering of *all* judged documents of the
query that are in the searched corpus (not only the retrieved ones), the discount is
``1 / log2(rank + 1)``, the gain is linear (``ndcg_cut``) or exponential ``2**grade - 1``
(the Burges et al. variant); a document is relevant for mAP and R@k when its grade is >= 1;
queries without any relevant document in the corpus are skipped (and counted). The aggregated
metrics (:func:`evaluate_rankings`, :func:`evaluate_scores`) are percentages (x 100), as in
the CLOSP paper's tables; the per-query functions return fractions in [0, 1].
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np

Qrels = Mapping[str, Mapping[str, int]]
Gain = Literal["linear", "exponential"]
GAINS: tuple[str, ...] = ("linear", "exponential")
DEFAULT_NDCG_K = 1000
RECALL_KS: tuple[int, ...] = (1, 5, 10)
CORPORA: tuple[str, ...] = ("s1", "s2", "mixed")

__all__ = [
    "CORPORA",
    "DEFAULT_NDCG_K",
    "RECALL_KS",
    "Qrels",
    "average_precision",
    "dcg",
    "evaluate_corpora",
    "evaluate_rankings",
    "evaluate_scores",
    "hit_at_k",
    "ndcg_at_k",
    "ndcg_curve",
    "rank_documents",
    "restrict_qrels",
    "transpose_qrels",
]


def _gains(grades: np.ndarray, gain: Gain) -> np.ndarray:
    if gain == "linear":
        return grades.astype(float)
    if gain == "exponential":
        return np.power(2.0, grades.astype(float)) - 1.0
    raise ValueError(f"unknown gain {gain!r}: choose one of {', '.join(GAINS)}")


def dcg(grades: Sequence[float] | np.ndarray, k: int | None = None, gain: Gain = "linear") -> float:
    """Discounted cumulative gain of relevance ``grades`` listed in ranked order (chapter 6).

    ``DCG@k = sum_{i=1..k} g(grade_i) / log2(i + 1)`` with ``g`` linear or ``2**grade - 1``.
    """
    values = np.asarray(grades, dtype=float)[: k if k is not None else None]
    if values.size and values.min() < 0:
        raise ValueError("relevance grades must be non-negative")
    discounts = 1.0 / np.log2(np.arange(2, values.size + 2))
    return float((_gains(values, gain) * discounts).sum())


def _check_k(k: int | None) -> None:
    if k is not None and k < 1:
        raise ValueError(f"the cut-off k must be a positive integer, got {k}")


def ndcg_at_k(ranking: Sequence[str], judgements: Mapping[str, int], k: int = DEFAULT_NDCG_K, gain: Gain = "linear") -> float:
    """Normalised DCG@k of one ranking against one query's judgements, in [0, 1] (chapter 6).

    The ideal DCG uses every judged document in ``judgements`` (restrict them to the searched
    corpus first with :func:`restrict_qrels`). Returns 0.0 when nothing is relevant.
    """
    _check_k(k)
    grades = [judgements.get(doc, 0) for doc in ranking[:k]]
    ideal = dcg(sorted(judgements.values(), reverse=True), k, gain)
    return dcg(grades, k, gain) / ideal if ideal > 0 else 0.0


def average_precision(ranking: Sequence[str], judgements: Mapping[str, int], k: int | None = None) -> float:
    """Average precision of one ranking (cut at ``k`` if given), in [0, 1] (chapter 6).

    ``AP = (1/R) sum over relevant retrieved ranks r of precision@r``, with R the number of
    relevant documents (grade >= 1) in ``judgements``, as ``trec_eval``'s ``map``.
    """
    _check_k(k)
    n_relevant = sum(1 for grade in judgements.values() if grade >= 1)
    if n_relevant == 0:
        return 0.0
    hits = np.array([judgements.get(doc, 0) >= 1 for doc in ranking[:k]], dtype=float)
    precision_at_hits = np.cumsum(hits)[hits > 0] / (np.flatnonzero(hits) + 1)
    return float(precision_at_hits.sum() / n_relevant)


def hit_at_k(ranking: Sequence[str], judgements: Mapping[str, int], k: int) -> float:
    """1.0 if any relevant item (grade >= 1) is in the top ``k`` of ``ranking``, else 0.0 (chapter 6).

    This is the R@k of SAR-TEXT and of most image-text retrieval papers.
    """
    _check_k(k)
    return float(any(judgements.get(doc, 0) >= 1 for doc in ranking[:k]))


def restrict_qrels(qrels: Qrels, doc_ids: Sequence[str]) -> dict[str, dict[str, int]]:
    """Keep only judgements of documents in ``doc_ids`` and only positive grades (chapter 6).

    Used to evaluate one corpus (S1-only, S2-only) with the judgements of the mixed corpus.
    """
    allowed = set(doc_ids)
    return {qid: {d: int(g) for d, g in judged.items() if d in allowed and g > 0} for qid, judged in qrels.items()}


def transpose_qrels(qrels: Qrels) -> dict[str, dict[str, int]]:
    """Turn query -> document judgements into document -> query judgements (image -> text search)."""
    transposed: dict[str, dict[str, int]] = {}
    for qid, judged in qrels.items():
        for doc, grade in judged.items():
            if grade > 0:
                transposed.setdefault(doc, {})[qid] = int(grade)
    return transposed


def rank_documents(scores: np.ndarray, doc_ids: Sequence[str], k: int | None = None) -> list[list[str]]:
    """Rank ``doc_ids`` for every row of ``scores`` (queries x documents), best first (chapter 6).

    Descending score, ties in corpus order (stable sort); only the top ``k`` when given (found
    with a partial sort, which matters for a corpus of hundreds of thousands of images).
    """
    scores = np.asarray(scores)
    if scores.ndim != 2 or scores.shape[1] != len(doc_ids):
        raise ValueError(f"scores must be (queries, {len(doc_ids)} documents), got shape {scores.shape}")
    _check_k(k)
    ids = np.asarray(doc_ids, dtype=object)
    depth = scores.shape[1] if k is None else min(k, scores.shape[1])
    rankings = []
    for row in scores:
        candidates = np.arange(row.size)
        if depth < row.size:
            # keep every document tied with the k-th score, so the stable tie-break stays exact
            threshold = np.partition(row, row.size - depth)[row.size - depth]
            candidates = np.flatnonzero(row >= threshold)
        order = candidates[np.argsort(-row[candidates], kind="stable")][:depth]
        rankings.append(list(ids[order]))
    return rankings


def evaluate_rankings(
    rankings: Mapping[str, Sequence[str]],
    qrels: Qrels,
    ndcg_k: int = DEFAULT_NDCG_K,
    recall_ks: Sequence[int] = RECALL_KS,
    gain: Gain = "linear",
) -> dict[str, float]:
    """Mean nDCG@k, mAP@k and R@k over the queries of ``rankings``, as percentages (chapter 6).

    ``qrels`` must already be restricted to the searched corpus. Queries with no relevant
    document are skipped; ``n_queries`` reports how many were evaluated.
    """
    per_query: dict[str, list[float]] = {f"ndcg@{ndcg_k}": [], f"map@{ndcg_k}": [], **{f"R@{k}": [] for k in recall_ks}}
    for qid, ranking in rankings.items():
        judged = qrels.get(qid, {})
        if not any(grade >= 1 for grade in judged.values()):
            continue
        per_query[f"ndcg@{ndcg_k}"].append(ndcg_at_k(ranking, judged, ndcg_k, gain))
        per_query[f"map@{ndcg_k}"].append(average_precision(ranking, judged, ndcg_k))
        for k in recall_ks:
            per_query[f"R@{k}"].append(hit_at_k(ranking, judged, k))
    n_queries = len(per_query[f"ndcg@{ndcg_k}"])
    result = {name: 100.0 * float(np.mean(values)) if values else float("nan") for name, values in per_query.items()}
    result["n_queries"] = n_queries
    return result


def evaluate_scores(
    scores: np.ndarray,
    query_ids: Sequence[str],
    doc_ids: Sequence[str],
    qrels: Qrels,
    ndcg_k: int = DEFAULT_NDCG_K,
    recall_ks: Sequence[int] = RECALL_KS,
    gain: Gain = "linear",
) -> dict[str, float]:
    """All retrieval metrics of a text x image score matrix over one corpus, in percent (chapter 6).

    Text -> image: nDCG@k, mAP@k, R@k (keys ``R@k``). Image -> text: every image ranks the
    query texts, a hit when a query judged relevant to it is in the top k (keys ``i2t_R@k``).
    ``mR`` is the mean of all the R@k in both directions, SAR-TEXT's mean recall.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != (len(query_ids), len(doc_ids)):
        raise ValueError(f"scores have shape {scores.shape}, expected ({len(query_ids)}, {len(doc_ids)}) queries x documents")
    corpus_qrels = restrict_qrels(qrels, doc_ids)
    depth = max(ndcg_k, *recall_ks)
    t2i = evaluate_rankings(
        dict(zip(query_ids, rank_documents(scores, doc_ids, depth))), corpus_qrels, ndcg_k, recall_ks, gain
    )
    i2t_rankings = dict(zip(doc_ids, rank_documents(scores.T, query_ids, max(recall_ks))))
    i2t = evaluate_rankings(i2t_rankings, transpose_qrels(corpus_qrels), max(recall_ks), recall_ks, gain)
    result = dict(t2i)
    result.update({f"i2t_R@{k}": i2t[f"R@{k}"] for k in recall_ks})
    result["n_images_with_queries"] = i2t["n_queries"]
    result["mR"] = float(np.mean([result[f"R@{k}"] for k in recall_ks] + [i2t[f"R@{k}"] for k in recall_ks]))
    result["n_documents"] = len(doc_ids)
    return result


def evaluate_corpora(
    scores: np.ndarray,
    query_ids: Sequence[str],
    doc_ids: Sequence[str],
    modalities: Sequence[str],
    qrels: Qrels,
    ndcg_k: int = DEFAULT_NDCG_K,
    recall_ks: Sequence[int] = RECALL_KS,
    gain: Gain = "linear",
) -> dict[str, dict[str, float]]:
    """:func:`evaluate_scores` on the S1-only, the S2-only and the mixed corpus (chapter 6).

    ``modalities[d]`` is ``"s1"`` or ``"s2"`` for document ``d``; a corpus with no documents of
    a modality is left out of the result.
    """
    modality = np.asarray(modalities)
    if modality.shape != (len(doc_ids),):
        raise ValueError(f"need one modality per document: {modality.shape[0]} modalities for {len(doc_ids)} documents")
    unknown = set(modality.tolist()) - {"s1", "s2"}
    if unknown:
        raise ValueError(f"unknown modalities {sorted(unknown)}: documents must be 's1' or 's2'")
    scores = np.asarray(scores)
    ids = np.asarray(doc_ids, dtype=object)
    results = {}
    for corpus in CORPORA:
        columns = np.arange(len(doc_ids)) if corpus == "mixed" else np.flatnonzero(modality == corpus)
        if columns.size:
            results[corpus] = evaluate_scores(
                scores[:, columns], query_ids, list(ids[columns]), qrels, ndcg_k, recall_ks, gain
            )
    return results


def ndcg_curve(
    scores: np.ndarray,
    query_ids: Sequence[str],
    doc_ids: Sequence[str],
    qrels: Qrels,
    ks: Sequence[int],
    gain: Gain = "linear",
) -> dict[int, float]:
    """Mean nDCG@k (percent) for every cut-off in ``ks``, ranking once (chapter 6)."""
    corpus_qrels = restrict_qrels(qrels, doc_ids)
    rankings = rank_documents(np.asarray(scores), doc_ids, max(ks))
    judged = [(ranking, corpus_qrels.get(qid, {})) for qid, ranking in zip(query_ids, rankings)]
    judged = [(ranking, j) for ranking, j in judged if j]
    if not judged:
        raise ValueError("no query has a relevant document in this corpus: check the qrels and the document ids")
    return {k: 100.0 * float(np.mean([ndcg_at_k(r, j, k, gain) for r, j in judged])) for k in ks}
