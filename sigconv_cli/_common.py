"""Options and output handling shared by the command groups."""

from __future__ import annotations

import argparse
import contextlib
import math
import sys
from collections.abc import Callable, Iterator


class UsageError(Exception):
    """A bad combination of options, found after parsing: reported like argparse's
    errors (one line, exit status 2)."""


def add_output_options(parser: argparse.ArgumentParser, *, progress: bool = True,
                       many: bool = False) -> None:
    """``-o/--output``, ``--force`` and ``--quiet``, the same on every file command
    (``progress``: whether the command shows a progress bar; ``many``: whether it takes
    several inputs into a directory, see :mod:`sigconv_cli._batch`)."""
    if many:
        output_help = ("output file; or a directory, created if missing, when several "
                       "INPUTs are given or OUTPUT ends with '/': each output is then named "
                       "after its input (same base name and extension; two inputs with the "
                       "same name are refused). Written atomically: temp file + rename")
        force_help = ("overwrite existing output files (never an input); without it, "
                      "existing outputs are refused before any work")
    else:
        output_help = "output file (written atomically: temp file + rename)"
        force_help = "overwrite OUTPUT if it exists (never an input)"
    parser.add_argument("-o", "--output", required=True, metavar="OUTPUT", help=output_help)
    parser.add_argument("--force", action="store_true", help=force_help)
    if progress:
        quiet_help = ("no progress bar, notes or library warnings on stderr (clipped "
                      "samples and failed files are still reported)")
    elif many:
        quiet_help = ("no bar counting the files done (several inputs), notes or "
                      "warnings on stderr (failed files are still reported)")
    else:
        quiet_help = "no notes or warnings on stderr"
    parser.add_argument("--quiet", action="store_true", help=quiet_help)


def note(args: argparse.Namespace, message: str) -> None:
    """A one-line note on stderr, unless --quiet."""
    if not getattr(args, "quiet", False):
        print(f"sigconv: {message}", file=sys.stderr)


def say_on_stderr(args: argparse.Namespace) -> Callable[..., None]:
    """``say(message, warning=False)`` for a single-file command: a note (none with
    --quiet) or a warning (always), one line each on stderr. A batch collects them
    instead (see :mod:`sigconv_cli._batch`)."""
    def say(message: str, warning: bool = False) -> None:
        if warning:
            print(f"sigconv: warning: {message}", file=sys.stderr)
        else:
            note(args, message)
    return say


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
