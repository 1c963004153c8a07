"""The ``closp-lite`` command line (every chapter shows the command beside the code).

One module per sub-command group (``data``, ``simulate``, ``text``, ``train``, ``retrieval``,
``tour``, ...), each with a ``register(sub)`` function; :data:`GROUPS` lists them in help order.
Each handler only parses arguments, calls the library and prints. Every command that reports
something accepts ``--json`` and then prints one JSON document on stdout. Errors a user can fix
(missing files, bad input, no network) print one clear line on stderr and exit with status 1
(2 for usage errors, as argparse does).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from closp_lite.cli.common import UserError, add_json, command, describe, emit

__all__ = ["GROUPS", "UserError", "add_json", "build_parser", "command", "describe", "emit", "main"]

#: Sub-command modules of ``closp_lite.cli``, in the order ``--help`` lists them.
GROUPS: tuple[str, ...] = ("data", "simulate", "text", "train", "transfer", "retrieval", "geo", "tour", "captioner", "vqa")


def build_parser() -> argparse.ArgumentParser:
    """Return the full ``closp-lite`` argument parser."""
    from closp_lite import __version__

    parser = argparse.ArgumentParser(
        prog="closp-lite",
        description="Text-to-satellite-image retrieval beyond RGB: data, simulation, captions, training, search.",
    )
    parser.add_argument("--version", action="version", version=f"closp-lite {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for group in GROUPS:
        importlib.import_module(f"closp_lite.cli.{group}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``closp-lite``; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except (UserError, FileNotFoundError, FileExistsError, ValueError, ConnectionError) as err:
        print(f"closp-lite: error: {describe(err)}", file=sys.stderr)
        return 1
