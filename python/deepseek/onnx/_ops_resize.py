"""Import rules for ONNX's resampling and less common normalisations: Resize, GroupNormalization,
LRN, Hardmax. Resize is mapped onto ``F.interpolate`` for the coordinate conventions the two
share; any other combination is refused by name."""
from __future__ import annotations

import deepseek as ds

from ..nn import functional as F
from ._registry import arg, ints, register, wrap

_LINEAR = {1: "linear", 2: "bilinear", 3: "trilinear"}


def _floats(t):
    return [float(v) for v in t.detach().cpu().reshape(-1).tolist()] if t is not None else None


@register("Resize")
def _resize(ins, attrs, ctx):
    x = ins[0]
    n = x.ndim - 2
    if n not in (1, 2, 3):
        raise ctx.fail(f"only 3-D to 5-D inputs (N, C, spatial...) are supported, got shape {tuple(x.shape)}")
    if attrs.get("axes") is not None or attrs.get("antialias", 0) or attrs.get("keep_aspect_ratio_policy",
                                                                                  "stretch") != "stretch":
        raise ctx.fail("axes, antialias and keep_aspect_ratio_policy are not supported")
    scales, sizes = _floats(arg(ins, 2)), ints(arg(ins, 3))
    mode = attrs.get("mode", "nearest")
    ctm = attrs.get("coordinate_transformation_mode", "half_pixel")
    if sizes:
        if sizes[:2] != list(x.shape[:2]):
            raise ctx.fail(f"resizing the batch or channel dims (sizes {sizes}) is not supported")
        kw = {"size": sizes[2:]}
    elif scales:
        if scales[:2] != [1.0, 1.0]:
            raise ctx.fail(f"resizing the batch or channel dims (scales {scales}) is not supported")
        kw = {"scale_factor": scales[2:], "recompute_scale_factor": False}
    else:
        raise ctx.fail("neither scales nor sizes is given")
    if mode == "nearest":
        nearest = attrs.get("nearest_mode", "round_prefer_floor")
        if ctm == "asymmetric" and nearest == "floor":
            return F.interpolate(x, mode="nearest", **kw)
        raise ctx.fail(f"nearest mode with coordinate_transformation_mode='{ctm}' and nearest_mode='{nearest}' "
                       "is not supported (asymmetric + floor is)")
    if ctm not in ("half_pixel", "pytorch_half_pixel", "align_corners"):
        raise ctx.fail(f"coordinate_transformation_mode '{ctm}' is not supported for mode '{mode}' "
                       "(half_pixel, pytorch_half_pixel, align_corners are)")
    if attrs.get("exclude_outside", 0):
        raise ctx.fail("exclude_outside=1 is not supported")
    corners = ctm == "align_corners"
    if mode == "linear":
        return F.interpolate(x, mode=_LINEAR[n], align_corners=corners, **kw)
    if mode == "cubic" and n == 2 and attrs.get("cubic_coeff_a", -0.75) == -0.75:
        return F.interpolate(x, mode="bicubic", align_corners=corners, **kw)
    raise ctx.fail(f"mode '{mode}' with cubic_coeff_a={attrs.get('cubic_coeff_a', -0.75)} on {n} spatial dims "
                   "is not supported")


@register("GroupNormalization")
def _group_norm(ins, attrs, ctx):
    x, scale, bias = ins
    groups = attrs["num_groups"]
    c = x.shape[1]
    if scale.numel() == groups and groups != c:
        # opset 18's per-group scale and bias, repeated for each group's channels
        scale = scale.repeat_interleave(c // groups)
        bias = bias.repeat_interleave(c // groups)
    return F.group_norm(x, groups, scale, bias, attrs.get("epsilon", 1e-5))


@register("LRN")
def _lrn(ins, attrs, ctx):
    return F.local_response_norm(ins[0], attrs["size"], attrs.get("alpha", 1e-4), attrs.get("beta", 0.75),
                                 attrs.get("bias", 1.0))


@register("Hardmax")
def _hardmax(ins, attrs, ctx):
    x = ins[0]
    axis = wrap(attrs.get("axis", -1), x.ndim)
    hot = F.one_hot(ds.argmax(x, dim=axis), x.shape[axis]).movedim(-1, axis)
    return hot.to(x.dtype)
