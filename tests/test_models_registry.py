"""The registry of ``deepseek.models`` and its table: names, tasks, errors, parameter and
multiply-accumulate counts against the published numbers of the reference models."""
import subprocess
import sys

import pytest

import deepseek as ds
from deepseek import models, nn
from deepseek.models.flops import count_macs, count_parameters


def test_list_and_get():
    names = models.list_models()
    assert len(names) >= 31 and names == sorted(names)
    assert {"resnet50", "vit_b_16", "bert_base_uncased", "gpt2", "llama_small"} <= set(names)
    assert set(models.list_models("text-generation")) == {"gpt2", "llama_small", "lstm_lm", "t5_small"}
    assert "resnet18" in models.list_models("image-classification")
    m = models.get_model("resnet18", num_classes=7)
    assert m.fc.out_features == 7
    # every constructor is reachable by attribute (no submodule shadows one)
    for name in names:
        assert getattr(models, name) is models.get_model_entry(name).fn, name


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="unknown model 'resnet19'"):
        models.get_model("resnet19")
    with pytest.raises(ValueError, match="unknown task"):
        models.list_models("audio")
    with pytest.raises(AttributeError):
        models.no_such_model


def test_nn_keeps_the_resnet_names():
    assert nn.ResNet50 is models.resnet50
    assert nn.ResNet is models.resnet.ResNet


@pytest.mark.parametrize("name,params,gmacs", [
    ("resnet18", 11_689_512, 1.814),
    ("squeezenet1_1", 1_235_496, 0.349),
    ("mobilenet_v3_small", 2_542_856, 0.057),
])
def test_counts_match_published_numbers(name, params, gmacs):
    entry = models.get_model_entry(name)
    model = entry.fn().eval()
    assert count_parameters(model) == params
    assert count_macs(model, *entry.example()) / 1e9 == pytest.approx(gmacs, abs=0.002)


def test_attention_macs_are_counted():
    # ViT-B/16 on 32x32: 4 patches + class token; per layer 4 projections of 768x768, the MLP
    # (2 x 768 x 3072) and the two attention matmuls (2 x 5 x 5 x 768)
    m = models.vit_b_16(image_size=32).eval()
    n, e = 5, 768
    per_layer = n * (4 * e * e + 2 * e * 3072) + 2 * n * n * e
    expected = 12 * per_layer + 4 * e * 3 * 16 * 16 + e * 1000
    assert count_macs(m, ds.randn(1, 3, 32, 32)) == expected
    # a tied output head counts once among the parameters and its matmul once per token
    g = models.gpt2(n_layer=1)
    assert g.lm_head.weight is g.transformer.wte.weight
    sd = g.state_dict()
    assert count_parameters(g) == sum(v.numel() for k, v in sd.items() if k != "lm_head.weight")
    ids = ds.zeros(1, 4, dtype=ds.int64)
    h = 768
    expected = 4 * (3 * h * h + h * h + 8 * h * h) + 2 * 4 * 4 * h + 4 * h * 50257
    assert count_macs(g.eval(), ids) == expected


def test_table_cli():
    out = subprocess.run([sys.executable, "-m", "deepseek.models", "squeezenet1_1", "lstm_lm"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split()[:3] == ["model", "task", "params"]
    sq = lines[1].split()
    assert sq[:4] == ["squeezenet1_1", "image-classification", "1.24", "0.35"]
    assert lines[2].split()[:2] == ["lstm_lm", "text-generation"]
    bad = subprocess.run([sys.executable, "-m", "deepseek.models", "nope"], capture_output=True, text=True, timeout=300)
    assert bad.returncode != 0 and "unknown model 'nope'" in bad.stderr


def test_every_model_has_reference_data():
    from pathlib import Path

    keys = Path(__file__).parent / "data" / "model_keys"
    for name in models.list_models():
        assert (keys / f"{name}.json").exists(), f"{name}: no reference key list"
        # a seeded-weights output from the reference (MiniLM: the real weights' embeddings)
        other = "all_minilm_l6_v2_embeddings.json" if name == "all_minilm_l6_v2" else f"{name}_outputs.json"
        assert (keys / other).exists(), f"{name}: no reference output"
