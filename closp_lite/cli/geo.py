"""`closp-lite locate` (chapter 7): where on Earth is this patch, according to a trained GeoCLOSP."""

from __future__ import annotations

import argparse
from pathlib import Path

from closp_lite.cli.common import add_json, command, emit


def register(sub: argparse._SubParsersAction) -> None:
    """Add this group's sub-commands to the top-level parser."""
    locate = command(
        sub,
        "locate",
        _locate,
        "guess where a patch was taken with a trained GeoCLOSP (image -> location retrieval)",
    )
    locate.add_argument("key", help="sample key of the patch")
    locate.add_argument(
        "--run",
        required=True,
        type=Path,
        help="a GeoCLOSP run folder (`closp-lite train --model geoclosp`)",
    )
    locate.add_argument("--data", required=True, type=Path, help="corpus folder holding the patch")
    locate.add_argument("--k", type=int, default=5, help="number of guesses")
    locate.add_argument("--candidates", choices=("train", "grid"), default="train",
                        help="candidate locations: the training patches' centres or a lon/lat grid over them")  # fmt: skip
    locate.add_argument(
        "--grid-step",
        type=float,
        default=1.0,
        help="grid step in degrees (with --candidates grid)",
    )
    add_json(locate)


def _locate(args: argparse.Namespace) -> int:
    from closp_lite.geolocation import locate_key
    from closp_lite.models.closp import CLOSP

    result = locate_key(
        CLOSP.load(args.run),
        args.data,
        args.key,
        args.k,
        args.candidates,
        args.grid_step,
    )
    lon, lat = result["true"]
    lines = [f"{args.key} ({result['modality']}) is at lon {lon:.3f}, lat {lat:.3f}; best guesses:"]
    lines += [
        f"{g['rank']:>3} lon {g['lon']:8.3f} lat {g['lat']:7.3f} score {g['score']:+.4f} error {g['error_km']:8.1f} km"
        for g in result["guesses"]
    ]
    emit(args, result, "\n".join(lines))
    return 0
