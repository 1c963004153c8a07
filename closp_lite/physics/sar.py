"""Sentinel-1 radar physics: decibels, speckle, looks, filters, incidence angle, water (chapter 2).

Conventions: backscatter coefficients (sigma0, gamma0) are *power* quantities, so decibels are
``10 log10``. Stored CrisisLandMark S1 images hold VV and VH in dB; speckle and filters work on
linear intensity, where speckle is multiplicative.
"""

from __future__ import annotations

from dataclasses import dataclass

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


# ---------------------------------------------------------------- looks and speckle filters


def _check_window(size: int) -> int:
    if int(size) != size or size < 3 or size % 2 == 0:
        raise ValueError(f"the filter window must be an odd integer >= 3, got {size!r}")
    return int(size)


def _check_image(intensity: np.ndarray) -> np.ndarray:
    intensity = np.asarray(intensity, dtype=np.float64)
    if intensity.ndim < 2:
        raise ValueError(f"expected an image (..., H, W) of linear intensity, got shape {intensity.shape}")
    return intensity


def _window_mean(x: np.ndarray, size: int) -> np.ndarray:
    from scipy.ndimage import uniform_filter

    # Filter only the two spatial axes; "reflect" keeps border statistics unbiased.
    return uniform_filter(x, size=(1,) * (x.ndim - 2) + (size, size), mode="reflect")


def local_moments(intensity: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the local mean and variance of ``intensity`` in a ``size`` x ``size`` window (chapter 2)."""
    intensity = _check_image(intensity)
    size = _check_window(size)
    mean = _window_mean(intensity, size)
    variance = np.maximum(_window_mean(intensity**2, size) - mean**2, 0.0)
    return mean, variance


def enl(intensity: np.ndarray) -> float:
    """Estimate the equivalent number of looks, ``mean^2 / variance``, of a homogeneous area (chapter 2).

    Use *linear intensity* (not dB, not amplitude) over an area without texture: any real
    variation of the backscatter adds variance and lowers the estimate (Oliver & Quegan 2004, 4.7).

    Raises:
        ValueError: with fewer than 2 finite pixels or zero variance.
    """
    values = np.asarray(intensity, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size < 2:
        raise ValueError("ENL needs at least 2 finite intensity values")
    variance = values.var()
    if variance == 0:
        raise ValueError("ENL is undefined for a constant area (zero variance): is the input speckle-free?")
    return float(values.mean() ** 2 / variance)


def enl_map(intensity: np.ndarray, size: int = 9) -> np.ndarray:
    """Return the local ENL (``mean^2 / variance`` in a moving window) of a linear-intensity image (chapter 2).

    High values mark homogeneous areas; edges and texture give low values.
    """
    mean, variance = local_moments(intensity, size)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(variance > 0, mean**2 / np.where(variance > 0, variance, 1.0), np.inf)


def boxcar_filter(intensity: np.ndarray, size: int = 5) -> np.ndarray:
    """Average linear intensity in a ``size`` x ``size`` window (chapter 2).

    Multiplies the ENL by up to ``size**2`` on homogeneous areas but blurs edges and point targets.
    """
    return _window_mean(_check_image(intensity), _check_window(size))


def lee_filter(intensity: np.ndarray, looks: float, size: int = 7) -> np.ndarray:
    """Lee's local-statistics speckle filter on linear intensity (Lee 1980) (chapter 2).

    With the multiplicative model ``z = x * n`` (speckle ``n`` of mean 1 and variance
    ``1/L``), the linear minimum-mean-square-error estimate is ``x_hat = m + k (z - m)`` with the
    local mean ``m``, ``k = var_x / var_z`` and ``var_x = (var_z - m^2 / L) / (1 + 1/L)``
    clipped at 0. On homogeneous areas ``k ~ 0`` (the local mean); on edges and bright targets the
    local variance exceeds the speckle's, ``k -> 1`` and the pixel is kept.
    """
    looks = _check_looks(looks)
    intensity = _check_image(intensity)
    mean, variance = local_moments(intensity, size)
    return _lee_estimate(intensity, mean, variance, looks)


def _lee_estimate(intensity: np.ndarray, mean: np.ndarray, variance: np.ndarray, looks: float) -> np.ndarray:
    # Lee's MMSE estimate from given local statistics (shared by the Lee and refined Lee filters)
    noise = 1.0 / looks
    signal_variance = np.maximum((variance - mean**2 * noise) / (1.0 + noise), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = np.where(variance > 0, signal_variance / np.where(variance > 0, variance, 1.0), 0.0)
    return mean + gain * (intensity - mean)


def _half_windows(size: int) -> list[tuple[np.ndarray, np.ndarray]]:
    # The two edge-aligned half windows (each keeping the dividing line) for the four edge
    # directions: vertical edge, horizontal edge, and the two diagonals.
    i, j = np.mgrid[-(size // 2) : size // 2 + 1, -(size // 2) : size // 2 + 1]
    return [(j <= 0, j >= 0), (i <= 0, i >= 0), (i + j <= 0, i + j >= 0), (i - j >= 0, i - j <= 0)]


def refined_lee_filter(intensity: np.ndarray, looks: float, size: int = 7) -> np.ndarray:
    """Refined Lee filter: Lee statistics in an edge-aligned half window (after Lee 1981) (chapter 2).

    For every pixel the means of the 3 x 3 sub-windows around it give gradients in four
    directions; the strongest one marks the local edge, and the local mean and variance are taken
    only from the half of the ``size`` x ``size`` window on the pixel's side of that edge (the side
    whose sub-window mean is closer to the centre's). Edges therefore stay sharp while
    homogeneous areas are smoothed as by :func:`lee_filter`. A simplified form of the original,
    which uses 8 fixed 7 x 7 masks in the same way.
    """
    from scipy.ndimage import correlate

    looks = _check_looks(looks)
    intensity = _check_image(intensity)
    size = _check_window(size)
    if size < 5:
        raise ValueError(f"the refined Lee filter needs a window of at least 5 x 5 (odd), got {size}")
    step = size // 2 - 1  # centre offset of the outer 3 x 3 sub-windows
    sub_mean = _window_mean(intensity, 3)

    def sub(dy: int, dx: int) -> np.ndarray:
        shifted = np.pad(sub_mean, [(0, 0)] * (intensity.ndim - 2) + [(step, step)] * 2, mode="reflect")
        h, w = intensity.shape[-2:]
        return shifted[..., step + dy * step : step + dy * step + h, step + dx * step : step + dx * step + w]

    grid = [[sub(dy, dx) for dx in (-1, 0, 1)] for dy in (-1, 0, 1)]
    # Sobel-like differences of three sub-window means on either side of each candidate edge
    # (as in the original); a single pair of sub-windows cannot tell a straight edge from a diagonal.
    gradients = np.stack(
        [
            np.abs(sum(grid[r][2] for r in range(3)) - sum(grid[r][0] for r in range(3))),
            np.abs(sum(grid[2]) - sum(grid[0])),
            np.abs(grid[1][2] + grid[2][1] + grid[2][2] - grid[0][0] - grid[0][1] - grid[1][0]),
            np.abs(grid[0][1] + grid[0][2] + grid[1][2] - grid[1][0] - grid[2][0] - grid[2][1]),
        ]
    )
    # (first side, second side) sub-window means per direction, matching _half_windows
    sides = [(grid[1][0], grid[1][2]), (grid[0][1], grid[2][1]), (grid[0][0], grid[2][2]), (grid[2][0], grid[0][2])]
    direction = np.argmax(gradients, axis=0)
    mean = np.zeros_like(intensity)
    variance = np.zeros_like(intensity)
    kernel_shape = (1,) * (intensity.ndim - 2)
    for d, ((mask_a, mask_b), (side_a, side_b)) in enumerate(zip(_half_windows(size), sides, strict=True)):
        first = np.abs(sub_mean - side_a) <= np.abs(sub_mean - side_b)
        for mask, chosen in ((mask_a, first), (mask_b, ~first)):
            kernel = (mask / mask.sum()).reshape(kernel_shape + mask.shape)
            m = correlate(intensity, kernel, mode="reflect")
            v = np.maximum(correlate(intensity**2, kernel, mode="reflect") - m**2, 0.0)
            where = (direction == d) & chosen
            mean[where] = m[where]
            variance[where] = v[where]
    return _lee_estimate(intensity, mean, variance, looks)


def frost_filter(intensity: np.ndarray, size: int = 7, damping: float = 2.0) -> np.ndarray:
    """Frost's adaptive filter: an exponential kernel that narrows where the scene varies (Frost et al. 1982) (chapter 2).

    Weights are ``exp(-damping * Cv^2 * d)`` with the local coefficient of variation ``Cv`` and
    the distance ``d`` (pixels) to the window centre: on homogeneous areas the kernel is wide (a
    mean), on edges it shrinks to the centre pixel.
    """
    intensity = _check_image(intensity)
    size = _check_window(size)
    if damping <= 0:
        raise ValueError(f"damping must be positive, got {damping!r}")
    mean, variance = local_moments(intensity, size)
    with np.errstate(divide="ignore", invalid="ignore"):
        cv2 = np.where(mean > 0, variance / np.where(mean > 0, mean, 1.0) ** 2, 0.0)
    half = size // 2
    pad = [(0, 0)] * (intensity.ndim - 2) + [(half, half), (half, half)]
    padded = np.pad(intensity, pad, mode="reflect")
    height, width = intensity.shape[-2:]
    total = np.zeros_like(intensity)
    weights = np.zeros_like(intensity)
    for dy in range(size):
        for dx in range(size):
            weight = np.exp(-damping * cv2 * np.hypot(dy - half, dx - half))
            total += weight * padded[..., dy : dy + height, dx : dx + width]
            weights += weight
    return total / weights


def edge_step(image: np.ndarray, column: int) -> float:
    """Mean jump across a vertical edge: ``mean(image[:, column]) - mean(image[:, column - 1])`` (chapter 2).

    Compare the value after filtering with the true step to measure how much a filter blurs edges.
    """
    image = np.asarray(image, dtype=np.float64)
    if image.ndim != 2 or not 1 <= column < image.shape[1]:
        raise ValueError(f"need a 2-D image and 1 <= column < width, got shape {image.shape}, column {column}")
    return float(image[:, column].mean() - image[:, column - 1].mean())


# ---------------------------------------------------------------- polarisation and incidence angle


def cross_pol_ratio_db(vv_db: np.ndarray, vh_db: np.ndarray) -> np.ndarray:
    """Return the VV/VH ratio in dB, i.e. ``VV_dB - VH_dB`` (chapter 2).

    Volume scattering (forests, dense crops) depolarises: small ratio (~5-7 dB). Surface and
    double-bounce scattering keep the polarisation: large ratio (~8-12 dB and more).
    """
    return np.asarray(vv_db, dtype=np.float64) - np.asarray(vh_db, dtype=np.float64)


#: Sentinel-1 IW swath incidence angles, near to far range (ESA Sentinel-1 User Guide).
S1_IW_INCIDENCE_DEG: tuple[float, float] = (29.1, 46.0)
#: Reference angle for normalisation, near the middle of the IW swath.
REFERENCE_INCIDENCE_DEG = 38.0
#: Typical slope of C-band sigma0 (dB per degree) over land; it ranges from about -0.05 (forest)
#: to -0.25 (smooth bare soil, grassland) (Mladenova et al. 2013; Ulaby & Long 2014, ch. 10).
DEFAULT_SLOPE_DB_PER_DEG = -0.13


@dataclass(frozen=True)
class IncidenceModel:
    """How C-band backscatter (dB) changes with the incidence angle, relative to a reference angle (chapter 2).

    * ``method="linear"``: backscatter in dB is linear in the angle,
      ``gain = slope_db_per_deg * (theta - reference_deg)``.
    * ``method="cosine"``: ``sigma0 ~ cos^n(theta)`` (Lambert's law for n = 2), i.e.
      ``gain = 10 n log10(cos theta / cos reference)``.

    Raises:
        ValueError: for an unknown method or a reference angle outside (0, 90) degrees.
    """

    method: str = "linear"
    slope_db_per_deg: float = DEFAULT_SLOPE_DB_PER_DEG
    cos_power: float = 2.0
    reference_deg: float = REFERENCE_INCIDENCE_DEG

    def __post_init__(self) -> None:
        if self.method not in ("linear", "cosine"):
            raise ValueError(f"unknown incidence-angle model {self.method!r}: choose 'linear' (dB slope) or 'cosine'")
        if not 0 < self.reference_deg < 90:
            raise ValueError(f"the reference angle must lie strictly between 0 and 90 degrees, got {self.reference_deg}")

    def gain_db(self, theta_deg: np.ndarray | float) -> np.ndarray:
        """Return sigma0(theta) - sigma0(reference) in dB.

        Raises:
            ValueError: for angles outside (0, 90) degrees.
        """
        theta = np.asarray(theta_deg, dtype=np.float64)
        if np.any((theta <= 0) | (theta >= 90)):
            raise ValueError("incidence angles must lie strictly between 0 and 90 degrees")
        if self.method == "linear":
            return self.slope_db_per_deg * (theta - self.reference_deg)
        return 10.0 * self.cos_power * np.log10(np.cos(np.radians(theta)) / np.cos(np.radians(self.reference_deg)))

    def normalize(self, sigma0_db: np.ndarray, theta_deg: np.ndarray | float) -> np.ndarray:
        """Bring backscatter (dB) measured at ``theta_deg`` to the reference angle.

        Removes the across-swath brightness trend, so that the same land cover looks alike in
        near and far range; :meth:`apply` is the inverse.
        """
        return np.asarray(sigma0_db, dtype=np.float64) - self.gain_db(theta_deg)

    def apply(self, sigma0_ref_db: np.ndarray, theta_deg: np.ndarray | float) -> np.ndarray:
        """Return the backscatter (dB) at ``theta_deg`` of a target with ``sigma0_ref_db`` at the reference angle."""
        return np.asarray(sigma0_ref_db, dtype=np.float64) + self.gain_db(theta_deg)


# ---------------------------------------------------------------- scattering mechanisms


#: The three scattering mechanisms and the physics behind them (chapter 2).
SCATTERING_MECHANISMS: dict[str, str] = {
    "surface": "single reflection at an interface: smooth surfaces (calm water, tarmac) reflect away "
    "from the sensor (specular, dark); rough or wet soil scatters back more. Little depolarisation.",
    "volume": "many scattering events inside a canopy of leaves, needles, branches or crop stems: "
    "randomly oriented scatterers depolarise, so VH is relatively strong (small VV/VH ratio).",
    "double bounce": "two specular reflections on a horizontal plus a vertical surface (ground and "
    "building wall, water and tree trunk or stem) send the energy straight back: very bright, "
    "polarisation kept (large VV/VH ratio).",
}


#: The dominant scattering mechanism of each Dynamic World class at C band (chapter 2), after
#: Ulaby & Long (2014, ch. 10-11), Woodhouse (2006) and the Sentinel-1 User Guide. Crops and grass
#: mix surface (soil) and volume (canopy) scattering with the growth stage; flooded vegetation
#: and built-up areas add double bounce. Typical dB values per class live with the simulator
#: (:data:`closp_lite.simulate.backscatter.BACKSCATTER`), the one table of class backscatter.
DOMINANT_MECHANISM: dict[str, str] = {
    "Water": "surface",
    "Trees": "volume",
    "Grass": "surface",
    "Flooded Vegetation": "double bounce",
    "Crops": "volume",
    "Shrub and Scrub": "volume",
    "Built": "double bounce",
    "Bare": "surface",
    "Snow and Ice": "surface",
}


# ---------------------------------------------------------------- water and floods


def otsu_threshold(values: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold: the value that maximises the between-class variance of a histogram (Otsu 1979) (chapter 2).

    Non-finite values are ignored. Returns the upper edge of the last bin of the lower class.

    Raises:
        ValueError: with fewer than 2 distinct finite values.
    """
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size < 2 or values.min() == values.max():
        raise ValueError("Otsu's threshold needs at least two distinct finite values")
    counts, edges = np.histogram(values, bins=bins)
    centres = (edges[:-1] + edges[1:]) / 2
    weight_low = np.cumsum(counts)[:-1].astype(np.float64)
    weight_high = values.size - weight_low
    sum_low = np.cumsum(counts * centres)[:-1]
    mean_low = sum_low / np.maximum(weight_low, 1)
    mean_high = (np.sum(counts * centres) - sum_low) / np.maximum(weight_high, 1)
    between = weight_low * weight_high * (mean_low - mean_high) ** 2
    return float(edges[int(np.argmax(between)) + 1])


def water_mask(vv_db: np.ndarray, threshold_db: float | None = None) -> np.ndarray:
    """Return a boolean open-water mask: VV backscatter (dB) below a threshold (chapter 2).

    Calm water is a specular reflector and the darkest surface in VV. Without ``threshold_db``
    Otsu's threshold of the image's own VV histogram is used, which assumes the scene holds
    enough water for a bimodal histogram (tile-based selection helps when it does not,
    Martinis et al. 2009). No-data (non-finite) pixels are never water.
    """
    vv_db = np.asarray(vv_db, dtype=np.float64)
    threshold = otsu_threshold(vv_db) if threshold_db is None else float(threshold_db)
    return np.isfinite(vv_db) & (vv_db < threshold)


def flood_map(
    pre_vv_db: np.ndarray, post_vv_db: np.ndarray, change_db: float = -3.0, threshold_db: float | None = None
) -> np.ndarray:
    """Return newly flooded pixels: water after the event, not before, with a drop of ``change_db`` or more (chapter 2).

    Combines change detection (the dB difference is the log ratio post/pre, robust to the
    multiplicative speckle and to the incidence angle of repeat passes) with the water threshold
    of the post-event image (Otsu unless ``threshold_db`` is given).

    Raises:
        ValueError: if the two images differ in shape.
    """
    pre_vv_db = np.asarray(pre_vv_db, dtype=np.float64)
    post_vv_db = np.asarray(post_vv_db, dtype=np.float64)
    if pre_vv_db.shape != post_vv_db.shape:
        raise ValueError(f"pre- and post-event images must have the same shape: {pre_vv_db.shape} vs {post_vv_db.shape}")
    threshold = otsu_threshold(post_vv_db) if threshold_db is None else float(threshold_db)
    water_after = water_mask(post_vv_db, threshold)
    water_before = water_mask(pre_vv_db, threshold)
    return water_after & ~water_before & (post_vv_db - pre_vv_db <= change_db)
