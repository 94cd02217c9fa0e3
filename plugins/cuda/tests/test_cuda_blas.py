"""matmul through cuBLAS (csrc/blas.c), against a fake libcublas.so.12 built beside the fake
driver: it really computes the column-major GEMM it is asked for, on the fake driver's
memory (host RAM), so the products are compared with NumPy; the layouts cuBLAS cannot take go
to the portable kernel; TF32 follows deepseek.backends.cuda.matmul.allow_tf32."""
from __future__ import annotations

import numpy as np

from cuda_helpers import calls_named

SCRIPT = """
import numpy as np, deepseek as ds
from deepseek_cuda import table
rng = np.random.default_rng(0)
def pair(shape_a, shape_b, dtype=np.float32):
    return rng.standard_normal(shape_a).astype(dtype), rng.standard_normal(shape_b).astype(dtype)
res = {}
a, b = pair((5, 7), (7, 3))
res["plain"] = [(ds.tensor(a).to("cuda") @ ds.tensor(b).to("cuda")).cpu().numpy().tolist(), (a @ b).tolist()]
a, b = pair((7, 5), (3, 7))                  # both transposed views
r = ds.tensor(a).to("cuda").t() @ ds.tensor(b).to("cuda").t()
res["transposed"] = [r.cpu().numpy().tolist(), (a.T @ b.T).tolist()]
a, b = pair((4, 6), (3, 6, 2), np.float64)   # batched, a broadcast over the batch (stride 0)
res["batched64"] = [(ds.tensor(a).to("cuda") @ ds.tensor(b).to("cuda")).cpu().numpy().tolist(), (a @ b).tolist()]
a, b = pair((4, 8), (8, 5))
ab = [ds.tensor(x).to(ds.bfloat16) for x in (a, b)]
res["bf16"] = [(ab[0].to("cuda") @ ab[1].to("cuda")).cpu().float().numpy().tolist(),
               (ab[0].float() @ ab[1].float()).numpy().tolist()]
ds.backends.cuda.matmul.allow_tf32 = True
a, b = pair((2, 3), (3, 2))
ds.tensor(a).to("cuda") @ ds.tensor(b).to("cuda")
res["cublas"] = dict(table.CUBLAS)
emit(res)
"""


def test_cublas_products_match_numpy(run_fake, fake_driver):
    out, calls = run_fake(SCRIPT, DEEPSEEK_CUDA_CUBLAS=fake_driver.parent / "libcublas.so.12", DEEPSEEK_CUDA_CODE="ptx")
    assert out["cublas"]["loaded"] is True, out["cublas"]
    for key, rtol in (("plain", 1e-5), ("transposed", 1e-5), ("batched64", 1e-12), ("bf16", 1e-2)):
        got, want = (np.array(v) for v in out[key])
        assert got.shape == want.shape and np.allclose(got, want, rtol=rtol, atol=rtol), key
    gemms = calls_named(calls, "cublasGemmStridedBatchedEx")
    assert len(gemms) == 5 and all(g.rc == 0 for g in gemms)
    plain, transposed, batched, bf16, tf32 = gemms
    # row-major out = a @ b as column-major out^T = b^T a^T: m = N, n = M
    assert (plain["m"], plain["n"], plain["k"], plain["transa"], plain["transb"]) == ("3", "5", "7", "0", "0")
    assert (transposed["transa"], transposed["transb"]) == ("1", "1")
    # cuBLAS's second operand is a: its batch stride is 0
    assert (batched["batch"], batched["strideB"], batched["strideA"], batched["type"], batched["compute"]) == (
        "3", "0", "12", "1", "70")
    assert (bf16["type"], bf16["compute"]) == ("14", "68")
    assert plain["compute"] == "68" and tf32["compute"] == "77"  # TF32 only once allowed
    assert not [c for c in calls_named(calls, "cuLaunchKernel") if c["name"].startswith("k_matmul")]


def test_layouts_cublas_cannot_take_use_the_portable_kernel(run_fake, fake_driver):
    out, calls = run_fake("""
import deepseek as ds
a = ds.ones(4, 10, device="cuda")[:, ::2]     # no unit stride
r = a @ ds.ones(5, 3, device="cuda")
emit(str(r.device))
""", DEEPSEEK_CUDA_CUBLAS=fake_driver.parent / "libcublas.so.12", DEEPSEEK_CUDA_CODE="ptx")
    assert out == "cuda:0"
    assert calls_named(calls, "cublasGemmStridedBatchedEx") == []
    assert [c["name"] for c in calls_named(calls, "cuLaunchKernel")].count("k_matmul") == 1


def test_cublas_failures_and_absence(run_fake, fake_driver, tmp_path):
    out, _ = run_fake("""
import deepseek as ds
try:
    ds.ones(2, 3, device="cuda") @ ds.ones(3, 4, device="cuda")
except RuntimeError as e:
    emit(str(e))
""", DEEPSEEK_CUDA_CUBLAS=fake_driver.parent / "libcublas.so.12", FAKE_CUBLAS_FAIL=13, DEEPSEEK_CUDA_CODE="ptx")
    assert "matmul (cublasGemmStridedBatchedEx, 2x4x3, batch 1) on cuda:0: CUBLAS_STATUS_EXECUTION_FAILED" in out
    out, calls = run_fake("""
import deepseek as ds
from deepseek_cuda import table
r = ds.ones(2, 3, device="cuda") @ ds.ones(3, 4, device="cuda")
emit(table.CUBLAS)
""", DEEPSEEK_CUDA_CUBLAS=tmp_path / "no" / "libcublas.so.12", DEEPSEEK_CUDA_CODE="ptx")
    assert out["loaded"] is False and out["reason"].startswith("cuBLAS not loaded: ")
    assert [c["name"] for c in calls_named(calls, "cuLaunchKernel")].count("k_matmul") == 1
