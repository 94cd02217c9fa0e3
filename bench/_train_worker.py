"""The worker side of bench/train.py: builds the models, draws the data and times the steps.

Everything here that touches numpy/deepseek/torch runs only in the subprocesses bench/train.py
starts (``--_init`` / ``--_worker``); this module imports only the standard library at load, so
the parent process stays small.
"""
from __future__ import annotations

import json
import os
import statistics
import sys
import time


def _set_thread_env(threads: int):
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
                "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS", "RAYON_NUM_THREADS"):
        os.environ[var] = str(threads)
    # see bench/ops.py: OpenMP spin-waiting fights the other pools on a small, shared box
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _proc_status_kb(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return -1


def _import_framework(fw: str, threads: int):
    if fw == "deepseek":
        import deepseek as lib
        lib.set_num_threads(threads)
        return lib
    import torch as lib
    lib.set_num_threads(threads)
    return lib


# ----------------------------------------------------------------------------------- models


def build_model(fw: str, cfg: dict):
    if fw == "deepseek":
        import deepseek as lib
        from deepseek import nn
    else:
        import torch as lib
        from torch import nn
    kind = cfg["kind"]
    if kind == "mlp":
        return nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
    if kind == "xformer":
        layer = nn.TransformerEncoderLayer(cfg["d"], cfg["heads"], dim_feedforward=cfg["ffn"], dropout=0.0,
                                           batch_first=True)
        return nn.TransformerEncoder(layer, cfg["layers"], enable_nested_tensor=False)
    if kind == "resnet":
        if fw == "deepseek":
            return nn.ResNet50(num_classes=cfg["classes"])
        return _torch_resnet50(cfg["classes"])
    if kind == "conv":
        return None
    raise ValueError(kind)


def _torch_resnet50(num_classes):
    """torchvision's resnet50 (v1.5: stride on the 3x3 conv), same parameter names as deepseek's
    nn.ResNet50; defined here because torchvision is not installed in .venv-bench."""
    from torch import nn

    class Bottleneck(nn.Module):
        expansion = 4

        def __init__(self, inplanes, planes, stride=1, downsample=None):
            super().__init__()
            self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(planes * 4)
            self.relu = nn.ReLU(inplace=True)
            self.downsample = downsample

        def forward(self, x):
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.relu(self.bn2(self.conv2(out)))
            out = self.bn3(self.conv3(out))
            return self.relu(out + identity)

    class ResNet(nn.Module):
        def __init__(self, layers, num_classes):
            super().__init__()
            self.inplanes = 64
            self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            self.layer1 = self._make_layer(64, layers[0])
            self.layer2 = self._make_layer(128, layers[1], 2)
            self.layer3 = self._make_layer(256, layers[2], 2)
            self.layer4 = self._make_layer(512, layers[3], 2)
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(2048, num_classes)
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

        def _make_layer(self, planes, blocks, stride=1):
            downsample = None
            if stride != 1 or self.inplanes != planes * 4:
                downsample = nn.Sequential(nn.Conv2d(self.inplanes, planes * 4, 1, stride, bias=False),
                                           nn.BatchNorm2d(planes * 4))
            layers = [Bottleneck(self.inplanes, planes, stride, downsample)]
            self.inplanes = planes * 4
            layers += [Bottleneck(self.inplanes, planes) for _ in range(1, blocks)]
            return nn.Sequential(*layers)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(self.avgpool(x).flatten(1))

    return ResNet([3, 4, 6, 3], num_classes)


def build_optimizer(fw: str, cfg: dict, params):
    if fw == "deepseek":
        from deepseek import optim
    else:
        from torch import optim
    kind = cfg["kind"]
    if kind == "mlp":
        return optim.Adam(params, lr=1e-3)
    if kind == "xformer":
        return optim.AdamW(params, lr=1e-4, weight_decay=0.01)
    if kind == "resnet":
        return optim.SGD(params, lr=0.01, momentum=0.9, weight_decay=1e-4)
    raise ValueError(kind)


# ----------------------------------------------------------------------------------- init


def do_init(name: str, cfg: dict, path: str, threads: int) -> None:
    """Builds the model once (torch if importable, else deepseek), draws the data, saves an .npz."""
    _set_thread_env(threads)
    import numpy as np
    try:
        import torch  # noqa: F401
        fw = "torch"
    except ImportError:
        fw = "deepseek"
    lib = _import_framework(fw, threads)
    lib.manual_seed(0)
    rng = np.random.default_rng(0)
    arrays, meta = {}, {"init_framework": fw}
    model = build_model(fw, cfg)
    if model is not None:
        for k, v in model.state_dict().items():
            # np.array, not np.ascontiguousarray: the latter turns 0-d num_batches_tracked into shape (1,)
            arrays["w/" + k] = np.array(v.numpy() if fw == "deepseek" else v.detach().numpy(), order="C")
    kind = cfg["kind"]
    if kind == "mlp":
        try:
            from sklearn.datasets import load_digits
            d = load_digits()
            x, y = d.data.astype(np.float32) / 16.0, d.target.astype(np.int64)
            meta["data"] = "sklearn load_digits (1797x64, /16)"
        except ImportError:
            x = rng.random((1797, 64), dtype=np.float32)
            y = rng.integers(0, 10, 1797).astype(np.int64)
            meta["data"] = "synthetic 1797x64 (sklearn not importable)"
        perm = rng.permutation(len(x))  # one fixed shuffle, the same for both frameworks
        arrays["x"], arrays["y"] = x[perm], y[perm]
    elif kind == "xformer":
        arrays["x"] = rng.standard_normal((cfg["batch"], cfg["seq"], cfg["d"]), dtype=np.float32)
        arrays["y"] = rng.standard_normal((cfg["batch"], cfg["seq"], cfg["d"]), dtype=np.float32)
        meta["data"] = "standard normal input and target"
    elif kind == "resnet":
        arrays["x"] = rng.standard_normal((cfg["batch"], 3, cfg["hw"], cfg["hw"]), dtype=np.float32)
        arrays["y"] = rng.integers(0, cfg["classes"], cfg["batch"]).astype(np.int64)
        meta["data"] = "standard normal images, uniform labels"
    elif kind == "conv":
        arrays["x"] = rng.standard_normal((cfg["n"], cfg["c"], cfg["hw"], cfg["hw"]), dtype=np.float32)
        fan_in = cfg["c"] * cfg["k"] * cfg["k"]
        arrays["w"] = (rng.standard_normal((cfg["o"], cfg["c"], cfg["k"], cfg["k"]), dtype=np.float32)
                       * np.float32((2.0 / fan_in) ** 0.5))
        meta["data"] = "standard normal input, He-scaled weight"
    np.savez(path, **arrays)
    print("RESULT " + json.dumps(meta), flush=True)


# ----------------------------------------------------------------------------------- worker


def do_worker(name: str, fw: str, cfg: dict, path: str, threads: int) -> None:
    _set_thread_env(threads)
    import numpy as np
    lib = _import_framework(fw, threads)
    import_rss_kb = _proc_status_kb("VmRSS")
    is_ds = fw == "deepseek"
    to_t = lib.from_numpy  # deepseek.from_numpy / torch.from_numpy (views; data arrays stay alive)
    npz = np.load(path)
    lib.manual_seed(0)

    model = build_model(fw, cfg)
    if model is not None:
        # one array at a time, so the whole .npz is never resident next to the model
        keys = [k for k in npz.files if k.startswith("w/")]
        expected = set(model.state_dict().keys())
        got = {k[2:] for k in keys}
        if expected != got:
            raise SystemExit(f"state_dict keys differ: missing {sorted(expected - got)[:5]} "
                             f"unexpected {sorted(got - expected)[:5]}")
        for k in keys:
            arr = npz[k]
            if is_ds:
                model.load_state_dict({k[2:]: to_t(arr)}, strict=False)
            else:
                model.load_state_dict({k[2:]: lib.from_numpy(arr)}, strict=False)
            del arr
        model.train()

    kind = cfg["kind"]
    if is_ds:
        from deepseek.nn import functional as F
    else:
        from torch.nn import functional as F

    if kind == "conv":
        x = to_t(npz["x"]).requires_grad_(True)
        w = to_t(npz["w"]).requires_grad_(True)
        stride, pad = cfg["stride"], cfg["pad"]

        def step():
            x.grad = None
            w.grad = None
            out = F.conv2d(x, w, None, stride, pad)
            loss = (out * out).mean()
            loss.backward()
            return loss.item()
        steps_per_sample = 1
    else:
        opt = build_optimizer(fw, cfg, model.parameters())
        if kind == "mlp":
            X, Y = to_t(npz["x"]), to_t(npz["y"])
            n, bs = X.shape[0], cfg["batch"]
            batches = [(i, min(i + bs, n)) for i in range(0, n, bs)]

            def train_batch(a, b):
                opt.zero_grad()
                loss = F.cross_entropy(model(X[a:b]), Y[a:b])
                loss.backward()
                opt.step()
                return loss.item()

            first_box = []

            def step():  # one epoch
                last = None
                for a, b in batches:
                    last = train_batch(a, b)
                    if not first_box:
                        first_box.append(last)
                return last
            steps_per_sample = len(batches)
        else:
            X, Y = to_t(npz["x"]), to_t(npz["y"])
            crit = F.mse_loss if kind == "xformer" else F.cross_entropy

            def step():
                opt.zero_grad()
                loss = crit(model(X), Y)
                loss.backward()
                opt.step()
                return loss.item()
            steps_per_sample = 1

    setup_rss_kb = _proc_status_kb("VmRSS")
    if is_ds:
        lib.memory.reset_peak_memory_stats()

    losses, times = [], []
    for i in range(cfg["warmup"] + cfg["timed"]):
        t0 = time.perf_counter()
        losses.append(step())
        dt = time.perf_counter() - t0
        if i >= cfg["warmup"]:
            times.append(dt)
        print(f"    {name} {fw} step {i + 1}/{cfg['warmup'] + cfg['timed']}: {dt:.3f} s  loss {losses[-1]:.6g}",
              file=sys.stderr, flush=True)
    first_loss = first_box[0] if kind == "mlp" else losses[0]

    import resource
    res = dict(
        framework=fw,
        version=lib.__version__,
        median_s=statistics.median(times),
        times_s=times,
        steps_per_sample=steps_per_sample,
        first_loss=first_loss,
        last_loss=losses[-1],
        peak_rss_kb=_proc_status_kb("VmHWM"),
        ru_maxrss_kb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        import_rss_kb=import_rss_kb,
        setup_rss_kb=setup_rss_kb,
        alloc_peak_b=lib.memory.max_memory_allocated() if is_ds else None,
        reserved_peak_b=lib.memory.max_memory_reserved() if is_ds else None,
        threads=lib.get_num_threads(),
    )
    if is_ds:
        import hashlib
        with open(lib._core.__file__, "rb") as f:
            res["core_sha256"] = hashlib.sha256(f.read()).hexdigest()[:12]
    else:
        res["torch_desc"] = (f"MKL {'yes' if lib.backends.mkl.is_available() else 'no'}, "
                             f"mkldnn {'yes' if lib.backends.mkldnn.is_available() else 'no'}, "
                             f"cpu capability {lib.backends.cpu.get_cpu_capability()}")
    res["numpy"] = np.__version__
    print("RESULT " + json.dumps(res), flush=True)
