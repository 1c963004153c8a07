"""`closp-lite data ...`: examples, verify, info, download (chapter 0)."""

from __future__ import annotations

import argparse
from pathlib import Path

from closp_lite.cli.common import add_json, command, emit
from closp_lite.cli.simulate import add_samples_command


def register(sub: argparse._SubParsersAction) -> None:
    """Add this group's sub-commands to the top-level parser."""
    data = sub.add_parser("data", help="corpus files: examples, verify, info, download, samples")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    add_samples_command(data_sub)  # `data samples` lives with the simulator that writes it
    parser = command(data_sub, "examples", _data_examples, "convert the 6 real BigEarthNet S1+S2 pairs to the corpus format")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: DATA_DIR/examples)")
    parser.add_argument("--overwrite", action="store_true", help="convert again even if the folder is complete")
    add_json(parser)
    parser = command(data_sub, "verify", _data_verify, "check every file and sample of a corpus folder")
    parser.add_argument("path", type=Path, help="corpus folder")
    parser.add_argument("--skip-bad", action="store_true", help="list bad samples as skipped; succeed if only samples are bad and one is usable")
    parser.add_argument("--checksums", action="store_true", help="also compare SHA-256 sums with the download manifest (reads every file)")
    add_json(parser)
    parser = command(data_sub, "info", _data_info, "count samples per modality, source, split and harmonized label")
    parser.add_argument("path", type=Path, help="corpus folder")
    add_json(parser)
    parser = command(data_sub, "download", _data_download, "download the real CrisisLandMark corpus from the dataset hub (verified)")
    parser.add_argument("--files", nargs="+", default=None, help="file names (default: all)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: DATA_DIR/crisislandmark)")
    add_json(parser)


def _data_examples(args: argparse.Namespace) -> int:
    from closp_lite.data.examples import example_pairs, load_examples

    root = load_examples(args.out, overwrite=args.overwrite)
    pairs = example_pairs(root)
    emit(args, {"root": str(root), "pairs": pairs}, f"{len(pairs)} real S1+S2 example pairs in {root}")
    return 0


def _data_verify(args: argparse.Namespace) -> int:
    from closp_lite.data.verify import verify

    report = verify(args.path, skip_bad=args.skip_bad, progress=not args.json, checksums=args.checksums)
    lines = [f"{file} [{key or '-'}]: {message}" for file, key, message in report.problems]
    summary = f"{args.path}: {report.checked} samples checked, {len(report.problems)} problems, {len(report.skipped)} skipped"
    emit(args, report.to_dict(), "\n".join([summary, *lines]))
    return 0 if report.ok else 1


def _data_info(args: argparse.Namespace) -> int:
    from collections import Counter

    from closp_lite.data.module import CrisisLandMarkDataModule

    table = CrisisLandMarkDataModule(args.path).table
    labels = Counter(label for row in table["harmonized"] for label in row)
    info = {
        "root": str(args.path),
        "samples": len(table),
        **{name: {str(k): int(v) for k, v in table[name].value_counts().sort_index().items()} for name in ("modality", "source", "split")},
        "labels": dict(sorted(labels.items())),
    }
    text = "\n".join(f"{name}: {value}" for name, value in info.items())
    emit(args, info, text)
    return 0


def _data_download(args: argparse.Namespace) -> int:
    from closp_lite.data.download import download

    out = download(args.files, args.out)
    emit(args, {"root": str(out), "files": args.files or "all"}, f"downloaded to {out}")
    return 0
