"""``sigconv blur | edges | filter``: image commands, thin over :mod:`sigconv.image`.

Each command checks the output path, reads the image, calls one front-end function and
writes the result atomically (temporary file + rename), keeping the input's mode and
bit depth. Errors propagate to :func:`sigconv_cli.main.main`, which reports them.
"""

from __future__ import annotations

import argparse
import os

from sigconv import image
from sigconv._io import atomic_output, check_output_path

from ._common import (
    UsageError,
    add_output_options,
    finite_float,
    naming_output,
    non_negative_float,
    note,
    positive_int,
)

_BORDER_HELP = ("pixels beyond the edge, as scipy.ndimage names them: reflect (default; "
                "mirrored, edge pixel repeated), mirror (edge pixel not repeated), nearest "
                "(edge pixel extended), wrap (periodic), constant (--cval)")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``blur``, ``edges`` and ``filter`` sub-commands."""
    p = subparsers.add_parser("blur", help="Gaussian or box blur of an image",
                              description="Gaussian (--sigma) or box (--box) blur; colour "
                              "is blurred premultiplied by alpha.")
    _add_common(p, box=True)
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--sigma", type=non_negative_float, metavar="S",
                       help="Gaussian standard deviation in pixels (kernel cut at 4 sigma)")
    which.add_argument("--box", type=positive_int, metavar="N", help="N x N box (mean) filter")
    p.set_defaults(run=run_blur)

    p = subparsers.add_parser("edges", help="edge map of an image (Sobel, Laplacian, ...)",
                              description="Edge map scaled into the image's range.")
    _add_common(p)
    p.add_argument("--operator", choices=sorted(image.OPERATORS), default="sobel",
                   help="edge operator (default sobel; diff is the two-pixel [-1, 1])")
    p.add_argument("--direction", choices=("x", "y", "magnitude"), default="magnitude",
                   help="gradient component or magnitude (default magnitude; the Laplacian "
                   "has magnitude only)")
    p.add_argument("--color", choices=("luminance", "channels"), default="luminance",
                   help="colour images: edges of the luma, written grey (default), or of "
                   "each channel")
    p.add_argument("--scale", choices=("stretch", "none"), default="stretch",
                   help="stretch: strongest edge = full white (default); none: raw response, "
                   "clipped")
    p.set_defaults(run=run_edges)

    p = subparsers.add_parser("filter", help="convolve an image with a custom kernel",
                              description="Convolve each channel with a preset or a kernel "
                              "read from a .txt / .csv / .npy file.")
    _add_common(p)
    p.add_argument("--kernel", required=True, metavar="NAME|FILE",
                   help=f"one of {', '.join(sorted(image.PRESETS))}, or a kernel file")
    p.add_argument("--normalize", action="store_true", help="divide the kernel by its sum")
    p.add_argument("--correlate", action="store_true",
                   help="slide the kernel unflipped (correlation) instead of convolving")
    p.set_defaults(run=run_filter)


def _add_common(parser: argparse.ArgumentParser, box: bool = False) -> None:
    """Options every image command takes, defined once."""
    parser.add_argument("input", metavar="INPUT", help="input image")
    add_output_options(parser, progress=False)
    parser.add_argument("--border", choices=sorted(image.BORDERS), default="reflect",
                        help=_BORDER_HELP)
    parser.add_argument("--cval", type=finite_float, default=0.0, metavar="V",
                        help="outside value for --border constant, in pixel units (default 0)")
    parser.add_argument("--method", choices=("auto", "direct", "fft", "oa"), default="auto",
                        help="convolution method of the engine (default auto" +
                        ("; with --box, auto means exact window sums, anything else the "
                         "engine's method)" if box else ")"))
    parser.add_argument("--workers", type=positive_int, default=None, metavar="N",
                        help="threads (default: every core); the image is cut in strips")


def run_blur(args: argparse.Namespace) -> int:
    """Run ``sigconv blur``."""
    if args.sigma is not None:
        return _process(args, image.gaussian, args.sigma, what=f"Gaussian sigma={args.sigma:g}")
    return _process(args, image.box, args.box, what=f"box {args.box}x{args.box}")


def run_edges(args: argparse.Namespace) -> int:
    """Run ``sigconv edges``."""
    if args.operator == "laplacian" and args.direction != "magnitude":
        raise UsageError(f"--operator laplacian has no --direction {args.direction} "
                         f"(it is not a gradient; leave --direction out)")
    return _process(args, image.edges, args.operator, direction=args.direction,
                    color=args.color, scale=args.scale, what=f"{args.operator} edges")


def run_filter(args: argparse.Namespace) -> int:
    """Run ``sigconv filter``."""
    preset = image.PRESETS.get(args.kernel.lower())
    if preset is not None:
        kernel = preset
    elif os.path.splitext(args.kernel)[1]:
        kernel = image.load_kernel(args.kernel)
    else:
        raise ValueError(f"--kernel {args.kernel!r} is neither a preset "
                         f"({', '.join(sorted(image.PRESETS))}) nor a .txt/.csv/.npy file")
    return _process(args, image.filter, kernel, normalize=args.normalize,
                    correlate=args.correlate, inputs=(args.input, args.kernel),
                    what=f"{kernel.shape[0]}x{kernel.shape[1]} kernel")


def _process(args: argparse.Namespace, function, *positional, what: str,
             inputs: tuple[str, ...] | None = None, **options) -> int:
    check_output_path(args.output, inputs or (args.input,), force=args.force)
    image.check_writable(args.output)
    pixels, metadata = image.read(args.input, metadata=True)
    # The output has the input's kind: refuse a format that cannot hold it (16-bit gray
    # in JPEG, say) now, naming the output, before any filtering.
    image.check_writable(args.output, like=pixels)
    result = function(pixels, *positional, border=args.border, cval=args.cval,
                      method=args.method, workers=args.workers, **options)
    with atomic_output(args.output) as tmp, naming_output(tmp, args.output):
        image.write(tmp, result, format=image.check_writable(args.output), metadata=metadata)
    shape = "x".join(str(n) for n in pixels.shape[1::-1])
    note(args, f"{what}: {args.input} ({shape}, {pixels.dtype}) -> {args.output}")
    return 0
