"""Expected outcomes, and the comparison that sorts a mismatch into one class.

A reference returns an :class:`Expect` (a result made of :class:`R` tensors, tuples,
lists and Python scalars, plus the first argument after an in-place call), raises
:class:`Raises` when PyTorch refuses the call, or raises :class:`Skip` when it has no
opinion (behaviour PyTorch leaves undefined, or that the table does not encode).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .case import FINFO, FLOATS, round_to

CLASSES = ("wrong_value", "wrong_dtype", "wrong_shape", "should_raise", "should_not_raise",
           "wrong_exception", "crash", "hang")
CLASS_TITLES = {
    "wrong_value": "wrong value",
    "wrong_dtype": "wrong dtype",
    "wrong_shape": "wrong shape",
    "should_raise": "should raise but returned",
    "should_not_raise": "raised but should not",
    "wrong_exception": "wrong exception type",
    "crash": "crash",
    "hang": "hang",
}


class Skip(Exception):
    """The reference has no opinion on this call."""


class Raises(Exception):
    """PyTorch raises one of ``types`` (class names; a subclass matches) for this call."""

    def __init__(self, *types, why=""):
        super().__init__(why)
        self.types = types or ("Exception",)
        self.why = why


@dataclass
class R:
    """An expected tensor: exact float64 (or integer/bool) values and the result dtype.

    Float values match within ``ulps`` epsilons of the dtype relative to the value, plus
    ``ulps`` epsilons of ``scale`` (the magnitude a sum or product was formed from), plus
    ``atol``. ``indices_of=(input, dim)`` marks indices that are checked by what they pick
    (ties may be broken either way).
    """

    values: np.ndarray
    dtype: str
    ulps: float = 4.0
    scale: object = 0.0
    atol: float = 0.0
    indices_of: tuple | None = None

    def __post_init__(self):
        self.values = np.asarray(self.values)


@dataclass
class Expect:
    """``result``: the return value; ``after``: the first argument after an in-place call;
    ``or_raises``: exception types that are accepted instead (where PyTorch refuses what
    deepseek may soundly compute)."""

    result: object
    after: R | None = None
    or_raises: tuple = ()


@dataclass
class Verdict:
    cls: str | None  # None: agrees
    detail: str = ""


def _short(a, n=6):
    a = np.asarray(a)
    flat = a.reshape(-1)[:n].tolist()
    more = "..." if a.size > n else ""
    return f"{flat}{more}"


def tensor_mismatch(got, exp: R):
    """(class, detail) for a tensor outcome against an expected tensor, or None."""
    if got is None or not hasattr(got, "data"):
        return "wrong_shape", f"expected a tensor, got {got!r}"[:200]
    if tuple(got.shape) != tuple(exp.values.shape):
        return "wrong_shape", f"shape {tuple(got.shape)}, expected {tuple(exp.values.shape)}"
    if got.dtype != exp.dtype:
        return "wrong_dtype", f"dtype {got.dtype}, expected {exp.dtype}"
    bad = _bad_values(got.data, exp)
    if bad is not None and bad.any():
        i = tuple(int(k) for k in np.argwhere(bad)[0]) if bad.ndim else ()
        g = np.asarray(got.data)[i] if bad.ndim else np.asarray(got.data)[()]
        e = np.asarray(exp.values)[i] if bad.ndim else np.asarray(exp.values)[()]
        return "wrong_value", (f"{int(bad.sum())} of {bad.size} values differ, first at {list(i)}: "
                               f"got {g!r}, expected {e!r}; got {_short(got.data)}")
    return None


def _bad_values(data, exp: R):
    data = np.asarray(data)
    if exp.indices_of is not None:
        # indices are checked by what they pick, so ties may be broken either way
        src, dim = exp.indices_of
        idx = data.astype(np.int64)
        want = np.asarray(exp.values)
        if idx.ndim == src.ndim - 1:
            idx, want = np.expand_dims(idx, dim), np.expand_dims(want, dim)
        elif idx.ndim > src.ndim:  # pooling: positions in each flattened plane
            flat = idx.shape[:src.ndim - 1] + (-1,)
            idx, want = idx.reshape(flat), want.reshape(flat)
        out_of_range = (idx < 0) | (idx >= src.shape[dim])
        if out_of_range.any():
            return out_of_range.reshape(data.shape)
        picked = np.take_along_axis(src, idx, axis=dim)
        same = (picked == want) | (_isnan(picked) & _isnan(want))
        return (~same).reshape(data.shape)
    if exp.dtype not in FLOATS:
        want = round_to(exp.values, exp.dtype)
        return data.astype(want.dtype) != want
    got = data.astype(np.float64)
    ref = np.asarray(exp.values, dtype=np.float64)
    want = round_to(ref, exp.dtype)
    eps, big, _, tiny = FINFO[exp.dtype]
    rtol = exp.ulps * eps
    with np.errstate(all="ignore"):
        scale = np.abs(np.asarray(exp.scale, dtype=np.float64))
        tol = rtol * np.abs(ref) + rtol * scale + exp.atol + tiny
        ok = (got == want) | (np.isnan(got) & np.isnan(want)) | (np.abs(got - ref) <= tol)
        # a finite value that rounds to inf, or an inf that a sum's slack allows
        edge = np.isinf(want) & np.isfinite(ref) & (np.abs(got) >= big * (1 - rtol)) & (np.sign(got) == np.sign(ref))
        slack = np.isinf(got) & np.isfinite(want) & (np.abs(ref) + tol >= big)
        # a NaN that the inputs' scale allows (an inf - inf inside a tolerance band)
    return ~(ok | edge | slack)


def _isnan(a):
    a = np.asarray(a)
    return np.isnan(a) if a.dtype.kind == "f" else np.zeros(a.shape, bool)


def value_mismatch(got, exp):
    """Recursive comparison of an outcome value with an expected one."""
    if isinstance(exp, R):
        return tensor_mismatch(got, exp)
    if isinstance(exp, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(exp):
            n = len(got) if isinstance(got, (tuple, list)) else type(got).__name__
            return "wrong_shape", f"expected a sequence of {len(exp)}, got {n}"
        for k, (g, e) in enumerate(zip(got, exp)):
            m = value_mismatch(g, e)
            if m is not None:
                return m[0], f"[{k}] {m[1]}"
        return None
    if isinstance(exp, bool) or exp is None:
        if got is not exp and got != exp:
            return "wrong_value", f"got {got!r}, expected {exp!r}"
        return None
    if isinstance(exp, (int, float)):
        if isinstance(got, bool) or not isinstance(got, (int, float)):
            return "wrong_value", f"got {got!r}, expected {exp!r}"
        if isinstance(exp, float) and math.isnan(exp):
            return None if isinstance(got, float) and math.isnan(got) else ("wrong_value", f"got {got!r}, expected nan")
        if not math.isclose(got, exp, rel_tol=1e-6, abs_tol=1e-12) and got != exp:
            return "wrong_value", f"got {got!r}, expected {exp!r}"
        return None
    if got != exp:
        return "wrong_value", f"got {got!r}, expected {exp!r}"
    return None


def classify(outcome, expected):
    """A :class:`Verdict` for a worker outcome against an :class:`Expect` or :class:`Raises`."""
    if outcome.status == "hang":
        return Verdict("hang", outcome.message)
    if outcome.status == "crash":
        return Verdict("crash", outcome.message)
    if outcome.status == "raised" and "PanicException" in outcome.exc:
        return Verdict("crash", f"Rust panic: {outcome.message}")
    if isinstance(expected, Raises):
        if outcome.status == "ok":
            return Verdict("should_raise", f"expected {'/'.join(expected.types)} ({expected.why}); returned")
        if not set(expected.types) & set(outcome.exc) and "Exception" not in expected.types:
            return Verdict("wrong_exception", f"{outcome.exc[0]}: {outcome.message[:150]} "
                                              f"(expected {'/'.join(expected.types)}: {expected.why})")
        return Verdict(None)
    if outcome.status == "raised":
        if set(expected.or_raises) & set(outcome.exc):
            return Verdict(None)
        return Verdict("should_not_raise", f"{outcome.exc[0]}: {outcome.message[:200]}")
    m = value_mismatch(outcome.value, expected.result)
    if m is None and expected.after is not None:
        m = value_mismatch(outcome.after, expected.after)
        if m is not None:
            m = (m[0], "written tensor: " + m[1])
    return Verdict(*m) if m else Verdict(None)
