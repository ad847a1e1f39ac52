"""scipy's own convolution tests, run with scipy.signal's functions replaced by sigconv's.

The plugin tests/scipy_suite/sigconv_scipy_patch.py swaps the functions in before
scipy's test module imports them. It runs in a subprocess so that the swap never
leaks into the rest of this suite. Eight int8/uint8 tests whose expected values
wrap around are marked as deliberate deviations (strict xfail) by the plugin.
"""

import os
import subprocess
import sys

import pytest

from sigconv.backends import available_backends

SELECTION = ("TestConvolve or TestFFTConvolve or TestOAConvolve or TestAllFreqConvolves "
             "or TestCorrelateReal or TestCorrelate or TestCorrelateComplex")
HERE = os.path.dirname(__file__)


@pytest.mark.parametrize("backend", available_backends())
def test_scipy_signal_suite_passes_with_sigconv(backend, tmp_path):
    pytest.importorskip("scipy.signal.tests.test_signaltools")
    env = dict(os.environ, PYTHONPATH=os.path.join(HERE, "scipy_suite"),
               SIGCONV_TEST_BACKEND=backend)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "sigconv_scipy_patch", "-p",
         "no:cacheprovider", "--pyargs", "scipy.signal.tests.test_signaltools",
         "-k", SELECTION, "-q", "-x", "--no-header", "-rfE"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    tail = "\n".join(proc.stdout.splitlines()[-25:])
    assert proc.returncode == 0, tail
    assert " passed" in tail and "failed" not in tail
