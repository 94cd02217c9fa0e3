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


class Progression:
    """A 1-D constant ``start + step * i`` for i below a ``Dim`` (an arange over an axis)."""

    __slots__ = ("start", "step", "length")

    def __init__(self, start, step, length):
        self.start, self.step, self.length = start, step, length


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
    the graph traced with symbol ``j`` one larger.
    """

    def __init__(self, base, variants, axes):
        self.base, self.variants, self.axes = base, variants, axes
        self.base_nodes = base.nodes()
        self.variant_nodes = [g.nodes() for g in variants]
        self.variant_values = [g.values() for g in variants]
        self.variant_buffers = [g.buffers() for g in variants]
        self.base_values = base.values()
        for (name, _, _), nodes in zip(axes, self.variant_nodes):
            if len(nodes) != len(self.base_nodes) or any(
                    a["op"] != b["op"] or a["kind"] != b["kind"] for a, b in zip(nodes, self.base_nodes)):
                raise SymbolicValueError(
                    f"deepseek.onnx.export: the traced graph changes shape when dynamic axis '{name}' changes size "
                    "(Python control flow or code specialised on that size); export it with static shapes")
        self._dims = {}

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

    def resolve(self, k, what, values):
        """The entries of ``values`` (node ``k``'s quantity ``what``): ints, or ``Dim`` fits."""
        moved = [self._quantity(n, v, k, what) for n, v in zip(self.variant_nodes, self.variant_values)]
        return [self.fit(b, [m[i] for m in moved], f"node {k} ({self.base_nodes[k]['op']}) {what}")
                for i, b in enumerate(values)]

    def value_shape(self, vid):
        """The shape of value ``vid`` with each entry an int or a ``Dim``."""
        base = self.base_values[vid]["shape"]
        moved = [vals[vid]["shape"] for vals in self.variant_values]
        return [self.fit(b, [m[i] for m in moved], f"value %{vid} shape") for i, b in enumerate(base)]

    def layout_is_static(self, vid):
        """Whether value ``vid``'s shape, strides and offset are the same in every trace."""
        keys = ("shape", "strides", "offset")
        base = [self.base_values[vid][k] for k in keys]
        return all([vals[vid][k] for k in keys] == base for vals in self.variant_values)

    def constant(self, vid):
        """None when constant ``vid`` holds the same data in every trace; else the ``Dim`` its
        single element follows (a mean's element count over a dynamic axis, say), or the
        ``Progression`` it is (positions along an axis)."""
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
            raise SymbolicValueError(f"deepseek.onnx.export: {where} changes with a dynamic axis; only a "
                                     "one-element constant (an element count) can follow it")
        b, ms = base.reshape(-1)[0].item(), [m.reshape(-1)[0].item() for m in moved]
        if not all(float(v).is_integer() for v in [b] + ms):
            raise SymbolicValueError(f"deepseek.onnx.export: {where} changes with a dynamic axis and is not "
                                     "a whole number of elements; export with static shapes")
        d = self.fit(int(b), [int(m) for m in ms], where)
        return d if not isinstance(d, int) else None

    def fit(self, b, moved, where):
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
