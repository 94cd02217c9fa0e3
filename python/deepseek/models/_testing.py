"""Checks shared by the zoo's tests and usable on any model: the ``state_dict`` against a
reference key/shape list, a few training steps, eval determinism and a save/load round trip."""
from __future__ import annotations

import json
from pathlib import Path

# reference dtype spellings (torch's and safetensors') -> deepseek's
_DTYPES = {"float32": "float32", "F32": "float32", "int64": "int64", "I64": "int64", "float16": "float16",
           "F16": "float16", "bfloat16": "bfloat16", "BF16": "bfloat16"}


def reference_keys(path):
    """The ``{name: (shape, dtype)}`` list written by ``bench/gen_model_keys.py``."""
    doc = json.loads(Path(path).read_text())
    return {e["name"]: (tuple(e["shape"]), _DTYPES.get(e["dtype"], e["dtype"])) for e in doc["keys"]}


def state_dict_diff(model, reference, ignore=()):
    """Human-readable differences between ``model.state_dict()`` and ``reference`` (from
    ``reference_keys``): missing and unexpected names, shape and dtype mismatches. Empty when
    they agree."""
    own = {k: (tuple(v.shape), str(v.dtype).replace("deepseek.", "")) for k, v in model.state_dict().items()}
    ref = {k: v for k, v in reference.items() if k not in ignore}
    out = [f"missing (in the reference only): {k}" for k in ref if k not in own]
    out += [f"unexpected (in the model only): {k}" for k in own if k not in ref]
    for k in own.keys() & ref.keys():
        if own[k][0] != ref[k][0]:
            out.append(f"shape of {k}: model {own[k][0]} vs reference {ref[k][0]}")
        elif own[k][1] != ref[k][1]:
            out.append(f"dtype of {k}: model {own[k][1]} vs reference {ref[k][1]}")
    return sorted(out)


def train_losses(model, inputs, loss_fn, steps=4, lr=0.05, optimizer="sgd", momentum=0.9):
    """Losses of ``steps`` optimisation steps on one fixed batch (``loss_fn(model(*inputs))``)."""
    from .. import optim

    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = optim.SGD(params, lr=lr, momentum=momentum) if optimizer == "sgd" else optim.Adam(params, lr=lr)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn(model(*inputs))
        loss.backward()
        opt.step()
        losses.append(float(loss.item()))
    return losses


# ---- seeded-weights comparison with the reference implementation --------------------------
# bench/gen_model_keys.py loads this file on its own (no deepseek import) to fill the reference
# model with the same weights, so these helpers use NumPy only.

def _hashed_uniform(n, seed):
    """``n`` values in [-1, 1) from an integer hash of (index, seed), exact on every platform."""
    import numpy as np

    m = np.uint64(0xFFFFFFFF)
    h = (np.arange(n, dtype=np.uint64) + np.uint64(seed) * np.uint64(0x9E3779B9)) & m
    for _ in range(2):
        h = ((h ^ (h >> np.uint64(16))) * np.uint64(0x45D9F3B)) & m
    h ^= h >> np.uint64(16)
    return h.astype(np.float64) / 2.0**31 - 1.0


def deterministic_value(name, shape, dtype="float32", scheme="sine"):
    """A fixed pseudo-random array for the parameter or buffer ``name``: weights scaled by
    1/sqrt(fan-in), norm weights near 1, biases and running means near 0, running variances
    in [1, 1.5]. Integer entries (counters, index buffers) return None: they keep their value.

    ``scheme="sine"`` draws the values from a sinusoid of the flat index; every weight matrix
    is then of rank 2, which deep stacks without residual paths (TDNNs, RNN stacks) turn into
    outputs that barely depend on the input. ``scheme="hashed"`` draws them from an integer
    hash instead (full rank)."""
    import numpy as np

    if not str(dtype).startswith(("float", "F", "torch.float", "deepseek.float")):
        return None
    if scheme not in ("sine", "hashed"):
        raise ValueError(f"deterministic_value: scheme must be 'sine' or 'hashed', got {scheme!r}")
    shape = tuple(int(s) for s in shape)
    n = int(np.prod(shape)) if shape else 1
    seed = sum(ord(c) * (i + 1) for i, c in enumerate(name)) % 997
    if scheme == "sine":
        v = np.sin(np.arange(n, dtype=np.float64) * 0.7311 + seed * 0.173)
    else:
        v = _hashed_uniform(n, seed) * np.sqrt(1.5)  # mean square 1/2, as the sine's
    if name.endswith("running_var"):
        v = 1.0 + 0.5 * np.abs(v)
    elif len(shape) >= 2:
        fan_in = n // shape[0] if shape[0] else 1
        v = v * np.sqrt(3.0 / max(fan_in, 1)) * 0.8
    elif name.endswith("weight") or name.endswith("layer_scale"):
        v = 1.0 + 0.1 * v
    else:
        v = 0.1 * v
    return v.reshape(shape).astype(np.float32)


def deterministic_input(shape, kind="image", vocab=1000):
    """A fixed input: image values in [-1, 1] or token ids in [3, vocab)."""
    import numpy as np

    n = int(np.prod(shape))
    i = np.arange(n)
    if kind == "image":
        return np.sin(i * 0.37 + 0.5).reshape(shape).astype(np.float32)
    return ((i * 7919 + 13) % (vocab - 3) + 3).reshape(shape).astype(np.int64)


def load_deterministic_weights(model, scheme="sine"):
    """Fills every floating parameter and buffer of a deepseek model with
    ``deterministic_value`` (``scheme`` as there)."""
    from .. import tensor

    state = {}
    for k, v in model.state_dict().items():
        arr = deterministic_value(k, tuple(v.shape), str(v.dtype).replace("deepseek.", ""), scheme)
        state[k] = v if arr is None else tensor(arr)
    model.load_state_dict(state, strict=True)
    return model
