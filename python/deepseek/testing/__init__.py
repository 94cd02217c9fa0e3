"""The backend conformance kit: hypothesis strategies for tensors, and a suite that fuzzes
every primitive op, forward and backward, on a device against the CPU core.

A backend's test suite starts with one line::

    # tests/test_conformance.py of deepseek-mydev
    from deepseek.testing import install_conformance_tests
    install_conformance_tests(globals(), "mydev:0", xfail={"sort": "stable sort not done yet"})

which defines one pytest test per primitive op (``test_conformance_add`` ...). Each draws
inputs with the strategies below (dtypes, shapes including 0-size and broadcast ones, strided,
transposed, flipped and expanded views, special values), runs the op through the public API
on the CPU and on the device, and compares values (exactly for integers and bools, within a
per-dtype tolerance for floats, NaN where NaN), then compares the gradients of every float
input. An op in ``xfail`` is expected to fail and is reported as such; one that passes anyway
is reported too (``xpass``), so the list stays honest.

The strategies are public for a backend's own property tests:

    >>> from deepseek.testing import strategies as s
    >>> s.tensors(dtype="float32")  # doctest: +SKIP
"""
from __future__ import annotations

from . import strategies  # noqa: F401
from .conformance import OPS, assert_close, check_op, install_conformance_tests  # noqa: F401


def available_devices() -> list:
    """``"cpu"`` and device 0 of every backend that is available here: the devices one test
    body should run on (DESIGN: one test body, many devices).

        >>> available_devices()[0]
        'cpu'
    """
    from .. import backends

    out = ["cpu"]
    for name, status in backends.available().items():
        if name != "cpu" and status.startswith("available"):
            out.append(f"{name}:0")
    return out
