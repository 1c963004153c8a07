"""The 6 real BigEarthNet-MM S1 + S2 pairs shipped in the PyPI package ``bigearthnet-common`` (chapter 0).

They are converted once into the CrisisLandMark format (``config.data_dir() / "examples"``).
S1 and S2 patches get their own keys (the folder names), as in the unpaired corpus;
:func:`example_pairs` keeps the pairing. Contains modified Copernicus Sentinel data
(BigEarthNet, CDLA-Permissive-1.0).
"""

from __future__ import annotations

import importlib.util
import json
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from closp_lite.config import data_dir
from closp_lite.data.bands import PATCH_SIZE, S1_BANDS, S2_BANDS
from closp_lite.data.format import METADATA, CorpusWriter, Patch

ARCHIVES = {"s1": "BigEarthNet-S1-Example.tar.bz2", "s2": "BigEarthNet-S2-Example.tar.bz2"}
PAIRS = "pairs.json"
SOURCE = "bigearthnet_v1_examples"

__all__ = ["ARCHIVES", "example_pairs", "load_examples", "package_dir"]


def package_dir() -> Path:
    """The folder of the installed ``bigearthnet-common`` package, found without importing it (chapter 0).

    Raises:
        FileNotFoundError: if the package (or one of its example archives) is not installed.
    """
    spec = importlib.util.find_spec("bigearthnet_common")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the PyPI package bigearthnet-common is not installed: `pip install bigearthnet-common==2.8.0`")
    folder = Path(spec.submodule_search_locations[0])
    for name in ARCHIVES.values():
        if not (folder / name).is_file():
            raise FileNotFoundError(f"{folder / name} not found: reinstall bigearthnet-common==2.8.0")
    return folder


def _iso(stamp: str) -> str:
    # BigEarthNet writes Sentinel acquisition times in UTC without a zone; ISO 8601 with "Z" says so.
    return stamp.strip().replace(" ", "T") + "Z"


def _read_band(path: Path) -> tuple[np.ndarray, object, int]:
    """Band at 10 m (PATCH_SIZE x PATCH_SIZE), its 10 m transform and EPSG code."""
    import rasterio
    from rasterio.enums import Resampling

    with rasterio.open(path) as src:
        data = src.read(1, out_shape=(PATCH_SIZE, PATCH_SIZE), resampling=Resampling.bilinear)
        transform = src.transform @ src.transform.scale(src.width / PATCH_SIZE, src.height / PATCH_SIZE)
        if src.crs is None or src.crs.to_epsg() is None:
            raise ValueError(f"{path}: no EPSG code in the GeoTIFF")
        return data.astype(np.float32), transform, int(src.crs.to_epsg())


def _pixel_coords(transform: Any) -> np.ndarray:
    """x, y of every pixel centre in the CRS, shape (2, 120, 120)."""
    cols, rows = np.meshgrid(np.arange(PATCH_SIZE) + 0.5, np.arange(PATCH_SIZE) + 0.5)
    x, y = transform @ (cols, rows)
    return np.stack([x, y]).astype(np.float32)


def _convert(folder: Path, modality: str) -> tuple[Patch, dict]:
    name = folder.name
    meta = json.loads((folder / f"{name}_labels_metadata.json").read_text())
    band_names = S1_BANDS if modality == "s1" else S2_BANDS
    files = [folder / f"{name}_{_file_band(band)}.tif" for band in band_names]
    bands = [_read_band(path) for path in files]
    crs = {epsg for _, _, epsg in bands}
    if len(crs) != 1:
        raise ValueError(f"{folder}: bands disagree on the CRS ({sorted(crs)})")
    stamp = meta.get("acquisition_time") or meta.get("acquisition_date")
    patch = Patch(
        key=name,
        image=np.stack([data for data, _, _ in bands]),
        coords=_pixel_coords(bands[0][1]),
        crs=crs.pop(),
        labels=list(meta["labels"]),
        timestamp=_iso(stamp) if stamp else None,
    )
    return patch, meta


def _file_band(band: str) -> str:
    """File-name band code: BigEarthNet pads single digits (B1 -> B01, B8 -> B08; B8A, VV, VH stay)."""
    return f"B{int(band[1:]):02d}" if band.startswith("B") and band[1:].isdigit() else band


def load_examples(out_dir: str | Path | None = None, overwrite: bool = False) -> Path:
    """Convert the 6 real S1 + S2 pairs into a CrisisLandMark folder once; return the folder (chapter 0).

    S2 bands at 20 m and 60 m are resampled to 10 m **bilinearly**: nearest neighbour would leave
    visible 2 x 2 and 6 x 6 blocks, and cubic can overshoot below zero reflectance at sharp edges,
    whereas bilinear stays within the range of the neighbouring measurements. The 10 m bands are
    read unchanged. S1 VV and VH (dB) are copied as they are. All patches are in the ``test`` split.

    Raises:
        FileNotFoundError: if ``bigearthnet-common`` is not installed.
        FileExistsError: if ``out_dir`` holds another corpus and ``overwrite`` is false.
    """
    root = Path(out_dir) if out_dir is not None else data_dir() / "examples"
    if (root / METADATA).is_file() and (root / PAIRS).is_file() and not overwrite:
        return root
    source = package_dir()
    pairs = []
    with tempfile.TemporaryDirectory() as tmp:
        for archive in ARCHIVES.values():
            with tarfile.open(source / archive) as tar:
                tar.extractall(tmp, filter="data")
        folders = {m: sorted(p for p in Path(tmp, ARCHIVES[m].removesuffix(".tar.bz2")).iterdir() if p.is_dir()) for m in ARCHIVES}
        with CorpusWriter(root, overwrite=overwrite) as writer:
            for modality in ("s2", "s1"):
                for folder in folders[modality]:
                    patch, meta = _convert(folder, modality)
                    writer.add(patch, shard=f"benv1{modality}_examples", split="test", source=SOURCE)
                    if modality == "s1":
                        pairs.append([patch.key, meta["corresponding_s2_patch"]])
    (root / PAIRS).write_text(json.dumps(sorted(pairs), indent=1) + "\n")
    return root


def example_pairs(root: str | Path | None = None) -> list[tuple[str, str]]:
    """The (s1_key, s2_key) pairs of the converted examples (chapter 0); converts them if needed."""
    folder = load_examples(root)
    return [tuple(pair) for pair in json.loads((folder / PAIRS).read_text())]
