"""The one corpus view: harmonized labels, split selection, datasets, loaders and collate (chapter 0).

:class:`CrisisLandMarkDataModule` follows torchgeo's data modules: it owns a corpus folder and
hands out datasets and loaders per split and modality. It is the only place where a corpus's
source labels are harmonized (:func:`corpus_table`) and samples are selected by split, modality,
source, label or key (:func:`select_samples`); training, embedding, queries and the command line
all go through it.

Splits: ``train`` and ``test`` as stored (the CrisisLandMark paper searches the ``test`` split);
training holds out a seeded fraction of the ``train`` keys for validation
(:meth:`CrisisLandMarkDataModule.train_val`), so the searched corpus is never trained on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

import numpy as np
import pandas as pd

from closp_lite.config import DEFAULT_SEED
from closp_lite.data.format import SPLITS, CrisisLandMark
from closp_lite.labels import harmonize

if TYPE_CHECKING:
    from torch.utils.data import DataLoader, Dataset

    from closp_lite.data.datasets import CrisisLandMarkDataset

MODALITIES: tuple[str, ...] = ("s1", "s2")


class MapDataset(Protocol):
    """What the loaders take: a sized, indexable collection of sample dicts (a torch map-style dataset)."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> dict[str, Any]: ...

__all__ = ["MODALITIES", "CrisisLandMarkDataModule", "MapDataset", "collate", "corpus_table", "held_out", "select_samples"]


def corpus_table(corpus: CrisisLandMark) -> pd.DataFrame:
    """The corpus metadata plus ``harmonized`` (sorted vocabulary labels) and ``unmapped`` labels per sample (chapter 0).

    Each distinct label set is harmonized once, so this stays fast on the full corpus.
    """
    table = corpus.metadata.copy()
    cache: dict[tuple[str, ...], Any] = {}
    results = [cache.setdefault(key, harmonize(list(key))) for key in map(tuple, table["labels"])]
    table["harmonized"] = pd.Series([list(r.labels) for r in results], index=table.index, dtype=object)
    table["unmapped"] = pd.Series([list(r.unmapped) for r in results], index=table.index, dtype=object)
    return table


def select_samples(
    table: pd.DataFrame,
    modality: str | None = None,
    split: str | None = None,
    sources: Iterable[str] | None = None,
    labels: Iterable[str] | None = None,
    keys: Sequence[str] | None = None,
    where: str = "the corpus",
) -> pd.DataFrame:
    """Rows of a :func:`corpus_table` that match every given filter; ``keys`` also fixes the order (chapter 0).

    Raises:
        ValueError: for an unknown modality or split, keys the table lacks, or when nothing matches.
    """
    if modality not in (None, *MODALITIES):
        raise ValueError(f"modality must be 's1', 's2' or None (both), got {modality!r}")
    if split not in (None, *SPLITS):
        raise ValueError(f"split must be 'train', 'test' or None (both), got {split!r}")
    if keys is not None:
        known = set(table["key"])
        unknown = [key for key in keys if key not in known]
        if unknown:
            raise ValueError(f"{len(unknown)} keys are not in {where} (first: {unknown[0]!r})")
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
    selected = table[keep].reset_index(drop=True)
    if selected.empty:
        present = sorted(set(table["split"])) if "split" in table else []
        raise ValueError(
            f"no sample of {where} matches modality={modality!r}, split={split!r}, sources={sources!r}, "
            f"labels={labels!r} (splits present: {present})"
        )
    return selected


def held_out(keys: Sequence[str], fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """Split ``keys`` into (train, validation) with a seeded ``fraction`` held out, at least 2 (chapter 5).

    One validation sample would give a contrastive loss of 0, hence the minimum of two.
    """
    import torch

    if len(keys) < 3:
        raise ValueError(f"{len(keys)} training samples are too few to hold out a validation set (at least 3 needed)")
    order = torch.randperm(len(keys), generator=torch.Generator().manual_seed(seed)).tolist()
    n_val = min(len(keys) - 1, max(2, round(fraction * len(keys))))
    return [keys[i] for i in sorted(order[n_val:])], [keys[i] for i in sorted(order[:n_val])]


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
        tensors = [v for v in values if isinstance(v, torch.Tensor)]
        stackable = len(tensors) == len(values) and len({tuple(v.shape) for v in tensors}) == 1
        out[name] = torch.stack(tensors) if stackable else values
    return out


class CrisisLandMarkDataModule:
    """One corpus folder seen through splits, modalities, datasets and loaders (chapter 0).

    Args:
        root: the corpus folder.
        text_style: caption style of the datasets (``"closp"`` or a ``captions.parquet`` column).
        batch_size: samples per batch of the loaders.
        num_workers: loader worker processes (the scale mode's ``num_workers``).
        seed: seeds the validation hold-out and shuffling.
        val_fraction: share of the ``train`` split held out for validation.

    Raises:
        FileNotFoundError: if ``root`` is not a CrisisLandMark folder.
    """

    def __init__(
        self, root: str | Path, text_style: str = "closp", batch_size: int = 32, num_workers: int = 0,
        seed: int = DEFAULT_SEED, val_fraction: float = 0.1,
    ) -> None:  # fmt: skip
        self.root = Path(root)
        self.corpus = CrisisLandMark(self.root)
        self.table = corpus_table(self.corpus)
        self.text_style = text_style
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.seed = seed
        self.val_fraction = val_fraction

    def select(self, **filters: Any) -> pd.DataFrame:
        """Rows of :attr:`table` matching ``modality``, ``split``, ``sources``, ``labels``, ``keys`` (:func:`select_samples`)."""
        return select_samples(self.table, where=str(self.root), **filters)

    def keys(self, split: str | None = None, modality: str | None = None) -> list[str]:
        """Keys of a split and modality, in metadata order."""
        return list(self.select(split=split, modality=modality)["key"])

    def labels(self, split: str | None = "test") -> dict[str, tuple[str, list[str]]]:
        """``key -> (modality, harmonized labels)`` of a split, without reading an image (chapter 6)."""
        table = self.select(split=split)
        return {key: (m, list(labels)) for key, m, labels in zip(table["key"], table["modality"], table["harmonized"])}

    def dataset(self, split: str | None = None, modality: str | None = None, keys: Sequence[str] | None = None, **filters: Any) -> CrisisLandMarkDataset:
        """A :class:`~closp_lite.data.datasets.CrisisLandMarkDataset` over the selected samples."""
        from closp_lite.data.datasets import CrisisLandMarkDataset

        selected = self.select(split=split, modality=modality, keys=keys, **filters)
        return CrisisLandMarkDataset.from_table(self.corpus, selected, self.text_style)

    def train_val(self, modality: str) -> tuple[CrisisLandMarkDataset, CrisisLandMarkDataset]:
        """Training and validation datasets of one modality, both from the ``train`` split (chapter 5)."""
        train_keys, val_keys = held_out(self.keys("train", modality), self.val_fraction, self.seed)
        return self.dataset("train", modality, train_keys), self.dataset("train", modality, val_keys)

    def loader(self, dataset: MapDataset, shuffle: bool = False, batch_size: int | None = None) -> DataLoader:
        """A DataLoader with :func:`collate`; ``shuffle`` draws a seeded order (chapter 0)."""
        import torch
        from torch.utils.data import DataLoader

        generator = torch.Generator().manual_seed(self.seed) if shuffle else None
        return DataLoader(cast("Dataset[dict[str, Any]]", dataset), batch_size=batch_size or self.batch_size, shuffle=shuffle, generator=generator,
                          collate_fn=collate, num_workers=self.num_workers, persistent_workers=False)  # fmt: skip

    def test_dataloader(self, modality: str | None = None) -> DataLoader:
        """The searched corpus (``test`` split) in metadata order, for embedding (chapter 6)."""
        return self.loader(self.dataset("test", modality))
