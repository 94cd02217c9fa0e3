"""The op table (core-rs/ops/primitives.toml) is the one declaration of the primitive ops:
every other list of them is generated from it, and these tests fail when a copy drifts."""
import re
import subprocess
import sys

import pytest

import deepseek
from deepseek import _core
from deepseek.backends import abi, codegen, primitives


def test_committed_copies_are_fresh():
    stale = codegen.stale()
    assert not stale, f"stale generated files {stale}: run python -m deepseek.backends.codegen --write"
    r = subprocess.run([sys.executable, "-m", "deepseek.backends.codegen", "--check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_codegen_detects_a_stale_copy(tmp_path, monkeypatch):
    header = tmp_path / "deepseek_backend.h"
    header.write_text(codegen.HEADER.read_text().replace("DS_OP_ADD = ", "DS_OP_ADD_OLD = "))
    monkeypatch.setattr(codegen, "HEADER", header)
    assert header in codegen.stale()
    assert codegen.main(["--write"]) == 0
    assert header not in codegen.stale() and "DS_OP_ADD = " in header.read_text()


def test_header_op_ids_are_the_table_ids():
    lib = abi.ffi.dlopen(None)
    for name, i in primitives.OP_IDS.items():
        assert getattr(lib, f"DS_OP_{name.upper()}") == i
    assert lib.DS_N_OPS == len(primitives.OP_IDS)
    assert list(primitives.OP_IDS.values()) == list(range(len(primitives.OP_IDS)))


def test_attribute_structs_match_the_table():
    for fam in primitives.FAMILIES.values():
        if not fam["attrs"]:
            assert fam["attrs_struct"] is None
            continue
        fields = [n for n, _ in abi.ffi.typeof(fam["attrs_struct"]).fields]
        want = []
        for name, ty, _ in fam["attrs"]:
            want += [f"n_{name}", name] if ty == "i64_list" else [name]
        assert fields == want, fam["name"]


def test_docs_table_names_every_op_once():
    text = codegen.DOCS.read_text()
    for name in primitives.PRIMITIVE_OP_NAMES:
        assert re.search(rf"[: ]{name}[ |]", text), name
    assert f"{len(primitives.PRIMITIVE_OP_NAMES)} primitive ops" in text


def test_families_and_names():
    ops = primitives.PRIMITIVE_OPS
    names = primitives.PRIMITIVE_OP_NAMES
    assert len(names) == len(set(names)) == sum(len(v) for v in ops.values())
    assert ops["binary"][:4] == ("add", "sub", "mul", "div") and "ge" in ops["binary"]
    assert ops["sort"] == ("sort",) and ops["topk"] == ("topk",)
    assert set(primitives.FAMILIES) == set(ops)


def test_conformance_kit_covers_every_op():
    from deepseek.testing.conformance import OPS

    assert tuple(OPS) == primitives.PRIMITIVE_OP_NAMES


def test_reference_launch_takes_named_attributes():
    x = deepseek.tensor([[3.0, 1.0, 2.0]])
    vals, idx = deepseek.empty(1, 2), deepseek.empty(1, 2, dtype=deepseek.int64)
    _core.reference_launch("topk", [vals, idx], [x], {"k": 2, "dim": 1, "largest": True})
    assert vals.tolist() == [[3.0, 2.0]] and idx.tolist() == [[0, 2]]
    out = deepseek.empty(2, 5)
    _core.reference_launch("pad", [out], [x[:, :2].reshape(2, 1)], {"value": -1.0, "pads": [0, 0, 2, 2]})
    assert out.tolist() == [[-1.0, -1.0, 3.0, -1.0, -1.0], [-1.0, -1.0, 1.0, -1.0, -1.0]]
    with pytest.raises(RuntimeError, match=r"cat: missing attribute 'dim' \(the op takes dim \(i64\)\)"):
        _core.reference_launch("cat", [out], [x], {})
    with pytest.raises(TypeError, match=r"pad: attribute 'pads' must be i64_list"):
        _core.reference_launch("pad", [out], [x], {"value": 0.0, "pads": 3})
    with pytest.raises(RuntimeError, match=r"topk: a kernel takes 2 output\(s\) and 1 input\(s\), got 1 and 1"):
        _core.reference_launch("topk", [vals], [x], {"k": 2, "dim": 1, "largest": True})
    with pytest.raises(RuntimeError, match=r"'frobnicate' is not a primitive op"):
        _core.reference_launch("frobnicate", [out], [x], {})
