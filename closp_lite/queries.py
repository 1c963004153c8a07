"""Query sets and graded relevance judgements for text-to-image retrieval (chapter 4).

Query kinds, each with an id: ``single`` (one label), ``combination`` (label pairs that co-occur
in the corpus), ``crisis`` (a crisis label, alone and with land cover), ``paraphrase`` (free-text
wordings of single-label queries) and ``location`` (a crisis in a named region with a lon/lat
bounding box). Relevance is graded over the searched ``test`` split (:data:`GRADINGS`):

* ``count`` (default): the number of query labels the patch carries (0 = not relevant);
  location queries: 2 if the patch has the crisis label *and* lies in the region, 1 if it has the
  crisis label elsewhere.
* ``binary``: 1 only if the patch carries all query labels (and, for location queries, lies in
  the region).
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from closp_lite.labels import CRISIS_LABELS, DW_CLASSES
from closp_lite.labels.text import closp_text

GRADINGS: tuple[str, ...] = ("count", "binary")
"""Relevance gradings (see the module docstring)."""

PARAPHRASES: tuple[str, ...] = ("a satellite image with {}", "find places covered by {}", "scenes showing {}")
"""Free-text wordings; ``{}`` takes a lexicon noun of the label."""


@dataclass(frozen=True)
class QueryRegion:
    """A named region for location queries: lon/lat bounding box and the crisis label searched there (chapter 4)."""

    name: str
    lon: tuple[float, float]
    lat: tuple[float, float]
    crisis: str


def default_regions() -> tuple[QueryRegion, ...]:
    """The crisis regions of the simulator (real places where the crisis sources were recorded) (chapter 4)."""
    from closp_lite.simulate.events import EVENT_LABELS
    from closp_lite.simulate.geography import EVENT_REGIONS

    return tuple(QueryRegion(r.name.split(" (")[0], r.lon, r.lat, EVENT_LABELS[e]) for r in EVENT_REGIONS for e in r.events)


def _query(qid: str, kind: str, text: str, labels: Sequence[str], region: QueryRegion | None = None) -> dict:
    query: dict[str, object] = {"id": qid, "text": text, "kind": kind, "labels": list(labels)}
    if region is not None:
        query |= {"region": region.name, "bbox": [region.lon[0], region.lat[0], region.lon[1], region.lat[1]]}
    return query


def make_queries(label_sets: Sequence[Sequence[str]], n_combinations: int = 10, regions: Sequence[QueryRegion] | None = None) -> list[dict]:
    """Build the query set from the harmonized label sets of a corpus (chapter 4).

    Single-label and crisis queries cover every label that occurs; combinations are the
    ``n_combinations`` most frequent land-cover pairs and crisis + land-cover pairs.
    """
    from closp_lite.captions.templates import NOUNS

    present = {label for labels in label_sets for label in labels}
    pairs = Counter(pair for labels in label_sets for pair in itertools.combinations(sorted(labels), 2))
    queries = [_query(f"single-{i:02d}", "single", closp_text([l]), [l]) for i, l in enumerate(DW_CLASSES) if l in present]
    queries += [_query(f"crisis-{i:02d}", "crisis", closp_text([l]), [l]) for i, l in enumerate(CRISIS_LABELS) if l in present]
    cover_pairs = [p for p, _ in pairs.most_common() if not set(p) & set(CRISIS_LABELS)][:n_combinations]
    crisis_pairs = [p for p, _ in pairs.most_common() if set(p) & set(CRISIS_LABELS)][:n_combinations]
    queries += [_query(f"combo-{i:02d}", "combination", closp_text(p), p) for i, p in enumerate(cover_pairs)]
    queries += [_query(f"crisis-combo-{i:02d}", "crisis", closp_text(p), p) for i, p in enumerate(crisis_pairs)]
    singles = [q for q in queries if q["kind"] in ("single", "crisis") and len(q["labels"]) == 1]
    queries += [
        _query(f"para-{i:02d}", "paraphrase", PARAPHRASES[i % len(PARAPHRASES)].format(NOUNS[q["labels"][0]][i % 3]), q["labels"])
        for i, q in enumerate(singles)
    ]
    regions = default_regions() if regions is None else regions
    queries += [
        _query(f"loc-{i:02d}", "location", f"{closp_text([r.crisis])} in {r.name}", [r.crisis], r)
        for i, r in enumerate(regions) if r.crisis in present
    ]
    return queries


def _check_grading(grading: str) -> None:
    if grading not in GRADINGS:
        raise ValueError(f"unknown grading {grading!r}; choose one of {', '.join(GRADINGS)}")


def relevance(query: dict, labels: Sequence[str], lonlat: tuple[float, float] | None = None, grading: str = "count") -> int:
    """Graded relevance of a patch (harmonized ``labels``, centre ``lonlat``) to a query (chapter 4)."""
    _check_grading(grading)
    hits = len(set(query["labels"]) & set(labels))
    complete = hits == len(query["labels"])
    if "bbox" in query:
        west, south, east, north = query["bbox"]
        inside = lonlat is not None and west <= lonlat[0] <= east and south <= lonlat[1] <= north
        if grading == "binary":
            return int(complete and inside)
        return (1 + int(inside)) if complete else 0
    return int(complete) if grading == "binary" else hits


def make_qrels(queries: Sequence[dict], table: pd.DataFrame, grading: str = "count") -> dict[str, dict[str, int]]:
    """Relevance of every patch of ``table`` (``key``, harmonized ``labels``, optional ``lonlat``) per query (chapter 4).

    Zero grades are left out, as in TREC qrels.
    """
    lonlats = table["lonlat"] if "lonlat" in table.columns else [None] * len(table)
    qrels: dict[str, dict[str, int]] = {}
    for query in queries:
        grades = {key: relevance(query, labels, ll, grading) for key, labels, ll in zip(table["key"], table["labels"], lonlats)}
        qrels[query["id"]] = {key: grade for key, grade in grades.items() if grade > 0}
    return qrels


def build_queries(root: str | Path, out_dir: str | Path, grading: str = "count", n_combinations: int = 10,
                  split: str = "test", overwrite: bool = False) -> dict:  # fmt: skip
    """Write ``queries.jsonl`` and ``qrels/<split>.txt`` for the corpus in ``root`` to ``out_dir`` (chapter 4).

    Relevance covers the ``split`` patches (the searched corpus). Patch locations are read only
    for patches carrying a crisis label, the only ones a location query can match.
    Returns a summary (counts per kind, judgements, paths).

    Raises:
        FileExistsError: if ``out_dir`` already holds a query set and ``overwrite`` is false.
    """
    from closp_lite.data.format import QRELS_DIR, QUERIES, lonlat, write_qrels, write_queries
    from closp_lite.data.module import CrisisLandMarkDataModule

    _check_grading(grading)
    out = Path(out_dir)
    existing = [str(p) for p in (out / QUERIES, out / QRELS_DIR / f"{split}.txt") if p.exists()]
    if existing and not overwrite:
        raise FileExistsError(f"{', '.join(existing)} already exist: pass --overwrite to replace them, or choose another --out")
    data = CrisisLandMarkDataModule(root)
    table = data.select(split=split)[["key", "harmonized"]].rename(columns={"harmonized": "labels"})
    table["lonlat"] = pd.Series([lonlat(data.corpus.read(k)) if set(ls) & set(CRISIS_LABELS) else None for k, ls in zip(table["key"], table["labels"])], index=table.index, dtype=object)
    queries = make_queries(table["labels"].tolist(), n_combinations)
    qrels = make_qrels(queries, table, grading)
    paths = [write_queries(out, queries), write_qrels(out, qrels, name=split)]
    return {
        "queries": len(queries),
        "kinds": dict(Counter(q["kind"] for q in queries)),
        "judgements": sum(len(docs) for docs in qrels.values()),
        "grading": grading,
        "paths": [str(p) for p in paths],
    }


def stale_judgements(queries: Sequence[dict], qrels: dict[str, dict[str, int]], labels: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """Judgements a corpus no longer supports: a query set built before the corpus changed (chapter 6).

    ``labels`` maps every key of the corpus to its harmonized labels. Returns ``missing`` (judged
    keys the corpus lacks) and ``changed`` (judged keys whose labels no longer match the query),
    each sorted; both empty when the query set fits the corpus.
    """
    judged = {key for docs in qrels.values() for key in docs}
    missing = sorted(judged - set(labels))
    by_id = {str(q["id"]): q for q in queries if q.get("labels")}
    changed = sorted({key for qid, docs in qrels.items() if qid in by_id for key in docs
                      if key in labels and relevance(by_id[qid], labels[key]) == 0})  # fmt: skip
    return {"missing": missing, "changed": changed}
