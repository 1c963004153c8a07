"""Train, ask and score a SAR question-answering model in a run folder (chapter 9; CLI ``closp-lite vqa``).

The questions come from ``vqa.parquet`` (:mod:`closp_lite.vqa_data`); the model is
:class:`~closp_lite.models.vqa.VQAModel`; the stages are those of :mod:`closp_lite.finetune`
(``progressive``: S2 questions first, then S1). Evaluation is on the S1 test questions, per
question type, next to the answer prior of each type.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from closp_lite.config import DEFAULT_SEED, get_mode, head_settings, seed_everything
from closp_lite.finetune import (
    HEAD_ARCH,
    RunFolder,
    Stage,
    init_tower,
    load_head,
    load_images,
    schedule_modalities,
    schedule_start,
    task_keys,
    train_stages,
)
from closp_lite.models.image import Arch
from closp_lite.models.vqa import VQAConfig, VQAModel
from closp_lite.vqa_data import answer_prior, read_vqa


def embed_questions(questions: Sequence[str]) -> torch.Tensor:
    """MiniLM embeddings (mean pooling, L2-normalised) of questions: (N, 384) (chapter 9)."""
    from closp_lite.models.text import TextEncoder

    return TextEncoder(pooling="mean").encode(list(questions))


def _questions(data: str | Path, modality: str, split: str, mode: str | None, seed: int) -> pd.DataFrame:
    table = read_vqa(data)
    keys = set(task_keys(data, modality, split, mode, seed))
    rows = table[(table["modality"] == modality) & table["key"].isin(keys)].reset_index(drop=True)
    if rows.empty:
        raise ValueError(f"{data}: vqa.parquet has no {modality} question in the {split!r} split; rebuild it with `closp-lite vqa build {data}`")
    return rows


def _inputs(data: str | Path, rows: pd.DataFrame, image_size: int, progress: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Images of the distinct keys, the image index of every row, and the question embeddings."""
    keys = list(dict.fromkeys(rows["key"]))
    position = {k: i for i, k in enumerate(keys)}
    images = load_images(data, keys, image_size, progress)
    return images, torch.tensor([position[k] for k in rows["key"]]), embed_questions(list(rows["question"]))


def train_vqa(
    data: str | Path, out: str | Path, schedule: str = "sar", init: str | Path | None = None, question_only: bool = False,
    mode: str | None = None, seed: int = DEFAULT_SEED, epochs: int | None = None, resume: bool = False, overwrite: bool = False,
    progress: bool = True, arch: Arch = HEAD_ARCH,
) -> list[dict[str, Any]]:  # fmt: skip
    """Train a VQA model with ``schedule`` on ``data``'s ``vqa.parquet`` into the run folder ``out``; return the log (chapter 9).

    ``question_only`` trains the question-only baseline (no image tower); ``init`` and ``arch`` as in
    :func:`closp_lite.captioning.train_captioner`.
    """
    modalities = schedule_modalities(schedule)
    start = None if question_only else schedule_start(schedule, init)
    scale = head_settings(mode)
    seed_everything(seed)
    answers = sorted(read_vqa(data)["answer"].unique())
    config = VQAConfig(answers, sorted(set(modalities)), arch=arch, use_image=not question_only)
    n_epochs = epochs or scale.epochs
    settings = {"task": "vqa", "schedule": schedule, "init": str(start) if start else None, "data": str(data), "mode": get_mode(mode),
                "seed": seed, "epochs": n_epochs, "image_size": scale.image_size, "model": config.to_dict()}  # fmt: skip
    with RunFolder(out, settings, resume=resume, overwrite=overwrite) as run:
        model = VQAModel(config)
        if start is not None and model.encoder is not None:
            init_tower(model.encoder.tower(modalities[0]), start, modalities[0])
        stages = []
        for modality in modalities:
            rows = _questions(data, modality, "train", mode, seed)
            images, which, questions = _inputs(data, rows, scale.image_size, progress)
            targets = torch.tensor([answers.index(a) for a in rows["answer"]])
            # A batch is a set of patches with all their questions: each patch passes the tower once a step.
            # As many patches as make about batch_size questions keep the optimiser steps of one question a row.
            patches_per_step = max(2, round(scale.batch_size * len(images) / len(rows)))
            loss = _loss(model, modality, images, which, questions, targets)
            stages.append(Stage(f"{modality} questions", len(images), loss, n_epochs, batch_size=patches_per_step))
        if schedule == "progressive" and model.encoder is not None:
            stages[1].on_start = model.encoder.carry_over
        return train_stages(model, stages, run, scale.batch_size, seed=seed, progress=progress)


def questions_of(which: torch.Tensor, chosen: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The rows about the images ``chosen`` and, for each, the position of its image in ``chosen`` (chapter 9).

    ``which`` gives the image index of every question row; returns (rows, positions) so that
    ``model(images[chosen], modality, questions[rows], positions)`` answers all those questions.
    """
    position = torch.full((int(which.max()) + 1,), -1, dtype=torch.long)
    position[chosen] = torch.arange(len(chosen))
    rows = torch.nonzero(position[which] >= 0).flatten()
    return rows, position[which[rows]]


def _loss(model: VQAModel, modality: str, images: torch.Tensor, which: torch.Tensor, questions: torch.Tensor, targets: torch.Tensor) -> Any:
    def loss(chosen: torch.Tensor) -> torch.Tensor:
        rows, positions = questions_of(which, chosen)
        return torch.nn.functional.cross_entropy(model(images[chosen], modality, questions[rows], positions), targets[rows])

    return loss


def load_vqa(run: str | Path) -> tuple[VQAModel, dict[str, Any]]:
    """Rebuild the VQA model of a finished run folder; return it (in eval mode) and its settings (chapter 9)."""
    return load_head(run, "vqa", lambda model: VQAModel(VQAConfig(**model)))


@torch.no_grad()
def ask(run: str | Path, data: str | Path, key: str, question: str, top: int = 3) -> dict[str, Any]:
    """Answer one question about patch ``key``: the answer, the ``top`` answers with probabilities (chapter 9).

    Raises:
        ValueError: if the key is not in the corpus or its modality has no tower in the model.
    """
    from closp_lite.data.format import CrisisLandMark

    model, settings = load_vqa(run)
    with CrisisLandMark(data) as corpus:
        if key not in corpus:
            raise ValueError(f"{data}: no patch {key!r}; list keys with `closp-lite data info {data}`")
        modality = str(corpus.metadata.set_index("key").at[key, "modality"])
    if modality not in settings["model"]["modalities"]:
        raise ValueError(f"{run} answers questions about {', '.join(settings['model']['modalities'])} patches; {key!r} is {modality}")
    images = load_images(data, [key], settings["image_size"], progress=False)
    probs = model(images, modality, embed_questions([question]))[0].softmax(-1)
    best = probs.topk(min(top, len(probs)))
    ranked = [(settings["model"]["answers"][int(i)], round(float(p), 4)) for p, i in zip(best.values, best.indices, strict=True)]
    return {"key": key, "modality": modality, "question": question, "answer": ranked[0][0], "top": ranked}


@torch.no_grad()
def predict(model: VQAModel, settings: dict[str, Any], data: str | Path, rows: pd.DataFrame, batch_size: int = 64) -> list[str]:
    """The model's answer to every row (key, question) of a question table of one modality (chapter 9).

    Patches are encoded ``batch_size`` at a time, each once for all its questions.
    """
    images, which, questions = _inputs(data, rows, settings["image_size"], progress=False)
    modality = str(rows["modality"].iloc[0])
    picks = torch.empty(len(rows), dtype=torch.long)
    for start in range(0, len(images), batch_size):
        chosen = torch.arange(start, min(start + batch_size, len(images)))
        found, positions = questions_of(which, chosen)
        picks[found] = model(images[chosen], modality, questions[found], positions).argmax(-1)
    return [settings["model"]["answers"][int(i)] for i in picks]


def evaluate_vqa(run: str | Path, data: str | Path | None = None, split: str = "test") -> dict[str, Any]:
    """Accuracy of the run on the S1 questions of ``split``: overall and per type, beside each type's answer prior (chapter 9)."""
    model, settings = load_vqa(run)
    data = data or settings["data"]
    rows = _questions(data, "s1", split, settings["mode"], settings["seed"])
    rows = rows.assign(predicted=predict(model, settings, data, rows))
    rows["correct"] = rows["predicted"] == rows["answer"]
    table = read_vqa(data)
    prior = answer_prior(table[table["modality"] == "s1"], test=split)
    per_type = {kind: {"n": len(group), "accuracy": float(group["correct"].mean()), "type_prior": float(prior["type_prior"][kind])}
                for kind, group in rows.groupby("type")}  # fmt: skip
    return {"run": str(run), "schedule": settings["schedule"], "question_only": not settings["model"]["use_image"], "n": len(rows),
            "accuracy": float(np.mean(rows["correct"])), "per_type": per_type,
            "mistakes": rows.loc[~rows["correct"], ["key", "question", "answer", "predicted"]].head(5).to_dict("records")}  # fmt: skip
