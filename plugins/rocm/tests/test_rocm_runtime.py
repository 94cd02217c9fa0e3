"""deepseek-rocm's host code (the GPU host layer over the HIP vendor table) against the fake
HIP runtime (fake_runtime/fake_hip.c): finding the runtime and saying what is missing, device
facts, copies through pinned staging, device copies, allocation balance, stream order, events,
and every injected hipError_t as the right Python exception."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64"]


def _clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEEPSEEK_ROCM", "FAKE_HIP"))}
    env.update(extra)
    return env


def test_this_machine_reports_rocm_unavailable_with_the_reason_and_the_cpu_works(plugin_built, tmp_path):
    """No AMD GPU here: the probe names the runtime it found and why it cannot run, or says
    where it looked for a runtime it did not find; x.to("rocm") says the same."""
    script = """
import json, deepseek as ds
out = {"status": ds.backends.available()["rocm"], "avail": ds.rocm.is_available(), "count": ds.rocm.device_count()}
try:
    ds.ones(2).to("rocm")
except RuntimeError as exc:
    out["to"] = str(exc)
out["cpu"] = (ds.ones(3) * 2).tolist()
print(json.dumps(out))
"""
    out = json.loads(subprocess.run([sys.executable, "-c", script], env=_clean_env(), cwd=tmp_path,
                                    capture_output=True, text=True, check=True).stdout)
    status = out["status"]
    missing = re.fullmatch(r"unavailable: no ROCm runtime: libamdhip64\.so not found in .*/opt/rocm/lib.* or the "
                           r"loader path.*", status)
    no_gpu = re.fullmatch(r"unavailable: no AMD GPU: the ROCm runtime (/\S+libamdhip64\.so\S*) \(HIP \d+\.\d+\) sees "
                          r"no device \(hip\w+.*\)", status)
    assert missing or no_gpu, status
    if no_gpu:
        assert Path(no_gpu.group(1)).exists()
    assert out["avail"] is False and out["count"] == 0
    assert status.split(": ", 1)[1] in out["to"], out["to"]
    assert out["cpu"] == [2.0, 2.0, 2.0]


def test_a_missing_runtime_names_where_it_was_looked_for(plugin_built, tmp_path):
    script = "import deepseek as ds; print(ds.backends.available()['rocm'])"
    nowhere = tmp_path / "nowhere" / "libamdhip64.so"
    out = subprocess.run([sys.executable, "-c", script], env=_clean_env(DEEPSEEK_ROCM_RUNTIME=str(nowhere)),
                         cwd=tmp_path, capture_output=True, text=True, check=True).stdout.strip()
    assert out == f"unavailable: no ROCm runtime: {nowhere} not found"
    # the search order without the override: ROCM_PATH first
    from deepseek_rocm import runtime

    env = dict(os.environ)
    try:
        os.environ.pop(runtime.ENV_RUNTIME, None)
        os.environ["ROCM_PATH"] = str(tmp_path / "rocm")
        (tmp_path / "rocm" / "lib").mkdir(parents=True)
        (tmp_path / "rocm" / "lib" / "libamdhip64.so").write_bytes(b"")
        names, where = runtime.candidates()
        assert names[0] == str(tmp_path / "rocm" / "lib" / "libamdhip64.so")
        assert names[-3:] == ["libamdhip64.so", "libamdhip64.so.6", "libamdhip64.so.5"]
        assert where.startswith(f"{tmp_path}/rocm/lib, /opt/rocm/lib") and where.endswith("or the loader path")
    finally:
        os.environ.clear()
        os.environ.update(env)


def test_declared_hip_values_match_an_installed_header(plugin_built):
    """csrc/hip_api.h declares HIP's enum values itself; they must be the header's."""
    header = Path("/usr/include/hip/hip_runtime_api.h")
    if not header.exists():
        pytest.skip("no HIP header installed (libamdhip64-dev)")
    text = header.read_text()
    body = text[text.index("typedef enum hipDeviceAttribute_t"):]
    body = body[:body.index("} hipDeviceAttribute_t;")]
    values, n = {}, -1
    for m in re.finditer(r"^\s*(hipDeviceAttribute\w+)\s*(?:=\s*(\w+))?\s*,", body, re.M):
        name, value = m.groups()
        n = (int(value) if value.isdigit() else values[value]) if value else n + 1
        values[name] = n
    declared = dict(re.findall(r"#define (hipDeviceAttribute\w+) (\d+)",
                               (Path(__file__).parents[1] / "csrc" / "hip_api.h").read_text()))
    assert declared and all(values[k] == int(v) for k, v in declared.items()), (declared, values)
    from deepseek_rocm import runtime

    for name, value in runtime.ATTRIBUTES.items():
        camel = "".join(w.capitalize() for w in name.split("_"))
        matches = [v for k, v in values.items() if k.lower() == f"hipdeviceattribute{camel}".lower()]
        assert matches == [value], (name, matches)


def test_probe_properties_and_memory_through_the_fake(fake_no_compiler):
    out, log = fake_no_compiler.run("""
import deepseek as ds
from deepseek_rocm import runtime
p = ds.rocm.get_device_properties(1)
emit({"status": ds.backends.available()["rocm"], "n": ds.rocm.device_count(), "name": ds.rocm.get_device_name(0),
      "props": {k: getattr(p, k) for k in ("name", "major", "minor", "total_memory", "gcnArchName", "arch",
                                          "multi_processor_count", "warp_size")},
      "info": ds.rocm.mem_get_info(0), "version": runtime.runtime_version()})
""", FAKE_HIP_DEVICES=2, FAKE_HIP_ARCH="gfx942:sramecc+:xnack-", FAKE_HIP_MEM=2**31)
    path = fake_no_compiler.fake
    assert out["status"] == (f"available: 2 device(s) through {path}: "
                             "Fake AMD GPU 0 (deepseek tests) (gfx942, 2.0 GiB); "
                             "Fake AMD GPU 1 (deepseek tests) (gfx942, 2.0 GiB)")
    assert out["n"] == 2 and out["name"] == "Fake AMD GPU 0 (deepseek tests)"
    assert out["props"] == {"name": "Fake AMD GPU 1 (deepseek tests)", "major": 9, "minor": 4, "total_memory": 2**31,
                            "gcnArchName": "gfx942:sramecc+:xnack-", "arch": "gfx942", "multi_processor_count": 110,
                            "warp_size": 64}
    assert out["info"] == [2**31, 2**31] and out["version"] == [6, 0]
    assert log[0].name == "hipInit" and log[0]["flags"] == "0"


@pytest.mark.parametrize("staging", [64, 4 << 20])
def test_every_dtype_round_trips_byte_exact_through_pinned_staging(fake_no_compiler, staging):
    """Host -> device -> host keeps every byte, for every dtype and size, chunked through the
    two pinned staging buffers (64 bytes: many chunks, both buffers in turn; 4 MiB: one)."""
    out, log = fake_no_compiler.run(f"""
import numpy as np, deepseek as ds
rng = np.random.default_rng(7)
bad = []
for dtype in {DTYPES!r}:
    for n in (0, 1, 5, 31, 32, 33, 250, 1027):
        if dtype == "bfloat16":  # no numpy bfloat16: bit patterns widened to float32, NaNs left out
            bits = rng.integers(0, 2**16, size=n, dtype=np.uint32)
            bits = bits[(bits & 0x7F80) != 0x7F80] << 16
            host, raw = ds.from_numpy(bits.view(np.float32).copy()).to(ds.bfloat16), bits.view(np.float32).tobytes()
        else:
            raw = rng.integers(0, 256, size=n * np.dtype(dtype).itemsize, dtype=np.uint8)
            raw = (raw % 2 if dtype == "bool" else raw).tobytes()
            host = ds.from_numpy(np.frombuffer(raw, dtype=dtype).copy())
        dev = host.to("rocm")
        assert dev.device == ds.device("rocm:0") and dev.dtype == host.dtype
        back = dev.cpu()
        if ((back.to(ds.float32) if dtype == "bfloat16" else back).numpy().tobytes()) != raw:
            bad.append((dtype, n))
emit(bad)
""", DEEPSEEK_ROCM_STAGING_BYTES=staging)
    assert out == []
    copies = log.named("hipMemcpyHtoDAsync", "hipMemcpyDtoHAsync")
    assert copies and all(c.rc == 0 and c["pinned"] == "1" for c in copies)
    assert max(int(c["bytes"]) for c in copies) <= staging
    pinned = log.named("hipHostMalloc")
    assert len(pinned) == 2 and all(int(c["bytes"]) == staging for c in pinned)
    if staging == 64:
        assert len({c["src"] for c in log.named("hipMemcpyHtoDAsync")}) == 2


def test_raw_copies_with_offsets_device_copies_and_memset(fake_no_compiler):
    out, log = fake_no_compiler.run("""
import deepseek as ds
from deepseek_rocm import runtime
be = ds.backends.get_backend("rocm")
data = bytes(range(256)) * 4
a, b = be.alloc(0, 1100), be.alloc(0, 1100)
be.copy_from_host(0, a, data, dst_offset=60)
be.copy(0, b, a, 600, dst_offset=7, src_offset=100)
runtime.check(runtime.lib.dsg_memset(0, runtime.ffi.cast("void *", b), 1000, 0x5A, 50, runtime.ffi.NULL))
got = [be.copy_to_host(0, a, 1024, src_offset=60) == data, be.copy_to_host(0, b, 600, src_offset=7) == data[40:640],
       be.copy_to_host(0, b, 50, src_offset=1000) == b"\\x5a" * 50]
be.free(0, a); be.free(0, b)
emit(got)
""")
    assert out == [True, True, True]
    (d2d,) = log.named("hipMemcpyDtoDAsync")
    assert d2d["bytes"] == "600" and d2d.rc == 0


def test_every_allocation_and_pinned_buffer_is_freed(fake_no_compiler):
    out, log = fake_no_compiler.run("""
import deepseek as ds
from deepseek_rocm import runtime
xs = [ds.ones(n).to("rocm") for n in (1, 100, 5000, 70000)]
y = xs[2].cpu()
del xs, y
import gc; gc.collect()
ds.rocm.empty_cache()
runtime.check(runtime.lib.dsg_release_staging())
emit(ds.rocm.memory_allocated())
""")
    assert out == 0
    allocs = {c["ptr"] for c in log.named("hipMalloc", "hipMallocAsync") if c.rc == 0 and c["bytes"] != "0"}
    frees = {c["ptr"] for c in log.named("hipFree", "hipFreeAsync") if c.rc == 0}
    assert allocs and allocs == frees
    hosts = {c["ptr"] for c in log.named("hipHostMalloc")}
    assert len(hosts) == 2 and hosts == {c["ptr"] for c in log.named("hipHostFree")}
    events = {c["event"] for c in log.named("hipEventCreateWithFlags")}
    assert events == {c["event"] for c in log.named("hipEventDestroy")}


def test_copies_keep_their_stream_and_order(fake_no_compiler):
    """Each copy goes on the stream it was given, chunk after chunk in address order, each
    chunk followed by its staging buffer's event on that stream; buffers alternate."""
    out, log = fake_no_compiler.run("""
import deepseek as ds
be = ds.backends.get_backend("rocm")
s = be.stream_create(0)
a, b = be.alloc(0, 64), be.alloc(0, 64)
be.copy_from_host(0, a, bytes(range(64)), stream=s)
be.copy(0, b, a, 64, stream=s)
back = be.copy_to_host(0, b, 64)
be.stream_destroy(0, s)
be.free(0, a); be.free(0, b)
emit([a, b, back == bytes(range(64))])
""", DEEPSEEK_ROCM_STAGING_BYTES=16)
    a, b, same = out
    assert same
    ops = [c for c in log if c.name in ("hipMemcpyHtoDAsync", "hipEventRecord", "hipMemcpyDtoDAsync",
                                        "hipMemcpyDtoHAsync")]
    (created,) = log.named("hipStreamCreateWithFlags")
    s = created["stream"]
    assert s != "0"
    assert [(c.name, c["stream"]) for c in ops] == (
        [("hipMemcpyHtoDAsync", s), ("hipEventRecord", s)] * 4 + [("hipMemcpyDtoDAsync", s)]
        + [("hipMemcpyDtoHAsync", "0"), ("hipEventRecord", "0")] * 4)
    h2d = [c for c in ops if c.name == "hipMemcpyHtoDAsync"]
    assert [int(c["dst"], 16) - a for c in h2d] == [0, 16, 32, 48]
    assert len({c["src"] for c in h2d}) == 2 and h2d[0]["src"] == h2d[2]["src"] != h2d[1]["src"]
    d2h = [c for c in ops if c.name == "hipMemcpyDtoHAsync"]
    assert [int(c["src"], 16) - b for c in d2h] == [0, 16, 32, 48]
    assert log.named("hipStreamDestroy")[0]["stream"] == s


INJECTED = [
    ("hipMalloc:2", "ds.ones(1_000_000).to('rocm')", MemoryError, "rocm:0 out of memory: tried to allocate 3.81 MiB"),
    ("hipMemcpyHtoDAsync:1", "ds.ones(4).to('rocm')", RuntimeError,
     ("memcpy_h2d(16 bytes) on device 0 failed: hipMemcpyHtoDAsync(16 bytes at offset ",
      ") on rocm:0: hipErrorInvalidValue: invalid argument")),
    ("hipMemcpyDtoHAsync:700", "x.cpu()", RuntimeError,
     "hipMemcpyDtoHAsync(16 bytes at offset 0) on rocm:0: hipErrorIllegalAddress: an illegal memory access was "
     "encountered (the last op launched on this device: none yet)"),
    ("hipEventSynchronize:719", "x.cpu()", RuntimeError, "hipErrorLaunchFailure: unspecified launch failure"),
    ("hipHostMalloc:2", "__import__('deepseek_rocm').runtime.lib.dsg_release_staging(), ds.ones(4).to('rocm')",
     MemoryError, "hipHostMalloc(4194304 bytes) for rocm:0's staging"),
    ("hipDeviceSynchronize:999", "ds.rocm.synchronize()", RuntimeError,
     "hipDeviceSynchronize(rocm:0): hipErrorUnknown: unknown error"),
    ("hipStreamCreateWithFlags:1", "ds.backends.get_backend('rocm').stream_create(0)", RuntimeError,
     "hipStreamCreateWithFlags on rocm:0"),
    ("hipMemGetInfo:3", "ds.rocm.mem_get_info(0)", RuntimeError, "hipMemGetInfo(rocm:0): hipErrorNotInitialized"),
    ("hipEventElapsedTime:400", "e0.elapsed_time(e1)", RuntimeError, "hipEventElapsedTime on rocm:0: "
     "hipErrorInvalidHandle: invalid resource handle"),
]


@pytest.mark.parametrize("inject, action, exc, text", INJECTED, ids=[i[0] for i in INJECTED])
def test_injected_hip_errors_become_python_exceptions(fake_no_compiler, inject, action, exc, text):
    """Each failing HIP call surfaces as the exception the core raises for its status
    (MemoryError for out of memory, after the cache was freed and the call retried), with
    HIP's error name and description, and the call and device that failed."""
    name, code = inject.split(":")
    out, log = fake_no_compiler.run(f"""
import os, deepseek as ds
x = ds.ones(4).to("rocm")
e0, e1 = ds.rocm.Event(enable_timing=True), ds.rocm.Event(enable_timing=True)
e0.record(); e1.record()
os.environ["FAKE_HIP_FAIL"] = "{name}:{code}"
try:
    {action}
except Exception as exc:
    emit([type(exc).__name__, isinstance(exc, {exc.__name__}), str(exc)])
else:
    emit(None)
""")
    assert out is not None, f"{inject}: {action} did not raise"
    assert out[1], out
    for part in (text,) if isinstance(text, str) else text:
        assert part in out[2], out[2]
    if name == "hipMalloc":  # the core freed its cache and asked again before giving up
        assert [c.rc for c in log.named("hipMalloc")][-2:] == [2, 2]


def test_out_of_memory_frees_the_cache_retries_then_raises_memory_error(fake_no_compiler):
    """hipErrorOutOfMemory is the status the core acts on: it frees its cached blocks and asks
    again (which succeeds here once the cache is gone), and only then raises MemoryError."""
    out, log = fake_no_compiler.run("""
import deepseek as ds
keep = ds.ones(75_000).to("rocm")                  # 300 kB held
cached = ds.ones(75_000).to("rocm"); del cached    # 300 kB in the cache
big = ds.ones(200_000).to("rocm")                  # 800 kB: fits once the cache is freed
try:
    ds.ones(200_000).to("rocm")                    # cannot fit at all
except MemoryError as exc:
    emit(str(exc))
""", FAKE_HIP_MEM=1_200_000)
    assert out.startswith("rocm:0 out of memory: tried to allocate 781.25 KiB"), out
    calls = [(c.name, c.rc, int(c["bytes"]) if c.name == "hipMalloc" else 0) for c in log.named("hipMalloc", "hipFree")]
    big = [i for i, (name, rc, n) in enumerate(calls) if name == "hipMalloc" and 800_000 <= n < 1_000_000]
    assert [calls[i][1] for i in big] == [2, 0, 2, 2], calls  # failed, retried after a free, then failed twice
    assert ("hipFree", 0, 0) in calls[big[0]:big[1]]


def test_init_failures_and_no_device_leave_rocm_unavailable(fake_no_compiler):
    out, _ = fake_no_compiler.run("""
import deepseek as ds
emit(ds.backends.available()["rocm"])
""", FAKE_HIP_DEVICES=0)
    assert out.startswith(f"unavailable: no AMD GPU: the ROCm runtime {fake_no_compiler.fake} (HIP 6.0) sees no device")
    assert "hipErrorNoDevice" in out
    out, _ = fake_no_compiler.run("""
import deepseek as ds
emit([ds.backends.available()["rocm"], ds.rocm.is_available()])
""", FAKE_HIP_FAIL="hipInit:999")
    assert out == [f"unavailable: the ROCm runtime {fake_no_compiler.fake} did not start (hipInit: hipErrorUnknown: "
                   "unknown error)", False]


def test_device_api_events_and_stream_queries(fake_no_compiler):
    out, log = fake_no_compiler.run("""
import deepseek as ds
s = ds.rocm.Stream()
e0, e1 = ds.rocm.Event(enable_timing=True), ds.rocm.Event(enable_timing=True)
e0.record(s)
x = ds.ones(1000).to("rocm")
e1.record(s)
e1.synchronize()
s.wait_event(e0)
emit({"query": e1.query(), "stream": s.query(), "ms": e0.elapsed_time(e1) >= 0})
""")
    assert out == {"query": True, "stream": True, "ms": True}
    assert log.named("hipEventElapsedTime")[0].rc == 0
    assert log.named("hipStreamWaitEvent") and log.named("hipStreamQuery")
    created = log.named("hipEventCreateWithFlags")
    assert {c["flags"] for c in created} >= {"0", "2"}  # timing events for the user, light ones for staging


def test_launches_on_a_second_device_set_it_current(fake_no_compiler):
    out, log = fake_no_compiler.run("""
import deepseek as ds
x = ds.arange(10, dtype=ds.int64).to("rocm:1")
emit(x.cpu().tolist())
""", FAKE_HIP_DEVICES=2)
    assert out == list(range(10))
    allocs = log.named("hipMalloc")
    assert allocs and all(c["device"] == "1" for c in allocs)


def test_queries_tell_busy_from_done_and_a_fault_from_both(fake_no_compiler):
    out, _ = fake_no_compiler.run("""
import os, deepseek as ds
s = ds.rocm.Stream()
e = ds.rocm.Event()
e.record(s)
res = [s.query(), e.query()]
os.environ["FAKE_HIP_FAIL"] = "hipStreamQuery:600,hipEventQuery:600"
res += [s.query(), e.query()]
os.environ["FAKE_HIP_FAIL"] = "hipEventQuery:700"
try:
    e.query()
except RuntimeError as exc:
    res.append(str(exc))
emit(res)
""")
    assert out[:4] == [True, True, False, False]  # hipErrorNotReady is "still running", not an error
    assert "hipEventQuery on rocm:0: hipErrorIllegalAddress" in out[4]
    assert "(the last op launched on this device: none yet)" in out[4]


def test_copies_from_many_threads_on_two_devices_stay_byte_exact(fake_no_compiler):
    """The staging buffers are per device and locked; each thread's device is made current
    at every call, so concurrent copies to two devices neither mix bytes nor devices."""
    out, log = fake_no_compiler.run("""
import threading, numpy as np, deepseek as ds
bad = []
def work(i):
    rng = np.random.default_rng(i)
    for _ in range(15):
        host = rng.integers(0, 2**31, size=int(rng.integers(1, 3000)), dtype=np.int64)
        dev = ds.from_numpy(host).to(f"rocm:{i % 2}")
        if dev.device != ds.device(f"rocm:{i % 2}") or not np.array_equal(dev.cpu().numpy(), host):
            bad.append(i)
threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
for t in threads: t.start()
for t in threads: t.join()
emit(bad)
""", FAKE_HIP_DEVICES=2, DEEPSEEK_ROCM_STAGING_BYTES=4096)
    assert out == []
    assert {c["device"] for c in log.named("hipMalloc")} == {"0", "1"}
    assert len(log.named("hipHostMalloc")) == 4  # two staging buffers per device, made once
