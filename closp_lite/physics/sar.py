"""Sentinel-1 radar physics: decibels, speckle, looks, filters, incidence angle, water (chapter 2).

Conventions: backscatter coefficients (sigma0, gamma0) are *power* quantities, so decibels are
``10 log10``. Stored CrisisLandMark S1 images hold VV and VH in dB; speckle and filters work on
linear intensity, where speckle is multiplicative.
"""

from __future__ import annotations

import numpy as np


def _check_looks(looks: float) -> float:
    looks = float(looks)
    if not np.isfinite(looks) or looks <= 0:
        raise ValueError(f"the number of looks must be a positive finite number, got {looks!r}")
    return looks


def to_db(x: np.ndarray | float) -> np.ndarray:
    """Convert a linear power quantity (intensity, sigma0) to decibels: ``10 log10(x)`` (chapter 2).

    Zero becomes ``-inf`` and negative values ``nan``, as in NumPy; mask no-data before converting.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return 10.0 * np.log10(np.asarray(x, dtype=np.float64))


def from_db(db: np.ndarray | float) -> np.ndarray:
    """Convert decibels back to a linear power quantity: ``10 ** (db / 10)`` (chapter 2)."""
    return np.power(10.0, np.asarray(db, dtype=np.float64) / 10.0)


def speckle(shape: int | tuple[int, ...], looks: float, rng: np.random.Generator) -> np.ndarray:
    """Draw multiplicative intensity speckle with ``looks`` looks (chapter 2).

    Fully developed speckle in an L-look intensity image is Gamma distributed with shape L and
    scale 1/L: mean 1 and variance 1/L (Goodman 1976; Oliver & Quegan 2004, ch. 4). Multiply a
    noise-free linear intensity by it. ``looks`` may be non-integer (an *equivalent* number of looks).

    Raises:
        ValueError: if ``looks`` is not a positive finite number.
    """
    looks = _check_looks(looks)
    return rng.gamma(shape=looks, scale=1.0 / looks, size=shape)
