"""Complex dtypes: creation, promotion, arithmetic, views, reductions, matmul, autograd (PyTorch's
conjugate Wirtinger convention), printing and exchange, against NumPy in complex128."""
import io

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import deepseek as ds

RNG = np.random.default_rng(0)


def crand(*shape, dtype=np.complex128):
    return np.asarray(RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape), dtype=dtype)


def close(t, ref, tol=1e-10):
    a = t.detach().numpy()
    assert a.shape == np.shape(ref), (a.shape, np.shape(ref))
    np.testing.assert_allclose(a, ref, rtol=tol, atol=tol)


# ---------------- dtypes, creation, promotion ----------------

def test_dtype_objects():
    assert ds.complex64.is_complex and ds.complex128.is_complex and not ds.float32.is_complex
    assert not ds.complex64.is_floating_point
    assert (ds.complex64.itemsize, ds.complex128.itemsize) == (8, 16)
    assert ds.cfloat is ds.complex64 and ds.cdouble is ds.complex128
    assert ds.complex64.to_real() is ds.float32 and ds.complex128.to_real() is ds.float64
    assert ds.float64.to_complex() is ds.complex128 and ds.float32.to_complex() is ds.complex64


def test_tensor_from_python_and_numpy():
    t = ds.tensor(1 + 2j)
    assert t.dtype == ds.complex64 and t.ndim == 0 and t.item() == 1 + 2j and t.is_complex()
    assert ds.tensor([1, 2.5, 3j]).dtype == ds.complex64
    a = crand(3, 2)
    t = ds.tensor(a)
    assert t.dtype == ds.complex128
    close(t, a, 0)
    u = ds.from_numpy(a)  # shares memory
    a[0, 0] = 7 - 7j
    assert u[0, 0].item() == 7 - 7j
    assert np.shares_memory(u.numpy(), a)
    f = ds.full((2,), 1 - 2j)
    assert f.dtype == ds.complex64 and f.tolist() == [1 - 2j, 1 - 2j]
    z = ds.zeros(2, dtype=ds.complex128) + ds.ones(2, dtype=ds.complex128)
    close(z, np.ones(2))


@pytest.mark.parametrize("a_dt,b,expected", [
    ("float32", 1j, "complex64"), ("float64", 1j, "complex128"), ("int64", 1j, "complex64"),
    ("complex64", 2.0, "complex64"), ("complex64", "f64t", "complex128"), ("complex64", "c128_0d", "complex64"),
    ("float32", "c128_0d", "complex64"), ("int32", "c128_0d", "complex128"),
])
def test_promotion_follows_pytorch(a_dt, b, expected):
    a = ds.ones(3, dtype=getattr(ds, a_dt))
    if b == "f64t":
        b = ds.ones(3, dtype=ds.float64)
    elif b == "c128_0d":
        b = ds.tensor(1j, dtype=ds.complex128)
    assert (a + b).dtype == getattr(ds, expected)
    assert (b * a).dtype == getattr(ds, expected)


def test_printing():
    assert repr(ds.tensor([1 + 2j, 3 - 4j])) == "tensor([1.+2.j, 3.-4.j])"
    assert repr(ds.tensor([1.5 + 2j], dtype=ds.complex128)) == "tensor([1.5000+2.j], dtype=deepseek.complex128)"


# ---------------- arithmetic against NumPy ----------------

shapes = st.lists(st.integers(0, 3), min_size=0, max_size=3)


@settings(max_examples=25)
@given(sa=shapes, data=st.data())
def test_binary_ops_match_numpy(sa, data):
    # b broadcasts against a: some of its trailing dims set to 1
    sb = [1 if data.draw(st.booleans()) else s for s in sa[len(sa) - data.draw(st.integers(0, len(sa))):]]
    a, b = crand(*sa), crand(*sb)
    real_b = data.draw(st.booleans())
    if real_b:
        b = np.asarray(b.real, dtype=np.float64)
    ta, tb = ds.tensor(a), ds.tensor(b)
    for op in ("add", "sub", "mul", "truediv"):
        f = getattr(np, {"truediv": "divide", "sub": "subtract", "mul": "multiply"}.get(op, op))
        r = getattr(ta, f"__{op}__")(tb)
        assert r.dtype == ds.complex128
        close(r, f(a, b), 1e-9)
        close(getattr(tb, f"__r{op}__")(ta), f(a, b), 1e-9)
    close(ta * 2.5 - 1j, a * 2.5 - 1j)
    close((1 + 1j) / ta if a.size and np.all(a != 0) else ta, (1 + 1j) / a if a.size and np.all(a != 0) else a)
    assert np.array_equal((ta == ta).numpy(), np.ones(a.shape, bool))
    assert np.array_equal((ta != tb).numpy(), a != b)


def test_inplace_and_pow():
    a = crand(4)
    t = ds.tensor(a)
    t += 1j
    t *= ds.tensor(a)
    close(t, (a + 1j) * a)
    r = ds.ones(2)
    with pytest.raises(RuntimeError, match="can't be cast"):
        r += 1j
    close(ds.tensor(a) ** 2, a ** 2)
    close(ds.tensor(a) ** 0.5, np.sqrt(a))
    b = crand(4)
    close(ds.tensor(a) ** ds.tensor(b), a ** b, 1e-9)


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "reciprocal", "neg", "rsqrt"])
def test_unary_ops_match_numpy(name):
    a = crand(3, 4)
    ref = {"sigmoid": lambda z: 1 / (1 + np.exp(-z)), "reciprocal": lambda z: 1 / z, "neg": np.negative,
           "rsqrt": lambda z: 1 / np.sqrt(z)}.get(name, getattr(np, name, None))
    close(getattr(ds, name)(ds.tensor(a)), ref(a), 1e-9)


def test_abs_angle_conj_real_imag():
    a = crand(5)
    a[0] = 0
    t = ds.tensor(a)
    close(t.abs(), np.abs(a))
    assert t.abs().dtype == ds.float64
    close(ds.angle(t), np.angle(a))
    close(t.conj(), np.conj(a))
    assert not t.conj().is_conj() and not ds.is_conj(t)
    close(t.real, a.real)
    close(t.imag, a.imag)
    close(ds.sgn(t), np.where(a == 0, 0, a / np.where(a == 0, 1, np.abs(a))))
    close(ds.angle(ds.tensor([-1.0, 2.0])), np.array([np.pi, 0.0]), 1e-6)
    assert ds.real(ds.ones(2)).dtype == ds.float32
    with pytest.raises(RuntimeError, match="imag is not implemented"):
        ds.ones(2).imag


def test_real_imag_are_writable_views():
    a = crand(2, 3)
    t = ds.tensor(a)
    t.real[0] = 5.0
    t.imag.mul_(2)
    ref = a.copy()
    ref.real[0] = 5.0
    ref.imag *= 2
    close(t, ref)
    t.real = ds.zeros(2, 3, dtype=ds.float64)
    close(t, 1j * ref.imag)


def test_view_as_real_and_complex_share_storage():
    a = crand(3, 4)
    t = ds.tensor(a)
    r = ds.view_as_real(t)
    assert r.shape == (3, 4, 2) and r.stride() == (8, 2, 1) and r.dtype == ds.float64
    r[1, 2, 1] = 9.0
    assert t[1, 2].item().imag == 9.0
    back = ds.view_as_complex(r)
    assert back.dtype == ds.complex128 and back.shape == (3, 4)
    nc = ds.view_as_real(t.T)  # a transposed complex tensor: strides double
    close(ds.view_as_complex(nc), t.numpy().T.copy())
    x = ds.randn(4, 2)
    with pytest.raises(RuntimeError, match="last dimension of size 2"):
        ds.view_as_complex(ds.randn(4, 3))
    with pytest.raises(RuntimeError, match="stride 1"):
        ds.view_as_complex(ds.randn(2, 4).T)
    with pytest.raises(RuntimeError, match="divisible by 2"):
        ds.view_as_complex(ds.randn(3, 3)[:, 1:])
    with pytest.raises(RuntimeError, match="float and double"):
        ds.view_as_complex(x.half())
    with pytest.raises(RuntimeError, match="complex tensors"):
        ds.view_as_real(x)


def test_complex_and_polar():
    re, im = RNG.standard_normal(4), RNG.standard_normal((3, 1))
    close(ds.complex(ds.tensor(re), ds.tensor(im)), re + 1j * im)
    r, th = np.abs(re), RNG.standard_normal(4)
    close(ds.polar(ds.tensor(r), ds.tensor(th)), r * np.exp(1j * th))
    with pytest.raises(RuntimeError, match="Expected object of scalar type"):
        ds.complex(ds.ones(2), ds.ones(2, dtype=ds.float64))
    with pytest.raises(RuntimeError, match="Float or Double"):
        ds.complex(ds.ones(2, dtype=ds.int64), ds.ones(2, dtype=ds.int64))


# ---------------- reductions, matmul, movement ----------------

def test_sum_mean_matmul():
    a = crand(2, 3, 4)
    t = ds.tensor(a)
    close(t.sum(), a.sum())
    close(t.sum(1), a.sum(1))
    close(t.sum((0, 2), keepdim=True), a.sum((0, 2), keepdims=True))
    close(t.mean(-1), a.mean(-1))
    close(t.cumsum(1), a.cumsum(1))
    b = crand(4, 5)
    close(t @ ds.tensor(b), a @ b)
    close(ds.tensor(b).T @ ds.tensor(b), b.T @ b)  # non-contiguous operand
    close(ds.matmul(ds.tensor(a[0, 0]), ds.tensor(b)), a[0, 0] @ b)
    close(ds.tensor(a).transpose(1, 2) @ ds.tensor(a), a.transpose(0, 2, 1) @ a)
    with pytest.raises(RuntimeError, match="same dtype"):
        ds.ones(2, 2) @ ds.ones(2, 2, dtype=ds.complex64)


def test_movement_ops():
    a, b = crand(2, 3), crand(2, 3)
    close(ds.cat([ds.tensor(a), ds.tensor(b)], 1), np.concatenate([a, b], 1))
    close(ds.stack([ds.tensor(a), ds.tensor(b)]), np.stack([a, b]))
    close(ds.where(ds.tensor(a.real > 0), ds.tensor(a), ds.tensor(b)), np.where(a.real > 0, a, b))
    close(ds.tensor(a)[:, [2, 0]], a[:, [2, 0]])
    close(ds.tensor(a).T.contiguous(), a.T)
    close(ds.tensor(a).reshape(3, 2), a.reshape(3, 2))
    close(ds.tensor(a).to(ds.complex64).to(ds.complex128), a.astype(np.complex64).astype(np.complex128), 0)
    with pytest.warns(UserWarning, match="discards the imaginary part"):
        close(ds.tensor(a).to(ds.float64), a.real)
    close(ds.tensor(a).bool(), a != 0)
    close(ds.tensor(a.real).to(ds.complex128), a.real + 0j)


def test_isclose_allclose():
    a = crand(6)
    b = a + 1e-9
    assert ds.allclose(ds.tensor(a), ds.tensor(b))
    c = a.copy()
    c[2] += 1e-3j
    assert not ds.allclose(ds.tensor(a), ds.tensor(c))
    close(ds.isclose(ds.tensor(a), ds.tensor(c)), np.isclose(a, c))
    n = ds.tensor([complex(np.nan, 0)], dtype=ds.complex128)
    assert not ds.isclose(n, n).item() and ds.isclose(n, n, equal_nan=True).item()


@pytest.mark.parametrize("op", [lambda z: z < z, lambda z: z.max(), lambda z: ds.floor(z), lambda z: ds.sign(z),
                                lambda z: z.amin(0), lambda z: z // z, lambda z: ds.maximum(z, z), lambda z: z.sort()])
def test_ops_without_complex_meaning_raise(op):
    z = ds.tensor(crand(3))
    with pytest.raises(RuntimeError):
        op(z)


# ---------------- autograd: dL/d(re) + i dL/d(im) ----------------

def _fd_grad(loss, a, eps=1e-6):
    g = np.zeros_like(a)
    for idx in np.ndindex(a.shape):
        for unit in (1, 1j):
            d = np.zeros_like(a)
            d[idx] = eps * unit
            g[idx] += unit * (loss(a + d) - loss(a - d)) / (2 * eps)
    return g


_W = crand(2, 3)
_M = crand(3, 2)
_GRAD_CASES = {
    # name: (deepseek function, NumPy function)
    "mul": (lambda z: z * ds.tensor(_W), lambda z: z * _W),
    "div": (lambda z: ds.tensor(_W) / z, lambda z: _W / z),
    "exp": (ds.exp, np.exp),
    "log": (ds.log, np.log),
    "sqrt": (ds.sqrt, np.sqrt),
    "abs": (ds.abs, np.abs),
    "matmul": (lambda z: z @ ds.tensor(_M), lambda z: z @ _M),
    "sum": (lambda z: z.sum(0), lambda z: z.sum(0)),
    "conj": (lambda z: ds.conj(z) * ds.tensor(_W), lambda z: np.conj(z) * _W),
    "view_as_real": (ds.view_as_real, lambda z: np.stack([z.real, z.imag], -1)),
    "angle": (ds.angle, np.angle),
    "pow": (lambda z: z ** 3, lambda z: z ** 3),
    "reciprocal": (ds.reciprocal, lambda z: 1 / z),
    "sin": (ds.sin, np.sin),
    "polar": (lambda z: ds.polar(z.real.abs(), z.imag), lambda z: np.abs(z.real) * np.exp(1j * z.imag)),
    "complex": (lambda z: ds.complex(z.imag, z.real * 2), lambda z: z.imag + 2j * z.real),
}


@pytest.mark.parametrize("name", sorted(_GRAD_CASES))
def test_gradients_match_finite_differences(name):
    f_ds, f_np = _GRAD_CASES[name]
    a = crand(2, 3) + 0.5

    def loss_np(z):
        y = f_np(z)
        return float(np.sum(np.abs(y) ** 2) + np.sum((y * (0.3 - 0.7j)).real))

    t = ds.tensor(a, requires_grad=True)
    y = f_ds(t)
    loss = (y.abs() ** 2).sum() + (y * (0.3 - 0.7j)).real.sum()
    loss.backward()
    assert t.grad.dtype == ds.complex128
    close(t.grad, _fd_grad(loss_np, a), 1e-5)


def test_abs_gradient_at_zero_is_zero_and_backward_needs_real_output():
    t = ds.tensor([0j, 3 + 4j], dtype=ds.complex128, requires_grad=True)
    t.abs().sum().backward()
    close(t.grad, np.array([0, 0.6 + 0.8j]))
    with pytest.raises(RuntimeError, match="real scalar outputs"):
        ds.tensor(1j, requires_grad=True).backward()
    r = ds.tensor([1.0, 2.0], dtype=ds.float64, requires_grad=True)
    (r * (1 + 2j)).abs().sum().backward()  # a real leaf gets a real gradient
    assert r.grad.dtype == ds.float64
    close(r.grad, np.full(2, np.sqrt(5.0)))


# ---------------- exchange and checkpoints ----------------

def test_dlpack_roundtrip():
    a = crand(3, 2, dtype=np.complex64)
    t = ds.from_dlpack(a)
    assert t.dtype == ds.complex64
    close(t, a, 0)
    back = np.from_dlpack(ds.tensor(a, dtype=ds.complex128))
    assert back.dtype == np.complex128
    np.testing.assert_array_equal(back, a.astype(np.complex128))


def test_save_load_complex():
    sd = {"c64": ds.tensor(crand(2, 3, dtype=np.complex64)), "c128": ds.tensor(crand(4)), "f": ds.ones(2)}
    buf = io.BytesIO()
    ds.save(sd, buf)
    buf.seek(0)
    back = ds.load(buf)
    for k, v in sd.items():
        assert back[k].dtype == v.dtype and back[k].shape == v.shape
        close(back[k], v.numpy(), 0)
    # complex64 is safetensors' own C64
    raw = buf.getvalue()
    assert b'"dtype":"C64"' in raw and b'deepseek.complex128' in raw
