"""Reductions, scans, softmax and sorting: dims as None, ints (negative, out of range),
lists and tuples (empty, repeated), keepdim, dtype=, empty reductions, narrow dtypes (which
PyTorch accumulates in a wider type), NaN and infinities."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from ..case import DTYPES, FINFO, FLOATS, INTS, Call, DType
from ..expect import R, Expect, Raises, Skip
from ..strategies import dim_lists, dims, tensors
from . import OpSpec
from ._common import errstate, values, wrap_dim, wrap_dims


def axes_of(x, dim, op, lists=True):
    """The NumPy axes a dim argument reduces (all for None or an empty list)."""
    nd = x.ndim
    if dim is None:
        return tuple(range(nd))
    if isinstance(dim, (list, tuple)):
        if not lists:
            raise Raises("TypeError", why=f"{op} takes one int dim")
        ax = wrap_dims(dim, nd, op)
        if not ax:
            return tuple(range(nd))
    else:
        ax = [wrap_dim(dim, nd, op)]
    return tuple(ax) if nd else ()


def _count(v, axes):
    return int(np.prod([v.shape[a] for a in axes])) if axes else 1


def _no_empty(v, axes, op):
    """PyTorch refuses amax/max/argmax over an empty dim (no identity)."""
    if v.size == 0 and (not axes or any(v.shape[a] == 0 for a in axes) or v.ndim == 0):
        raise Raises("IndexError", "RuntimeError", why=f"{op} over an empty dim has no identity")


@st.composite
def _reduce_call(draw, name, kinds=DTYPES, profile="nonfinite", lists=True, dim_required=False, keepdim=True,
                 dtype_kw=(), extra=None, forms=("fn", "method")):
    x = draw(tensors(kinds=kinds, profile=profile))
    kw = {}
    choice = draw(st.integers(0, 5))
    if dim_required or choice >= 2:
        kw["dim"] = draw(dim_lists(x.ndim)) if lists and choice == 5 else draw(dims(x.ndim))
        if keepdim and draw(st.booleans()):
            kw["keepdim"] = draw(st.booleans())
    if dtype_kw and draw(st.integers(0, 4)) == 0:
        kw["dtype"] = DType(draw(st.sampled_from(dtype_kw)))
    if extra is not None:
        kw.update(draw(extra))
    form = draw(st.sampled_from(forms))
    return Call(name, form, name, (x,), kw)


def _sum_like(op):
    def ref(call):
        x, kw = call.args[0], call.kwargs
        if op == "prod" and isinstance(kw.get("dim"), (list, tuple)):
            raise Raises("TypeError", "RuntimeError", why="prod takes one int dim")
        axes = axes_of(x, kw.get("dim"), op)
        keep = kw.get("keepdim", False)
        dt = kw.get("dtype")
        if dt is not None:
            dt = dt.name
            if x.dtype in FLOATS and dt not in FLOATS:
                raise Skip("float input summed as integers")
            out = dt
        else:
            out = "int64" if x.dtype in INTS + ("bool",) else x.dtype
        if op == "mean" and out not in FLOATS:
            raise Raises("RuntimeError", why="mean of an integer tensor needs a float dtype")
        v = values(x, out)
        with errstate():
            if out in FLOATS:
                fn = {"sum": np.sum, "prod": np.prod, "mean": np.mean}[op]
                r = fn(v, axis=axes, keepdims=keep)
                n = _count(v, axes)
                scale = np.sum(np.abs(v), axis=axes, keepdims=keep) * max(n, 1) / 4
                if op == "mean":
                    scale = scale / max(n, 1)
                if op == "prod":
                    scale = np.prod(np.abs(v), axis=axes, keepdims=keep) * max(n, 1) / 4
                return Expect(R(r, out, scale=scale))
            v = v.astype(np.int64)
            fn = {"sum": np.sum, "prod": np.prod}[op]
            return Expect(R(fn(v, axis=axes, keepdims=keep, dtype=np.int64), out))
    return ref


def _amax_like(op):
    def ref(call):
        x, kw = call.args[0], call.kwargs
        axes = axes_of(x, kw.get("dim", ()), op)
        v = values(x)
        _no_empty(v, axes, op)
        keep = kw.get("keepdim", False)
        fn = np.max if op == "amax" else np.min
        with errstate():
            return Expect(R(fn(v, axis=axes, keepdims=keep), x.dtype, ulps=0))
    return ref


def _nan_max(v, axis, largest=True):
    """max/min treating NaN as the extreme (it propagates)."""
    fn = np.max if largest else np.min
    return fn(v, axis=axis)


def _max_like(op):
    largest = op in ("max", "argmax")

    def ref(call):
        x, kw = call.args[0], call.kwargs
        v = values(x)
        dim = kw.get("dim")
        keep = kw.get("keepdim", False)
        if op in ("argmax", "argmin") and x.dtype == "bool":
            raise Skip("argmax of bool not encoded")
        if dim is None:
            axes = tuple(range(x.ndim))
            _no_empty(v, axes, op)
            m = np.asarray(_nan_max(v.reshape(-1), 0, largest))
            if op in ("max", "min"):
                return Expect(R(m, x.dtype, ulps=0))
            return Expect(R(m, "int64", indices_of=(v.reshape(-1), 0)))
        if isinstance(dim, (list, tuple)):
            raise Raises("TypeError", why=f"{op} takes one int dim")
        d = wrap_dim(dim, x.ndim, op)
        vv = v if x.ndim else v.reshape(1)
        _no_empty(vv, (d,), op)
        m = _nan_max(vv, d, largest)
        if keep:
            m = np.expand_dims(m, d)
        if x.ndim == 0:
            m = m.reshape(())
        idx = R(m, "int64", indices_of=(vv, d)) if x.ndim else R(np.zeros(()), "int64")
        if op in ("argmax", "argmin"):
            return Expect(idx)
        return Expect((R(m, x.dtype, ulps=0), idx))
    return ref


def _all_any(op):
    def ref(call):
        x, kw = call.args[0], call.kwargs
        axes = axes_of(x, kw.get("dim"), op)
        keep = kw.get("keepdim", False)
        v = values(x) != 0
        fn = np.all if op == "all" else np.any
        out = "uint8" if x.dtype == "uint8" else "bool"
        return Expect(R(fn(v, axis=axes, keepdims=keep), out))
    return ref


def _logsumexp_ref(call):
    x, kw = call.args[0], call.kwargs
    dim = kw.get("dim")
    if isinstance(dim, (list, tuple)) and len(dim) == 0:
        raise Skip("logsumexp over an empty dim list not encoded")
    axes = axes_of(x, dim, "logsumexp")
    keep = kw.get("keepdim", False)
    out = x.dtype if x.dtype in FLOATS else "float32"
    v = values(x, out)
    with errstate():
        if v.size == 0 or not axes:
            m = v if not axes else np.full(np.sum(v, axis=axes, keepdims=True).shape, -np.inf)
        else:
            m = np.max(v, axis=axes, keepdims=True)
        m = np.where(np.isinf(m), 0.0, m)
        r = np.log(np.sum(np.exp(v - m), axis=axes, keepdims=True)) + m
        if not keep:
            r = r.reshape(np.sum(v, axis=axes).shape)
    return Expect(R(r, out, ulps=8, scale=np.abs(r) * 4 + 1.0))


def _var_like(op):
    def ref(call):
        x, kw = call.args[0], call.kwargs
        if x.dtype not in FLOATS:
            try:
                axes_of(x, kw.get("dim"), op)
            except Raises as e:
                raise Raises("RuntimeError", *e.types, why=f"{op} of a non-float tensor, dim out of range") from None
            raise Raises("RuntimeError", why=f"{op} needs a floating point input")
        axes = axes_of(x, kw.get("dim"), op)
        keep = kw.get("keepdim", False)
        corr = kw.get("correction", 1)
        v = values(x)
        n = _count(v, axes)
        with errstate():
            mean = np.mean(v, axis=axes, keepdims=True)
            ss = np.sum(np.abs(v - mean) ** 2, axis=axes, keepdims=keep)
            var = ss / max(n - corr, 0)
            meansq = np.mean(v * v, axis=axes, keepdims=keep) * 8 * max(n, 1)
            m = mean if keep else mean.reshape(np.sum(v, axis=axes).shape)
        eps = FINFO[x.dtype][0]
        if op.startswith("std"):
            res = R(np.sqrt(var), x.dtype, scale=np.sqrt(meansq), atol=0.0)
            res.atol = float(np.sqrt(eps * np.nanmax(meansq, initial=0.0))) if meansq.size else 0.0
        else:
            res = R(var, x.dtype, scale=meansq)
        if op.endswith("_mean"):
            return Expect((res, R(m, x.dtype, scale=np.mean(np.abs(v), axis=axes, keepdims=keep) * max(n, 1))))
        return Expect(res)
    return ref


def _norm_ref(call):
    x, kw = call.args[0], call.kwargs
    p = kw.get("p", "fro")
    dim = kw.get("dim")
    keep = kw.get("keepdim", False)
    if x.dtype not in FLOATS:
        try:
            axes_of(x, dim, "norm")
        except Raises as e:
            raise Raises("RuntimeError", *e.types, why="norm of a non-float tensor, dim out of range") from None
        raise Raises("RuntimeError", why="norm of a non-float tensor")
    if p == "fro" and isinstance(dim, (list, tuple)) and len(dim) > 2:
        raise Skip("Frobenius norm over more than two dims")
    if isinstance(dim, (list, tuple)) and not dim:
        raise Skip("norm over an empty dim list")
    axes = axes_of(x, dim, "norm")
    v = np.abs(values(x))
    with errstate():
        if p in ("fro", 2, 2.0):
            r = np.sqrt(np.sum(v * v, axis=axes, keepdims=keep))
        elif p == 1:
            r = np.sum(v, axis=axes, keepdims=keep)
        elif p == 0:
            r = np.sum((v != 0).astype(np.float64), axis=axes, keepdims=keep)
        elif p == float("inf"):
            if v.size == 0:
                raise Raises("RuntimeError", "IndexError", why="inf-norm of an empty tensor")
            r = np.max(v, axis=axes, keepdims=keep)
        else:
            r = np.sum(v ** p, axis=axes, keepdims=keep) ** (1.0 / p)
        scale = np.sum(v, axis=axes, keepdims=keep) * 4
    return Expect(R(r, x.dtype, ulps=8, scale=scale))


def _norm_extra():
    return st.fixed_dictionaries({}, optional={"p": st.sampled_from(["fro", 2, 1, 0, float("inf"), 3.0])})


def _cum(op):
    def ref(call):
        x, kw = call.args[0], call.kwargs
        d = wrap_dim(kw["dim"], x.ndim, op)
        dt = kw.get("dtype")
        out = dt.name if dt is not None else ("int64" if x.dtype in INTS + ("bool",) else x.dtype)
        if dt is not None and x.dtype in FLOATS and out not in FLOATS:
            raise Skip("float input accumulated as integers")
        v = values(x, out)
        vv = v.reshape(1) if x.ndim == 0 else v
        with errstate():
            if out in FLOATS:
                fn = np.cumsum if op == "cumsum" else np.cumprod
                r = fn(vv, axis=d)
                scale = (np.cumsum if op == "cumsum" else np.cumprod)(np.abs(vv), axis=d) * max(vv.shape[d], 1)
            else:
                fn = np.cumsum if op == "cumsum" else np.cumprod
                r = fn(vv.astype(np.int64), axis=d, dtype=np.int64)
                scale = 0.0
        r = r.reshape(v.shape)
        return Expect(R(r, out, scale=np.asarray(scale).reshape(v.shape) if out in FLOATS else 0.0))
    return ref


def _softmax(op):
    def ref(call):
        x, kw = call.args[0], call.kwargs
        d = wrap_dim(kw["dim"], x.ndim, op)
        dt = kw.get("dtype")
        out = dt.name if dt is not None else x.dtype
        if out not in FLOATS:
            raise Raises("RuntimeError", why=f"{op} of a non-float tensor")
        v = values(x, out)
        vv = v.reshape(1) if x.ndim == 0 else v
        with errstate():
            if vv.size == 0:
                r = vv
            else:
                m = np.max(vv, axis=d, keepdims=True)
                e = np.exp(vv - m)
                s = np.sum(e, axis=d, keepdims=True)
                r = e / s if op == "softmax" else (vv - m) - np.log(s)
        return Expect(R(r.reshape(v.shape), out, ulps=8, atol=4 * FINFO[out][0]))
    return ref


def _sort_key(v, descending):
    """Sorted values as PyTorch orders them: NaN is the largest value."""
    s = np.sort(v, axis=-1)  # NaN last
    return s[..., ::-1] if descending else s


def _sort_ref(call):
    x, kw = call.args[0], call.kwargs
    if x.dtype == "bool":
        raise Skip("sorting bools not encoded")
    d = wrap_dim(kw.get("dim", -1), x.ndim, "sort")
    desc = kw.get("descending", False)
    v = values(x)
    vv = np.moveaxis(v.reshape(1) if x.ndim == 0 else v, d, -1)
    s = np.moveaxis(_sort_key(vv, desc), -1, d)
    src = v.reshape(1) if x.ndim == 0 else v
    s = s.reshape(v.shape) if x.ndim == 0 else s
    idx = R(s, "int64", indices_of=(src, d)) if x.ndim else R(np.zeros(()), "int64")
    if call.name == "argsort":
        return Expect(idx)
    return Expect((R(s, x.dtype, ulps=0), idx))


def _topk_ref(call):
    x, kw = call.args[0], call.kwargs
    k = call.args[1]
    if x.dtype == "bool":
        raise Skip("topk of bools not encoded")
    d = wrap_dim(kw.get("dim", -1), x.ndim, "topk")
    n = x.shape[d] if x.ndim else 1
    if not 0 <= k <= n:
        raise Raises("RuntimeError", "IndexError", why=f"topk k={k} out of range for size {n}")
    largest = kw.get("largest", True)
    v = values(x)
    src = v.reshape(1) if x.ndim == 0 else v
    s = np.moveaxis(_sort_key(np.moveaxis(src, d, -1), largest)[..., :k], -1, d)
    if x.ndim == 0:
        if k == 0:
            raise Skip("topk(k=0) of a 0-d tensor not encoded")
        return Expect((R(s.reshape(()), x.dtype, ulps=0), R(np.zeros(()), "int64")))
    return Expect((R(s, x.dtype, ulps=0), R(s, "int64", indices_of=(src, d))))


def _kthvalue_ref(call):
    x, kw = call.args[0], call.kwargs
    k = call.args[1]
    if x.dtype == "bool":
        raise Skip("kthvalue of bools not encoded")
    d = wrap_dim(kw.get("dim", -1), x.ndim, "kthvalue")
    n = x.shape[d] if x.ndim else 1
    if not 1 <= k <= n:
        raise Raises("RuntimeError", "IndexError", why=f"kthvalue k={k} out of range for size {n}")
    keep = kw.get("keepdim", False)
    v = values(x)
    src = v.reshape(1) if x.ndim == 0 else v
    s = np.take(np.sort(src, axis=d), [k - 1], axis=d)
    if x.ndim == 0:
        return Expect((R(s.reshape(()), x.dtype, ulps=0), R(np.zeros(()), "int64")))
    vals = s if keep else np.squeeze(s, d)
    idx = R(vals, "int64", indices_of=(src, d))
    return Expect((R(vals, x.dtype, ulps=0), idx))


@st.composite
def _sort_call(draw, name):
    x = draw(tensors(kinds=DTYPES[1:], profile="full"))
    kw = {}
    if draw(st.booleans()):
        kw["dim"] = draw(dims(x.ndim))
    if draw(st.booleans()):
        kw["descending"] = draw(st.booleans())
    if name == "sort" and draw(st.booleans()):
        kw["stable"] = draw(st.booleans())
    return Call(name, draw(st.sampled_from(("fn", "method"))), name, (x,), kw)


@st.composite
def _k_call(draw, name):
    x = draw(tensors(kinds=DTYPES[1:], profile="full"))
    kw = {}
    if draw(st.booleans()):
        kw["dim"] = draw(dims(x.ndim))
    d = kw.get("dim", -1)
    n = x.shape[d] if x.ndim and -x.ndim <= d < x.ndim else 1
    k = draw(st.one_of(st.integers(1 if name == "kthvalue" else 0, max(n, 1)), st.sampled_from([0, n + 1, -1])))
    if name == "topk" and draw(st.booleans()):
        kw["largest"] = draw(st.booleans())
    if name == "kthvalue" and draw(st.booleans()):
        kw["keepdim"] = draw(st.booleans())
    return Call(name, draw(st.sampled_from(("fn", "method"))), name, (x, k), kw)


FL = FLOATS
_VAR_EXTRA = st.fixed_dictionaries({}, optional={"correction": st.sampled_from([0, 1, 2])})

OPS = [
    OpSpec("sum", _reduce_call("sum", dtype_kw=("float64", "float32", "int64", "float16")), _sum_like("sum"), "reduce"),
    OpSpec("prod", _reduce_call("prod", dtype_kw=("float64", "int64"), lists=False), _sum_like("prod"), "reduce"),
    OpSpec("mean", _reduce_call("mean", dtype_kw=("float64", "float32")), _sum_like("mean"), "reduce"),
    OpSpec("amax", _reduce_call("amax", profile="full"), _amax_like("amax"), "reduce"),
    OpSpec("amin", _reduce_call("amin", profile="full"), _amax_like("amin"), "reduce"),
    OpSpec("max", _reduce_call("max", profile="full", lists=False), _max_like("max"), "reduce"),
    OpSpec("min", _reduce_call("min", profile="full", lists=False), _max_like("min"), "reduce"),
    OpSpec("argmax", _reduce_call("argmax", profile="full", lists=False), _max_like("argmax"), "reduce"),
    OpSpec("argmin", _reduce_call("argmin", profile="full", lists=False), _max_like("argmin"), "reduce"),
    OpSpec("all", _reduce_call("all", profile="full", lists=False), _all_any("all"), "reduce"),
    OpSpec("any", _reduce_call("any", profile="full", lists=False), _all_any("any"), "reduce"),
    OpSpec("logsumexp", _reduce_call("logsumexp", dim_required=True), _logsumexp_ref, "reduce"),
    OpSpec("var", _reduce_call("var", extra=_VAR_EXTRA), _var_like("var"), "reduce"),
    OpSpec("std", _reduce_call("std", extra=_VAR_EXTRA), _var_like("std"), "reduce"),
    OpSpec("var_mean", _reduce_call("var_mean", extra=_VAR_EXTRA, forms=("fn",)), _var_like("var_mean"), "reduce"),
    OpSpec("std_mean", _reduce_call("std_mean", extra=_VAR_EXTRA, forms=("fn",)), _var_like("std_mean"), "reduce"),
    OpSpec("norm", _reduce_call("norm", kinds=FL + ("int64",), extra=_norm_extra()), _norm_ref, "reduce"),
    OpSpec("cumsum", _reduce_call("cumsum", lists=False, dim_required=True, keepdim=False,
                                  dtype_kw=("float64", "int64")), _cum("cumsum"), "reduce"),
    OpSpec("cumprod", _reduce_call("cumprod", lists=False, dim_required=True, keepdim=False,
                                   dtype_kw=("float64", "int64")), _cum("cumprod"), "reduce"),
    OpSpec("softmax", _reduce_call("softmax", lists=False, dim_required=True, keepdim=False,
                                   dtype_kw=("float64", "float32")), _softmax("softmax"), "reduce"),
    OpSpec("log_softmax", _reduce_call("log_softmax", lists=False, dim_required=True, keepdim=False,
                                       dtype_kw=("float64", "float32")), _softmax("log_softmax"), "reduce"),
    OpSpec("sort", _sort_call("sort"), _sort_ref, "reduce"),
    OpSpec("argsort", _sort_call("argsort"), _sort_ref, "reduce"),
    OpSpec("topk", _k_call("topk"), _topk_ref, "reduce"),
    OpSpec("kthvalue", _k_call("kthvalue"), _kthvalue_ref, "reduce"),
]
