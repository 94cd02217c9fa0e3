"""Numerical helpers PyTorch keeps at the top level: ``gradient`` (finite differences, as
``numpy.gradient``), ``histogramdd``, ``kaiser_window``, and the ``poisson`` and ``binomial``
samplers.

``gradient`` and ``kaiser_window`` are composed from tensor ops (``gradient`` is
differentiable). The two samplers draw with NumPy's generators (PTRS for Poisson, BTPE for
the binomial), seeded from a deepseek generator, so ``deepseek.manual_seed`` (or the
``generator`` argument) makes them repeat.
"""
from __future__ import annotations

import math
import numbers
import operator

import numpy as np

from . import _core, _ops
from ._core import Tensor
from ._dtype import get_default_dtype

__all__ = ["gradient", "histogramdd", "kaiser_window", "poisson", "binomial"]


def _t(op, x, name="input"):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}(): argument '{name}' must be Tensor, not {type(x).__name__}")


# ---------------- gradient ----------------

def _bcast(c, d, ndim):
    """A 1-D coefficient along dim ``d`` of an ``ndim``-d tensor."""
    return c.reshape([c.shape[0]] + [1] * (ndim - d - 1))


def _grad_uniform(f, d, h, edge_order):
    n = f.shape[d]
    nar = f.narrow
    mid = (nar(d, 2, n - 2) - nar(d, 0, n - 2)) / (2.0 * h)
    if edge_order == 1:
        first = (nar(d, 1, 1) - nar(d, 0, 1)) / h
        last = (nar(d, n - 1, 1) - nar(d, n - 2, 1)) / h
    else:
        first = (-1.5 * nar(d, 0, 1) + 2.0 * nar(d, 1, 1) - 0.5 * nar(d, 2, 1)) / h
        last = (0.5 * nar(d, n - 3, 1) - 2.0 * nar(d, n - 2, 1) + 1.5 * nar(d, n - 1, 1)) / h
    return _ops.cat([first, mid, last], d)


def _grad_coords(f, d, x, edge_order):
    """numpy.gradient's second-order scheme for the sample points ``x`` along ``d``."""
    n, nd = f.shape[d], f.ndim
    nar = f.narrow
    dx = (x[1:] - x[:-1]).to(f.dtype)
    a1, a2 = dx[:-1], dx[1:]
    ca = _bcast(-a2 / (a1 * (a1 + a2)), d, nd)
    cb = _bcast((a2 - a1) / (a1 * a2), d, nd)
    cc = _bcast(a1 / (a2 * (a1 + a2)), d, nd)
    mid = ca * nar(d, 0, n - 2) + cb * nar(d, 1, n - 2) + cc * nar(d, 2, n - 2)
    if edge_order == 1:
        first = (nar(d, 1, 1) - nar(d, 0, 1)) / dx[0]
        last = (nar(d, n - 1, 1) - nar(d, n - 2, 1)) / dx[-1]
    else:
        p, q = dx[0], dx[1]
        first = (-(2 * p + q) / (p * (p + q)) * nar(d, 0, 1) + (p + q) / (p * q) * nar(d, 1, 1)
                 - p / (q * (p + q)) * nar(d, 2, 1))
        p, q = dx[-2], dx[-1]
        last = (q / (p * (p + q)) * nar(d, n - 3, 1) - (p + q) / (p * q) * nar(d, n - 2, 1)
                + (2 * q + p) / (q * (p + q)) * nar(d, n - 1, 1))
    return _ops.cat([first, mid, last], d)


def gradient(input, *, spacing=1, dim=None, edge_order=1):
    """gradient(input, *, spacing=1, dim=None, edge_order=1) -> tuple of Tensors

    The derivative of the function sampled by ``input`` along each dim in ``dim`` (all when
    None), by central differences inside and one-sided differences of order ``edge_order``
    (1 or 2) at the ends. ``spacing`` is one step for every dim, one step per dim, or one
    tensor of sample coordinates per dim, as in ``numpy.gradient``.

        >>> deepseek.gradient(deepseek.tensor([1., 4., 9., 16.]), spacing=2.)
        (tensor([1.5000, 2.0000, 3.0000, 3.5000]),)
    """
    _t("gradient", input)
    if edge_order not in (1, 2):
        raise RuntimeError("torch.gradient only supports edge_order=1 and edge_order=2.")
    if dim is None:
        dims = list(range(input.ndim))
    elif isinstance(dim, (list, tuple)):
        dims = [_ops._wrap_dim("gradient", d, input) for d in dim]
    else:
        dims = [_ops._wrap_dim("gradient", dim, input)]
    if isinstance(spacing, (list, tuple)):
        if len(spacing) != len(dims):
            raise RuntimeError(f"torch.gradient expected spacing to be unspecified, a scalar or it's spacing and dim "
                               f"arguments to have the same length, but got a spacing argument of length {len(spacing)} "
                               f"and a dim argument of length {len(dims)}.")
        steps = list(spacing)
    else:
        steps = [spacing] * len(dims)
    f = input if input.dtype.is_floating_point or input.dtype.is_complex else input.to(get_default_dtype())
    out = []
    for d, h in zip(dims, steps):
        n = input.shape[d]
        if n < edge_order + 1:
            raise RuntimeError(f"torch.gradient expected each dimension size to be at least edge_order+1 (got size {n} "
                               f"for dim {d} of an input of shape {tuple(input.shape)}, edge_order={edge_order})")
        if isinstance(h, Tensor) and h.ndim == 1:
            if h.shape[0] != n:
                raise RuntimeError(f"torch.gradient expected the coordinates along dim {d} to have {n} entries, got "
                                   f"{h.shape[0]}")
            out.append(_grad_coords(f, d, h, edge_order))
        else:
            h = h.item() if isinstance(h, Tensor) else h
            if not isinstance(h, numbers.Number):
                raise TypeError(f"gradient(): spacing must be a number, a list of numbers or a list of 1-D tensors, "
                                f"got {type(h).__name__}")
            out.append(_grad_uniform(f, d, h, edge_order))
    return tuple(out)


# ---------------- histogramdd ----------------

def histogramdd(input, bins, *, range=None, weight=None, density=False):
    """histogramdd(input, bins, *, range=None, weight=None, density=False) -> (hist, bin_edges)

    The D-dimensional histogram of the points in the rows of ``input`` (shape ``[..., D]``).
    ``bins`` is one count for every dim, a count per dim, or a list of D 1-D tensors of
    increasing edges; ``range`` gives ``[lo0, hi0, lo1, hi1, ...]`` for counted bins (the
    data's extent when None). Each bin holds its left edge; the last also its right edge.
    With ``density`` the counts become a density (summing to 1 times the cells' volumes).
    """
    _t("histogramdd", input)
    if input.ndim < 1:
        raise RuntimeError("torch.histogramdd: input tensor should have at least 1 dimension, but got 0")
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"torch.histogramdd: input tensor and bins tensors should have the same dtype, and be floating "
                           f"point, got {input.dtype}")
    D = input.shape[-1]
    x = input.detach().reshape(-1, D)
    if isinstance(bins, Tensor) or isinstance(bins, numbers.Integral):
        bins = [bins] * D if not isinstance(bins, Tensor) else [bins]
    bins = list(bins)
    if len(bins) != D:
        raise RuntimeError(f"torch.histogramdd: expected {D} sequences of bin edges or counts for each of the {D} "
                           f"dimensions of the input, but got {len(bins)}")
    if range is not None and len(range) != 2 * D:
        raise RuntimeError(f"torch.histogramdd: for a {D}-dimensional histogram range should have {2 * D} elements, but "
                           f"got {len(range)}")
    from ._creation import tensor
    from ._search import searchsorted

    edges, cells = [], None
    n = x.shape[0]
    keep = _core.full([n], True, "bool", None if x._device == "cpu" else x._device)
    for k, b in enumerate(bins):
        col = x[:, k].contiguous()
        if isinstance(b, Tensor):
            e = b.detach().to(x.dtype)
        else:
            b = operator.index(b)
            if b <= 0:
                raise RuntimeError(f"torch.histogramdd: bins must be > 0, but got {b} for dimension {k}")
            if range is not None:
                lo, hi = float(range[2 * k]), float(range[2 * k + 1])
            else:
                lo, hi = (float(col.min()), float(col.max())) if n else (0.0, 0.0)
            if lo > hi:
                raise RuntimeError(f"torch.histogramdd: min should not exceed max, but got min {lo} max {hi}")
            if lo == hi:
                lo, hi = lo - 0.5, hi + 0.5
            # NumPy's linspace ends exactly at hi, so the largest point lands in the last bin
            e = tensor(np.linspace(lo, hi, b + 1), dtype=x.dtype, device=x.device)
        nb = e.shape[0] - 1
        idx = _ops.clamp(searchsorted(e, col, right=True) - 1, 0, max(nb - 1, 0))
        keep = keep & (col >= e[0]) & (col <= e[-1])
        cells = idx if cells is None else cells * nb + idx
        edges.append(e)
    shape = [e.shape[0] - 1 for e in edges]
    w = keep.to(x.dtype) if weight is None else keep.to(x.dtype) * weight.detach().reshape(-1).to(x.dtype)
    total = _core.zeros([math.prod(shape)], x._dtype)
    if x._device != "cpu":
        total = total.to(x.device)
    hist = _ops.scatter_add(total, 0, cells, w).reshape(shape)
    if density:
        vol = None
        for k, e in enumerate(edges):
            width = (e[1:] - e[:-1]).reshape([-1] + [1] * (D - k - 1))
            vol = width if vol is None else vol * width
        hist = hist / (hist.sum() * vol)
    return hist, tuple(edges)


# ---------------- kaiser window ----------------

def kaiser_window(window_length, periodic=True, beta=12.0, *, dtype=None, layout=None, device=None,
                  requires_grad=False):
    """kaiser_window(window_length, periodic=True, beta=12.0, *, dtype=None, device=None) -> Tensor:
    ``I0(beta·sqrt(1 - (2n/N - 1)²)) / I0(beta)`` with N = window_length (periodic) or
    window_length - 1, I0 the modified Bessel function of order 0.

        >>> deepseek.kaiser_window(5, False, 3.0)
        tensor([0.2049, 0.7269, 1.0000, 0.7269, 0.2049])
    """
    from ._spectral import _window
    from .special import i0

    b = float(beta)
    return _window("kaiser_window", window_length, periodic, dtype, device, requires_grad,
                   lambda n, N: i0(b * _ops.sqrt(_ops.clamp(1.0 - (n * (2.0 / N) - 1.0) ** 2, min=0.0))) / i0(
                       _core.full([], b, "float64")))


# ---------------- samplers ----------------

def _numpy_rng(generator):
    """A NumPy generator seeded by two draws from a deepseek generator (the default one when None)."""
    from ._random import randint

    s = randint(0, 2**62, (2,), generator=generator).tolist()
    return np.random.Generator(np.random.PCG64(s))


def _float(op, x, name):
    _t(op, x, name)
    if not x.dtype.is_floating_point:
        raise RuntimeError(f"{op}: expected a floating point tensor for '{name}', got {x.dtype}")


def poisson(input, generator=None):
    """poisson(input, generator=None) -> Tensor: one draw from Poisson(rate) for each rate in
    ``input`` (which must be non-negative), in ``input``'s dtype. Not differentiable (the
    result has no history)."""
    _float("poisson", input, "input")
    lam = input.detach().double().cpu().numpy()
    if lam.size and not (lam >= 0).all():
        raise RuntimeError("poisson: invalid Poisson rate, expected rate to be non-negative")
    r = _numpy_rng(generator).poisson(lam)
    from ._creation import tensor

    return tensor(np.asarray(r, dtype=np.float64), dtype=input.dtype, device=input.device)


def binomial(count, prob, generator=None):
    """binomial(count, prob, generator=None) -> Tensor: one draw from Binomial(count, prob) per
    element (``count`` and ``prob`` broadcast; ``count`` a float tensor of whole numbers,
    ``prob`` in [0, 1]), in ``count``'s dtype. Not differentiable."""
    _float("binomial", count, "count")
    _float("binomial", prob, "prob")
    n = count.detach().double().cpu().numpy()
    p = prob.detach().double().cpu().numpy()
    if n.size and not ((n >= 0).all() and (n == np.floor(n)).all()):
        raise RuntimeError("binomial: count must be a tensor of non-negative whole numbers")
    if p.size and not ((p >= 0) & (p <= 1)).all():
        raise RuntimeError("binomial: prob must be in [0, 1]")
    n, p = np.broadcast_arrays(n, p)
    r = _numpy_rng(generator).binomial(n.astype(np.int64), p)
    from ._creation import tensor

    return tensor(np.asarray(r, dtype=np.float64), dtype=count.dtype, device=count.device)
