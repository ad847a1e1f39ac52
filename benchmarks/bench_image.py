"""Image filters: sigconv against OpenCV, scipy.ndimage and Pillow, in one process.

    python benchmarks/bench_image.py [--repeats 5] [--only gaussian,box,sobel,dense]
                                     [--skip-slow] [--memory]

Two 3840x2160 images: RGB uint8 (a smooth colour field plus noise) and gray float32.
Four tasks, each done by every library that can, with the border mode 'reflect'
(OpenCV: BORDER_REFLECT) and the result in the input's dtype:

- gaussian: sigma = 5, kernel radius 20 (scipy.ndimage's truncate=4; OpenCV ksize 41);
  Pillow's GaussianBlur is a box approximation and rejects float images;
- box: 15 x 15 mean (ndimage uniform_filter, cv2.blur, Pillow BoxBlur(7));
- sobel: gradient magnitude sqrt(gx^2 + gy^2) per channel; Pillow has no Sobel, so its
  figure is two 3x3 ``ImageFilter.Kernel`` passes (x and y, each clipped at 0, no
  magnitude) and is marked with a star;
- dense: a random 31 x 31 kernel, convolution (cv2.filter2D with the flipped kernel;
  ndimage.convolve; Pillow stops at 5 x 5). ndimage takes seconds per call: it runs once
  (``--skip-slow`` drops it).

The calls of one task are interleaved round by round and the median is reported, so a
burst of load from other processes hits every library alike. Ratios are
``peer time / sigconv time`` (> 1: sigconv faster), from the same run. The column
"NumPy twin" is sigconv with its compiled core switched off (``use_native(False)``), i.e.
the pure-NumPy path, timed in the same rounds: the before/after of the compiled kernels.

``--memory`` instead measures the peak memory of each sigconv filter on the RGB and gray
images, each in a fresh subprocess (the peak resident memory after the filter minus the
peak after a warm-up call on a small image with the input made, from /proc's VmHWM;
compiled code's allocations count too), and prints it in units of the input image's size.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

import numpy as np
from PIL import Image, ImageFilter
from scipy import ndimage

import sigconv
from sigconv import image as si
from sigconv.engine import _native

try:
    import cv2
except ImportError:  # the benchmark still runs, without the OpenCV column
    cv2 = None

HEIGHT, WIDTH = 2160, 3840
SIGMA, BOX, DENSE = 5.0, 15, 31
PEERS = ("opencv", "ndimage", "pillow")


def make_images(seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    field = np.stack([np.sin(x / 97) * np.cos(y / 61), np.cos(x / 131 + y / 89),
                      np.sin((x + y) / 53)], axis=2)
    rgb = 128 + 90 * field + rng.normal(0, 12, field.shape).astype(np.float32)
    rgb = np.clip(np.rint(rgb), 0, 255).astype(np.uint8)
    gray = (rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)) / 255
    return rgb, np.ascontiguousarray(gray, dtype=np.float32)


def _ndimage_per_channel(function, image, *args, **kwargs):
    if image.ndim == 2:
        return function(image, *args, **kwargs)
    return np.stack([function(image[..., c], *args, **kwargs) for c in range(image.shape[2])],
                    axis=2)


def _to_dtype(array, dtype):
    if np.dtype(dtype).kind == "f":
        return array.astype(dtype, copy=False)
    return np.clip(np.rint(array), 0, 255).astype(dtype)


def tasks(rgb: np.ndarray, gray: np.ndarray, kernel: np.ndarray, skip_slow: bool):
    """Yield (task, image name, image, {library: callable})."""
    reflect = cv2.BORDER_REFLECT if cv2 else None
    for name, img in (("RGB uint8", rgb), ("gray float32", gray)):
        pil = Image.fromarray(img) if img.dtype == np.uint8 else None

        calls = {"sigconv": lambda img=img: si.gaussian(img, SIGMA)}
        calls["twin"] = _twin(calls["sigconv"])
        if cv2:
            calls["opencv"] = lambda img=img: cv2.GaussianBlur(img, (41, 41), SIGMA,
                                                               borderType=reflect)
        calls["ndimage"] = lambda img=img: ndimage.gaussian_filter(
            img, (SIGMA, SIGMA, 0)[:img.ndim], mode="reflect", truncate=4.0)
        if pil is not None:
            calls["pillow"] = lambda pil=pil: pil.filter(ImageFilter.GaussianBlur(SIGMA))
        yield "gaussian sigma=5", name, img, calls

        calls = {"sigconv": lambda img=img: si.box(img, BOX)}
        calls["twin"] = _twin(calls["sigconv"])
        if cv2:
            calls["opencv"] = lambda img=img: cv2.blur(img, (BOX, BOX), borderType=reflect)
        calls["ndimage"] = lambda img=img: ndimage.uniform_filter(
            img, (BOX, BOX, 1)[:img.ndim], mode="reflect")
        if pil is not None:
            calls["pillow"] = lambda pil=pil: pil.filter(ImageFilter.BoxBlur(BOX // 2))
        yield "box 15x15", name, img, calls

        calls = {"sigconv": lambda img=img: si.edges(img, "sobel", color="channels",
                                                     scale="none")}
        calls["twin"] = _twin(calls["sigconv"])
        if cv2:
            def opencv_sobel(img=img):
                gx = cv2.Sobel(img, cv2.CV_32F, 1, 0, ksize=3, borderType=reflect)
                gy = cv2.Sobel(img, cv2.CV_32F, 0, 1, ksize=3, borderType=reflect)
                magnitude = cv2.magnitude(gx, gy)
                if img.dtype == np.uint8:  # OpenCV's own rounding, saturating cast
                    return cv2.convertScaleAbs(magnitude)
                return magnitude
            calls["opencv"] = opencv_sobel

        def ndimage_sobel(img=img):
            work = img.astype(np.float32, copy=False)
            gx = _ndimage_per_channel(ndimage.sobel, work, axis=1, mode="reflect")
            gy = _ndimage_per_channel(ndimage.sobel, work, axis=0, mode="reflect")
            return _to_dtype(np.hypot(gx, gy), img.dtype)
        calls["ndimage"] = ndimage_sobel
        if pil is not None:
            kx = ImageFilter.Kernel((3, 3), si.SOBEL_X.ravel().tolist(), scale=1)
            ky = ImageFilter.Kernel((3, 3), si.SOBEL_Y.ravel().tolist(), scale=1)
            calls["pillow"] = lambda pil=pil, kx=kx, ky=ky: (pil.filter(kx), pil.filter(ky))
        yield "sobel 3x3", name, img, calls

        calls = {"sigconv": lambda img=img: si.filter(img, kernel)}
        calls["twin"] = _twin(calls["sigconv"])
        if cv2:
            flipped = np.ascontiguousarray(kernel[::-1, ::-1], dtype=np.float32)
            calls["opencv"] = lambda img=img, flipped=flipped: cv2.filter2D(
                img, -1, flipped, borderType=reflect)
        if not skip_slow:
            calls["ndimage"] = lambda img=img: _to_dtype(_ndimage_per_channel(
                ndimage.convolve, img.astype(np.float32), kernel.astype(np.float32),
                mode="reflect"), img.dtype)
        yield "dense 31x31", name, img, calls


def _twin(call):
    """``call`` with sigconv's compiled core switched off (the NumPy path)."""
    def twin():
        with _native.use_native(False):
            return call()
    return twin


def measure(calls: dict, repeats: int) -> dict[str, float]:
    """Median seconds per library; calls interleaved round by round after one warm-up."""
    slow = {lib for lib, call in calls.items() if _time(call) > 3.0}  # warm-up, and triage
    samples: dict[str, list[float]] = {lib: [] for lib in calls}
    for round_ in range(repeats):
        for lib, call in calls.items():
            if lib in slow and round_ > 0:
                continue
            samples[lib].append(_time(call))
    return {lib: statistics.median(values) for lib, values in samples.items()}


def _time(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def check(rgb: np.ndarray, gray: np.ndarray) -> list[str]:
    """Sanity: sigconv's answers against ndimage on a crop (the benchmark times the same code)."""
    notes = []
    crop = rgb[:300, :400]
    ref = ndimage.gaussian_filter(crop.astype(float), (SIGMA, SIGMA, 0), truncate=4)
    notes.append(f"gaussian RGB crop: max |sigconv - ndimage| = "
                 f"{np.abs(si.gaussian(crop, SIGMA) - ref).max():.3f} LSB")
    ref = ndimage.uniform_filter(gray[:300, :400].astype(float), BOX)
    notes.append(f"box gray crop: max |sigconv - ndimage| = "
                 f"{np.abs(si.box(gray[:300, :400], BOX) - ref).max():.2e}")
    return notes


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    versions = [f"numpy {np.__version__}", f"scipy {__import__('scipy').__version__}",
                f"Pillow {Image.__version__}", f"sigconv {sigconv.__version__}"]
    if cv2:
        versions.append(f"OpenCV {cv2.__version__} ({cv2.getNumThreads()} threads)")
    return f"{cpu}, {cores} cores, Python {platform.python_version()}; " + ", ".join(versions)


MEMORY_TASKS = {
    "gaussian": lambda img: si.gaussian(img, SIGMA),
    "box": lambda img: si.box(img, BOX),
    "sobel": lambda img: si.edges(img, "sobel", color="channels", scale="none"),
    "dense": lambda img: si.filter(img, np.random.default_rng(0).random((31, 31)) / 480.0),
}


def _high_water_kb() -> int:
    """This process's peak resident memory in kB: VmHWM (reset by exec, unlike ru_maxrss,
    which a child inherits from its parent on Linux), else ru_maxrss."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def memory_one(task: str, image: str, native: str) -> int:
    """In a fresh process: print the peak memory a filter adds, in MB and input sizes."""
    rng = np.random.default_rng(1)        # made without temporaries: the baseline is low
    img = (rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8) if image == "rgb"
           else rng.random((HEIGHT, WIDTH), dtype=np.float32))
    fn = MEMORY_TASKS[task]
    with _native.use_native(native == "1"):
        fn(img[:64, :64])                          # imports, plans, pools warmed
        before = _high_water_kb()
        out = fn(img)
        after = _high_water_kb()
    extra = (after - before) * 1024 - out.nbytes   # beyond the output itself
    print(f"{(after - before) / 1024:.1f} {img.nbytes / 2**20:.1f} {out.nbytes / 2**20:.1f} "
          f"{extra / img.nbytes:.2f}")
    return 0


def memory_table() -> int:
    print("| task | image | path | peak added MB | input MB | output MB "
          "| temporaries beyond the output, in input sizes |")
    print("|---" * 7 + "|")
    for task in MEMORY_TASKS:
        for image in ("rgb", "gray"):
            for native in ("1", "0"):
                line = subprocess.run([sys.executable, __file__, "--memory-one", task, image,
                                       native], capture_output=True, text=True, check=True)
                added, size, out, extra = line.stdout.split()
                print(f"| {task} | {image} | {'compiled' if native == '1' else 'NumPy twin'} "
                      f"| {added} | {size} | {out} | {extra} |", flush=True)
    return 0


def _cell(ms: dict[str, float], lib: str) -> str:
    return f"{ms[lib]:.0f}" if lib in ms else "n/a"


def _ratio(ms: dict[str, float], a: str, b: str) -> str:
    return f"{ms[a] / ms[b]:.2f}" if a in ms and b in ms else "n/a"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", default="", help="comma-separated task prefixes")
    parser.add_argument("--skip-slow", action="store_true", help="no ndimage dense 31x31")
    parser.add_argument("--memory", action="store_true", help="peak memory, not time")
    parser.add_argument("--memory-one", nargs=3, metavar=("TASK", "IMAGE", "NATIVE"),
                        help=argparse.SUPPRESS)            # one measurement (subprocess)
    args = parser.parse_args(argv)

    if args.memory_one:
        return memory_one(*args.memory_one)
    print(f"# machine: {machine()}")
    print(f"# load average before: {os.getloadavg()[0]:.2f}")
    native = _native.kernels()
    print(f"# compiled core: {sorted(n for n in dir(native) if not n.startswith('_'))}"
          if native is not None else "# compiled core: not loaded")
    if args.memory:
        return memory_table()
    rgb, gray = make_images()
    kernel = np.random.default_rng(31).normal(size=(DENSE, DENSE))
    for note in check(rgb, gray):
        print(f"# check: {note}")
    header = ("| task | image | sigconv ms | NumPy twin ms | OpenCV ms | ndimage ms | Pillow ms "
              "| twin / sigconv | ndimage / sigconv | Pillow / sigconv | sigconv / OpenCV |")
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    only = [p for p in args.only.split(",") if p]
    for task, name, _img, calls in tasks(rgb, gray, kernel, args.skip_slow):
        if only and not any(task.startswith(p) for p in only):
            continue
        ms = {lib: 1e3 * t for lib, t in measure(calls, args.repeats).items()}
        star = "*" if task.startswith("sobel") and "pillow" in ms else ""
        print(f"| {task} | {name} | {_cell(ms, 'sigconv')} | {_cell(ms, 'twin')} | "
              f"{_cell(ms, 'opencv')} | {_cell(ms, 'ndimage')} | {_cell(ms, 'pillow')}{star} | "
              f"{_ratio(ms, 'twin', 'sigconv')} | {_ratio(ms, 'ndimage', 'sigconv')} | "
              f"{_ratio(ms, 'pillow', 'sigconv')} | {_ratio(ms, 'sigconv', 'opencv')} |",
              flush=True)
    print(f"# load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
