"""A recurrent layer cut out of the trace (``_cuts``) as ONNX's ``LSTM``, ``GRU`` or ``RNN``:
one node per layer (both directions in it), the weights re-ordered to ONNX's gate order (LSTM
i f g o -> i o f c, GRU r z n -> z r h) and the two biases side by side. GRU's
``linear_before_reset=1`` is PyTorch's ``r * (W_hn h + b_hn)``. ONNX's default layout
(sequence first) is used, so a ``batch_first`` layer is transposed around the nodes."""
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
