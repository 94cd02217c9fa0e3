"""The functional tensor API (``deepseek.exp``, ``deepseek.sum`` ...).

Each function validates and normalises its arguments, then makes one call into the Rust
core. Composite ops (softmax, var, logsumexp ...) are written from primitives, so their
gradients come from the primitives' derivatives. The functions live in four layers, each
importing only the ones before it: ``_ops_math`` (argument checks, elementwise ops, matrix
products), ``_ops_reduce`` (reductions, softmax), ``_ops_shape`` (shape and assembly) and
``_ops_index`` (indexing and the rest); this module gathers them under one name.
"""
from ._ops_math import *  # noqa: F401,F403
from ._ops_reduce import *  # noqa: F401,F403
from ._ops_shape import *  # noqa: F401,F403
from ._ops_index import *  # noqa: F401,F403
from . import _ops_index, _ops_math, _ops_reduce, _ops_shape
from ._einsum import einsum  # noqa: F401
# the private helpers other modules of the package reach as ``_ops._name``
from ._ops_args import (  # noqa: F401
    _check_tensor, _fused_bool_or_float, _fused_float, _int_arg, _out, _wrap_dim,
)
from ._ops_math import _add_scaled, _is_default_alpha, _scaled_other, _wide  # noqa: F401
from ._ops_reduce import _MinMax  # noqa: F401
from ._ops_shape import _shape_args  # noqa: F401
from ._ops_index import _index_args, _masked_fill_inplace_args, _scaled_sum, _scatter_args  # noqa: F401

# `from ._ops import *` (deepseek/__init__.py) exports exactly the functions the four layers
# define (aliases included) and einsum; their imports (math, builtins, to_dtype ...) stay private.
_LAYERS = (_ops_math, _ops_reduce, _ops_shape, _ops_index)
__all__ = sorted({
    _k for _m in _LAYERS for _k, _v in vars(_m).items()
    if not _k.startswith("_") and callable(_v)
    and getattr(_v, "__module__", None) in tuple(m.__name__ for m in _LAYERS) + (einsum.__module__,)
})
