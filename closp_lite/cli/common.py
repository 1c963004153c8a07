"""Helpers shared by every ``closp-lite`` sub-command module (chapter 0)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

Handler = Callable[[argparse.Namespace], int]


class UserError(Exception):
    """An error caused by the input or the environment, reported without a traceback."""


def describe(err: BaseException) -> str:
    """The one line the CLI prints for ``err``.

    A DataLoader worker re-raises its exception in the main process with the worker's whole
    traceback inside the message; the user needs only its last line (the file and key at fault).
    """
    text = str(err).strip()
    if "Original Traceback" in text:
        last = text.splitlines()[-1]
        text = last.split(": ", 1)[1] if ": " in last else last
    return text


def emit(args: argparse.Namespace, payload: Any, text: str | None = None) -> None:
    """Print ``payload`` as JSON if ``--json`` was given, else ``text`` (or a readable dump)."""
    if getattr(args, "json", False):
        print(json.dumps(payload, indent=2, sort_keys=True, default=str))
    else:
        print(text if text is not None else json.dumps(payload, indent=2, default=str))


def add_json(parser: argparse.ArgumentParser) -> None:
    """Give ``parser`` the ``--json`` flag (one JSON document on stdout)."""
    parser.add_argument("--json", action="store_true", help="print one JSON document")


def command(sub: argparse._SubParsersAction, name: str, handler: Handler, help_: str) -> argparse.ArgumentParser:
    """Add sub-command ``name`` running ``handler`` to ``sub`` and return its parser."""
    parser = sub.add_parser(name, help=help_, description=help_)
    parser.set_defaults(handler=handler)
    return parser
