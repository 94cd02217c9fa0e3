"""ONNX's ``Scan`` (opset 9 and newer) on import: the body graph run once per step over slices
of the scan inputs, the state variables carried from step to step and the per-step outputs
stacked. The body reads values of the outer graph by name (an exported projected LSTM reads
its weights so), so it runs over a copy of the outer values with its own inputs added."""
from __future__ import annotations

from ._registry import register


class Body:
    """A compiled Scan body: its input and output names, its ``_Node``s, and the outer values
    it reads (which the outer graph must keep until the Scan has run)."""

    def __init__(self, graph, nodes):
        self.inputs = [i.name for i in graph.input]
        self.outputs = [o.name for o in graph.output]
        self.nodes = nodes
        defined = set(self.inputs) | {""}
        reads = []
        for n in nodes:
            for i in n.inputs + n.outer_reads:
                if i not in defined and i not in reads:
                    reads.append(i)
            defined.update(n.outputs)
        self.outer_reads = reads


@register("Scan")
def _scan_rule(ins, attrs, ctx):
    raise ctx.fail("a Scan runs only inside an imported module (its body reads the outer graph)")


def _axis(a, rank, what, ctx):
    if not -rank <= a < rank:
        raise ctx.fail(f"{what} {a} is out of range for rank {rank}")
    return a % rank


def scan(module, ins, attrs, ctx, env, params):
    """The outputs of a Scan node: the final state variables, then each scan output stacked."""
    from .. import stack

    if ctx.opset < 9:
        raise ctx.fail(f"Scan at opset {ctx.opset} (its batched form before 9) is not supported")
    body = attrs["body"]
    m = attrs["num_scan_inputs"]
    n_state = len(ins) - m
    if n_state < 0 or len(body.inputs) != len(ins) or len(body.outputs) < n_state:
        raise ctx.fail(f"{len(ins)} inputs with num_scan_inputs={m} do not fit a body of {len(body.inputs)} "
                       f"inputs and {len(body.outputs)} outputs")
    k = len(body.outputs) - n_state
    xs = ins[n_state:]
    in_dirs = list(attrs.get("scan_input_directions", [0] * m))
    in_axes = [_axis(a, x.ndim, "scan_input_axes", ctx) for a, x in zip(attrs.get("scan_input_axes", [0] * m), xs)]
    out_dirs = list(attrs.get("scan_output_directions", [0] * k))
    lengths = {x.shape[a] for x, a in zip(xs, in_axes)}
    if len(lengths) != 1:
        raise ctx.fail(f"scan inputs of different lengths {sorted(lengths)}")
    length = lengths.pop()
    if length == 0:
        raise ctx.fail("a scan of length 0 (its outputs would have no defined shape here)")
    states = list(ins[:n_state])
    steps = [[] for _ in range(k)]
    for t in range(length):
        inner = dict(env)
        slices = [x.select(a, length - 1 - t if d else t) for x, a, d in zip(xs, in_axes, in_dirs)]
        inner.update(zip(body.inputs, states + slices))
        module._run(body.nodes, None, inner, params, ctx)
        states = [inner[o] for o in body.outputs[:n_state]]
        for j, o in enumerate(body.outputs[n_state:]):
            steps[j].append(inner[o])
    outs = list(states)
    for j in range(k):
        axis = attrs.get("scan_output_axes", [0] * k)[j]
        seq = steps[j][::-1] if out_dirs[j] else steps[j]
        outs.append(stack(seq, dim=_axis(axis, seq[0].ndim + 1, "scan_output_axes", ctx)))
    return tuple(outs)
