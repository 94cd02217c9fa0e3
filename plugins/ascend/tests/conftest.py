"""Fixtures of the Ascend plugin's tests: the fake CANN (tests/fake_cann/*.c, built here with the
system C compiler into a toolkit layout found through ASCEND_HOME_PATH), a variant without some
operators (an older CANN), and a runner for scripts that use them in a fresh interpreter, so the
libraries a test opens never leak into another test or into the core's tests."""
from __future__ import annotations

import importlib.util

import pytest

from ascend_helpers import HIDDEN, build_fake_cann, run_script


@pytest.fixture(scope="session")
def fake_cann(tmp_path_factory):
    """The ASCEND_HOME_PATH of the fake CANN built for this session."""
    if importlib.util.find_spec("deepseek_ascend") is None or importlib.util.find_spec("deepseek_ascend._ascend") is None:
        pytest.fail("deepseek-ascend is not installed with its C table: pip install -e plugins/ascend (make test does)")
    return build_fake_cann(tmp_path_factory.mktemp("cann"))


@pytest.fixture(scope="session")
def older_cann(tmp_path_factory):
    """A fake CANN whose libopapi.so lacks :data:`HIDDEN`."""
    return build_fake_cann(tmp_path_factory.mktemp("cann_older"), hide=HIDDEN)


@pytest.fixture
def run_fake(fake_cann, tmp_path):
    """``run_fake(script, home=None, expect_fail=False, **env) -> (result, calls)``: runs
    ``script`` in a fresh interpreter over the fake CANN (or the one at ``home``); ``result``
    is what the script passed to ``emit(...)``, ``calls`` the fake's log."""

    def run(script: str, home=None, expect_fail: bool = False, **env):
        return run_script(script, home or fake_cann, tmp_path, expect_fail=expect_fail, **env)

    return run
