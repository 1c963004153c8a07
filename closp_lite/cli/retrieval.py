"""`closp-lite evaluate|embed|search` (chapter 6)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from closp_lite.cli.common import UserError, add_json, command, emit

_REMEDY_HELP = "how S1 and S2 scores are made comparable in one ranking (closp_lite.fusion, chapter 6; 'none': raw cosine)"
_RUN_HELP = "the model: a run folder written by `closp-lite train`, or 'untrained' (random image towers + MiniLM, the reference of chapter 6)"


def register(sub: argparse._SubParsersAction) -> None:
    """Add this group's sub-commands to the top-level parser."""
    evaluate = command(sub, "evaluate", _evaluate, "nDCG@1000, mAP, R@k and mean recall on the S1, S2 and mixed corpus")
    evaluate.add_argument("run", help=_RUN_HELP)
    evaluate.add_argument("--data", required=True, type=Path, help="corpus folder with queries.jsonl and qrels/")
    evaluate.add_argument("--ndcg-k", type=int, default=1000)
    _add_remedy(evaluate)
    add_json(evaluate)
    embed = command(sub, "embed", _embed, "embed the searched corpus (test split) in resumable shards into an index folder with a FAISS index")
    embed.add_argument("run", help=_RUN_HELP)
    embed.add_argument("--data", required=True, type=Path, help="corpus folder")
    embed.add_argument("--out", type=Path, default=Path("embeddings"), help="index folder to write (default: ./embeddings); run again to resume")
    embed.add_argument("--shard-size", type=int, default=8192, help="patches per shard (a resume redoes at most one)")
    embed.add_argument("--workers", type=int, default=None, help="loader processes reading patches ahead of the model (default: the mode's)")
    embed.add_argument("--index-kind", choices=["auto", "flat", "ivf", "hnsw"], default="auto", help="FAISS index: auto = exact up to 50,000 vectors, IVF above")
    embed.add_argument("--nprobe", type=int, default=16, help="IVF cells visited per query")
    add_json(embed)
    search = command(sub, "search", _search, "search the corpus with a sentence")
    search.add_argument("text", help="what to look for, e.g. 'flooded fields near a river'")
    search.add_argument("--run", required=True, help=_RUN_HELP)
    search.add_argument("--data", required=True, type=Path, help="corpus folder")
    search.add_argument("--index", type=Path, help="index folder from `closp-lite embed` (default: embed now)")
    search.add_argument("--modality", choices=["s1", "s2", "all"], default="all")
    search.add_argument("--k", type=int, default=12)
    _add_remedy(search)
    search.add_argument("--figure", type=Path, help="save a grid of the results to this image file")
    search.add_argument("--near", type=_lonlat, metavar="LON,LAT", help="keep only patches near this point (degrees)")
    search.add_argument("--radius-km", type=float, default=100.0, help="radius of --near in km (default 100)")
    add_json(search)


def _add_remedy(parser: argparse.ArgumentParser) -> None:
    from closp_lite.fusion import DEFAULT_REMEDY, REMEDIES

    parser.add_argument("--remedy", choices=REMEDIES, default=DEFAULT_REMEDY, help=f"{_REMEDY_HELP} (default: {DEFAULT_REMEDY})")


def _lonlat(text: str) -> tuple[float, float]:
    try:
        lon, lat = (float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LON,LAT in degrees (e.g. 12.5,41.9), got {text!r}") from None
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise argparse.ArgumentTypeError(f"{text!r} is not a (lon, lat) in degrees: |lon| <= 180, |lat| <= 90")
    return lon, lat


def _encoders(run: str) -> Any:
    from closp_lite.experiments import run_encoders, untrained_encoders

    return untrained_encoders() if run == "untrained" else run_encoders(run)


def _calibration(remedy: str, run: str, encoders: Any, data: Path) -> Any:
    """The calibration a remedy uses: the run's own, else fitted on the corpus' validation hold-out (None if unused).

    The untrained reference model is not calibrated (its scores carry no relevance): ``calibrate``
    then merges like ``interleave``.
    """
    from closp_lite.experiments import validation_calibration
    from closp_lite.fusion import needs_calibration

    if not needs_calibration(remedy) or encoders.calibration is not None or encoders.name == "untrained":
        return encoders.calibration
    return validation_calibration(encoders, data, _training_seed(run))


def _training_seed(run: str) -> int:
    """The seed a run was trained with: it drew the validation hold-out, so calibrating on another seed's would see training images."""
    import json

    from closp_lite.config import DEFAULT_SEED
    from closp_lite.training import TRAIN_CONFIG

    saved = Path(run) / TRAIN_CONFIG
    return int(json.loads(saved.read_text()).get("seed", DEFAULT_SEED)) if saved.is_file() else DEFAULT_SEED


def _corpus_folder(path: Path) -> Path:
    if not path.is_dir():
        raise UserError(f"--data {path} is not a folder: give the corpus folder (with metadata.parquet, crisislandmark.h5 and the shards)")
    return path


def _evaluate(args: argparse.Namespace) -> int:
    from closp_lite.data.module import CrisisLandMarkDataModule
    from closp_lite.experiments import evaluate_encoders, load_queries
    from closp_lite.queries import stale_judgements

    queries, qrels = load_queries(_corpus_folder(args.data))
    table = CrisisLandMarkDataModule(args.data).table
    stale = stale_judgements(queries, qrels, dict(zip(table["key"], table["harmonized"])))
    if stale["missing"] or stale["changed"]:
        raise UserError(
            f"{args.data}: the query set is stale: its judgements name {len(stale['missing'])} patches the corpus does not "
            f"have (first: {stale['missing'][:3]}) and {len(stale['changed'])} whose labels changed (first: {stale['changed'][:3]}); "
            f"rebuild it with `closp-lite queries build {args.data} --out {args.data} --overwrite`"
        )
    encoders = _encoders(args.run)
    calibration = _calibration(args.remedy, args.run, encoders, args.data)
    result = evaluate_encoders(encoders, args.data, queries, qrels, args.ndcg_k, remedy=args.remedy, calibration=calibration)
    rows = [f"{'corpus':<8}{f'nDCG@{args.ndcg_k}':>11}{'mAP':>8}{'R@1':>7}{'R@5':>7}{'R@10':>7}{'mR':>7}{'images':>8}"]
    for corpus, m in result["metrics"].items():
        rows.append(
            f"{corpus:<8}{m[f'ndcg@{args.ndcg_k}']:>11.2f}{m[f'map@{args.ndcg_k}']:>8.2f}{m['R@1']:>7.1f}"
            f"{m['R@5']:>7.1f}{m['R@10']:>7.1f}{m['mR']:>7.1f}{m['n_documents']:>8}"
        )
    emit(args, {"run": args.run, "data": str(args.data), "remedy": args.remedy, **result}, "\n".join(rows))
    return 0


def _embed(args: argparse.Namespace) -> int:
    from closp_lite.embedding_shards import embed_sharded
    from closp_lite.faiss_index import IndexSpec

    spec = IndexSpec(kind=args.index_kind, nprobe=args.nprobe)
    done = embed_sharded(_encoders(args.run), _corpus_folder(args.data), args.out, shard_size=args.shard_size,
                         workers=args.workers, spec=spec, progress=not args.json)  # fmt: skip
    assert done is not None  # only an explicit stop_after_shards returns early
    index, searcher = done
    payload = {"index": str(args.out), "n": len(index), "dim": index.dim, "faiss": searcher.spec.kind,
               "recall_at_10": searcher.info["recall_at_10"], "build_seconds": searcher.info["build_seconds"]}  # fmt: skip
    emit(args, payload, f"wrote {len(index)} embeddings and a FAISS {searcher.spec.kind} index (recall@10 "
         f"{searcher.info['recall_at_10']:.3f} against exact search) to {args.out}")  # fmt: skip
    return 0


def _search(args: argparse.Namespace) -> int:
    from closp_lite.experiments import check_index, embed_corpus, read_images, search_text
    from closp_lite.faiss_index import open_index

    encoders = _encoders(args.run)
    if args.index:
        index = open_index(args.index)  # through FAISS when the folder holds a FAISS index
        check_index(index, encoders, _corpus_folder(args.data), where=str(args.index))
    else:
        index = embed_corpus(encoders, _corpus_folder(args.data))
    if args.near:
        from closp_lite.geolocation import search_near

        rows = search_near(encoders, index, _corpus_folder(args.data), args.text, args.near, args.radius_km, args.k, args.modality)
    else:
        rows = search_text(encoders, index, args.text, args.k, args.modality, args.remedy, _calibration(args.remedy, args.run, encoders, _corpus_folder(args.data)))
    if args.figure:
        from closp_lite.plotting import plot_search_results

        fig = plot_search_results(args.text, rows, read_images(args.data, [r["key"] for r in rows]))
        fig.savefig(args.figure, dpi=100)
    lines = [f"{r['rank']:>3} {r['score']:+.4f} (cosine {r.get('cosine', r['score']):+.4f}) {r['modality']} {r['key']}  {', '.join(r['labels'])}" for r in rows]
    payload = {"query": args.text, "remedy": args.remedy, "results": rows, "figure": str(args.figure) if args.figure else None}
    if args.near:
        payload["near"] = {"lon": args.near[0], "lat": args.near[1], "radius_km": args.radius_km}
    emit(args, payload, "\n".join(lines) or "no result within the radius")
    return 0
