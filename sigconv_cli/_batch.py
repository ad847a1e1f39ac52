"""Many files in one command: ``-o`` a directory, ``--jobs N`` processes, one bar.

Used by ``reverb``, ``echo``, ``blur``, ``edges`` and ``filter``. A command is in batch
mode when it is given more than one input, or when its ``-o`` ends with a path separator
(``-o wet/``). Everything that can be refused is refused before any file is read:

- ``-o`` must be a directory (created if missing, after the checks below pass);
- each output is ``<directory>/<base name of the input>``; two inputs with the same base
  name (from different folders, or the same file twice) are refused, as is an input
  that is a directory;
- an output can never be one of the inputs (nor the impulse response or kernel file),
  even with ``--force``;
- existing outputs without ``--force`` are refused all together, naming them: nothing is
  overwritten silently, and a re-run is not a patchwork of old and new files;
- ``--plot`` draws one file's picture, so it is refused with several files.

Then each file goes through the command's single-file code path (a picklable
``work(args, say, progress)`` callable given a copy of ``args`` whose ``input`` and
``output`` are that file's). With ``--jobs 1`` this happens in this process; with more,
in that many worker processes (``forkserver``, else ``spawn``: the engine's threads and
FFTW must not be forked), each with ``max(1, cores // jobs)`` engine and BLAS threads
unless ``--workers`` says otherwise.

On a terminal, one tqdm bar on stderr counts the files (none with --quiet, as the
audio commands decide). Per-file notes ("wrote ...") are left out; warnings (clipped
samples, library warnings unless --quiet) come back from the workers and are printed as
``sigconv: warning: <input>: <message>``. A file that fails is reported on its own line,
``sigconv: error: <input>: <message>``, and the others carry on; the last line counts
them (``sigconv: 11 written, 1 failed``, always printed when something failed) and the
exit status is 1 if any failed. Each output is written atomically, so a failed file
leaves nothing behind. Ctrl-C or SIGTERM stop the workers (each removes its temporary
file), say how far the batch got, and exit 130/143 as the single-file commands do.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import signal
import sys
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from ._common import UsageError, note, positive_int

# work(args, say, progress) -> anything; say(message, warning=False) -> None
Work = Callable[..., Any]

_SEPARATORS = tuple(s for s in (os.sep, os.altsep) if s)


def add_jobs_option(parser: argparse.ArgumentParser) -> None:
    """``--jobs N``: files processed at once when several are given."""
    parser.add_argument("--jobs", type=positive_int, default=1, metavar="N",
                        help="with several inputs, process N files at once in N worker "
                        "processes (default 1); each then uses max(1, cores // N) threads "
                        "unless --workers is given")


def is_batch(inputs: Sequence[str], output: str) -> bool:
    """Several inputs, or ``-o`` ending with a path separator: ``-o`` is a directory.

    A single input with ``-o`` naming an existing directory (no trailing separator)
    stays a single-file command, refused as it always was ("is a directory").
    """
    return len(inputs) > 1 or output.endswith(_SEPARATORS)


def temp_suffix(output: str) -> str:
    """The end of the atomic output's temporary name: ``.<output's base name>`` (its last
    200 characters; the extension stays last, as format-sniffing writers need it). A
    worker killed outright (out of memory, SIGKILL) cannot remove its temporary file;
    with this the batch finds it, and removes nothing of anyone else's."""
    return "." + os.path.basename(output)[-200:]


def _remove_temporary(output: str) -> None:
    directory = os.path.dirname(output) or "."
    suffix = temp_suffix(output)
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if name.startswith(".sigconv-") and name.endswith(suffix) and \
                len(name) == len(".sigconv-") + 8 + len(suffix):   # mkstemp's 8 letters
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(directory, name))


def cores() -> int:
    """CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:          # not on Linux
        return os.cpu_count() or 1


def plan(inputs: Sequence[str], directory: str, *, others: Sequence[str] = (),
         force: bool = False) -> list[tuple[str, str]]:
    """Pair each input with its output in ``directory``, refusing bad batches up front.

    ``others`` are files read by every job (the impulse response, the kernel): never an
    output either. Raises :class:`sigconv._errors.InputError` (or ``OutputExistsError``)
    naming the offending files; creates nothing.
    """
    from sigconv._errors import InputError, OutputExistsError

    if os.path.exists(directory) and not os.path.isdir(directory):
        raise InputError(f"output {directory!r} is not a directory; with several inputs "
                         "(or an OUTPUT ending in '/'), -o names a directory")
    seen: dict[str, str] = {}
    pairs = []
    for inp in inputs:
        if inp == "-":
            raise InputError("reading from standard input ('-') is not supported; give a "
                             "file name")
        if os.path.isdir(inp):
            raise InputError(f"input {inp!r} is a directory; give the files in it "
                             f"(e.g. {os.path.join(inp, '*')})")
        name = os.path.basename(inp)
        key = os.path.normcase(name)
        if key in seen:
            first = seen[key]
            if os.path.abspath(first) == os.path.abspath(inp):
                raise InputError(f"input {inp!r} is given twice")
            raise InputError(f"inputs {first!r} and {inp!r} would both be written to "
                             f"{os.path.join(directory, name)!r}; rename one, or run them "
                             "into different directories")
        seen[key] = inp
        pairs.append((inp, os.path.join(directory, name)))

    read = {os.path.realpath(p) for p in (*inputs, *others)}
    read_ids = set()
    for p in (*inputs, *others):
        try:
            st = os.stat(p)
        except OSError:
            continue                # a missing input fails on its own, when it is read
        read_ids.add((st.st_dev, st.st_ino))
    existing = []
    for _, out in pairs:
        try:
            st = os.stat(out)
        except OSError:
            st = None
        if os.path.realpath(out) in read or (st is not None and (st.st_dev, st.st_ino) in read_ids):
            raise InputError(f"output {out!r} would be an input file; refusing to overwrite "
                             "an input (write to another directory)")
        if st is not None and os.path.isdir(out):
            raise InputError(f"output {out!r} is a directory")
        if st is not None:
            existing.append(out)
    if existing and not force:
        if len(existing) == 1:
            raise OutputExistsError(f"output {existing[0]!r} exists (use --force to "
                                    "overwrite)")
        shown = ", ".join(repr(p) for p in existing[:3])
        more = f" and {len(existing) - 3} more" if len(existing) > 3 else ""
        raise OutputExistsError(f"{len(existing)} outputs exist: {shown}{more} (use "
                                "--force to overwrite)")
    return pairs


def run(args: argparse.Namespace, work: Work, inputs: Sequence[str], *,
        others: Sequence[str] = (), check: Callable[[], object] | None = None,
        label: str) -> int:
    """Run ``work`` over ``inputs`` into the directory ``args.output``; return the status.

    ``args.jobs``, ``args.workers``, ``args.force``, ``args.quiet`` and ``args.plot`` are
    read; ``work`` must be picklable (a top-level function or an instance of a top-level
    class) when ``args.jobs > 1``. ``check()``, if given, runs after the batch's own
    checks and before anything is created (e.g. reading the impulse response's header).
    """
    if getattr(args, "plot", None) is not None:
        raise UsageError("--plot draws one file; leave it out when processing several "
                         "files (or -o ending in '/')")
    pairs = plan(inputs, args.output, others=others, force=args.force)
    if check is not None:
        check()
    os.makedirs(args.output, exist_ok=True)
    if not os.access(args.output, os.W_OK | os.X_OK):
        from sigconv._errors import InputError
        raise InputError(f"output directory {args.output!r} is not writable")

    processes = min(args.jobs, len(pairs))
    threads = None
    if processes > 1:
        threads = args.workers or max(1, cores() // processes)
    # Each file's own copy of the options; without ``run`` (the command's dispatcher,
    # which the worker does not need and which may be a closure, e.g. the pipe hook's).
    options = {k: v for k, v in vars(args).items() if k != "run"}
    jobs = []
    for inp, out in pairs:
        one = argparse.Namespace(**options)
        one.input, one.output = inp, out
        if threads is not None:
            one.workers = threads
        jobs.append(one)

    tally = _Tally(args, len(jobs), label)
    try:
        if processes == 1:
            keep_freed_memory()
            for one in jobs:
                try:
                    outcome = _do_file(work, one)
                except BaseException:
                    _remove_temporary(one.output)   # see _worker_file
                    raise
                tally.done(one.input, *outcome)
        else:
            _run_pool(work, jobs, processes, threads, tally)
    except BaseException:           # Ctrl-C, SIGTERM (or a bug): say how far it got
        tally.close()
        print(f"sigconv: stopped: {tally.summary()}, "
              f"{len(jobs) - tally.written - tally.failed} not done", file=sys.stderr)
        raise
    tally.close()
    if tally.failed:
        print(f"sigconv: {tally.summary()}", file=sys.stderr)
        return 1
    note(args, tally.summary())
    return 0


class _Tally:
    """The progress bar over the files, the per-file lines, the counts."""

    def __init__(self, args: argparse.Namespace, total: int, label: str) -> None:
        self.quiet = bool(args.quiet)
        self.written = self.failed = 0
        self.bar = None
        if not self.quiet and sys.stderr.isatty():     # as the audio commands decide
            from tqdm import tqdm
            self.bar = tqdm(total=total, desc=label, unit="file", file=sys.stderr,
                            leave=False, dynamic_ncols=True)

    def line(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text, file=sys.stderr)
        else:
            print(text, file=sys.stderr)

    def done(self, name: str, error: str | None, messages: list[tuple[bool, str]]) -> None:
        for warning, text in messages:     # notes are per-file detail: left out here
            if warning:
                self.line(f"sigconv: warning: {name}: {text}")
        if error is None:
            self.written += 1
        else:
            self.failed += 1
            self.line(f"sigconv: error: {name}: {error}")
        if self.bar is not None:
            self.bar.update(1)

    def summary(self) -> str:
        return f"{self.written} written, {self.failed} failed"

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


# glibc's mallopt parameters, and the values for a batch (see keep_freed_memory).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD = 32 << 20      # glibc's own ceiling for its adaptive threshold
_TRIM_THRESHOLD = 128 << 20


def keep_freed_memory() -> bool:
    """Let this process reuse the memory one file freed for the next (Linux, glibc).

    By default glibc gives each block of 128 KB or more its own mmap and unmaps it when
    freed (raising that threshold only as it sees big frees, and trimming the heap),
    so each file's arrays landed on fresh pages: 3,300-3,800 page faults and about 10
    of 56 CPU-ms per 10 s stereo reverb here. Blocks of up to 32 MB now come from the
    heap, which keeps up to 128 MB free at its top: no page fault from the second file
    on, 46 CPU-ms per file, the same peak memory (100 MB). Larger arrays are mapped and
    returned as before. Returns whether the settings were made."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return False
        import ctypes
        mallopt = ctypes.CDLL(None).mallopt
    except (ValueError, OSError, AttributeError):   # not glibc (musl, ...)
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
                and mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD))


def _do_file(work: Work, args: argparse.Namespace) -> tuple[str | None, list]:
    """Run ``work`` on one file: (None or the error's one line, [(warning?, text)]).

    Library warnings are collected as warnings (none with --quiet). Any Exception is
    this file's failure; KeyboardInterrupt and SIGTERM's exception go through.
    """
    from sigconv._errors import SigconvError

    messages: list[tuple[bool, str]] = []

    def say(message: str, warning: bool = False) -> None:
        messages.append((warning, " ".join(str(message).split())))

    error = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("ignore" if args.quiet else "default")
        try:
            work(args, say, progress=False)
        except (SigconvError, OSError, ValueError, TypeError, MemoryError) as exc:
            error = _one_line(exc)
        except Exception as exc:    # a bug: still this file's failure, named as such
            error = f"internal error: {type(exc).__name__}: {_one_line(exc)}"
    messages += [(True, " ".join(str(w.message).split())) for w in caught]
    return error, messages


def _one_line(exc: BaseException) -> str:
    from .main import _one_line as one_line  # the one place errors are worded
    return one_line(exc)


# ---- worker processes ---------------------------------------------------------------

_busy = False


class _Stop(BaseException):
    """SIGTERM in a worker while it works on a file: unwinds it (the atomic output's
    temporary file is removed on the way), then the worker exits."""


def _on_sigterm(signum, frame) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if _busy:
        raise _Stop
    os._exit(143)                   # idle: nothing to clean


def _init_worker(threads: int) -> None:
    # Ctrl-C reaches the whole process group; the parent decides and sends SIGTERM.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _on_sigterm)
    # BLAS threads: the variables cover libraries loaded later (SciPy's own OpenBLAS),
    # threadpoolctl those already loaded (numpy's, imported here so that it is). Without
    # this each worker's OpenBLAS spun on every core, and two workers on two cores ran
    # each file 3-6x slower than one process did.
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(threads)
    import numpy  # noqa: F401
    from threadpoolctl import threadpool_limits
    threadpool_limits(threads, user_api="blas")     # kept for the worker's life
    keep_freed_memory()


def _worker_file(work: Work, args: argparse.Namespace):
    global _busy
    _busy = True
    try:
        return _do_file(work, args)
    except _Stop:
        # The atomic output removed its temporary file, unless the signal came between
        # its creation and the ``try`` that guards it: the test that stops a batch as
        # soon as a temporary file appears hit that window.
        _remove_temporary(args.output)
        os._exit(143)
    finally:
        _busy = False


# The modules each batch command's work imports: preloaded by the fork server.
_AUDIO_WORK = ("sigconv_cli.audio_cmds", "sigconv.audio")
_IMAGE_WORK = ("sigconv_cli.image_cmds",)      # it imports sigconv.image
_WORK_MODULES = {"reverb": _AUDIO_WORK, "echo": _AUDIO_WORK, "blur": _IMAGE_WORK,
                 "edges": _IMAGE_WORK, "filter": _IMAGE_WORK}
_BLAS_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def start_early(argv: Sequence[str]) -> bool:
    """Start the workers' fork server now, when ``argv`` is a batch command with
    ``--jobs N`` (N > 1): called before this process imports sigconv and NumPy (a quarter
    of a second), so that the server imports them, the command's module and pyFFTW at
    the same time, on the other core, and each worker is then a fork of a process that
    has them all. Without it the workers started only once this process had imported
    and checked everything, then each imported them itself, in series with it.

    The look at ``argv`` is deliberately simple (``--jobs N`` or ``--jobs=N``, before any
    ``--``): a miss only loses the head start, and a server started for nothing (a
    usage error, a single input) exits with this process. The server is started with
    one BLAS thread (its NumPy must not start a BLAS thread pool it would fork); each
    worker sets its own count (:func:`_init_worker`). Returns whether it was started.
    """
    if not argv or argv[0] not in _WORK_MODULES or _jobs_in(argv[1:]) < 2:
        return False
    import multiprocessing
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return False
    from multiprocessing import forkserver

    forkserver.set_forkserver_preload(["sigconv_cli._warm", *_WORK_MODULES[argv[0]]])
    saved = {name: os.environ.get(name) for name in _BLAS_VARIABLES}
    os.environ.update(dict.fromkeys(_BLAS_VARIABLES, "1"))
    try:
        forkserver.ensure_running()
    except (OSError, ValueError):   # then the pool starts it later, as without this
        return False
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return True


def _jobs_in(argv: Sequence[str]) -> int:
    """The value of ``--jobs`` in ``argv`` (the last one given), 1 if none or unreadable."""
    jobs = 1
    for i, arg in enumerate(argv):
        if arg == "--":
            break
        value = None
        if arg == "--jobs" and i + 1 < len(argv):
            value = argv[i + 1]
        elif arg.startswith("--jobs="):
            value = arg[len("--jobs="):]
        if value is not None:
            try:
                jobs = int(value)
            except ValueError:
                jobs = 1
    return jobs


def _context():
    import multiprocessing

    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def _run_pool(work: Work, jobs: list[argparse.Namespace], processes: int, threads: int,
              tally: _Tally) -> None:
    """At most ``processes`` files in flight. When a worker dies (killed, out of memory)
    the pool breaks and every file then in flight loses its result, the culprit's and
    its neighbours' alike (a neighbour may even have written its output). Those files
    are run again one at a time, each alone in a pool of its own: the one that kills its
    worker again fails, the others are done; then a new pool takes the rest."""
    queue = collections.deque(jobs)
    while queue:
        suspects = _pool_round(work, queue, processes, threads, tally)
        for one in suspects:
            # An output that exists now was written by this batch (the outputs were
            # checked before it started): the file's first run got that far.
            retry = argparse.Namespace(**{**vars(one), "force": True})
            again = _pool_round(work, collections.deque([retry]), 1, threads, tally)
            for lost in again:
                tally.done(lost.input, "its worker process died (killed, or out of "
                           "memory?)", [])


def _pool_round(work: Work, queue: collections.deque, processes: int, threads: int,
                tally: _Tally) -> list[argparse.Namespace]:
    """Files from ``queue`` through one pool until it is empty or the pool breaks; the
    files in flight when it broke are returned (their temporary files removed), the
    others tallied."""
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    pool = ProcessPoolExecutor(processes, mp_context=_context(),
                               initializer=_init_worker, initargs=(threads,))
    running: dict = {}
    lost: list[argparse.Namespace] = []
    try:
        while (queue and not lost) or running:
            while queue and not lost and len(running) < processes:
                one = queue.popleft()
                running[pool.submit(_worker_file, work, one)] = one
            done, _ = wait(running, timeout=0.5, return_when=FIRST_COMPLETED)
            for future in done:
                one = running.pop(future)
                try:
                    error, messages = future.result()
                except BrokenProcessPool:
                    _remove_temporary(one.output)
                    lost.append(one)
                    continue
                except Exception as exc:    # could not be sent there or back (pickle)
                    error, messages = (f"internal error: {type(exc).__name__}: "
                                       f"{_one_line(exc)}", [])
                tally.done(one.input, error, messages)
    except BaseException:
        _stop(pool)
        for one in running.values():    # workers that did not stop in time
            _remove_temporary(one.output)
        raise
    pool.shutdown(wait=True)
    return lost


def _stop(pool) -> None:
    """SIGTERM to each worker (each removes its temporary file and exits), then wait up
    to 30 s for each; one still running then is killed (the caller removes its file)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for p in processes:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            p.terminate()
    for p in processes:
        try:
            p.join(30)
            if p.is_alive():        # stuck (or the exception was swallowed): no more waiting
                p.kill()
                p.join(5)
        except (OSError, ValueError, AssertionError):
            pass
    pool.shutdown(wait=False, cancel_futures=True)
