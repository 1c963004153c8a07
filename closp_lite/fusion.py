"""Remedies for the modality gap: making S1 and S2 scores comparable in one ranking (chapter 6).

A CLOSP model puts both sensors in one space, but not at the same place: the S1 tower and the S2
tower each learn to approach the (shared) caption vectors from their own side, so for most queries
*every* S2 image scores above *every* S1 image, or the reverse. A search of a mixed archive then
returns one sensor only. Each remedy here turns the raw cosines of an index into scores that can
be ranked across modalities; within one modality every remedy except ``centre`` keeps the order.

* ``none``: the raw cosine similarity.
* ``centre``: subtract each modality's mean image vector and re-normalise (the gap is largely a
  constant offset per modality; Liang et al. 2022 show it for CLIP).
* ``zscore``: per query and per modality, subtract the mean score and divide by the standard
  deviation of that modality's scores: "how unusual is this image for this query among its kind".
* ``anchor``: a text-anchored calibration: one affine map per modality, from the mean and spread of
  the scores of a fixed set of anchor texts (the captions of every label) against that modality's
  images. Query-independent, so one query's scores do not set their own scale.
* ``interleave``: rank within each modality and merge by percentile rank, so the top of the merged
  list holds each modality in proportion to its share of the corpus.

``benchmarks/modality_gap.py`` measures them against each other; :data:`DEFAULT_REMEDY` is the
one it found best and the one ``closp-lite search`` uses unless told otherwise. With the book's
model only ``interleave`` brought the S1 share of the top 20 to the S1 share of the relevant
images for land-cover queries while keeping mixed nDCG@10 at 0.9 of the S1/S2 mean; ``zscore``
came second (with an earlier, weaker model it had been the best).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

REMEDIES: tuple[str, ...] = ("none", "centre", "zscore", "anchor", "interleave")
DEFAULT_REMEDY = "interleave"  # benchmarks/results/modality_gap.md: the only remedy meeting both figures
MODALITIES: tuple[str, ...] = ("s1", "s2")

__all__ = ["DEFAULT_REMEDY", "REMEDIES", "fused_scores", "modality_share", "needs_anchors"]


def _check(remedy: str) -> None:
    if remedy not in REMEDIES:
        raise ValueError(f"unknown modality-gap remedy {remedy!r}: choose one of {', '.join(REMEDIES)}")


def needs_anchors(remedy: str) -> bool:
    """Whether ``remedy`` needs anchor text vectors (``anchor``) (chapter 6)."""
    _check(remedy)
    return remedy == "anchor"


def _normalise(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-12)


def _groups(modalities: np.ndarray) -> list[np.ndarray]:
    return [np.flatnonzero(modalities == m) for m in MODALITIES if np.any(modalities == m)]


def _centred_scores(queries: np.ndarray, vectors: np.ndarray, modalities: np.ndarray) -> np.ndarray:
    scores = np.empty((queries.shape[0], vectors.shape[0]), dtype=np.float32)
    for rows in _groups(modalities):
        block = np.asarray(vectors[rows], dtype=np.float32)
        scores[:, rows] = queries @ _normalise(block - block.mean(axis=0)).T
    return scores


def _zscores(raw: np.ndarray, modalities: np.ndarray) -> np.ndarray:
    out = np.empty_like(raw)
    for rows in _groups(modalities):
        block = raw[:, rows]
        out[:, rows] = (block - block.mean(axis=1, keepdims=True)) / np.maximum(block.std(axis=1, keepdims=True), 1e-6)
    return out


def _anchored(raw: np.ndarray, vectors: np.ndarray, modalities: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    out = np.empty_like(raw)
    for rows in _groups(modalities):
        reference = anchors @ np.asarray(vectors[rows], dtype=np.float32).T
        out[:, rows] = (raw[:, rows] - reference.mean()) / max(float(reference.std()), 1e-6)
    return out


def _percentiles(raw: np.ndarray, modalities: np.ndarray) -> np.ndarray:
    out = np.empty_like(raw)
    for rows in _groups(modalities):
        # Rank 0 (best) -> 1.0; stable on ties (lower row first), like every ranking in closp-lite.
        order = np.argsort(-raw[:, rows], axis=1, kind="stable")
        ranks = np.empty_like(order)
        np.put_along_axis(ranks, order, np.arange(rows.size)[None, :].repeat(raw.shape[0], 0), axis=1)
        out[:, rows] = 1.0 - (ranks + 0.5) / rows.size
    return out


def fused_scores(
    queries: np.ndarray,
    vectors: np.ndarray,
    modalities: Sequence[str] | np.ndarray,
    remedy: str = DEFAULT_REMEDY,
    anchors: np.ndarray | None = None,
) -> np.ndarray:
    """The ``(queries, N)`` scores of unit query vectors against image ``vectors`` after ``remedy`` (chapter 6).

    ``modalities[i]`` is ``"s1"`` or ``"s2"`` for row ``i``; ``anchors`` are unit text vectors,
    needed by ``anchor`` only (e.g. the captions of every label).

    Raises:
        ValueError: for an unknown remedy, or ``anchor`` without anchor vectors.
    """
    _check(remedy)
    queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
    modality = np.asarray(modalities, dtype=str)
    if modality.shape != (vectors.shape[0],):
        raise ValueError(f"need one modality per vector: {modality.size} modalities for {vectors.shape[0]} vectors")
    if remedy == "centre":
        return _centred_scores(queries, vectors, modality)
    raw = queries @ np.asarray(vectors, dtype=np.float32).T
    if remedy == "zscore":
        return _zscores(raw, modality)
    if remedy == "anchor":
        if anchors is None or len(anchors) == 0:
            raise ValueError("the 'anchor' remedy needs anchor text vectors (e.g. the captions of every label)")
        return _anchored(raw, vectors, modality, np.atleast_2d(np.asarray(anchors, dtype=np.float32)))
    if remedy == "interleave":
        return _percentiles(raw, modality)
    return raw


def modality_share(ranked_modalities: Sequence[str], modality: str = "s1", k: int = 20) -> float:
    """The share of ``modality`` among the first ``k`` entries of a ranking's modalities (chapter 6)."""
    top = list(ranked_modalities)[:k]
    return sum(m == modality for m in top) / len(top) if top else float("nan")
