"""deepseek.onnx.export of every model of ``deepseek.models`` (tiny configurations from
tests/onnx_zoo_cases.py): each is exported with a dynamic batch, and a dynamic sequence or
frame axis for the text and speech models that allow one, then run in onnxruntime at two batch
sizes (the second also two steps longer, and a third run at more than double the traced
length) against deepseek's eager outputs (float32 tolerance, relative to the outputs' scale).
The models of tests/test_onnx_zoo.py are checked there; some of the others are also imported
back with deepseek.onnx.to_module (the same outputs and parameter gradients)."""
from __future__ import annotations

import io
import os
import warnings

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import deepseek  # noqa: E402
import deepseek.onnx  # noqa: E402
from deepseek import models  # noqa: E402

from onnx_zoo_cases import CASES  # noqa: E402

# exported, run and re-imported with the same configurations in tests/test_onnx_zoo.py
ELSEWHERE = {"mobilenet_v2", "regnet_y_400mf", "gpt2", "lstm_lm"}
# the deeper and wider variants of a family whose code a faster member covers (same layers,
# other numbers): their full-size weights make each case 4-15 s, so they run only with
# DEEPSEEK_SLOW_TESTS=1 (-m slow selects them)
SLOW = {"resnet34", "resnet101", "resnet152", "wide_resnet50_2", "resnext50_32x4d", "vgg16_bn", "vit_b_16",
        "densenet169", "densenet201", "convnext_tiny", "efficientnet_b1", "efficientnet_b2", "regnet_y_800mf",
        "fcn_resnet50"}
# also imported back (deepseek.onnx.to_module): the same outputs, and the same parameter
# gradients as the eager model's
ROUND_TRIP = {"resnet18", "squeezenet1_1", "mobilenet_v3_small", "detr_resnet50", "roberta_base",
              "distilbert_base_uncased", "llama_small", "t5_small", "deepspeech", "conformer", "deepspeech2",
              "quartznet5x5", "xvector", "wav2vec2_base", "whisper_tiny"}
# float32 agreement relative to the outputs' scale (1e-4); batch norms calibrated on a few 32x32
# images amplify rounding through the deepest stacks (ResNet-101/152, EfficientNet), where
# deepseek's own float32 outputs differ from its float64 ones by up to 7e-4 of the scale
# float32 conditioning of the deepest stacks: for resnet50 (batch norms calibrated on one batch)
# deepseek's float32 output is 1.3e-4 of its scale from float64 and onnxruntime's 6.3e-5
# (the fused eval batch norm computes x * scale + shift, as PyTorch's CPU kernel does)
ATOL = {"efficientnet_b0": 5e-4, "efficientnet_b1": 1e-3, "efficientnet_b2": 1e-3, "resnet50": 5e-4,
        "resnet101": 1e-3, "resnet152": 1e-3}


def _param(name):
    if name not in SLOW:
        return name
    slow = os.environ.get("DEEPSEEK_SLOW_TESTS") == "1"
    return pytest.param(name, marks=[pytest.mark.slow, pytest.mark.skipif(
        not slow, reason="a larger variant of a tested family: set DEEPSEEK_SLOW_TESTS=1")])


def _outputs(result):
    result = result if isinstance(result, (tuple, list)) else (result,)
    return [r.detach().numpy() for r in result if r is not None]


def _close(got, want, name):
    scale = float(np.abs(want).max())
    assert scale > 1e-2, f"{name}: outputs too small ({scale}) for the comparison to mean anything"
    np.testing.assert_allclose(got / scale, want / scale, rtol=0, atol=ATOL.get(name, 1e-4), err_msg=name)


def test_every_registered_model_has_a_case():
    assert set(models.list_models()) == set(CASES), "a zoo model without an ONNX export case"
    assert ELSEWHERE | SLOW | ROUND_TRIP <= set(CASES)


def _export(name):
    build, inputs, names, lengths, family = CASES[name]
    deepseek.manual_seed(0)
    model = build()
    args = inputs(2, 1)
    axes = {n: {0: "batch", **({lengths[n]: "length"} if n in lengths else {})} for n in names}
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TracerWarnings are proved harmless by the export's own check
        proto = deepseek.onnx.export(model, args, buf, input_names=names, dynamic_axes=axes)
    return model, args, proto, buf.getvalue()


@pytest.mark.parametrize("name", [_param(n) for n in CASES if n not in ELSEWHERE])
def test_zoo_model_exports_with_dynamic_axes_and_runs_in_onnxruntime(name):
    build, inputs, names, lengths, family = CASES[name]
    model, args, proto, data = _export(name)
    for i, n in enumerate(names):
        dims = proto.graph.input[i].type.tensor_type.shape.dim
        assert dims[0].dim_param == "batch"
        if n in lengths:
            assert dims[lengths[n]].dim_param == "length"
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    base = [args[i].shape[lengths[n]] for i, n in enumerate(names) if n in lengths]
    runs = [(2, None), (3, base[0] + 2 if base else None)]
    if base:  # a length more than double the traced one, odd: a stride's floor division shows
        runs.append((2, 2 * base[0] + 1))
    for n, length in runs:
        feeds = inputs(n, 10 + n, length)
        with deepseek.no_grad():
            want = _outputs(model(*feeds))
        got = sess.run(None, {k: a.numpy() for k, a in zip(names, feeds)})
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert g.shape == w.shape and g.shape[0] == n, (name, g.shape, w.shape)
            if w.dtype.kind == "f":  # the outputs depend on the input: the comparison means something
                assert np.abs(w - w[:1]).max() > 1e-4 * np.abs(w).max(), f"{name}: rows agree"
            _close(g, w, name)
    if name in ROUND_TRIP:
        _round_trip(name, model, data, inputs(3, 20))


def _round_trip(name, model, data, feeds):
    """Imported with to_module: the same outputs, and the same gradients of a fixed weighted
    sum of the outputs for the parameters (matched by value)."""
    imported = deepseek.onnx.to_module(data)
    module = getattr(model, "module", model)
    module.zero_grad()
    rng = np.random.default_rng(0)
    results = []
    for m in (model, imported):
        out = m(*feeds)
        out = [o for o in (out if isinstance(out, (tuple, list)) else (out,)) if o is not None]
        weights = [deepseek.tensor(rng.standard_normal(tuple(o.shape)).astype(np.float32)) for o in out]
        rng = np.random.default_rng(0)
        sum(((o * w).sum() for o, w in zip(out, weights)), deepseek.tensor(0.0)).backward()
        results.append([o.detach().numpy() for o in out])
    for g, w in zip(*results[::-1]):
        _close(g, w, name)
    # each imported parameter is matched to the eager one holding the same values (a function
    # wrapping a model exports its weights under generated names, a Conv1d's with a unit dim); values that several
    # parameters share on either side (LayerNorm's ones) are ambiguous and skipped
    by_value = {}
    for p in module.parameters():
        by_value.setdefault(p.detach().numpy().tobytes(), []).append(p)
    theirs = {}
    for p in imported.parameters():
        theirs.setdefault(p.detach().numpy().tobytes(), []).append(p)
    pairs = [(by_value[k][0], ps[0]) for k, ps in theirs.items()
             if len(ps) == 1 and len(by_value.get(k, ())) == 1 and by_value[k][0].grad is not None]
    # recurrent layers' weights are exported re-ordered to ONNX's gate order: not matched
    from deepseek.nn.modules.rnn import RNNBase

    regated = {id(p) for m in module.modules() if isinstance(m, RNNBase) for p in m.parameters()}
    unique = sum(1 for ps in by_value.values() if len(ps) == 1 and id(ps[0]) not in regated)
    assert pairs and len(pairs) >= 0.5 * unique, f"{name}: only {len(pairs)} of {unique} parameters matched"
    for own, p in pairs:
        assert p.grad is not None, f"{name}: no gradient reached an imported parameter"
        want = own.grad.numpy().reshape(-1)  # a Conv1d's weight is exported with a unit dim
        scale = max(float(np.abs(want).max()), 1e-6)
        np.testing.assert_allclose(p.grad.numpy().reshape(-1) / scale, want / scale, rtol=0, atol=1e-3, err_msg=name)


# the attention users beyond tests/test_onnx_zoo.py's three, at opset 23: one Attention node
# per attention call (self and cross), checked in onnxruntime and imported back
ATTENTION = {"llama_small": 2, "whisper_tiny": 6, "wav2vec2_base": 2, "conformer": 2, "detr_resnet50": 6,
             "distilbert_base_uncased": 2, "roberta_base": 2}


@pytest.mark.parametrize("name", sorted(ATTENTION))
def test_zoo_attention_exports_as_onnx_attention_at_opset_23(name):
    build, inputs, names, lengths, family = CASES[name]
    deepseek.manual_seed(0)
    model = build()
    args = inputs(2, 1)
    axes = {n: {0: "batch", **({lengths[n]: "length"} if n in lengths else {})} for n in names}
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        proto = deepseek.onnx.export(model, args, buf, input_names=names, dynamic_axes=axes, opset_version=23)
    ops = [n.op_type for n in proto.graph.node]
    assert ops.count("Attention") == ATTENTION[name], ops
    sess = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    imported = deepseek.onnx.to_module(buf.getvalue())
    base = [args[i].shape[lengths[n]] for i, n in enumerate(names) if n in lengths]
    for n, length in [(2, None), (3, 2 * base[0] + 1 if base else None)]:
        feeds = inputs(n, 10 + n, length)
        with deepseek.no_grad():
            want = _outputs(model(*feeds))
            back = _outputs(imported(*feeds))
        got = sess.run(None, {k: a.numpy() for k, a in zip(names, feeds)})
        for g, b, w in zip(got, back, want):
            assert g.shape == w.shape
            _close(g, w, name)
            _close(b, w, name)
