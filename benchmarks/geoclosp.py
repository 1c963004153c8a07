"""CLOSP vs GeoCLOSP on the simulated corpus: per query kind, on a geographic split, and geolocation.

    .venv/bin/python benchmarks/geoclosp.py [--mode sample] [--seeds 42 43 44] [--variants ...] [--epochs N] [--batch-size B] [--max-docs N]

Writes ``benchmarks/results/geoclosp.json`` (read by chapter 7) and ``geoclosp.md``. All data are
**simulated** (``closp_lite.simulate``: land-cover priors per region, crisis events tied to the
places where the real sources were recorded), so the numbers show the mechanism, not the paper's
values, which are quoted beside them.

For every seed, with the mode's training settings:

* **Random split** (the corpus' own 20 % train / 80 % searched split): CLOSP-lite and GeoCLOSP
  with the frozen SIREN (the reference default) and with a trainable one, nDCG@10, nDCG@1000 and mean recall per corpus (S1, S2, mixed)
  and per query kind (``closp_lite.queries``: single / combination / paraphrase = general land
  cover, crisis, location = a crisis in a named place, the rare place-bound kind).
* **Geographic split**: training only on patches outside :data:`HELD_OUT` regions, searching
  only the held-out regions' patches. Location cannot be memorised there: it shows where
  location helps and where it hurts. The random-split models are scored on the same held-out
  documents for reference.
* **Geolocation** with each random-split GeoCLOSP: median error and share within 100 / 500 km,
  candidates = training locations, against the training-centroid baseline.
* **Location signal** (no training): how well location alone predicts the test patches' labels
  (k nearest training patches by distance, harmonics or a frozen random SIREN, against the
  label frequencies of the patch's region and no location), and whether any caption names a place.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, write_result

from closp_lite.config import DEFAULT_SEED, settings
from closp_lite.data.datasets import CrisisLandMarkDataset
from closp_lite.data.format import CAPTIONS, read_captions, write_captions
from closp_lite.evaluation import average_precision
from closp_lite.experiments import evaluate_index, load_queries, model_encoders
from closp_lite.geolocation import corpus_lonlats, geolocate, haversine_km
from closp_lite.index import EmbeddingIndex, embed_dataset
from closp_lite.labels.text import closp_text
from closp_lite.models.closp import CLOSP, ModelConfig
from closp_lite.queries import build_queries, default_regions
from closp_lite.simulate.corpus import sample_corpus
from closp_lite.simulate.geography import REGIONS
from closp_lite.training import TrainConfig, corpus_splits, train

# Model variants: CLOSP, GeoCLOSP with the frozen SIREN (the reference default) and with a
# trainable one (``--location-trainable``).
VARIANTS: dict[str, ModelConfig] = {
    "closp": ModelConfig(kind="closp"),
    "geoclosp": ModelConfig(kind="geoclosp"),
    "geoclosp-trainable": ModelConfig(kind="geoclosp", location_trainable=True),
}
GEO_VARIANTS = tuple(v for v in VARIANTS if v != "closp")
HELD_OUT = (
    "Portugal (Mediterranean)",
    "Lithuania (temperate plains)",
    "Bangladesh (monsoon floods)",
    "Central Italy (Apennine earthquakes)",
)
KIND_GROUPS = {
    "land cover": ("single", "combination", "paraphrase"),
    "crisis": ("crisis",),
    "place-bound": ("location",),
}
METRICS = ("ndcg@10", "ndcg@1000", "mR")
PAPER = {
    "source": "Rege Cambrin et al., arXiv 2507.10403, as quoted in shared/reference/closp.md section 5 (unverified)",
    "GeoCLOSP nDCG@1000 overall": 57.76,
    "CLOSP nDCG@1000 S1 corpus": 55.65,
    "CLOSP nDCG@1000 S2 corpus": 54.80,
    "claim": "CLOSP best on general semantic queries, GeoCLOSP on location-dependent crisis events and rare geographic features",
    "differences": "real CrisisLandMark (647k images, ResNet-50 towers, pretrained frozen SatCLIP) vs a small simulated corpus, "
    "small CNN towers trained from scratch for a few epochs, a frozen *random* SIREN (SatCLIP weights are not available offline), "
    "and simulated captions that list every label of a patch exactly (none names a place), so location adds nothing the caption lacks",
}


def region_of(lon: float, lat: float) -> str | None:
    """The first simulator region whose bounding box holds (lon, lat)."""
    return next(
        (r.name for r in REGIONS.values() if r.lon[0] <= lon <= r.lon[1] and r.lat[0] <= lat <= r.lat[1]),
        None,
    )


def held_out(root: Path) -> set[str]:
    """Keys of all patches (any split) located in a :data:`HELD_OUT` region."""
    return {k for k, ll in corpus_lonlats(root).items() if region_of(*ll) in HELD_OUT}


def geo_splits(root: Path, config: TrainConfig, excluded: set[str]) -> dict[str, Any]:
    """The training splits of ``config`` without the held-out regions' patches."""
    def keep(dataset: CrisisLandMarkDataset, modality: str) -> CrisisLandMarkDataset:
        return CrisisLandMarkDataset(root, modality=modality, split="train", keys=[k for k in dataset.metadata["key"] if k not in excluded])

    return {modality: (keep(tr, modality), keep(va, modality)) for modality, (tr, va) in corpus_splits(config).items()}


def subset(index: EmbeddingIndex, keys: set[str]) -> EmbeddingIndex:
    """The rows of ``index`` whose key is in ``keys``."""
    rows = [i for i, k in enumerate(index.keys) if k in keys]
    return EmbeddingIndex(
        np.asarray(index.vectors)[rows],
        [index.keys[i] for i in rows],
        index.modalities[rows],
        [index.labels[i] for i in rows],
    )


def scores(index: EmbeddingIndex, encoders: Any, queries: list, qrels: dict, groups: dict) -> dict[str, Any]:
    """nDCG@10, nDCG@1000 and mR per corpus, overall (``all``) and per query-kind group."""
    at = {k: evaluate_index(index, encoders, queries, qrels, ndcg_k=k, groups=groups) for k in (10, 1000)}
    tables = {"all": {c: (at[10]["metrics"][c], m) for c, m in at[1000]["metrics"].items()}}
    tables |= {g: {c: (at[10]["by_group"][g][c], m) for c, m in v.items()} for g, v in at[1000]["by_group"].items()}
    return {g: {c: {"ndcg@10": round(float(m10["ndcg@10"]), 3), "ndcg@1000": round(float(m["ndcg@1000"]), 3), "mR": round(float(m["mR"]), 3)}
                for c, (m10, m) in t.items()} for g, t in tables.items()}  # fmt: skip


def searched_keys(root: Path, max_docs: int | None, seed: int = 0) -> list[str]:
    """The searched documents: the ``test`` split, or a fixed random ``max_docs`` of it (qrels are restricted to them)."""
    from closp_lite.data.format import CrisisLandMark

    with CrisisLandMark(root) as corpus:
        keys = sorted(corpus.metadata.loc[corpus.metadata["split"] == "test", "key"])
    if max_docs is None or max_docs >= len(keys):
        return keys
    return sorted(np.random.default_rng(seed).choice(keys, max_docs, replace=False).tolist())


def embed_docs(model: CLOSP, root: Path, docs: list[str]) -> EmbeddingIndex:
    """Image embeddings of the searched documents ``docs``."""
    return embed_dataset(model_encoders(model).image, CrisisLandMarkDataset(root, split="test", keys=docs), settings().embed_batch_size)


def run_seed(
    args: argparse.Namespace, root: Path, seed: int, runs: Path, docs: list[str], queries: list, qrels: dict, groups: dict
) -> dict[str, Any]:
    """Train and evaluate every model variant on both splits for one seed."""
    excluded = held_out(root)
    out: dict[str, Any] = {
        "random": {},
        "geographic": {},
        "random_models_on_held_out": {},
        "geolocation": {},
    }
    for variant in args.variants:
        model_config = VARIANTS[variant]
        config = TrainConfig(mode=args.mode, data=str(root), seed=seed, epochs=args.epochs, batch_size=args.batch_size, model=model_config,
                             text_style=args.text_style)  # fmt: skip
        for split in args.splits:
            folder = runs / f"{variant}-{split}-{seed}"
            splits = geo_splits(root, config.resolved(), excluded) if split == "geographic" else None
            result = train(config, folder, splits=splits, progress=False)
            model = CLOSP.load(folder)
            index = embed_docs(model, root, docs)
            encoders = model_encoders(model, model_config.kind)
            held = subset(index, excluded)
            training = {
                "steps": result.steps,
                "seconds": round(result.seconds, 1),
                "best_val_loss": round(result.best_val_loss, 4),
            }
            if split == "random":
                out["random"][variant] = scores(index, encoders, queries, qrels, groups) | {"training": training}
                out["random_models_on_held_out"][variant] = scores(held, encoders, queries, qrels, groups)
                if model_config.kind == "geoclosp":
                    located = geolocate(model, root, index=index)
                    out["geolocation"][variant] = {k: located[k] for k in ("model", "centroid", "nearest_candidate", "n_candidates", "n_images")}
            else:
                out["geographic"][variant] = scores(held, encoders, queries, qrels, groups) | {"training": training}
            print(f"seed {seed} {variant} {split}: {training}", flush=True)
    return out


def cached_seed(args: argparse.Namespace, root: Path, seed: int, runs: Path, docs: list[str], queries: list, qrels: dict, groups: dict) -> dict[str, Any]:
    """:func:`run_seed`, read from / written to ``args.partial_dir`` when given."""
    path = args.partial_dir / f"seed-{seed}.json" if args.partial_dir else None
    if path is not None and path.is_file():
        return json.loads(path.read_text())
    result = run_seed(args, root, seed, runs, docs, queries, qrels, groups)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result))
    return result


def knn_scores(train_x: np.ndarray, test_x: np.ndarray, train_y: np.ndarray, k: int, metric: str) -> np.ndarray:
    """Label scores of the test rows: the label frequencies of their ``k`` nearest training rows.

    ``metric`` ``"km"``: great-circle distance of (lon, lat) rows; ``"cosine"``: cosine similarity.
    """
    if metric == "km":
        distance = haversine_km(test_x[:, None, :], train_x[None, :, :])
    else:
        unit = lambda x: x / np.linalg.norm(x, axis=1, keepdims=True)
        distance = -unit(test_x) @ unit(train_x).T
    nearest = np.argsort(distance, axis=1, kind="stable")[:, :k]
    return train_y[nearest].mean(axis=1)


def location_signal(root: Path, seeds: list[int], k: int = 15) -> dict[str, Any]:
    """How much a patch's location alone tells about its labels, in the feature spaces a location tower sees.

    For every test patch, each label is scored by its frequency among the ``k`` nearest training
    patches of the same modality (S1 and S2 carry different crisis labels), by great-circle
    distance, by cosine of the L = 10 harmonics and by cosine of a frozen random SIREN's output
    (one per seed, eval mode); ``region`` scores by the label frequencies of the patch's simulator
    region (:func:`region_of`: where boxes overlap, the first one) and ``none`` by the modality's
    overall frequencies (no location). Mean average precision (x 100) per label group, over labels with
    test positives; a space that keeps the location signal scores well above ``none``.
    """
    import torch

    from closp_lite.data.format import CrisisLandMark
    from closp_lite.labels import CRISIS_LABELS, DW_CLASSES
    from closp_lite.models.location import LocationEncoder, spherical_harmonics

    with CrisisLandMark(root) as corpus:
        meta = corpus.metadata.reset_index(drop=True)
    where = corpus_lonlats(root)
    lonlat = np.array([where[key] for key in meta["key"]])
    harmonics = spherical_harmonics(torch.as_tensor(lonlat)).numpy()
    sirens = {}
    for seed in seeds:
        torch.manual_seed(seed)
        encoder = LocationEncoder().eval()
        with torch.no_grad():
            sirens[seed] = encoder.siren(torch.as_tensor(harmonics, dtype=torch.float32)).numpy()
    regions = np.array([region_of(*ll) for ll in lonlat])
    groups = {"land cover": DW_CLASSES, "crisis": CRISIS_LABELS}
    vocabulary = [label for labels in groups.values() for label in labels]
    truth = np.array([[label in set(labels) for label in vocabulary] for labels in meta["labels"]], dtype=float)
    scored: dict[str, list[dict[str, np.ndarray]]] = {}  # space -> draws -> modality -> (test patches, labels) scores
    tests = {}
    for modality in ("s1", "s2"):
        tr = np.flatnonzero((meta["modality"] == modality) & (meta["split"] == "train"))
        te = tests[modality] = np.flatnonzero((meta["modality"] == modality) & (meta["split"] == "test"))
        prior = truth[tr].mean(axis=0)
        region_freq = {r: truth[tr][regions[tr] == r].mean(axis=0) for r in set(regions[tr])}
        found = {
            "none (label frequencies)": [np.broadcast_to(prior, (len(te), len(vocabulary)))],
            "region (label frequencies)": [np.array([region_freq.get(r, prior) for r in regions[te]])],
            "great-circle distance": [knn_scores(lonlat[tr], lonlat[te], truth[tr], k, "km")],
            "harmonics L=10": [knn_scores(harmonics[tr], harmonics[te], truth[tr], k, "cosine")],
            "frozen random SIREN": [knn_scores(f[tr], f[te], truth[tr], k, "cosine") for f in sirens.values()],
        }
        for name, draws in found.items():
            for draw, score in zip(scored.setdefault(name, [{} for _ in draws]), draws):
                draw[modality] = score

    def group_map(draw: dict[str, np.ndarray]) -> dict[str, float]:
        """Mean AP (x 100) per label group of one draw's scores, each label ranked within each modality."""
        aps: dict[str, list[float]] = {g: [] for g in groups}
        for modality, score in draw.items():
            keys = meta["key"].to_numpy()[tests[modality]]
            for j, label in enumerate(vocabulary):
                positives = {key: 1 for key, t in zip(keys, truth[tests[modality], j]) if t}
                if positives:
                    ranking = keys[np.argsort(-score[:, j], kind="stable")].tolist()
                    aps[next(g for g, ls in groups.items() if label in ls)].append(average_precision(ranking, positives))
        return {g: 100 * float(np.mean(v)) for g, v in aps.items()}

    maps = {name: [group_map(d) for d in draws] for name, draws in scored.items()}
    table = {name: {g: mean_std([m[g] for m in per_draw]) for g in groups} for name, per_draw in maps.items()}
    places = [r.name for r in default_regions()]
    named = sum(any(p in closp_text(labels) for p in places) for labels in meta["labels"])
    return {"k": k, "groups": list(groups), "map": table, "captions_naming_a_place": int(named), "captions": len(meta)}


INCOMPLETE_STYLE = "closp-incomplete"


def write_incomplete_captions(root: Path, drop: float, seed: int) -> str:
    """Add a caption style to the corpus in which a crisis patch's caption omits its crisis label with probability ``drop``.

    It stands for partly annotated data: the caption then lacks what the patch's location still
    tells (crisis events are tied to places). Other stored styles are kept. Returns the style name.
    """
    from closp_lite.data.format import CrisisLandMark
    from closp_lite.labels import CRISIS_LABELS

    with CrisisLandMark(root) as corpus:
        meta = corpus.metadata
    rng = np.random.default_rng(seed)
    omit = rng.random(len(meta)) < drop
    texts = [closp_text([label for label in labels if not (o and label in CRISIS_LABELS)]) for labels, o in zip(meta["labels"], omit)]
    table = read_captions(root)
    new = pd.DataFrame({"key": meta["key"].to_numpy(), INCOMPLETE_STYLE: texts})
    table = new if table is None else table.drop(columns=[INCOMPLETE_STYLE], errors="ignore").merge(new, on="key", how="outer")
    write_captions(root, table)
    return INCOMPLETE_STYLE


def mean_std(values: Any) -> list[float]:
    """``[mean, std]`` over seeds, rounded to 2 decimals."""
    values = np.asarray(values, dtype=float)
    return [round(float(values.mean()), 2), round(float(values.std()), 2)]


def summarise(per_seed: list[dict[str, Any]], variants: list[str]) -> dict[str, Any]:
    """Mean and standard deviation over seeds of every metric, and of each GeoCLOSP variant - CLOSP."""
    summary: dict[str, Any] = {}
    for setting in (s for s in ("random", "geographic", "random_models_on_held_out") if per_seed[0][s]):
        for group in per_seed[0][setting]["closp"]:
            if group == "training":
                continue
            for corpus in per_seed[0][setting]["closp"][group]:
                for metric in METRICS:
                    values = {k: np.array([s[setting][k][group][corpus][metric] for s in per_seed]) for k in variants}
                    row = {k: mean_std(v) for k, v in values.items()}
                    row |= {f"{k} - closp": mean_std(values[k] - values["closp"]) for k in variants if k != "closp"}
                    summary.setdefault(setting, {}).setdefault(group, {}).setdefault(corpus, {})[metric] = row
    summary["geolocation"] = {
        variant: {who: {m: mean_std([s["geolocation"][variant][who]["all"][m] for s in per_seed]) for m in per_seed[0]["geolocation"][variant][who]["all"]}
                  for who in ("model", "centroid", "nearest_candidate")}
        for variant in variants if variant in per_seed[0]["geolocation"]
    }  # fmt: skip
    summary["training"] = {
        setting: {variant: {m: mean_std([s[setting][variant]["training"][m] for s in per_seed]) for m in ("steps", "seconds", "best_val_loss")}
                  for variant in variants}
        for setting in ("random", "geographic") if per_seed[0][setting]
    }  # fmt: skip
    return summary


def markdown(record: dict[str, Any]) -> str:
    """Tables for people: mean +- std over seeds (mixed corpus), the geolocation errors and the location signal."""
    res = record["results"]
    geo = [v for v in res["variants"] if v != "closp"]
    fmt = lambda v: f"{v[0]:.2f} +- {v[1]:.2f}"
    lines = ["# CLOSP vs GeoCLOSP on the simulated corpus", "", f"Command: `{record['command']}`  ",
             f"Machine: {record['machine']['cpu']} ({record['machine']['cpu_count']} cores)  ", f"Date: {record['date']}  ",
             f"Mode {res['mode']}, seeds {res['seeds']}, epochs {res['epochs']}, batch size {res['batch_size']} (None: the mode's), "
             f"{res['searched_documents']} searched test documents, held-out regions: {', '.join(res['held_out_regions'])}. "
             f"Variants: {', '.join(res['variants'])}. All data simulated.", "",
             *([f"Training captions omit a crisis patch's crisis label with probability {res['incomplete_captions']} (partly annotated data).", ""]
               if res.get("incomplete_captions") is not None else []),
             "nDCG@1000 (x 100) on the mixed corpus, mean +- std over seeds, and each GeoCLOSP variant - CLOSP (@1000, @10):", "",
             "| setting | query group | CLOSP | " + " | ".join(f"{v} | {v} - CLOSP | @10" for v in geo) + " |",
             "|---|---|---|" + "---|---|---|" * len(geo)]  # fmt: skip
    for setting in (s for s in ("random", "geographic", "random_models_on_held_out") if s in res["summary"]):
        for group, corpora in res["summary"][setting].items():
            m = corpora["mixed"]
            cells = [f"{fmt(m['ndcg@1000'][v])} | {fmt(m['ndcg@1000'][f'{v} - closp'])} | {fmt(m['ndcg@10'][f'{v} - closp'])}" for v in geo]
            lines.append(f"| {setting} | {group} | {fmt(m['ndcg@1000']['closp'])} | " + " | ".join(cells) + " |")
    lines += ["", "Training steps and seconds per run (mean +- std):", ""]
    for setting, variants in res["summary"]["training"].items():
        lines.append(f"- {setting}: " + "; ".join(f"{v} {t['steps'][0]:.0f} steps, {t['seconds'][0]:.0f} s" for v, t in variants.items()))
    lines += ["", "Geolocation (random split, candidates = training locations), mean +- std over seeds:", "",
              "| variant | answer | median km | within 100 km (%) | within 500 km (%) |", "|---|---|---|---|---|"]  # fmt: skip
    for variant, answers in res["summary"]["geolocation"].items():
        for who, m in answers.items():
            lines.append(f"| {variant} | {who} | {fmt(m['median_km'])} | {fmt(m['within_100km'])} | {fmt(m['within_500km'])} |")
    if "location_signal" in res:
        lines += ["", "Location signal: mean average precision (x 100) of the test patches' labels predicted from their location "
                  "alone (k nearest training patches in each feature space), per label group:", "",
                  "| features | " + " | ".join(res["location_signal"]["groups"]) + " |", "|---|" + "---|" * len(res["location_signal"]["groups"])]  # fmt: skip
        for name, row in res["location_signal"]["map"].items():
            lines.append(f"| {name} | " + " | ".join(fmt(row[g]) for g in res["location_signal"]["groups"]) + " |")
    lines += ["", f"Paper (quoted, not reproduced): {json.dumps(res['paper'])}"]
    return "\n".join(lines) + "\n"


def main() -> None:
    """Run every seed and write the JSON and markdown results."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", default="sample", choices=["tiny", "sample"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 43, 44])
    parser.add_argument("--epochs", type=int, default=None, help="training epochs (default: the mode's)")
    parser.add_argument("--batch-size", type=int, default=None, help="batch size per modality (default: the mode's)")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS), help="model variants (closp is always needed)")
    parser.add_argument("--splits", nargs="+", default=["random", "geographic"], choices=["random", "geographic"], help="training splits to run")
    parser.add_argument("--incomplete-captions", type=float, default=None, metavar="P",
                        help="train on captions that omit a crisis patch's crisis label with probability P (writes geoclosp_incomplete.json)")  # fmt: skip
    parser.add_argument("--max-docs", type=int, default=None, help="search a fixed random subset of the test split (default: all)")
    parser.add_argument("--partial-dir", type=Path, default=None,
                        help="keep each seed's result here and reuse it: seeds can run in separate processes, then one run combines them")  # fmt: skip
    parser.add_argument("--no-write", action="store_true", help="only compute the seeds (with --partial-dir); write no result file")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    root = sample_corpus(args.mode)
    stored = read_captions(root)
    args.text_style = "closp" if args.incomplete_captions is None else write_incomplete_captions(root, args.incomplete_captions, DEFAULT_SEED)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            summary = build_queries(root, Path(tmp) / "queries")
            queries, qrels = load_queries(Path(tmp) / "queries")
            kinds = {q["kind"] for q in queries}
            groups = {g: [q["id"] for q in queries if q["kind"] in ks] for g, ks in KIND_GROUPS.items() if kinds & set(ks)}
            docs = searched_keys(root, args.max_docs)
            per_seed = [cached_seed(args, root, seed, Path(tmp), docs, queries, qrels, groups) for seed in args.seeds]
    finally:  # the cached corpus is shared with the chapters: leave its captions as they were
        if args.incomplete_captions is not None:
            (root / CAPTIONS).unlink()
            if stored is not None:
                write_captions(root, stored)
    if args.no_write:
        return
    payload = {"mode": args.mode, "seeds": args.seeds, "epochs": args.epochs, "batch_size": args.batch_size, "searched_documents": len(docs), "splits": args.splits,
               "incomplete_captions": args.incomplete_captions,
               "simulated": True, "corpus": str(root),
               "query_kinds": summary["kinds"], "query_groups": {g: list(k) for g, k in KIND_GROUPS.items()},
               "held_out_regions": list(HELD_OUT), "location_signal": location_signal(root, args.seeds), "summary": summarise(per_seed, args.variants), "variants": args.variants, "per_seed": per_seed, "paper": PAPER}  # fmt: skip
    name = "geoclosp" if args.incomplete_captions is None else "geoclosp_incomplete"
    name = name if args.mode == "sample" else f"{name}_{args.mode}"
    path = write_result(name, payload)
    (RESULTS / f"{name}.md").write_text(markdown(json.loads(path.read_text())))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
