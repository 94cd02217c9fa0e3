"""A recurrent layer cut out of the trace (``_cuts``) as ONNX's ``LSTM``, ``GRU`` or ``RNN``:
one node per layer (both directions in it), the weights re-ordered to ONNX's gate order (LSTM
i f g o -> i o f c, GRU r z n -> z r h) and the two biases side by side. GRU's
``linear_before_reset=1`` is PyTorch's ``r * (W_hn h + b_hn)``. ONNX's default layout
(sequence first) is used, so a ``batch_first`` layer is transposed around the nodes.

An LSTM with a projection (``proj_size``; ONNX's LSTM has none) is written as one ``Scan`` per
layer and direction: the input projection of every step as one MatMul before it, and a body
that runs one step (the gates, the cell, the projected hidden state); the reverse direction
scans backwards. The scan length follows the input, so the sequence may be a dynamic axis."""
from __future__ import annotations

import numpy as np

_ORDER = {"LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2], "RNN_TANH": [0], "RNN_RELU": [0]}
_OP = {"LSTM": "LSTM", "GRU": "GRU", "RNN_TANH": "RNN", "RNN_RELU": "RNN"}


def _gates(w, mode):
    """``w`` (gates stacked on dim 0, PyTorch's order) in ONNX's gate order."""
    blocks = np.split(w, len(_ORDER[mode]), axis=0)
    return np.concatenate([blocks[i] for i in _ORDER[mode]], axis=0)


def _array(t):
    return np.ascontiguousarray(t.detach().cpu().numpy())


def lower_rnn(low, cut):
    """Emits the ONNX nodes of ``cut`` and names its results (``low.names``)."""
    m, mode = cut.module, cut.module.mode
    if getattr(m, "proj_size", 0):
        return _lower_projected_lstm(low, cut)
    dirs = 2 if m.bidirectional else 1
    hidden = m.hidden_size
    prefix = (cut.name or f"{_OP[mode]}_{len(low.nodes)}") + "."
    x = low.name(cut.in_vids[0])
    batched = len(low.value(cut.in_vids[0])["shape"]) == 3
    if not batched:
        x = low.emit("Unsqueeze", [x, low.i64([1])])
    elif m.batch_first:
        x = low.emit("Transpose", [x], perm=[1, 0, 2])
    states = [low.name(v) for v in cut.in_vids[1:]]
    if not batched:
        states = [low.emit("Unsqueeze", [s, low.i64([1])]) for s in states]
    attrs = {"hidden_size": hidden, "direction": "bidirectional" if dirs == 2 else "forward"}
    if mode == "GRU":
        attrs["linear_before_reset"] = 1
    elif mode.startswith("RNN"):
        attrs["activations"] = ["Tanh" if mode == "RNN_TANH" else "Relu"] * dirs
    n_out = 3 if mode == "LSTM" else 2
    finals = [[] for _ in range(n_out - 1)]
    for layer in range(m.num_layers):
        w, r, b = [], [], []
        for d in range(dirs):
            w_ih, w_hh, b_ih, b_hh, _ = m._weights(layer, d)
            w.append(_gates(_array(w_ih), mode))
            r.append(_gates(_array(w_hh), mode))
            if b_ih is not None:
                b.append(np.concatenate([_gates(_array(b_ih), mode), _gates(_array(b_hh), mode)]))
        names = []
        for what, arrays in (("W", w), ("R", r), ("B", b)):
            if arrays:
                name = f"{prefix}onnx_{what}_l{layer}"
                low.inits[name] = np.stack(arrays)
                names.append(name)
            else:
                names.append("")
        inputs = [x] + names + [""]  # no sequence_lens: every sequence runs to the end
        for s in states:
            inputs.append(low.emit("Slice", [s, low.i64([layer * dirs]), low.i64([(layer + 1) * dirs]),
                                             low.i64([0])]))
        while inputs[-1] == "":
            inputs.pop()
        outs = low.emit(_OP[mode], inputs, n_out=n_out, **attrs)
        y = outs[0]  # [seq, dirs, batch, hidden]
        if dirs == 1:
            x = low.emit("Squeeze", [y, low.i64([1])])
        else:
            x = low.emit("Reshape", [low.emit("Transpose", [y], perm=[0, 2, 1, 3]), low.i64([0, 0, -1])])
        for acc, o in zip(finals, outs[1:]):
            acc.append(o)
    _name_results(low, cut, m, x, finals, batched)



def _name_results(low, cut, m, x, finals, batched):
    """Names the layer's results: the output ``x`` [T, N, D*H] back in the module's layout, then
    each final state, its layers and directions concatenated (unbatched: the batch axis dropped)."""
    if not batched:
        x = low.emit("Squeeze", [x, low.i64([1])])
    elif m.batch_first:
        x = low.emit("Transpose", [x], perm=[1, 0, 2])
    results = [x]
    for acc in finals:
        s = acc[0] if len(acc) == 1 else low.emit("Concat", acc, axis=0)
        results.append(low.emit("Squeeze", [s, low.i64([1])]) if not batched else s)
    for vid, name in zip(cut.out_vids, results):
        low.names[vid] = name

def _step_body(low, prefix, hidden, proj, dtype):
    """The Scan body of one projected LSTM step: state (h [N, P], c [N, H]) and this step's
    input projection xw [N, 4H] -> (h', c', h') with the recurrent weights ``R`` [4H, P] and
    ``Rp`` [P, H] read from the outer graph (as their transposes ``prefix + R_t/Rp_t``)."""
    from onnx import TensorProto, helper

    elem = {"float32": TensorProto.FLOAT, "float64": TensorProto.DOUBLE}[dtype]
    n = lambda k: f"{prefix}body_{k}"  # noqa: E731
    nodes = [
        helper.make_node("MatMul", [n("h"), prefix + "R_t"], [n("hr")]),
        helper.make_node("Add", [n("xw"), n("hr")], [n("gates")]),
        helper.make_node("Split", [n("gates"), prefix + "split"], [n("i"), n("f"), n("g"), n("o")], axis=1),
        helper.make_node("Sigmoid", [n("i")], [n("si")]),
        helper.make_node("Sigmoid", [n("f")], [n("sf")]),
        helper.make_node("Tanh", [n("g")], [n("tg")]),
        helper.make_node("Sigmoid", [n("o")], [n("so")]),
        helper.make_node("Mul", [n("sf"), n("c")], [n("fc")]),
        helper.make_node("Mul", [n("si"), n("tg")], [n("ig")]),
        helper.make_node("Add", [n("fc"), n("ig")], [n("c_out")]),
        helper.make_node("Tanh", [n("c_out")], [n("tc")]),
        helper.make_node("Mul", [n("so"), n("tc")], [n("hh")]),
        helper.make_node("MatMul", [n("hh"), prefix + "Rp_t"], [n("h_out")]),
        helper.make_node("Identity", [n("h_out")], [n("y")]),
    ]
    ins = [helper.make_tensor_value_info(n("h"), elem, [None, proj]),
           helper.make_tensor_value_info(n("c"), elem, [None, hidden]),
           helper.make_tensor_value_info(n("xw"), elem, [None, 4 * hidden])]
    outs = [helper.make_tensor_value_info(n("h_out"), elem, [None, proj]),
            helper.make_tensor_value_info(n("c_out"), elem, [None, hidden]),
            helper.make_tensor_value_info(n("y"), elem, [None, proj])]
    return helper.make_graph(nodes, prefix + "step", ins, outs)


def _lower_projected_lstm(low, cut):
    """``nn.LSTM(..., proj_size=P)`` as Scans (module docstring)."""
    m = cut.module
    dirs = 2 if m.bidirectional else 1
    hidden, proj = m.hidden_size, m.proj_size
    base = (cut.name or f"LSTM_{len(low.nodes)}") + "."
    xv = low.value(cut.in_vids[0])
    dtype = xv["dtype"]
    x = low.name(cut.in_vids[0])
    batched = len(xv["shape"]) == 3
    if not batched:
        x = low.emit("Unsqueeze", [x, low.i64([1])])
    elif m.batch_first:
        x = low.emit("Transpose", [x], perm=[1, 0, 2])
    states = [low.name(v) for v in cut.in_vids[1:]]
    if not batched:
        states = [low.emit("Unsqueeze", [s, low.i64([1])]) for s in states]
    if not states:  # zeros [N, P] and [N, H], the batch read from the input
        batch = low.emit("Shape", [x], start=1, end=2)
        from onnx import numpy_helper

        zero = numpy_helper.from_array(np.zeros(1, dtype=np.float32 if dtype == "float32" else np.float64))
        states = [low.emit("ConstantOfShape", [low.emit("Concat", [low.i64([dirs * m.num_layers]), batch,
                                                                   low.i64([size])], axis=0)], value=zero)
                  for size in (proj, hidden)]
    finals = [[], []]
    for layer in range(m.num_layers):
        outs = []
        for d in range(dirs):
            w_ih, w_hh, b_ih, b_hh, w_hr = m._weights(layer, d)
            prefix = f"{base}l{layer}{'_reverse' if d else ''}."
            low.inits[prefix + "W_t"] = _array(w_ih).T.copy()
            low.inits[prefix + "R_t"] = _array(w_hh).T.copy()
            low.inits[prefix + "Rp_t"] = _array(w_hr).T.copy()
            low.inits[prefix + "split"] = np.asarray([hidden] * 4, dtype=np.int64)
            xw = low.emit("MatMul", [x, prefix + "W_t"])  # [L, N, 4H]: every step's input projection
            if b_ih is not None:
                low.inits[prefix + "B"] = _array(b_ih) + _array(b_hh)
                xw = low.emit("Add", [xw, prefix + "B"])
            k = layer * dirs + d
            h0, c0 = (low.emit("Squeeze", [low.emit("Slice", [s, low.i64([k]), low.i64([k + 1]), low.i64([0])]),
                                           low.i64([0])]) for s in states)
            h, c, y = low.emit("Scan", [h0, c0, xw], n_out=3, num_scan_inputs=1,
                               body=_step_body(low, prefix, hidden, proj, dtype),
                               scan_input_directions=[d], scan_output_directions=[d])
            finals[0].append(low.emit("Unsqueeze", [h, low.i64([0])]))
            finals[1].append(low.emit("Unsqueeze", [c, low.i64([0])]))
            outs.append(y)
        x = outs[0] if dirs == 1 else low.emit("Concat", outs, axis=2)
    _name_results(low, cut, m, x, finals, batched)
