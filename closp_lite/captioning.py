"""Train, run and score a SAR captioner in a run folder (chapter 9; CLI ``closp-lite captioner``).

:func:`train_captioner` builds the word vocabulary from the training captions of every stage,
then trains a :class:`~closp_lite.models.captioner.Captioner` through the stages of a schedule
(:mod:`closp_lite.finetune`): S1 patches with their ``sar-rewrite`` captions, preceded in the
``progressive`` schedule by S2 patches with their segmentation-guided (optical) captions.
:func:`evaluate_captioner` generates captions for the S1 test patches and scores them against the
references (:func:`closp_lite.captions.metrics.caption_scores`) and with the optical-word audit.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from closp_lite.captions.metrics import caption_scores, optical_word_audit
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
    task_captions,
    task_keys,
    train_stages,
)  # fmt: skip
from closp_lite.models.captioner import (
    Captioner,
    CaptionerConfig,
    Vocabulary,
    encode_captions,
    tokenize,
)
from closp_lite.models.image import Arch

MAX_LEN_CAP = 128


def train_captioner(
    data: str | Path, out: str | Path, schedule: str = "sar", init: str | Path | None = None, mode: str | None = None,
    seed: int = DEFAULT_SEED, epochs: int | None = None, resume: bool = False, overwrite: bool = False, progress: bool = True,
    arch: Arch = HEAD_ARCH,
) -> list[dict[str, Any]]:  # fmt: skip
    """Train a captioner with ``schedule`` on the corpus ``data`` into the run folder ``out``; return the log (chapter 9).

    ``direct`` and ``progressive`` start their first tower from ImageNet (:func:`closp_lite.finetune.schedule_start`);
    ``init`` replaces that start by a CLOSP run folder's tower, a weight file or a torchgeo enum name.

    Raises:
        ValueError: for ``init`` with ``sar``, an unknown schedule, an ImageNet start for another
            ``arch`` than EfficientNet-Lite0, or an occupied run folder.
    """
    modalities = schedule_modalities(schedule)
    start = schedule_start(schedule, init)
    scale = head_settings(mode)
    seed_everything(seed)
    captions = task_captions(data)
    keys = {m: task_keys(data, m, "train", mode, seed) for m in modalities}
    lengths = [len(tokenize(captions[k])) + 2 for m in modalities for k in keys[m]]
    vocab = Vocabulary.build(captions[k] for m in modalities for k in keys[m])
    config = CaptionerConfig(vocab.words, sorted(set(modalities)), arch=arch, max_len=min(max(lengths), MAX_LEN_CAP))
    n_epochs = epochs or scale.epochs
    settings = {"task": "captioner", "schedule": schedule, "init": str(start) if start else None, "data": str(data), "mode": get_mode(mode),
                "seed": seed, "epochs": n_epochs, "image_size": scale.image_size, "model": config.to_dict()}  # fmt: skip
    with RunFolder(out, settings, resume=resume, overwrite=overwrite) as run:
        model = Captioner(config)
        if start is not None:
            init_tower(model.encoder.tower(modalities[0]), start, modalities[0])
        stages = []
        for modality in modalities:
            images = load_images(data, keys[modality], scale.image_size, progress)
            targets = encode_captions(vocab, [captions[k] for k in keys[modality]], config.max_len)
            stages.append(Stage(f"{modality} captions", len(images), _loss(model, images, modality, targets), n_epochs))
        if schedule == "progressive":
            stages[1].on_start = model.encoder.carry_over
        return train_stages(model, stages, run, scale.batch_size, seed=seed, progress=progress)


def _loss(model: Captioner, images: torch.Tensor, modality: str, targets: torch.Tensor) -> Any:
    return lambda idx: model.loss(images[idx], modality, targets[idx])


def load_captioner(run: str | Path) -> tuple[Captioner, dict[str, Any]]:
    """Rebuild the captioner of a finished run folder; return it (in eval mode) and its settings (chapter 9)."""
    return load_head(run, "captioner", lambda model: Captioner(CaptionerConfig(**model)))


def generate_captions(
    run: str | Path, data: str | Path, keys: Sequence[str], method: str = "greedy", beam: int = 3, progress: bool = False
) -> dict[str, str]:
    """Captions of the patches ``keys`` of ``data`` by the captioner in ``run`` (chapter 9).

    Raises:
        ValueError: for a key of a modality the captioner has no tower for.
    """
    model, settings = load_captioner(run)
    return caption_patches(model, settings["image_size"], data, keys, method, beam, progress)


def caption_patches(
    model: Captioner, image_size: int, data: str | Path, keys: Sequence[str], method: str = "greedy", beam: int = 3, progress: bool = False
) -> dict[str, str]:
    """Captions of the patches ``keys`` of ``data`` by ``model`` at its run's ``image_size`` (chapter 9)."""
    from closp_lite.data.format import CrisisLandMark

    with CrisisLandMark(data) as corpus:
        meta = corpus.metadata.set_index("key")
    missing = [k for k in keys if k not in meta.index]
    if missing:
        raise ValueError(f"{data}: keys not in the corpus: {missing[:5]}")
    out: dict[str, str] = {}
    for modality in dict.fromkeys(str(meta.at[k, "modality"]) for k in keys):
        chosen = [k for k in keys if meta.at[k, "modality"] == modality]
        if modality not in model.encoder.towers:
            raise ValueError(f"this captioner captions {', '.join(model.encoder.towers)} patches, not {modality} ({chosen[0]!r})")
        images = load_images(data, chosen, image_size, progress)
        out.update(zip(chosen, model.generate(images, modality, method, beam), strict=True))
    return {k: out[k] for k in keys}


def evaluate_captioner(
    run: str | Path, data: str | Path | None = None, method: str = "greedy", beam: int = 3, meteor: bool | Any = True,
    limit: int | None = None, progress: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """Scores of the run's captions of the S1 test patches, the optical-word audit and a few examples (chapter 9).

    ``limit`` keeps the first ``limit`` test patches (beam search is slow on a CPU); ``meteor`` as in
    :func:`closp_lite.captions.metrics.caption_scores`.
    """
    model, settings = load_captioner(run)
    data = data or settings["data"]
    keys = task_keys(data, "s1", "test", settings["mode"], settings["seed"])[:limit]
    generated = caption_patches(model, settings["image_size"], data, keys, method, beam, progress)
    references = task_captions(data)
    scores = caption_scores({k: [references[k]] for k in keys}, generated, meteor=meteor)
    examples = [{"key": k, "generated": generated[k], "reference": references[k]} for k in keys[:3]]
    return {"run": str(run), "schedule": settings["schedule"], "decoding": method, "n": len(keys), "scores": scores,
            "audit": optical_word_audit(list(generated.values())), "examples": examples, "generated": generated}  # fmt: skip
