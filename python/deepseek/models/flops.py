"""Counting a model's parameters and multiply-accumulates by forward hooks.

One forward pass on the model's example input; a hook on every layer that multiplies adds
its multiply-accumulate count, computed analytically from the layer type and the shapes it
saw: convolutions (output elements x input channels per group x kernel area), linear layers
(output elements x input features), recurrent layers (gates x hidden x (input + hidden) per
step, layer and direction; 4 gates for LSTM, 3 for GRU, 1 for RNN) and the two matmuls of every attention block (2 x batch x queries x keys x width).
Normalisations, activations, pooling and element-wise ops are not counted. The totals are
multiply-accumulates, reported as "GFLOPs" as torchvision's tables do (ResNet-50: 4.09)."""
from __future__ import annotations

from ..nn.modules.layers import Conv1d, Conv2d, ConvTranspose2d, Linear
from ..nn.modules.rnn import GRU, LSTM, RNN


def _prod(shape):
    n = 1
    for s in shape:
        n *= int(s)
    return n


def _first_tensor(out):
    while isinstance(out, (tuple, list)):
        out = out[0]
    return out


def _conv(m, inputs, out):
    k = _prod(m.weight.shape[2:])
    if isinstance(m, ConvTranspose2d):  # every input element scatters into k x out/groups outputs
        return _prod(inputs[0].shape) * k * (m.out_channels // m.groups)
    return _prod(out.shape) * (m.in_channels // m.groups) * k


def _linear(m, inputs, out):
    return _prod(_first_tensor(out).shape) * m.weight.shape[1]


def _rnn(m, inputs, out):
    x = inputs[0]
    # batch x time; a PackedSequence holds exactly the steps that run, one row of data each
    steps = x.data.shape[0] if hasattr(x, "batch_sizes") else _prod(x.shape[:-1])
    gates = 4 if isinstance(m, LSTM) else 3 if isinstance(m, GRU) else 1
    total, width = 0, m.input_size
    for _ in range(m.num_layers):
        total += gates * m.hidden_size * (width + m.hidden_size) * steps * (2 if m.bidirectional else 1)
        width = m.hidden_size * (2 if m.bidirectional else 1)
    return total


def _attention(kind):
    """MACs of softmax(q k^T) v for the attention modules of the zoo, from their input."""
    def count(m, inputs, out):
        x = inputs[0]
        if kind == "swin":  # [B, H, W, C] in windows of ws x ws (padded)
            b, h, w, c = x.shape
            ws = m.window_size[0]
            ph, pw = -(-h // ws) * ws, -(-w // ws) * ws
            n = ws * ws
            return 2 * b * (ph * pw // n) * n * n * c
        if kind == "mha":  # nn.MultiheadAttention: its fused input projection runs no Linear
            q = x if m.batch_first else x.transpose(0, 1)
            b, n, e = q.shape
            return 2 * b * n * n * e + b * n * e * (e + m.kdim + m.vdim)
        b, s, c = x.shape
        keys = s
        if kind == "detr" and len(inputs) > 2 and inputs[2] is not None:  # cross-attention: keys from memory
            keys = inputs[2].shape[1]
        present = out[1] if isinstance(out, tuple) and len(out) > 1 else None
        if isinstance(present, tuple):  # decoders: queries attend to cached + new keys
            keys = present[0].shape[2]
            if kind == "llama":
                c = m.n_head * m.hd
        return 2 * b * s * keys * c
    return count


def _counters():
    from ..nn.modules.attention import MultiheadAttention
    from .bert import BertLayer, DistilBertLayer
    from .detr import DetrAttention
    from .gpt import Conv1D, GPT2Attention, _TiedHead
    from .llama import LlamaAttention
    from .swin import ShiftedWindowAttention
    from .t5 import T5Attention
    from .vit import _Attention
    from .wav2vec2 import Wav2Vec2Attention
    from .whisper import WhisperAttention

    return [((Conv1d, Conv2d, ConvTranspose2d), _conv), ((Linear, _TiedHead), _linear),
            ((Conv1D,), lambda m, i, o: _prod(o.shape) * m.weight.shape[0]), ((LSTM, GRU, RNN), _rnn),
            ((BertLayer, DistilBertLayer, _Attention, Wav2Vec2Attention), _attention("encoder")),
            ((GPT2Attention, T5Attention, WhisperAttention), _attention("gpt2")),
            ((LlamaAttention,), _attention("llama")), ((ShiftedWindowAttention,), _attention("swin")),
            ((MultiheadAttention,), _attention("mha")), ((DetrAttention,), _attention("detr"))]


def count_macs(model, *inputs):
    """Multiply-accumulates of one forward pass of ``model(*inputs)`` (no gradient), by layer
    type (see the module docstring for what is counted)."""
    from .. import no_grad

    total = [0]
    handles = []
    counters = _counters()
    for m in model.modules():
        for types, fn in counters:
            if isinstance(m, types):
                handles.append(m.register_forward_hook(lambda mod, i, o, fn=fn: total.__setitem__(0, total[0] + fn(mod, i, o))))
                break
    try:
        with no_grad():
            model(*inputs)
    finally:
        for h in handles:
            h.remove()
    return total[0]


def count_parameters(model):
    """Number of distinct parameters (a tied weight counts once)."""
    seen, n = set(), 0
    for p in model.parameters():
        if id(p) not in seen:
            seen.add(id(p))
            n += p.numel()
    return n
