"""Options and output handling shared by the command groups."""

from __future__ import annotations

import argparse
import sys


def add_output_options(parser: argparse.ArgumentParser) -> None:
    """``-o/--output``, ``--force`` and ``--quiet``, the same on every file command."""
    parser.add_argument("-o", "--output", required=True, metavar="OUTPUT",
                        help="output file (written atomically: temp file + rename)")
    parser.add_argument("--force", action="store_true",
                        help="overwrite OUTPUT if it exists (never an input)")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bar and no notes on stderr")


def note(args: argparse.Namespace, message: str) -> None:
    """A one-line note on stderr, unless --quiet."""
    if not getattr(args, "quiet", False):
        print(f"sigconv: {message}", file=sys.stderr)
