"""In-place methods of ``deepseek.Tensor`` (``add_``, ``div_``, ``exp_``, ``copy_``, ``uniform_`` ...).

Each writes into the tensor's own storage through the core's ``inplace_`` (which rebases the
autograd history and bumps the version counter) or a direct core write, and returns ``self``;
installed once, at import, beside the rest of the method surface in ``deepseek._tensor``.
"""
from __future__ import annotations

from . import _core, _ops
from ._core import Tensor
from ._dtype import DTYPES
from ._tensor import _method


def _inplace_binary(name, opname):
    def f(self, other):
        return self._binary_(opname, other)

    f.__name__ = name
    setattr(Tensor, name, f)


def _inplace_scaled(name, opname):
    def f(self, other, *, alpha=1):
        if _ops._is_default_alpha(alpha):
            return self._binary_(opname, other)
        scaled, ct = _ops._scaled_other(opname, self, other, alpha)
        if ct == _ops._wide(ct):
            return self._binary_(opname, scaled)
        # float16/bfloat16: the whole update in float32, rounded once
        return _inplace_update(name, self, lambda old: _ops._add_scaled(opname, old, other, alpha))

    f.__name__ = name
    f.__doc__ = f"{name}(other, *, alpha=1) -> Tensor\n\nIn-place ``{opname}``: ``self {'+' if opname == 'add' else '-'}= alpha * other``, computed in the promoted dtype and cast back to this tensor's dtype."
    setattr(Tensor, name, f)


_inplace_scaled("add_", "add")
_inplace_scaled("sub_", "sub")
for _n, _op in [("mul_", "mul"), ("pow_", "pow"),
                ("floor_divide_", "floor_divide"), ("remainder_", "remainder"), ("fmod_", "fmod"),
                ("maximum_", "maximum"), ("minimum_", "minimum"), ("bitwise_and_", "bitwise_and"),
                ("bitwise_or_", "bitwise_or"), ("bitwise_xor_", "bitwise_xor"), ("atan2_", "atan2")]:
    _inplace_binary(_n, _op)
Tensor.subtract_ = Tensor.sub_
Tensor.multiply_ = Tensor.mul_


@_method("div_")
def div_(self, other, *, rounding_mode=None):
    """div_(other, *, rounding_mode=None) -> Tensor

    In-place ``div``: writes into this tensor's storage and returns it. ``rounding_mode``
    is None (true division), ``'trunc'`` or ``'floor'``, as in ``deepseek.div``.
    """
    if rounding_mode is None:
        return self._binary_("div", other)
    if rounding_mode == "floor":
        return self._binary_("floor_divide", other)
    if rounding_mode == "trunc":
        return _inplace_update("div_", self, lambda old: _ops.div(old, other, rounding_mode="trunc"))
    raise ValueError(f"div_ expected rounding_mode to be one of None, 'trunc', or 'floor' but found '{rounding_mode}'")


Tensor.divide_ = Tensor.div_


def _kind(name):
    """bool < integer < floating: PyTorch's can_cast never lets an in-place result move up."""
    d = DTYPES[name]
    return 0 if name == "bool" else (3 if d.is_complex else 2 if d.is_floating_point else 1)


def _inplace_update(name, self, update):
    """Writes ``update(old)`` into ``self``'s storage (history rebased by the core), refusing
    results that cannot be cast back to ``self``'s dtype; returns ``self``."""

    def checked(old):
        r = update(old)
        if _kind(r._dtype) > _kind(self._dtype):
            raise RuntimeError(f"{name}: result type {r._dtype} can't be cast to the desired output type {self._dtype}")
        return r

    _core.inplace_(name, self, checked)
    return self


def _inplace_via(name, fn, check=None):
    """``name`` as a method writing ``fn(self, ...)`` into ``self``; ``check(name, self, ...)``
    first validates the arguments, so that they are refused before the write is."""

    def f(self, *args, **kwargs):
        if check is not None:
            check(name, self, *args, **kwargs)
        return _inplace_update(name, self, lambda old: fn(old, *args, **kwargs))

    f.__name__ = name
    setattr(Tensor, name, f)


for _n in ("exp log log1p expm1 sqrt rsqrt sin cos tan tanh sigmoid erf erfc lgamma digamma floor ceil round trunc reciprocal "
           "relu abs neg sign clamp clip clamp_min clamp_max lerp square cumsum tril triu nan_to_num").split():
    _inplace_via(_n + "_", getattr(_ops, _n))
_inplace_via("masked_fill_", _ops.masked_fill, _ops._masked_fill_inplace_args)
_inplace_via("scatter_", _ops.scatter, lambda name, self, dim, index, src=None, *a, **k: _ops._scatter_args(name, self, dim, index, src))
_inplace_via("scatter_add_", _ops.scatter_add, _ops._scatter_args)
_inplace_via("index_add_", _ops.index_add, lambda name, self, dim, index, source, **k: _ops._index_args(name, self, dim, index, source))
Tensor.negative_ = Tensor.neg_
Tensor.absolute_ = Tensor.abs_


@_method("copy_")
def copy_(self, src, non_blocking=False):
    """copy_(src): copies ``src`` (broadcast, cast) into this tensor."""
    if not isinstance(src, Tensor):
        from ._creation import tensor

        src = tensor(src)
    _core.copy_(self, src)
    return self


@_method("fill_")
def fill_(self, value):
    """fill_(value): sets every element to ``value``."""
    if isinstance(value, Tensor):
        value = value.item()
    _core.fill_(self, value)
    return self


@_method("zero_")
def zero_(self):
    _core.fill_(self, 0)
    return self


def _random_inplace(name, make):
    def f(self, *args, generator=None, **kwargs):
        r = make(self, *args, generator=generator, **kwargs)
        with _no_grad():
            _core.copy_(self, r)
        return self

    f.__name__ = name
    setattr(Tensor, name, f)


def _no_grad():
    from .autograd import no_grad

    return no_grad()


def _uniform(self, a=0.0, b=1.0, generator=None):
    from ._random import _gen

    return _core.rand(list(self.shape), self._dtype, _gen(generator)) * (b - a) + a


def _normal(self, mean=0.0, std=1.0, generator=None):
    from ._random import _gen

    return _core.randn(list(self.shape), self._dtype, _gen(generator)) * std + mean


def _bernoulli(self, p=0.5, generator=None):
    from ._random import _gen

    return _core.bernoulli(_core.full(list(self.shape), float(p), "float64"), _gen(generator))


def _random_int(self, low=0, high=None, generator=None):
    from ._random import _gen

    if high is None:
        low, high = 0, low
    return _core.randint(low, high, list(self.shape), "int64", _gen(generator))


_random_inplace("uniform_", _uniform)
_random_inplace("normal_", _normal)
_random_inplace("bernoulli_", _bernoulli)
_random_inplace("random_", _random_int)
