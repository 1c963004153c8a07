"""Retrieval experiments on the simulated corpus: nDCG@1000, mAP, R@k and mean recall per corpus.

    .venv/bin/python benchmarks/retrieval.py [--mode sample] [--seed 42]

Writes ``benchmarks/results/retrieval.json`` (what chapters 5 and 6 read) and ``retrieval.md``
(the same table for people). Every number is measured on **simulated** data; the paper's numbers
are quoted beside them only as the paper's.

Experiments:

* ``random embeddings``: random vectors for images and queries - the chance level of each metric
  on this corpus and query set (not 0: the corpus is small and the queries are broad).
* ``untrained``: random image towers (small CNN) + the pretrained, frozen MiniLM text tower.
* Trained ablations (``TRAINED``), each one ``closp_lite.training.train`` run with the mode's
  default settings and the same seed: CLOSP-lite unified (S1 + S2) vs SAR-only and optical-only
  training, both again with the text tower fine-tuned (the only way optical data can reach the
  radar tower), the RGB-only baselines (small CNN and open_clip's vision transformer on three
  channels), the learnable temperature, the label-aware loss, and template captions instead of
  the CLOSP text (with and without label-aware targets).

Queries and graded relevance: the library's query set (``closp_lite.queries``, chapter 4: single
labels, crisis labels, frequent label pairs, paraphrases and location queries; relevance = number
of query labels the patch carries, location queries 2 inside the region and 1 outside), over the
searched ``test`` split (80 %), as upstream. Metrics are also reported per query kind.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, write_result

from closp_lite import seed_everything
from closp_lite.captions import build_captions
from closp_lite.config import DEFAULT_SEED
from closp_lite.experiments import Encoders, load_queries, run_encoders, run_experiments, untrained_encoders
from closp_lite.models.closp import ModelConfig
from closp_lite.queries import build_queries
from closp_lite.simulate.corpus import sample_corpus
from closp_lite.training import TrainConfig, train

PAPER = {
    "source": "Rege Cambrin et al., arXiv 2507.10403 (CLOSP), numbers as quoted in shared/reference/closp.md section 5 (unverified)",
    "CLOSP ndcg@1000 S1 corpus": 55.65,
    "CLOSP ndcg@1000 S2 corpus": 54.80,
    "GeoCLOSP ndcg@1000 overall": 57.76,
    "best baseline ndcg@1000 overall": 37.88,
}


def random_embeddings(seed: int, dim: int = 384) -> Encoders:
    """Encoders that ignore their input: the chance level."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    return Encoders(
        lambda images: torch.randn(len(images), dim, generator=generator),
        lambda texts: torch.randn(len(texts), dim, generator=generator),
        name="random embeddings",
    )


TRAINED: dict[str, tuple[dict[str, Any], str]] = {
    # name -> (TrainConfig / ModelConfig overrides, description)
    "closp-lite unified (S1+S2)": ({}, "small-CNN towers trained on S1 and S2 with CLOSP text, faithful loss, frozen text tower"),
    "SAR-only training": ({"modalities": ("s1",)}, "trained on S1 only, frozen text tower"),
    "optical-only training": ({"modalities": ("s2",)}, "trained on S2 only, frozen text tower"),
    "unified, text tower fine-tuned": ({"train_text": True}, "S1 + S2, MiniLM fine-tuned (text_lr): optical data can move the text vectors S1 is pulled to"),
    "SAR-only, text tower fine-tuned": ({"modalities": ("s1",), "train_text": True}, "S1 only, MiniLM fine-tuned"),
    "RGB-only baseline (small CNN)": ({"rgb": True}, "same training on 3 channels: S2 B4,B3,B2; S1 VV,VH,VV-VH"),
    "RGB-only baseline (open_clip ViT)": ({"rgb": True, "arch": "openclip_vit"}, "3 channels into open_clip's vision transformer, trained from scratch"),
    "learnable temperature": ({"learnable_scale": True}, "CLIP's learnable logit scale (init 1/0.07, clamped at 100) instead of 1.0"),
    "label-aware loss": ({"label_aware": True}, "multi-positive targets for samples with the same label set"),
    "template captions": ({"text_style": "template"}, "trained on template captions instead of CLOSP text"),
    "template captions, label-aware": ({"text_style": "template", "label_aware": True}, "template captions, same label set = positive"),
}
MODEL_KEYS = ("rgb", "arch", "train_text")


def trained_encoders(root: Path, mode: str, seed: int, runs: Path, name: str, overrides: dict[str, Any], log: dict[str, Any]) -> Encoders:
    """Train one ablation in ``runs/``, record its training summary in ``log[name]`` and return its encoders."""
    overrides = dict(overrides)
    model = ModelConfig(**{k: overrides.pop(k) for k in MODEL_KEYS if k in overrides})
    folder = runs / f"run{len(log)}"
    result = train(TrainConfig(mode=mode, data=str(root), seed=seed, model=model, **overrides), folder, progress=False)
    last = result.log[-1]
    log[name] = {"steps": result.steps, "seconds": round(result.seconds, 1), "best_epoch": result.best_epoch,
                 "final_train_loss": round(last["train_loss"], 4), "train_chance": round(last["train_chance"], 4),
                 "best_val_loss": round(result.best_val_loss, 4), "val_chance": round(last["val_chance"], 4),
                 "scale": round(last["scale"], 3)}  # fmt: skip
    encoders = run_encoders(folder)
    encoders.name = name
    return encoders


def experiments(seed: int, mode: str, root: Path, runs: Path, log: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The experiments: name -> builder, and their descriptions."""
    builders = {
        "random embeddings": lambda: random_embeddings(seed),
        "untrained": lambda: untrained_encoders(seed),
    }
    descriptions = {
        "random embeddings": "random vectors for images and queries: chance level",
        "untrained": "random small-CNN image towers + frozen pretrained MiniLM ([CLS] pooling)",
    }
    for name, (overrides, description) in TRAINED.items():
        builders[name] = functools.partial(trained_encoders, root, mode, seed, runs, name, overrides, log)
        descriptions[name] = description
    return builders, descriptions


def markdown(record: dict[str, Any]) -> str:
    """The results as a markdown table (one row per experiment and corpus)."""
    lines = [
        "# Retrieval on the simulated corpus",
        "",
        f"Command: `{record['command']}`  ",
        f"Machine: {record['machine']['cpu']} ({record['machine']['cpu_count']} cores)  ",
        f"Date: {record['date']}  ",
        f"Mode: {record['results']['mode']}, seed {record['results']['seed']}, "
        f"{record['results']['n_queries']} queries. All data simulated.",
        "",
        "| experiment | corpus | nDCG@1000 | mAP@1000 | R@1 | R@5 | R@10 | mR | images |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, result in record["results"]["experiments"].items():
        for corpus, m in result["metrics"].items():
            lines.append(
                f"| {name} | {corpus} | {m['ndcg@1000']:.2f} | {m['map@1000']:.2f} | {m['R@1']:.1f} | {m['R@5']:.1f} "
                f"| {m['R@10']:.1f} | {m['mR']:.1f} | {m['n_documents']} |"
            )
    kinds = record["results"].get("query_kinds", {})
    lines += ["", "nDCG@1000 on the mixed corpus, per query kind (number of queries in brackets):", "",
              "| experiment | " + " | ".join(f"{k} ({n})" for k, n in kinds.items()) + " |",
              "|---|" + "---|" * len(kinds)]  # fmt: skip
    for name, result in record["results"]["experiments"].items():
        by = result.get("by_group", {})
        lines.append(f"| {name} | " + " | ".join(f"{by[k]['mixed']['ndcg@1000']:.2f}" if k in by else "-" for k in kinds) + " |")
    lines += ["", "Training (sample mode defaults; loss vs its chance level log B):", "",
              "| experiment | steps | seconds | final train loss | train chance | best val loss | val chance | logit scale |",
              "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for name, result in record["results"]["experiments"].items():
        if "training" in result:
            t = result["training"]
            lines.append(f"| {name} | {t['steps']} | {t['seconds']} | {t['final_train_loss']} | {t['train_chance']} "
                         f"| {t['best_val_loss']} | {t['val_chance']} | {t['scale']} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def main() -> None:
    """Run the experiments and write the JSON and markdown results."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", default="sample", choices=["tiny", "sample"])
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args()
    seed_everything(args.seed)
    root = sample_corpus(args.mode, seed=args.seed)
    build_captions(root, seed=args.seed, progress=False)  # the template-captions ablations read them
    log: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as runs:
        summary = build_queries(root, Path(runs) / "queries")
        queries, qrels = load_queries(Path(runs) / "queries")
        groups = {kind: [q["id"] for q in queries if q["kind"] == kind] for kind in summary["kinds"]}
        builders, descriptions = experiments(args.seed, args.mode, root, Path(runs), log)
        results = run_experiments(root, builders, queries, qrels, descriptions=descriptions, groups=groups)
    for name, training in log.items():
        results[name]["training"] = training
    payload = {
        "mode": args.mode,
        "seed": args.seed,
        "corpus": str(root),
        "simulated": True,
        "n_queries": len(queries),
        "query_kinds": summary["kinds"],
        "query_set": "closp_lite.queries (chapter 4): single, crisis, combination, paraphrase and location queries; graded relevance",
        "grading": summary["grading"],
        "relevance_histogram": dict(Counter(int(g) for judged in qrels.values() for g in judged.values())),
        "experiments": results,
        "training": "each trained ablation: TrainConfig defaults of the mode (closp_lite.config.settings), same seed",
        "paper": PAPER,
    }
    name = "retrieval" if args.mode == "sample" else f"retrieval_{args.mode}"  # the book reads the sample-mode file
    path = write_result(name, payload)
    (RESULTS / f"{name}.md").write_text(markdown(json.loads(path.read_text())))
    print(f"wrote {path} and {RESULTS / f'{name}.md'}")
    for name, result in results.items():
        print(name, {c: round(m["ndcg@1000"], 2) for c, m in result["metrics"].items()})


if __name__ == "__main__":
    main()
