"""Band conventions of CrisisLandMark and of the model inputs - the one place they live (chapter 0).

Stored images (``image`` datasets in the HDF5 shards):

* Sentinel-1: 2 bands, VV and VH backscatter in dB.
* Sentinel-2: 12 bands of L2A surface reflectance x 10,000, in the order :data:`S2_BANDS`
  (B10, the cirrus band, is not part of L2A products).

Model inputs (what datasets return as ``image``):

* Sentinel-1: unchanged dB values; NaN (no-data) becomes :data:`S1_NODATA_DB`.
* Sentinel-2: 13 channels in the SSL4EO-S12 order (an all-zero B10 inserted at index 10),
  divided by 10,000; NaN becomes 0.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

Modality = Literal["s1", "s2"]

S1_BANDS: tuple[str, ...] = ("VV", "VH")
S2_BANDS: tuple[str, ...] = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B8", "B8A", "B9", "B11", "B12")
S2_MODEL_BANDS: tuple[str, ...] = S2_BANDS[:10] + ("B10",) + S2_BANDS[10:]
PATCH_SIZE = 120
S2_SCALE = 10_000.0
# A very low backscatter (below the S1 noise floor of about -25 dB) stands in for no-data.
S1_NODATA_DB = -50.0
N_BANDS: dict[str, int] = {"s1": len(S1_BANDS), "s2": len(S2_BANDS)}
N_MODEL_CHANNELS: dict[str, int] = {"s1": len(S1_BANDS), "s2": len(S2_MODEL_BANDS)}


def modality_from_bands(n_bands: int) -> Modality:
    """Return ``"s1"`` for 2 stored bands and ``"s2"`` for 12 (or 13 model channels).

    Raises:
        ValueError: for any other band count.
    """
    if n_bands == len(S1_BANDS):
        return "s1"
    if n_bands in (len(S2_BANDS), len(S2_MODEL_BANDS)):
        return "s2"
    raise ValueError(
        f"cannot tell the modality of an image with {n_bands} bands: expected 2 (Sentinel-1 VV, VH) "
        f"or 12 (Sentinel-2 L2A) / 13 (model input)"
    )


def to_model_input(image: np.ndarray, modality: Modality) -> np.ndarray:
    """Convert a stored image (B, H, W) to the model-ready float32 array (C, H, W).

    Raises:
        ValueError: if the band count does not match ``modality``.
    """
    image = np.asarray(image, dtype=np.float32)
    expected = N_BANDS[modality]
    if image.ndim != 3 or image.shape[0] != expected:
        raise ValueError(f"a {modality} image needs shape ({expected}, H, W), got {tuple(image.shape)}")
    if modality == "s1":
        return np.nan_to_num(image, nan=S1_NODATA_DB, posinf=S1_NODATA_DB, neginf=S1_NODATA_DB)
    scaled = np.nan_to_num(image / S2_SCALE, nan=0.0, posinf=0.0, neginf=0.0)
    zero_b10 = np.zeros((1, *scaled.shape[1:]), dtype=np.float32)
    return np.concatenate([scaled[:10], zero_b10, scaled[10:]], axis=0)


def from_model_input(image: np.ndarray, modality: Modality) -> np.ndarray:
    """Invert :func:`to_model_input` (no-data stays filled): model channels -> stored bands."""
    image = np.asarray(image, dtype=np.float32)
    if modality == "s1":
        return image.copy()
    if image.shape[0] != len(S2_MODEL_BANDS):
        raise ValueError(f"a model-ready s2 image has 13 channels, got {image.shape[0]}")
    return np.concatenate([image[:10], image[11:]], axis=0) * S2_SCALE
