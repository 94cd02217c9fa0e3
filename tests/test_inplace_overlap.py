"""In-place and out= writes never depend on the order of element writes: a destination whose
elements share memory is refused, a source overlapping the destination is read as it was
before the write, and filling never computes with the old values (NaN/inf). The same body
runs on the CPU and on every available plugin device."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import deepseek as ds
from deepseek.testing import available_devices

DEVICES = available_devices()

OVERLAP = r"more than one element of the written-to tensor .* refers to a single memory location"


@pytest.mark.parametrize("device", DEVICES)
def test_expanded_destinations_are_refused(device):
    b = ds.tensor([[1.0], [2.0]], device=device)
    e = b.expand(2, 3)
    for name, call in [("add_", lambda: e.add_(1)), ("mul_", lambda: e.mul_(ds.ones(2, 3, device=device))),
                       ("copy_", lambda: e.copy_(ds.ones(2, 3, device=device))),
                       ("exp_", lambda: e.exp_()), ("clamp_", lambda: e.clamp_(0, 1))]:
        with pytest.raises(RuntimeError, match=OVERLAP):
            call()
    assert b.cpu().tolist() == [[1.0], [2.0]], "a refused write left the tensor unchanged"
    # filling is idempotent: PyTorch fills an expanded tensor, and so do we
    e.fill_(5.0)
    assert b.cpu().tolist() == [[5.0], [5.0]]
    e.zero_()
    assert b.cpu().tolist() == [[0.0], [0.0]]
    b.copy_(ds.tensor([[1.0], [2.0]], device=device))
    out = ds.empty(3, device=device).expand(2, 3)  # out= into an overlapping tensor
    with pytest.raises(RuntimeError, match=OVERLAP):
        ds.add(ds.ones(2, 3, device=device), 1, out=out)


@pytest.mark.parametrize("device", DEVICES)
def test_partially_overlapping_sources_are_read_before_the_write(device):
    a = ds.arange(4.0, device=device).reshape(2, 2)
    a.add_(a.t())
    assert a.cpu().tolist() == [[0.0, 3.0], [3.0, 6.0]]
    a = ds.arange(4.0, device=device).reshape(2, 2)
    a.copy_(a.t())
    assert a.cpu().tolist() == [[0.0, 2.0], [1.0, 3.0]]
    a = ds.arange(6.0, device=device)
    a[1:].copy_(a[:-1])
    assert a.cpu().tolist() == [0.0, 0.0, 1.0, 2.0, 3.0, 4.0]
    a = ds.arange(6.0, device=device)
    a[:-1].copy_(a[1:])
    assert a.cpu().tolist() == [1.0, 2.0, 3.0, 4.0, 5.0, 5.0]
    a = ds.arange(4.0, device=device).reshape(2, 2)
    a.sub_(a.flip(0))
    assert a.cpu().tolist() == [[-2.0, -2.0], [2.0, 2.0]]
    a = ds.arange(4.0, device=device)
    a.add_(a)  # the very same elements: each read before its own write
    assert a.cpu().tolist() == [0.0, 2.0, 4.0, 6.0]


@pytest.mark.parametrize("device", DEVICES)
def test_fill_and_zero_ignore_old_values(device):
    x = ds.tensor([float("nan"), float("inf"), -float("inf"), 1.0], device=device)
    x.zero_()
    assert x.cpu().tolist() == [0.0, 0.0, 0.0, 0.0]
    x = ds.tensor([float("nan"), float("inf")], device=device)
    x.fill_(2.5)
    assert x.cpu().tolist() == [2.5, 2.5]
    big = ds.tensor([0], dtype=ds.int64, device=device)
    big.fill_(2 ** 62 + 3)  # integers are filled exactly, never through a float
    assert big.cpu().tolist() == [2 ** 62 + 3]
    w = ds.tensor([float("nan"), 1.0], requires_grad=True)
    y = w * 1
    y.fill_(3.0)
    y.sum().backward()
    assert y.tolist() == [3.0, 3.0] and w.grad.tolist() == [0.0, 0.0]


_VIEWS = ["same", "t", "flip0", "flip1", "shift_row", "expand_row"]


def _view(base, kind):
    if kind == "same":
        return base
    if kind == "t":
        return base.t()
    if kind == "flip0":
        return base.flip(0)
    if kind == "flip1":
        return base.flip(1)
    if kind == "shift_row":
        return base[1:].reshape(-1)[: base.shape[1] * (base.shape[0] - 1)].reshape(base.shape[0] - 1, base.shape[1])
    return base[:1].expand(base.shape[0], base.shape[1])


@settings(max_examples=40)
@given(n=st.integers(1, 4), src=st.sampled_from(_VIEWS), op=st.sampled_from(["add_", "sub_", "mul_", "copy_"]),
       device=st.sampled_from(DEVICES))
def test_any_overlap_matches_the_out_of_place_result(n, src, op, device):
    ref = np.arange(float(n * n)).reshape(n, n)
    a = ds.tensor(ref, device=device)
    s = _view(a, src)
    s_ref = _view(ds.tensor(ref), src).numpy().copy()  # the source's values before the write
    dst, dst_ref = (a, ref.copy()) if src != "shift_row" else (a[: n - 1], ref[: n - 1].copy())
    getattr(dst, op)(s)
    want = {"add_": dst_ref + s_ref, "sub_": dst_ref - s_ref, "mul_": dst_ref * s_ref, "copy_": np.broadcast_to(s_ref, dst_ref.shape)}[op]
    np.testing.assert_array_equal(dst.cpu().numpy(), want)


@pytest.mark.parametrize("device", DEVICES)
def test_fill_values_that_overflow_the_dtype_raise(device):
    over = r"value cannot be converted to type {} without overflow"
    with pytest.raises(RuntimeError, match=over.format("int8_t")):
        ds.zeros(2, dtype=ds.int8, device=device).fill_(1000)
    with pytest.raises(RuntimeError, match=over.format("float")):
        ds.zeros(2, device=device).fill_(1e300)
    with pytest.raises(RuntimeError, match=over.format("int64_t")):
        ds.zeros(2, dtype=ds.int64, device=device).fill_(float("nan"))
    with pytest.raises(RuntimeError, match=over.format("int8_t")):
        ds.zeros(2, dtype=ds.int8, device=device).masked_fill(ds.tensor([True, False], device=device), 300)
    # what PyTorch lets through: inf into floats, anything into bool, small negatives into uint8
    assert ds.zeros(1, device=device).fill_(float("inf")).cpu().tolist() == [float("inf")]
    assert ds.zeros(1, dtype=ds.bool, device=device).fill_(7).cpu().tolist() == [True]
    assert ds.zeros(1, dtype=ds.uint8, device=device).fill_(-1).cpu().tolist() == [255]
