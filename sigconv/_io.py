"""Safe output files: write to a temporary file beside the target, rename on success."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator

from ._errors import InputError, OutputExistsError


def check_output_path(out: str | os.PathLike, inputs: Iterable[str | os.PathLike] = (),
                      *, force: bool = False) -> None:
    """Refuse an output path that is one of the inputs, or that exists without ``force``."""
    out = os.fspath(out)
    for inp in inputs:
        inp = os.fspath(inp)
        if inp == "-":
            raise InputError("reading from standard input ('-') is not supported; give a "
                             "file name")
        if os.path.exists(inp) and os.path.exists(out) and os.path.samefile(inp, out):
            raise InputError(f"output {out!r} is the same file as input {inp!r}; "
                             "refusing to overwrite an input")
        if os.path.abspath(inp) == os.path.abspath(out):
            raise InputError(f"output {out!r} is the same file as input {inp!r}; "
                             "refusing to overwrite an input")
    if out == "-":
        raise InputError("writing to standard output ('-') is not supported; give a file name")
    if os.path.isdir(out):
        raise InputError(f"output {out!r} is a directory; give a file name")
    if os.path.exists(out) and not force:
        raise OutputExistsError(f"output {out!r} exists (use --force to overwrite)")
    parent = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(parent):
        raise InputError(f"output directory {parent!r} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"output directory {parent!r} is not writable")


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, *, suffix: str | None = None) -> Iterator[str]:
    """Yield a temporary path in the target's directory; rename it onto ``path`` on success.

    On any exception (KeyboardInterrupt included) the temporary file is removed, so
    no partial output is ever left behind under the final name or the temporary one.
    The temporary name keeps the target's extension, as format-sniffing writers need it.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if suffix is None:
        suffix = os.path.splitext(path)[1]
    fd, tmp = tempfile.mkstemp(prefix=".sigconv-", suffix=suffix, dir=directory)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())    # mkstemp makes 0600; give a normal file's mode
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
