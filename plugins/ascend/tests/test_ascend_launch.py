"""The launch path of deepseek-ascend, read from the fake CANN's call log: every descriptor it
creates is destroyed, every workspace is allocated before its operator and freed only after the
stream ran it, operators run in order on the device's stream, executors are used once, aclnn
errors surface as RuntimeErrors naming the operator, the operands and CANN's own message, and an
operator missing from an older CANN routes its op to a decomposition or to the CPU."""
from __future__ import annotations

from ascend_helpers import calls_named

WORKLOAD = """
import deepseek as ds
import deepseek.nn.functional as F
ds.backends.set_strict(True)
ds.manual_seed(0)
dev = "ascend:0"
x, w, img = ds.randn(4, 5), ds.randn(3, 2, 2, 2), ds.randn(1, 2, 5, 5)
v, i = ds.randn(3, 5), ds.tensor([0, 2, 3])
cases = {
    "flip": lambda t: (t.flip(0) * 2).exp(),              # a negative-stride view: aclnnFlip first
    "transpose_sum": lambda t: t.t().sum(0),
    "softmax": lambda t: F.softmax(t, dim=1),
    "matmul": lambda t: t @ t.t(),
    "sort": lambda t: ds.sort(t, dim=1)[0],
    "index_put": lambda t: t.index_put((i.to(t.device),), v.to(t.device)),
    "cat": lambda t: ds.cat([t, t[:2]], 0),
    "prod": lambda t: t.prod(),
}
out = {k: float((f(x.to(dev)).cpu() - f(x)).abs().max()) for k, f in cases.items()}
out["conv"] = float((F.conv2d(img.to(dev), w.to(dev)).cpu() - F.conv2d(img, w)).abs().max())
ds.manual_seed(3)
r_dev = ds.randn(7, device=dev).cpu()
ds.manual_seed(3)
out["randn"] = float((r_dev - ds.randn(7)).abs().max())
emit(out)
"""


def _created_and_destroyed(calls):
    created = {c["id"]: c.name for c in calls if c.name.startswith("aclCreate") and c.rc == 0}
    destroyed = {}
    for c in calls:
        if c.name.startswith("aclDestroy") and c.rc == 0 and c["id"] != "0":
            destroyed[c["id"]] = destroyed.get(c["id"], 0) + 1
    return created, destroyed


def test_workload_matches_the_cpu_and_the_log_is_clean(run_fake):
    out, calls = run_fake(WORKLOAD)
    assert all(d < 1e-5 for d in out.values()), out
    names = {c.name for c in calls}
    assert {"aclnnFlip", "aclnnConvolution", "aclnnSort", "aclnnIndexPutImpl", "aclnnCat", "aclnnProdDim"} <= names
    assert all(c.rc == 0 for c in calls), [c.line for c in calls if c.rc][:5]

    # every aclCreate* destroyed exactly once (a tensor list destroys its tensors)
    created, destroyed = _created_and_destroyed(calls)
    assert created and set(created) == set(destroyed), set(created) ^ set(destroyed)
    assert all(n == 1 for n in destroyed.values())

    # each operator: first phase, then a workspace of at least the size asked for, in a block
    # allocated before the second phase, on the device's one stream; run by the stream in that
    # order; the block freed only after the operator ran (it may serve later operators of the
    # stream first)
    streams = {c["stream"] for c in calls_named(calls, "aclrtCreateStream")}
    assert len(streams) == 1
    first = [(k, c) for k, c in enumerate(calls) if c.name.endswith("GetWorkspaceSize")]
    second = [(k, c) for k, c in enumerate(calls) if c.name.startswith("aclnn") and not c.name.endswith("GetWorkspaceSize")]
    execs = [(k, c) for k, c in enumerate(calls) if c.name == "exec"]
    assert len(first) == len(second) == len(execs) >= 15
    assert [c["executor"] for _, c in second] == [c["executor"] for _, c in first]  # each used once, in order
    assert [c["executor"] for _, c in execs] == [c["executor"] for _, c in second]  # the stream keeps the order
    assert {c["stream"] for _, c in second} == streams
    reused = 0
    for (k1, ws), (k2, run), (k3, ex) in zip(first, second, execs):
        size, ptr = int(ws["workspace"]), run["workspace"]
        assert size > 0 and int(run["size"]) >= size and k1 < k2 < k3
        mallocs = [k for k, c in enumerate(calls[:k2]) if c.name == "aclrtMalloc" and c["ptr"] == ptr]
        assert mallocs and int(calls[mallocs[-1]]["size"]) >= size, run.line
        frees = [k for k, c in enumerate(calls) if c.name == "aclrtFree" and c["ptr"] == ptr and k > mallocs[-1]]
        assert frees and frees[0] > k3, f"{run.line}: workspace freed before the stream ran it"
        reused += mallocs[-1] < k1
    assert reused > 0  # scratch blocks serve later operators of the stream before they are freed


def test_an_aclnn_error_names_the_operator_the_operands_and_canns_message(run_fake):
    err, calls = run_fake("""
import deepseek as ds
a = ds.ones(2, 3, device="ascend:0")
try:
    a * a.exp()
except RuntimeError as exc:
    msg = str(exc)
emit({"msg": msg, "after": (a + a).cpu().tolist(), "cpu": (ds.ones(2) * 3).tolist()})
""", FAKE_ACL_FAIL="aclnnMul")
    msg = err["msg"]
    for part in ("aclnnMulGetWorkspaceSize returned 161002 (ACLNN_ERR_PARAM_INVALID)",
                 "float32[2, 3], float32[2, 3], float32[2, 3]",
                 "EZ1001: aclnnMul: the operands' shapes or dtypes are not supported (injected by FAKE_ACL_FAIL)",
                 "'mul' on ascend:0"):
        assert part in msg, msg
    assert err["after"] == [[2.0] * 3] * 2 and err["cpu"] == [3.0, 3.0]
    created, destroyed = _created_and_destroyed(calls)  # nothing leaks on the error path
    assert set(created) == set(destroyed)


def test_an_older_cann_decomposes_or_falls_back_and_the_probe_says_so(run_fake, older_cann):
    out, calls = run_fake("""
import subprocess, sys, warnings
import deepseek as ds
a, b = ds.tensor([5.0, 7.0]), ds.tensor([2.0, 0.5])
res = {"status": ds.backends.available()["ascend"]}
ds.backends.set_strict(True)
res["sub"] = (a.to("ascend") - b.to("ascend")).cpu().tolist()
try:
    ds.atan2(a.to("ascend"), b.to("ascend"))
except RuntimeError as exc:
    res["strict"] = str(exc)
ds.backends.set_strict(False)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    res["atan2"] = ds.atan2(a.to("ascend"), b.to("ascend")).cpu().tolist()
res["warned"] = [str(w.message) for w in caught]
res["report"] = subprocess.run([sys.executable, "-m", "deepseek.backends"], capture_output=True, text=True).stdout
emit(res)
""", home=older_cann)
    import math

    status = out["status"]
    assert status.startswith("available: 1 device(s): Ascend910B1; 89/90 primitive ops native: 85 on aclnn "
                             "operators, 4 drawn on the host (rand, randn, randint, randperm)"), status
    assert "decomposed for missing operators: sub (via aclnnAdd)" in status
    assert "on the CPU: atan2 (aclnnAtan2 missing)" in status
    assert out["sub"] == [3.0, 6.5]
    assert "aclnnSub" not in {c.name for c in calls}
    adds = [c for c in calls_named(calls, "aclCreateScalar")]
    assert adds, "aclnnAdd's alpha scalar was never made"
    assert "atan2" in out["strict"]
    assert out["atan2"] == [math.atan2(5, 2), math.atan2(7, 0.5)] or all(
        abs(x - y) < 1e-6 for x, y in zip(out["atan2"], [math.atan2(5, 2), math.atan2(7, 0.5)]))
    assert any("atan2" in w for w in out["warned"]), out["warned"]
    assert "native: 89/90 primitive ops" in out["report"] and "missing: atan2" in out["report"]


def test_no_cann_reports_why_and_the_cpu_keeps_working(run_fake, tmp_path):
    empty = tmp_path / "no_cann"
    empty.mkdir()
    out, calls = run_fake("""
import deepseek as ds
res = {"status": ds.backends.available()["ascend"], "avail": ds.ascend.is_available(),
       "count": ds.ascend.device_count(), "cpu": (ds.ones(2) * 2).tolist()}
try:
    ds.ones(2).to("ascend")
except RuntimeError as exc:
    res["to"] = str(exc)
emit(res)
""", home=empty)
    reason = f"no CANN: libascendcl.so not found (looked in {empty}/lib64, {empty} and the loader path"
    assert out["status"].startswith("unavailable: " + reason), out["status"]
    assert "set_env.sh" in out["status"]
    assert out["avail"] is False and out["count"] == 0 and out["cpu"] == [2.0, 2.0]
    assert reason in out["to"]
    assert calls == []


def test_matmul_outside_batchmatmuls_dtypes_runs_as_products_in_row_blocks(run_fake):
    """aclnnBatchMatMul takes float16, bfloat16 and float32 on a 910B (the fake refuses the rest
    with 161002, as CANN does): int64 runs as aclnnMul of broadcast views summed over k by
    aclnnReduceSum, in blocks of rows that keep the products under a bound (64 MiB; 4 KiB here,
    so 5 rows of 16 x 8 int64 products take two blocks)."""
    out, calls = run_fake("""
import numpy as np, deepseek as ds
ds.backends.set_strict(True)
rng = np.random.default_rng(0)
a, b = rng.integers(-50, 50, (5, 16)), rng.integers(-50, 50, (16, 8))
got = (ds.tensor(a).to("ascend") @ ds.tensor(b).to("ascend")).cpu().numpy()
small = (ds.ones(2, 3).to("ascend") @ ds.ones(3, 4).to("ascend")).cpu().tolist()
emit([bool(np.array_equal(got, a @ b)), small])
""", DEEPSEEK_ASCEND_PRODUCT_BYTES=4096)
    assert out == [True, [[3.0] * 4] * 2]
    ops = [c.name for c in calls if c.name.endswith("GetWorkspaceSize")]
    assert ops.count("aclnnMulGetWorkspaceSize") == 2 and ops.count("aclnnReduceSumGetWorkspaceSize") == 2  # 4 + 1 rows
    assert ops.count("aclnnBatchMatMulGetWorkspaceSize") == 1  # the float32 product


def test_float64_convolution_and_its_gradients_run_as_products(run_fake):
    """aclnnConvolution takes float16, bfloat16 and float32 on a 910B (the fake refuses float64
    with 161002): a float64 conv2d, with padding, stride, dilation and groups, and both its
    gradients run as aclnnMul of views of the padded input and aclnnReduceSum (the input
    gradient adding window by window with aclnnInplaceAdd), and match the CPU."""
    out, calls = run_fake("""
import deepseek as ds
import deepseek.nn.functional as F
ds.backends.set_strict(True)
ds.manual_seed(0)
x, w = ds.randn(2, 4, 7, 6, dtype=ds.float64), ds.randn(6, 2, 3, 2, dtype=ds.float64)
def run(dev):
    xs, ws = x.to(dev).requires_grad_(), w.to(dev).requires_grad_()
    y = F.conv2d(xs, ws, None, (2, 1), (1, 1), (1, 2), 2)
    (y * y).sum().backward()
    return y.cpu(), xs.grad.cpu(), ws.grad.cpu()
emit([float((a - b).abs().max()) for a, b in zip(run("ascend:0"), run("cpu"))])
""")
    assert all(d < 1e-12 for d in out), out
    names = [c.name for c in calls]
    assert "aclnnConvolutionGetWorkspaceSize" not in names and "aclnnConvolutionBackwardGetWorkspaceSize" not in names
    assert names.count("aclnnInplaceAddGetWorkspaceSize") == 2 * 3 * 2  # groups x KH x KW
    assert "aclnnConstantPadNdGetWorkspaceSize" in names
