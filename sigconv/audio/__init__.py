"""Audio front end: convolution reverb and echo from impulse responses.

Arrays are ``(frames, channels)`` floats with full scale 1.0; mono may be 1-D.
Files are read and written with soundfile (WAV incl. WAVEX and RF64, FLAC,
OGG/Vorbis, AIFF, ...). Every convolution goes through the sigconv engine, which
picks direct, overlap-add or FFT for the sizes at hand.

>>> import numpy as np
>>> from sigconv import audio
>>> audio.echo(np.array([1.0, 0.0]), 2, delay=0.5, decay=0.5, repeats=1)
array([1. , 0.5, 0. ])

Public API
----------
read, write, info
    File I/O with one-line errors naming the file; integer output is dithered (16 bits
    and fewer) and clipping is counted, never silent.
reverb, echo, echo_ir, resample, route
    Array effects; ``reverb`` normalises the IR by energy by default (see its docs).
decay_curve, rt60, decay_fit
    Schroeder energy decay curve of an impulse response and its reverberation time
    (T30/T20 line fit extrapolated to -60 dB).
StreamConvolver, plan_stream
    Block-by-block convolution with memory bounded independently of the stream length;
    whole-IR engine calls or partitions, whichever is predicted faster.
PartitionedConvolver, plan_partitions
    Real-time convolution reverb: partitioned overlap-save with frequency-domain delay
    lines, no latency beyond the block, no allocation per block, IR crossfades.
reverb_file, echo_file
    File-to-file renders, streamed for long inputs (what ``sigconv reverb``/``echo`` run).
reverb_stream, echo_stream, open_stream, StreamWriter, RAW_FORMATS
    The same through pipes: WAV or raw PCM read from and written to byte streams block by
    block (``sigconv reverb - ir.wav -o -``).
"""

from .._errors import OutputClosedError
from ._decay import DecayFit, decay_curve, decay_fit, rt60
from ._effects import DEFAULT_IR_NORM, IR_NORMS, echo, echo_ir, resample, reverb
from ._files import AudioInfo, info, read, write
from ._levels import LevelReport, parse_dbfs
from ._partitioned import PartitionedConvolver, PartitionStage, plan_partitions
from ._pipes import (
    RAW_FORMATS,
    StreamReader,
    StreamWriter,
    echo_stream,
    open_stream,
    reverb_stream,
)
from ._render import STREAM_THRESHOLD, RenderReport, echo_file, reverb_file
from ._routing import ROUTINGS, Routing, route
from ._stream import StreamConvolver, StreamPlan, default_block_size, plan_stream

__all__ = ["DEFAULT_IR_NORM", "IR_NORMS", "RAW_FORMATS", "ROUTINGS", "STREAM_THRESHOLD",
           "AudioInfo", "DecayFit", "LevelReport", "OutputClosedError", "PartitionStage",
           "PartitionedConvolver", "RenderReport", "Routing", "StreamConvolver", "StreamPlan",
           "StreamReader", "StreamWriter", "decay_curve", "decay_fit", "default_block_size",
           "echo", "echo_file", "echo_ir", "echo_stream", "info", "open_stream", "parse_dbfs",
           "plan_partitions", "plan_stream", "read", "resample", "reverb", "reverb_file",
           "reverb_stream", "route", "rt60", "write"]
