"""Imported first by the fork server of a ``--jobs`` batch (see ``_batch.start_early``),
before the command's own modules: what every worker needs before its first file, loaded
once, in the server, then inherited by each fork. Starts no thread (the server forks);
a failure here only means that the workers load what is missing themselves."""

from __future__ import annotations

import contextlib
import signal

# Ctrl-C reaches the whole process group: the server must not print a traceback from
# the middle of these imports (multiprocessing ignores SIGINT there only after them;
# the batch stops the workers itself, and the server exits with the command).
with contextlib.suppress(ValueError, OSError):
    signal.signal(signal.SIGINT, signal.SIG_IGN)

with contextlib.suppress(Exception):
    import numpy as np
    import threadpoolctl  # noqa: F401  (each worker sets its BLAS threads with it)

    from sigconv.engine import convolve

    # One FFT convolution on one thread: imports pyFFTW and loads the saved wisdom.
    convolve(np.ones(64, np.float32), np.ones(64, np.float32), method="fft", workers=1)
