"""torch.compile under DDP (chapter 10): one small full-mode run in 2 ``torchrun`` processes (Gloo,
CPU), eager, compiled, and compiled again but interrupted and resumed.

    .venv/bin/python benchmarks/compile_ddp.py [--epochs 4] [--batch-size 2] [--width 32] [--stop-after 3]

Records the wall seconds of each run (the whole launch: process start, imports, compilation,
training; the interrupted run counts both of its launches) and the training loop's own seconds
(rank 0's ``TrainResult.seconds``, summed over launches), and the largest absolute difference of
any final weight between compiled and eager, and between the resumed compiled run and the
uninterrupted one. Each launch gets an empty inductor cache, so every compilation is paid in full,
as on a fresh node (a requeued job on another node compiles again too).

Writes ``benchmarks/results/compile_ddp.json`` (read by chapter 10) and ``compile_ddp.md``. The
corpus is the simulated tiny one; the numbers are timings of a shared 2-core machine (the load
average is recorded) and say how compilation behaves under DDP, not how fast a GPU trains.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, load_average, write_result

PROCESSES = 2


def worker(out: Path, data: str, compiled: bool, epochs: int, batch_size: int, width: int, stop_after: int | None, resume: bool) -> None:
    """One launch's work in each ``torchrun`` process: train (or resume) the run in ``out``; rank 0 writes ``timing<n>.json`` (the run keeps its own ``launch.json``)."""
    import torch

    from closp_lite.distributed import context
    from closp_lite.models.closp import ModelConfig
    from closp_lite.training import TrainConfig, train

    torch.set_num_threads(1)  # 2 processes on 2 cores
    config = TrainConfig(mode="full", data=data, epochs=epochs, batch_size=batch_size, workers=0, compile=compiled, model=ModelConfig(width=width))
    result = train(config, out, resume=resume, stop_after=stop_after, progress=False)
    if context().is_main:
        (out / f"timing{int(resume)}.json").write_text(json.dumps({"steps": result.steps, "train_s": result.seconds}))


def launch(out: Path, data: str, compiled: bool, args: argparse.Namespace, stop_after: int | None = None, resume: bool = False) -> float:
    """Run :func:`worker` under ``torchrun --standalone`` with :data:`PROCESSES` processes; return the wall seconds."""
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(PROCESSES), __file__, "--worker", str(out),
               "--data", data, "--epochs", str(args.epochs), "--batch-size", str(args.batch_size), "--width", str(args.width)]  # fmt: skip
    command += ["--compiled"] * compiled + ["--stop", str(stop_after)] * (stop_after is not None) + ["--resume"] * resume
    with tempfile.TemporaryDirectory(prefix="inductor-") as cache:  # an empty cache: the compilation is paid in full
        env = {**os.environ, "OMP_NUM_THREADS": "1", "TORCHINDUCTOR_CACHE_DIR": cache}
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        seconds = time.perf_counter() - start
    if done.returncode:
        raise RuntimeError(f"torchrun failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return seconds


def final_weights(run: Path) -> dict[str, Any]:
    """The model tensors of a run's last checkpoint."""
    import torch

    return torch.load(run / "checkpoint.pt", weights_only=True)["model"]


def max_difference(a: dict[str, Any], b: dict[str, Any]) -> float:
    """The largest absolute difference of any weight of two states with the same names."""
    if set(a) != set(b):
        raise ValueError(f"the runs have different tensors: {sorted(set(a) ^ set(b))[:5]}")
    return max(float((a[k].double() - b[k].double()).abs().max()) for k in a)


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Train the three runs in a temporary folder; return rows, differences and settings."""
    from closp_lite.simulate import sample_corpus

    data = str(sample_corpus("tiny", progress=False))  # made before timing, and before two processes could race to make it
    loads = [load_average()]
    rows = []
    with tempfile.TemporaryDirectory(prefix="compile-ddp-") as tmp:
        runs = {name: Path(tmp) / name for name in ("eager", "compiled", "compiled_resumed")}
        for name, compiled in (("eager", False), ("compiled", True)):
            rows.append({"run": name, "launches": 1, "wall_s": launch(runs[name], data, compiled, args)})
            loads.append(load_average())
        wall = launch(runs["compiled_resumed"], data, True, args, stop_after=args.stop_after)
        wall += launch(runs["compiled_resumed"], data, True, args, resume=True)
        rows.append({"run": "compiled_resumed", "launches": 2, "wall_s": wall})
        loads.append(load_average())
        for row in rows:
            run = runs[row["run"]]
            records = [json.loads(path.read_text()) for path in sorted(run.glob("timing*.json"))]
            row |= {"steps": records[-1]["steps"], "train_s": round(sum(r["train_s"] for r in records), 2), "wall_s": round(row["wall_s"], 2)}
        weights = {name: final_weights(run) for name, run in runs.items()}
    settings = {"mode": "full", "corpus": "simulated tiny", "processes": PROCESSES, "backend": "gloo (CPU)", "threads_per_process": 1,
                "epochs": args.epochs, "batch_size_per_process": args.batch_size, "width": args.width, "stop_after": args.stop_after,
                "inductor_cache": "empty for every launch"}  # fmt: skip
    return {
        "settings": settings,
        "rows": rows,
        "max_abs_diff": {
            "compiled_vs_eager": max_difference(weights["compiled"], weights["eager"]),
            "resumed_vs_uninterrupted": max_difference(weights["compiled_resumed"], weights["compiled"]),
        },
        "load_average": loads,
    }


def markdown(record: dict[str, Any]) -> str:
    """The result as a short Markdown report."""
    result, s = record["results"], record["results"]["settings"]
    lines = [f"# torch.compile under DDP: {s['processes']} torchrun processes, {s['backend']}, full mode on the {s['corpus']} corpus", "",
             f"{s['epochs']} epochs, batch {s['batch_size_per_process']} per process, width {s['width']}; the interrupted run stops after "
             f"step {s['stop_after']} and is resumed by a second launch; inductor cache {s['inductor_cache']}.", "",
             "| run | launches | steps | wall s | training loop s |", "|---|---|---|---|---|"]  # fmt: skip
    lines += [f"| {r['run']} | {r['launches']} | {r['steps']} | {r['wall_s']} | {r['train_s']} |" for r in result["rows"]]
    diff = result["max_abs_diff"]
    lines += ["", f"Largest absolute weight difference: compiled vs eager {diff['compiled_vs_eager']:.3g}, "
              f"resumed vs uninterrupted (both compiled) {diff['resumed_vs_uninterrupted']:.3g}.", "",
              f"Load average (1, 5, 15 min) before and after each run: {result['load_average']}.", "",
              f"Command: `{record['command']}`; {record['date']}; {record['machine']['cpu']} ({record['machine']['cpu_count']} cores), torch {record['machine'].get('torch')}.", ""]  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    """Parse the arguments; measure and write the result files, or (``--worker``) be one torchrun process."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=2, help="per process (the tiny corpus has about 10 training patches per modality)")
    parser.add_argument("--width", type=int, default=32, help="channels of the small CNN towers")
    parser.add_argument("--stop-after", type=int, default=3, help="the interrupted run stops after this step (mid-epoch)")
    parser.add_argument("--worker", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--data", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--compiled", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--resume", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--stop", type=int, default=None, help=argparse.SUPPRESS)  # the worker's stop_after (None: to the end)
    args = parser.parse_args()
    if args.worker is not None:
        worker(args.worker, args.data, args.compiled, args.epochs, args.batch_size, args.width, args.stop, args.resume)
        return
    path = write_result("compile_ddp", measure(args))
    (RESULTS / "compile_ddp.md").write_text(markdown(json.loads(path.read_text())))
    print((RESULTS / "compile_ddp.md").read_text())


if __name__ == "__main__":
    main()
