"""A plugin device answers as the CPU does: the same errors for integer division by zero and
negative integer powers (refused for a number exponent, computed for a tensor one), gradients that must live where their tensor lives, and an oversize
allocation counted as out of memory. Each test runs on the CPU and on every available device."""
import pytest

import deepseek as ds
from deepseek.testing import available_devices

DEVICES = available_devices()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [ds.int32, ds.int64, ds.uint8])
@pytest.mark.parametrize("op", ["floor_divide", "fmod", "remainder"])
def test_integer_division_by_zero_raises_everywhere(device, dtype, op):
    a = ds.tensor([7, 8, 9], dtype=dtype, device=device)
    b = ds.tensor([1, 0, 3], dtype=dtype, device=device)
    with pytest.raises(RuntimeError, match=f"{op}: ZeroDivisionError"):
        getattr(ds, op)(a, b)
    ok = getattr(ds, op)(a, ds.tensor([2, 3, 4], dtype=dtype, device=device))
    assert ok.cpu().tolist() == getattr(ds, op)(a.cpu(), ds.tensor([2, 3, 4], dtype=dtype)).tolist()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [ds.int8, ds.int16, ds.int32, ds.int64])
def test_negative_integer_powers_agree_everywhere(device, dtype):
    # as PyTorch: a negative Python-number exponent of an integer tensor is refused; a tensor
    # exponent computes, 1 and -1 keeping their magnitude and every other base giving 0
    a = ds.tensor([2, 3, 1, -1, -1, 0, -2], dtype=dtype, device=device)
    with pytest.raises(RuntimeError, match="integers to negative integer powers are not allowed"):
        ds.pow(a, -1)
    with pytest.raises(RuntimeError, match="integers to negative integer powers are not allowed"):
        a.clone().pow_(-2)
    e = ds.tensor([-1, -2, -5, -3, -4, 1, -1], dtype=dtype, device=device)
    assert ds.pow(a, e).cpu().tolist() == [0, 0, 1, -1, 1, 0, 0]
    assert (a ** e).dtype == dtype
    assert ds.pow(a, ds.tensor([2, 0, 3, 3, 2, 5, 3], dtype=dtype, device=device)).cpu().tolist() == [4, 1, 1, -1, 1, 0, -8]
    assert ds.pow(a.to(ds.float32), -1).cpu().tolist()[:2] == [0.5, pytest.approx(1 / 3)]  # float: no refusal
    u = ds.tensor([2, 3], dtype=ds.uint8, device=device)  # unsigned exponents are never negative
    assert ds.pow(u, ds.tensor([255, 1], dtype=ds.uint8, device=device)).cpu().tolist() == [0, 3]


@pytest.mark.parametrize("device", DEVICES)
def test_assigned_gradients_must_match_the_tensor(device):
    p = ds.zeros(3, requires_grad=True, device=device)
    with pytest.raises(RuntimeError, match="assign a gradient with dtype 'float64' to a tensor with dtype 'float32'"):
        p.grad = ds.zeros(3, dtype=ds.float64, device=device)
    with pytest.raises(RuntimeError, match="different size"):
        p.grad = ds.zeros(4, device=device)
    p.grad = ds.ones(3, device=device)
    assert p.grad.cpu().tolist() == [1.0, 1.0, 1.0]
    if device != "cpu":
        with pytest.raises(RuntimeError, match=f"gradient on device 'cpu' to a tensor on device '{device}'"):
            p.grad = ds.ones(3)


@pytest.mark.parametrize("device", DEVICES)
def test_in_place_results_that_cannot_be_cast_back_raise(device):
    i = ds.tensor([1, 2, 3], device=device)
    for call in (lambda: i.exp_(), lambda: i.sqrt_(), lambda: i.div_(2), lambda: i.mul_(0.5)):
        with pytest.raises(RuntimeError, match="can't be cast to the desired output type"):
            call()
    assert i.cpu().tolist() == [1, 2, 3]


@pytest.mark.skipif("opencl:0" not in DEVICES, reason="no OpenCL device here")
def test_an_oversize_device_allocation_is_an_out_of_memory_error():
    before = ds.memory.stats("opencl:0")["num_ooms"]
    with pytest.raises(MemoryError, match="out of memory"):
        ds.empty(1 << 60, dtype=ds.uint8, device="opencl:0")
    assert ds.memory.stats("opencl:0")["num_ooms"] == before + 1
    assert (ds.ones(2, device="opencl:0") + 1).cpu().tolist() == [2.0, 2.0]
