"""`closp-lite simulate` and `closp-lite data samples` (chapters 1-2)."""

from __future__ import annotations

import argparse
from pathlib import Path

from closp_lite.cli.common import UserError, add_json, command, emit
from closp_lite.config import DEFAULT_SEED


def register(sub: argparse._SubParsersAction) -> None:
    """Add this group's sub-commands to the top-level parser."""
    parser = command(sub, "simulate", _simulate, "write a simulated CrisisLandMark corpus (S1 + S2 patches)")
    parser.add_argument("--n-s1", type=int, required=True, help="number of simulated Sentinel-1 patches")
    parser.add_argument("--n-s2", type=int, required=True, help="number of simulated Sentinel-2 patches")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (same seed, same files)")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--cloud-rate", type=float, default=None, help="share of cloudy S2 patches (default 0.1)")
    parser.add_argument("--overwrite", action="store_true", help="replace a corpus already in --out")
    parser.add_argument("--workers", type=int, default=0, help="extra processes rendering patches (same files for any number)")
    add_json(parser)


def add_samples_command(data_sub: argparse._SubParsersAction) -> None:
    """Register ``closp-lite data samples`` (rebuild or check the bundled simulated corpus) in the data group."""
    parser = command(data_sub, "samples", _data_samples, "rebuild (or --check) the bundled simulated corpus data_samples/")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: the repository's data_samples/)")
    parser.add_argument("--check", action="store_true", help="regenerate in a temporary folder and compare with MANIFEST.json")
    parser.add_argument("--overwrite", action="store_true", help="rebuild a sample corpus already in --out (only its own files are replaced)")
    add_json(parser)


def _simulate(args: argparse.Namespace) -> int:
    import time

    from closp_lite.simulate.corpus import CLOUD_RATE, generate_corpus

    start = time.perf_counter()
    cloud_rate = CLOUD_RATE if args.cloud_rate is None else args.cloud_rate
    try:
        summary = generate_corpus(
            args.out, args.n_s1, args.n_s2, args.seed, cloud_rate=cloud_rate, overwrite=args.overwrite, workers=args.workers
        )
    except FileExistsError as err:
        raise UserError(f"{err} (pass --overwrite to replace it)") from err
    seconds = time.perf_counter() - start
    summary["seconds"] = round(seconds, 2)
    summary["patches_per_s"] = round((args.n_s1 + args.n_s2) / max(seconds, 1e-9), 1)
    splits = ", ".join(f"{name} {count}" for name, count in summary["splits"].items())
    emit(
        args,
        summary,
        f"wrote {args.n_s1} S1 + {args.n_s2} S2 simulated patches to {args.out} ({splits}) "
        f"in {seconds:.1f} s ({summary['patches_per_s']} patches/s)",
    )
    return 0


def _data_samples(args: argparse.Namespace) -> int:
    from closp_lite.simulate.samples import check_samples, default_samples_dir, write_samples

    root = args.out or default_samples_dir()
    if args.check:
        problems = check_samples(root)
        emit(args, {"root": str(root), "ok": not problems, "problems": problems},
             f"{root}: matches MANIFEST.json" if not problems else "\n".join([f"{root}: differs from MANIFEST.json", *problems]))
        return 0 if not problems else 1
    try:
        manifest = write_samples(root, overwrite=args.overwrite)
    except FileExistsError as err:
        raise UserError(str(err)) from err
    emit(args, {"root": str(root), **manifest},
         f"wrote the simulated sample corpus to {root}: {len(manifest['files'])} files, "
         f"{sum(f['bytes'] for f in manifest['files'].values()) / 1e6:.1f} MB")
    return 0
