"""RMSprop, Adagrad, Adamax, NAdam, RAdam and Adadelta: the default fused step (one core call per
parameter group), the per-parameter path (``foreach=False``) and a NumPy float64 reference of
PyTorch's update rules agree over several steps, with every option."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import deepseek as ds
from deepseek import _core, optim


# ---- NumPy float64 references: (state init, one step) per optimizer, PyTorch's formulas ----

def _g(g, p, h):
    g = -g if h.get("maximize") else g
    return g + h.get("weight_decay", 0) * p if h.get("weight_decay") and not h.get("decoupled_weight_decay") else g


def ref_rmsprop(p, g, s, h):
    lr, a, eps, mom = h.get("lr", 1e-2), h.get("alpha", 0.99), h.get("eps", 1e-8), h.get("momentum", 0)
    g = _g(g, p, h)
    s["sq"] = a * s.get("sq", 0 * p) + (1 - a) * g * g
    if h.get("centered"):
        s["ga"] = a * s.get("ga", 0 * p) + (1 - a) * g
        avg = np.sqrt(s["sq"] - s["ga"] ** 2) + eps
    else:
        avg = np.sqrt(s["sq"]) + eps
    if mom:
        s["buf"] = mom * s.get("buf", 0 * p) + g / avg
        return p - lr * s["buf"]
    return p - lr * g / avg


def ref_adagrad(p, g, s, h):
    lr, eps, decay = h.get("lr", 1e-2), h.get("eps", 1e-10), h.get("lr_decay", 0)
    s["t"] = s.get("t", 0) + 1
    g = _g(g, p, h)
    s["sum"] = s.get("sum", 0 * p + h.get("initial_accumulator_value", 0)) + g * g
    return p - lr / (1 + (s["t"] - 1) * decay) * g / (np.sqrt(s["sum"]) + eps)


def ref_adamax(p, g, s, h):
    lr, (b1, b2), eps = h.get("lr", 2e-3), h.get("betas", (0.9, 0.999)), h.get("eps", 1e-8)
    s["t"] = t = s.get("t", 0) + 1
    g = _g(g, p, h)
    s["m"] = b1 * s.get("m", 0 * p) + (1 - b1) * g
    s["u"] = np.maximum(b2 * s.get("u", 0 * p), np.abs(g) + eps)
    return p - lr / (1 - b1**t) * s["m"] / s["u"]


def _moments(p, g, s, h, b1, b2):
    if h.get("weight_decay") and h.get("decoupled_weight_decay"):
        p = p * (1 - h["lr"] * h["weight_decay"])
    g = _g(g, p, h)
    s["m"] = b1 * s.get("m", 0 * p) + (1 - b1) * g
    s["v"] = b2 * s.get("v", 0 * p) + (1 - b2) * g * g
    return p, g


def ref_nadam(p, g, s, h):
    lr, (b1, b2), eps, md = h.get("lr", 2e-3), h.get("betas", (0.9, 0.999)), h.get("eps", 1e-8), h.get("momentum_decay", 4e-3)
    s["t"] = t = s.get("t", 0) + 1
    p, g = _moments(p, g, s, h, b1, b2)
    mu, mu_next = (b1 * (1 - 0.5 * 0.96 ** (k * md)) for k in (t, t + 1))
    s["mp"] = mp = s.get("mp", 1.0) * mu
    denom = np.sqrt(s["v"] / (1 - b2**t)) + eps
    return p - lr * (1 - mu) / (1 - mp) * g / denom - lr * mu_next / (1 - mp * mu_next) * s["m"] / denom


def ref_radam(p, g, s, h):
    lr, (b1, b2), eps = h.get("lr", 1e-3), h.get("betas", (0.9, 0.999)), h.get("eps", 1e-8)
    s["t"] = t = s.get("t", 0) + 1
    p, g = _moments(p, g, s, h, b1, b2)
    m_hat = s["m"] / (1 - b1**t)
    rho_inf = 2 / (1 - b2) - 1
    rho = rho_inf - 2 * t * b2**t / (1 - b2**t)
    if rho <= 5:
        return p - lr * m_hat
    s["adaptive"] = True
    rect = math.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
    return p - lr * rect * m_hat * math.sqrt(1 - b2**t) / (np.sqrt(s["v"]) + eps)


def ref_adadelta(p, g, s, h):
    lr, rho, eps = h.get("lr", 1.0), h.get("rho", 0.9), h.get("eps", 1e-6)
    g = _g(g, p, h)
    s["sq"] = rho * s.get("sq", 0 * p) + (1 - rho) * g * g
    delta = np.sqrt(s.get("acc", 0 * p) + eps) / np.sqrt(s["sq"] + eps) * g
    s["acc"] = rho * s.get("acc", 0 * p) + (1 - rho) * delta * delta
    return p - lr * delta


# (optimizer, reference, option sets covering every option)
CASES = [
    ("RMSprop", ref_rmsprop, [{}, {"momentum": 0.9}, {"centered": True, "weight_decay": 0.1},
                              {"momentum": 0.5, "centered": True, "maximize": True, "alpha": 0.9, "lr": 0.05}]),
    ("Adagrad", ref_adagrad, [{}, {"lr_decay": 0.1, "weight_decay": 0.05},
                              {"initial_accumulator_value": 0.5, "maximize": True, "eps": 1e-3}]),
    ("Adamax", ref_adamax, [{}, {"weight_decay": 0.1, "maximize": True, "betas": (0.8, 0.99)}]),
    ("NAdam", ref_nadam, [{}, {"weight_decay": 0.1}, {"weight_decay": 0.1, "decoupled_weight_decay": True, "lr": 0.01},
                          {"maximize": True, "momentum_decay": 0.1, "betas": (0.8, 0.9)}]),
    # betas[1]=0.9 gives rho_t > 5 from step 6: both branches are taken within STEPS steps
    ("RAdam", ref_radam, [{}, {"betas": (0.9, 0.9)}, {"weight_decay": 0.1, "betas": (0.8, 0.9), "maximize": True},
                          {"weight_decay": 0.1, "decoupled_weight_decay": True, "lr": 0.01, "betas": (0.9, 0.9)}]),
    ("Adadelta", ref_adadelta, [{}, {"weight_decay": 0.1, "rho": 0.5}, {"maximize": True, "lr": 0.5, "eps": 1e-3}]),
]
PARAMS = [(name, ref, h) for name, ref, hs in CASES for h in hs]
SHAPES = [(3, 4), (5,), (0, 2), (2, 3, 2)]
STEPS = 7


def _run(name, h, shapes, dtype, grads, foreach, transpose_grad=False):
    """Steps a fresh optimizer over parameters (ones * 0.5 + index) with the given gradients."""
    ps = [ds.tensor((np.arange(math.prod(s), dtype=np.float64).reshape(s) * 0.1 + 0.5), dtype=dtype).requires_grad_()
          for s in shapes]
    opt = getattr(optim, name)(ps, **h, **({} if foreach is None else {"foreach": foreach}))
    for step_grads in grads:
        for p, gv in zip(ps, step_grads):
            if transpose_grad and gv.ndim == 2:
                p.grad = ds.tensor(np.ascontiguousarray(gv.T), dtype=dtype).t()  # a non-contiguous gradient
            else:
                p.grad = ds.tensor(gv, dtype=dtype)
        opt.step()
    return [p.detach().numpy() for p in ps], opt


def _reference(ref, h, shapes, grads):
    ps = [np.arange(math.prod(s), dtype=np.float64).reshape(s) * 0.1 + 0.5 for s in shapes]
    states = [{} for _ in shapes]
    for step_grads in grads:
        ps = [ref(p, g, s, h) for p, g, s in zip(ps, step_grads, states)]
    if ref is ref_radam and h.get("betas", (0.9, 0.999))[1] == 0.9:
        assert states[0].get("adaptive"), "the rectified branch was not reached"
    return ps


def _grads(shapes, seed, steps=STEPS):
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(s) for s in shapes] for _ in range(steps)]


@pytest.mark.parametrize("name,ref,h", PARAMS, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(PARAMS)])
def test_fused_matches_per_parameter_and_numpy(name, ref, h, monkeypatch):
    calls = []
    real = _core.optim_step
    monkeypatch.setattr(_core, "optim_step", lambda *a: calls.append(len(a[1])) or real(*a))
    grads = _grads(SHAPES, 0)
    fused, opt_f = _run(name, h, SHAPES, ds.float64, grads, None, transpose_grad=True)
    assert calls == [len(SHAPES)] * STEPS  # one core call per group and step
    calls.clear()
    single, opt_s = _run(name, h, SHAPES, ds.float64, grads, False)
    assert calls == []
    want = _reference(ref, h, SHAPES, grads)
    for f, s, w in zip(fused, single, want):
        np.testing.assert_allclose(f, w, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(s, w, rtol=1e-10, atol=1e-12)
    # both paths leave the same state, so a run may switch between them
    for a, b in zip(opt_f.state_dict()["state"].values(), opt_s.state_dict()["state"].values()):
        assert a.keys() == b.keys()
        for k in a:
            va, vb = a[k], b[k]
            if hasattr(va, "numpy"):
                np.testing.assert_allclose(va.numpy(), vb.numpy(), rtol=1e-10, atol=1e-12)
            else:
                assert va == pytest.approx(vb)


@settings(max_examples=20)
@given(case=st.sampled_from(PARAMS), shape=st.lists(st.integers(0, 5), min_size=0, max_size=3).map(tuple),
       seed=st.integers(0, 2**16))
def test_fused_float32_tracks_float64_reference(case, shape, seed):
    name, ref, h = case
    grads = _grads([shape], seed)
    got, _ = _run(name, h, [shape], ds.float32, grads, None)
    single, _ = _run(name, h, [shape], ds.float32, grads, False)
    want = _reference(ref, h, [shape], grads)
    np.testing.assert_allclose(got[0], want[0], rtol=2e-4, atol=2e-5)
    np.testing.assert_allclose(got[0], single[0], rtol=2e-5, atol=2e-6)


def test_switching_paths_mid_run_continues_the_same_trajectory():
    grads = _grads(SHAPES, 1)
    want = _reference(ref_nadam, {"weight_decay": 0.1}, SHAPES, grads)
    ps = [ds.tensor(np.arange(math.prod(s), dtype=np.float64).reshape(s) * 0.1 + 0.5).requires_grad_() for s in SHAPES]
    opt = optim.NAdam(ps, weight_decay=0.1)
    for i, step_grads in enumerate(grads):
        opt.param_groups[0]["foreach"] = bool(i % 2)
        for p, gv in zip(ps, step_grads):
            p.grad = ds.tensor(gv)
        opt.step()
    for p, w in zip(ps, want):
        np.testing.assert_allclose(p.detach().numpy(), w, rtol=1e-10, atol=1e-12)


def test_unfusable_parameters_take_the_per_parameter_path():
    # a float16 parameter and a non-contiguous one beside a fusable one: all still step correctly
    base = np.linspace(-1, 1, 12).reshape(3, 4)
    ps = [ds.tensor(base).requires_grad_(), ds.tensor(base, dtype=ds.float16).requires_grad_(),
          ds.tensor(base.T.copy()).t().detach().requires_grad_()]
    opt = optim.RMSprop(ps, momentum=0.9)
    for p in ps:
        p.grad = ds.ones(3, 4, dtype=p.dtype)
    opt.step()
    want = ref_rmsprop(base, np.ones((3, 4)), {}, {"momentum": 0.9})
    for p in ps:
        np.testing.assert_allclose(p.detach().to(ds.float64).numpy(), want, rtol=2e-3, atol=2e-3)


def test_optim_step_rejects_bad_input():
    p, g = ds.zeros(3), ds.zeros(3)
    attrs = dict(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, maximize=False)
    with pytest.raises(RuntimeError, match=r"adadelta_step: parameter 0 .*shape \[4\]"):
        _core.optim_step("adadelta_step", [p], [g], [[ds.zeros(3)], [ds.zeros(4)]], attrs)
    with pytest.raises(RuntimeError, match="adadelta_step: expected 2 list"):
        _core.optim_step("adadelta_step", [p], [g], [[ds.zeros(3)]], attrs)
    with pytest.raises(RuntimeError, match="same length"):
        _core.optim_step("adadelta_step", [p], [], [[ds.zeros(3)], [ds.zeros(3)]], attrs)
    with pytest.raises(RuntimeError, match="float32 and float64, got int64"):
        z = ds.zeros(3, dtype=ds.int64)
        _core.optim_step("adadelta_step", [z], [z], [[z], [z]], attrs)
    with pytest.raises(TypeError, match="missing hyper-parameter 'rho'"):
        _core.optim_step("adadelta_step", [p], [g], [[ds.zeros(3)], [ds.zeros(3)]], {"lr": 1.0})
    with pytest.raises(RuntimeError, match="not an optimizer step"):
        _core.optim_step("lion_step", [p], [g], [], {})


def test_constructor_arguments_follow_pytorch():
    p = [ds.zeros(2).requires_grad_()]
    assert optim.RMSprop(p).defaults["foreach"] is None and optim.RMSprop(p, maximize=True).defaults["maximize"]
    assert optim.Adagrad(p, foreach=False, maximize=True).defaults["foreach"] is False
    for bad in (dict(lr=-1), dict(eps=-1), dict(momentum=-1), dict(alpha=-1), dict(weight_decay=-1)):
        with pytest.raises(ValueError):
            optim.RMSprop(p, **bad)
    for bad in (dict(lr=-1), dict(lr_decay=-1), dict(initial_accumulator_value=-1), dict(eps=-1)):
        with pytest.raises(ValueError):
            optim.Adagrad(p, **bad)
