"""The ``closp-lite`` command line (every chapter shows the command beside the code).

One sub-command group per concern; each handler only parses arguments, calls the library and
prints. Every command that reports something accepts ``--json`` and then prints one JSON
document on stdout. Errors a user can fix (missing files, bad input, no network) print one clear
line on stderr and exit with status 1 (2 for usage errors, as argparse does).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

Handler = Callable[[argparse.Namespace], int]


class UserError(Exception):
    """An error caused by the input or the environment, reported without a traceback."""


def emit(args: argparse.Namespace, payload: Any, text: str | None = None) -> None:
    """Print ``payload`` as JSON if ``--json`` was given, else ``text`` (or a readable dump)."""
    if getattr(args, "json", False):
        print(json.dumps(payload, indent=2, sort_keys=True, default=str))
    else:
        print(text if text is not None else json.dumps(payload, indent=2, default=str))


def _add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON document")


def _command(sub: argparse._SubParsersAction, name: str, handler: Handler, help_: str) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=help_, description=help_)
    parser.set_defaults(handler=handler)
    return parser


# ---------------------------------------------------------------- data (chapter 0)


def _add_data_commands(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser("data", help="corpus files: examples, verify, info, download, samples")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    add_samples_command(data_sub)  # `data samples`, defined in the simulate section
    parser = _command(data_sub, "examples", _data_examples, "convert the 6 real BigEarthNet S1+S2 pairs to the corpus format")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: DATA_DIR/examples)")
    parser.add_argument("--overwrite", action="store_true", help="convert again even if the folder is complete")
    _add_json(parser)
    parser = _command(data_sub, "verify", _data_verify, "check every file and sample of a corpus folder")
    parser.add_argument("path", type=Path, help="corpus folder")
    parser.add_argument("--skip-bad", action="store_true", help="list bad samples as skipped; succeed if only samples are bad")
    _add_json(parser)
    parser = _command(data_sub, "info", _data_info, "count samples per modality, source, split and harmonized label")
    parser.add_argument("path", type=Path, help="corpus folder")
    _add_json(parser)
    parser = _command(data_sub, "download", _data_download, "download the real CrisisLandMark corpus (resumable, verified)")
    parser.add_argument("--files", nargs="+", default=None, help="file names (default: all)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: DATA_DIR/crisislandmark)")
    parser.add_argument("--base-url", default=None, help="where the files are (default: the Hugging Face dataset)")
    _add_json(parser)


def _data_examples(args: argparse.Namespace) -> int:
    from closp_lite.data.examples import example_pairs, load_examples

    root = load_examples(args.out, overwrite=args.overwrite)
    pairs = example_pairs(root)
    emit(args, {"root": str(root), "pairs": pairs}, f"{len(pairs)} real S1+S2 example pairs in {root}")
    return 0


def _data_verify(args: argparse.Namespace) -> int:
    from closp_lite.data.verify import verify

    report = verify(args.path, skip_bad=args.skip_bad, progress=not args.json)
    lines = [f"{file} [{key or '-'}]: {message}" for file, key, message in report.problems]
    summary = f"{args.path}: {report.checked} samples checked, {len(report.problems)} problems, {len(report.skipped)} skipped"
    emit(args, report.to_dict(), "\n".join([summary, *lines]))
    return 0 if report.ok else 1


def _data_info(args: argparse.Namespace) -> int:
    from collections import Counter

    from closp_lite.data.datasets import CrisisLandMarkDataset

    table = CrisisLandMarkDataset(args.path).metadata
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
    from closp_lite.data.download import BASE_URL, download

    out = download(args.files, args.out, base_url=args.base_url or BASE_URL, progress=not args.json)
    emit(args, {"root": str(out), "files": args.files or "all"}, f"downloaded to {out}")
    return 0


# ---------------------------------------------------------------- simulate (chapters 1-2)


def _add_simulate_commands(sub: argparse._SubParsersAction) -> None:
    parser = _command(sub, "simulate", _simulate, "write a simulated CrisisLandMark corpus (S1 + S2 patches)")
    parser.add_argument("--n-s1", type=int, required=True, help="number of simulated Sentinel-1 patches")
    parser.add_argument("--n-s2", type=int, required=True, help="number of simulated Sentinel-2 patches")
    parser.add_argument("--seed", type=int, default=42, help="random seed (same seed, same files)")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--cloud-rate", type=float, default=None, help="share of cloudy S2 patches (default 0.1)")
    parser.add_argument("--overwrite", action="store_true", help="replace a corpus already in --out")
    parser.add_argument("--workers", type=int, default=0, help="extra processes rendering patches (same files for any number)")
    _add_json(parser)


def add_samples_command(data_sub: argparse._SubParsersAction) -> None:
    """Register ``closp-lite data samples`` (rebuild or check the bundled simulated corpus) in the data group."""
    parser = _command(data_sub, "samples", _data_samples, "rebuild (or --check) the bundled simulated corpus data_samples/")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: the repository's data_samples/)")
    parser.add_argument("--check", action="store_true", help="regenerate in a temporary folder and compare with MANIFEST.json")
    _add_json(parser)


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
    manifest = write_samples(root)
    emit(args, {"root": str(root), **manifest},
         f"wrote the simulated sample corpus to {root}: {len(manifest['files'])} files, "
         f"{sum(f['bytes'] for f in manifest['files'].values()) / 1e6:.1f} MB")
    return 0


# ---------------------------------------------------------------- labels, captions, queries (chapters 3-4)


def _add_label_commands(sub: argparse._SubParsersAction) -> None:
    labels = sub.add_parser("labels", help="label taxonomies: harmonize source labels to the 12-label vocabulary")
    labels_sub = labels.add_subparsers(dest="labels_command", required=True)
    parser = _command(labels_sub, "harmonize", _labels_harmonize, "map CORINE / BigEarthNet-19 / Dynamic World labels to the vocabulary")
    parser.add_argument("labels", nargs="+", metavar="LABEL", help="source labels (quote names with spaces)")
    parser.add_argument("--scheme", default="auto", help="auto, corine, bigearthnet19 or dynamicworld")
    _add_json(parser)

    captions = sub.add_parser("captions", help="captions: show, build captions.parquet, audit")
    captions_sub = captions.add_subparsers(dest="captions_command", required=True)
    parser = _command(captions_sub, "show", _captions_show, "print captions of the first N patches of a corpus")
    parser.add_argument("path", type=Path, help="corpus folder")
    parser.add_argument("--style", default="template", choices=["closp", "template", "segmentation", "sar-rewrite"])
    parser.add_argument("--n", type=int, default=5, help="number of patches")
    parser.add_argument("--seed", type=int, default=42)
    _add_json(parser)
    parser = _command(captions_sub, "build", _captions_build, "write captions.parquet (all styles) beside a corpus")
    parser.add_argument("path", type=Path, help="corpus folder")
    parser.add_argument("--seed", type=int, default=42)
    _add_json(parser)
    parser = _command(captions_sub, "audit", _captions_audit, "audit the captions.parquet of a corpus, per style")
    parser.add_argument("path", type=Path, help="corpus folder")
    _add_json(parser)

    queries = sub.add_parser("queries", help="query sets and graded qrels")
    queries_sub = queries.add_subparsers(dest="queries_command", required=True)
    parser = _command(queries_sub, "build", _queries_build, "write queries.jsonl and qrels/ for a corpus")
    parser.add_argument("path", type=Path, help="corpus folder")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--grading", default="count", choices=["count", "binary"])
    _add_json(parser)


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

    summary = build_queries(args.path, args.out, grading=args.grading)
    emit(args, summary, f"wrote {summary['queries']} queries and {summary['judgements']} judgements to {args.out}")
    return 0


# ---------------------------------------------------------------- train, evaluate, embed, search (chapters 5-6)


def _add_model_commands(sub: argparse._SubParsersAction) -> None:
    _add_train_command(sub)
    _add_retrieval_commands(sub)


# ---------------------------------------------------------------- train (chapter 5)


def _add_train_command(sub: argparse._SubParsersAction) -> None:
    parser = _command(sub, "train", _train, "train CLOSP-lite (text as the bridge between S1 and S2) into a run folder")
    parser.add_argument("--mode", choices=("tiny", "sample", "full"), default=None, help="scale mode (default: $CLOSP_LITE_MODE or sample)")
    parser.add_argument("--out", type=Path, required=True, help="run folder (model, log.csv, checkpoint)")
    parser.add_argument("--config", type=Path, default=None, help="a .json or .toml file of training settings")
    parser.add_argument("--data", type=str, default=None, help="corpus folder (default: the simulated corpus of the mode)")
    parser.add_argument("--epochs", type=int, default=None, help="number of epochs (default: the mode's)")
    parser.add_argument("--batch-size", type=int, default=None, help="batch size per modality (default: the mode's)")
    parser.add_argument("--lr", type=float, default=None, help="maximum learning rate of OneCycle")
    parser.add_argument("--seed", type=int, default=None, help="random seed")
    parser.add_argument("--label-aware", action="store_true", help="multi-positive targets for equal label sets")
    parser.add_argument("--learnable-scale", action="store_true", help="CLIP's learnable temperature instead of 1.0")
    parser.add_argument("--resume", action="store_true", help="continue from RUN/checkpoint.pt")
    _add_json(parser)


def _train(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from closp_lite.training import TrainConfig, train

    config = TrainConfig.from_file(args.config) if args.config else TrainConfig()
    flags = {"mode": args.mode, "data": args.data, "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed}
    config = replace(config, **{k: v for k, v in flags.items() if v is not None})
    config = replace(config, label_aware=config.label_aware or args.label_aware, learnable_scale=config.learnable_scale or args.learnable_scale)
    result = train(config, args.out, resume=args.resume, progress=not args.json)
    from closp_lite.distributed import context

    if not context().is_main:
        return 0  # under torchrun only rank 0 reports
    payload = {"out": str(result.out_dir), "best_epoch": result.best_epoch, "best_val_loss": result.best_val_loss,
               "steps": result.steps, "seconds": round(result.seconds, 1), "samples_per_second": round(result.samples_per_second, 1)}  # fmt: skip
    emit(args, payload, f"trained {result.steps} steps in {result.seconds:.0f} s; best epoch {result.best_epoch} "
         f"(validation loss {result.best_val_loss:.4f}); run folder {result.out_dir}")  # fmt: skip
    return 0


# ---------------------------------------------------------------- evaluate, embed, search (chapter 6)

_RUN_HELP = "the model: a run folder written by `closp-lite train`, or 'untrained' (random image towers + MiniLM, the reference of chapter 6)"


def _add_retrieval_commands(sub: argparse._SubParsersAction) -> None:
    evaluate = _command(sub, "evaluate", _evaluate, "nDCG@1000, mAP, R@k and mean recall on the S1, S2 and mixed corpus")
    evaluate.add_argument("run", help=_RUN_HELP)
    evaluate.add_argument("--data", required=True, type=Path, help="corpus folder with queries.jsonl and qrels/")
    evaluate.add_argument("--ndcg-k", type=int, default=1000)
    _add_json(evaluate)
    embed = _command(sub, "embed", _embed, "embed the searched corpus (test split) into an index folder")
    embed.add_argument("run", help=_RUN_HELP)
    embed.add_argument("--data", required=True, type=Path, help="corpus folder")
    embed.add_argument("--out", type=Path, default=Path("embeddings"), help="index folder to write (default: ./embeddings)")
    _add_json(embed)
    search = _command(sub, "search", _search, "search the corpus with a sentence")
    search.add_argument("text", help="what to look for, e.g. 'flooded fields near a river'")
    search.add_argument("--run", required=True, help=_RUN_HELP)
    search.add_argument("--data", required=True, type=Path, help="corpus folder")
    search.add_argument("--index", type=Path, help="index folder from `closp-lite embed` (default: embed now)")
    search.add_argument("--modality", choices=["s1", "s2", "all"], default="all")
    search.add_argument("--k", type=int, default=12)
    search.add_argument("--figure", type=Path, help="save a grid of the results to this image file")
    _add_json(search)


def _encoders(run: str) -> Any:
    from closp_lite.experiments import run_encoders, untrained_encoders

    return untrained_encoders() if run == "untrained" else run_encoders(run)


def _evaluate(args: argparse.Namespace) -> int:
    from closp_lite.experiments import evaluate_encoders, load_queries

    queries, qrels = load_queries(args.data)
    result = evaluate_encoders(_encoders(args.run), args.data, queries, qrels, args.ndcg_k)
    rows = [f"{'corpus':<8}{f'nDCG@{args.ndcg_k}':>11}{'mAP':>8}{'R@1':>7}{'R@5':>7}{'R@10':>7}{'mR':>7}{'images':>8}"]
    for corpus, m in result["metrics"].items():
        rows.append(
            f"{corpus:<8}{m[f'ndcg@{args.ndcg_k}']:>11.2f}{m[f'map@{args.ndcg_k}']:>8.2f}{m['R@1']:>7.1f}"
            f"{m['R@5']:>7.1f}{m['R@10']:>7.1f}{m['mR']:>7.1f}{m['n_documents']:>8}"
        )
    emit(args, {"run": args.run, "data": str(args.data), **result}, "\n".join(rows))
    return 0


def _embed(args: argparse.Namespace) -> int:
    from closp_lite.experiments import embed_corpus

    index = embed_corpus(_encoders(args.run), args.data)
    folder = index.save(args.out)
    emit(args, {"index": str(folder), "n": len(index), "dim": index.dim}, f"wrote {len(index)} embeddings to {folder}")
    return 0


def _search(args: argparse.Namespace) -> int:
    from closp_lite.experiments import embed_corpus, read_images, search_text
    from closp_lite.index import EmbeddingIndex

    encoders = _encoders(args.run)
    index = EmbeddingIndex.load(args.index) if args.index else embed_corpus(encoders, args.data)
    rows = search_text(encoders, index, args.text, args.k, args.modality)
    if args.figure:
        from closp_lite.plotting import plot_search_results

        fig = plot_search_results(args.text, rows, read_images(args.data, [r["key"] for r in rows]))
        fig.savefig(args.figure, dpi=100)
    lines = [f"{r['rank']:>3} {r['score']:+.4f} {r['modality']} {r['key']}  {', '.join(r['labels'])}" for r in rows]
    emit(args, {"query": args.text, "results": rows, "figure": str(args.figure) if args.figure else None}, "\n".join(lines))
    return 0


# ---------------------------------------------------------------- the main job (chapter 0)


def _add_tour_command(sub: argparse._SubParsersAction) -> None:
    tour = _command(sub, "tour", _tour, "the main job: sample corpus, captions, training, evaluation, a search")
    tour.add_argument("--out", type=Path, default=Path("outputs"), help="output folder (default: outputs)")
    tour.add_argument("--mode", choices=["tiny", "sample", "full"], help="scale (default: $CLOSP_LITE_MODE or sample)")
    tour.add_argument("--query", default=None, help="the text to search for at the end")
    _add_json(tour)


def _tour(args: argparse.Namespace) -> int:
    from closp_lite.tour import DEFAULT_QUERY, run_tour

    summary = run_tour(args.out, args.mode, args.query or DEFAULT_QUERY)
    lines = [f"closp-lite tour ({summary['mode']} mode) finished; outputs in {args.out.resolve()}:"]
    lines += [f"  {name:<16} {path}" for name, path in summary["outputs"].items()]
    lines += [f"  nDCG@1000 {name}: {by}" for name, by in summary["ndcg@1000"].items()]
    emit(args, summary, "\n".join(lines))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Return the full ``closp-lite`` argument parser."""
    from closp_lite import __version__

    parser = argparse.ArgumentParser(
        prog="closp-lite",
        description="Text-to-satellite-image retrieval beyond RGB: data, simulation, captions, training, search.",
    )
    parser.add_argument("--version", action="version", version=f"closp-lite {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_data_commands(sub)
    _add_simulate_commands(sub)
    _add_label_commands(sub)
    _add_model_commands(sub)
    _add_tour_command(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``closp-lite``; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except (UserError, FileNotFoundError, ValueError, ConnectionError) as err:
        print(f"closp-lite: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
