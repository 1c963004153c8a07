"""Where on Earth? Image -> location retrieval with GeoCLOSP, and a geographic search filter (chapter 7).

A trained GeoCLOSP puts images and locations in one space, so an image can rank candidate
locations (the training locations, or a lon/lat grid) by similarity; the best one is its guess.
The geolocation error is the great-circle distance from the guess to the patch's true centre,
reported as the median and the share within 100 km and 500 km, beside the baseline that always
answers the (spherical) centroid of the training locations and the floor set by the nearest
candidate.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from closp_lite.experiments import Encoders
    from closp_lite.index import EmbeddingIndex
    from closp_lite.models.closp import CLOSP
    from closp_lite.models.geoclosp import GeoCLOSP

EARTH_RADIUS_KM = 6371.0088  # mean Earth radius (IUGG)
THRESHOLDS_KM: tuple[float, ...] = (100.0, 500.0)


def haversine_km(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Great-circle distance in km between (..., 2) lon/lat degree arrays, broadcast (chapter 7)."""
    a, b = (
        np.radians(np.asarray(a, dtype=float)),
        np.radians(np.asarray(b, dtype=float)),
    )
    dlon, dlat = b[..., 0] - a[..., 0], b[..., 1] - a[..., 1]
    h = np.sin(dlat / 2) ** 2 + np.cos(a[..., 1]) * np.cos(b[..., 1]) * np.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))


def spherical_centroid(lonlats: np.ndarray) -> np.ndarray:
    """The (lon, lat) of the normalised mean of the points' unit vectors (chapter 7).

    Unlike the mean of the degrees, it is right across the date line.
    """
    lon, lat = np.radians(np.asarray(lonlats, dtype=float)).T
    mean = np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)]).mean(axis=1)
    return np.degrees([np.arctan2(mean[1], mean[0]), np.arctan2(mean[2], np.hypot(mean[0], mean[1]))])


def corpus_lonlats(root: str | Path, split: str | None = None) -> dict[str, tuple[float, float]]:
    """``key -> (lon, lat)`` of every patch of ``split`` (``None``: all), reading centre pixels only (chapter 7)."""
    from closp_lite.data.format import CrisisLandMark

    with CrisisLandMark(root) as corpus:
        table = corpus.metadata if split is None else corpus.metadata[corpus.metadata["split"] == split]
        return {key: corpus.lonlat(key) for key in table["key"]}


def candidate_grid(lonlats: np.ndarray, step_deg: float = 1.0, pad_deg: float = 2.0) -> np.ndarray:
    """A regular lon/lat grid over the bounding box of ``lonlats`` padded by ``pad_deg`` (chapter 7)."""
    if step_deg <= 0:
        raise ValueError(f"the grid step must be > 0 degrees, got {step_deg}")
    low, high = (
        np.asarray(lonlats).min(axis=0) - pad_deg,
        np.asarray(lonlats).max(axis=0) + pad_deg,
    )
    lon = np.arange(max(low[0], -180.0), min(high[0], 180.0) + 1e-9, step_deg)
    lat = np.arange(max(low[1], -90.0), min(high[1], 90.0) + 1e-9, step_deg)
    return np.stack(np.meshgrid(lon, lat), axis=-1).reshape(-1, 2)


def training_lonlats(root: str | Path) -> np.ndarray:
    """(M, 2) centres of the training patches of a corpus (chapter 7).

    Raises:
        ValueError: if the corpus has no training split.
    """
    train = np.array(list(corpus_lonlats(root, "train").values()))
    if not len(train):
        raise ValueError(f"{root}: no training patches to take candidate locations from")
    return train


def candidates(train: np.ndarray, kind: str = "train", step_deg: float = 1.0) -> np.ndarray:
    """Candidate locations (M, 2): the training centres ``train`` themselves or a grid over them (``grid``) (chapter 7)."""
    if kind == "train":
        return train
    if kind == "grid":
        return candidate_grid(train, step_deg)
    raise ValueError(f"unknown candidate kind {kind!r}: choose train or grid")


def _geoclosp(model: CLOSP) -> GeoCLOSP:
    if not hasattr(model, "encode_location"):
        raise ValueError("this run is a CLOSP model without a location tower: train one with `closp-lite train --model geoclosp`")
    return model  # type: ignore[return-value]


def location_vectors(model: CLOSP, lonlats: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    """(M, 384) location embeddings of (M, 2) lon/lat degrees, in evaluation mode (chapter 7)."""
    import torch

    geoclosp = _geoclosp(model).eval()
    with torch.no_grad():
        parts = [geoclosp.encode_location(torch.as_tensor(lonlats[i : i + batch_size], dtype=torch.float64))
                 for i in range(0, len(lonlats), batch_size)]  # fmt: skip
    return torch.cat(parts).cpu().numpy()


def rank_locations(image_vectors: np.ndarray, location_vectors: np.ndarray, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Indices and scores of the ``k`` most similar candidate locations per image, best first (chapter 7)."""
    from closp_lite.index import top_k

    return top_k(
        np.asarray(image_vectors, dtype=np.float32),
        np.asarray(location_vectors, dtype=np.float32),
        k,
    )


def error_summary(errors_km: np.ndarray) -> dict[str, float]:
    """Median error and the share (%) within each of :data:`THRESHOLDS_KM` (chapter 7)."""
    errors_km = np.asarray(errors_km, dtype=float)
    out = {"median_km": float(np.median(errors_km)), "mean_km": float(errors_km.mean())}
    out |= {f"within_{int(t)}km": float(100 * (errors_km <= t).mean()) for t in THRESHOLDS_KM}
    return out


def embed_images(model: CLOSP, root: str | Path, split: str | None = "test") -> EmbeddingIndex:
    """Image embeddings of a corpus split with a loaded model (chapter 7)."""
    from closp_lite.experiments import embed_corpus, model_encoders

    return embed_corpus(model_encoders(model.eval(), "geoclosp"), root, split)


def geolocate(
    model: CLOSP,
    root: str | Path,
    split: str = "test",
    kind: str = "train",
    step_deg: float = 1.0,
    index: EmbeddingIndex | None = None,
) -> dict[str, Any]:
    """Geolocation error of every patch of ``split`` against the training-centroid baseline (chapter 7).

    ``index`` reuses image embeddings of the split already made with this model (default: embed now).

    Returns ``model``, ``centroid`` and ``nearest_candidate`` summaries (:func:`error_summary`),
    overall and per modality, plus the per-patch ``keys``, ``true`` and ``guess`` locations.
    """
    train = training_lonlats(root)
    cands = candidates(train, kind, step_deg)
    index = index if index is not None else embed_images(model, root, split)
    where = corpus_lonlats(root, split)
    truth = np.array([where[k] for k in index.keys])
    best, _ = rank_locations(np.asarray(index.vectors), location_vectors(model, cands), 1)
    guess = cands[best[:, 0]]
    centroid = spherical_centroid(train)
    errors = {
        "model": haversine_km(guess, truth),
        "centroid": haversine_km(centroid[None, :], truth),
        "nearest_candidate": np.array([haversine_km(cands, t).min() for t in truth]),
    }
    out: dict[str, Any] = {
        "candidates": kind,
        "n_candidates": len(cands),
        "n_images": len(truth),
        "centroid_lonlat": centroid.tolist(),
    }
    for name, values in errors.items():
        out[name] = {"all": error_summary(values)} | {
            m: error_summary(values[index.modalities == m]) for m in ("s1", "s2") if (index.modalities == m).any()
        }
    out |= {"keys": list(index.keys), "true": truth.tolist(), "guess": guess.tolist()}
    return out


def locate_key(
    model: CLOSP,
    root: str | Path,
    key: str,
    k: int = 5,
    kind: str = "train",
    step_deg: float = 1.0,
) -> dict[str, Any]:
    """The ``k`` best location guesses for patch ``key``, with their distance to its true centre (chapter 7).

    Raises:
        ValueError: if ``key`` is not in the corpus (naming the corpus).
    """
    import torch

    from closp_lite.data.bands import to_model_input
    from closp_lite.data.format import CrisisLandMark

    with CrisisLandMark(root) as corpus:
        if key not in corpus:
            raise ValueError(f"sample {key!r} is not in {root}: list the keys with `closp-lite data info {root}`")
        patch, truth = corpus.read(key), np.array(corpus.lonlat(key))
    modality = patch.modality
    cands = candidates(training_lonlats(root), kind, step_deg)
    with torch.no_grad():
        image = _geoclosp(model).eval().encode_image(torch.from_numpy(to_model_input(patch.image, modality))[None])
    idx, scores = rank_locations(image.cpu().numpy(), location_vectors(model, cands), k)
    guesses = [{"rank": r, "lon": float(cands[i, 0]), "lat": float(cands[i, 1]), "score": float(s),
                "error_km": float(haversine_km(cands[i], truth))} for r, (i, s) in enumerate(zip(idx[0], scores[0]), start=1)]  # fmt: skip
    return {
        "key": key,
        "modality": modality,
        "true": truth.tolist(),
        "candidates": kind,
        "guesses": guesses,
    }


def near_mask(lonlats: np.ndarray, centre: Sequence[float], radius_km: float) -> np.ndarray:
    """Boolean mask of the (N, 2) points within ``radius_km`` of ``centre`` = (lon, lat) (chapter 7)."""
    if radius_km <= 0:
        raise ValueError(f"the radius must be > 0 km, got {radius_km}")
    return haversine_km(np.asarray(lonlats, dtype=float), np.asarray(centre, dtype=float)[None, :]) <= radius_km


def search_near(
    encoders: Encoders, index: EmbeddingIndex, root: str | Path, text: str, centre: Sequence[float], radius_km: float,
    k: int = 12, modality: str = "all",
) -> list[dict[str, Any]]:  # fmt: skip
    """The top ``k`` images for ``text`` among those within ``radius_km`` of ``centre`` (lon, lat) (chapter 7).

    Works with any model: the filter uses the patches' stored coordinates, not a location tower.
    Each row gets ``lon``, ``lat`` and ``distance_km``.
    """
    from closp_lite.experiments import search_text

    where = corpus_lonlats(root, split=None)
    rows = search_text(encoders, index, text, len(index), modality)
    points = np.array([where[r["key"]] for r in rows]).reshape(-1, 2)
    inside = near_mask(points, centre, radius_km)
    kept = [r | {"lon": p[0], "lat": p[1], "distance_km": float(haversine_km(np.asarray(p), np.asarray(centre)))}
            for r, p, ok in zip(rows, points.tolist(), inside) if ok][:k]  # fmt: skip
    return [r | {"rank": rank} for rank, r in enumerate(kept, start=1)]
