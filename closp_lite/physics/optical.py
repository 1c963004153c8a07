"""Sentinel-2 optical physics: bands, reflectance, spectral indices, composites, clouds (chapter 1).

Band characteristics are the nominal Sentinel-2 MSI values of the ESA Sentinel-2 User Handbook
(ESA 2015, table 1; centre wavelengths and bandwidths rounded to the nm as published for the
mission requirements). Surface reflectance is a fraction in [0, 1] (it can exceed 1 slightly over
specular or snowy targets); L2A products store it as an integer x 10,000
(:data:`closp_lite.data.bands.S2_SCALE`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from closp_lite.data.bands import S2_BANDS, S2_MODEL_BANDS, S2_SCALE


@dataclass(frozen=True)
class S2Band:
    """One Sentinel-2 MSI band: name, centre wavelength and bandwidth (nm), resolution (m)."""

    name: str
    wavelength_nm: float
    bandwidth_nm: float
    resolution_m: int
    description: str


_ALL_S2_BANDS: dict[str, S2Band] = {
    band.name: band
    for band in (
        S2Band("B1", 443, 20, 60, "coastal aerosol"),
        S2Band("B2", 490, 65, 10, "blue"),
        S2Band("B3", 560, 35, 10, "green"),
        S2Band("B4", 665, 30, 10, "red"),
        S2Band("B5", 705, 15, 20, "red edge 1 (vegetation)"),
        S2Band("B6", 740, 15, 20, "red edge 2 (vegetation)"),
        S2Band("B7", 783, 20, 20, "red edge 3 (vegetation)"),
        S2Band("B8", 842, 115, 10, "near infrared (NIR)"),
        S2Band("B8A", 865, 20, 20, "narrow NIR (vegetation red edge)"),
        S2Band("B9", 945, 20, 60, "water vapour"),
        S2Band("B10", 1375, 30, 60, "SWIR cirrus (not in L2A)"),
        S2Band("B11", 1610, 90, 20, "shortwave infrared 1 (SWIR, snow/ice/cloud, moisture)"),
        S2Band("B12", 2190, 180, 20, "shortwave infrared 2 (SWIR, soil/minerals, burn scars)"),
    )
}

#: The 12 L2A bands in the stored order :data:`closp_lite.data.bands.S2_BANDS` (chapter 1).
S2_BAND_TABLE: tuple[S2Band, ...] = tuple(_ALL_S2_BANDS[name] for name in S2_BANDS)
#: Centre wavelengths (nm) in stored order, as an array for vectorised band physics.
S2_WAVELENGTHS_NM: np.ndarray = np.array([band.wavelength_nm for band in S2_BAND_TABLE], dtype=np.float64)

# Top-of-cloud reflectance of a thick water cloud, per stored band: almost flat in the visible and
# NIR because droplets (~10 um) are much larger than the wavelength (Mie scattering, weak spectral
# dependence), a little higher in the blue from the Rayleigh path radiance above the cloud, and
# lower in the SWIR where liquid water absorbs (1.6 um, more so 2.2 um) - the contrast that cloud
# masks such as Sen2Cor and Fmask exploit (Zhu & Woodcock 2012; Main-Knorn et al. 2017).
_CLOUD_TOP_REFLECTANCE: dict[str, float] = {
    "B1": 0.62, "B2": 0.60, "B3": 0.58, "B4": 0.57, "B5": 0.57, "B6": 0.56, "B7": 0.56,
    "B8": 0.55, "B8A": 0.55, "B9": 0.50, "B11": 0.42, "B12": 0.30,
}  # fmt: skip
CLOUD_REFLECTANCE: np.ndarray = np.array([_CLOUD_TOP_REFLECTANCE[name] for name in S2_BANDS])

# In a cloud shadow the direct sun beam is blocked and only diffuse sky light remains. Sky light
# is scattered by molecules (Rayleigh, ~lambda^-4) and aerosols (~lambda^-1.3), so its share of
# the total irradiance falls with wavelength: ~30 % in the blue, ~10 % in the NIR, a few % in the
# SWIR (Iqbal 1983, ch. 7). We model the diffuse fraction as an Angstrom-type power law anchored
# at 30 % at 490 nm; shadows therefore darken NIR and SWIR most and look bluish.
_DIFFUSE_FRACTION_490 = 0.30
_DIFFUSE_EXPONENT = 1.5
DIFFUSE_FRACTION: np.ndarray = _DIFFUSE_FRACTION_490 * (S2_WAVELENGTHS_NM / 490.0) ** -_DIFFUSE_EXPONENT


def _check_unit_map(name: str, value: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    value = np.asarray(value, dtype=np.float64)
    if value.shape != shape:
        raise ValueError(f"{name} must have shape {shape} (the image's H, W), got {value.shape}")
    if np.any(value < 0) or np.any(value > 1) or not np.all(np.isfinite(value)):
        raise ValueError(f"{name} must lie in [0, 1] everywhere (a fraction per pixel)")
    return value


def _check_stored_reflectance(reflectance: np.ndarray) -> np.ndarray:
    reflectance = np.asarray(reflectance, dtype=np.float64)
    if reflectance.ndim != 3 or reflectance.shape[0] != len(S2_BANDS):
        raise ValueError(
            f"expected a reflectance image of shape ({len(S2_BANDS)}, H, W) in the stored band order "
            f"{', '.join(S2_BANDS)}, got {reflectance.shape}"
        )
    return reflectance


def cloud_effect(reflectance: np.ndarray, opacity: np.ndarray, shadow: np.ndarray) -> np.ndarray:
    """Add clouds and cloud shadows to a 12-band surface reflectance image (chapter 1).

    Model, per band b and pixel (a first-order, single-layer model, not radiative transfer):

    * shadow: ``r_s = r * (1 - shadow * (1 - d_b))`` where ``d_b`` is the diffuse (sky-light)
      fraction of the irradiance (:data:`DIFFUSE_FRACTION`): a full shadow keeps ~30 % of the
      blue but only ~3 % of SWIR-2, so shadows darken NIR/SWIR most and look bluish;
    * cloud: ``out = (1 - opacity) * r_s + opacity * c_b`` with the thick-cloud reflectance
      ``c_b`` (:data:`CLOUD_REFLECTANCE`): clouds brighten every band almost equally (white), a
      little more in the blue, less in the SWIR where water absorbs. Thin cirrus would be seen
      best in B10 (1375 nm), which L2A products drop; a low ``opacity`` stands in for it.

    Args:
        reflectance: (12, H, W) surface reflectance (0-1) in stored band order.
        opacity: (H, W) cloud opacity in [0, 1] (0 clear, 1 opaque).
        shadow: (H, W) shadow strength in [0, 1] (1 = direct sun fully blocked).

    Returns:
        (12, H, W) float64 reflectance as the satellite would see it.

    Raises:
        ValueError: on wrong shapes or maps outside [0, 1].
    """
    reflectance = _check_stored_reflectance(reflectance)
    hw = reflectance.shape[1:]
    opacity = _check_unit_map("opacity", opacity, hw)[None]
    shadow = _check_unit_map("shadow", shadow, hw)[None]
    shadowed = reflectance * (1.0 - shadow * (1.0 - DIFFUSE_FRACTION[:, None, None]))
    return (1.0 - opacity) * shadowed + opacity * CLOUD_REFLECTANCE[:, None, None]


# Haze: what atmospheric correction leaves of the aerosol path radiance. Aerosol scattering falls
# with wavelength roughly as lambda^-alpha (Angstrom 1929) with alpha about 1.3 for continental
# aerosol; the residual is added to the surface reflectance, scaled to its value at 490 nm.
HAZE_ANGSTROM_EXPONENT = 1.3
HAZE_SHAPE: np.ndarray = (S2_WAVELENGTHS_NM / 490.0) ** -HAZE_ANGSTROM_EXPONENT


def haze_effect(reflectance: np.ndarray, path_490: float | np.ndarray) -> np.ndarray:
    """Add a thin haze to a 12-band reflectance image (chapter 1).

    ``out_b = r_b + p * (lambda_b / 490 nm)^-1.3``: an additive path reflectance ``p`` (a number
    or an (H, W) map, reflectance at 490 nm) that is strongest in the blue and negligible in
    the SWIR, which is why hazy scenes look bluish-grey and lose contrast in true colour while
    SWIR composites stay clear.

    Raises:
        ValueError: on a wrong image shape or a negative path reflectance.
    """
    reflectance = np.asarray(reflectance)
    if reflectance.ndim != 3 or reflectance.shape[0] != len(S2_BANDS):
        _check_stored_reflectance(reflectance)  # raises the shape error
    dtype = reflectance.dtype if reflectance.dtype == np.float32 else np.float64
    path = np.asarray(path_490, dtype=dtype)
    if np.any(path < 0) or not np.all(np.isfinite(path)):
        raise ValueError("the haze path reflectance must be finite and >= 0")
    return reflectance + path * HAZE_SHAPE.astype(dtype)[:, None, None]


# ---------------------------------------------------------------- reflectance scaling


def to_reflectance(dn: np.ndarray) -> np.ndarray:
    """Convert stored L2A digital numbers (reflectance x 10,000) to reflectance (chapter 1).

    CrisisLandMark stores the offset-free scaling; products from processing baseline 04.00 on
    (January 2022) carry a ``BOA_ADD_OFFSET`` of -1000 that must be applied before this step.
    """
    return np.asarray(dn, dtype=np.float64) / S2_SCALE


def to_dn(reflectance: np.ndarray) -> np.ndarray:
    """Convert reflectance (0-1) to stored L2A digital numbers, reflectance x 10,000 (chapter 1)."""
    return np.asarray(reflectance, dtype=np.float64) * S2_SCALE


# ---------------------------------------------------------------- spectral indices


def band_position(name: str, n_bands: int) -> int:
    """Return the position of band ``name`` in a stored (12-band) or model (13-band) layout (chapter 1).

    Raises:
        ValueError: for an unknown band name or a band count other than 12 or 13.
    """
    layouts = {len(S2_BANDS): S2_BANDS, len(S2_MODEL_BANDS): S2_MODEL_BANDS}
    if n_bands not in layouts:
        raise ValueError(
            f"a Sentinel-2 image has 12 stored bands or 13 model channels on its first axis, got {n_bands}"
        )
    order = layouts[n_bands]
    if name not in order:
        raise ValueError(f"unknown Sentinel-2 band {name!r}; bands in this layout: {', '.join(order)}")
    return order.index(name)


def normalized_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Return ``(a - b) / (a + b)``, in [-1, 1] for non-negative inputs; NaN where ``a + b == 0`` (chapter 1).

    A normalized difference does not depend on a common scale factor, so digital numbers and
    reflectances give the same index.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    total = a + b
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total != 0, (a - b) / np.where(total != 0, total, 1.0), np.nan)


@dataclass(frozen=True)
class SpectralIndex:
    """A normalized-difference index ``(first - second) / (first + second)`` and where it comes from."""

    name: str
    first: str
    second: str
    meaning: str
    reference: str


#: The spectral indices of chapter 1, by name. MNDWI and NDSI share the same bands (green and
#: SWIR-1) with Sentinel-2: the formula is identical, only the interpretation and thresholds differ.
SPECTRAL_INDICES: dict[str, SpectralIndex] = {
    index.name: index
    for index in (
        SpectralIndex("NDVI", "B8", "B4", "green vegetation (> ~0.5 dense, < 0 water)", "Rouse et al. 1974"),
        SpectralIndex("NDWI", "B3", "B8", "open water (> 0)", "McFeeters 1996"),
        SpectralIndex("MNDWI", "B3", "B11", "open water, also in built-up surroundings (> 0)", "Xu 2006"),
        SpectralIndex("NBR", "B8", "B12", "burn severity (drops after fire; dNBR = pre - post)", "Key & Benson 2006"),
        SpectralIndex("NDBI", "B11", "B8", "built-up and bare surfaces (> 0)", "Zha et al. 2003"),
        SpectralIndex("NDSI", "B3", "B11", "snow and ice (> ~0.4)", "Hall et al. 1995; Dozier 1989"),
    )
}


def spectral_index(image: np.ndarray, name: str) -> np.ndarray:
    """Compute the spectral index ``name`` (see :data:`SPECTRAL_INDICES`) of a Sentinel-2 image (chapter 1).

    ``image`` has the bands on its first axis: 12 stored bands or 13 model channels, followed
    by any spatial shape (a single spectrum ``(12,)`` works too). Bands are found by name.

    Raises:
        ValueError: for an unknown index name or band layout.
    """
    key = name.upper()
    if key not in SPECTRAL_INDICES:
        raise ValueError(f"unknown spectral index {name!r}; choose one of {', '.join(SPECTRAL_INDICES)}")
    index = SPECTRAL_INDICES[key]
    image = np.asarray(image)
    n_bands = image.shape[0] if image.ndim else 0
    return normalized_difference(
        image[band_position(index.first, n_bands)], image[band_position(index.second, n_bands)]
    )


# ---------------------------------------------------------------- composites


def robust_stretch(channel: np.ndarray, percentiles: tuple[float, float] = (2.0, 98.0)) -> np.ndarray:
    """Linearly map the ``percentiles`` of ``channel`` to 0 and 1 and clip to [0, 1] (chapter 1).

    Percentiles instead of min/max keep a few saturated pixels (clouds, glints) or no-data from
    washing out the picture. NaN pixels are ignored and come out as 0.

    Raises:
        ValueError: if the percentiles are not increasing within [0, 100].
    """
    low_p, high_p = percentiles
    if not 0 <= low_p < high_p <= 100:
        raise ValueError(f"percentiles must satisfy 0 <= low < high <= 100, got {percentiles}")
    channel = np.asarray(channel, dtype=np.float64)
    finite = channel[np.isfinite(channel)]
    if finite.size == 0:
        return np.zeros_like(channel)
    low, high = np.percentile(finite, [low_p, high_p])
    scaled = (channel - low) / (high - low) if high > low else np.zeros_like(channel)
    return np.clip(np.nan_to_num(scaled, nan=0.0), 0.0, 1.0)


def composite(
    image: np.ndarray,
    bands: tuple[str, str, str],
    percentiles: tuple[float, float] = (2.0, 98.0),
    limits: tuple[float, float] | None = None,
) -> np.ndarray:
    """Return an (H, W, 3) RGB composite in [0, 1] of three named bands (chapter 1).

    ``image`` is a 12-band stored or 13-band model image (C, H, W). Each channel is stretched
    between its own ``percentiles`` (:func:`robust_stretch`), or, if ``limits`` (low, high in the
    image's units) are given, between those fixed values for all three - use fixed limits to
    compare images (e.g. before and after clouds) on the same scale.
    """
    image = np.asarray(image)
    if image.ndim != 3:
        raise ValueError(f"a composite needs an image of shape (C, H, W), got {image.shape}")
    channels = [image[band_position(band, image.shape[0])] for band in bands]
    if limits is None:
        return np.stack([robust_stretch(channel, percentiles) for channel in channels], axis=-1)
    low, high = limits
    if not high > low:
        raise ValueError(f"limits must satisfy low < high, got {limits}")
    scaled = (np.stack(channels, axis=-1).astype(np.float64) - low) / (high - low)
    return np.clip(np.nan_to_num(scaled, nan=0.0), 0.0, 1.0)


#: The standard fixed stretch of true-colour pictures, in stored units: reflectance 0 to 0.3 maps to
#: black to white, as in the Sentinel-2 browse images; every patch is shown on the same scale.
TRUE_COLOUR_LIMITS: tuple[float, float] = (0.0, 3000.0)

#: Common band combinations (R, G, B) for :func:`composite`.
COMPOSITES: dict[str, tuple[str, str, str]] = {
    "true colour": ("B4", "B3", "B2"),
    "false colour (NIR)": ("B8", "B4", "B3"),  # vegetation red: chlorophyll reflects NIR strongly
    "SWIR": ("B12", "B8A", "B4"),  # burn scars, bare soil, moisture
}


def true_colour(
    image: np.ndarray, percentiles: tuple[float, float] = (2.0, 98.0), limits: tuple[float, float] | None = None
) -> np.ndarray:
    """Return the true-colour (B4, B3, B2) composite in [0, 1], shape (H, W, 3); see :func:`composite` (chapter 1)."""
    return composite(image, COMPOSITES["true colour"], percentiles, limits)


def false_colour(
    image: np.ndarray, percentiles: tuple[float, float] = (2.0, 98.0), limits: tuple[float, float] | None = None
) -> np.ndarray:
    """Return the colour-infrared (B8, B4, B3) composite in [0, 1]: vegetation shows red (chapter 1)."""
    return composite(image, COMPOSITES["false colour (NIR)"], percentiles, limits)


# ---------------------------------------------------------------- a rule-based cover map from indices

#: Thresholds of :func:`index_cover`; documented defaults from the index literature.
SNOW_NDSI = 0.4  # Hall et al. (1995), with a brightness test to exclude water
SNOW_MIN_GREEN = 0.2
WATER_MNDWI = 0.0  # Xu (2006); with NDVI < 0.1 to keep vegetated wetlands out
WATER_MAX_NDVI = 0.1
# Water absorbs NIR within centimetres: below 3 % NIR reflectance only water (or deep shadow) is
# left, whatever the indices say - they are noise-dominated over black, humic boreal lakes.
WATER_MAX_NIR = 0.03
DENSE_VEGETATION_NDVI = 0.6
SPARSE_VEGETATION_NDVI = 0.3


def index_cover(reflectance: np.ndarray) -> dict[str, np.ndarray]:
    """Split a Sentinel-2 image into coarse cover types by index thresholds (chapter 1).

    A transparent rule set, not a land-cover classifier: ``Snow`` (NDSI > 0.4 and green
    reflectance > 0.2), ``Water`` (MNDWI > 0 and NDVI < 0.1, or NIR reflectance < 0.03),
    ``Dense vegetation``
    (NDVI > 0.6), ``Sparse vegetation`` (0.3 < NDVI <= 0.6) and ``Bare or built`` (the rest).
    Useful to label real pixels where no per-pixel map exists. Pixels with NaN indices (zero
    reflectance) belong to no type.

    Args:
        reflectance: (12, H, W) or (13, H, W) reflectance in 0-1 (not stored integers: convert
            with :func:`to_reflectance`).

    Returns:
        Boolean masks (H, W) by type name; the masks do not overlap.

    Raises:
        ValueError: if the values look like stored integers (reflectance above 20).
    """
    reflectance = np.asarray(reflectance, dtype=np.float64)
    if np.nanmax(reflectance) > 20:
        raise ValueError("index_cover needs reflectance in 0-1; stored L2A integers must go through to_reflectance first")
    ndvi = spectral_index(reflectance, "NDVI")
    mndwi = spectral_index(reflectance, "MNDWI")
    green = reflectance[band_position("B3", reflectance.shape[0])]
    nir = reflectance[band_position("B8", reflectance.shape[0])]
    valid = np.isfinite(ndvi) & np.isfinite(mndwi)
    snow = valid & (spectral_index(reflectance, "NDSI") > SNOW_NDSI) & (green > SNOW_MIN_GREEN)
    water = valid & ~snow & (((mndwi > WATER_MNDWI) & (ndvi < WATER_MAX_NDVI)) | (nir < WATER_MAX_NIR))
    rest = valid & ~snow & ~water
    return {
        "Water": water,
        "Snow": snow,
        "Dense vegetation": rest & (ndvi > DENSE_VEGETATION_NDVI),
        "Sparse vegetation": rest & (ndvi > SPARSE_VEGETATION_NDVI) & (ndvi <= DENSE_VEGETATION_NDVI),
        "Bare or built": rest & (ndvi <= SPARSE_VEGETATION_NDVI),
    }
