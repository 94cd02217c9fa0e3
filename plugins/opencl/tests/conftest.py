import os

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.errors import InvalidArgument

# The core's deterministic profile (tests/conftest.py): derandomized, bounded, no deadline.
# Registered here too, with the same settings, so these tests behave the same alone or in one
# session with the core's.
try:
    settings.get_profile("ci")
except InvalidArgument:
    settings.register_profile(
        "ci",
        derandomize=True,
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
        print_blob=True,
    )
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def _require_opencl():
    """Skips naming why OpenCL cannot run here (a failure with DEEPSEEK_REQUIRE_OPENCL=1)."""
    import deepseek.backends as backends

    status = backends.available().get("opencl", "not found")
    if not status.startswith("available"):
        if os.environ.get("DEEPSEEK_REQUIRE_OPENCL") == "1":
            pytest.fail(f"OpenCL backend required but {status}")
        pytest.skip(f"OpenCL cannot run here ({status})")
    return backends


@pytest.fixture(scope="session")
def opencl_device():
    """The device name "opencl:0", or a skip naming why OpenCL cannot run here."""
    _require_opencl()
    return "opencl:0"


@pytest.fixture(scope="session")
def dev():
    """A device helper over the loaded OpenCL backend, or a skip naming why it cannot run here."""
    from ocl_helpers import Dev

    d = Dev(_require_opencl().get_backend("opencl"))
    yield d
    d.close()
