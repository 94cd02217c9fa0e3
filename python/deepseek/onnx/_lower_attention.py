"""An attention call cut out of the trace (``_cuts``) as ONNX's ``Attention`` (opset 23):
``softmax(q k^T * scale + mask) v`` over 4-D query, key and value, with a boolean mask (True
= attend, as ``F.scaled_dot_product_attention``) or an additive one. onnxruntime wants the
mask's query dim spelled out, so a mask that broadcasts over it is expanded to the query's
length (taken from the query's shape, so it follows a dynamic axis)."""
from __future__ import annotations


def lower_attention(low, cut):
    """Emits the Attention node of ``cut`` and names its result (``low.names``)."""
    q, k, v = (low.name(vid) for vid in cut.in_vids[:3])
    inputs = [q, k, v]
    if len(cut.in_vids) > 3:
        mask = low.name(cut.in_vids[3])
        shape = list(low.value(cut.in_vids[3])["shape"])
        if len(shape) == 1:
            mask, shape = low.emit("Unsqueeze", [mask, low.i64([0])]), [1] + shape
        if shape[-2] == 1 and low.value(cut.in_vids[0])["shape"][2] != 1:
            length = low.emit("Shape", [q], start=2, end=3)
            ones = low.i64([1] * (len(shape) - 2))
            target = low.emit("Concat", ([ones] if len(shape) > 2 else []) + [length, low.i64([1])], axis=0)
            mask = low.emit("Expand", [mask, target])
        inputs.append(mask)
    low.names[cut.out_vids[0]] = low.emit("Attention", inputs, scale=cut.attrs["scale"])
