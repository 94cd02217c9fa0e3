"""deepseek-cuda's host code against the fake driver (tests/fake_driver/fake_cuda.c): driver
loading and probing, copies through pinned staging, device-to-device copies, allocation
balance, stream order, launch limits, and every injected CUresult as a Python exception."""
from __future__ import annotations

import ctypes.util
import subprocess
import sys

import pytest

from cuda_helpers import TINY_PTX, calls_named

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64"]


def test_no_driver_reports_why_and_cpu_works(tmp_path):
    """Without libcuda.so.1 the backend is unavailable with the reason, everywhere it shows."""
    if ctypes.util.find_library("cuda"):
        pytest.skip("this machine has an NVIDIA driver")
    script = """
import deepseek as ds, json
out = {"status": ds.backends.available()["cuda"], "avail": ds.cuda.is_available(), "count": ds.cuda.device_count()}
try:
    ds.ones(2).to("cuda")
except RuntimeError as exc:
    out["to"] = str(exc)
out["cpu"] = (ds.ones(3) * 2).tolist()
print(json.dumps(out))
"""
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith(("DEEPSEEK_CUDA", "FAKE_CUDA"))}
    out = __import__("json").loads(subprocess.run([sys.executable, "-c", script], env=env, cwd=tmp_path,
                                                  capture_output=True, text=True, check=True).stdout)
    reason = "no NVIDIA driver: libcuda.so.1 not found"
    assert out["status"] == f"unavailable: {reason}", out
    assert out["avail"] is False and out["count"] == 0
    assert reason in out["to"], out["to"]
    assert out["cpu"] == [2.0, 2.0, 2.0]
    report = subprocess.run([sys.executable, "-m", "deepseek.backends"], env=env, cwd=tmp_path, capture_output=True,
                            text=True, check=True).stdout
    assert f"cuda: unavailable: {reason}" in report, report


def test_driver_path_override_names_the_missing_file(run_fake, tmp_path):
    out, calls = run_fake("""
import deepseek as ds
emit(ds.backends.available()["cuda"])
""", DEEPSEEK_CUDA_DRIVER=tmp_path / "nowhere" / "libcuda.so.1")
    assert out == f"unavailable: no NVIDIA driver: {tmp_path}/nowhere/libcuda.so.1 not found"
    assert calls == []


def test_probe_with_the_fake_driver(run_fake):
    out, calls = run_fake("""
import deepseek as ds
from deepseek_cuda import driver
emit({"status": ds.backends.available()["cuda"], "n": ds.cuda.device_count(), "props": driver.properties(1),
      "info": driver.mem_get_info(0)})
""", FAKE_CUDA_DEVICES=2, FAKE_CUDA_CC="9.0", FAKE_CUDA_MEM=2**31)
    assert out["status"] == ("available: 2 device(s): Fake NVIDIA GPU 0 (deepseek tests) (sm_90, 2.0 GiB); "
                             "Fake NVIDIA GPU 1 (deepseek tests) (sm_90, 2.0 GiB); CUDA driver 12.9")
    assert out["n"] == 2
    p = out["props"]
    assert (p["name"], p["major"], p["minor"], p["total_memory"]) == ("Fake NVIDIA GPU 1 (deepseek tests)", 9, 0, 2**31)
    assert (p["max_threads_per_block"], p["warp_size"], p["multi_processor_count"]) == (1024, 32, 108)
    assert out["info"] == [2**31, 2**31]
    assert calls[0].name == "cuInit" and calls[0]["flags"] == "0"


@pytest.mark.parametrize("staging", [64, 4 << 20])
def test_round_trip_every_dtype_through_pinned_staging(run_fake, staging):
    """Host -> device -> host is byte-exact for every dtype and size, chunked through the two
    pinned staging buffers (64 bytes each: many chunks, both buffers; 4 MiB: one chunk)."""
    out, calls = run_fake(f"""
import numpy as np, deepseek as ds
rng = np.random.default_rng(0)
bad = []
for dtype in {DTYPES!r}:
    for n in (0, 1, 7, 63, 64, 65, 200, 1001):
        if dtype == "bfloat16":  # numpy has no bfloat16: random bit patterns widened to float32, NaNs left out
            bits = rng.integers(0, 2**16, size=n, dtype=np.uint32)
            bits = bits[(bits & 0x7F80) != 0x7F80] << 16
            host = ds.from_numpy(bits.view(np.float32).copy()).to(ds.bfloat16)
            raw = bits.view(np.float32).tobytes()
        else:
            np_dtype = np.dtype(dtype)
            raw = rng.integers(0, 256, size=n * np_dtype.itemsize, dtype=np.uint8)
            if dtype == "bool":
                raw = raw % 2
            raw = raw.tobytes()
            host = ds.from_numpy(np.frombuffer(raw, dtype=np_dtype).copy())
        dev = host.to("cuda")
        assert dev.device == ds.device("cuda:0") and dev.dtype == host.dtype
        back = dev.cpu()
        got = (back.to(ds.float32) if dtype == "bfloat16" else back).numpy().tobytes()
        if got != raw:
            bad.append((dtype, n))
emit(bad)
""", DEEPSEEK_CUDA_STAGING_BYTES=staging)
    assert out == []
    copies = calls_named(calls, "cuMemcpyHtoDAsync_v2", "cuMemcpyDtoHAsync_v2")
    assert copies and all(c.rc == 0 for c in copies)
    assert all(c["pinned"] == "1" for c in copies), [c.line for c in copies if c["pinned"] != "1"][:3]
    assert max(int(c["bytes"]) for c in copies) <= staging
    hosts = calls_named(calls, "cuMemHostAlloc")
    assert len(hosts) == 2 and all(int(c["bytes"]) == staging for c in hosts)
    if staging == 64:
        assert len({c["src"] for c in copies if c.name == "cuMemcpyHtoDAsync_v2"}) == 2  # both buffers in turn


def test_raw_copies_with_offsets_and_d2d(run_fake):
    out, calls = run_fake("""
import deepseek as ds
be = ds.backends.get_backend("cuda")
data = bytes(range(256)) * 3
a, b = be.alloc(0, 1000), be.alloc(0, 1000)
be.copy_from_host(0, a, data, dst_offset=100)
be.copy(0, b, a, 500, dst_offset=10, src_offset=150)
got = [be.copy_to_host(0, a, 768, src_offset=100) == data,
       be.copy_to_host(0, b, 500, src_offset=10) == data[50:550],
       be.copy_to_host(0, a, 5, src_offset=863) == data[-5:]]
from deepseek_cuda._launch import ffi, lib
assert lib.dsg_memset(0, ffi.cast("void *", b), 20, 0x5A, 30, ffi.NULL) == 0
got.append(be.copy_to_host(0, b, 50, src_offset=10) == data[50:60] + b"\x5a" * 30 + data[90:100])
x = ds.arange(12, dtype=ds.int64).to("cuda")
y = x.clone()
got.append(y.cpu().tolist() == list(range(12)))
be.free(0, a); be.free(0, b)
emit(got)
""", DEEPSEEK_CUDA_STAGING_BYTES=100)
    assert out == [True] * 5
    (memset,) = calls_named(calls, "cuMemsetD8Async")
    assert (memset["value"], memset["bytes"]) == ("90", "30")
    d2d = calls_named(calls, "cuMemcpyDtoDAsync_v2")
    assert [c["bytes"] for c in d2d][:1] == ["500"] and len(d2d) >= 2  # the raw copy, then clone's


def test_every_allocation_is_freed(run_fake):
    """Device blocks return through empty_cache; staging buffers and their events at exit."""
    _, calls = run_fake("""
import deepseek as ds
xs = [ds.randn(n).to("cuda") for n in (1, 100, 5000, 300000)]
ys = [x + 1 for x in xs]
s = sum(float(y.sum()) for y in ys)
del xs, ys
ds.cuda.empty_cache()
""", DEEPSEEK_CUDA_STAGING_BYTES=4096)
    for alloc, free, key in (("cuMemAlloc_v2", "cuMemFree_v2", "ptr"), ("cuMemHostAlloc", "cuMemFreeHost", "ptr"),
                             ("cuEventCreate", "cuEventDestroy_v2", "event")):
        made = [c[key] for c in calls_named(calls, alloc) if c.rc == 0]
        gone = [c[key] for c in calls_named(calls, free) if c.rc == 0]
        assert made and sorted(made) == sorted(gone), (alloc, made, gone)


def test_copies_and_launches_keep_their_stream_order(run_fake):
    out, calls = run_fake(f"""
import deepseek as ds
from deepseek_cuda._launch import ffi, lib
be = ds.backends.get_backend("cuda")
s = be.stream_create(0)
a, b = be.alloc(0, 64), be.alloc(0, 64)
be.copy_from_host(0, a, bytes(range(64)), stream=s)
mod, fn = ffi.new("void **"), ffi.new("void **")
assert lib.dsg_module_load(0, ffi.new("char[]", {TINY_PTX!r}.encode()), mod) == 0
assert lib.dsg_module_function(0, mod[0], b"k_probe", fn) == 0
ptr = ffi.new("uint64_t *", a); n = ffi.new("uint32_t *", 0x01020304); blob = ffi.new("int64_t[3]", [5, -1, 7])
params = ffi.new("void *[3]", [ptr, n, blob])
grid, block = ffi.new("uint32_t[3]", [3, 2, 1]), ffi.new("uint32_t[3]", [128, 1, 1])
assert lib.dsg_launch_kernel(0, fn[0], b"add (float32)", grid, block, 0, ffi.cast("void *", s), params) == 0, ffi.string(lib.dsg_error())
be.copy(0, b, a, 64, stream=s)
back = be.copy_to_host(0, b, 64, stream=s)
assert lib.dsg_stream_synchronize(0, ffi.cast("void *", s)) == 0
assert lib.dsg_module_unload(0, mod[0]) == 0
be.stream_destroy(0, s)
be.free(0, a); be.free(0, b)
emit({{"back": list(back), "a": a, "last": ffi.string(lib.dsg_last_launch(0)).decode()}})
""")
    assert out["back"] == list(range(64)) and out["last"] == "add (float32)"
    created = calls_named(calls, "cuStreamCreate")[0]["stream"]
    work = [c for c in calls if c.name in ("cuMemcpyHtoDAsync_v2", "cuLaunchKernel", "cuMemcpyDtoDAsync_v2",
                                           "cuMemcpyDtoHAsync_v2", "cuStreamSynchronize")]
    assert [c.name for c in work] == ["cuMemcpyHtoDAsync_v2", "cuLaunchKernel", "cuMemcpyDtoDAsync_v2",
                                      "cuMemcpyDtoHAsync_v2", "cuStreamSynchronize"]
    assert all(c["stream"] == created for c in work), [c.line for c in work]
    launch = calls_named(calls, "cuLaunchKernel")[0]
    assert (launch["name"], launch["grid"], launch["block"], launch["nparams"]) == ("k_probe", "3,2,1", "128,1,1", "3")
    ptr_hex = out["a"].to_bytes(8, "little").hex()
    blob = b"".join(v.to_bytes(8, "little", signed=True) for v in (5, -1, 7)).hex()
    assert launch["params"] == f"{ptr_hex}|04030201|{blob}"
    assert calls_named(calls, "cuStreamDestroy_v2")[0]["stream"] == created


def test_launches_outside_the_device_limits_never_reach_the_driver(run_fake):
    out, calls = run_fake(f"""
from deepseek_cuda import driver
from deepseek_cuda._launch import ffi, lib
assert driver.open_driver()[0]
mod, fn = ffi.new("void **"), ffi.new("void **")
assert lib.dsg_module_load(0, ffi.new("char[]", {TINY_PTX!r}.encode()), mod) == 0
assert lib.dsg_module_function(0, mod[0], b"k_probe", fn) == 0
params = ffi.new("void *[3]", [ffi.new("uint64_t *"), ffi.new("uint32_t *"), ffi.new("int64_t[3]")])
res = []
for grid, block in (([1, 1, 1], [2048, 1, 1]), ([1, 1, 1], [64, 32, 1]), ([1, 70000, 1], [32, 1, 1]),
                    ([0, 1, 1], [32, 1, 1]), ([2**31 - 1, 65535, 1], [1024, 1, 1])):
    st = lib.dsg_launch_kernel(0, fn[0], b"sum", ffi.new("uint32_t[3]", grid), ffi.new("uint32_t[3]", block), 0,
                                ffi.NULL, params)
    res.append([st, ffi.string(lib.dsg_error()).decode() if st else ""])
emit(res)
""")
    assert [st for st, _ in out] == [4, 4, 4, 4, 0]
    assert "sum: grid (1, 1, 1) x block (2048, 1, 1) is outside cuda:0's limits" in out[0][1]
    assert "2048 threads" not in out[0][1] and "exceed cuda:0's 1024" in out[1][1]
    launches = calls_named(calls, "cuLaunchKernel")
    assert len(launches) == 1 and launches[0]["grid"] == "2147483647,65535,1" and launches[0].rc == 0


def test_out_of_memory_frees_the_cache_retries_then_raises_memory_error(run_fake):
    out, calls = run_fake("""
import deepseek as ds
keep = ds.zeros(1000, device="cuda")
try:
    ds.zeros(2**20, device="cuda")  # 4 MiB on a 1 MiB device
except MemoryError as exc:
    emit(str(exc))
""", FAKE_CUDA_MEM=2**20)
    assert "cuda:0 out of memory: tried to allocate 4.00 MiB" in out, out
    failed = [c for c in calls_named(calls, "cuMemAlloc_v2") if c.rc == 2]
    assert len(failed) >= 2, "the core retries once after returning its cache"


@pytest.mark.parametrize("inject, code, exc, text", [
    ("cuMemAlloc_v2:2", "x", "MemoryError", "cuda:0 out of memory: tried to allocate 3.91 KiB"),
    ("cuMemAlloc_v2:2", "a", "OutOfMemoryError", "cuMemAlloc_v2(4000 bytes) on cuda:0: CUDA_ERROR_OUT_OF_MEMORY: out of memory"),
    ("cuMemcpyHtoDAsync_v2:1", "x", "RuntimeError", "cuMemcpyHtoDAsync_v2(4000 bytes at offset 0) on cuda:0: "
                                                     "CUDA_ERROR_INVALID_VALUE: invalid argument"),
    ("cuMemcpyDtoHAsync_v2:719", "y", "RuntimeError", "CUDA_ERROR_LAUNCH_FAILED: unspecified launch failure (the last "
                                                       "op launched on this device: none yet)"),
    ("cuMemHostAlloc:2", "x", "MemoryError", "cuMemHostAlloc(4194304 bytes) for cuda:0's staging: "
                                              "CUDA_ERROR_OUT_OF_MEMORY"),
    ("cuCtxSynchronize:700", "s", "RuntimeError", "cuCtxSynchronize(cuda:0): CUDA_ERROR_ILLEGAL_ADDRESS: an illegal "
                                                   "memory access was encountered"),
    ("cuCtxSetCurrent:201@2", "x", "RuntimeError", "cuCtxSetCurrent(cuda:0): CUDA_ERROR_INVALID_CONTEXT"),
    ("cuMemcpyDtoDAsync_v2:999", "c", "RuntimeError", "cuMemcpyDtoDAsync_v2(4000 bytes) on cuda:0: CUDA_ERROR_UNKNOWN"),
])
def test_injected_cuda_errors_become_python_exceptions(run_fake, inject, code, exc, text):
    out, _ = run_fake(f"""
import os, deepseek as ds
y = ds.arange(1000, dtype=ds.float32).to("cuda") if {code!r} in "yc" else None
s = ds.cuda.synchronize() if {code!r} == "s" else None
os.environ["FAKE_CUDA_FAIL"] = {inject!r}
try:
    if {code!r} == "x":
        ds.arange(1000, dtype=ds.float32).to("cuda")
    elif {code!r} == "y":
        y.cpu()
    elif {code!r} == "c":
        y.clone()
    elif {code!r} == "a":
        ds.backends.get_backend("cuda").alloc(0, 4000)
    else:
        ds.cuda.synchronize()
except Exception as e:
    emit([type(e).__name__, str(e)])
""")
    assert out is not None, "nothing was raised"
    assert out[0] == exc and text in out[1], out


def test_kernel_fault_names_the_last_op_launched(run_fake):
    out, _ = run_fake(f"""
import os, deepseek as ds
from deepseek_cuda._launch import ffi, lib
x = ds.ones(4, device="cuda")
mod, fn = ffi.new("void **"), ffi.new("void **")
assert lib.dsg_module_load(0, ffi.new("char[]", {TINY_PTX!r}.encode()), mod) == 0
assert lib.dsg_module_function(0, mod[0], b"k_probe", fn) == 0
params = ffi.new("void *[3]", [ffi.new("uint64_t *"), ffi.new("uint32_t *"), ffi.new("int64_t[3]")])
one = ffi.new("uint32_t[3]", [1, 1, 1])
assert lib.dsg_launch_kernel(0, fn[0], b"gather (k_take, float32)", one, one, 0, ffi.NULL, params) == 0
os.environ["FAKE_CUDA_FAIL"] = "cuMemcpyDtoHAsync_v2:700,cuCtxSynchronize:700"
res = []
for step in (lambda: x.cpu(), lambda: ds.cuda.synchronize()):
    try:
        step()
    except RuntimeError as e:
        res.append(str(e))
emit(res)
""")
    assert len(out) == 2
    for msg in out:
        assert "CUDA_ERROR_ILLEGAL_ADDRESS" in msg and "the last op launched on this device: gather (k_take, float32)" in msg


def test_init_failures_and_no_devices_leave_the_backend_unavailable(run_fake):
    out, _ = run_fake("""
import deepseek as ds
emit([ds.backends.available()["cuda"], ds.cuda.is_available()])
""", FAKE_CUDA_FAIL="cuInit:100")
    assert out[1] is False and out[0].startswith("unavailable: the NVIDIA driver ") and out[0].endswith(
        "did not start (cuInit): CUDA_ERROR_NO_DEVICE: no CUDA-capable device is detected"), out
    out, _ = run_fake("""
import deepseek as ds
emit(ds.backends.available()["cuda"])
""", FAKE_CUDA_DEVICES=0)
    assert out.startswith("unavailable: the NVIDIA driver (") and out.endswith(") sees no GPU")


def test_streams_and_devices_from_other_threads(run_fake):
    """Each thread gets the device's context made current (the fake refuses calls without one)."""
    out, calls = run_fake("""
import threading, deepseek as ds
x = ds.arange(10, dtype=ds.int32).to("cuda:1")
got = []
t = threading.Thread(target=lambda: got.append(x.cpu().tolist()))
t.start(); t.join()
be = ds.backends.get_backend("cuda")
try:
    be.stream_destroy(0, 0)
except Exception as e:
    got.append(type(e).__name__ + ": " + str(e))
try:
    be.alloc(5, 8)
except Exception as e:
    got.append(str(e))
emit(got)
""", FAKE_CUDA_DEVICES=2)
    assert out[0] == list(range(10))
    assert "the default stream (NULL) is not destroyed" in out[1]
    assert "cuda device 5 does not exist; the driver sees 2" in out[2]
    assert all(c.rc != 201 for c in calls)
    assert any(c.name == "cuCtxSetCurrent" and c["context"] == "1" for c in calls)


def test_device_api_names_properties_memory_events_and_stream_queries(run_fake):
    out, calls = run_fake("""
import time, deepseek as ds
be = ds.backends.get_backend("cuda")
p = be.device_properties(1)
s = be.stream_create(1)
a, b = be.event_create(1, enable_timing=True), be.event_create(1, enable_timing=False)
be.event_record(1, a, s)
time.sleep(0.01)
be.event_record(1, b, s)
be.event_synchronize(1, b)
c = be.event_create(1, True); be.event_record(1, c, s)
ms = be.event_elapsed_time(1, a, c)
ptr = be.alloc(1, 1 << 20)
free, total = be.mem_get_info(1)
be.stream_wait_event(1, 0, b)
out = {"native": be.has_native_events(), "name": be.device_name(1), "props": [p.name, p.major, p.minor,
       p.total_memory, p.multi_processor_count], "query": [be.event_query(1, b), be.stream_query(1, s)],
       "ms": ms, "mem": [free, total]}
for e in (a, b, c):
    be.event_destroy(1, e)
be.free(1, ptr); be.stream_destroy(1, s)
emit(out)
""", FAKE_CUDA_DEVICES=2, FAKE_CUDA_CC="9.0", FAKE_CUDA_MEM=1 << 24)
    assert out["native"] is True and out["name"] == "Fake NVIDIA GPU 1 (deepseek tests)"
    assert out["props"] == ["Fake NVIDIA GPU 1 (deepseek tests)", 9, 0, 1 << 24, 108]
    assert out["query"] == [True, True]
    assert 9.0 <= out["ms"] < 5000
    assert out["mem"] == [(1 << 24) - (1 << 20), 1 << 24]
    flags = [c["flags"] for c in calls_named(calls, "cuEventCreate") if c.rc == 0]
    assert flags == ["0", "2", "0"]  # timing, then a DISABLE_TIMING event
    wait = calls_named(calls, "cuStreamWaitEvent")
    assert len(wait) == 1 and wait[0]["stream"] == "0"
    assert len(calls_named(calls, "cuEventDestroy_v2")) == 3


def test_concurrent_copies_from_many_threads_keep_their_bytes(run_fake):
    """Threads share a device's two staging buffers (under its lock): every thread's bytes
    arrive and come back intact, through many small chunks."""
    out, _ = run_fake("""
import threading, deepseek as ds
be = ds.backends.get_backend("cuda")
bad, lock = [], threading.Lock()
def work(k):
    data = bytes((k * 31 + i) % 251 for i in range(3000))
    for _ in range(20):
        p = be.alloc(0, len(data))
        be.copy_from_host(0, p, data)
        back = be.copy_to_host(0, p, len(data))
        be.free(0, p)
        if back != data:
            with lock:
                bad.append(k)
threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
for t in threads: t.start()
for t in threads: t.join()
emit(bad)
""", DEEPSEEK_CUDA_STAGING_BYTES=256)
    assert out == []
