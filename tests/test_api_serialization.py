"""Checkpoints (issue 16): file objects, permissions under the umask, and PyTorch's own zip
checkpoints read weights-only (the archives are built here by hand in PyTorch's layout, since
torch is not installed)."""
from __future__ import annotations

import collections
import io
import os
import pickle
import sys
import types
import zipfile

import numpy as np
import pytest

import deepseek as ds

# ---------------- PyTorch's zip layout, written without torch ----------------


class _Fake:
    """Stand-ins for the torch globals a checkpoint's pickle names (installed in sys.modules
    only while pickling, so that pickle writes GLOBAL torch.FloatStorage etc.)."""

    def __init__(self):
        self.torch = types.ModuleType("torch")
        self.utils = types.ModuleType("torch._utils")
        for name in ("FloatStorage", "DoubleStorage", "LongStorage", "HalfStorage", "BFloat16Storage", "BoolStorage",
                     "ComplexFloatStorage", "QInt8Storage"):
            cls = type(name, (), {"__module__": "torch"})
            setattr(self.torch, name, cls)
        for name in ("_rebuild_tensor_v2", "_rebuild_parameter"):
            fn = (lambda *a: None)
            fn.__module__, fn.__name__, fn.__qualname__ = "torch._utils", name, name
            setattr(self.utils, name, fn)


class Storage:
    def __init__(self, kind, key, array, location="cpu"):
        self.kind, self.key, self.array, self.location = kind, key, array, location


class TensorRef:
    """Pickles as torch does: _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)."""

    def __init__(self, fake, storage, offset, size, stride, requires_grad=False):
        self.fake, self.args = fake, (storage, offset, tuple(size), tuple(stride), requires_grad, collections.OrderedDict())

    def __reduce__(self):
        return self.fake.utils._rebuild_tensor_v2, self.args


class ParamRef:
    def __init__(self, fake, tensor, requires_grad=True):
        self.fake, self.args = fake, (tensor, requires_grad, collections.OrderedDict())

    def __reduce__(self):
        return self.fake.utils._rebuild_parameter, self.args


class _Pickler(pickle.Pickler):
    def __init__(self, fh, fake):
        super().__init__(fh, protocol=2)
        self.fake = fake

    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", getattr(self.fake.torch, obj.kind), obj.key, obj.location, obj.array.size)
        return None


def torch_zip(obj, fake, storages, archive="archive", byteorder=b"little"):
    """The bytes of a zip checkpoint holding ``obj`` (with Storage / TensorRef objects inside)."""
    mods = {"torch": fake.torch, "torch._utils": fake.utils}
    saved = {k: sys.modules.get(k) for k in mods}
    sys.modules.update(mods)
    try:
        buf = io.BytesIO()
        _Pickler(buf, fake).dump(obj)
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr(f"{archive}/data.pkl", buf.getvalue())
        z.writestr(f"{archive}/byteorder", byteorder)
        for s in storages:
            z.writestr(f"{archive}/data/{s.key}", s.array.tobytes())
        z.writestr(f"{archive}/version", b"3\n")
    return out.getvalue()


@pytest.fixture
def fake():
    return _Fake()


def test_loads_a_pytorch_state_dict(fake, tmp_path):
    rng = np.random.default_rng(0)
    w = rng.normal(size=12).astype(np.float32)
    b = np.arange(5, dtype=np.int64)
    d = rng.normal(size=6)
    s_w, s_b, s_d = Storage("FloatStorage", "0", w), Storage("LongStorage", "1", b), Storage("DoubleStorage", "2", d)
    sd = collections.OrderedDict([
        ("layer.weight", TensorRef(fake, s_w, 0, (3, 4), (4, 1))),
        ("layer.weight_t", TensorRef(fake, s_w, 0, (4, 3), (1, 4))),       # a transposed view of one storage
        ("layer.tail", TensorRef(fake, s_w, 8, (2, 2), (2, 1))),           # an offset view
        ("steps", TensorRef(fake, s_b, 1, (3,), (1,))),
        ("param", ParamRef(fake, TensorRef(fake, s_d, 0, (2, 3), (3, 1)))),
        ("scalar", TensorRef(fake, s_d, 5, (), ())),
        ("meta", {"epoch": 3, "lr": 0.1, "name": "run", "hist": [1, 2.5, None], "pair": (1, 2), "ok": True,
                  "tags": {"a", "b"}, "raw": b"\x00\xff"}),
    ])
    data = torch_zip(sd, fake, [s_w, s_b, s_d])
    path = tmp_path / "model.pt"
    path.write_bytes(data)
    for src in (path, str(path), io.BytesIO(data)):
        out = ds.load(src)
        assert list(out) == list(sd)
        np.testing.assert_array_equal(out["layer.weight"].numpy(), w.reshape(3, 4))
        np.testing.assert_array_equal(out["layer.weight_t"].numpy(), w.reshape(3, 4).T)
        np.testing.assert_array_equal(out["layer.tail"].numpy(), w[8:12].reshape(2, 2))
        assert out["steps"].dtype == ds.int64 and out["steps"].tolist() == [1, 2, 3]
        assert isinstance(out["param"], ds.nn.Parameter) and out["param"].requires_grad
        np.testing.assert_array_equal(out["param"].detach().numpy(), d.reshape(2, 3))
        assert out["scalar"].shape == () and float(out["scalar"]) == d[5]
        assert out["meta"] == {"epoch": 3, "lr": 0.1, "name": "run", "hist": [1, 2.5, None], "pair": (1, 2), "ok": True,
                               "tags": {"a", "b"}, "raw": b"\x00\xff"}
    # the loaded weights drive a module
    lin = ds.nn.Linear(4, 3, bias=False)
    lin.load_state_dict({"weight": ds.load(io.BytesIO(data))["layer.weight"]})
    np.testing.assert_allclose(lin(ds.ones(1, 4)).detach().numpy()[0], w.reshape(3, 4).sum(1), rtol=1e-6)


def test_half_types_and_bin_archives(fake):
    h = np.array([1.5, -2.0, 3.25], dtype=np.float16)
    bf_bits = (np.array([1.0, -0.5, 3.0], dtype=np.float32).view(np.uint32) >> 16).astype(np.uint16)
    sh, sb = Storage("HalfStorage", "a", h), Storage("BFloat16Storage", "b", bf_bits)
    obj = {"h": TensorRef(fake, sh, 0, (3,), (1,)), "b": TensorRef(fake, sb, 0, (3,), (1,))}
    out = ds.load(io.BytesIO(torch_zip(obj, fake, [sh, sb], archive="pytorch_model")))
    assert out["h"].dtype == ds.float16 and out["h"].float().tolist() == [1.5, -2.0, 3.25]
    assert out["b"].dtype == ds.bfloat16 and out["b"].float().tolist() == [1.0, -0.5, 3.0]


def test_refuses_code_in_the_pickle(fake, tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    data = torch_zip({"x": Evil()}, fake, [])
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed.*system"):
        ds.load(io.BytesIO(data))
    assert not marker.exists()

    class Sneaky:
        def __reduce__(self):
            return getattr, ("text", "upper")

    with pytest.raises(pickle.UnpicklingError, match="builtins.getattr, which a weights-only load does not allow"):
        ds.load(io.BytesIO(torch_zip([Sneaky()], fake, [])))
    s = Storage("QInt8Storage", "0", np.zeros(2, np.int8))  # quantized storages have no deepseek dtype
    with pytest.raises(pickle.UnpicklingError, match="QInt8Storage"):
        ds.load(io.BytesIO(torch_zip({"c": TensorRef(fake, s, 0, (2,), (1,))}, fake, [s])))
    # complex storages load (deepseek has complex64 and complex128)
    c = Storage("ComplexFloatStorage", "1", np.array([1 + 2j, -3j], np.complex64))
    out = ds.load(io.BytesIO(torch_zip({"c": TensorRef(fake, c, 0, (2,), (1,))}, fake, [c])))
    assert out["c"].dtype == ds.complex64 and out["c"].tolist() == [1 + 2j, -3j]


def test_corrupt_and_foreign_archives(fake):
    s = Storage("FloatStorage", "0", np.zeros(4, np.float32))
    good = torch_zip({"w": TensorRef(fake, s, 0, (4,), (1,))}, fake, [s])
    missing = torch_zip({"w": TensorRef(fake, s, 0, (4,), (1,))}, fake, [])
    with pytest.raises(RuntimeError, match="storage '0' is missing"):
        ds.load(io.BytesIO(missing))
    outside = torch_zip({"w": TensorRef(fake, s, 2, (4,), (1,))}, fake, [s])
    with pytest.raises(pickle.UnpicklingError, match="outside its storage"):
        ds.load(io.BytesIO(outside))
    other = io.BytesIO()
    with zipfile.ZipFile(other, "w") as z:
        z.writestr("readme.txt", "hello")
    with pytest.raises(RuntimeError, match="not a PyTorch checkpoint"):
        ds.load(io.BytesIO(other.getvalue()))
    with pytest.raises(RuntimeError, match="big-endian"):
        ds.load(io.BytesIO(torch_zip({"w": TensorRef(fake, s, 0, (4,), (1,))}, fake, [s], byteorder=b"big")))
    legacy = pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2) + b"rest"
    with pytest.raises(RuntimeError, match="legacy"):
        ds.load(io.BytesIO(legacy))
    assert ds.load(io.BytesIO(good))["w"].tolist() == [0.0] * 4


def test_map_location_of_device_checkpoints(fake):
    s = Storage("FloatStorage", "0", np.arange(3, dtype=np.float32), location="cuda:0")
    data = torch_zip({"w": TensorRef(fake, s, 0, (3,), (1,))}, fake, [s])
    out = ds.load(io.BytesIO(data), map_location="cpu")
    assert out["w"].device == ds.device("cpu") and out["w"].tolist() == [0.0, 1.0, 2.0]
    seen = []
    out = ds.load(io.BytesIO(data), map_location=lambda t, loc: (seen.append(loc), t)[1])
    assert seen == ["cuda:0"] and out["w"].tolist() == [0.0, 1.0, 2.0]
    if not ds.cuda.is_available():
        with pytest.raises(RuntimeError, match="map_location"):
            ds.load(io.BytesIO(data))


def test_file_objects_and_permissions(tmp_path):
    sd = {"a": ds.arange(4.0), "nested": {"b": ds.ones(2, dtype=ds.int64), "n": 3}}
    buf = io.BytesIO()
    ds.save(sd, buf)
    buf.seek(0)
    out = ds.load(buf)
    assert out["a"].tolist() == [0, 1, 2, 3] and out["nested"]["n"] == 3
    old = os.umask(0o027)
    try:
        p = tmp_path / "new.safetensors"
        ds.save(sd, p)
        assert os.stat(p).st_mode & 0o777 == 0o640  # a normally created file's mode under this umask
    finally:
        os.umask(old)
    old = os.umask(0o002)
    try:
        p2 = tmp_path / "other.safetensors"
        ds.save(sd, p2)
        assert os.stat(p2).st_mode & 0o777 == 0o664
    finally:
        os.umask(old)
