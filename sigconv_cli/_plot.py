"""``--plot PICTURE``, shared by reverb, echo, blur, edges, filter and calibrate.

Order of work, the same on every command: the picture's path is checked with the
other outputs before anything is read or computed (a known extension, else a usage
error naming the ones allowed; not an input, not the output; its directory writable;
an existing file only with --force; matplotlib installed, else one line naming the
extra). Then the command does its work and writes its output. The picture is drawn
last, atomically: if drawing fails, the output already written stays (it is correct
and complete), and the failure is one line ``sigconv: error: ...`` saying so, exit 1.
"""

from __future__ import annotations

import argparse
import os

from ._common import UsageError, note

_FORMATS = (".png", ".svg", ".pdf")     # sigconv.plot.FORMATS (kept here: no import at start)


def add_plot_option(parser: argparse.ArgumentParser, what: str,
                    after: str = "the output is written") -> None:
    """``--plot PICTURE`` with a help text naming what is drawn, and after what."""
    parser.add_argument("--plot", metavar="PICTURE", default=None,
                        help=f"also draw {what} to PICTURE ({', '.join(_FORMATS)}; needs "
                        f"matplotlib: pip install 'sigconv[plot]'); drawn after {after}; an "
                        "existing PICTURE needs --force")


def check_plot(args: argparse.Namespace, inputs=(), formats: tuple[str, ...] = _FORMATS) -> None:
    """Refuse a bad ``--plot`` path before any work (see the module notes); ``formats``
    are the extensions allowed (``sigconv explain`` draws .png and .gif)."""
    if args.plot is None:
        return
    from sigconv._errors import InputError
    from sigconv._io import check_output_path

    ext = os.path.splitext(args.plot)[1].lower()
    if ext not in formats:
        raise UsageError(f"--plot {args.plot!r}: unsupported picture type "
                         f"{ext or '(none)'!r} (use {', '.join(formats[:-1])} or "
                         f"{formats[-1]})")
    output = getattr(args, "output", None)
    if output is not None and os.path.abspath(output) == os.path.abspath(args.plot):
        raise InputError(f"--plot {args.plot!r} is the output file too; give the picture "
                         "its own name")
    check_output_path(args.plot, inputs, force=getattr(args, "force", False))
    import sigconv.plot

    sigconv.plot.check_path(args.plot, formats)   # matplotlib present, else one line


def draw(args: argparse.Namespace, function, *positional, **options) -> None:
    """Call ``function(*positional, args.plot, **options)`` (a :mod:`sigconv.plot`
    function); a failure is one line saying the output was written but not the picture."""
    from sigconv._errors import SigconvError

    try:
        function(*positional, args.plot, **options)
    except Exception as exc:        # anything matplotlib may raise: one line, exit 1
        text = " ".join((str(exc) or type(exc).__name__).split())
        done = f"{args.output!r} was written, but " if getattr(args, "output", None) else ""
        raise SigconvError(f"{done}the picture {args.plot!r} was not: {text}") from None
    note(args, f"drew {args.plot!r}")
