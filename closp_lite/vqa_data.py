"""Question-answer pairs about patches, generated from their labels and class maps (chapter 9).

Simulated patches carry a per-pixel Dynamic World class map (``mask``), so questions can be
answered exactly, the way SAR-TEXT turns annotations into text. Six question types:

=============  =================================================  ===================================
type           example                                            answer from
=============  =================================================  ===================================
presence       "Is there water in the image?"                     harmonized labels
dominant       "What is the dominant land cover?"                 largest class share of the mask
counting       "How many separate areas of built-up land are      connected regions of >= 30 pixels
               there?"                                            (8-connected), "1" ... "4 or more"
position       "Where is most of the forest?"                     3 x 3 grid cell holding most of it
comparison     "Is there more water than farmland?"               pixel counts (shares 5 points apart)
crisis         "Is there a flooded area in the image?"            crisis labels
=============  =================================================  ===================================

**Balanced answers.** A question that a model can answer without looking (every "Is there snow?"
is "no") measures nothing. :func:`balance` caps, for every (modality, question), each answer at
the count of the rarest one (yes/no questions: exactly half and half) or at the median count
(questions with more answers), so the prior of every question type stays near chance;
:func:`answer_prior` reports how near.

The table is written as ``vqa.parquet`` next to the corpus, with the task split of
:func:`closp_lite.finetune.task_splits` (no patch in two splits).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import ndimage
from tqdm.auto import tqdm

from closp_lite.captions.segmentation import COVER_NOUNS
from closp_lite.config import DEFAULT_SEED
from closp_lite.finetune import task_splits
from closp_lite.labels import CRISIS_LABELS, DW_CLASSES, harmonize

VQA_FILE = "vqa.parquet"
TYPES: tuple[str, ...] = ("presence", "dominant", "counting", "position", "comparison", "crisis")
CELLS: tuple[str, ...] = ("north-west", "north", "north-east", "west", "centre", "east", "south-west", "south", "south-east")
COUNTED: tuple[str, ...] = ("Water", "Trees", "Built", "Crops", "Grass")
"""Classes whose separate regions are worth counting (lakes, woods, villages, fields, meadows)."""
MIN_REGION = 30
"""Pixels a connected region needs to count (smaller ones are speckle-sized noise)."""
CRISIS_PHRASES: dict[str, str] = {"Flooded Area": "a flooded area", "Burned Area": "a burned area", "Earthquake Damage": "earthquake damage"}
MIN_SHARE, COMPARE_GAP, POSITION_SHARE = 0.05, 0.05, 0.4


def noun(label: str) -> str:
    """The first mass noun of a land-cover class: ``Trees`` -> ``forest`` (chapter 9)."""
    return COVER_NOUNS[label][0]


def class_shares(mask: np.ndarray) -> np.ndarray:
    """Share of the patch covered by each Dynamic World class (chapter 9)."""
    return np.bincount(mask.ravel(), minlength=len(DW_CLASSES))[: len(DW_CLASSES)] / mask.size


def count_regions(region: np.ndarray, min_size: int = MIN_REGION) -> int:
    """Connected (8-neighbour) regions of a boolean map with at least ``min_size`` pixels (chapter 9)."""
    pieces, count = ndimage.label(region, structure=np.ones((3, 3)))
    sizes = np.bincount(pieces.ravel())[1:]
    return int((sizes >= min_size).sum()) if count else 0


def grid_cell(region: np.ndarray) -> tuple[str, float]:
    """The 3 x 3 grid cell holding most of a boolean region (row 0 = north) and its share of the region (chapter 9)."""
    rows, cols = np.array_split(np.arange(region.shape[0]), 3), np.array_split(np.arange(region.shape[1]), 3)
    counts = np.array([region[np.ix_(r, c)].sum() for r in rows for c in cols], dtype=float)
    best = int(np.argmax(counts))
    return CELLS[best], float(counts[best] / max(counts.sum(), 1.0))


def patch_questions(labels: list[str], mask: np.ndarray, events: list[str], rng: np.random.Generator) -> Iterator[tuple[str, str, str]]:
    """All (type, question, answer) candidates of one patch before balancing (chapter 9).

    ``labels`` are harmonized; ``events`` the crisis labels that occur in this modality.
    """
    shares = class_shares(mask)
    for label in DW_CLASSES:
        yield "presence", f"Is there {noun(label)} in the image?", "yes" if label in labels else "no"
    yield "dominant", "What is the dominant land cover?", noun(DW_CLASSES[int(np.argmax(shares))])
    for label in COUNTED:
        if label in labels:
            count = count_regions(mask == DW_CLASSES.index(label))
            if count:
                yield "counting", f"How many separate areas of {noun(label)} are there?", str(count) if count < 4 else "4 or more"
    for i, label in enumerate(DW_CLASSES):
        if MIN_SHARE <= shares[i] <= 0.6:
            cell, held = grid_cell(mask == i)
            if held >= POSITION_SHARE:
                yield "position", f"Where is most of the {noun(label)}?", cell
    present = [i for i in range(len(DW_CLASSES)) if shares[i] >= MIN_SHARE]
    if len(present) >= 2:
        a, b = (int(i) for i in rng.choice(present, 2, replace=False))
        if abs(shares[a] - shares[b]) >= COMPARE_GAP:
            yield "comparison", f"Is there more {noun(DW_CLASSES[a])} than {noun(DW_CLASSES[b])}?", "yes" if shares[a] > shares[b] else "no"
    for event in events:
        yield "crisis", f"Is there {CRISIS_PHRASES[event]} in the image?", "yes" if event in labels else "no"


def balance(table: pd.DataFrame, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """Cap every answer of every (modality, question) at the rarest answer's count (two answers) or the median count (chapter 9)."""
    parts = []
    for _, group in table.groupby(["modality", "question"], sort=True):
        counts = group["answer"].value_counts()
        if len(counts) < 2:
            continue  # one answer only: answerable without the image
        cap = int(counts.min()) if len(counts) == 2 else int(np.ceil(counts.median()))
        parts.append(group.sample(frac=1.0, random_state=seed).groupby("answer").head(cap))
    if not parts:
        raise ValueError("no question has two different answers: the corpus is too small or too uniform for VQA")
    return pd.concat(parts).sort_values(["key", "type", "question"]).reset_index(drop=True)


def generate_vqa(root: str | Path, seed: int = DEFAULT_SEED, progress: bool = True) -> pd.DataFrame:
    """Balanced question-answer pairs of every patch with a class map in ``root``: key, modality, split, type, question, answer (chapter 9).

    Raises:
        ValueError: if no patch has a class map (real patches have none: VQA needs simulated ones).
    """
    from closp_lite.data.format import CrisisLandMark

    rng = np.random.default_rng(seed)
    rows = []
    with CrisisLandMark(root) as corpus:
        meta = corpus.metadata
        splits = task_splits(meta, seed)
        harmonized = {k: list(harmonize(list(v)).labels) for k, v in zip(meta["key"], meta["labels"], strict=True)}
        events = {m: [e for e in CRISIS_LABELS if any(e in harmonized[k] for k in meta.loc[meta["modality"] == m, "key"])] for m in ("s1", "s2")}
        for key, modality in tqdm(list(zip(meta["key"], meta["modality"], strict=True)), desc="questions", unit="patch", disable=not progress):
            mask = corpus.read(key).mask
            if mask is None:
                continue
            for kind, question, answer in patch_questions(harmonized[key], mask, events[modality], rng):
                rows.append({"key": key, "modality": modality, "split": splits[key], "type": kind, "question": question, "answer": answer})
    if not rows:
        raise ValueError(f"{root}: no patch has a class map (mask); VQA questions are generated from the masks of simulated patches")
    return balance(pd.DataFrame(rows), seed)


def build_vqa(root: str | Path, seed: int = DEFAULT_SEED, progress: bool = True) -> Path:
    """Generate the question-answer pairs of ``root`` and write ``root/vqa.parquet`` atomically; return its path (chapter 9)."""
    import os

    table = generate_vqa(root, seed, progress)
    path = Path(root) / VQA_FILE
    tmp = path.with_name(path.name + ".tmp")
    table.to_parquet(tmp, index=False)
    os.replace(tmp, path)
    return path


def read_vqa(root: str | Path) -> pd.DataFrame:
    """Read ``root/vqa.parquet`` (chapter 9).

    Raises:
        FileNotFoundError: if it was not built yet (``closp-lite vqa build ROOT``).
    """
    path = Path(root) / VQA_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no {VQA_FILE} in {root}: build it with `closp-lite vqa build {root}`")
    return pd.read_parquet(path)


def _majority(answers: pd.Series) -> str:
    return str(answers.value_counts().index[0])


def answer_prior(table: pd.DataFrame, train: str = "train", test: str = "test") -> pd.DataFrame:
    """Per question type: accuracy on ``test`` of always giving the type's most frequent ``train`` answer, and of the best per-question prior (chapter 9)."""
    fit, held = table[table["split"] == train], table[table["split"] == test]
    by_type, by_question = (fit.groupby(column)["answer"].agg(_majority) for column in ("type", "question"))
    rows = []
    for kind, group in held.groupby("type"):
        rows.append({"type": kind, "n": len(group), "answers": group["answer"].nunique(),
                     "type_prior": float((group["answer"] == by_type.get(kind)).mean()),
                     "question_prior": float((group["answer"] == group["question"].map(by_question)).mean())})  # fmt: skip
    return pd.DataFrame(rows).set_index("type")
