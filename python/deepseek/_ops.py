"""The functional tensor API (``deepseek.exp``, ``deepseek.sum`` ...).

Each function validates and normalises its arguments, then makes one call into the Rust
core. Composite ops (softmax, var, logsumexp ...) are written here from primitives, so their
gradients come from the primitives' derivatives.
"""
from __future__ import annotations

import builtins
import math
import operator

from . import _core
from ._core import Tensor
from ._dtype import Size, to_dtype
from ._einsum import einsum

from .backends.primitives import PRIMITIVE_OPS as _PRIMITIVES

# every unary and binary primitive of the core's op table is a function here
_UNARY = _PRIMITIVES["unary"]
_BINARY = _PRIMITIVES["binary"]


def _check_tensor(op, x, name="input"):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument '{name}' must be Tensor, not {type(x).__name__}")


def _make_unary(name):
    def f(input, *, out=None):
        _check_tensor(name, input)
        r = _core.unary(name, input)
        return _out(r, out)

    f.__name__ = name
    f.__doc__ = f"{name}(input) -> Tensor\n\nElementwise ``{name}``; integer inputs give float32 where the result is not integral."
    return f


def _out(r, out):
    if out is None:
        return r
    out.copy_(r)
    return out


def _make_binary(name):
    def f(input, other, *, out=None):
        if not isinstance(input, Tensor) and not isinstance(other, Tensor):
            raise TypeError(f"{name}(): argument 'input' must be Tensor, not {type(input).__name__}")
        return _out(_core.binary(name, input, other), out)

    f.__name__ = name
    f.__doc__ = f"{name}(input, other) -> Tensor\n\nElementwise ``{name}`` with broadcasting and type promotion."
    return f


_namespace = globals()
for _n in _UNARY:
    _namespace[_n] = _make_unary(_n)
for _n in _BINARY:
    if _n not in ("add", "sub"):
        _namespace[_n] = _make_binary(_n)
del _n
negative = _namespace["neg"]
multiply = _namespace["mul"]
greater = _namespace["gt"]
less = _namespace["lt"]
greater_equal = _namespace["ge"]
less_equal = _namespace["le"]
not_equal = _namespace["ne"]
_div_plain = _namespace["div"]


def add(input, other, *, alpha=1, out=None):
    """add(input, other, *, alpha=1) -> Tensor: ``input + alpha * other``."""
    if alpha != 1:
        other = other * alpha
    return _out(_core.binary("add", input, other), out)


def sub(input, other, *, alpha=1, out=None):
    """sub(input, other, *, alpha=1) -> Tensor: ``input - alpha * other``."""
    if alpha != 1:
        other = other * alpha
    return _out(_core.binary("sub", input, other), out)


subtract = sub


def div(input, other, *, rounding_mode=None, out=None):
    """div(input, other, *, rounding_mode=None): true division, or 'trunc' / 'floor' rounding."""
    if rounding_mode is None:
        r = _div_plain(input, other)
    elif rounding_mode == "floor":
        r = _core.binary("floor_divide", input, other)
    elif rounding_mode == "trunc":
        rt = result_type(input, other)
        r = trunc(_div_plain(input, other))
        if not rt.is_floating_point:
            r = r.to(rt)
    else:
        raise ValueError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found '{rounding_mode}'")
    return _out(r, out)


divide = div
true_divide = _div_plain


def result_type(tensor1, tensor2):
    """The dtype an arithmetic op on the two operands produces (PyTorch's promotion rules)."""

    def probe(x):
        if isinstance(x, Tensor):
            return _core.zeros([0] * x.ndim if x.ndim else [], x._dtype)
        return x

    a, b = probe(tensor1), probe(tensor2)
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        from ._creation import tensor as _t

        a = _t(a)
        a = _core.zeros([], a._dtype)
    return _core.binary("add", a, b).dtype


def where(condition, input=None, other=None):
    """where(condition, input, other): elementwise select; ``where(condition)`` is ``nonzero(as_tuple=True)``."""
    if input is None and other is None:
        return nonzero(condition, as_tuple=True)
    return _core.where(condition, input, other)


def clamp(input, min=None, max=None, *, out=None):
    """clamp(input, min=None, max=None): limits values to [min, max] (either may be a tensor).

    The gradient flows where ``min <= input <= max``, as in PyTorch.
    """
    if min is None and max is None:
        raise RuntimeError("clamp: at least one of 'min' or 'max' must not be None")
    r = input
    if min is not None:
        r = _core.where(r < min, min, r) if not isinstance(min, Tensor) else _core.where(r < min, min.to(r.dtype), r)
    if max is not None:
        r = _core.where(r > max, max, r) if not isinstance(max, Tensor) else _core.where(r > max, max.to(r.dtype), r)
    return _out(r, out)


clip = clamp


def clamp_min(input, min):
    return clamp(input, min=min)


def clamp_max(input, max):
    return clamp(input, max=max)


def lerp(input, end, weight):
    """lerp(input, end, weight): ``input + weight * (end - input)``."""
    return input + weight * (end - input)


def square(input):
    return input * input


def gelu(input, approximate="none"):
    """GELU: ``x * Φ(x)`` (or the tanh approximation with ``approximate='tanh'``)."""
    if approximate == "tanh":
        c = math.sqrt(2.0 / math.pi)
        return 0.5 * input * (1.0 + tanh(c * (input + 0.044715 * input * input * input)))
    if approximate != "none":
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return input * 0.5 * (1.0 + erf(input * (1.0 / math.sqrt(2.0))))


def silu(input):
    """SiLU (swish): ``x * sigmoid(x)``."""
    return input * sigmoid(input)


def softplus(input, beta=1.0, threshold=20.0):
    """softplus: ``log(1 + exp(beta x)) / beta``, linear above ``threshold``."""
    z = input * beta
    soft = (relu(z) + log1p(exp(neg(abs(z))))) / beta
    return where(z > threshold, input, soft)


def _dims(dim, ndim):
    if dim is None:
        return []
    if isinstance(dim, int):
        return [dim]
    return list(dim)


def sum(input, dim=None, keepdim=False, *, dtype=None):
    """sum(input, dim=None, keepdim=False, *, dtype=None): sum over ``dim`` (all dims by default).

    Integer and bool inputs sum to int64, as in PyTorch.
    """
    _check_tensor("sum", input)
    if dtype is not None:
        input = input.to(to_dtype(dtype))
    if isinstance(dim, (list, tuple)) and len(dim) == 0:
        dim = None
    return _core.reduce("sum", input, _dims(dim, input.ndim), keepdim)


def prod(input, dim=None, keepdim=False, *, dtype=None):
    """prod(input, dim=None, keepdim=False): product over ``dim``."""
    if dtype is not None:
        input = input.to(to_dtype(dtype))
    return _core.reduce("prod", input, _dims(dim, input.ndim), keepdim)


def mean(input, dim=None, keepdim=False, *, dtype=None):
    """mean(input, dim=None, keepdim=False): arithmetic mean (floating inputs only)."""
    _check_tensor("mean", input)
    if dtype is not None:
        input = input.to(to_dtype(dtype))
    if not input.dtype.is_floating_point:
        raise RuntimeError(
            f"mean(): could not infer output dtype. Input dtype must be either a floating point or complex dtype. Got: {input.dtype}"
        )
    dims = _dims(dim, input.ndim)
    s = _core.reduce("sum", input, dims, keepdim)
    n = _count(input, dims)
    return s / n if n else s * float("nan")


def _count(input, dims):
    if not dims:
        return input.numel()
    n = 1
    for d in dims:
        n *= input.shape[d] if input.ndim else 1
    return n


def var(input, dim=None, *, correction=1, keepdim=False, unbiased=None):
    """var(input, dim=None, *, correction=1, keepdim=False): variance with Bessel's correction."""
    if unbiased is not None:
        correction = 1 if unbiased else 0
    if isinstance(dim, bool):
        correction, dim = (1 if dim else 0), None
    dims = _dims(dim, input.ndim)
    m = mean(input, dims if dims else None, keepdim=True)
    d = input - m
    n = _count(input, dims)
    s = _core.reduce("sum", d * d, dims, keepdim)
    return s / builtins.max(n - correction, 0)


def std(input, dim=None, *, correction=1, keepdim=False, unbiased=None):
    """std(input, dim=None, *, correction=1, keepdim=False): standard deviation."""
    return sqrt(var(input, dim, correction=correction, keepdim=keepdim, unbiased=unbiased))


def var_mean(input, dim=None, *, correction=1, keepdim=False):
    return var(input, dim, correction=correction, keepdim=keepdim), mean(input, dim, keepdim)


def std_mean(input, dim=None, *, correction=1, keepdim=False):
    return std(input, dim, correction=correction, keepdim=keepdim), mean(input, dim, keepdim)


def amax(input, dim=(), keepdim=False):
    """amax(input, dim=(), keepdim=False): maximum over dims; gradient split evenly among ties."""
    return _core.reduce("amax", input, _dims(dim if dim != () else None, input.ndim), keepdim)


def amin(input, dim=(), keepdim=False):
    """amin(input, dim=(), keepdim=False): minimum over dims."""
    return _core.reduce("amin", input, _dims(dim if dim != () else None, input.ndim), keepdim)


class _MinMax(tuple):
    """(values, indices) as PyTorch's named tuple return."""

    @property
    def values(self):
        return self[0]

    @property
    def indices(self):
        return self[1]


def max(input, dim=None, keepdim=False, *, out=None):
    """max(input) -> Tensor; max(input, dim, keepdim=False) -> (values, indices);
    max(input, other) -> elementwise maximum."""
    if isinstance(dim, Tensor):
        return maximum(input, dim)
    if dim is None:
        return _core.reduce("amax", input, [], False)
    return _MinMax(_core.max_min_dim(input, dim, keepdim, True))


def min(input, dim=None, keepdim=False, *, out=None):
    """min(input) / min(input, dim, keepdim) / min(input, other), as ``max``."""
    if isinstance(dim, Tensor):
        return minimum(input, dim)
    if dim is None:
        return _core.reduce("amin", input, [], False)
    return _MinMax(_core.max_min_dim(input, dim, keepdim, False))


def argmax(input, dim=None, keepdim=False):
    """argmax(input, dim=None, keepdim=False): index of the first maximum."""
    return _core.argmax(input, dim, keepdim, True)


def argmin(input, dim=None, keepdim=False):
    """argmin(input, dim=None, keepdim=False): index of the first minimum."""
    return _core.argmax(input, dim, keepdim, False)


def logsumexp(input, dim, keepdim=False):
    """logsumexp(input, dim, keepdim=False): ``log(sum(exp(x)))`` computed stably."""
    _check_tensor("logsumexp", input)
    dims = _dims(dim, input.ndim)
    if input.numel() == 0:  # max has no identity; an empty sum gives log(0) = -inf anyway
        m = _core.zeros([], input._dtype)
    else:
        m = _core.reduce("amax", input.detach(), dims, True)
        m = where(isinf(m), _core.zeros([], m._dtype), m)
    r = log(_core.reduce("sum", exp(input - m), dims, True)) + m
    if not keepdim:
        r = r.squeeze(dims) if dims else r.reshape([])
    return r


def all(input, dim=None, keepdim=False):
    """all(input, dim=None, keepdim=False): True where every element is non-zero."""
    _check_tensor("all", input)
    b = input.to("bool") if input.dtype.name != "bool" else input
    dims = _dims(dim, b.ndim)
    if b.numel() == 0:
        # max/min have no identity; count the zeros instead (an empty reduction is True)
        return _core.reduce("sum", logical_not(b).to("int64"), dims, keepdim) == 0
    return _core.reduce("amin", b, dims, keepdim)


def any(input, dim=None, keepdim=False):
    """any(input, dim=None, keepdim=False): True where some element is non-zero."""
    _check_tensor("any", input)
    b = input.to("bool") if input.dtype.name != "bool" else input
    dims = _dims(dim, b.ndim)
    if b.numel() == 0:
        return _core.reduce("sum", b.to("int64"), dims, keepdim) != 0
    return _core.reduce("amax", b, dims, keepdim)


def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """norm(input, p='fro', dim=None, keepdim=False): vector p-norm over dims (2-norm by default)."""
    if dtype is not None:
        input = input.to(to_dtype(dtype))
    dims = _dims(dim, input.ndim)
    if p in ("fro", 2, 2.0):
        return sqrt(_core.reduce("sum", input * input, dims, keepdim))
    if p in (float("inf"), "inf"):
        return _core.reduce("amax", abs(input), dims, keepdim)
    if p in (-float("inf"),):
        return _core.reduce("amin", abs(input), dims, keepdim)
    if p == 1:
        return _core.reduce("sum", abs(input), dims, keepdim)
    if p == 0:
        return _core.reduce("sum", (input != 0).to(input.dtype), dims, keepdim)
    return pow(_core.reduce("sum", pow(abs(input), p), dims, keepdim), 1.0 / p)


def cumsum(input, dim, *, dtype=None):
    """cumsum(input, dim): cumulative sum along ``dim``; integer and bool inputs give int64."""
    _check_tensor("cumsum", input)
    if dtype is None and not input.dtype.is_floating_point:
        dtype = "int64"
    if dtype is not None:
        input = input.to(to_dtype(dtype))
    return _core.cumulative(input, dim, False)


def cumprod(input, dim, *, dtype=None):
    """cumprod(input, dim): cumulative product along ``dim``; integer and bool inputs give int64."""
    _check_tensor("cumprod", input)
    if dtype is None and not input.dtype.is_floating_point:
        dtype = "int64"
    if dtype is not None:
        input = input.to(to_dtype(dtype))
    return _core.cumulative(input, dim, True)


def softmax(input, dim=None, dtype=None, _stacklevel=3):
    """softmax(input, dim): ``exp(x) / sum(exp(x))`` along ``dim``, computed stably."""
    if dim is None:
        raise TypeError("softmax(): argument 'dim' must be given")
    if dtype is not None:
        input = input.to(to_dtype(dtype))
    m = _core.reduce("amax", input.detach(), [dim], True) if input.numel() else 0.0
    e = exp(input - m)
    return e / _core.reduce("sum", e, [dim], True)


def log_softmax(input, dim=None, dtype=None, _stacklevel=3):
    """log_softmax(input, dim): ``x - logsumexp(x)`` along ``dim``."""
    if dim is None:
        raise TypeError("log_softmax(): argument 'dim' must be given")
    if dtype is not None:
        input = input.to(to_dtype(dtype))
    if input.numel() == 0:
        return input.clone()
    m = _core.reduce("amax", input.detach(), [dim], True)
    s = input - m
    return s - log(_core.reduce("sum", exp(s), [dim], True))


def matmul(input, other):
    """matmul(input, other): matrix product with NumPy's broadcasting rules."""
    _check_tensor("matmul", input)
    _check_tensor("matmul", other, "other")
    return _core.matmul(input, other)


def mm(input, mat2):
    """mm(input, mat2): product of two 2-D matrices."""
    _check_tensor("mm", input)
    _check_tensor("mm", mat2, "mat2")
    if input.ndim != 2 or mat2.ndim != 2:
        raise RuntimeError(f"mm: expected 2-D tensors, got shapes {tuple(input.shape)} and {tuple(mat2.shape)}")
    if input.shape[1] != mat2.shape[0]:
        raise RuntimeError(
            f"mm: mat1 and mat2 shapes cannot be multiplied ({input.shape[0]}x{input.shape[1]} and "
            f"{mat2.shape[0]}x{mat2.shape[1]}); shapes {tuple(input.shape)} and {tuple(mat2.shape)}"
        )
    return _core.matmul(input, mat2)


def bmm(input, mat2):
    """bmm(input, mat2): batched product of [B, m, k] and [B, k, n]."""
    return _core.bmm(input, mat2)


def mv(input, vec):
    return _core.matmul(input, vec)


def dot(input, other):
    if input.ndim != 1 or other.ndim != 1:
        raise RuntimeError(f"dot: 1D tensors expected, but got {input.ndim}D and {other.ndim}D tensors")
    return _core.matmul(input, other)


def outer(input, vec2):
    return input.reshape(-1, 1) * vec2.reshape(1, -1)


def isnan(input):
    return input != input


def isinf(input):
    if not input.dtype.is_floating_point:
        return _core.zeros(list(input.shape), "bool", input._device)
    return abs(input) == float("inf")


def isfinite(input):
    if not input.dtype.is_floating_point:
        return _core.full(list(input.shape), True, "bool", input._device)
    return (input == input) & (abs(input) != float("inf"))


_FINITE_MAX = {"float16": 65504.0, "bfloat16": 3.3895313892515355e38, "float32": 3.4028234663852886e38,
               "float64": 1.7976931348623157e308}


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    """nan_to_num(input, nan=0.0, posinf=None, neginf=None): NaN and infinities replaced;
    infinities default to the dtype's largest finite values. Integer inputs are copied."""
    if not input.dtype.is_floating_point:
        return _core.clone(input)
    big = _FINITE_MAX[input._dtype]
    r = where(isnan(input), nan, input)
    r = where(r == float("inf"), big if posinf is None else posinf, r)
    return where(r == -float("inf"), -big if neginf is None else neginf, r)


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return builtins.bool(isclose(input, other, rtol, atol, equal_nan).all())


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    a = input.to("float64")
    b = other.to("float64") if isinstance(other, Tensor) else other
    r = abs(a - b) <= atol + rtol * abs(b)
    if equal_nan:
        r = r | (isnan(a) & isnan(b))
    return r


def equal(input, other):
    return tuple(input.shape) == tuple(other.shape) and builtins.bool((input == other).all())


# ---------- shape and assembly ----------

def _shape_args(shape):
    if len(shape) == 1 and isinstance(shape[0], (list, tuple, Size)):
        shape = shape[0]
    out = []
    for s in shape:
        try:
            out.append(operator.index(s))  # ints and integer 0-d tensors, never floats or strings
        except TypeError:
            raise TypeError(f"shape and dims must be a sequence of ints, but got an element of type {type(s).__name__}") from None
    return out


def reshape(input, *shape):
    """reshape(input, shape): a view when the strides allow, otherwise a copy."""
    return _core.reshape(input, _shape_args(shape))


def flatten(input, start_dim=0, end_dim=-1):
    """flatten(input, start_dim=0, end_dim=-1): merges dims ``start_dim..end_dim``."""
    n = input.ndim
    if n == 0:
        return input.reshape([1])
    s = start_dim % n
    e = end_dim % n
    if s > e:
        raise RuntimeError(f"flatten() has invalid args: start_dim cannot come after end_dim ({start_dim} > {end_dim})")
    shape = list(input.shape)
    new = shape[:s] + [math.prod(shape[s : e + 1])] + shape[e + 1 :]
    return _core.reshape(input, new)


def unflatten(input, dim, sizes):
    """unflatten(input, dim, sizes): splits ``dim`` into ``sizes``."""
    n = input.ndim
    d = dim % n
    shape = list(input.shape)
    return _core.reshape(input, shape[:d] + list(sizes) + shape[d + 1 :])


def squeeze(input, dim=None):
    if dim is None:
        return _core.squeeze(input, None)
    return _core.squeeze(input, [dim] if isinstance(dim, int) else list(dim))


def unsqueeze(input, dim):
    return _core.unsqueeze(input, dim)


def permute(input, *dims):
    return _core.permute(input, _shape_args(dims))


def transpose(input, dim0, dim1):
    return _core.transpose(input, dim0, dim1)


swapaxes = transpose
swapdims = transpose


def t(input):
    if input.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {input.ndim}D")
    return _core.transpose(input, 0, 1) if input.ndim == 2 else input


def movedim(input, source, destination):
    n = input.ndim
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    src = [s % n for s in src]
    dst = [d % n for d in dst]
    order = [None] * n
    for s, d in zip(src, dst):
        order[d] = s
    rest = iter([i for i in range(n) if i not in src])
    order = [o if o is not None else next(rest) for o in order]
    return _core.permute(input, order)


def narrow(input, dim, start, length):
    """narrow(input, dim, start, length): a view of ``length`` entries from ``start``."""
    n = input.shape[dim]
    if start < 0:
        start += n
    if start < 0 or length < 0 or start + length > n:
        raise IndexError(f"narrow(): start ({start}) + length ({length}) exceeds dimension size ({n}) of shape {tuple(input.shape)}")
    return _core.slice(input, dim, start, start + length, 1)


def flip(input, dims):
    return _core.flip(input, [dims] if isinstance(dims, int) else list(dims))


def cat(tensors, dim=0, *, out=None):
    """cat(tensors, dim=0): concatenates along ``dim``."""
    tensors = list(tensors)
    for i, x in enumerate(tensors):
        if not isinstance(x, Tensor):
            raise TypeError(f"cat(): expected a sequence of Tensors, but element {i} is {type(x).__name__}")
    return _out(_core.cat(tensors, dim), out)


concat = cat
concatenate = cat


def stack(tensors, dim=0, *, out=None):
    """stack(tensors, dim=0): joins tensors of equal shape along a new dim."""
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    s0 = tuple(tensors[0].shape)
    for i, x in enumerate(tensors):
        if tuple(x.shape) != s0:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(s0)} at entry 0 and {list(x.shape)} at entry {i}")
    d = dim % (len(s0) + 1)
    return _out(_core.cat([x.unsqueeze(d) for x in tensors], d), out)


def hstack(tensors):
    tensors = list(tensors)
    return cat(tensors, 0 if tensors[0].ndim == 1 else 1)


def vstack(tensors):
    return cat([x.reshape(1, -1) if x.ndim == 1 else x for x in tensors], 0)


def split(tensor, split_size_or_sections, dim=0):
    """split(tensor, split_size_or_sections, dim=0): views of consecutive pieces."""
    n = tensor.shape[dim]
    if isinstance(split_size_or_sections, int):
        s = split_size_or_sections
        if s <= 0 and n > 0:
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got dimension size of {n}")
        sizes = [s] * (n // s) + ([n % s] if n % s else []) if s else [0]
    else:
        sizes = list(split_size_or_sections)
        if builtins.sum(sizes) != n:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size at dimension {dim}), but got split_sizes={sizes}")
    out, off = [], 0
    for s in sizes:
        out.append(_core.slice(tensor, dim, off, off + s, 1))
        off += s
    return tuple(out)


def chunk(input, chunks, dim=0):
    """chunk(input, chunks, dim=0): splits into ``chunks`` nearly equal views."""
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    n = input.shape[dim]
    size = -(-n // chunks) if n else 1
    return split(input, builtins.max(size, 1), dim)


def tensor_split(input, sections, dim=0):
    n = input.shape[dim]
    q, r = divmod(n, sections)
    return split(input, [q + 1] * r + [q] * (sections - r), dim)


def unbind(input, dim=0):
    """unbind(input, dim=0): the slices along ``dim`` as a tuple of views."""
    return tuple(_core.select(input, dim, i) for i in range(input.shape[dim]))


def gather(input, dim, index):
    """gather(input, dim, index): ``out[i][j] = input[i][index[i][j]]`` (for dim=1)."""
    return _core.gather(input, dim, index)


def scatter(input, dim, index, src=None, value=None, *, reduce=None):
    """scatter(input, dim, index, src): out-of-place scatter; ``reduce='add'`` accumulates."""
    s = src if src is not None else value
    if reduce not in (None, "add", "sum"):
        raise RuntimeError(f"scatter(): reduce argument must be 'add' or None, got {reduce!r}")
    return _core.scatter(input, dim, index, s, reduce is not None)


def scatter_add(input, dim, index, src):
    return _core.scatter(input, dim, index, src, True)


def index_select(input, dim, index):
    return _core.index_select(input, dim, index)


def index_add(input, dim, index, source, *, alpha=1):
    return _core.index_add(input, dim, index, source * alpha if alpha != 1 else source)


def masked_fill(input, mask, value):
    """masked_fill(input, mask, value): ``value`` where ``mask`` is True."""
    _check_tensor("masked_fill", input)
    _check_tensor("masked_fill", mask, "mask")
    if mask.dtype.name != "bool":
        raise RuntimeError(f"masked_fill only supports boolean masks, but got mask with dtype {mask.dtype}")
    try:
        ok = tuple(_broadcast(tuple(input.shape), tuple(mask.shape))) == tuple(input.shape)
    except RuntimeError:
        ok = False
    if not ok:
        raise RuntimeError(
            f"masked_fill: the mask of shape {tuple(mask.shape)} must be broadcastable to the input of shape {tuple(input.shape)}"
        )
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise RuntimeError(f"masked_fill only supports a 0-dimensional value tensor, but got tensor with {value.ndim} dimension(s)")
        value = value.to(input.dtype)
    else:
        value = _core.full([], value, input._dtype)
    return _core.where(mask, value, input)


def masked_select(input, mask):
    """masked_select(input, mask): the elements where ``mask`` is True, as a 1-D tensor."""
    _check_tensor("masked_select", input)
    _check_tensor("masked_select", mask, "mask")
    if mask.dtype.name != "bool":
        raise RuntimeError(f"masked_select: expected a boolean mask, but got mask with dtype {mask.dtype}")
    shape = _broadcast(tuple(input.shape), tuple(mask.shape))
    x = input.expand(shape).reshape(-1)
    m = mask.expand(shape).reshape(-1)
    return _core.index(x, [_core.select(_core.nonzero(m), 1, 0)])


def _broadcast(a, b):
    n = builtins.max(len(a), len(b))
    a = (1,) * (n - len(a)) + a
    b = (1,) * (n - len(b)) + b
    out = []
    for x, y in zip(a, b):
        if x != y and x != 1 and y != 1:
            raise RuntimeError(f"shapes {a} and {b} cannot be broadcast")
        out.append(builtins.max(x, y) if x and y else 0)
    return out


def broadcast_shapes(*shapes):
    r = ()
    for s in shapes:
        r = tuple(_broadcast(tuple(r), tuple(s)))
    return Size(r)


def broadcast_tensors(*tensors):
    shape = broadcast_shapes(*[t.shape for t in tensors])
    return tuple(t.expand(shape) for t in tensors)


def nonzero(input, *, as_tuple=False):
    """nonzero(input, *, as_tuple=False): indices of non-zero elements."""
    r = _core.nonzero(input)
    if as_tuple:
        if input.ndim == 0:  # PyTorch treats a 0-d tensor as one element at index 0
            return (_core.zeros([r.shape[0]], "int64", input._device),)
        return tuple(r[:, i] for i in range(input.ndim))
    return r


def argwhere(input):
    return _core.nonzero(input)


def sort(input, dim=-1, descending=False, stable=False):
    """sort(input, dim=-1, descending=False): (values, indices), stable."""
    return _MinMax(_core.sort(input, dim, descending))


def argsort(input, dim=-1, descending=False, stable=False):
    return _core.sort(input, dim, descending)[1]


def topk(input, k, dim=-1, largest=True, sorted=True):
    """topk(input, k, dim=-1, largest=True): the k largest (or smallest) and their indices."""
    return _MinMax(_core.topk(input, k, dim, largest))


def kthvalue(input, k, dim=-1, keepdim=False):
    v, i = _core.topk(input, k, dim, False)
    v, i = v.narrow(dim, k - 1, 1), i.narrow(dim, k - 1, 1)
    if not keepdim:
        v, i = v.squeeze(dim), i.squeeze(dim)
    return _MinMax((v, i))


def tril(input, diagonal=0):
    """tril(input, diagonal=0): zeroes elements above the ``diagonal``-th diagonal."""
    r, c = input.shape[-2], input.shape[-1]
    from ._creation import arange

    mask = arange(c).reshape(1, c) - arange(r).reshape(r, 1) <= diagonal
    return _core.where(mask, input, _core.zeros([], input._dtype))


def triu(input, diagonal=0):
    """triu(input, diagonal=0): zeroes elements below the ``diagonal``-th diagonal."""
    r, c = input.shape[-2], input.shape[-1]
    from ._creation import arange

    mask = arange(c).reshape(1, c) - arange(r).reshape(r, 1) >= diagonal
    return _core.where(mask, input, _core.zeros([], input._dtype))


def repeat(input, *sizes):
    """Tensor.repeat(*sizes): tiles the tensor (copies)."""
    sizes = _shape_args(sizes)
    if len(sizes) < input.ndim:
        raise RuntimeError(
            f"Number of dimensions of repeat dims ({len(sizes)}) can not be smaller than number of dimensions of tensor ({input.ndim})"
        )
    x = input.reshape([1] * (len(sizes) - input.ndim) + list(input.shape))
    # interleave a new axis before each dim, expand it, then merge
    shape = list(x.shape)
    v = x.reshape([d for s in shape for d in (1, s)])
    v = v.expand([d for r, s in zip(sizes, shape) for d in (r, s)])
    return v.reshape([r * s for r, s in zip(sizes, shape)])


def tile(input, dims):
    dims = list(dims)
    if len(dims) < input.ndim:
        dims = [1] * (input.ndim - len(dims)) + dims
    return repeat(input, *dims)


def repeat_interleave(input, repeats, dim=None):
    """repeat_interleave(input, repeats, dim=None): repeats each element ``repeats`` times."""
    from ._creation import tensor as _t

    if dim is None:
        input = input.reshape(-1)
        dim = 0
    dim = dim % input.ndim
    n = input.shape[dim]
    if isinstance(repeats, int):
        reps = [repeats] * n
    else:
        reps = repeats.tolist() if isinstance(repeats, Tensor) else list(repeats)
        if isinstance(reps, (int, float)):
            reps = [reps] * n
        if len(reps) != n:
            raise RuntimeError(f"repeat_interleave: repeats must have the same size as input along dim ({len(reps)} vs {n})")
    if builtins.any(int(r) < 0 for r in reps):
        raise RuntimeError("repeat_interleave: repeats can not be negative")
    import numpy as np

    # built in NumPy, not a Python list: a huge count fails with MemoryError, quickly
    idx = np.repeat(np.arange(n, dtype=np.int64), np.asarray(reps, dtype=np.int64))
    return _core.index_select(input, dim, _t(idx))


def one_hot(tensor, num_classes=-1):
    """one_hot(tensor, num_classes=-1): int64 one-hot encoding along a new last dim."""
    if tensor.dtype.name != "int64":
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    if num_classes == -1:
        num_classes = int(tensor.max()) + 1 if tensor.numel() else 0
    if tensor.numel() and (int(tensor.min()) < 0 or int(tensor.max()) >= num_classes):
        raise RuntimeError("one_hot: class values must be non-negative and smaller than num_classes")
    from ._creation import arange

    return (tensor.unsqueeze(-1) == arange(num_classes)).to("int64")


def diag(input, diagonal=0):
    from ._creation import arange, zeros

    if input.ndim == 1:
        n = input.shape[0] + builtins.abs(diagonal)
        out = zeros(n, n, dtype=input.dtype)
        i = arange(input.shape[0])
        r, c = (i, i + diagonal) if diagonal >= 0 else (i - diagonal, i)
        return out.index_put((r, c), input)
    r = builtins.min(input.shape[0], input.shape[1] - diagonal) if diagonal >= 0 else builtins.min(input.shape[0] + diagonal, input.shape[1])
    i = arange(builtins.max(r, 0))
    rows, cols = (i, i + diagonal) if diagonal >= 0 else (i - diagonal, i)
    return _core.index(input, [rows, cols])


def trace(input):
    return diag(input).sum()


def pad(input, pad, mode="constant", value=None):
    """pad(input, pad, mode='constant', value=0): constant padding; ``pad`` lists
    (left, right) amounts from the last dim backwards."""
    if mode != "constant":
        from .nn.functional import _pad_nonconstant

        return _pad_nonconstant(input, pad, mode)
    return _core.pad(input, [int(p) for p in pad], 0.0 if value is None else float(value))


def clone(input, *, memory_format=None):
    return _core.clone(input)


def detach(input):
    return input.detach()


def numel(input):
    return input.numel()


def is_tensor(obj):
    return isinstance(obj, Tensor)


def is_floating_point(input):
    return input.dtype.is_floating_point


def cdist(x1, x2, p=2.0):
    d = x1.unsqueeze(-2) - x2.unsqueeze(-3)
    return norm(d, p, dim=-1)


def dist(input, other, p=2):
    return norm(input - other, p)


def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    return beta * input + alpha * mm(mat1, mat2)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    return beta * input + alpha * bmm(batch1, batch2)


def logaddexp(input, other):
    m = maximum(input, other)
    return m + log(exp(input - m) + exp(other - m))


def sigmoid_(input):
    """sigmoid_(input) -> Tensor

    In-place ``sigmoid``: overwrites ``input``'s storage and returns ``input``.
    """
    return input.sigmoid_()


def divide_(input, other, *, rounding_mode=None):
    """divide_(input, other, *, rounding_mode=None) -> Tensor

    In-place ``div``: overwrites ``input``'s storage and returns ``input``.
    """
    return input.div_(other, rounding_mode=rounding_mode)


def polygamma(n, input):
    """polygamma(n, input) -> Tensor

    The ``n``-th derivative of the digamma function (``n = 0`` is :func:`digamma`), elementwise;
    differentiable (its derivative is order ``n + 1``). Integer inputs give float32.

        >>> deepseek.polygamma(1, deepseek.tensor([1.0]))  # pi**2 / 6
        tensor([1.6449])
    """
    if not isinstance(n, int) or isinstance(n, bool):
        raise TypeError(f"polygamma(): argument 'n' must be int, not {type(n).__name__}")
    _check_tensor("polygamma", input)
    return _core.polygamma(n, input)


def diff(input, n=1, dim=-1):
    for _ in range(n):
        k = input.shape[dim]
        input = narrow(input, dim, 1, k - 1) - narrow(input, dim, 0, k - 1)
    return input


# `from ._ops import *` (deepseek/__init__.py) exports exactly the functions defined here
# (aliases included) and einsum; imports (math, builtins, to_dtype ...) stay private.
__all__ = sorted(
    _k for _k, _v in _namespace.items()
    if not _k.startswith("_") and callable(_v) and getattr(_v, "__module__", None) in (__name__, einsum.__module__)
)
