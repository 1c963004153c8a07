"""Retrieval experiments on the simulated corpus: nDCG@1000, mAP, R@k and mean recall per corpus.

    .venv/bin/python benchmarks/retrieval.py [--mode sample] [--seed 42]

Writes ``benchmarks/results/retrieval.json`` (what chapter 6 reads) and ``retrieval.md`` (the same
table for people). Every number is measured on **simulated** data; the paper's numbers are quoted
beside them only as the paper's.

Experiments:

* ``random embeddings``: random vectors for images and queries - the chance level of each metric
  on this corpus and query set (not 0: the corpus is small and the queries are broad).
* ``untrained``: random image towers (small CNN) + the pretrained, frozen MiniLM text tower.
* Trained ablations (``TRAINED``), each one ``closp_lite.training.train`` run with the mode's
  default settings and the same seed: CLOSP-lite unified (S1 + S2) vs SAR-only and optical-only
  training, the RGB-only baseline, the label-aware loss, and template captions instead of the
  CLOSP text.

Queries: one per label of the 12-label vocabulary, in CLOSP's text style (``"water"``), plus one
per pair of labels that occurs together in the searched corpus (``"crops. water"``). Relevance is
graded: the number of query labels the image has (1 or 2 for a pair; a single-label query is
binary). The searched corpus is the ``test`` split (80%), as upstream.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, write_result  # noqa: E402

from closp_lite import seed_everything  # noqa: E402
from closp_lite.captions import build_captions, closp_text  # noqa: E402
from closp_lite.experiments import Encoders, corpus_labels, run_encoders, run_experiments, untrained_encoders  # noqa: E402
from closp_lite.labels import VOCABULARY  # noqa: E402
from closp_lite.models.closp import ModelConfig  # noqa: E402
from closp_lite.simulate.corpus import sample_corpus  # noqa: E402
from closp_lite.training import TrainConfig, train  # noqa: E402

PAPER = {
    "source": "Rege Cambrin et al., arXiv 2507.10403 (CLOSP), numbers as quoted in shared/reference/closp.md section 5 (unverified)",
    "CLOSP ndcg@1000 S1 corpus": 55.65,
    "CLOSP ndcg@1000 S2 corpus": 54.80,
    "GeoCLOSP ndcg@1000 overall": 57.76,
    "best baseline ndcg@1000 overall": 37.88,
}


def build_queries(root: Path) -> tuple[list[dict[str, Any]], dict[str, dict[str, int]]]:
    """Single-label and co-occurring label-pair queries with graded relevance (see the module docstring)."""
    labels_of = {key: set(labels) for key, (_, labels) in corpus_labels(root).items()}
    pairs = Counter(pair for labels in labels_of.values() for pair in itertools.combinations(sorted(labels), 2))
    label_sets = [(label,) for label in VOCABULARY] + sorted(pairs)
    queries, qrels = [], {}
    for number, query_labels in enumerate(label_sets):
        qid = f"q{number:03d}"
        queries.append({"id": qid, "text": closp_text(query_labels), "labels": list(query_labels)})
        qrels[qid] = {key: n for key, labels in labels_of.items() if (n := len(labels & set(query_labels)))}
    return queries, qrels


def random_embeddings(seed: int, dim: int = 384) -> Encoders:
    """Encoders that ignore their input: the chance level."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    return Encoders(
        lambda images: torch.randn(len(images), dim, generator=generator),
        lambda texts: torch.randn(len(texts), dim, generator=generator),
        name="random embeddings",
    )


TRAINED = {
    # name -> (TrainConfig overrides, description)
    "closp-lite unified (S1+S2)": ({}, "small-CNN towers trained on S1 and S2 with CLOSP text, faithful loss"),
    "SAR-only training": ({"modalities": ("s1",)}, "trained on S1 only: no optical knowledge through text"),
    "optical-only training": ({"modalities": ("s2",)}, "trained on S2 only"),
    "RGB-only baseline": ({"rgb": True}, "same training on 3 channels: S2 B4,B3,B2; S1 VV,VH,VV-VH"),
    "label-aware loss": ({"label_aware": True}, "multi-positive targets for samples with the same caption"),
    "template captions": ({"text_style": "template"}, "trained on template captions instead of CLOSP text"),
}


def trained_encoders(root: Path, mode: str, seed: int, runs: Path, name: str, overrides: dict[str, Any]) -> Encoders:
    """Train one ablation in ``runs/`` and return its encoders."""
    overrides = dict(overrides)
    model = ModelConfig(rgb=overrides.pop("rgb", False))
    folder = runs / name.split(" ")[0].lower().replace("-", "_")
    train(TrainConfig(mode=mode, data=str(root), seed=seed, model=model, **overrides), folder, progress=False)
    encoders = run_encoders(folder)
    encoders.name = name
    return encoders


def experiments(seed: int, mode: str, root: Path, runs: Path) -> tuple[dict[str, Any], dict[str, str]]:
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
        builders[name] = functools.partial(trained_encoders, root, mode, seed, runs, name, overrides)
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
    return "\n".join(lines)


def main() -> None:
    """Run the experiments and write the JSON and markdown results."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", default="sample", choices=["tiny", "sample"])
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    seed_everything(args.seed)
    root = sample_corpus(args.mode, seed=args.seed)
    queries, qrels = build_queries(root)
    build_captions(root, seed=args.seed, progress=False)  # the template-captions ablation reads them
    with tempfile.TemporaryDirectory() as runs:
        builders, descriptions = experiments(args.seed, args.mode, root, Path(runs))
        results = run_experiments(root, builders, queries, qrels, descriptions=descriptions)
    payload = {
        "mode": args.mode,
        "seed": args.seed,
        "corpus": str(root),
        "simulated": True,
        "n_queries": len(queries),
        "query_set": "one per label + one per co-occurring label pair, CLOSP text; graded relevance = labels shared",
        "relevance_histogram": dict(Counter(int(g) for judged in qrels.values() for g in judged.values())),
        "experiments": results,
        "training": "each trained ablation: TrainConfig defaults of the mode (closp_lite.config.settings), same seed",
        "paper": PAPER,
    }
    path = write_result("retrieval", payload)
    (RESULTS / "retrieval.md").write_text(markdown(json.loads(path.read_text())))
    print(f"wrote {path} and {RESULTS / 'retrieval.md'}")
    for name, result in results.items():
        print(name, {c: round(m["ndcg@1000"], 2) for c, m in result["metrics"].items()})


if __name__ == "__main__":
    main()
