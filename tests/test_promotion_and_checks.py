"""Issue 10 ("no silent wrong results"), the mismatches the differential fuzzer found in type
promotion and in the argument checks PyTorch makes (bench/RESULTS.md, bench/fuzz_diff.py):

- ``alpha`` of add/sub is applied in the promoted dtype, and refused where PyTorch refuses it;
  subtraction refuses bool operands;
- clamp/clip/clamp_min/clamp_max: tensor bounds take part in type promotion, number bounds
  are converted as PyTorch converts Scalars, in-place forms refuse results they cannot cast back;
- integer division with rounding_mode='trunc' is exact integer arithmetic in the promoted dtype
  and raises on a zero divisor; an empty result divides nothing, so checks nothing;
- isclose/allclose: equal values (infinities included) are close, only finite differences
  are measured against the tolerance, operands of different dtypes are refused;
- the dtype checks PyTorch makes: where (a bool condition), gather/scatter/scatter_add (an int64
  index), scatter/scatter_add/index_add (a source of self's dtype), made before any shape,
  bound or overlap check;
- any/all of uint8 keep uint8, square(bool) is int64, masked_fill broadcasts input with mask,
  negative repeat/tile counts raise, index_select and topk of a 0-d tensor see one element;
- lerp takes input, end and weight of one floating dtype, computes float16/bfloat16 in float32
  and uses PyTorch's two-sided formula.

The expected values are PyTorch's (its promotion table, its integer wrap-around and its
error conditions), written out by hand or computed with NumPy in the promoted dtype.
"""
from __future__ import annotations

import numpy as np
import pytest

import deepseek as ds


def _same(t, values, dtype):
    """``t`` has dtype ``dtype`` and exactly ``values`` (NaN equal to NaN)."""
    assert t.dtype == getattr(ds, dtype), (t.dtype, dtype)
    a = t.float().numpy() if dtype == "bfloat16" else t.numpy()  # bfloat16 values are exact in float32
    np.testing.assert_array_equal(a, np.asarray(values, dtype=a.dtype))


# ================================================================ add/sub: alpha after promotion

def test_alpha_scales_other_in_the_promoted_dtype():
    i8, u8 = ds.tensor(0, dtype=ds.int8), ds.tensor(1, dtype=ds.uint8)
    _same(ds.add(i8, u8, alpha=-1), -1, "int16")  # uint8 255 if alpha were applied first
    _same(ds.sub(ds.tensor([0], dtype=ds.int16), ds.tensor([1], dtype=ds.uint8), alpha=-1), [1], "int16")
    _same(ds.add(ds.tensor(0, dtype=ds.uint8), ds.tensor(False), alpha=2), 0, "uint8")  # not int64
    _same(ds.tensor([0.5], dtype=ds.float32).add(ds.tensor([254], dtype=ds.uint8), alpha=2), [508.5], "float32")
    # an integer alpha wraps in the computation dtype, as the product does in PyTorch
    _same(ds.add(ds.tensor(0), 2 ** 63 - 1, alpha=2), -2, "int64")
    _same(ds.sub(ds.tensor(0), 2 ** 63 - 1, alpha=2), 2, "int64")
    _same(ds.add(ds.tensor([1], dtype=ds.int8), 100, alpha=2), [-55], "int8")
    # bool + alpha * bool stays bool (an integer alpha is a truth value there)
    _same(ds.add(ds.tensor([True, False, False]), ds.tensor([True, True, False]), alpha=2), [True, True, False], "bool")


def test_alpha_in_place_forms_promote_then_cast_back():
    x = ds.tensor([[0, 0, 0], [0, 0, 0]], dtype=ds.int16)[:, 1:]
    x.add_(ds.tensor(1, dtype=ds.uint8), alpha=-1)
    _same(x, [[-1, -1], [-1, -1]], "int16")
    y = ds.zeros(5, dtype=ds.int16)
    y.sub_(ds.tensor([0, 0, 0, 0, 1], dtype=ds.uint8), alpha=-1)
    _same(y, [0, 0, 0, 0, 1], "int16")
    z = ds.tensor(0)
    z.add_(2 ** 63 - 1, alpha=2)
    _same(z, -2, "int64")
    u = ds.tensor([3], dtype=ds.uint8)
    u.add_(ds.tensor([-1], dtype=ds.int8), alpha=2)  # computed in int16 (1), cast back
    _same(u, [1], "uint8")


def test_half_alpha_is_computed_in_float32_and_rounded_once():
    a, b = ds.tensor([-60000.0], dtype=ds.float16), ds.tensor([60000.0], dtype=ds.float16)
    _same(ds.add(a, b, alpha=2), [60000.0], "float16")  # 2 * 60000 overflows float16, not float32
    a.add_(b, alpha=2)
    _same(a, [60000.0], "float16")
    # the operands are converted to the promoted dtype first: int32 min is -inf in float16
    r = ds.sub(ds.tensor(-1.0, dtype=ds.float16), ds.tensor([1, -2 ** 31], dtype=ds.int32), alpha=0)
    _same(r, [-1.0, np.nan], "float16")


def test_alpha_gradient_is_scaled():
    a = ds.tensor([1.0, 2.0], requires_grad=True)
    b = ds.tensor([3.0, 4.0], dtype=ds.float64, requires_grad=True)
    ds.sub(a, b, alpha=3).sum().backward()
    _same(a.grad, [1.0, 1.0], "float32")
    _same(b.grad, [-3.0, -3.0], "float64")


@pytest.mark.parametrize("call", [
    lambda: ds.add(ds.tensor(False), 0, alpha=0.5),  # int64 result
    lambda: ds.add(ds.tensor([1, 2]), ds.tensor([1, 2]), alpha=1.0),
    lambda: ds.tensor([1], dtype=ds.uint8).sub_(1, alpha=2.5),
    lambda: ds.add(ds.tensor([True]), ds.tensor([True]), alpha=0.5),  # bool is integral here
], ids=["bool+int", "int", "inplace-uint8", "bool"])
def test_float_alpha_with_integer_operands_is_refused(call):
    with pytest.raises(RuntimeError, match="alpha must not be a floating point number"):
        call()


@pytest.mark.parametrize("call", [
    lambda: ds.add(ds.tensor([1, 2]), ds.tensor([1, 2]), alpha=True),
    lambda: ds.ones(3, 3, dtype=ds.uint8).add_(ds.ones(3, 3, dtype=ds.uint8), alpha=True),
    lambda: ds.sub(ds.tensor([1.0]), 1, alpha=False),
], ids=["int", "inplace", "float"])
def test_bool_alpha_with_a_non_bool_result_is_refused(call):
    with pytest.raises(RuntimeError, match="Boolean alpha"):
        call()


@pytest.mark.parametrize("call", [
    lambda: ds.sub(ds.tensor(False), 0.0, alpha=2),
    lambda: ds.sub(ds.tensor([1.0]), ds.tensor([True])),
    lambda: ds.tensor([1.0]) - True,
    lambda: 1 - ds.tensor([True]),
    lambda: ds.tensor(0, dtype=ds.uint8).sub_(False, alpha=2),
    lambda: ds.tensor([1], dtype=ds.uint8).sub_(ds.tensor([True])),
], ids=["fn-alpha", "fn", "op", "rop", "inplace-alpha", "inplace"])
def test_subtraction_with_a_bool_operand_is_refused(call):
    with pytest.raises(RuntimeError, match="with a bool tensor is not supported"):
        call()


def test_composites_subtract_bool_operands_as_numbers():
    # logaddexp subtracts its operands: a bool one takes part as the promoted float dtype
    r = ds.logaddexp(ds.tensor([[True]]).expand(1, 2), ds.tensor([-7.5, -1.25], dtype=ds.float64))
    assert r.dtype == ds.float64
    np.testing.assert_allclose(r.numpy(), np.logaddexp([[1.0, 1.0]], [-7.5, -1.25]), rtol=1e-15)
    _same(ds.diff(ds.tensor([True, False, False])), [True, False], "bool")  # logical_xor, as PyTorch


def test_subtraction_of_two_bools_is_refused():
    t = ds.tensor([True, False])
    with pytest.raises(RuntimeError, match="with two bool tensors is not supported"):
        t - t
    with pytest.raises(RuntimeError, match="with two bool tensors is not supported"):
        t.sub_(t)


# ================================================================ lerp: one dtype, PyTorch's formula

@pytest.mark.parametrize("call", [
    lambda: ds.lerp(ds.tensor(0.0, dtype=ds.float16), ds.tensor(False), ds.tensor(0.0, dtype=ds.float16)),
    lambda: ds.lerp(ds.tensor([0.0]), ds.tensor([1.0], dtype=ds.float64), 0.5),
    lambda: ds.lerp(ds.tensor([0.0]), ds.tensor([1.0]), ds.tensor([0.5], dtype=ds.float64)),
    lambda: ds.tensor(0.0, dtype=ds.float16).lerp_(ds.tensor(0, dtype=ds.int8), ds.tensor(-2.5, dtype=ds.float16)),
    lambda: ds.lerp(ds.tensor([0, 1]), ds.tensor([2, 3]), 0.5),  # integers: no lerp kernel in PyTorch
], ids=["bool-end", "f64-end", "f64-weight", "inplace", "int"])
def test_lerp_refuses_mixed_or_integer_dtypes(call):
    with pytest.raises(RuntimeError, match="lerp"):
        call()


def test_lerp_uses_pytorchs_two_sided_formula():
    # |weight| >= 0.5: end - (end - start) * (1 - weight), so lerp(0, inf, 1) is inf - inf * 0 = nan
    _same(ds.lerp(ds.zeros(3, dtype=ds.float16), ds.tensor(float("inf"), dtype=ds.float16), 1.0), [np.nan] * 3, "float16")
    x = ds.tensor(0.0, dtype=ds.float16)
    x.lerp_(ds.tensor(float("inf"), dtype=ds.float16), ds.tensor(1.0, dtype=ds.float16))
    _same(x, np.nan, "float16")
    # exact at weight 1 where start + weight * (end - start) rounds
    start, end = ds.tensor([1e-8, -3.3]), ds.tensor([1.0, 7.1])
    _same(ds.lerp(start, end, 1.0), [1.0, 7.1], "float32")
    # |weight| < 0.5 (negative weights included): start + weight * (end - start)
    w = ds.tensor([-0.25, 0.25, 0.75, -1.0])
    a, b = np.float32([1.0, 1.0, 1.0, 1.0]), np.float32([3.0, 3.0, 3.0, 3.0])
    _same(ds.lerp(ds.tensor(a), ds.tensor(b), w), [0.5, 1.5, 2.5, -1.0], "float32")


def test_half_lerp_computes_in_float32():
    # (end - start) overflows float16; PyTorch's float32 arithmetic does not
    start, end = ds.tensor([-32768.0], dtype=ds.float16), ds.tensor([32768.0], dtype=ds.float16)
    _same(ds.lerp(start, end, 0.25), [-16384.0], "float16")
    _same(ds.lerp(start, end, ds.tensor([0.75], dtype=ds.float16)), [16384.0], "float16")
    _same(ds.lerp(start.to(ds.bfloat16), end.to(ds.bfloat16), ds.tensor([0.75], dtype=ds.bfloat16)), [16384.0], "bfloat16")


def test_lerp_gradients():
    a = ds.tensor([1.0, 2.0], requires_grad=True)
    b = ds.tensor([3.0, 5.0], requires_grad=True)
    w = ds.tensor([0.2, 0.9], requires_grad=True)
    ds.lerp(a, b, w).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [0.8, 0.1], rtol=1e-6)
    np.testing.assert_allclose(b.grad.numpy(), [0.2, 0.9], rtol=1e-6)
    np.testing.assert_allclose(w.grad.numpy(), [2.0, 3.0], rtol=1e-6)


# ================================================================ clamp family: bounds promote

@pytest.mark.parametrize("fn", [
    lambda x, b: ds.clamp(x, min=b),
    lambda x, b: ds.clamp(x, max=b),
    lambda x, b: ds.clip(x, max=b),
    lambda x, b: x.clamp(b, None),
    ds.clamp_min,
    ds.clamp_max,
], ids=["clamp-min", "clamp-max", "clip", "method", "clamp_min", "clamp_max"])
@pytest.mark.parametrize("x_dtype,b_dtype,expected", [
    ("uint8", "int8", "int16"),
    ("int64", "float32", "float32"),
    ("float16", "bfloat16", "float32"),
    ("int32", "float64", "float64"),
    ("float32", "int64", "float32"),
])
def test_tensor_bounds_take_part_in_promotion(fn, x_dtype, b_dtype, expected):
    x = ds.tensor([0, 1, 2], dtype=getattr(ds, x_dtype))
    b = ds.tensor([1], dtype=getattr(ds, b_dtype))
    assert fn(x, b).dtype == getattr(ds, expected)


def test_a_zero_dim_bound_only_lifts_the_category():
    x = ds.tensor([0, 200], dtype=ds.uint8)
    _same(ds.clamp(x, min=ds.tensor(100, dtype=ds.int64)), [100, 200], "uint8")  # not int64
    _same(ds.clamp(x, max=ds.tensor(2.5, dtype=ds.float64)), [0.0, 2.5], "float64")  # a higher category: its dtype


def test_clamp_compares_in_the_promoted_dtype():
    # PyTorch: uint8 0 clamped to [-1, 1.0] is float32 0 (bounds in float32), not 1.0
    x = ds.tensor([[0, 0, 0]], dtype=ds.uint8).expand(2, 3)
    _same(ds.clamp(x, min=-1, max=1.0), [[0.0] * 3] * 2, "float32")
    _same(ds.clamp(ds.tensor([0, 5], dtype=ds.uint8), min=ds.tensor([-1], dtype=ds.int8)), [0, 5], "int16")
    # int64 beyond float32's precision clamped by a float32 tensor: compared in float32
    r = ds.clamp(ds.tensor([2 ** 40 + 1]), max=ds.tensor([2.0 ** 41], dtype=ds.float32))
    _same(r, [2.0 ** 40], "float32")
    # number bounds keep a float input's dtype and an integer input's dtype for integers
    _same(ds.clamp(ds.tensor([1.0, 7.0], dtype=ds.float16), min=2, max=5.5), [2.0, 5.5], "float16")
    _same(ds.clamp(ds.tensor([1, 7], dtype=ds.int8), min=2, max=5), [2, 5], "int8")
    _same(ds.clamp(ds.tensor([1, 7], dtype=ds.int8), max=5.5), [1.0, 5.5], "float32")
    # NaN passes through; max wins where min > max
    _same(ds.clamp(ds.tensor([np.nan, 0.0]), min=1.0, max=-1.0), [np.nan, -1.0], "float32")


def test_number_bounds_convert_as_pytorch_scalars():
    with pytest.raises(RuntimeError, match="without overflow"):
        ds.clamp(ds.tensor([1], dtype=ds.int8), min=300)
    # -1 into uint8 wraps to 255, as PyTorch's Scalar conversion does
    _same(ds.clamp(ds.tensor([0, 9], dtype=ds.uint8), min=-1), [255, 255], "uint8")
    with pytest.raises(RuntimeError, match="Bool"):
        ds.clamp(ds.tensor([True]), min=False)  # PyTorch has no bool clamp kernel
    _same(ds.clamp(ds.tensor([True, False]), min=1), [1, 1], "int64")


@pytest.mark.parametrize("call", [
    lambda: ds.tensor(0, dtype=ds.uint8).clamp_(min=ds.tensor(0, dtype=ds.uint8), max=ds.tensor(0.0, dtype=ds.float16)),
    lambda: ds.tensor(0, dtype=ds.uint8).clamp_min_(ds.tensor(0.0, dtype=ds.float16)),
    lambda: ds.tensor([1, 2], dtype=ds.int32).clamp_(min=0.5),
    lambda: ds.tensor([1, 2], dtype=ds.int32).clamp_max_(ds.tensor([1.0])),
], ids=["clamp_", "clamp_min_", "number", "clamp_max_"])
def test_in_place_clamp_refuses_results_it_cannot_cast_back(call):
    with pytest.raises(RuntimeError, match="can't be cast"):
        call()


def test_in_place_clamp_casts_back_within_a_category():
    x = ds.tensor([0, 5, 200], dtype=ds.uint8)
    x.clamp_(min=ds.tensor([-1], dtype=ds.int8), max=ds.tensor(100, dtype=ds.int16))  # computed in int16
    _same(x, [0, 5, 100], "uint8")
    y = ds.tensor([0.5, 3.0], dtype=ds.float16)
    y.clamp_max_(ds.tensor([1.0], dtype=ds.float64))
    _same(y, [0.5, 1.0], "float16")


def test_clamp_gradient_flows_to_tensor_bounds():
    x = ds.tensor([1.0, 5.0, -3.0], requires_grad=True)
    lo = ds.tensor([0.0, 0.0, 0.0], dtype=ds.float64, requires_grad=True)
    r = ds.clamp(x, min=lo, max=2.0)
    assert r.dtype == ds.float64
    r.sum().backward()
    _same(x.grad, [1.0, 0.0, 0.0], "float32")
    _same(lo.grad, [0.0, 0.0, 1.0], "float64")


# ================================================================ integer division: exact, checked

INT_DTYPES = ["uint8", "int8", "int16", "int32", "int64"]


@pytest.mark.parametrize("dtype", INT_DTYPES)
def test_trunc_division_of_integers_is_exact(dtype):
    info = np.iinfo(dtype)
    rng = np.random.default_rng(0)
    a = rng.integers(info.min, info.max, size=200, endpoint=True, dtype=dtype)
    b = rng.integers(info.min, info.max, size=200, endpoint=True, dtype=dtype)
    b[b == 0] = 3
    if info.min < 0:
        b[(a == info.min) & (b == -1)] = 7  # C leaves min / -1 undefined
    a[:4] = [info.min, info.max, info.min + 1, info.max - 1]
    b[:4] = [3, 3, 7, 2]
    expect = (np.abs(a.astype(object)) // np.abs(b.astype(object))) * np.sign(a.astype(object) * b.astype(object))
    r = ds.div(ds.tensor(a), ds.tensor(b), rounding_mode="trunc")
    _same(r, expect.astype(dtype), dtype)
    x = ds.tensor(a)
    x.div_(ds.tensor(b), rounding_mode="trunc")
    _same(x, expect.astype(dtype), dtype)


def test_trunc_division_converts_operands_per_promotion_first():
    # a 0-d uint8 with an int8 tensor computes in int8: 254 is -2 there, as in PyTorch
    _same(ds.div(ds.tensor(254, dtype=ds.uint8), ds.tensor([1], dtype=ds.int8), rounding_mode="trunc"), [-2], "int8")
    _same(ds.div(ds.tensor([-7, 7], dtype=ds.int8), ds.tensor([2], dtype=ds.uint8), rounding_mode="trunc"), [-3, 3], "int16")
    x = ds.tensor(-2 ** 31, dtype=ds.int32)
    x.div_(3, rounding_mode="trunc")
    _same(x, -715827882, "int32")  # float32 gives -715827904
    _same(ds.div(ds.tensor([-7.5, 7.5]), 2, rounding_mode="trunc"), [-3.0, 3.0], "float32")


@pytest.mark.parametrize("call", [
    lambda: ds.div(ds.tensor(False), ds.tensor(0, dtype=ds.uint8), rounding_mode="trunc"),
    lambda: ds.tensor(0, dtype=ds.uint8).div_(0, rounding_mode="trunc"),
    lambda: ds.div(ds.tensor([1, 2]), ds.tensor([1, 0]), rounding_mode="trunc"),
    lambda: ds.div(ds.tensor([1, 2]), 0, rounding_mode="floor"),
], ids=["promoted", "inplace", "tensor", "floor"])
def test_integer_division_by_zero_raises(call):
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        call()


def test_an_empty_integer_division_checks_no_divisor():
    # PyTorch checks each element it divides: an empty result divides none
    e = ds.zeros((0, 1), dtype=ds.uint8)
    assert ds.floor_divide(e, ds.tensor(False)).shape == (0, 1)
    assert ds.fmod(ds.zeros(0, dtype=ds.bool), 0).dtype == ds.int64
    assert ds.div(e, ds.tensor([0], dtype=ds.uint8), rounding_mode="trunc").shape == (0, 1)
    x = ds.zeros(0, dtype=ds.uint8)
    x.remainder_(ds.tensor(False))
    assert x.shape == (0,)


def test_trunc_division_of_bools_is_refused():
    with pytest.raises(RuntimeError, match="Bool"):
        ds.div(ds.tensor([True]), ds.tensor([True]), rounding_mode="trunc")


# ================================================================ isclose / allclose

INF, NAN = float("inf"), float("nan")


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_equal_values_are_close_and_infinities_close_to_nothing_else(dtype):
    a = ds.tensor([0.0, INF, -INF, INF, 0.0, NAN, NAN, 1.0], dtype=getattr(ds, dtype))
    b = ds.tensor([0.0, INF, -INF, -INF, INF, NAN, 0.0, 1.0 + 1e-9], dtype=getattr(ds, dtype))
    _same(ds.isclose(a, b), [True, True, True, False, False, False, False, True], "bool")
    _same(ds.isclose(a, b, equal_nan=True), [True, True, True, False, False, True, False, True], "bool")
    # with zero tolerances only equality counts
    _same(ds.isclose(a, b, rtol=0, atol=0), [True, True, True, False, False, False, False, dtype != "float64"], "bool")
    assert ds.allclose(ds.tensor(INF), ds.tensor(INF))
    assert not ds.allclose(ds.tensor(0.0), ds.tensor(INF))  # inf - 0 is not a finite difference
    assert not ds.allclose(ds.tensor([INF]), ds.tensor([1e38]), atol=INF)
    assert ds.tensor([1.0, INF]).allclose(ds.tensor([1.0, INF]))


def test_isclose_runs_in_the_operands_dtype():
    # |1 - 1.0000001| is 1.19e-7 in float32 (the nearest float), above atol=1e-7 with rtol=0
    a, b = ds.tensor([1.0]), ds.tensor([1.0000001])
    _same(ds.isclose(a, b, rtol=0.0, atol=1e-7), [False], "bool")
    _same(ds.isclose(a.double(), ds.tensor([1.00000005], dtype=ds.float64), rtol=0.0, atol=1e-7), [True], "bool")
    # bools are compared as the default float dtype, integers in their own dtype
    _same(ds.isclose(ds.tensor([True, False]), ds.tensor([True, True]), atol=1.0), [True, True], "bool")
    _same(ds.isclose(ds.tensor([10, 20]), ds.tensor([11, 25]), rtol=0.1, atol=0), [True, False], "bool")


@pytest.mark.parametrize("fn", [ds.isclose, ds.allclose])
def test_isclose_of_different_dtypes_is_refused(fn):
    with pytest.raises(RuntimeError, match="did not match"):
        fn(ds.tensor(0.0), ds.tensor(False))
    with pytest.raises(RuntimeError, match="did not match"):
        fn(ds.tensor([1.0]), ds.tensor([1.0], dtype=ds.float64))
    with pytest.raises(RuntimeError, match="greater than or equal to zero"):
        fn(ds.tensor([1.0]), ds.tensor([1.0]), rtol=-1.0)


# ================================================================ dtype checks PyTorch makes

@pytest.mark.parametrize("dtype", ["float32", "int64", "int32"])
def test_where_needs_a_bool_condition(dtype):
    with pytest.raises(RuntimeError, match="boolean"):
        ds.where(ds.tensor(0, dtype=getattr(ds, dtype)), 0.0, 1.0)


def test_where_accepts_a_uint8_condition_with_a_warning():
    with pytest.warns(UserWarning, match="uint8 condition"):
        r = ds.where(ds.tensor([1, 0], dtype=ds.uint8), 1.0, 2.0)
    _same(r, [1.0, 2.0], "float32")


@pytest.mark.parametrize("call", [
    lambda i: ds.gather(ds.tensor([1.0, 2.0]), 0, i),
    lambda i: ds.tensor([1.0, 2.0]).gather(0, i),
    lambda i: ds.scatter(ds.zeros(2), 0, i, ds.ones(2)),
    lambda i: ds.scatter(ds.zeros(2), 0, i, value=1.0),
    lambda i: ds.scatter_add(ds.zeros(2), 0, i, ds.ones(2)),
    lambda i: ds.zeros(2).scatter_(0, i, ds.ones(2)),
    lambda i: ds.zeros(2).scatter_add_(0, i, ds.ones(2)),
], ids=["gather", "gather-method", "scatter", "scatter-value", "scatter_add", "scatter_", "scatter_add_"])
@pytest.mark.parametrize("index_dtype", ["int32", "uint8", "float32"])
def test_gather_and_scatter_need_an_int64_index(call, index_dtype):
    with pytest.raises(RuntimeError, match="Expected dtype int64 for index"):
        call(ds.tensor([1, 0], dtype=getattr(ds, index_dtype)))


def test_the_index_dtype_is_checked_before_its_bounds():
    # PyTorch's order: dim, index dtype, then index values
    with pytest.raises(RuntimeError, match="int64"):
        ds.gather(ds.tensor([False]), 0, ds.tensor([-1], dtype=ds.int32))
    with pytest.raises(IndexError, match="Dimension out of range"):
        ds.gather(ds.tensor([False]), 1, ds.tensor([0], dtype=ds.int32))


@pytest.mark.parametrize("call", [
    lambda: ds.scatter(ds.zeros(2), 0, ds.tensor([1, 0]), ds.ones(2, dtype=ds.float64)),
    lambda: ds.scatter_add(ds.tensor([False]), 0, ds.zeros(0, dtype=ds.int64), ds.zeros(0, dtype=ds.int64)),
    lambda: ds.zeros(2, dtype=ds.int64).scatter_(0, ds.tensor([1, 0]), ds.ones(2)),
    lambda: ds.zeros(0, dtype=ds.uint8).scatter_add_(0, ds.tensor([0]), ds.tensor([False])),
], ids=["scatter", "scatter_add", "scatter_", "scatter_add_-before-bounds"])
def test_scatter_needs_src_of_selfs_dtype(call):
    with pytest.raises(RuntimeError, match="self.dtype to be equal to src.dtype"):
        call()


@pytest.mark.parametrize("call", [
    lambda: ds.index_add(ds.tensor(0, dtype=ds.uint8), 0, ds.zeros(0, dtype=ds.int32), ds.tensor(False), alpha=2),
    lambda: ds.index_add(ds.zeros(3), 0, ds.tensor([0, 2]), ds.ones(2, dtype=ds.float64)),
    lambda: ds.zeros(3, dtype=ds.int32).index_add_(0, ds.tensor([0]), ds.ones(1, dtype=ds.int64)),
], ids=["0-d", "float", "inplace"])
def test_index_add_needs_a_source_of_selfs_dtype(call):
    with pytest.raises(RuntimeError, match="must have the same scalar type"):
        call()


def test_in_place_index_checks_come_before_the_overlap_check():
    x = ds.tensor([False]).expand(2)
    with pytest.raises(IndexError, match="Dimension out of range"):
        x.index_add_(1, ds.zeros(0, dtype=ds.int32), ds.tensor([False, False]), alpha=2)
    # and the checks still let the right arguments through
    y = ds.zeros(3)
    y.index_add_(0, ds.tensor([0, 2], dtype=ds.int32), ds.ones(2), alpha=2)
    _same(y, [2.0, 0.0, 2.0], "float32")
    z = ds.zeros(2)
    z.scatter_(0, ds.tensor([1]), 5.0)
    _same(z, [0.0, 5.0], "float32")


# ================================================================ result dtypes, shapes and refusals

@pytest.mark.parametrize("fn,values,expected", [
    (ds.any, [0, 3, 0], 1), (ds.all, [0, 3, 0], 0), (ds.all, [2, 3, 255], 1), (ds.any, [], 0), (ds.all, [], 1),
])
def test_any_and_all_of_uint8_keep_uint8(fn, values, expected):
    x = ds.tensor(values, dtype=ds.uint8)
    _same(fn(x), expected, "uint8")
    _same(fn(x, dim=0, keepdim=True), [expected], "uint8")
    _same(getattr(x, fn.__name__)(), expected, "uint8")
    assert fn(x.to(ds.int16)).dtype == ds.bool  # other dtypes give bool
    assert fn(ds.tensor(values, dtype=ds.float32)).dtype == ds.bool


def test_square_of_bool_is_int64_and_square_in_place_refuses_it():
    _same(ds.square(ds.tensor([True, False])), [1, 0], "int64")
    _same(ds.tensor(False).square(), 0, "int64")
    _same(ds.square(ds.tensor([-3], dtype=ds.int8)), [9], "int8")
    with pytest.raises(RuntimeError, match="can't be cast"):
        ds.tensor(False).square_()


def test_masked_fill_broadcasts_input_with_mask():
    _same(ds.masked_fill(ds.tensor(False), ds.tensor([False]), 0.0), [False], "bool")
    r = ds.masked_fill(ds.tensor([[1.0], [2.0]]), ds.tensor([True, False, True]), -1.0)
    _same(r, [[-1.0, 1.0, -1.0], [-1.0, 2.0, -1.0]], "float32")
    _same(ds.tensor([5, 6], dtype=ds.int16).masked_fill(ds.tensor([[True], [False]]), 0), [[0, 0], [5, 6]], "int16")
    # in place the result must keep self's shape
    with pytest.raises(RuntimeError, match="broadcastable"):
        ds.tensor([1.0]).masked_fill_(ds.tensor([True, False]), 1.0)
    x = ds.zeros(2, 2)
    x.masked_fill_(ds.tensor([True, False]), 3.0)
    _same(x, [[3.0, 0.0], [3.0, 0.0]], "float32")


def test_masked_fill_value_tensor_is_converted_with_overflow_checks():
    with pytest.raises(RuntimeError, match="without overflow"):
        ds.tensor([1], dtype=ds.uint8).masked_fill_(ds.tensor([True]), ds.tensor(-32768, dtype=ds.int16))
    v = ds.tensor(2.0, requires_grad=True)  # and a value tensor still gets its gradient
    ds.masked_fill(ds.zeros(3), ds.tensor([True, False, True]), v).sum().backward()
    _same(v.grad, 2.0, "float32")


@pytest.mark.parametrize("call", [
    lambda: ds.tensor(False).repeat((-1,)),
    lambda: ds.tensor([1, 2]).repeat(2, -1),
    lambda: ds.tile(ds.zeros((0, 1, 1), dtype=ds.bool), (-1, 0, 0)),
    lambda: ds.tensor([1.0]).tile((-2,)),
], ids=["repeat-0d", "repeat", "tile-empty", "tile"])
def test_negative_repeat_counts_are_refused(call):
    with pytest.raises(RuntimeError, match="negative"):
        call()


def test_index_select_of_a_zero_dim_tensor_takes_one_index():
    x = ds.tensor(5)
    _same(ds.index_select(x, 0, ds.tensor([0])), 5, "int64")
    _same(ds.index_select(x, 0, ds.tensor(0)), 5, "int64")
    for idx in (ds.zeros(0, dtype=ds.int32), ds.tensor([0, 0])):
        with pytest.raises(IndexError, match="only 1 value"):
            ds.index_select(x, 0, idx)


def test_topk_of_a_zero_dim_tensor_takes_at_most_one():
    v, i = ds.topk(ds.tensor(3, dtype=ds.uint8), 1)
    _same(v, 3, "uint8")
    _same(i, 0, "int64")
    with pytest.raises(RuntimeError, match="larger than the size 1"):
        ds.topk(ds.tensor(0, dtype=ds.uint8), 2)
    with pytest.raises(RuntimeError, match="larger than the size 2"):
        ds.topk(ds.tensor([1.0, 2.0]), 3)
