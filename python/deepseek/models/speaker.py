"""Speaker recognition: the TDNN x-vector model (Snyder et al., 2018) with the ``state_dict``
layout of SpeechBrain's x-vector recipe (``embedding_model.blocks``, ``classifier.norm``,
``classifier.DNN.block_0``, ``classifier.out``), so its ``embedding_model.ckpt`` and
``classifier.ckpt`` load into ``model.embedding_model`` and ``model.classifier`` with
``strict=True``."""
from __future__ import annotations

from ..nn import functional as F
from ..nn.modules import layers as L
from ..nn.modules.module import Module
from ._registry import register_model

# (channels, kernel, dilation) of the frame-level layers: contexts [-2, 2], {-2, 0, 2},
# {-3, 0, 3}, {0}, {0}
TDNN_LAYERS = ((512, 5, 1), (512, 3, 2), (512, 3, 3), (512, 1, 1), (1500, 1, 1))
_ACTIVATIONS = {"relu": L.ReLU, "leaky_relu": L.LeakyReLU}


class _Conv1d(Module):
    """A dilated Conv1d over channels-last frames [batch, frames, channels], padded by
    reflection so the number of frames is kept."""

    def __init__(self, in_channels, out_channels, kernel_size, dilation=1):
        super().__init__()
        self.pad = dilation * (kernel_size - 1) // 2
        self.conv = L.Conv1d(in_channels, out_channels, kernel_size, dilation=dilation)

    def forward(self, x):
        x = x.transpose(1, 2)
        if self.pad:
            x = F.pad(x, (self.pad, self.pad), mode="reflect")
        return self.conv(x).transpose(1, 2)


class _BatchNorm1d(Module):
    """BatchNorm1d over the last axis of [batch, features] or [batch, frames, features]."""

    def __init__(self, num_features):
        super().__init__()
        self.norm = L.BatchNorm1d(num_features)

    def forward(self, x):
        return self.norm(x.transpose(1, 2)).transpose(1, 2) if x.ndim == 3 else self.norm(x)


class _Linear(Module):
    def __init__(self, in_features, out_features):
        super().__init__()
        self.w = L.Linear(in_features, out_features)

    def forward(self, x):
        return self.w(x)


class StatisticsPooling(Module):
    """[batch, frames, C] -> [batch, 2C]: the mean and the standard deviation (unbiased, plus
    1e-5) over each row's first ``lengths[i]`` frames (all frames when ``lengths`` is None).

    The variance is floored at 1e-10 before its square root, as Kaldi's statistics pooling
    floors it: a channel constant over the frames (a ReLU that is off throughout) then gets a
    zero gradient instead of NaN, and every other value is SpeechBrain's. (SpeechBrain also adds
    a small random noise to the mean; it is left out here, so that ``eval()`` outputs are
    deterministic.)"""

    eps = 1e-5
    variance_floor = 1e-10

    def forward(self, x, lengths=None):
        from .. import arange, cat

        if lengths is None:
            mean, var = x.mean(1), x.var(1)
        else:
            mask = (arange(x.shape[1], device=x.device).unsqueeze(0) < lengths.unsqueeze(1)).to(x.dtype).unsqueeze(2)
            n = lengths.to(x.dtype).unsqueeze(1)
            mean = (x * mask).sum(1) / n
            var = (((x - mean.unsqueeze(1)) * mask) ** 2).sum(1) / (n - 1)
        return cat([mean, var.clamp(min=self.variance_floor).sqrt() + self.eps], 1)


class Xvector(Module):
    """The embedding network: the frame-level TDNN layers (Conv1d, activation, BatchNorm),
    statistics pooling and the segment-level layer whose output is the x-vector."""

    def __init__(self, in_channels=24, lin_neurons=512, activation="relu"):
        super().__init__()
        blocks, c = [], in_channels
        for out, kernel, dilation in TDNN_LAYERS:
            blocks += [_Conv1d(c, out, kernel, dilation), _ACTIVATIONS[activation](), _BatchNorm1d(out)]
            c = out
        blocks += [StatisticsPooling(), _Linear(2 * c, lin_neurons)]
        self.blocks = L.ModuleList(blocks)

    def forward(self, x, lengths=None):
        for layer in self.blocks:
            x = layer(x, lengths) if isinstance(layer, StatisticsPooling) else layer(x)
        return x


class _DNNBlock(Module):
    def __init__(self, in_features, out_features, activation):
        super().__init__()
        self.linear = _Linear(in_features, out_features)
        self.act = _ACTIVATIONS[activation]()
        self.norm = _BatchNorm1d(out_features)

    def forward(self, x):
        return self.norm(self.act(self.linear(x)))


class _DNN(Module):
    def __init__(self, in_features, out_features, activation):
        super().__init__()
        self.block_0 = _DNNBlock(in_features, out_features, activation)

    def forward(self, x):
        return self.block_0(x)


class SpeakerClassifier(Module):
    """The speaker head on an x-vector: activation, BatchNorm, a hidden layer (linear,
    activation, BatchNorm) and the speaker layer, as log-probabilities."""

    def __init__(self, embedding_dim=512, n_speakers=7205, lin_neurons=512, activation="relu"):
        super().__init__()
        self.act = _ACTIVATIONS[activation]()
        self.norm = _BatchNorm1d(embedding_dim)
        self.DNN = _DNN(embedding_dim, lin_neurons, activation)
        self.out = _Linear(lin_neurons, n_speakers)

    def forward(self, x):
        return F.log_softmax(self.out(self.DNN(self.norm(self.act(x)))), dim=-1)


class XVector(Module):
    """XVector(n_mels=24, n_speakers=7205, embedding_dim=512, activation='relu'): filterbank
    frames [batch, frames, n_mels] (and optional ``lengths`` [batch] in frames) ->
    log-probabilities over the speakers [batch, n_speakers]; :meth:`embed` returns the
    x-vector [batch, embedding_dim].

    Five frame-level layers (dilated convolutions with contexts [-2, 2], {-2, 0, 2}, {-3, 0, 3},
    {0}, {0}; 512, 512, 512, 512 and 1500 channels; each followed by the activation and
    BatchNorm), mean + standard-deviation pooling over the frames, the 512-wide embedding layer,
    and the classifier. ``activation='leaky_relu'`` matches SpeechBrain's pretrained VoxCeleb
    model (24 mel bins, 7205 speakers); the frame-level layers pad by reflection, so inputs
    need at least 4 frames, and ``lengths`` limits the pooling to each row's own frames.

    Example::

        >>> net = XVector(n_speakers=10)
        >>> feats = deepseek.randn(2, 200, 24)
        >>> net(feats).shape, net.embed(feats, deepseek.tensor([200, 150])).shape
        (deepseek.Size([2, 10]), deepseek.Size([2, 512]))
    """

    def __init__(self, n_mels=24, n_speakers=7205, embedding_dim=512, activation="relu"):
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(f"XVector: activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}")
        self.n_mels = n_mels
        self.embedding_model = Xvector(n_mels, embedding_dim, activation)
        self.classifier = SpeakerClassifier(embedding_dim, n_speakers, 512, activation)

    def embed(self, x, lengths=None):
        """The x-vector [batch, embedding_dim] of filterbank frames [batch, frames, n_mels]."""
        from .speech2 import _lengths

        if x.ndim != 3 or x.shape[2] != self.n_mels:
            raise ValueError(f"XVector: expected features [batch, frames, {self.n_mels}], got {tuple(x.shape)}")
        if x.shape[1] < 4:
            raise ValueError(f"XVector: needs at least 4 frames (the widest layer pads 3 by reflection), "
                             f"got {x.shape[1]}")
        if lengths is not None:
            lengths = _lengths("XVector", lengths, x.shape[0], x.shape[1], x.device)
            if int(lengths.min().item()) < 2:
                raise ValueError(f"XVector: each row needs at least 2 frames for its standard deviation, "
                                 f"got lengths {lengths.tolist()}")
        return self.embedding_model(x, lengths)

    def forward(self, x, lengths=None):
        return self.classifier(self.embed(x, lengths))


def _filterbanks(frames=300, n=24):
    def make():
        from .. import randn

        return (randn(1, frames, n),)
    return make


@register_model("speaker-recognition", _filterbanks(), "SpeechBrain x-vector")
def xvector(n_mels=24, n_speakers=7205, embedding_dim=512, activation="relu"):
    """The TDNN x-vector over 24 mel bins, 7205 VoxCeleb speakers (8.2M parameters)."""
    return XVector(n_mels, n_speakers, embedding_dim, activation)
