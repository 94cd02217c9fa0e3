"""``pip install "deepseek[rocm]==0.1.0"`` from the wheels in dist/ (``make wheels``) into a
fresh virtual environment: the core and deepseek-rocm come from the wheels (numpy, cffi and
pluggy from the package index), the plugin is discovered, and on a machine without an AMD GPU
it reports rocm unavailable with the reason while the CPU keeps working.

Nothing of this checkout is visible there (no PYTHONPATH, no user site; the scripts run outside
the repository). ``make test`` builds the wheels first and sets DEEPSEEK_REQUIRE_WHEELS=1, so a
missing wheel fails there; by hand without wheels the test skips and says how to build them.
``$DEEPSEEK_DIST_DIR`` points it at another folder of wheels."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
VERSION = "0.1.0"  # pinned: the unrelated "deepseek" on the package index must never be chosen


def _dist() -> Path:
    return Path(os.environ.get("DEEPSEEK_DIST_DIR") or ROOT / "dist")


def _wheels() -> dict:
    """The core's and the plugin's wheels, or fails/skips saying what is missing."""
    found = {name: sorted(_dist().glob(f"{name}-{VERSION}-*.whl")) for name in ("deepseek", "deepseek_rocm")}
    missing = [name for name, paths in found.items() if not paths]
    if missing:
        reason = (f"no {' / '.join(missing)} {VERSION} wheel in {_dist()}; "
                  "build them with `make wheels` (make test does)")
        if os.environ.get("DEEPSEEK_REQUIRE_WHEELS"):
            pytest.fail(reason + " [DEEPSEEK_REQUIRE_WHEELS is set]")
        pytest.skip(reason)
    return {name: paths[-1] for name, paths in found.items()}


def _run(cmd, env, cwd, timeout=900) -> str:
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, (f"{' '.join(map(str, cmd))} exited {proc.returncode}\n"
                                  f"--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-4000:]}")
    return proc.stdout


def test_deepseek_rocm_installs_from_dist_and_says_why_it_cannot_run(tmp_path):
    wheels = _wheels()
    with zipfile.ZipFile(wheels["deepseek"]) as whl:  # the host layer ships in the core's wheel
        assert "deepseek/backends/gpu/csrc/dsg_host.c" in whl.namelist(), (
            f"{wheels['deepseek'].name} has no deepseek/backends/gpu: rebuild it with `make wheels`")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
           and not k.startswith(("DEEPSEEK_ROCM", "FAKE_HIP"))}
    env.update(PYTHONNOUSERSITE="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    _run([sys.executable, "-m", "venv", str(tmp_path / "venv")], env, tmp_path)
    python = tmp_path / "venv" / "bin" / "python"
    _run([python, "-m", "pip", "install", "--quiet", "--find-links", str(_dist()), f"deepseek[rocm]=={VERSION}"],
         env, tmp_path)
    out = json.loads(_run([python, "-c", textwrap.dedent("""
        import json, subprocess, sys
        from importlib.metadata import version
        import deepseek, deepseek_rocm, deepseek_rocm._rocm
        out = {"prefix": sys.prefix, "versions": [version("deepseek"), version("deepseek-rocm")],
               "files": [deepseek.__file__, deepseek_rocm.__file__, deepseek_rocm._rocm.__file__],
               "status": deepseek.backends.available()["rocm"], "available": deepseek.rocm.is_available(),
               "count": deepseek.rocm.device_count(), "cpu": (deepseek.ones(3) * 2).tolist()}
        try:
            deepseek.ones(2).to("rocm")
        except RuntimeError as exc:
            out["to"] = str(exc)
        out["report"] = subprocess.run([sys.executable, "-m", "deepseek.backends"], capture_output=True, text=True,
                                       check=True).stdout
        print(json.dumps(out))
    """)], env, tmp_path))
    assert out["versions"] == [VERSION, VERSION]
    for path in out["files"]:
        assert path.startswith(out["prefix"]) and "site-packages" in path and not path.startswith(str(ROOT)), path
    status = out["status"]
    assert re.fullmatch(r"unavailable: (no ROCm runtime: libamdhip64\.so not found in .+ or the loader path.*"
                        r"|no AMD GPU: the ROCm runtime \S+ \(HIP \d+\.\d+\) sees no device \(.+\))", status), status
    reason = status.split(": ", 1)[1]
    assert out["available"] is False and out["count"] == 0
    assert reason in out.get("to", ""), out
    assert f"rocm: {status}" in out["report"], out["report"]
    assert out["cpu"] == [2.0, 2.0, 2.0]
