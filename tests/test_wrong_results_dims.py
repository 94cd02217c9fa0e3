"""Issue 10 ("no silent wrong results"), the classes fixed in the functional API's arguments
(indexing and narrow dtypes: test_wrong_results_ops.py):

- class 8: every dim argument goes through one range check (PyTorch's IndexError and message);
- class 10: split/chunk/tensor_split/unbind follow PyTorch's rules at the edges instead of
  leaking Python errors;

and more of each class, found nearby. References are NumPy in float64.
"""
from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import deepseek as ds
from deepseek.testing import available_devices
from ops_property_cases import (
    _np_softmax, check, layouts, make, nonempty_shapes as nonempty, seeds, small_shapes,
)

DEVICES = available_devices()

DIM_MESSAGE = r"Dimension out of range \(expected to be in range of \[{lo}, {hi}\], but got {d}\)"


# ================================================================ class 8: dim arguments

def _dims_err(d, n):
    lo, hi = -max(n, 1), max(n, 1) - 1
    return DIM_MESSAGE.format(lo=lo, hi=hi, d=d)


def test_out_of_range_dims_raise_index_error():
    x = ds.ones(2, 3)
    for f in [lambda: ds.movedim(x, 2, 0), lambda: ds.movedim(x, 0, -3), lambda: ds.flatten(x, 3),
              lambda: ds.flatten(x, 0, 2), lambda: ds.unflatten(x, 2, (3,)), lambda: ds.narrow(x, 2, 0, 1),
              lambda: ds.split(x, 1, 2), lambda: ds.chunk(x, 2, -3), lambda: ds.unbind(x, 2),
              lambda: ds.tensor_split(x, 2, 2), lambda: ds.repeat_interleave(x, 2, 2), lambda: ds.diff(x, 1, 2),
              lambda: ds.logsumexp(x, 2), lambda: ds.softmax(x, -3), lambda: ds.kthvalue(x, 1, 2)]:
        with pytest.raises(IndexError, match=_dims_err(r"-?\d", 2)):
            f()
    # stack and unsqueeze insert a dim: their range is [-N-1, N]
    with pytest.raises(IndexError, match=_dims_err(3, 3)):
        ds.stack([x, x], 3)
    with pytest.raises(IndexError, match=_dims_err(-4, 3)):
        ds.stack([x, x], -4)
    check(ds.stack([x, x], -3), np.ones((2, 2, 3)), "float32")
    with pytest.raises(IndexError, match=_dims_err(3, 3)):
        ds.unsqueeze(x, 3)
    # a 0-d tensor takes dims 0 and -1 only
    z = ds.tensor(1.0)
    with pytest.raises(IndexError, match=_dims_err(1, 0)):
        ds.flatten(z, 1)
    with pytest.raises(IndexError, match="no dimensions"):
        ds.unbind(z)
    # the message names the op and the shape
    with pytest.raises(IndexError) as e:
        ds.movedim(x, 5, 0)
    assert "movedim" in str(e.value) and "(2, 3)" in str(e.value)


def test_repeated_and_wrongly_typed_dims():
    x = ds.ones(1, 3, 1)
    for f, msg in [(lambda: ds.movedim(x, (0, 0), (1, 2)), "repeated dim in `source`"),
                   (lambda: ds.movedim(x, (0, 1), (2, -1)), "repeated dim in `destination`"),
                   (lambda: ds.movedim(x, (0, 1), (0,)), "Invalid source or destination dims"),
                   (lambda: ds.flip(x, (0, -3)), "appears multiple times"),
                   (lambda: ds.squeeze(x, (0, -3)), "appears multiple times"),
                   (lambda: ds.sum(x, (2, -1)), "appears multiple times"),
                   (lambda: ds.permute(x, 0, 0, 1), "duplicate dims"),
                   (lambda: ds.flatten(x, 2, 1), "start_dim cannot come after end_dim")]:
        with pytest.raises(RuntimeError, match=re.escape(msg)):
            f()
    for f in [lambda: ds.sum(x, 1.0), lambda: ds.squeeze(x, 0.0), lambda: ds.cumsum(x, "0"), lambda: ds.softmax(x, True)]:
        with pytest.raises(TypeError, match="must be int"):
            f()
    # integer 0-d tensors and NumPy integers are ints
    check(ds.sum(x, ds.tensor(1)), np.full((1, 1), 3.0), "float32")
    check(ds.cumsum(x, np.int64(-2)), np.cumsum(np.ones((1, 3, 1)), axis=1), "float32")


def _stacked(parts):
    return ds.stack(parts) if parts else None


def _np_flatten(a, s, e):
    return a.reshape(a.shape[:s] + (int(np.prod(a.shape[s:e + 1])),) + a.shape[e + 1:])


DIM_OPS = {
    # name: (call(x, d), NumPy reference(a, wrapped d) or None, range grows by one, needs >= 1-D)
    "sum": (lambda x, d: ds.sum(x, d), lambda a, d: np.sum(a, axis=d), False, False),
    "mean": (lambda x, d: ds.mean(x, d), lambda a, d: np.mean(a, axis=d), False, False),
    "prod": (lambda x, d: ds.prod(x, d), lambda a, d: np.prod(a, axis=d), False, False),
    "amax": (lambda x, d: ds.amax(x, d), lambda a, d: np.max(a, axis=d), False, False),
    "all": (lambda x, d: ds.all(x, d), lambda a, d: np.all(a, axis=d), False, False),
    "any": (lambda x, d: ds.any(x, d), lambda a, d: np.any(a, axis=d), False, False),
    "var": (lambda x, d: ds.var(x, d, correction=0), lambda a, d: np.var(a, axis=d), False, False),
    "std_mean": (lambda x, d: ds.std_mean(x, d)[1], lambda a, d: np.mean(a, axis=d), False, False),
    "logsumexp": (lambda x, d: ds.logsumexp(x, d), lambda a, d: np.log(np.sum(np.exp(a), axis=d)), False, False),
    "norm": (lambda x, d: ds.norm(x, 2, d), lambda a, d: np.sqrt(np.sum(a * a, axis=d)), False, False),
    "max": (lambda x, d: ds.max(x, d)[0], lambda a, d: np.max(a, axis=d), False, False),
    "argmin": (lambda x, d: ds.argmin(x, d), lambda a, d: np.argmin(a, axis=d), False, False),
    "cumsum": (lambda x, d: ds.cumsum(x, d), lambda a, d: np.cumsum(a, axis=d), False, False),
    "cumprod": (lambda x, d: ds.cumprod(x, d), lambda a, d: np.cumprod(a, axis=d), False, False),
    "softmax": (lambda x, d: ds.softmax(x, d), _np_softmax, False, False),
    "log_softmax": (lambda x, d: ds.log_softmax(x, d), lambda a, d: np.log(_np_softmax(a, d)), False, False),
    "sort": (lambda x, d: ds.sort(x, d)[0], lambda a, d: np.sort(a, axis=d), False, False),
    "argsort": (lambda x, d: ds.argsort(x, d), lambda a, d: np.argsort(a, axis=d, kind="stable"), False, False),
    "kthvalue": (lambda x, d: ds.kthvalue(x, 1, d)[0], lambda a, d: np.min(a, axis=d), False, False),
    "flip": (lambda x, d: ds.flip(x, d), lambda a, d: np.flip(a, d), False, False),
    "roll": (lambda x, d: ds.roll(x, 1, d), lambda a, d: np.roll(a, 1, d), False, False),
    "squeeze": (lambda x, d: ds.squeeze(x, d), lambda a, d: np.squeeze(a, d) if a.shape[d] == 1 else a, False, False),
    "unsqueeze": (lambda x, d: ds.unsqueeze(x, d), lambda a, d: np.expand_dims(a, d), True, False),
    "stack": (lambda x, d: ds.stack([x, x + 1], d), lambda a, d: np.stack([a, a + 1], d), True, False),
    "transpose0": (lambda x, d: ds.transpose(x, d, 0), lambda a, d: np.swapaxes(a, d, 0), False, True),
    "transpose1": (lambda x, d: x.transpose(-1, d), lambda a, d: np.swapaxes(a, -1, d), False, True),
    "movedim_src": (lambda x, d: ds.movedim(x, d, 0), lambda a, d: np.moveaxis(a, d, 0), False, True),
    "movedim_dst": (lambda x, d: ds.movedim(x, -1, d), lambda a, d: np.moveaxis(a, -1, d), False, True),
    "flatten_start": (lambda x, d: ds.flatten(x, d), lambda a, d: _np_flatten(a, d, a.ndim - 1), False, True),
    "flatten_end": (lambda x, d: ds.flatten(x, 0, d), lambda a, d: _np_flatten(a, 0, d), False, True),
    "unflatten": (lambda x, d: ds.unflatten(x, d, (1, -1)), lambda a, d: np.expand_dims(a, d), False, True),
    "narrow": (lambda x, d: ds.narrow(x, d, 0, 0), lambda a, d: np.take(a, [], axis=d), False, True),
    "cat": (lambda x, d: ds.cat([x, x + 1], d), lambda a, d: np.concatenate([a, a + 1], d), False, True),
    "split": (lambda x, d: ds.split(x, 2, d)[0], lambda a, d: np.take(a, range(min(2, a.shape[d])), axis=d), False, True),
    "chunk": (lambda x, d: ds.chunk(x, 2, d)[-1], lambda a, d: np.array_split(a, range(-(-a.shape[d] // 2), a.shape[d], -(-a.shape[d] // 2)) if a.shape[d] else 2, axis=d)[-1], False, True),
    "tensor_split": (lambda x, d: ds.tensor_split(x, 2, d)[0], lambda a, d: np.array_split(a, 2, axis=d)[0], False, True),
    "unbind": (lambda x, d: _stacked(ds.unbind(x, d)), lambda a, d: np.moveaxis(a, d, 0) if a.shape[d] else None, False, True),
    "diff": (lambda x, d: ds.diff(x, 1, d), lambda a, d: np.diff(a, 1, d), False, True),
    "repeat_interleave": (lambda x, d: ds.repeat_interleave(x, 2, d), lambda a, d: np.repeat(a, 2, d), False, True),
    "gather": (lambda x, d: ds.gather(x, d, ds.zeros([0] * x.ndim, dtype=ds.int64)), lambda a, d: np.zeros((0,) * a.ndim), False, False),
    "index_select": (lambda x, d: ds.index_select(x, d, ds.zeros(0, dtype=ds.int64)), lambda a, d: np.take(a, [], axis=d), False, True),
}


@pytest.mark.parametrize("name", sorted(DIM_OPS))
@given(shape=small_shapes, data=st.data(), seed=seeds)
@settings(max_examples=20)
def test_every_dim_argument_is_range_checked(name, shape, data, seed):
    """Every dim from two below the range to two above it: the valid ones agree with NumPy on
    the wrapped dim, the others raise PyTorch's IndexError naming the op and the range."""
    call, ref, new, needs_dims = DIM_OPS[name]
    if needs_dims and not shape:
        return
    n = max(len(shape) + new, 1)
    d = data.draw(st.integers(-n - 2, n + 1))
    rng = np.random.default_rng(seed)
    x, a = make(rng, shape, "float64", "contig", 0.5, 2.0)
    if not -n <= d < n:
        with pytest.raises(IndexError, match=_dims_err(d, len(shape) + new)) as e:
            call(x, d)
        assert str(e.value).startswith(name.split("_")[0].rstrip("01"))  # the op's name comes first
        return
    if name in ("amax", "max", "kthvalue", "argmin") and a.size == 0:
        return  # no identity: PyTorch refuses these on empty input, checked elsewhere
    r = call(x, d)
    if not shape:  # a 0-d tensor: dim 0 and -1 leave it as it is (checked for shape only)
        assert r is None or tuple(r.shape) in ((), (1,), (2,))
        return
    exp = ref(a, d % n)
    if exp is None:
        return
    with np.errstate(all="ignore"):
        check(r, exp, rtol=1e-9, atol=1e-12, exact=name in ("argmin", "argsort", "all", "any"))


# ================================================================ class 10: split family

def test_tensor_split_with_indices():
    x = ds.arange(10).reshape(2, 5)
    a = np.arange(10).reshape(2, 5)
    for ios in ([1, 3], (2,), [3, 1, 7, -1], [], ds.tensor([1, 4]), ds.tensor(3), 3, 7):
        parts = ds.tensor_split(x, ios, 1)
        ref = np.array_split(a, ios.tolist() if isinstance(ios, ds.Tensor) else ios, axis=1)
        assert len(parts) == len(ref)
        for p, e in zip(parts, ref):
            check(p, e, "int64", exact=True)
    with pytest.raises(RuntimeError, match="number of sections must be larger than 0"):
        ds.tensor_split(x, 0, 1)
    with pytest.raises(RuntimeError, match="dtype of long"):
        ds.tensor_split(x, ds.tensor([1.0]), 1)
    with pytest.raises(RuntimeError, match="zero-dimensional or one-dimensional"):
        ds.tensor_split(x, ds.tensor([[1]]), 1)
    with pytest.raises(TypeError, match="int"):
        ds.tensor_split(x, 2.5, 1)


def test_chunk_of_an_empty_dim_gives_as_many_chunks_as_asked():
    parts = ds.chunk(ds.zeros(0, 3), 3, 0)
    assert [tuple(p.shape) for p in parts] == [(0, 3)] * 3
    parts = ds.chunk(ds.zeros(2, 0), 4, 1)
    assert [tuple(p.shape) for p in parts] == [(2, 0)] * 4
    # otherwise ceil(size / chunks) per piece, so fewer pieces than asked can come back
    assert [p.shape[0] for p in ds.chunk(ds.arange(6), 4)] == [2, 2, 2]
    assert [p.shape[1] for p in ds.chunk(ds.ones(2, 3), 5, 1)] == [1, 1, 1]


def test_split_family_edges():
    x = ds.arange(6.0).reshape(2, 3)
    assert [tuple(p.shape) for p in ds.split(x, 5, 1)] == [(2, 3)]  # larger than the size: one piece
    assert [tuple(p.shape) for p in ds.split(ds.zeros(0, 3), 3, 0)] == [(0, 3)]  # an empty dim: one piece
    assert [tuple(p.shape) for p in ds.split(ds.zeros(0, 3), 0, 0)] == [(0, 3)]
    assert [tuple(p.shape) for p in ds.split(x, ds.tensor([1, 2]), 1)] == [(2, 1), (2, 2)]
    assert [tuple(p.shape) for p in ds.split(x, ds.tensor([2]), 1)] == [(2, 2), (2, 1)]  # one element: a size
    assert ds.unbind(ds.zeros(0, 3)) == ()
    for f, exc, msg in [
        (lambda: ds.split(x, -1, 1), RuntimeError, "non-negative"),
        (lambda: ds.split(x, 0, 1), RuntimeError, "split_size can only be 0"),
        (lambda: ds.split(x, [4, -1], 1), RuntimeError, "only non-negative entries"),
        (lambda: ds.split(x, [1, 1], 1), RuntimeError, "sum exactly to 3"),
        (lambda: ds.chunk(x, 0), RuntimeError, "greater than 0"),
        (lambda: ds.chunk(x, 2.0), TypeError, "must be int"),
        (lambda: ds.split(ds.tensor(1.0), 1), RuntimeError, "at least a 1-dimensional"),
        (lambda: ds.chunk(ds.tensor(1.0), 1), RuntimeError, "at least a 1-dimensional"),
        (lambda: ds.tensor_split(ds.tensor(1.0), 1), RuntimeError, "at least a 1-dimensional"),
        (lambda: ds.unbind(ds.tensor(1.0)), IndexError, "no dimensions"),
        (lambda: ds.narrow(ds.tensor(1.0), 0, 0, 1), RuntimeError, "0-dim"),
        (lambda: ds.narrow(x, 1, 0, -1), RuntimeError, "non-negative"),
        (lambda: ds.narrow(x, 1, 4, 0), IndexError, "start out of range"),
        (lambda: ds.narrow(x, 1, 1, 3), RuntimeError, "exceeds dimension size"),
        (lambda: ds.diff(ds.tensor(1.0)), RuntimeError, "one-dimensional"),
        (lambda: ds.diff(x, -1), RuntimeError, "non-negative"),
        (lambda: ds.unflatten(x, 1, (2, 2)), RuntimeError, "don't multiply up"),
        (lambda: ds.unflatten(x, 1, ()), RuntimeError, "non-empty"),
        (lambda: ds.kthvalue(x, 4, 1), RuntimeError, "k out of range"),
        (lambda: ds.tril(ds.ones(3)), RuntimeError, "at least 2 dimensions"),
        (lambda: ds.trace(ds.ones(3)), RuntimeError, "expected a matrix"),
        (lambda: ds.diag(ds.ones(2, 2, 2)), RuntimeError, "1D or 2D"),
        (lambda: ds.outer(x, x), RuntimeError, "1-D"),
        (lambda: ds.cdist(ds.ones(3), ds.ones(3)), RuntimeError, "at least 2D"),
        (lambda: ds.cat([]), RuntimeError, "non-empty"),
        (lambda: ds.stack([1, 2]), TypeError, "Tensors"),
        (lambda: ds.cat([ds.tensor(1.0)]), RuntimeError, "zero-dimensional"),
    ]:
        with pytest.raises(exc, match=msg):
            f()


@given(shape=nonempty.map(lambda s: s[:-1] + (s[-1] - 1,)), data=st.data(), layout=layouts, seed=seeds)
@settings(max_examples=60)
def test_split_family_matches_numpy(shape, data, layout, seed):
    """split, chunk, tensor_split and unbind against NumPy (dims of size 0 included): pieces
    are views of the input, as many as PyTorch's rules give."""
    nd = len(shape)
    d = data.draw(st.integers(-nd, nd - 1))
    rng = np.random.default_rng(seed)
    x, a = make(rng, shape, "float32", layout)
    n = shape[d]

    def same(parts, ref):
        assert len(parts) == len(ref), (len(parts), len(ref))
        for p, e in zip(parts, ref):
            check(p, e, "float32", exact=True)
            assert p._storage_ptr() == x._storage_ptr()

    s = data.draw(st.integers(0 if n == 0 else 1, 5))
    same(ds.split(x, s, d), np.split(a, list(range(s, n, s)), axis=d) if n else [a])
    c = data.draw(st.integers(1, 5))
    step = -(-n // c)
    same(ds.chunk(x, c, d), np.split(a, list(range(step, n, step)), axis=d) if n else [a] * c)
    same(ds.tensor_split(x, c, d), np.array_split(a, c, axis=d))
    idx = data.draw(st.lists(st.integers(-n - 2, n + 2), max_size=4))
    same(ds.tensor_split(x, idx, d), np.array_split(a, idx, axis=d))
    same(ds.tensor_split(x, ds.tensor(idx, dtype=ds.int64), d), np.array_split(a, idx, axis=d))
    sizes = data.draw(st.lists(st.integers(0, 3), min_size=1, max_size=3))
    if sum(sizes) == n:
        same(ds.split(x, sizes, d), np.split(a, np.cumsum(sizes)[:-1].tolist(), axis=d))
    else:
        with pytest.raises(RuntimeError, match="split_with_sizes"):
            ds.split(x, sizes, d)
    same(ds.unbind(x, d), [np.take(a, i, axis=d) for i in range(n)])


# ================================================================ more of each class, found nearby

def test_logaddexp_special_values():
    inf, nan = float("inf"), float("nan")
    a = ds.tensor([inf, -inf, inf, nan, 1000.0, -3.0], dtype=ds.float64)
    b = ds.tensor([inf, -inf, -inf, 1.0, 1000.0, 2.0], dtype=ds.float64)
    check(ds.logaddexp(a, b), np.logaddexp(a.numpy(), b.numpy()), "float64")
    h = ds.tensor([60000.0, 2.0], dtype=ds.float16)
    check(ds.logaddexp(h, h), np.logaddexp(h.numpy().astype(np.float64), h.numpy().astype(np.float64)), "float16")


def test_addmm_with_beta_zero_ignores_the_input():
    nan = ds.full((2, 2), float("nan"))
    check(ds.addmm(nan, ds.ones(2, 3), ds.ones(3, 2), beta=0), np.full((2, 2), 3.0), "float32")
    check(ds.baddbmm(nan.reshape(1, 2, 2), ds.ones(1, 2, 3), ds.ones(1, 3, 2), beta=0, alpha=2), np.full((1, 2, 2), 6.0), "float32")


def test_roll_checks_its_dims():
    x = ds.arange(12).reshape(3, 4)
    a = np.arange(12).reshape(3, 4)
    check(ds.roll(x, 1), np.roll(a, 1), "int64", exact=True)
    check(ds.roll(x, (1, -5), (0, -1)), np.roll(a, (1, -5), (0, 1)), "int64", exact=True)
    with pytest.raises(IndexError, match=_dims_err(2, 2)):
        ds.roll(x, 1, 2)
    with pytest.raises(RuntimeError, match="align"):
        ds.roll(x, (1, 2), 0)


def test_diff_past_the_size_and_of_bools():
    assert tuple(ds.diff(ds.arange(3), 5).shape) == (0,)  # n past the size: an empty dim
    assert ds.diff(ds.tensor([True, False, False, True])).tolist() == [True, False, True]
    check(ds.diff(ds.arange(4.0), prepend=ds.tensor([-1.0]), append=ds.tensor([9.0])), np.diff(np.arange(-1.0, 4.0).tolist() + [9.0]), "float32")


@pytest.mark.parametrize("device", DEVICES)
def test_the_fixes_hold_on_every_device(device):
    """The regressions above, on each installed backend: same values as NumPy's reference."""
    x = ds.arange(6.0).reshape(2, 3).to(device)
    a = np.arange(6.0).reshape(2, 3)
    check(x[ds.tensor(True)].cpu(), a[None], "float32", exact=True)
    check(x[ds.tensor(False), 1:].cpu(), a[None][:0, 1:], "float32", exact=True)
    check(x[True, [0, 1]].cpu(), a[True, [0, 1]], "float32", exact=True)
    check(x[ds.tensor(1), [0, 2]].cpu(), a[1, [0, 2]], "float32", exact=True)
    y = x.clone()
    y[ds.tensor(True)] = 5.0
    y[ds.tensor(False)] = 7.0
    check(y.cpu(), np.full((2, 3), 5.0), "float32", exact=True)
    h = ds.tensor([250.0, -250.0, 0.0], dtype=ds.float16).to(device)
    check(ds.var(h).cpu(), 62500.0, "float16")
    check(ds.full((100,), 1000.0, dtype=ds.float16).to(device).mean().cpu(), 1000.0, "float16")
    check(ds.norm(ds.full((10,), 300.0, dtype=ds.float16).to(device)).cpu(), np.sqrt(10) * 300.0, "float16")
    check(ds.logsumexp(ds.tensor([200, 250], dtype=ds.uint8).to(device), 0).cpu(), 250.0, "float32")
    assert [tuple(p.shape) for p in ds.chunk(ds.zeros(0, 3).to(device), 3)] == [(0, 3)] * 3
    parts = ds.tensor_split(x, [1, 0, 5], 1)
    for p, e in zip(parts, np.array_split(a, [1, 0, 5], axis=1)):
        check(p.cpu(), e, "float32", exact=True)
    with pytest.raises(IndexError, match=_dims_err(2, 2)):
        ds.movedim(x, 2, 0)
    # composites that build helper tensors build them on the input's device
    m = ds.arange(9.0).reshape(3, 3).to(device)
    check(ds.tril(m).cpu(), np.tril(np.arange(9.0).reshape(3, 3)), "float32", exact=True)
    check(ds.triu(m, 1).cpu(), np.triu(np.arange(9.0).reshape(3, 3), 1), "float32", exact=True)
    check(ds.diag(ds.ones(2).to(device), 1).cpu(), np.diag(np.ones(2), 1), "float32", exact=True)
    check(ds.nn.functional.one_hot(ds.tensor([0, 2]).to(device), 3).cpu(), np.eye(3)[[0, 2]], "int64", exact=True)


def test_one_hot_of_an_empty_tensor_follows_pytorch():
    # nothing to infer the class count from: refused, as PyTorch; with a count: shape (..., n)
    with pytest.raises(RuntimeError, match="one_hot: can not infer total number of classes from empty tensor"):
        ds.nn.functional.one_hot(ds.tensor([], dtype=ds.int64))
    assert tuple(ds.nn.functional.one_hot(ds.zeros(0, 2, dtype=ds.int64), 4).shape) == (0, 2, 4)
    with pytest.raises(RuntimeError, match="non-negative"):
        ds.nn.functional.one_hot(ds.tensor([-1, 0]), 3)
    with pytest.raises(RuntimeError, match=r"smaller than num_classes \(2\)"):
        ds.nn.functional.one_hot(ds.tensor([0, 2]), 2)


def test_argument_errors_come_in_pytorch_order_and_type():
    # stack wraps its dim before it compares shapes; F.conv2d refuses a strided 'same' with a
    # RuntimeError (nn.Conv2d's constructor with a ValueError)
    with pytest.raises(IndexError, match="Dimension out of range"):
        ds.stack([ds.ones(2), ds.ones(3)], dim=5)
    with pytest.raises(RuntimeError, match="stack expects each tensor to be equal size"):
        ds.stack([ds.ones(2), ds.ones(3)], dim=1)
    with pytest.raises(RuntimeError, match="padding='same' is not supported for strided convolutions"):
        ds.nn.functional.conv2d(ds.ones(1, 1, 5, 5), ds.ones(1, 1, 3, 3), stride=2, padding="same")
    with pytest.raises(ValueError, match="padding='same' is not supported for strided convolutions"):
        ds.nn.Conv2d(1, 1, 3, stride=2, padding="same")


def test_cat_of_only_legacy_empty_tensors_checks_no_dim():
    # PyTorch wraps cat's dim against the first tensor that is not 1-D empty; with none, any
    # dim is accepted and the result is empty, of the promoted dtype
    r = ds.cat([ds.tensor([]), ds.tensor([], dtype=ds.int64)], dim=5)
    assert tuple(r.shape) == (0,) and r.dtype == ds.float32
    with pytest.raises(IndexError, match=r"range of \[-2, 1\], but got 5"):
        ds.cat([ds.tensor([]), ds.ones(2, 3)], dim=5)
    with pytest.raises(TypeError):
        ds.cat([ds.tensor([])], dim=1.5)


def test_top_level_round_takes_decimals():
    a = np.array([1.2345, -2.5, 125.0, 0.5])
    check(ds.round(ds.tensor(a, dtype=ds.float64), decimals=2), np.round(a, 2), "float64")
    check(ds.round(ds.tensor(a, dtype=ds.float64), decimals=-1), np.round(a, -1), "float64")
    check(ds.round(ds.tensor(a, dtype=ds.float64)), np.round(a), "float64", exact=True)
    with pytest.raises(RuntimeError, match="round"):
        ds.round(ds.tensor([1, 2]), decimals=1)
