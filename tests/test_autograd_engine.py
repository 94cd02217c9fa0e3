"""Autograd: the engine's semantics (accumulation, retain_graph, version counters, hooks, grad
modes, higher order, custom Functions, in-place ops on views); gradients are checked against
central finite differences in float64."""
from __future__ import annotations

import math

import numpy as np
import pytest

import deepseek as ds
from deepseek import autograd
from gradcheck_cases import grad_check, rand


# ---------------------------------------------------------------- in-place under autograd

def test_setitem_on_non_leaf_gives_right_gradients():
    rng = np.random.default_rng(5)

    def f(x, z):
        y = x * 1
        y[0] = z
        return y * y

    grad_check(f, [rand(rng, (3, 2)), rand(rng, (2,))], rng)

    def g(x, z):
        y = x * 2
        v = y[:, 1]  # a view of y
        v.mul_(z)
        return y

    grad_check(g, [rand(rng, (2, 3)), rand(rng, (2,))], rng)

    def h(x, z):
        y = x * 2  # (exp would save its output, and then the write below must raise)
        y[y > 1.5] = z.sum()
        y[:, ::2] += z.reshape(-1, 1)
        return y

    grad_check(h, [rand(rng, (3, 3)), rand(rng, (3,))], rng)

    def k(x):
        y = x + 0
        y.t_().mul_(2) if hasattr(y, "t_") else y.t().mul_(2)
        y.add_(x.sin()).clamp_(-1.0, 1.0)
        return y

    grad_check(k, [rand(rng, (2, 2)) * 0.3], rng)


def test_inplace_on_leaf_requiring_grad_raises():
    x = ds.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        x.add_(1)
    with pytest.raises(RuntimeError, match="leaf"):
        x[0] = 2.0
    with ds.no_grad():
        x.add_(1)
    np.testing.assert_array_equal(x.detach().numpy(), [2, 2, 2])


def test_version_counter_error_names_the_op():
    x = ds.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()  # ExpBackward saves its output
    y.add_(1)
    with pytest.raises(RuntimeError, match="(?i)inplace") as e:
        y.sum().backward()
    assert "Exp" in str(e.value)
    a = ds.tensor([1.0, 2.0], requires_grad=True)
    b = a * 1
    c = b * b  # MulBackward saves b
    b.mul_(3)
    with pytest.raises(RuntimeError, match="(?i)inplace") as e:
        c.sum().backward()
    assert "Mul" in str(e.value)
    a = ds.tensor([1.0, 2.0], requires_grad=True)
    r = a.sigmoid()
    r[0] = 0.0  # modifies sigmoid's saved output through setitem
    with pytest.raises(RuntimeError, match="(?i)version") as e:
        r.sum().backward()
    assert "Sigmoid" in str(e.value)


def test_inplace_view_of_leaf_version():
    x = ds.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 1
    w = y[1:]
    z = (w * w).sum()
    y[2] = 10.0  # bumps the shared version counter of w
    with pytest.raises(RuntimeError):
        z.backward()


# ---------------------------------------------------------------- engine semantics

def test_grad_accumulates_across_backward_calls():
    x = ds.tensor([1.0, 2.0], dtype=ds.float64, requires_grad=True)
    (x * x).sum().backward()
    (3 * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2 + 3, 4 + 3])
    x.grad = None
    (x * 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2, 2])
    x.grad.zero_()
    (x * 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2, 2])


def test_second_backward_needs_retain_graph():
    x = ds.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * (np.exp([1.0, 2.0]) * (1 + np.array([1.0, 2.0]))), rtol=1e-6)
    with pytest.raises(RuntimeError, match="(?i)second time|retain_graph|freed"):
        y.backward()


def test_backward_non_scalar_needs_gradient():
    x = ds.ones(2, 2, requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="(?i)scalar"):
        y.backward()
    y.backward(ds.full((2, 2), 0.5))
    np.testing.assert_allclose(x.grad.numpy(), np.ones((2, 2)))
    with pytest.raises(RuntimeError):
        (x * 2).backward(ds.ones(3))
    with pytest.raises(RuntimeError, match="(?i)does not require grad|grad_fn"):
        ds.ones(2).sum().backward()


def test_hooks_on_leaf_and_non_leaf():
    x = ds.tensor([1.0, 2.0, 3.0], requires_grad=True)
    seen = []
    h1 = x.register_hook(lambda g: seen.append(("leaf", g.tolist())))
    y = x * 2
    h2 = y.register_hook(lambda g: g * 10)  # replaces y's gradient
    y.sum().backward()
    assert seen == [("leaf", [20.0, 20.0, 20.0])]
    np.testing.assert_allclose(x.grad.numpy(), [20, 20, 20])
    # removed hooks no longer run
    h1.remove()
    h2.remove()
    x.grad = None
    y = x * 2
    y.sum().backward()
    assert len(seen) == 1
    np.testing.assert_allclose(x.grad.numpy(), [2, 2, 2])
    # a hook returning None leaves the gradient as it is; hooks run in registration order
    order = []
    x.grad = None
    z = x * 3
    z.register_hook(lambda g: order.append(1))
    z.register_hook(lambda g: (order.append(2), g + 1)[1])
    z.register_hook(lambda g: (order.append(3), g * 2)[1])
    z.sum().backward()
    assert order == [1, 2, 3]
    np.testing.assert_allclose(x.grad.numpy(), [12, 12, 12])
    with pytest.raises(RuntimeError):
        ds.ones(2).register_hook(lambda g: g)


def test_hook_exception_propagates():
    x = ds.ones(2, requires_grad=True)
    y = x * 2

    def bad(g):
        raise ValueError("boom")

    y.register_hook(bad)
    with pytest.raises(ValueError, match="boom"):
        y.sum().backward()


def test_retain_grad():
    x = ds.tensor([1.0, 2.0], requires_grad=True)
    y = x * x
    y.retain_grad()
    z = y * 3
    assert z.grad is None
    z.sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), [3, 3])
    np.testing.assert_allclose(x.grad.numpy(), [6, 12])
    assert y.retains_grad and not z.retains_grad
    assert x.is_leaf and not y.is_leaf


def test_grad_modes_as_context_managers_and_decorators():
    x = ds.ones(2, requires_grad=True)
    with ds.no_grad():
        assert not ds.is_grad_enabled()
        assert not (x * 2).requires_grad
        with ds.enable_grad():
            assert (x * 2).requires_grad
        assert not (x * 2).requires_grad
    assert ds.is_grad_enabled()
    with ds.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert ds.is_grad_enabled()

    @ds.no_grad()
    def f(t):
        return t * 2

    @ds.enable_grad()
    def g(t):
        return t * 2

    @ds.set_grad_enabled(False)
    def h(t):
        return t * 2

    assert not f(x).requires_grad
    assert ds.is_grad_enabled()
    with ds.no_grad():
        assert g(x).requires_grad
    assert not h(x).requires_grad
    assert ds.is_grad_enabled()
    ds.set_grad_enabled(False)
    try:
        assert not (x * 2).requires_grad
    finally:
        ds.set_grad_enabled(True)
    assert (x * 2).requires_grad
    with ds.inference_mode():
        assert not (x * 2).requires_grad
    # the mode is restored even when the body raises
    with pytest.raises(KeyError):
        with ds.no_grad():
            raise KeyError
    assert ds.is_grad_enabled()


def test_higher_order_gradients():
    x = ds.tensor([0.5, 2.0, -1.0], dtype=ds.float64, requires_grad=True)
    y = (x ** 3).sum()
    (g,) = autograd.grad(y, x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), 3 * np.array([0.5, 2.0, -1.0]) ** 2)
    (g2,) = autograd.grad(g.sum(), x, create_graph=True)
    np.testing.assert_allclose(g2.detach().numpy(), 6 * np.array([0.5, 2.0, -1.0]))
    (g3,) = autograd.grad(g2.sum(), x)
    np.testing.assert_allclose(g3.numpy(), [6, 6, 6])
    # through transcendental ops and backward(create_graph=True)
    x = ds.tensor([0.3, 1.1], dtype=ds.float64, requires_grad=True)
    y = (x.sin() * x.exp()).sum()
    y.backward(create_graph=True)
    gx = x.grad
    assert gx.requires_grad
    x.grad = None
    gx.sum().backward()
    a = np.array([0.3, 1.1])
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.cos(a) * np.exp(a), rtol=1e-10)


@pytest.mark.parametrize("fn,shapes", [
    (lambda a: (a * a * a).sum(), [(3,)]),
    (lambda a: a.tanh(), [(2, 2)]),
    (lambda a, b: a @ b, [(2, 3), (3, 2)]),
    (lambda a: ds.softmax(a, -1), [(2, 3)]),
    (lambda a: ds.log_softmax(a, 0), [(3, 2)]),
    (lambda a, b: a / b, [(3,), (3,)]),
    (lambda a: a.sigmoid() * a.exp(), [(3,)]),
    (lambda a: ds.logsumexp(a, 1), [(2, 3)]),
    (lambda a: ds._ops.gelu(a), [(3,)]),
    (lambda a: a.sqrt().log(), [(3,)]),
    (lambda a: ds.var(a, 0), [(3, 2)]),
])
def test_second_order_gradients(fn, shapes):
    """The first derivative (built with create_graph=True) is itself checked against finite
    differences, as gradgradcheck does."""
    rng = np.random.default_rng(7)
    ins = [ds.tensor(rng.uniform(0.5, 1.5, size=s), dtype=ds.float64, requires_grad=True) for s in shapes]
    assert autograd.gradcheck(fn, ins)
    w = [ds.tensor(rng.standard_normal(tuple(o.shape)), dtype=ds.float64) for o in _as_tuple(fn(*ins))]

    def first_grad(*xs):
        with ds.enable_grad():
            xs = [x if x.requires_grad else x.detach().requires_grad_() for x in xs]
            outs = _as_tuple(fn(*xs))
            loss = sum((o * wi).sum() for o, wi in zip(outs, w))
            return autograd.grad(loss, xs, create_graph=True)

    grad_check(first_grad, [i.detach().numpy() for i in ins], rng)


def _as_tuple(o):
    return o if isinstance(o, tuple) else (o,)


def test_autograd_gradgradcheck_helper():
    x = ds.tensor([0.5, 1.5], dtype=ds.float64, requires_grad=True)
    assert autograd.gradgradcheck(lambda a: (a * a * a).sum(), [x])
    # and it notices a wrong second derivative
    class WrongSecond(autograd.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a * a

        @staticmethod
        def backward(ctx, g):
            (a,) = ctx.saved_tensors
            return g * 2 * a.detach()  # first derivative right, but cut from the graph

    assert not autograd.gradgradcheck(lambda a: WrongSecond.apply(a).sum(), [x], raise_exception=False)


def test_gradcheck_detects_a_wrong_derivative():
    class Wrong(autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * x

        @staticmethod
        def backward(ctx, g):
            return g  # should be 2 x g

    x = ds.tensor([1.0, 2.0], dtype=ds.float64, requires_grad=True)
    with pytest.raises(RuntimeError, match="Jacobian"):
        autograd.gradcheck(Wrong.apply, [x])
    assert autograd.gradcheck(Wrong.apply, [x], raise_exception=False) is False


def test_custom_function():
    class MulExp(autograd.Function):
        @staticmethod
        def forward(ctx, x, y, k):
            e = (x * y).exp()
            ctx.save_for_backward(x, y, e)
            ctx.k = k
            return e * k

        @staticmethod
        def backward(ctx, g):
            x, y, e = ctx.saved_tensors
            assert ctx.needs_input_grad == (True, False, False)
            return g * e * y * ctx.k, None, None

    x = ds.tensor([0.5, 1.0], dtype=ds.float64, requires_grad=True)
    y = ds.tensor([2.0, -1.0], dtype=ds.float64)
    out = MulExp.apply(x, y, 3.0)
    assert out.grad_fn is not None and "MulExp" in out.grad_fn.name()
    (out * out).sum().backward()
    e = np.exp(np.array([1.0, -1.0]))
    np.testing.assert_allclose(x.grad.numpy(), 2 * 3 * e * 3 * e * np.array([2.0, -1.0]))
    # saved tensors are version checked
    x2 = ds.tensor([0.5], dtype=ds.float64, requires_grad=True)
    y2 = ds.tensor([2.0], dtype=ds.float64)
    o = MulExp.apply(x2, y2, 1.0)
    y2.add_(1)
    with pytest.raises(RuntimeError, match="inplace"):
        o.sum().backward()
    # wrong number of gradients
    class Bad(autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a + b

        @staticmethod
        def backward(ctx, g):
            return g

    a = ds.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="incorrect number of gradients"):
        Bad.apply(a, a * 1).sum().backward()


def test_custom_function_gradcheck_and_multiple_outputs():
    class SinCos(autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.sin(), x.cos()

        @staticmethod
        def backward(ctx, gs, gc):
            (x,) = ctx.saved_tensors
            return gs * x.cos() - gc * x.sin()

    rng = np.random.default_rng(8)
    grad_check(lambda t: SinCos.apply(t), [rand(rng, (2, 3))], rng)
    x = ds.tensor([0.3], dtype=ds.float64, requires_grad=True)
    s, c = SinCos.apply(x)
    s.sum().backward()  # the unused output's gradient is materialised as zeros
    np.testing.assert_allclose(x.grad.numpy(), np.cos([0.3]))


def test_autograd_grad_allow_unused_and_inputs():
    x = ds.tensor([1.0, 2.0], requires_grad=True)
    y = ds.tensor([3.0], requires_grad=True)
    out = (x * 2).sum()
    with pytest.raises(RuntimeError, match="(?i)not have been used|unused"):
        autograd.grad(out, [x, y], retain_graph=True)
    gx, gy = autograd.grad(out, [x, y], allow_unused=True, retain_graph=True)
    np.testing.assert_allclose(gx.numpy(), [2, 2])
    assert gy is None
    gx, gy = autograd.grad(out, [x, y], materialize_grads=True, retain_graph=True)
    np.testing.assert_allclose(gy.numpy(), [0.0])
    assert x.grad is None  # grad() never touches .grad
    # grad_outputs
    z = x * x
    (g,) = autograd.grad(z, x, grad_outputs=ds.tensor([1.0, 10.0]))
    np.testing.assert_allclose(g.numpy(), [2, 40])
    # backward(inputs=...) only fills the named leaves
    a = ds.ones(2, requires_grad=True)
    b = ds.ones(2, requires_grad=True)
    (a * b * 3).sum().backward(inputs=[a])
    np.testing.assert_allclose(a.grad.numpy(), [3, 3])
    assert b.grad is None


def test_detach_and_requires_grad_propagation():
    x = ds.ones(2, requires_grad=True)
    d = x.detach()
    assert not d.requires_grad and d._storage_ptr() == x._storage_ptr()
    y = x * d
    assert y.requires_grad and y.grad_fn is not None
    assert not (d * 2).requires_grad
    i = ds.tensor([1, 2])
    with pytest.raises(RuntimeError, match="(?i)floating"):
        i.requires_grad_()
    assert not (x > 0).requires_grad
    assert not ds.argmax(x).requires_grad
    v, idx = ds.max(x.reshape(1, 2), 1)
    assert v.requires_grad and not idx.requires_grad


def test_gradient_dtype_follows_input():
    for dt in (ds.float16, ds.bfloat16, ds.float32):
        x = ds.tensor([1.0, 2.0], dtype=dt, requires_grad=True)
        (x.to(ds.float64) * 3).sum().backward()
        assert x.grad.dtype == dt
        np.testing.assert_allclose(np.asarray(x.grad.float()), [3, 3])
        y = ds.tensor([1.0, 2.0], dtype=dt, requires_grad=True)
        (y * y).sum().backward()
        np.testing.assert_allclose(np.asarray(y.grad.float()), [2, 4], rtol=1e-2)


def test_broadcast_gradient_reduces_to_input_shape():
    x = ds.ones(3, 1, requires_grad=True)
    b = ds.ones(4, requires_grad=True)
    s = ds.tensor(2.0, requires_grad=True)
    ((x + b) * s).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full((3, 1), 8.0))
    np.testing.assert_allclose(b.grad.numpy(), np.full((4,), 6.0))
    np.testing.assert_allclose(s.grad.numpy(), 24.0)
    assert tuple(s.grad.shape) == ()


def test_long_chain_does_not_recurse_too_deep():
    x = ds.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0001 ** 5000], rtol=1e-3)


def test_gradcheck_op_with_shared_input():
    rng = np.random.default_rng(9)
    grad_check(lambda a: a * a + a.exp() * a, [rand(rng, (2, 3))], rng, "perm")
    grad_check(lambda a: (a.unsqueeze(0) * a.unsqueeze(1)).sum(0), [rand(rng, (3,))], rng)
    assert math.isfinite(1.0)
