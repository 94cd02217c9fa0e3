"""Checkpoints never lose what was saved and never load something else quietly (issue 10,
class 12): killed saves leave no lasting temporaries, saves are atomic, every header defect
the safetensors format forbids is refused before any data is read, and a flipped bit anywhere
in a file raises instead of loading a different value."""
import json
import os
import socket
import struct
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import deepseek as ds
from deepseek import serialization


def write_raw(path, header, body, pad=True):
    hb = json.dumps(header).encode() if isinstance(header, dict) else header
    if pad:
        hb += b" " * ((8 - len(hb) % 8) % 8)
    path.write_bytes(struct.pack("<Q", len(hb)) + hb + body)
    return path


def same(a, b):
    if isinstance(a, ds.Tensor):
        return isinstance(b, ds.Tensor) and a.dtype == b.dtype and tuple(a.shape) == tuple(b.shape) and \
            np.array_equal(a.float().numpy() if a.dtype == ds.bfloat16 else a.numpy(),
                           b.float().numpy() if b.dtype == ds.bfloat16 else b.numpy(), equal_nan=True)
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and (a == b or (a != a and b != b))


# ---------------- killed saves and atomic replacement ----------------

KILLED_SAVE = textwrap.dedent(r"""
    import os, signal, sys
    import deepseek as ds
    os.replace = lambda *a: os.kill(os.getpid(), signal.SIGKILL)  # die after the data is written
    ds.save({"w": ds.zeros(256, 1024)}, sys.argv[1])
""")


def killed_save(path):
    r = subprocess.run([sys.executable, "-c", KILLED_SAVE, str(path)], capture_output=True)
    assert r.returncode == -9, r.stderr.decode()


def temps(d):
    return sorted(f for f in os.listdir(d) if f.startswith(".deepseek-save-"))


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL and the pid probe are POSIX")
def test_a_killed_save_leaves_a_temporary_that_the_next_save_of_that_file_removes(tmp_path):
    path, other = tmp_path / "ck.safetensors", tmp_path / "other.safetensors"
    ds.save({"step": 1, "w": ds.ones(3)}, path)
    killed_save(path)
    killed_save(other)
    left = temps(tmp_path)
    assert len(left) == 2 and all(os.path.getsize(tmp_path / f) > 1024 * 1024 for f in left)
    assert ds.load(path)["step"] == 1  # the killed save never touched the checkpoint
    # a temporary of a live writer of the same file, and files this code did not write, stay
    host = serialization._tag(socket.gethostname(), 8)
    live = f".deepseek-save-{serialization._tag('ck.safetensors', 16)}-{host}-{os.getppid()}-0123abcd"
    (tmp_path / live).write_bytes(b"in progress")
    (tmp_path / ".deepseek-save-x1y2z3").write_bytes(b"an older version's temporary")
    ds.save({"step": 2}, path)
    assert ds.load(path)["step"] == 2
    remaining = temps(tmp_path)
    assert live in remaining and ".deepseek-save-x1y2z3" in remaining
    assert len([f for f in remaining if f not in (live, ".deepseek-save-x1y2z3")]) == 1  # other.safetensors' one
    ds.save({"step": 3}, other)
    assert sorted(temps(tmp_path)) == sorted([live, ".deepseek-save-x1y2z3"])


def test_a_failed_save_keeps_the_old_file_and_leaves_nothing(tmp_path, monkeypatch):
    path = tmp_path / "ck.safetensors"
    ds.save({"w": ds.arange(4.0)}, path)
    os.chmod(path, 0o640)

    def broken_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="No space"):
        ds.save({"w": ds.zeros(4)}, path)
    monkeypatch.undo()
    assert ds.load(path)["w"].tolist() == [0.0, 1.0, 2.0, 3.0] and temps(tmp_path) == []
    ds.save({"w": ds.ones(2)}, path)
    assert os.stat(path).st_mode & 0o777 == 0o640  # the replaced file's permissions are kept


@pytest.mark.skipif(os.name != "posix", reason="symlinks")
def test_saving_through_a_symlink_replaces_its_target(tmp_path):
    real = tmp_path / "run3.safetensors"
    link = tmp_path / "latest.safetensors"
    ds.save({"v": ds.ones(1)}, real)
    link.symlink_to(real.name)
    ds.save({"v": ds.zeros(1)}, link)
    assert link.is_symlink() and ds.load(real)["v"].tolist() == [0.0]


def test_save_refuses_structures_it_could_not_restore():
    with pytest.raises(TypeError, match="both the keys"):
        ds.save({1: ds.ones(1), "1": ds.ones(1)}, "never-written.safetensors")
    with pytest.raises(TypeError, match="keys must be str or int"):
        ds.save({True: ds.ones(1)}, "never-written.safetensors")
    assert not os.path.exists("never-written.safetensors")


def test_colliding_flat_names_keep_every_tensor(tmp_path):
    obj = {"a.b": ds.ones(2), "a": {"b": ds.zeros(2)}, "__metadata__": ds.full((1,), 5.0), "x": [ds.ones(1)], "x.0": ds.zeros(1)}
    ds.save(obj, tmp_path / "c.safetensors")
    assert same(ds.load(tmp_path / "c.safetensors"), obj)


def test_file_objects_round_trip():
    import io

    buf = io.BytesIO()
    ds.save({"w": ds.arange(3.0), "n": 2}, buf)
    buf.seek(0)
    assert same(ds.load(buf), {"w": ds.arange(3.0), "n": 2})


# ---------------- header validation ----------------

W = {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}
B = {"dtype": "I64", "shape": [2], "data_offsets": [24, 40]}
BODY = np.arange(6, dtype=np.float32).tobytes() + np.array([7, 8], dtype=np.int64).tobytes()


def test_out_of_order_entries_are_valid_and_load(tmp_path):
    r = ds.load(write_raw(tmp_path / "f", {"b": B, "w": W}, BODY))
    assert r["w"].tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]] and r["b"].tolist() == [7, 8]
    r = ds.load(write_raw(tmp_path / "g", {"__metadata__": None, "w": W, "b": B}, BODY))
    assert sorted(r) == ["b", "w"]
    e = {"dtype": "F64", "shape": [0, 4], "data_offsets": [40, 40]}  # empty tensors take no bytes
    z = {"dtype": "BOOL", "shape": [], "data_offsets": [40, 41]}
    r = ds.load(write_raw(tmp_path / "h", {"w": W, "b": B, "e": e, "z": z}, BODY + b"\x01"))
    assert tuple(r["e"].shape) == (0, 4) and r["z"].item() is True


BAD_HEADERS = {
    "overlapping offsets": ({"w": W, "b": dict(B, data_offsets=[16, 32])}, BODY[:32], "overlaps"),
    "a hole between tensors": ({"w": W, "b": dict(B, data_offsets=[32, 48])}, BODY + bytes(8), "belong to no tensor"),
    "trailing garbage": ({"w": W, "b": B}, BODY + b"junk", "trailing data"),
    "offsets past the end": ({"w": W, "b": B}, BODY[:-4], "truncated or corrupt"),
    "a list __metadata__": ({"__metadata__": ["format", "pt"], "w": W, "b": B}, BODY, "__metadata__ must be an object"),
    "a string __metadata__": ({"__metadata__": "pt", "w": W, "b": B}, BODY, "__metadata__ must be an object"),
    "non-string metadata values": ({"__metadata__": {"format": 1}, "w": W, "b": B}, BODY, "__metadata__ must be an object"),
    "fractional dims": ({"w": dict(W, shape=[2.0, 3]), "b": B}, BODY, "shape"),
    "negative dims": ({"w": dict(W, shape=[-2, -3]), "b": B}, BODY, "shape"),
    "boolean dims": ({"w": dict(W, shape=[True, 6]), "b": B}, BODY, "shape"),
    "a dtype whose size does not match": ({"w": dict(W, dtype="F64"), "b": B}, BODY, "needs 48 bytes"),
    "a shape whose size does not match": ({"w": dict(W, shape=[2, 2]), "b": B}, BODY, "needs 16 bytes"),
    "an unknown dtype": ({"w": dict(W, dtype="F33"), "b": B}, BODY, "unknown dtype"),
    "an unsupported dtype": ({"w": dict(W, dtype="U32"), "b": B}, BODY, "does not support"),
    "three offsets": ({"w": dict(W, data_offsets=[0, 12, 24]), "b": B}, BODY, "data_offsets"),
    "end before begin": ({"w": dict(W, data_offsets=[24, 0]), "b": B}, BODY, "data_offsets"),
    "fractional offsets": ({"w": dict(W, data_offsets=[0, 24.0]), "b": B}, BODY, "data_offsets"),
    "a missing field": ({"w": {"dtype": "F32", "shape": [2, 3]}, "b": B}, BODY, "dtype, shape and data_offsets"),
    "an entry that is not an object": ({"w": [0, 24], "b": B}, BODY, "dtype, shape and data_offsets"),
}


@pytest.mark.parametrize("name", sorted(BAD_HEADERS))
def test_every_header_defect_is_refused_before_reading_data(tmp_path, name):
    header, body, message = BAD_HEADERS[name]
    with pytest.raises(RuntimeError, match=message):
        ds.load(write_raw(tmp_path / "bad.safetensors", header, body))


def test_malformed_json_headers_are_refused(tmp_path):
    dup = b'{"w":' + json.dumps(W).encode() + b',"w":' + json.dumps(W).encode() + b"}"
    with pytest.raises(RuntimeError, match="'w' appears twice"):
        ds.load(write_raw(tmp_path / "a", dup, BODY[:24]))
    with pytest.raises(RuntimeError, match="must be a JSON object starting with"):
        ds.load(write_raw(tmp_path / "b", b" " + json.dumps({"w": W}).encode(), BODY[:24]))
    with pytest.raises(RuntimeError, match="NaN is not JSON"):
        ds.load(write_raw(tmp_path / "c", b'{"__metadata__": {"x": "y"}, "w": {"dtype": "F32", "shape": [NaN], "data_offsets": [0, 0]}}', b""))
    with pytest.raises(RuntimeError, match="past the format's limit"):
        (tmp_path / "d").write_bytes(struct.pack("<Q", 2**40) + b"{}")
        ds.load(tmp_path / "d")
    with pytest.raises(RuntimeError, match="not a safetensors file"):
        (tmp_path / "e").write_bytes(b"\x01\x02")
        ds.load(tmp_path / "e")


# ---------------- checksums ----------------


def test_a_flipped_data_byte_names_the_tensor(tmp_path):
    path = tmp_path / "ck.safetensors"
    ds.save({"model": {"w": ds.arange(6.0), "b": ds.ones(2)}, "step": 3}, path)
    raw = bytearray(path.read_bytes())
    raw[-1] ^= 0x40  # the last byte of the last tensor
    path.write_bytes(bytes(raw))
    with pytest.raises(RuntimeError, match="tensor 'model.b' does not match its checksum"):
        ds.load(path)


def test_files_without_checksums_still_load(tmp_path):
    # written by other tools (safetensors.torch.save_file) or by earlier versions of deepseek
    r = ds.load(write_raw(tmp_path / "f", {"__metadata__": {"format": "pt"}, "w": W, "b": B}, BODY))
    assert r["b"].tolist() == [7, 8]


def tensors_strategy():
    dtype = st.sampled_from([ds.float32, ds.float64, ds.float16, ds.bfloat16, ds.int8, ds.uint8, ds.int32, ds.int64, ds.bool])
    shape = st.lists(st.integers(0, 3), max_size=3)
    return st.builds(lambda dt, sh, seed: (ds.randn(*sh, generator=ds.Generator().manual_seed(seed)) * 50).to(dt), dtype, shape, st.integers(0, 99))


values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), st.text(max_size=4), tensors_strategy()),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.lists(inner, max_size=3).map(tuple),
                            st.dictionaries(st.one_of(st.text(max_size=3), st.integers(0, 3)), inner, max_size=3)),
    max_leaves=8,
)


@settings(max_examples=40)
@given(obj=st.dictionaries(st.text(min_size=1, max_size=4), values, min_size=1, max_size=4), data=st.data())
def test_round_trip_and_no_single_byte_corruption_loads_a_different_value(tmp_path_factory, obj, data):
    """Whatever is saved loads back equal; after any one byte of the file changes, load either
    raises RuntimeError or returns exactly what was saved."""
    try:
        path = tmp_path_factory.mktemp("ck") / "ck.safetensors"
        ds.save(obj, path)
    except TypeError:
        return  # int and str keys that collide ({1: .., "1": ..}) are refused on save
    assert same(ds.load(path), obj)
    raw = path.read_bytes()
    for _ in range(25):
        i = data.draw(st.integers(0, len(raw) - 1))
        flip = data.draw(st.integers(1, 255))
        bad = bytearray(raw)
        bad[i] ^= flip
        path.write_bytes(bytes(bad))
        try:
            got = ds.load(path)
        except RuntimeError:
            continue
        assert same(got, obj), f"byte {i} ^ {flip:#x} loaded a different value"


def test_every_single_bit_flip_of_a_small_checkpoint_raises_or_loads_the_same(tmp_path):
    obj = {"model": {"w": ds.arange(6.0).reshape(2, 3), "b": ds.tensor([1, -2], dtype=ds.int8)}, "𐀀 ü": [0.1, (2, "x")],
           3: ds.zeros(0, 3), "ok": True}
    path = tmp_path / "ck.safetensors"
    ds.save(obj, path)
    raw = path.read_bytes()
    for i in range(len(raw)):
        for bit in range(8):
            bad = bytearray(raw)
            bad[i] ^= 1 << bit
            path.write_bytes(bytes(bad))
            try:
                got = ds.load(path)
            except RuntimeError:
                continue
            assert same(got, obj), f"byte {i} bit {bit} loaded a different value"
