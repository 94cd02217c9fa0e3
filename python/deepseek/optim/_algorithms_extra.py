"""Adamax, NAdam, RAdam, Adadelta, ASGD, Rprop and LBFGS with PyTorch's update rules, defaults
and argument checks (issue 16). Adamax, NAdam, RAdam and Adadelta step a whole parameter group
in one core call on the CPU by default (``_rules._Elementwise``)."""
from __future__ import annotations

import math

from .. import _core, _ops
from .._core import Tensor
from ._rules import _Elementwise, _zeros_like
from .optimizer import Optimizer, _NoGrad


def _check(lr, eps=None, wd=None, betas=None):
    if lr < 0:
        raise ValueError(f"Invalid learning rate: {lr}")
    if eps is not None and eps < 0:
        raise ValueError(f"Invalid epsilon value: {eps}")
    if wd is not None and wd < 0:
        raise ValueError(f"Invalid weight_decay value: {wd}")
    if betas is not None:
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")


class Adamax(_Elementwise):
    """Adamax(params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, *, maximize=False):
    Adam with the infinity norm."""

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, *, maximize=False, foreach=None,
                 differentiable=False, capturable=False):
        _check(lr, eps, weight_decay, betas)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize,
                                      foreach=foreach, differentiable=differentiable, capturable=capturable))

    _rule = "adamax_step"

    def _init(self, g, p, st):
        if not st:
            st["step"] = 0
            st["exp_avg"], st["exp_inf"] = _zeros_like(p), _zeros_like(p)

    def _state_names(self, g):
        return ["exp_avg", "exp_inf"]

    def _attrs(self, g, st):
        b1, b2 = g["betas"]
        return dict(lr=g["lr"], beta1=b1, beta2=b2, eps=g["eps"], weight_decay=g["weight_decay"], step=int(st["step"]),
                    maximize=bool(g["maximize"]))

    def _update(self, g, p, grad, st):
        self._init(g, p, st)
        self._advance(g, st)
        b1, b2 = g["betas"]
        if g["weight_decay"]:
            grad = grad + g["weight_decay"] * p
        st["exp_avg"].lerp_(grad, 1 - b1)
        st["exp_inf"].copy_(_ops.maximum(st["exp_inf"] * b2, _ops.abs(grad) + g["eps"]))
        clr = g["lr"] / (1 - b1 ** st["step"])
        p.sub_(st["exp_avg"] / st["exp_inf"] * clr)


class NAdam(_Elementwise):
    """NAdam(params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
    decoupled_weight_decay=False, *, maximize=False): Adam with Nesterov momentum."""

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False, differentiable=False):
        _check(lr, eps, weight_decay, betas)
        if momentum_decay < 0:
            raise ValueError(f"Invalid momentum_decay value: {momentum_decay}")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, momentum_decay=momentum_decay,
                                      decoupled_weight_decay=decoupled_weight_decay, maximize=maximize, foreach=foreach,
                                      differentiable=differentiable, capturable=capturable))

    _rule = "nadam_step"

    def _init(self, g, p, st):
        if not st:
            st["step"], st["mu_product"] = 0, 1.0
            st["exp_avg"], st["exp_avg_sq"] = _zeros_like(p), _zeros_like(p)

    def _advance(self, g, st):
        st["step"] += 1
        st["mu_product"] *= g["betas"][0] * (1.0 - 0.5 * 0.96 ** (st["step"] * g["momentum_decay"]))

    def _state_names(self, g):
        return ["exp_avg", "exp_avg_sq"]

    def _attrs(self, g, st):
        b1, b2 = g["betas"]
        return dict(lr=g["lr"], beta1=b1, beta2=b2, eps=g["eps"], weight_decay=g["weight_decay"],
                    momentum_decay=g["momentum_decay"], mu_product=float(st["mu_product"]),
                    decoupled_weight_decay=bool(g["decoupled_weight_decay"]), step=int(st["step"]),
                    maximize=bool(g["maximize"]))

    def _update(self, g, p, grad, st):
        self._init(g, p, st)
        self._advance(g, st)
        t = st["step"]
        b1, b2 = g["betas"]
        lr, wd, md = g["lr"], g["weight_decay"], g["momentum_decay"]
        if wd:
            if g["decoupled_weight_decay"]:
                p.mul_(1 - lr * wd)
            else:
                grad = grad + wd * p
        bc2 = 1 - b2 ** t
        mu = b1 * (1.0 - 0.5 * 0.96 ** (t * md))
        mu_next = b1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * md))
        st["exp_avg"].lerp_(grad, 1 - b1)
        st["exp_avg_sq"].mul_(b2).add_(grad * grad, alpha=1 - b2)
        denom = _ops.sqrt(st["exp_avg_sq"] / bc2) + g["eps"]
        mp_next = st["mu_product"] * mu_next
        p.sub_(grad / denom * (lr * (1 - mu) / (1 - st["mu_product"])))
        p.sub_(st["exp_avg"] / denom * (lr * mu_next / (1 - mp_next)))


class RAdam(_Elementwise):
    """RAdam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
    decoupled_weight_decay=False, *, maximize=False): Adam with a rectified adaptive rate (plain
    momentum SGD while the variance estimate is unreliable, rho_t <= 5)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled_weight_decay=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False):
        _check(lr, eps, weight_decay, betas)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      decoupled_weight_decay=decoupled_weight_decay, maximize=maximize, foreach=foreach,
                                      differentiable=differentiable, capturable=capturable))

    _rule = "radam_step"

    def _init(self, g, p, st):
        if not st:
            st["step"] = 0
            st["exp_avg"], st["exp_avg_sq"] = _zeros_like(p), _zeros_like(p)

    def _state_names(self, g):
        return ["exp_avg", "exp_avg_sq"]

    def _attrs(self, g, st):
        b1, b2 = g["betas"]
        return dict(lr=g["lr"], beta1=b1, beta2=b2, eps=g["eps"], weight_decay=g["weight_decay"],
                    decoupled_weight_decay=bool(g["decoupled_weight_decay"]), step=int(st["step"]),
                    maximize=bool(g["maximize"]))

    def _update(self, g, p, grad, st):
        self._init(g, p, st)
        self._advance(g, st)
        t = st["step"]
        b1, b2 = g["betas"]
        lr, wd = g["lr"], g["weight_decay"]
        if wd:
            if g["decoupled_weight_decay"]:
                p.mul_(1 - lr * wd)
            else:
                grad = grad + wd * p
        st["exp_avg"].lerp_(grad, 1 - b1)
        st["exp_avg_sq"].mul_(b2).add_(grad * grad, alpha=1 - b2)
        bc1, bc2 = 1 - b1 ** t, 1 - b2 ** t
        m_hat = st["exp_avg"] / bc1
        rho_inf = 2 / (1 - b2) - 1
        rho_t = rho_inf - 2 * t * (b2 ** t) / bc2
        if rho_t > 5.0:
            rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            adaptive = math.sqrt(bc2) / (_ops.sqrt(st["exp_avg_sq"]) + g["eps"])
            p.sub_(m_hat * adaptive * (lr * rect))
        else:
            p.sub_(m_hat * lr)


class Adadelta(_Elementwise):
    """Adadelta(params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, *, maximize=False)."""

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *, capturable=False,
                 maximize=False, differentiable=False):
        _check(lr, eps, weight_decay)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                                      foreach=foreach, differentiable=differentiable, capturable=capturable))

    _rule = "adadelta_step"

    def _init(self, g, p, st):
        if not st:
            st["step"] = 0
            st["square_avg"], st["acc_delta"] = _zeros_like(p), _zeros_like(p)

    def _state_names(self, g):
        return ["square_avg", "acc_delta"]

    def _attrs(self, g, st):
        return dict(lr=g["lr"], rho=g["rho"], eps=g["eps"], weight_decay=g["weight_decay"], maximize=bool(g["maximize"]))

    def _update(self, g, p, grad, st):
        self._init(g, p, st)
        self._advance(g, st)
        rho, eps = g["rho"], g["eps"]
        if g["weight_decay"]:
            grad = grad + g["weight_decay"] * p
        st["square_avg"].mul_(rho).add_(grad * grad, alpha=1 - rho)
        std = _ops.sqrt(st["square_avg"] + eps)
        delta = _ops.sqrt(st["acc_delta"] + eps) / std * grad
        st["acc_delta"].mul_(rho).add_(delta * delta, alpha=1 - rho)
        p.sub_(delta * g["lr"])


class ASGD(_Elementwise):
    """ASGD(params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, *, maximize=False):
    averaged SGD (the average is kept in ``state[p]['ax']``)."""

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, foreach=None, maximize=False,
                 differentiable=False, capturable=False):
        _check(lr, None, weight_decay)
        super().__init__(params, dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay, maximize=maximize))

    def _update(self, g, p, grad, st):
        if not st:
            st["step"], st["eta"], st["mu"] = 0, g["lr"], 1.0
            st["ax"] = _zeros_like(p)
        st["step"] += 1
        if g["weight_decay"]:
            grad = grad + g["weight_decay"] * p
        eta, mu = st["eta"], st["mu"]
        p.mul_(1 - g["lambd"] * eta)
        p.sub_(grad * eta)
        if mu != 1:
            st["ax"].add_((p - st["ax"]) * mu)
        else:
            st["ax"].copy_(p)
        st["eta"] = g["lr"] / ((1 + g["lambd"] * g["lr"] * st["step"]) ** g["alpha"])
        st["mu"] = 1 / max(1, st["step"] - g["t0"])


class Rprop(_Elementwise):
    """Rprop(params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *, maximize=False):
    per-element step sizes grown while the gradient keeps its sign and shrunk when it flips."""

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *, capturable=False, foreach=None,
                 maximize=False, differentiable=False):
        _check(lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        super().__init__(params, dict(lr=lr, etas=etas, step_sizes=step_sizes, maximize=maximize))

    def _update(self, g, p, grad, st):
        if not st:
            st["step"] = 0
            st["prev"] = _zeros_like(p)
            st["step_size"] = _zeros_like(p).fill_(g["lr"])
        st["step"] += 1
        etaminus, etaplus = g["etas"]
        lo, hi = g["step_sizes"]
        s = _ops.sign(grad * st["prev"])
        # 1, etaplus or etaminus per element, computed in the parameter's dtype
        factor = 1.0 + (s > 0).to(p.dtype) * (etaplus - 1.0) + (s < 0).to(p.dtype) * (etaminus - 1.0)
        st["step_size"].copy_(_ops.clamp(st["step_size"] * factor, lo, hi))
        grad = _ops.where(s < 0, 0.0, grad).to(p.dtype)
        p.sub_(_ops.sign(grad) * st["step_size"])
        st["prev"].copy_(grad)


class Adafactor(_Elementwise):
    """Adafactor(params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0, *,
    maximize=False): Adam-like steps with the second moment of a matrix kept as a row and a
    column factor (memory O(n + m)); relative step sizes ``max(eps2, RMS(param)) * min(lr, 1/sqrt(t))``
    and updates clipped to RMS ``d``."""

    def __init__(self, params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0, *, foreach=None,
                 maximize=False):
        _check(lr, None, weight_decay)
        if not beta2_decay <= 0.0:
            raise ValueError(f"beta2_decay should be <= 0 but is: {beta2_decay}")
        if eps[0] is not None and not 0.0 <= eps[0]:
            raise ValueError(f"epsilon1 should be >= 0 but is: {eps[0]}")
        if not 0.0 <= eps[1]:
            raise ValueError(f"epsilon2 should be >= 0 but is: {eps[1]}")
        if not 1.0 <= d:
            raise ValueError(f"Clipping threshold d should be >= 1 but is: {d}")
        super().__init__(params, dict(lr=lr, beta2_decay=beta2_decay, eps=eps, d=d, weight_decay=weight_decay,
                                      maximize=maximize))

    def _update(self, g, p, grad, st):
        from .._api_misc import finfo

        if not st:
            st["step"] = 0
            if p.ndim > 1:
                st["row_var"] = _core.zeros(list(p.shape[:-1]) + [1], p._dtype, p._device)
                st["col_var"] = _core.zeros(list(p.shape[:-2]) + [1, p.shape[-1]], p._dtype, p._device)
            else:
                st["variance"] = _zeros_like(p)
        st["step"] += 1
        t = float(st["step"])
        eps1, eps2 = g["eps"]
        if eps1 is None:
            eps1 = finfo(p.dtype).eps
        one_minus_beta2 = t ** g["beta2_decay"]
        rho = min(g["lr"], 1 / math.sqrt(t))
        alpha = max(eps2, float(_ops.sqrt((p * p).sum())) / math.sqrt(max(p.numel(), 1))) * rho
        if g["weight_decay"]:
            p.mul_(1 - g["lr"] * g["weight_decay"])
        sq = grad * grad
        if p.ndim > 1:
            st["row_var"].lerp_(sq.mean(-1, keepdim=True), one_minus_beta2)
            st["col_var"].lerp_(sq.mean(-2, keepdim=True), one_minus_beta2)
            var = _ops.matmul(st["row_var"], st["col_var"])
            var = var / _ops.clamp(st["row_var"].mean(-2, keepdim=True), min=eps1)
        else:
            st["variance"].lerp_(sq, one_minus_beta2)
            var = st["variance"]
        update = _ops.rsqrt(_ops.clamp(var, min=eps1 * eps1)) * grad
        denom = max(1.0, float(_ops.sqrt((update * update).sum())) / (math.sqrt(update.numel()) * g["d"]))
        p.sub_(update * (alpha / denom))


class SparseAdam(_Elementwise):
    """SparseAdam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, *, maximize=False): lazy Adam —
    only the entries present in the gradient are updated (their moments and values). A sparse
    gradient (``nn.Embedding(sparse=True)``) is applied at its indices, with PyTorch's
    arithmetic; deepseek also takes a dense gradient, where "present" means non-zero."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, maximize=False):
        _check(lr, eps, None, betas)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, maximize=maximize))

    def _update(self, g, p, grad, st):
        if not st:
            st["step"] = 0
            st["exp_avg"], st["exp_avg_sq"] = _zeros_like(p), _zeros_like(p)
        st["step"] += 1
        t = st["step"]
        b1, b2 = g["betas"]
        if not isinstance(grad, Tensor):
            return self._update_sparse(g, p, grad.coalesce(), st, t)
        present = (grad != 0).to(p.dtype)
        st["exp_avg"].add_((grad - st["exp_avg"]) * (1 - b1) * present)
        st["exp_avg_sq"].add_((grad * grad - st["exp_avg_sq"]) * (1 - b2) * present)
        step_size = g["lr"] * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        denom = _ops.sqrt(st["exp_avg_sq"]) + g["eps"]
        p.sub_(st["exp_avg"] / denom * present * step_size)

    @staticmethod
    def _update_sparse(g, p, grad, st, t):
        """PyTorch's SparseAdam step on a coalesced sparse gradient: the moments and the
        parameter change only at the gradient's indices."""
        b1, b2 = g["betas"]
        idx, vals = tuple(grad._ind.unbind(0)), grad._vals
        m, v = st["exp_avg"], st["exp_avg_sq"]
        old_m, old_v = m[idx], v[idx]
        m_upd = (vals - old_m) * (1 - b1)
        v_upd = (vals * vals - old_v) * (1 - b2)
        m.index_put_(idx, m_upd, accumulate=True)
        v.index_put_(idx, v_upd, accumulate=True)
        step_size = g["lr"] * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        p.index_put_(idx, (m_upd + old_m) / (_ops.sqrt(v_upd + old_v) + g["eps"]) * -step_size, accumulate=True)


class LBFGS(Optimizer):
    """LBFGS(params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7, tolerance_change=1e-9,
    history_size=100, line_search_fn=None): limited-memory BFGS over all parameters as one
    vector (one parameter group); ``step(closure)`` re-evaluates the loss through ``closure``.
    Fixed step ``lr`` (no line search) as PyTorch's default."""

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7, tolerance_change=1e-9,
                 history_size=100, line_search_fn=None):
        _check(lr)
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        if line_search_fn is not None:
            raise NotImplementedError(f"LBFGS: line_search_fn={line_search_fn!r} is not supported (only None)")
        super().__init__(params, dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                                      tolerance_change=tolerance_change, history_size=history_size,
                                      line_search_fn=line_search_fn))
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]

    def _flat_grad(self):
        parts = [(_core.zeros([p.numel()], p._dtype, p._device) if p.grad is None else p.grad.reshape(-1))
                 for p in self._params]
        return _ops.cat(parts, 0)

    def _add(self, t, d):
        off = 0
        for p in self._params:
            n = p.numel()
            p.add_(d[off:off + n].reshape(p.shape) * t)
            off += n

    def step(self, closure):
        """Runs up to ``max_iter`` iterations; returns the loss of the first closure call."""
        if closure is None:
            raise RuntimeError("LBFGS requires a closure that re-evaluates the model and returns the loss")
        from ..autograd import enable_grad

        g = self.param_groups[0]
        lr, max_iter, max_eval = g["lr"], g["max_iter"], g["max_eval"]
        tol_grad, tol_change, hist = g["tolerance_grad"], g["tolerance_change"], g["history_size"]
        state = self.state.setdefault(self._params[0], {})
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)
        with enable_grad():
            orig_loss = closure()
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        with _NoGrad():
            flat_grad = self._flat_grad()
            if float(_ops.abs(flat_grad).max()) <= tol_grad:
                return orig_loss
            d, t = state.get("d"), state.get("t")
            old_dirs, old_stps, ro = state.get("old_dirs", []), state.get("old_stps", []), state.get("ro", [])
            H_diag = state.get("H_diag", 1.0)
            prev_flat_grad, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")
            n_iter = 0
            while n_iter < max_iter:
                n_iter += 1
                state["n_iter"] += 1
                if state["n_iter"] == 1:
                    d = -flat_grad
                    old_dirs, old_stps, ro, H_diag = [], [], [], 1.0
                else:
                    y = flat_grad - prev_flat_grad
                    s = d * t
                    ys = float(_ops.dot(y, s))
                    if ys > 1e-10:
                        if len(old_dirs) == hist:
                            old_dirs.pop(0)
                            old_stps.pop(0)
                            ro.pop(0)
                        old_dirs.append(y)
                        old_stps.append(s)
                        ro.append(1.0 / ys)
                        H_diag = ys / float(_ops.dot(y, y))
                    al = [0.0] * len(old_dirs)
                    q = -flat_grad
                    for i in range(len(old_dirs) - 1, -1, -1):
                        al[i] = float(_ops.dot(old_stps[i], q)) * ro[i]
                        q = q - old_dirs[i] * al[i]
                    r = q * H_diag
                    for i in range(len(old_dirs)):
                        be_i = float(_ops.dot(old_dirs[i], r)) * ro[i]
                        r = r + old_stps[i] * (al[i] - be_i)
                    d = r
                prev_flat_grad, prev_loss = flat_grad.clone(), loss
                t = min(1.0, 1.0 / float(_ops.abs(flat_grad).sum())) * lr if state["n_iter"] == 1 else lr
                gtd = float(_ops.dot(flat_grad, d))
                if gtd > -tol_change:
                    break
                self._add(t, d)
                ls_evals = 0
                opt_cond = False
                if n_iter != max_iter:
                    with enable_grad():
                        loss = float(closure())
                    flat_grad = self._flat_grad()
                    opt_cond = float(_ops.abs(flat_grad).max()) <= tol_grad
                    ls_evals = 1
                current_evals += ls_evals
                state["func_evals"] += ls_evals
                if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                    break
                if float(_ops.abs(d * t).max()) <= tol_change or abs(loss - prev_loss) < tol_change:
                    break
            state.update(d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=H_diag,
                         prev_flat_grad=prev_flat_grad, prev_loss=prev_loss)
        return orig_loss


__all__ = ["Adamax", "NAdam", "RAdam", "Adadelta", "ASGD", "Rprop", "Adafactor", "SparseAdam", "LBFGS"]
