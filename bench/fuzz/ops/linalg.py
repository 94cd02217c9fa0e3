"""Matrix products: matmul (1-d, 2-d, batched with broadcasting), mm, bmm, mv, dot, outer,
addmm, baddbmm, einsum, cdist, dist. Integer products wrap as the dtype does; float ones are
compared within a tolerance scaled by the sum of the absolute products."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from ..case import FLOATS, INTS, Call
from ..expect import R, Expect, Raises, Skip
from ..promotion import result_type
from ..strategies import tensors
from . import OpSpec
from ._common import broadcast, errstate, kernel_type, values

NUMERIC = INTS + FLOATS


def _prod_R(a, b, fn, dtype, k):
    """fn(a, b) in float64 (or int64, wrapped to the dtype), with a tolerance that grows
    with the inner size ``k``."""
    if dtype in FLOATS:
        with errstate():
            r = fn(a, b)
            scale = fn(np.abs(a), np.abs(b)) * max(k, 1)
        return R(r, dtype, ulps=4, scale=scale)
    return R(fn(a.astype(np.int64), b.astype(np.int64)), dtype)


@st.composite
def _pair(draw, kind):
    """Two operands for a product; ``kind`` picks the ranks."""
    dt = draw(st.sampled_from(NUMERIC))
    dt2 = dt if draw(st.integers(0, 9)) else draw(st.sampled_from(NUMERIC))
    n, k, m = (draw(st.integers(0 if draw(st.integers(0, 7)) == 0 else 1, 4)) for _ in range(3))
    k2 = k if draw(st.integers(0, 9)) else k + 1
    if kind == "mm":
        sa, sb = (n, k), (k2, m)
    elif kind == "bmm":
        b = draw(st.integers(1, 3))
        sa, sb = (b, n, k), (b if draw(st.integers(0, 9)) else b + 1, k2, m)
    elif kind == "mv":
        sa, sb = (n, k), (k2,)
    elif kind in ("dot", "outer"):
        sa, sb = (k,), (k2 if kind == "dot" else m,)
    else:  # matmul: any ranks 0..4 with broadcast batch dims
        ra, rb = draw(st.integers(1, 4)), draw(st.integers(1, 4))
        if draw(st.integers(0, 19)) == 0:
            ra = 0
        batch = [draw(st.integers(1, 3)) for _ in range(2)]
        ba = [s if draw(st.integers(0, 3)) else 1 for s in batch][: max(ra - 2, 0)]
        bb = [s if draw(st.integers(0, 3)) else 1 for s in batch][: max(rb - 2, 0)]
        sa = (() if ra == 0 else (k,) if ra == 1 else tuple(ba) + (n, k))
        sb = ((k2,) if rb == 1 else tuple(bb) + (k2, m))
    prof = "finite" if draw(st.integers(0, 4)) else "nonfinite"
    a = draw(tensors(dtype=dt, shape=sa, profile=prof))
    b = draw(tensors(dtype=dt2, shape=sb, profile=prof))
    return a, b


@st.composite
def _product_call(draw, name, kind):
    a, b = draw(_pair(kind))
    forms = ("fn", "method") + (("operator",) if name == "matmul" else ())
    form = draw(st.sampled_from(forms))
    return Call(name, form, "matmul" if form == "operator" else name, (a, b))


def _same_dtype(a, b, op):
    if a.dtype != b.dtype:
        raise Raises("RuntimeError", why=f"{op} needs operands of one dtype")


def _matmul_ref(call):
    a, b = call.args
    if a.ndim == 0 or b.ndim == 0:
        raise Raises("RuntimeError", why="matmul of a 0-d tensor")
    k_a = a.shape[-1]
    k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k_a != k_b:
        raise Raises("RuntimeError", why="matmul inner sizes differ")
    if a.ndim > 2 or b.ndim > 2:
        broadcast(a.shape[:-2] if a.ndim > 1 else (), b.shape[:-2] if b.ndim > 1 else ())
    _same_dtype(a, b, "matmul")
    if a.dtype == "bool":
        raise Skip("bool matmul not encoded")
    return Expect(_prod_R(values(a), values(b), np.matmul, a.dtype, k_a))


def _mm_ref(kind):
    def ref(call):
        a, b = call.args
        want = {"mm": (2, 2), "bmm": (3, 3), "mv": (2, 1), "dot": (1, 1), "outer": (1, 1)}[kind]
        if (a.ndim, b.ndim) != want:
            raise Raises("RuntimeError", why=f"{kind} expects {want}-d operands")
        if kind == "outer":
            ct = result_type(a, b)
            return Expect(_prod_R(values(a, ct), values(b, ct), np.multiply.outer, ct, 1))
        if kind == "bmm" and a.shape[0] != b.shape[0]:
            raise Raises("RuntimeError", why="bmm batch sizes differ")
        k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
        if a.shape[-1] != k_b:
            raise Raises("RuntimeError", why=f"{kind} inner sizes differ")
        _same_dtype(a, b, kind)
        fn = np.dot if kind == "dot" else np.matmul
        return Expect(_prod_R(values(a), values(b), fn, a.dtype, a.shape[-1]))
    return ref


@st.composite
def _addmm_call(draw, name):
    dt = draw(st.sampled_from(FLOATS))
    n, k, m = (draw(st.integers(0 if draw(st.integers(0, 7)) == 0 else 1, 4)) for _ in range(3))
    batch = (draw(st.integers(1, 3)),) if name == "baddbmm" else ()
    inp_shape = draw(st.sampled_from([batch + (n, m), (m,), (1, m), (n, 1), ()]))
    prof = draw(st.sampled_from(("finite", "finite", "nonfinite")))
    inp = draw(tensors(dtype=dt, shape=inp_shape, profile=prof))
    a = draw(tensors(dtype=dt, shape=batch + (n, k), profile=prof))
    b = draw(tensors(dtype=dt, shape=batch + (k, m), profile=prof))
    kw = {}
    if draw(st.booleans()):
        kw["beta"] = draw(st.sampled_from([0, 0.5, 2]))
    if draw(st.booleans()):
        kw["alpha"] = draw(st.sampled_from([0, -1, 1.5]))
    forms = ("fn", "method") if name == "addmm" else ("fn",)
    return Call(name, draw(st.sampled_from(forms)), name, (inp, a, b), kw)


def _addmm_ref(call):
    inp, a, b = call.args
    beta, alpha = call.kwargs.get("beta", 1), call.kwargs.get("alpha", 1)
    if alpha == 0 and not (np.isfinite(values(a)).all() and np.isfinite(values(b)).all()):
        raise Skip("alpha=0 with NaN or inf in the matrices: BLAS skips the product, other kernels do not")
    out_shape = broadcast(inp.shape, a.shape[:-1] + b.shape[-1:])
    if out_shape != a.shape[:-1] + b.shape[-1:]:
        raise Raises("RuntimeError", why="input does not broadcast to the product's shape")
    with errstate():
        p = np.matmul(values(a), values(b))
        sc = np.matmul(np.abs(values(a)), np.abs(values(b))) * max(a.shape[-1], 1)
        iv = np.broadcast_to(values(inp), out_shape)
        # beta == 0 ignores the input (its NaN and inf do not propagate)
        r = alpha * p + (beta * iv if beta != 0 else 0.0)
        if alpha == 0:
            r = (beta * iv if beta != 0 else np.zeros(out_shape))
        scale = abs(alpha) * sc + (abs(beta) * np.abs(iv) if beta != 0 else 0.0)
    return Expect(R(r, a.dtype, ulps=4, scale=scale))


_EQUATIONS = {
    "ij,jk->ik": lambda s: [(s[0], s[1]), (s[1], s[2])],
    "ij,jk": lambda s: [(s[0], s[1]), (s[1], s[2])],
    "ii->i": lambda s: [(s[0], s[0])],
    "ii": lambda s: [(s[0], s[0])],
    "ij->ji": lambda s: [(s[0], s[1])],
    "ij->": lambda s: [(s[0], s[1])],
    "i,i->": lambda s: [(s[0],), (s[0],)],
    "i,j->ij": lambda s: [(s[0],), (s[1],)],
    "bij,bjk->bik": lambda s: [(s[2], s[0], s[1]), (s[2], s[1], s[0])],
    "...ij->...ji": lambda s: [(s[2], s[0], s[1])],
    "ij,ij->i": lambda s: [(s[0], s[1]), (s[0], s[1])],
    "i,i,i->": lambda s: [(s[0],), (s[0],), (s[0],)],
}


@st.composite
def _einsum_call(draw):
    eq = draw(st.sampled_from(sorted(_EQUATIONS)))
    s = [draw(st.integers(0 if draw(st.integers(0, 7)) == 0 else 1, 3)) for _ in range(3)]
    dt = draw(st.sampled_from(FLOATS + ("int64",)))
    shapes = _EQUATIONS[eq](s)
    if draw(st.integers(0, 9)) == 0 and shapes[0]:
        shapes[0] = shapes[0][:-1] + (shapes[0][-1] + 1,)
    ops = [draw(tensors(dtype=dt, shape=sh, profile="finite")) for sh in shapes]
    return Call("einsum", "fn", "einsum", (eq, *ops))


def _einsum_ref(call):
    eq, *ops = call.args
    arrs = [values(o) for o in ops]
    for sub, o in zip(eq.split("->")[0].split(","), ops):
        sizes = {}
        if "." not in sub and len(sub) == o.ndim:
            for ch, n in zip(sub, o.shape):
                if sizes.setdefault(ch, n) != n:
                    raise Raises("RuntimeError", why=f"einsum: subscript {ch} repeated with sizes {sizes[ch]} and {n}")
    try:
        with errstate():
            r = np.einsum(eq, *arrs)
            scale = np.einsum(eq, *[np.abs(a) for a in arrs]) * 4
    except ValueError:
        raise Raises("RuntimeError", "ValueError", why="einsum operands do not fit the equation") from None
    dt = ops[0].dtype
    if dt in FLOATS:
        return Expect(R(r, dt, ulps=4, scale=scale))
    return Expect(R(np.einsum(eq, *[a.astype(np.int64) for a in arrs]), dt))


@st.composite
def _cdist_call(draw):
    dt = draw(st.sampled_from(("float32", "float64")))
    p, r, m = (draw(st.integers(1, 4)) for _ in range(3))
    m2 = m if draw(st.integers(0, 9)) else m + 1
    a = draw(tensors(dtype=dt, shape=(p, m), profile="finite"))
    b = draw(tensors(dtype=dt, shape=(r, m2), profile="finite"))
    kw = {"p": draw(st.sampled_from([2.0, 1.0, 0.0, float("inf")]))} if draw(st.booleans()) else {}
    return Call("cdist", "fn", "cdist", (a, b), kw)


def _cdist_ref(call):
    a, b = call.args
    p = call.kwargs.get("p", 2.0)
    if a.shape[-1] != b.shape[-1]:
        raise Raises("RuntimeError", why="cdist: feature sizes differ")
    kt = kernel_type(a.dtype)
    d = np.abs(values(a).astype(kt)[:, None, :] - values(b).astype(kt)[None, :, :])
    with errstate():
        if p == 0:
            r = np.sum(d != 0, axis=-1).astype(np.float64)
        elif p == float("inf"):
            r = np.max(d, axis=-1, initial=0.0)
        else:
            r = np.sum(d ** kt(p), axis=-1) ** kt(1 / p)
    return Expect(R(np.asarray(r, np.float64), a.dtype, ulps=16, scale=np.sum(d, axis=-1).astype(np.float64) * 4))


@st.composite
def _dist_call(draw):
    dt = draw(st.sampled_from(FLOATS))
    sh = draw(tensors(dtype=dt, profile="finite"))
    other = draw(tensors(dtype=dt, shape=sh.shape, profile="finite"))
    kw = {"p": draw(st.sampled_from([2, 1, 0, float("inf"), 3]))} if draw(st.booleans()) else {}
    return Call("dist", "fn", "dist", (sh, other), kw)


def _dist_ref(call):
    a, b = call.args
    p = call.kwargs.get("p", 2)
    with errstate():
        d = np.abs(values(a) - values(b)).reshape(-1)
        if p == 0:
            r = float(np.sum(d != 0))
        elif p == float("inf"):
            if d.size == 0:
                raise Skip("inf-distance of empty tensors")
            r = np.max(d)
        else:
            r = np.sum(d ** p) ** (1 / p)
    return Expect(R(np.asarray(r), a.dtype, ulps=16, scale=np.sum(d) * 4))


OPS = [
    OpSpec("matmul", _product_call("matmul", "matmul"), _matmul_ref, "linalg"),
    OpSpec("mm", _product_call("mm", "mm"), _mm_ref("mm"), "linalg"),
    OpSpec("bmm", _product_call("bmm", "bmm"), _mm_ref("bmm"), "linalg"),
    OpSpec("mv", _product_call("mv", "mv"), _mm_ref("mv"), "linalg"),
    OpSpec("dot", _product_call("dot", "dot"), _mm_ref("dot"), "linalg"),
    OpSpec("outer", _product_call("outer", "outer"), _mm_ref("outer"), "linalg"),
    OpSpec("addmm", _addmm_call("addmm"), _addmm_ref, "linalg"),
    OpSpec("baddbmm", _addmm_call("baddbmm"), _addmm_ref, "linalg"),
    OpSpec("einsum", _einsum_call(), _einsum_ref, "linalg"),
    OpSpec("cdist", _cdist_call(), _cdist_ref, "linalg"),
    OpSpec("dist", _dist_call(), _dist_ref, "linalg"),
]
