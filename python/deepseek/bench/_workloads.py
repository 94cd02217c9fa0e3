"""The workloads of ``python -m deepseek.bench``: each one defined once and built in either
framework (deepseek or PyTorch share the names used here), from arrays drawn once so that both
frameworks see the same weights and data.

This module imports only the standard library at import time (numpy and the framework are
imported inside the functions), so a PyTorch worker can load it by path without importing
deepseek.
"""
from __future__ import annotations

import importlib

# name -> (description template, unit, full-size config, --quick config)
BUILTIN = {
    "matmul": ("matmul {n}x{n} @ {n}x{n}", "s/op", dict(n=1024), dict(n=64)),
    "conv": ("conv2d fwd+bwd {b}x{c}x{hw}^2 k{k} -> {o}", "s/step",
             dict(b=8, c=64, hw=56, k=3, o=64), dict(b=2, c=4, hw=8, k=3, o=4)),
    "mlp": ("MLP {i}-{h}-{h}-{classes} Adam step, batch {b}", "s/step",
            dict(b=64, i=64, h=256, classes=10), dict(b=8, i=16, h=32, classes=4)),
    "resnet50": ("ResNet-50 SGD step {b}x3x{hw}^2", "s/step", dict(b=16, hw=64), dict(b=2, hw=32)),
    "transformer": ("Transformer encoder {layers}L d{d} h{heads} AdamW step {b}x{seq}", "s/step",
                    dict(b=8, seq=128, d=256, heads=4, ffn=1024, layers=4),
                    dict(b=2, seq=8, d=16, heads=2, ffn=32, layers=1)),
}
# relative tolerance of the first-step check value (loss or output sum) between frameworks
TOLERANCE = {"matmul": 1e-4, "conv": 1e-4, "mlp": 1e-4, "resnet50": 2e-3, "transformer": 1e-3}
ZOO_TOLERANCE = 2e-3


def config(name: str, quick: bool, zoo_names=()) -> dict:
    """The configuration of workload ``name``: kind, sizes, description and unit. A name that is
    not built in is a model of ``deepseek.models`` (``zoo_names``): its forward pass on the
    zoo's default example input, in eval mode without gradients."""
    if name in BUILTIN:
        desc, unit, full, small = BUILTIN[name]
        cfg = dict(small if quick else full)
        return dict(cfg, name=name, kind=name, desc=desc.format(**cfg), unit=unit, tol=TOLERANCE[name])
    if name in zoo_names:
        return dict(name=name, kind="zoo", desc=f"{name} forward (eval, no grad), zoo example input", unit="s/op",
                    tol=ZOO_TOLERANCE)
    known = ", ".join(list(BUILTIN) + ["<any deepseek.models name>"])
    raise ValueError(f"unknown workload {name!r}; choose from {known}")


def _nn(fw):
    if fw == "deepseek":
        import deepseek as lib
        from deepseek import nn, optim
        from deepseek.nn import functional as F
    else:
        import torch as lib
        from torch import nn, optim
        from torch.nn import functional as F
    return lib, nn, optim, F


def _zoo_model(fw, name):
    """The zoo model ``name`` in deepseek, or its reference implementation in PyTorch (a module
    path such as ``torchvision.models`` recorded in the zoo's registry)."""
    if fw == "deepseek":
        from deepseek.models import get_model
        return get_model(name)
    raise RuntimeError("internal: torch zoo models are built by torch_zoo_model")


def torch_unavailable(cfg: dict, reference: str):
    """Why workload ``cfg`` has no PyTorch side (None when it has one): a zoo model whose
    reference implementation is not a torchvision module."""
    if cfg["kind"] == "zoo" and not reference.startswith("torchvision"):
        return f"no PyTorch counterpart for {cfg['name']} here (reference implementation: {reference or 'none'})"
    return None


def torch_zoo_model(name, reference):
    """PyTorch's counterpart of zoo model ``name`` from the module ``reference`` names, or a
    ``RuntimeError`` saying why there is none."""
    why = torch_unavailable({"kind": "zoo", "name": name}, reference)
    if why:
        raise RuntimeError(why)
    try:
        mod = importlib.import_module(reference)
    except ImportError as e:
        raise RuntimeError(f"{reference} is not importable ({e})") from None
    return getattr(mod, name)()


def build_model(fw: str, cfg: dict, reference: str = ""):
    """The workload's model in framework ``fw`` (None for the single-op workloads)."""
    lib, nn, _, _ = _nn(fw)
    kind = cfg["kind"]
    if kind == "mlp":
        return nn.Sequential(nn.Linear(cfg["i"], cfg["h"]), nn.ReLU(), nn.Linear(cfg["h"], cfg["h"]), nn.ReLU(),
                             nn.Linear(cfg["h"], cfg["classes"]))
    if kind == "transformer":
        layer = nn.TransformerEncoderLayer(cfg["d"], cfg["heads"], dim_feedforward=cfg["ffn"], dropout=0.0,
                                           batch_first=True)
        return nn.TransformerEncoder(layer, cfg["layers"], enable_nested_tensor=False)
    if kind == "resnet50":
        return _zoo_model(fw, "resnet50") if fw == "deepseek" else torch_zoo_model("resnet50", "torchvision.models")
    if kind == "zoo":
        return _zoo_model(fw, cfg["name"]) if fw == "deepseek" else torch_zoo_model(cfg["name"], reference)
    return None


def draw_data(cfg: dict, seed: int) -> dict:
    """The workload's inputs (and the conv/matmul operands) as float32/int64 NumPy arrays."""
    import numpy as np

    rng = np.random.default_rng(seed)
    kind = cfg["kind"]
    f32 = np.float32
    if kind == "matmul":
        return {"a": rng.standard_normal((cfg["n"], cfg["n"]), dtype=f32),
                "b": rng.standard_normal((cfg["n"], cfg["n"]), dtype=f32)}
    if kind == "conv":
        fan_in = cfg["c"] * cfg["k"] ** 2
        return {"x": rng.standard_normal((cfg["b"], cfg["c"], cfg["hw"], cfg["hw"]), dtype=f32),
                "w": rng.standard_normal((cfg["o"], cfg["c"], cfg["k"], cfg["k"]), dtype=f32) * f32((2 / fan_in) ** 0.5)}
    if kind == "mlp":
        return {"x": rng.standard_normal((cfg["b"], cfg["i"]), dtype=f32),
                "y": rng.integers(0, cfg["classes"], cfg["b"]).astype(np.int64)}
    if kind == "transformer":
        shape = (cfg["b"], cfg["seq"], cfg["d"])
        return {"x": rng.standard_normal(shape, dtype=f32), "y": rng.standard_normal(shape, dtype=f32)}
    if kind == "resnet50":
        return {"x": rng.standard_normal((cfg["b"], 3, cfg["hw"], cfg["hw"]), dtype=f32),
                "y": rng.integers(0, 1000, cfg["b"]).astype(np.int64)}
    return {}


def zoo_example(name: str) -> dict:
    """The zoo's default example input of model ``name`` (drawn by deepseek) as NumPy arrays."""
    from deepseek.models import get_model_entry

    return {f"in{i}": t.numpy() for i, t in enumerate(get_model_entry(name).example())}


def _first(out):
    """The first tensor of a model output (a tensor, a tuple, a dict or an object with fields)."""
    if isinstance(out, (tuple, list)):
        return _first(out[0])
    if isinstance(out, dict):
        return _first(next(iter(out.values())))
    for attr in ("logits", "last_hidden_state", "out"):
        if hasattr(out, attr):
            return _first(getattr(out, attr))
    return out


def build_step(fw: str, cfg: dict, model, arrays: dict, dtype: str):
    """A callable running one step of the workload and returning its check value: the loss
    before the update for training steps, the mean square of the output for forward-only ones."""
    lib, _, optim, F = _nn(fw)
    dt = getattr(lib, dtype)

    def t(a):
        x = lib.from_numpy(a)
        return x.to(dt) if x.dtype.is_floating_point else x

    kind = cfg["kind"]
    if kind == "matmul":
        a, b = t(arrays["a"]), t(arrays["b"])

        def matmul():
            c = lib.matmul(a, b)
            return float((c * c).mean().item())  # squares: no cancellation to amplify rounding
        return matmul
    if kind == "conv":
        x, w = t(arrays["x"]).requires_grad_(True), t(arrays["w"]).requires_grad_(True)
        pad = cfg["k"] // 2

        def conv_step():
            x.grad = w.grad = None
            out = F.conv2d(x, w, None, 1, pad)
            loss = (out * out).mean()
            loss.backward()
            return float(loss.item())
        return conv_step
    model = model.to(dt)
    if kind == "zoo":
        model.eval()
        ins = [t(arrays[k]) for k in sorted(arrays) if k.startswith("in")]

        def forward():
            with lib.no_grad():
                o = _first(model(*ins)).double()
                return float((o * o).mean().item())
        return forward
    model.train()
    x, y = t(arrays["x"]), t(arrays["y"])
    if kind == "mlp":
        opt, crit = optim.Adam(model.parameters(), lr=1e-3), F.cross_entropy
    elif kind == "transformer":
        opt, crit = optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01), F.mse_loss
    else:
        opt, crit = optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4), F.cross_entropy

    def train_step():
        opt.zero_grad()
        loss = crit(model(x), y)
        loss.backward()
        opt.step()
        return float(loss.item())
    return train_step
