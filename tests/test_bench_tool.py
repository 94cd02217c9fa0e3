"""``python -m deepseek.bench``: a --quick run on tiny workloads in an environment where torch
cannot be imported writes its table, a JSON report of the documented schema and a PNG; the
report logic beside PyTorch is checked on synthetic results. Tests assert behaviour, never
timings."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest

from deepseek.bench import _report, _workloads
from deepseek.bench._cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def torchless_env(tmp_path_factory):
    """PYTHONPATH with a ``torch`` package whose import fails, as on a machine without torch."""
    fake = tmp_path_factory.mktemp("no_torch")
    (fake / "torch").mkdir()
    (fake / "torch" / "__init__.py").write_text("raise ImportError('torch is hidden by the test')\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(fake), os.path.join(ROOT, "python")] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


@pytest.fixture(scope="module")
def quick_run(torchless_env, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    js, png = out / "r.json", out / "r.png"
    args = [sys.executable, "-m", "deepseek.bench", "matmul", "mlp", "--quick", "--runs", "2", "--steps", "2",
            "--threads", "1", "--json", str(js)]
    have_mpl = _has_matplotlib()
    if have_mpl:
        args += ["--png", str(png)]
    p = subprocess.run(args, capture_output=True, text=True, env=torchless_env, timeout=600)
    return p, js, png, have_mpl


def _has_matplotlib():
    try:
        import matplotlib  # noqa: F401
        return True
    except ImportError:
        return False


def test_quick_run_without_torch_writes_table_and_json(quick_run):
    p, js, _, _ = quick_run
    assert p.returncode == 0, p.stderr[-3000:]
    out = p.stdout
    assert "| workload" in out and "matmul 64x64" in out and "MLP 16-32-32-4" in out
    assert "PyTorch: not importable" in out and "torch is hidden by the test" in out
    assert "[4/4] mlp deepseek" in p.stderr  # progress: 2 workloads x 1 framework x 2 runs
    rep = json.loads(js.read_text())
    assert rep["schema"] == _report.SCHEMA
    assert rep["frameworks"] == ["deepseek"]
    cfg = rep["config"]
    assert (cfg["threads"], cfg["runs"], cfg["steps"], cfg["warmup"], cfg["quick"], cfg["dtype"]) == (1, 2, 2, 1, True, "float32")
    env = rep["environment"]
    assert env["logical_cpus"] >= 1 and env["physical_cores"] >= 1 and env["cpu"] and env["python"]
    assert rep["versions"]["deepseek"]["threads"] == 1 and len(rep["versions"]["deepseek"]["core_sha256"]) == 12
    assert [w["name"] for w in rep["workloads"]] == ["matmul", "mlp"]
    for w in rep["workloads"]:
        d = w["results"]["deepseek"]
        assert "error" not in d, d
        assert len(d["times_s"]) == 4 and len(d["run_medians_s"]) == 2 and d["runs"] == 2
        assert d["median_s"] > 0 and d["spread"] >= 0
        assert math.isfinite(d["first_check"]) and d["first_check"] > 0
        assert d["peak_rss_bytes"] > 0 and d["rss_growth_bytes"] >= 0
        assert d["alloc_peak_bytes"] > 0 and d["reserved_peak_bytes"] >= d["alloc_peak_bytes"]
        assert w["time_ratio"] is None and w["check_ok"] is None
        assert "w/0.weight" not in w["setup"]
    mlp = rep["workloads"][1]
    assert mlp["setup"]["parameters"] == 16 * 32 + 32 + 32 * 32 + 32 + 32 * 4 + 4
    # the check value of the mlp is its first loss: cross-entropy over 4 classes near log(4)
    assert abs(mlp["results"]["deepseek"]["first_check"] - math.log(4)) < 1.0


def test_quick_run_writes_png(quick_run):
    p, _, png, have_mpl = quick_run
    if not have_mpl:
        pytest.skip("matplotlib not installed (the 'bench' extra)")
    assert p.returncode == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_png_without_matplotlib_is_refused_before_measuring(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` raise ImportError
    with pytest.raises(SystemExit) as e:
        main(["matmul", "--quick", "--png", str(tmp_path / "x.png")])
    assert e.value.code == 2
    assert "--png needs matplotlib" in capsys.readouterr().err
    with pytest.raises(ImportError, match="needs matplotlib"):
        _report.write_png({}, str(tmp_path / "y.png"))


def test_bad_arguments_are_clear_errors(capsys, torchless_env):
    with pytest.raises(SystemExit):
        main(["no_such_workload", "--quick"])
    assert "unknown workload 'no_such_workload'" in capsys.readouterr().err
    p = subprocess.run([sys.executable, "-m", "deepseek.bench", "matmul", "--quick", "--torch", "on"],
                       capture_output=True, text=True, env=torchless_env, timeout=120)
    assert p.returncode == 2 and "--torch on: PyTorch is not importable" in p.stderr
    assert main(["--list"]) == 0
    assert "resnet50" in capsys.readouterr().out


def test_zoo_models_are_workloads_and_torch_counterparts_are_named():
    from deepseek.models import list_models

    cfg = _workloads.config("resnet18", True, tuple(list_models()))
    assert cfg["kind"] == "zoo" and cfg["unit"] == "s/op"
    with pytest.raises(RuntimeError, match="no PyTorch counterpart for bert_base_uncased"):
        _workloads.torch_zoo_model("bert_base_uncased", "transformers")
    assert _workloads.torch_unavailable(cfg, "torchvision.models") is None
    assert "transformers.BertModel" in _workloads.torch_unavailable(dict(cfg, name="bert"), "transformers.BertModel")
    assert _workloads.torch_unavailable(_workloads.config("mlp", True), "") is None


def _runs(median, times, check, growth=None, alloc=None):
    return [dict(median_s=m, times_s=times, first_check=check, last_check=check * 0.9, peak_rss_bytes=200 << 20,
                 rss_growth_bytes=growth, alloc_peak_bytes=alloc, reserved_peak_bytes=alloc) for m in median]


def _entry(name, d, t):
    cfg = _workloads.config(name, True)
    return _report.compare({"name": name, "config": cfg, "setup": {},
                            "results": {"deepseek": _report.summarize(d), "torch": _report.summarize(t)}})


def test_report_beside_torch_ratios_spread_and_checks(tmp_path):
    ok = _entry("mlp", _runs([1.0, 2.0], [1.0, 1.0, 2.0, 2.0], 1.386, 10 << 20, 4 << 20),
                _runs([2.0, 2.0], [2.0, 2.0, 2.0, 2.0], 1.38601, 20 << 20))
    d = ok["results"]["deepseek"]
    assert d["median_s"] == 1.5 and d["spread"] == pytest.approx((2.0 - 1.0) / 1.5)  # pooled steps [1,1,1,1,2,2,2,2]
    assert ok["time_ratio"] == 0.75 and ok["run_ratios"] == [0.5, 1.0] and ok["rss_growth_ratio"] == 0.5
    assert ok["check_ok"] and ok["check_rel_diff"] == pytest.approx(0.01 / 1386.01)
    bad = _entry("matmul", _runs([1.0], [1.0], 2.0), _runs([1.0], [1.0], 1.0))
    assert bad["check_ok"] is False and bad["check_rel_diff"] == 1.0
    failed = _entry("conv", [{"error": "RuntimeError: boom"}], [{"error": "no counterpart", "unavailable": True}])
    assert failed["results"]["torch"]["unavailable"]
    assert failed["results"]["deepseek"]["error"] == "RuntimeError: boom" and failed["time_ratio"] is None
    report = {"environment": {"time_utc": "t", "git_head": "abc", "cpu": "cpu", "logical_cpus": 2, "physical_cores": 1,
                              "loadavg_start": 0.1, "os": "os", "python": "3"},
              "config": dict(workloads=["mlp", "matmul", "conv"], threads=1, runs=2, warmup=1, steps=2, quick=True,
                             dtype="float32", seed=0),
              "frameworks": ["deepseek", "torch"], "versions": {"deepseek": {"version": "0.1", "core_sha256": "x"},
                                                                 "torch": {"version": "2.x", "build": "MKL yes"}},
              "workloads": [ok, bad, failed]}
    text = _report.table(report)
    assert "0.75x" in text and "0.50-1.00" in text and "OK (7.2e-06)" in text and "MISMATCH (1.0e+00)" in text
    assert "WARNING matmul" in text and "conv (deepseek): RuntimeError: boom" in text and "torch 2.x (MKL yes)" in text
    row = next([c.strip() for c in line.split("|")] for line in text.splitlines() if line.startswith("| conv2d"))
    assert row[3:5] == ["ERROR", "n/a"]  # deepseek failed; torch has no counterpart
    _report.write_json(report, str(tmp_path / "r.json"))
    assert json.loads((tmp_path / "r.json").read_text())["workloads"][0]["time_ratio"] == 0.75
    if _has_matplotlib():
        _report.write_png(report, str(tmp_path / "r.png"))
        assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"
