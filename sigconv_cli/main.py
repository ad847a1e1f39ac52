"""Entry point of the ``sigconv`` command: parse, dispatch, report errors in one place.

Each command group lives in its own module with a ``register(subparsers)`` function
that adds its sub-commands; every sub-command stores a ``run(args) -> int`` callable in
``args.run``. Errors are caught here only: one line ``sigconv: error: ...`` on stderr,
a non-zero exit status, no traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import signal
import sys
import warnings

from ._common import UsageError

# Command-group modules, in the order their commands are listed by --help.
COMMAND_MODULES = ("engine_cmds", "audio_cmds", "image_cmds", "learn_cmds")

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, our prefix, usage exit code
        raise UsageError(message)


class _Terminated(BaseException):
    """SIGTERM, raised where the process is, so that the atomic output's temporary
    file is removed on the way out (as for Ctrl-C)."""


def _on_sigterm(signum, frame):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)   # one is enough: no second traceback
    raise _Terminated


def _warn_in_one_line(message, category, filename, lineno, file=None, line=None):
    print(f"sigconv: warning: {' '.join(str(message).split())}", file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    from sigconv import __version__

    parser = _Parser(prog="sigconv", description="Convolution for signals, audio and images.")
    parser.add_argument("--version", action="version", version=f"sigconv {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"sigconv_cli.{name}")
        except ModuleNotFoundError as exc:  # a command group not built yet
            if exc.name == f"sigconv_cli.{name}":
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:              # not the main thread (main() called from a thread)
        previous = None
    terminated = False
    try:
        return _main(argv)
    except KeyboardInterrupt:       # also while sigconv and NumPy are being imported
        print("sigconv: error: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except _Terminated:
        terminated = True           # SIGTERM stays ignored: the process is on its way out,
        print("sigconv: error: terminated", file=sys.stderr)  # and a second one must
        return EXIT_TERMINATED      # not kill it before it reports
    finally:
        if previous is not None and not terminated:
            with contextlib.suppress(ValueError):
                signal.signal(signal.SIGTERM, previous)


def _main(argv: list[str] | None) -> int:
    from . import _batch

    # Before sigconv is imported: a --jobs batch's workers get a head start.
    _batch.start_early(sys.argv[1:] if argv is None else argv)
    from sigconv._errors import SigconvError

    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        # Library warnings (Pillow's decompression-bomb warning, NumPy's overflow) as
        # one line each, none with --quiet.
        with warnings.catch_warnings():
            if getattr(args, "quiet", False):
                warnings.simplefilter("ignore")
            else:
                warnings.showwarning = _warn_in_one_line
            return int(args.run(args) or 0)
    except UsageError as exc:
        print(f"sigconv: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (SigconvError, OSError, ValueError, TypeError, MemoryError) as exc:
        print(f"sigconv: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_ERROR


def _one_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, OSError) and exc.filename and exc.strerror:
        text = f"{exc.filename}: {exc.strerror}"
    return " ".join(text.split())


def main_exit() -> None:  # console-script entry point
    sys.exit(main())


if __name__ == "__main__":
    main_exit()
