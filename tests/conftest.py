import os
import sys

import pytest
from hypothesis import HealthCheck, settings

# CI is deterministic: derandomized, bounded, no deadline. A red run always means a real bug.
settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    print_blob=True,
)
settings.register_profile("dev", max_examples=200, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def plugin_dir(tmp_path):
    """A folder on sys.path for the backend tests' fake distributions (``backend_fakes.py``);
    backend discovery is reset around the test."""
    from deepseek import backends

    sys.path.insert(0, str(tmp_path))
    before = set(sys.modules)
    backends.refresh()
    yield tmp_path
    sys.path.remove(str(tmp_path))
    for mod in set(sys.modules) - before:
        if getattr(sys.modules[mod], "__file__", "") and str(tmp_path) in sys.modules[mod].__file__:
            del sys.modules[mod]
    backends.refresh()
