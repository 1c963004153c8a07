"""`closp-lite vqa build|train|ask|evaluate` (chapter 9)."""

from __future__ import annotations

import argparse
from pathlib import Path

from closp_lite.cli.captioner import add_head_training, report_training, training_kwargs
from closp_lite.cli.common import add_json, command, emit


def register(sub: argparse._SubParsersAction) -> None:
    """Add this group's sub-commands to the top-level parser."""
    group = sub.add_parser("vqa", help="SAR visual question answering: build questions, train, ask, evaluate (chapter 9)")
    group_sub = group.add_subparsers(dest="vqa_command", required=True)
    parser = command(group_sub, "build", _build, "write vqa.parquet (balanced questions from labels and class maps) beside a corpus")
    parser.add_argument("path", type=Path, help="corpus folder")
    parser.add_argument("--seed", type=int, default=42)
    add_json(parser)
    parser = command(group_sub, "train", _train, "train a VQA model (image tower + MiniLM question, FiLM + cross-attention) into a run folder")
    add_head_training(parser)
    parser.add_argument("--question-only", action="store_true", help="the question-only baseline (no image)")
    parser = command(group_sub, "ask", _ask, "answer a question about one patch")
    parser.add_argument("run", type=Path, help="VQA run folder")
    parser.add_argument("question", help='e.g. "Is there water in the image?"')
    parser.add_argument("--data", type=Path, required=True, help="corpus folder")
    parser.add_argument("--key", required=True, help="patch key")
    add_json(parser)
    parser = command(group_sub, "evaluate", _evaluate, "accuracy per question type on the S1 test questions, beside the answer prior")
    parser.add_argument("run", type=Path, help="VQA run folder")
    parser.add_argument("--data", type=Path, default=None, help="corpus folder (default: the one it trained on)")
    add_json(parser)


def _build(args: argparse.Namespace) -> int:
    from closp_lite.vqa_data import answer_prior, build_vqa, read_vqa

    path = build_vqa(args.path, args.seed, progress=not args.json)
    table = read_vqa(args.path)
    prior = answer_prior(table)
    payload = {"path": str(path), "questions": len(table), "per_type": table["type"].value_counts().to_dict(), "prior": prior.to_dict("index")}
    emit(args, payload, f"wrote {len(table)} questions to {path}\nanswer prior on the test split:\n{prior.round(3).to_string()}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from closp_lite.answering import train_vqa

    report_training(args, train_vqa(args.data, args.out, question_only=args.question_only, **training_kwargs(args)))
    return 0


def _ask(args: argparse.Namespace) -> int:
    from closp_lite.answering import ask

    result = ask(args.run, args.data, args.key, args.question)
    emit(args, result, f"{result['answer']}  ({', '.join(f'{a} {p:.2f}' for a, p in result['top'])})")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from closp_lite.answering import evaluate_vqa

    result = evaluate_vqa(args.run, args.data)
    lines = [f"{kind}: {v['accuracy']:.3f} (prior {v['type_prior']:.3f}, n {v['n']})" for kind, v in result["per_type"].items()]
    emit(args, result, f"accuracy {result['accuracy']:.3f} on {result['n']} S1 test questions\n" + "\n".join(lines))
    return 0
