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
* ``probability`` and ``calibrate`` use a :class:`Calibration`: per modality, a logistic map
  (Platt scaling) from an image's cosine and its z-score among that modality's images for the
  query to the probability that it is relevant, fitted (:func:`fit_calibration`) on held-out
  images whose relevance is known (the validation hold-out of the training split).
  ``probability`` ranks by that probability (the probability ranking principle; it maximises the
  expected precision, so it fills the top with the modality whose best matches are the more
  reliable). ``calibrate`` asks the calibration *how many* images of each modality are relevant
  (those with a probability above 1/2, R_m) and merges the per-modality rankings
  like ``interleave`` but in proportion to R_m instead of the modality's size:
  score 1 - (r + 0.5) / R_m for rank r, so the share of each modality in the
  top follows the share of the relevant images it holds (all S1 for an S1-only event).
  ``interleave`` is the same merge with R_m set to the modality's size, the guess of a model
  that knows nothing about relevance; ``calibrate`` without a calibration (an untrained model,
  whose scores say nothing) falls back to exactly that.

``benchmarks/modality_gap.py`` measures them against each other; :data:`DEFAULT_REMEDY` is the
one it found best and the one ``closp-lite search`` uses unless told otherwise
(``benchmarks/results/modality_gap.md`` has the figures of each remedy per query kind).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

REMEDIES: tuple[str, ...] = ("none", "centre", "zscore", "anchor", "interleave", "probability", "calibrate")
DEFAULT_REMEDY = "calibrate"  # benchmarks/results/modality_gap.md: share follows relevance in every query family, nDCG kept
MODALITIES: tuple[str, ...] = ("s1", "s2")

__all__ = ["DEFAULT_REMEDY", "REMEDIES", "Calibration", "fit_calibration", "fused_scores", "modality_share", "needs_anchors", "needs_calibration"]


@dataclass(frozen=True)
class Calibration:
    """Per-modality Platt maps from (cosine, z-score within the modality) to P(relevant) (chapter 6).

    ``weights[m]`` holds the two coefficients of modality ``m`` and ``intercept[m]`` its bias.
    """

    weights: Mapping[str, tuple[float, float]]
    intercept: Mapping[str, float]

    def probabilities(self, raw: np.ndarray, modalities: Sequence[str] | np.ndarray) -> np.ndarray:
        """The probabilities of relevance of raw cosines ``(queries, N)`` of images of ``modalities``.

        Raises:
            ValueError: for a modality the calibration was not fitted on.
        """
        modality = np.asarray(modalities, dtype=str)
        raw = np.asarray(raw, dtype=np.float64)
        out = np.empty_like(raw)
        for name in np.unique(modality).tolist():
            rows = np.flatnonzero(modality == name)
            if name not in self.weights:
                raise ValueError(f"the calibration has no map for modality {name!r} (fitted on {sorted(self.weights)}): fit it on images of every modality")
            (a, b), c = self.weights[name], self.intercept[name]
            out[:, rows] = 1.0 / (1.0 + np.exp(-(a * raw[:, rows] + b * _zscore_block(raw[:, rows]) + c)))
        return out

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """A JSON-ready form (:meth:`from_dict` reads it back)."""
        return {"weights": {m: list(w) for m, w in self.weights.items()}, "intercept": dict(self.intercept)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Mapping[str, Any]]) -> Calibration:
        """The calibration written by :meth:`to_dict`."""
        weights = {m: (float(w[0]), float(w[1])) for m, w in data["weights"].items()}
        return cls(weights, {m: float(c) for m, c in data["intercept"].items()})


def fit_calibration(raw: np.ndarray, relevant: np.ndarray, modalities: Sequence[str] | np.ndarray) -> Calibration:
    """Fit one Platt map per modality on raw cosines ``(queries, N)`` and their relevance ``(queries, N)`` (chapter 6).

    Every (query, image) pair is one observation of its image's modality, described by its cosine
    and its z-score among the images of that modality for that query; a logistic regression
    (scikit-learn, default L2 regularisation) maps the two to the probability of relevance.

    Raises:
        ValueError: if the shapes disagree, or a modality has no relevant or no irrelevant pair.
    """
    from sklearn.linear_model import LogisticRegression

    raw, relevant = np.asarray(raw, dtype=np.float64), np.asarray(relevant, dtype=bool)
    modality = np.asarray(modalities, dtype=str)
    if raw.shape != relevant.shape or raw.ndim != 2 or modality.shape != (raw.shape[1],):
        raise ValueError(f"need scores and relevance of shape (queries, N) and N modalities: got {raw.shape}, {relevant.shape}, {modality.shape}")
    weights, intercept = {}, {}
    for rows in _groups(modality):
        name = str(modality[rows[0]])
        y = relevant[:, rows].ravel()
        if y.all() or not y.any():
            raise ValueError(f"cannot calibrate {name}: its {y.size} (query, image) pairs need both relevant and irrelevant ones")
        features = np.stack([raw[:, rows].ravel(), _zscore_block(raw[:, rows]).ravel()], axis=1)
        model = LogisticRegression().fit(features, y)
        weights[name], intercept[name] = (float(model.coef_[0, 0]), float(model.coef_[0, 1])), float(model.intercept_[0])
    return Calibration(weights, intercept)


def _check(remedy: str) -> None:
    if remedy not in REMEDIES:
        raise ValueError(f"unknown modality-gap remedy {remedy!r}: choose one of {', '.join(REMEDIES)}")


def needs_anchors(remedy: str) -> bool:
    """Whether ``remedy`` needs anchor text vectors (``anchor``) (chapter 6)."""
    _check(remedy)
    return remedy == "anchor"


def needs_calibration(remedy: str) -> bool:
    """Whether ``remedy`` uses a fitted :class:`Calibration` (``probability``, ``calibrate``) (chapter 6)."""
    _check(remedy)
    return remedy in ("probability", "calibrate")


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


def _zscore_block(block: np.ndarray) -> np.ndarray:
    """Each row (query) of one modality's scores as z-scores."""
    return (block - block.mean(axis=1, keepdims=True)) / np.maximum(block.std(axis=1, keepdims=True), 1e-6)


def _zscores(raw: np.ndarray, modalities: np.ndarray) -> np.ndarray:
    out = np.empty_like(raw)
    for rows in _groups(modalities):
        out[:, rows] = _zscore_block(raw[:, rows])
    return out


def _anchored(raw: np.ndarray, vectors: np.ndarray, modalities: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    out = np.empty_like(raw)
    for rows in _groups(modalities):
        reference = anchors @ np.asarray(vectors[rows], dtype=np.float32).T
        out[:, rows] = (raw[:, rows] - reference.mean()) / max(float(reference.std()), 1e-6)
    return out


def _ranks(block: np.ndarray) -> np.ndarray:
    """Rank of every score in its row, 0 = best; stable on ties (lower row first), like every ranking in closp-lite."""
    order = np.argsort(-block, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(block.shape[1])[None, :].repeat(block.shape[0], 0), axis=1)
    return ranks


def _interleaved(raw: np.ndarray, modalities: np.ndarray, calibration: Calibration | None = None) -> np.ndarray:
    """Rank r of a modality scores 1 - (r + 0.5) / size: its corpus size, or its estimated relevant count."""
    relevant = None if calibration is None else calibration.probabilities(raw, modalities) > 0.5
    out = np.empty_like(raw)
    for rows in _groups(modalities):
        # At least half an image, so a modality that seems to hold nothing relevant still comes after the others, not never.
        size = rows.size if relevant is None else np.maximum(relevant[:, rows].sum(axis=1, keepdims=True), 0.5)
        out[:, rows] = 1.0 - (_ranks(raw[:, rows]) + 0.5) / size
    return out


def fused_scores(
    queries: np.ndarray,
    vectors: np.ndarray,
    modalities: Sequence[str] | np.ndarray,
    remedy: str = DEFAULT_REMEDY,
    anchors: np.ndarray | None = None,
    calibration: Calibration | None = None,
) -> np.ndarray:
    """The ``(queries, N)`` scores of unit query vectors against image ``vectors`` after ``remedy`` (chapter 6).

    ``modalities[i]`` is ``"s1"`` or ``"s2"`` for row ``i``; ``anchors`` are unit text vectors,
    needed by ``anchor`` only (e.g. the captions of every label); ``calibration``
    (:func:`fit_calibration`) is needed by ``probability`` and used by ``calibrate``, which merges
    like ``interleave`` without one.

    Raises:
        ValueError: for an unknown remedy, ``anchor`` without anchor vectors, or ``probability`` without a calibration.
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
        return _interleaved(raw, modality)
    if remedy == "calibrate":
        return _interleaved(raw, modality, calibration)
    if remedy == "probability":
        if calibration is None:
            raise ValueError("the 'probability' remedy needs a Calibration fitted on held-out images (experiments.validation_calibration)")
        return calibration.probabilities(raw, modality).astype(np.float32)
    return raw


def modality_share(ranked_modalities: Sequence[str], modality: str = "s1", k: int = 20) -> float:
    """The share of ``modality`` among the first ``k`` entries of a ranking's modalities (chapter 6)."""
    top = list(ranked_modalities)[:k]
    return sum(m == modality for m in top) / len(top) if top else float("nan")
