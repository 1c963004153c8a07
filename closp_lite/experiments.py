"""Running models on a corpus: embed, search, evaluate, and the ablation runner (chapter 6).

A model enters here as a pair of encoders (:class:`Encoders`): ``image`` maps a batch of model-ready
images of one modality (S1: 2 channels, S2: 13) to ``(B, D)`` embeddings, ``text`` maps a list of
strings to ``(N, D)`` embeddings. Any model fits - a trained CLOSP-lite, the RGB baseline, or the
untrained towers of :func:`untrained_encoders` - so every experiment goes through the same code:

corpus folder -> :func:`embed_corpus` (an :class:`~closp_lite.index.EmbeddingIndex`) ->
query texts embedded -> score matrix -> :func:`closp_lite.evaluation.evaluate_corpora` on the
S1-only, S2-only and mixed corpus.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from closp_lite import evaluation
from closp_lite.config import DEFAULT_SEED, ScaleSettings, seed_everything, settings
from closp_lite.fusion import DEFAULT_REMEDY, Calibration, fit_calibration, fused_scores, needs_anchors
from closp_lite.index import EmbeddingIndex, SearchHits, embed_dataset

if TYPE_CHECKING:
    import torch

    from closp_lite.models.closp import CLOSP

CURVE_KS: tuple[int, ...] = (1, 3, 10, 30, 100, 300, 1000)
CALIBRATION_FILE = "calibration.json"

__all__ = [
    "CALIBRATION_FILE",
    "CURVE_KS",
    "Encoders",
    "check_index",
    "corpus_labels",
    "corpus_samples",
    "embed_corpus",
    "evaluate_encoders",
    "evaluate_index",
    "load_queries",
    "model_encoders",
    "openclip_encoders",
    "query_scores",
    "read_images",
    "run_encoders",
    "run_experiments",
    "search_text",
    "untrained_encoders",
    "validation_calibration",
]


@dataclass
class Encoders:
    """A retrieval model seen from outside: an image encoder and a text encoder (chapter 6)."""

    image: Callable[[torch.Tensor], torch.Tensor]
    text: Callable[[Sequence[str]], torch.Tensor]
    name: str = "model"
    fingerprint: str = ""  # identifies the weights (e.g. the sha256 of model.pt), stored with an index
    calibration: Calibration | None = None  # of the ``calibrate`` remedy, fitted for these weights (validation_calibration)


def untrained_encoders(seed: int = DEFAULT_SEED, arch: str = "small_cnn", pooling: str = "cls") -> Encoders:
    """Randomly initialised S1 and S2 towers + the frozen pretrained MiniLM text tower (chapter 6).

    The chance-level reference of the ablations: whatever a trained model scores above this, it
    learned. Images are routed to a tower by their channel count.
    """
    import torch

    from closp_lite.models.image import ImageTower, tower_for
    from closp_lite.models.text import TextEncoder

    seed_everything(seed)
    towers = {m: ImageTower(tower_for(m, arch)).eval() for m in ("s1", "s2")}  # type: ignore[arg-type]
    by_channels = {tower.in_channels: tower for tower in towers.values()}
    text = TextEncoder(pooling=pooling)  # type: ignore[arg-type]

    def image(images: torch.Tensor) -> torch.Tensor:
        if images.shape[1] not in by_channels:
            raise ValueError(f"no tower takes {images.shape[1]} channels (S1: 2, S2: 13)")
        with torch.no_grad():
            return by_channels[images.shape[1]](images)

    return Encoders(image, text.encode, name="untrained", fingerprint=f"untrained:{arch}:{pooling}:seed{seed}")


def run_encoders(run_dir: str | Path) -> Encoders:
    """The trained model of a run folder written by ``closp-lite train`` (chapter 6).

    Its ``calibration`` is read from the folder's ``calibration.json`` when there is one
    (:func:`closp_lite.book_model.cached_run` writes it).

    Raises:
        FileNotFoundError: if the folder holds no saved model.
    """
    from closp_lite.data.checksum import sha256_of
    from closp_lite.models.closp import CLOSP, WEIGHTS_FILE

    encoders = model_encoders(CLOSP.load(run_dir).eval(), Path(run_dir).name, sha256_of(Path(run_dir) / WEIGHTS_FILE))
    saved = Path(run_dir) / CALIBRATION_FILE
    if saved.is_file():
        encoders.calibration = Calibration.from_dict(json.loads(saved.read_text()))
    return encoders


def model_encoders(model: CLOSP, name: str = "model", fingerprint: str = "") -> Encoders:
    """The :class:`Encoders` of a loaded CLOSP or GeoCLOSP model, without gradients (chapters 6, 7).

    ``fingerprint`` identifies the weights (stored with an index; :func:`run_encoders` uses the sha256 of ``model.pt``).
    """
    import torch

    def image(images: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return model.encode_image(images)

    def text(texts: Sequence[str]) -> torch.Tensor:
        with torch.no_grad():
            return model.encode_text(texts)

    return Encoders(image, text, name=name, fingerprint=fingerprint)


def corpus_labels(root: str | Path, split: str | None = "test") -> dict[str, tuple[str, list[str]]]:
    """``key -> (modality, harmonized labels)`` of a split, from the metadata alone (no image read) (chapter 6)."""
    from closp_lite.data.module import CrisisLandMarkDataModule

    return CrisisLandMarkDataModule(root).labels(split)


def corpus_samples(
    root: str | Path, split: str | None = "test", scale: ScaleSettings | None = None, modality: str | None = None
) -> Iterator[dict[str, Any]]:
    """Yield ``image`` (model-ready tensor), ``key``, ``modality`` and harmonized ``labels`` per patch (chapter 6).

    ``split="test"`` is the searched corpus (80% of CrisisLandMark); ``None`` yields every patch.
    Patches are read by a DataLoader of the corpus view (in the scale's worker processes), one
    modality after the other; ``modality`` (``"s1"``/``"s2"``) reads that one only (chapter 8).
    """
    from closp_lite.data.module import CrisisLandMarkDataModule

    scale = scale or settings()
    data = CrisisLandMarkDataModule(root, batch_size=scale.embed_batch_size, num_workers=scale.num_workers)
    present = set(data.select(split=split)["modality"])
    for kind in sorted(present if modality is None else present & {modality}):
        for batch in data.loader(data.dataset(split, kind)):
            for i, key in enumerate(batch["key"]):
                yield {"image": batch["image"][i], "key": key, "modality": kind, "labels": batch["labels"][i]}


def embed_corpus(
    encoders: Encoders, root: str | Path, split: str | None = "test", batch_size: int | None = None, scale: ScaleSettings | None = None
) -> EmbeddingIndex:
    """Embed the ``split`` of the corpus in ``root`` with ``encoders.image`` (chapter 6).

    ``scale`` (default: :func:`closp_lite.config.settings`) gives the batch size and loader workers.
    """
    scale = scale or settings()
    return embed_dataset(
        encoders.image,
        corpus_samples(root, split, scale),
        batch_size or scale.embed_batch_size,
        info={"model": encoders.name, "model_fingerprint": encoders.fingerprint, "corpus": str(root), "split": split},
        total=len(corpus_labels(root, split)),
    )


def check_index(index: EmbeddingIndex, encoders: Encoders, root: str | Path, split: str | None = "test", where: str = "the index") -> None:
    """Refuse an index built by another model or from another corpus than ``encoders`` and ``root`` (chapter 6).

    Raises:
        ValueError: naming what differs and how to rebuild the index (``closp-lite embed``).
    """
    built_by = index.info.get("model_fingerprint")
    if built_by != encoders.fingerprint:
        raise ValueError(
            f"{where} was embedded by model {index.info.get('model')!r} ({str(built_by)[:12]}...), not by {encoders.name!r} "
            f"({encoders.fingerprint[:12]}...): rebuild it with `closp-lite embed` and this model"
        )
    keys = set(corpus_labels(root, split))
    if set(index.keys) != keys:
        missing, extra = len(keys - set(index.keys)), len(set(index.keys) - keys)
        raise ValueError(
            f"{where} does not match the corpus {root} ({missing} of its patches are not in the index, {extra} indexed "
            "patches are not in it): rebuild the index with `closp-lite embed` on this corpus"
        )


def load_queries(root: str | Path, qrels_name: str | None = None) -> tuple[list[dict[str, Any]], dict[str, dict[str, int]]]:
    """Read ``queries.jsonl`` and the qrels of a corpus folder (chapter 6).

    Raises:
        FileNotFoundError: naming the missing file and how to build it.
    """
    from closp_lite.data.format import read_qrels, read_queries

    try:
        return read_queries(root), read_qrels(root, qrels_name)
    except FileNotFoundError as err:
        raise FileNotFoundError(f"{err}. Build the query set of {root} with `closp-lite queries build {root}`") from err


def _text_vectors(encoders: Encoders, texts: Sequence[str]) -> np.ndarray:
    encoded = encoders.text(list(texts))
    vectors = np.asarray(encoded.detach().cpu().float() if hasattr(encoded, "detach") else encoded, dtype=np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def query_scores(
    index: EmbeddingIndex, encoders: Encoders, texts: Sequence[str], remedy: str = DEFAULT_REMEDY, calibration: Calibration | None = None
) -> np.ndarray:
    """The ``(texts, N)`` scores of query texts against an index after a modality-gap remedy (chapter 6).

    ``remedy`` is one of :data:`closp_lite.fusion.REMEDIES`; ``anchor`` calibrates each modality
    with the captions of every label of the vocabulary as anchor texts; ``probability`` and
    ``calibrate`` use ``calibration``, else the encoders' own (:func:`validation_calibration`).
    """
    from closp_lite.captions import closp_text
    from closp_lite.labels import VOCABULARY

    anchors = _text_vectors(encoders, [closp_text([label]) for label in VOCABULARY]) if needs_anchors(remedy) else None
    calibration = calibration if calibration is not None else encoders.calibration
    return fused_scores(_text_vectors(encoders, texts), index.vectors, index.modalities, remedy, anchors, calibration)


def validation_calibration(encoders: Encoders, root: str | Path, seed: int = DEFAULT_SEED) -> Calibration:
    """Fit the ``calibrate`` remedy of a model on the validation hold-out of the corpus in ``root`` (chapter 6).

    The validation images (the seeded hold-out of the ``train`` split that training never
    learns from, :meth:`~closp_lite.data.module.CrisisLandMarkDataModule.train_val`) are embedded
    and scored against a query set built from the ``train`` split's labels
    (:func:`closp_lite.queries.build_queries`); a pair is relevant when its grade is above 0.
    The searched ``test`` split is never looked at.
    """
    import tempfile

    from closp_lite.data.module import CrisisLandMarkDataModule, held_out
    from closp_lite.queries import build_queries

    data = CrisisLandMarkDataModule(root, seed=seed)
    keys = [k for m in sorted(set(data.select(split="train")["modality"])) for k in held_out(data.keys("train", m), data.val_fraction, seed)[1]]
    samples = data.dataset("train", keys=keys)
    index = embed_dataset(encoders.image, (samples[i] for i in range(len(samples))), settings().embed_batch_size)
    with tempfile.TemporaryDirectory(prefix="closp-calibration-") as folder:
        build_queries(root, folder, split="train")
        queries, qrels = load_queries(folder, "train")
    raw = query_scores(index, encoders, [str(q["text"]) for q in queries], "none")
    relevant = np.array([[qrels.get(str(q["id"]), {}).get(key, 0) > 0 for key in index.keys] for q in queries])
    return fit_calibration(raw, relevant, index.modalities)


def evaluate_index(
    index: EmbeddingIndex,
    encoders: Encoders,
    queries: Sequence[Mapping[str, Any]],
    qrels: evaluation.Qrels,
    ndcg_k: int = evaluation.DEFAULT_NDCG_K,
    gain: evaluation.Gain = "linear",
    curve_ks: Sequence[int] = CURVE_KS,
    groups: Mapping[str, Sequence[str]] | None = None,
    remedy: str = DEFAULT_REMEDY,
    calibration: Calibration | None = None,
) -> dict[str, Any]:
    """Metrics per corpus (S1, S2, mixed) and the nDCG@k curve of the mixed corpus (chapter 6).

    ``groups`` (e.g. query kind -> query ids) adds ``by_group``: the metrics per corpus of each
    group of queries on its own. ``remedy`` (:mod:`closp_lite.fusion`) makes S1 and S2 scores
    comparable in the mixed corpus (``calibrate`` needs ``calibration``); ``"none"`` ranks by raw cosine.
    """
    ids = [str(q["id"]) for q in queries]
    scores = query_scores(index, encoders, [str(q["text"]) for q in queries], remedy, calibration)
    modalities = [str(m) for m in index.modalities]
    metrics = evaluation.evaluate_corpora(scores, ids, index.keys, modalities, qrels, ndcg_k, gain=gain)
    curve = evaluation.ndcg_curve(scores, ids, index.keys, qrels, [k for k in curve_ks if k <= len(index)] or [1], gain)
    out: dict[str, Any] = {"metrics": metrics, "ndcg_curve": {str(k): v for k, v in curve.items()}}
    if groups:
        unknown = sorted(set().union(*map(set, groups.values())) - set(ids))
        if unknown:
            raise ValueError(f"groups name queries that are not in the query set: {unknown[:5]}")
        rows = {qid: i for i, qid in enumerate(ids)}
        out["by_group"] = {
            name: evaluation.evaluate_corpora(scores[[rows[q] for q in members]], list(members), index.keys, modalities, qrels, ndcg_k, gain=gain)
            for name, members in groups.items() if members
        }  # fmt: skip
    return out


def evaluate_encoders(
    encoders: Encoders,
    root: str | Path,
    queries: Sequence[Mapping[str, Any]],
    qrels: evaluation.Qrels,
    ndcg_k: int = evaluation.DEFAULT_NDCG_K,
    groups: Mapping[str, Sequence[str]] | None = None,
    remedy: str = DEFAULT_REMEDY,
    calibration: Calibration | None = None,
) -> dict[str, Any]:
    """Embed the searched corpus (``test`` split) of ``root`` and evaluate, optionally per query group (chapter 6)."""
    return evaluate_index(embed_corpus(encoders, root), encoders, queries, qrels, ndcg_k, groups=groups, remedy=remedy, calibration=calibration)


def search_text(
    encoders: Encoders,
    index: EmbeddingIndex,
    text: str,
    k: int = 12,
    modality: str = "all",
    remedy: str = DEFAULT_REMEDY,
    calibration: Calibration | None = None,
) -> list[dict[str, Any]]:
    """The top ``k`` images for a free-text query: rank, key, modality, score, cosine, labels (chapter 6).

    ``score`` is what the ranking used (after the modality-gap ``remedy``, :mod:`closp_lite.fusion`);
    ``cosine`` is the raw similarity of the image and the query; ``calibrate`` needs ``calibration``.
    """
    if not text.strip():
        raise ValueError("the query text is empty: type what you are looking for, e.g. 'flooded fields near a river'")
    query = _text_vectors(encoders, [text])
    hits: SearchHits = index.search(query, k, modality) if remedy == "none" else index.search_scores(query_scores(index, encoders, [text], remedy, calibration), k, modality)
    cosines = query[0] @ np.asarray(index.vectors[hits.indices[0]], dtype=np.float32).T
    return [
        {"rank": rank, "key": index.keys[i], "modality": str(index.modalities[i]), "score": float(s), "cosine": float(c), "labels": index.labels[i]}
        for rank, (i, s, c) in enumerate(zip(hits.indices[0], hits.scores[0], cosines), start=1)
    ]


def read_images(root: str | Path, keys: Sequence[str]) -> list[np.ndarray]:
    """The stored images of ``keys`` (e.g. search hits, for :func:`closp_lite.plotting.plot_search_results`)."""
    from closp_lite.data.format import CrisisLandMark

    with CrisisLandMark(root) as corpus:
        return [corpus.read(key).image for key in keys]


def run_experiments(
    root: str | Path,
    experiments: Mapping[str, Callable[[], Encoders]],
    queries: Sequence[Mapping[str, Any]],
    qrels: evaluation.Qrels,
    ndcg_k: int = evaluation.DEFAULT_NDCG_K,
    descriptions: Mapping[str, str] | None = None,
    groups: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """Build (e.g. train) and evaluate every experiment on the same corpus and queries (chapter 6).

    ``experiments[name]()`` returns the :class:`Encoders` of that experiment (training it if it
    must). Each result holds the metrics per corpus, the nDCG curve, a description and the wall
    time of building and of evaluating.
    """
    if not experiments:
        raise ValueError("no experiments to run")
    results: dict[str, Any] = {}
    for name, build in experiments.items():
        start = time.perf_counter()
        encoders = build()
        built = time.perf_counter()
        result = evaluate_encoders(encoders, root, queries, qrels, ndcg_k, groups)
        result["description"] = (descriptions or {}).get(name, "")
        result["seconds"] = {"build": round(built - start, 1), "evaluate": round(time.perf_counter() - built, 1)}
        results[name] = result
    return results


def openclip_encoders(model_name: str, pretrained: str | None, name: str = "openclip") -> Encoders:
    """A whole pretrained open_clip model (RemoteCLIP, SkyCLIP, ...) as a zero-shot RGB baseline (chapter 6).

    Images become RGB composites and texts go through the model's own tokenizer and text tower
    (:class:`closp_lite.models.openclip.OpenClipRGB`). ``pretrained`` is a local checkpoint file,
    or, online only, an open_clip tag, an ``hf-hub:`` id or a URL; ``None`` gives random weights.

    Raises:
        ConnectionError: when the weights cannot be downloaded: pass a local file instead.
    """
    from closp_lite.models.openclip import OpenClipRGB

    model = OpenClipRGB(model_name, pretrained)
    return Encoders(model.encode_image, model.encode_text, name=name)
