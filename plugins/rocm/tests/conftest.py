"""Fixtures of deepseek-rocm's tests: the fake HIP runtime (fake_runtime/fake_hip.c, built here
with the system C compiler), the installed hipRTC that compiles the kernels the fake loads, and
a runner for scripts against the fake in fresh interpreters, so the runtime a test opens never
leaks into another test or into the core's tests.

Without ROCm's compiler on the machine the tests that need it skip and say why, or fail with
DEEPSEEK_REQUIRE_HIP=1 (``make test`` installs Debian's hipcc and sets it)."""
from __future__ import annotations

import importlib.util

import pytest

from rocm_helpers import INSTALL, FakeRunner, build_fake_rocblas, build_fake_runtime, need_hip


@pytest.fixture(scope="session")
def plugin_built():
    if importlib.util.find_spec("deepseek_rocm") is None or importlib.util.find_spec("deepseek_rocm._rocm") is None:
        pytest.fail("deepseek-rocm is not installed with its C module: pip install -e plugins/rocm (make test does)")


@pytest.fixture(scope="session")
def hiprtc_path(plugin_built):
    """The installed hipRTC (its library's path), which the fake runtime's tests compile with."""
    from deepseek_rocm import hiprtc

    try:
        return hiprtc.library_path()
    except hiprtc.NotFound as exc:
        need_hip(f"{exc}; {INSTALL}")


@pytest.fixture(scope="session")
def fake_runtime(plugin_built, tmp_path_factory):
    return build_fake_runtime(tmp_path_factory.mktemp("fake_hip"))


@pytest.fixture(scope="session")
def fake_rocblas(fake_runtime):
    """The fake librocblas.so (its GEMM runs on the fake runtime's host memory)."""
    return build_fake_rocblas(fake_runtime.parent)


@pytest.fixture(scope="session")
def kernel_cache(tmp_path_factory):
    """One hipRTC cache for the session's scripts: each program compiles once."""
    return tmp_path_factory.mktemp("rocm_cache")


@pytest.fixture
def fake(fake_runtime, hiprtc_path, kernel_cache, tmp_path):
    """A :class:`rocm_helpers.FakeRunner` over the fake runtime."""
    return FakeRunner(fake_runtime, hiprtc_path, kernel_cache, tmp_path)


@pytest.fixture
def fake_no_compiler(fake_runtime, kernel_cache, tmp_path):
    """The runner where no kernel is compiled (memory, copies, errors): hipRTC not required."""
    return FakeRunner(fake_runtime, "", kernel_cache, tmp_path)
