"""Bad input: the right exception type, with the offending value in the message."""

import numpy as np
import pytest

import sigconv

FUNCS = [sigconv.convolve, sigconv.correlate, sigconv.fftconvolve, sigconv.oaconvolve]


@pytest.mark.parametrize("fn", FUNCS)
def test_bad_mode_is_quoted(fn):
    with pytest.raises(ValueError, match="'spam'"):
        fn([1, 2], [3], mode="spam")


@pytest.mark.parametrize("fn", [sigconv.convolve, sigconv.correlate])
def test_bad_method_is_quoted(fn):
    with pytest.raises(ValueError, match="'bacon'"):
        fn([1, 2], [3], method="bacon")


@pytest.mark.parametrize("fn", FUNCS)
def test_mismatched_ndim(fn):
    with pytest.raises(ValueError, match="same dimensionality.*1-d and 2-d"):
        fn([1, 2], [[3]])


@pytest.mark.parametrize("fn", FUNCS)
def test_valid_needs_one_input_larger_everywhere(fn):
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(3, 2\)"):
        fn(np.ones((2, 3)), np.ones((3, 2)), mode="valid")


@pytest.mark.parametrize("fn", [sigconv.convolve, sigconv.correlate])
def test_empty_inputs(fn):
    with pytest.raises(ValueError, match=r"in1 is empty \(shape \(0,\)\)"):
        fn([], [1.0])
    with pytest.raises(ValueError, match="in2 is empty"):
        fn([1.0], np.zeros((0,)))


@pytest.mark.parametrize("fn", FUNCS)
def test_non_numeric_dtype(fn):
    with pytest.raises(TypeError, match="'<U1'"):
        fn(np.array(["a", "b"]), [1])


@pytest.mark.parametrize("axes, msg", [([], "cannot be empty"), ([1], "exceeds"),
                                       ([0, 0], "unique"), ([1.5], "iterable of integers")])
def test_bad_axes(axes, msg):
    with pytest.raises(ValueError, match=msg):
        sigconv.convolve([1, 2], [3], axes=axes)


def test_incompatible_broadcast_shapes():
    with pytest.raises(ValueError, match=r"incompatible shapes.*\(5, 2\) and \(3, 3\)"):
        sigconv.convolve(np.ones((5, 2)), np.ones((3, 3)), axes=0)


def test_bad_backend_and_workers():
    with pytest.raises(ValueError, match="'cufft'"):
        sigconv.convolve(np.ones(100), np.ones(100), method="fft", backend="cufft")
    with pytest.raises(ValueError, match="workers"):
        sigconv.convolve(np.ones(100), np.ones(100), method="fft", workers=0)


def test_errors_are_sigconv_errors_too():
    with pytest.raises(sigconv.SigconvError):
        sigconv.convolve([1], [2], mode="nope")
    with pytest.raises(sigconv.InputTypeError):
        sigconv.convolve(np.array(["x"]), [1])


def test_convolve2d_checks():
    with pytest.raises(ValueError, match="2-D"):
        sigconv.convolve2d([1, 2], [1])
    with pytest.raises(ValueError, match="'bounce'"):
        sigconv.convolve2d([[1]], [[1]], boundary="bounce")
    with pytest.raises(ValueError, match="one element"):
        sigconv.convolve2d([[1]], [[1, 2]], fillvalue=[1, 2])


def test_scipy_is_not_patched_in_this_process():
    import scipy.signal

    assert scipy.signal.convolve is not sigconv.convolve
    assert scipy.signal.convolve2d is not sigconv.convolve2d
