"""Reference builders for the vision models added after the first zoo: more torchvision
variants and DETR (Hugging Face transformers' ``DetrForObjectDetection``). Merged into
``bench/gen_model_keys.py``'s tables; run that script with the reference virtual environment:

    /tmp/refvenv/bin/python bench/gen_model_keys.py detr_resnet50 densenet169 ...

``OUTPUT_WRITERS`` holds the models whose seeded-weights record is richer than the first 16
logits (DETR: every logit and box, with and without a pixel mask, and the set loss on fixed
labels).
"""
from __future__ import annotations

import json

# the cheap-to-test variants (the 88M-127M parameter ResNeXt-101 / Wide-ResNet-101 / VGG-13/19 /
# ViT-B/32 would add a minute of CI for code their smaller siblings already test)
TORCHVISION = ["densenet169", "densenet201", "efficientnet_b1", "efficientnet_b2", "shufflenet_v2_x0_5", "squeezenet1_0",
               "regnet_y_800mf", "regnet_x_400mf"]

# DETR's tiny configuration for the output comparison (the key list uses the defaults).
DETR_TINY = dict(d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4, decoder_attention_heads=4,
                 encoder_ffn_dim=64, decoder_ffn_dim=64, num_queries=10)
DETR_TINY_BACKBONE = dict(embedding_size=8, hidden_sizes=[16, 32, 64, 128], depths=[1, 1, 1, 1])
DETR_INPUT = (2, 3, 64, 96)
# fixed targets (cx, cy, w, h) for the loss comparison; image 1 has a single object
DETR_LABELS = [
    {"class_labels": [1, 4, 0], "boxes": [[0.3, 0.4, 0.2, 0.3], [0.7, 0.6, 0.4, 0.5], [0.5, 0.5, 0.9, 0.8]]},
    {"class_labels": [2], "boxes": [[0.25, 0.6, 0.3, 0.2]]},
]


def _tv(name, **kwargs):
    def build():
        import torchvision

        return getattr(torchvision.models, name)(**kwargs)
    return build


def detr_config(tiny=False, num_labels=91):
    import transformers

    kwargs = dict(use_timm_backbone=False, use_pretrained_backbone=False, num_labels=num_labels)
    if tiny:
        backbone = transformers.ResNetConfig(out_features=["stage4"], **DETR_TINY_BACKBONE)
        kwargs.update(DETR_TINY, backbone_config=backbone)
    return transformers.DetrConfig(**kwargs)


def _detr():
    import transformers

    return transformers.DetrForObjectDetection(detr_config())


BUILDERS = {name: _tv(name) for name in TORCHVISION}
BUILDERS["detr_resnet50"] = _detr

OUTPUT_CASES = {name: (dict(num_classes=10), (2, 3, 64, 64)) for name in TORCHVISION}
OUTPUT_CASES["detr_resnet50"] = (dict(DETR_TINY, num_classes=5, backbone_config=DETR_TINY_BACKBONE), DETR_INPUT)


def build_for_outputs(name, kwargs):
    """The reference model of ``name`` built with the output case's constructor arguments."""
    return _tv(name, **kwargs)()


def write_detr_outputs(name, out_dir, testing, versions):
    """Seeded-weights DETR (tiny configuration, 5 classes): all logits and boxes of a batch of
    two, again with the right third of image 1 marked as padding, and the set loss on
    ``DETR_LABELS``."""
    import torch
    import transformers

    model = transformers.DetrForObjectDetection(detr_config(tiny=True, num_labels=5))
    sd = model.state_dict()
    new = {}
    for k, v in sd.items():
        arr = testing.deterministic_value(k, tuple(v.shape), str(v.dtype).replace("torch.", ""))
        new[k] = v if arr is None else torch.from_numpy(arr)
    model.load_state_dict(new, strict=True)
    model.eval()
    x = torch.from_numpy(testing.deterministic_input(DETR_INPUT, "image"))
    mask = torch.ones(DETR_INPUT[0], *DETR_INPUT[2:], dtype=torch.int64)
    mask[1, :, 2 * DETR_INPUT[3] // 3:] = 0
    labels = [{"class_labels": torch.tensor(t["class_labels"]), "boxes": torch.tensor(t["boxes"])} for t in DETR_LABELS]
    with torch.no_grad():
        plain = model(x)
        masked = model(x, pixel_mask=mask)
        # the loss is a function of the outputs and labels only: in eval mode it is deterministic
        lossed = model(x, labels=labels)
    doc = {"model": name, "kwargs": OUTPUT_CASES[name][0], "input_shape": list(DETR_INPUT),
           "mask": "ones; image 1 columns >= 2W/3 are padding", "labels": DETR_LABELS,
           "logits": plain.logits.reshape(-1).tolist(), "pred_boxes": plain.pred_boxes.reshape(-1).tolist(),
           "output_shape": list(plain.logits.shape),
           "masked_logits": masked.logits.reshape(-1).tolist(), "masked_pred_boxes": masked.pred_boxes.reshape(-1).tolist(),
           "loss": float(lossed.loss), "loss_dict": {k: float(v) for k, v in lossed.loss_dict.items()},
           "versions": versions(), "generated_by": "bench/gen_model_keys.py"}
    (out_dir / f"{name}_outputs.json").write_text(json.dumps(doc) + "\n")
    print(f"{name}: logits {tuple(plain.logits.shape)}, loss {float(lossed.loss):.4f}")


OUTPUT_WRITERS = {"detr_resnet50": write_detr_outputs}
