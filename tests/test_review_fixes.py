"""Regression tests for defects found in review: the ``deepseek`` namespace, in-place ops that
were not in place, ``Tensor.new_*`` dropping the device, ``einsum``'s memory and coverage,
and ``python -m deepseek.backends --help``."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, strategies as st

import deepseek as ds
from deepseek import _ops, autograd, backends

# the fake plugin device of test_backends.py: a non-CPU device without any driver
from backend_fakes import HOST_BACKEND, write_dist


# ---------------------------------------------------------------- 1. the deepseek namespace

# Every public name `from ._ops import *` put on `deepseek` before __all__ existed, less the
# module's own imports and helpers (listed in LEAKED).
PUBLIC_OPS = """
abs acos add addmm all allclose amax amin any argmax argmin argsort argwhere asin atan atan2 baddbmm
bitwise_and bitwise_not bitwise_or bitwise_xor bmm broadcast_shapes broadcast_tensors cat cdist ceil
chunk clamp clamp_max clamp_min clip clone concat concatenate cos cosh cumprod cumsum detach diag diff
dist div divide divide_ dot einsum eq equal erf exp exp2 expm1 flatten flip floor floor_divide fmod
gather ge gelu greater greater_equal gt hstack index_add index_select is_floating_point is_tensor
isclose isfinite isinf isnan kthvalue le lerp less less_equal log log1p log2 log_softmax logaddexp
logical_and logical_not logical_or logical_xor logsumexp lt masked_fill masked_select matmul max
maximum mean min minimum mm movedim mul multiply mv nan_to_num narrow ne neg negative nonzero norm
not_equal numel one_hot outer pad permute pow prod reciprocal relu remainder repeat repeat_interleave
reshape result_type round rsqrt scatter scatter_add sigmoid sigmoid_ sign silu sin sinh softmax
softplus sort split sqrt square squeeze stack std std_mean sub subtract sum swapaxes swapdims t tan
tanh tensor_split tile topk trace transpose tril triu true_divide trunc unbind unflatten unsqueeze
var var_mean vstack where
""".split()
LEAKED = ["g", "Number", "builtins", "math", "operator", "min_", "to_dtype"]


def test_private_names_of_ops_do_not_leak_into_deepseek():
    for name in LEAKED:
        assert not hasattr(ds, name), f"deepseek.{name} leaks from deepseek._ops"
        assert name not in _ops.__all__


def test_every_public_op_is_still_exported():
    assert len(PUBLIC_OPS) == 169
    missing = [n for n in PUBLIC_OPS if not callable(getattr(ds, n, None))]
    assert missing == []
    assert set(PUBLIC_OPS) <= set(_ops.__all__)
    for n in _ops.__all__:  # only functions of the functional API itself
        assert getattr(ds, n) is getattr(_ops, n)
        assert getattr(_ops, n).__module__ in (
            "deepseek._ops_math", "deepseek._ops_reduce", "deepseek._ops_shape", "deepseek._ops_index", "deepseek._einsum"), n
    # names deepseek gets elsewhere stay
    assert ds.Tensor is ds._core.Tensor and ds.Size((2,)) == (2,) and ds.get_default_dtype() == ds.float32


# ---------------------------------------------------------------- 2. in-place ops

def _check_in_place(x, result, expected, version_before, ptr_before):
    assert result is x
    assert x.data_ptr() == ptr_before
    assert x._version > version_before
    np.testing.assert_allclose(np.asarray(x), expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("call", [
    lambda x: x.sigmoid_(),
    lambda x: ds.sigmoid_(x),
])
def test_sigmoid_in_place(call):
    a = np.array([[-2.0, -0.5, 0.0], [0.25, 1.0, 3.0]], dtype=np.float32)
    x = ds.tensor(a)
    v, p = x._version, x.data_ptr()
    _check_in_place(x, call(x), 1.0 / (1.0 + np.exp(-a.astype(np.float64))), v, p)


@pytest.mark.parametrize("call,expected", [
    (lambda x, y: x.divide_(y), lambda a, b: a / b),
    (lambda x, y: x.div_(y), lambda a, b: a / b),
    (lambda x, y: ds.divide_(x, y), lambda a, b: a / b),
    (lambda x, y: x.divide_(y, rounding_mode="floor"), lambda a, b: np.floor(a / b)),
    (lambda x, y: x.div_(y, rounding_mode="trunc"), lambda a, b: np.trunc(a / b)),
    (lambda x, y: ds.divide_(x, y, rounding_mode="trunc"), lambda a, b: np.trunc(a / b)),
])
def test_divide_in_place(call, expected):
    a = np.array([[-7.0, 5.0, 3.0], [1.5, -2.5, 9.0]])
    b = np.array([2.0, -3.0, 4.0])
    x = ds.tensor(a)
    v, p = x._version, x.data_ptr()
    _check_in_place(x, call(x, ds.tensor(b)), expected(a, b), v, p)


def test_in_place_ops_write_through_views():
    base = ds.tensor(np.arange(6.0).reshape(2, 3))
    col = base.t()[1]  # a strided view of column 1
    assert col.stride() == (3,)
    col.sigmoid_()
    ref = np.arange(6.0).reshape(2, 3)
    ref[:, 1] = 1.0 / (1.0 + np.exp(-ref[:, 1]))
    np.testing.assert_allclose(np.asarray(base), ref, rtol=1e-12)
    base.t().divide_(2.0)
    np.testing.assert_allclose(np.asarray(base), ref / 2.0, rtol=1e-12)
    assert base._version >= 2


def test_in_place_keeps_autograd_right():
    a = np.array([0.3, -1.2, 2.0])
    x = ds.tensor(a, requires_grad=True)
    y = x * 2.0
    y.sigmoid_().divide_(3.0)
    y.sum().backward()
    s = 1.0 / (1.0 + np.exp(-2.0 * a))
    np.testing.assert_allclose(np.asarray(x.grad), 2.0 * s * (1.0 - s) / 3.0, rtol=1e-10)
    with pytest.raises(RuntimeError, match="leaf"):
        ds.tensor(a, requires_grad=True).sigmoid_()


def test_in_place_results_that_cannot_be_cast_back_are_refused():
    # PyTorch: "result type Float can't be cast to the desired output type Long"
    for call in (lambda x: x.sigmoid_(), lambda x: ds.sigmoid_(x), lambda x: x.exp_(), lambda x: x.divide_(2)):
        x = ds.tensor([1, 2, 3])
        with pytest.raises(RuntimeError, match="can't be cast to the desired output type int64"):
            call(x)
        assert x.tolist() == [1, 2, 3]
    x = ds.tensor([7, -7])
    assert x.div_(2, rounding_mode="trunc") is x and x.tolist() == [3, -3] and x.dtype == ds.int64
    assert x.nan_to_num_() is x and x.tolist() == [3, -3]
    with pytest.raises(ValueError, match="rounding_mode"):
        ds.ones(2).div_(2.0, rounding_mode="round")


def test_nan_to_num_uses_the_dtype_limits():
    for dt, big in [("float16", 65504.0), ("bfloat16", 3.3895313892515355e38),
                    ("float32", float(np.finfo(np.float32).max)), ("float64", float(np.finfo(np.float64).max))]:
        x = ds.tensor([float("nan"), float("inf"), -float("inf"), 1.5], dtype=dt)
        assert ds.nan_to_num(x).tolist() == [0.0, big, -big, 1.5], dt
    assert ds.nan_to_num(ds.tensor([1, 2])).dtype == ds.int64


# ---------------------------------------------------------------- 3. Tensor.new_*

NEW = {
    "new_zeros": (lambda x, **kw: x.new_zeros(2, 3, **kw), np.zeros((2, 3))),
    "new_ones": (lambda x, **kw: x.new_ones((2, 3), **kw), np.ones((2, 3))),
    "new_empty": (lambda x, **kw: x.new_empty([2, 3], **kw), None),
    "new_full": (lambda x, **kw: x.new_full((2, 3), 7, **kw), np.full((2, 3), 7.0)),
    "new_tensor": (lambda x, **kw: x.new_tensor([[1, 2, 3], [4, 5, 6]], **kw), np.arange(1.0, 7.0).reshape(2, 3)),
}


@pytest.mark.parametrize("name", list(NEW))
def test_new_follows_self_unless_told(name):
    make, values = NEW[name]
    x = ds.ones(4, dtype=ds.float64)
    y = make(x)
    assert y.shape == (2, 3) and y.dtype == ds.float64 and y.device == x.device and not y.requires_grad
    if values is not None:
        np.testing.assert_array_equal(np.asarray(y), values)
    y = make(x, dtype=ds.float16, device="cpu", requires_grad=True)
    assert y.dtype == ds.float16 and y.device == ds.device("cpu") and y.requires_grad and y.is_leaf
    y = make(ds.ones(1, dtype=ds.int32), dtype="int64", device=ds.device("cpu"))
    assert y.dtype == ds.int64 and y.is_cpu


@pytest.fixture
def fakehost(plugin_dir):  # noqa: F811
    """A plugin device in host memory (no driver needed)."""
    write_dist(plugin_dir, "deepseek-fakehost", {"fakehost": "fake_host"},
               {"fake_host": HOST_BACKEND.replace("TABLE_EDIT", "pass")})
    backends.refresh()
    return "fakehost:0"


@pytest.mark.parametrize("name", list(NEW))
def test_new_keeps_a_plugin_device(name, fakehost):
    make, values = NEW[name]
    x = ds.ones(4).to(fakehost)
    y = make(x)
    assert str(y.device) == fakehost and y.dtype == ds.float32
    if values is not None:
        np.testing.assert_array_equal(y.cpu().tolist(), values)
    y = make(x, device="cpu", dtype=ds.float64)
    assert y.is_cpu and y.dtype == ds.float64
    y = make(ds.ones(1), device=fakehost, requires_grad=True)
    assert str(y.device) == fakehost and y.requires_grad


@pytest.mark.skipif(not ds.opencl.is_available(), reason="OpenCL is not available here")
@pytest.mark.parametrize("name", list(NEW))
def test_new_keeps_the_opencl_device(name):
    make, values = NEW[name]
    x = ds.ones(4).to("opencl:0")
    y = make(x)
    assert str(y.device) == "opencl:0" and y.dtype == ds.float32
    if values is not None:
        np.testing.assert_array_equal(y.cpu().tolist(), values)
    assert make(x, device="cpu").is_cpu


# ---------------------------------------------------------------- 4. einsum

def _reference(eq, arrays):
    """np.einsum, with PyTorch's rule that ellipsis dims missing from an explicit output are
    summed (NumPy refuses such equations)."""
    lhs, arrow, rhs = eq.partition("->")
    if arrow and "..." in lhs and "..." not in rhs:
        r = np.einsum(f"{lhs}->...{rhs}", *arrays)
        return r.sum(axis=tuple(range(r.ndim - len(rhs))))
    return np.einsum(eq, *arrays)


EINSUM = [
    ("ij,jk->ik", [(3, 4), (4, 5)]),                 # matmul
    ("ij,jk", [(3, 4), (4, 5)]),                     # implicit output
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 2)]),        # bmm
    ("i,j->ij", [(3,), (4,)]),                       # outer
    ("i,i->", [(5,), (5,)]),                         # dot
    ("ij,ij->i", [(3, 4), (3, 4)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),      # chain
    ("bhqd,bhkd->bhqk", [(2, 3, 4, 5), (2, 3, 6, 5)]),
    ("bi,oij,bj->bo", [(2, 3), (4, 3, 5), (2, 5)]),  # bilinear
    ("ij->", [(3, 4)]),
    ("ij->ji", [(3, 4)]),
    ("ij->j", [(3, 4)]),
    ("ii", [(4, 4)]),                                # trace
    ("ii->i", [(4, 4)]),                             # diagonal
    ("iji->j", [(3, 2, 3)]),
    ("ij,jj->i", [(2, 3), (3, 3)]),
    ("ab,cd->", [(2, 3), (4, 5)]),
    ("Ab,bA", [(2, 3), (3, 2)]),                     # capitals sort before lower case
    ("ij,jk->ik", [(3, 1), (4, 5)]),                 # size-1 dims broadcast
    ("ij,jk->ik", [(3, 4), (1, 5)]),
    ("bij,bjk->bik", [(1, 2, 3), (4, 3, 2)]),
    ("ij,ij->i", [(0, 3), (0, 3)]),                  # 0-size dims
    ("ij,jk->ik", [(2, 0), (0, 3)]),
    ("ij,kl->ijkl", [(2, 0), (3, 1)]),
    ("...ij,...jk", [(2, 1, 2, 3), (5, 3, 4)]),      # ellipsis, broadcast
    ("...ij,...jk->...ik", [(2, 3, 4), (4, 5)]),
    ("i...,i...->...", [(2, 3), (2, 1)]),
    ("...ii->...i", [(4, 3, 3)]),
    ("...i->i", [(2, 3, 4)]),                        # ellipsis missing from the output: summed
    ("...", [(2, 3)]),
    (",->", [(), ()]),
    ("i,->i", [(3,), ()]),
]


@pytest.mark.parametrize("eq,shapes", EINSUM)
def test_einsum_matches_numpy(eq, shapes):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) for s in shapes]
    r = ds.einsum(eq, *[ds.tensor(a) for a in arrays])
    ref = _reference(eq, arrays)
    assert r.dtype == ds.float64 and tuple(r.shape) == ref.shape
    np.testing.assert_allclose(np.asarray(r), ref, rtol=1e-12, atol=1e-12)
    assert tuple(ds.einsum(eq, [ds.tensor(a) for a in arrays]).shape) == ref.shape  # a list of operands


@st.composite
def equations(draw):
    """A random einsum: repeated subscripts, 0-size and broadcast size-1 dims, implicit or
    explicit output."""
    letters = "abcdeB"
    size = {c: draw(st.sampled_from([2, 3, 1, 0, 2, 3])) for c in letters}
    terms, shapes = [], []
    for _ in range(draw(st.integers(1, 3))):
        t = draw(st.lists(st.sampled_from(letters), max_size=4))
        ones = {c for c in t if draw(st.integers(0, 3)) == 0}  # broadcast against the others
        terms.append("".join(t))
        shapes.append(tuple(1 if c in ones else size[c] for c in t))
    if draw(st.booleans()):
        return ",".join(terms), shapes
    used = sorted(set("".join(terms)))
    out = draw(st.permutations(used))[:draw(st.integers(0, len(used)))]
    return ",".join(terms) + "->" + "".join(out), shapes


@given(case=equations(), seed=st.integers(0, 2**16))
def test_einsum_random_equations_match_numpy(case, seed):
    eq, shapes = case
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s) for s in shapes]
    r = ds.einsum(eq, *[ds.tensor(a) for a in arrays])
    ref = np.einsum(eq, *arrays)
    assert tuple(r.shape) == ref.shape, eq
    np.testing.assert_allclose(np.asarray(r), ref, rtol=1e-10, atol=1e-10, err_msg=eq)


@pytest.mark.parametrize("eq,shapes", [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("bhqd,bhkd->bhqk", [(1, 2, 3, 2), (1, 2, 2, 2)]),
    ("ij,jk,kl->il", [(2, 3), (3, 2), (2, 2)]),
    ("bi,oij,bj->bo", [(2, 3), (2, 3, 2), (2, 2)]),
    ("ii->i", [(3, 3)]),
    ("iji->j", [(2, 3, 2)]),
    ("...ij,...jk", [(2, 1, 2, 3), (3, 3, 2)]),
    ("ij,jk->ik", [(2, 1), (3, 2)]),
    ("ij->", [(2, 3)]),
])
def test_einsum_gradients_match_finite_differences(eq, shapes):
    rng = np.random.default_rng(1)
    xs = [ds.tensor(rng.standard_normal(s), requires_grad=True) for s in shapes]
    assert autograd.gradcheck(lambda *a: ds.einsum(eq, *a), xs)


def test_einsum_memory_is_bounded_by_the_pairwise_results():
    n = 512
    x, y = ds.randn(n, n), ds.randn(n, n)
    ds.memory.reset_peak_memory_stats()
    before = ds.memory.memory_allocated()
    r = ds.einsum("ij,jk->ik", x, y)
    extra = ds.memory.max_memory_allocated() - before
    # a broadcast product would hold n**3 floats (512 MiB); the result itself is n**2 (1 MiB)
    assert extra < n ** 3 * 4 // 64, extra
    np.testing.assert_allclose(np.asarray(r), np.asarray(x) @ np.asarray(y), rtol=1e-4, atol=1e-3)
    a, b, c = ds.randn(n, 8), ds.randn(8, n), ds.randn(n, 8)
    ds.memory.reset_peak_memory_stats()
    before = ds.memory.memory_allocated()
    ds.einsum("ij,jk,kl->il", a, b, c)
    assert ds.memory.max_memory_allocated() - before < n * n * 4 * 4  # at most the [n, n] middle result


def test_einsum_dtypes():
    a, b = ds.tensor([[1, 2], [3, 4]]), ds.tensor([[5, 6], [7, 8]])
    r = ds.einsum("ij,jk->ik", a, b)
    assert r.dtype == ds.int64 and r.tolist() == [[19, 22], [43, 50]]
    assert ds.einsum("ii", a).tolist() == 5
    assert ds.einsum("ij,jk->ik", a.float(), b.double()).dtype == ds.float64
    assert ds.einsum("ij,jk->ik", a.float(), b).dtype == ds.float32


@pytest.mark.parametrize("eq,shapes,message", [
    ("ij,jk->ik", [(2, 3), (4, 2)], r"einsum\(\): subscript j has size 3 for operand 0 \(shape \(2, 3\)\) but size 4 for operand 1"),
    ("ij->ij", [(2, 3), (2, 3)], r"einsum\(\): more operands were provided .* names 1 operands but got 2"),
    ("ij,jk->ik", [(2, 3)], r"einsum\(\): fewer operands"),
    ("ijk->i", [(2, 3)], r"einsum\(\): the number of subscripts in the equation \(3\) does not match the number of dimensions \(2\) for operand 0 of shape \(2, 3\)"),
    ("ij...k->i", [(2, 3)], r"einsum\(\): the number of subscripts in the equation \(3\) is more than"),
    ("ii->i", [(2, 3)], r"einsum\(\): subscript i is repeated for operand 0 \(shape \(2, 3\)\) .* 3 != 2"),
    ("ij->ii", [(2, 2)], r"einsum\(\): output subscript i appears more than once"),
    ("ij->k", [(2, 2)], r"einsum\(\): output subscript k does not appear"),
    ("i1->i", [(2, 2)], r"einsum\(\): invalid subscript '1'"),
    ("i.j->i", [(2, 2)], r"einsum\(\): found '\.' for operand 0 that is not part of any ellipsis"),
    ("...i...->i", [(2, 2)], r"einsum\(\): found more than one ellipsis"),
    ("...ij,...jk", [(2, 2, 3), (3, 3, 4)], r"einsum\(\): a dim covered by the ellipsis has size 2"),
])
def test_einsum_errors_name_the_op_and_shapes(eq, shapes, message):
    with pytest.raises(RuntimeError, match=message):
        ds.einsum(eq, *[ds.ones(*s) for s in shapes])


def test_einsum_argument_types():
    with pytest.raises(TypeError, match=r"einsum\(\): argument 'equation' must be str"):
        ds.einsum(ds.ones(2), [0])
    with pytest.raises(TypeError, match=r"einsum\(\): operand 1 must be a Tensor, not list"):
        ds.einsum("i,i", ds.ones(2), [1.0, 2.0])


# ---------------------------------------------------------------- 5. python -m deepseek.backends

def _backends_cli(*args):
    return subprocess.run([sys.executable, "-m", "deepseek.backends", *args], capture_output=True, text=True,
                          env=dict(os.environ), timeout=120)


def test_backends_cli_help_describes_the_command():
    r = _backends_cli("--help")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage: python -m deepseek.backends")
    assert "installed deepseek backend" in r.stdout and "primitive ops" in r.stdout
    assert "cpu: available" not in r.stdout  # the help, not the report


def test_backends_cli_rejects_unknown_arguments():
    r = _backends_cli("--bogus")
    assert r.returncode == 2
    assert "unrecognized arguments: --bogus" in r.stderr and r.stdout == ""


def test_backends_cli_without_arguments_prints_the_report():
    r = _backends_cli()
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("cpu: available")
