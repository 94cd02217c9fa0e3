"""Dynamic axes: which traced shape constants depend on them, and how.

A trace records concrete sizes. To find out which numbers follow a dynamic axis the exporter
traces again with each dynamic axis one larger (``variants``) and compares: a number that stays
put is a constant; one that changes is fitted as ``c * n_a * n_b ...`` (a product of axis
sizes, as a flattened batch*sequence is) or else as ``c0 + a * n_a + ...`` (affine, as a
shifted sequence is). ``emit_dim`` writes the fitted expression as Shape-based ONNX arithmetic.
A number that fits neither raises a SymbolicValueError naming the node.
"""
from __future__ import annotations

from .errors import SymbolicValueError


class Dim:
    """A size expression over the dynamic axes: ``coef * prod(sizes of prod)`` when ``prod``
    is set, else ``const + sum(a * size)`` over ``affine``."""

    __slots__ = ("coef", "prod", "const", "affine")

    def __init__(self, coef=1, prod=(), const=0, affine=()):
        self.coef, self.prod, self.const, self.affine = coef, tuple(prod), const, tuple(affine)

    def single(self):
        """The symbol's index when this is exactly one axis size, else None."""
        if len(self.prod) == 1 and self.coef == 1:
            return self.prod[0]
        return None


class RuntimeDim:
    """Dim ``axis`` of graph value ``vid``, read at run time (``Shape``): a size that equals
    one of the node's input dims in every trace. Preferred to an affine fit, which two traces
    cannot tell from a strided convolution's ``(n - k) // s + 1``."""

    __slots__ = ("vid", "axis")

    def __init__(self, vid, axis):
        self.vid, self.axis = vid, axis

    def single(self):
        return None


class Progression:
    """A 1-D constant ``start + step * i`` for i below a ``Dim`` (an arange over an axis)."""

    __slots__ = ("start", "step", "length")

    def __init__(self, start, step, length):
        self.start, self.step, self.length = start, step, length


def evaluate(d, sizes):
    """The number a fit (an int or a ``Dim``) stands for at axis sizes ``sizes``."""
    if isinstance(d, int):
        return d
    if d.prod:
        out = d.coef
        for j in d.prod:
            out *= sizes[j]
        return out
    return d.const + sum(a * sizes[j] for a, j in d.affine)


class Filled:
    """A constant holding one value everywhere, the value following an axis (a ``Dim``: the
    per-row lengths ``full((batch,), frames)``) and the shape perhaps too."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


class Broadcast:
    """A constant that repeats ``array`` along the dims whose size follows an axis (a host-made
    mask broadcast to the batch): ``array`` has those dims at size 1."""

    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array


class Pieces:
    """A 1-D integer constant made of a fixed ``prefix``, a progression ``start + step * i``
    over a ``Dim`` of elements, and a ``suffix`` of ``Dim`` values (the host-made indices of a
    reflect or replicate pad along an axis: ``[2, 1, 0, 1, ..., n - 1, n - 2, n - 3]``)."""

    __slots__ = ("prefix", "start", "step", "length", "suffix")

    def __init__(self, prefix, start, step, length, suffix):
        self.prefix, self.start, self.step, self.length, self.suffix = prefix, start, step, length, suffix


def _pieces(base, grown):
    """(prefix length, start, step, suffix length) when 1-D ``base`` and ``grown`` (one axis one
    larger) share a prefix, then each run a progression of the same start and step (``grown``'s
    longer), then a suffix of equal length; else None."""
    import numpy as np

    if base.ndim != 1 or grown.ndim != 1 or grown.size <= base.size or base.dtype.kind not in "iu":
        return None
    n0, n1 = base.size, grown.size
    for k in range(n0 + 1):
        for p in range(n0 - k + 1):
            if p and base[p - 1] != grown[p - 1]:
                break
            mb, mg = base[p:n0 - k], grown[p:n1 - k]
            if mg.size < 2:
                continue
            start, step = int(mg[0]), int(mg[1] - mg[0])
            if np.array_equal(mg, start + step * np.arange(mg.size)) and \
                    np.array_equal(mb, start + step * np.arange(mb.size)):
                return p, start, step, k
    return None


def _progression(arrays):
    """(start, step) when every array is 1-D and ``start + step * arange(len)``, else None."""
    import numpy as np

    longest = max(arrays, key=lambda a: a.size)
    if any(a.ndim != 1 for a in arrays) or longest.size < 2:
        return None
    start, step = longest[0].item(), (longest[1] - longest[0]).item()
    if all(np.array_equal(a, start + step * np.arange(a.size, dtype=a.dtype)) for a in arrays):
        return start, step
    return None


class Symbols:
    """The dynamic axes of one export and the fits of the numbers that follow them.

    ``axes[j]`` is ``(name, [(input index, axis), ...], size)``: one symbol may stand for axes
    of several inputs that must agree (the same name in ``dynamic_axes``). ``variants[j]`` is
    the graph traced with symbol ``j`` one larger; the fits are made from those. ``checks``
    are ``(j, delta, graph)``: graphs traced with symbol ``j`` larger by ``delta`` (doubled),
    on which every fit is proved: a size one step cannot see change (a floor division by a
    stride: 32 and 33 pixels give the same 1x1 map) is then read at run time from an input dim
    of its node, or refused, never frozen. They join the variants for the comparisons that
    ask a layout or a constant to be the same in every trace.
    """

    def __init__(self, base, variants, axes, checks=()):
        self.n_fit = len(variants)
        self.check_deltas = [(j, delta) for j, delta, _ in checks]
        variants = list(variants) + [g for _, _, g in checks]
        self.base, self.variants, self.axes = base, variants, axes
        self.base_nodes = base.nodes()
        self.variant_nodes = [g.nodes() for g in variants]
        self.variant_values = [g.values() for g in variants]
        self.variant_buffers = [g.buffers() for g in variants]
        self.base_values = base.values()
        names = [a for a in axes] + [axes[j] for j, _ in self.check_deltas]
        for (name, _, size), nodes in zip(names, self.variant_nodes):
            if len(nodes) != len(self.base_nodes) or any(
                    a["op"] != b["op"] or a["kind"] != b["kind"] for a, b in zip(nodes, self.base_nodes)):
                hint = ("; the example has size 1 there, which broadcasting and squeezes specialise: export with "
                        "an example of size 2 or more on it") if size == 1 else "; export it with static shapes"
                raise SymbolicValueError(
                    f"deepseek.onnx.export: the traced graph changes shape when dynamic axis '{name}' changes size "
                    f"(Python control flow or code specialised on that size){hint}")
        self._dims = {}
        self._constants = {}
        self.current = 0  # the node being lowered, and the values already emitted (the lowering's)
        self.ready = {}

    def _quantity(self, nodes, values, k, what):
        node = nodes[k]
        if what.startswith("attr:"):
            v = node["attrs"][what[5:]]
            return list(v) if isinstance(v, (list, tuple)) else [v]
        if what == "out_shape":
            return list(values[node["outputs"][0]]["shape"])
        if what == "in_shape":
            return list(values[node["inputs"][0]]["shape"])
        raise KeyError(what)

    def resolve(self, k, what, values, skip=()):
        """The entries of ``values`` (node ``k``'s quantity ``what``): ints, ``Dim`` fits, or a
        ``RuntimeDim`` where a number that is not a product of axis sizes equals one of the
        node's input dims in every trace; the entries at ``skip`` are returned as given."""
        moved = [self._quantity(n, v, k, what) for n, v in zip(self.variant_nodes, self.variant_values)]
        out = []
        for i, b in enumerate(values):
            if i in skip:  # an entry the caller replaces (a broadcast dim read at size 1)
                out.append(b)
                continue
            ms = [m[i] for m in moved]
            try:
                d = self.fit(b, ms, f"node {k} ({self.base_nodes[k]['op']}) {what}")
            except SymbolicValueError:
                d = self._input_dim(k, b, ms) or self.earlier_dim(b, ms)
                if d is None:
                    raise
            if isinstance(d, Dim) and not d.prod:
                d = self._input_dim(k, b, ms) or d
            out.append(d)
        return out

    def _input_dim(self, k, b, moved):
        """A ``RuntimeDim`` of an input of node ``k`` that is ``b`` in the base trace and
        ``moved`` in the others, or None."""
        return self._dim_among(self.base_nodes[k]["inputs"], b, moved)

    def _dim_among(self, vids, b, moved):
        for vid in vids:
            for axis, n in enumerate(self.base_values[vid]["shape"]):
                if n == b and all(len(vals[vid]["shape"]) > axis and vals[vid]["shape"][axis] == m
                                  for vals, m in zip(self.variant_values, moved)):
                    return RuntimeDim(vid, axis)
        return None

    def earlier_dim(self, b, moved):
        """A ``RuntimeDim`` of a graph input or of a value made before the node being lowered
        (``current``) that is ``b`` in the base trace and ``moved`` in the others (a mean's
        count over a strided convolution's output length), or None."""
        vids = list(self.base.inputs())
        for node in self.base_nodes[:max(self.current, 0)]:
            # only values already written as ONNX values: reading a view not yet emitted could
            # need this very number
            vids.extend(v for v in node["outputs"] if v in self.ready)
        return self._dim_among(vids, b, moved)

    def _fit_or_dim(self, b, moved, where):
        """``fit``, or where no expression fits, an earlier value's dim read at run time."""
        try:
            return self.fit(b, moved, where)
        except SymbolicValueError:
            d = self.earlier_dim(b, moved)
            if d is None:
                raise
            return d

    def value_shape(self, vid, strict=True):
        """The shape of value ``vid`` with each entry an int or a ``Dim`` (None for one that fits
        no expression, unless ``strict``, which raises)."""
        base = self.base_values[vid]["shape"]
        moved = [vals[vid]["shape"] for vals in self.variant_values]
        out = []
        for i, b in enumerate(base):
            try:
                out.append(self.fit(b, [m[i] for m in moved], f"value %{vid} shape"))
            except SymbolicValueError:
                if strict:
                    raise
                out.append(None)
        return out

    def layout_is_static(self, vid):
        """Whether value ``vid``'s shape, strides and offset are the same in every trace."""
        keys = ("shape", "strides", "offset")
        base = [self.base_values[vid][k] for k in keys]
        return all([vals[vid][k] for k in keys] == base for vals in self.variant_values)

    def constant(self, vid):
        """None when constant ``vid`` holds the same data in every trace; else the ``Dim`` its
        single element follows (a mean's element count over a dynamic axis, say), or the
        ``Progression`` it is (positions along an axis)."""
        if vid not in self._constants:
            self._constants[vid] = self._constant(vid)
        return self._constants[vid]

    def _constant(self, vid):
        import numpy as np

        def arr(g):
            t = g.constant(vid)
            return np.asarray(t.detach().cpu().numpy() if hasattr(t, "detach") else t)

        base = arr(self.base)
        moved = [arr(g) for g in self.variants]
        if all(m.shape == base.shape and np.array_equal(m, base) for m in moved):
            return None
        where = f"constant %{vid} (values {base.reshape(-1)[:4].tolist()} ...)"
        steps = _progression([base] + moved)
        if steps is not None:  # positions 0 .. n-1 (arange's host-made tensor) with n following an axis
            length = self.fit(base.size, [m.size for m in moved], where)
            if not isinstance(length, int):
                return Progression(steps[0], steps[1], length)
        if base.size != 1 or any(m.size != 1 for m in moved):
            other = self._shaped_constant(base, moved, where)
            if other is None:
                raise SymbolicValueError(
                    f"deepseek.onnx.export: {where} changes with a dynamic axis; only a one-element constant (an "
                    "element count), positions along the axis, a constant filled with a count, a fixed constant "
                    "broadcast along the axis, or pad indices around positions can follow it")
            return other
        b, ms = base.reshape(-1)[0].item(), [m.reshape(-1)[0].item() for m in moved]
        if not all(float(v).is_integer() for v in [b] + ms):
            raise SymbolicValueError(f"deepseek.onnx.export: {where} changes with a dynamic axis and is not "
                                     "a whole number of elements; export with static shapes")
        d = self._fit_or_dim(int(b), [int(m) for m in ms], where)
        return d if not isinstance(d, int) else None

    def _shaped_constant(self, base, moved, where):
        """A ``Filled``, ``Broadcast`` or ``Pieces`` reading of a constant of several elements
        that changes with a dynamic axis, or None."""
        import numpy as np

        arrays = [base] + moved
        if all(a.size and np.all(a == a.reshape(-1)[0]) for a in arrays):
            first = [a.reshape(-1)[0].item() for a in arrays]
            if len(set(first)) > 1 and all(float(f).is_integer() for f in first):  # one count, following an axis
                return Filled(self._fit_or_dim(int(first[0]), [int(f) for f in first[1:]], where))
        if all(m.ndim == base.ndim for m in moved):
            varies = [d for d in range(base.ndim) if any(m.shape[d] != base.shape[d] for m in moved)]
            reduced = [a[tuple(slice(0, 1) if d in varies else slice(None) for d in range(a.ndim))] for a in arrays]
            if varies and all(np.array_equal(np.broadcast_to(r, a.shape), a) for r, a in zip(reduced, arrays)) \
                    and all(np.array_equal(r, reduced[0]) for r in reduced):
                return Broadcast(reduced[0])
        fitting = moved[:self.n_fit]
        changed = [m for m in fitting if m.shape != base.shape or not np.array_equal(m, base)]
        if len(changed) == 1:
            j = next(i for i, m in enumerate(fitting) if m is changed[0])
            fit = _pieces(base, changed[0])
            if fit is not None:
                p, start, step, k = fit
                grown = changed[0]

                def one(b, g):
                    return self._fit(b, [b if i != j else g for i in range(len(fitting))], where)

                length = one(base.size - p - k, grown.size - p - k)
                suffix = [one(int(b), int(g)) for b, g in zip(base[base.size - k:], grown[grown.size - k:])]
                if not isinstance(length, int):
                    pieces = Pieces(base[:p].copy(), start, step, length, suffix)
                    for i, m in enumerate(moved[self.n_fit:]):  # proved on the checks
                        sizes = self.sizes_of(1 + self.n_fit + i)
                        want = np.concatenate([pieces.prefix, start + step * np.arange(evaluate(length, sizes)),
                                               [evaluate(e, sizes) for e in suffix]])
                        if not np.array_equal(m.reshape(-1), want):
                            return None
                    return pieces
        return None

    def sizes_of(self, i):
        """The axis sizes of trace ``i`` (0 the base, then the variants, then the checks)."""
        sizes = [size for _, _, size in self.axes]
        if i == 0:
            return sizes
        if i <= self.n_fit:
            sizes[i - 1] += 1
        else:
            j, delta = self.check_deltas[i - 1 - self.n_fit]
            sizes[j] += delta
        return sizes

    def fit(self, b, moved, where):
        """The expression of a number that is ``b`` in the base trace and ``moved`` in the
        others (the variants', then the checks'): fitted on the variants, proved on the
        checks; a SymbolicValueError names ``where`` otherwise."""
        d = self._fit(b, moved[:self.n_fit], where)
        for i, m in enumerate(moved[self.n_fit:]):
            if evaluate(d, self.sizes_of(1 + self.n_fit + i)) != m:
                j, delta = self.check_deltas[i]
                raise SymbolicValueError(
                    f"deepseek.onnx.export: {where} is {b} and {m} with dynamic axis '{self.axes[j][0]}' at "
                    f"{self.axes[j][2]} and {self.axes[j][2] + delta}, which no product or affine function of the "
                    "axis sizes explains (a floor division by a stride?); export with static shapes or an example "
                    "size at which such divisions are exact")
        return d

    def _fit(self, b, moved, where):
        if all(m == b for m in moved):
            return b
        sizes = [size for _, _, size in self.axes]
        changed = [j for j, m in enumerate(moved) if m != b]
        prod = 1
        for j in changed:
            prod *= sizes[j]
        if b % prod == 0 and all(moved[j] * sizes[j] == b * (sizes[j] + 1) for j in changed):
            return Dim(coef=b // prod, prod=changed)
        slopes = [moved[j] - b for j in changed]
        const = b - sum(a * sizes[j] for a, j in zip(slopes, changed))
        # an affine fit must explain the base value with non-degenerate slopes
        if all(isinstance(a, int) for a in slopes):
            return Dim(const=const, affine=list(zip(slopes, changed)))
        raise SymbolicValueError(f"deepseek.onnx.export: {where} depends on a dynamic axis in a way the exporter "
                                 "cannot express; export with static shapes")

    def emit_dim(self, low, d):
        """A 1-element int64 ONNX value computing ``d`` from the graph inputs' shapes."""
        if isinstance(d, RuntimeDim):
            return low.emit("Shape", [low.name(d.vid)], start=d.axis, end=d.axis + 1)
        key = (d.coef, d.prod, d.const, d.affine)
        if key in self._dims:
            return self._dims[key]
        if d.prod:
            out = None
            for j in d.prod:
                s = self._size(low, j)
                out = s if out is None else low.emit("Mul", [out, s])
            if d.coef != 1:
                out = low.emit("Mul", [out, low.i64([d.coef])])
        else:
            out = low.i64([d.const])
            for a, j in d.affine:
                term = self._size(low, j) if a == 1 else low.emit("Mul", [self._size(low, j), low.i64([a])])
                out = low.emit("Add", [out, term])
        self._dims[key] = out
        return out

    def _size(self, low, j):
        key = ("size", j)
        if key not in self._dims:
            _, members, _ = self.axes[j]
            i, axis = members[0]
            name = low.names[self.base.inputs()[i]]
            if low.opset >= 15:
                self._dims[key] = low.emit("Shape", [name], start=axis, end=axis + 1)
            else:
                self._dims[key] = low.emit("Gather", [low.emit("Shape", [name]), low.i64([axis])], axis=0)
        return self._dims[key]
