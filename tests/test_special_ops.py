"""erfc, lgamma, digamma and polygamma: primitives added through the op table (values against
SciPy in float64 across the real line, poles and special values, gradients against finite
differences, and the chain lgamma' = digamma, digamma' = polygamma(1), polygamma(n)' = polygamma(n + 1))."""
import numpy as np
import pytest
import scipy.special as sp
from hypothesis import given, settings, strategies as st

import deepseek as ds
from deepseek.autograd import gradcheck, gradgradcheck

REF = {
    "erfc": sp.erfc,
    "lgamma": sp.gammaln,
    "digamma": sp.psi,
    "polygamma1": lambda a: sp.polygamma(1, a),
    "polygamma3": lambda a: sp.polygamma(3, a),
}


def _op(name):
    if name.startswith("polygamma"):
        return lambda x: ds.polygamma(int(name[-1]), x)
    return getattr(ds, name)


@pytest.mark.parametrize("name", sorted(REF))
@settings(max_examples=30)
# Inputs stay 1e-6 away from the poles and from 0: closer, SciPy's own digits run out (psi
# loses the reduction of pi*x near a pole, gammaln overflows on subnormals), while the core
# reduces x exactly; test_poles_and_special_values covers the poles themselves.
@given(v=st.lists(st.floats(-30, 30, allow_nan=False).filter(lambda f: abs(f - round(f)) > 1e-6), max_size=12))
def test_matches_scipy_in_float64_off_the_poles(name, v):
    a = np.array(v, dtype=np.float64)
    got = _op(name)(ds.tensor(a, dtype=ds.float64)).numpy()
    # polygamma near a pole of a negative x loses digits to cancellation, in SciPy too
    rtol = 1e-8 if name.startswith("polygamma") else 2e-10
    np.testing.assert_allclose(got, REF[name](a), rtol=rtol, atol=1e-12)


def test_digamma_near_a_pole_keeps_its_digits():
    # x = -2 + 16 ulp(2); psi(x) = psi(x + 3) - 1/x - 1/(x + 1) - 1/(x + 2), where x + 2 is exact
    x = -2.0 + 16 * 2.0 ** -52
    got = ds.digamma(ds.tensor([x], dtype=ds.float64)).item()
    want = float(sp.psi(x + 3.0)) - 1.0 / x - 1.0 / (x + 1.0) - 1.0 / (x + 2.0)
    assert abs(got - want) <= 1e-15 * abs(want)


def test_poles_and_special_values():
    x = ds.tensor([0.0, -0.0, -1.0, -2.0, float("inf"), -float("inf"), float("nan")], dtype=ds.float64)
    inf, nan = np.inf, np.nan
    np.testing.assert_array_equal(ds.lgamma(x).numpy(), [inf, inf, inf, inf, inf, inf, nan])
    np.testing.assert_array_equal(ds.digamma(x).numpy(), [-inf, inf, nan, nan, inf, nan, nan])
    np.testing.assert_array_equal(ds.polygamma(1, x).numpy(), [inf, inf, inf, inf, 0.0, nan, nan])
    np.testing.assert_array_equal(ds.polygamma(2, x).numpy()[:4], [-inf, -inf, -inf, -inf])
    np.testing.assert_array_equal(ds.erfc(x).numpy(), [1.0, 1.0, sp.erfc(-1.0), sp.erfc(-2.0), 0.0, 2.0, nan])


@pytest.mark.parametrize("dtype", [ds.float32, ds.float16, ds.bfloat16])
def test_narrow_floats_and_integers(dtype):
    a = np.linspace(0.3, 6.0, 9)
    x = ds.tensor(a, dtype=dtype)
    tol = {ds.float32: 1e-6, ds.float16: 2e-3, ds.bfloat16: 2e-2}[dtype]
    for name in REF:
        y = _op(name)(x)
        assert y.dtype == dtype
        want = REF[name](x.double().numpy())
        np.testing.assert_allclose(y.float().numpy(), want, rtol=tol, atol=tol * np.abs(want).max())
    i = ds.tensor([1, 2, 5])  # integers promote to float32, as for the other float ops
    assert ds.lgamma(i).dtype == ds.float32
    np.testing.assert_allclose(ds.lgamma(i).numpy(), sp.gammaln([1, 2, 5]), rtol=1e-6)


def test_methods_in_place_and_polygamma():
    x = ds.tensor([0.5, 1.5, 3.0], dtype=ds.float64)
    np.testing.assert_allclose(x.digamma().numpy(), sp.psi(x.numpy()))
    np.testing.assert_allclose(x.polygamma(1).numpy(), sp.polygamma(1, x.numpy()))
    np.testing.assert_allclose(ds.polygamma(0, x).numpy(), sp.psi(x.numpy()))
    y = x.clone()
    p = y.data_ptr()
    assert y.lgamma_() is y and y.data_ptr() == p
    np.testing.assert_allclose(y.numpy(), sp.gammaln(x.numpy()))
    np.testing.assert_allclose(ds.polygamma(4, x).numpy(), sp.polygamma(4, x.numpy()), rtol=1e-12)
    with pytest.raises(RuntimeError, match=r"polygamma\(n, input\): n must be a non-negative int, got -1"):
        ds.polygamma(-1, x)
    with pytest.raises(TypeError, match="argument 'n' must be int"):
        ds.polygamma(1.5, x)


@pytest.mark.parametrize("name", sorted(REF))
def test_gradients_match_finite_differences(name):
    x = ds.tensor([-2.5, -0.7, 0.3, 1.2, 4.0, 9.5], dtype=ds.float64, requires_grad=True)
    if name == "erfc":
        x = ds.tensor([-2.0, -0.5, 0.0, 0.7, 2.0], dtype=ds.float64, requires_grad=True)
    assert gradcheck(_op(name), (x,))


def test_higher_derivatives_chain_through_the_orders():
    x = ds.tensor([-1.5, 0.4, 2.5, 7.0], dtype=ds.float64, requires_grad=True)
    assert gradgradcheck(ds.lgamma, (x,))  # lgamma'' = polygamma(1)
    assert gradgradcheck(lambda t: ds.polygamma(2, t), (x,))
    g = x
    for n in range(4):  # d/dx lgamma = digamma, then each order of polygamma gives the next
        (g,) = ds.autograd.grad((ds.lgamma(x) if n == 0 else g).sum(), x, create_graph=True)
        want = sp.psi(x.detach().numpy()) if n == 0 else sp.polygamma(n, x.detach().numpy())
        np.testing.assert_allclose(g.detach().numpy(), want, rtol=1e-9)
