"""Import rules for ONNX's recurrent ops (LSTM, GRU, RNN), unrolled over time with deepseek ops.

The input projection of every step is one matmul up front; each step then adds the recurrent
projection and applies the gates. ``sequence_lens`` is honoured: past its length a sequence keeps
its state and outputs zeros, and the reverse direction starts at each sequence's own end.
"""
from __future__ import annotations

import numpy as np

import deepseek as ds

from ._registry import arg, ints, register

_ACTIVATIONS = {"Sigmoid": ds.sigmoid, "Tanh": ds.tanh, "Relu": ds.relu}


def _activations(attrs, defaults, dirs, ctx):
    names = attrs.get("activations")
    names = [n.decode() if isinstance(n, bytes) else n for n in names] if names else defaults * dirs
    bad = sorted({n for n in names if n not in _ACTIVATIONS})
    if bad:
        raise ctx.fail(f"activations {bad} are not supported (supported: {sorted(_ACTIVATIONS)})")
    k = len(defaults)
    return [[_ACTIVATIONS[n] for n in names[d * k:(d + 1) * k]] for d in range(dirs)]


class _Setup:
    """The parts every recurrent op shares: layout, directions, lengths and initial states."""

    def __init__(self, ins, attrs, ctx, n_gates):
        x = ins[0]
        self.layout = attrs.get("layout", 0)
        if self.layout:
            x = x.transpose(0, 1)  # to [seq, batch, input]
        self.x = x
        direction = attrs.get("direction", "forward")
        self.direction = direction.decode() if isinstance(direction, bytes) else direction
        self.dirs = 2 if self.direction == "bidirectional" else 1
        self.hidden = attrs.get("hidden_size") or ins[2].shape[-1]
        self.clip = attrs.get("clip")
        self.w, self.r, self.b = ins[1], ins[2], arg(ins, 3)
        seq, batch = x.shape[0], x.shape[1]
        self.seq, self.batch = seq, batch
        lens = ints(arg(ins, 4))
        self.lens = None if lens is None or all(n == seq for n in lens) else lens
        self.ctx = ctx
        self.n_gates = n_gates

    def initial(self, t):
        """An initial state input as [dirs, batch, hidden] (zeros when omitted)."""
        if t is None:
            return ds.zeros(self.dirs, self.batch, self.hidden, dtype=self.x.dtype, device=self.x.device)
        return t.transpose(0, 1) if self.layout else t

    def order(self, d):
        """The time index of each step for direction ``d``, per batch row when lengths differ."""
        reverse = self.direction == "reverse" or (self.direction == "bidirectional" and d == 1)
        if not reverse:
            return None
        if self.lens is None:
            return list(range(self.seq - 1, -1, -1))
        idx = np.tile(np.arange(self.seq)[:, None], (1, self.batch))
        for b, n in enumerate(self.lens):
            idx[:n, b] = np.arange(n - 1, -1, -1)
        return idx

    def reorder(self, x, order):
        """``x`` ([seq, batch, ...]) taken in the time order ``order`` (its own inverse)."""
        if order is None:
            return x
        if isinstance(order, list):
            return ds.flip(x, [0])
        idx = self.ctx.const(order.astype(np.int64))
        flat = idx.reshape(-1) * self.batch + ds.arange(self.batch, device=x.device).repeat(self.seq)
        return x.reshape((self.seq * self.batch,) + tuple(x.shape[2:])).index_select(0, flat).reshape(x.shape)

    def masks(self):
        if self.lens is None:
            return [None] * self.seq
        valid = np.arange(self.seq)[:, None] < np.asarray(self.lens)[None, :]
        m = self.ctx.const(valid[:, :, None])
        return [m[t] for t in range(self.seq)]

    def pre(self, z):
        return z if self.clip is None else ds.clamp(z, -self.clip, self.clip)

    def run(self, d, step, states):
        """Unrolls ``step`` over time for direction ``d``; returns (Y [seq, batch, H], final states)."""
        order = self.order(d)
        h_size = self.hidden
        x = self.reorder(self.x, order)
        xw = ds.matmul(x, self.w[d].t())
        if self.b is not None:
            xw = xw + self.b[d][: self.n_gates * h_size]
        rb = self.b[d][self.n_gates * h_size:] if self.b is not None else None
        ys = []
        for t, m in enumerate(self.masks()):
            new = step(xw[t], states, self.r[d].t(), rb)
            if m is not None:
                new = tuple(ds.where(m, n, s) for n, s in zip(new, states))
                ys.append(ds.where(m, new[0], ds.zeros_like(new[0])))
            else:
                ys.append(new[0])
            states = new
        y = ds.stack(ys) if ys else x.new_zeros((0, self.batch, h_size))
        return self.reorder(y, order), states

    def outputs(self, ys, finals):
        """Y, Y_h (and Y_c) in the op's layout from per-direction results."""
        y = ds.stack(ys, 1)  # [seq, dirs, batch, H]
        finals = [ds.stack(list(f)) for f in zip(*finals)]  # each [dirs, batch, H]
        if self.layout:
            y = y.permute(2, 0, 1, 3)
            finals = [f.transpose(0, 1) for f in finals]
        return (y, *finals)[: self.ctx.n_outputs]


@register("LSTM")
def _lstm(ins, attrs, ctx):
    s = _Setup(ins, attrs, ctx, 4)
    acts = _activations(attrs, ["Sigmoid", "Tanh", "Tanh"], s.dirs, ctx)
    h0, c0 = s.initial(arg(ins, 5)), s.initial(arg(ins, 6))
    p = arg(ins, 7)
    couple = attrs.get("input_forget", 0)
    H = s.hidden
    ys, finals = [], []
    for d in range(s.dirs):
        f, g, h = acts[d]
        pi, po, pf = (p[d][:H], p[d][H:2 * H], p[d][2 * H:]) if p is not None else (None, None, None)

        def step(xw, state, rt, rb, f=f, g=g, h=h, pi=pi, po=po, pf=pf):
            hp, cp = state
            z = xw + ds.matmul(hp, rt)
            if rb is not None:
                z = z + rb
            zi, zo, zf, zc = z[:, :H], z[:, H:2 * H], z[:, 2 * H:3 * H], z[:, 3 * H:]
            if pi is not None:
                zi, zf = zi + pi * cp, zf + pf * cp
            i = f(s.pre(zi))
            fg = 1 - i if couple else f(s.pre(zf))
            c = fg * cp + i * g(s.pre(zc))
            if po is not None:
                zo = zo + po * c
            o = f(s.pre(zo))
            return o * h(c), c

        y, fin = s.run(d, step, (h0[d], c0[d]))
        ys.append(y)
        finals.append(fin)
    return s.outputs(ys, finals)


@register("GRU")
def _gru(ins, attrs, ctx):
    s = _Setup(ins, attrs, ctx, 3)
    acts = _activations(attrs, ["Sigmoid", "Tanh"], s.dirs, ctx)
    h0 = s.initial(arg(ins, 5))
    before = attrs.get("linear_before_reset", 0)
    H = s.hidden
    ys, finals = [], []
    for d in range(s.dirs):
        f, g = acts[d]

        def step(xw, state, rt, rb, f=f, g=g):
            (hp,) = state
            hr = ds.matmul(hp[:, :], rt[:, :2 * H])
            if rb is not None:
                hr = hr + rb[:2 * H]
            zr = xw[:, :2 * H] + hr
            z, r = f(s.pre(zr[:, :H])), f(s.pre(zr[:, H:]))
            rh, rbh = rt[:, 2 * H:], (rb[2 * H:] if rb is not None else None)
            if before:
                lin = ds.matmul(hp, rh)
                if rbh is not None:
                    lin = lin + rbh
                cand = g(s.pre(xw[:, 2 * H:] + r * lin))
            else:
                lin = ds.matmul(r * hp, rh)
                if rbh is not None:
                    lin = lin + rbh
                cand = g(s.pre(xw[:, 2 * H:] + lin))
            return ((1 - z) * cand + z * hp,)

        y, fin = s.run(d, step, (h0[d],))
        ys.append(y)
        finals.append(fin)
    return s.outputs(ys, finals)


@register("RNN")
def _rnn(ins, attrs, ctx):
    s = _Setup(ins, attrs, ctx, 1)
    acts = _activations(attrs, ["Tanh"], s.dirs, ctx)
    h0 = s.initial(arg(ins, 5))
    ys, finals = [], []
    for d in range(s.dirs):
        (f,) = acts[d]

        def step(xw, state, rt, rb, f=f):
            z = xw + ds.matmul(state[0], rt)
            if rb is not None:
                z = z + rb
            return (f(s.pre(z)),)

        y, fin = s.run(d, step, (h0[d],))
        ys.append(y)
        finals.append(fin)
    return s.outputs(ys, finals)
