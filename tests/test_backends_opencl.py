"""The OpenCL plugin through the backend machinery: discovery, buffers, faults and the
unavailable cases. The plugin is registered from ``plugins/opencl`` when it is not installed,
so these tests do not depend on ``pip install -e plugins/opencl``."""
import os
import re
import sys

import pytest

import deepseek as ds
from backend_fakes import OPENCL_PLUGIN, run_python, write_dist
from deepseek import backends
from deepseek.backends import abi
from deepseek.backends.backend import BackendError


# --- the OpenCL plugin -------------------------------------------------------------------

@pytest.fixture
def opencl_path(tmp_path):
    """sys.path entries that make deepseek-opencl discoverable, installed or not."""
    try:
        import deepseek_opencl  # noqa: F401  (installed: nothing to add)
        from importlib.metadata import distribution

        distribution("deepseek-opencl")
        return []
    except Exception:
        write_dist(tmp_path, "deepseek-opencl", {"opencl": "deepseek_opencl.plugin"}, {})
        return [tmp_path, OPENCL_PLUGIN]


@pytest.fixture
def opencl(opencl_path):
    """The loaded OpenCL backend, or a skip naming why OpenCL cannot run here.

    Set DEEPSEEK_REQUIRE_OPENCL=1 (CI does, after installing PoCL) to fail instead of skip.
    """
    for p in opencl_path:
        sys.path.insert(0, str(p))
    backends.refresh()
    try:
        status = backends.available().get("opencl", "not found")
        if not status.startswith("available"):
            if os.environ.get("DEEPSEEK_REQUIRE_OPENCL") == "1":
                pytest.fail(f"OpenCL backend required but {status}")
            pytest.skip(f"OpenCL cannot run here ({status}); install pocl-opencl-icd and ocl-icd-libopencl1")
        yield backends.get_backend("opencl")
    finally:
        for p in opencl_path:
            sys.path.remove(str(p))
        backends.refresh()


def test_opencl_is_available_with_devices(opencl):
    assert re.match(r"available: \d+ device\(s\): ", backends.available()["opencl"])
    assert opencl.device_count() >= 1
    native, missing = opencl.coverage()
    assert native == backends.PRIMITIVE_OP_NAMES and missing == ()  # every primitive op has an OpenCL kernel


def test_opencl_buffers_round_trip(opencl):
    data = os.urandom(1 << 16)
    p = opencl.alloc(0, len(data))
    opencl.copy_from_host(0, p, data)
    assert opencl.copy_to_host(0, p, len(data)) == data
    q = opencl.alloc(0, 4096)
    opencl.copy(0, q, p, 1000, dst_offset=96, src_offset=5000)
    opencl.synchronize(0)
    assert opencl.copy_to_host(0, q, 1000, src_offset=96) == data[5000:6000]
    s = opencl.stream_create(0)
    opencl.copy_from_host(0, q, b"stream", dst_offset=10, stream=s)
    opencl.synchronize(0)
    assert opencl.copy_to_host(0, q, 6, src_offset=10, stream=s) == b"stream"
    opencl.stream_destroy(0, s)
    for b in (p, q):
        opencl.free(0, b)
    assert opencl.alloc(0, 0) == 0  # no empty OpenCL buffers; NULL stands for one
    opencl.free(0, 0)


def test_opencl_faults_raise_and_leave_it_usable(opencl):
    # an op id this plugin does not know (a newer core's) answers not implemented
    desc = abi.ffi.new("ds_op *", {"id": 10_000})
    status = opencl._t.launch(0, desc, abi.ffi.NULL, 0, abi.ffi.NULL)
    assert status == abi.DS_ERROR_NOT_IMPLEMENTED
    assert "op id 10000 is not a primitive op" in abi.ffi.string(opencl._t.last_error()).decode()
    with pytest.raises(ValueError, match=r"'no_such_op' is not a primitive op"):
        opencl.launch(0, "no_such_op", [])
    with pytest.raises(BackendError, match=r"opencl add\(; scalars=\[\]\): expects 3 tensors") as e:
        opencl.launch(0, "add", [])
    assert e.value.status == abi.DS_ERROR_INVALID_ARGUMENT
    with pytest.raises(BackendError, match=r"clCreateBuffer\(\d+ bytes\) failed: CL_"):
        opencl.alloc(0, 1 << 60)
    p = opencl.alloc(0, 8)
    with pytest.raises(BackendError, match=r"clEnqueueReadBuffer\(offset=4, 8 bytes\) failed: CL_INVALID_VALUE"):
        opencl.copy_to_host(0, p, 8, src_offset=4)
    with pytest.raises(BackendError, match=r"OpenCL device 99 does not exist"):
        opencl.alloc(99, 8)
    opencl.copy_from_host(0, p, b"still ok")
    assert opencl.copy_to_host(0, p, 8) == b"still ok"
    opencl.free(0, p)
    x = ds.zeros(2).to("opencl:0")
    assert x.device == ds.device("opencl:0") and (x + 1).cpu().tolist() == [1.0, 1.0]


def test_opencl_without_the_library_says_so(opencl_path):
    r = run_python("import deepseek; print(deepseek.backends.available()['opencl'])", extra_path=opencl_path,
                   DEEPSEEK_OPENCL_LIBRARY="/nonexistent/libOpenCL.so.1")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("unavailable: libOpenCL not found (tried /nonexistent/libOpenCL.so.1): install"), r.stdout


def test_opencl_without_platforms_says_so(opencl_path, tmp_path):
    import cffi

    try:
        cffi.FFI().dlopen("libOpenCL.so.1")
    except OSError:
        pytest.skip("no libOpenCL ICD loader here to run without platforms")
    empty = tmp_path / "no-vendors"
    empty.mkdir()
    r = run_python("import deepseek; print(deepseek.backends.available()['opencl'])", extra_path=opencl_path,
                   OCL_ICD_VENDORS=str(empty), DEEPSEEK_OPENCL_LIBRARY="")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("unavailable: no OpenCL platforms"), r.stdout
    assert "pocl-opencl-icd" in r.stdout
