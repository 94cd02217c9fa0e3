"""An attention call cut out of the trace (``_cuts``) as ONNX's ``Attention`` (opset 23):
``softmax(q k^T * scale + mask) v`` over 4-D [batch, heads, length, dim] query, key and value,
or 3-D [batch, length, dim] ones (one head: ``q_num_heads = kv_num_heads = 1``), with a boolean
mask (True = attend, as ``F.scaled_dot_product_attention``), an additive one, or ``is_causal``
(the upper-left aligned lower triangle, PyTorch's and ONNX's convention alike). onnxruntime
wants the mask's query dim spelled out, so a mask that broadcasts over it is expanded to the
query's length (taken from the query's shape, so it follows a dynamic axis); a 3-D [batch,
length, source] mask gets its heads dim."""
from __future__ import annotations


def lower_attention(low, cut):
    """Emits the Attention node of ``cut`` and names its result (``low.names``)."""
    q, k, v = (low.name(vid) for vid in cut.in_vids[:3])
    rank = len(low.value(cut.in_vids[0])["shape"])
    inputs = [q, k, v]
    if len(cut.in_vids) > 3:
        mask = low.name(cut.in_vids[3])
        shape = list(low.value(cut.in_vids[3])["shape"])
        if len(shape) == 1:
            mask, shape = low.emit("Unsqueeze", [mask, low.i64([0])]), [1] + shape
        if rank == 3 and len(shape) == 3:  # [batch, length, source] -> [batch, 1 head, length, source]
            mask, shape = low.emit("Unsqueeze", [mask, low.i64([1])]), shape[:1] + [1] + shape[1:]
        if shape[-2] == 1 and low.value(cut.in_vids[0])["shape"][rank - 2] != 1:
            length = low.emit("Shape", [q], start=rank - 2, end=rank - 1)
            ones = low.i64([1] * (len(shape) - 2))
            target = low.emit("Concat", ([ones] if len(shape) > 2 else []) + [length, low.i64([1])], axis=0)
            mask = low.emit("Expand", [mask, target])
        inputs.append(mask)
    attrs = {"scale": cut.attrs["scale"]}
    if cut.attrs.get("is_causal"):
        attrs["is_causal"] = 1
    if rank == 3:
        attrs.update(q_num_heads=1, kv_num_heads=1)
    low.names[cut.out_vids[0]] = low.emit("Attention", inputs, **attrs)
