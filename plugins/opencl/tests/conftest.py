import os

import pytest
from hypothesis import HealthCheck, settings

# Deterministic like the core's tests/conftest.py: derandomized, bounded, no deadline.
settings.register_profile(
    "opencl-ci",
    derandomize=True,
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "opencl-ci"))


@pytest.fixture(scope="session")
def dev():
    """A device helper over the loaded OpenCL backend, or a skip naming why it cannot run here."""
    import deepseek.backends as backends
    from ocl_helpers import Dev

    status = backends.available().get("opencl", "not found")
    if not status.startswith("available"):
        if os.environ.get("DEEPSEEK_REQUIRE_OPENCL") == "1":
            pytest.fail(f"OpenCL backend required but {status}")
        pytest.skip(f"OpenCL cannot run here ({status})")
    d = Dev(backends.get_backend("opencl"))
    yield d
    d.close()
