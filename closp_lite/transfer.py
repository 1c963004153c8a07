"""Progressive transfer natural -> optical -> SAR, against direct transfer (chapter 8).

SAR-TEXT's training idea: start from a network trained on natural images, adapt it to optical
remote sensing, then fine-tune it on SAR. Here every schedule trains the ``efficientnet_lite0``
image tower (:mod:`closp_lite.models.efficientnet`) against the frozen MiniLM text tower:

======================= =============== ====================================================
schedule                name            stages
======================= =============== ====================================================
``sar``                 scratch         random S1 tower -> SAR stage
``natural,sar``         direct          ImageNet S1 tower (stem extended) -> SAR stage
``optical,sar``         optical         random S2 tower -> optical stage -> SAR stage
``natural,optical,sar`` progressive     ImageNet S2 tower -> optical stage -> SAR stage
======================= =============== ====================================================

``natural`` is a starting point, not a training stage (the ImageNet weights). Each trained stage
is a normal run folder of :func:`closp_lite.training.train` (``RUN/1-optical``, ``RUN/2-sar``),
resumable on its own. The optical stage trains the S2 tower on S2 patches with their optical
descriptions; the SAR stage trains the S1 tower on S1 patches with SAR captions (``sar-rewrite``
by default: for S2 patches that column holds the optical description the rewrite starts from, for
S1 patches its rewrite for radar). Between the stages the whole S2 tower - backbone and projection
into the text space - becomes the S1 tower (:func:`optical_to_sar`); its 13-channel stem becomes a
2-channel one by the rule of :func:`closp_lite.models.efficientnet.stem_weight`, applied to the
B4/B3/B2 filters. Every stage runs the same number of optimiser steps, whatever the data size.

Evaluation (:func:`sar_text_metrics`) follows SAR-TEXT: every caption of the S1 test corpus
searches the images and every image searches the captions; R@1/5/10 in both directions (a hit when
any correct item is in the top k) and their mean mR, plus nDCG@10. The captions are written from
labels, so an image is a correct match for a caption when it has the same label set as the
caption's own image (the analogue of SAR-TEXT's "any of the five captions" rule); nDCG@10 grades
each image by the number of labels it shares with the caption's image. The same metrics are
computed on the six real BigEarthNet S1 patches (:func:`closp_lite.data.examples.load_examples`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from closp_lite.config import DEFAULT_SEED, settings
from closp_lite.models.closp import CLOSP, ModelConfig, atomic_save
from closp_lite.models.image import Arch
from closp_lite.runfolder import check_settings_match

SCHEDULES: dict[str, str] = {"sar": "scratch", "natural,sar": "direct", "optical,sar": "optical", "natural,optical,sar": "progressive"}
"""Schedule -> its short name in the experiment (chapter 8)."""
STAGE_MODALITY: dict[str, str] = {"optical": "s2", "sar": "s1"}
ARCH: Arch = "efficientnet_lite0"
SAR_STYLE = "sar-rewrite"
STATE_FILE = "transfer.json"
INIT_FILE = "init.pt"
NDCG_K = 10
RECALL_KS: tuple[int, ...] = (1, 5, 10)

__all__ = [
    "SCHEDULES",
    "Pairs",
    "TransferConfig",
    "TransferResult",
    "embed_pairs",
    "evaluate_run",
    "failure_cases",
    "load_pairs",
    "optical_to_sar",
    "parse_schedule",
    "run_schedule",
    "sar_text_metrics",
    "schedule_gains",
    "stage_splits",
    "summarize_runs",
]


def parse_schedule(schedule: str) -> tuple[str, ...]:
    """Split ``"natural,optical,sar"`` into its stages, checking it is one of :data:`SCHEDULES` (chapter 8).

    Raises:
        ValueError: naming the known schedules.
    """
    stages = tuple(part.strip() for part in schedule.split(",") if part.strip())
    if ",".join(stages) not in SCHEDULES:
        raise ValueError(f"unknown transfer schedule {schedule!r}: choose one of {', '.join(SCHEDULES)}")
    return stages


@dataclass
class TransferConfig:
    """Settings of one transfer schedule (chapter 8); ``None`` sizes come from the scale mode."""

    schedule: str = "natural,optical,sar"
    mode: str | None = None
    data: str | None = None  # corpus folder; None = the simulated corpus of the mode
    seed: int = DEFAULT_SEED
    steps: int | None = None  # optimiser steps of every trained stage
    batch_size: int | None = None
    lr: float = 1e-3
    input_size: int | None = None  # image side; None = the mode's transfer_input_size
    sar_fraction: float = 1.0  # share of the S1 training patches the SAR stage may use
    optical_style: str = SAR_STYLE
    sar_style: str = SAR_STYLE
    val_fraction: float = 0.1

    def resolved(self) -> TransferConfig:
        """Return a copy with the mode's steps, batch size and input size filled in."""
        scale = settings(self.mode)
        parse_schedule(self.schedule)
        if not 0 < self.sar_fraction <= 1:
            raise ValueError(f"sar_fraction must be in (0, 1], got {self.sar_fraction}")
        if self.steps is not None and self.steps < 3:
            raise ValueError(f"a stage needs at least 3 optimiser steps (one-cycle warm-up), got {self.steps}")
        return replace(self, mode=scale.mode, steps=self.steps or scale.transfer_steps, batch_size=self.batch_size or scale.batch_size,
                       input_size=self.input_size or scale.transfer_input_size)  # fmt: skip

    @property
    def stages(self) -> tuple[str, ...]:
        """The stages of the schedule, ``natural`` included."""
        return parse_schedule(self.schedule)


class Pairs(torch.utils.data.Dataset):
    """Image-caption pairs of one modality held in memory, images already resized (chapter 8).

    Items are sample dicts (``image``, ``text``, ``labels``, ``key``, ``modality``) as the training
    loop and :func:`closp_lite.data.datasets.collate` expect.
    """

    def __init__(self, images: torch.Tensor, texts: Sequence[str], labels: Sequence[list[str]], keys: Sequence[str], modality: str) -> None:
        if not len(images) == len(texts) == len(labels) == len(keys):
            raise ValueError(f"pairs need as many images as captions, labels and keys: {len(images)}, {len(texts)}, {len(labels)}, {len(keys)}")
        self.images, self.texts, self.labels, self.keys, self.modality = images, list(texts), list(labels), list(keys), modality

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return {"image": self.images[index], "text": self.texts[index], "labels": self.labels[index], "key": self.keys[index], "modality": self.modality}

    def subset(self, indices: Sequence[int]) -> Pairs:
        """The pairs at ``indices``, in that order."""
        rows = list(indices)
        return Pairs(self.images[rows], [self.texts[i] for i in rows], [self.labels[i] for i in rows], [self.keys[i] for i in rows], self.modality)


def _captions(root: str | Path, keys: Sequence[str], style: str) -> list[str]:
    """Captions of ``keys`` in ``style``: from ``captions.parquet`` when it holds the style, else written now."""
    from closp_lite.captions import caption_table
    from closp_lite.data.format import read_captions

    stored = read_captions(root)
    if stored is not None and style in stored.columns and set(keys) <= set(stored["key"]):
        table = stored.set_index("key")[style]
    else:  # captions are a function of (key, labels, style, seed): writing them again gives the stored text
        table = caption_table(root, (style,), seed=DEFAULT_SEED, keys=keys, progress=False).set_index("key")[style]
    return [str(table.loc[key]) for key in keys]


def load_pairs(root: str | Path, modality: str, split: str | None, style: str, input_size: int | None) -> Pairs:
    """Read the ``split`` patches of one modality with their ``style`` captions into memory (chapter 8).

    Images are resized to ``input_size`` as they are read (one patch at a time, so a large split never
    sits in memory at 120 px).
    """
    from closp_lite.experiments import corpus_samples
    from closp_lite.models.image import resize

    images, labels, keys = [], [], []
    for sample in corpus_samples(root, split, modality=modality):
        images.append(resize(sample["image"][None], input_size)[0])
        labels.append(sample["labels"])
        keys.append(sample["key"])
    if not keys:
        raise ValueError(f"{root}: no {modality} patches in split {split!r}; a transfer run needs both S1 and S2 training patches")
    return Pairs(torch.stack(images), _captions(root, keys, style), labels, keys, modality)


def stage_splits(pairs: Pairs, seed: int, val_fraction: float = 0.1, fraction: float = 1.0) -> tuple[Pairs, Pairs]:
    """Seeded (train, validation) split of training pairs; the train part cut to ``fraction`` (chapter 8).

    The validation pairs do not depend on ``fraction``, so runs on 10 %, 30 % and 100 % of the data
    are validated on the same patches.
    """
    order = torch.randperm(len(pairs), generator=torch.Generator().manual_seed(seed)).tolist()
    n_val = max(2, round(val_fraction * len(pairs)))  # one sample would give a loss of 0
    train = order[n_val:]
    keep = max(2, round(fraction * len(train)))
    return pairs.subset(sorted(train[:keep])), pairs.subset(sorted(order[:n_val]))


def optical_to_sar(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Initial weights of the SAR stage from a model state after the optical stage (chapter 8).

    The S2 tower's backbone and projection become the S1 tower's, the stem through
    :func:`closp_lite.models.efficientnet.optical_stem_to_sar`; the S2 tower is kept as it is.
    Normalisation statistics stay each tower's own.
    """
    from closp_lite.models.efficientnet import optical_stem_to_sar

    out = {name: value for name, value in state.items() if name.startswith("towers.s2.")}
    for name, value in state.items():
        if name.startswith(("towers.s2.backbone.", "towers.s2.proj.")):
            target = "towers.s1." + name[len("towers.s2.") :]
            out[target] = optical_stem_to_sar(value) if name.endswith("backbone.conv_stem.weight") else value
    return out


@dataclass
class TransferResult:
    """What :func:`run_schedule` returns (chapter 8)."""

    out_dir: Path
    config: TransferConfig
    stages: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (what ``RUN/transfer.json`` holds)."""
        return {"out_dir": str(self.out_dir), "config": asdict(self.config), "stages": self.stages, "metrics": self.metrics}


def _stage_train_config(config: TransferConfig, stage: str, index: int, splits: dict[str, tuple[Pairs, Pairs]]) -> Any:
    from closp_lite.training import TrainConfig, steps_per_epoch

    assert config.steps is not None and config.batch_size is not None  # resolved
    modality = STAGE_MODALITY[stage]
    natural_start = index == 0 and config.stages[0] == "natural"
    per_epoch = steps_per_epoch(splits, config.batch_size)  # type: ignore[arg-type]
    # Same optimiser steps for every data size (as close as whole epochs allow; each stage records
    # its steps): small training sets simply see more epochs.
    return TrainConfig(
        mode=config.mode, data=config.data, epochs=max(1, round(config.steps / per_epoch)), batch_size=config.batch_size,
        lr=config.lr, seed=config.seed, val_fraction=config.val_fraction, modalities=(modality,),
        text_style=config.sar_style if stage == "sar" else config.optical_style, learnable_scale=True, label_aware=True,
        model=ModelConfig(arch=ARCH, input_size=config.input_size, weights={modality: "imagenet"} if natural_start else {}),
    )  # fmt: skip


def _write_state(result: TransferResult) -> None:
    path = result.out_dir / STATE_FILE
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(result.to_dict(), indent=2))
    tmp.replace(path)


def _finished_stages(out: Path, config: TransferConfig) -> dict[str, dict[str, Any]]:
    """The stages ``out`` already finished, refusing them when they were trained with other settings."""
    if not (out / STATE_FILE).is_file():
        return {}
    state = json.loads((out / STATE_FILE).read_text())
    check_settings_match(state["config"], asdict(config), out)
    return {s["stage"]: s for s in state["stages"]}


def run_schedule(
    config: TransferConfig, out_dir: str | Path, resume: bool = False, data: dict[str, Pairs] | None = None,
    evaluate: bool = True, progress: bool = True,
) -> TransferResult:  # fmt: skip
    """Train the stages of a schedule into ``out_dir/<n>-<stage>`` and evaluate the SAR model (chapter 8).

    Args:
        config: the schedule and its settings (mode defaults filled in by :meth:`TransferConfig.resolved`).
        out_dir: the transfer folder; ``transfer.json`` records the stages and the metrics.
        resume: skip finished stages and resume an interrupted one from its checkpoint.
        data: training pairs per stage (``optical``, ``sar``), e.g. shared by many runs; default: read
            from the corpus with :func:`load_pairs`.
        evaluate: compute :func:`evaluate_run` on the S1 test corpus and the real examples.
        progress: show progress bars.

    Raises:
        ValueError: if ``out_dir`` already holds a transfer run and ``resume`` is not set.
    """
    from closp_lite.training import train

    config = config.resolved()
    out = Path(out_dir)
    if (out / STATE_FILE).is_file() and not resume:
        raise ValueError(f"{out} already holds a transfer run: resume it (--resume) or choose another --out")
    root = config.data or str(_sample_corpus(config.mode))
    out.mkdir(parents=True, exist_ok=True)
    result = TransferResult(out, config)
    done = _finished_stages(out, config) if resume else {}
    previous: Path | None = None
    for index, stage in enumerate(s for s in config.stages if s != "natural"):
        folder = out / f"{index + 1}-{stage}"
        if stage in done:
            result.stages.append(done[stage])
            previous = folder
            continue
        pairs = (data or {}).get(stage) or load_pairs(root, STAGE_MODALITY[stage], "train", config.sar_style if stage == "sar" else config.optical_style, config.input_size)
        train_pairs, val_pairs = stage_splits(pairs, config.seed, config.val_fraction, config.sar_fraction if stage == "sar" else 1.0)
        splits = {STAGE_MODALITY[stage]: (train_pairs, val_pairs)}
        train_config = _stage_train_config(config, stage, index, splits)
        if previous is not None:
            folder.mkdir(parents=True, exist_ok=True)
            atomic_save(optical_to_sar(torch.load(previous / "model.pt", map_location="cpu", weights_only=True)), folder / INIT_FILE)
            train_config = replace(train_config, init=str(folder / INIT_FILE))
        resumed = resume and (folder / "checkpoint.pt").is_file()
        run = train(train_config, folder, resume=resumed, splits=splits, progress=progress)  # type: ignore[arg-type]
        result.stages.append({"stage": stage, "folder": folder.name, "steps": run.steps, "train_size": len(train_pairs),
                              "best_epoch": run.best_epoch, "best_val_loss": run.best_val_loss, "seconds": round(run.seconds, 1)})  # fmt: skip
        _write_state(result)
        previous = folder
    if evaluate and previous is not None:
        result.metrics = evaluate_run(previous, root, config.sar_style, config.input_size)
    _write_state(result)
    return result


def _sample_corpus(mode: str | None) -> Path:
    from closp_lite.simulate import sample_corpus

    return sample_corpus(mode, progress=False)


def embed_pairs(model: CLOSP, pairs: Pairs, batch_size: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """Unit image and caption vectors of ``pairs`` under ``model`` (chapter 8)."""
    model.eval()
    with torch.no_grad():
        images = torch.cat([model.encode_image(pairs.images[i : i + batch_size], pairs.modality) for i in range(0, len(pairs), batch_size)])
        texts = model.encode_text(pairs.texts)
    return images.cpu().numpy(), texts.cpu().numpy()


def sar_text_metrics(image_vectors: np.ndarray, text_vectors: np.ndarray, pairs: Pairs) -> dict[str, float]:
    """SAR-TEXT's retrieval metrics of caption and image vectors of the same pairs, in percent (chapter 8).

    ``R@k`` (caption -> image), ``i2t_R@k`` (image -> caption), ``mR`` (their mean) and
    ``nDCG@10`` (caption -> image, graded by shared labels), as the module docstring defines them.
    Each distinct caption is one query.
    """
    from closp_lite.evaluation import evaluate_scores

    queries = list(dict.fromkeys(pairs.texts))
    first = {text: pairs.texts.index(text) for text in queries}
    label_sets = [frozenset(labels) for labels in pairs.labels]
    exact: dict[str, dict[str, int]] = {}
    graded: dict[str, dict[str, int]] = {}
    for q, text in enumerate(queries):
        own = label_sets[first[text]]
        exact[f"q{q}"] = {key: 1 for key, labels in zip(pairs.keys, label_sets) if labels == own}
        graded[f"q{q}"] = {key: len(own & labels) for key, labels in zip(pairs.keys, label_sets) if own & labels}
    rows = [first[text] for text in queries]
    scores = text_vectors[rows] @ image_vectors.T
    ids = [f"q{q}" for q in range(len(queries))]
    recall = evaluate_scores(scores, ids, pairs.keys, exact, ndcg_k=NDCG_K, recall_ks=RECALL_KS)
    ndcg = evaluate_scores(scores, ids, pairs.keys, graded, ndcg_k=NDCG_K, recall_ks=RECALL_KS)
    out = {name: float(recall[name]) for name in [f"R@{k}" for k in RECALL_KS] + [f"i2t_R@{k}" for k in RECALL_KS] + ["mR"]}
    out["nDCG@10"] = float(ndcg[f"ndcg@{NDCG_K}"])
    out.update({"n_images": len(pairs), "n_queries": len(queries)})
    return out


def evaluate_run(run_dir: str | Path, root: str | Path, style: str = SAR_STYLE, input_size: int | None = None, test: Pairs | None = None) -> dict[str, dict[str, float]]:
    """:func:`sar_text_metrics` of a run's model on the S1 test corpus of ``root`` and on the 6 real S1 examples (chapter 8).

    ``test`` passes the S1 test pairs already in memory (many runs, one corpus).
    """
    from closp_lite.data.examples import load_examples

    model = CLOSP.load(run_dir)
    corpora = {"s1_test": test or load_pairs(root, "s1", "test", style, input_size),
               "real_examples": load_pairs(load_examples(), "s1", None, style, input_size)}  # fmt: skip
    return {name: sar_text_metrics(*embed_pairs(model, pairs), pairs) for name, pairs in corpora.items()}


def failure_cases(image_vectors: np.ndarray, text_vectors: np.ndarray, pairs: Pairs, n: int = 5) -> list[dict[str, Any]]:
    """The ``n`` captions whose own image ranks lowest: caption, labels, that rank and the top image's labels (chapter 8)."""
    scores = text_vectors @ image_vectors.T
    own_scores = np.diag(scores)
    ranks = (scores > own_scores[:, None]).sum(axis=1) + 1  # 1 = the caption's own image comes first
    worst = np.argsort(-ranks, kind="stable")[:n]
    return [{"caption": pairs.texts[i], "labels": pairs.labels[i], "rank_of_own_image": int(ranks[i]),
             "top_image_labels": pairs.labels[int(np.argmax(scores[i]))]} for i in worst]  # fmt: skip


def summarize_runs(runs: Sequence[dict[str, Any]], corpus: str = "s1_test", metric: str = "mR") -> dict[str, dict[str, list[float]]]:
    """``schedule -> fraction -> [mean, std, n]`` of one metric over the seeds of benchmark runs (chapter 8).

    ``runs`` are the ``runs`` of ``benchmarks/results/transfer.json`` (schedule, seed, fraction, metrics).
    """
    values: dict[str, dict[str, list[float]]] = {}
    for run in runs:
        values.setdefault(run["schedule"], {}).setdefault(str(run["fraction"]), []).append(run["metrics"][corpus][metric])
    return {schedule: {fraction: _mean_std(v) for fraction, v in fractions.items()} for schedule, fractions in values.items()}


def schedule_gains(runs: Sequence[dict[str, Any]], better: str, worse: str, corpus: str = "s1_test", metric: str = "mR") -> dict[str, list[float]]:
    """``fraction -> [mean, std, n]`` of the per-seed difference ``better - worse`` of a metric (chapter 8)."""
    by_run = {(r["schedule"], r["seed"], str(r["fraction"])): r["metrics"][corpus][metric] for r in runs}
    differences: dict[str, list[float]] = {}
    for (schedule, seed, fraction), value in by_run.items():
        if schedule == better and (worse, seed, fraction) in by_run:
            differences.setdefault(fraction, []).append(value - by_run[(worse, seed, fraction)])
    return {fraction: _mean_std(differences[fraction]) for fraction in sorted(differences, key=float)}


def _mean_std(values: Sequence[float]) -> list[float]:
    return [float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else float("nan"), len(values)]
