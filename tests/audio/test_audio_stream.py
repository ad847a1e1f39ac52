"""StreamConvolver and streamed file renders equal the offline result."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

import sigconv
from sigconv import InputError
from sigconv.audio import StreamConvolver, default_block_size, reverb, reverb_file, route


def rel_err(a, b):
    return np.max(np.abs(a - b)) / np.max(np.abs(b))


def run_stream(conv, x, cuts):
    parts = [conv.process(x[a:b]) for a, b in zip([0, *cuts], [*cuts, len(x)])]
    return np.concatenate(parts + [conv.flush()])


@pytest.mark.parametrize("cin,cir", [(1, 1), (3, 1), (2, 2), (1, 2), (2, 4), (1, 4)])
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-12), (np.float32, 1e-6)])
@pytest.mark.parametrize("block_size", [61, 256, 4096])
def test_stream_equals_offline(cin, cir, dtype, tol, block_size):
    rng = np.random.default_rng(cin * 10 + cir)
    x = rng.standard_normal((5000, cin)).astype(dtype)
    ir = (rng.standard_normal((700, cir)) * np.exp(-np.arange(700) / 200)[:, None]).astype(dtype)
    offline = reverb(x, ir, wet=1, dry=0, ir_norm="none")
    streamed = run_stream(StreamConvolver(ir, block_size), x, [1, 333, 334, 2100, 4999])
    assert streamed.dtype == dtype
    assert streamed.shape == offline.shape == (5699, route(cin, cir).out_channels)
    assert rel_err(streamed, offline) < tol


@settings(max_examples=25, deadline=None)
@given(cuts=st.lists(st.integers(0, 600), max_size=6), block=st.integers(1, 300),
       taps=st.integers(1, 150))
def test_stream_any_partition(cuts, block, taps):
    rng = np.random.default_rng(taps)
    x = rng.standard_normal(600)
    ir = rng.standard_normal(taps)
    streamed = run_stream(StreamConvolver(ir, block), x, sorted(cuts))
    np.testing.assert_allclose(streamed, np.convolve(x, ir), rtol=0,
                               atol=1e-10 * np.max(np.abs(np.convolve(x, ir))))


def test_mono_stream_stays_1d_and_flush_resets():
    conv = StreamConvolver([1.0, 1.0], 4)
    assert conv.process(np.ones(3)).tolist() == [1.0, 2.0, 2.0]
    assert conv.flush().tolist() == [1.0]
    assert conv.process(np.zeros(2)).tolist() == [0.0, 0.0]  # no tail left over


def test_stream_refuses_changing_channels_and_bad_block_size():
    conv = StreamConvolver(np.ones((3, 2)))
    conv.process(np.zeros((5, 2)))
    with pytest.raises(InputError, match="3 channels"):
        conv.process(np.zeros((5, 3)))
    with pytest.raises(InputError, match="0"):
        StreamConvolver([1.0], 0)
    with pytest.raises(InputError, match="flush"):
        StreamConvolver([1.0]).flush()


def test_default_block_size_bounds_and_engine_alignment():
    assert (1 << 14) <= default_block_size(10) <= (1 << 16)   # 2**15, engine-aligned
    for taps in (4800, 100_000, 144_000):
        size = default_block_size(taps)
        assert 1 << 15 <= size <= 1.5 * (1 << 21)
        plan = sigconv.explain(np.empty((size, 2), np.float32),
                               np.empty((taps, 2), np.float32), axes=0)
        if plan.method == "oa":  # a whole number of the engine's blocks per call
            assert size % plan.block == 0, (taps, size, plan)


def _wav(path, data, rate=8000, subtype="FLOAT"):
    sf.write(path, data, rate, subtype=subtype)
    return str(path)


@pytest.mark.parametrize("normalize", [None, -3.0])
@pytest.mark.parametrize("tail", [True, False])
def test_streamed_file_equals_offline_file(tmp_path, normalize, tail):
    rng = np.random.default_rng(7)
    src = _wav(tmp_path / "in.wav", 0.2 * rng.standard_normal((20000, 2)).astype(np.float32))
    ir = _wav(tmp_path / "ir.wav", (rng.standard_normal((900, 2)) *
                                    np.exp(-np.arange(900) / 300)[:, None]).astype(np.float32))
    kw = {"predelay_ms": 2.5, "normalize": normalize, "tail": tail}
    a = reverb_file(src, ir, tmp_path / "offline.wav", stream=False, **kw)
    b = reverb_file(src, ir, tmp_path / "stream.wav", stream=True, block_size=1500, **kw)
    assert (a.streamed, b.streamed) == (False, True)
    ya, _ = sf.read(tmp_path / "offline.wav")
    yb, _ = sf.read(tmp_path / "stream.wav")
    assert ya.shape == yb.shape == ((20000 + 20 + 899) if tail else 20000, 2)
    assert rel_err(yb, ya) < 1e-6
    if normalize is not None:
        assert abs(20 * np.log10(np.max(np.abs(yb))) - normalize) < 1e-3
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "in.wav", "ir.wav", "offline.wav", "stream.wav"]  # no spill file left
