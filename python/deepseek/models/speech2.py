"""Convolutional and recurrent CTC acoustic models with the ``state_dict`` layouts their open
implementations write, so their checkpoints load with ``load_state_dict(strict=True)``:

* DeepSpeech2 (Amodei et al., 2016) as the widely used PyTorch DeepSpeech2 lays it out
  (``conv.seq_module``, ``rnns.N``, ``fc.0.module``): two 2-D convolutions over a spectrogram,
  five bidirectional GRUs with their directions summed, BatchNorm, a bias-free output layer.
* QuartzNet 5x5 (Kriman et al., 2020) as NVIDIA's ASR toolkit lays it out
  (``encoder.encoder.N.mconv``, ``.res``, ``decoder.decoder_layers.0``): time-channel separable
  1-D convolutions in residual blocks over log-mel features (its checkpoints' ``preprocessor``
  buffers belong to the feature front end, not to this module).

Both take a batch of features and optional per-utterance lengths, mask every frame past a row's
length the way their references do, and return ``(log_probs [batch, frames, n_class],
output_lengths)``, ready for :class:`deepseek.nn.CTCLoss` after ``log_probs.transpose(0, 1)``.
"""
from __future__ import annotations

from ..nn import functional as F
from ..nn.modules.extra import Hardtanh
from ..nn.modules.layers import BatchNorm1d, BatchNorm2d, Conv1d, Conv2d, Dropout, Linear, ModuleList, ReLU, Sequential
from ..nn.modules.module import Module
from ..nn.modules.rnn import GRU, LSTM, RNN
from ._registry import register_model


def _lengths(op, lengths, batch, frames, device=None):
    """``lengths`` as an int64 tensor of ``batch`` values in [1, frames] (all ``frames`` when
    None), on ``device``."""
    from .. import full, int64, tensor
    from .._core import Tensor

    if lengths is None:
        return full((batch,), frames, dtype=int64, device=device)
    if not isinstance(lengths, Tensor):
        lengths = tensor(list(lengths), dtype=int64)
    if tuple(lengths.shape) != (batch,):
        raise ValueError(f"{op}: expected lengths of shape ({batch},), got {tuple(lengths.shape)}")
    lengths = lengths.to(int64)
    if batch and (int(lengths.min().item()) < 1 or int(lengths.max().item()) > frames):
        raise ValueError(f"{op}: lengths must lie in [1, {frames}] (the input has {frames} frames), got {lengths.tolist()}")
    return lengths if device is None else lengths.to(device)


def _time_mask(lengths, frames):
    """[batch, frames] bool, True where a frame lies at or past its row's length; None when no
    row is shorter than ``frames`` (masking would change nothing)."""
    from .. import arange

    if lengths.numel() == 0 or int(lengths.min().item()) >= frames:
        return None
    return arange(frames, device=lengths.device).unsqueeze(0) >= lengths.unsqueeze(1)


# ---- DeepSpeech2 ------------------------------------------------------------------------------

class _SequenceWise(Module):
    """Applies ``module`` to a [T, N, H] sequence as one [T*N, H] batch."""

    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, x):
        t, n = x.shape[0], x.shape[1]
        y = self.module(x.reshape(t * n, x.shape[2]))
        return y.reshape(t, n, y.shape[1])  # explicit sizes: an empty batch has no -1 to infer


class _MaskConv(Module):
    """Runs ``seq_module`` layer by layer, zeroing the frames past each row's length after every
    layer, so a batch's padding never reaches the recurrent layers."""

    def __init__(self, seq_module):
        super().__init__()
        self.seq_module = seq_module

    def forward(self, x, lengths):
        mask = None
        for module in self.seq_module:
            x = module(x)
            if lengths is not None:
                if mask is None:
                    mask = _time_mask(lengths, x.shape[3])
                if mask is not None:
                    x = x.masked_fill(mask.unsqueeze(1).unsqueeze(1), 0.0)
        return x


class _BatchRNN(Module):
    """BatchNorm over the features (except in the first layer), a bidirectional recurrent layer
    over packed sequences, and the sum of its two directions."""

    def __init__(self, input_size, hidden_size, rnn_type, batch_norm=True):
        super().__init__()
        self.batch_norm = _SequenceWise(BatchNorm1d(input_size)) if batch_norm else None
        self.rnn = rnn_type(input_size, hidden_size, bidirectional=True, bias=True)

    def forward(self, x, lengths, ragged):
        from ..nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

        if self.batch_norm is not None:
            x = self.batch_norm(x)
        if ragged:  # each row runs over its own frames only, as the reference's packed sequences do
            out, _ = self.rnn(pack_padded_sequence(x, lengths, enforce_sorted=False))
            x, _ = pad_packed_sequence(out)
        else:
            x, _ = self.rnn(x)
        t, n, h = x.shape
        return x.reshape(t, n, 2, h // 2).sum(2)


_RNN_TYPES = {"gru": GRU, "lstm": LSTM, "rnn": RNN}


class DeepSpeech2(Module):
    """DeepSpeech2(n_feature=161, n_class=29, hidden_size=1024, num_layers=5, rnn_type='gru'):
    a spectrogram [batch, 1, n_feature, frames] (and optional ``lengths`` [batch] in frames) ->
    ``(log_probs [batch, ceil(frames / 2), n_class], output_lengths)``.

    Two convolutions (41x11 stride 2x2, 21x11 stride 2x1; BatchNorm, Hardtanh(0, 20)), then
    ``num_layers`` bidirectional recurrent layers whose directions are summed, BatchNorm before
    each but the first, and BatchNorm + a bias-free linear layer. With ``lengths``, the frames
    past a row's length are zeroed after every convolution layer and each row's recurrences run
    over its own frames only; the output has as many frames as the longest row. The defaults
    are 20 ms windows of 16 kHz audio (161 frequencies) and 29 characters, blank at index 0.

    Example::

        >>> net = DeepSpeech2(n_feature=161, hidden_size=256, num_layers=2)
        >>> log_probs, lengths = net(deepseek.randn(2, 1, 161, 50), deepseek.tensor([50, 31]))
        >>> log_probs.shape, lengths.tolist()
        (deepseek.Size([2, 25, 29]), [25, 16])
    """

    def __init__(self, n_feature=161, n_class=29, hidden_size=1024, num_layers=5, rnn_type="gru"):
        super().__init__()
        if rnn_type not in _RNN_TYPES:
            raise ValueError(f"DeepSpeech2: rnn_type must be one of {sorted(_RNN_TYPES)}, got {rnn_type!r}")
        if num_layers < 1:
            raise ValueError(f"DeepSpeech2: num_layers must be at least 1, got {num_layers}")
        if n_feature < 1:
            raise ValueError(f"DeepSpeech2: n_feature must be positive, got {n_feature}")
        self.n_feature, self.n_class = n_feature, n_class
        self.conv = _MaskConv(Sequential(
            Conv2d(1, 32, kernel_size=(41, 11), stride=(2, 2), padding=(20, 5)), BatchNorm2d(32), Hardtanh(0, 20),
            Conv2d(32, 32, kernel_size=(21, 11), stride=(2, 1), padding=(10, 5)), BatchNorm2d(32), Hardtanh(0, 20)))
        f = (n_feature + 2 * 20 - 41) // 2 + 1
        f = (f + 2 * 10 - 21) // 2 + 1
        rnn = _RNN_TYPES[rnn_type]
        self.rnns = Sequential(_BatchRNN(32 * f, hidden_size, rnn, batch_norm=False),
                               *(_BatchRNN(hidden_size, hidden_size, rnn) for _ in range(num_layers - 1)))
        self.fc = Sequential(_SequenceWise(Sequential(BatchNorm1d(hidden_size), Linear(hidden_size, n_class, bias=False))))

    def output_lengths(self, lengths):
        """Frames out for ``lengths`` frames in: only the first convolution strides in time."""
        return (lengths - 1) // 2 + 1

    def forward(self, x, lengths=None):
        if x.ndim != 4 or x.shape[1] != 1 or x.shape[2] != self.n_feature:
            raise ValueError(f"DeepSpeech2: expected a spectrogram [batch, 1, {self.n_feature}, frames], "
                             f"got {tuple(x.shape)}")
        b, t = x.shape[0], x.shape[3]
        out_lengths = self.output_lengths(_lengths("DeepSpeech2", lengths, b, t, x.device))
        ragged = _time_mask(out_lengths, (t - 1) // 2 + 1) is not None
        x = self.conv(x, out_lengths if ragged else None)
        n, c, f, t = x.shape
        x = x.reshape(n, c * f, t).permute(2, 0, 1)  # [T, N, C*F]
        for layer in self.rnns:
            x = layer(x, out_lengths, ragged)
        return F.log_softmax(self.fc(x).transpose(0, 1), dim=-1), out_lengths


# ---- QuartzNet ------------------------------------------------------------------------------------

QUARTZNET_5X5 = (  # (filters, repeat, kernel, stride, dilation, residual, separable): C1, B1-B5, C2, C3
    (256, 1, 33, 2, 1, False, True),
    (256, 5, 33, 1, 1, True, True),
    (256, 5, 39, 1, 1, True, True),
    (512, 5, 51, 1, 1, True, True),
    (512, 5, 63, 1, 1, True, True),
    (512, 5, 75, 1, 1, True, True),
    (512, 1, 87, 1, 2, False, True),
    (1024, 1, 1, 1, 1, False, False),
)


class _MaskedConv1d(Module):
    """A bias-free Conv1d whose input frames past each row's length are zeroed first; also maps
    the lengths through the convolution."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, dilation=1, padding=0, groups=1):
        super().__init__()
        self.conv = Conv1d(in_channels, out_channels, kernel_size, stride=stride, padding=padding, dilation=dilation,
                           groups=groups, bias=False)

    def forward(self, x, lengths):
        mask = _time_mask(lengths, x.shape[2])
        if mask is not None:
            x = x.masked_fill(mask.unsqueeze(1), 0.0)
        c = self.conv
        k, s, d, p = c.kernel_size[0], c.stride[0], c.dilation[0], c.padding[0]
        if s > 1 or 2 * p != d * (k - 1):
            lengths = (lengths + 2 * p - d * (k - 1) - 1) // s + 1
        return c(x), lengths


def _conv_bn(cin, cout, kernel, stride=1, dilation=1, separable=False):
    pad = dilation * (kernel - 1) // 2  # "same" padding
    if separable:  # depthwise over time, then pointwise over channels
        layers = [_MaskedConv1d(cin, cin, kernel, stride, dilation, pad, groups=cin), _MaskedConv1d(cin, cout, 1)]
    else:
        layers = [_MaskedConv1d(cin, cout, kernel, stride, dilation, pad)]
    return layers + [BatchNorm1d(cout, eps=1e-3, momentum=0.1)]


class JasperBlock(Module):
    """``repeat`` sub-blocks of (separable) convolution, BatchNorm and ReLU (the last one's ReLU
    after the residual sum); the residual branch is a 1x1 convolution + BatchNorm."""

    def __init__(self, cin, cout, repeat, kernel, stride=1, dilation=1, residual=True, separable=True, dropout=0.0):
        super().__init__()
        if stride > 1 and dilation > 1:
            raise ValueError(f"JasperBlock: only one of stride ({stride}) and dilation ({dilation}) may exceed 1")
        layers, c = [], cin
        for _ in range(repeat - 1):
            layers += _conv_bn(c, cout, kernel, stride, dilation, separable) + [ReLU(), Dropout(dropout)]
            c = cout
        layers += _conv_bn(c, cout, kernel, stride, dilation, separable)
        self.mconv = ModuleList(layers)
        self.res = ModuleList([ModuleList(_conv_bn(cin, cout, 1))]) if residual else None
        self.mout = Sequential(ReLU(), Dropout(dropout))

    def forward(self, x, lengths):
        out, out_lengths = x, lengths
        for layer in self.mconv:
            if isinstance(layer, _MaskedConv1d):
                out, out_lengths = layer(out, out_lengths)
            else:
                out = layer(out)
        if self.res is not None:
            r = x
            for layer in self.res[0]:
                r = layer(r, lengths)[0] if isinstance(layer, _MaskedConv1d) else layer(r)
            out = out + r
        return self.mout(out), out_lengths


class ConvASREncoder(Module):
    """The stack of :class:`JasperBlock` s (``encoder``) of a QuartzNet/Jasper model."""

    def __init__(self, feat_in, config, dropout=0.0):
        super().__init__()
        blocks, c = [], feat_in
        for filters, repeat, kernel, stride, dilation, residual, separable in config:
            blocks.append(JasperBlock(c, filters, repeat, kernel, stride, dilation, residual, separable, dropout))
            c = filters
        self.encoder = Sequential(*blocks)

    def forward(self, x, lengths):
        for block in self.encoder:
            x, lengths = block(x, lengths)
        return x, lengths


class ConvASRDecoder(Module):
    """A 1x1 convolution to the classes, then log-softmax: [batch, C, T] -> [batch, T, n_class]."""

    def __init__(self, feat_in, num_classes):
        super().__init__()
        self.decoder_layers = Sequential(Conv1d(feat_in, num_classes, kernel_size=1, bias=True))

    def forward(self, x):
        return F.log_softmax(self.decoder_layers(x).transpose(1, 2), dim=-1)


class QuartzNet(Module):
    """QuartzNet(n_mels=64, n_class=29, config=QUARTZNET_5X5, dropout=0.0): log-mel features
    [batch, n_mels, frames] (and optional ``lengths`` [batch]) -> ``(log_probs [batch,
    ceil(frames / 2), n_class], output_lengths)``.

    ``config`` lists the blocks as (filters, repeat, kernel, stride, dilation, residual,
    separable); the default is QuartzNet 5x5: prolog C1 (256, kernel 33, stride 2), blocks
    B1-B5 of 5 time-channel separable sub-blocks (kernels 33, 39, 51, 63, 75), epilog C2
    (512, kernel 87, dilation 2) and C3 (1024, kernel 1); the decoder is C4, a 1x1 convolution to
    the classes (the toolkit's checkpoints put the CTC blank last: ``CTCLoss(blank=n_class - 1)``).
    Every convolution's input is zeroed past each row's length, as the reference's masked
    convolutions do.

    Example::

        >>> net = QuartzNet()
        >>> log_probs, lengths = net(deepseek.randn(2, 64, 40), deepseek.tensor([40, 25]))
        >>> log_probs.shape, lengths.tolist()
        (deepseek.Size([2, 20, 29]), [20, 13])
    """

    def __init__(self, n_mels=64, n_class=29, config=QUARTZNET_5X5, dropout=0.0):
        super().__init__()
        self.n_mels = n_mels
        self.encoder = ConvASREncoder(n_mels, config, dropout)
        self.decoder = ConvASRDecoder(config[-1][0], n_class)

    def forward(self, x, lengths=None):
        if x.ndim != 3 or x.shape[1] != self.n_mels:
            raise ValueError(f"QuartzNet: expected features [batch, {self.n_mels}, frames], got {tuple(x.shape)}")
        x, lengths = self.encoder(x, _lengths("QuartzNet", lengths, x.shape[0], x.shape[2], x.device))
        return self.decoder(x), lengths


def _spectrogram(frames=100, n=161):
    def make():
        from .. import randn

        return (randn(1, 1, n, frames),)
    return make


def _mels(frames=100, n=64):
    def make():
        from .. import randn

        return (randn(1, n, frames),)
    return make


@register_model("speech-recognition", _spectrogram(), "DeepSpeech2 (PyTorch layout)")
def deepspeech2(n_feature=161, n_class=29, hidden_size=1024, num_layers=5, rnn_type="gru"):
    """DeepSpeech2 over 161-bin spectrograms: 2 convolutions, 5 bidirectional GRUs of 1024,
    29 characters (65.0M parameters)."""
    return DeepSpeech2(n_feature, n_class, hidden_size, num_layers, rnn_type)


@register_model("speech-recognition", _mels(), "QuartzNet (NeMo layout)")
def quartznet5x5(n_mels=64, n_class=29, dropout=0.0):
    """QuartzNet 5x5 over 64 log-mel features, 29 classes with the blank (6.7M parameters)."""
    return QuartzNet(n_mels, n_class, QUARTZNET_5X5, dropout)
