"""``deepseek.einsum``: Einstein summation as a chain of pairwise batched matrix products.

Each operand first loses its repeated subscripts (a diagonal), its size-1 broadcast dims and
the subscripts nothing else needs (summed). The operands are then contracted left to right,
each pair as one ``matmul`` of [batch, M, K] by [batch, K, N]. Memory stays within the size
of the operands and of each pairwise result, never the product of every subscript's size.
"""
from __future__ import annotations

import math

from . import _core
from ._core import Tensor

_ELLIPSIS = "..."


def einsum(equation, *operands):
    """einsum(equation, *operands) -> Tensor

    Sums the product of the operands' elements over the subscripts the ``equation`` leaves
    out of the output, in the Einstein summation convention. Subscripts are letters
    ``[a-zA-Z]``; a subscript repeated within one operand takes its diagonal; ``...`` stands
    for broadcast dims. Without ``->`` the output is the ellipsis dims followed by the
    subscripts that appear exactly once, in alphabetical order. Size-1 dims broadcast.

    Example::

        >>> a, b = deepseek.ones(2, 3), deepseek.ones(3, 4)
        >>> deepseek.einsum("ij,jk->ik", a, b).shape
        deepseek.Size([2, 4])
        >>> deepseek.einsum("ii", deepseek.eye(3))  # trace
        tensor(3.)
        >>> deepseek.einsum("...ij,...jk", deepseek.ones(5, 2, 3), b).shape
        deepseek.Size([5, 2, 4])
    """
    if not isinstance(equation, str):
        raise TypeError(f"einsum(): argument 'equation' must be str, not {type(equation).__name__} "
                        "(the sublist form einsum(op, [0, 1], ...) is not supported)")
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    for i, x in enumerate(operands):
        if not isinstance(x, Tensor):
            raise TypeError(f"einsum(): operand {i} must be a Tensor, not {type(x).__name__}")
    terms, output = _parse(equation, operands)
    sizes = _label_sizes(equation, terms, operands)
    operands = _promote(operands)

    ops = [_prepare(labels, x, sizes) for labels, x in zip(terms, operands)]
    # A subscript that neither the output nor another operand has is summed out at once.
    for i, (labels, x) in enumerate(ops):
        elsewhere = set(output).union(*(set(lb) for j, (lb, _) in enumerate(ops) if j != i))
        ops[i] = _sum_out(labels, x, elsewhere)

    labels, r = ops[0]
    for k in range(1, len(ops)):
        later = set(output).union(*(set(lb) for lb, _ in ops[k + 1:]))
        labels, r = _contract(labels, r, *ops[k], later)
    labels, r = _sum_out(labels, r, set(output))
    return r.permute([labels.index(c) for c in output]) if output else r


def _parse(equation, operands):
    """(terms, output): the subscripts of each operand and of the result. The dims an
    ellipsis covers become the integer labels 0..n-1, right-aligned as in broadcasting, so
    they broadcast and contract like letters."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    if "->" in rhs:
        raise RuntimeError(f"einsum(): the equation '{equation}' has more than one '->'")
    raw = [_subscripts(equation, t, f"operand {i}") for i, t in enumerate(lhs.split(","))]
    if len(raw) != len(operands):
        few = "fewer" if len(operands) < len(raw) else "more"
        raise RuntimeError(
            f"einsum(): {few} operands were provided than specified in the equation '{equation}': it names "
            f"{len(raw)} operands but got {len(operands)} (shapes {', '.join(str(tuple(x.shape)) for x in operands)})"
        )
    n_ell = 0
    for i, (t, x) in enumerate(zip(raw, operands)):
        n = len(t) - (_ELLIPSIS in t)
        if (x.ndim < n) if _ELLIPSIS in t else (x.ndim != n):
            more = ") is more than" if _ELLIPSIS in t else ") does not match"
            raise RuntimeError(
                f"einsum(): the number of subscripts in the equation ({n}{more} the number of dimensions "
                f"({x.ndim}) for operand {i} of shape {tuple(x.shape)}"
                + ("" if _ELLIPSIS in t else " and no ellipsis was given")
            )
        if _ELLIPSIS in t:
            n_ell = max(n_ell, x.ndim - n)
    terms = []
    for t, x in zip(raw, operands):
        k = x.ndim - (len(t) - 1)  # the dims this operand's ellipsis covers
        terms.append([lb for c in t for lb in (range(n_ell - k, n_ell) if c == _ELLIPSIS else [c])])
    counts = {}
    for t in terms:
        for c in t:
            counts[c] = counts.get(c, 0) + 1
    if not arrow:
        letters = sorted(c for c, n in counts.items() if isinstance(c, str) and n == 1)
        return terms, list(range(n_ell)) + letters
    output = []
    for c in _subscripts(equation, rhs, "the output"):
        if c == _ELLIPSIS:
            output.extend(range(n_ell))
            continue
        if c in output:
            raise RuntimeError(f"einsum(): output subscript {c} appears more than once in the output of '{equation}'")
        if c not in counts:
            raise RuntimeError(f"einsum(): output subscript {c} does not appear in the equation '{equation}' for any input operand")
        output.append(c)
    return terms, output


def _subscripts(equation, term, what):
    """The letters of one term, with '...' as one item."""
    out = []
    i = 0
    while i < len(term):
        c = term[i]
        if c == ".":
            if term[i:i + 3] != _ELLIPSIS:
                raise RuntimeError(f"einsum(): found '.' for {what} that is not part of any ellipsis (...) in '{equation}'")
            if _ELLIPSIS in out:
                raise RuntimeError(f"einsum(): found more than one ellipsis (...) for {what} in '{equation}'")
            out.append(_ELLIPSIS)
            i += 3
            continue
        if not ("a" <= c <= "z" or "A" <= c <= "Z"):
            raise RuntimeError(f"einsum(): invalid subscript {c!r} for {what} in '{equation}': subscripts must be in [a-zA-Z]")
        out.append(c)
        i += 1
    return out


def _label_sizes(equation, terms, operands):
    """The broadcast size of every label; a mismatch that is not a 1 is an error, and so is
    a repeated subscript whose dims differ in size."""
    sizes, origin = {}, {}
    for i, (t, x) in enumerate(zip(terms, operands)):
        first = {}
        for c, n in zip(t, x.shape):
            if first.setdefault(c, n) != n:
                raise RuntimeError(
                    f"einsum(): subscript {c} is repeated for operand {i} (shape {tuple(x.shape)}) in '{equation}' "
                    f"but the sizes don't match, {n} != {first[c]}"
                )
        for c, n in first.items():
            m = sizes.get(c, 1)
            if n != m and n != 1 and m != 1:
                j = origin[c]
                name = f"subscript {c}" if isinstance(c, str) else "a dim covered by the ellipsis"
                raise RuntimeError(
                    f"einsum(): {name} has size {m} for operand {j} (shape {tuple(operands[j].shape)}) but size {n} "
                    f"for operand {i} (shape {tuple(x.shape)}) in '{equation}'; the sizes must match or be 1"
                )
            if n != 1 or c not in sizes:
                sizes[c] = n
                origin[c] = i
    return sizes


def _promote(operands):
    """The operands cast to their common dtype (type promotion, as ``*`` between them does)."""
    dt = operands[0]._dtype if operands else None
    for x in operands[1:]:
        if x._dtype != dt:
            dt = _core.binary("mul", _core.zeros([], dt), _core.zeros([], x._dtype))._dtype
    return [x if x._dtype == dt else _core.cast(x, dt) for x in operands]


def _prepare(labels, x, sizes):
    """(labels, x) with repeated labels replaced by their diagonal and size-1 dims that
    broadcast against a larger size dropped: the operand is constant along them."""
    labels = list(labels)
    for c in dict.fromkeys(labels):
        dims = [d for d, lb in enumerate(labels) if lb == c]
        if len(dims) < 2:
            continue
        n = x.shape[dims[0]]
        rest = [d for d in range(x.ndim) if d not in dims]
        # the index applies to the leading dims: out[k, ...] = x[k, k, ..., :]
        idx = _core.arange(0.0, float(n), 1.0, "int64")
        x = _core.index(x.permute(dims + rest), [idx] * len(dims))
        labels = [c] + [labels[d] for d in rest]
    drop = [d for d, c in enumerate(labels) if x.shape[d] == 1 and sizes[c] != 1]
    if drop:
        x = _core.squeeze(x, drop)
        labels = [c for d, c in enumerate(labels) if d not in drop]
    return labels, x


def _sum_out(labels, x, keep):
    """Sums the dims whose label is not in ``keep``."""
    dims = [d for d, c in enumerate(labels) if c not in keep]
    if not dims:
        return labels, x
    return [c for c in labels if c in keep], _core.reduce("sum", x, dims, False)


def _contract(la, a, lb, b, later):
    """One pairwise step as a batched matrix product: labels in both operands that ``later``
    (the output and the remaining operands) needs are batch dims, the other shared ones are
    contracted, the rest are the rows (from ``a``) and columns (from ``b``)."""
    la, a = _sum_out(la, a, later | set(lb))
    lb, b = _sum_out(lb, b, later | set(la))
    batch = [c for c in la if c in lb and c in later]
    summed = [c for c in la if c in lb and c not in later]
    rows = [c for c in la if c not in lb]
    cols = [c for c in lb if c not in la]
    size = dict(zip(la, a.shape))
    size.update(zip(lb, b.shape))
    n = [math.prod(size[c] for c in g) for g in (batch, rows, summed, cols)]
    a = a.permute([la.index(c) for c in batch + rows + summed]).reshape(n[0], n[1], n[2])
    b = b.permute([lb.index(c) for c in batch + summed + cols]).reshape(n[0], n[2], n[3])
    # nothing to sum: a broadcast product, as large as the result and no larger
    r = _core.matmul(a, b) if summed else a * b
    return batch + rows + cols, r.reshape([size[c] for c in batch + rows + cols])
