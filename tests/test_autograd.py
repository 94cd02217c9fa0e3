"""Autograd: every differentiable op against central finite differences in float64 (the
engine's semantics: test_autograd_engine.py)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import deepseek as ds
from gradcheck_cases import away_from_int, grad_check, rand

seeds = st.integers(0, 2**32 - 1)
shapes = st.sampled_from([(), (3,), (2, 3), (2, 1, 3), (0, 2)])
layouts = st.sampled_from(["contig", "perm", "step"])

UNARY = {
    "neg": (-2, 2), "exp": (-2, 2), "log": (0.2, 3), "log1p": (-0.5, 3), "expm1": (-2, 2),
    "sqrt": (0.2, 3), "rsqrt": (0.2, 3), "sin": (-3, 3), "cos": (-3, 3), "tan": (-1.2, 1.2),
    "tanh": (-2, 2), "sigmoid": (-4, 4), "erf": (-2, 2), "reciprocal": (0.3, 3),
    "asin": (-0.8, 0.8), "acos": (-0.8, 0.8), "atan": (-2, 2), "sinh": (-2, 2), "cosh": (-2, 2),
    "log2": (0.2, 3), "exp2": (-2, 2),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@given(shape=shapes, layout=layouts, seed=seeds)
@settings(max_examples=6)
def test_grad_unary(name, shape, layout, seed):
    rng = np.random.default_rng(seed)
    lo, hi = UNARY[name]
    grad_check(getattr(ds, name), [rand(rng, shape, lo, hi)], rng, layout)


@pytest.mark.parametrize("name", ["abs", "sign", "relu", "floor", "ceil", "round", "trunc"])
@given(shape=shapes, layout=layouts, seed=seeds)
@settings(max_examples=5)
def test_grad_piecewise(name, shape, layout, seed):
    rng = np.random.default_rng(seed)
    grad_check(getattr(ds, name), [away_from_int(rng, shape)], rng, layout)


@pytest.mark.parametrize("fn", [
    lambda x: ds._ops.gelu(x), lambda x: ds._ops.gelu(x, approximate="tanh"), ds._ops.silu,
    lambda x: ds._ops.softplus(x), lambda x: ds._ops.softplus(x, beta=2.0, threshold=3.0),
    ds._ops.square, lambda x: ds.clamp(x, -0.55, 0.45), lambda x: x.clamp(min=-0.55), lambda x: x.clamp(max=0.45),
    lambda x: ds.where(x > 0.1, x * x, -x), lambda x: ds.masked_fill(x, x > 0.1, 2.0),
    lambda x: x.to(ds.float64) * 1, lambda x: ds._ops.logaddexp(x, x * 2),
], ids=["gelu", "gelu_tanh", "silu", "softplus", "softplus_beta", "square", "clamp", "clamp_min", "clamp_max",
        "where", "masked_fill", "cast", "logaddexp"])
@given(shape=shapes, layout=layouts, seed=seeds)
@settings(max_examples=5)
def test_grad_composites(fn, shape, layout, seed):
    rng = np.random.default_rng(seed)
    grad_check(fn, [away_from_int(rng, shape) * 0.7], rng, layout)


BINARY = {
    "add": (ds.add, (-2, 2), (-2, 2)), "sub": (ds.sub, (-2, 2), (-2, 2)), "mul": (ds.mul, (-2, 2), (-2, 2)),
    "div": (ds.div, (-2, 2), (0.5, 2)), "pow": (ds.pow, (0.5, 2), (-1.5, 1.5)),
    "maximum": (ds.maximum, (-2, 2), (-2, 2)), "minimum": (ds.minimum, (-2, 2), (-2, 2)),
    "atan2": (ds.atan2, (-2, 2), (0.5, 2)), "fmod": (ds.fmod, (-3, 3), (0.7, 0.9)),
    "remainder": (ds.remainder, (-3, 3), (0.7, 0.9)), "lerp": (lambda a, b: ds.lerp(a, b, 0.3), (-2, 2), (-2, 2)),
    "lerp_t": (lambda a, b: ds.lerp(a, b, b * 0.5), (-2, 2), (-2, 2)),
    "add_alpha": (lambda a, b: ds.add(a, b, alpha=2.5), (-2, 2), (-2, 2)),
}
bshapes = st.sampled_from([((3,), (3,)), ((2, 3), (3,)), ((2, 1), (1, 3)), ((), (2, 2)), ((2, 0), (1,)), ((1, 2, 3), (2, 1, 1))])


@pytest.mark.parametrize("name", sorted(BINARY))
@given(shapes=bshapes, layout=layouts, seed=seeds, swap=st.booleans())
@settings(max_examples=6)
def test_grad_binary(name, shapes, layout, seed, swap):
    fn, ra, rb = BINARY[name]
    rng = np.random.default_rng(seed)
    sa, sb = shapes[::-1] if swap else shapes
    a, b = rand(rng, sa, *ra), rand(rng, sb, *rb)
    if name in ("fmod", "remainder"):
        # keep a/b away from the integers where the function jumps
        b = np.full(sb, 0.8)
        a = (np.floor(a / 0.8) + rng.uniform(0.2, 0.8, size=sa)) * 0.8
    if name in ("maximum", "minimum"):
        b = b + 0.05 * np.sign(b - np.broadcast_to(a, np.broadcast_shapes(sa, sb)).mean())
    grad_check(fn, [a, b], rng, layout)


def test_grad_scalar_operands():
    rng = np.random.default_rng(0)
    for fn in [lambda x: 2.0 - x, lambda x: 3.0 / x, lambda x: 2.0 ** x, lambda x: x ** 3, lambda x: x ** 0.5, lambda x: -x + 1]:
        grad_check(fn, [rand(rng, (2, 3), 0.5, 2)], rng)


def test_grad_maximum_tie_splits():
    x = ds.tensor([1.0, 2.0], dtype=ds.float64, requires_grad=True)
    y = ds.tensor([1.0, 3.0], dtype=ds.float64, requires_grad=True)
    ds.maximum(x, y).sum().backward()
    # PyTorch splits the gradient evenly at ties
    np.testing.assert_allclose(x.grad.numpy(), [0.5, 0.0])
    np.testing.assert_allclose(y.grad.numpy(), [0.5, 1.0])


REDUCE = {
    "sum": lambda x, d, k: ds.sum(x, d, k),
    "mean": lambda x, d, k: ds.mean(x, d, k),
    "prod": lambda x, d, k: ds.prod(x, d if not isinstance(d, tuple) else None, k),
    "amax": lambda x, d, k: ds.amax(x, () if d is None else d, k),
    "amin": lambda x, d, k: ds.amin(x, () if d is None else d, k),
    "var": lambda x, d, k: ds.var(x, d, keepdim=k),
    "var0": lambda x, d, k: ds.var(x, d, correction=0, keepdim=k),
    "std": lambda x, d, k: ds.std(x, d, keepdim=k),
    "logsumexp": lambda x, d, k: ds.logsumexp(x, tuple(range(x.ndim)) if d is None else d, k),
    "norm": lambda x, d, k: ds.norm(x, 2, d, k),
    "norm1": lambda x, d, k: ds.norm(x, 1, d, k),
    "norm3": lambda x, d, k: ds.norm(x, 3, d, k),
    "norm_inf": lambda x, d, k: ds.norm(x, float("inf"), d, k),
    "max_dim": lambda x, d, k: ds.max(x, d if isinstance(d, int) else -1, k)[0],
    "min_dim": lambda x, d, k: ds.min(x, d if isinstance(d, int) else -1, k)[0],
    "cumsum": lambda x, d, k: ds.cumsum(x, d if isinstance(d, int) else -1),
    "cumprod": lambda x, d, k: ds.cumprod(x, d if isinstance(d, int) else -1),
    "softmax": lambda x, d, k: ds.softmax(x, d if isinstance(d, int) else -1),
    "log_softmax": lambda x, d, k: ds.log_softmax(x, d if isinstance(d, int) else -1),
    "kthvalue": lambda x, d, k: ds.kthvalue(x, 1, d if isinstance(d, int) else -1, k)[0],
}


@pytest.mark.parametrize("name", sorted(REDUCE))
@given(shape=st.sampled_from([(4,), (2, 3), (3, 1, 2)]), layout=layouts, seed=seeds, keep=st.booleans(), data=st.data())
@settings(max_examples=6)
def test_grad_reductions(name, shape, layout, seed, keep, data):
    rng = np.random.default_rng(seed)
    nd = len(shape)
    dim = data.draw(st.one_of(st.none(), st.integers(-nd, nd - 1), st.just(tuple(range(nd))[:2])))
    if name in ("std",) and dim is not None and not isinstance(dim, tuple) and shape[dim] == 1:
        return  # std of one element with correction 1 is nan
    a = rand(rng, shape, 0.5, 2) * np.where(rng.random(shape) < 0.5, -1, 1)
    # distinct values: max/min/sort gradients are well defined
    a = a + np.arange(a.size).reshape(shape) * 1e-2
    grad_check(lambda x: REDUCE[name](x, dim, keep), [a], rng, layout)


@pytest.mark.parametrize("sa,sb", [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 2)), ((2, 3), (3, 4)),
                                   ((2, 2, 3), (3,)), ((3,), (2, 3, 2)), ((2, 2, 3), (2, 3, 2)),
                                   ((1, 2, 3), (2, 1, 3, 2)), ((2, 0), (0, 3)), ((2, 3), (1, 3, 1))])
@pytest.mark.parametrize("layout", ["contig", "perm", "step"])
def test_grad_matmul(sa, sb, layout):
    rng = np.random.default_rng(len(sa) * 7 + len(sb))
    grad_check(ds.matmul, [rand(rng, sa), rand(rng, sb)], rng, layout)


def test_grad_mm_bmm_einsum_dot_outer():
    rng = np.random.default_rng(1)
    grad_check(ds.mm, [rand(rng, (2, 3)), rand(rng, (3, 2))], rng, "perm")
    grad_check(ds.bmm, [rand(rng, (2, 2, 3)), rand(rng, (2, 3, 2))], rng)
    grad_check(lambda a, b: ds.einsum("bij,bjk->bik", a, b), [rand(rng, (2, 2, 3)), rand(rng, (2, 3, 2))], rng)
    grad_check(lambda a, b: ds.einsum("ij,ij->i", a, b), [rand(rng, (2, 3)), rand(rng, (2, 3))], rng, "step")
    grad_check(lambda a: ds.einsum("ij->ji", a), [rand(rng, (2, 3))], rng)
    grad_check(ds.dot, [rand(rng, (3,)), rand(rng, (3,))], rng)
    grad_check(ds.outer, [rand(rng, (3,)), rand(rng, (2,))], rng)
    grad_check(ds.mv, [rand(rng, (2, 3)), rand(rng, (3,))], rng)


SHAPE_OPS = {
    "reshape": (lambda x: x.reshape(3, -1), (2, 3)),
    "view": (lambda x: x.contiguous().view(6), (2, 3)),
    "permute": (lambda x: x.permute(2, 0, 1), (2, 3, 2)),
    "transpose": (lambda x: x.transpose(0, 1), (2, 3)),
    "T": (lambda x: x.T * 1, (2, 3)),
    "mT": (lambda x: x.mT, (2, 2, 3)),
    "expand": (lambda x: x.expand(2, 3, 3), (3, 1)),
    "squeeze": (lambda x: x.squeeze(1), (2, 1, 3)),
    "unsqueeze": (lambda x: x.unsqueeze(-1), (2, 3)),
    "flatten": (lambda x: ds.flatten(x, 1), (2, 3, 2)),
    "unflatten": (lambda x: ds.unflatten(x, 1, (2, 3)), (2, 6)),
    "narrow": (lambda x: x.narrow(1, 1, 2), (2, 4)),
    "flip": (lambda x: x.flip([0, 1]), (2, 3)),
    "slice_step": (lambda x: x[::2, 1:], (4, 3)),
    "getitem_int": (lambda x: x[1, :, None], (2, 3)),
    "getitem_adv": (lambda x: x[ds.tensor([0, 1, 0]), 1:], (2, 3)),
    "getitem_adv2": (lambda x: x[:, ds.tensor([[2, 0], [0, 0]])], (2, 3)),
    "getitem_bool": (lambda x: x[x > 0], (2, 3)),
    "cat": (lambda x: ds.cat([x, x * 2, x[:, :1]], 1), (2, 3)),
    "stack": (lambda x: ds.stack([x, x * 3], -1), (2, 3)),
    "split": (lambda x: ds.split(x, 2, 1), (2, 5)),
    "split_sizes": (lambda x: ds.split(x, [1, 3, 1], 1), (2, 5)),
    "chunk": (lambda x: ds.chunk(x, 2, 0), (3, 2)),
    "unbind": (lambda x: ds.unbind(x, 1), (2, 3)),
    "gather": (lambda x: ds.gather(x, 1, ds.tensor([[0, 0, 2], [1, 2, 1]])), (2, 3)),
    "scatter": (lambda x: ds.scatter(x, 1, ds.tensor([[0], [2]]), x[:, 1:2] * 5), (2, 3)),
    "scatter_add": (lambda x: ds.scatter_add(x, 1, ds.tensor([[0, 0], [2, 1]]), x[:, :2] * x[:, :2]), (2, 3)),
    "index_select": (lambda x: ds.index_select(x, 1, ds.tensor([2, 0, 2])), (2, 3)),
    "index_add": (lambda x: ds.index_add(x, 0, ds.tensor([1, 1]), x * x, alpha=2), (2, 3)),
    "masked_select": (lambda x: ds.masked_select(x, ds.tensor([True, False, True])), (2, 3)),
    "sort": (lambda x: ds.sort(x, 1)[0], (2, 3)),
    "sort_desc": (lambda x: ds.sort(x, 0, descending=True)[0], (3, 2)),
    "topk": (lambda x: ds.topk(x, 2, 1)[0], (2, 3)),
    "topk_small": (lambda x: ds.topk(x, 2, 1, largest=False)[0], (2, 3)),
    "tril": (lambda x: ds.tril(x, 0), (3, 3)),
    "triu": (lambda x: ds.triu(x, 1), (2, 3)),
    "repeat": (lambda x: x.repeat(2, 1, 2), (2, 3)),
    "tile": (lambda x: ds.tile(x, (2,)), (2, 3)),
    "repeat_interleave": (lambda x: ds.repeat_interleave(x, 2, 1), (2, 3)),
    "repeat_interleave_t": (lambda x: ds.repeat_interleave(x, ds.tensor([1, 0, 3]), 1), (2, 3)),
    "pad": (lambda x: ds._ops.pad(x, (1, 2, 0, 1), value=3.0), (2, 3)),
    "diag": (lambda x: ds.diag(x), (3, 3)),
    "diag_vec": (lambda x: ds.diag(x, 1), (3,)),
    "trace": (lambda x: ds.trace(x), (3, 3)),
    "clone": (lambda x: x.clone(), (2, 3)),
    "contiguous": (lambda x: x.t().contiguous(), (2, 3)),
    "movedim": (lambda x: ds.movedim(x, 0, -1), (2, 3, 2)),
    "diff": (lambda x: ds.diff(x), (2, 4)),
}


@pytest.mark.parametrize("name", sorted(SHAPE_OPS))
@pytest.mark.parametrize("layout", ["contig", "perm"])
def test_grad_shape_and_selection_ops(name, layout):
    fn, shape = SHAPE_OPS[name]
    rng = np.random.default_rng(3)
    a = rand(rng, shape) + np.arange(int(np.prod(shape))).reshape(shape) * 1e-2
    grad_check(fn, [a], rng, layout)


def test_grad_where_and_index_put_two_inputs():
    rng = np.random.default_rng(4)
    cond = ds.tensor([[True, False, True], [False, False, True]])
    grad_check(lambda a, b: ds.where(cond, a, b), [rand(rng, (2, 3)), rand(rng, (3,))], rng)
    grad_check(lambda a, b: ds.clamp(a, min=b), [rand(rng, (2, 3)), rand(rng, (3,)) + 0.05], rng)
    grad_check(lambda a, v: a.index_put((ds.tensor([0, 1]), ds.tensor([2, 0])), v), [rand(rng, (2, 3)), rand(rng, (2,))], rng)
    grad_check(lambda a, v: a.index_put((ds.tensor([0, 0]),), v, accumulate=True), [rand(rng, (2, 3)), rand(rng, (2, 3))], rng)
    grad_check(lambda a, s: ds.scatter(a, 0, ds.tensor([[1, 0, 1]]), s), [rand(rng, (2, 3)), rand(rng, (1, 3))], rng)
    grad_check(lambda a, s: ds.index_add(a, 1, ds.tensor([2, 2]), s), [rand(rng, (2, 3)), rand(rng, (2, 2))], rng)
    grad_check(lambda a, b: ds.cat([a, b]), [rand(rng, (0, 3)), rand(rng, (2, 3))], rng)
