"""No Rust panic crosses into Python: every binding turns one into a RuntimeError (an
Exception, so `except Exception` catches it) naming the call."""
import pytest

import deepseek as ds
from deepseek import _core


def test_a_panic_becomes_a_runtime_error_naming_the_call():
    with pytest.raises(RuntimeError, match=r"_panic_for_test: internal error: boom \(a bug in deepseek"):
        _core._panic_for_test("boom")
    try:
        _core._panic_for_test("again")
    except Exception as exc:  # noqa: BLE001 - the point: a plain Exception handler sees it
        assert isinstance(exc, RuntimeError)
    # the process and the core keep working
    assert (ds.ones(2) + 1).tolist() == [2.0, 2.0]


@pytest.mark.parametrize("shape", [(0, 1, 4, 4), (1, 0, 4, 4), (1, 1, 0, 4), (1, 1, 4, 0), (0, 2, 3, 3)])
@pytest.mark.parametrize("k", [1, 2, 3])
def test_pooling_on_empty_inputs_raises_or_runs_but_never_panics(shape, k):
    F = ds.nn.functional
    for fn in (F.max_pool2d, F.avg_pool2d):
        x = ds.zeros(*shape, requires_grad=True)
        try:
            y = fn(x, k)
            y.sum().backward()
        except (RuntimeError, ValueError, IndexError):
            continue  # a clear error is fine; a PanicException (BaseException) would escape this
        assert x.grad is None or tuple(x.grad.shape) == shape
