"""``repr`` of tensors, printed the way PyTorch prints them."""
from __future__ import annotations

import numpy as np

_DEFAULT_DTYPES = {"float32", "int64", "bool", "complex64"}
_EDGE = 3
_THRESHOLD = 1000


def _fmt_floats(vals: np.ndarray):
    """PyTorch's _Formatter: integer-valued tensors print as ``3.``, others with 4 decimals;
    scientific notation when the nonzero finite magnitudes span more than 1000x, exceed 1e8 or
    go below 1e-4 (integer-valued: the first two only). Widths come from the nonzero finite
    values; every entry is right-aligned to them."""
    nz = np.abs(vals[np.isfinite(vals) & (vals != 0)])
    if nz.size == 0:
        return lambda v: _special(v) or f"{v:.0f}."
    int_mode = bool(np.all(nz == np.ceil(nz)))
    amax, amin = nz.max(), nz.min()
    sci = amax / amin > 1000.0 or amax > 1.0e8 or (not int_mode and amin < 1.0e-4)
    signed = vals[np.isfinite(vals) & (vals != 0)]
    if sci:
        spec = "{:.4e}"
    elif int_mode:
        spec = "{:.0f}."
    else:
        spec = "{:.4f}"
    width = max(len(spec.format(v)) for v in signed)
    return lambda v: (_special(v) or spec.format(v)).rjust(width)


def _fmt_complex(vals: np.ndarray):
    """PyTorch's complex printing: the real parts and the imaginary parts each get their own
    float format; the imaginary part follows with its sign and a ``j`` (``1.5000+2.j``)."""
    fre, fim = _fmt_floats(vals.real), _fmt_floats(vals.imag)

    def fmt(v):
        v = complex(v)
        im = (fim(v.imag) + "j").lstrip()
        return fre(v.real) + (im if im[0] in "+-" else "+" + im)

    return fmt


def _special(v):
    if np.isnan(v):
        return "nan"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    return None


def _summarize(a: np.ndarray):
    """(the elements a summarized print shows, whether it summarizes): past the threshold only
    the first and last _EDGE entries of each long dim are printed, and, as in PyTorch, only
    they decide the format."""
    if a.ndim == 0 or a.size <= _THRESHOLD:
        return a, False
    shown = a
    for axis, n in enumerate(a.shape):
        if n > 2 * _EDGE:
            shown = np.take(shown, list(range(_EDGE)) + list(range(n - _EDGE, n)), axis=axis)
    return shown, True


def _render(a: np.ndarray, fmt, indent: int, summarize: bool) -> str:
    if a.ndim == 0:
        return fmt(a.item())
    if a.ndim == 1:
        items = list(a)
        if summarize and len(items) > 2 * _EDGE:
            parts = [fmt(x) for x in items[:_EDGE]] + [" ..."] + [fmt(x) for x in items[-_EDGE:]]  # PyTorch's " ..."
        else:
            parts = [fmt(x) for x in items]
        return "[" + ", ".join(parts) + "]"
    rows_idx = list(range(a.shape[0]))
    if summarize and len(rows_idx) > 2 * _EDGE:
        rows_idx = rows_idx[:_EDGE] + [None] + rows_idx[-_EDGE:]
    sep = "," + "\n" * (a.ndim - 1) + " " * (indent + 1)
    rows = ["..." if i is None else _render(a[i], fmt, indent + 1, summarize) for i in rows_idx]
    return "[" + sep.join(rows) + "]"


def format_tensor(t) -> str:
    dt = t._dtype
    from ._tensor import _share

    where = t._device
    if where != "cpu":
        # shown from a host copy; the device is named in the suffix, as PyTorch does
        host = t.detach().cpu()
        text = format_tensor(host)
        extra = f", device='{where}'"
        gf = t._grad_fn_name
        if gf is not None:
            extra += f", grad_fn=<{gf}>"
        elif t.requires_grad:
            extra += ", requires_grad=True"
        prefix = "Parameter containing:\n" if getattr(type(t), "_is_param", False) else ""
        return prefix + text[:-1] + extra + ")"

    data = _share(t.detach().float() if dt == "bfloat16" else t)
    suffix = []
    if t.numel() == 0 and t.ndim != 1:
        body = "[]"
        suffix.append(f"size={tuple(t.shape)}")
    elif t.numel() == 0:
        body = "[]"
    else:
        shown, summ = _summarize(data)
        if data.dtype.kind == "c":
            fmt = _fmt_complex(shown.astype(np.complex128).ravel())
        elif data.dtype.kind == "f":
            fmt = _fmt_floats(shown.astype(np.float64).ravel())
        elif data.dtype.kind == "b":
            fmt = lambda v: str(bool(v))
        else:
            w = max(len(str(v)) for v in shown.ravel())
            fmt = lambda v: str(v).rjust(w)
        body = _render(data, fmt, len("tensor("), summ)
    if dt not in _DEFAULT_DTYPES:
        suffix.append(f"dtype=deepseek.{dt}")
    gf = t._grad_fn_name
    if gf is not None:
        suffix.append(f"grad_fn=<{gf}>")
    elif t.requires_grad:
        suffix.append("requires_grad=True")
    prefix = "Parameter containing:\n" if getattr(type(t), "_is_param", False) else ""
    return prefix + "tensor(" + body + "".join(", " + s for s in suffix) + ")"
