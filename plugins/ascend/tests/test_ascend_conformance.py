"""deepseek's conformance kit on ascend:0 over the fake CANN, in strict mode: every primitive op,
forward and backward, runs through the whole plugin (the C table, the op's aclnn operators, their
descriptors, workspaces and stream) and the fake computes each operator on the CPU from the
descriptors it was given, so a wrong shape, stride, offset or dtype gives wrong numbers. The
results are compared with the CPU core's."""
from __future__ import annotations

import subprocess
import sys

from ascend_helpers import clean_env

MAX_EXAMPLES = 5  # hypothesis examples per op: 90 ops in about 30 s on one idle core


def test_conformance_kit_on_ascend_over_the_fake_cann(fake_cann, tmp_path):
    suite = tmp_path / "test_ascend_conformance_kit.py"
    suite.write_text("from deepseek.testing import install_conformance_tests\n"
                     f"install_conformance_tests(globals(), 'ascend:0', max_examples={MAX_EXAMPLES})\n")
    env = clean_env(fake_cann, tmp_path / "unused.log", DEEPSEEK_REQUIRE_ASCEND=1)
    del env["FAKE_ACL_LOG"]  # no call log: it would only slow the run down
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:warnings",
                           "--rootdir", str(tmp_path), str(suite)], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=900)
    n = len(__import__("deepseek").backends.PRIMITIVE_OP_NAMES)
    assert proc.returncode == 0 and f"{n} passed" in proc.stdout, proc.stdout[-6000:] + proc.stderr[-3000:]
