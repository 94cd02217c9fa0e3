"""Speech recognition acoustic models with torchaudio's ``state_dict`` layout: Wav2Letter (a
1-D convolution stack over a waveform, MFCCs or a power spectrum) and DeepSpeech (three
clipped-ReLU dense layers, a bidirectional ReLU RNN whose two directions are summed, a dense
layer and the output). Both return per-frame log-probabilities, ready for CTC
(``deepseek.nn.CTCLoss``)."""
from __future__ import annotations

from ..nn import functional as F
from ..nn.modules.layers import Conv1d, Linear, ReLU, Sequential
from ..nn.modules.module import Module
from ..nn.modules.rnn import RNN
from ._registry import register_model


class Wav2Letter(Module):
    """Wav2Letter(num_classes=40, input_type="waveform", num_features=1): [batch,
    num_features, time] -> log-probabilities [batch, num_classes, frames]."""

    def __init__(self, num_classes=40, input_type="waveform", num_features=1):
        super().__init__()
        if input_type not in ("waveform", "power_spectrum", "mfcc"):
            raise ValueError(f"Wav2Letter: input_type must be waveform, power_spectrum or mfcc, got {input_type!r}")
        acoustic_in = 250 if input_type == "waveform" else num_features
        layers = [Conv1d(acoustic_in, 250, 48, stride=2, padding=23), ReLU(inplace=True)]
        for _ in range(7):
            layers += [Conv1d(250, 250, 7, stride=1, padding=3), ReLU(inplace=True)]
        layers += [Conv1d(250, 2000, 32, stride=1, padding=16), ReLU(inplace=True),
                   Conv1d(2000, 2000, 1), ReLU(inplace=True), Conv1d(2000, num_classes, 1), ReLU(inplace=True)]
        acoustic = Sequential(*layers)
        if input_type == "waveform":  # a strided conv turns 16 kHz samples into 100 frames/s
            acoustic = Sequential(Sequential(Conv1d(num_features, 250, 250, stride=160, padding=45), ReLU(inplace=True)),
                                  acoustic)
        self.acoustic_model = acoustic

    def forward(self, x):
        return F.log_softmax(self.acoustic_model(x), dim=1)


class _FullyConnected(Module):
    def __init__(self, n_in, n_out, dropout, clip=20.0):
        super().__init__()
        self.fc = Linear(n_in, n_out)
        self.dropout, self.clip = dropout, clip

    def forward(self, x):
        x = F.hardtanh(F.relu(self.fc(x)), 0.0, self.clip)
        return F.dropout(x, self.dropout, self.training) if self.dropout else x


class DeepSpeech(Module):
    """DeepSpeech(n_feature, n_hidden=2048, n_class=40, dropout=0.0): [batch, 1, time,
    n_feature] -> log-probabilities [batch, time, n_class]."""

    def __init__(self, n_feature, n_hidden=2048, n_class=40, dropout=0.0):
        super().__init__()
        self.n_hidden = n_hidden
        self.fc1 = _FullyConnected(n_feature, n_hidden, dropout)
        self.fc2 = _FullyConnected(n_hidden, n_hidden, dropout)
        self.fc3 = _FullyConnected(n_hidden, n_hidden, dropout)
        self.bi_rnn = RNN(n_hidden, n_hidden, num_layers=1, nonlinearity="relu", bidirectional=True)
        self.fc4 = _FullyConnected(n_hidden, n_hidden, dropout)
        self.out = Linear(n_hidden, n_class)

    def forward(self, x):
        if x.ndim != 4 or x.shape[1] != 1:
            raise ValueError(f"DeepSpeech: expected [batch, 1, time, features], got {tuple(x.shape)}")
        x = self.fc3(self.fc2(self.fc1(x))).squeeze(1).transpose(0, 1)  # [time, batch, hidden]
        x, _ = self.bi_rnn(x)
        x = x[:, :, : self.n_hidden] + x[:, :, self.n_hidden:]  # both directions feed fc4
        x = self.out(self.fc4(x)).permute(1, 0, 2)
        return F.log_softmax(x, dim=2)


def _wave(samples=16000):
    def make():
        from .. import randn

        return (randn(1, 1, samples),)
    return make


def _features(frames=100, n=80):
    def make():
        from .. import randn

        return (randn(1, 1, frames, n),)
    return make


@register_model("speech-recognition", _wave(), "torchaudio.models")
def wav2letter(num_classes=40, input_type="waveform", num_features=1):
    """Wav2Letter (26.2M parameters on waveforms, 40 classes)."""
    return Wav2Letter(num_classes, input_type, num_features)


@register_model("speech-recognition", _features(), "torchaudio.models")
def deepspeech(n_feature=80, n_hidden=2048, n_class=40, dropout=0.0):
    """DeepSpeech over 80 log-mel features (29.6M parameters, 40 classes)."""
    return DeepSpeech(n_feature, n_hidden, n_class, dropout)


# ---- Conformer encoder ---------------------------------------------------------------------------

class _FeedForward(Module):
    def __init__(self, d, hidden, dropout):
        super().__init__()
        from ..nn.modules.layers import Dropout, LayerNorm, SiLU

        self.sequential = Sequential(LayerNorm(d), Linear(d, hidden), SiLU(), Dropout(dropout), Linear(hidden, d),
                                     Dropout(dropout))

    def forward(self, x):
        return self.sequential(x)


class _GLU(Module):
    """Gated linear unit over the channels: a * sigmoid(b) for the two halves (kept here so
    the model only needs the core layers)."""

    def forward(self, x):
        a, b = x.chunk(2, 1)
        return a * F.sigmoid(b)


class _ConvModule(Module):
    """LayerNorm, pointwise conv + GLU, depthwise conv, BatchNorm, SiLU, pointwise conv."""

    def __init__(self, d, kernel, dropout):
        super().__init__()
        from ..nn.modules.layers import BatchNorm1d, Dropout, LayerNorm, SiLU

        if (kernel - 1) % 2:
            raise ValueError(f"Conformer: depthwise_conv_kernel_size must be odd, got {kernel}")
        self.layer_norm = LayerNorm(d)
        self.sequential = Sequential(Conv1d(d, 2 * d, 1), _GLU(), Conv1d(d, d, kernel, padding=(kernel - 1) // 2, groups=d),
                                     BatchNorm1d(d), SiLU(), Conv1d(d, d, 1), Dropout(dropout))

    def forward(self, x):  # [batch, time, d]
        return self.sequential(self.layer_norm(x).transpose(1, 2)).transpose(1, 2)


class ConformerLayer(Module):
    """Half-step feed-forward, self-attention, convolution, half-step feed-forward, LayerNorm."""

    def __init__(self, d, ffn_dim, heads, kernel, dropout=0.0):
        super().__init__()
        from ..nn.modules.attention import MultiheadAttention
        from ..nn.modules.layers import Dropout, LayerNorm

        self.ffn1 = _FeedForward(d, ffn_dim, dropout)
        self.self_attn_layer_norm = LayerNorm(d)
        self.self_attn = MultiheadAttention(d, heads, dropout=dropout)
        self.self_attn_dropout = Dropout(dropout)
        self.conv_module = _ConvModule(d, kernel, dropout)
        self.ffn2 = _FeedForward(d, ffn_dim, dropout)
        self.final_layer_norm = LayerNorm(d)

    def forward(self, x, key_padding_mask=None):  # [time, batch, d]
        x = x + 0.5 * self.ffn1(x)
        y = self.self_attn_layer_norm(x)
        y, _ = self.self_attn(y, y, y, key_padding_mask=key_padding_mask, need_weights=False)
        x = x + self.self_attn_dropout(y)
        x = x + self.conv_module(x.transpose(0, 1)).transpose(0, 1)
        x = x + 0.5 * self.ffn2(x)
        return self.final_layer_norm(x)


class Conformer(Module):
    """Conformer(input_dim, num_heads, ffn_dim, num_layers, depthwise_conv_kernel_size,
    dropout=0.0); ``forward(x [batch, time, input_dim], lengths [batch])`` -> (features, lengths),
    frames at or past a row's length masked out of attention."""

    def __init__(self, input_dim, num_heads, ffn_dim, num_layers, depthwise_conv_kernel_size, dropout=0.0):
        super().__init__()
        from ..nn.modules.layers import ModuleList

        self.conformer_layers = ModuleList([ConformerLayer(input_dim, ffn_dim, num_heads, depthwise_conv_kernel_size, dropout)
                                            for _ in range(num_layers)])

    def forward(self, x, lengths=None):
        from .. import arange, full, int64

        b, t = x.shape[0], x.shape[1]
        if lengths is None:
            lengths = full((b,), t, dtype=int64)
        pad = arange(t).unsqueeze(0) >= lengths.unsqueeze(1)  # True = padding
        x = x.transpose(0, 1)
        for layer in self.conformer_layers:
            x = layer(x, pad)
        return x.transpose(0, 1), lengths


def _frames(frames=100, n=144):
    def make():
        from .. import randn

        return (randn(1, frames, n),)
    return make


@register_model("speech-recognition", _frames(), "torchaudio.models")
def conformer(input_dim=144, num_heads=4, ffn_dim=576, num_layers=16, depthwise_conv_kernel_size=31, dropout=0.0):
    """Conformer encoder with Conformer-S dimensions (144 wide, 16 layers, kernel 31)."""
    return Conformer(input_dim, num_heads, ffn_dim, num_layers, depthwise_conv_kernel_size, dropout)
