"""``deepseek.fft``: discrete Fourier transforms, as ``torch.fft`` names and defines them.

Every function is composed from three core primitives along one dim (``fft_c2c``, ``fft_r2c``,
``fft_c2r``: unnormalised, on ``rustfft``/``realfft``, parallel over the lines of the
transformed dim, any strides) plus zero-padding/trimming to ``n`` and the scaling of ``norm``:

- ``"backward"`` (default): no scaling forward, ``1/n`` on the inverse;
- ``"ortho"``: ``1/sqrt(n)`` both ways;
- ``"forward"``: ``1/n`` forward, none on the inverse.

Inputs are promoted as PyTorch does: bool and integers to the default float dtype, real to
complex where the transform needs it; float16/bfloat16 raise. Gradients flow through every
function (the adjoint transforms; rfft/irfft weight the mirrored half as PyTorch does).

Example::

    >>> x = deepseek.tensor([1.0, 2.0, 3.0, 4.0])
    >>> deepseek.fft.fft(x)
    tensor([10.+0.j, -2.+2.j, -2.+0.j, -2.-2.j])
"""
from __future__ import annotations

import math

from . import _core, _ops
from ._core import Tensor
from ._dtype import get_default_dtype, to_dtype

__all__ = [
    "fft", "ifft", "rfft", "irfft", "hfft", "ihfft", "fft2", "ifft2", "rfft2", "irfft2", "hfft2", "ihfft2",
    "fftn", "ifftn", "rfftn", "irfftn", "hfftn", "ihfftn", "fftfreq", "rfftfreq", "fftshift", "ifftshift",
]


# ---------------- argument handling ----------------

def _promote(op, x, require_complex):
    """PyTorch's promote_type_fft: integers and bool to the default float dtype, then to complex
    when required; only float32/float64 (and their complex types) are transformed."""
    _ops._check_tensor(op, x)
    dt = x.dtype
    if dt.is_complex:
        return x
    if not dt.is_floating_point:
        x = _core.cast(x, get_default_dtype().name)
    elif dt.name not in ("float32", "float64"):
        raise RuntimeError(f"{op}: Unsupported dtype {dt.name.capitalize() if dt.name != 'bfloat16' else 'BFloat16'}"
                           f" (transforms run in float32 or float64; convert with .float() first)")
    return _core.cast(x, x.dtype.to_complex().name) if require_complex else x


def _scale(norm, n, forward, op):
    """The factor ``norm`` applies to a transform of ``n`` points in the given direction."""
    if norm is None or norm == "backward":
        return 1.0 if forward else 1.0 / n
    if norm == "forward":
        return 1.0 / n if forward else 1.0
    if norm == "ortho":
        return 1.0 / math.sqrt(n)
    raise ValueError(f'{op}: Invalid normalization mode: "{norm}" (expected "backward", "forward" or "ortho")')


def _apply(x, factor):
    return x if factor == 1.0 else x * factor


def _wrap(op, dim, ndim):
    if not isinstance(dim, int) or isinstance(dim, bool):
        raise TypeError(f"{op}(): argument 'dim' must be int, not {type(dim).__name__}")
    if ndim == 0 or not -ndim <= dim < ndim:
        raise IndexError(f"{op}: Dimension out of range (expected to be in range of [{-max(ndim, 1)}, {max(ndim, 1) - 1}], but got {dim})")
    return dim % ndim


def _check_n(n):
    if n < 1:
        raise RuntimeError(f"Invalid number of data points ({n}) specified")


def _resize(x, dim, n):
    """``x`` zero-padded at the end of ``dim`` or trimmed to length ``n`` (PyTorch's
    resize_fft_input)."""
    have = x.shape[dim]
    if have > n:
        return _core.slice(x, dim, 0, n, 1)
    if have < n:
        shape = list(x.shape)
        shape[dim] = n - have
        z = _core.zeros(shape, x._dtype, None if x._device == "cpu" else x._device)
        return _core.cat([x, z], dim)
    return x


def _shape_and_dims(op, x, s, dim, default_all=True):
    """PyTorch's canonicalize_fft_shape_and_dim_args: the dims to transform and their sizes."""
    nd = x.ndim
    if isinstance(dim, int):
        dim = (dim,)
    if isinstance(s, int):
        s = (s,)
    dims = None
    if dim is not None:
        dims = [_wrap(op, d, nd) for d in dim]
        if len(set(dims)) != len(dims):
            raise RuntimeError(f"{op}: FFT dims must be unique (got {tuple(dim)})")
    if s is not None:
        s = list(s)
        if dims is not None and len(dims) != len(s):
            raise RuntimeError(f"{op}: When given, dim and shape arguments must have the same length (dim={tuple(dim)}, s={tuple(s)})")
        if len(s) > nd:
            raise RuntimeError(f"{op}: Got shape with {len(s)} values but input tensor only has {nd} dimensions.")
        if dims is None:
            dims = list(range(nd - len(s), nd))
        sizes = [x.shape[d] if n == -1 else int(n) for n, d in zip(s, dims)]
    else:
        if dims is None:
            dims = list(range(nd)) if default_all else []
        sizes = [x.shape[d] for d in dims]
    for n in sizes:
        _check_n(n)
    return sizes, dims


# ---------------- one-dimensional transforms ----------------

def _c2c(name, input, n, dim, norm, inverse):
    """The complex transform along one dim (fft, or ifft when ``inverse``), resized to ``n``."""
    x = _promote(name, input, True)
    d = _wrap(name, dim, x.ndim)
    if n is not None:
        _check_n(n)
        x = _resize(x, d, n)
    n = x.shape[d]
    _check_n(n)
    return _apply(_core.fft_c2c(x, d, inverse), _scale(norm, n, not inverse, name))


def fft(input, n=None, dim=-1, norm=None) -> Tensor:
    """fft(input, n=None, dim=-1, norm=None) -> Tensor

    The one-dimensional discrete Fourier transform of ``input`` along ``dim``, zero-padded or
    trimmed to ``n`` points first when ``n`` is given. Real inputs give the full (Hermitian)
    spectrum; the result is complex.
    """
    return _c2c("fft", input, n, dim, norm, False)


def ifft(input, n=None, dim=-1, norm=None) -> Tensor:
    """ifft(input, n=None, dim=-1, norm=None) -> Tensor: the inverse of :func:`fft`."""
    return _c2c("ifft", input, n, dim, norm, True)


def rfft(input, n=None, dim=-1, norm=None) -> Tensor:
    """rfft(input, n=None, dim=-1, norm=None) -> Tensor

    The Fourier transform of a real signal: the ``n // 2 + 1`` non-redundant frequencies
    (the rest follow by Hermitian symmetry). RuntimeError for complex input.
    """
    if input.dtype.is_complex:
        raise RuntimeError(f"rfft expects a real input tensor, but got {input.dtype.name}")
    x = _promote("rfft", input, False)
    d = _wrap("rfft", dim, x.ndim)
    if n is not None:
        _check_n(n)
        x = _resize(x, d, n)
    n = x.shape[d]
    _check_n(n)
    return _apply(_core.fft_r2c(x, d), _scale(norm, n, True, "rfft"))


def irfft(input, n=None, dim=-1, norm=None) -> Tensor:
    """irfft(input, n=None, dim=-1, norm=None) -> Tensor

    The inverse of :func:`rfft`: a real signal of ``n`` points (default ``2 * (m - 1)`` for ``m``
    input frequencies) from its half spectrum. The imaginary parts of the zero-frequency term
    (and, for even ``n``, the Nyquist term) are ignored.
    """
    x = _promote("irfft", input, True)
    d = _wrap("irfft", dim, x.ndim)
    if n is None:
        n = 2 * (x.shape[d] - 1)
        _check_n(n)
    else:
        _check_n(n)
        x = _resize(x, d, n // 2 + 1)
    return _apply(_core.fft_c2r(x, d, n), _scale(norm, n, False, "irfft"))


def hfft(input, n=None, dim=-1, norm=None) -> Tensor:
    """hfft(input, n=None, dim=-1, norm=None) -> Tensor

    The Fourier transform of a Hermitian-symmetric signal given by its first half: a real
    spectrum of ``n`` points (default ``2 * (m - 1)``). The inverse of :func:`ihfft`.
    """
    x = _promote("hfft", input, True)
    d = _wrap("hfft", dim, x.ndim)
    if n is None:
        n = 2 * (x.shape[d] - 1)
        _check_n(n)
    else:
        _check_n(n)
        x = _resize(x, d, n // 2 + 1)
    return _apply(_core.fft_c2r(_core.conj(x), d, n), _scale(norm, n, True, "hfft"))


def ihfft(input, n=None, dim=-1, norm=None) -> Tensor:
    """ihfft(input, n=None, dim=-1, norm=None) -> Tensor

    The inverse of :func:`hfft`: the first ``n // 2 + 1`` points of the inverse Fourier
    transform of a real signal. RuntimeError for complex input.
    """
    if input.dtype.is_complex:
        raise RuntimeError(f"ihfft expects a real input tensor, but got {input.dtype.name}")
    x = _promote("ihfft", input, False)
    d = _wrap("ihfft", dim, x.ndim)
    if n is not None:
        _check_n(n)
        x = _resize(x, d, n)
    n = x.shape[d]
    _check_n(n)
    return _apply(_core.conj(_core.fft_r2c(x, d)), _scale(norm, n, False, "ihfft"))


# ---------------- n-dimensional transforms ----------------

def _c2c_dims(x, dims, inverse):
    for d in dims:
        x = _core.fft_c2c(x, d, inverse)
    return x


def _c2c_n(op, input, s, dim, norm, inverse):
    x = _promote(op, input, True)
    sizes, dims = _shape_and_dims(op, x, s, dim)
    for d, n in zip(dims, sizes):
        x = _resize(x, d, n)
    return _apply(_c2c_dims(x, dims, inverse), _scale(norm, math.prod(sizes), not inverse, op))


def fftn(input, s=None, dim=None, norm=None) -> Tensor:
    """fftn(input, s=None, dim=None, norm=None) -> Tensor

    The N-dimensional Fourier transform over ``dim`` (default: all dims, or the last
    ``len(s)``), each dim padded or trimmed to the matching entry of ``s`` (-1 keeps the size).
    """
    return _c2c_n("fftn", input, s, dim, norm, False)


def ifftn(input, s=None, dim=None, norm=None) -> Tensor:
    """ifftn(input, s=None, dim=None, norm=None) -> Tensor: the inverse of :func:`fftn`."""
    return _c2c_n("ifftn", input, s, dim, norm, True)


def fft2(input, s=None, dim=(-2, -1), norm=None) -> Tensor:
    """fft2(input, s=None, dim=(-2, -1), norm=None) -> Tensor: :func:`fftn` over two dims."""
    return _c2c_n("fft2", input, s, dim, norm, False)


def ifft2(input, s=None, dim=(-2, -1), norm=None) -> Tensor:
    """ifft2(input, s=None, dim=(-2, -1), norm=None) -> Tensor: :func:`ifftn` over two dims."""
    return _c2c_n("ifft2", input, s, dim, norm, True)


def rfftn(input, s=None, dim=None, norm=None) -> Tensor:
    """rfftn(input, s=None, dim=None, norm=None) -> Tensor

    The N-dimensional Fourier transform of a real input: the last transformed dim keeps its
    ``n // 2 + 1`` non-redundant frequencies (:func:`rfft`), the others are full.
    """
    if input.dtype.is_complex:
        raise RuntimeError(f"rfftn expects a real-valued input tensor, but got {input.dtype.name}")
    x = _promote("rfftn", input, False)
    sizes, dims = _shape_and_dims("rfftn", x, s, dim)
    if not dims:
        raise RuntimeError("rfftn must transform at least one axis")
    for d, n in zip(dims, sizes):
        x = _resize(x, d, n)
    y = _c2c_dims(_core.fft_r2c(x, dims[-1]), dims[:-1], False)
    return _apply(y, _scale(norm, math.prod(sizes), True, "rfftn"))


def _c2r_args(op, x, s, dim):
    sizes, dims = _shape_and_dims(op, x, s, dim)
    if not dims:
        raise RuntimeError(f"{op} must transform at least one axis")
    if s is None or (not isinstance(s, int) and list(s)[-1] == -1):
        last = 2 * (x.shape[dims[-1]] - 1)
    else:
        last = sizes[-1]
    _check_n(last)
    sizes = sizes[:-1] + [last // 2 + 1]
    return sizes, dims, last


def irfftn(input, s=None, dim=None, norm=None) -> Tensor:
    """irfftn(input, s=None, dim=None, norm=None) -> Tensor

    The inverse of :func:`rfftn`: full inverse transforms over all but the last dim, then
    :func:`irfft` (of ``s[-1]`` points, default ``2 * (m - 1)``) over the last.
    """
    x = _promote("irfftn", input, True)
    sizes, dims, last = _c2r_args("irfftn", x, s, dim)
    for d, n in zip(dims, sizes):
        x = _resize(x, d, n)
    y = _core.fft_c2r(_c2c_dims(x, dims[:-1], True), dims[-1], last)
    return _apply(y, _scale(norm, math.prod(sizes[:-1]) * last, False, "irfftn"))


def rfft2(input, s=None, dim=(-2, -1), norm=None) -> Tensor:
    """rfft2(input, s=None, dim=(-2, -1), norm=None) -> Tensor: :func:`rfftn` over two dims."""
    return rfftn(input, s, dim, norm)


def irfft2(input, s=None, dim=(-2, -1), norm=None) -> Tensor:
    """irfft2(input, s=None, dim=(-2, -1), norm=None) -> Tensor: :func:`irfftn` over two dims."""
    return irfftn(input, s, dim, norm)


def hfftn(input, s=None, dim=None, norm=None) -> Tensor:
    """hfftn(input, s=None, dim=None, norm=None) -> Tensor: the N-dimensional :func:`hfft`
    (full transforms over all but the last dim, then :func:`hfft` over the last)."""
    x = _promote("hfftn", input, True)
    sizes, dims, last = _c2r_args("hfftn", x, s, dim)
    for d, n in zip(dims, sizes):
        x = _resize(x, d, n)
    y = _core.fft_c2r(_core.conj(_c2c_dims(x, dims[:-1], False)), dims[-1], last)
    return _apply(y, _scale(norm, math.prod(sizes[:-1]) * last, True, "hfftn"))


def ihfftn(input, s=None, dim=None, norm=None) -> Tensor:
    """ihfftn(input, s=None, dim=None, norm=None) -> Tensor: the inverse of :func:`hfftn`."""
    if input.dtype.is_complex:
        raise RuntimeError(f"ihfftn expects a real-valued input tensor, but got {input.dtype.name}")
    x = _promote("ihfftn", input, False)
    sizes, dims = _shape_and_dims("ihfftn", x, s, dim)
    if not dims:
        raise RuntimeError("ihfftn must transform at least one axis")
    for d, n in zip(dims, sizes):
        x = _resize(x, d, n)
    y = _c2c_dims(_core.conj(_core.fft_r2c(x, dims[-1])), dims[:-1], True)
    return _apply(y, _scale(norm, math.prod(sizes), False, "ihfftn"))


def hfft2(input, s=None, dim=(-2, -1), norm=None) -> Tensor:
    """hfft2(input, s=None, dim=(-2, -1), norm=None) -> Tensor: :func:`hfftn` over two dims."""
    return hfftn(input, s, dim, norm)


def ihfft2(input, s=None, dim=(-2, -1), norm=None) -> Tensor:
    """ihfft2(input, s=None, dim=(-2, -1), norm=None) -> Tensor: :func:`ihfftn` over two dims."""
    return ihfftn(input, s, dim, norm)


# ---------------- helpers ----------------

def _freq_dtype(op, dtype):
    dt = get_default_dtype() if dtype is None else to_dtype(dtype)
    if not (dt.is_floating_point or dt.is_complex):
        raise RuntimeError(f"{op} requires a floating point or complex dtype")
    return dt


def fftfreq(n, d=1.0, *, dtype=None, layout=None, device=None, requires_grad=False) -> Tensor:
    """fftfreq(n, d=1.0, *, dtype=None, device=None, requires_grad=False) -> Tensor

    The sample frequencies of :func:`fft` for a signal of ``n`` points spaced ``d`` apart:
    ``[0, 1, ..., (n - 1) // 2, -(n // 2), ..., -1] / (d * n)``.
    """
    from ._creation import tensor

    dt = _freq_dtype("fftfreq", dtype)
    if n < 0:
        raise RuntimeError(f"fftfreq: n must be non-negative, got {n}")
    vals = [k if k < (n + 1) // 2 else k - n for k in range(n)]
    work = "float64" if dt.name in ("float64", "complex128") else "float32"
    t = tensor(vals, dtype=work, device=device) * (1.0 / (n * d)) if n else tensor([], dtype=work, device=device)
    t = t.to(dt)
    return t.requires_grad_(True) if requires_grad else t


def rfftfreq(n, d=1.0, *, dtype=None, layout=None, device=None, requires_grad=False) -> Tensor:
    """rfftfreq(n, d=1.0, *, dtype=None, device=None, requires_grad=False) -> Tensor

    The sample frequencies of :func:`rfft`: ``[0, 1, ..., n // 2] / (d * n)``.
    """
    from ._creation import arange

    dt = _freq_dtype("rfftfreq", dtype)
    if n < 0:
        raise RuntimeError(f"rfftfreq: n must be non-negative, got {n}")
    work = "float64" if dt.name in ("float64", "complex128") else "float32"
    t = arange(n // 2 + 1, dtype=work, device=device) * (1.0 / (n * d)) if n else arange(0, dtype=work, device=device)
    t = t.to(dt)
    return t.requires_grad_(True) if requires_grad else t


def _shift(op, input, dim, inverse):
    _ops._check_tensor(op, input)
    nd = input.ndim
    if dim is None:
        dims = list(range(nd))
    else:
        dims = [_wrap(op, d, nd) for d in ((dim,) if isinstance(dim, int) else dim)]
    if not dims:
        return input
    shifts = [(input.shape[d] + 1) // 2 if inverse else input.shape[d] // 2 for d in dims]
    return _ops.roll(input, shifts, dims)


def fftshift(input, dim=None) -> Tensor:
    """fftshift(input, dim=None) -> Tensor: reorders the output of :func:`fftn` so the zero
    frequency is in the middle (``roll`` by ``n // 2`` over ``dim``, default all dims)."""
    return _shift("fftshift", input, dim, False)


def ifftshift(input, dim=None) -> Tensor:
    """ifftshift(input, dim=None) -> Tensor: the inverse of :func:`fftshift`."""
    return _shift("ifftshift", input, dim, True)
