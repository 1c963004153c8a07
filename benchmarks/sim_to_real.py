"""Sim-to-real: the book's model, trained on simulated scenes only, on the 6 real BigEarthNet pairs (issue 10, chapter 6).

    .venv/bin/python benchmarks/sim_to_real.py [--mode sample] [--permutations 2000]

Writes ``results/sim_to_real.json`` and ``.md``. The 6 real S1 + S2 pairs of ``bigearthnet-common``
(``closp_lite.data.load_examples``), labels harmonized, form two tiny corpora (6 S1, 6 S2 images).
The queries are the library's single-label and label-pair queries for the labels present, graded
by the number of query labels an image carries. Per corpus: mean nDCG@10 (with 6 images, the whole
ranking) of the model against random rankings: the mean over ``permutations`` random score
matrices, and the one-sided p-value (share of random rankings scoring at least the model's mean).
Six images per sensor are very weak evidence: the file says so.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, load_average, write_result

from closp_lite import evaluation
from closp_lite.book_model import cached_run, default_config
from closp_lite.config import DEFAULT_SEED
from closp_lite.data import load_examples
from closp_lite.experiments import corpus_samples, query_scores, run_encoders
from closp_lite.index import embed_dataset
from closp_lite.queries import make_qrels, make_queries
from closp_lite.simulate import GENERATOR_VERSION

KINDS = ("single", "combination")


def mean_ndcg(scores: np.ndarray, ids: list[str], keys: list[str], qrels: dict[str, dict[str, int]]) -> float:
    """Mean nDCG@10 over the queries with a relevant image among ``keys``."""
    return float(evaluation.evaluate_scores(scores, ids, keys, qrels, ndcg_k=10)["ndcg@10"])


def measure(scores: np.ndarray, ids: list[str], keys: list[str], qrels: dict[str, dict[str, int]], permutations: int) -> dict[str, Any]:
    """The model's mean nDCG@10 on one corpus against random rankings."""
    model = mean_ndcg(scores, ids, keys, qrels)
    rng = np.random.default_rng(DEFAULT_SEED)
    random = np.array([mean_ndcg(rng.random(scores.shape), ids, keys, qrels) for _ in range(permutations)])
    judged = evaluation.restrict_qrels(qrels, keys)
    return {"images": len(keys), "queries": sum(1 for q in ids if judged.get(q)), "model ndcg@10": round(model, 2),
            "random ndcg@10 mean": round(float(random.mean()), 2), "random ndcg@10 sd": round(float(random.std()), 2),
            "p_value": round(float((random >= model).mean()), 4)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mode", default="sample")
    parser.add_argument("--permutations", type=int, default=2000)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    config = default_config(args.mode)
    run = cached_run(config)  # the book model, trained on the simulated corpus
    encoders = run_encoders(run)
    samples = list(corpus_samples(load_examples(), split=None))
    index = embed_dataset(encoders.image, samples, 16, info={"model": str(run)})
    table = pd.DataFrame({"key": index.keys, "labels": index.labels})
    queries = [q for q in make_queries(table["labels"].tolist(), regions=()) if q["kind"] in KINDS]
    qrels = make_qrels(queries, table)
    ids = [str(q["id"]) for q in queries]
    scores = query_scores(index, encoders, [str(q["text"]) for q in queries], remedy="none")
    corpora = {}
    for modality in ("s1", "s2"):
        rows = index.rows(modality)
        corpora[modality] = measure(scores[:, rows], ids, [index.keys[i] for i in rows], qrels, args.permutations)
    payload = {"mode": args.mode, "generator_version": GENERATOR_VERSION, "seed": config.seed, "run": str(run), "labels": dict(zip(index.keys, index.labels)),
               "queries": [q["text"] for q in queries], "corpora": corpora, "load_average": load_average(),
               "note": "model trained on simulated scenes only; 6 real images per sensor: very weak evidence"}  # fmt: skip
    write_result("sim_to_real", payload)
    lines = [f"# Sim-to-real: the sample-trained model (simulator generator {GENERATOR_VERSION}, seed {config.seed}) on the 6 real BigEarthNet pairs", "",
             "| corpus | images | queries | model nDCG@10 | random nDCG@10 (mean +- sd) | p (random >= model) |", "|---|---|---|---|---|---|"]  # fmt: skip
    for name, c in corpora.items():
        lines.append(f"| {name} | {c['images']} | {c['queries']} | {c['model ndcg@10']} | {c['random ndcg@10 mean']} +- "
                     f"{c['random ndcg@10 sd']} | {c['p_value']} |")  # fmt: skip
    (RESULTS / "sim_to_real.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
