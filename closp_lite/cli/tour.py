"""`closp-lite tour`: the main job (chapter 0)."""

from __future__ import annotations

import argparse
from pathlib import Path

from closp_lite.cli.common import add_json, command, emit


def register(sub: argparse._SubParsersAction) -> None:
    """Add this group's sub-commands to the top-level parser."""
    tour = command(sub, "tour", _tour, "the main job: sample corpus, captions, training, evaluation, a search")
    tour.add_argument("--out", type=Path, default=Path("outputs"), help="output folder (default: outputs)")
    tour.add_argument("--mode", choices=["tiny", "sample", "full"], help="scale (default: $CLOSP_LITE_MODE or sample)")
    tour.add_argument("--query", default=None, help="the text to search for at the end")
    add_json(tour)


def _tour(args: argparse.Namespace) -> int:
    from closp_lite.tour import DEFAULT_QUERY, run_tour

    summary = run_tour(args.out, args.mode, args.query or DEFAULT_QUERY)
    lines = [f"closp-lite tour ({summary['mode']} mode) finished; outputs in {args.out.resolve()}:"]
    lines += [f"  {name:<16} {path}" for name, path in summary["outputs"].items()]
    lines += [f"  nDCG@1000 {name}: {by}" for name, by in summary["ndcg@1000"].items()]
    emit(args, summary, "\n".join(lines))
    return 0
