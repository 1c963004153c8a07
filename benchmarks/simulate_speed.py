"""Speed of the scene simulator on one core: patches per second, rendering alone and written to disk.

    .venv/bin/python benchmarks/simulate_speed.py [--n 300] [--seed 0]

Writes ``benchmarks/results/simulate_speed.json``: S1 and S2 rendering rates (no files), the rate
of a whole corpus written through the CrisisLandMark writer (in one process, and with two
rendering processes feeding the writing one, as ``sample_corpus`` does on a 2-core Binder machine;
BLAS/FFT threads pinned to 1 per process), and the time a 10,000-patch subset takes at those rates.
Aim (issue 10): at least 60 patches/s per modality on one core; the rates per CPU second say what
one free core gives when the machine is shared.
"""

from __future__ import annotations

import os

# One core: BLAS and FFT thread pools must not borrow the other one.
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"

import argparse  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_result  # noqa: E402

from closp_lite.simulate.corpus import generate_corpus, make_patch, plan_corpus  # noqa: E402


def render_rate(modality: str, n: int, seed: int) -> tuple[float, float]:
    """Patches per second of :func:`make_patch` for one modality (no file output): per wall-clock and per CPU second.

    On a shared machine the wall-clock rate falls with the load; the rate per CPU second of this
    process is what one free core would give.
    """
    plans = plan_corpus(n if modality == "s1" else 0, n if modality == "s2" else 0, seed)
    start, cpu = time.perf_counter(), time.process_time()
    for plan in plans:
        make_patch(plan, seed)
    return n / (time.perf_counter() - start), n / (time.process_time() - cpu)


def corpus_rate(n: int, seed: int, workers: int = 0) -> tuple[float, int]:
    """Patches per second of :func:`generate_corpus` (n S1 + n S2, written to a temporary folder) and its size in bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        generate_corpus(Path(tmp) / "corpus", n, n, seed, progress=False, workers=workers)
        seconds = time.perf_counter() - start
        size = sum(p.stat().st_size for p in Path(tmp).rglob("*") if p.is_file())
    return 2 * n / seconds, size


def main() -> None:
    """Measure and write the result file."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=300, help="patches per modality")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    make_patch(plan_corpus(1, 0, args.seed)[0], args.seed)  # warm caches (pyproj transformers)
    load_before = round(os.getloadavg()[0], 2)
    s1, s1_cpu = render_rate("s1", args.n, args.seed)
    s2, s2_cpu = render_rate("s2", args.n, args.seed)
    written, size = corpus_rate(args.n, args.seed)
    two_workers, _ = corpus_rate(args.n, args.seed, workers=2)
    payload = {
        "patches_per_modality": args.n,
        "threads": 1,
        "render_s1_patches_per_s": round(s1, 1),
        "render_s2_patches_per_s": round(s2, 1),
        "render_s1_patches_per_cpu_s": round(s1_cpu, 1),
        "render_s2_patches_per_cpu_s": round(s2_cpu, 1),
        "load_average_1min_before": load_before,
        "corpus_patches_per_s": round(written, 1),
        "corpus_bytes_per_patch": round(size / (2 * args.n)),
        "minutes_for_10000_patches": round(10_000 / written / 60, 2),
        "corpus_patches_per_s_2_render_processes": round(two_workers, 1),
        "minutes_for_10000_patches_2_render_processes": round(10_000 / two_workers / 60, 2),
        # the machine may be shared: a high load means the rates above are pessimistic
        "load_average_1min_after": round(os.getloadavg()[0], 2),
    }
    print(payload)
    print(write_result("simulate_speed", payload))


if __name__ == "__main__":
    main()
