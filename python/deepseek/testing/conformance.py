"""The conformance suite: every primitive op of ``deepseek.backends.PRIMITIVE_OP_NAMES``,
forward and backward, on a device against the CPU core.

Each entry of :data:`OPS` is a hypothesis strategy that draws a :class:`Trial`: a function of
tensors written with the public API, and the :class:`~deepseek.testing.strategies.Case`
inputs to build on each device. :func:`check_op` runs it on the CPU and on the device (in
strict device mode, so a CPU fallback cannot pass for a kernel) and compares outputs and the
gradients of float inputs.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .strategies import FLOATS, INTS, ALL, Case, broadcast_shapes, shapes, tensors

NUMERIC = INTS + FLOATS
F32_64 = ("float32", "float64")

#: Tolerances (rtol, atol) for float results, by dtype.
TOLERANCE = {"float64": (1e-9, 1e-12), "float32": (2e-5, 1e-6), "float16": (2e-3, 1e-3), "bfloat16": (1.6e-2, 1e-2)}


@dataclass
class Trial:
    """``fn(*tensors)`` over ``cases`` built on one device; ``grad`` checks input gradients."""

    fn: Callable
    cases: list
    grad: bool = False
    scale: float = 1.0  # tolerance multiplier (long reductions, products)
    note: str = ""

    def __repr__(self):
        return f"Trial({self.note or getattr(self.fn, '__name__', 'fn')}, {self.cases})"


def _to_numpy(t):
    t = t.detach().cpu()
    if t.dtype.name in ("bfloat16", "float16"):
        t = t.double()
    return t.numpy()


def assert_close(expected, actual, what="", scale=1.0):
    """Values of ``actual`` (any device) equal ``expected`` (CPU): exactly for integers and
    bools, within :data:`TOLERANCE` for floats, NaN where NaN; same shape and dtype."""
    if isinstance(expected, (tuple, list)):
        assert isinstance(actual, (tuple, list)) and len(actual) == len(expected), f"{what}: {len(expected)} outputs expected"
        for i, (e, a) in enumerate(zip(expected, actual)):
            assert_close(e, a, f"{what}[{i}]", scale)
        return
    assert tuple(actual.shape) == tuple(expected.shape), f"{what}: shape {tuple(actual.shape)} != {tuple(expected.shape)}"
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != {expected.dtype}"
    e, a = _to_numpy(expected), _to_numpy(actual)
    if expected.dtype.is_floating_point:
        rtol, atol = TOLERANCE[expected.dtype.name]
        np.testing.assert_allclose(a, e, rtol=rtol * scale, atol=atol * scale, equal_nan=True, err_msg=what)
    else:
        np.testing.assert_array_equal(a, e, err_msg=what)


def _run(trial, device, requires_grad):
    import deepseek

    ts = [c.make(device, requires_grad=requires_grad and c.dtype in F32_64) if isinstance(c, Case) else c
          for c in trial.cases]
    out = trial.fn(*ts)
    grads = None
    if requires_grad:
        outs = out if isinstance(out, (tuple, list)) else (out,)
        outs = [o for o in outs if o.dtype.is_floating_point and o.requires_grad]
        if outs:
            rng = np.random.default_rng(1234)
            loss = sum((o * deepseek.tensor(rng.uniform(-1, 1, tuple(o.shape)), dtype=o.dtype, device=o.device)).sum()
                       for o in outs)
            loss.backward()
            grads = [c.leaf.grad for c in trial.cases if isinstance(c, Case) and c.dtype in F32_64]
    return out, grads


def check_op(name, trial, device):
    """Runs ``trial`` on the CPU and on ``device`` and compares outputs, then gradients."""
    from .. import backends

    want, want_g = _run(trial, None, trial.grad)
    was = backends.is_strict()
    backends.set_strict(True)
    try:
        got, got_g = _run(trial, device, trial.grad)
    finally:
        backends.set_strict(was)
    assert_close(want, got, f"{name} on {device}: {trial}", trial.scale)
    if trial.grad and want_g is not None:
        for i, (w, g) in enumerate(zip(want_g, got_g)):
            if w is None:
                assert g is None, f"{name} on {device}: input {i} got a gradient the CPU did not"
                continue
            assert g is not None, f"{name} on {device}: no gradient for input {i}"
            assert_close(w, g, f"{name} gradient of input {i} on {device}: {trial}", 10 * trial.scale)


# ---------------------------------------------------------------------------------------
# The op table

def _api(name):
    import deepseek

    return getattr(deepseek, name)


UNARY_DOMAIN = {
    "exp": (-4, 4), "log": (0.1, 5), "log1p": (-0.9, 4), "expm1": (-4, 4), "sqrt": (0, 5), "rsqrt": (0.1, 5),
    "sin": (-4, 4), "cos": (-4, 4), "tan": (-1.2, 1.2), "tanh": (-4, 4), "sigmoid": (-6, 6), "erf": (-3, 3),
    "reciprocal": (0.2, 4), "asin": (-0.95, 0.95), "acos": (-0.95, 0.95), "atan": (-4, 4), "sinh": (-3, 3),
    "cosh": (-3, 3), "log2": (0.1, 5), "exp2": (-4, 4), "erfc": (-3, 3), "lgamma": (0.1, 5), "digamma": (0.1, 5),
}
UNARY_ROUNDING = ("floor", "ceil", "round", "trunc")
UNARY_NUMERIC = ("neg", "abs", "sign", "relu")


@st.composite
def _unary(draw, name):
    import deepseek

    if name in UNARY_DOMAIN:
        lo, hi = UNARY_DOMAIN[name]
        x = draw(tensors(kinds=FLOATS, lo=lo, hi=hi))
    elif name in UNARY_ROUNDING:
        x = draw(tensors(kinds=NUMERIC, lo=-4, hi=4))
    elif name in UNARY_NUMERIC:
        x = draw(tensors(kinds=tuple(d for d in NUMERIC if not (name == "neg" and d == "uint8")), special=True))
    elif name == "bitwise_not":
        x = draw(tensors(kinds=("bool",) + INTS, lo=-100, hi=100))
    else:  # logical_not
        x = draw(tensors(kinds=ALL))
    fn = getattr(deepseek, name)
    return Trial(fn, [x], grad=x.dtype in F32_64 and name not in ("logical_not",), note=name)


@st.composite
def _polygamma(draw, name):
    import deepseek

    n = draw(st.integers(1, 3))
    x = draw(tensors(kinds=FLOATS, lo=0.2, hi=5))
    return Trial(lambda t: deepseek.polygamma(n, t), [x], grad=x.dtype in F32_64, note=f"polygamma n={n}",
                 scale=10.0)


BINARY_KINDS = {
    "add": NUMERIC + ("bool",), "sub": NUMERIC, "mul": NUMERIC + ("bool",), "div": NUMERIC,
    "floor_divide": NUMERIC, "pow": NUMERIC, "maximum": NUMERIC + ("bool",), "minimum": NUMERIC + ("bool",),
    "fmod": NUMERIC, "remainder": NUMERIC, "atan2": FLOATS, "bitwise_and": ("bool",) + INTS,
    "bitwise_or": ("bool",) + INTS, "bitwise_xor": ("bool",) + INTS, "logical_and": ALL, "logical_or": ALL,
    "logical_xor": ALL, "eq": ALL, "ne": ALL, "lt": ALL, "le": ALL, "gt": ALL, "ge": ALL,
}
NONZERO_DIVISOR = ("div", "floor_divide", "fmod", "remainder")


@st.composite
def _binary(draw, name):
    import deepseek

    dt = draw(st.sampled_from(BINARY_KINDS[name]))
    sa, sb = draw(broadcast_shapes())
    lo, hi = -4, 4
    if name == "pow":
        a = draw(tensors(dt, sa, lo=0.2 if dt in FLOATS else 0, hi=3))
        b = draw(tensors(dt, sb, lo=-2 if dt in FLOATS else 0, hi=3))
    else:
        a = draw(tensors(dt, sa, lo=lo, hi=hi, special=dt in FLOATS and name not in NONZERO_DIVISOR))
        b = draw(tensors(dt, sb, lo=lo, hi=hi, special=dt in FLOATS and name not in NONZERO_DIVISOR))
        if name in NONZERO_DIVISOR:
            b.values = np.where(b.values == 0, 1, b.values).astype(b.values.dtype)
            if dt in FLOATS:  # keep quotients away from rounding ties of floor/fmod
                b.values = np.where(np.abs(b.values) < 0.5, 0.5, b.values)
    if dt == "uint8" and name == "sub":  # no wrap-around below zero
        a = draw(tensors(dt, sa, lo=4, hi=8))
        b = draw(tensors(dt, sb, lo=0, hi=3))
    fn = getattr(deepseek, name)
    diff = dt in F32_64 and name in ("add", "sub", "mul", "div", "pow", "maximum", "minimum", "atan2")
    return Trial(fn, [a, b], grad=diff, note=name)


@st.composite
def _where(draw):
    import deepseek

    dt = draw(st.sampled_from(ALL))
    sc, sa, sb = draw(broadcast_shapes(3))
    return Trial(lambda c, a, b: deepseek.where(c, a, b), [draw(tensors("bool", sc)), draw(tensors(dt, sa)),
                                                          draw(tensors(dt, sb))], grad=dt in F32_64, note="where")


@st.composite
def _cast(draw):
    src = draw(st.sampled_from(ALL))
    dst = draw(st.sampled_from(ALL))
    lo = 0 if dst == "uint8" or src == "uint8" else -100
    hi = 100
    x = draw(tensors(src, lo=lo, hi=hi, special=src in FLOATS and dst in FLOATS))
    if src in FLOATS and dst in INTS:  # float -> int outside the int's range is undefined
        x.values = np.trunc(x.values)
    import deepseek

    target = getattr(deepseek, dst)
    return Trial(lambda t: t.to(target), [x], grad=src in F32_64 and dst in F32_64, note=f"cast {src}->{dst}")


@st.composite
def _copy(draw):
    x = draw(tensors(layouts=("transposed", "strided", "flipped", "expanded")))
    return Trial(lambda t: t.contiguous() if not t.is_contiguous() else t.clone(), [x], grad=x.dtype in F32_64,
                 note="copy")


@st.composite
def _fill(draw):
    import deepseek

    dt = draw(st.sampled_from(ALL))
    shape = draw(shapes())
    v = draw(st.booleans()) if dt == "bool" else (draw(st.integers(0, 100)) if dt in INTS else draw(st.floats(-1e3, 1e3)))

    def fn(like):
        return deepseek.full(shape, v, dtype=getattr(deepseek, dt), device=like.device)

    return Trial(fn, [draw(tensors("float32", (1,)))], note=f"fill {dt}")


@st.composite
def _arange(draw):
    import deepseek

    dt = draw(st.sampled_from(("int64", "int32", "float32", "float64")))
    if dt in INTS:
        start, step = draw(st.integers(-20, 20)), draw(st.integers(1, 5))
    else:
        start, step = draw(st.floats(-5, 5)), draw(st.floats(0.1, 2))
    n = draw(st.integers(0, 30))
    end = start + step * n

    def fn(like):
        return deepseek.arange(start, end, step, dtype=getattr(deepseek, dt), device=like.device)

    return Trial(fn, [draw(tensors("float32", (1,)))], note="arange")


@st.composite
def _cat(draw):
    import deepseek

    dt = draw(st.sampled_from(ALL))
    base = draw(shapes(1, 4))
    d = draw(st.integers(0, len(base) - 1))
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        sh = list(base)
        sh[d] = draw(st.integers(0, 4))
        parts.append(draw(tensors(dt, tuple(sh))))
    return Trial(lambda *ts: deepseek.cat(list(ts), d), parts, grad=dt in F32_64, note=f"cat dim {d}")


@st.composite
def _pad(draw):
    import deepseek

    dt = draw(st.sampled_from(ALL))
    x = draw(tensors(dt, draw(shapes(1, 4))))
    k = draw(st.integers(1, len(x.shape)))
    pads = [draw(st.integers(0, 2)) for _ in range(2 * k)]
    value = float(draw(st.integers(0, 5)))
    return Trial(lambda t: deepseek.nn.functional.pad(t, pads, value=value), [x], grad=dt in F32_64, note=f"pad {pads}")


@st.composite
def _reduce(draw, name):
    import deepseek

    kinds = NUMERIC + ("bool",) if name in ("sum", "prod") else NUMERIC
    dt = draw(st.sampled_from(kinds))
    shape = draw(shapes(1, 4, 1 if name in ("amax", "amin") else 0))
    lo, hi = (-2, 2) if name == "prod" else (-4, 4)
    x = draw(tensors(dt, shape, lo=lo, hi=hi, special=name in ("amax", "amin") and dt in FLOATS))
    dims = draw(st.lists(st.integers(0, len(shape) - 1), unique=True, max_size=len(shape)))
    keep = draw(st.booleans())
    fn = getattr(deepseek, name)
    call = (lambda t: fn(t, dim=dims, keepdim=keep)) if dims else (lambda t: fn(t))
    n = max(1, int(np.prod([shape[d] for d in dims]) if dims else np.prod(shape)))
    return Trial(call, [x], grad=dt in F32_64 and name != "prod", scale=max(1.0, n / 8), note=f"{name} dims={dims}")


@st.composite
def _arg(draw, name):
    import deepseek

    dt = draw(st.sampled_from(NUMERIC))
    shape = draw(shapes(1, 4, 1))
    d = draw(st.integers(0, len(shape) - 1))
    x = draw(tensors(dt, shape, special=dt in FLOATS))
    return Trial(lambda t: getattr(deepseek, name)(t, dim=d), [x], note=f"{name} dim {d}")


@st.composite
def _cumulative(draw, name):
    import deepseek

    dt = draw(st.sampled_from(NUMERIC))
    shape = draw(shapes(1, 4))
    d = draw(st.integers(0, len(shape) - 1))
    lo, hi = (-2, 2) if name == "cumprod" else (-4, 4)
    x = draw(tensors(dt, shape, lo=lo, hi=hi))
    return Trial(lambda t: getattr(deepseek, name)(t, d), [x], grad=dt in F32_64 and name == "cumsum",
                 scale=max(1.0, shape[d] / 4), note=f"{name} dim {d}")


@st.composite
def _matmul(draw):
    dt = draw(st.sampled_from(FLOATS + ("int64",)))
    m, k, n = (draw(st.integers(0, 9)) for _ in range(3))
    batch = draw(st.sampled_from([(), (2,), (1,), (3,)]))
    bb = draw(st.sampled_from([batch, ()]))
    a = draw(tensors(dt, batch + (m, k), lo=-2, hi=2))
    b = draw(tensors(dt, bb + (k, n), lo=-2, hi=2))
    return Trial(lambda x, y: x @ y, [a, b], grad=dt in F32_64, scale=max(1.0, k / 4), note="matmul")


@st.composite
def _conv(draw, which):
    import deepseek

    dt = draw(st.sampled_from(F32_64))
    groups = draw(st.sampled_from([1, 2]))
    c = groups * draw(st.integers(1, 2))
    o = groups * draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    pad = (draw(st.integers(0, 1)), draw(st.integers(0, 1)))
    dil = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    h = draw(st.integers(dil[0] * (kh - 1) + 1, 7))
    w_ = draw(st.integers(dil[1] * (kw - 1) + 1, 7))
    n = draw(st.integers(1, 2))
    x = draw(tensors(dt, (n, c, h, w_), lo=-2, hi=2, layouts=("contiguous", "flipped", "strided")))
    w = draw(tensors(dt, (o, c // groups, kh, kw), lo=-2, hi=2, layouts=("contiguous",)))

    def fn(xt, wt):
        return deepseek.nn.functional.conv2d(xt, wt, None, stride, pad, dil, groups)

    # the forward checks conv2d; its backward checks conv2d_input_grad and conv2d_weight_grad
    return Trial(fn, [x, w], grad=True, scale=4.0, note=f"{which}: conv2d s{stride} p{pad} d{dil} g{groups}")


def _valid_index(rng, size, shape):
    return rng.integers(0, max(size, 1), size=shape) if size > 0 else np.zeros(shape, dtype=np.int64)


@st.composite
def _gather(draw):
    import deepseek

    dt = draw(st.sampled_from(ALL))
    shape = draw(shapes(1, 3, 1))
    d = draw(st.integers(0, len(shape) - 1))
    ishape = tuple(draw(st.integers(0, s)) if i != d else draw(st.integers(0, 4)) for i, s in enumerate(shape))
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    idx = Case(_valid_index(rng, shape[d], ishape).astype("int64"), "int64", "contiguous", ishape)
    return Trial(lambda x, i: deepseek.gather(x, d, i), [draw(tensors(dt, shape)), idx], grad=dt in F32_64,
                 note=f"gather dim {d}")


@st.composite
def _scatter(draw, name):
    import deepseek

    dt = draw(st.sampled_from(NUMERIC))
    shape = draw(shapes(1, 3, 1))
    d = draw(st.integers(0, len(shape) - 1))
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    ishape = tuple(draw(st.integers(0, s)) for s in shape)
    if name == "scatter":  # assignment: no duplicate targets along dim (their order is unspecified)
        k = ishape[d]
        perm = np.argsort(rng.random(shape[d:d + 1] + tuple(s for i, s in enumerate(ishape) if i != d)), axis=0)[:k]
        idx_v = np.moveaxis(perm, 0, d).reshape(ishape)
    else:
        idx_v = _valid_index(rng, shape[d], ishape)
    idx = Case(idx_v.astype("int64"), "int64", "contiguous", ishape)
    src = draw(tensors(dt, ishape))
    add = name == "scatter_add"
    fn = (lambda x, i, s: deepseek.scatter_add(x, d, i, s)) if add else (lambda x, i, s: deepseek.scatter(x, d, i, s))
    return Trial(fn, [draw(tensors(dt, shape)), idx, src], grad=dt in F32_64, scale=4.0, note=f"{name} dim {d}")


@st.composite
def _index_select(draw, name):
    import deepseek

    dt = draw(st.sampled_from(NUMERIC))
    shape = draw(shapes(1, 3, 1))
    d = draw(st.integers(0, len(shape) - 1))
    n = draw(st.integers(0, 5))
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    idx = Case(_valid_index(rng, shape[d], (n,)).astype("int64"), "int64", "contiguous", (n,))
    x = draw(tensors(dt, shape))
    if name == "index_select":
        return Trial(lambda t, i: deepseek.index_select(t, d, i), [x, idx], grad=dt in F32_64, note=f"index_select dim {d}")
    sshape = tuple(n if i == d else s for i, s in enumerate(shape))
    src = draw(tensors(dt, sshape))
    return Trial(lambda t, i, s: deepseek.index_add(t, d, i, s), [x, idx, src], grad=dt in F32_64, scale=4.0,
                 note=f"index_add dim {d}")


@st.composite
def _index(draw, name):
    dt = draw(st.sampled_from(ALL))
    shape = draw(shapes(1, 3, 1))
    k = draw(st.integers(1, len(shape)))
    ishape = draw(shapes(0, 2, 0, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    idxs = []
    for j in range(k):
        v = rng.integers(-shape[j], shape[j], size=ishape)  # negative indices wrap
        if name == "index_put":  # assignment: make targets unique so the result is defined
            v = np.zeros(ishape, dtype=np.int64) if j else v
        idxs.append(Case(v.astype("int64"), "int64", "contiguous", ishape))
    x = draw(tensors(dt, shape))
    if name == "index":
        return Trial(lambda t, *ii: t[tuple(ii)], [x] + idxs, grad=dt in F32_64, note=f"index k={k}")
    accumulate = draw(st.booleans())
    if not accumulate:  # unique targets: keep the first occurrence of each index tuple only
        flat = np.stack([c.values.reshape(-1) for c in idxs], 1) if idxs[0].values.size else np.zeros((0, k), np.int64)
        norm = np.where(flat < 0, flat + np.array(shape[:k]), flat)
        _, first = np.unique(norm, axis=0, return_index=True) if len(norm) else (None, np.zeros(0, np.int64))
        keep = np.sort(first)
        n = len(keep)
        idxs = [Case(c.values.reshape(-1)[keep].astype("int64"), "int64", "contiguous", (n,)) for c in idxs]
        ishape = (n,)
    vals = draw(tensors(dt, tuple(ishape) + tuple(shape[k:])))

    def fn(t, v, *ii):
        return t.index_put(tuple(ii), v, accumulate=accumulate)

    return Trial(fn, [x, vals] + idxs, grad=dt in F32_64, scale=4.0, note=f"index_put k={k} accumulate={accumulate}")


@st.composite
def _sort(draw, name):
    import deepseek

    dt = draw(st.sampled_from(NUMERIC))
    shape = draw(shapes(1, 3, 0 if name == "sort" else 1))
    d = draw(st.integers(0, len(shape) - 1))
    x = draw(tensors(dt, shape, lo=-3, hi=3, special=dt in FLOATS))
    if name == "sort":
        desc = draw(st.booleans())
        return Trial(lambda t: tuple(deepseek.sort(t, dim=d, descending=desc, stable=True)), [x], grad=dt in F32_64,
                     note=f"sort dim {d} descending={desc}")
    k = draw(st.integers(0, shape[d]))
    largest = draw(st.booleans())
    return Trial(lambda t: tuple(deepseek.topk(t, k, dim=d, largest=largest)), [x], grad=dt in F32_64,
                 note=f"topk k={k} dim {d} largest={largest}")


@st.composite
def _random(draw, name):
    import deepseek

    seed = draw(st.integers(0, 2**40))
    shape = draw(shapes(0, 3, 0, 9))
    dt = draw(st.sampled_from(FLOATS if name in ("rand", "randn", "bernoulli") else ("int64", "int32")))
    target = getattr(deepseek, dt)
    p = draw(tensors(dt, shape, lo=0, hi=1)) if name == "bernoulli" else draw(tensors("float32", (1,)))
    n = int(np.prod(shape)) if shape else 1
    low, high = draw(st.integers(-50, 0)), draw(st.integers(1, 50))

    def fn(like):
        deepseek.manual_seed(seed)
        dev = like.device
        if name == "rand":
            return deepseek.rand(*shape, dtype=target, device=dev)
        if name == "randn":
            return deepseek.randn(*shape, dtype=target, device=dev)
        if name == "randint":
            return deepseek.randint(low, high, shape, dtype=target, device=dev)
        if name == "randperm":
            return deepseek.randperm(n, dtype=target, device=dev)
        return deepseek.bernoulli(like)

    return Trial(fn, [p], note=f"{name} seed={seed}", scale=10.0 if name == "randn" else 1.0)


#: op family (of the core's op table) -> the strategy of :class:`Trial` for one of its ops
_BY_FAMILY = {
    "unary": _unary,
    "polygamma": _polygamma,
    "binary": _binary,
    "where": lambda n: _where(),
    "cast": lambda n: _cast(),
    "copy": lambda n: _copy(),
    "fill": lambda n: _fill(),
    "arange": lambda n: _arange(),
    "cat": lambda n: _cat(),
    "pad": lambda n: _pad(),
    "reduce": _reduce,
    "arg_reduce": _arg,
    "cumulative": _cumulative,
    "matmul": lambda n: _matmul(),
    "conv": _conv,
    "gather": lambda n: _gather(),
    "scatter": _scatter,
    "index_select": _index_select,
    "index_add": _index_select,
    "index": _index,
    "index_put": _index,
    "sort": _sort,
    "topk": _sort,
    "random": _random,
}


def _table():
    """One strategy per op of the core's op table; a family without one is an error here, so
    a new primitive cannot skip the conformance suite."""
    from ..backends.primitives import OP_FAMILY

    missing = sorted({f for f in OP_FAMILY.values() if f not in _BY_FAMILY})
    if missing:
        raise RuntimeError(f"deepseek.testing: no conformance strategy for op families {missing}")
    return {name: _BY_FAMILY[fam](name) for name, fam in OP_FAMILY.items()}


#: op name -> hypothesis strategy of :class:`Trial` (one per primitive op)
OPS = _table()


def install_conformance_tests(namespace: dict, device: str, xfail=None, max_examples: int = 12):
    """Defines ``test_conformance_<op>`` in ``namespace`` (a test module's ``globals()``) for
    every primitive op, fuzzing it on ``device`` against the CPU core. ``xfail`` maps op
    names to the reason they are known to fail there; such a test fails if the op passes."""
    import pytest

    xfail = dict(xfail or {})
    unknown = set(xfail) - set(OPS)
    if unknown:
        raise ValueError(f"install_conformance_tests: xfail names unknown ops: {sorted(unknown)}")

    def make(name, strategy):
        @settings(max_examples=max_examples, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(trial=strategy)
        def body(trial):
            check_op(name, trial, device)

        def test():
            import os

            from .. import backends

            try:
                backends.ensure_device(device)
            except RuntimeError as exc:
                kind = str(device).split(":")[0].upper()
                if os.environ.get(f"DEEPSEEK_REQUIRE_{kind}") == "1":
                    raise
                pytest.skip(f"{device} cannot run here: {exc}")
            if name in xfail:
                try:
                    body()
                except Exception:  # noqa: BLE001 - any failure is the expected one
                    pytest.xfail(xfail[name])
                pytest.fail(f"{name} passes on {device}: remove it from the xfail list")
            body()

        test.__name__ = f"test_conformance_{name}"
        test.__doc__ = f"The primitive op {name} on {device} matches the CPU core (values and gradients)."
        return test

    for name, strategy in OPS.items():
        namespace[f"test_conformance_{name}"] = make(name, strategy)
