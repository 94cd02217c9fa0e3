"""Fixtures of the CUDA plugin's tests: the fake driver (tests/fake_driver/fake_cuda.c, built
here with the system C compiler) and a runner for scripts that use it in a fresh interpreter,
so the driver a test opens never leaks into another test or into the core's tests."""
from __future__ import annotations

import importlib.util

import pytest

from cuda_helpers import build_fake_driver


@pytest.fixture(scope="session")
def fake_driver(tmp_path_factory):
    """The path of the fake libcuda built for this session."""
    if importlib.util.find_spec("deepseek_cuda") is None or importlib.util.find_spec("deepseek_cuda._launch") is None:
        pytest.fail("deepseek-cuda is not installed with its C table: pip install -e plugins/cuda (make test does)")
    return build_fake_driver(tmp_path_factory.mktemp("fake_cuda"))


@pytest.fixture(scope="session")
def kernel_cache(tmp_path_factory):
    """One NVRTC cache for the session's scripts: each program compiles once."""
    return tmp_path_factory.mktemp("cuda_cache")


@pytest.fixture
def run_fake(fake_driver, tmp_path, kernel_cache):
    """``run_fake(script, **env) -> (result, log)``: runs ``script`` in a fresh interpreter with
    the fake driver as libcuda; ``result`` is what the script passed to ``emit(...)`` (JSON),
    ``log`` the driver's calls (:class:`cuda_helpers.Call` list)."""
    from cuda_helpers import run_script

    def run(script: str, expect_fail: bool = False, **env):
        env.setdefault("DEEPSEEK_CUDA_CACHE_DIR", kernel_cache)
        return run_script(script, fake_driver, tmp_path, expect_fail=expect_fail, **env)

    return run
