"""Learning rate / batch size / epochs / temperature sweep of sample-mode training (issue 10, chapter 5).

    .venv/bin/python benchmarks/sweep.py [--mode sample] [--only NAME ...]

Writes ``results/sweep.json`` and ``results/sweep.md``. Each setting is one training run of the
book's model (``closp_lite.book_model``, cached by settings + corpus, so a rerun reuses finished
runs) on the **simulated** sample corpus, one seed (42). Per setting: the final and best
validation loss as a fraction of its chance level log B (B = the validation batch), the training
loss likewise, the wall time, and retrieval nDCG@10 on a seeded sample of ``EVAL_PER_MODALITY``
S1 and as many S2 images of the test split (S1, S2 and mixed; raw cosine, no modality-gap remedy,
so only training differs; a sample, because embedding the whole corpus for every setting took
minutes each on the loaded machine). Each setting's measurement is cached in its run folder
(``sweep.json``), so a rerun only measures new settings. The chosen defaults live in
``closp_lite/config.py`` (epochs, batch size) and ``closp_lite/training.py`` (lr, temperature).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, corpus_queries, load_average, write_result

from closp_lite.book_model import DONE_FILE, cached_run, default_config
from closp_lite.data.datasets import CrisisLandMarkDataset
from closp_lite.experiments import corpus_labels, evaluate_index, run_encoders
from closp_lite.index import embed_dataset
from closp_lite.simulate import GENERATOR_VERSION
from closp_lite.training import read_log

EVAL_PER_MODALITY = 200

SETTINGS: dict[str, dict[str, Any]] = {
    "fixed scale 1.0, lr 3e-3, batch 64, 6 epochs": {"learnable_scale": False, "lr": 3e-3, "batch_size": 64, "epochs": 6},
    "learnable scale, lr 3e-3, batch 64, 6 epochs": {"learnable_scale": True, "lr": 3e-3, "batch_size": 64, "epochs": 6},
    "learnable scale, lr 1e-2, batch 64, 6 epochs": {"learnable_scale": True, "lr": 1e-2, "batch_size": 64, "epochs": 6},
    "learnable scale, lr 3e-3, batch 32, 6 epochs": {"learnable_scale": True, "lr": 3e-3, "batch_size": 32, "epochs": 6},
    "learnable scale, lr 1e-3, batch 64, 6 epochs": {"learnable_scale": True, "lr": 1e-3, "batch_size": 64, "epochs": 6},
}


def evaluation_keys(root: str) -> list[str]:
    """A seeded sample of ``EVAL_PER_MODALITY`` test images per modality (the same for every setting)."""
    import numpy as np

    rng = np.random.default_rng(42)
    by_modality: dict[str, list[str]] = {}
    for key, (modality, _) in corpus_labels(root).items():
        by_modality.setdefault(modality, []).append(key)
    return sorted(k for keys in by_modality.values() for k in rng.choice(keys, min(EVAL_PER_MODALITY, len(keys)), replace=False))


def measure(mode: str, overrides: dict[str, Any], queries: list[dict[str, Any]], qrels: dict[str, dict[str, int]]) -> dict[str, Any]:
    """Train (or reuse) one setting and measure its losses and retrieval (cached in the run folder)."""
    config = default_config(mode, **overrides)
    run = cached_run(config)
    if (run / "sweep.json").is_file():
        return json.loads((run / "sweep.json").read_text())
    seconds = json.loads((run / DONE_FILE).read_text())["seconds"]  # of the training, whenever it ran
    log = read_log(run)
    encoders = run_encoders(run)
    root = config.data or ""
    samples = CrisisLandMarkDataset(root, split="test", keys=evaluation_keys(root))
    index = embed_dataset(encoders.image, (samples[i] for i in range(len(samples))), 64)
    metrics = evaluate_index(index, encoders, queries, qrels, ndcg_k=10, remedy="none")["metrics"]
    last, best = log[-1], min(log, key=lambda row: row["val_loss"])
    result = {
        "settings": overrides,
        "steps": int(last["step"]),
        "final_val_over_chance": round(last["val_loss"] / last["val_chance"], 3),
        "best_val_over_chance": round(best["val_loss"] / best["val_chance"], 3),
        "final_train_over_chance": round(last["train_loss"] / last["train_chance"], 3),
        "final_scale": round(last["scale"], 2),
        "curves": {k: [round(row[k], 3) for row in log] for k in ("train_loss", "train_chance", "val_loss", "val_chance")},
        "train_seconds": round(seconds, 1),
        "ndcg@10": {corpus: round(m["ndcg@10"], 2) for corpus, m in metrics.items()},
        "load_average_after": load_average(),
    }
    (run / "sweep.json").write_text(json.dumps(result))
    return result


def markdown(results: dict[str, Any], mode: str) -> str:
    """The sweep as a table for people."""
    lines = [f"# Training sweep ({mode} mode, simulated corpus of generator {GENERATOR_VERSION}, seed 42)", "",
             f"nDCG@10 on a seeded sample of {EVAL_PER_MODALITY} S1 + {EVAL_PER_MODALITY} S2 test images, raw cosine.", "",
             "| setting | steps | final val / chance | best val / chance | train / chance | nDCG@10 S1 | S2 | mixed (raw) | train s |",
             "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for name, r in results.items():
        n = r["ndcg@10"]
        lines.append(f"| {name} | {r['steps']} | {r['final_val_over_chance']} | {r['best_val_over_chance']} | "
                     f"{r['final_train_over_chance']} | {n['s1']} | {n['s2']} | {n['mixed']} | {r['train_seconds']} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mode", default="sample")
    parser.add_argument("--only", nargs="*", help="names of settings to run (default: all)")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)  # the machine is shared; every setting gets the same single core
    queries, qrels = corpus_queries(Path(default_config(args.mode).data or ""))
    results = {}
    for name, overrides in SETTINGS.items():
        if not args.only or name in args.only:
            results[name] = measure(args.mode, overrides, queries, qrels)
            print(name, {k: results[name][k] for k in ("final_val_over_chance", "ndcg@10", "train_seconds")}, flush=True)
    payload = {"mode": args.mode, "generator_version": GENERATOR_VERSION, "seed": 42, "torch_threads": 1, "load_average_start_end": load_average(), "settings": results,
               "note": "simulated corpus; single seed; timings on a shared 2-core machine are upper bounds (see load averages)"}  # fmt: skip
    write_result("sweep", payload)
    (RESULTS / "sweep.md").write_text(markdown(results, args.mode))


if __name__ == "__main__":
    main()
