"""``pip install "deepseek[ascend]==0.1.0"`` from the wheels in dist/ (``make wheels``) into a
fresh virtual environment: the core and deepseek-ascend come from the wheels (numpy, cffi and
pluggy from the package index), the plugin is discovered, and on a machine without CANN it
reports ascend unavailable with the reason while the CPU keeps working.

Nothing of this checkout is visible there (no PYTHONPATH, no user site; the scripts run outside
the repository). ``make test`` builds the wheels first and sets DEEPSEEK_REQUIRE_WHEELS=1, so a
missing wheel fails there; by hand without wheels the test skips and says how to build them.
``$DEEPSEEK_DIST_DIR`` points it at another folder of wheels."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
VERSION = "0.1.0"  # pinned: the unrelated "deepseek" on the package index must never be chosen


def _dist() -> Path:
    return Path(os.environ.get("DEEPSEEK_DIST_DIR") or ROOT / "dist")


def _run(cmd, env, cwd, timeout=900) -> str:
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, (f"{' '.join(map(str, cmd))} exited {proc.returncode}\n"
                                  f"--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-4000:]}")
    return proc.stdout


def test_deepseek_ascend_installs_from_dist_and_says_why_it_cannot_run(tmp_path):
    found = {name: sorted(_dist().glob(f"{name}-{VERSION}-*.whl")) for name in ("deepseek", "deepseek_ascend")}
    missing = [name for name, paths in found.items() if not paths]
    if missing:
        reason = (f"no {' / '.join(missing)} {VERSION} wheel in {_dist()}; "
                  "build them with `make wheels` (make test does)")
        if os.environ.get("DEEPSEEK_REQUIRE_WHEELS"):
            pytest.fail(reason + " [DEEPSEEK_REQUIRE_WHEELS is set]")
        pytest.skip(reason)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
           and not k.startswith(("ASCEND_", "FAKE_ACL"))}
    env.update(PYTHONNOUSERSITE="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    _run([sys.executable, "-m", "venv", str(tmp_path / "venv")], env, tmp_path)
    python = tmp_path / "venv" / "bin" / "python"
    _run([python, "-m", "pip", "install", "--quiet", "--find-links", str(_dist()), f"deepseek[ascend]=={VERSION}"],
         env, tmp_path)
    out = json.loads(_run([python, "-c", textwrap.dedent("""
        import json, subprocess, sys
        from importlib.metadata import version
        import deepseek, deepseek_ascend, deepseek_ascend._ascend
        out = {"prefix": sys.prefix, "versions": [version("deepseek"), version("deepseek-ascend")],
               "files": [deepseek.__file__, deepseek_ascend.__file__, deepseek_ascend._ascend.__file__],
               "status": deepseek.backends.available()["ascend"], "available": deepseek.ascend.is_available(),
               "count": deepseek.ascend.device_count(), "cpu": (deepseek.ones(3) * 2).tolist()}
        try:
            deepseek.ones(2).to("ascend")
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
    assert status.startswith("unavailable: no CANN: libascendcl.so not found"), status
    assert "source the CANN toolkit's set_env.sh" in status
    reason = status.split(": ", 1)[1]
    assert out["available"] is False and out["count"] == 0
    assert reason in out.get("to", ""), out
    assert f"ascend: {status}" in out["report"], out["report"]
    assert out["cpu"] == [2.0, 2.0, 2.0]
