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
