"""End-to-end checks of the basic tensor and autograd path."""
import numpy as np

import deepseek as ds


def test_arithmetic_and_backward():
    x = ds.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = (x * x + 2 * x).sum()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.array([[1, 2], [3, 4]]) + 2)


def test_repr_matches_pytorch_style():
    x = ds.tensor([[1.0, 2.0]], requires_grad=True)
    assert repr(x) == "tensor([[1., 2.]], requires_grad=True)"
    assert repr(ds.tensor([1, 2, 3])) == "tensor([1, 2, 3])"
    assert repr(ds.tensor([1.5, 2.25])) == "tensor([1.5000, 2.2500])"
    assert repr(ds.tensor([1.0], dtype=ds.float64)) == "tensor([1.], dtype=deepseek.float64)"
    assert "grad_fn=<MulBackward0>" in repr(x * 2)


def test_demo_script_trains(tmp_path):
    import runpy
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    out = runpy.run_path(str(root / "examples" / "train_digits.py"))
    acc = out["main"](epochs=10)
    assert acc >= 0.95
