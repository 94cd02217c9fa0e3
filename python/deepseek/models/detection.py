"""Box utilities and DETR's set loss: boxes in corner (x0, y0, x1, y1) or centre
(cx, cy, w, h) format, pairwise IoU and generalised IoU (differentiable), the Hungarian
matching of predictions to targets, and the loss of a matched set as DETR trains with it.

The names and formats follow ``torchvision.ops`` (``box_convert``, ``box_area``, ``box_iou``,
``generalized_box_iou``) and Hugging Face transformers' DETR loss (``loss_ce``, ``loss_bbox``,
``loss_giou``, ``cardinality_error``) and post-processing (``post_process_object_detection``).
The matching itself runs on NumPy copies of the outputs (it takes no gradient) with
``scipy.optimize.linear_sum_assignment``.
"""
from __future__ import annotations

import numpy as np

from .. import _ops


def box_convert(boxes, in_fmt, out_fmt):
    """Converts [..., 4] boxes between ``"xyxy"`` (corners) and ``"cxcywh"`` (centre, size)."""
    fmts = ("xyxy", "cxcywh")
    if in_fmt not in fmts or out_fmt not in fmts:
        raise ValueError(f"box_convert: formats must be one of {fmts}, got {in_fmt!r} -> {out_fmt!r}")
    if boxes.shape[-1] != 4:
        raise ValueError(f"box_convert: boxes should have 4 values in the last dimension, got shape {tuple(boxes.shape)}")
    if in_fmt == out_fmt:
        return boxes
    a, b, c, d = (boxes[..., i] for i in range(4))
    if in_fmt == "cxcywh":
        return _ops.stack([a - 0.5 * c, b - 0.5 * d, a + 0.5 * c, b + 0.5 * d], -1)
    return _ops.stack([(a + c) / 2, (b + d) / 2, c - a, d - b], -1)


def box_area(boxes):
    """Areas [N] of [N, 4] corner boxes."""
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def _check_corners(name, boxes):
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"{name}: boxes should be [N, 4], got shape {tuple(boxes.shape)}")
    if boxes.shape[0] and not bool((boxes[:, 2:] >= boxes[:, :2]).all()):
        raise ValueError(f"{name}: boxes must be in (x0, y0, x1, y1) corner format with x1 >= x0 and y1 >= y0")


def box_iou(boxes1, boxes2):
    """Pairwise intersection over union [N, M] of [N, 4] and [M, 4] corner boxes."""
    return _iou_union(boxes1, boxes2)[0]


def _iou_union(boxes1, boxes2):
    area1, area2 = box_area(boxes1), box_area(boxes2)
    lt = _ops.maximum(boxes1[:, None, :2], boxes2[None, :, :2])
    rb = _ops.minimum(boxes1[:, None, 2:], boxes2[None, :, 2:])
    wh = _ops.clamp(rb - lt, min=0)
    inter = wh[:, :, 0] * wh[:, :, 1]
    union = area1[:, None] + area2[None, :] - inter
    return inter / union, union


def generalized_box_iou(boxes1, boxes2):
    """Pairwise generalised IoU [N, M]: IoU minus the share of the smallest enclosing box
    that the union leaves empty (in [-1, 1]; differentiable)."""
    _check_corners("generalized_box_iou", boxes1)
    _check_corners("generalized_box_iou", boxes2)
    iou, union = _iou_union(boxes1, boxes2)
    lt = _ops.minimum(boxes1[:, None, :2], boxes2[None, :, :2])
    rb = _ops.maximum(boxes1[:, None, 2:], boxes2[None, :, 2:])
    wh = _ops.clamp(rb - lt, min=0)
    area = wh[:, :, 0] * wh[:, :, 1]
    return iou - (area - union) / area


def _paired_giou(boxes1, boxes2):
    """GIoU of box i of ``boxes1`` with box i of ``boxes2`` ([N] from two [N, 4] corner sets):
    the diagonal of ``generalized_box_iou`` without the N x N matrix."""
    lt = _ops.maximum(boxes1[:, :2], boxes2[:, :2])
    rb = _ops.minimum(boxes1[:, 2:], boxes2[:, 2:])
    wh = _ops.clamp(rb - lt, min=0)
    inter = wh[:, 0] * wh[:, 1]
    union = box_area(boxes1) + box_area(boxes2) - inter
    wh = _ops.clamp(_ops.maximum(boxes1[:, 2:], boxes2[:, 2:]) - _ops.minimum(boxes1[:, :2], boxes2[:, :2]), min=0)
    hull = wh[:, 0] * wh[:, 1]
    return inter / union - (hull - union) / hull


def _np_giou(a, b):
    """generalized_box_iou in NumPy float64 for the matching cost."""
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    wh = np.clip(np.minimum(a[:, None, 2:], b[None, :, 2:]) - np.maximum(a[:, None, :2], b[None, :, :2]), 0, None)
    inter = wh[..., 0] * wh[..., 1]
    union = area_a[:, None] + area_b[None, :] - inter
    wh = np.clip(np.maximum(a[:, None, 2:], b[None, :, 2:]) - np.minimum(a[:, None, :2], b[None, :, :2]), 0, None)
    enclosing = wh[..., 0] * wh[..., 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        return inter / union - (enclosing - union) / enclosing


def _np_corners(b):
    return np.concatenate([b[:, :2] - 0.5 * b[:, 2:], b[:, :2] + 0.5 * b[:, 2:]], 1)


def _check_targets(name, targets, batch, num_classes):
    """NumPy (labels, boxes) per image, checked: B dicts, [n] labels in [0, num_classes), [n, 4] boxes."""
    if len(targets) != batch:
        raise ValueError(f"{name}: {len(targets)} target dicts for a batch of {batch}")
    out = []
    for i, t in enumerate(targets):
        if "class_labels" not in t or "boxes" not in t:
            raise KeyError(f"{name}: target {i} needs 'class_labels' and 'boxes', got keys {sorted(t)}")
        labels, boxes = t["class_labels"], t["boxes"]
        if boxes.ndim != 2 or boxes.shape[1] != 4 or boxes.shape[0] != labels.shape[0]:
            raise ValueError(f"{name}: target {i} has class_labels of shape {tuple(labels.shape)} and boxes of "
                             f"shape {tuple(boxes.shape)}; expected [n] and [n, 4]")
        lab = np.asarray(labels.numpy(), dtype=np.int64).reshape(-1)
        if lab.size and (lab.min() < 0 or lab.max() >= num_classes):
            raise IndexError(f"{name}: class labels of target {i} must be in [0, {num_classes - 1}] "
                             f"(the logits' last class, {num_classes}, is 'no object'); got {lab.tolist()}")
        out.append((lab, np.asarray(boxes.numpy(), dtype=np.float64)))
    return out


def hungarian_match(logits, pred_boxes, targets, class_cost=1.0, bbox_cost=1.0, giou_cost=1.0):
    """The one-to-one assignment of predictions to target objects with the lowest total cost
    ``bbox_cost * L1 + class_cost * (-p(class)) + giou_cost * (-GIoU)`` per image.

    Args:
        logits: [B, Q, C + 1] class logits. pred_boxes: [B, Q, 4] (cx, cy, w, h).
        targets: B dicts with ``class_labels`` [n] and ``boxes`` [n, 4] (cx, cy, w, h).

    Returns:
        B pairs of int64 NumPy arrays ``(query_indices, target_indices)`` of length
        ``min(Q, n)``, ordered by query. NaN or infinite costs are matched only as a last resort.
    """
    try:
        from scipy.optimize import linear_sum_assignment
    except ImportError as e:  # scipy is optional for deepseek; the matcher is its one user here
        raise ImportError("hungarian_match needs scipy (pip install scipy)") from e
    if class_cost == 0 and bbox_cost == 0 and giou_cost == 0:
        raise ValueError("hungarian_match: all matching costs are 0")
    b = logits.shape[0]
    tg = _check_targets("hungarian_match", targets, b, logits.shape[-1] - 1)
    lg = np.asarray(logits.detach().numpy(), dtype=np.float64)
    prob = np.exp(lg - lg.max(-1, keepdims=True))
    prob /= prob.sum(-1, keepdims=True)
    boxes = np.asarray(pred_boxes.detach().numpy(), dtype=np.float64)
    out = []
    big = np.finfo(np.float64).max
    for i, (labels, tboxes) in enumerate(tg):
        if labels.size == 0:
            out.append((np.zeros(0, np.int64), np.zeros(0, np.int64)))
            continue
        cost = (bbox_cost * np.abs(boxes[i][:, None, :] - tboxes[None, :, :]).sum(-1)
                - class_cost * prob[i][:, labels]
                - giou_cost * _np_giou(_np_corners(boxes[i]), _np_corners(tboxes)))
        cost = np.nan_to_num(cost, nan=big, posinf=big, neginf=big)
        q, t = linear_sum_assignment(cost)
        out.append((q.astype(np.int64), t.astype(np.int64)))
    return out


def detr_loss(logits, pred_boxes, targets, eos_coefficient=0.1, class_cost=1.0, bbox_cost=5.0, giou_cost=2.0,
              bbox_loss_coefficient=5.0, giou_loss_coefficient=2.0, indices=None):
    """DETR's set loss of one batch: ``loss_ce + bbox_loss_coefficient * loss_bbox +
    giou_loss_coefficient * loss_giou``.

    Predictions are matched to targets by ``hungarian_match`` (or the given ``indices``, B
    pairs of query/target index arrays, for a fixed assignment); ``loss_ce`` is the cross
    entropy over every query, unmatched ones labelled "no object" (the last class, weight
    ``eos_coefficient``); ``loss_bbox`` (L1) and ``loss_giou`` (1 - GIoU) are summed over the
    matched pairs and divided by the number of target boxes (at least 1).

    Returns:
        (loss, loss_dict) with ``loss_ce``, ``loss_bbox``, ``loss_giou`` (tensors with
        gradients) and ``cardinality_error`` (a float: the mean absolute difference between the
        number of predicted objects and of targets).
    """
    from .. import int64, ones, tensor
    from ..nn import functional as F

    if logits.ndim != 3 or pred_boxes.ndim != 3 or pred_boxes.shape[-1] != 4 or logits.shape[:2] != pred_boxes.shape[:2]:
        raise ValueError(f"detr_loss: expected logits [B, Q, C + 1] and pred_boxes [B, Q, 4], got "
                         f"{tuple(logits.shape)} and {tuple(pred_boxes.shape)}")
    b, q, c1 = logits.shape
    tg = _check_targets("detr_loss", targets, b, c1 - 1)
    if indices is None:
        indices = hungarian_match(logits, pred_boxes, targets, class_cost, bbox_cost, giou_cost)
    elif len(indices) != b:
        raise ValueError(f"detr_loss: {len(indices)} index pairs for a batch of {b}")
    num_boxes = max(sum(len(lab) for lab, _ in tg), 1)
    classes = np.full((b, q), c1 - 1, dtype=np.int64)
    flat_q, tgt_boxes = [], []
    for i, ((qi, ti), (labels, boxes)) in enumerate(zip(indices, tg)):
        qi, ti = np.asarray(qi, np.int64).reshape(-1), np.asarray(ti, np.int64).reshape(-1)
        if (len(qi) != len(ti) or len(set(qi.tolist())) != len(qi) or len(set(ti.tolist())) != len(ti)
                or (qi.size and (qi.min() < 0 or qi.max() >= q or ti.min() < 0 or ti.max() >= len(labels)))):
            raise ValueError(f"detr_loss: indices of image {i} are no one-to-one matching of its {q} queries "
                             f"and {len(labels)} targets: {qi.tolist()} -> {ti.tolist()}")
        classes[i, qi] = labels[ti]
        flat_q.append(i * q + qi)
        tgt_boxes.append(boxes[ti])
    weight = ones(c1, dtype=logits.dtype)
    weight[c1 - 1] = eos_coefficient
    loss_ce = F.cross_entropy(logits.reshape(b * q, c1), tensor(classes.reshape(-1), dtype=int64), weight)
    flat_q = np.concatenate(flat_q)
    if flat_q.size:
        src = pred_boxes.reshape(b * q, 4)[tensor(flat_q, dtype=int64)]
        tgt = tensor(np.concatenate(tgt_boxes).astype(np.float32), dtype=pred_boxes.dtype)
        loss_bbox = _ops.abs(src - tgt).sum() / num_boxes
        src_xy, tgt_xy = box_convert(src, "cxcywh", "xyxy"), box_convert(tgt, "cxcywh", "xyxy")
        _check_corners("detr_loss", src_xy)
        _check_corners("detr_loss", tgt_xy)
        loss_giou = (1 - _paired_giou(src_xy, tgt_xy)).sum() / num_boxes
    else:  # no objects in the batch: only the "no object" classification is trained
        loss_bbox = loss_giou = (pred_boxes * 0).sum()
    predicted = (np.asarray(logits.detach().numpy()).argmax(-1) != c1 - 1).sum(1)
    card = float(np.abs(predicted - np.array([len(lab) for lab, _ in tg])).mean())
    loss = loss_ce + bbox_loss_coefficient * loss_bbox + giou_loss_coefficient * loss_giou
    return loss, {"loss_ce": loss_ce, "loss_bbox": loss_bbox, "loss_giou": loss_giou, "cardinality_error": card}


def post_process_object_detection(outputs, threshold=0.5, target_sizes=None):
    """Detections of a DETR-style output, as transformers' ``DetrImageProcessor`` returns them.

    Args:
        outputs: a mapping (or object) with ``logits`` [B, Q, C + 1] and ``pred_boxes`` [B, Q, 4]
            (cx, cy, w, h relative to the image).
        threshold: keep the queries whose best object class has a probability above this.
        target_sizes: optional (height, width) per image ([B, 2] tensor or list of pairs) to
            scale the boxes to pixels.

    Returns:
        B dicts with ``scores`` [k], ``labels`` [k] (int64) and ``boxes`` [k, 4] in
        (x0, y0, x1, y1) corner format.
    """
    from .. import int64, tensor
    from ..nn import functional as F

    logits = outputs["logits"] if isinstance(outputs, dict) else outputs.logits
    boxes = outputs["pred_boxes"] if isinstance(outputs, dict) else outputs.pred_boxes
    if logits.ndim != 3 or boxes.ndim != 3 or boxes.shape[-1] != 4 or logits.shape[:2] != boxes.shape[:2]:
        raise ValueError(f"post_process_object_detection: expected logits [B, Q, C + 1] and pred_boxes [B, Q, 4], got "
                         f"{tuple(logits.shape)} and {tuple(boxes.shape)}")
    prob = F.softmax(logits, -1)[..., :-1]
    scores, labels = _ops.max(prob, -1)
    boxes = box_convert(boxes, "cxcywh", "xyxy")
    if target_sizes is not None:
        sizes = np.asarray(target_sizes.numpy() if hasattr(target_sizes, "numpy") else target_sizes, dtype=np.float64)
        if sizes.shape != (logits.shape[0], 2):
            raise ValueError(f"post_process_object_detection: target_sizes should be {logits.shape[0]} (height, width) "
                             f"pairs, got shape {sizes.shape}")
        scale = np.stack([sizes[:, 1], sizes[:, 0], sizes[:, 1], sizes[:, 0]], 1)[:, None, :]
        boxes = boxes * tensor(scale, dtype=boxes.dtype)
    out = []
    for i in range(logits.shape[0]):
        keep = tensor(np.flatnonzero(scores[i].numpy() > threshold), dtype=int64)
        out.append({"scores": scores[i][keep], "labels": labels[i][keep], "boxes": boxes[i][keep]})
    return out
