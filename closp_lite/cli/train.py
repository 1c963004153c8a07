"""`closp-lite train` (chapter 5)."""

from __future__ import annotations

import argparse
from pathlib import Path

from closp_lite.cli.common import add_json, command, emit


def register(sub: argparse._SubParsersAction) -> None:
    """Add this group's sub-commands to the top-level parser."""
    parser = command(sub, "train", _train, "train CLOSP-lite or GeoCLOSP (text as the bridge between S1 and S2) into a run folder")
    parser.add_argument("--mode", choices=("tiny", "sample", "full"), default=None, help="scale mode (default: $CLOSP_LITE_MODE or sample)")
    parser.add_argument("--out", type=Path, required=True, help="run folder (model, log.csv, checkpoint)")
    parser.add_argument("--config", type=Path, default=None, help="a .json or .toml file of training settings")
    parser.add_argument("--data", type=str, default=None, help="corpus folder (default: the simulated corpus of the mode)")
    parser.add_argument("--epochs", type=int, default=None, help="number of epochs (default: the mode's)")
    parser.add_argument("--batch-size", type=int, default=None, help="batch size per modality (default: the mode's)")
    parser.add_argument("--workers", type=int, default=None, help="DataLoader processes reading patches ahead (default: the mode's)")
    parser.add_argument("--accumulation", type=int, default=None,
                        help="full mode: micro-batches per step through the gradient cache (same loss and gradients as one big batch)")
    parser.add_argument("--compile", action="store_true", help="full mode: torch.compile the model (a one-off compile; pays over long runs)")
    parser.add_argument("--lr", type=float, default=None, help="maximum learning rate of OneCycle")
    parser.add_argument("--seed", type=int, default=None, help="random seed")
    parser.add_argument("--label-aware", action="store_true", help="multi-positive targets for equal label sets")
    parser.add_argument("--fixed-scale", action="store_true", help="upstream CLOSP's fixed logit scale 1.0 instead of the learnable temperature")
    parser.add_argument("--model", choices=("closp", "geoclosp"), default=None,
                        help="model kind (default closp; geoclosp adds a location encoder, chapter 7)")
    parser.add_argument("--location-trainable", action="store_true", help="GeoCLOSP: learn the SIREN too (default frozen)")
    parser.add_argument("--resume", action="store_true", help="continue from RUN/checkpoint.pt (with the saved settings)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing run in --out (only the run's own files)")
    add_json(parser)


def _train(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from closp_lite.training import TrainConfig, train

    config = TrainConfig.from_file(args.config) if args.config else TrainConfig()
    flags = {"mode": args.mode, "data": args.data, "epochs": args.epochs, "batch_size": args.batch_size, "workers": args.workers, "accumulation": args.accumulation, "compile": args.compile or None, "lr": args.lr, "seed": args.seed}
    config = replace(config, **{k: v for k, v in flags.items() if v is not None})
    config = replace(config, label_aware=config.label_aware or args.label_aware, learnable_scale=config.learnable_scale and not args.fixed_scale)
    if args.model or args.location_trainable:
        model = replace(config.model, kind=args.model or config.model.kind,
                        location_trainable=config.model.location_trainable or args.location_trainable)
        config = replace(config, model=model)
    if config.model.location_trainable and config.model.kind != "geoclosp":
        raise ValueError("--location-trainable needs --model geoclosp")
    result = train(config, args.out, resume=args.resume, overwrite=args.overwrite, progress=not args.json)
    from closp_lite.distributed import context

    if not context().is_main:
        return 0  # under torchrun only rank 0 reports
    payload = {"out": str(result.out_dir), "model": config.model.kind, "best_epoch": result.best_epoch, "best_val_loss": result.best_val_loss,
               "steps": result.steps, "seconds": round(result.seconds, 1), "samples_per_second": round(result.samples_per_second, 1)}  # fmt: skip
    emit(args, payload, f"trained {result.steps} steps in {result.seconds:.0f} s; best epoch {result.best_epoch} "
         f"(validation loss {result.best_val_loss:.4f}); run folder {result.out_dir}")  # fmt: skip
    return 0
