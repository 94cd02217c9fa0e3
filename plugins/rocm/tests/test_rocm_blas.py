"""matmul through rocBLAS: the GPU host layer maps a matmul's operands (any batch, transposed
or offset views, broadcast batches) to one column-major strided batched GEMM, and the plugin
calls rocblas_gemm_strided_batched_ex on the launch's stream. The fake rocBLAS computes the
GEMM on the fake runtime's host memory, so the results are compared with NumPy; operands no
GEMM can take go to the portable kernel."""
from __future__ import annotations

import pytest


@pytest.fixture
def blas(fake, fake_rocblas):
    def run(script, **env):
        return fake.run(script, DEEPSEEK_ROCM_ROCBLAS=fake_rocblas, **env)
    return run


CASES = """
import numpy as np, deepseek as ds
ds.backends.set_strict(True)
rng = np.random.default_rng(3)
def arr(*shape):
    return rng.standard_normal(shape).astype(np.float32)
a, b = arr(5, 3), arr(3, 4)
ab, bb, a1 = arr(2, 3, 4), arr(2, 4, 6), arr(1, 3, 4)
big = arr(7, 9)
cases = {
    "plain": (a, b, lambda x, y: x @ y),
    "a transposed": (a.T.copy(), b, lambda x, y: x.t() @ y),
    "b transposed": (a, b.T.copy(), lambda x, y: x @ y.t()),
    "both transposed": (a.T.copy(), b.T.copy(), lambda x, y: x.t() @ y.t()),
    "batched": (ab, bb, lambda x, y: x @ y),
    "a broadcast over the batch": (a1, bb, lambda x, y: x.expand(2, 3, 4) @ y),
    "offset views": (big, big, lambda x, y: x[1:6, 2:5] @ y[3:6, 4:8]),
    "vector": (a, b[:, 0].copy(), lambda x, y: x @ y),
}
out = {}
for name, (x, y, f) in cases.items():
    got = f(ds.tensor(x).to("rocm"), ds.tensor(y).to("rocm")).cpu().numpy()
    want = f(ds.tensor(x), ds.tensor(y)).numpy()
    out[name] = [list(got.shape) == list(want.shape), float(np.abs(got - want).max())]
emit(out)
"""


def test_matmul_layouts_through_rocblas_match_the_cpu(blas):
    out, log = blas(CASES)
    for name, (same_shape, err) in out.items():
        assert same_shape and err < 1e-5, (name, err)
    gemms = log.named("rocblas_gemm_strided_batched_ex")
    assert len(gemms) == len(out) and all(c.rc == 0 for c in gemms)
    assert not log.launches("k_matmul")  # every one of these went to rocBLAS
    by_shape = {}
    for c in gemms:  # the first of each shape: "plain" comes before "offset views"
        by_shape.setdefault((c["m"], c["n"], c["k"], c["batch"]), c)
    plain = by_shape[("4", "5", "3", "1")]  # out^T (4 x 5) = b^T a^T
    assert (plain["transA"], plain["transB"], plain["lda"], plain["ldb"], plain["ldc"]) == ("111", "111", "4", "3", "4")
    batched = gemms[list(out).index("batched")]
    assert (batched["m"], batched["n"], batched["k"], batched["batch"]) == ("6", "3", "4", "2")
    assert (batched["stride_a"], batched["stride_b"], batched["stride_c"]) == ("24", "12", "18")
    broadcast = gemms[list(out).index("a broadcast over the batch")]
    assert broadcast["batch"] == "2" and broadcast["stride_b"] == "0"  # a's batch read twice, not copied
    views = gemms[list(out).index("offset views")]
    assert (views["lda"], views["ldb"], views["ldc"]) == ("9", "9", "4")  # the parent's row stride
    assert {c["type"] for c in gemms} == {"151"} and {c["compute"] for c in gemms} == {"151"}
    assert all(c["stream"] == "0" for c in gemms) and len(log.named("rocblas_create_handle")) == 1


@pytest.mark.parametrize("dtype, type_code, compute, tol", [("float64", "152", "152", 1e-12),
                                                            ("float16", "150", "151", 2e-2),
                                                            ("bfloat16", "168", "151", 1e-1)])
def test_half_and_double_matmul_through_rocblas(blas, dtype, type_code, compute, tol):
    out, log = blas(f"""
import numpy as np, deepseek as ds
ds.backends.set_strict(True)
rng = np.random.default_rng(5)
x, y = rng.standard_normal((6, 5)), rng.standard_normal((5, 3))
dx, dy = ds.tensor(x).to(ds.{dtype}), ds.tensor(y).to(ds.{dtype})
got = (dx.to("rocm") @ dy.to("rocm")).cpu().to(ds.float64).numpy()
want = (dx.to(ds.float64) @ dy.to(ds.float64)).numpy()
emit(float(np.abs(got - want).max()))
""")
    assert out < tol
    (gemm,) = log.named("rocblas_gemm_strided_batched_ex")
    assert gemm["type"] == type_code and gemm["compute"] == compute


def test_operands_without_a_unit_stride_and_integers_use_the_portable_kernel(blas):
    out, log = blas("""
import deepseek as ds
x = ds.arange(40, dtype=ds.float32).reshape(5, 8).to("rocm")
strided = x[:, ::2] @ x[:4, ::2].t()                # no unit stride in either axis of a view
ints = ds.arange(6, dtype=ds.int32).reshape(2, 3).to("rocm") @ ds.ones(3, 2, dtype=ds.int32).to("rocm")
emit([list(strided.shape), list(ints.shape)])
""")
    assert out == [[5, 4], [2, 2]]
    assert not log.named("rocblas_gemm_strided_batched_ex")
    assert len(log.launches("k_matmul")) == 2


def test_a_rocblas_failure_is_the_matmul_error(blas):
    out, _ = blas("""
import os, deepseek as ds
a = ds.ones(4, 4).to("rocm")
os.environ["FAKE_HIP_FAIL"] = "rocblas_gemm_strided_batched_ex:6"
try:
    (a @ a).cpu()
except RuntimeError as e:
    emit(str(e))
""")
    assert ("rocblas_gemm_strided_batched_ex(m=4, n=4, k=4, batch=1) for matmul on rocm:0: "
            "rocblas_status_internal_error") in out


def test_rocblas_is_found_beside_the_runtime(fake, fake_rocblas):
    """Without the override, the plugin looks for librocblas.so beside the runtime first."""
    out, log = fake.run("""
import deepseek as ds
from deepseek_rocm import runtime
a = ds.ones(2, 2).to("rocm")
emit([(a @ a).cpu().tolist(), runtime.blas_path()])
""", DEEPSEEK_ROCM_ROCBLAS="")
    assert out == [[[2.0, 2.0], [2.0, 2.0]], str(fake_rocblas)]
    assert len(log.named("rocblas_gemm_strided_batched_ex")) == 1
