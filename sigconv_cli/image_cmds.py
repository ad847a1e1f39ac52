"""``sigconv blur | edges | filter``: image commands, thin over :mod:`sigconv.image`.

Each command checks the output path, reads the image, calls one front-end function and
writes the result atomically (temporary file + rename), keeping the input's mode and
bit depth. Errors propagate to :func:`sigconv_cli.main.main`, which reports them.
Several inputs (or ``-o dir/``) go through :mod:`sigconv_cli._batch`, each file by the
same :class:`ImageWork` as a single one.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Callable

from sigconv import image
from sigconv._io import atomic_output, check_output_path

from . import _batch
from ._common import (
    UsageError,
    add_output_options,
    finite_float,
    naming_output,
    non_negative_float,
    positive_int,
    say_on_stderr,
)
from ._plot import add_plot_option, check_plot, draw

# The largest kernel side --plot draws (a Gaussian of sigma ~256 or a box of 2049):
# the heat map of a larger one would take more memory than the filtering itself.
_PLOT_KERNEL_MAX = 2049

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
    parser.add_argument("input", metavar="INPUT", nargs="+",
                        help="input image(s); with several, -o names a directory (see -o "
                        "and --jobs), a file that fails is reported while the others go on, "
                        "and --plot is refused")
    add_output_options(parser, progress=False, many=True)
    parser.add_argument("--border", choices=sorted(image.BORDERS), default="reflect",
                        help=_BORDER_HELP)
    parser.add_argument("--cval", type=finite_float, default=0.0, metavar="V",
                        help="outside value for --border constant, in pixel units (default 0)")
    parser.add_argument("--method", choices=("auto", "direct", "fft", "oa"), default="auto",
                        help="convolution method of the engine (default auto" +
                        ("; with --box, auto means exact window sums, anything else the "
                         "engine's method)" if box else ")"))
    parser.add_argument("--workers", type=positive_int, default=None, metavar="N",
                        help="threads (default: every core; with --jobs N, cores // N); "
                        "the image is cut in strips")
    _batch.add_jobs_option(parser)
    add_plot_option(parser, "the image before | the kernel | the image after")


def run_blur(args: argparse.Namespace) -> int:
    """Run ``sigconv blur``."""
    if args.sigma is not None:
        what = f"Gaussian sigma={args.sigma:g}"
        side = 2 * (4.0 * args.sigma + 0.5) + 1          # float: sigma may be huge
        kernel = (lambda: image.gaussian_kernel2d(args.sigma)) if side <= _PLOT_KERNEL_MAX \
            else f"{side:.4g}"
        return _process(args, image.gaussian, args.sigma, what=what,
                        plot_kernels=(kernel, f"Gaussian, sigma {args.sigma:g}"))
    side = args.box
    kernel = (lambda: image.box_kernel(args.box)) if side <= _PLOT_KERNEL_MAX else str(side)
    return _process(args, image.box, args.box, what=f"box {args.box}x{args.box}",
                    plot_kernels=(kernel, f"box {args.box}x{args.box} (mean)"))


def run_edges(args: argparse.Namespace) -> int:
    """Run ``sigconv edges``."""
    if args.operator == "laplacian" and args.direction != "magnitude":
        raise UsageError(f"--operator laplacian has no --direction {args.direction} "
                         f"(it is not a gradient; leave --direction out)")
    kx, ky = image.OPERATORS[args.operator]
    name = args.operator.capitalize()
    if ky is None:
        kernels = {f"{name}": kx}
    elif args.direction == "magnitude":
        kernels = {f"{name} x (correlated)": kx, f"{name} y (correlated)": ky}
    else:
        kernels = {f"{name} {args.direction} (correlated)":
                   kx if args.direction == "x" else ky}
    return _process(args, image.edges, args.operator, direction=args.direction,
                    color=args.color, scale=args.scale, what=f"{args.operator} edges",
                    plot_kernels=(kernels, None))


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
    shown = kernel
    if args.normalize and abs(kernel.sum()) > 1e-12 * abs(kernel).sum():
        shown = kernel / kernel.sum()     # a zero sum is refused by image.filter itself
    how = "correlated: slid as it is" if args.correlate else "convolved: slid flipped"
    return _process(args, image.filter, kernel, normalize=args.normalize,
                    correlate=args.correlate, inputs=(args.kernel,),
                    what=f"{kernel.shape[0]}x{kernel.shape[1]} kernel",
                    plot_kernels=(shown, f"{os.path.basename(args.kernel)}"
                                  f"{' normalised' if args.normalize else ''}\n({how})"))


@dataclasses.dataclass(frozen=True)
class ImageWork:
    """One image through ``function(pixels, *positional, border=..., cval=..., method=...,
    workers=..., **options)``, read from ``args.input`` and written atomically to
    ``args.output``. The single-file command and each file of a batch (in a worker
    process too: it pickles) run it; it returns ``(pixels, result)`` for ``--plot``."""

    function: Callable
    positional: tuple
    options: dict
    what: str
    others: tuple[str, ...] = ()       # files read besides the input (the kernel file)

    def __call__(self, args: argparse.Namespace, say, progress: bool = False):
        check_output_path(args.output, (args.input, *self.others), force=args.force)
        image.check_writable(args.output)
        pixels, metadata = image.read(args.input, metadata=True)
        # The output has the input's kind: refuse a format that cannot hold it (16-bit
        # gray in JPEG, say) now, naming the output, before any filtering.
        image.check_writable(args.output, like=pixels)
        result = self.function(pixels, *self.positional, border=args.border, cval=args.cval,
                               method=args.method, workers=args.workers, **self.options)
        with atomic_output(args.output, suffix=_batch.temp_suffix(args.output)) as tmp, \
                naming_output(tmp, args.output):
            image.write(tmp, result, format=image.check_writable(args.output),
                        metadata=metadata)
        shape = "x".join(str(n) for n in pixels.shape[1::-1])
        say(f"{self.what}: {args.input} ({shape}, {pixels.dtype}) -> {args.output}")
        return pixels, result


def _process(args: argparse.Namespace, function, *positional, what: str,
             inputs: tuple[str, ...] | None = None, plot_kernels=None, **options) -> int:
    """Check, read, filter, write; then draw --plot with ``plot_kernels``, a pair
    (kernel or {title: kernel} or a callable making it, panel title or None).
    ``inputs``: the files read besides the images (the kernel file). Several images
    (or ``-o dir/``) are handed to the batch runner instead."""
    work = ImageWork(function, positional, options, what, tuple(inputs or ()))
    if _batch.is_batch(args.input, args.output):
        return _batch.run(args, work, args.input, others=work.others, label=args.command)
    args.input = args.input[0]
    check_output_path(args.output, (args.input, *work.others), force=args.force)
    check_plot(args, (args.input, *work.others))
    if args.plot is not None:
        kernel, kernel_title = plot_kernels
        if isinstance(kernel, str):      # the kernel's side, too large to draw
            raise UsageError(f"--plot draws kernels up to {_PLOT_KERNEL_MAX} pixels wide; "
                             f"this one is {kernel}")
        kernel = kernel() if callable(kernel) else kernel
    pixels, result = work(args, say_on_stderr(args))
    if args.plot is not None:
        from sigconv import plot

        if args.command == "edges" and args.color == "luminance" and pixels.ndim == 3 \
                and pixels.shape[2] >= 3:
            what += " of the luma (0.299 R + 0.587 G + 0.114 B), written gray"
        draw(args, plot.image_filter, pixels, kernel, result,
             title=f"{args.command} {os.path.basename(args.input)}: {what}",
             kernel_titles=kernel_title)
    return 0
