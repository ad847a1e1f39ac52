"""``sigconv reverb`` and ``sigconv echo``: parse, call the audio front end, write atomically."""

from __future__ import annotations

import argparse
import math
import os
import sys

from sigconv._io import atomic_output, check_output_path

from . import _batch
from ._common import (
    add_output_options,
    finite_float,
    naming_output,
    positive_float,
    positive_int,
    say_on_stderr,
)
from ._pipes import install_pipes
from ._plot import add_plot_option, check_plot, draw

_IR_NORMS = ("energy", "peak", "none")  # mirrors sigconv.audio.IR_NORMS (import is lazy)
_DEFAULT_TARGET = "-1dBFS"
_MANY = ("Several INPUTs: -o names a directory and each output is named after its input "
         "(see -o and --jobs); a file that fails is reported and the others go on; "
         "--plot takes one input.")


def register(subparsers) -> None:
    """Add the ``reverb`` and ``echo`` sub-commands."""
    rev = subparsers.add_parser(
        "reverb", help="convolution reverb of an audio file with an impulse response",
        description="Convolution reverb: OUTPUT = dry*INPUT + wet*(INPUT conv IR), the "
                    "wet part after --predelay-ms. The IR is energy-normalised by default "
                    "so changing IRs does not change the loudness; an IR at another sample "
                    "rate is resampled to the input's. Samples clipped by integer output are "
                    "reported even with --quiet. " + _MANY)
    rev.add_argument("input", metavar="INPUT", nargs="+",
                     help="dry audio file(s) (WAV, FLAC, OGG, AIFF, ...)")
    rev.add_argument("ir", metavar="IR", help="impulse response file, after the inputs: mono, "
                     "stereo (L->L, R->R) or 4-channel true stereo (LL, LR, RL, RR)")
    rev.add_argument("--wet", type=finite_float, default=0.35,
                     help="gain of the reverb (default 0.35)")
    rev.add_argument("--dry", type=finite_float, default=1.0,
                     help="gain of the dry signal (default 1)")
    rev.add_argument("--predelay-ms", type=finite_float, default=0.0, metavar="MS",
                     help="delay of the reverb in milliseconds (default 0)")
    rev.add_argument("--ir-norm", choices=_IR_NORMS, default="energy",
                     help="IR normalisation: energy (default; unit power gain, so levels "
                          "stay put when IRs change), peak (largest tap = 1) or none")
    _add_render_options(rev, "the reverb tail (IR length - 1 frames)")
    add_plot_option(rev, "dry and wet waveforms and spectrograms, the IR and its energy "
                    "decay with the RT60")
    rev.set_defaults(run=run_reverb)

    ech = subparsers.add_parser(
        "echo", help="echo (repeats of the signal, each later and softer)",
        description="Echo: the input plus --repeats copies, each --delay seconds after the "
                    "previous one and --decay times as loud, as a sparse impulse response "
                    "through the convolution engine. Samples clipped by integer output are "
                    "reported even with --quiet. " + _MANY)
    ech.add_argument("input", metavar="INPUT", nargs="+", help="audio file(s)")
    ech.add_argument("--delay", type=positive_float, required=True, metavar="SECONDS",
                     help="time between repeats in seconds")
    ech.add_argument("--decay", type=finite_float, default=0.5,
                     help="gain of each repeat relative to the previous (0..1, default 0.5)")
    ech.add_argument("--repeats", type=positive_int, default=4,
                     help="number of echoes (default 4)")
    _add_render_options(ech, "the echoes past the input's end")
    add_plot_option(ech, "dry and wet waveforms and spectrograms and the echo's impulse "
                    "response")
    ech.set_defaults(run=run_echo)
    install_pipes(subparsers, report=_report)   # '-' and raw PCM: sigconv_cli/_pipes.py


def _add_render_options(parser: argparse.ArgumentParser, tail_what: str) -> None:
    parser.add_argument("--tail", action=argparse.BooleanOptionalAction, default=True,
                        help=f"keep {tail_what} (default) or cut the output to the input "
                             "length")
    parser.add_argument("--normalize", nargs="?", const=_DEFAULT_TARGET, default=None,
                        metavar="LEVEL", help="scale the output to a peak of LEVEL (default "
                        f"{_DEFAULT_TARGET} when given without a value; write a negative "
                        "LEVEL as --normalize=-3dBFS)")
    parser.add_argument("--subtype", default=None,
                        help="output subtype (PCM_16, PCM_24, FLOAT, ...); default: the "
                             "input's, if the output format holds it")
    parser.add_argument("--dither", action=argparse.BooleanOptionalAction, default=None,
                        help="TPDF dither before rounding (default: on for 16-bit and "
                             "smaller integer output)")
    parser.add_argument("--stream", action=argparse.BooleanOptionalAction, default=None,
                        help="process block by block with bounded memory (default: for "
                             "inputs longer than about 45 s of stereo)")
    parser.add_argument("--block-size", type=positive_int, default=None, metavar="FRAMES",
                        help="frames per streamed block (default: from the IR length)")
    parser.add_argument("--workers", type=positive_int, default=None,
                        help="FFT threads (default: all cores; with --jobs N, cores // N)")
    add_output_options(parser, many=True)
    _batch.add_jobs_option(parser)


def run_reverb(args: argparse.Namespace) -> int:
    if _batch.is_batch(args.input, args.output):
        from sigconv.audio import info

        # a missing or unreadable IR fails the batch before any work
        return _batch.run(args, reverb_one, args.input, others=[args.ir],
                          check=lambda: info(args.ir, what="IR"), label="reverb")
    args.input = args.input[0]
    check_output_path(args.output, [args.input, args.ir], force=args.force)
    check_plot(args, [args.input, args.ir])
    reverb_one(args, say_on_stderr(args), progress=_progress(args))
    if args.plot is not None:
        import sigconv.plot

        draw(args, sigconv.plot.audio_files, args.input, args.output, ir=args.ir,
             title=f"reverb: {os.path.basename(args.input)} through "
                   f"{os.path.basename(args.ir)} (dry {args.dry:g}, wet {args.wet:g})")
    return 0


def reverb_one(args: argparse.Namespace, say, progress: bool = False):
    """``args.input`` through ``args.ir`` into ``args.output``, written atomically; notes
    and warnings go to ``say(message, warning=False)``. The single-file command and each
    file of a batch (in a worker process too) run this."""
    from sigconv.audio import reverb_file

    check_output_path(args.output, [args.input, args.ir], force=args.force)
    with atomic_output(args.output, suffix=_batch.temp_suffix(args.output)) as tmp, \
            naming_output(tmp, args.output):
        report = reverb_file(args.input, args.ir, tmp, wet=args.wet, dry=args.dry,
                             predelay_ms=args.predelay_ms, ir_norm=args.ir_norm,
                             tail=args.tail, normalize=args.normalize, subtype=args.subtype,
                             dither=args.dither, stream=args.stream,
                             block_size=args.block_size, progress=progress,
                             notify=say, workers=args.workers)
    _report(args, report, say)
    return report


def run_echo(args: argparse.Namespace) -> int:
    if _batch.is_batch(args.input, args.output):
        return _batch.run(args, echo_one, args.input, label="echo")
    args.input = args.input[0]
    check_output_path(args.output, [args.input], force=args.force)
    check_plot(args, [args.input])
    report = echo_one(args, say_on_stderr(args), progress=_progress(args))
    if args.plot is not None:
        import sigconv.plot
        from sigconv.audio import echo_ir

        h = echo_ir(report.samplerate, delay=args.delay, decay=args.decay,
                    repeats=args.repeats)
        draw(args, sigconv.plot.audio_files, args.input, args.output, ir=h,
             title=f"echo: {os.path.basename(args.input)}, delay {args.delay:g} s, decay "
                   f"{args.decay:g}, {args.repeats} repeats")
    return 0


def echo_one(args: argparse.Namespace, say, progress: bool = False):
    """Echo of ``args.input`` into ``args.output``; as :func:`reverb_one`."""
    from sigconv.audio import echo_file

    check_output_path(args.output, [args.input], force=args.force)
    with atomic_output(args.output, suffix=_batch.temp_suffix(args.output)) as tmp, \
            naming_output(tmp, args.output):
        report = echo_file(args.input, tmp, delay=args.delay, decay=args.decay,
                           repeats=args.repeats, tail=args.tail, normalize=args.normalize,
                           subtype=args.subtype, dither=args.dither, stream=args.stream,
                           block_size=args.block_size, progress=progress,
                           workers=args.workers)
    _report(args, report, say)
    return report


def _progress(args: argparse.Namespace) -> bool:
    return not args.quiet and sys.stderr.isatty()


def _report(args: argparse.Namespace, report, say) -> None:
    levels = report.levels
    peak = levels.peak_dbfs
    peak_text = "silent" if peak == -math.inf else f"peak {peak:+.1f} dBFS"
    gain = f", gain {20 * math.log10(levels.gain):+.1f} dB" if levels.gain != 1.0 else ""
    say(f"wrote {args.output!r}: {report.frames} frames x {report.channels} ch at "
        f"{report.samplerate} Hz, {report.format}/{report.subtype}, {peak_text}{gain}"
        f"{', streamed' if report.streamed else ''}")
    # Clipping is a warning, not a note: it is printed even with --quiet.
    if levels.clipped:
        say(f"{levels.clipped} samples clipped at full scale ({peak_text}); use "
            "--normalize or --subtype FLOAT to avoid it", warning=True)
    elif levels.peak > 1.0:
        say(f"{peak_text} is above full scale; kept, as {report.subtype} is a "
            "float subtype")
