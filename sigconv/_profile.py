"""Where sigconv keeps per-user state: the calibration profile and FFTW wisdom.

Both live in the user cache directory (``platformdirs.user_cache_dir("sigconv")``).
The profile is a small JSON file of cost-model constants written by
``sigconv calibrate``; when present it overrides the built-in table in
``sigconv.engine._planner``.
"""

from __future__ import annotations

import json
import os

import platformdirs

PROFILE_VERSION = 1


def cache_dir() -> str:
    return platformdirs.user_cache_dir("sigconv", appauthor=False)


def profile_path() -> str:
    return os.path.join(cache_dir(), "profile.json")


def wisdom_path() -> str:
    return os.path.join(cache_dir(), "fftw-wisdom.json")


def load_profile(path: str | None = None) -> dict | None:
    """The saved cost constants, or None when absent, unreadable or from another version."""
    path = path or profile_path()
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("version") != PROFILE_VERSION:
        return None
    constants = data.get("constants")
    if not isinstance(constants, dict):
        return None
    return {k: float(v) for k, v in constants.items() if isinstance(v, (int, float))}


def save_profile(constants: dict, path: str | None = None, **meta) -> str:
    path = path or profile_path()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump({"version": PROFILE_VERSION, "constants": constants, **meta}, fh, indent=1)
    os.replace(tmp, path)
    return path
