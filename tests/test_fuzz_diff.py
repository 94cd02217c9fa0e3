"""The differential fuzzer (bench/fuzz_diff.py) in its NumPy mode, bounded and deterministic:
every op of its table, a fixed number of derandomized calls each, against the NumPy/SciPy
reference of PyTorch's semantics.

The ops that fail today are listed in KNOWN_FAILING with the reason; like a strict xfail,
the test fails when one of them starts passing (remove it from the list then). The
classes gated are the silent ones (a wrong value, dtype or shape, a value where PyTorch
raises) and crashes and hangs; a wrong exception type or a refusal PyTorch does not make is
reported by the tool but not gated here. The last tests plant bugs in the worker and check
that the fuzzer reports them, so a green run means something.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path.append(str(BENCH))  # appended: bench/ holds ops.py, train.py... that must shadow nothing

from fuzz import ops as op_table  # noqa: E402
from fuzz.case import T  # noqa: E402
from fuzz.pool import Worker  # noqa: E402
from fuzz.promotion import promote_types, result_type  # noqa: E402
from fuzz.report import markdown, summary  # noqa: E402
from fuzz.runner import Finding, OpResult, run  # noqa: E402

EXAMPLES = 40
KNOWN_EXAMPLES = 150
SEED = 0
GATED = ("wrong_value", "wrong_dtype", "wrong_shape", "should_raise", "crash", "hang")

# op -> why it fails today (these are being fixed; delete an entry once its op passes)
KNOWN_FAILING = {
}


_FUZZ_IN_A_CLEAN_PROCESS = """
import dataclasses, json, sys
sys.path.append(sys.argv[1])
from fuzz import ops as op_table
from fuzz.pool import Worker
from fuzz.runner import run
known, n, n_known, seed = set(json.loads(sys.argv[2])), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
ops = op_table.all_ops()
worker = Worker("deepseek", timeout=30.0)
try:
    rs = run([o for o in ops if o.name not in known], worker, n=n, seed=seed, shrink_classes=())
    rs += run([o for o in ops if o.name in known], worker, n=n_known, seed=seed, shrink_classes=())
finally:
    worker.close()
json.dump([dataclasses.asdict(r) for r in rs], sys.stdout)
"""


@pytest.fixture(scope="module")
def fuzz_results():
    # The fuzzer runs in a fresh interpreter: hypothesis draws from constants it finds in the
    # loaded modules, so inside pytest the calls drawn would depend on which test files were
    # collected before this one. In its own process the same seed draws the same calls.
    # The known-failing ops get more calls, so that "still fails" does not hang on one draw.
    r = subprocess.run([sys.executable, "-c", _FUZZ_IN_A_CLEAN_PROCESS, str(BENCH), json.dumps(sorted(KNOWN_FAILING)),
                        str(EXAMPLES), str(KNOWN_EXAMPLES), str(SEED)],
                       capture_output=True, text=True, timeout=600, cwd=str(BENCH.parent))
    assert r.returncode == 0, r.stderr[-3000:]
    results = []
    for d in json.loads(r.stdout):
        d["findings"] = {c: Finding(**f) for c, f in d["findings"].items()}
        results.append(OpResult(**d))
    return results


def _gated(r):
    return {c: r.findings[c] for c in GATED if c in r.findings}


def _describe(op, findings):
    lines = [f"{op}:"]
    for c, f in findings.items():
        lines.append(f"  {c} in {f.count} calls: {f.detail[:300]}")
        lines += ["      " + line for line in f.reproducer]
    return "\n".join(lines)


def test_known_good_ops_agree_with_pytorch_semantics(fuzz_results):
    bad = {r.op: _gated(r) for r in fuzz_results if r.op not in KNOWN_FAILING and _gated(r)}
    msg = "\n".join(_describe(op, f) for op, f in sorted(bad.items()))
    assert not bad, f"silent mismatches, crashes or hangs in ops that passed before:\n{msg}"


def test_known_failing_ops_still_fail(fuzz_results):
    by_op = {r.op: r for r in fuzz_results}
    fixed = [op for op in KNOWN_FAILING if op in by_op and not _gated(by_op[op])]
    assert not fixed, (f"these ops pass now: remove them from KNOWN_FAILING in {Path(__file__).name}: "
                       f"{sorted(fixed)}")


def test_known_failing_names_are_ops():
    names = {o.name for o in op_table.all_ops()}
    assert not set(KNOWN_FAILING) - names, sorted(set(KNOWN_FAILING) - names)


def test_the_reference_table_runs_cleanly(fuzz_results):
    broken = {r.op: r.ref_error for r in fuzz_results if r.ref_errors}
    assert not broken, broken
    # the calls were really compared, not all skipped
    calls = sum(r.calls for r in fuzz_results)
    agreed = sum(r.agreed for r in fuzz_results)
    assert calls >= EXAMPLES * len(fuzz_results) * 0.9
    assert agreed > calls * 0.8


def test_promotion_follows_pytorch():
    assert promote_types("uint8", "int8") == "int16"
    assert promote_types("float16", "bfloat16") == "float32"
    assert promote_types("int64", "float16") == "float16"
    f16 = T(None, "float16", shape=(2,))
    u8 = T(None, "uint8", shape=(2,))
    i64_0d = T(None, "int64", shape=())
    f64_0d = T(None, "float64", shape=())
    assert result_type(f16, 2.5) == "float16"
    assert result_type(u8, 300) == "uint8"
    assert result_type(u8, i64_0d) == "uint8"
    assert result_type(u8, 2.5) == "float32"
    assert result_type(f16, f64_0d) == "float16"
    assert result_type(T(None, "bool", shape=(2,)), 1) == "int64"
    assert result_type(i64_0d, 1.5) == "float32"


# the fuzzer finds planted bugs --------------------------------------------------------------


def _planted(tmp_path, source, ops, n=12, timeout=10.0, shrink=()):
    prelude = tmp_path / "plant.py"
    prelude.write_text(textwrap.dedent(source))
    env = dict(os.environ, FUZZ_DIFF_PRELUDE=str(prelude))
    worker = Worker("deepseek", timeout=timeout, env=env)
    try:
        return {r.op: r for r in run(op_table.select(op_table.all_ops(), ops), worker, n=n, seed=SEED,
                                      shrink_classes=shrink, shrink_budget=15.0)}
    finally:
        worker.close()


def test_a_planted_wrong_value_is_reported_and_shrunk(tmp_path):
    res = _planted(tmp_path, """
        _exp = lib.exp
        lib.exp = lambda x, *a, **k: _exp(x, *a, **k) + 1
    """, "exp", shrink=("wrong_value",))["exp"]
    assert res.counts.get("wrong_value", 0) > 0, res
    f = res.findings["wrong_value"]
    assert f.shrunk and any("ds.exp(" in line for line in f.reproducer), f
    # shrinking keeps only what the mismatch needs: one small tensor
    assert len(f.reproducer) == 2 and len(f.reproducer[0]) < 80, f.reproducer


def test_a_planted_crash_panic_and_hang_are_reported(tmp_path):
    res = _planted(tmp_path, """
        import os, time

        class PanicException(BaseException):  # what pyo3 raises for a Rust panic
            pass

        def crash(*a, **k):
            os._exit(3)

        def panic(*a, **k):
            raise PanicException("index out of bounds")

        def hang(*a, **k):
            time.sleep(60)

        lib.neg = crash
        lib.sqrt = panic
        lib.floor = hang
    """, "neg,sqrt,floor", n=6, timeout=1.0)
    assert res["neg"].counts.get("crash", 0) > 0, res["neg"]
    assert "exit status 3" in res["neg"].findings["crash"].detail
    assert res["sqrt"].counts.get("crash", 0) > 0 and "panic" in res["sqrt"].findings["crash"].detail
    assert res["floor"].counts.get("hang", 0) > 0, res["floor"]
    # the worker came back after each: the method forms still agreed
    assert res["neg"].agreed > 0 and res["floor"].agreed > 0


def test_the_command_line_reports_and_fails_on_request(tmp_path):
    prelude = tmp_path / "plant.py"
    prelude.write_text("_add = lib.add\nlib.add = lambda a, b, **k: _add(a, b, **k) * 2\n")
    out = tmp_path / "report.json"
    cmd = [sys.executable, str(BENCH / "fuzz_diff.py"), "--mode", "numpy", "--ops", "add", "--examples", "15",
           "--no-shrink", "--prelude", str(prelude), "--json", str(out)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "| add | wrong value |" in p.stdout, p.stdout
    report = json.loads(out.read_text())
    assert report["totals"]["wrong_value"] > 0 and report["failing_ops"] == ["add"]
    p = subprocess.run(cmd + ["--fail-on", "wrong_value,crash"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 1, p.stdout[-2000:]
    p = subprocess.run(cmd + ["--fail-on", "hang"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0


def test_torch_mode_compares_two_workers(tmp_path):
    """--mode torch with a stand-in 'torch' that is deepseek itself: every call agrees."""
    shim = tmp_path / "shim" / "torch"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text("import sys\nimport deepseek\nsys.modules[__name__] = deepseek\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path / "shim"), os.environ.get("PYTHONPATH", "")]))
    out = tmp_path / "report.json"
    p = subprocess.run([sys.executable, str(BENCH / "fuzz_diff.py"), "--mode", "torch", "--ops", "add,sum,F.relu",
                        "--examples", "10", "--json", str(out)], capture_output=True, text=True, timeout=120, env=env)
    assert p.returncode == 0, p.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["mode"] == "torch"
    assert sum(report["totals"].values()) == 0, report["rows"]
    assert report["agreed"] >= 25


def test_the_report_lists_one_row_per_op_and_class(fuzz_results):
    text = markdown(summary(fuzz_results))
    assert "| class | calls | ops |" in text
    for r in fuzz_results:
        for c in r.findings:
            assert f"| {r.op} |" in text
