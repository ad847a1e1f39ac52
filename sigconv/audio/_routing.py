"""Channel routing: which input channel goes through which IR channel to which output.

Four cases, decided by the channel counts alone (see :func:`route`):

``"shared"``
    A mono IR on any number of input channels: every channel through the same IR.
``"matched"``
    An N-channel IR on an N-channel input (N >= 2): channel k through IR channel k
    (for stereo: L->L, R->R).
``"split"``
    A mono input with a stereo IR: the one channel through each IR channel, giving stereo.
``"true-stereo"``
    A stereo input with a 4-channel IR, whose channels are, in order, LL, LR, RL, RR
    (first letter the input, second the output): ``out_L = L*LL + R*RL`` and
    ``out_R = L*LR + R*RR``. A mono input feeds both inputs of a true-stereo IR
    (``L = R = x``), as a mono source placed in the middle would.

Every case reduces to one engine call on a ``(frames, k)`` stack of input columns
against the ``(taps, k)`` IR (shapes that broadcast over the channel axis), followed
for true stereo by a sum of column pairs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import convolve as _engine_convolve
from .._errors import InputError

ROUTINGS = ("shared", "matched", "split", "true-stereo")
# IR channels of a true-stereo IR feeding output L and output R.
_TRUE_STEREO_OUT = ((0, 2), (1, 3))
# Input column feeding each IR channel of a true-stereo IR.
_TRUE_STEREO_IN = [0, 0, 1, 1]


@dataclass(frozen=True)
class Routing:
    """How an ``in_channels`` signal goes through an ``ir_channels`` impulse response.

    Attributes
    ----------
    kind : {"shared", "matched", "split", "true-stereo"}
    in_channels, ir_channels, out_channels : int
    """

    kind: str
    in_channels: int
    ir_channels: int
    out_channels: int

    def dry_taps(self) -> list[int]:
        """IR channels whose first tap carries the dry signal straight through."""
        if self.kind == "true-stereo":
            return [0, 3]  # LL and RR
        return list(range(self.ir_channels))

    def gather(self, x: np.ndarray) -> np.ndarray:
        """The input columns to convolve with the IR columns, ``(frames, k)``."""
        if self.kind == "true-stereo":
            return x[:, _TRUE_STEREO_IN if self.in_channels == 2 else [0, 0, 0, 0]]
        return x

    def combine(self, y: np.ndarray) -> np.ndarray:
        """Output channels from the convolved columns."""
        if self.kind != "true-stereo":
            return y
        out = np.empty((y.shape[0], 2), dtype=y.dtype)
        for ch, (a, b) in enumerate(_TRUE_STEREO_OUT):
            np.add(y[:, a], y[:, b], out=out[:, ch])
        return out

    def spectral_layout(self) -> tuple[list[int], tuple[int, int], tuple[int, int]]:
        """How a frequency-domain convolver lays the routing out as broadcasting shapes.

        Returns ``(columns, x_shape, h_shape)``: the input columns to transform, and the
        ``(a, b)`` shapes their spectra and the IR channels' spectra take so that the
        product ``X[a_x, b_x] * H[a_h, b_h]`` summed over ``a`` gives the output channels
        along ``b``. True stereo puts the input side on ``a`` (IR channels LL, LR, RL, RR
        are ``H[in, out]``); the other routings have ``a == 1`` and broadcast along ``b``.
        """
        if self.kind == "true-stereo":
            cols = [0, 1] if self.in_channels == 2 else [0]
            return cols, (len(cols), 1), (2, 2)
        if self.kind == "split":
            return [0], (1, 1), (1, 2)
        return list(range(self.in_channels)), (1, self.in_channels), (1, self.ir_channels)

    def output_energy(self, ir: np.ndarray) -> float:
        """Mean over output channels of the IR energy reaching each output channel.

        This is the wet path's power gain for uncorrelated, unit-power input channels.
        A shared (mono) IR reaches every output whole; every other routing sends each
        IR channel to exactly one output.
        """
        energy = np.einsum("ij,ij->j", ir, ir, dtype=np.float64)
        if self.kind == "shared":
            return float(energy.sum())
        return float(energy.sum() / self.out_channels)


def route(in_channels: int, ir_channels: int) -> Routing:
    """The routing of an ``in_channels`` signal through an ``ir_channels`` IR.

    Parameters
    ----------
    in_channels, ir_channels : int
        Channel counts of the signal and of the impulse response.

    Returns
    -------
    Routing

    Raises
    ------
    InputError
        For any other combination; the message names both channel counts.

    Examples
    --------
    >>> route(2, 4).kind
    'true-stereo'
    >>> route(1, 2).out_channels
    2
    """
    if in_channels < 1 or ir_channels < 1:
        raise InputError(f"channel counts must be positive, not input={in_channels}, "
                         f"IR={ir_channels}")
    if ir_channels == 1:
        return Routing("shared", in_channels, 1, in_channels)
    if ir_channels == in_channels:
        return Routing("matched", in_channels, ir_channels, in_channels)
    if in_channels == 1 and ir_channels == 2:
        return Routing("split", 1, 2, 2)
    if in_channels in (1, 2) and ir_channels == 4:
        return Routing("true-stereo", in_channels, 4, 2)
    raise InputError(
        f"cannot route a {in_channels}-channel input through a {ir_channels}-channel IR; "
        "supported: a mono IR on any input, an N-channel IR on an N-channel input, "
        "a stereo IR on a mono input, a 4-channel (LL, LR, RL, RR) IR on a stereo or mono input")


def convolve_routed(x: np.ndarray, ir: np.ndarray, routing: Routing, *,
                    workers: int | None = None, convolver=None) -> np.ndarray:
    """Full convolution of ``x`` (frames, in) through ``ir`` (taps, k) as ``routing`` says.

    One call to the engine, which picks direct, overlap-add or FFT; the channel axis
    broadcasts, so a ``(frames, 1)`` input against a ``(taps, 2)`` IR gives two outputs.
    ``convolver``, a :class:`sigconv.Convolver` of ``ir`` (full mode, axis 0), reuses the
    IR's spectrum from call to call (streaming).
    """
    if convolver is not None:
        y = convolver(routing.gather(x))
    else:
        y = _engine_convolve(routing.gather(x), ir, mode="full", axes=0, workers=workers)
    return routing.combine(y)
