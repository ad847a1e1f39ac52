"""``-`` as input and/or output of ``sigconv reverb`` and ``sigconv echo``.

``sigconv reverb - hall.wav -o -`` reads WAV (or raw PCM with ``--raw-in``) from standard
input and writes streamed WAV (or raw PCM with ``--raw-out``) to standard output, block
by block; messages stay on stderr. A reader that closes the pipe early ends the command
quietly with exit status 141 (128 + SIGPIPE), as ``sox`` or ``cat`` would.

Hooked into the command group by :func:`install_pipes` (one call at the end of
``audio_cmds.register``): it adds the pipe options to both parsers and routes a command
line that uses a pipe or raw PCM to :func:`run_reverb_piped` / :func:`run_echo_piped`,
leaving every other command line to the command's own ``run``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable

from ._common import UsageError, naming_output, positive_int, say_on_stderr

EXIT_BROKEN_PIPE = 141
RAW_FORMAT_NAMES = ("u8", "s16le", "s24le", "s32le", "f32le", "f64le")  # sigconv.audio's
DEFAULT_RAW_FORMAT = "f32le"


def add_pipe_options(parser: argparse.ArgumentParser) -> None:
    """``--raw-in``, ``--raw-out``, ``--rate``, ``--channels`` and ``--format``."""
    group = parser.add_argument_group(
        "pipes", "INPUT and -o may be '-' (standard input / output): WAV is read and "
                 "written as a stream (other formats on standard input are copied to a "
                 "temporary file first); the IR cannot be '-'")
    group.add_argument("--raw-in", action="store_true",
                       help="the input is headerless PCM (give --rate and --channels)")
    group.add_argument("--raw-out", action="store_true",
                       help="write headerless PCM instead of WAV (implied by --raw-in with "
                       "-o - unless --subtype asks for a WAV subtype)")
    group.add_argument("--rate", type=positive_int, default=None, metavar="HZ",
                       help="sample rate of --raw-in input")
    group.add_argument("--channels", type=positive_int, default=None, metavar="N",
                       help="channel count of --raw-in input")
    group.add_argument("--format", dest="raw_format", choices=RAW_FORMAT_NAMES,
                       default=None, help="sample format of raw input and output "
                       f"(default {DEFAULT_RAW_FORMAT})")


def uses_pipes(args: argparse.Namespace) -> bool:
    """Whether the command line reads or writes a stream or raw PCM (``args.input`` may
    be one path or the list of INPUTs)."""
    inputs = args.input if isinstance(args.input, list) else [args.input]
    return ("-" in inputs or args.output == "-" or getattr(args, "raw_in", False)
            or getattr(args, "raw_out", False))


def _single_input(args: argparse.Namespace) -> None:
    """A pipe command line takes one INPUT: ``args.input`` becomes that path."""
    if isinstance(args.input, list):
        if len(args.input) != 1:
            raise UsageError("with '-' or raw PCM give one INPUT, not "
                             f"{len(args.input)}")
        args.input = args.input[0]


def install_pipes(subparsers, *, report: Callable | None = None) -> None:
    """Add the pipe options to the ``reverb`` and ``echo`` parsers and route their pipe
    command lines here; ``report(args, render_report, say)`` prints the usual summary
    through ``say(message, warning=False)`` (stderr; notes silenced by --quiet)."""
    for name, piped in (("reverb", run_reverb_piped), ("echo", run_echo_piped)):
        parser = subparsers.choices.get(name)
        if parser is None:
            continue
        add_pipe_options(parser)
        plain = parser.get_default("run")

        def run(args, plain=plain, piped=piped):
            if uses_pipes(args):
                return piped(args, report=report)
            return plain(args)
        parser.set_defaults(run=run)


def check_pipe_args(args: argparse.Namespace, *, ir: str | None = None) -> None:
    """Usage errors (exit 2) for option combinations that cannot work."""
    if ir == "-":
        raise UsageError("the IR cannot be '-' (standard input); give an IR file")
    if args.raw_in and (args.rate is None or args.channels is None):
        raise UsageError("--raw-in needs --rate and --channels")
    if not args.raw_in and (args.rate is not None or args.channels is not None):
        raise UsageError("--rate and --channels describe --raw-in input; the input "
                         "here has a header")
    if args.raw_in and args.output == "-" and args.subtype is None:
        args.raw_out = True      # raw in, raw out on a pipe (--subtype asks for WAV instead)
    if args.raw_format is not None and not (args.raw_in or args.raw_out):
        raise UsageError("--format is the sample format of --raw-in/--raw-out")
    if getattr(args, "plot", None) is not None:
        raise UsageError("--plot needs files; it cannot draw audio from or to a pipe")
    if args.raw_out and args.subtype is not None:
        raise UsageError("--subtype does not apply to --raw-out; use --format")
    if args.output == "-" and not args.raw_out and args.subtype is not None:
        allowed = ("PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE")
        if args.subtype.upper() not in allowed:
            raise UsageError(f"WAV on standard output takes --subtype {', '.join(allowed)}, "
                             f"not {args.subtype!r}")


def run_reverb_piped(args: argparse.Namespace, *, report: Callable | None = None) -> int:
    """``sigconv reverb`` with ``-`` or raw PCM on either side."""
    _single_input(args)
    check_pipe_args(args, ir=args.ir)

    def render(source, sink):
        from sigconv.audio import reverb_stream

        return reverb_stream(source, args.ir, sink, **_stream_options(args), wet=args.wet,
                             dry=args.dry, predelay_ms=args.predelay_ms,
                             ir_norm=args.ir_norm, notify=say_on_stderr(args))
    return _run(args, render, [args.ir], report)


def run_echo_piped(args: argparse.Namespace, *, report: Callable | None = None) -> int:
    """``sigconv echo`` with ``-`` or raw PCM on either side."""
    _single_input(args)
    check_pipe_args(args)

    def render(source, sink):
        from sigconv.audio import echo_stream

        return echo_stream(source, sink, **_stream_options(args), delay=args.delay,
                           decay=args.decay, repeats=args.repeats)
    return _run(args, render, [], report)


def _stream_options(args: argparse.Namespace) -> dict:
    fmt = args.raw_format or DEFAULT_RAW_FORMAT
    return dict(raw_in=fmt if args.raw_in else None, samplerate=args.rate,
                channels=args.channels, raw_out=fmt if args.raw_out else None,
                tail=args.tail, normalize=args.normalize, subtype=args.subtype,
                dither=args.dither, block_size=args.block_size, workers=args.workers,
                input_name=args.input, output_name=args.output)


def _run(args, render, other_inputs: list[str], report) -> int:
    from sigconv._errors import OutputClosedError
    from sigconv._io import atomic_output, check_output_path

    source = sys.stdin.buffer if args.input == "-" else args.input
    try:
        if args.output == "-":
            result = render(source, sys.stdout.buffer)
        else:
            inputs = [p for p in (args.input, *other_inputs) if p != "-"]
            check_output_path(args.output, inputs, force=args.force)
            with atomic_output(args.output) as tmp, naming_output(tmp, args.output):
                result = render(source, tmp)
    except OutputClosedError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    if report is not None:
        report(args, result, say_on_stderr(args))
    return 0


def _silence_stdout() -> None:
    """Point standard output at /dev/null so that the interpreter's final flush of the
    closed pipe raises nothing (Python's documented recipe for SIGPIPE)."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
