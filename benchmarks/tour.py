"""Wall time and peak memory of the tour (``closp-lite tour``) with the corpus cached (issue 10).

    .venv/bin/python benchmarks/tour.py [--mode sample] [--threads 2]

The figure to reach: under 4 minutes on 2 cores with the simulated corpus already generated, and
under 2 GB peak memory. The corpus is generated first (not timed); then ``closp-lite tour`` runs in
a child process limited to ``--threads`` torch threads, and its wall time and peak resident memory
(``ru_maxrss`` of the child: the tour runs in one process in sample mode) are recorded with the
load average before and after, since the machine may be shared.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import load_average, write_result

from closp_lite.simulate import sample_corpus

BUDGET_S = 240
BUDGET_GB = 2.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mode", default="sample")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    sample_corpus(args.mode, progress=False)  # cached before timing, as the figure says
    env = {**os.environ, "CLOSP_LITE_MODE": args.mode, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
    before = load_average()
    with tempfile.TemporaryDirectory(prefix="closp-tour-") as out:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "closp_lite.cli", "tour", "--out", out], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        seconds = time.perf_counter() - start
    peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20  # KiB on Linux
    payload = {"mode": args.mode, "threads": args.threads, "seconds": round(seconds, 1), "peak_memory_gb": round(peak_gb, 2),
               "budget_seconds": BUDGET_S, "budget_gb": BUDGET_GB, "within_budget": seconds <= BUDGET_S and peak_gb <= BUDGET_GB,
               "load_average_before": before, "load_average_after": load_average(),
               "note": "corpus cached; on a shared machine (load average above the core count) the time is an upper bound"}  # fmt: skip
    write_result("tour", payload)
    print(payload)


if __name__ == "__main__":
    main()
