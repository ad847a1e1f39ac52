"""``sigconv info``, ``sigconv calibrate`` and ``sigconv convolve`` (arrays in files)."""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

from ._common import (
    UsageError,
    add_output_options,
    naming_output,
    non_negative_float,
    note,
    positive_int,
)
from ._plot import add_plot_option, check_plot, draw

_ARRAY_EXTS = (".npy", ".csv", ".txt")


def register(sub) -> None:
    p = sub.add_parser("info", help="version, FFT backend, threads, calibration profile")
    p.set_defaults(run=run_info)

    p = sub.add_parser("calibrate",
                       help="measure this machine's cost constants and FFTW plans")
    p.add_argument("--seconds", type=non_negative_float, default=60.0,
                   help="time cap for FFTW plan measurement (default 60; 0 skips it)")
    p.add_argument("--workers", type=positive_int, default=None,
                   help="threads (default: all cores)")
    p.add_argument("--quiet", action="store_true", help="no progress notes")
    add_plot_option(p, "measured time against size for direct, overlap-add and FFT "
                    "(log-log, the planner's choice marked)",
                    after="the profile is saved, from a sweep of a few seconds")
    p.add_argument("--plot-only", action="store_true",
                   help="with --plot: skip the calibration, only sweep and draw (the "
                   "planner's current constants mark its choice)")
    p.add_argument("--force", action="store_true", help="overwrite the --plot picture")
    p.set_defaults(run=run_calibrate)

    p = sub.add_parser("convolve", help="convolve two arrays stored in .npy/.csv/.txt files")
    p.add_argument("a", metavar="A", help="first array (.npy, .csv or whitespace .txt)")
    p.add_argument("b", metavar="B", help="second array (kernel)")
    add_output_options(p, progress=False)
    p.add_argument("--mode", default="full", choices=["full", "same", "valid"])
    p.add_argument("--method", default="auto", choices=["auto", "direct", "fft", "oa"])
    p.add_argument("--correlate", action="store_true",
                   help="cross-correlate (do not flip B)")
    p.add_argument("--explain", action="store_true", help="print the plan on stderr")
    p.set_defaults(run=run_convolve)


def run_info(args: argparse.Namespace) -> int:
    import sigconv
    from sigconv import _profile, backends

    names = backends.available_backends()
    b = backends.get_backend()
    print(f"sigconv {sigconv.__version__}")
    print(f"backend: {b.name} ({b.describe()})")
    print(f"available backends: {', '.join(names)}")
    err = backends.pyfftw_error()
    if err:
        print(f"pyfftw unavailable: {err}")
    print(f"threads: {backends.default_workers()}")
    print(f"native core: {_native_summary()}")
    if hasattr(b, "block_loop_error"):
        from sigconv.engine import native_info
        i = native_info()
        why = b.block_loop_error() if i["loaded"] and i["enabled"] else "native core off"
        print("overlap-add: " + ("the native core calls FFTW block by block" if why is None
                                 else f"chunks of blocks from Python ({why})"))
    print(f"BLAS (direct 'band' variant): {_blas_summary()}")
    kept = backends.kept_output_stats()
    print(f"freed outputs of {kept['min_bytes'] >> 20} MB or more kept for reuse: up to "
          f"{kept['max_blocks']} blocks, {kept['max_bytes'] >> 20} MB")
    prof = _profile.profile_path()
    state = "present" if _profile.load_profile() else "absent, built-in constants in use"
    print(f"calibration profile: {prof} ({state})")
    wis = _profile.wisdom_path()
    print(f"FFTW wisdom: {wis} ({'present' if os.path.exists(wis) else 'absent'})")
    return 0


def _native_summary() -> str:
    from sigconv.engine import native_info

    i = native_info()
    if not i["loaded"]:
        return f"not loaded, NumPy fallback in use ({i['error']})"
    state = "" if i["enabled"] else ", disabled by SIGCONV_NATIVE=0"
    return f"loaded, version {i['version']}, SIMD {i['simd']}, {i['threads']} threads{state}"


def _blas_summary() -> str:
    """numpy's BLAS (the one numpy.matmul calls), version and threads, via threadpoolctl."""
    from threadpoolctl import threadpool_info

    found = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    # numpy's wheels ship it in numpy.libs (scipy's own copy sits in scipy.libs)
    found.sort(key=lambda i: "numpy" not in i.get("filepath", ""))
    if not found:
        return "none found"
    return f"{found[0].get('internal_api', '?')} {found[0].get('version') or ''} " \
           f"({found[0].get('num_threads', '?')} threads)"


def run_calibrate(args: argparse.Namespace) -> int:
    from sigconv import _profile, backends
    from sigconv.engine import _calibrate, _planner

    if args.plot_only and args.plot is None:
        raise UsageError("--plot-only needs --plot PICTURE")
    check_plot(args)
    workers = args.workers or backends.default_workers()
    say = (lambda msg: None) if args.quiet else (lambda msg: note(args, f"measuring {msg}"))
    if args.plot_only:
        _plot_scaling(args, workers, say)
        return 0
    made = 0
    if args.seconds > 0:
        made = _calibrate.plan_wisdom(workers=workers, seconds=args.seconds, progress=say)
    constants = _calibrate.measure(workers=workers, progress=say)
    path = _profile.save_profile(constants, backend=backends.get_backend().name,
                                 workers=workers)
    _planner.reset_constants()
    for k, v in constants.items():
        print(f"{k:14s} {v:.4g}")
    print(f"profile saved to {path}")
    if made:
        print(f"FFTW wisdom for {made} transforms saved to {_profile.wisdom_path()}")
    if args.plot is not None:
        _plot_scaling(args, workers, say)
    return 0


def _plot_scaling(args: argparse.Namespace, workers: int, say) -> None:
    """The scaling sweeps (kernel as long as the signal; a 129-tap kernel), their
    crossovers printed, then the picture."""
    import sigconv.plot
    from sigconv.engine import measure_scaling

    runs = [measure_scaling(kernel=None, workers=workers, progress=say),
            measure_scaling(kernel=129, workers=workers, progress=say)]
    for run in runs:
        label = "kernel = signal" if run.kernel is None else f"kernel {run.kernel} taps"
        seen = ", ".join(f"{a} -> {b} at n ~ {n:,.0f}" for a, b, n in run.crossovers())
        auto = ", ".join(f"{run.chosen[i - 1]} -> {run.chosen[i]} at n ~ "
                         f"{(run.sizes[i - 1] * run.sizes[i]) ** 0.5:,.0f}"
                         for i in range(1, len(run.sizes)) if run.chosen[i] != run.chosen[i - 1])
        print(f"scaling ({label}): fastest measured {seen or 'unchanged'}; "
              f"auto picks {auto or 'one method throughout'}")
    draw(args, sigconv.plot.scaling, runs)


def _read_array(path: str) -> np.ndarray:
    from sigconv import FileFormatError

    ext = os.path.splitext(path)[1].lower()
    if ext not in _ARRAY_EXTS:
        raise FileFormatError(f"{path!r}: unsupported array file type {ext!r} "
                              f"(use one of {', '.join(_ARRAY_EXTS)})")
    if not os.path.isfile(path):
        raise FileFormatError(f"{path!r}: no such file")
    try:
        if ext == ".npy":
            return np.load(path, allow_pickle=False)
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        delim = "," if ext == ".csv" else None
        rows = [r for r in text.splitlines() if r.strip() and not r.lstrip().startswith("#")]
        if not rows:
            raise ValueError("no numbers in the file")
        arr = np.loadtxt(rows, delimiter=delim, ndmin=1, dtype=float)
        if np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)) and \
                not any(c in text for c in ".eE"):
            arr = arr.astype(np.int64)
        return arr
    except (ValueError, OSError, UnicodeDecodeError, EOFError) as exc:
        raise FileFormatError(f"{path!r}: not a readable {ext} array ({exc})") from None


def _write_array(path: str, arr: np.ndarray) -> None:
    from sigconv import InputError

    ext = os.path.splitext(path)[1].lower()
    if ext == ".npy":
        if arr.dtype == object:
            raise InputError("the exact result holds integers beyond int64, which .npy "
                             "stores only as pickled objects; write .csv or .txt instead")
        with open(path, "wb") as fh:
            np.save(fh, arr, allow_pickle=False)
        return
    if arr.dtype.kind == "c":
        raise InputError(f"complex results need a .npy output, not {ext!r}")
    if arr.ndim > 2:
        raise InputError(f"a {arr.ndim}-d result needs a .npy output, not {ext!r}")
    if arr.dtype == object:            # exact integers beyond int64: written digit for digit
        lines = np.atleast_1d(arr)
        lines = lines.reshape(-1, 1) if lines.ndim == 1 else lines   # as np.savetxt lays out
        sep = "," if ext == ".csv" else " "
        with open(path, "w", encoding="utf-8") as fh:
            fh.writelines(sep.join(str(int(v)) for v in row) + "\n" for row in lines)
        return
    fmt = "%d" if arr.dtype.kind in "biu" else "%.17g"
    np.savetxt(path, np.atleast_1d(arr), fmt=fmt, delimiter="," if ext == ".csv" else " ")


def run_convolve(args: argparse.Namespace) -> int:
    import sigconv
    from sigconv import InputError
    from sigconv._io import atomic_output, check_output_path

    check_output_path(args.output, [args.a, args.b], force=args.force)
    ext = os.path.splitext(args.output)[1].lower()
    if ext not in _ARRAY_EXTS:
        raise InputError(f"output {args.output!r}: unsupported array file type {ext!r} "
                         f"(use one of {', '.join(_ARRAY_EXTS)})")
    a, b = _read_array(args.a), _read_array(args.b)
    fn = sigconv.correlate if args.correlate else sigconv.convolve
    if args.explain:
        k = b if not args.correlate else b[tuple(slice(None, None, -1) for _ in range(b.ndim))]
        plan = sigconv.explain(a, k, args.mode, args.method)
        print(f"sigconv: plan {plan}", file=sys.stderr)
    out = fn(a, b, args.mode, args.method)
    with atomic_output(args.output) as tmp, naming_output(tmp, args.output):
        _write_array(tmp, np.asarray(out))
    note(args, f"wrote {args.output} ({'x'.join(map(str, np.shape(out)))} {out.dtype})")
    return 0
