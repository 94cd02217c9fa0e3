"""The base of the element-wise optimizers (one core call per parameter group by default, as
PyTorch's foreach path), and RMSprop and Adagrad with PyTorch's update rules."""
from __future__ import annotations

from .. import _core
from .._core import Tensor
from .optimizer import Optimizer, _NoGrad


def _zeros_like(p, dtype=None):
    return _core.zeros(list(p.shape), dtype or p._dtype, p._device)


def _fusable(p, bufs):
    """Whether the core's fused kernels take ``p``: a contiguous CPU float32/float64 tensor with a
    dense gradient of its dtype and shape (any layout) and contiguous state buffers like it."""
    g = p.grad
    return (isinstance(g, Tensor) and p._device == "cpu" and p._dtype in ("float32", "float64") and p.is_contiguous()
            and g._device == "cpu" and g._dtype == p._dtype and g.shape == p.shape
            and all(b._device == "cpu" and b._dtype == p._dtype and b.shape == p.shape and b.is_contiguous() for b in bufs))


class _Elementwise(Optimizer):
    """An optimizer whose update is element-wise: ``_update(group, p, grad, state)`` per parameter.

    A subclass that names its fused core op in ``_rule`` and says how its state is laid out
    (``_init``, ``_advance``, ``_state_names``, ``_attrs``) steps every CPU float32/float64
    parameter of a group in one call to ``_core.optim_step`` (one call per distinct set of step
    constants), the default as in PyTorch's foreach path; ``foreach=False`` or
    ``differentiable=True`` keeps the per-parameter update. Both leave the same state.
    """

    _rule = None

    def step(self, closure=None):
        loss = None
        if closure is not None:
            from ..autograd import enable_grad

            with enable_grad():
                loss = closure()
        with _NoGrad():
            for g in self.param_groups:
                fuse = self._rule is not None and g.get("foreach") is not False and not g.get("differentiable")
                batches = {}
                for p in g["params"]:
                    if p.grad is None:
                        continue
                    st = self.state.setdefault(p, {})
                    if fuse and isinstance(p.grad, Tensor):
                        self._init(g, p, st)
                        bufs = [st[k] for k in self._state_names(g)]
                        if _fusable(p, bufs):
                            self._advance(g, st)
                            attrs = self._attrs(g, st)
                            b = batches.setdefault(tuple(attrs.items()), (attrs, [], [], [[] for _ in bufs]))
                            b[1].append(p)
                            b[2].append(p.grad if p.grad.is_contiguous() else p.grad.contiguous())
                            for lst, buf in zip(b[3], bufs):
                                lst.append(buf)
                            continue
                    grad = -p.grad if g.get("maximize") else p.grad
                    self._update(g, p, grad, st)
                for attrs, ps, gs, sts in batches.values():
                    _core.optim_step(self._rule, ps, gs, sts, attrs)
        return loss

    def _advance(self, g, st):
        """Counts the step (and updates any scalar state) before an update."""
        st["step"] += 1


class RMSprop(_Elementwise):
    """RMSprop(params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
    capturable=False, foreach=None, maximize=False, differentiable=False).

    On the CPU one core call per parameter group updates every parameter and its buffers in a
    single pass (``foreach=False`` keeps the per-parameter update)."""

    _rule = "rmsprop_step"

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        if lr < 0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if eps < 0:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if momentum < 0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if alpha < 0:
            raise ValueError(f"Invalid alpha value: {alpha}")
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered, capturable=capturable, foreach=foreach, maximize=maximize,
                                      differentiable=differentiable))

    def _init(self, g, p, st):
        if not st:
            st["step"] = 0
            st["square_avg"] = _zeros_like(p)
            if g["momentum"]:
                st["momentum_buffer"] = _zeros_like(p)
            if g["centered"]:
                st["grad_avg"] = _zeros_like(p)

    def _state_names(self, g):
        return ["square_avg"] + (["momentum_buffer"] if g["momentum"] else []) + (["grad_avg"] if g["centered"] else [])

    def _attrs(self, g, st):
        return dict(lr=g["lr"], alpha=g["alpha"], eps=g["eps"], weight_decay=g["weight_decay"], momentum=g["momentum"],
                    centered=bool(g["centered"]), maximize=bool(g["maximize"]))

    def _update(self, g, p, grad, st):
        self._init(g, p, st)
        self._advance(g, st)
        if g["weight_decay"]:
            grad = grad + g["weight_decay"] * p
        sq = st["square_avg"]
        sq.mul_(g["alpha"]).add_(grad * grad, alpha=1 - g["alpha"])
        if g["centered"]:
            st["grad_avg"].mul_(g["alpha"]).add_(grad, alpha=1 - g["alpha"])
            avg = (sq - st["grad_avg"] * st["grad_avg"]).sqrt().add_(g["eps"])
        else:
            avg = sq.sqrt().add_(g["eps"])
        if g["momentum"]:
            buf = st["momentum_buffer"]
            buf.mul_(g["momentum"]).add_(grad / avg)
            p.sub_(buf * g["lr"])
        else:
            p.sub_(grad / avg * g["lr"])


class Adagrad(_Elementwise):
    """Adagrad(params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
    foreach=None, *, maximize=False, differentiable=False, fused=None).

    On the CPU one core call per parameter group updates every parameter and its sum in a
    single pass (``foreach=False`` keeps the per-parameter update)."""

    _rule = "adagrad_step"

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None):
        if lr < 0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if lr_decay < 0:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if weight_decay < 0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if initial_accumulator_value < 0:
            raise ValueError(f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        if eps < 0:
            raise ValueError(f"Invalid epsilon value: {eps}")
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable, fused=fused))

    def _init(self, g, p, st):
        if not st:
            st["step"] = 0
            st["sum"] = _core.full(list(p.shape), g["initial_accumulator_value"], p._dtype, p._device)

    def _state_names(self, g):
        return ["sum"]

    def _attrs(self, g, st):
        return dict(lr=g["lr"], lr_decay=g["lr_decay"], weight_decay=g["weight_decay"], eps=g["eps"],
                    step=int(st["step"]), maximize=bool(g["maximize"]))

    def _update(self, g, p, grad, st):
        self._init(g, p, st)
        self._advance(g, st)
        if g["weight_decay"]:
            grad = grad + g["weight_decay"] * p
        clr = g["lr"] / (1 + (st["step"] - 1) * g["lr_decay"])
        st["sum"].add_(grad * grad)
        p.sub_(grad / (st["sum"].sqrt() + g["eps"]) * clr)
