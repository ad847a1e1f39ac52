"""An echo is a convolution with a kernel of two spikes.

The kernel is 1 at time 0 (the sound itself) and 0.5 after 0.25 s (a softer copy,
later). Sliding it over a short tone burst adds the burst to the output twice.

Run: python examples/echo.py [output directory]   (writes echo.png)
"""

import os
import sys

import numpy as np

import sigconv
import sigconv.audio
import sigconv.plot

out_dir = sys.argv[1] if len(sys.argv) > 1 else "."
rate = 8000
t = np.arange(int(0.1 * rate)) / rate
dry = np.zeros(int(0.6 * rate))
dry[:t.size] = np.sin(2 * np.pi * 440 * t) * np.exp(-t / 0.03)      # a 0.1 s plucked burst
ir = sigconv.audio.echo_ir(rate, delay=0.25, decay=0.5, repeats=1)   # two spikes
spikes = np.flatnonzero(ir)
print(f"kernel: {ir.size} taps, spikes at samples {spikes.tolist()} "
      f"with gains {ir[spikes].tolist()}")
wet = sigconv.convolve(dry, ir)
d = int(spikes[1])
print(f"wet has {wet.size} samples (dry {dry.size} + kernel {ir.size} - 1)")
print(f"first copy equals the dry sound: {np.allclose(wet[:d], dry[:d])}")
print(f"second copy is half the dry sound, {d} samples later: "
      f"{np.allclose(wet[d:d + t.size], 0.5 * dry[:t.size] + dry[d:d + t.size])}")
print(f"peak dry {np.abs(dry).max():.3f}, peak of the echo {np.abs(wet[d:]).max():.3f}")
picture = sigconv.plot.audio(dry, wet, rate, os.path.join(out_dir, "echo.png"), ir=ir,
                             title="echo: the sound convolved with two spikes")
print(f"wrote {picture}")
