"""Caption audit: how varied, how faithful and how radar-safe each caption style is (chapter 4).

Per style: vocabulary size, caption length in words, distinct-1 / distinct-2 (unique n-grams
over all n-grams of the style), duplicate rate (share of captions that repeat an earlier one),
faithfulness by the mention lexicon (:mod:`closp_lite.captions.lexicon`) and the number of
optical-only words in captions of Sentinel-1 patches (:data:`~closp_lite.captions.sar_rewrite.FORBIDDEN_IN_SAR`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from closp_lite.captions.lexicon import faithfulness
from closp_lite.captions.sar_rewrite import forbidden_words
from closp_lite.data.format import decode_labels
from closp_lite.labels import harmonize


def words(text: str) -> list[str]:
    """Lower-case word tokens of a caption (hyphenated words stay whole) (chapter 4)."""
    return re.findall(r"[\w-]+", text.lower())


def distinct_n(captions: Sequence[str], n: int) -> float:
    """Unique n-grams divided by all n-grams over ``captions`` (0 if there are none) (chapter 4)."""
    grams = [tuple(tokens[i : i + n]) for tokens in map(words, captions) for i in range(len(tokens) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def text_metrics(captions: Sequence[str]) -> dict[str, float]:
    """Vocabulary, length distribution, distinct-1/2 and duplicate rate of a list of captions (chapter 4)."""
    if not captions:
        raise ValueError("no captions to audit")
    lengths = np.array([len(words(text)) for text in captions])
    return {
        "n": len(captions),
        "vocabulary": len({w for text in captions for w in words(text)}),
        "words_mean": float(lengths.mean()),
        "words_min": int(lengths.min()),
        "words_median": float(np.median(lengths)),
        "words_max": int(lengths.max()),
        "distinct_1": distinct_n(captions, 1),
        "distinct_2": distinct_n(captions, 2),
        "duplicate_rate": 1.0 - len(set(captions)) / len(captions),
    }


def audit_style(captions: Sequence[str], labels: Sequence[Sequence[str]], modalities: Sequence[str]) -> dict[str, float]:
    """Audit one style: text metrics, faithfulness shares and forbidden words in S1 captions (chapter 4).

    ``labels`` are source labels (harmonized here); ``all_mentioned`` is the share of captions
    naming every label, ``none_absent`` the share naming no label the patch lacks.
    """
    if not len(captions) == len(labels) == len(modalities):
        raise ValueError(f"got {len(captions)} captions, {len(labels)} label sets and {len(modalities)} modalities")
    checks = [faithfulness(text, harmonize(source).labels) for text, source in zip(captions, labels)]
    forbidden = [w for text, m in zip(captions, modalities) if m == "s1" for w in forbidden_words(text)]
    return {
        **text_metrics(captions),
        "all_mentioned": float(np.mean([complete for complete, _ in checks])),
        "none_absent": float(np.mean([exact for _, exact in checks])),
        "faithful": float(np.mean([complete and exact for complete, exact in checks])),
        "forbidden_in_s1": len(forbidden),
    }


def audit_table(captions: pd.DataFrame, metadata: pd.DataFrame) -> pd.DataFrame:
    """Audit every style column of a captions table against the corpus metadata; one row per style (chapter 4).

    Raises:
        ValueError: if a caption key is missing from the metadata.
    """
    meta = metadata.set_index("key")
    missing = sorted(set(captions["key"]) - set(meta.index))
    if missing:
        raise ValueError(f"caption keys not in the metadata: {missing[:5]} (captions of another corpus?)")
    labels = [decode_labels(meta.at[key, "labels"]) for key in captions["key"]]
    modalities = [str(meta.at[key, "modality"]) for key in captions["key"]]
    rows = {style: audit_style(captions[style].astype(str).tolist(), labels, modalities) for style in captions.columns if style != "key"}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("style")


def audit_corpus(root: str | Path) -> pd.DataFrame:
    """Audit the ``captions.parquet`` of a corpus folder (chapter 4).

    Raises:
        FileNotFoundError: if the folder has no captions (build them with ``closp-lite captions build``).
    """
    from closp_lite.data.format import CrisisLandMark, read_captions

    table = read_captions(root)
    if table is None:
        raise FileNotFoundError(f"{Path(root) / 'captions.parquet'} not found: run `closp-lite captions build {root}` first")
    with CrisisLandMark(root) as corpus:
        return audit_table(table, corpus.metadata)
