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


@pytest.fixture(scope="module")
def restore_threads():
    """Gives back the core's thread count after a module whose tests set it."""
    import deepseek

    before = deepseek.get_num_threads()
    yield
    deepseek.set_num_threads(before)


@pytest.fixture(params=[1, 2], ids=["1thread", "2threads"], scope="module")
def threads(request):
    """Runs a module's tests on one thread of the core, then on two (module scope, so that
    hypothesis tests may take it); the count before is given back."""
    import deepseek

    before = deepseek.get_num_threads()
    deepseek.set_num_threads(request.param)
    yield request.param
    deepseek.set_num_threads(before)
