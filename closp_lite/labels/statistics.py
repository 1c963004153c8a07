"""Label statistics of a corpus: frequencies per modality and source, co-occurrence, cardinality (chapter 3).

Every function takes a metadata table (columns ``key``, ``labels`` and, for grouping,
``modality`` / ``source``; e.g. ``CrisisLandMarkDataModule(root).table``) and works on
*harmonized* labels, so the real corpus and a simulated one are counted on the same 12-label
vocabulary. Reading files is the data layer's job, not this module's.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from closp_lite.labels.harmonize import harmonize, vocabulary_index
from closp_lite.labels.vocabulary import VOCABULARY

CorpusLike = pd.DataFrame


def _metadata(data: CorpusLike) -> pd.DataFrame:
    if not isinstance(data, pd.DataFrame):
        raise ValueError(f"label statistics take a metadata table (e.g. CrisisLandMarkDataModule(root).table), got {type(data).__name__}")
    if "labels" not in data.columns:
        raise ValueError(f"a metadata table needs a 'labels' column, got {list(data.columns)}")
    return data


def label_table(data: CorpusLike) -> pd.DataFrame:
    """Metadata with harmonized ``labels``, the original ``source_labels`` and ``unmapped`` ones (chapter 3)."""
    table = _metadata(data).copy()
    results = [harmonize(list(labels)) for labels in table["labels"]]
    table["source_labels"] = table["labels"]
    table["labels"] = [result.labels for result in results]
    table["unmapped"] = [result.unmapped for result in results]
    return table


def multi_hot(label_sets: Sequence[Sequence[str]]) -> np.ndarray:
    """(N, 12) 0/1 matrix of harmonized label sets in :data:`VOCABULARY` order (chapter 3)."""
    matrix = np.zeros((len(label_sets), len(VOCABULARY)), dtype=np.int64)
    for row, labels in enumerate(label_sets):
        matrix[row, [vocabulary_index(label) for label in labels]] = 1
    return matrix


def label_frequencies(data: CorpusLike, by: str | Sequence[str] = "modality") -> pd.DataFrame:
    """Number of patches carrying each label, one row per group of ``by`` (chapter 3).

    ``by`` is a metadata column (``"modality"``, ``"source"``) or a list of them.
    """
    table = label_table(data)
    groups = [by] if isinstance(by, str) else list(by)
    missing = [column for column in groups if column not in table.columns]
    if missing:
        raise ValueError(f"cannot group by {missing}: the metadata has {list(table.columns)}")
    hot = pd.DataFrame(multi_hot(table["labels"].tolist()), columns=list(VOCABULARY), index=table.index)
    return hot.groupby([table[column] for column in groups]).sum()


def cooccurrence(data: CorpusLike, normalize: str = "count") -> pd.DataFrame:
    """12 x 12 label co-occurrence (chapter 3).

    ``normalize``: ``"count"`` (patches with both labels; the diagonal is each label's count),
    ``"conditional"`` (row i: share of patches with label i that also carry label j) or
    ``"jaccard"`` (both / either).
    """
    hot = multi_hot(label_table(data)["labels"].tolist())
    both = (hot.T @ hot).astype(float)
    counts = np.diag(both).copy()
    if normalize == "conditional":
        both = np.divide(both, counts[:, None], out=np.zeros_like(both), where=counts[:, None] > 0)
    elif normalize == "jaccard":
        either = counts[:, None] + counts[None, :] - both
        both = np.divide(both, either, out=np.zeros_like(both), where=either > 0)
    elif normalize != "count":
        raise ValueError(f"normalize must be 'count', 'conditional' or 'jaccard', got {normalize!r}")
    return pd.DataFrame(both, index=list(VOCABULARY), columns=list(VOCABULARY))


def cardinality(data: CorpusLike) -> pd.Series:
    """Number of patches per number of harmonized labels (index: 0, 1, 2, ...) (chapter 3)."""
    sizes = label_table(data)["labels"].map(len)
    return sizes.value_counts().sort_index().rename("patches").rename_axis("labels per patch")


def unmapped_counts(data: CorpusLike) -> pd.Series:
    """How often each source label could not be harmonized (empty for a clean corpus) (chapter 3)."""
    unmapped = label_table(data)["unmapped"].explode().dropna()
    return unmapped.value_counts().rename("patches")
