"""sigconv.nn against PyTorch (CPU, 2 threads) in one process: the cases of issue 12.

For each case: median wall time of sigconv's layer (method chosen by its planner) and
of PyTorch's, forward alone and forward + backward (PyTorch: autograd of the same
graph; sigconv: conv*d then conv*d_backward), sampled round-robin so that the shared
machine's noise hits both alike. The results are checked against each other first.

    python benchmarks/bench_nn.py              # the table (a few minutes)
    python benchmarks/bench_nn.py --model      # the planner constants of sigconv/nn/_plan.py

Cases:
  dw1d     depthwise 1-D, x (8, 64, 16384), kernel 1024, no padding (torch conv1d)
  causal   long causal depthwise, x (4, 64, 8192), kernel 8192; PyTorch: a hand-written
           rfft / product / irfft / crop (what long-convolution models do)
  dw31     depthwise 31x31 on (8, 128, 56, 56), padding 15 (torch conv2d)
  3x3s1    dense 3x3, 64 -> 64 on (8, 64, 56, 56), padding 1, stride 1
  3x3s2    the same with stride 2

PyTorch's OpenMP threads (libgomp) spin for a while after each call before they sleep
(GOMP_SPINCOUNT, 300000 by default): measured here, that held a core long enough to
make the sigconv call timed right after a PyTorch call 1.5x slower (3x3s1 23.8 ms
against 17.1), while PyTorch's own time did not change with a shorter spin (12.1 ms
against 12.0; stride 2: 3.9 against 3.4). So the table runs with GOMP_SPINCOUNT=1000
unless the environment sets it; ``--torch-spin`` keeps libgomp's default.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

import numpy as np

from sigconv import nn


def timeit_many(fns: dict, reps: int = 7, budget: float = 20.0) -> dict:
    """Medians of samples taken round-robin after one warm-up call each."""
    for f in fns.values():
        f()
    times = {k: [] for k in fns}
    t_end = time.perf_counter() + budget
    for r in range(reps):
        for k, f in fns.items():
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
        if r >= 2 and time.perf_counter() > t_end:
            break
    return {k: statistics.median(v) for k, v in times.items()}


def cases(torch):
    F = torch.nn.functional
    rng = np.random.default_rng(0)

    def arr(*shape, scale=1.0):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    out = []
    # 1-D depthwise, kernel 1024
    x, w = arr(8, 64, 16384), arr(64, 1, 1024, scale=1 / 32)
    out.append(("dw1d", "depthwise 1-D (8,64,16384) k=1024", x, w,
                dict(groups=64), nn.conv1d, nn.conv1d_backward,
                lambda xt, wt: F.conv1d(xt, wt, groups=64)))
    # long causal depthwise: kernel as long as the sequence
    L = 8192
    x, w = arr(4, 64, L), arr(64, 1, L, scale=1 / 90)

    def torch_causal(xt, wt):
        # y[t] = sum_k w[k] x[t - (L-1) + k]: a convolution with the reversed kernel
        n = 2 * L
        k = torch.flip(wt[:, 0, :], dims=(-1,))
        y = torch.fft.irfft(torch.fft.rfft(xt, n=n) * torch.fft.rfft(k, n=n), n=n)
        return y[..., :L]
    out.append(("causal", "causal depthwise (4,64,8192) k=8192 vs torch.fft", x, w,
                dict(groups=64, padding=((L - 1, 0),)), nn.conv1d, nn.conv1d_backward,
                torch_causal))
    # 31x31 depthwise
    x, w = arr(8, 128, 56, 56), arr(128, 1, 31, 31, scale=1 / 31)
    out.append(("dw31", "depthwise 31x31 (8,128,56,56) pad 15", x, w,
                dict(groups=128, padding=15), nn.conv2d, nn.conv2d_backward,
                lambda xt, wt: F.conv2d(xt, wt, groups=128, padding=15)))
    # 3x3 dense
    x, w = arr(8, 64, 56, 56), arr(64, 64, 3, 3, scale=1 / 24)
    out.append(("3x3s1", "3x3 64->64 (8,64,56,56) pad 1", x, w, dict(padding=1),
                nn.conv2d, nn.conv2d_backward,
                lambda xt, wt: F.conv2d(xt, wt, padding=1)))
    out.append(("3x3s2", "3x3 64->64 (8,64,56,56) pad 1 stride 2", x, w,
                dict(padding=1, stride=2), nn.conv2d, nn.conv2d_backward,
                lambda xt, wt: F.conv2d(xt, wt, padding=1, stride=2)))
    return out


def run_table(only=None, torch_spin=False) -> None:
    if not torch_spin:
        os.environ.setdefault("GOMP_SPINCOUNT", "1000")   # read when libgomp loads
    import torch
    torch.set_num_threads(2)
    import numpy
    print(f"# sigconv.nn vs PyTorch {torch.__version__} (CPU, torch.set_num_threads(2)), "
          f"numpy {numpy.__version__}, {platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average "
          f"{os.getloadavg()[0]:.2f}, GOMP_SPINCOUNT="
          f"{os.environ.get('GOMP_SPINCOUNT', 'default')}")
    print("# medians of up to 7 round-robin samples after a warm-up; float32; ms; "
          "ratio = torch / sigconv (> 1: sigconv faster); load = 1-minute load average "
          "after the row")
    print(f"{'case':8} {'pass':8} {'sigconv':>9} {'torch':>9} {'ratio':>7}  plan")
    for key, _label, x, w, opts, fwd, bwd, tfn in cases(torch):
        if only and key not in only:
            continue
        plan = nn.explain_conv(x.shape, w.shape, **opts)
        desc = plan.method + (f"/{plan.variant}" if plan.variant else "") + (
            f"/{plan.layout}" if plan.layout else "") + (
            f" fft {plan.fft_shape}" if plan.fft_shape else "")
        xt = torch.from_numpy(x)
        wt = torch.from_numpy(w)
        y = fwd(x, w, **opts)
        with torch.no_grad():
            yt = tfn(xt, wt).numpy()
        err = np.abs(y - yt).max() / np.abs(yt).max()
        gy = np.random.default_rng(1).standard_normal(y.shape).astype(np.float32)
        gyt = torch.from_numpy(gy)
        xg = xt.clone().requires_grad_(True)
        wg = wt.clone().requires_grad_(True)

        def ours_fb():
            fwd(x, w, **opts)
            bwd(gy, x, w, **opts, bias=False)

        def torch_fb():
            xg.grad = wg.grad = None
            tfn(xg, wg).backward(gyt)

        def torch_f():
            with torch.no_grad():
                tfn(xt, wt)
        # check the gradients agree before timing them
        gx, gw, _ = bwd(gy, x, w, **opts, bias=False)
        torch_fb()
        gerr = max(np.abs(gx - xg.grad.numpy()).max() / np.abs(xg.grad.numpy()).max(),
                   np.abs(gw - wg.grad.numpy()).max() / np.abs(wg.grad.numpy()).max())
        t = timeit_many({"ours": lambda: fwd(x, w, **opts), "torch": torch_f})
        print(f"{key:8} {'forward':8} {t['ours'] * 1e3:9.1f} {t['torch'] * 1e3:9.1f} "
              f"{t['torch'] / t['ours']:7.2f}  load {os.getloadavg()[0]:.1f}; {desc}; "
              f"max rel. diff {err:.1e}")
        sys.stdout.flush()
        t = timeit_many({"ours": ours_fb, "torch": torch_fb})
        print(f"{key:8} {'fwd+bwd':8} {t['ours'] * 1e3:9.1f} {t['torch'] * 1e3:9.1f} "
              f"{t['torch'] / t['ours']:7.2f}  load {os.getloadavg()[0]:.1f}; "
              f"grads max rel. diff {gerr:.1e}")
        sys.stdout.flush()


def run_model() -> None:
    """Measure the constants of sigconv/nn/_plan.py (float32 unless said)."""
    rng = np.random.default_rng(0)

    def med(f, reps=5):
        f()
        ts = []
        for _ in range(reps):
            t0 = time.perf_counter()
            f()
            ts.append(time.perf_counter() - t0)
        return statistics.median(ts)

    from sigconv.nn import _direct
    res = {}
    # products as gemm_forward runs them: images split over the pool, BLAS on one thread
    a = rng.standard_normal((64, 576)).astype(np.float32)
    b = rng.standard_normal((8, 576, 3136)).astype(np.float32)
    out = np.empty((8, 64, 3136), np.float32)

    def products(a_, b_, o_):
        def work(n0, n1):
            np.matmul(a_, b_[n0:n1], out=o_[n0:n1])
        _direct.run_split(8, 10**9, work)
    t = med(lambda: products(a, b, out))
    res["gemm_mac"] = t / (8 * 64 * 576 * 3136)
    a8, b8, o8 = a.astype(np.float64), b.astype(np.float64), out.astype(np.float64)
    res["f64 (gemm)"] = med(lambda: products(a8, b8, o8)) / t
    sa, sb, so = a[:4, :8], b[0, :8, :8].copy(), np.empty((4, 8), np.float32)
    res["gemm_call"] = med(lambda: [np.matmul(sa, sb, out=so) for _ in range(1000)]) / 1000
    a4 = rng.standard_normal((4, 576)).astype(np.float32)
    o4 = np.empty((8, 4, 3136), np.float32)
    t4 = med(lambda: products(a4, b, o4))
    res["gemm_small_rows (rows 4)"] = 4 * t4 / (8 * 4 * 576 * 3136) / res["gemm_mac"]
    from sigconv.engine import gather_windows
    src = rng.standard_normal((8, 64, 56, 56)).astype(np.float32)
    cols = np.empty((8, 64, 9, 3136), np.float32)

    def fill():              # the windows of 3x3 pad 1 as gemm_forward gathers them
        def work(n0, n1):
            gather_windows(src, (3, 3), 1, 1, 1, images=(n0, n1), out=cols[n0:n1],
                           workers=1)
        _direct.run_split(8, 10**9, work)
    res["fill_elem"] = med(fill) / cols.size
    y = rng.standard_normal((8, 64, 56, 58)).astype(np.float32)[..., :56]
    bias = np.ones((64, 1, 1), np.float32)
    res["out_elem"] = med(lambda: np.add(y, bias)) / y.size
    from sigconv.nn import _args
    x = rng.standard_normal((8, 128, 58, 58)).astype(np.float32)
    wd = rng.standard_normal((128, 1, 3, 3)).astype(np.float32)
    geo = _args.geometry(x, wd, None, 2, 1, 0, 1, 128, "zeros")
    res["taps_elem"] = med(lambda: _direct.taps_forward(x, wd, geo)) / (9 * 8 * 128 * 56 * 56)
    xs, ys, ts = x[0, :2, :4, :4], np.zeros((2, 4, 4), np.float32), np.empty((2, 4, 4),
                                                                            np.float32)
    w2 = wd[:2, 0, :1, :1]   # (2, 1, 1)

    def taps_small():        # one tap of one block: a multiply into the scratch, an add
        for _ in range(1000):
            np.multiply(xs, w2, out=ts)
            ys.__iadd__(ts)
    res["taps_call"] = med(taps_small) / 1000
    big = rng.standard_normal((4, 64, 8, 3136)).astype(np.float32)
    dst = np.empty((4, 64, 3136), np.float32)
    res["sum_elem"] = med(lambda: np.sum(big, axis=2, out=dst)) / big.size
    from sigconv.nn import _plan
    for name, xs, ws, g, pd in (
            ("engine_nd (dw 7x7)", (8, 128, 56, 56), (128, 1, 7, 7), 128, 3),
            ("engine_nd (dw 31x31)", (8, 128, 56, 56), (128, 1, 31, 31), 128, 15),
            ("engine_1d (dw1d)", (8, 64, 16384), (64, 1, 1024), 64, 0),
            ("engine_1d (causal)", (4, 64, 8192), (64, 1, 8192), 64, ((8191, 0),))):
        xx = rng.standard_normal(xs).astype(np.float32)
        ww = rng.standard_normal(ws).astype(np.float32)
        fn = nn.conv1d if len(xs) == 3 else nn.conv2d
        geo = _args.geometry(xx, ww, None, len(xs) - 2, 1, pd, 1, g, "zeros")
        predicted, _ = _plan._engine_cost(geo, np.dtype(np.float32), "fft")
        predicted /= _plan.CONSTANTS["engine_nd" if len(xs) > 3 else "engine_1d"]
        res[name] = med(lambda: fn(xx, ww, groups=g, padding=pd, method="fft")) / predicted
    print(f"# nn planner constants, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"load average {os.getloadavg()[0]:.2f}")
    for k, v in res.items():
        print(f"{k:24} {v:.3g}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", action="store_true", help="measure the planner constants")
    ap.add_argument("--torch-spin", action="store_true",
                    help="keep libgomp's default spin-wait for PyTorch's threads")
    ap.add_argument("cases", nargs="*", help="run only these cases (dw1d causal dw31 3x3s1 "
                                             "3x3s2)")
    args = ap.parse_args(argv)
    if args.model:
        run_model()
    else:
        run_table(args.cases, args.torch_spin)
    return 0


if __name__ == "__main__":
    sys.exit(main())
