"""Options and output handling shared by the command groups."""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
from collections.abc import Iterator


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
                        help="no progress bar, notes or library warnings on stderr "
                        "(clipped samples are still reported)" if progress
                        else "no notes or warnings on stderr")


def note(args: argparse.Namespace, message: str) -> None:
    """A one-line note on stderr, unless --quiet."""
    if not getattr(args, "quiet", False):
        print(f"sigconv: {message}", file=sys.stderr)


@contextlib.contextmanager
def naming_output(tmp: str, output: str) -> Iterator[None]:
    """Errors raised while writing ``tmp`` (the atomic output's temporary file) name
    ``output``, the file the user asked for, instead: one line, as any other error."""
    from sigconv._errors import FileFormatError, SigconvError  # not at start-up (NumPy)

    try:
        yield
    except (SigconvError, OSError) as exc:
        text = str(exc) or type(exc).__name__
        if isinstance(exc, OSError) and exc.strerror:
            text = f"{exc.filename or tmp}: {exc.strerror}"
        if tmp not in text:
            raise                # not about the file being written (an input, an option)
        raise FileFormatError(text.replace(tmp, output)) from None


def positive_int(text: str) -> int:
    """argparse type: a whole number >= 1 (else a usage error, exit 2)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, not {text!r}")
    return value


def finite_float(text: str) -> float:
    """argparse type: a finite number (else a usage error, exit 2)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, not {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, not {text!r}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, not {text!r}")
    return value


def non_negative_float(text: str) -> float:
    """argparse type: a finite number >= 0."""
    value = finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, not {text!r}")
    return value
