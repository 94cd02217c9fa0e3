"""``nn.utils.prune``: masks that zero parts of a parameter, as ``torch.nn.utils.prune``.

Pruning ``module.name`` moves the parameter to ``module.name_orig``, stores the mask in the
buffer ``module.name_mask`` and makes ``module.name`` the product of the two, recomputed
before every forward by a pre-hook. Pruning the same tensor again combines the masks (the new
amount is a share of the elements still unpruned); ``remove`` makes the pruning permanent.

Beyond PyTorch, ``to_sparse_linear`` turns a pruned ``nn.Linear`` into a
``deepseek.sparse.SparseLinear`` whose weight is stored in CSR, for faster inference at high
sparsity.

Example::

    >>> lin = nn.Linear(64, 32)
    >>> prune.l1_unstructured(lin, "weight", amount=0.9)
    >>> float((lin.weight == 0).float().mean())
    0.9
    >>> prune.remove(lin, "weight")
"""
from __future__ import annotations

import numbers
from abc import ABC, abstractmethod

from ... import _core, _creation, _ops, _random
from ..._core import Tensor


def _no_grad():
    from ...autograd import no_grad

    return no_grad()


def _validate_amount_init(amount):
    if not isinstance(amount, numbers.Real) or isinstance(amount, bool):
        raise TypeError(f"Invalid type for amount: {amount!r}. Must be int or float.")
    if (isinstance(amount, numbers.Integral) and amount < 0) or \
            (not isinstance(amount, numbers.Integral) and (float(amount) > 1.0 or float(amount) < 0.0)):
        raise ValueError(f"amount={amount} should either be a float in the range [0, 1] or a non-negative integer")


def _validate_amount(amount, tensor_size):
    if isinstance(amount, numbers.Integral) and amount > tensor_size:
        raise ValueError(f"amount={amount} should be smaller than the number of parameters to prune={tensor_size}")


def _nparams_toprune(amount, tensor_size):
    if isinstance(amount, numbers.Integral):
        return int(amount)
    return round(amount * tensor_size)


def _norm_dim(dim, t):
    n = t.ndim
    if not -n <= dim < n:
        raise IndexError(f"Invalid index {dim} for tensor of size {tuple(t.shape)}")
    return dim % n


class BasePruningMethod(ABC):
    """The base of pruning methods: ``compute_mask(t, default_mask)`` says which elements stay
    (1) and which go (0); ``apply`` installs the mask on a module."""

    _tensor_name: str
    PRUNING_TYPE = "unstructured"

    def __call__(self, module, inputs):
        # the forward pre-hook: recompute module.name from the original and the mask
        setattr(module, self._tensor_name, self.apply_mask(module))

    @abstractmethod
    def compute_mask(self, t, default_mask):
        """The new mask for ``t``, given the mask already applied (``default_mask``)."""

    def apply_mask(self, module):
        """``module.name_orig * module.name_mask``."""
        orig = getattr(module, self._tensor_name + "_orig")
        mask = getattr(module, self._tensor_name + "_mask")
        return orig * mask.to(orig.dtype)

    @classmethod
    def apply(cls, module, name, *args, importance_scores=None, **kwargs):
        """Prunes ``module.name`` with ``cls(*args, **kwargs)``; returns the method (a
        ``PruningContainer`` when the tensor was already pruned)."""
        old, keys = None, []
        for k, hook in module._forward_pre_hooks.items():
            if isinstance(hook, BasePruningMethod) and hook._tensor_name == name:
                old = hook
                keys.append(k)
        if len(keys) > 1:
            raise RuntimeError(f"Avoid adding multiple pruning hooks to the same tensor {name} of module {module}. Use a PruningContainer.")
        for k in keys:
            del module._forward_pre_hooks[k]
        method = cls(*args, **kwargs)
        method._tensor_name = name
        if old is not None:
            container = old if isinstance(old, PruningContainer) else PruningContainer(old)
            container.add_pruning_method(method)
            method = container
        orig = getattr(module, name)
        if not isinstance(orig, Tensor):
            raise AttributeError(f"Parameter '{name}' of module {type(module).__name__} is not a tensor and cannot be pruned")
        if importance_scores is not None:
            if tuple(importance_scores.shape) != tuple(orig.shape):
                raise ValueError(f"importance_scores should have the same shape as parameter {name} of {module}: "
                                 f"{tuple(importance_scores.shape)} vs {tuple(orig.shape)}")
        else:
            importance_scores = orig
        if old is None:
            module.register_parameter(name + "_orig", orig)
            del module._parameters[name]
            default_mask = _creation.ones_like(orig)
        else:
            default_mask = _core.clone(getattr(module, name + "_mask").detach())
        try:
            with _no_grad():
                mask = method.compute_mask(importance_scores.detach(), default_mask=default_mask)
            module.register_buffer(name + "_mask", mask)
            setattr(module, name, method.apply_mask(module))
            module.register_forward_pre_hook(method)
        except Exception:
            if old is None:  # leave the module as it was
                orig = module._parameters.pop(name + "_orig")
                module._buffers.pop(name + "_mask", None)
                module.__dict__.pop(name, None)
                module.register_parameter(name, orig)
            raise
        return method

    def prune(self, t, default_mask=None, importance_scores=None):
        """``t`` with this method's mask applied (no module involved)."""
        scores = t if importance_scores is None else importance_scores
        dm = _creation.ones_like(t) if default_mask is None else default_mask
        with _no_grad():
            m = self.compute_mask(scores, default_mask=dm)
        return t * m.to(t.dtype)

    def remove(self, module):
        """Makes the pruning permanent: ``module.name`` becomes a parameter holding the pruned
        values, and ``name_orig``/``name_mask`` go."""
        weight = self.apply_mask(module)
        module.__dict__.pop(self._tensor_name, None)
        orig = module._parameters[self._tensor_name + "_orig"]
        orig.data = weight.detach()
        del module._parameters[self._tensor_name + "_orig"]
        del module._buffers[self._tensor_name + "_mask"]
        setattr(module, self._tensor_name, orig)


class PruningContainer(BasePruningMethod):
    """A sequence of pruning methods applied one after the other to the same tensor."""

    def __init__(self, *args):
        self._pruning_methods = ()
        if len(args) == 1 and not isinstance(args[0], BasePruningMethod):
            args = tuple(args[0])
        for m in args:
            self.add_pruning_method(m)

    def add_pruning_method(self, method):
        if not isinstance(method, BasePruningMethod) and method is not None:
            raise TypeError(f"{type(method)} is not a BasePruningMethod subclass")
        if method is not None and self._pruning_methods and self._tensor_name != method._tensor_name:
            raise ValueError(f"Can only add pruning methods acting on the parameter named '{self._tensor_name}' to "
                             f"PruningContainer. Found '{method._tensor_name}'")
        if method is not None:
            self._tensor_name = method._tensor_name
            self._pruning_methods += (method,)

    def __len__(self):
        return len(self._pruning_methods)

    def __iter__(self):
        return iter(self._pruning_methods)

    def __getitem__(self, idx):
        return self._pruning_methods[idx]

    def compute_mask(self, t, default_mask):
        """The last method's mask computed on the elements (or channels) the earlier ones
        kept, combined with theirs."""
        method = self._pruning_methods[-1]
        new_mask = _core.clone(default_mask.to(t.dtype))
        if method.PRUNING_TYPE == "unstructured":
            keep = default_mask == 1
            partial = method.compute_mask(t[keep], default_mask=default_mask[keep])
            new_mask[keep] = partial.to(new_mask.dtype)
        elif method.PRUNING_TYPE == "structured":
            dim = _norm_dim(method.dim, t)
            others = [d for d in range(t.ndim) if d != dim]
            kept = _ops.nonzero(default_mask.sum(others) != 0 if others else default_mask != 0).reshape(-1)
            sub = method.compute_mask(_core.index_select(t, dim, kept), default_mask=_core.index_select(default_mask, dim, kept))
            new_mask = _index_copy(new_mask, dim, kept, sub.to(new_mask.dtype))
        elif method.PRUNING_TYPE == "global":
            new_mask = method.compute_mask(t, default_mask=default_mask).to(new_mask.dtype)
        else:
            raise ValueError(f"Unrecognized PRUNING_TYPE {method.PRUNING_TYPE}")
        return new_mask


def _index_copy(t, dim, index, src):
    t = _core.clone(t)
    key = [slice(None)] * t.ndim
    key[dim] = index
    t[tuple(key)] = src
    return t


class Identity(BasePruningMethod):
    """Prunes nothing (the mask is all ones)."""

    PRUNING_TYPE = "unstructured"

    def compute_mask(self, t, default_mask):
        return default_mask

    @classmethod
    def apply(cls, module, name):
        return super().apply(module, name)


class RandomUnstructured(BasePruningMethod):
    """Prunes ``amount`` elements (a share when a float) chosen at random."""

    PRUNING_TYPE = "unstructured"

    def __init__(self, amount):
        _validate_amount_init(amount)
        self.amount = amount

    def compute_mask(self, t, default_mask):
        _validate_amount(self.amount, t.numel())
        k = _nparams_toprune(self.amount, t.numel())
        mask = _core.clone(default_mask)
        if k:
            prob = _random.rand_like(t.to("float32") if not t.dtype.is_floating_point else t)
            mask.view(-1)[_ops.topk(prob.reshape(-1), k).indices] = 0
        return mask

    @classmethod
    def apply(cls, module, name, amount):
        return super().apply(module, name, amount=amount)


class L1Unstructured(BasePruningMethod):
    """Prunes the ``amount`` elements (a share when a float) of smallest absolute value."""

    PRUNING_TYPE = "unstructured"

    def __init__(self, amount):
        _validate_amount_init(amount)
        self.amount = amount

    def compute_mask(self, t, default_mask):
        _validate_amount(self.amount, t.numel())
        k = _nparams_toprune(self.amount, t.numel())
        mask = _core.clone(default_mask)
        if k:
            mask.view(-1)[_ops.topk(_ops.abs(t).reshape(-1), k, largest=False).indices] = 0
        return mask

    @classmethod
    def apply(cls, module, name, amount, importance_scores=None):
        return super().apply(module, name, amount=amount, importance_scores=importance_scores)


class _Structured(BasePruningMethod):
    PRUNING_TYPE = "structured"

    def _channels(self, t):
        if t.ndim == 0:
            raise ValueError("structured pruning needs a tensor with at least one dim")
        dim = _norm_dim(self.dim, t)
        _validate_amount(self.amount, t.shape[dim])
        return dim, _nparams_toprune(self.amount, t.shape[dim])

    def _mask_keeping(self, t, default_mask, dim, keep):
        mask = _creation.zeros_like(default_mask)
        key = [slice(None)] * t.ndim
        key[dim] = keep
        mask[tuple(key)] = 1
        return mask * default_mask


class RandomStructured(_Structured):
    """Prunes ``amount`` whole channels along ``dim`` chosen at random."""

    def __init__(self, amount, dim=-1):
        _validate_amount_init(amount)
        self.amount, self.dim = amount, dim

    def compute_mask(self, t, default_mask):
        dim, k = self._channels(t)
        if k == 0:
            return default_mask
        keep = _ops.topk(_random.rand(t.shape[dim]), t.shape[dim] - k).indices
        return self._mask_keeping(t, default_mask, dim, keep)

    @classmethod
    def apply(cls, module, name, amount, dim=-1):
        return super().apply(module, name, amount=amount, dim=dim)


class LnStructured(_Structured):
    """Prunes the ``amount`` channels along ``dim`` of smallest ``n``-norm."""

    def __init__(self, amount, n, dim=-1):
        _validate_amount_init(amount)
        self.amount, self.n, self.dim = amount, n, dim

    def compute_mask(self, t, default_mask):
        dim, k = self._channels(t)
        if k == 0:
            return default_mask
        others = [d for d in range(t.ndim) if d != dim]
        norms = _ops.norm(t, p=self.n, dim=others) if others else _ops.abs(t)
        keep = _ops.topk(norms, t.shape[dim] - k, largest=True).indices
        return self._mask_keeping(t, default_mask, dim, keep)

    @classmethod
    def apply(cls, module, name, amount, n, dim, importance_scores=None):
        return super().apply(module, name, amount=amount, n=n, dim=dim, importance_scores=importance_scores)


class CustomFromMask(BasePruningMethod):
    """Applies a given mask."""

    PRUNING_TYPE = "global"

    def __init__(self, mask):
        self.mask = mask

    def compute_mask(self, t, default_mask):
        if tuple(default_mask.shape) != tuple(self.mask.shape):
            raise ValueError(f"custom_from_mask: mask of shape {tuple(self.mask.shape)} for a tensor of shape {tuple(t.shape)}")
        return default_mask * self.mask.to(default_mask.dtype)

    @classmethod
    def apply(cls, module, name, mask):
        return super().apply(module, name, mask=mask)


def identity(module, name):
    """Installs pruning on ``module.name`` with a mask of ones (nothing pruned)."""
    Identity.apply(module, name)
    return module


def random_unstructured(module, name, amount):
    """Prunes ``amount`` random elements of ``module.name`` (a share when a float)."""
    RandomUnstructured.apply(module, name, amount)
    return module


def l1_unstructured(module, name, amount, importance_scores=None):
    """Prunes the ``amount`` elements of ``module.name`` of smallest absolute value (or of
    smallest ``importance_scores``)."""
    L1Unstructured.apply(module, name, amount=amount, importance_scores=importance_scores)
    return module


def random_structured(module, name, amount, dim):
    """Prunes ``amount`` random channels of ``module.name`` along ``dim``."""
    RandomStructured.apply(module, name, amount, dim)
    return module


def ln_structured(module, name, amount, n, dim, importance_scores=None):
    """Prunes the ``amount`` channels along ``dim`` of smallest ``n``-norm."""
    LnStructured.apply(module, name, amount, n, dim, importance_scores=importance_scores)
    return module


def custom_from_mask(module, name, mask):
    """Prunes ``module.name`` with the given mask (0 prunes)."""
    CustomFromMask.apply(module, name, mask)
    return module


def global_unstructured(parameters, pruning_method, importance_scores=None, **kwargs):
    """Prunes the ``(module, name)`` pairs of ``parameters`` together: ``pruning_method``
    (e.g. ``L1Unstructured`` with ``amount=``) ranks all their elements as one vector."""
    if not hasattr(parameters, "__iter__") or isinstance(parameters, Tensor):
        raise TypeError("global_unstructured(): parameters should be an iterable of (module, name) pairs")
    parameters = list(parameters)
    importance_scores = importance_scores if importance_scores is not None else {}
    if not isinstance(importance_scores, dict):
        raise TypeError("global_unstructured(): importance_scores should be a dict")
    scores, masks = [], []
    for module, name in parameters:
        t = importance_scores.get((module, name), getattr(module, name))
        scores.append(t.detach().reshape(-1))
        m = getattr(module, name + "_mask", None)
        masks.append((m if m is not None else _creation.ones_like(t)).reshape(-1))
    relevant = _ops.cat(scores)
    default_mask = _ops.cat(masks)
    container = PruningContainer()
    container._tensor_name = "temp"
    method = pruning_method(**kwargs)
    method._tensor_name = "temp"
    if method.PRUNING_TYPE != "unstructured":
        raise TypeError(f'Only "unstructured" PRUNING_TYPE supported for the `pruning_method`. Found method {pruning_method} '
                        f"of type {method.PRUNING_TYPE}")
    container.add_pruning_method(method)
    with _no_grad():
        final = container.compute_mask(relevant, default_mask)
    pointer = 0
    for module, name in parameters:
        p = getattr(module, name)
        n = p.numel()
        custom_from_mask(module, name, final[pointer:pointer + n].reshape(list(p.shape)))
        pointer += n


def remove(module, name):
    """Makes the pruning of ``module.name`` permanent (the reparametrization goes)."""
    for k, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, BasePruningMethod) and hook._tensor_name == name:
            hook.remove(module)
            del module._forward_pre_hooks[k]
            return module
    raise ValueError(f"Parameter '{name}' of module {module} has to be pruned before pruning can be removed")


def is_pruned(module):
    """Whether any submodule of ``module`` has a pruning hook."""
    return any(isinstance(h, BasePruningMethod) for m in module.modules() for h in m._forward_pre_hooks.values())


def to_sparse_linear(module, layout=None):
    """to_sparse_linear(module, layout=deepseek.sparse_csr) -> deepseek.sparse.SparseLinear

    deepseek's own: a ``SparseLinear`` computing what the (pruned) ``nn.Linear`` ``module``
    computes, with the weight's non-zero elements stored sparse (CSR by default). At 90%
    sparsity and beyond its forward is faster than the dense layer's.
    """
    from ...sparse import SparseLinear

    return SparseLinear.from_linear(module, layout=layout)
