"""Recurrent layers (RNN, LSTM, GRU and their cells) and the CTC loss module.

PyTorch-compatible: parameter names and shapes (``weight_ih_l0``, ``weight_hh_l0``,
``bias_ih_l0``, ``bias_hh_l0``, ``..._reverse``, ``weight_hr_l0`` for projections), gate
order (LSTM: i, f, g, o; GRU: r, z, n), initialisation (``U(-1/sqrt(hidden), 1/sqrt(hidden))``),
input/state/output shapes, ``batch_first``, inter-layer ``dropout``, ``bidirectional`` and
unbatched inputs. The input projection of all time steps is a single matmul per layer and
direction. On the CPU in float32 and float64 the recurrence then runs as one fused core call
per layer and direction (``_core.rnn_layer``: per step one ``h @ W_hh^T`` GEMM and one pass
of gate arithmetic, the backward likewise in one call); elsewhere, or with
``RNNBase.fused = False``, the time loop runs in Python over differentiable deepseek ops
(which also allows double backward).
"""
from __future__ import annotations

import math

from ... import _core, _ops
from ... import amp as _amp
from ..._dtype import float32 as _F32, float64 as _F64, int64 as _I64
from ..._core import Tensor
from ..._creation import empty, zeros
from .. import functional as F
from .. import init
from ..parameter import Parameter
from .module import Module
from .loss import _Loss

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell", "CTCLoss"]


_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _lin(x, w, b=None):
    """``x @ w^T (+ b)`` with autocast, for 2-D or 3-D ``x``."""
    return F.linear(x, w, b)


def _rnn_tanh_step(xp, h, w_hh, b_hh):
    return _ops.tanh(xp + _lin(h, w_hh, b_hh))


def _rnn_relu_step(xp, h, w_hh, b_hh):
    return _ops.relu(xp + _lin(h, w_hh, b_hh))


def _lstm_step(xp, state, w_hh, b_hh, w_hr=None):
    """One LSTM step. ``xp`` is ``W_ih x + b_ih`` for this step; gate order i, f, g, o."""
    h, c = state
    gates = xp + _lin(h, w_hh, b_hh)
    i, f, g, o = _ops.chunk(gates, 4, -1)
    c = _ops.sigmoid(f) * c + _ops.sigmoid(i) * _ops.tanh(g)
    h = _ops.sigmoid(o) * _ops.tanh(c)
    if w_hr is not None:
        h = _lin(h, w_hr)
    return h, c


def _gru_step(xp, h, w_hh, b_hh):
    """One GRU step: ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``, ``h' = (1 - z) n + z h``."""
    hp = _lin(h, w_hh, b_hh)
    x_r, x_z, x_n = _ops.chunk(xp, 3, -1)
    h_r, h_z, h_n = _ops.chunk(hp, 3, -1)
    r = _ops.sigmoid(x_r + h_r)
    z = _ops.sigmoid(x_z + h_z)
    n = _ops.tanh(x_n + r * h_n)
    return n + z * (h - n)


class RNNBase(Module):
    """Base of :class:`RNN`, :class:`LSTM` and :class:`GRU`: holds the per-layer,
    per-direction weights with PyTorch's names, shapes and initialisation.

    ``fused`` (class attribute, also settable per instance): run the recurrence of float32 and
    float64 CPU inputs in the core's fused kernel (default True); False composes each step
    from differentiable ops, slower but twice differentiable."""

    fused = True

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        if mode not in _GATES:
            raise ValueError(f"Unrecognized RNN mode: {mode}")
        if not isinstance(hidden_size, int) or isinstance(hidden_size, bool):
            raise TypeError(f"hidden_size should be of type int, got: {type(hidden_size).__name__}")
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if not (isinstance(dropout, (int, float)) and 0 <= dropout <= 1) or isinstance(dropout, bool):
            raise ValueError("dropout should be a number in range [0, 1] representing the probability of an element being zeroed")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if proj_size and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        self.mode = mode
        self.input_size, self.hidden_size = input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bias, batch_first
        self.dropout, self.bidirectional, self.proj_size = float(dropout), bidirectional, proj_size
        num_directions = 2 if bidirectional else 1
        gate_size = _GATES[mode] * hidden_size
        real_hidden = proj_size if proj_size > 0 else hidden_size
        self._flat_weights_names = []
        self._all_weights = []
        for layer in range(num_layers):
            for direction in range(num_directions):
                layer_input = input_size if layer == 0 else real_hidden * num_directions
                suffix = "_reverse" if direction == 1 else ""
                params = [
                    (f"weight_ih_l{layer}{suffix}", (gate_size, layer_input)),
                    (f"weight_hh_l{layer}{suffix}", (gate_size, real_hidden)),
                ]
                if bias:
                    params += [(f"bias_ih_l{layer}{suffix}", (gate_size,)), (f"bias_hh_l{layer}{suffix}", (gate_size,))]
                if proj_size > 0:
                    params.append((f"weight_hr_l{layer}{suffix}", (proj_size, hidden_size)))
                for name, shape in params:
                    setattr(self, name, Parameter(empty(*shape, dtype=dtype)))
                self._flat_weights_names.extend(n for n, _ in params)
                self._all_weights.append([n for n, _ in params])
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv)

    def flatten_parameters(self):
        """No-op (there is no cuDNN weight buffer to compact); kept for API compatibility."""

    @property
    def _flat_weights(self):
        return [getattr(self, n) for n in self._flat_weights_names]

    @property
    def all_weights(self):
        return [[getattr(self, n) for n in names] for names in self._all_weights]

    def _weights(self, layer, direction):
        s = "_reverse" if direction == 1 else ""
        g = lambda n: getattr(self, f"{n}_l{layer}{s}", None)  # noqa: E731
        return g("weight_ih"), g("weight_hh"), g("bias_ih"), g("bias_hh"), g("weight_hr")

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    # -- forward -----------------------------------------------------------------------

    def _check_input(self, input, hx):
        if not isinstance(input, Tensor):
            raise TypeError(f"{type(self).__name__}: input must be a Tensor, not {type(input).__name__}")
        if input.ndim not in (2, 3):
            raise ValueError(f"{type(self).__name__}: Expected input to be 2D or 3D, got {input.ndim}D instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected {self.input_size}, got {input.shape[-1]}")

    def _state_shape(self, batch, size):
        d = 2 if self.bidirectional else 1
        return [self.num_layers * d, batch, size] if batch is not None else [self.num_layers * d, size]

    def _check_state(self, h, expected, what):
        if tuple(h.shape) != tuple(expected):
            raise RuntimeError(f"Expected {what} size {tuple(expected)}, got {tuple(h.shape)}")

    def _run(self, input, hx, lengths=None):
        """Shared driver. ``hx`` is a list of state tensors shaped [layers*dirs, N, *]
        (batched form); returns (output [L, N, D*H_out], list of final states).

        With ``lengths`` (int64 [N]), row n only runs over its first ``lengths[n]`` steps, as a
        packed sequence does: its state holds still past them (the reverse direction starts at
        its own last step) and its outputs there are zero. The whole batch still steps together."""
        if self._fusable(input, hx):
            return self._run_fused(input, hx, lengths)
        is_lstm = self.mode == "LSTM"
        step = {"RNN_TANH": _rnn_tanh_step, "RNN_RELU": _rnn_relu_step, "LSTM": _lstm_step, "GRU": _gru_step}[self.mode]
        num_directions = 2 if self.bidirectional else 1
        seq_len = input.shape[0]
        valid = None
        if lengths is not None and int(lengths.min().item()) < seq_len:
            from ..._creation import arange

            steps = arange(seq_len, device=lengths.device).unsqueeze(1) < lengths.to(input.device).unsqueeze(0)
            valid = _ops.unbind(steps.unsqueeze(2), 0)  # per step: [N, 1], True where the row is running
        layer_in = input
        finals = [[] for _ in hx]
        for layer in range(self.num_layers):
            outs = []
            for direction in range(num_directions):
                k = layer * num_directions + direction
                w_ih, w_hh, b_ih, b_hh, w_hr = self._weights(layer, direction)
                state = tuple(_core.select(s, 0, k) for s in hx)
                if self.mode != "GRU" and b_ih is not None:
                    # LSTM/RNN: both biases sit outside any gate product, so fold b_hh in.
                    xp_all = _lin(layer_in, w_ih, b_ih + b_hh)
                    bh = None
                else:
                    xp_all = _lin(layer_in, w_ih, b_ih)
                    bh = b_hh
                xs = _ops.unbind(xp_all, 0)
                order = range(seq_len - 1, -1, -1) if direction == 1 else range(seq_len)
                ys = [None] * seq_len
                for t in order:
                    if is_lstm:
                        new = step(xs[t], state, w_hh, bh, w_hr)
                    else:
                        new = (step(xs[t], state[0], w_hh, bh),)
                    if valid is None:
                        state = new
                        ys[t] = state[0]
                    else:
                        state = tuple(_ops.where(valid[t], a, b) for a, b in zip(new, state))
                        ys[t] = _ops.where(valid[t], new[0], 0.0)
                for i, s in enumerate(state):
                    finals[i].append(s)
                outs.append(_ops.stack(ys, 0))
            layer_in = outs[0] if num_directions == 1 else _ops.cat(outs, -1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_in = F.dropout(layer_in, self.dropout, True)
        return layer_in, [_ops.stack(f, 0) for f in finals]

    def _fusable(self, input, hx):
        """Whether the fused core kernel runs this call: CPU float32/float64 operands all of
        one dtype, and no autocast (which would change the projection's dtype)."""
        if not self.fused or input.device.type != "cpu" or input.dtype not in (_F32, _F64) or _amp._active_dtype() is not None:
            return False
        return all(t.dtype == input.dtype and t.device.type == "cpu" for t in list(hx) + self._flat_weights)

    def _run_fused(self, input, hx, lengths):
        """:meth:`_run` with each layer and direction's time loop in one core call."""
        is_lstm = self.mode == "LSTM"
        num_directions = 2 if self.bidirectional else 1
        if lengths is not None:
            lengths = lengths.to(dtype=_I64)
        layer_in = input
        finals = [[] for _ in hx]
        for layer in range(self.num_layers):
            outs = []
            for direction in range(num_directions):
                k = layer * num_directions + direction
                w_ih, w_hh, b_ih, b_hh, w_hr = self._weights(layer, direction)
                if self.mode != "GRU" and b_ih is not None:
                    # LSTM/RNN: both biases sit outside any gate product, so fold b_hh in.
                    xp_all, bh = _lin(layer_in, w_ih, b_ih + b_hh), None
                else:
                    xp_all, bh = _lin(layer_in, w_ih, b_ih), b_hh
                h0 = _core.select(hx[0], 0, k)
                c0 = _core.select(hx[1], 0, k) if is_lstm else None
                y, h_n, c_n = _core.rnn_layer(xp_all, h0, c0, w_hh, bh, w_hr, lengths, self.mode, direction == 1)
                finals[0].append(h_n)
                if is_lstm:
                    finals[1].append(c_n)
                outs.append(y)
            layer_in = outs[0] if num_directions == 1 else _ops.cat(outs, -1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_in = F.dropout(layer_in, self.dropout, True)
        return layer_in, [_ops.stack(f, 0) for f in finals]

    def _forward(self, input, hx, lengths=None):
        """Handles batch_first / unbatched layouts and default states around :meth:`_run`
        (``lengths``: per-row step counts of a batched input, see :meth:`_run`)."""
        self._check_input(input, hx)
        is_lstm = self.mode == "LSTM"
        batched = input.ndim == 3
        if not batched:
            input = input.unsqueeze(1)
        elif self.batch_first:
            input = input.transpose(0, 1)
        if input.shape[0] == 0:
            raise RuntimeError(f"{type(self).__name__}: Expected sequence length to be larger than 0")
        batch = input.shape[1]
        h_size = self.proj_size if self.proj_size > 0 else self.hidden_size
        h_shape = self._state_shape(batch if batched else None, h_size)
        c_shape = self._state_shape(batch if batched else None, self.hidden_size)
        if hx is None:
            states = [zeros(*h_shape, dtype=input.dtype)] + ([zeros(*c_shape, dtype=input.dtype)] if is_lstm else [])
        else:
            if is_lstm:
                if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                    raise TypeError("LSTM: hx must be a tuple (h_0, c_0)")
                states = list(hx)
                self._check_state(states[0], h_shape, "hidden[0]")
                self._check_state(states[1], c_shape, "hidden[1]")
            else:
                if not isinstance(hx, Tensor):
                    raise TypeError(f"{type(self).__name__}: hx must be a Tensor")
                states = [hx]
                self._check_state(hx, h_shape, "hidden")
        if not batched:  # the states in the batched form [layers*dirs, 1, *] as the input
            states = [s.unsqueeze(1) for s in states]
        output, finals = self._run(input, states, lengths)
        if not batched:
            output = output.squeeze(1)
            finals = [f.squeeze(1) for f in finals]
        elif self.batch_first:
            output = output.transpose(0, 1)
        return output, (tuple(finals) if is_lstm else finals[0])

    def forward(self, input, hx=None):
        return self._forward(input, hx)


class RNN(RNNBase):
    """RNN(input_size, hidden_size, num_layers=1, nonlinearity='tanh', bias=True,
    batch_first=False, dropout=0.0, bidirectional=False): Elman RNN,
    ``h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)`` with ``act`` tanh or relu.

    ``forward(input, hx=None)`` returns ``(output, h_n)``: ``output`` is [L, N, D*H]
    ([N, L, D*H] if ``batch_first``, [L, D*H] unbatched), ``h_n`` is [D*num_layers, N, H]."""

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if len(args) > 3:
            kwargs["nonlinearity"] = args[3]
            args = args[:3] + args[4:]
        nonlinearity = kwargs.pop("nonlinearity", "tanh")
        if nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        self.nonlinearity = nonlinearity
        super().__init__(mode, *args, **kwargs)


class LSTM(RNNBase):
    """LSTM(input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
    bidirectional=False, proj_size=0): long short-term memory, gate order i, f, g, o:

    ``c_t = f * c_{t-1} + i * g``, ``h_t = o * tanh(c_t)`` (then ``h_t W_hr^T`` if ``proj_size``).

    ``forward(input, hx=None)`` with ``hx = (h_0, c_0)`` returns ``(output, (h_n, c_n))``."""

    def __init__(self, *args, **kwargs):
        super().__init__("LSTM", *args, **kwargs)


class GRU(RNNBase):
    """GRU(input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
    bidirectional=False): gated recurrent unit, gate order r, z, n:

    ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``, ``h' = (1 - z) * n + z * h``.

    ``forward(input, hx=None)`` returns ``(output, h_n)``."""

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__("GRU", *args, **kwargs)


# -- cells -------------------------------------------------------------------------------


class RNNCellBase(Module):
    """Base of the single-step cells: ``weight_ih`` [G*H, in], ``weight_hh`` [G*H, H],
    ``bias_ih``/``bias_hh`` [G*H], all ``U(-1/sqrt(H), 1/sqrt(H))``."""

    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self.weight_ih = Parameter(empty(num_chunks * hidden_size, input_size, dtype=dtype))
        self.weight_hh = Parameter(empty(num_chunks * hidden_size, hidden_size, dtype=dtype))
        if bias:
            self.bias_ih = Parameter(empty(num_chunks * hidden_size, dtype=dtype))
            self.bias_hh = Parameter(empty(num_chunks * hidden_size, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def _prep(self, input, hx, n_states):
        if not isinstance(input, Tensor):
            raise TypeError(f"{type(self).__name__}: input must be a Tensor")
        if input.ndim not in (1, 2):
            raise ValueError(f"{type(self).__name__}: Expected input to be 1D or 2D, got {input.ndim}D instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {input.shape[-1]} expected {self.input_size}")
        batched = input.ndim == 2
        if not batched:
            input = input.unsqueeze(0)
        shape = [input.shape[0], self.hidden_size]
        if hx is None:
            states = [zeros(*shape, dtype=input.dtype) for _ in range(n_states)]
        else:
            states = list(hx) if n_states == 2 else [hx]
            if len(states) != n_states:
                raise TypeError(f"{type(self).__name__}: hx must be a tuple (h_0, c_0)")
            states = [s if batched else s.unsqueeze(0) for s in states]
            for s in states:
                if list(s.shape) != shape:
                    raise RuntimeError(f"{type(self).__name__}: Expected hidden size {tuple(shape)}, got {tuple(s.shape)}")
        return input, states, batched


class RNNCell(RNNCellBase):
    """RNNCell(input_size, hidden_size, bias=True, nonlinearity='tanh'):
    ``h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh)``. ``forward(input, hx=None)`` returns h'."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, 1, dtype=dtype)

    def forward(self, input, hx=None):
        x, (h,), batched = self._prep(input, hx, 1)
        step = _rnn_tanh_step if self.nonlinearity == "tanh" else _rnn_relu_step
        h = step(_lin(x, self.weight_ih, self.bias_ih), h, self.weight_hh, self.bias_hh)
        return h if batched else h.squeeze(0)


class LSTMCell(RNNCellBase):
    """LSTMCell(input_size, hidden_size, bias=True): one LSTM step (gate order i, f, g, o).
    ``forward(input, hx=None)`` with ``hx = (h, c)`` returns ``(h', c')``."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, dtype=dtype)

    def forward(self, input, hx=None):
        x, (h, c), batched = self._prep(input, hx, 2)
        h, c = _lstm_step(_lin(x, self.weight_ih, self.bias_ih), (h, c), self.weight_hh, self.bias_hh)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """GRUCell(input_size, hidden_size, bias=True): one GRU step (gate order r, z, n).
    ``forward(input, hx=None)`` returns h'."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, dtype=dtype)

    def forward(self, input, hx=None):
        x, (h,), batched = self._prep(input, hx, 1)
        h = _gru_step(_lin(x, self.weight_ih, self.bias_ih), h, self.weight_hh, self.bias_hh)
        return h if batched else h.squeeze(0)


# -- CTC -------------------------------------------------------------------------------


class CTCLoss(_Loss):
    """CTCLoss(blank=0, reduction='mean', zero_infinity=False): connectionist temporal
    classification loss; see :func:`deepseek.nn.functional.ctc_loss`.

    ``forward(log_probs [T, N, C], targets, input_lengths, target_lengths)``."""

    def __init__(self, blank=0, reduction="mean", zero_infinity=False):
        super().__init__(reduction=reduction)
        self.blank, self.zero_infinity = blank, zero_infinity

    def forward(self, log_probs, targets, input_lengths, target_lengths):
        return F.ctc_loss(log_probs, targets, input_lengths, target_lengths, self.blank, self.reduction, self.zero_infinity)

    def extra_repr(self):
        return f"blank={self.blank}, reduction='{self.reduction}', zero_infinity={self.zero_infinity}"
