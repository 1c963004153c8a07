"""The transfer claim: does optical data help SAR retrieval through a trainable text tower? (issue 10, chapter 6)

    .venv/bin/python benchmarks/transfer_claim.py [--mode sample] [--seeds 0 1 2] [--fractions 0.05 0.2 1.0]

CLOSP's unified training is said to carry optical knowledge to SAR through the text bridge. With a
frozen text tower it cannot (chapter 6: the S1 tower's gradient never sees an S2 image), so both
arms here fine-tune MiniLM (``ModelConfig(train_text=True)``, ``text_lr`` below). SAR supervision
is made scarce: a seeded 5 %, 20 % or 100 % of the S1 training set, all of S2.

* ``unified``: S1 subset + all S2, the default settings of the book model otherwise, but
  ``EPOCHS`` epochs (to fit the machine);
* ``sar-only``: the same S1 subset alone, trained for the **same number of optimiser steps** (more
  epochs over the smaller set), so the arms differ only in the S2 batches.

Measured: S1-corpus nDCG@10 (and @1000) on the searched ``test`` split, per arm, fraction and seed,
and the paired difference unified - SAR-only (mean, standard deviation over the seeds). All data
**simulated**. Each finished run is cached as a small JSON file in ``data_dir()/transfer_claim``,
so several processes can share the seeds and a rerun only trains what is missing.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, corpus_queries, load_average, write_result

from closp_lite.book_model import corpus_fingerprint, default_config
from closp_lite.config import data_dir
from closp_lite.experiments import corpus_samples, evaluate_index, run_encoders
from closp_lite.index import embed_dataset
from closp_lite.models.closp import ModelConfig
from closp_lite.simulate import GENERATOR_VERSION
from closp_lite.training import TrainConfig, corpus_splits, steps_per_epoch, train

TEXT_LR = 1e-4  # 5x the library default: a handful of steps must be able to move the text vectors at all
EPOCHS = 3  # half the book model's 6: 18 runs that fine-tune MiniLM must fit a shared 2-core machine
BATCH_SIZE = 64  # fewer, larger steps than the book model's 32, for the same reason
FRACTIONS = (0.05, 0.2, 1.0)
SEEDS = (0, 1, 2)


def scarce_splits(config: TrainConfig, fraction: float, modalities: tuple[str, ...]) -> dict[str, Any]:
    """The corpus splits with only a seeded ``fraction`` of the S1 training set."""
    import torch

    splits = corpus_splits(replace(config, modalities=("s1", "s2")))
    train_s1, val_s1 = splits["s1"]
    n = max(2, round(fraction * len(train_s1)))
    keep = sorted(torch.randperm(len(train_s1), generator=torch.Generator().manual_seed(config.seed)).tolist()[:n])
    splits["s1"] = (torch.utils.data.Subset(train_s1, keep), val_s1)
    return {m: splits[m] for m in modalities}


def s1_ndcg(run: Path, root: str, queries: list[dict[str, Any]], qrels: dict[str, dict[str, int]]) -> dict[str, float]:
    """nDCG@10 and @1000 of a run on the S1 corpus (only S1 images are embedded)."""
    encoders = run_encoders(run)
    index = embed_dataset(encoders.image, (s for s in corpus_samples(root) if s["modality"] == "s1"), 128)
    at10 = evaluate_index(index, encoders, queries, qrels, ndcg_k=10, remedy="none")["metrics"]["s1"]["ndcg@10"]
    at1000 = evaluate_index(index, encoders, queries, qrels, ndcg_k=1000, remedy="none")["metrics"]["s1"]["ndcg@1000"]
    return {"ndcg@10": round(at10, 3), "ndcg@1000": round(at1000, 3)}


def _base(mode: str, seed: int) -> TrainConfig:
    return default_config(mode, seed=seed, epochs=EPOCHS, batch_size=BATCH_SIZE, text_lr=TEXT_LR, model=ModelConfig(train_text=True))


def _cache(base: TrainConfig, arm: str, fraction: float) -> Path:
    return data_dir() / "transfer_claim" / f"{base.mode}-{corpus_fingerprint(base.data or '')}-{arm}-{fraction}-{base.seed}.json"


def one_run(mode: str, arm: str, fraction: float, seed: int, queries: list[dict[str, Any]], qrels: dict[str, dict[str, int]]) -> dict[str, Any]:
    """Train one arm (cached by its settings) and measure it."""
    base = _base(mode, seed)
    cache = _cache(base, arm, fraction)
    if cache.is_file():
        return json.loads(cache.read_text())
    unified = scarce_splits(base, fraction, ("s1", "s2"))
    steps = steps_per_epoch(unified, base.batch_size or 1) * (base.epochs or 1)
    if arm == "unified":
        config, splits = base, unified
    else:
        splits = scarce_splits(base, fraction, ("s1",))
        config = replace(base, modalities=("s1",), epochs=math.ceil(steps / steps_per_epoch(splits, base.batch_size or 1)))
    with tempfile.TemporaryDirectory(prefix="closp-transfer-") as folder:
        result = train(config, Path(folder) / "run", splits=splits, progress=False)
        measured = s1_ndcg(Path(folder) / "run", base.data or "", queries, qrels)
    record = {"arm": arm, "fraction": fraction, "seed": seed, "s1_train_images": len(splits["s1"][0]), "steps": result.steps,
              "epochs": config.epochs, "seconds": round(result.seconds, 1), **measured}  # fmt: skip
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(record))
    return record


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per fraction: mean nDCG@10 per arm and the paired unified - SAR-only difference over seeds."""
    out = {}
    for fraction in sorted({r["fraction"] for r in runs}):
        by = {(r["arm"], r["seed"]): r for r in runs if r["fraction"] == fraction}
        seeds = sorted({s for _, s in by if ("unified", s) in by and ("sar-only", s) in by})
        if not seeds:
            continue  # no finished pair yet
        diffs = [by[("unified", s)]["ndcg@10"] - by[("sar-only", s)]["ndcg@10"] for s in seeds]
        out[str(fraction)] = {
            "seeds": seeds,
            "s1_train_images": by[("unified", seeds[0])]["s1_train_images"] if seeds else None,
            **{f"{arm} ndcg@10": round(float(np.mean([by[(arm, s)]["ndcg@10"] for s in seeds])), 2) for arm in ("unified", "sar-only")},
            "difference mean": round(float(np.mean(diffs)), 2) if diffs else None,
            "difference sd": round(float(np.std(diffs, ddof=1)), 2) if len(diffs) > 1 else None,
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mode", default="sample")
    parser.add_argument("--seeds", type=int, nargs="*", default=list(SEEDS))
    parser.add_argument("--fractions", type=float, nargs="*", default=list(FRACTIONS))
    parser.add_argument("--no-write", action="store_true", help="only fill the run cache (another process writes the result)")
    parser.add_argument("--collect", action="store_true", help="train nothing: write the result from the runs cached so far")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    plan = [(arm, f, s) for s in args.seeds for f in args.fractions for arm in ("unified", "sar-only")]
    if args.collect:
        caches = [_cache(_base(args.mode, s), arm, f) for arm, f, s in plan]
        runs = [json.loads(c.read_text()) for c in caches if c.is_file()]
    else:
        queries, qrels = corpus_queries(Path(default_config(args.mode).data or ""))
        runs = [one_run(args.mode, arm, f, s, queries, qrels) for arm, f, s in plan]
    summary = summarise(runs)
    print(json.dumps(summary, indent=1))
    if args.no_write:
        return
    payload = {"mode": args.mode, "generator_version": GENERATOR_VERSION, "seeds": sorted({r["seed"] for r in runs}), "planned_runs": len(plan), "finished_runs": len(runs), "text_lr": TEXT_LR, "epochs_unified": EPOCHS, "batch_size": BATCH_SIZE, "summary": summary, "runs": runs, "load_average": load_average(),
               "note": "simulated corpus; both arms fine-tune the text tower; same optimiser steps per pair"}  # fmt: skip
    write_result("transfer_claim", payload)
    lines = ["# Transfer claim: S1 nDCG@10, unified vs SAR-only, trainable text tower (simulated)", "",
             f"Simulator generator {GENERATOR_VERSION}; {len(runs)} of {len(plan)} planned runs; seeds {sorted({r['seed'] for r in runs})}.", "",
             "| S1 share of training set | S1 images | unified | SAR-only | difference (mean +- sd over seeds) |", "|---|---|---|---|---|"]  # fmt: skip
    for fraction, row in summary.items():
        lines.append(f"| {float(fraction):.0%} | {row['s1_train_images']} | {row['unified ndcg@10']} | {row['sar-only ndcg@10']} | "
                     f"{row['difference mean']} +- {row['difference sd']} |")  # fmt: skip
    (RESULTS / "transfer_claim.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
