"""The one import of matplotlib in sigconv (lazy, non-interactive backend)."""

from __future__ import annotations

from .._errors import MissingExtraError


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend, imported at first use.

    Raises
    ------
    sigconv.MissingExtraError
        matplotlib is not installed; the message names the extra that installs it.
    """
    try:
        import matplotlib
    except ImportError:
        raise MissingExtraError("pictures need matplotlib: pip install 'sigconv[plot]'") \
            from None
    matplotlib.use("Agg", force=False)   # no display needed; keeps a user's choice if made
    import matplotlib.pyplot as plt

    return plt


def pillow_writer(fps: float):
    """matplotlib's GIF writer (Pillow underneath), for animations; imports as
    :func:`pyplot` does."""
    pyplot()
    from matplotlib.animation import PillowWriter

    return PillowWriter(fps=fps)
