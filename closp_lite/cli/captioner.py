"""`closp-lite captioner train|generate|evaluate` (chapter 9)."""

from __future__ import annotations

import argparse
from pathlib import Path

from closp_lite.cli.common import add_json, command, emit


def add_head_training(parser: argparse.ArgumentParser) -> None:
    """The options every head-training command shares: data, run folder, schedule, scale, seed, resume (chapter 9)."""
    from closp_lite.finetune import SCHEDULES

    parser.add_argument("--data", type=Path, required=True, help="corpus folder")
    parser.add_argument("--out", type=Path, required=True, help="run folder (config.json, model.pt, log.json, state.pt)")
    parser.add_argument("--schedule", choices=SCHEDULES, default="sar",
                        help="sar: SAR only, from scratch; direct: ImageNet tower then SAR; progressive: ImageNet, then optical, then SAR")  # fmt: skip
    parser.add_argument("--init", default=None, help="start of direct / progressive instead of ImageNet: a `closp-lite train` run folder or a weight file")
    parser.add_argument("--mode", choices=("tiny", "sample", "full"), default=None, help="scale mode (default: $CLOSP_LITE_MODE or sample)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs per stage (default: the mode's)")
    parser.add_argument("--seed", type=int, default=42, help="random seed")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run from its checkpoint")
    parser.add_argument("--overwrite", action="store_true", help="replace the run in --out")
    add_json(parser)


def training_kwargs(args: argparse.Namespace) -> dict:
    """Keyword arguments of the training functions from :func:`add_head_training`'s options."""
    return {"schedule": args.schedule, "init": args.init, "mode": args.mode, "seed": args.seed, "epochs": args.epochs,
            "resume": args.resume, "overwrite": args.overwrite, "progress": not args.json}  # fmt: skip


def report_training(args: argparse.Namespace, log: list[dict]) -> None:
    """Print a training log: the last epoch's loss per stage."""
    last = {row["stage"]: round(row["loss"], 4) for row in log}
    emit(args, {"out": str(args.out), "log": log}, f"trained {len(log)} epochs; final loss per stage {last}; run folder {args.out}")


def register(sub: argparse._SubParsersAction) -> None:
    """Add this group's sub-commands to the top-level parser."""
    group = sub.add_parser("captioner", help="SAR captioning: train, generate, evaluate (chapter 9)")
    group_sub = group.add_subparsers(dest="captioner_command", required=True)
    parser = command(group_sub, "train", _train, "train a captioner (image tower + transformer decoder) into a run folder")
    add_head_training(parser)
    parser = command(group_sub, "generate", _generate, "caption some patches of a corpus")
    parser.add_argument("run", type=Path, help="captioner run folder")
    parser.add_argument("--data", type=Path, required=True, help="corpus folder")
    parser.add_argument("--keys", required=True, help="comma-separated patch keys")
    parser.add_argument("--decoding", choices=("greedy", "beam"), default="greedy")
    parser.add_argument("--beam", type=int, default=3, help="beam width")
    add_json(parser)
    parser = command(group_sub, "evaluate", _evaluate, "score captions of the S1 test patches (BLEU, METEOR, ROUGE-L, CIDEr-D) and audit them")
    parser.add_argument("run", type=Path, help="captioner run folder")
    parser.add_argument("--data", type=Path, default=None, help="corpus folder (default: the one it trained on)")
    parser.add_argument("--decoding", choices=("greedy", "beam"), default="greedy")
    parser.add_argument("--limit", type=int, default=None, help="score only the first N test patches")
    parser.add_argument("--no-meteor", action="store_true", help="skip METEOR (it starts Java, ~10-40 s)")
    add_json(parser)


def _train(args: argparse.Namespace) -> int:
    from closp_lite.captioning import train_captioner

    report_training(args, train_captioner(args.data, args.out, **training_kwargs(args)))
    return 0


def _generate(args: argparse.Namespace) -> int:
    from closp_lite.captioning import generate_captions

    keys = [k.strip() for k in args.keys.split(",") if k.strip()]
    captions = generate_captions(args.run, args.data, keys, args.decoding, args.beam)
    emit(args, captions, "\n".join(f"{k}: {v}" for k, v in captions.items()))
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from closp_lite.captioning import evaluate_captioner

    result = evaluate_captioner(args.run, args.data, args.decoding, meteor=not args.no_meteor, limit=args.limit)
    result.pop("generated")
    scores = ", ".join(f"{k} {v:.3f}" for k, v in result["scores"].items())
    emit(args, result, f"{result['n']} S1 test patches ({result['decoding']}): {scores}; optical words {result['audit']['optical_words']}")
    return 0
