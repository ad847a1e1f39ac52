"""The compiled core is built by the README's install and reported by ``sigconv info``."""

import subprocess
import sys

from sigconv.engine import _native, native_info


def test_core_is_built_and_loaded():
    # the README's `pip install -e .` builds it; a silent fallback would leave it untested
    i = native_info()
    assert i["loaded"], i
    assert i["version"] and i["threads"] >= 1
    assert i["simd"].split(",")[0] in ("sse2", "avx2", "neon", "generic")


def test_use_native_switches_per_thread():
    assert _native.kernels() is not None
    with _native.use_native(False):
        assert _native.kernels() is None
        with _native.use_native(True):
            assert _native.kernels() is not None
        assert _native.kernels() is None
    assert _native.kernels() is not None


def test_environment_switch_and_info_line():
    code = ("from sigconv.engine import _native; import sys; "
            "sys.exit(0 if _native.kernels() is None else 3)")
    env = {"SIGCONV_NATIVE": "0", "PATH": ""}
    assert subprocess.run([sys.executable, "-c", code], env=env).returncode == 0
    out = subprocess.run([sys.executable, "-m", "sigconv_cli", "info"], env=env,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "native core: loaded" in out.stdout and "disabled by SIGCONV_NATIVE=0" in out.stdout


def test_populate_maps_pages_and_keeps_contents():
    import resource

    import numpy as np
    core = _native.kernels()
    a = np.arange(3 << 20, dtype=np.float32)       # 12 MB of known values
    before = a.copy()
    done = core.populate(a)
    np.testing.assert_array_equal(a, before)       # contents untouched
    assert core.populate(a[::2]) is False          # not contiguous: refused, not an error
    ro = a.view()
    ro.flags.writeable = False
    assert core.populate(ro) is False
    if not (sys.platform.startswith("linux") and done):
        return                                      # other systems, kernels before 5.14
    out = _native.empty((4 << 20,), np.float32)    # 16 MB, fresh pages, mapped by empty()
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    out.fill(1.0)
    # writing it takes (almost) no page faults: 4096 of 4 KB would be taken otherwise
    assert resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults < 64
    with _native.use_native(False):                 # the NumPy path: a plain np.empty
        assert _native.empty((3,), np.int16).shape == (3,)
