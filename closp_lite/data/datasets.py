"""Torch datasets over CrisisLandMark folders, returning dict samples (chapter 0).

Each sample follows the "Sample dict" contract in CONTRIBUTING.md: a model-ready ``image``, the
``modality``, harmonized ``labels``, ``source_labels``, the caption ``text`` of the chosen style,
``lonlat``, ``timestamp``, ``key`` and, for simulated data, ``mask``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from closp_lite.data.bands import to_model_input
from closp_lite.data.format import CAPTIONS, CrisisLandMark, lonlat, read_captions

if TYPE_CHECKING:
    from matplotlib.figure import Figure

CLOSP_STYLE = "closp"

__all__ = ["CLOSP_STYLE", "CrisisLandMarkDataset", "collate"]


def _harmonized(source_labels: pd.Series) -> pd.Series:
    """Harmonized, sorted labels of every row; each distinct label set is harmonized once."""
    from closp_lite.labels import harmonize

    cache: dict[tuple[str, ...], list[str]] = {}
    out = []
    for labels in source_labels:
        key = tuple(labels)
        if key not in cache:
            cache[key] = list(harmonize(list(key)).labels)
        out.append(cache[key])
    return pd.Series(out, index=source_labels.index, dtype=object)


class CrisisLandMarkDataset:
    """A map-style torch dataset of CrisisLandMark samples (chapter 0).

    Args:
        root: the corpus folder.
        modality: ``"s1"``, ``"s2"`` or ``None`` for both (the combined view).
        split: ``"train"``, ``"test"`` or ``None`` for both.
        sources: keep only these sources (``metadata.source``).
        labels: keep samples having **any** of these harmonized labels.
        text_style: ``"closp"`` (the upstream text, :func:`closp_lite.captions.closp_text`) or a
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
        self.root = Path(root)
        self.corpus = CrisisLandMark(self.root)
        self.text_style = text_style
        self.transforms = transforms
        table = self.corpus.metadata.copy()
        table["harmonized"] = _harmonized(table["labels"])
        self.metadata = self._select(table, modality, split, sources, labels, keys).reset_index(drop=True)
        self._captions = self._load_captions() if text_style != CLOSP_STYLE else None

    def _select(
        self,
        table: pd.DataFrame,
        modality: str | None,
        split: str | None,
        sources: Iterable[str] | None,
        labels: Iterable[str] | None,
        keys: Sequence[str] | None,
    ) -> pd.DataFrame:
        if modality not in (None, "s1", "s2"):
            raise ValueError(f"modality must be 's1', 's2' or None (both), got {modality!r}")
        if split not in (None, "train", "test"):
            raise ValueError(f"split must be 'train', 'test' or None (both), got {split!r}")
        if keys is not None:
            unknown = [key for key in keys if key not in self.corpus]
            if unknown:
                raise ValueError(f"{len(unknown)} keys are not in {self.root} (first: {unknown[0]!r})")
            table = table.set_index("key", drop=False).loc[list(keys)]
        keep = np.ones(len(table), dtype=bool)
        if modality is not None:
            keep &= (table["modality"] == modality).to_numpy()
        if split is not None:
            keep &= (table["split"] == split).to_numpy()
        if sources is not None:
            keep &= table["source"].isin(list(sources)).to_numpy()
        if labels is not None:
            wanted = set(labels)
            keep &= np.array([bool(wanted & set(row)) for row in table["harmonized"]], dtype=bool)
        selected = table[keep]
        if selected.empty:
            raise ValueError(
                f"no sample of {self.root} matches modality={modality!r}, split={split!r}, "
                f"sources={sources!r}, labels={labels!r}"
            )
        return selected

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
        if self._captions is None:
            from closp_lite.captions import closp_text

            return closp_text(row["harmonized"])
        return str(self._captions.loc[row["key"]])

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

    def plot(self, index_or_sample: int | dict[str, Any], false_colour: bool = False) -> Figure:
        """Plot a sample (by index or as a dict) with :func:`closp_lite.plotting.plot_sample`."""
        from closp_lite.plotting.images import plot_sample

        sample = self[index_or_sample] if isinstance(index_or_sample, int) else index_or_sample
        return plot_sample(sample, false_colour=false_colour)


def collate(batch: list[dict[str, Any]]) -> dict[str, Any]:
    """Merge sample dicts into a batch: tensors of equal shape are stacked, everything else is listed (chapter 0).

    A field missing from some samples (``mask`` in a mixed batch) becomes a list with ``None``.
    """
    import torch

    if not batch:
        raise ValueError("collate() needs at least one sample")
    names = list(dict.fromkeys(name for sample in batch for name in sample))
    out: dict[str, Any] = {}
    for name in names:
        values = [sample.get(name) for sample in batch]
        stackable = all(isinstance(v, torch.Tensor) for v in values) and len({tuple(v.shape) for v in values}) == 1
        out[name] = torch.stack(values) if stackable else values
    return out
