"""deepseek's conformance kit on ascend:0 over the fake CANN, in strict mode, through npu_check.sh
(the script for a real NPU): every primitive op, forward and backward, runs through the whole
plugin (the C table, the op's aclnn operators, their descriptors, workspaces and stream), and
the fake computes each operator on the CPU from the descriptors it was given, so a wrong shape,
stride, offset or dtype gives wrong numbers. The results are compared with the CPU core's; the
script's MLP follows the CPU's loss curve."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from ascend_helpers import clean_env

EXAMPLES = 5  # hypothesis examples per op: 90 ops in about 30 s on one idle core


def test_npu_check_runs_the_conformance_kit_on_the_fake_cann(fake_cann, tmp_path):
    env = clean_env(fake_cann, tmp_path / "unused.log", OUT=tmp_path / "out", PYTHON=sys.executable,
                    NPU_CHECK_EXAMPLES=EXAMPLES)
    del env["FAKE_ACL_LOG"]  # no call log: it would only slow the run down
    script = Path(__file__).resolve().parent / "npu_check.sh"
    proc = subprocess.run(["bash", str(script)], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    n = len(__import__("deepseek").backends.PRIMITIVE_OP_NAMES)
    detail = proc.stdout[-3000:] + (tmp_path / "out" / "2-conformance.log").read_text()[-6000:]
    assert proc.returncode == 0, detail
    summary = proc.stdout.split("## Ascend backend on an NPU", 1)[1]
    assert f"ascend: available: 1 device(s): Ascend910B1; {n}/{n} primitive ops native: {n - 4} on aclnn" in summary
    assert f"native: {n}/{n} primitive ops" in summary
    assert f"{EXAMPLES} examples per op): {n} passed" in summary, detail
    assert "(matches)" in summary, summary


#: the core's suites that run one test body on every available device
DEVICE_SUITES = ("test_special_values.py", "test_device_consistency.py", "test_inplace_overlap.py",
                 "test_wrong_results_ops.py", "test_device_module.py")


def test_the_cores_device_suites_pass_on_ascend_over_the_fake_cann(fake_cann, tmp_path):
    """Signed zeros, NaN, division by zero, in-place overlap, wrong-result regressions and the
    device module, as the core's own tests ask them of every device, on ascend:0."""
    tests = Path(__file__).resolve().parents[3] / "tests"
    env = clean_env(fake_cann, tmp_path / "unused.log")
    del env["FAKE_ACL_LOG"]
    proc = subprocess.run([sys.executable, "-m", "pytest", "-o", "addopts=", "-q", "-p", "no:cacheprovider",
                           "-p", "no:warnings", "-k", "ascend", *[str(tests / s) for s in DEVICE_SUITES]],
                          env=env, cwd=tests.parent, capture_output=True, text=True, timeout=600)
    passed = re.search(r"(\d+) passed", proc.stdout)
    assert proc.returncode == 0 and passed and int(passed.group(1)) >= 30, proc.stdout[-6000:]
