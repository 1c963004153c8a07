"""Time exact top-k search (``closp_lite.index``) over random unit vectors of the CLOSP size (384-d).

    .venv/bin/python benchmarks/search_speed.py [--sizes 3000 100000 650000] [--queries 50] [--k 1000]

The vectors are random (the speed of a dot product does not depend on what the vectors mean),
stored float16 and memory-mapped as ``closp-lite embed`` writes them; 650,000 is about the full
CrisisLandMark corpus. Writes ``benchmarks/results/search_speed.json``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_result

from closp_lite import seed_everything
from closp_lite.index import EmbeddingIndex

DIM = 384


def _random_index(n: int, rng: np.random.Generator) -> EmbeddingIndex:
    vectors = np.empty((n, DIM), dtype=np.float16)
    for start in range(0, n, 100_000):  # built in pieces so 650k vectors never need float64 memory
        block = rng.standard_normal((min(100_000, n - start), DIM), dtype=np.float32)
        vectors[start : start + block.shape[0]] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return EmbeddingIndex(vectors, [str(i) for i in range(n)], np.where(np.arange(n) % 2, "s1", "s2"), [[]] * n)


def time_search(n: int, n_queries: int, k: int, repeats: int, rng: np.random.Generator) -> dict[str, float]:
    """Seconds per batch of queries for an index of ``n`` memory-mapped float16 vectors."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = _random_index(n, rng).save(Path(tmp) / "index")
        index = EmbeddingIndex.load(folder)
        queries = rng.standard_normal((n_queries, DIM), dtype=np.float32)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            index.search(queries, k=k, modality="all")
            times.append(time.perf_counter() - start)
    return {"n_vectors": n, "n_queries": n_queries, "k": k, "best_s": round(min(times), 4), "median_s": round(float(np.median(times)), 4)}


def main() -> None:
    """Parse arguments, time every size, write the result file."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[3_000, 100_000, 650_000])
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--k", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(seed_everything(0))
    rows = [time_search(n, args.queries, args.k, args.repeats, rng) for n in args.sizes]
    for row in rows:
        print(row)
    path = write_result("search_speed", {"exact_search": rows, "dim": DIM, "storage": "float16, memory-mapped"})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
