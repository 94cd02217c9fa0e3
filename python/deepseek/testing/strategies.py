"""Hypothesis strategies for deepseek tensors.

A drawn tensor is a :class:`Case`: NumPy values plus a recipe for the view (contiguous,
transposed, strided, flipped or expanded), so the same tensor, with the same strides, can be
built on any device with ``case.make(device)``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from hypothesis import strategies as st

FLOATS = ("float32", "float64", "float16", "bfloat16")
INTS = ("uint8", "int8", "int16", "int32", "int64")
ALL = ("bool",) + INTS + FLOATS
LAYOUTS = ("contiguous", "transposed", "strided", "flipped", "expanded")


def dtypes(kinds=ALL):
    """One of ``kinds`` (dtype names)."""
    return st.sampled_from(tuple(kinds))


def shapes(min_dims=0, max_dims=4, min_side=0, max_side=5):
    """Shapes with ``min_dims..max_dims`` dims of ``min_side..max_side`` each (0-size included
    when ``min_side`` is 0)."""
    return st.lists(st.integers(min_side, max_side), min_size=min_dims, max_size=max_dims).map(tuple)


@st.composite
def broadcast_shapes(draw, n=2, min_dims=0, max_dims=4, max_side=5):
    """``n`` shapes that broadcast together (dims dropped from the left or set to 1)."""
    full = draw(shapes(min_dims, max_dims, 0, max_side))
    out = []
    for _ in range(n):
        k = draw(st.integers(0, len(full)))
        sh = tuple(1 if draw(st.booleans()) and draw(st.booleans()) else s for s in full[len(full) - k:])
        out.append(sh)
    return out


def _values(rng, dtype, shape, lo, hi, special):
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype in INTS:
        info = np.iinfo(np.dtype(dtype))
        return rng.integers(max(lo, info.min), min(hi, info.max) + 1, size=shape).astype(dtype)
    v = rng.uniform(lo, hi, size=shape)
    if special and v.size:
        picks = rng.random(shape) < 0.1
        v = np.where(picks, rng.choice(np.array([0.0, -0.0, np.inf, -np.inf, np.nan]), size=shape), v)
    return v


@dataclass
class Case:
    """One drawn tensor: NumPy values in float64 (or the integer/bool type), a dtype name, and
    the view that gives it its strides."""

    values: np.ndarray
    dtype: str
    layout: str = "contiguous"
    shape: tuple = field(default=())

    def make(self, device=None, requires_grad=False):
        """The tensor on ``device`` (None: the CPU); the base, not the view, is the leaf, so
        ``case.leaf`` receives the gradient when ``requires_grad``."""
        import deepseek

        base = deepseek.tensor(self.values, dtype=getattr(deepseek, self.dtype))
        if device is not None and str(device) != "cpu":
            base = base.to(device)
        if requires_grad:
            base.requires_grad_(True)
        self.leaf = base
        nd = len(self.shape)
        if self.layout == "transposed":
            return base.permute(*reversed(range(nd)))
        if self.layout == "strided":
            return base[..., ::2]
        if self.layout == "flipped":
            return base.flip(-1)
        if self.layout == "expanded":
            return base.expand(*self.shape)
        return base

    def __repr__(self):
        return f"Case({self.dtype}, shape={self.shape}, {self.layout})"


@st.composite
def tensors(draw, dtype=None, shape=None, lo=-4.0, hi=4.0, layouts=LAYOUTS, special=False, kinds=ALL):
    """A :class:`Case` of ``shape`` (drawn if None) and ``dtype`` (drawn from ``kinds`` if
    None), laid out as one of ``layouts``; floats uniform in [lo, hi), with 0, -0, inf, -inf
    and NaN mixed in when ``special``."""
    dtype = dtype or draw(dtypes(kinds))
    shape = tuple(draw(shapes()) if shape is None else shape)
    layout = draw(st.sampled_from(tuple(layouts)))
    if layout in ("flipped", "strided") and len(shape) == 0:
        layout = "contiguous"
    if layout == "expanded" and not any(s > 1 for s in shape):
        layout = "contiguous"
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if layout == "transposed":
        vals = _values(rng, dtype, tuple(reversed(shape)), lo, hi, special)
    elif layout == "strided":
        vals = _values(rng, dtype, shape[:-1] + (2 * shape[-1],), lo, hi, special)
    elif layout == "expanded":
        k = next(i for i, s in enumerate(shape) if s > 1)
        vals = _values(rng, dtype, shape[:k] + (1,) + shape[k + 1:], lo, hi, special)
    else:
        vals = _values(rng, dtype, shape, lo, hi, special)
    return Case(vals, dtype, layout, shape)
