"""`closp-lite labels|captions|queries ...` (chapters 3-4)."""

from __future__ import annotations

import argparse
from pathlib import Path

from closp_lite.cli.common import UserError, add_json, command, emit
from closp_lite.config import DEFAULT_SEED


def register(sub: argparse._SubParsersAction) -> None:
    """Add this group's sub-commands to the top-level parser."""
    labels = sub.add_parser("labels", help="label taxonomies: harmonize source labels to the 12-label vocabulary")
    labels_sub = labels.add_subparsers(dest="labels_command", required=True)
    parser = command(labels_sub, "harmonize", _labels_harmonize, "map CORINE / BigEarthNet-19 / Dynamic World labels to the vocabulary")
    parser.add_argument("labels", nargs="+", metavar="LABEL", help="source labels (quote names with spaces)")
    parser.add_argument("--scheme", default="auto", help="auto, corine, bigearthnet19 or dynamicworld")
    add_json(parser)

    captions = sub.add_parser("captions", help="captions: show, build captions.parquet, audit")
    captions_sub = captions.add_subparsers(dest="captions_command", required=True)
    parser = command(captions_sub, "show", _captions_show, "print captions of the first N patches of a corpus")
    parser.add_argument("path", type=Path, help="corpus folder")
    parser.add_argument("--style", default="template", choices=["closp", "template", "segmentation", "sar-rewrite"])
    parser.add_argument("--n", type=int, default=5, help="number of patches")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    add_json(parser)
    parser = command(captions_sub, "build", _captions_build, "write captions.parquet (all styles) beside a corpus")
    parser.add_argument("path", type=Path, help="corpus folder")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    add_json(parser)
    parser = command(captions_sub, "audit", _captions_audit, "audit the captions.parquet of a corpus, per style")
    parser.add_argument("path", type=Path, help="corpus folder")
    add_json(parser)

    queries = sub.add_parser("queries", help="query sets and graded qrels")
    queries_sub = queries.add_subparsers(dest="queries_command", required=True)
    parser = command(queries_sub, "build", _queries_build, "write queries.jsonl and qrels/ for a corpus")
    parser.add_argument("path", type=Path, help="corpus folder")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--grading", default="count", choices=["count", "binary"])
    parser.add_argument("--overwrite", action="store_true", help="replace queries.jsonl and qrels/ already in --out")
    add_json(parser)


def _labels_harmonize(args: argparse.Namespace) -> int:
    from closp_lite.labels import harmonize

    result = harmonize(args.labels, scheme=args.scheme)
    text = ", ".join(result.labels) or "(none)"
    if result.unmapped:
        text += "\nunmapped: " + ", ".join(result.unmapped)
    emit(args, {"labels": result.labels, "unmapped": result.unmapped}, text)
    return 0


def _captions_show(args: argparse.Namespace) -> int:
    from closp_lite.captions import caption_table
    from closp_lite.data.format import CrisisLandMark

    if args.n < 1:
        raise UserError(f"--n must be at least 1, got {args.n}")
    with CrisisLandMark(args.path) as corpus:
        keys = corpus.keys()[: args.n]
    table = caption_table(args.path, [args.style], args.seed, keys=keys, progress=False)
    rows = table.to_dict(orient="records")
    emit(args, rows, "\n".join(f"{row['key']}: {row[args.style]}" for row in rows))
    return 0


def _captions_build(args: argparse.Namespace) -> int:
    from closp_lite.captions import build_captions

    table = build_captions(args.path, seed=args.seed, progress=not args.json)
    styles = [c for c in table.columns if c != "key"]
    emit(args, {"path": str(args.path / "captions.parquet"), "patches": len(table), "styles": styles},
         f"wrote {len(table)} captions x {len(styles)} styles to {args.path / 'captions.parquet'}")
    return 0


def _captions_audit(args: argparse.Namespace) -> int:
    from closp_lite.captions import audit_corpus

    table = audit_corpus(args.path)
    emit(args, table.round(4).to_dict(orient="index"), table.round(3).to_string())
    return 0


def _queries_build(args: argparse.Namespace) -> int:
    from closp_lite.queries import build_queries

    summary = build_queries(args.path, args.out, grading=args.grading, overwrite=args.overwrite)
    emit(args, summary, f"wrote {summary['queries']} queries and {summary['judgements']} judgements to {args.out}")
    return 0
