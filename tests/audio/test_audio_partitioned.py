"""PartitionedConvolver: block-by-block output equals the offline reverb, with no latency,
no per-call allocation and click-free IR changes."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sigconv.audio._partitioned as part
from sigconv import InputError
from sigconv.audio import PartitionedConvolver, plan_partitions, reverb, route
from sigconv.backends import available_backends

LAYOUTS = [(1, 1), (3, 1), (2, 2), (1, 2), (2, 4), (1, 4)]


def rel_err(a, b):
    return np.max(np.abs(a - b)) / np.max(np.abs(b))


def run_blocks(pc, x, lengths):
    """Feed ``x`` in blocks of the given lengths (cycled), then flush."""
    outs, start, i = [], 0, 0
    while start < len(x):
        n = lengths[i % len(lengths)]
        outs.append(pc.process(x[start:start + n]))
        start += n
        i += 1
    outs.append(pc.flush())
    return np.concatenate(outs)


def signal(rng, frames, channels, dtype):
    return rng.standard_normal((frames, channels)).astype(dtype)


def decaying_ir(rng, taps, channels, dtype):
    return (rng.standard_normal((taps, channels))
            * np.exp(-np.arange(taps) / (taps / 4))[:, None]).astype(dtype)


@pytest.fixture
def forced_scheme(monkeypatch):
    """Make "auto" use the stage sizes B * 2**shifts (three or four stages on small IRs)."""
    def force(shifts):
        original = part.plan_partitions

        def plan(taps, block, partitions="auto", **kw):
            scheme = part._scheme(taps, block, shifts) if partitions == "auto" else None
            return scheme or original(taps, block, "uniform")
        monkeypatch.setattr(part, "plan_partitions", plan)
    return force


@pytest.mark.parametrize("cin,cir", LAYOUTS)
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-6), (np.float32, 1e-5)])
@pytest.mark.parametrize("partitions", ["uniform", "auto"])
def test_equals_offline_reverb_every_layout(cin, cir, dtype, tol, partitions, forced_scheme):
    rng = np.random.default_rng(cin * 10 + cir)
    forced_scheme((1, 3))                     # stage sizes B, 2B, 8B on this short IR
    x = signal(rng, 3000, cin, dtype)
    ir = decaying_ir(rng, 1500, cir, dtype)
    opts = dict(samplerate=8000, wet=0.6, dry=0.8, predelay_ms=2.5, ir_norm="energy")
    pc = PartitionedConvolver(ir, 32, partitions, **opts)
    got = run_blocks(pc, x, [32, 1, 17, 31, 32, 5])
    want = reverb(x, ir, **opts)
    assert len(pc.stages) == (3 if partitions == "auto" else 1)
    assert got.dtype == want.dtype == dtype
    assert got.shape == want.shape == (3000 + 20 + 1499, route(cin, cir).out_channels)
    assert rel_err(got, want) < tol


@settings(max_examples=30, deadline=None)
@given(taps=st.integers(1, 700), block=st.integers(1, 64),
       lengths=st.lists(st.integers(0, 64), min_size=1, max_size=8),
       layout=st.sampled_from(LAYOUTS), shifts=st.sampled_from([(), (1,), (2,), (1, 2, 3)]),
       norm=st.sampled_from(["energy", "peak", "none"]), float32=st.booleans())
def test_any_ir_block_size_and_block_sequence(taps, block, lengths, layout, shifts, norm,
                                              float32):
    cin, cir = layout
    dtype = np.float32 if float32 else np.float64
    rng = np.random.default_rng(taps * 131 + block)
    x = signal(rng, 400, cin, dtype)
    ir = decaying_ir(rng, taps, cir, dtype)
    lengths = [min(n, block) for n in lengths]
    if not any(lengths):
        lengths = [block]
    original = part.plan_partitions
    part.plan_partitions = (lambda t, b, p="auto", **kw:
                            (part._scheme(t, b, shifts) if shifts else None)
                            or original(t, b, "uniform"))
    try:
        got = run_blocks(PartitionedConvolver(ir, block, wet=0.5, ir_norm=norm), x, lengths)
    finally:
        part.plan_partitions = original
    want = reverb(x, ir, wet=0.5, ir_norm=norm)
    assert got.shape == want.shape
    assert rel_err(got, want) < (1e-5 if float32 else 1e-6)


def test_auto_scheme_on_a_long_ir_equals_offline():
    """The scheme "auto" picks for a 1 s IR (two stages at B = 64) against the offline path."""
    rng = np.random.default_rng(5)
    x = signal(rng, 20000, 2, np.float32)
    ir = decaying_ir(rng, 16000, 2, np.float32)
    pc = PartitionedConvolver(ir, 64)
    got = run_blocks(pc, x, [64, 64, 13, 64, 51])
    assert len(pc.stages) >= 2 and pc.stages[1].size > 64
    assert rel_err(got, reverb(x, ir)) < 1e-5


def test_no_latency_impulse_comes_out_in_the_same_call():
    pc = PartitionedConvolver(np.array([0.5, 0.25, 0.125]), 8, wet=1, dry=0, ir_norm="none")
    assert pc.latency == 0
    y = pc.process(np.array([0.0, 0.0, 1.0]))
    np.testing.assert_allclose(y, [0.0, 0.0, 0.5], atol=1e-15)
    np.testing.assert_allclose(pc.process(np.zeros(3)), [0.25, 0.125, 0.0], atol=1e-15)
    # dry 1: the impulse itself is in the output of the very call that carried it
    pc = PartitionedConvolver(np.ones(4000), 256, dry=1.0)
    x = np.zeros(256)
    x[-1] = 1.0
    assert pc.process(x)[-1] == pytest.approx(1.0 + 0.35 / np.sqrt(4000))


def test_mono_stays_1d_and_flush_resets():
    pc = PartitionedConvolver([1.0, 1.0], 4, wet=1, dry=0, ir_norm="none")
    assert pc.process(np.ones(3)).tolist() == [1.0, 2.0, 2.0]
    assert pc.flush().tolist() == [1.0]
    assert pc.process(np.zeros(2)).tolist() == [0.0, 0.0]   # nothing left over
    assert pc.process([]).shape == (0,)


@pytest.mark.skipif("pyfftw" not in available_backends(), reason="needs pyFFTW")
@pytest.mark.parametrize("cin,cir", [(2, 4), (1, 2), (2, 2)])
def test_no_memory_allocated_per_call(cin, cir):
    """tracemalloc sees numpy's data allocations: any temporary as large as a block
    (1024 frames x 2 x 8 bytes = 16 kB) or a spectrum would show in the peak."""
    rng = np.random.default_rng(1)
    ir = decaying_ir(rng, 30000, cir, np.float64)
    pc = PartitionedConvolver(ir, 1024, channels=cin, dtype=np.float64)
    assert len(pc.stages) >= 2                      # the stages' work is in the loop too
    x = signal(rng, 1024, cin, np.float64)
    out = np.empty((1024, pc.out_channels))
    pc.process(x, out=out)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        for n in [1024] * 40 + [1, 1023, 300, 724] * 5:
            pc.process(x[:n], out=out[:n])
        current, peak = tracemalloc.get_traced_memory()
        pc.set_ir(ir[:5000], crossfade=3000)          # building the new IR allocates ...
        tracemalloc.reset_peak()
        base2 = tracemalloc.get_traced_memory()[0]
        for _ in range(10):                           # ... the crossfade itself does not
            pc.process(x, out=out)
        peak2 = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak - base < 4096, peak - base
    assert current - base < 1024, current - base
    assert peak2 - base2 < 4096, peak2 - base2


def test_set_ir_crossfade_equals_mix_of_offline_outputs_and_has_no_click():
    rng = np.random.default_rng(2)
    t = np.arange(8000)
    x = np.stack([np.sin(2 * np.pi * 220 * t / 8000), np.cos(2 * np.pi * 330 * t / 8000)], 1)
    ir_a = decaying_ir(rng, 600, 2, np.float64)
    ir_b = -3.0 * decaying_ir(rng, 500, 2, np.float64)   # a loud, inverted IR: a hard cut clicks
    opts = dict(wet=1.0, dry=0.0, ir_norm="none")
    ya, yb = reverb(x, ir_a, **opts), reverb(x, ir_b, **opts)
    switch, fade = 3001, 800
    jumps = {}
    for crossfade in (fade, 0):
        pc = PartitionedConvolver(ir_a, 64, **opts)
        first = np.concatenate([pc.process(x[i:min(i + 50, switch)])
                                for i in range(0, switch, 50)])
        pc.set_ir(ir_b, crossfade=crossfade)
        rest = np.concatenate([pc.process(x[i:i + 64]) for i in range(switch, 8000, 64)])
        y = np.concatenate([first, rest, pc.flush()])
        g = np.clip((np.arange(len(ya)) - switch + 1) / max(crossfade, 1), 0, 1)[:, None]
        g[:switch] = 0
        want = (1 - g) * ya + g * np.concatenate([yb, np.zeros((100, 2))])
        assert rel_err(y[:8000], want[:8000]) < 1e-9
        assert y.shape == yb.shape            # the tail is the new IR's
        jumps[crossfade] = np.max(np.abs(np.diff(y[switch - 200:switch + 200], axis=0)))
    steady = np.max(np.abs(np.diff(ya[1000:3000], axis=0)))
    steady_b = np.max(np.abs(np.diff(yb[4000:7000], axis=0)))
    assert jumps[fade] <= 1.05 * max(steady, steady_b)     # no click: as smooth as either
    assert jumps[0] > 2 * max(steady, steady_b)            # while a hard switch clicks


def test_uniform_and_auto_schemes():
    assert plan_partitions(100, 256) == (part.PartitionStage(256, 1, 0),)
    stages = plan_partitions(144000, 256, channels=2)
    assert stages[0].size == 256 and len(stages) >= 2
    for prev, nxt in zip(stages, stages[1:], strict=False):
        assert nxt.start == prev.start + prev.count * prev.size
        assert nxt.start >= 2 * nxt.size - 256          # its work fits in its period
        assert nxt.size % 256 == 0
    assert stages[-1].start + stages[-1].count * stages[-1].size >= 144000


@pytest.mark.parametrize("kwargs,match", [
    (dict(block_size=0), "block_size must be .* not 0"),
    (dict(block_size=2.5), "not 2.5"),
    (dict(block_size=True), "not True"),
    (dict(partitions="two"), "partitions must be one of .* not 'two'"),
    (dict(ir_norm="rms"), "ir_norm must be one of .* not 'rms'"),
    (dict(wet=float("nan")), "wet must be .* not nan"),
    (dict(predelay_ms=-1), "predelay_ms .* not -1"),
    (dict(predelay_ms=5), "samplerate"),
    (dict(channels=0), "channels must be .* not 0"),
])
def test_bad_options_quote_the_value(kwargs, match):
    opts = dict(ir=np.ones(10))
    opts.update(kwargs)
    with pytest.raises(InputError, match=match):
        PartitionedConvolver(**opts)


def test_bad_blocks_and_irs():
    with pytest.raises(TypeError, match="dtype 'complex128'"):
        PartitionedConvolver(np.ones(3)).process(np.ones(4, complex))
    with pytest.raises(InputError, match="NaN"):
        PartitionedConvolver(np.ones(3)).process(np.array([0.0, np.nan]))
    pc = PartitionedConvolver(np.ones((3, 2)))
    pc.process(np.zeros((5, 2)))
    with pytest.raises(InputError, match="block has 3 channels, the stream has 2"):
        pc.process(np.zeros((5, 3)))
    with pytest.raises(InputError, match=r"out must have shape \(5, 2\), not \(4, 2\)"):
        pc.process(np.zeros((5, 2)), out=np.empty((4, 2)))
    with pytest.raises(TypeError, match="out must be a numpy array of float64"):
        pc.process(np.zeros((5, 2)), out=np.empty((5, 2), np.float32))
    with pytest.raises(InputError, match="cannot route a 2-channel input through a "
                                         "3-channel IR"):
        PartitionedConvolver(np.ones((3, 3))).process(np.zeros((4, 2)))
    with pytest.raises(InputError, match="flush"):
        PartitionedConvolver([1.0]).flush()
    with pytest.raises(InputError, match="crossfade must be .* not -1"):
        pc.set_ir(np.ones(3), crossfade=-1)
    with pytest.raises(InputError, match="gives 2 output channels, the stream has 1"):
        PartitionedConvolver(np.ones(3), channels=1).set_ir(np.ones((3, 2)))
    with pytest.raises(InputError, match="silent"):
        PartitionedConvolver(np.zeros(3), channels=1)


def test_scipy_backend_gives_the_same_result():
    rng = np.random.default_rng(9)
    x = signal(rng, 2000, 2, np.float64)
    ir = decaying_ir(rng, 900, 2, np.float64)
    got = run_blocks(PartitionedConvolver(ir, 16, backend="scipy"), x, [16, 3])
    assert rel_err(got, reverb(x, ir)) < 1e-6


# ---- the stream planner: whole-IR blocks or partitions ------------------------------


def test_plan_stream_picks_the_cheapest_prediction():
    from sigconv.audio import plan_stream

    short, long_ = plan_stream(4800), plan_stream(144000)
    for plan in (short, long_):
        assert min(plan.costs, key=plan.costs.get).startswith(plan.method)
        assert set(plan.costs) == {"whole"} | {f"partitioned:{b}" for b in
                                               (8192, 16384, 32768, 65536)}
    assert short.method == "whole" and long_.method == "partitioned"
    assert plan_stream(1).method == "whole"
    very_long = plan_stream(480000)          # 10 s: whole blocks, whatever the model says
    assert very_long.method == "whole" and very_long.costs["partitioned:65536"] < \
        very_long.costs["whole"]
    # true stereo: the engine's whole-IR block has 4 columns, so costs more than 2
    assert plan_stream(144000, 2, ir_channels=4).costs["whole"] > \
        plan_stream(144000, 2).costs["whole"]


@pytest.mark.parametrize("cin,cir", [(1, 1), (2, 4), (1, 2)])
def test_stream_convolver_delegating_to_partitions_equals_offline(cin, cir):
    from sigconv.audio import StreamConvolver

    rng = np.random.default_rng(cin + cir)
    ir = decaying_ir(rng, 30000, cir, np.float32)
    x = signal(rng, 70000, cin, np.float32)
    sc = StreamConvolver(ir)
    assert sc.method == "partitioned"
    got = run_blocks(sc, x, [33333, 1, 5000])
    want = reverb(x, ir, wet=1, dry=0, ir_norm="none")
    assert got.shape == want.shape and got.dtype == np.float32
    assert rel_err(got, want) < 1e-5
    assert StreamConvolver(ir, 4096).method == "whole"     # an explicit block: as before


def test_file_render_through_partitions_equals_offline(tmp_path):
    import soundfile as sf

    from sigconv.audio import plan_stream, reverb_file

    assert plan_stream(24000, 2, np.float32).method == "partitioned"   # what this tests
    rng = np.random.default_rng(8)
    sf.write(tmp_path / "in.wav", 0.1 * signal(rng, 50000, 2, np.float64), 8000,
             subtype="FLOAT")
    sf.write(tmp_path / "ir.wav", 0.1 * decaying_ir(rng, 24000, 2, np.float64), 8000,
             subtype="FLOAT")
    for stream in (True, False):
        reverb_file(tmp_path / "in.wav", tmp_path / "ir.wav", tmp_path / f"{stream}.wav",
                    stream=stream)
    a, b = sf.read(tmp_path / "True.wav")[0], sf.read(tmp_path / "False.wav")[0]
    assert a.shape == b.shape == (73999, 2)
    assert rel_err(a, b) < 1e-5


@pytest.mark.parametrize("shifts", [(2,), (2, 4), (2, 3, 5)])
def test_schedule_spreads_the_large_transforms_and_the_multiply_adds(forced_scheme, shifts):
    """Structure, not timing: no two large-FFT transforms (of any stages) fall on the same
    block, and each stage's multiply-adds are spread evenly over its period."""
    forced_scheme(shifts)
    B = 8
    pc = PartitionedConvolver(np.random.default_rng(0).standard_normal((9000, 2)), B,
                              channels=2)
    core = pc._core
    assert len(core.upper) == len(shifts)
    events: dict[int, list[str]] = {}
    for k, stage in enumerate(core.upper):
        for name in ("frun", "irun"):
            def spy(run=getattr(stage, name), label=f"{name}{k}"):
                events.setdefault(core.time, []).append(label)
                run()
            setattr(stage, name, spy)
        sizes = [j1 - j0 for j0, j1 in stage.groups]
        assert sum(sizes) == stage.fdl.K and max(sizes) <= -(-stage.fdl.K // stage.R) + 2
    x = np.zeros((B, 2))
    for _ in range(2 * max(stage.R for stage in core.upper) * 4):
        pc.process(x)
    assert events and max(len(v) for v in events.values()) == 1, events
