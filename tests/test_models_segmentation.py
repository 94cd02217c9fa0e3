"""FCN-ResNet50 and U-Net: state_dict keys against the reference layout, seeded-weights
output equal to the reference's (recorded by bench/gen_model_keys.py), shapes at two sizes
(one not a multiple of 16), per-pixel training lowers the loss, eval determinism, save/load."""
import json
from pathlib import Path

import numpy as np
import pytest

import deepseek as ds
from deepseek import models
from deepseek.models._testing import (deterministic_input, load_deterministic_weights, reference_keys,
                                      state_dict_diff, train_losses)
from deepseek.nn import functional as F

KEYS = Path(__file__).parent / "data" / "model_keys"


def test_segmentation_models_are_covered():
    assert models.list_models("segmentation") == ["fcn_resnet50", "unet"]


def _main(out):
    return out["out"] if isinstance(out, dict) else out


@pytest.mark.parametrize("name", ["unet", "fcn_resnet50"])
def test_state_dict_and_seeded_output_match_reference(name):
    assert state_dict_diff(models.get_model(name), reference_keys(KEYS / f"{name}.json")) == []
    doc = json.loads((KEYS / f"{name}_outputs.json").read_text())
    model = load_deterministic_weights(models.get_model(name, **doc["kwargs"])).eval()
    with ds.no_grad():
        out = _main(model(ds.tensor(deterministic_input(doc["input_shape"], "image")))).numpy()
    assert list(out.shape) == doc["output_shape"]
    ref = np.array(doc["first16"], dtype=np.float32)
    np.testing.assert_allclose(out[..., :16].reshape(-1), ref, rtol=1e-4, atol=2e-5 * max(1.0, np.abs(ref).max()))


@pytest.mark.parametrize("name,kwargs", [("unet", dict(n_classes=3)), ("fcn_resnet50", dict(num_classes=3, aux_loss=True))])
def test_shapes_training_determinism_and_round_trip(name, kwargs, tmp_path):
    ds.manual_seed(0)
    model = models.get_model(name, **kwargs).eval()
    rng = np.random.default_rng(0)
    with ds.no_grad():
        for h, w in ((32, 32), (36, 44)):
            x = ds.tensor(rng.standard_normal((1, 3, h, w)).astype(np.float32))
            out = model(x)
            assert tuple(_main(out).shape) == (1, 3, h, w)
            if isinstance(out, dict):
                assert tuple(out["aux"].shape) == (1, 3, h, w)
    x = ds.tensor(rng.standard_normal((2, 3, 32, 32)).astype(np.float32))
    y = ds.tensor(rng.integers(0, 3, (2, 32, 32)), dtype=ds.int64)
    losses = train_losses(model, (x,), lambda out: F.cross_entropy(_main(out), y), steps=4, lr=0.01, momentum=0.0)
    assert losses[-1] < losses[0], losses
    model.eval()
    with ds.no_grad():
        a, b = _main(model(x)).numpy(), _main(model(x)).numpy()
    np.testing.assert_array_equal(a, b)
    path = tmp_path / f"{name}.safetensors"
    ds.save(model.state_dict(), path)
    ds.manual_seed(1)
    fresh = models.get_model(name, **kwargs)
    fresh.load_state_dict(ds.load(path), strict=True)
    with ds.no_grad():
        np.testing.assert_array_equal(_main(fresh.eval()(x)).numpy(), a)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="UNet: expected"):
        models.unet()(ds.zeros(1, 1, 32, 32))
    with pytest.raises(ValueError, match="replace_stride_with_dilation"):
        models.resnet50(replace_stride_with_dilation=[True])
    with pytest.raises(ValueError, match="dilation"):
        models.resnet18(replace_stride_with_dilation=[False, True, True])
