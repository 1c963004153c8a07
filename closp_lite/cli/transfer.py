"""`closp-lite transfer` (chapter 8)."""

from __future__ import annotations

import argparse
from pathlib import Path

from closp_lite.cli.common import add_json, command, emit


def register(sub: argparse._SubParsersAction) -> None:
    """Add this group's sub-commands to the top-level parser."""
    parser = command(sub, "transfer", _transfer, "train a transfer schedule (e.g. natural,optical,sar) and evaluate it on SAR retrieval")
    parser.add_argument("--schedule", default="natural,optical,sar", help="sar | natural,sar | optical,sar | natural,optical,sar")
    parser.add_argument("--out", type=Path, required=True, help="transfer folder: one run folder per stage and transfer.json")
    parser.add_argument("--data", type=str, default=None, help="corpus folder (default: the simulated corpus of the mode)")
    parser.add_argument("--mode", choices=("tiny", "sample", "full"), default=None, help="scale mode (default: $CLOSP_LITE_MODE or sample)")
    parser.add_argument("--steps", type=int, default=None, help="optimiser steps of every stage (default: the mode's)")
    parser.add_argument("--batch-size", type=int, default=None, help="batch size (default: the mode's)")
    parser.add_argument("--input-size", type=int, default=None, help="image side in pixels (default: the mode's)")
    parser.add_argument("--lr", type=float, default=None, help="maximum learning rate of OneCycle")
    parser.add_argument("--sar-fraction", type=float, default=1.0, help="share of the S1 training patches to use (0-1]")
    parser.add_argument("--sar-style", default=None, help="caption style of the SAR stage (default: sar-rewrite)")
    parser.add_argument("--seed", type=int, default=None, help="random seed")
    parser.add_argument("--resume", action="store_true", help="skip finished stages, resume an interrupted one")
    add_json(parser)


def _transfer(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from closp_lite.transfer import TransferConfig, run_schedule

    flags = {"schedule": args.schedule, "data": args.data, "mode": args.mode, "steps": args.steps, "batch_size": args.batch_size,
             "input_size": args.input_size, "lr": args.lr, "sar_fraction": args.sar_fraction, "sar_style": args.sar_style, "seed": args.seed}  # fmt: skip
    config = replace(TransferConfig(), **{k: v for k, v in flags.items() if v is not None})
    result = run_schedule(config, args.out, resume=args.resume, progress=not args.json)
    test = result.metrics.get("s1_test", {})
    lines = [f"{s['folder']}: {s['steps']} steps on {s['train_size']} patches, best validation loss {s['best_val_loss']:.4f}" for s in result.stages]
    lines += [f"{name}: mR {m['mR']:.1f}, R@1/5/10 {m['R@1']:.1f}/{m['R@5']:.1f}/{m['R@10']:.1f}, nDCG@10 {m['nDCG@10']:.1f} ({m['n_images']} images)"
              for name, m in result.metrics.items()]  # fmt: skip
    emit(args, result.to_dict(), "\n".join(lines + [f"transfer folder {result.out_dir}"]) if test else None)
    return 0
