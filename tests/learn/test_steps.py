"""sigconv.steps against the engine's results and a naive index oracle."""

import math

import numpy as np
import pytest
from conftest import crop
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import sigconv
from sigconv import Step, steps

MODES = ["full", "same", "valid"]


def oracle_pairs(x, h, mode, correlate):
    """{output index: sorted [(i, j)]} by looping over every pair of input and kernel
    cells: a convolution puts x[i]*h[j] at full index i + j; a correlation puts
    x[i]*conj(h[j]) at full index i - j + (m - 1). Cropped with conftest's crop rules."""
    x, h = np.asarray(x), np.asarray(h)
    full_shape = tuple(n + m - 1 for n, m in zip(x.shape, h.shape))
    full = np.empty(full_shape, dtype=object)
    for f in np.ndindex(*full_shape):
        full[f] = []
    for i in np.ndindex(*x.shape):
        for j in np.ndindex(*h.shape):
            if correlate:
                f = tuple(a - b + m - 1 for a, b, m in zip(i, j, h.shape))
            else:
                f = tuple(a + b for a, b in zip(i, j))
            full[f].append((i, j))
    kept = crop(full, x.shape, h.shape, mode)
    return {o: sorted(kept[o]) for o in np.ndindex(*kept.shape)}


def check(x, h, mode, correlate, *, exact):
    x, h = np.asarray(x), np.asarray(h)
    fn = sigconv.correlate if correlate else sigconv.convolve
    expected = np.asarray(fn(x, h, mode))
    got = steps(x, h, mode, correlate)
    oracle = oracle_pairs(x, h, mode, correlate)
    # one step per output, in C order
    assert [s.index if x.ndim > 1 else (s.index,) for s in got] == list(oracle)
    for s in got:
        o = s.index if x.ndim > 1 else (s.index,)
        assert s.value == expected[o]
        ij = [(p[0], p[1]) if x.ndim > 1 else ((p[0],), (p[1],)) for p in s.pairs]
        assert ij == oracle[o]                      # same pairs, in C order of input index
        for (i, j), p in zip(ij, s.pairs):
            assert p[2] == x[i]
            k = np.conj(h[j]) if correlate else h[j]
            assert p[3] == k
        products = [p[2] * p[3] for p in s.pairs]
        if exact:
            assert s.value == sum(products)
        else:
            scale = math.fsum(abs(p) for p in products) + 1e-300
            tol = 64 * np.finfo(expected.dtype).eps * scale
            if expected.dtype.kind == "c":
                total = complex(math.fsum(p.real for p in products),
                                math.fsum(p.imag for p in products))
            else:
                total = math.fsum(products)
            assert abs(s.value - total) <= tol
        # valid: no product on zero padding
        expect_valid = len(s.pairs) == math.prod(min(n, m) for n, m in zip(x.shape, h.shape))
        assert s.valid == expect_valid
    if mode == "valid":
        assert all(s.valid for s in got)
    return got


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("correlate", [False, True])
@pytest.mark.parametrize("n,m", [(5, 3), (3, 5), (1, 4), (4, 1), (1, 1), (6, 6), (7, 2)])
def test_1d_ints(n, m, mode, correlate):
    rng = np.random.default_rng(n * 10 + m)
    check(rng.integers(-9, 10, n), rng.integers(-9, 10, m), mode, correlate, exact=True)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("correlate", [False, True])
@pytest.mark.parametrize("s1,s2", [((4, 4), (3, 3)), ((3, 3), (4, 5)), ((2, 5), (3, 2)),
                                   ((1, 4), (3, 2)), ((5, 1), (2, 1)), ((3, 4), (3, 4))])
def test_2d_ints(s1, s2, mode, correlate):
    rng = np.random.default_rng(sum(s1) * 7 + sum(s2))
    x, h = rng.integers(-9, 10, s1), rng.integers(-9, 10, s2)
    if mode == "valid":
        ok = [a for a in range(2) if s1[a] != 1 and s2[a] != 1]
        if not (all(s1[a] >= s2[a] for a in ok) or all(s2[a] >= s1[a] for a in ok)):
            with pytest.raises(ValueError, match="valid"):
                steps(x, h, mode, correlate)
            return
    check(x, h, mode, correlate, exact=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.complex128])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("correlate", [False, True])
def test_floats_and_complex(dtype, mode, correlate):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((6, 5)).astype(dtype)
    h = rng.standard_normal((3, 2)).astype(dtype)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * rng.standard_normal(x.shape).astype(dtype)
        h = h + 1j * rng.standard_normal(h.shape).astype(dtype)
    got = check(x, h, mode, correlate, exact=False)
    assert isinstance(got[0].value, complex if np.dtype(dtype).kind == "c" else float)


def test_articles_examples():
    s = steps([1, 2, 3], [2, 3, 4])
    assert [t.value for t in s] == [2, 7, 16, 17, 12]
    assert s[2].pairs == ((0, 2, 1, 4), (1, 1, 2, 3), (2, 0, 3, 2))
    assert [t.valid for t in s] == [False, False, True, False, False]
    assert [t.origin for t in s] == [-2, -1, 0, 1, 2]
    m = [[1, 2, 0, 3], [4, 1, 0, 2], [3, 2, 1, 0], [0, 1, 2, 4]]
    k = [[0, 1, 2], [2, 2, 0], [1, 0, 1]]
    s = steps(m, k, "valid")
    assert [(t.index, t.value) for t in s] == [((0, 0), 11), ((0, 1), 14), ((1, 0), 11),
                                               ((1, 1), 9)]
    assert s[0].pairs[0] == ((0, 0), (2, 2), 1, 1)       # the flipped kernel's corner
    assert [t.origin for t in s] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    s = steps([0, 1, 2, 3, 4], [1, -1, 2])
    assert [t.value for t in s] == [0, 1, 1, 3, 5, 2, 8]
    assert [t.index for t in s if t.valid] == [2, 3, 4]
    assert [t.value for t in steps([0, 1, 2, 3, 4], [1, -1, 2], "valid")] == [1, 3, 5]


def test_step_is_frozen():
    s = steps([1, 2], [3])[0]
    assert isinstance(s, Step)
    with pytest.raises(AttributeError):
        s.value = 5


def test_big_integers_exact():
    x = np.array([2**62, 2**62, 3], dtype=np.int64)
    with np.errstate(all="ignore"):
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = steps(x, np.array([3, 5], dtype=np.int64))
            ref = sigconv.convolve(x, np.array([3, 5], dtype=np.int64))
    for s in got:
        assert s.value == sum(p[2] * p[3] for p in s.pairs) == ref[s.index]


def test_positions_and_limit():
    x, h = np.arange(100), np.arange(10)
    allsteps = steps(x, h)
    some = steps(x, h, positions=[0, 5, -1])
    assert some == [allsteps[0], allsteps[5], allsteps[-1]]
    assert [s.index for s in some] == [0, 5, 108]
    two = steps(np.ones((4, 4), int), np.ones((2, 2), int), positions=[(0, 0), (-1, -1)])
    assert [s.index for s in two] == [(0, 0), (4, 4)] and [s.value for s in two] == [1, 1]
    total = sum(len(s.pairs) for s in allsteps)
    assert total == 1000
    assert len(steps(x, h, limit=total)) == 109
    with pytest.raises(ValueError, match="1000 products.*limit=999"):
        steps(x, h, limit=999)
    # the limit counts only the positions asked for
    assert len(steps(x, h, positions=[50], limit=10)) == 1
    with pytest.raises(ValueError, match="limit"):
        steps(np.ones(10**5), np.ones(10**4))       # refused before any work
    assert steps(np.ones(10**5), np.ones(10**4), positions=[0])[0].value == pytest.approx(1.0)


@pytest.mark.parametrize("args,kwargs,exc,match", [
    (([1, 2], [1]), {"mode": "middle"}, ValueError, "'middle'"),
    ((5, 3), {}, ValueError, "0-d"),
    ((np.ones((2, 2, 2)), np.ones((1, 1, 1))), {}, ValueError, "3-d"),
    (([], [1]), {}, ValueError, "in1 is empty"),
    (([1], np.ones((0,))), {}, ValueError, "in2 is empty"),
    (([1, 2], [[1]]), {}, ValueError, "dimensionality"),
    ((np.ones((3, 2)), np.ones((2, 3))), {"mode": "valid"}, ValueError, r"\(3, 2\)"),
    ((["a", "b"], [1]), {}, TypeError, "numeric"),
    (([1, 2], [1]), {"positions": [2]}, ValueError, "position 2 is outside"),
    (([1, 2], [1]), {"positions": [(0, 0)]}, ValueError, "outside"),
    (([1, 2], [1]), {"positions": ["x"]}, ValueError, "'x'"),
    (([1, 2], [1]), {"limit": -1}, ValueError, "-1"),
    (([1, 2], [1]), {"limit": 2.5}, ValueError, "2.5"),
])
def test_errors(args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        steps(*args, **kwargs)


small = st.integers(1, 6)
int_arrays = st.one_of(
    st.tuples(small).flatmap(lambda s: hnp.arrays(np.int64, s, elements=st.integers(-50, 50))),
    st.tuples(small, small).flatmap(
        lambda s: hnp.arrays(np.int64, s, elements=st.integers(-50, 50))),
)


@settings(max_examples=60, deadline=None)
@given(x=int_arrays, data=st.data(), mode=st.sampled_from(MODES), correlate=st.booleans())
def test_property_ints(x, data, mode, correlate):
    shape = data.draw(st.tuples(*[small] * x.ndim))
    h = data.draw(hnp.arrays(np.int64, shape, elements=st.integers(-50, 50)))
    try:
        sigconv.convolve(x, h, mode)
    except ValueError:               # 'valid' with neither operand the larger
        with pytest.raises(ValueError):
            steps(x, h, mode, correlate)
        return
    check(x, h, mode, correlate, exact=True)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 12), m=st.integers(1, 12), mode=st.sampled_from(MODES),
       correlate=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_property_floats(n, m, mode, correlate, seed):
    rng = np.random.default_rng(seed)
    check(rng.standard_normal(n) * 1e3, rng.standard_normal(m), mode, correlate, exact=False)
