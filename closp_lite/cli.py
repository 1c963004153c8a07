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
    del data_sub  # filled in by the data module's commands


# ---------------------------------------------------------------- simulate (chapters 1-2)


def _add_simulate_commands(sub: argparse._SubParsersAction) -> None:
    del sub


# ---------------------------------------------------------------- labels, captions, queries (chapters 3-4)


def _add_label_commands(sub: argparse._SubParsersAction) -> None:
    del sub


# ---------------------------------------------------------------- train, evaluate, embed, search (chapters 5-6)


def _add_model_commands(sub: argparse._SubParsersAction) -> None:
    del sub


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
