"""The process-wide switches at the top level: each getter returns what its setter stored, with
PyTorch's defaults and argument errors; the default device reaches the factory functions."""
from __future__ import annotations

import pytest

import deepseek


@pytest.fixture
def restore():
    yield
    deepseek.use_deterministic_algorithms(False)
    deepseek.set_float32_matmul_precision("highest")
    deepseek.set_default_device(None)
    deepseek.set_warn_always(False)
    deepseek.set_anomaly_enabled(False)


def test_deterministic_switches(restore):
    assert deepseek.are_deterministic_algorithms_enabled() is False
    assert deepseek.get_deterministic_debug_mode() == 0
    deepseek.use_deterministic_algorithms(True, warn_only=True)
    assert deepseek.are_deterministic_algorithms_enabled() and deepseek.is_deterministic_algorithms_warn_only_enabled()
    assert deepseek.get_deterministic_debug_mode() == 1
    deepseek.set_deterministic_debug_mode("error")
    assert deepseek.get_deterministic_debug_mode() == 2 and not deepseek.is_deterministic_algorithms_warn_only_enabled()
    deepseek.set_deterministic_debug_mode(0)
    assert not deepseek.are_deterministic_algorithms_enabled()
    with pytest.raises(TypeError, match="mode"):
        deepseek.use_deterministic_algorithms("yes")
    with pytest.raises(RuntimeError, match="debug_mode"):
        deepseek.set_deterministic_debug_mode("loud")
    with pytest.raises(RuntimeError, match="0, 1, or 2"):
        deepseek.set_deterministic_debug_mode(5)


def test_matmul_precision(restore):
    assert deepseek.get_float32_matmul_precision() == "highest"
    deepseek.set_float32_matmul_precision("medium")
    assert deepseek.get_float32_matmul_precision() == "medium"
    with pytest.warns(UserWarning, match="no effect"):
        deepseek.set_float32_matmul_precision("fastest")
    assert deepseek.get_float32_matmul_precision() == "medium"


def test_default_device_reaches_factories(restore):
    assert deepseek.get_default_device() == deepseek.device("cpu")
    deepseek.set_default_device("cpu")
    assert deepseek.zeros(2).device == deepseek.device("cpu")
    deepseek.set_default_device(None)
    assert deepseek.get_default_device().type == "cpu"
    with pytest.raises((RuntimeError, ValueError)):
        deepseek.set_default_device("nosuchdevice")
    # a backend that cannot start is refused at set time, and the CPU stays the default
    assert deepseek.get_default_device().type == "cpu" and deepseek.ones(1).device.type == "cpu"


def test_warn_threads_denormal_anomaly(restore):
    assert deepseek.is_warn_always_enabled() is False
    deepseek.set_warn_always(True)
    assert deepseek.is_warn_always_enabled() is True
    assert deepseek.get_num_interop_threads() >= 1
    deepseek.set_num_interop_threads(3)
    assert deepseek.get_num_interop_threads() == 3
    for bad in (0, -2, 1.5, True):
        with pytest.raises(RuntimeError, match="positive integer"):
            deepseek.set_num_interop_threads(bad)
    assert deepseek.set_flush_denormal(True) is False and deepseek.set_flush_denormal(False) is True
    assert deepseek.is_anomaly_enabled() is False and deepseek.is_anomaly_check_nan_enabled() is True
    deepseek.set_anomaly_enabled(True, check_nan=False)
    assert deepseek.is_anomaly_enabled() and not deepseek.is_anomaly_check_nan_enabled()


def test_autocast_and_inference_queries():
    assert not deepseek.is_autocast_enabled() and not deepseek.is_autocast_enabled("cpu")
    assert deepseek.get_autocast_dtype("cpu") == deepseek.bfloat16
    assert deepseek.get_autocast_dtype("cuda") == deepseek.float16
    with deepseek.autocast("cpu", dtype=deepseek.float16):
        assert deepseek.is_autocast_enabled("cpu")
        assert not deepseek.is_autocast_enabled()   # no argument: CUDA, as PyTorch's legacy form
        assert deepseek.get_autocast_dtype("cpu") == deepseek.float16
        with deepseek.autocast("cpu", enabled=False):
            assert not deepseek.is_autocast_enabled("cpu")
        assert deepseek.is_autocast_enabled("cpu")
    assert not deepseek.is_autocast_enabled("cpu")
    with pytest.raises(RuntimeError, match="device type"):
        deepseek.is_autocast_enabled("foo")
    assert not deepseek.is_inference_mode_enabled()
    with deepseek.inference_mode():
        assert deepseek.is_inference_mode_enabled() and not deepseek.is_grad_enabled()
        with deepseek.inference_mode(False):
            assert not deepseek.is_inference_mode_enabled()
        assert deepseek.is_inference_mode_enabled()
        t = deepseek.ones(2)
    assert not deepseek.is_inference_mode_enabled() and deepseek.is_grad_enabled()
    assert t.is_inference() is False
