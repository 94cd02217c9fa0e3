"""The fused CPU kernels behind the transformer composites (layer_norm, softmax/log_softmax,
attention's scaled and masked softmax, bias + GELU): values against NumPy/SciPy in float64,
gradients against finite differences, 0-size and non-contiguous inputs, equality with the
composite they replace, double backward, and the fused nodes a trace records."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy.special import erfc as np_erfc

import deepseek as ds
import deepseek.nn.functional as F
from deepseek import _ops, autograd, nn

seeds = st.integers(0, 2**32 - 1)
TOL = {"float32": dict(rtol=2e-5, atol=2e-6), "float64": dict(rtol=1e-12, atol=1e-12)}


def as_layout(a, layout, dtype):
    """``a`` as a deepseek tensor of ``dtype`` whose memory is laid out per ``layout``: contiguous,
    a transposed view, or every other element of a wider buffer (same values)."""
    if layout == "perm" and a.ndim >= 2:
        t = ds.tensor(np.ascontiguousarray(np.swapaxes(a, -1, -2)), dtype=dtype)
        return t.transpose(-1, -2)
    if layout == "step" and a.ndim >= 1:
        return ds.tensor(np.repeat(a, 2, axis=-1), dtype=dtype)[..., ::2]
    return ds.tensor(a, dtype=dtype)


def num(t):
    return np.asarray(t.detach()).astype(np.float64)


def fd_check(fn, arrays, rng, eps=1e-6, rtol=1e-5, atol=1e-7):
    """autograd's vector-Jacobian product (a random cotangent) against central differences, in
    float64, for every input."""
    leaves = [ds.tensor(np.asarray(a, dtype=np.float64), dtype=ds.float64, requires_grad=True) for a in arrays]
    out = fn(*leaves)
    w = rng.standard_normal(tuple(out.shape))
    grads = autograd.grad((out * ds.tensor(w)).sum(), leaves, allow_unused=True)
    for i, (leaf, g) in enumerate(zip(leaves, grads)):
        base = num(leaf)
        want = np.zeros(base.size)
        for k in range(base.size):
            vals = []
            for sgn in (1, -1):
                p = base.copy().reshape(-1)
                p[k] += sgn * eps
                ts = [ds.tensor(p.reshape(base.shape)) if j == i else leaves[j].detach() for j in range(len(leaves))]
                with ds.no_grad():
                    vals.append(float((num(fn(*ts)) * w).sum()))
            want[k] = (vals[0] - vals[1]) / (2 * eps)
        got = np.zeros(base.size) if g is None else num(g).reshape(-1)
        if g is not None:
            assert tuple(g.shape) == tuple(leaf.shape)
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=f"gradient of input {i}")


def composite(monkeypatch):
    """Routes every op through its primitive composite (what other devices run)."""
    monkeypatch.setattr(_ops, "_fused_float", lambda *ts: False)


# ---------------------------------------------------------------- layer norm

def ln_ref(x, w, b, k, eps):
    axes = tuple(range(x.ndim - k, x.ndim))
    mu = x.mean(axis=axes, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=axes, keepdims=True)
    y = (x - mu) / np.sqrt(var + eps)
    return y * (1 if w is None else w) + (0 if b is None else b)


@settings(max_examples=40)
@given(seed=seeds, lead=st.sampled_from([(), (0,), (3,), (2, 3)]), norm=st.sampled_from([(1,), (5,), (2, 17), (40,)]),
       dtype=st.sampled_from(["float32", "float64"]), layout=st.sampled_from(["contig", "perm", "step"]),
       affine=st.sampled_from([(True, True), (True, False), (False, True), (False, False)]))
def test_layer_norm_matches_numpy(seed, lead, norm, dtype, layout, affine):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(lead + norm) * 3 + 100.0  # a large mean must not cost precision
    w = rng.standard_normal(norm) if affine[0] else None
    b = rng.standard_normal(norm) if affine[1] else None
    xt = as_layout(x, layout, dtype)
    wt = None if w is None else ds.tensor(w, dtype=dtype)
    bt = None if b is None else ds.tensor(b, dtype=dtype)
    y = F.layer_norm(xt, norm, wt, bt, eps=1e-5)
    assert y.dtype.name == dtype and tuple(y.shape) == x.shape
    xr = num(xt)
    want = ln_ref(xr, None if w is None else num(wt), None if b is None else num(bt), len(norm), 1e-5)
    tol = dict(rtol=1e-4, atol=2e-5) if dtype == "float32" else dict(rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(num(y), want, **tol)
    # the core's statistics: the mean and 1/std of each row, shaped for broadcasting
    _, mean, rstd = ds._core.layer_norm(xt, wt, bt, len(lead), 1e-5)
    assert tuple(mean.shape) == lead + (1,) * len(norm)
    axes = tuple(range(len(lead), x.ndim))
    np.testing.assert_allclose(num(mean), xr.mean(axis=axes, keepdims=True), rtol=1e-6)
    np.testing.assert_allclose(num(rstd), 1 / np.sqrt(xr.var(axis=axes, keepdims=True) + 1e-5), rtol=2e-4 if dtype == "float32" else 1e-9)


@settings(max_examples=12)
@given(seed=seeds, shape=st.sampled_from([(2, 4), (3, 2, 3), (1, 5)]), k=st.sampled_from([1, 2]),
       affine=st.sampled_from([(True, True), (True, False), (False, True), (False, False)]))
def test_layer_norm_gradients(seed, shape, k, affine):
    rng = np.random.default_rng(seed)
    k = min(k, len(shape))
    norm = shape[len(shape) - k:]
    arrays = [rng.standard_normal(shape)] + [rng.standard_normal(norm) for on in affine if on]

    def fn(x, *p):
        it = iter(p)
        w = next(it) if affine[0] else None
        b = next(it) if affine[1] else None
        return F.layer_norm(x, norm, w, b, eps=1e-3)

    fd_check(fn, arrays, rng)


def test_layer_norm_equals_the_composite_with_gradients(monkeypatch):
    rng = np.random.default_rng(0)
    x, w, b = (rng.standard_normal(s) for s in [(4, 3, 8), (8,), (8,)])

    def run():
        ts = [ds.tensor(a, requires_grad=True) for a in (x, w, b)]
        y = F.layer_norm(ts[0].transpose(0, 1), (8,), ts[1], ts[2])
        (y * y.detach().exp()).sum().backward()
        return [num(y)] + [num(t.grad) for t in ts]

    fused = run()
    composite(monkeypatch)
    for got, want in zip(fused, run()):
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-12)


def test_layer_norm_zero_size_and_errors():
    y = F.layer_norm(ds.zeros(0, 4), (4,), ds.ones(4), ds.zeros(4))
    assert tuple(y.shape) == (0, 4)
    x = ds.zeros(2, 0, requires_grad=True)
    F.layer_norm(x, (0,)).sum().backward()
    assert tuple(x.grad.shape) == (2, 0)
    with pytest.raises(RuntimeError, match="layer_norm"):
        ds._core.layer_norm(ds.zeros(2, 4), ds.ones(3), None, 1, 1e-5)
    with pytest.raises(RuntimeError, match="layer_norm"):
        ds._core.layer_norm(ds.zeros(2, 4, dtype=ds.int64), None, None, 1, 1e-5)
    with pytest.raises(RuntimeError, match="layer_norm"):
        F.layer_norm(ds.zeros(2, 4), (3,))


# ---------------------------------------------------------------- softmax

def softmax_ref(x, log=False):
    if x.size == 0:
        return x.copy()
    m = x.max(axis=-1, keepdims=True)
    s = np.log(np.exp(x - m).sum(axis=-1, keepdims=True)) + m
    return x - s if log else np.exp(x - s)


@settings(max_examples=40)
@given(seed=seeds, shape=st.sampled_from([(1,), (7,), (3, 33), (2, 0), (0, 3), (2, 3, 70)]), log=st.booleans(),
       dtype=st.sampled_from(["float32", "float64"]), layout=st.sampled_from(["contig", "perm", "step"]))
def test_softmax_matches_numpy(seed, shape, log, dtype, layout):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * 20  # wide range: the max shift must keep exp finite
    xt = as_layout(x, layout, dtype)
    y = (F.log_softmax if log else F.softmax)(xt, dim=-1)
    assert y.dtype.name == dtype and tuple(y.shape) == shape
    # float32 rounds x - logsumexp(x) at the scale of the largest |x|
    scale = 1 + (np.abs(x).max() if x.size else 0)
    np.testing.assert_allclose(num(y), softmax_ref(num(xt), log), rtol=1e-5 if dtype == "float32" else 1e-12,
                               atol=2e-7 * scale if dtype == "float32" else 1e-13 * scale)


def test_softmax_edge_rows():
    x = ds.tensor([[1000.0, 0.0, -1000.0], [-math.inf] * 3, [0.0, math.nan, 1.0], [math.inf, 0.0, 0.0]])
    p, lp = F.softmax(x, -1), F.log_softmax(x, -1)
    np.testing.assert_allclose(num(p)[0], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(num(lp)[0], [0.0, -1000.0, -2000.0])
    # as the composite (and PyTorch's softmax): no value to normalise by gives NaN
    assert np.isnan(num(p)[1:]).all() and np.isnan(num(lp)[1:]).all()


@settings(max_examples=10)
@given(seed=seeds, shape=st.sampled_from([(4,), (2, 5), (2, 2, 3)]), log=st.booleans())
def test_softmax_gradients(seed, shape, log):
    rng = np.random.default_rng(seed)
    fd_check(lambda x: (F.log_softmax if log else F.softmax)(x, -1), [rng.standard_normal(shape)], rng)


@pytest.mark.parametrize("fn", [
    lambda a: F.softmax(a, -1),
    lambda a: F.log_softmax(a, -1),
    lambda a: F.gelu(a),
    lambda a: F.gelu(a, approximate="tanh"),
    lambda a: F.bias_gelu(a, ds.tensor([0.3, -0.2], dtype=ds.float64, requires_grad=True)),
    lambda a: F.layer_norm(a, (2,), ds.tensor([1.5, -0.5], dtype=ds.float64, requires_grad=True), None),
])
def test_double_backward(fn):
    """create_graph=True: the gradients are built from differentiable ops, checked as
    gradgradcheck does."""
    x = ds.tensor(np.random.default_rng(3).uniform(-1.5, 1.5, (3, 2)), dtype=ds.float64, requires_grad=True)
    assert autograd.gradgradcheck(fn, [x])


# ---------------------------------------------------------------- attention's masked softmax

def attn_ref(q, k, v, mask, causal, scale):
    s = q @ np.swapaxes(k, -1, -2) * scale
    if causal:
        s = np.where(np.tril(np.ones(s.shape[-2:], dtype=bool)), s, -np.inf)
    if mask is not None:
        s = np.where(mask, s, -np.inf) if mask.dtype == bool else s + mask
    m = s.max(axis=-1, keepdims=True)
    e = np.exp(s - np.where(np.isfinite(m), m, 0))
    z = e.sum(axis=-1, keepdims=True)
    p = np.where(z > 0, e / np.where(z > 0, z, 1), 0.0)  # rows that keep nothing give zeros
    return p @ v


@settings(max_examples=30)
@given(seed=seeds, shape=st.sampled_from([(1, 4, 4, 3), (2, 3, 5, 2), (2, 1, 0, 3)]),
       mask=st.sampled_from([None, "bool", "float", "bool_row", "float_bcast"]), causal=st.booleans(),
       dtype=st.sampled_from(["float32", "float64"]), scale=st.sampled_from([None, 0.3]))
def test_sdpa_matches_numpy(seed, shape, mask, causal, dtype, scale):
    rng = np.random.default_rng(seed)
    N, H, L, D = shape
    S = L if L else 2
    q, k, v = rng.standard_normal((N, H, L, D)), rng.standard_normal((N, H, S, D)), rng.standard_normal((N, H, S, D))
    m = None
    if mask == "bool":
        m = rng.uniform(size=(L, S)) > 0.3
        if L:
            m[0] = False  # a row that keeps nothing
    elif mask == "bool_row":
        m = rng.uniform(size=(N, 1, 1, S)) > 0.5
    elif mask == "float":
        m = rng.standard_normal((N, H, L, S))
    elif mask == "float_bcast":
        m = rng.standard_normal((S,))
    qt, kt, vt = (as_layout(a, "perm", dtype) for a in (q, k, v))
    mt = None if m is None else (ds.tensor(m) if m.dtype == bool else ds.tensor(m, dtype=dtype))
    out = F.scaled_dot_product_attention(qt, kt, vt, attn_mask=mt, is_causal=causal, scale=scale)
    want = attn_ref(q, k, v, m, causal, 1 / math.sqrt(D) if scale is None else scale)
    if dtype == "float32":
        want = attn_ref(num(qt), num(kt), num(vt), None if m is None else (m if m.dtype == bool else num(mt)), causal,
                        1 / math.sqrt(D) if scale is None else scale)
    np.testing.assert_allclose(num(out), want, rtol=1e-4 if dtype == "float32" else 1e-11, atol=1e-5 if dtype == "float32" else 1e-12)


@settings(max_examples=8)
@given(seed=seeds, mask=st.sampled_from([None, "bool", "float"]), causal=st.booleans())
def test_sdpa_gradients(seed, mask, causal):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal((1, 2, 3, 2)) for _ in range(3)]
    if mask == "float":
        arrays.append(rng.standard_normal((3, 3)))  # an additive mask gets its gradient too
    bm = ds.tensor(rng.uniform(size=(3, 3)) > 0.3) if mask == "bool" else None
    if bm is not None:
        bm[:, 0] = True

    def fn(q, k, v, *m):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=m[0] if m else bm, is_causal=causal)

    fd_check(fn, arrays, rng)


@pytest.mark.parametrize("masks", ["none", "bool", "float", "kpm_bool", "both", "causal"])
def test_multihead_attention_equals_the_composite(monkeypatch, masks):
    """nn.MultiheadAttention with its masks (True = masked) fused and composed: same outputs,
    weights and gradients, NaN rows included (PyTorch's MultiheadAttention keeps them)."""
    rng = np.random.default_rng(1)
    ds.manual_seed(0)
    mha = nn.MultiheadAttention(8, 2, batch_first=True).double()
    x = rng.standard_normal((2, 4, 8))
    am = kpm = None
    causal = masks == "causal"
    if masks in ("bool", "both"):
        am = ds.tensor(rng.uniform(size=(4, 4)) > 0.7)
    if masks == "float":
        am = ds.tensor(rng.standard_normal((4, 4)))
    if masks in ("kpm_bool", "both"):
        kpm = ds.tensor(np.array([[False, False, True, False], [True, True, True, True]]))

    def run():
        xt = ds.tensor(x, requires_grad=True)
        for p in mha.parameters():
            p.grad = None
        out, w = mha(xt, xt, xt, attn_mask=am, key_padding_mask=kpm, is_causal=causal,
                     need_weights=True, average_attn_weights=False)
        ok = ~ds.isnan(out)
        (ds.where(ok, out, ds.zeros_like(out)) ** 2).sum().backward()
        return [num(out), num(w), num(xt.grad)] + [num(p.grad) for p in mha.parameters()]

    fused = run()
    composite(monkeypatch)
    for got, want in zip(fused, run()):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12, equal_nan=True)


# ---------------------------------------------------------------- bias + GELU

def gelu_ref(z, tanh):
    """GELU in float64 without the cancellation of 1 + erf(x) (or 1 + tanh) for x << 0."""
    if tanh:
        u = math.sqrt(2 / math.pi) * (z + 0.044715 * z**3)
        return z / (1 + np.exp(-2 * u))  # = 0.5 z (1 + tanh u)
    return 0.5 * z * np_erfc(-z / math.sqrt(2))


@settings(max_examples=40)
@given(seed=seeds, shape=st.sampled_from([(5,), (3, 8), (2, 0, 4), (2, 3, 33), (5000,)]), bias=st.booleans(),
       tanh=st.booleans(), dtype=st.sampled_from(["float32", "float64"]), layout=st.sampled_from(["contig", "perm", "step"]))
def test_bias_gelu_matches_numpy(seed, shape, bias, tanh, dtype, layout):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * 4  # both tails: GELU is tiny and exact to its last bits for x << 0
    b = rng.standard_normal(shape[-1:]) if bias else None
    xt = as_layout(x, layout, dtype)
    bt = None if b is None else ds.tensor(b, dtype=dtype)
    y = F.bias_gelu(xt, bt, approximate="tanh" if tanh else "none")
    assert y.dtype.name == dtype and tuple(y.shape) == shape
    z = num(xt) + (0 if b is None else num(bt))
    if dtype == "float32":
        z = z.astype(np.float32).astype(np.float64)
    want = gelu_ref(z, tanh)
    tol = dict(rtol=3e-5, atol=1e-30) if dtype == "float32" else dict(rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(num(y), want, **tol)


@settings(max_examples=10)
@given(seed=seeds, tanh=st.booleans(), bias=st.booleans())
def test_bias_gelu_gradients(seed, tanh, bias):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal((3, 4)) * 2] + ([rng.standard_normal(4)] if bias else [])
    approx = "tanh" if tanh else "none"
    fd_check(lambda x, *b: F.bias_gelu(x, b[0] if b else None, approximate=approx), arrays, rng)


def test_bias_gelu_falls_back_and_checks():
    x, b = ds.randn(2, 3), ds.randn(3, dtype=ds.float64)
    y = F.bias_gelu(x, b)  # mixed dtypes: the composite, promoting as x + b does
    assert y.dtype == ds.float64
    np.testing.assert_allclose(num(y), gelu_ref(num(x) + num(b), False), rtol=1e-6)
    np.testing.assert_allclose(num(F.bias_gelu(x.half(), None)), gelu_ref(num(x.half()), False), rtol=2e-3, atol=1e-3)
    with pytest.raises(ValueError, match="approximate"):
        F.bias_gelu(x, None, approximate="erf")
    with pytest.raises(RuntimeError, match="bias_gelu"):
        ds._core.bias_gelu(x, ds.zeros(4), False)


def test_transformer_layer_with_gelu_equals_the_composite(monkeypatch):
    ds.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, activation="gelu", batch_first=True).double()
    x = np.random.default_rng(2).standard_normal((2, 5, 8))

    def run():
        xt = ds.tensor(x, requires_grad=True)
        for p in layer.parameters():
            p.grad = None
        y = layer(xt, src_mask=ds.tril(ds.ones(5, 5, dtype=ds.bool)) == False)  # noqa: E712
        (y * y).sum().backward()
        return [num(y), num(xt.grad)] + [num(p.grad) for p in layer.parameters()]

    fused = run()
    composite(monkeypatch)
    for got, want in zip(fused, run()):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-11)


# ---------------------------------------------------------------- graphs

def test_trace_records_the_fused_nodes_and_replays_them():
    ds.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0, activation="gelu", batch_first=True)
    layer.eval()
    x = ds.randn(2, 5, 8)
    with warnings.catch_warnings(), ds.no_grad():
        warnings.simplefilter("ignore")
        g = ds.jit.trace(lambda t: F.log_softmax(layer(t), -1), (x,))
    ops = [n["op"] for n in g.graph.nodes() if n["kind"] != "view"]
    for name in ("layer_norm", "scaled_masked_softmax", "bias_gelu", "softmax"):
        assert name in ops, (name, ops)
    ln = next(n for n in g.graph.nodes() if n["op"] == "layer_norm")
    assert ln["attrs"]["axis"] == 2 and ln["attrs"]["has_weight"] and abs(ln["attrs"]["eps"] - 1e-5) < 1e-12
    x2 = ds.randn(2, 5, 8)
    with ds.no_grad():
        np.testing.assert_allclose(num(g(x2)), num(F.log_softmax(layer(x2), -1)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("opset", [17, 20])
def test_fused_nodes_export_to_onnx(opset):
    """Each fused node lowers to standard ONNX (LayerNormalization, Softmax/LogSoftmax, the
    masked and scaled Softmax, Add + Gelu) and onnxruntime reproduces eager's values."""
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    import io

    import deepseek.onnx

    ds.manual_seed(0)
    ln = nn.LayerNorm(8)
    b = ds.randn(8)
    keep = ds.tensor(np.tril(np.ones((5, 5), dtype=bool)) | np.eye(5, k=2, dtype=bool))

    def fn(x):
        h = ln(x)
        q = h.reshape(2, 5, 2, 4).transpose(1, 2)
        a = F.scaled_dot_product_attention(q, q, q, attn_mask=keep)
        c = F.scaled_dot_product_attention(q, q, q, is_causal=True, scale=0.3)
        h = (a + c).transpose(1, 2).reshape(2, 5, 8)
        return F.log_softmax(F.bias_gelu(h, b, approximate="tanh"), -1) + F.softmax(F.gelu(h), -1)

    x = ds.randn(2, 5, 8)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        proto = deepseek.onnx.export(fn, (x,), buf, opset_version=opset)
    onnx.checker.check_model(proto)
    ops = {n.op_type for n in proto.graph.node}
    assert {"LayerNormalization", "Softmax", "LogSoftmax"} <= ops
    assert ("Gelu" in ops) == (opset >= 20)
    sess = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    with ds.no_grad():
        want = num(fn(x))
    np.testing.assert_allclose(sess.run(None, {"input": x.numpy()})[0], want, rtol=1e-4, atol=1e-5)
