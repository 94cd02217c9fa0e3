"""The launch path against the fake driver: primitive ops go through the shared planner
(deepseek/backends/kernels/csrc) and cuLaunchKernel. The fake records each launch with its
parameter bytes (it reads the kernels' parameter lists from the PTX the plugin hands it with
DEEPSEEK_CUDA_CODE=ptx), so the tests decode the argument blocks and check them against the
tensors: every element a kernel would read or write is found, through the recorded pointer,
meta block and offsets, holding the value the tensor has there."""
from __future__ import annotations

import pytest

from deepseek.backends import kernels

from cuda_helpers import calls_named

PTX = {"DEEPSEEK_CUDA_CODE": "ptx"}

# The script's side: run an op, then for each launch read back the element every (decoded)
# offset points at, so the test compares values rather than addresses.
DECODE = """
import struct, numpy as np, deepseek as ds
from deepseek.backends import kernels
ds.backends.set_strict(True)
be = ds.backends.get_backend("cuda")
MAXD = kernels.MAXD

def meta(blob, nt):
    v = struct.unpack(f"<{len(blob) // 8}q", blob)
    sh, st = v[:MAXD], [v[MAXD + t * MAXD: MAXD + (t + 1) * MAXD] for t in range(nt)]
    off, nd = v[MAXD + nt * MAXD: MAXD + nt * MAXD + nt], v[MAXD + nt * MAXD + nt]
    return sh[:nd], [s[:nd] for s in st], off

def offsets(sh, st, off, t):
    # element offsets of tensor t, iterating the shape row-major (the kernels' order)
    idx = np.indices(sh).reshape(len(sh), -1) if sh else np.zeros((0, 1), dtype=np.int64)
    return off[t] + (np.array(st[t], dtype=np.int64)[:, None] * idx).sum(axis=0) if sh else np.array([off[t]])

def read(ptr, elem_offsets, np_dtype):
    size = np.dtype(np_dtype).itemsize
    return [np.frombuffer(be.copy_to_host(0, ptr, size, src_offset=int(o) * size), dtype=np_dtype)[0].item()
            for o in elem_offsets]

def launches():
    lines = [ln for ln in open(__import__("os").environ["FAKE_CUDA_LOG"]) if ln.startswith("cuLaunchKernel")]
    out = []
    for ln in lines:
        f = dict(kv.split("=", 1) for kv in ln.split(" -> ")[0].split()[1:])
        f["params"] = [bytes.fromhex(p) for p in f["params"].split("|")]
        out.append(f)
    return out
"""


def test_binary_op_arguments_match_the_tensors(run_fake):
    """add of a (4, 5) float32 and a broadcast (5,) row: pointers, Meta3, n and op code."""
    out, calls = run_fake(DECODE + """
x = (ds.arange(20, dtype=ds.float32) + 100).reshape(4, 5).to("cuda")
y = (ds.arange(5, dtype=ds.float32) + 1000).to("cuda")
z = x + y
(l,) = [f for f in launches() if f["name"] == "k_binary"]
o, a, b, m, n, op = l["params"]
ptr = lambda p: struct.unpack("<Q", p)[0]
sh, st, off = meta(m, 3)
emit({"n": struct.unpack("<q", n)[0], "op": struct.unpack("<i", op)[0], "sh": list(sh), "grid": l["grid"],
      "block": l["block"], "a": read(ptr(a), offsets(sh, st, off, 1), np.float32),
      "b": read(ptr(b), offsets(sh, st, off, 2), np.float32), "o": [int(v) for v in offsets(sh, st, off, 0)],
      "o_ptr": ptr(o), "z": [int(ptr(o) + 4 * v) for v in offsets(sh, st, off, 0)],
      "allocs": [int(c.split("ptr=")[1].split()[0], 16) for c in open(__import__("os").environ["FAKE_CUDA_LOG"])
                 if c.startswith("cuMemAlloc_v2") and c.rstrip().endswith("-> 0")]})
""", **PTX)
    assert out["n"] == 20 and out["op"] == kernels.BINARY.index("add")
    assert out["a"] == [100.0 + i for i in range(20)]
    assert out["b"] == [1000.0 + i % 5 for i in range(20)]
    assert out["o"] == list(range(out["o"][0], out["o"][0] + 20))  # a fresh contiguous output
    assert out["o_ptr"] in out["allocs"]  # a block the plugin allocated
    assert out["block"] == f"{kernels.LS},1,1" and out["grid"] == "1,1,1"


def test_views_matmul_and_unary_arguments(run_fake):
    """A transposed view in a unary op, an offset slice, and matmul's P16 block."""
    out, _ = run_fake(DECODE + """
base = (ds.arange(30, dtype=ds.float32) + 1).reshape(5, 6).to("cuda")
t = base.t()[1:5, 2:]                 # (4, 3), strides (1, 6), offset 13
r = ds.neg(t)
a = (ds.arange(12, dtype=ds.float32) - 3).reshape(3, 4).to("cuda")
bm = (ds.arange(8, dtype=ds.float32) * 2).reshape(2, 4).to("cuda").t()   # (4, 2), transposed
c = a @ bm
res = {}
for f in launches():
    p = f["params"]
    ptr = lambda q: struct.unpack("<Q", q)[0]
    if f["name"] == "k_unary":
        sh, st, off = meta(p[2], 2)
        res["unary"] = {"x": read(ptr(p[1]), offsets(sh, st, off, 1), np.float32),
                        "op": struct.unpack("<i", p[4])[0]}
    if f["name"] == "k_matmul":
        v = struct.unpack(f"<{len(p[3]) // 8}q", p[3])
        M, N, K = v[:3]
        ao, asb, asm, ask, bo, bsb, bsk, bsn = v[3:11]
        res["matmul"] = {"MNK": [M, N, K], "nparams": len(v), "grid": f["grid"], "block": f["block"],
                         "a": [read(ptr(p[1]), [ao + m * asm + k * ask], np.float32)[0] for m in range(M) for k in range(K)],
                         "b": [read(ptr(p[2]), [bo + k * bsk + n * bsn], np.float32)[0] for k in range(K) for n in range(N)]}
emit(res)
""", **PTX)
    import numpy as np
    want = (np.arange(30, dtype=np.float32) + 1).reshape(5, 6).T[1:5, 2:]
    assert out["unary"]["x"] == want.ravel().tolist() and out["unary"]["op"] == kernels.UNARY.index("neg")
    mm = out["matmul"]
    assert mm["MNK"] == [3, 2, 4] and mm["nparams"] == 16
    assert mm["a"] == (np.arange(12, dtype=np.float32) - 3).tolist()
    assert mm["b"] == (np.arange(8, dtype=np.float32) * 2).reshape(2, 4).T.ravel().tolist()
    assert mm["block"] == f"{kernels.MW},{kernels.MW},1" and mm["grid"] == "1,1,1"


def test_launches_run_no_python_once_warm_and_keep_stream_order(run_fake):
    out, calls = run_fake("""
import deepseek as ds
from deepseek_cuda._launch import lib
ds.backends.set_strict(True)
x = ds.ones(1000, device="cuda")
y = x * 2
warm = lib.dsg_python_calls()
for _ in range(20):
    y = y + x
host = y.cpu()
emit([warm, lib.dsg_python_calls()])
""", **PTX)
    assert out[0] == out[1] == 1  # one program (float32) built, then no Python per launch
    order = [c.name for c in calls if c.name in ("cuMemcpyHtoDAsync_v2", "cuLaunchKernel", "cuMemcpyDtoHAsync_v2")]
    assert order[-1] == "cuMemcpyDtoHAsync_v2" and order.count("cuLaunchKernel") == 22  # fill, mul, 20 adds
    assert order.index("cuMemcpyDtoHAsync_v2") > max(i for i, n in enumerate(order) if n == "cuLaunchKernel")
    assert all(c["stream"] == "0" for c in calls_named(calls, "cuLaunchKernel"))
    blocks = [c["block"] for c in calls_named(calls, "cuLaunchKernel")]
    grids = [int(c["grid"].split(",")[0]) for c in calls_named(calls, "cuLaunchKernel")]
    assert set(blocks) == {f"{kernels.LS},1,1"} and all(g * kernels.LS >= 1000 for g in grids)


def test_a_kernel_fault_names_the_op_that_ran_last(run_fake):
    out, _ = run_fake("""
import os, deepseek as ds
x = ds.ones(8, device="cuda")
y = ds.exp(x)
os.environ["FAKE_CUDA_FAIL"] = "cuCtxSynchronize:700"
try:
    ds.cuda.synchronize()
except RuntimeError as e:
    emit(str(e))
""", **PTX)
    assert "CUDA_ERROR_ILLEGAL_ADDRESS: an illegal memory access was encountered" in out
    assert "the last op launched on this device: exp (k_unary, float32)" in out


def test_a_program_that_does_not_load_fails_once_with_the_reason(run_fake):
    out, calls = run_fake("""
import deepseek as ds
res = []
for _ in range(2):
    try:
        ds.ones(4, device="cuda")   # fill, in the float32 program
    except RuntimeError as e:
        res.append(str(e))
emit(res)
""", FAKE_CUDA_FAIL="cuModuleLoadData:200", **PTX)
    assert len(out) == 2 and all("building the float32 kernels for cuda:0 failed: cuModuleLoadData on cuda:0: "
                                 "CUDA_ERROR_INVALID_IMAGE" in m for m in out), out
    assert len(calls_named(calls, "cuModuleLoadData")) == 1


def test_a_compile_error_names_the_program_and_shows_nvrtc_log(run_fake, tmp_path):
    out, _ = run_fake("""
import deepseek as ds
from deepseek.backends import kernels
real = kernels.source
kernels.source = lambda program, dialect, fp64=True: real(program, dialect, fp64) + "\\nthis_is_not_cuda;\\n"
try:
    ds.ones(4, dtype=ds.int16, device="cuda")
except RuntimeError as e:
    emit(str(e))
""", DEEPSEEK_CUDA_CACHE_DIR=tmp_path / "fresh")
    assert "building the int16 kernels for cuda:0 failed: NVRTC could not compile kernel program 'int16'" in out
    assert "this_is_not_cuda" in out and "error" in out


def test_every_primitive_op_is_native_and_a_punted_call_falls_back(run_fake):
    """All ops are declared; a call the planner does not take (a cat of more tensors than a
    launch holds) answers not implemented: the core runs it on the CPU with a warning, or
    refuses it in strict mode."""
    out, calls = run_fake("""
import warnings, deepseek as ds
native, missing = ds.backends.get_backend("cuda").coverage()
parts = [ds.full((2,), float(i)).to("cuda") for i in range(9)]
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    joined = ds.cat(parts)
res = [len(native), list(missing), joined.cpu().tolist(), str(joined.device), [str(m.message) for m in w]]
ds.backends.set_strict(True)
try:
    ds.cat(parts)
except RuntimeError as e:
    res.append(str(e))
emit(res)
""", **PTX)
    assert out[0] == len(__import__("deepseek").backends.PRIMITIVE_OP_NAMES) and out[1] == []
    assert out[2] == [float(i // 2) for i in range(18)] and out[3] == "cuda:0"  # computed on the CPU
    assert any("cat" in m and "CPU" in m for m in out[4]), out[4]
    assert "cat" in out[5] and "planner does not handle this call of 'cat'" in out[5], out[5]
    assert calls_named(calls, "cuLaunchKernel") == []  # a punt enqueues nothing


@pytest.mark.parametrize("pools", [True, False], ids=["stream-ordered", "no-memory-pools"])
def test_reduction_scratch_is_stream_ordered_and_freed(run_fake, pools):
    """A long sum takes partial results in scratch memory: allocated and freed on the launch's
    stream (or, where the device has no memory pools, plainly), never leaked."""
    env = dict(PTX) if pools else dict(PTX, FAKE_CUDA_FAIL="cuMemAllocAsync:801")
    _, calls = run_fake("""
import deepseek as ds
ds.backends.set_strict(True)
x = ds.ones(100000, device="cuda")
s = x.sum()
del x, s
ds.cuda.empty_cache()
""", **env)
    names = [c.name for c in calls]
    red, redf = [i for i, c in enumerate(calls) if c.name == "cuLaunchKernel" and c["name"] in ("k_red", "k_redf")]
    alloc_name, free_name = ("cuMemAllocAsync", "cuMemFreeAsync") if pools else ("cuMemAlloc_v2", "cuMemFree_v2")
    scratch = [i for i, c in enumerate(calls) if c.name == alloc_name and c.rc == 0 and i < red][-1]
    (freed,) = [i for i, c in enumerate(calls) if c.name == free_name and c["ptr"] == calls[scratch]["ptr"]]
    assert scratch < red < redf < freed
    if pools:
        assert calls[scratch]["stream"] == calls[freed]["stream"] == calls[red]["stream"] == "0"
    else:
        assert names.count("cuMemAllocAsync") == 1  # asked once, then remembered
    made = sorted(c["ptr"] for c in calls if c.name in ("cuMemAlloc_v2", "cuMemAllocAsync") and c.rc == 0)
    gone = sorted(c["ptr"] for c in calls if c.name in ("cuMemFree_v2", "cuMemFreeAsync") and c.rc == 0)
    assert made == gone


def test_every_op_family_launches_through_the_hooks_in_strict_mode(run_fake):
    """Each family's plan (multi-kernel ones included: im2col + matmul convolutions, sort's
    merge passes, reductions with partial results) goes through the CUDA hooks without a punt
    (strict mode would raise), every launch within the device's limits, scratch freed. The fake
    runs no kernel, so only launches are checked here; inputs come from the host each time."""
    out, calls = run_fake("""
import deepseek as ds
import deepseek.nn.functional as F
ds.backends.set_strict(True)
dev = lambda t: t.to("cuda")
x = dev(ds.randn(2, 4, 9, 9))
w = dev(ds.randn(6, 4, 3, 3))
F.conv2d(x, w, padding=1)
F.conv2d(x, dev(ds.randn(4, 2, 3, 3)), groups=2)
xg, wg = x.detach().requires_grad_(), w.detach().requires_grad_()
F.conv2d(xg, wg, padding=1).backward(dev(ds.ones(2, 6, 9, 9)))   # conv2d_input_grad, conv2d_weight_grad
v = dev(ds.randn(3000))
ds.sort(v)
ds.topk(v, 5)
m = dev(ds.randn(5, 7))
idx = dev(ds.tensor([4, 0, 2]))
m[idx]
m.index_put((idx,), dev(ds.randn(3, 7)), accumulate=True)
ds.cumsum(m, 1); ds.argmax(m, 1); ds.amax(m, 0); m.sum()
ds.gather(m, 1, dev(ds.tensor([[0, 6]] * 5)))
ds.zeros(5, 7, device="cuda").scatter_add(1, dev(ds.tensor([[0, 6]] * 5)), dev(ds.ones(5, 2)))
ds.index_select(m, 0, idx); ds.zeros(5, 7, device="cuda").index_add(0, idx, dev(ds.ones(3, 7)))
ds.cat([m, m]); F.pad(m, (1, 2)); ds.where(m > 0, m, dev(ds.zeros(5, 7)))
ds.rand(10, device="cuda"); ds.randn(10, device="cuda"); ds.randperm(10, device="cuda")
ds.polygamma(2, m); m.to(ds.float16); ds.arange(5, device="cuda")
del x, w, xg, wg, v, m, idx
ds.cuda.synchronize()
ds.cuda.empty_cache()
emit("ok")
""", **PTX)
    assert out == "ok"
    names = {c["name"] for c in calls_named(calls, "cuLaunchKernel")}
    for kernel in ("k_im2col", "k_col2im", "k_matmul", "k_conv2d", "k_sort_block", "k_sort_merge", "k_index1", "k_index_put1",
                   "k_cumulative", "k_argreduce", "k_red", "k_take", "k_scatter", "k_copy", "k_fill", "k_where",
                   "k_rand", "k_randn", "k_randperm", "k_polygamma", "k_cast", "k_arange_i"):
        assert kernel in names, (kernel, sorted(names))
    assert all(c.rc == 0 for c in calls_named(calls, "cuLaunchKernel"))
    made = sorted(c["ptr"] for c in calls if c.name in ("cuMemAlloc_v2", "cuMemAllocAsync") and c.rc == 0)
    gone = sorted(c["ptr"] for c in calls if c.name in ("cuMemFree_v2", "cuMemFreeAsync") and c.rc == 0)
    assert made == gone


@pytest.mark.parametrize("link", ["", "nvjitlink"], ids=["nvrtc-sass", "ptx-nvjitlink"])
def test_the_driver_gets_sass_for_the_devices_architecture(run_fake, link):
    """Without DEEPSEEK_CUDA_CODE the plugin hands the driver a cubin for the device's own
    architecture (sm_90 here), from NVRTC or through nvJitLink, and launches from it."""
    out, calls = run_fake("""
import deepseek as ds
ds.backends.set_strict(True)
ds.ones(4, device="cuda")
emit("ok")
""", FAKE_CUDA_CC="9.0", DEEPSEEK_CUDA_LINK=link)
    assert out == "ok"
    (load,) = calls_named(calls, "cuModuleLoadData")
    assert (load["kind"], load["arch"], load.rc) == ("cubin", "90", 0)
    assert [c["name"] for c in calls_named(calls, "cuLaunchKernel")] == ["k_fill"]


def test_threads_meeting_a_new_program_keep_one_module(run_fake):
    """Threads launching a dtype's first kernels at once may each build the program (no lock is
    held while Python compiles); one module stays loaded, the others are unloaded."""
    out, calls = run_fake("""
import threading, deepseek as ds
ds.backends.set_strict(True)
xs = [ds.ones(64).to("cuda") for _ in range(6)]   # host copies only: no program yet
go = threading.Barrier(6)
def work(x):
    go.wait()
    for _ in range(5):
        x = x * 2
threads = [threading.Thread(target=work, args=(x,)) for x in xs]
for t in threads: t.start()
for t in threads: t.join()
emit("ok")
""", **PTX)
    assert out == "ok"
    loads = [c for c in calls_named(calls, "cuModuleLoadData") if c.rc == 0]
    unloads = calls_named(calls, "cuModuleUnload")
    assert len(loads) >= 1 and len(loads) - len(unloads) == 1
    assert len(calls_named(calls, "cuLaunchKernel")) == 30
