"""Captions stored with the data: one column per style in ``captions.parquet`` (chapter 4).

:func:`caption` writes one caption of any style; :func:`caption_table` captions a whole corpus
folder in memory; :func:`build_captions` also writes the table beside the corpus (through
:func:`closp_lite.data.format.write_captions`), where the datasets pick a style from it. Every
caption has its own random stream (key, style, seed), so the table is deterministic for a seed
and does not change when other patches are added.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from closp_lite.captions.closp import closp_text
from closp_lite.captions.sar_rewrite import optical_description, rewrite_for_sar
from closp_lite.captions.segmentation import segmentation_caption
from closp_lite.captions.templates import STYLE_CODES, caption_rng, template_caption
from closp_lite.config import DEFAULT_SEED
from closp_lite.labels import harmonize

STYLES: tuple[str, ...] = tuple(STYLE_CODES)
"""Caption styles: ``closp`` (upstream label text), ``template``, ``segmentation``, ``sar-rewrite``.

``sar-rewrite`` holds the rewritten radar description for S1 patches and, for S2 patches, the
optical description the rewrite starts from (the text that suits an optical image)."""

_NEEDS_MASK = frozenset({"segmentation"})


def check_styles(styles: Sequence[str]) -> tuple[str, ...]:
    """Return ``styles`` as a tuple if all are known, else raise ``ValueError`` (chapter 4)."""
    unknown = [style for style in styles if style not in STYLES]
    if unknown or not styles:
        raise ValueError(f"unknown caption styles {unknown or list(styles)}; choose from {', '.join(STYLES)}")
    return tuple(styles)


def caption(
    style: str,
    key: str,
    labels: Sequence[str],
    modality: str,
    seed: int = DEFAULT_SEED,
    mask: np.ndarray | None = None,
    extent: np.ndarray | None = None,
) -> str:
    """Write the caption of one patch in one style from its source labels (chapter 4).

    Raises:
        ValueError: naming the key for labels that cannot be harmonized or an empty label set.
    """
    result = harmonize(labels)
    if result.unmapped or not result.labels:
        problem = f"unknown labels {result.unmapped}" if result.unmapped else "no labels"
        raise ValueError(f"sample {key!r}: cannot caption it ({problem}); fix its labels in metadata.parquet")
    rng = caption_rng(key, style, seed)
    if style == "closp":
        return closp_text(result.labels)
    if style == "template":
        return template_caption(result.labels, modality, rng)
    if style == "segmentation":
        return segmentation_caption(result.labels, modality, rng, mask, extent)
    optical = optical_description(result.labels, rng)
    return rewrite_for_sar(optical) if modality == "s1" else optical


def caption_table(
    root: str | Path,
    styles: Sequence[str] = STYLES,
    seed: int = DEFAULT_SEED,
    keys: Sequence[str] | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Caption the patches of a corpus folder: columns ``key`` + one per style (chapter 4).

    Only the segmentation style reads the patches (for their class maps); the others need the
    metadata alone. ``keys`` restricts the table to some patches (default: all).

    Raises:
        FileNotFoundError: if ``root`` is not a corpus folder; ValueError for unknown styles or keys.
    """
    from closp_lite.data.format import CrisisLandMark, decode_labels

    styles = check_styles(styles)
    with CrisisLandMark(root) as corpus:
        meta = corpus.metadata.set_index("key")
        keys = list(meta.index) if keys is None else list(keys)
        missing = [key for key in keys if key not in meta.index]
        if missing:
            raise ValueError(f"{root}: keys not in metadata.parquet: {missing[:5]}")
        rows = []
        for key in tqdm(keys, desc="captioning", unit="patch", disable=not progress):
            labels, modality = decode_labels(meta.at[key, "labels"]), str(meta.at[key, "modality"])
            mask = corpus.read(key).mask if _NEEDS_MASK.intersection(styles) else None
            rows.append({"key": key, **{style: caption(style, key, labels, modality, seed, mask) for style in styles}})
    return pd.DataFrame(rows, columns=["key", *styles])


def build_captions(root: str | Path, styles: Sequence[str] = STYLES, seed: int = DEFAULT_SEED, progress: bool = True) -> pd.DataFrame:
    """Caption every patch of ``root`` and write ``captions.parquet`` beside it; return the table (chapter 4).

    An existing file is replaced (its other style columns are kept when the keys agree).
    """
    from closp_lite.data.format import read_captions, write_captions

    table = caption_table(root, styles, seed, progress=progress)
    old = read_captions(root)
    if old is not None and "key" in old.columns and sorted(old["key"]) == sorted(table["key"]):
        kept = [column for column in old.columns if column != "key" and column not in table.columns]
        table = table.merge(old[["key", *kept]], on="key", how="left")
    write_captions(root, table)
    return table
