"""No silent wrong results (issue 10), creation side: numbers that do not fit their dtype
(tensor(), full, arange, linspace, logspace, the random factories) raise as in PyTorch instead
of wrapping; property tests against PyTorch's rules written out in Python."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import deepseek as ds


# ---------------- class 7: numbers that do not fit their dtype ----------------

INT_RANGE = {"uint8": (0, 255), "int8": (-128, 127), "int16": (-(2**15), 2**15 - 1), "int32": (-(2**31), 2**31 - 1),
             "int64": (-(2**63), 2**63 - 1)}
INT_DTYPES = sorted(INT_RANGE)


def ref_store(v, name):
    """tensor()'s element conversion: the stored int, or None for PyTorch's RuntimeError."""
    lo, hi = INT_RANGE[name]
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        if not -(2**63) <= v < 2**63:
            return None
        ok = -hi <= v <= hi if name == "uint8" else lo <= v <= hi
        return v % 256 if ok and name == "uint8" else (v if ok else None)
    if not math.isfinite(v) or v < lo or v > hi:
        return None
    return int(v)


def test_overflowing_integers_raise_instead_of_wrapping():
    with pytest.raises(RuntimeError, match="Overflow when unpacking long"):
        ds.tensor([2**63, 1])
    with pytest.raises(RuntimeError, match="Overflow when unpacking long"):
        ds.tensor(2**70)
    with pytest.raises(RuntimeError, match="cannot be converted to type int8 without overflow"):
        ds.tensor([300], dtype=ds.int8)
    with pytest.raises(RuntimeError, match="cannot be converted to type int64 without overflow"):
        ds.tensor([float("nan")], dtype=ds.int64)
    with pytest.raises(RuntimeError, match="cannot be converted to type uint8 without overflow"):
        ds.tensor([-0.5], dtype=ds.uint8)  # floats may not wrap into unsigned types
    assert ds.tensor([-1, 1], dtype=ds.uint8).tolist() == [255, 1]  # ints may, as in PyTorch
    assert ds.tensor([1.7, -1.7], dtype=ds.int32).tolist() == [1, -1]
    assert ds.tensor([2**53 + 1, 0.5], dtype=ds.int64).tolist() == [2**53 + 1, 0]  # ints stay exact among floats
    assert ds.tensor([-1, 0.5], dtype=ds.uint8).tolist() == [255, 0]  # an int may wrap, a float may not
    assert ds.tensor([3, 0.5, 0.0, float("nan")], dtype=ds.bool).tolist() == [True, True, False, True]
    with pytest.raises(RuntimeError, match="cannot be converted to type int8_t without overflow"):
        ds.full((2,), 300, dtype=ds.int8)
    with pytest.raises(RuntimeError, match="cannot be converted to type float without overflow"):
        ds.full((2,), 1e300)
    with pytest.raises(RuntimeError, match="int64_t without overflow"):
        ds.full((2,), 2**63)
    with pytest.raises(RuntimeError, match="int8_t without overflow"):
        ds.full_like(ds.zeros(2, dtype=ds.int8), 1000)
    assert ds.full((2,), float("inf")).tolist() == [math.inf, math.inf]
    with pytest.raises(RuntimeError, match="Overflow when unpacking long"):
        ds.zeros(2**63)


@settings(max_examples=100)
@given(name=st.sampled_from(INT_DTYPES), vals=st.lists(st.one_of(
    st.integers(-(2**70), 2**70), st.integers(-300, 300), st.sampled_from([2**63 - 1, -(2**63), 2**63, 255, -255, -256, 256, 2**53 + 1, -(2**53) - 1]),
    st.floats(allow_nan=True, allow_infinity=True), st.floats(-300, 300), st.booleans()), min_size=1, max_size=6))
def test_tensor_integer_conversion_matches_pytorchs_rules(name, vals):
    expect = [ref_store(v, name) for v in vals]
    if any(e is None for e in expect):
        with pytest.raises(RuntimeError):
            ds.tensor(vals, dtype=name)
        return
    assert ds.tensor(vals, dtype=name).tolist() == expect
    if all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
        if all(-(2**63) <= v < 2**63 for v in vals):
            assert ds.tensor(vals).tolist() == vals  # inferred int64 keeps every value


@settings(max_examples=100)
@given(name=st.sampled_from(INT_DTYPES + ["float16", "float32", "float64", "bool"]),
       v=st.one_of(st.integers(-(2**64), 2**64), st.integers(-300, 300), st.floats(), st.floats(-1e5, 1e5), st.booleans()))
def test_full_checks_the_fill_value_like_a_pytorch_scalar(name, v):
    if name == "bool" or isinstance(v, bool):
        ok = True
    elif name in INT_RANGE:
        lo, hi = INT_RANGE[name]
        if isinstance(v, int):
            ok = (-hi <= v <= hi) if name == "uint8" else lo <= v <= hi
        else:
            ok = math.isfinite(v) and lo <= v <= hi
    else:
        limit = {"float16": 65504.0, "float32": 3.4028234663852886e38, "float64": math.inf}[name]
        ok = not (math.isfinite(float(v)) and abs(v) > limit)
    if not ok:
        with pytest.raises(RuntimeError, match="without overflow"):
            ds.full((3,), v, dtype=name)
        return
    got = ds.full((3,), v, dtype=name).tolist()
    expect = np.array([v] * 3, dtype=np.float64 if not isinstance(v, int) else object)
    if name == "bool":
        assert got == [bool(v)] * 3
    elif name in INT_RANGE:
        assert got == [int(v) % 256 if name == "uint8" else int(v)] * 3
    else:
        np.testing.assert_array_equal(np.array(got, dtype=np.float64), expect.astype(np.float64).astype(name).astype(np.float64))


def test_arange_integer_dtypes_follow_pytorch_or_raise():
    with pytest.raises(RuntimeError, match="step must be nonzero"):
        ds.arange(10.0, -5.0, -0.3, dtype=ds.int64)  # the step truncates to 0
    assert ds.arange(10.0, -5.0, -1.5, dtype=ds.int64).tolist() == list(range(10, -5, -1))
    assert ds.arange(0.0, 2.5, dtype=ds.int64).tolist() == [0, 1]  # int64 truncates the end too
    assert ds.arange(0.0, 2.5, dtype=ds.int32).tolist() == [0, 1, 2]  # narrower types size from the floats
    assert ds.arange(0, 5, 1.5, dtype=ds.int32).tolist() == [0, 1, 2, 3]  # ... and step by the truncated step
    assert ds.arange(250, 260, dtype=ds.uint8).tolist() == [250, 251, 252, 253, 254, 255, 0, 1, 2, 3]  # cast wraps
    assert ds.arange(-1.0, 0.0, dtype=ds.uint8).tolist() == [255]
    with pytest.raises(RuntimeError, match="invalid size"):
        ds.arange(0.9, -0.9, 1, dtype=ds.int32)
    with pytest.raises(RuntimeError, match="step must be nonzero"):
        ds.arange(0.0, 0.0, float("nan"))
    with pytest.raises(RuntimeError, match="without overflow"):
        ds.arange(0, 5, float("nan"), dtype=ds.int64)
    assert ds.arange(2**60, 2**60 + 3).tolist() == [2**60, 2**60 + 1, 2**60 + 2]  # no float rounding
    assert ds.arange(2**63 - 3, 2**63 - 1).tolist() == [2**63 - 3, 2**63 - 2]
    with pytest.raises(RuntimeError, match="not implemented for 'Bool'"):
        ds.arange(3, dtype=ds.bool)


@settings(max_examples=150)
@given(start=st.one_of(st.integers(-50, 50), st.floats(-50, 50)), end=st.one_of(st.integers(-50, 50), st.floats(-50, 50)),
       step=st.one_of(st.integers(-7, 7), st.floats(-7, 7)), name=st.sampled_from(["int64", "int32", "int8", "uint8"]))
def test_arange_integer_dtypes_match_pytorchs_rule(start, end, step, name):
    """start, end and step are truncated to int64 for the checks and the values; int64 counts
    in integers, the narrower types count from the arguments as doubles; the cast wraps."""
    s, e, st_ = int(start), int(end), int(step)
    if st_ == 0 or (st_ > 0 and e < s) or (st_ < 0 and e > s):
        with pytest.raises(RuntimeError):
            ds.arange(start, end, step, dtype=name)
        return
    if name == "int64":
        sgn = 1 if st_ > 0 else -1
        n = int((e - s + st_ - sgn) / st_)  # C++ integer division; both operands share a sign
    else:
        n = math.ceil((float(end) - float(start)) / float(step))
        if n < 0:
            with pytest.raises(RuntimeError, match="invalid size"):
                ds.arange(start, end, step, dtype=name)
            return
    bits = {"int64": 64, "int32": 32, "int8": 8, "uint8": 8}[name]
    wrap = [((s + i * st_) % 2**bits) for i in range(n)]
    if name != "uint8":
        wrap = [v - 2**bits if v >= 2 ** (bits - 1) else v for v in wrap]
    assert ds.arange(start, end, step, dtype=name).tolist() == wrap


@settings(max_examples=60)
@given(start=st.floats(-1e3, 1e3), end=st.floats(-1e3, 1e3), steps=st.integers(0, 40),
       name=st.sampled_from(["int64", "int32", "int16", "float64", "float32"]))
def test_linspace_matches_pytorchs_symmetric_rule(start, end, steps, name):
    if name in INT_RANGE:
        s, e = float(int(start)), float(int(end))  # converted to the dtype first
        if steps == 1:
            ref = [s]
        else:
            step = (e - s) / (steps - 1) if steps > 1 else 0.0
            ref = [s + step * i if i < steps // 2 else e - step * (steps - i - 1) for i in range(steps)]
        assert ds.linspace(start, end, steps, dtype=name).tolist() == [int(v) for v in ref]
    else:
        got = ds.linspace(start, end, steps, dtype=name).numpy()
        np.testing.assert_allclose(got, np.linspace(start, end, steps), rtol=1e-6 if name == "float32" else 1e-12,
                                   atol=1e-3 if name == "float32" else 1e-9)


def test_linspace_logspace_edge_cases():
    with pytest.raises(RuntimeError, match="number of steps must be non-negative"):
        ds.linspace(0, 1, -1)
    with pytest.raises(RuntimeError, match="int8_t without overflow"):
        ds.linspace(0, 300, 3, dtype=ds.int8)
    # PyTorch converts nothing for 0 steps and only start for 1
    assert ds.linspace(0, -(2**31), 0, dtype=ds.uint8).tolist() == []
    assert ds.linspace(7, 1e10, 1, dtype=ds.int8).tolist() == [7]
    with pytest.raises(RuntimeError, match="not implemented for 'Bool'"):
        ds.linspace(0, 1, 3, dtype=ds.bool)
    assert ds.linspace(3, 7, 1).tolist() == [3.0] and ds.linspace(3, 7, 0).tolist() == []
    assert ds.logspace(0, 3, 4, dtype=ds.int64).tolist() == [1, 10, 100, 1000]  # was float
    assert ds.logspace(0, 3, 4, dtype=ds.int64).dtype == ds.int64
    assert ds.logspace(0.9, 2.9, 3, dtype=ds.int64).tolist() == [1, 10, 100]  # start and end truncate first
    np.testing.assert_allclose(ds.logspace(-2, 2, 5, base=2.0, dtype=ds.float64).numpy(), 2.0 ** np.linspace(-2, 2, 5))
    assert ds.logspace(1, 1, 1).tolist() == [10.0]
    with pytest.raises(RuntimeError, match="without overflow"):
        ds.logspace(0, 30, 4, dtype=ds.int32)


def test_randint_randperm_normal_bernoulli_refuse_values_the_dtype_or_law_cannot_hold():
    with pytest.raises(RuntimeError, match="to - 1 is out of bounds for Byte"):
        ds.randint(0, 300, (3,), dtype=ds.uint8)
    with pytest.raises(RuntimeError, match="from is out of bounds for Byte"):
        ds.randint(-5, 3, (3,), dtype=ds.uint8)
    assert ds.randint(0, 256, (50,), dtype=ds.uint8).dtype == ds.uint8
    with pytest.raises(RuntimeError, match="n is too large for result tensor type"):
        ds.randperm(300, dtype=ds.uint8)
    assert sorted(ds.randperm(256, dtype=ds.uint8).tolist()) == list(range(256))
    with pytest.raises(RuntimeError, match="normal expects std >= 0.0"):
        ds.normal(0.0, -1.0, (3,))
    with pytest.raises(RuntimeError, match="normal expects all elements of std >= 0.0"):
        ds.normal(ds.zeros(3), ds.tensor([1.0, -1.0, 1.0]))
    with pytest.raises(RuntimeError, match="expects p to be in"):
        ds.bernoulli(ds.zeros(3), p=1.5)
    with pytest.raises(RuntimeError, match=r"in \[0, 1\]"):
        ds.bernoulli(ds.tensor([0.5, float("nan")]))
    with pytest.raises(RuntimeError, match="n_sample <= 0"):
        ds.multinomial(ds.ones(3), 0)
    with pytest.raises(RuntimeError, match="without replacement"):
        ds.multinomial(ds.ones(3), 4)
