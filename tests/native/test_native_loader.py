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
