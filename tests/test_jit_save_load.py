"""deepseek.jit.save/load: a graph runs in a fresh process with no model code; every bad file
(truncated, altered, newer format, unknown op, malformed) is a clear RuntimeError."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import deepseek
from deepseek import nn
from deepseek import serialization


class _Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(deepseek.tensor(np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)))
        self.register_buffer("shift", deepseek.tensor(np.float32([0.5, -0.5, 1.0])))

    def forward(self, x):
        h = (x * self.w).tanh() + self.shift
        return {"y": h.sum(1), "z": (h.T * 2,)}


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("jit") / "model.dsg")
    x = deepseek.tensor(np.ones((2, 3), np.float32))
    with deepseek.no_grad():
        g = deepseek.jit.trace(_Model(), (x,))
    deepseek.jit.save(g, path)
    return path, g


def _x():
    return np.arange(6, dtype=np.float32).reshape(2, 3) / 7


def test_round_trip_in_process(saved):
    path, g = saved
    g2 = deepseek.jit.load(path)
    x = deepseek.tensor(_x())
    with deepseek.no_grad():
        a, b = g(x), g2(x)
    np.testing.assert_array_equal(np.asarray(a["y"]), np.asarray(b["y"]))
    np.testing.assert_array_equal(np.asarray(a["z"][0]), np.asarray(b["z"][0]))
    assert [n["op"] for n in g2.graph.nodes()] == [n["op"] for n in g.graph.nodes()]
    assert sorted(n for n in g2.graph.state_names() if n) == ["shift", "w"]


def test_fresh_process_without_the_model_code(saved):
    path, g = saved
    with deepseek.no_grad():
        want = np.asarray(g(deepseek.tensor(_x()))["y"])
    code = textwrap.dedent(f"""
        import sys, numpy as np, deepseek
        assert "test_jit_save_load" not in sys.modules
        g = deepseek.jit.load({path!r}, map_location="cpu")
        out = g(deepseek.tensor(np.arange(6, dtype=np.float32).reshape(2, 3) / 7))
        print(" ".join(repr(float(v)) for v in np.asarray(out["y"])))
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=os.path.dirname(path), timeout=120)
    assert r.returncode == 0, r.stderr
    got = np.array([float(v) for v in r.stdout.split()], np.float32)
    np.testing.assert_array_equal(got, want)


def _rewrite(path, out, edit):
    """Loads the checkpoint, applies edit(desc) to the graph JSON, re-saves with a valid hash."""
    obj = serialization.load(path)
    desc = json.loads(obj["deepseek.jit"])
    edit(desc)
    text = json.dumps(desc)
    obj["deepseek.jit"] = text
    obj["sha256"] = hashlib.sha256(text.encode()).hexdigest()
    serialization.save(obj, out)


def test_truncated_file(saved, tmp_path):
    path, _ = saved
    data = open(path, "rb").read()
    for cut in (3, 20, len(data) // 2, len(data) - 1):
        p = tmp_path / f"cut{cut}.dsg"
        p.write_bytes(data[:cut])
        with pytest.raises(RuntimeError, match="deepseek.jit.load"):
            deepseek.jit.load(str(p))


def test_altered_bytes(saved, tmp_path):
    path, _ = saved
    data = bytearray(open(path, "rb").read())
    for pos in (len(data) - 5, len(data) // 2, 40):
        d = bytearray(data)
        d[pos] ^= 0x10
        p = tmp_path / f"flip{pos}.dsg"
        p.write_bytes(bytes(d))
        with pytest.raises(RuntimeError, match="deepseek.jit.load"):
            deepseek.jit.load(str(p))


def test_altered_description_fails_its_checksum(saved, tmp_path):
    path, _ = saved
    obj = serialization.load(path)
    obj["deepseek.jit"] = obj["deepseek.jit"].replace('"tanh"', '"sinh"')
    p = str(tmp_path / "edit.dsg")
    serialization.save(obj, p)
    with pytest.raises(RuntimeError, match="checksum"):
        deepseek.jit.load(p)


def test_newer_format_version(saved, tmp_path):
    p = str(tmp_path / "new.dsg")
    _rewrite(saved[0], p, lambda d: d.update(format_version=d["format_version"] + 1))
    with pytest.raises(RuntimeError, match="newer"):
        deepseek.jit.load(p)


def test_unknown_op(saved, tmp_path):
    p = str(tmp_path / "op.dsg")

    def edit(d):
        next(n for n in d["nodes"] if n["kind"] == "launch")["op"] = "frobnicate"

    _rewrite(saved[0], p, edit)
    with pytest.raises(RuntimeError, match="frobnicate"):
        deepseek.jit.load(p)


@pytest.mark.parametrize("edit", [
    lambda d: d["nodes"][0]["inputs"].append(10_000),
    lambda d: d["values"][0].update(buffer=999),
    lambda d: d["values"][0].update(offset=1 << 40),
    lambda d: d["buffers"][0].update(role="bogus"),
    lambda d: d.pop("nodes"),
    lambda d: d["values"][0].update(dtype="complex256"),
])
def test_malformed_descriptions(saved, tmp_path, edit):
    p = str(tmp_path / "bad.dsg")
    _rewrite(saved[0], p, edit)
    with pytest.raises(RuntimeError, match="deepseek.jit.load"):
        deepseek.jit.load(p)


def test_not_a_graph_file(tmp_path):
    p = str(tmp_path / "plain.safetensors")
    deepseek.save({"w": deepseek.ones(2)}, p)
    with pytest.raises(RuntimeError, match="not a deepseek.jit graph file"):
        deepseek.jit.load(p)
