"""A graph of one fused elementwise node, for testing a backend's generated kernels (ABI 2.1's
programs; ``deepseek.backends.kernels.fused``) without tracing: the node's program runs over
inputs of any shapes broadcast to one shape, on any device, as ``deepseek.jit.load`` would
build it; and :func:`check_traced_chain`, a small elementwise chain traced on a device and
checked there (one generated kernel per fused node, the per-step launches' bits, the CPU's
values), the ``fused`` step of each GPU plugin's ``gpu_check.py``.

Example::

    >>> from deepseek.testing.fused import elementwise_graph
    >>> g = elementwise_graph(["mul", "tanh"], [0, 1, 2, -1], [3], [(4, 5), (5,)], (4, 5), "float32", "cpu")
    >>> x, y = deepseek.randn(4, 5), deepseek.randn(5)
    >>> (out,) = g.run([x, y], [], 0, None)
"""
from __future__ import annotations

from .._strided import _contiguous_strides

__all__ = ["elementwise_graph", "ITEMSIZE", "check_traced_chain", "traced_chain_bodies", "CHAIN_DTYPES"]

ITEMSIZE = {"bool": 1, "uint8": 1, "int8": 1, "int16": 2, "int32": 4, "int64": 8, "float16": 2, "bfloat16": 2,
            "float32": 4, "float64": 8}




def _numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def elementwise_graph(ops, args, outputs, in_shapes, shape, dtype, device, transposed=()):
    """A ``deepseek._core.Graph`` holding one ``elementwise`` node.

    Args:
        ops, args, outputs: the node's program (docs/graphs.md, section 3).
        in_shapes: each input's shape; one that is not ``shape`` reaches the node through an
            ``expand`` view (broadcast, stride 0).
        shape: the node's shape (every output's, contiguous).
        dtype: every operand's dtype name.
        device: where every buffer lives (``"cpu"``, ``"opencl:0"`` ...).
        transposed: indices of 2-d inputs whose value is a transposed view of their buffer
            (pass those inputs as ``t.T`` of a contiguous transpose).

    Returns:
        The core graph: ``run(inputs, [], 0, None)`` runs it; ``attach_program`` compiles a
        rendering of the node (its index is ``len(g.nodes()) - 1``).
    """
    from deepseek import _core
    from deepseek.backends import ensure_device

    device = ensure_device(device)  # the backend's table registered with the core
    es = ITEMSIZE[dtype]
    buffers, values, nodes, inputs, node_ins = [], [], [], [], []
    for i, s in enumerate(in_shapes):
        s = list(s)
        buffers.append({"nbytes": _numel(s) * es, "device": device, "role": "input", "index": i})
        strides = _contiguous_strides(s[::-1])[::-1] if i in transposed else _contiguous_strides(s)
        values.append({"dtype": dtype, "shape": s, "strides": strides, "offset": 0, "buffer": i, "version": 0,
                       "alias_of": None})
        inputs.append(len(values) - 1)
        if s != list(shape):
            pad = len(shape) - len(s)
            bst = [0] * pad + [0 if d == 1 and shape[pad + k] != 1 else strides[k] for k, d in enumerate(s)]
            values.append({"dtype": dtype, "shape": list(shape), "strides": bst, "offset": 0, "buffer": i,
                           "version": 0, "alias_of": len(values) - 1})
            nodes.append({"kind": "view", "op": "expand", "attrs": {"shape": list(shape)}, "inputs": [len(values) - 2],
                          "outputs": [len(values) - 1], "mutates": []})
        node_ins.append(len(values) - 1)
    outs = []
    for _ in outputs:
        buffers.append({"nbytes": _numel(shape) * es, "device": device, "role": "internal", "index": None})
        values.append({"dtype": dtype, "shape": list(shape), "strides": _contiguous_strides(shape), "offset": 0,
                       "buffer": len(buffers) - 1, "version": 1, "alias_of": None})
        outs.append(len(values) - 1)
    nodes.append({"kind": "elementwise", "op": "elementwise",
                  "attrs": {"ops": list(ops), "args": list(args), "outputs": list(outputs)},
                  "inputs": node_ins, "outputs": outs, "mutates": []})
    return _core.graph_from_parts(buffers, values, nodes, inputs, [], outs, [], [])


CHAIN_DTYPES = ("float32", "float16", "bfloat16")
_CHAIN_TOL = {"float32": 1e-5, "float16": 4e-3, "bfloat16": 3e-2}


def _chain(x, b):
    """The chain :func:`check_traced_chain` traces: one fused node of seven steps (a broadcast
    bias, tanh and sigmoid, Python scalars), read by a matmul (a launch that stays)."""
    import deepseek as ds

    h = ds.tanh(x * 0.5 + b)
    y = ds.sigmoid(h) * 2.0 - h * x
    return y, ds.matmul(y[:4].to(ds.float32), x[:4].to(ds.float32).T)


def _chain_inputs(dtype):
    import numpy as np

    import deepseek as ds

    rng = np.random.default_rng(0)
    dt = getattr(ds, dtype)
    return ds.tensor(rng.standard_normal((64, 33)).astype(np.float32)).to(dt), \
        ds.tensor(rng.standard_normal(33).astype(np.float32)).to(dt)


def traced_chain_bodies(dtypes=CHAIN_DTYPES):
    """[(kernel name, body)] the generated kernels :func:`check_traced_chain` compiles for
    ``dtypes`` (its chain traced on the CPU and rendered, as tracing on a device renders it):
    for a fake driver that runs host builds of every program it loads."""
    import deepseek as ds
    from deepseek.backends.kernels import fused

    out = []
    for dtype in dtypes:
        with ds.no_grad():
            gm = ds.jit.trace(_chain, _chain_inputs(dtype))
        values = gm._g.values()
        out += [(fused.KERNEL, fused.render_node(n, values)[0]) for n in gm.graph.nodes() if n["kind"] == "elementwise"]
    return out


def check_traced_chain(device, program_launches, dtypes=CHAIN_DTYPES):
    """Traces :func:`_chain` on ``device`` for each dtype and checks it there.

    Args:
        device: where to trace (``"cuda:0"``, ``"rocm:0"``, ``"opencl:0"``).
        program_launches: a callable giving how many generated kernels the backend has
            launched so far (the plugin's counter).
        dtypes: the dtypes to try.

    Returns:
        A dict per dtype: ``fused_nodes`` (elementwise nodes of the traced graph),
        ``kernels`` (compiled for it), ``launches_per_run`` (generated kernels one run
        launched), ``bit_equal`` (to the same trace run one launch a step), ``max_rel_diff``
        (to the CPU's trace), ``ok``; and ``ok`` over all of them.
    """
    import numpy as np

    import deepseek as ds

    def host(ts):
        return [t.to("cpu").to(ds.float64).numpy() for t in ts]

    def raw(ts):  # the values' bytes (half types widened to float32, which keeps every bit)
        return [t.to("cpu").to(ds.float32 if t.dtype in (ds.float16, ds.bfloat16) else t.dtype).numpy().view(np.uint8)
                for t in ts]

    sync = getattr(ds, ds.device(device).type).synchronize
    out = {}
    for dtype in dtypes:
        x, b = _chain_inputs(dtype)
        xd, bd = x.to(device), b.to(device)
        with ds.no_grad():
            ref = host(ds.jit.trace(_chain, (x, b))(x, b))
            gm = ds.jit.trace(_chain, (xd, bd))
            stepwise = ds.jit.trace(_chain, (xd, bd), fuse=False)
            gm(xd, bd)  # warm
            sync()
            before = program_launches()
            got = gm(xd, bd)
            sync()
            launches = program_launches() - before
            want = stepwise(xd, bd)
        nodes = sum(n["kind"] == "elementwise" for n in gm.graph.nodes())
        same = all(np.array_equal(a, c) for a, c in zip(raw(got), raw(want)))
        rel = max(float(np.max(np.abs(a - r) / np.maximum(np.abs(r), 1.0))) for a, r in zip(host(got), ref))
        out[dtype] = {"fused_nodes": nodes, "kernels": gm._g.n_device_kernels(), "launches_per_run": launches,
                      "bit_equal": same, "max_rel_diff": rel,
                      "ok": nodes >= 1 and launches == nodes and same and rel <= _CHAIN_TOL[dtype]}
    out["ok"] = all(v["ok"] for v in out.values())
    return out
