"""Progressive transfer (natural -> optical -> SAR) against direct transfer and training from scratch (chapter 8).

    .venv/bin/python benchmarks/transfer.py [--seeds 0 1 2] [--fractions 0.1 0.3 1.0] [--steps 16]
    .venv/bin/python benchmarks/transfer.py --report-only     # rewrite transfer.md from transfer.json
    .venv/bin/python benchmarks/transfer.py --seeds 1 --name transfer_seed1   # seeds in parallel processes ...
    .venv/bin/python benchmarks/transfer.py --report-only --merge transfer_seed1 transfer_seed2   # ... merged

Four schedules (``closp_lite.transfer.SCHEDULES``: scratch, direct, optical, progressive) x seeds x
shares of the S1 training set, every SAR stage with the same number of optimiser steps, on the
**simulated** sample corpus. The optical stage (trained once per seed and start, then shared by the
data sizes, since it never sees SAR data) has as many steps as the SAR stage. Metrics: SAR-TEXT's
R@1/5/10 in both directions, mR and nDCG@10 on the S1 test corpus and on the 6 real S1 patches.
Writes ``benchmarks/results/transfer.{json,md}`` (the JSON after every run, so an interrupted
benchmark keeps what it measured).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, load_average, write_result

NAME = "transfer"
BUDGET_S = 20 * 60  # the budget for the whole experiment in sample mode on 2 cores
PAPER = {"OSdataset-512": 12.97, "HRSID": 10.0}  # SAR-TEXT v2/v3: mR of progressive over direct transfer
DIFFERENCES = (
    "SAR-TEXT fine-tunes an OpenCLIP ViT-L/14 (about 300 M image parameters, pretrained on 2 billion "
    "image-text pairs, text tower trained too) on 136,584 real SAR image-caption pairs at 224 px or more, "
    "after an optical stage on large remote-sensing caption sets. Here: EfficientNet-Lite0 (4.7 M "
    "parameters, ImageNet classification, no text), a frozen MiniLM text tower, a few hundred simulated "
    "patches shrunk to 32 px, captions written from labels, and tens of optimiser steps per stage on 2 "
    "CPU cores. The ranking of the schedules can transfer; the size of the gains need not."
)


def _load_data(root: Path, size: int) -> dict[str, Any]:
    from closp_lite.data.examples import load_examples
    from closp_lite.transfer import SAR_STYLE, load_pairs

    return {
        "optical": load_pairs(root, "s2", "train", SAR_STYLE, size),
        "sar": load_pairs(root, "s1", "train", SAR_STYLE, size),
        "s1_test": load_pairs(root, "s1", "test", SAR_STYLE, size),
        "real_examples": load_pairs(load_examples(), "s1", None, SAR_STYLE, size),
    }


def share_optical(source: Path, target: Path, config: Any) -> None:
    """Let ``target`` (settings ``config``) resume after the optical stage that ``source`` trained (same seed and start).

    The two runs differ only in the share of SAR data, which the optical stage never sees, so the
    state is written with ``target``'s settings: resuming checks them against the run's own.
    """
    from dataclasses import asdict

    from closp_lite.transfer import STATE_FILE

    target.mkdir(parents=True)
    state = json.loads((source / STATE_FILE).read_text())
    shared = {k for k, v in state["config"].items() if v != asdict(config)[k]}
    assert shared <= {"sar_fraction"}, f"only the SAR share may differ, not {shared}"
    optical = [stage for stage in state["stages"] if stage["stage"] == "optical"]
    (target / optical[0]["folder"]).symlink_to(source / optical[0]["folder"], target_is_directory=True)
    (target / STATE_FILE).write_text(json.dumps({**state, "config": asdict(config), "stages": optical, "metrics": {}}))


def _curve(run_dir: Path) -> list[list[float]]:
    from closp_lite.training import read_log

    return [[row["step"], round(row["val_s1"], 4), round(row["val_chance"], 4)] for row in read_log(run_dir)]


def _chance(data: dict[str, Any], seed: int) -> dict[str, dict[str, float]]:
    from closp_lite.transfer import sar_text_metrics

    rng = np.random.default_rng(seed)
    out = {}
    for name in ("s1_test", "real_examples"):
        pairs = data[name]
        vectors = rng.normal(size=(2, len(pairs), 16))
        out[name] = sar_text_metrics(vectors[0], vectors[1], pairs)
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Train and evaluate every schedule x seed x SAR data share; return the payload of the result file."""
    import torch

    from closp_lite.simulate import sample_corpus
    from closp_lite.transfer import SCHEDULES, TransferConfig, embed_pairs, run_schedule, sar_text_metrics

    torch.set_num_threads(args.threads)
    start, cpu_start = time.perf_counter(), time.process_time()  # data loading counts towards the budget
    root = sample_corpus("sample", progress=False)
    data = _load_data(root, args.input_size)
    settings = {"mode": "sample (simulated corpus)", "corpus": root.name, "steps_per_stage": args.steps, "batch_size": args.batch_size, "lr": args.lr,
                "input_size": args.input_size, "seeds": args.seeds, "fractions": args.fractions, "threads": args.threads,
                "s1_train_patches": len(data["sar"]), "s2_train_patches": len(data["optical"]),
                "s1_test_patches": len(data["s1_test"]), "caption_style": "sar-rewrite"}  # fmt: skip
    payload: dict[str, Any] = {"settings": settings, "paper_mR_gain": PAPER, "differences": DIFFERENCES,
                               "chance": _chance(data, 0), "runs": [], "load_average_start": load_average()}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for seed in args.seeds:
            for fraction in sorted(args.fractions, reverse=True):
                for schedule, name in SCHEDULES.items():
                    out = work / f"{name}-seed{seed}-{fraction}"
                    first = work / f"{name}-seed{seed}-{max(args.fractions)}"
                    config = TransferConfig(schedule=schedule, mode="sample", seed=seed, steps=args.steps, batch_size=args.batch_size,
                                            lr=args.lr, input_size=args.input_size, sar_fraction=fraction)  # fmt: skip
                    if "optical" in schedule and out != first:
                        share_optical(first, out, config.resolved())
                    tick = time.perf_counter()
                    result = run_schedule(config, out, resume=out.exists(), data=data, evaluate=False, progress=False)
                    from closp_lite.models.closp import CLOSP

                    model = CLOSP.load(out / result.stages[-1]["folder"])
                    metrics = {c: sar_text_metrics(*embed_pairs(model, data[c]), data[c]) for c in ("s1_test", "real_examples")}
                    payload["runs"].append({"schedule": name, "stages": schedule, "seed": seed, "fraction": fraction,
                                            "sar_train_size": result.stages[-1]["train_size"], "sar_steps": result.stages[-1]["steps"],
                                            "metrics": metrics, "sar_curve": _curve(out / result.stages[-1]["folder"]),
                                            "seconds": round(time.perf_counter() - tick, 1), "load_average": load_average()})  # fmt: skip
                    payload["seconds_total"] = round(time.perf_counter() - start, 1)
                    payload["cpu_seconds_total"] = round(time.process_time() - cpu_start, 1)
                    print(f"{name:12s} seed {seed} fraction {fraction}: mR {metrics['s1_test']['mR']:.2f} "
                          f"({time.perf_counter() - tick:.0f} s, total {payload['seconds_total']:.0f} s)", flush=True)  # fmt: skip
                    write_result(args.name, payload)
                    if "optical" not in schedule or out != first:
                        shutil.rmtree(out, ignore_errors=True)
    payload["load_average_end"] = load_average()
    return payload


def _timing(result: dict[str, Any]) -> str:
    """Wall and CPU time against the budget, with the load the run shared the machine with."""
    parts = [result, *result.get("parts", [])]
    wall = [part.get("seconds_total") or 0 for part in parts]
    cpu = [part.get("cpu_seconds_total") for part in parts]
    loads = [r["load_average"][0] for r in result["runs"] if r.get("load_average")]
    text = f"{len(wall)} process(es) of {', '.join(f'{x:.0f}' for x in wall)} s wall"
    if all(c is not None for c in cpu):
        text += f" ({', '.join(f'{c:.0f}' for c in cpu)} s CPU)"
    if loads:
        text += f", 1-minute load {min(loads):.1f}-{max(loads):.1f} during the runs"
    verdict = "met" if max(wall) <= BUDGET_S else "not met"
    return f"{text}. Budget {BUDGET_S // 60} min in all: {verdict} ({max(wall) / 60:.1f} min)."


def _cell(values: list[float] | None, digits: int = 2, sign: str = "") -> str:
    if values is None:
        return "-"
    mean, std, n = values
    spread = f" +- {std:.{digits}f}" if n > 1 else ""
    return f"{mean:{sign}.{digits}f}{spread} (n={n})"


def markdown(record: dict[str, Any]) -> str:
    """The human-readable report of a result record."""
    from closp_lite.transfer import schedule_gains, summarize_runs

    result = record["results"]
    runs = result["runs"]
    settings = result["settings"]
    fractions = sorted({str(r["fraction"]) for r in runs}, key=float)
    seeds = sorted({r["seed"] for r in runs})
    lines = [f"# Progressive transfer on SAR retrieval (`{record['command']}`, {record['date']})", "",
             f"Simulated sample corpus `{settings.get('corpus', '?')}`, {settings['s1_train_patches']} S1 / {settings['s2_train_patches']} S2 training patches, "
             f"{settings['s1_test_patches']} S1 test patches, {settings['input_size']} px, batch {settings['batch_size']}, "
             f"{settings['steps_per_stage']} optimiser steps per stage, lr {settings['lr']}, seeds {seeds}; "
             f"{record['machine']['cpu']} ({record['machine']['cpu_count']} cores, {settings['threads']} torch thread(s)); "
             + _timing(result), "",
             *([result["note"], ""] if result.get("note") else []),
             "## mR on the S1 test corpus (mean +- std over seeds; percent)", "",
             "| schedule | " + " | ".join(f"{float(f):.0%} of S1 train" for f in fractions) + " |", "|---|" + "---|" * len(fractions)]  # fmt: skip
    for schedule, by_fraction in summarize_runs(runs).items():
        lines.append(f"| {schedule} | " + " | ".join(_cell(by_fraction.get(f)) for f in fractions) + " |")
    chance = result["chance"]["s1_test"]["mR"]
    lines += ["", f"Chance (one draw of random vectors): mR {chance:.2f}.", "",
              "## Gains in mR (per-seed differences, mean +- std)", "", "| difference | " + " | ".join(f"{float(f):.0%}" for f in fractions) + " |",
              "|---|" + "---|" * len(fractions)]  # fmt: skip
    for better, worse in (("progressive", "direct"), ("direct", "scratch"), ("optical", "scratch"), ("progressive", "scratch")):
        gain = schedule_gains(runs, better, worse)
        lines.append(f"| {better} - {worse} | " + " | ".join(_cell(gain.get(f), sign="+") for f in fractions) + " |")
    lines += ["", f"SAR-TEXT reports progressive - direct = +{PAPER['OSdataset-512']} mR (OSdataset-512) and +{PAPER['HRSID']} (HRSID).",
              "", "What differs: " + result["differences"], "",
              "## The 6 real S1 patches (mR, mean +- std over seeds)", ""]  # fmt: skip
    for schedule, by_fraction in summarize_runs(runs, "real_examples").items():
        lines.append(f"- {schedule}: " + ", ".join(f"{float(f):.0%}: {_cell(by_fraction.get(f), 1)}" for f in fractions))
    lines += ["", "Six images make these numbers very coarse (one rank moves R@1 by 16.7 points)."]
    return "\n".join(lines) + "\n"


def main() -> None:
    """Parse the arguments, run (or only report) and write the result files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.1, 0.3, 1.0])
    parser.add_argument("--steps", type=int, default=16, help="optimiser steps of every stage")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--input-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a shared 2-core machine)")
    parser.add_argument("--name", default=NAME, help="result file name (another name for a part run in parallel)")
    parser.add_argument("--report-only", action="store_true", help="rewrite transfer.md from transfer.json")
    parser.add_argument("--merge", nargs="*", default=[], help="with --report-only: add the runs of these part files to transfer.json, then delete them")
    args = parser.parse_args()
    if not args.report_only:
        path = write_result(args.name, run(args))
        print(f"wrote {path}")
        if args.name != NAME:
            return
    record = json.loads((RESULTS / f"{NAME}.json").read_text())
    for part in args.merge:
        extra = json.loads((RESULTS / f"{part}.json").read_text())
        record["results"]["runs"] += extra["results"]["runs"]
        record["results"]["settings"]["seeds"] = sorted({r["seed"] for r in record["results"]["runs"]})
        record["results"].setdefault("parts", []).append({"command": extra["command"], "date": extra["date"],
                                                          "seconds_total": extra["results"].get("seconds_total")})  # fmt: skip
        (RESULTS / f"{NAME}.json").write_text(json.dumps(record, indent=2, default=str) + "\n")
        (RESULTS / f"{part}.json").unlink()
    (RESULTS / f"{NAME}.md").write_text(markdown(record))
    print(f"wrote {RESULTS / f'{NAME}.md'}")


if __name__ == "__main__":
    main()
