"""DETR (``deepseek.models.detr_resnet50``) and the detection utilities
(``deepseek.models.detection``): the state_dict against transformers' key list, seeded-weights
logits, boxes and set loss equal to transformers' (recorded by bench/gen_model_keys.py, with
and without a pixel mask), box IoU/GIoU against NumPy float64 and finite differences, the
Hungarian matcher against brute force, shapes at two sizes, training lowers the loss, eval
determinism and a save/load round trip."""
import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import deepseek as ds
from deepseek import models
from deepseek.models import detection
from deepseek.models._testing import (deterministic_input, load_deterministic_weights, reference_keys,
                                      state_dict_diff, train_losses)
from deepseek.models.flops import count_parameters

KEYS = Path(__file__).parent / "data" / "model_keys"
DOC = json.loads((KEYS / "detr_resnet50_outputs.json").read_text())
TINY = DOC["kwargs"]


def _labels(doc_labels):
    return [{"class_labels": ds.tensor(t["class_labels"], dtype=ds.int64), "boxes": ds.tensor(t["boxes"])}
            for t in doc_labels]


def _tolerance(ref):
    return dict(rtol=1e-4, atol=2e-5 * max(1.0, float(np.abs(ref).max())))


def test_registered_as_object_detection():
    assert models.list_models("object-detection") == ["detr_resnet50"]
    assert models.get_model_entry("detr_resnet50").reference == "transformers.DetrForObjectDetection"


def test_state_dict_and_frozen_backbone_match_reference():
    ds.manual_seed(0)
    model = models.detr_resnet50()
    assert state_dict_diff(model, reference_keys(KEYS / "detr_resnet50.json")) == []
    # transformers' numbers for DetrConfig(num_labels=91): its ResNet backbone starts frozen
    assert count_parameters(model) == 41_524_768
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == 18_069_856
    bn = model.model.backbone.model.embedder.embedder.normalization
    assert dict(bn.named_parameters()) == {} and set(dict(bn.named_buffers())) == {"weight", "bias", "running_mean", "running_var"}


@pytest.fixture(scope="module")
def seeded():
    return load_deterministic_weights(models.get_model("detr_resnet50", **TINY)).eval()


def test_seeded_outputs_match_reference(seeded):
    x = ds.tensor(deterministic_input(DOC["input_shape"], "image"))
    b, _, h, w = DOC["input_shape"]
    mask = np.ones((b, h, w), np.int64)
    mask[1, :, 2 * w // 3:] = 0
    with ds.no_grad():
        plain = seeded(x)
        masked = seeded(x, pixel_mask=ds.tensor(mask))
    assert list(plain.logits.shape) == DOC["output_shape"]
    assert tuple(plain.pred_boxes.shape) == tuple(DOC["output_shape"][:2]) + (4,)
    for out, key in ((plain, ""), (masked, "masked_")):
        for field in ("logits", "pred_boxes"):
            ref = np.array(DOC[key + field], dtype=np.float32)
            np.testing.assert_allclose(out[field].numpy().reshape(-1), ref, **_tolerance(ref), err_msg=key + field)
    # the mask changes image 1 only
    np.testing.assert_array_equal(masked.logits.numpy()[0], plain.logits.numpy()[0])
    assert np.abs(masked.logits.numpy()[1] - plain.logits.numpy()[1]).max() > 2e-4


def test_set_loss_matches_reference(seeded):
    x = ds.tensor(deterministic_input(DOC["input_shape"], "image"))
    with ds.no_grad():
        out = seeded(x, labels=_labels(DOC["labels"]))
    for k, ref in DOC["loss_dict"].items():
        np.testing.assert_allclose(float(out.loss_dict[k]), ref, rtol=1e-4, atol=1e-5, err_msg=k)
    np.testing.assert_allclose(float(out.loss), DOC["loss"], rtol=1e-4)


def test_shapes_training_determinism_and_round_trip(tmp_path):
    kwargs = dict(TINY, num_classes=3, dropout=0.0)
    ds.manual_seed(0)
    model = models.get_model("detr_resnet50", **kwargs).eval()
    rng = np.random.default_rng(0)
    with ds.no_grad():
        for n, h, w in ((1, 64, 64), (2, 96, 64)):
            out = model(ds.tensor(rng.standard_normal((n, 3, h, w)).astype(np.float32)))
            assert tuple(out.logits.shape) == (n, 10, 4) and tuple(out.pred_boxes.shape) == (n, 10, 4)
            boxes = out.pred_boxes.numpy()
            assert ((boxes > 0) & (boxes < 1)).all()
    x = ds.tensor(rng.standard_normal((2, 3, 64, 64)).astype(np.float32))
    labels = _labels([{"class_labels": [0, 2], "boxes": [[0.3, 0.3, 0.2, 0.2], [0.6, 0.7, 0.4, 0.3]]},
                      {"class_labels": [1], "boxes": [[0.5, 0.5, 0.5, 0.6]]}])
    losses = train_losses(model, (x,), lambda out: detection.detr_loss(out.logits, out.pred_boxes, labels)[0],
                          steps=5, lr=1e-3, optimizer="adam")
    assert losses[-1] < losses[0], losses
    assert all(np.isfinite(losses))
    # the frozen backbone did not move; its buffers are no parameters
    assert all(not p.requires_grad for p in model.model.backbone.parameters())
    model.eval()
    with ds.no_grad():
        a, b = model(x).logits.numpy(), model(x).logits.numpy()
    np.testing.assert_array_equal(a, b)
    path = tmp_path / "detr.safetensors"
    ds.save(model.state_dict(), path)
    ds.manual_seed(1)
    fresh = models.get_model("detr_resnet50", **kwargs)
    fresh.load_state_dict(ds.load(path), strict=True)
    with ds.no_grad():
        np.testing.assert_array_equal(fresh.eval()(x).logits.numpy(), a)


def test_bad_inputs_raise_clear_errors(seeded):
    x = ds.randn(1, 3, 64, 64)
    with pytest.raises(ValueError, match="pixel_mask should have shape"):
        seeded(x, pixel_mask=ds.ones(1, 32, 32))
    with pytest.raises(ValueError, match=r"expected pixel_values \[B, C, H, W\]"):
        seeded(ds.randn(3, 64, 64))
    with ds.no_grad():
        out = seeded(x)
    with pytest.raises(ValueError, match="1 target dicts for a batch of 2"):
        detection.detr_loss(ds.randn(2, 10, 6), ds.rand(2, 10, 4), [{"class_labels": ds.tensor([1]), "boxes": ds.rand(1, 4)}])
    with pytest.raises(KeyError, match="class_labels"):
        detection.detr_loss(out.logits, out.pred_boxes, [{"boxes": ds.rand(1, 4)}])
    with pytest.raises(ValueError, match="expected \\[n\\] and \\[n, 4\\]"):
        detection.detr_loss(out.logits, out.pred_boxes, [{"class_labels": ds.tensor([1, 2]), "boxes": ds.rand(1, 4)}])
    with pytest.raises(IndexError, match="class labels of target 0"):
        detection.detr_loss(out.logits, out.pred_boxes, [{"class_labels": ds.tensor([9]), "boxes": ds.rand(1, 4)}])
    with pytest.raises(IndexError, match="must be in \\[0, 4\\]"):  # 5 = "no object" is no target class
        detection.detr_loss(out.logits, out.pred_boxes, [{"class_labels": ds.tensor([5]), "boxes": ds.rand(1, 4)}])
    with pytest.raises(ValueError, match="no one-to-one matching"):
        detection.detr_loss(out.logits, out.pred_boxes, [{"class_labels": ds.tensor([1, 2]), "boxes": ds.rand(2, 4)}],
                            indices=[(np.array([0, 0]), np.array([0, 1]))])
    with pytest.raises(TypeError, match="unknown config keys \\['d_modle'\\]"):
        models.detr_resnet50(d_modle=64)
    with pytest.raises(ValueError, match="corner format"):
        detection.generalized_box_iou(ds.tensor([[0.5, 0.5, 0.1, 0.9]]), ds.tensor([[0.0, 0.0, 1.0, 1.0]]))
    with pytest.raises(ValueError, match="formats must be one of"):
        detection.box_convert(ds.rand(2, 4), "xywh", "xyxy")


# ---- box utilities against NumPy float64 -------------------------------------------------

def _np_boxes(rng, n):
    xy = rng.uniform(0, 1, (n, 2))
    return np.concatenate([xy, xy + rng.uniform(0.01, 0.8, (n, 2))], 1)


def _np_giou(a, b):
    out = np.zeros((len(a), len(b)))
    for i, j in itertools.product(range(len(a)), range(len(b))):
        iw = max(0.0, min(a[i, 2], b[j, 2]) - max(a[i, 0], b[j, 0]))
        ih = max(0.0, min(a[i, 3], b[j, 3]) - max(a[i, 1], b[j, 1]))
        area = lambda r: (r[2] - r[0]) * (r[3] - r[1])  # noqa: E731
        union = area(a[i]) + area(b[j]) - iw * ih
        hull = (max(a[i, 2], b[j, 2]) - min(a[i, 0], b[j, 0])) * (max(a[i, 3], b[j, 3]) - min(a[i, 1], b[j, 1]))
        out[i, j] = iw * ih / union - (hull - union) / hull
    return out


@settings(max_examples=25)
@given(n=st.integers(0, 5), m=st.integers(1, 5), seed=st.integers(0, 2**16))
def test_giou_iou_and_box_convert_match_numpy(n, m, seed):
    rng = np.random.default_rng(seed)
    a, b = _np_boxes(rng, n), _np_boxes(rng, m)
    g = detection.generalized_box_iou(ds.tensor(a), ds.tensor(b)).numpy()
    assert g.shape == (n, m)
    np.testing.assert_allclose(g, _np_giou(a, b), rtol=1e-12, atol=1e-12)
    iou = detection.box_iou(ds.tensor(a), ds.tensor(b)).numpy()
    assert ((iou >= 0) & (iou <= 1 + 1e-12)).all() and (g <= iou + 1e-12).all()
    c = detection.box_convert(ds.tensor(a), "xyxy", "cxcywh").numpy()
    np.testing.assert_allclose(c, np.concatenate([(a[:, :2] + a[:, 2:]) / 2, a[:, 2:] - a[:, :2]], 1), atol=1e-12)
    np.testing.assert_allclose(detection.box_convert(ds.tensor(c), "cxcywh", "xyxy").numpy(), a, atol=1e-12)


def test_giou_gradient_matches_finite_differences():
    rng = np.random.default_rng(3)
    a = ds.tensor(_np_boxes(rng, 3), requires_grad=True)
    b = ds.tensor(_np_boxes(rng, 2) * 0.9 + 0.05, requires_grad=True)
    assert ds.autograd.gradcheck(lambda p, q: detection.generalized_box_iou(p, q), (a, b))


# ---- matching and the set loss -----------------------------------------------------------

def _np_cost(logits, boxes, labels, tboxes, cc, bc, gc):
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    corners = lambda x: np.concatenate([x[:, :2] - x[:, 2:] / 2, x[:, :2] + x[:, 2:] / 2], 1)  # noqa: E731
    return (bc * np.abs(boxes[:, None] - tboxes[None]).sum(-1) - cc * p[:, labels]
            - gc * _np_giou(corners(boxes), corners(tboxes)))


@settings(max_examples=20)
@given(q=st.integers(1, 5), n=st.integers(0, 4), seed=st.integers(0, 2**16))
def test_hungarian_match_is_optimal(q, n, seed):
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((1, q, 4))
    boxes = rng.uniform(0.2, 0.6, (1, q, 4))
    labels, tboxes = rng.integers(0, 3, n), rng.uniform(0.2, 0.6, (n, 4))
    target = [{"class_labels": ds.tensor(labels, dtype=ds.int64), "boxes": ds.tensor(tboxes)}]
    (qi, ti), = detection.hungarian_match(ds.tensor(logits), ds.tensor(boxes), target, 1.0, 5.0, 2.0)
    k = min(q, n)
    assert len(qi) == len(ti) == k and len(set(qi)) == k and len(set(ti)) == k
    cost = _np_cost(logits[0], boxes[0], labels, tboxes, 1.0, 5.0, 2.0)
    if n <= q:  # every target matched: the best over all injective maps targets -> queries
        best = min((sum(cost[p[j], j] for j in range(n)) for p in itertools.permutations(range(q), n)), default=0.0)
    else:
        best = min(sum(cost[i, p[i]] for i in range(q)) for p in itertools.permutations(range(n), q))
    assert cost[qi, ti].sum() == pytest.approx(best, rel=1e-9, abs=1e-9)


def test_detr_loss_with_fixed_assignment_matches_numpy():
    rng = np.random.default_rng(7)
    b, q, c = 2, 5, 3
    logits = rng.standard_normal((b, q, c + 1))
    boxes = rng.uniform(0.2, 0.7, (b, q, 4))
    targets = [(np.array([2, 0]), rng.uniform(0.2, 0.7, (2, 4))), (np.array([1]), rng.uniform(0.2, 0.7, (1, 4)))]
    indices = [(np.array([3, 0]), np.array([0, 1])), (np.array([4]), np.array([0]))]
    lt = ds.tensor(logits, requires_grad=True)
    bt = ds.tensor(boxes, requires_grad=True)
    tg = [{"class_labels": ds.tensor(lab, dtype=ds.int64), "boxes": ds.tensor(bx)} for lab, bx in targets]
    loss, parts = detection.detr_loss(lt, bt, tg, eos_coefficient=0.1, indices=indices)
    # NumPy float64: weighted cross entropy over all queries, L1 and 1 - GIoU over matched pairs / 3 boxes
    cls = np.full((b, q), c)
    for i, ((qi, ti), (lab, _)) in enumerate(zip(indices, targets)):
        cls[i, qi] = lab[ti]
    w = np.where(cls == c, 0.1, 1.0)
    logp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    ce = -(w * np.take_along_axis(logp, cls[..., None], -1)[..., 0]).sum() / w.sum()
    src = np.concatenate([boxes[i][qi] for i, (qi, _) in enumerate(indices)])
    tgt = np.concatenate([bx[ti] for (_, ti), (_, bx) in zip(indices, targets)])
    corners = lambda x: np.concatenate([x[:, :2] - x[:, 2:] / 2, x[:, :2] + x[:, 2:] / 2], 1)  # noqa: E731
    l1 = np.abs(src - tgt).sum() / 3
    giou = (1 - np.diag(_np_giou(corners(src), corners(tgt)))).sum() / 3
    np.testing.assert_allclose(float(parts["loss_ce"]), ce, rtol=1e-6)
    np.testing.assert_allclose(float(parts["loss_bbox"]), l1, rtol=1e-6)
    np.testing.assert_allclose(float(parts["loss_giou"]), giou, rtol=1e-6)
    np.testing.assert_allclose(float(loss), ce + 5 * l1 + 2 * giou, rtol=1e-6)
    loss.backward()
    unmatched = [1, 2, 4]
    assert np.abs(bt.grad.numpy()[0, unmatched]).max() == 0 and np.abs(bt.grad.numpy()[0, [0, 3]]).max() > 0
    assert np.isfinite(lt.grad.numpy()).all()


def test_detr_loss_without_objects_trains_no_object_only():
    logits = ds.randn(1, 4, 3, requires_grad=True)
    boxes = ds.rand(1, 4, 4, requires_grad=True)
    loss, parts = detection.detr_loss(logits, boxes, [{"class_labels": ds.zeros(0, dtype=ds.int64), "boxes": ds.zeros(0, 4)}])
    assert float(parts["loss_bbox"]) == 0.0 and float(parts["loss_giou"]) == 0.0
    loss.backward()
    assert np.abs(boxes.grad.numpy()).max() == 0


def test_post_process_matches_numpy(seeded):
    x = ds.tensor(deterministic_input(DOC["input_shape"], "image"))
    with ds.no_grad():
        out = seeded(x)
    sizes = [(480, 640), (300, 200)]
    logits, boxes = out.logits.numpy().astype(np.float64), out.pred_boxes.numpy().astype(np.float64)
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p = (p / p.sum(-1, keepdims=True))[..., :-1]
    threshold = float(np.median(p.max(-1)))  # keeps about half of the queries
    res = detection.post_process_object_detection(out, threshold=threshold, target_sizes=ds.tensor(sizes))
    assert len(res) == 2
    for i, (h, w) in enumerate(sizes):
        keep = p[i].max(-1) > threshold
        np.testing.assert_allclose(res[i]["scores"].numpy(), p[i].max(-1)[keep], rtol=1e-5)
        np.testing.assert_array_equal(res[i]["labels"].numpy(), p[i].argmax(-1)[keep])
        b = boxes[i][keep]
        xyxy = np.concatenate([b[:, :2] - b[:, 2:] / 2, b[:, :2] + b[:, 2:] / 2], 1) * [w, h, w, h]
        np.testing.assert_allclose(res[i]["boxes"].numpy(), xyxy, rtol=1e-5, atol=1e-4)
    assert sum(len(r["scores"]) for r in res) > 0
    with pytest.raises(ValueError, match="target_sizes should be 2"):
        detection.post_process_object_detection(out, target_sizes=[(10, 10)])
