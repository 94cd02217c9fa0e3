"""The documented install path, end to end: the wheels in dist/ (``make wheels``) go into a
fresh virtual environment with ``pip install --find-links dist "deepseek[opencl,cuda]==0.1.0"``,
and that environment imports deepseek, discovers the OpenCL plugin and uses the device, and
discovers the CUDA plugin, which says why it cannot run on a machine without an NVIDIA driver
(its NVRTC and nvJitLink dependencies come from the package index).

Nothing from this checkout or the test's own environment is visible there: no
--system-site-packages, no PYTHONPATH, no user site, and the scripts run outside the repository.
``make test`` builds the wheels first and sets DEEPSEEK_REQUIRE_WHEELS=1, so a missing wheel
fails there; run by hand without wheels, the tests skip and say how to build them.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "dist"
VERSION = "0.1.0"  # pinned: PyPI's unrelated "deepseek" (1.0.0) must never be chosen
REQUIREMENT = f"deepseek[opencl,cuda]=={VERSION}"


def _missing_wheels() -> list[str]:
    wanted = {"deepseek": f"deepseek-{VERSION}-*.whl", "deepseek-opencl": f"deepseek_opencl-{VERSION}-*.whl",
              "deepseek-cuda": f"deepseek_cuda-{VERSION}-*.whl"}
    return [name for name, pattern in wanted.items() if not list(DIST.glob(pattern))]


def _clean_env() -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")}
    env["PYTHONNOUSERSITE"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _run(cmd, *, env, cwd, timeout):
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, (
        f"{' '.join(map(str, cmd))} exited {proc.returncode}\n"
        f"--- stdout ---\n{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-4000:]}"
    )
    return proc.stdout


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """A fresh venv with ``deepseek[opencl,cuda]==0.1.0`` installed from dist/; yields (python, env, cwd)."""
    missing = _missing_wheels()
    if missing:
        reason = (f"no {' / '.join(missing)} {VERSION} wheel in {DIST}; "
                  "build them with `make wheels` (`make test` does)")
        if os.environ.get("DEEPSEEK_REQUIRE_WHEELS"):
            pytest.fail(reason + " [DEEPSEEK_REQUIRE_WHEELS is set]")
        pytest.skip(reason)
    tmp = tmp_path_factory.mktemp("packaging")
    env = _clean_env()
    home = tmp / "venv"
    _run([sys.executable, "-m", "venv", str(home)], env=env, cwd=tmp, timeout=300)
    python = home / "bin" / "python"
    _run([python, "-m", "pip", "install", "--quiet", "--find-links", str(DIST), REQUIREMENT],
         env=env, cwd=tmp, timeout=900)
    return python, env, tmp


def _python(venv, code: str) -> str:
    python, env, cwd = venv
    return _run([python, "-c", textwrap.dedent(code)], env=env, cwd=cwd, timeout=300)


def test_pinned_install_gives_our_packages(venv):
    out = json.loads(_python(venv, """
        import json, sys
        from importlib.metadata import version
        import deepseek, deepseek._core, deepseek_opencl, deepseek_cuda, deepseek_cuda._launch
        print(json.dumps({
            "prefix": sys.prefix,
            "deepseek": [version("deepseek"), deepseek.__file__, deepseek._core.__file__],
            "opencl": [version("deepseek-opencl"), deepseek_opencl.__file__],
            "cuda": [version("deepseek-cuda"), deepseek_cuda.__file__, deepseek_cuda._launch.__file__],
            "backends": deepseek.backends.available(),
        }))
    """))
    site = out["prefix"]
    assert out["deepseek"][0] == VERSION and out["opencl"][0] == VERSION and out["cuda"][0] == VERSION, out
    for path in out["deepseek"][1:] + out["opencl"][1:] + out["cuda"][1:]:
        assert path.startswith(site) and "site-packages" in path, (path, site)
        assert not path.startswith(str(ROOT)), f"{path} comes from the checkout, not the wheel"
    assert out["backends"]["cpu"] == "available (built in)"
    status = out["backends"].get("opencl", "not found")
    assert status.split(":")[0] in ("available", "unavailable"), f"deepseek-opencl was installed but: {status}"


def test_installed_opencl_device_round_trip(venv):
    status = _python(venv, "import deepseek; print(deepseek.backends.available().get('opencl', 'not found'))").strip()
    if status.startswith("unavailable"):
        if os.environ.get("DEEPSEEK_REQUIRE_OPENCL") == "1":
            pytest.fail(f"OpenCL backend required but {status}")
        pytest.skip(f"OpenCL cannot run here ({status}); install pocl-opencl-icd and ocl-icd-libopencl1")
    assert status.startswith("available"), status
    # The raw backend round trip, then device tensors through the installed core and plugin.
    used = _python(venv, """
        import deepseek
        be = deepseek.backends.get_backend("opencl")
        assert be.device_count() >= 1
        data = bytes(range(256)) * 64
        p = be.alloc(0, len(data))
        try:
            be.copy_from_host(0, p, data)
            be.synchronize(0)
            assert be.copy_to_host(0, p, len(data)) == data
        finally:
            be.free(0, p)
        t = deepseek.ones(3, device="opencl:0")
        assert t.device == deepseek.device("opencl:0"), t.device
        host = (t * 2).cpu()
        assert str(host.device) == "cpu" and host.tolist() == [2.0, 2.0, 2.0], host
        print("backend+tensor")
    """).strip()
    assert used == "backend+tensor", used


def test_installed_cuda_without_a_driver_says_why_and_the_cpu_works(venv):
    """deepseek[cuda] on a machine without an NVIDIA driver: the plugin is found, reports the
    missing driver everywhere a user looks, and NVRTC from its wheel dependency loads."""
    import ctypes.util

    if ctypes.util.find_library("cuda"):
        pytest.skip("this machine has an NVIDIA driver (libcuda)")
    out = json.loads(_python(venv, """
        import json, subprocess, sys
        import deepseek
        from deepseek_cuda import nvrtc
        out = {"status": deepseek.backends.available()["cuda"], "available": deepseek.cuda.is_available(),
               "count": deepseek.cuda.device_count(), "nvrtc": list(nvrtc.nvrtc_version()),
               "nvrtc_path": nvrtc.nvrtc()._name, "cpu": (deepseek.ones(3) * 2).tolist()}
        try:
            deepseek.ones(2).to("cuda")
        except RuntimeError as exc:
            out["to"] = str(exc)
        out["report"] = subprocess.run([sys.executable, "-m", "deepseek.backends"], capture_output=True, text=True,
                                       check=True).stdout
        print(json.dumps(out))
    """))
    reason = "no NVIDIA driver: libcuda.so.1 not found"
    assert out["status"] == f"unavailable: {reason}", out
    assert out["available"] is False and out["count"] == 0
    assert reason in out.get("to", ""), out
    assert f"cuda: unavailable: {reason}" in out["report"]
    assert out["cpu"] == [2.0, 2.0, 2.0]
    assert out["nvrtc"][0] == 12 and out["nvrtc_path"].startswith(str(venv[0].parents[1])), out["nvrtc_path"]
