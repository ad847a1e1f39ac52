"""``sigconv explain A B``: a convolution worked by hand, then the planner's choice."""

from __future__ import annotations

import argparse
import os
import sys

from ._common import UsageError
from ._plot import check_plot

_PLOT_EXTS = (".png", ".gif")
_ARRAY_EXTS = (".npy", ".csv", ".txt")
# Listing limits: outputs listed in full, else the first and last few.
_MAX_LINES_1D, _HEAD_1D, _TAIL_1D = 40, 10, 5
_MAX_WINDOWS_2D, _HEAD_2D, _TAIL_2D = 16, 4, 2
_MAX_TERMS = 12                 # products written out per output, else the ends and '...'
_MAX_GRID = 10                  # 2-D windows drawn up to this many rows and columns
_MAX_PRODUCTS = 200_000         # products sigconv.steps may list for the shown outputs


def register(sub) -> None:
    p = sub.add_parser(
        "explain", help="work a small convolution by hand: flip, slide, multiply, sum",
        description="Print the kernel flipped (or not, with --correlate), then for each "
        "output position the samples that meet, their products and the sum, whether the "
        "position is 'valid' (window wholly inside the input) or leans on zero padding, "
        "the result, and the method the planner would pick for these sizes. "
        "A and B are inline numbers (',' between values, ';' between rows: "
        "\"1,2,0,3;4,1,0,2\") or .npy/.csv/.txt files. Start a negative first number "
        "with a space (\" -1,2\") or put -- before A.")
    p.add_argument("a", metavar="A", help="signal: inline numbers or an array file")
    p.add_argument("b", metavar="B", help="kernel: inline numbers or an array file")
    p.add_argument("--mode", default="full", choices=["full", "same", "valid"])
    p.add_argument("--correlate", action="store_true",
                   help="cross-correlate (slide B as given, not flipped)")
    p.add_argument("--plot", metavar="PICTURE",
                   help="also draw the sliding picture: .png (a few positions side by side) "
                   "or .gif (every position, animated); needs matplotlib (sigconv[plot])")
    p.add_argument("--force", action="store_true", help="overwrite PICTURE if it exists")
    p.set_defaults(run=run_explain)


def run_explain(args: argparse.Namespace) -> int:
    import sigconv

    check_plot(args, [p for p in (args.a, args.b) if _is_file(p)], _PLOT_EXTS)
    a, b = _operand(args.a, "A"), _operand(args.b, "B")
    for name, arr in (("A", a), ("B", b)):
        if arr.ndim not in (1, 2):
            raise sigconv.InputError(f"{name} is {arr.ndim}-d (shape {arr.shape}); explain "
                                     "works 1-D and 2-D convolutions")
    if a.ndim != b.ndim:
        raise sigconv.InputError(f"A is {a.ndim}-d and B is {b.ndim}-d; give both as rows "
                                 "(1-D) or both as grids (2-D)")
    text = _explain_text(a, b, args.mode, args.correlate)
    if args.plot is not None:          # written atomically by slide itself
        import sigconv.plot
        sigconv.plot.slide(a, b, args.plot, mode=args.mode, correlate=args.correlate)
        text.append(f"picture written to {args.plot}")
    sys.stdout.write("\n".join(text) + "\n")
    return 0


# -- reading the operands ------------------------------------------------------------------

def _is_file(text: str) -> bool:
    return text.lower().endswith(_ARRAY_EXTS) or os.sep in text or os.path.isfile(text)


def _operand(text: str, name: str):
    """An inline array ("1,2;3,4") or an array file, as a NumPy array."""
    if _is_file(text):
        from .engine_cmds import _read_array
        return _read_array(text)
    return _parse_inline(text, name)


def _parse_inline(text: str, name: str):
    import numpy as np

    if not text.strip():
        raise UsageError(f"{name} is empty; give numbers like 1,2,3 or a .csv/.npy/.txt file")
    rows = []
    for r, row in enumerate(text.split(";"), 1):
        cells = [c.strip() for c in row.split(",")]
        if cells == [""]:
            raise UsageError(f"{name} {text!r}: row {r} is empty")
        rows.append([_number(c, name, text) for c in cells])
    widths = {len(r) for r in rows}
    if len(widths) > 1:
        raise UsageError(f"{name} {text!r}: rows have different lengths "
                         f"({', '.join(str(len(r)) for r in rows)} values); a 2-D array "
                         "needs the same number in every row")
    # integers beyond int64 make an object array of exact Python ints
    return np.array(rows if len(rows) > 1 else rows[0])


def _number(cell: str, name: str, text: str):
    import math

    for kind in (int, float, complex):
        try:
            v = kind(cell)
        except ValueError:
            continue
        if kind is not int and not (math.isfinite(abs(v))):
            raise UsageError(f"{name} {text!r}: {cell!r} is not a finite number")
        return v
    hint = "" if cell else " (two separators in a row?)"
    if not cell or any(ch.isdigit() for ch in text):
        raise UsageError(f"{name} {text!r}: {cell!r} is not a number{hint}")
    raise UsageError(f"{name} {text!r}: neither numbers (1,2;3,4) nor a "
                     f"{'/'.join(_ARRAY_EXTS)} file")


# -- the text ------------------------------------------------------------------------------

def _explain_text(a, b, mode: str, correlate: bool) -> list[str]:
    import numpy as np

    import sigconv

    k = b[tuple(slice(None, None, -1) for _ in range(b.ndim))]
    out = np.asarray((sigconv.correlate if correlate else sigconv.convolve)(a, b, mode))
    shown, omitted = _positions(out.shape)
    try:
        listed = sigconv.steps(a, b, mode, correlate, positions=shown, limit=_MAX_PRODUCTS)
    except ValueError as exc:
        if "limit" not in str(exc):
            raise
        listed = None        # kernels so large that even a few outputs are too many terms
    lines = _header(a, b, k, mode, correlate)
    if listed is None:
        lines.append(f"(each output sums up to {_max_terms(a.shape, b.shape)} products: "
                     "too many to list; only the result follows)")
    elif a.ndim == 1:
        lines += _lines_1d(listed, omitted, a.shape[0], b.shape[0])
    else:
        slid = (b.conj() if b.dtype.kind == "c" else b) if correlate else k
        lines += _lines_2d(listed, omitted, a.shape, b.shape, a, slid, correlate)
    if listed is not None:
        lines.append(_valid_summary(a.shape, b.shape, mode, out.shape))
    lines += _labelled("result", out)
    lines += _plan_lines(a, b, mode)
    return lines


def _positions(shape):
    """Output indices to list, and how many are left out."""
    import math

    import numpy as np

    total = math.prod(shape)
    most, head, tail = ((_MAX_LINES_1D, _HEAD_1D, _TAIL_1D) if len(shape) == 1
                        else (_MAX_WINDOWS_2D, _HEAD_2D, _TAIL_2D))
    if total <= most:
        return list(np.ndindex(*shape)), 0
    flat = [*range(head), *range(total - tail, total)]
    return [tuple(int(i) for i in np.unravel_index(f, shape)) for f in flat], \
        total - head - tail


def _max_terms(s1, s2) -> int:
    import math
    return math.prod(min(n, m) for n, m in zip(s1, s2))


def _header(a, b, k, mode, correlate) -> list[str]:
    conj = correlate and b.dtype.kind == "c"
    shape = lambda s: (f"{s[0]} sample{'s' if s[0] != 1 else ''}" if len(s) == 1  # noqa: E731
                       else f"{s[0]}x{s[1]}")
    what = "cross-correlation" if correlate else "convolution"
    lines = [f"{what} of x (A, {shape(a.shape)}) with h (B, {shape(b.shape)}), mode {mode}"]
    lines += _labelled("x", a) + _labelled("h", b)
    starts = [_full_start(n, m, mode) for n, m in zip(a.shape, b.shape)]
    if correlate:
        lines += _labelled("h as slid (not flipped: correlation)" if not conj else
                           "conj(h) as slid (not flipped: correlation of complex data)",
                           b.conj() if conj else b)
        shifts = [s - (m - 1) for s, m in zip(starts, b.shape)]
        h_of = "conj(h)" if conj else "h"
        formula = (f"y[n] = sum over k of x[{_plus('n', shifts[0])}+k] * {h_of}[k]"
                   if a.ndim == 1 else
                   f"y[r,c] = sum over i,j of x[{_plus('r', shifts[0])}+i,"
                   f"{_plus('c', shifts[1])}+j] * {h_of}[i,j]")
    else:
        lines += _labelled("h flipped" + (" (rows and columns reversed)" if b.ndim == 2
                                          else ""), k)
        formula = (f"y[n] = sum over k of x[k] * h[{_plus('n', starts[0])}-k]"
                   if a.ndim == 1 else
                   f"y[r,c] = sum over i,j of x[i,j] * h[{_plus('r', starts[0])}-i,"
                   f"{_plus('c', starts[1])}-j]")
    lines.append(f"{formula}; products with the zero padding beyond x's ends are left out")
    return lines


def _full_start(n: int, m: int, mode: str) -> int:
    """Index of the full result that the mode's first output is (scipy's crop rules)."""
    return {"full": 0, "same": (m - 1) // 2, "valid": min(n, m) - 1}[mode]


def _plus(name: str, k: int) -> str:
    return name if k == 0 else f"{name}{k:+d}"


def _labelled(label: str, arr) -> list[str]:
    if arr.ndim == 1:
        return [f"{label} = {_array(arr)}"]
    return [f"{label} ="] + ["  " + r for r in _array(arr).splitlines()]


def _lines_1d(listed, omitted, n, m) -> list[str]:
    rows = []
    for i, s in enumerate(listed):
        eq = f"y[{s.index}] = {_terms(s.pairs)} = {_num(s.value)}"
        rows.append((eq, _where(s, min(n, m))))
        if omitted and i == _HEAD_1D - 1:
            rows.append((f"... {omitted} positions omitted (inputs too long to list) ...",
                         None))
    width = max(len(eq) for eq, w in rows if w is not None)
    return [eq if w is None else f"{eq.ljust(width)}   {w}" for eq, w in rows]


def _where(step, full: int) -> str:
    if step.valid:
        return "valid"
    missing = full - len(step.pairs)
    return f"zero padding ({missing} of {full} products fall outside x)"


def _lines_2d(listed, omitted, s1, s2, a, slid, correlate) -> list[str]:
    import numpy as np

    full = _max_terms(s1, s2)
    lines = ["each window is the part of x under the " +
             ("kernel" if correlate else "flipped kernel") + " ('.' = zero padding)"]
    mr, mc = s2
    if mr <= _MAX_GRID and mc <= _MAX_GRID:      # the same kernel beside every window
        kl = _grid([[_num(v) for v in row] for row in np.asarray(slid).tolist()])
    for i, s in enumerate(listed):
        r0, c0 = s.origin
        lines.append(f"y[{s.index[0]},{s.index[1]}]: window rows {r0}..{r0 + mr - 1}, "
                     f"cols {c0}..{c0 + mc - 1}, {_where(s, full)}")
        if mr <= _MAX_GRID and mc <= _MAX_GRID:
            window = [[_num(a[r, c]) if 0 <= r < s1[0] and 0 <= c < s1[1] else "."
                       for c in range(c0, c0 + mc)] for r in range(r0, r0 + mr)]
            wl = _grid(window)
            width = max(len(t) for t in wl)
            mid = len(wl) // 2
            for j, (wrow, krow) in enumerate(zip(wl, kl)):
                op = "  *  " if j == mid else "     "
                lines.append(f"    {wrow.ljust(width)}{op}{krow}")
        else:
            lines.append(f"    (a {mr}x{mc} window: too large to draw)")
        lines.append(f"  = {_terms(s.pairs)} = {_num(s.value)}")
        if omitted and i == _HEAD_2D - 1:
            lines.append(f"... {omitted} output windows omitted (inputs too large to list) "
                         "...")
    return lines


def _grid(rows) -> list[str]:
    width = max(len(v) for row in rows for v in row)
    return [" ".join(v.rjust(width) for v in row) for row in rows]


def _terms(pairs) -> str:
    def term(p):
        return f"{_factor(p[2])}*{_factor(p[3])}"
    if len(pairs) <= _MAX_TERMS:
        return " + ".join(map(term, pairs))
    return (" + ".join(map(term, pairs[:4])) + " + ... + " +
            " + ".join(map(term, pairs[-2:])) + f" ({len(pairs)} products)")


def _factor(v) -> str:
    text = _num(v)
    return f"({text})" if text.startswith("-") or isinstance(v, complex) else text


def _num(v) -> str:
    """Integers as integers, floats compactly (%g), complex as (a+bj)."""
    import numpy as np

    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, bool):
        return str(int(v))
    if isinstance(v, int):
        return str(v)
    if isinstance(v, complex):
        return f"{v.real:g}{v.imag:+g}j"
    return f"{v:g}"


def _array(arr) -> str:
    """A small 2-D array as a bare grid, anything else as NumPy prints it (summarised
    beyond 40 values), numbers formatted by :func:`_num`."""
    import numpy as np

    if np.ndim(arr) == 2 and np.shape(arr)[0] <= _MAX_GRID and np.shape(arr)[1] <= _MAX_GRID:
        return "\n".join(_grid([[_num(v) for v in row] for row in np.asarray(arr).tolist()]))

    with np.printoptions(threshold=40, edgeitems=5, linewidth=100):
        return np.array2string(np.asarray(arr), separator=" ",
                               formatter={"float_kind": lambda v: f"{v:g}",
                                          "complex_kind": _num, "bool": lambda v: str(int(v)),
                                          "object": _num})


def _valid_summary(s1, s2, mode, out_shape) -> str:
    import math

    n_valid = math.prod(max(n, m) - min(n, m) + 1 for n, m in zip(s1, s2))
    total = math.prod(out_shape)
    if mode == "valid":
        return f"all {total} outputs are valid: mode 'valid' keeps only those"
    if n_valid == total:
        return f"all {total} outputs are valid (nothing reaches the zero padding)"
    return (f"{n_valid} of {total} outputs are valid; the other {total - n_valid} lean on "
            "zero padding (mode 'valid' keeps only the valid ones)")


def _plan_lines(a, b, mode) -> list[str]:
    import sigconv

    plan = sigconv.explain(a, b, mode)
    how = plan.method + (f" ({plan.variant})" if plan.method == "direct" and plan.variant
                         else "")
    if plan.method == "oa":
        how += f" along axis {plan.axis}, blocks of {plan.block}"
    elif plan.method == "fft" and plan.fft_shape:
        how += f", transform {'x'.join(map(str, plan.fft_shape))}"
    lines = [f"planner's choice for these sizes: {how}; why: {plan.reason}"]
    if plan.costs:
        chosen = min(plan.costs, key=plan.costs.get)
        cells = [f"{name} {_seconds(t)}{' (cheapest)' if name == chosen else ''}"
                 for name, t in sorted(plan.costs.items(), key=lambda kv: kv[1])]
        lines.append("predicted cost of each candidate: " + ", ".join(cells))
    return lines


def _seconds(t: float) -> str:
    if t < 1e-3:
        return f"{t * 1e6:.3g} us"
    if t < 1:
        return f"{t * 1e3:.3g} ms"
    return f"{t:.3g} s"
