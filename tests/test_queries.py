"""Tests of query sets and graded relevance (chapter 4)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from closp_lite.data.format import read_qrels, read_queries
from closp_lite.queries import QueryRegion, build_queries, make_qrels, make_queries, relevance

REGION = QueryRegion("Testland", (10.0, 12.0), (40.0, 42.0), "Flooded Area")


def test_grading_by_hand() -> None:
    pair = {"id": "q", "text": "crops. water", "labels": ["Crops", "Water"]}
    assert relevance(pair, ["Crops", "Water", "Trees"]) == 2
    assert relevance(pair, ["Water"]) == 1
    assert relevance(pair, ["Trees"]) == 0
    assert relevance(pair, ["Water"], grading="binary") == 0
    assert relevance(pair, ["Crops", "Water"], grading="binary") == 1
    [loc] = [q for q in make_queries([["Flooded Area", "Water"]], regions=[REGION]) if q["kind"] == "location"]
    assert loc["text"] == "flooded area in Testland" and loc["bbox"] == [10.0, 40.0, 12.0, 42.0]
    assert relevance(loc, ["Flooded Area"], (11.0, 41.0)) == 2
    assert relevance(loc, ["Flooded Area"], (50.0, 41.0)) == 1
    assert relevance(loc, ["Water"], (11.0, 41.0)) == 0
    assert relevance(loc, ["Flooded Area"], (50.0, 41.0), grading="binary") == 0
    with pytest.raises(ValueError, match="grading"):
        relevance(pair, ["Water"], grading="graded")


def test_query_kinds_and_qrels() -> None:
    sets = [["Crops", "Water"], ["Crops", "Trees"], ["Crops", "Water", "Flooded Area"]]
    queries = make_queries(sets, n_combinations=1, regions=[REGION])
    kinds = {q["kind"] for q in queries}
    assert kinds == {"single", "crisis", "combination", "paraphrase", "location"}
    assert len({q["id"] for q in queries}) == len(queries)
    [combo] = [q for q in queries if q["kind"] == "combination"]
    assert combo["labels"] == ["Crops", "Water"]  # the most frequent land-cover pair
    table = pd.DataFrame({"key": ["a", "b", "c"], "labels": sets})
    qrels = make_qrels([combo], table)
    assert qrels == {combo["id"]: {"a": 2, "b": 1, "c": 2}}


def test_build_round_trip(tmp_path: Path) -> None:
    from closp_lite.simulate.corpus import generate_corpus

    generate_corpus(tmp_path / "c", 12, 12, seed=5, progress=False)
    summary = build_queries(tmp_path / "c", tmp_path / "q", grading="binary")
    queries = read_queries(tmp_path / "q")
    qrels = read_qrels(tmp_path / "q")
    assert len(queries) == summary["queries"] and sum(map(len, qrels.values())) == summary["judgements"]
    assert set(qrels) <= {q["id"] for q in queries}
    assert all(grade == 1 for docs in qrels.values() for grade in docs.values())
    meta = pd.read_parquet(tmp_path / "c" / "metadata.parquet")
    assert set().union(*map(set, qrels.values())) <= set(meta.loc[meta["split"] == "test", "key"])
    counted = build_queries(tmp_path / "c", tmp_path / "q2")
    assert counted["judgements"] >= summary["judgements"]  # count grading keeps partial matches too
    assert (tmp_path / "q2" / "queries.jsonl").read_text() == (tmp_path / "q" / "queries.jsonl").read_text()
