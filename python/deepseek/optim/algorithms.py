"""SGD, Adam and AdamW with PyTorch's update rules, and DeepSeekAdam."""
from __future__ import annotations

import math

from .. import _core
from .._core import Tensor
from .optimizer import Optimizer, _NoGrad


def _zeros_like(p, dtype=None):
    return _core.zeros(list(p.shape), dtype or p._dtype, p._device)


class SGD(Optimizer):
    """SGD(params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, maximize=False)."""

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *, maximize=False):
        if lr < 0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov, maximize=maximize))

    def step(self, closure=None):
        loss = closure() if closure is not None else None
        with _NoGrad():
            for g in self.param_groups:
                fused, rest = [], []
                for p in g["params"]:
                    grad = p.grad
                    if grad is None:
                        continue
                    if not isinstance(grad, Tensor):  # a sparse gradient (nn.Embedding(sparse=True))
                        self._step_sparse(g, p, grad)
                        continue
                    buf = self.state.get(p, {}).get("momentum_buffer") if g["momentum"] else None
                    (fused if _fusable(p, buf) else rest).append(p)
                if fused:
                    self._step_fused(g, fused)
                for p in rest:
                    self._step_one(g, p)
        return loss

    def _step_fused(self, g, params):
        """CPU f32/f64 parameters: one call into the core updates them all (and their
        momentum buffers) in a single pass each, with the arithmetic of ``_step_one``."""
        bufs, fresh = [], []
        if g["momentum"]:
            for p in params:
                st = self.state.setdefault(p, {})
                buf = st.get("momentum_buffer")
                fresh.append(buf is None)
                if buf is None:
                    buf = st["momentum_buffer"] = _zeros_like(p)
                bufs.append(buf)
        _core.sgd_step(params, [p.grad for p in params], bufs, fresh, g["lr"], g["momentum"], g["dampening"],
                       g["weight_decay"], g["nesterov"], g["maximize"])

    def _step_sparse(self, g, p, grad):
        """A sparse gradient: plain SGD adds ``-lr * values`` at its indices and touches nothing
        else; with momentum or weight decay every element moves, so the dense update runs."""
        if g["momentum"] or g["weight_decay"]:
            return self._step_one(g, p, grad.to_dense())
        lr = -g["lr"] if not g["maximize"] else g["lr"]
        p.index_put_(tuple(grad._ind.unbind(0)), grad._vals * lr, accumulate=True)

    def _step_one(self, g, p, grad=None):
        grad = p.grad if grad is None else grad
        d = grad if not g["maximize"] else -grad
        if g["weight_decay"]:
            d = d + g["weight_decay"] * p
        if g["momentum"]:
            st = self.state.setdefault(p, {})
            buf = st.get("momentum_buffer")
            if buf is None:
                buf = st["momentum_buffer"] = _core.clone(d)
            else:
                buf.mul_(g["momentum"]).add_(d, alpha=1 - g["dampening"])
            d = d + g["momentum"] * buf if g["nesterov"] else buf
        p.sub_(d * g["lr"])


def _fusable(p, buf):
    """Whether the core's fused SGD kernel takes this parameter: CPU, f32/f64, contiguous,
    its gradient and momentum buffer alike."""
    return all(t is None or (t._device == "cpu" and t._dtype == p._dtype and t.shape == p.shape and t.is_contiguous())
               for t in (buf, p.grad)) and p._device == "cpu" and p._dtype in ("float32", "float64") and p.is_contiguous()


class Adam(Optimizer):
    """Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
    foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
    decoupled_weight_decay=False).

    On the CPU the update runs in the core by default, as PyTorch's foreach/fused paths do: one
    call per parameter group updates every float32/float64 parameter and both moments in a single
    pass over memory, with the arithmetic of the per-parameter loop (results are bit-identical).
    ``foreach=False`` or ``differentiable=True`` keeps the per-parameter loop; ``amsgrad`` and
    L2 (non-decoupled) weight decay always use it.
    """

    _decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False):
        if lr < 0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if eps < 0:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0 or not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameters: {betas}")
        if weight_decay < 0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if fused and foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
        if fused and differentiable:
            raise RuntimeError("`fused` does not support `differentiable`")
        self._decoupled = self._decoupled or bool(decoupled_weight_decay)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize, foreach=foreach, capturable=capturable,
                                      differentiable=differentiable, fused=fused))

    def step(self, closure=None):
        loss = closure() if closure is not None else None
        with _NoGrad():
            for g in self.param_groups:
                fusable = (g.get("foreach") is not False and not g.get("differentiable") and not g["amsgrad"]
                           and (self._decoupled or not g["weight_decay"]))
                by_step = {}
                for p in g["params"]:
                    if p.grad is None:
                        continue
                    st = self._state(p, g)
                    st["step"] += 1
                    if fusable and _adam_fusable(p, st):
                        grad = p.grad if p.grad.is_contiguous() else p.grad.contiguous()
                        by_step.setdefault(st["step"], []).append((p, grad, st["exp_avg"], st["exp_avg_sq"]))
                    else:
                        self._step_one(g, p, st)
                b1, b2 = g["betas"]
                wd = g["weight_decay"] if self._decoupled else 0.0
                for t, items in by_step.items():
                    ps, gs, ms, vs = (list(x) for x in zip(*items))
                    _core.adamw_step(ps, gs, ms, vs, t, g["lr"], b1, b2, g["eps"], wd, g["maximize"])
        return loss

    def _state(self, p, g):
        """The state of ``p``, created on first use: step count and moments."""
        st = self.state.setdefault(p, {})
        if not st:
            st["step"] = 0
            st["exp_avg"] = _zeros_like(p)
            st["exp_avg_sq"] = _zeros_like(p)
            if g["amsgrad"]:
                st["max_exp_avg_sq"] = _zeros_like(p)
        return st

    def _step_one(self, g, p, st):
        """The per-parameter update (the reference the fused kernel reproduces)."""
        b1, b2 = g["betas"]
        grad = p.grad if not g["maximize"] else -p.grad
        t = st["step"]
        if g["weight_decay"]:
            if self._decoupled:
                p.mul_(1 - g["lr"] * g["weight_decay"])
            else:
                grad = grad + g["weight_decay"] * p
        st["exp_avg"].mul_(b1).add_(grad, alpha=1 - b1)
        st["exp_avg_sq"].mul_(b2).add_(grad * grad, alpha=1 - b2)
        bc1 = 1 - b1**t
        bc2 = 1 - b2**t
        v = st["exp_avg_sq"]
        if g["amsgrad"]:
            st["max_exp_avg_sq"].copy_(_core.binary("maximum", st["max_exp_avg_sq"], v))
            v = st["max_exp_avg_sq"]
        denom = (v.sqrt() / math.sqrt(bc2)).add_(g["eps"])
        p.sub_(st["exp_avg"] / denom * (g["lr"] / bc1))


def _adam_fusable(p, st):
    """Whether the core's fused Adam kernel takes this parameter: a contiguous CPU float32/float64
    tensor whose gradient (any layout) and moments share its dtype and shape."""
    g, m, v = p.grad, st["exp_avg"], st["exp_avg_sq"]
    return (p._device == "cpu" and p._dtype in ("float32", "float64") and p.is_contiguous()
            and all(t._device == "cpu" and t._dtype == p._dtype and t.shape == p.shape for t in (g, m, v))
            and m.is_contiguous() and v.is_contiguous())


class AdamW(Adam):
    """AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False): decoupled weight decay."""

    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, foreach=None, capturable=False, differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused)


class DeepSeekAdam(AdamW):
    """DeepSeekAdam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
    moments_dtype=None) — deepseek's own optimizer.

    AdamW fused in the Rust core: one call per parameter group updates every parameter,
    both moments and the weight decay in a single pass over memory, with no per-parameter
    Python loop in the update. Numerically equal to ``AdamW`` (same operation order). With ``moments_dtype=deepseek.bfloat16`` the two moment buffers are
    kept in bfloat16, halving optimizer-state memory; the update itself is computed in the
    parameter's dtype.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, *, moments_dtype=None, amsgrad=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)
        from .._dtype import to_dtype

        self.moments_dtype = to_dtype(moments_dtype).name if moments_dtype is not None else None

    def step(self, closure=None):
        """One fused AdamW update per parameter group (per distinct step count), in the core."""
        if self.param_groups[0].get("amsgrad") or any(
                p._device != "cpu" for g in self.param_groups for p in g["params"]):
            # the fused kernel is the CPU's; other devices compose the same update from primitives
            return self._step_unfused(closure)
        loss = closure() if closure is not None else None
        for g in self.param_groups:
            b1, b2 = g["betas"]
            by_step = {}
            for p in g["params"]:
                if p.grad is None:
                    continue
                st = self._moments(p)
                st["step"] += 1
                grad = p.grad if p.grad.is_contiguous() else p.grad.contiguous()
                by_step.setdefault(st["step"], []).append((p, grad, st["exp_avg"], st["exp_avg_sq"]))
            for t, items in by_step.items():
                ps, gs, ms, vs = (list(x) for x in zip(*items))
                _core.adamw_step(ps, gs, ms, vs, t, g["lr"], b1, b2, g["eps"], g["weight_decay"], g.get("maximize", False))
        return loss

    def _moments(self, p):
        """The state of ``p``, created on first use: step count and the two moments."""
        st = self.state.setdefault(p, {})
        if not st:
            st["step"] = 0
            st["exp_avg"] = _zeros_like(p, self.moments_dtype)
            st["exp_avg_sq"] = _zeros_like(p, self.moments_dtype)
        return st

    def _step_unfused(self, closure=None):
        if self.moments_dtype is None:
            return super().step(closure)
        loss = closure() if closure is not None else None
        with _NoGrad():
            for g in self.param_groups:
                b1, b2 = g["betas"]
                for p in g["params"]:
                    if p.grad is None:
                        continue
                    st = self._moments(p)
                    st["step"] += 1
                    t = st["step"]
                    p.mul_(1 - g["lr"] * g["weight_decay"])
                    grad = p.grad
                    m = st["exp_avg"].to(p.dtype) * b1 + grad * (1 - b1)
                    v = st["exp_avg_sq"].to(p.dtype) * b2 + grad * grad * (1 - b2)
                    st["exp_avg"].copy_(m)
                    st["exp_avg_sq"].copy_(v)
                    denom = v.sqrt() / math.sqrt(1 - b2**t) + g["eps"]
                    p.sub_(m / denom * (g["lr"] / (1 - b1**t)))
        return loss

