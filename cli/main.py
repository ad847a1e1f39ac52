"""Entry point of the ``sigconv`` command: parse, dispatch, report errors in one place.

Each command group lives in its own module with a ``register(subparsers)`` function
that adds its sub-commands; every sub-command stores a ``run(args) -> int`` callable in
``args.run``. Errors are caught here only: one line ``sigconv: error: ...`` on stderr,
a non-zero exit status, no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# Command-group modules, in the order their commands are listed by --help.
COMMAND_MODULES = ("engine_cmds", "audio_cmds", "image_cmds")

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, our prefix, usage exit code
        raise _UsageError(message)


class _UsageError(Exception):
    pass


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
    from sigconv._errors import SigconvError

    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        return int(args.run(args) or 0)
    except _UsageError as exc:
        print(f"sigconv: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("sigconv: error: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
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
