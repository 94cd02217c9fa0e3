"""Generated kernels for fused elementwise groups: a graph's ``elementwise`` node (its
register program: ``ops``, ``args``, ``outputs``; docs/graphs.md, section 3) rendered to one
portable kernel body, which a backend that compiles kernels builds once (ABI 2.1's
``compile_program``) and launches once per run instead of one launch a step.

The body uses the dialect of the shipped programs (:mod:`.dialect`), the same per-op
expressions (:func:`.dtypes.unary_expr`, :func:`.dtypes.binary_expr`) and the same loads and
stores, and rounds every intermediate to the storage dtype as the unfused launches' outputs
are, so its results equal the per-step launches' bit for bit. Operands may have any strides
(0 for broadcast, negative): they travel in one ``MetaN`` block (N = outputs + inputs), the
index arithmetic of the family kernels. The kernel's arguments are the N buffers (outputs
first), ``MetaN`` and ``i64 n``; it runs 1-d over ``n`` (docs/kernels.md, section 2).

When the node's operands coalesce (the shared planner's rule) to at most :data:`FLAT_RANK`
dims, the offsets are straight-line code for that rank instead of the family kernels' loop
over dims: CPU OpenCL drivers (PoCL) then vectorise the kernel across work items, which the
loop prevents (bench/RESULTS.md: a 32-op arithmetic chain 25x the per-step launches instead
of 6x; a deep tanh/sigmoid chain stays bound by its latency per element, about 0.8x). The
core launches such a kernel only for operands of that rank or fewer.

Half types compute in float as the shipped kernels do: each bfloat16 intermediate goes
through ``f2bf``/``bf2f``, each float16 one through ``DS_STORE_F16``/``DS_LOAD_F16`` on a
one-element private buffer (:data:`ROUND_F16`; OpenCL C can only point to ``half``), the
round trip the unfused launches' output makes.

Rendering declines (returns None; the node then runs one launch a step) a program with more
than :data:`FMAXT` operands or an op without an expression for the dtype.

Example::

    >>> from deepseek.backends.kernels import fused
    >>> body = fused.render(["mul", "tanh"], [0, 1, 2, -1], [3], 2, "float32")
    >>> "k_fused" in body
    True
"""
from __future__ import annotations

from .common import SHARED, SHARED_FP64, float_helpers, int_helpers
from .dtypes import BINARY, D, UNARY, binary_expr, ld, st, unary_expr
from .geometry import FMAXT, MAXT

KERNEL = "k_fused"

# A float rounded to float16 and read back, as a float16 launch's output is stored and the
# next launch loads it (round to nearest even; NaNs and infinities as the conversions give
# them), written with the dialect's own conversions so that it matches them on every target.
ROUND_F16 = r"""
DS_FN float ds_round_f16(float v) {
    u16 h[1];
    DS_STORE_F16((f16 *)h, 0, v);
    return DS_LOAD_F16((const f16 *)h, 0);
}
"""

__all__ = ["KERNEL", "FMAXT", "FLAT_RANK", "render", "render_node", "attach", "coalesced_rank"]

# Operands coalescing to at most this many dims get straight-line offsets (one i64 division
# per dim past the first; NCHW with a per-channel operand is 3).
FLAT_RANK = 3


def _step_expr(op: str, dt):
    """(arity, expression of x [and y]) of one step, or None where the family kernels have none."""
    if op in UNARY:
        e = unary_expr(op, dt)
        return None if e is None else (1, e)
    if op in BINARY:
        e = binary_expr(op, dt)
        return None if e is None else (2, e)
    return None


def _stored(dt, e: str) -> str:
    """``e`` (compute type) as the unfused launch's output holds it, read back: what
    ``st`` then ``ld`` give, as one expression (no private array per step)."""
    if dt.kind == "b":
        return f"((u8)(({e}) != 0))"
    if dt.name == "bfloat16":
        return f"bf2f(f2bf({e}))"
    if dt.name == "float16":
        return f"ds_round_f16({e})"
    return f"({dt.ct})({e})"  # the storage type is the compute type


def _offsets(nt: int, rank):
    """Statements setting ``of[t]`` for work item ``g``: the general ``offsN`` walk, or for
    ``rank`` (operands of at most that many coalesced dims) straight-line code, where a dim
    past the launch's ``nd`` (shape 0 in ``MetaN``) counts as size 1 with stride 0."""
    if rank is None:
        return [f"offs{nt}(&m, g, of);"]
    out = ["i64 q = g;"]
    for d in range(rank - 1, 0, -1):
        out.append(f"i64 s{d} = m.sh[{d}] > 0 ? m.sh[{d}] : 1, q{d} = q / s{d}, c{d} = q - q{d} * s{d};")
        out.append(f"q = q{d};")
    for t in range(nt):
        terms = [f"q * m.st[{t}][0]"] + [f"c{d} * m.st[{t}][{d}]" for d in range(1, rank)]
        out.append(f"of[{t}] = m.off[{t}] + {' + '.join(terms)};")
    return out


def coalesced_rank(shape, strides) -> int:
    """How many dims operands of ``shape`` with ``strides`` (one list per operand) iterate
    once size-1 dims are dropped and neighbours every operand walks as one are merged: the
    shared planner's rule (``dsk_make_meta``), which the launch's ``MetaN`` follows."""
    nd, prev = 0, [0] * len(strides)
    for d, s in enumerate(shape):
        if s == 1:
            continue
        if not (nd > 0 and all(st[d] * s == p for st, p in zip(strides, prev))):
            nd += 1
        prev = [st[d] for st in strides]
    return nd


def render(ops, args, outputs, n_inputs: int, dtype: str, name: str = KERNEL, rank=None):
    """The portable kernel body (no prelude) computing an elementwise program, or None.

    Args:
        ops: op names, one per step (elementwise unary or binary primitives).
        args: two register numbers per step (-1 for a unary op's second); registers
            ``0..n_inputs`` are the inputs, step ``k`` writes register ``n_inputs + k``.
        outputs: the registers written to the outputs, in order.
        n_inputs: how many inputs the program reads.
        dtype: the one dtype of every operand (``"float32"`` ...).
        name: the kernel's name.
        rank: index operands of at most this many coalesced dims with straight-line code
            (None: any number, the general walk).

    Returns:
        The body as a str (kernel ``name``; arguments: the outputs' then the inputs' buffers,
        ``Meta<N>`` and ``i64 n``), or None where the program cannot be generated.
    """
    dt = D.get(dtype)
    nt = len(outputs) + n_inputs
    if dt is None or not ops or not outputs or nt > FMAXT or len(args) != 2 * len(ops):
        return None
    fp64 = dtype == "float64"
    S, C = dt.st, dt.ct
    no = len(outputs)
    body = []
    read = set(outputs) | {a for a in args if a >= 0}
    for k in range(n_inputs):  # registers 0..n_inputs: the inputs, loaded once (those read)
        if k in read:
            body.append(f"{C} r{k} = {ld(dt, f't{no + k}', f'of[{no + k}]')};")
    for k, op in enumerate(ops):
        se = _step_expr(op, dt)
        if se is None:
            return None
        arity, e = se
        a, b = args[2 * k], args[2 * k + 1]
        r = n_inputs + k
        if not 0 <= a < r or (arity == 2 and not 0 <= b < r) or (arity == 1 and b != -1):
            return None
        xy = f"{C} x = r{a};" + (f" {C} y = r{b};" if arity == 2 else "")
        body.append(f"{C} r{r};\n    {{ {xy} r{r} = {_stored(dt, e)}; }}")
    for o, reg in enumerate(outputs):
        if not 0 <= reg < n_inputs + len(ops):
            return None
        body.append(st(dt, f"t{o}", f"of[{o}]", f"r{reg}", dt.cat, fp64))
    ptrs = [f"DS_GLOBAL {S} *t{o}" for o in range(no)] + [f"DS_GLOBAL const {S} *t{no + k}" for k in range(n_inputs)]
    parts = [SHARED]
    if fp64:
        parts.append(SHARED_FP64)
    if dt.kind in "ui":
        parts.append(int_helpers(dt))
    if dt.kind == "f":
        parts.append(float_helpers(C))
    if dtype == "float16":
        parts.append(ROUND_F16)
    if nt > MAXT:
        parts.append(f"DEFINE_META({nt})\n")
    parts.append(f"""
DS_KERNEL {name}({', '.join(ptrs)}, Meta{nt} m, i64 n) {{
    i64 g = DS_GID(0);
    if (g >= n) return;
    i64 of[{nt}];
    {chr(10).join('    ' + ln if i else ln for i, ln in enumerate(_offsets(nt, rank) + body))}
}}
""")
    return "".join(parts)


def render_node(node: dict, values: list):
    """``(body, rank)`` of an ``elementwise`` node of a graph (``Graph.nodes()`` entry, with
    ``Graph.values()``): its rendering for the coalesced rank of its operands' layouts when
    that is at most :data:`FLAT_RANK` (None: the general walk). The body is None where the
    program cannot be generated."""
    v = values[node["outputs"][0]]
    rank = coalesced_rank(v["shape"], [values[u]["strides"] for u in node["outputs"] + node["inputs"]])
    rank = max(rank, 1) if rank <= FLAT_RANK else None
    a = node["attrs"]
    return render(a["ops"], a["args"], a["outputs"], len(node["inputs"]), v["dtype"], rank=rank), rank


def attach(core_graph) -> int:
    """Renders every ``elementwise`` node of ``core_graph`` (a ``deepseek._core.Graph``) that
    runs off the CPU and has the backend compile it (``Graph.attach_program``): once, when a
    graph is finished for a device, so no Python runs per launch. A node whose operands
    coalesce to at most :data:`FLAT_RANK` dims gets the kernel for that rank. Returns how
    many nodes got a kernel. A compile error raises a RuntimeError naming the node."""
    values = buffers = None
    done = 0
    for i, n in enumerate(core_graph.nodes()):
        if n["kind"] != "elementwise":
            continue
        if values is None:
            values, buffers = core_graph.values(), core_graph.buffers()
        v = values[n["outputs"][0]]
        if buffers[v["buffer"]]["device"] == "cpu":
            continue
        body, rank = render_node(n, values)
        if body is not None and core_graph.attach_program(i, KERNEL, body, rank):
            done += 1
    return done
