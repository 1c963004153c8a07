"""benchmarks/scale.py keeps earlier sizes when a new size is measured (chapter 10 reads the merged rows)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import scale


def _row(stage: str, size: int, seconds: float) -> dict:
    return {"stage": stage, "size": size, "seconds": seconds, "patches_per_s": size / seconds}


def test_cost_rows_of_a_new_size_merge_with_the_old_ones() -> None:
    old = [_row("simulate", 1000, 10.0), _row("train", 1000, 5.0), _row("simulate", 5000, 50.0), _row("train", 5000, 25.0)]
    new = [_row("simulate", 20000, 200.0), _row("train", 20000, 100.0), _row("train", 5000, 20.0)]
    merged = scale.merge_cost_rows(old, new)
    assert [(r["stage"], r["size"]) for r in merged] == [
        ("simulate", 1000), ("train", 1000), ("simulate", 5000), ("train", 5000), ("simulate", 20000), ("train", 20000)]  # fmt: skip
    assert [r["seconds"] for r in merged if r["size"] == 5000] == [50.0, 20.0]  # a re-measured row replaces the old one
    growth = scale.growth_exponents(merged)
    assert growth["simulate"] == pytest.approx(1.0)  # 10 s, 50 s, 200 s: linear in the size
    assert "embed" not in growth  # never measured
    cpu = [{**r, "cpu_seconds": r["seconds"] ** 0.5} for r in merged]
    assert scale.growth_exponents(cpu, "cpu_seconds")["simulate"] == pytest.approx(0.5)


def test_hnsw_is_built_only_when_the_projected_build_fits() -> None:
    import numpy as np

    vectors = np.random.default_rng(0).standard_normal((600, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    rows: list[dict] = []

    def record(method: str, search, build_s: float, index_mb: float, **extra) -> None:  # type: ignore[no-untyped-def]
        rows.append({"method": method, "found": search(vectors[:2]), **extra})

    skipped = scale.hnsw_rows(vectors, 8, 20, max_build_minutes=0.0, record=record)
    assert skipped["built"] is False and skipped["probe_vectors_per_s"] > 0 and rows == []
    built = scale.hnsw_rows(vectors, 8, 20, max_build_minutes=60.0, record=record)
    assert built["built"] is True and [r["ef_search"] for r in rows] == [16, 32, 64, 128, 256]
    assert all(r["found"][0][0] == 0 for r in rows)  # a vector's nearest neighbour is itself
