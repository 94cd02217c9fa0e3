"""Packed and padded sequences (``nn.utils.rnn``): ``pad_sequence``, ``pack_padded_sequence``,
``pad_packed_sequence``, ``pack_sequence``, ``unpad_sequence``, ``unpack_sequence`` and
``PackedSequence``, which the RNN modules accept."""
from __future__ import annotations

from collections import namedtuple

from ... import _creation, _ops
from ..._core import Tensor


class PackedSequence(namedtuple("PackedSequence", ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """PackedSequence(data, batch_sizes, sorted_indices, unsorted_indices): variable-length
    sequences packed time step by time step (``data`` [sum of lengths, *], ``batch_sizes[t]``
    the number of sequences longer than t)."""

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None and sorted_indices is not None:
            unsorted_indices = _invert(sorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        return type(self)(self.data.to(*args, **kwargs), self.batch_sizes, self.sorted_indices, self.unsorted_indices)

    @property
    def is_cuda(self):
        return self.data.is_cuda

    def is_pinned(self):
        return False


def _invert(perm):
    out = _creation.empty(perm.numel(), dtype="int64", device=perm.device)
    return _ops.scatter(out, 0, perm, _creation.arange(perm.numel(), device=perm.device))


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side='right') ->
    [T, B, *] (or [B, T, *]): the sequences padded to the longest."""
    if isinstance(sequences, Tensor):
        sequences = list(sequences.unbind(0))
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    if padding_side not in ("left", "right"):
        raise ValueError(f"Expected padding_side to be one of left or right, but got {padding_side}.")
    T = max(s.shape[0] for s in sequences)
    rows = []
    for s in sequences:
        extra = T - s.shape[0]
        pads = [0, 0] * (s.ndim - 1) + ([0, extra] if padding_side == "right" else [extra, 0])
        rows.append(_ops.pad(s, pads, value=padding_value) if extra else s)
    out = _ops.stack(rows, 0)
    return out if batch_first else out.transpose(0, 1)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """unpad_sequence(padded_sequences, lengths, batch_first=False) -> list of Tensors."""
    x = padded_sequences if batch_first else padded_sequences.transpose(0, 1)
    return [x[i, :int(n)] for i, n in enumerate(_lengths_list(lengths))]


def _lengths_list(lengths):
    return [int(v) for v in (lengths.tolist() if isinstance(lengths, Tensor) else lengths)]


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """pack_padded_sequence(input [T, B, *] or [B, T, *], lengths, batch_first=False,
    enforce_sorted=True) -> PackedSequence."""
    ls = _lengths_list(lengths)
    if enforce_sorted:
        if any(a < b for a, b in zip(ls, ls[1:])):
            raise RuntimeError("`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. You "
                               "can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to "
                               "sidestep this requirement if you do not need ONNX exportability.")
        order = list(range(len(ls)))
        sorted_indices = None
    else:
        order = sorted(range(len(ls)), key=lambda i: -ls[i])
        sorted_indices = _creation.tensor(order, dtype="int64", device=input.device)
    if any(n <= 0 for n in ls):
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element in 'lengths' that is <= 0")
    x = input if batch_first else input.transpose(0, 1)  # B, T, *
    if len(ls) != x.shape[0]:
        raise ValueError(f"Expected `len(lengths)` to be equal to batch_size, but got {len(ls)} (batch_size={x.shape[0]})")
    sl = [ls[i] for i in order]
    batch_sizes = [sum(1 for n in sl if n > t) for t in range(sl[0])]
    rows, cols = [], []
    for t, b in enumerate(batch_sizes):
        rows += order[:b]
        cols += [t] * b
    dev = input.device
    data = x[_creation.tensor(rows, dtype="int64", device=dev), _creation.tensor(cols, dtype="int64", device=dev)]
    return PackedSequence(data, _creation.tensor(batch_sizes, dtype="int64"), sorted_indices, None)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None) ->
    (padded [T, B, *] or [B, T, *], lengths): the inverse of ``pack_padded_sequence``."""
    data, bs = sequence.data, [int(v) for v in sequence.batch_sizes.tolist()]
    B, T = bs[0], len(bs)
    if total_length is not None:
        if total_length < T:
            raise ValueError(f"Expected total_length to be at least the length of the longest sequence in input, but "
                             f"got total_length={total_length} and max sequence length being {T}")
        T = total_length
    lengths = [sum(1 for b in bs if b > i) for i in range(B)]
    out = _creation.full((B, T) + tuple(data.shape[1:]), padding_value, dtype=data.dtype, device=data.device)
    rows, cols = [], []
    for t, b in enumerate(bs):
        rows += list(range(b))
        cols += [t] * b
    dev = data.device
    out = out.index_put((_creation.tensor(rows, dtype="int64", device=dev), _creation.tensor(cols, dtype="int64", device=dev)),
                        data)
    lengths_t = _creation.tensor(lengths, dtype="int64")
    if sequence.unsorted_indices is not None:
        out = out.index_select(0, sequence.unsorted_indices)
        lengths_t = lengths_t.index_select(0, sequence.unsorted_indices.cpu())
    return (out if batch_first else out.transpose(0, 1)), lengths_t


def pack_sequence(sequences, enforce_sorted=True):
    """pack_sequence(sequences, enforce_sorted=True) -> PackedSequence of a list of [L_i, *] tensors."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    """unpack_sequence(packed_sequences) -> list of Tensors."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)


def _install_packed_forward():
    """Lets the RNN modules take a PackedSequence: the padded batch steps together, each row's
    state holding still past its own length (so padding never enters a state, and the reverse
    direction starts at each row's last step); the outputs are packed again, and the final
    states are each sequence's own."""
    from ..modules.rnn import RNNBase

    if getattr(RNNBase.forward, "_accepts_packed", False):
        return
    plain = RNNBase.forward

    def forward(self, input, hx=None):
        if not isinstance(input, PackedSequence):
            return plain(self, input, hx)
        padded, lengths = pad_packed_sequence(input, batch_first=False)
        ls = [int(v) for v in lengths.tolist()]
        bf, self.batch_first = self.batch_first, False
        try:
            out, h_n = self._forward(padded, hx, lengths)
        finally:
            self.batch_first = bf
        # packed again in the input's own order, so its sorted/unsorted indices still apply
        order = input.sorted_indices.tolist() if input.sorted_indices is not None else list(range(len(ls)))
        p = pack_sequence([out[:ls[i], i] for i in order], enforce_sorted=True)
        packed = PackedSequence(p.data, p.batch_sizes, input.sorted_indices, input.unsorted_indices)
        return packed, h_n

    forward._accepts_packed = True
    RNNBase.forward = forward


_install_packed_forward()

__all__ = ["PackedSequence", "pad_sequence", "unpad_sequence", "pack_padded_sequence", "pad_packed_sequence",
           "pack_sequence", "unpack_sequence"]
