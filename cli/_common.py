"""Options and output handling shared by the command groups."""

from __future__ import annotations

import argparse
import sys


class UsageError(Exception):
    """A bad combination of options, found after parsing: reported like argparse's
    errors (one line, exit status 2)."""


def add_output_options(parser: argparse.ArgumentParser, *, progress: bool = True) -> None:
    """``-o/--output``, ``--force`` and ``--quiet``, the same on every file command
    (``progress``: whether the command shows a progress bar)."""
    parser.add_argument("-o", "--output", required=True, metavar="OUTPUT",
                        help="output file (written atomically: temp file + rename)")
    parser.add_argument("--force", action="store_true",
                        help="overwrite OUTPUT if it exists (never an input)")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bar and no notes or warnings on stderr" if progress
                        else "no notes or warnings on stderr")


def note(args: argparse.Namespace, message: str) -> None:
    """A one-line note on stderr, unless --quiet."""
    if not getattr(args, "quiet", False):
        print(f"sigconv: {message}", file=sys.stderr)
