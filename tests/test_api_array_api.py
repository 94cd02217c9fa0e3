"""``x.__array_namespace__()`` (the Array API 2023.12 names and keywords) against NumPy 2's
namespace, which follows the same standard."""
from __future__ import annotations

import numpy as np
import pytest

import deepseek as ds

xp = ds.ones(1).__array_namespace__()
A = np.random.default_rng(0).normal(size=(3, 4))


def close(t, ref):
    np.testing.assert_allclose(np.asarray(t.numpy() if isinstance(t, ds.Tensor) else t, dtype=np.float64),
                               np.asarray(ref, dtype=np.float64), rtol=1e-12, atol=1e-12)


def test_namespace_identity_and_version():
    assert xp is ds.array_api and xp.__array_api_version__ == "2023.12"
    assert ds.zeros(2).__array_namespace__(api_version="2022.12") is xp
    with pytest.raises(ValueError):
        ds.zeros(2).__array_namespace__(api_version="1999.01")
    info = xp.__array_namespace_info__()
    assert info.default_dtypes()["indexing"] == xp.int64 and "float64" in info.dtypes(kind="real floating")


@pytest.mark.parametrize("name,kwargs", [
    ("sum", dict(axis=1)), ("sum", dict(axis=(0, 1), keepdims=True)), ("prod", dict(axis=0)), ("mean", dict(axis=1)),
    ("max", dict(axis=0, keepdims=True)), ("min", dict()), ("var", dict(axis=1, correction=1)),
    ("std", dict(axis=0, correction=0)), ("argmax", dict(axis=1)), ("argmin", dict(axis=0, keepdims=True)),
    ("cumulative_sum", dict(axis=1, include_initial=True)), ("sort", dict(axis=0)),
    ("argsort", dict(axis=1)), ("flip", dict(axis=1)), ("roll", dict(shift=2, axis=1)),
    ("expand_dims", dict(axis=1)), ("matrix_transpose", dict()), ("count_nonzero", dict(axis=1)),
])
def test_reductions_and_manipulation_match_numpy(name, kwargs):
    a = np.round(A, 1)
    got = getattr(xp, name)(ds.tensor(a, dtype=ds.float64), **kwargs)
    ref = getattr(np, name)(a, **kwargs)
    close(got, ref)


def test_creation_dtypes_and_sets():
    close(xp.eye(3, 5, k=2), np.eye(3, 5, k=2))
    close(xp.linspace(0, 1, 5, endpoint=False, dtype=xp.float64), np.linspace(0, 1, 5, endpoint=False))
    assert xp.linspace(0, 1, 5).dtype == xp.float32  # the default real floating dtype
    close(xp.sort(ds.tensor(A), axis=0, descending=True), np.flip(np.sort(A, axis=0), axis=0))
    close(xp.arange(2, 11, 3), np.arange(2, 11, 3))
    assert xp.result_type(xp.int8, xp.uint8) == xp.int16 and xp.result_type(xp.int32, xp.float32, 1.0) == xp.float32
    assert xp.can_cast(xp.int8, xp.int32) and not xp.can_cast(xp.float64, xp.int64)
    assert xp.isdtype(xp.float32, ("integral", "real floating")) and not xp.isdtype(xp.bool, "numeric")
    x = ds.tensor([3, 1, 3, 2, 1, 1])
    r = xp.unique_all(x)
    n = np.unique_all(np.array([3, 1, 3, 2, 1, 1]))
    for f in ("values", "indices", "inverse_indices", "counts"):
        assert getattr(r, f).tolist() == getattr(n, f).tolist()
    assert xp.unique_counts(x).counts.tolist() == [3, 1, 2]
    a = ds.tensor(A)
    assert xp.astype(a, xp.float32).dtype == xp.float32 and xp.astype(a, xp.float64, copy=False) is a
    close(xp.concat([a, a], axis=None), np.concat([A, A], axis=None))
    close(xp.stack(list(xp.unstack(a, axis=1)), axis=1), A)
    close(xp.take(a, ds.tensor([2, 0]), axis=1), np.take(A, [2, 0], axis=1))
    close(xp.vecdot(a, a), np.vecdot(A, A))
    close(xp.tensordot(a, a.mT, axes=1), np.tensordot(A, A.T, axes=1))
    close(xp.clip(a, min=-0.5, max=0.5), np.clip(A, -0.5, 0.5))
    close(xp.squeeze(xp.ones((1, 3, 1)), axis=(0, 2)), np.ones(3))
    with pytest.raises(ValueError):
        xp.squeeze(xp.ones((2, 3)), axis=0)
    close(xp.searchsorted(ds.tensor([1.0, 2.0, 3.0]), ds.tensor([2.0]), side="right"), [2])
