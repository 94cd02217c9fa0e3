"""Reference implementations, in torch.nn, of three speech models that no installable library
ships in a fixed layout: DeepSpeech2, QuartzNet 5x5 and the x-vector speaker model. Each follows
its published architecture and the module naming of the open implementation most checkpoints
come from, so that the key lists and seeded outputs written from here describe those checkpoints:

* ``deepspeech2``: the layout of the widely used PyTorch DeepSpeech2 (``conv.seq_module``,
  ``rnns.N.batch_norm.module`` / ``rnns.N.rnn``, ``fc.0.module``): two 2-D convolutions with
  BatchNorm and Hardtanh(0, 20) masked past each utterance's length, five bidirectional GRUs over
  packed sequences with their directions summed and BatchNorm before every one but the first,
  then BatchNorm + a bias-free linear layer; here followed by log-softmax.
* ``quartznet5x5``: QuartzNet 5x5 as the Jasper-block encoder / 1x1-conv decoder of NVIDIA's ASR
  toolkit writes it (``encoder.encoder.N.mconv``, ``.res``, ``decoder.decoder_layers.0``):
  masked time-channel separable convolutions, BatchNorm(eps=1e-3), ReLU, residual 1x1 branches.
* ``xvector``: the TDNN x-vector of the SpeechBrain recipe (``embedding_model.blocks``,
  ``classifier.norm`` / ``classifier.DNN.block_0`` / ``classifier.out``): dilated convolutions
  with reflect "same" padding, ReLU, BatchNorm; mean + standard-deviation pooling; a 512-wide
  embedding layer; BatchNorm, a 512-wide hidden layer and the speaker layer. The pooling here
  leaves out the tiny random noise SpeechBrain adds to the mean, so that outputs are deterministic.

``bench/gen_model_keys.py`` hands the names of this file to :func:`handle`, which writes each
model's key list and its seeded-weights outputs. Run it with the reference virtual environment:
``/tmp/refvenv/bin/python bench/gen_model_keys.py deepspeech2 quartznet5x5 xvector``.
"""
from __future__ import annotations

import json

QUARTZNET_5X5 = [  # (filters, repeat, kernel, stride, dilation, residual, separable): C1, B1-B5, C2, C3
    (256, 1, 33, 2, 1, False, True),
    (256, 5, 33, 1, 1, True, True),
    (256, 5, 39, 1, 1, True, True),
    (512, 5, 51, 1, 1, True, True),
    (512, 5, 63, 1, 1, True, True),
    (512, 5, 75, 1, 1, True, True),
    (512, 1, 87, 1, 2, False, True),
    (1024, 1, 1, 1, 1, False, False),
]


def _deepspeech2(n_feature=161, n_class=29, hidden_size=1024, num_layers=5, rnn_type="gru"):
    import torch
    import torch.nn as nn

    class SequenceWise(nn.Module):
        def __init__(self, module):
            super().__init__()
            self.module = module

        def forward(self, x):
            t, n = x.size(0), x.size(1)
            return self.module(x.reshape(t * n, -1)).view(t, n, -1)

    class MaskConv(nn.Module):
        def __init__(self, seq_module):
            super().__init__()
            self.seq_module = seq_module

        def forward(self, x, lengths):
            for module in self.seq_module:
                x = module(x)
                mask = torch.arange(x.size(3)).view(1, 1, 1, -1) >= lengths.view(-1, 1, 1, 1)
                x = x.masked_fill(mask, 0)
            return x, lengths

    class BatchRNN(nn.Module):
        def __init__(self, input_size, hidden_size, rnn, batch_norm=True):
            super().__init__()
            self.batch_norm = SequenceWise(nn.BatchNorm1d(input_size)) if batch_norm else None
            self.rnn = rnn(input_size=input_size, hidden_size=hidden_size, bidirectional=True, bias=True)

        def forward(self, x, lengths):
            if self.batch_norm is not None:
                x = self.batch_norm(x)
            x = nn.utils.rnn.pack_padded_sequence(x, lengths, enforce_sorted=False)
            x, _ = self.rnn(x)
            x, _ = nn.utils.rnn.pad_packed_sequence(x)
            return x.view(x.size(0), x.size(1), 2, -1).sum(2)  # the two directions summed

    class DeepSpeech2(nn.Module):
        def __init__(self):
            super().__init__()
            rnn = {"gru": nn.GRU, "lstm": nn.LSTM, "rnn": nn.RNN}[rnn_type]
            self.conv = MaskConv(nn.Sequential(
                nn.Conv2d(1, 32, kernel_size=(41, 11), stride=(2, 2), padding=(20, 5)), nn.BatchNorm2d(32),
                nn.Hardtanh(0, 20, inplace=True),
                nn.Conv2d(32, 32, kernel_size=(21, 11), stride=(2, 1), padding=(10, 5)), nn.BatchNorm2d(32),
                nn.Hardtanh(0, 20, inplace=True)))
            f = (n_feature + 2 * 20 - 41) // 2 + 1
            f = (f + 2 * 10 - 21) // 2 + 1
            self.rnns = nn.Sequential(BatchRNN(32 * f, hidden_size, rnn, batch_norm=False),
                                      *(BatchRNN(hidden_size, hidden_size, rnn) for _ in range(num_layers - 1)))
            self.fc = nn.Sequential(SequenceWise(nn.Sequential(nn.BatchNorm1d(hidden_size),
                                                               nn.Linear(hidden_size, n_class, bias=False))))

        def forward(self, x, lengths=None):
            if lengths is None:
                lengths = torch.full((x.size(0),), x.size(3), dtype=torch.int64)
            out_lengths = (lengths + 2 * 5 - 10 - 1) // 2 + 1  # only the first conv strides in time
            x, _ = self.conv(x, out_lengths)
            b, c, f, t = x.shape
            x = x.view(b, c * f, t).permute(2, 0, 1).contiguous()  # [T, N, C*F]
            for layer in self.rnns:
                x = layer(x, out_lengths)
            x = self.fc(x).transpose(0, 1)
            return x.log_softmax(-1), out_lengths

    return DeepSpeech2()


def _quartznet(n_mels=64, n_class=29, dropout=0.0, config=QUARTZNET_5X5):
    import torch
    import torch.nn as nn

    class MaskedConv1d(nn.Module):
        def __init__(self, i, o, k, stride=1, dilation=1, padding=0, groups=1):
            super().__init__()
            self.conv = nn.Conv1d(i, o, k, stride=stride, padding=padding, dilation=dilation, groups=groups, bias=False)

        def forward(self, x, lens):
            x = x * (torch.arange(x.size(2)).unsqueeze(0) < lens.unsqueeze(1)).unsqueeze(1).to(x.dtype)
            c = self.conv
            if c.stride[0] > 1 or 2 * c.padding[0] != c.dilation[0] * (c.kernel_size[0] - 1):
                lens = torch.div(lens + 2 * c.padding[0] - c.dilation[0] * (c.kernel_size[0] - 1) - 1, c.stride[0],
                                 rounding_mode="trunc") + 1
            return c(x), lens

    def conv_bn(i, o, k, stride=1, dilation=1, separable=False):
        pad = dilation * (k - 1) // 2
        if separable:
            layers = [MaskedConv1d(i, i, k, stride, dilation, pad, groups=i), MaskedConv1d(i, o, 1)]
        else:
            layers = [MaskedConv1d(i, o, k, stride, dilation, pad)]
        return layers + [nn.BatchNorm1d(o, eps=1e-3, momentum=0.1)]

    class JasperBlock(nn.Module):
        def __init__(self, i, o, repeat, k, stride, dilation, residual, separable):
            super().__init__()
            conv, c = nn.ModuleList(), i
            for _ in range(repeat - 1):
                conv.extend(conv_bn(c, o, k, stride, dilation, separable) + [nn.ReLU(), nn.Dropout(dropout)])
                c = o
            conv.extend(conv_bn(c, o, k, stride, dilation, separable))
            self.mconv = conv
            self.res = nn.ModuleList([nn.ModuleList(conv_bn(i, o, 1))]) if residual else None
            self.mout = nn.Sequential(nn.ReLU(), nn.Dropout(dropout))

        def forward(self, x, lens):
            out, new_lens = x, lens
            for layer in self.mconv:
                if isinstance(layer, MaskedConv1d):
                    out, new_lens = layer(out, new_lens)
                else:
                    out = layer(out)
            if self.res is not None:
                r = x
                for layer in self.res[0]:
                    r = layer(r, lens)[0] if isinstance(layer, MaskedConv1d) else layer(r)
                out = out + r
            return self.mout(out), new_lens

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            blocks, c = [], n_mels
            for filters, repeat, k, stride, dilation, residual, separable in config:
                blocks.append(JasperBlock(c, filters, repeat, k, stride, dilation, residual, separable))
                c = filters
            self.encoder = nn.Sequential(*blocks)

        def forward(self, x, lens):
            for block in self.encoder:
                x, lens = block(x, lens)
            return x, lens

    class Decoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.decoder_layers = nn.Sequential(nn.Conv1d(config[-1][0], n_class, kernel_size=1, bias=True))

        def forward(self, x):
            return self.decoder_layers(x).transpose(1, 2).log_softmax(-1)

    class QuartzNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = Encoder()
            self.decoder = Decoder()

        def forward(self, x, lengths=None):
            if lengths is None:
                lengths = torch.full((x.size(0),), x.size(2), dtype=torch.int64)
            x, lengths = self.encoder(x, lengths)
            return self.decoder(x), lengths

    return QuartzNet()


def _xvector(n_mels=24, n_speakers=7205, embedding_dim=512, activation="relu"):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    act = {"relu": nn.ReLU, "leaky_relu": nn.LeakyReLU}[activation]

    class Conv1d(nn.Module):  # channels-last in and out, reflect "same" padding
        def __init__(self, i, o, k, dilation):
            super().__init__()
            self.pad = dilation * (k - 1) // 2
            self.conv = nn.Conv1d(i, o, k, dilation=dilation)

        def forward(self, x):
            x = x.transpose(1, 2)
            if self.pad:
                x = F.pad(x, (self.pad, self.pad), mode="reflect")
            return self.conv(x).transpose(1, 2)

    class BatchNorm1d(nn.Module):  # channels-last
        def __init__(self, n):
            super().__init__()
            self.norm = nn.BatchNorm1d(n)

        def forward(self, x):
            return self.norm(x.transpose(1, 2)).transpose(1, 2)

    class Linear(nn.Module):
        def __init__(self, i, o):
            super().__init__()
            self.w = nn.Linear(i, o)

        def forward(self, x):
            return self.w(x)

    class StatisticsPooling(nn.Module):
        def forward(self, x, lengths=None):  # [B, T, C] -> [B, 1, 2C] over each row's first lengths[i] frames
            if lengths is None:
                return torch.cat([x.mean(1), x.std(1) + 1e-5], 1).unsqueeze(1)
            rows = [torch.cat([x[i, :n].mean(0), x[i, :n].std(0) + 1e-5]) for i, n in enumerate(lengths.tolist())]
            return torch.stack(rows).unsqueeze(1)

    class Xvector(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList()
            c = n_mels
            for o, k, d in zip((512, 512, 512, 512, 1500), (5, 3, 3, 1, 1), (1, 2, 3, 1, 1)):
                self.blocks.extend([Conv1d(c, o, k, d), act(), BatchNorm1d(o)])
                c = o
            self.blocks.append(StatisticsPooling())
            self.blocks.append(Linear(2 * c, embedding_dim))

        def forward(self, x, lengths=None):
            for layer in self.blocks:
                x = layer(x, lengths) if isinstance(layer, StatisticsPooling) else layer(x)
            return x

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = Linear(embedding_dim, 512)
            self.act = act()
            self.norm = BatchNorm1d(512)

        def forward(self, x):
            return self.norm(self.act(self.linear(x)))

    class DNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.block_0 = Block()

        def forward(self, x):
            return self.block_0(x)

    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.act = act()
            self.norm = BatchNorm1d(embedding_dim)
            self.DNN = DNN()
            self.out = Linear(512, n_speakers)

        def forward(self, x):
            return self.out(self.DNN(self.norm(self.act(x)))).log_softmax(-1)

    class XVector(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding_model = Xvector()
            self.classifier = Classifier()

        def forward(self, x, lengths=None):  # [B, T, n_mels] -> ([B, n_speakers] log-probabilities, [B, embedding])
            emb = self.embedding_model(x, lengths)
            return self.classifier(emb).squeeze(1), emb.squeeze(1)

    return XVector()


BUILDERS = {"deepspeech2": _deepspeech2, "quartznet5x5": _quartznet, "xvector": _xvector}

# Small configurations for the seeded-weights outputs; the second row of each batch is shorter
# (see forward_for_outputs), so masking, packing and per-row pooling are all compared.
OUTPUT_CASES = {
    "deepspeech2": (dict(n_feature=41, hidden_size=48, num_layers=3), (2, 1, 41, 14)),
    "quartznet5x5": ({}, (2, 64, 24)),
    "xvector": (dict(n_speakers=11), (2, 16, 24)),
}

# rank-2 "sine" weights would make these deep stacks' outputs nearly independent of the input
WEIGHT_SCHEMES = {name: "hashed" for name in OUTPUT_CASES}

# frames cut from the end of the second row in the seeded-output comparison
SHORTER_BY = {"deepspeech2": 5, "quartznet5x5": 7, "xvector": 6}


def input_gradient_probe(out_numel):
    """The fixed weights w of the probe loss sum(w * output) whose input gradient is recorded."""
    import numpy as np

    return np.cos(np.arange(out_numel) * 0.29 + 0.1).astype(np.float32)


def sampled(values, count=64):
    """Every k-th of the flattened ``values`` (about ``count`` of them), as a list."""
    flat = values.reshape(-1)
    return flat[:: max(1, flat.shape[0] // count)][:count].tolist()


def forward_for_outputs(name, model, x):
    """(main output, extra fields for the outputs file) of ``model`` on ``x``; the extra fields
    include the input gradient of a fixed probe loss, so the backward pass is compared too."""
    import torch

    t = x.shape[1 if name == "xvector" else -1]
    lengths = torch.tensor([t, t - SHORTER_BY[name]])
    extra = {"lengths": lengths.tolist()}
    if name == "xvector":
        # the fixed input is one sinusoid of the flat index, whose time statistics barely depend on
        # the row: a ramp over time and an offset on the second row make the rows differ, and the
        # input actually used is recorded
        x = x * torch.linspace(0.25, 2.0, t).view(1, t, 1) + torch.tensor([0.0, 0.5]).view(2, 1, 1)
        extra["input"] = x.reshape(-1).tolist()
    with torch.enable_grad():
        x = x.clone().requires_grad_(True)
        if name == "xvector":
            out, emb = model(x, lengths)
            extra["embedding_first16"] = emb[:, :16].reshape(-1).tolist()
        else:
            out, out_lengths = model(x, lengths)
            extra["output_lengths"] = out_lengths.tolist()
        w = torch.from_numpy(input_gradient_probe(out.numel())).view(out.shape)
        (grad,) = torch.autograd.grad((out * w).sum(), x)
    extra["input_grad_sampled"] = sampled(grad.numpy())
    return out.detach(), extra


def write_outputs(name, gk):
    """The seeded-weights outputs of ``name`` (``gk`` is gen_model_keys, for its helpers)."""
    import torch

    t = gk._testing_module()
    kwargs, shape = OUTPUT_CASES[name]
    model = BUILDERS[name](**kwargs)
    scheme = WEIGHT_SCHEMES[name]
    state = {}
    for k, v in model.state_dict().items():
        arr = t.deterministic_value(k, tuple(v.shape), str(v.dtype).replace("torch.", ""), scheme)
        state[k] = v if arr is None else torch.from_numpy(arr)
    model.load_state_dict(state, strict=True)
    model.eval()
    x = torch.from_numpy(t.deterministic_input(shape, "image"))
    out, extra = forward_for_outputs(name, model, x)
    out = out.float()
    doc = {"model": name, "kwargs": kwargs, "input_shape": list(shape), "vocab": 10000,
           "output_shape": list(out.shape), "first16": out[..., :16].reshape(-1).tolist(),
           "versions": gk.versions(), "generated_by": "bench/gen_model_keys.py", **extra, "weights": scheme}
    (gk.OUT / f"{name}_outputs.json").write_text(json.dumps(doc) + "\n")
    print(f"{name}: output {tuple(out.shape)}")


def handle(name, gk):
    """Writes the key list and seeded outputs of ``name`` when it belongs to this file (``gk``
    is gen_model_keys, for its writers); False for names of other families."""
    if name not in BUILDERS:
        return False
    model = BUILDERS[name]()
    gk.write(name, gk.entries(model), f"{type(model).__module__}.{type(model).__name__}")
    write_outputs(name, gk)
    return True


NAMES = list(BUILDERS)
