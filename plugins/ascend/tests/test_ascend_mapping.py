"""The op -> aclnn mapping (deepseek_ascend/mapping.py) is complete, its generated copies (the C
table csrc/aclnn_table.h and the README's table) are fresh, and the fake CANN exports every
operator the plugin may call."""
from __future__ import annotations

import ctypes
import importlib.util
import subprocess
import sys
from pathlib import Path

PLUGIN = Path(__file__).resolve().parents[1]
GEN = PLUGIN / "csrc" / "gen_aclnn_table.py"


def _gen():
    spec = importlib.util.spec_from_file_location("_asc_gen", GEN)
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    return m


def test_generated_table_and_readme_are_fresh():
    proc = subprocess.run([sys.executable, str(GEN), "--check"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_primitive_is_mapped_and_coverage_is_at_least_95_percent():
    from deepseek.backends.primitives import PRIMITIVE_OP_NAMES
    from deepseek_ascend.mapping import MAPPING

    assert set(MAPPING) == set(PRIMITIVE_OP_NAMES)
    on_aclnn = [op for op, ways in MAPPING.items() if any(syms for _, syms, _, _ in ways)]
    assert len(on_aclnn) / len(PRIMITIVE_OP_NAMES) >= 0.95, sorted(set(PRIMITIVE_OP_NAMES) - set(on_aclnn))


def test_the_fake_exports_every_operator_in_both_phases(fake_cann):
    lib = ctypes.CDLL(str(fake_cann / "lib64" / "libopapi.so"))
    missing = [op for op in _gen().operator_names()
               for name in (op, op + "GetWorkspaceSize") if not hasattr(lib, name)]
    assert missing == []


def test_the_older_cann_lacks_the_hidden_operators(older_cann):
    from ascend_helpers import HIDDEN

    lib = ctypes.CDLL(str(older_cann / "lib64" / "libopapi.so"))
    assert not any(hasattr(lib, op) or hasattr(lib, op + "GetWorkspaceSize") for op in HIDDEN)
    assert hasattr(lib, "aclnnAdd")
