"""Torch datasets over CrisisLandMark folders, returning dict samples (chapter 0).

Each sample follows the "Sample dict" contract in CONTRIBUTING.md: a model-ready ``image``, the
``modality``, harmonized ``labels``, ``source_labels``, the caption ``text`` of the chosen style,
``lonlat``, ``timestamp``, ``key`` and, for simulated data, ``mask``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from closp_lite.data.bands import to_model_input
from closp_lite.data.format import CAPTIONS, CrisisLandMark, lonlat, read_captions
from closp_lite.data.module import collate, corpus_table, select_samples
from closp_lite.labels.text import closp_text

CLOSP_STYLE = "closp"

__all__ = ["CLOSP_STYLE", "CrisisLandMarkDataset", "collate"]


class CrisisLandMarkDataset:
    """A map-style torch dataset of CrisisLandMark samples (chapter 0).

    The selection goes through the corpus view (:mod:`closp_lite.data.module`); for several
    datasets of one corpus, :class:`~closp_lite.data.module.CrisisLandMarkDataModule` harmonizes the
    labels once and builds them with :meth:`from_table`.

    Args:
        root: the corpus folder.
        modality: ``"s1"``, ``"s2"`` or ``None`` for both (the combined view).
        split: ``"train"``, ``"test"`` or ``None`` for both.
        sources: keep only these sources (``metadata.source``).
        labels: keep samples having **any** of these harmonized labels.
        text_style: ``"closp"`` (the upstream text, :func:`closp_lite.labels.text.closp_text`) or a
            column of ``captions.parquet``.
        transforms: a callable applied to each sample dict.
        keys: keep only these keys, in this order.

    Raises:
        ValueError: for an unknown modality/split/style, unknown keys, or when nothing is left.
    """

    def __init__(
        self,
        root: str | Path,
        modality: str | None = None,
        split: str | None = None,
        sources: Iterable[str] | None = None,
        labels: Iterable[str] | None = None,
        text_style: str = CLOSP_STYLE,
        transforms: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        keys: Sequence[str] | None = None,
    ) -> None:
        corpus = CrisisLandMark(root)
        selected = select_samples(corpus_table(corpus), modality, split, sources, labels, keys, where=str(corpus.root))
        self._setup(corpus, selected, text_style, transforms)

    @classmethod
    def from_table(
        cls, corpus: CrisisLandMark, table: pd.DataFrame, text_style: str = CLOSP_STYLE,
        transforms: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> CrisisLandMarkDataset:  # fmt: skip
        """A dataset over rows already selected from :func:`~closp_lite.data.module.corpus_table` (chapter 0)."""
        dataset = cls.__new__(cls)
        dataset._setup(corpus, table.reset_index(drop=True), text_style, transforms)
        return dataset

    def _setup(self, corpus: CrisisLandMark, table: pd.DataFrame, text_style: str, transforms: Callable[[dict[str, Any]], dict[str, Any]] | None) -> None:
        self.corpus = corpus
        self.root = corpus.root
        self.metadata = table
        self.text_style = text_style
        self.transforms = transforms
        self._captions = self._load_captions() if text_style != CLOSP_STYLE else None

    def _load_captions(self) -> pd.Series:
        table = read_captions(self.root)
        if table is None:
            raise ValueError(
                f"{self.root / CAPTIONS} not found: text_style={self.text_style!r} needs stored captions "
                f"(write them with closp_lite.captions, or use text_style='{CLOSP_STYLE}')"
            )
        if self.text_style not in table.columns:
            styles = [c for c in table.columns if c != "key"]
            raise ValueError(f"{self.root / CAPTIONS} has no caption style {self.text_style!r}; it has {styles}")
        captions = table.set_index("key")[self.text_style]
        missing = self.metadata["key"][~self.metadata["key"].isin(captions.index)]
        if len(missing):
            raise ValueError(
                f"{self.root / CAPTIONS}: {len(missing)} samples have no {self.text_style!r} caption "
                f"(first: {missing.iloc[0]!r}); regenerate the captions"
            )
        return captions

    def __len__(self) -> int:
        return len(self.metadata)

    def text(self, index: int) -> str:
        """The caption of sample ``index`` in the dataset's text style."""
        row = self.metadata.iloc[index]
        if self._captions is not None:
            return str(self._captions.loc[row["key"]])
        if not row["harmonized"]:
            raise ValueError(
                f"{self.root}: sample {row['key']!r} has no label of the 12-label vocabulary (source labels "
                f"{list(row['labels'])}), so its caption would be empty; check it with `closp-lite data verify`"
            )
        return closp_text(row["harmonized"])

    def __getitem__(self, index: int) -> dict[str, Any]:
        import torch

        row = self.metadata.iloc[index]
        patch = self.corpus.read(row["key"])
        sample: dict[str, Any] = {
            "image": torch.from_numpy(to_model_input(patch.image, patch.modality)),
            "modality": patch.modality,
            "labels": list(row["harmonized"]),
            "source_labels": list(patch.labels),
            "text": self.text(index),
            "lonlat": torch.tensor(lonlat(patch), dtype=torch.float32),
            "timestamp": patch.timestamp or "",
            "key": patch.key,
        }
        if patch.mask is not None:
            sample["mask"] = torch.from_numpy(patch.mask.astype(np.int64))
        return self.transforms(sample) if self.transforms is not None else sample
