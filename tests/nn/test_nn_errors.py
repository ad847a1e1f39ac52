"""Bad input: ValueError/TypeError quoting the values; inputs never modified."""

import numpy as np
import pytest

from sigconv import InputError, InputTypeError, nn

X = np.ones((2, 4, 6, 6))
W = np.ones((6, 2, 3, 3))       # groups=2 unless a case says otherwise


@pytest.mark.parametrize("kwargs,exc,quoted", [
    ({"groups": 3}, ValueError, "(4) not divisible by groups (3)"),
    ({"w": np.ones((5, 2, 3, 3))}, ValueError, "(5, weight shape (5, 2, 3, 3)) not divisible"),
    ({"w": np.ones((6, 4, 3, 3))}, ValueError, "expects 8 input channels"),
    ({"w": np.ones((6, 2, 9, 3))}, ValueError, "kernel larger than the padded input"),
    ({"dilation": 4}, ValueError, "reaches 9 samples, the padded input has 6"),
    ({"stride": 0}, ValueError, "stride must be positive, not 0"),
    ({"stride": (1, -1)}, ValueError, "stride must be positive, not (1, -1)"),
    ({"stride": (1, 2, 3)}, ValueError, "tuple of 2 integers, not (1, 2, 3)"),
    ({"stride": 1.5}, TypeError, "1.5"),
    ({"dilation": 0}, ValueError, "dilation must be positive, not 0"),
    ({"padding": -1}, ValueError, "padding must be non-negative, not -1"),
    ({"padding": "full"}, ValueError, "not 'full'"),
    ({"padding": "same", "stride": 2}, ValueError,
     "'same' is not supported for strided convolutions (stride=(2, 2))"),
    ({"padding_mode": "mirror"}, ValueError, "not 'mirror'"),
    ({"padding": 6, "padding_mode": "reflect"}, ValueError, "padding ((6, 6), (6, 6))"),
    ({"padding": 7, "padding_mode": "circular"}, ValueError, "'circular' needs padding <="),
    ({"x": np.ones((4, 6, 6, 6, 6))}, ValueError, "got shape (4, 6, 6, 6, 6)"),
    ({"x": np.ones((6, 6))}, ValueError, "got shape (6, 6)"),
    ({"w": np.ones((6, 2, 3))}, ValueError, "got shape (6, 2, 3)"),
    ({"x": np.ones((2, 4, 6, 6), np.int64)}, TypeError, "dtype 'int64'"),
    ({"x": np.ones((2, 4, 6, 6), np.float16)}, TypeError, "dtype 'float16'"),
    ({"x": np.ones((2, 4, 6, 6), np.complex128)}, TypeError, "dtype 'complex128'"),
    ({"x": np.ones((2, 4, 6, 6), np.float32)}, TypeError,
     "weight has dtype 'float64' but input has 'float32'"),
    ({"bias": np.ones(6, np.float32)}, TypeError, "bias has dtype 'float32'"),
    ({"bias": np.ones(5)}, ValueError, "bias must have shape (6,)"),
    ({"groups": 0}, ValueError, "groups must be a positive integer, not 0"),
    ({"method": "winograd"}, ValueError, "not 'winograd'"),
    ({"x": np.ones((2, 4, 0, 6))}, ValueError, "empty input or weight"),
])
def test_errors_quote_the_values(kwargs, exc, quoted):
    x = kwargs.pop("x", X)
    w = kwargs.pop("w", W)
    bias = kwargs.pop("bias", None)
    kwargs.setdefault("groups", 2)
    x0, w0 = x.copy(), w.copy()
    with pytest.raises(exc) as info:
        nn.conv2d(x, w, bias, **kwargs)
    assert quoted in str(info.value)
    assert isinstance(info.value, (InputError, InputTypeError))
    assert np.array_equal(x, x0) and np.array_equal(w, w0)


def test_backward_errors():
    gy = np.ones((2, 6, 4, 4))
    with pytest.raises(ValueError, match=r"grad_y must have the output's shape \(2, 6, 4, 4\), "
                                         r"not \(2, 6, 5, 5\)"):
        nn.conv2d_backward(np.ones((2, 6, 5, 5)), X, W, groups=2)
    with pytest.raises(TypeError, match="grad_y has dtype 'float32'"):
        nn.conv2d_backward(gy.astype(np.float32), X, W, groups=2)
    with pytest.raises(TypeError, match="grad_y must be float32 or float64, not dtype 'int64'"):
        nn.conv2d_backward(gy.astype(np.int64), X, W, groups=2)


def test_inputs_are_not_modified_by_any_method():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 4, 6, 6))
    w = rng.standard_normal((6, 2, 3, 3))
    b = rng.standard_normal(6)
    x0, w0, b0 = x.copy(), w.copy(), b.copy()
    for method in ("direct", "fft", "oa"):
        y = nn.conv2d(x, w, b, padding=1, groups=2, padding_mode="reflect", method=method)
        nn.conv2d_backward(np.ones_like(y), x, w, padding=1, groups=2,
                           padding_mode="reflect", method=method)
    assert np.array_equal(x, x0) and np.array_equal(w, w0) and np.array_equal(b, b0)


def test_layer_and_helper_errors():
    with pytest.raises(ValueError, match=r"in_channels \(3\) and out_channels \(4\) must both "
                                         r"be divisible by groups \(2\)"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="dtype must be float32 or float64, not 'int32'"):
        nn.Conv1d(1, 1, 3, dtype=np.int32)
    with pytest.raises(ValueError, match=r"'same' is not supported for strided convolutions "
                                         r"\(stride=\(2, 2\)\)"):
        nn.Conv2d(1, 1, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="stride must be positive, not 0"):
        nn.Conv1d(1, 1, 3, stride=0)
    with pytest.raises(ValueError, match="needs a forward"):
        nn.Conv1d(1, 1, 3).backward(np.ones((1, 1, 3)))
    with pytest.raises(ValueError, match="kernel larger than the padded input"):
        nn.output_shape((4, 4), kernel=5)
    with pytest.raises(ValueError, match="weight shape must have 3, 4 or 5 axes"):
        nn.explain_conv((1, 1, 4), (1, 1))
    with pytest.raises(TypeError, match="dtype 'int16'"):
        nn.explain_conv((1, 1, 4), (1, 1, 3), dtype=np.int16)
