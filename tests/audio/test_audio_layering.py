"""The audio front end goes through the engine: no FFT library, CLI or argparse inside."""

from __future__ import annotations

import ast
import pathlib

import sigconv.audio

AUDIO_DIR = pathlib.Path(sigconv.audio.__file__).parent
FORBIDDEN = ("scipy.fft", "numpy.fft", "pyfftw", "argparse", "sigconv_cli", "PIL",
             "sigconv.backends")


def imported_modules(path: pathlib.Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_audio_modules_import_no_fft_library_and_no_cli():
    sources = sorted(AUDIO_DIR.glob("*.py"))
    assert len(sources) >= 6
    for path in sources:
        bad = {m for m in imported_modules(path) for f in FORBIDDEN
               if m == f or m.startswith(f + ".")}
        assert not bad, f"{path.name} imports {sorted(bad)}"


def test_only_the_files_module_uses_soundfile():
    users = {p.name for p in AUDIO_DIR.glob("*.py") if "soundfile" in imported_modules(p)}
    assert users == {"_files.py"}
