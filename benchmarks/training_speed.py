"""Time one CLOSP-lite training run (chapter 5): samples per second, total seconds, how the step
time splits into data loading and compute (from the run's ``log.csv``) and the peak memory.

    .venv/bin/python benchmarks/training_speed.py [--mode sample] [--epochs N]

Writes ``benchmarks/results/training_speed.json``. The data is the simulated corpus of the mode.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_result

from closp_lite.simulate import sample_corpus
from closp_lite.training import TrainConfig, train


def peak_memory_gb() -> float:
    """Peak resident memory of this process so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def measure(mode: str, epochs: int | None) -> dict[str, Any]:
    """Train once in a temporary folder and return the timings (chapter 5)."""
    sample_corpus(mode)  # build the simulated corpus first so its cost is not counted as training
    config = TrainConfig(mode=mode, epochs=epochs).resolved()
    with tempfile.TemporaryDirectory() as out_dir:
        result = train(config, out_dir, progress=False)
    last = result.log[-1]  # data_s and compute_s accumulate over the run
    step_s = last["data_s"] + last["compute_s"]
    return {
        "mode": mode,
        "epochs": config.epochs,
        "batch_size": config.batch_size,
        "steps": result.steps,
        "seconds_total": round(result.seconds, 2),
        "samples_per_s": round(result.samples_per_second, 1),
        "data_loading_s": round(last["data_s"], 2),
        "compute_s": round(last["compute_s"], 2),
        "data_loading_fraction": round(last["data_s"] / step_s, 3) if step_s else None,
        "validation_and_checkpoint_s": round(result.seconds - step_s, 2),
        "final_train_loss": round(last["train_loss"], 4),
        "best_val_loss": round(result.best_val_loss, 4),
        "peak_memory_gb": round(peak_memory_gb(), 2),
    }


def main() -> None:
    """Parse the arguments, measure and write the result file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", default="sample", choices=["tiny", "sample", "full"])
    parser.add_argument("--epochs", type=int, default=None, help="default: the mode's epochs")
    args = parser.parse_args()
    payload = measure(args.mode, args.epochs)
    print(payload)
    print(write_result("training_speed", payload))


if __name__ == "__main__":
    main()
