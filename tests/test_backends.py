"""Backend plugins: discovery, status, the C ABI and its Rust mirror, through fake
distributions (``backend_fakes.py``); the OpenCL plugin's own are in ``test_backends_opencl.py``."""
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import deepseek as ds
from deepseek import backends
from deepseek.backends import abi, registry
from deepseek.backends.backend import BackendError, OutOfMemoryError

from backend_fakes import HOST_BACKEND, ROOT, info_hooks, run_python, write_dist

# The #[repr(C)] layout of core-rs/src/backend_abi.rs on x86-64 / aarch64 Linux, as printed by
# a standalone program (see test_abi_layout_matches_the_rust_mirror for how to regenerate).
RUST_LAYOUT = {
    "ds_tensor_desc": (40, {"ptr": 0, "dtype": 8, "ndim": 12, "shape": 16, "strides": 24, "offset": 32}),
    "ds_scalar": (16, {"kind": 0, "reserved": 4, "value": 8}),
    "ds_op": (16, {"id": 0, "reserved": 4, "attrs": 8}),
    "ds_backend_table": (152, {
        "struct_size": 0, "abi_major": 8, "abi_minor": 12, "name": 16, "n_ops": 24, "ops": 32,
        "device_count": 40, "alloc": 48, "free": 56, "memcpy_h2d": 64, "memcpy_d2h": 72, "memcpy_d2d": 80,
        "synchronize": 88, "stream_create": 96, "stream_destroy": 104, "launch": 112, "last_error": 120,
        "compile_program": 128, "launch_program": 136, "release_program": 144,  # ABI 2.1
    }),
}


# --- ABI -----------------------------------------------------------------------------------

def test_abi_layout_matches_the_rust_mirror():
    """cffi's view of deepseek_backend.h equals the #[repr(C)] layout of core-rs/src/backend_abi.rs.

    RUST_LAYOUT was printed by a standalone std-only program; to regenerate it::

        mkdir -p /tmp/abi_layout/src && cd /tmp/abi_layout
        printf '[package]\\nname = "abi_layout"\\nversion = "0.0.0"\\nedition = "2021"\\n' > Cargo.toml
        cat > src/main.rs <<'EOF'
        #[path = "/path/to/repo/core-rs/src/backend_abi.rs"]
        mod backend_abi;
        fn main() {
            for (name, size, fields) in backend_abi::layout() {
                let f: Vec<String> = fields.iter().map(|(n, o)| format!("{n}={o}")).collect();
                println!("{name} {size} {}", f.join(" "));
            }
        }
        EOF
        cargo run -q && cargo test -q   # the tests in backend_abi.rs assert the same numbers

    and copy its lines into RUST_LAYOUT. A change there is an ABI change: bump the major
    (or the minor, for fields appended at the end of ds_backend_table) in both files.
    """
    if abi.ffi.sizeof("void *") != 8:
        pytest.skip("RUST_LAYOUT was recorded on a 64-bit target")
    for struct, (size, fields) in RUST_LAYOUT.items():
        ctype = abi.ffi.typeof(struct)
        assert abi.ffi.sizeof(ctype) == size, struct
        assert [name for name, _ in ctype.fields] == list(fields), f"{struct}: field order differs from Rust"
        for name, offset in fields.items():
            assert abi.ffi.offsetof(ctype, name) == offset, f"{struct}.{name}"
    # the union's two members both start at `value`
    union = dict(abi.ffi.typeof("ds_scalar").fields)["value"].type
    assert abi.ffi.sizeof(union) == 8 and {n for n, _ in union.fields} == {"i", "f"}


def test_abi_versions_agree_between_header_and_rust():
    rust = (ROOT / "core-rs" / "src" / "backend_abi.rs").read_text()
    major = int(re.search(r"pub const ABI_MAJOR: i32 = (\d+);", rust).group(1))
    minor = int(re.search(r"pub const ABI_MINOR: i32 = (\d+);", rust).group(1))
    minor_min = int(re.search(r"pub const ABI_MINOR_MIN: i32 = (\d+);", rust).group(1))
    size_min = int(re.search(r"pub const TABLE_SIZE_MIN: u64 = (\d+);", rust).group(1))
    assert abi.ABI_VERSION == (major, minor) == (2, 1)
    assert abi.ABI_MINOR_MIN == minor_min == 0 and abi.TABLE_SIZE_MIN == size_min == 128
    header = backends.HEADER.read_text()
    assert "#define DS_BACKEND_ABI_MAJOR 2" in header and "#define DS_BACKEND_ABI_MINOR 1" in header
    assert "#define DS_BACKEND_ABI_MINOR_MIN 0" in header
    assert Path(backends.get_include(), "deepseek_backend.h").is_file()


def test_abi_mismatch_names_both_versions():
    assert abi.abi_mismatch("p", (2, 0)) == ""  # an older minor: its table ends sooner (struct_size)
    assert abi.abi_mismatch("p", (2, 1)) == ""
    assert abi.abi_mismatch("p", (2, 3)) == ""  # a newer minor only appends fields and op ids
    for plugin in [(1, 0), (3, 0), (2, -1)]:
        msg = abi.abi_mismatch("deepseek-x 0.1", plugin)
        assert f"{plugin[0]}.{plugin[1]}" in msg and "ABI 2.1" in msg and "2.x plugins with x >= 0" in msg, msg


# --- discovery and status ----------------------------------------------------------------

def test_import_deepseek_discovers_nothing_until_asked():
    r = run_python("import sys, deepseek\n"
                   "from deepseek.backends import registry\n"
                   "assert registry._plugins is None, 'discovery ran at import'\n"
                   "assert 'pluggy' not in sys.modules and 'cffi' not in sys.modules\n"
                   "print(deepseek.backends.available()['cpu'])")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "available (built in)"


FAKES = {
    # dist: (entry point name, module source, expected status start, expected substrings)
    "deepseek-fakeraise": ("fakeraise", "raise ImportError('the fake driver is broken')\n", "error:",
                           ["importing fake_fakeraise failed", "ImportError: the fake driver is broken"]),
    "deepseek-fakeabi1": ("fakeabi1", info_hooks("fakeabi1", (1, 0)), "incompatible:",
                          ["deepseek-fakeabi1 0.1 is built for backend ABI 1.0", "uses backend ABI 2.1"]),
    "deepseek-fakeabiold": ("fakeabiold", info_hooks("fakeabiold", (2, -1)), "incompatible:",
                            ["built for backend ABI 2.-1", "uses backend ABI 2.1", "x >= 0"]),
    "deepseek-fakeprobe": ("fakeprobe", info_hooks("fakeprobe", probe="return False, 'no fake hardware here'"),
                           "unavailable:", ["no fake hardware here"]),
    "deepseek-fakeproberaise": ("fakeproberaise", info_hooks("fakeproberaise", probe="raise OSError('probe exploded')"),
                                "error:", ["OSError: probe exploded"]),
    "deepseek-fakename": ("fakename", info_hooks("othername"), "error:",
                          ["info names backend 'othername' but its entry point is 'fakename'"]),
    "deepseek-fakenohooks": ("fakenohooks", "x = 1\n", "error:", ["does not implement the deepseek_backend_info() hook"]),
}


def _write_fakes(root: Path) -> None:
    for dist, (name, src, _, _) in FAKES.items():
        write_dist(root, dist, {name: f"fake_{name}"}, {f"fake_{name}": src})


def test_broken_plugins_report_their_own_reason(plugin_dir):
    _write_fakes(plugin_dir)
    status = backends.available()
    assert status["cpu"] == "available (built in)"
    for dist, (name, _, start, parts) in FAKES.items():
        assert status[name].startswith(start), status[name]
        for part in parts:
            assert part in status[name], (part, status[name])
        assert not backends.is_available(name)
        # asking for the device raises with the plugin's reason (none of the loads ran)
        with pytest.raises(RuntimeError, match=re.escape(parts[-1])):
            ds.zeros(2, device=name)
        with pytest.raises(RuntimeError, match=f"device '{name}:0' is not available"):
            ds.zeros(2).to(f"{name}:0")
    # the CPU keeps working
    assert (ds.ones(3) + 1).tolist() == [2.0, 2.0, 2.0]


def test_import_deepseek_survives_broken_plugins(tmp_path):
    _write_fakes(tmp_path)
    r = run_python("import deepseek\n"
                   "s = deepseek.backends.available()\n"
                   "print(s['fakeraise']); print(s['fakeabi1'])\n"
                   "print(deepseek.ones(2).tolist())", extra_path=[tmp_path])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "ImportError: the fake driver is broken" in lines[0]
    assert lines[1].startswith("incompatible:") and "1.0" in lines[1] and "2.1" in lines[1]
    assert lines[2] == "[1.0, 1.0]"


def test_two_distributions_with_one_backend_name_are_refused(plugin_dir):
    write_dist(plugin_dir, "deepseek-dupa", {"fakedup": "fake_dupa"}, {"fake_dupa": info_hooks("fakedup")})
    write_dist(plugin_dir, "deepseek-dupb", {"fakedup": "fake_dupb"}, {"fake_dupb": info_hooks("fakedup")})
    s = backends.available()["fakedup"]
    assert s.startswith("error:") and "registered more than once" in s and "fake_dupa" in s and "fake_dupb" in s


def test_missing_backend_still_says_how_to_install(monkeypatch):
    # as if deepseek-ascend were not installed (make test installs it)
    monkeypatch.setattr(registry, "_plugins", {k: v for k, v in registry.plugins().items() if k != "ascend"})
    with pytest.raises(RuntimeError, match=r'pip install "deepseek\[ascend\]==0.1.0"'):
        ds.zeros(2, device="ascend")
    with pytest.raises(RuntimeError, match=r"unknown device type 'nosuch'; known: cpu, ascend, cuda"):
        backends.get_backend("nosuch")


# --- a loaded backend, through its C table -----------------------------------------------

def _host_backend(plugin_dir, table_edit="pass"):
    write_dist(plugin_dir, "deepseek-fakehost", {"fakehost": "fake_host"},
               {"fake_host": HOST_BACKEND.replace("TABLE_EDIT", table_edit)})
    return backends.get_backend("fakehost")


def test_table_from_python_callbacks_round_trips_and_launches(plugin_dir):
    import struct

    be = _host_backend(plugin_dir)
    assert backends.available()["fakehost"] == "available: 1 host device"
    assert be.device_count() == 1 and be.ops == ("add", "sub", "mul", "fill")
    native, missing = be.coverage()
    assert native == ("add", "sub", "mul", "fill") and "add" not in missing and "div" in missing
    assert len(native) + len(missing) == len(backends.PRIMITIVE_OP_NAMES)

    data = bytes(range(256)) * 4
    p = be.alloc(0, len(data))
    be.copy_from_host(0, p, data)
    assert be.copy_to_host(0, p, len(data)) == data
    q = be.alloc(0, 16)
    be.copy(0, q, p, 8, dst_offset=8, src_offset=100)
    assert be.copy_to_host(0, q, 8, src_offset=8) == data[100:108]

    # out[i] = a[2 + 2i] + b[i] over a strided view: descriptors carry strides and offset
    a, b, out = be.alloc(0, 40), be.alloc(0, 16), be.alloc(0, 16)
    be.copy_from_host(0, a, struct.pack("<10f", *range(10)))
    be.copy_from_host(0, b, struct.pack("<4f", 10, 20, 30, 40))
    be.launch(0, "add", [(out, "float32", [2, 2], [2, 1], 0), (a, "float32", [2, 2], [4, 2], 2),
                         (b, "float32", [2, 2], [2, 1], 0)])
    assert struct.unpack("<4f", be.copy_to_host(0, out, 16)) == (12.0, 24.0, 36.0, 48.0)
    # attributes travel as the family's C struct: fill's ds_scalar value, into every other element
    be.launch(0, "fill", [(out, "float32", [2], [2], 1)], {"value": 2.5})
    assert struct.unpack("<4f", be.copy_to_host(0, out, 16)) == (12.0, 2.5, 36.0, 2.5)
    with pytest.raises(ValueError, match=r"fill: missing attribute 'value'"):
        be.launch(0, "fill", [(out, "float32", [2], [2], 1)])
    with pytest.raises(ValueError, match=r"'not_a_primitive' is not a primitive op"):
        be.launch(0, "not_a_primitive", [])
    be.free(0, p)


def test_plugin_errors_become_exceptions_and_leave_the_backend_usable(plugin_dir):
    be = _host_backend(plugin_dir)
    with pytest.raises(OutOfMemoryError, match=r"fakehost backend: alloc\(device=0, nbytes=2097152\) failed: "
                                               r"host backend: 2097152 bytes is over its 1 MiB"):
        be.alloc(0, 2 << 20)
    p = be.alloc(0, 4)
    with pytest.raises(BackendError, match="read of 8 bytes at 0 overruns a 4-byte buffer") as e:
        be.copy_to_host(0, p, 8)
    assert e.value.status == abi.DS_ERROR_INVALID_ARGUMENT
    with pytest.raises(BackendError, match="op div not implemented by the host backend") as e:
        be.launch(0, "div", [])
    assert e.value.status == abi.DS_ERROR_NOT_IMPLEMENTED
    be.copy_from_host(0, p, b"ok!!")
    assert be.copy_to_host(0, p, 4) == b"ok!!"


@pytest.mark.parametrize("edit, message", [
    ("table.abi_major = 1", "table is built for backend ABI 1.1, but this deepseek uses backend ABI 2.1"),
    ("table.struct_size = 64", "table is 64 bytes, smaller than backend ABI 2.0's 128"),
    ("table.release_program = ffi.cast('ds_status (*)(int32_t, void *)', 1)",
     "table sets some program entries but leaves NULL: compile_program, launch_program"),
    ("table.launch = ffi.NULL", "table leaves NULL: launch"),
    ("table = None", "the load hook returned NoneType, not a ds_backend_table *"),
])
def test_bad_tables_are_refused_at_load(plugin_dir, edit, message):
    with pytest.raises(RuntimeError, match=re.escape(message)):
        _host_backend(plugin_dir, edit)
    assert backends.available()["fakehost"].split(":")[0] in ("incompatible", "error")
    with pytest.raises(RuntimeError, match=re.escape(message)):
        ds.zeros(1).to("fakehost")


def test_an_abi_2_0_table_still_loads_and_launches(plugin_dir):
    """A plugin built against ABI 2.0 (128-byte table, minor 0, no program entries) keeps
    working: the core never reads past its struct_size."""
    be = _host_backend(plugin_dir, "table.struct_size = 128; table.abi_minor = 0")
    x = ds.tensor([1.0, 2.0]).to("fakehost:0")
    assert (x + x).cpu().tolist() == [2.0, 4.0]
    assert be.device_count() == 1


def test_tensors_live_on_a_plugin_device_and_ops_dispatch_to_it(plugin_dir):
    import warnings

    _host_backend(plugin_dir)
    x = ds.tensor([1.0, 2.0, 3.0]).to("fakehost:0")
    assert x.device == ds.device("fakehost", 0) and str(x.device) == "fakehost:0" and not x.is_cpu
    y = x + x  # the plugin's own add kernel (a Python loop over its descriptors)
    assert y.device.type == "fakehost" and y.cpu().tolist() == [2.0, 4.0, 6.0]
    # declared, but the kernel answers "not implemented": the core runs it on the CPU, warning once
    with pytest.warns(UserWarning, match=r"mul: the fakehost backend has no kernel for it \(the kernel answered not "
                                         r"implemented: op mul not implemented by the host backend\); running it on the CPU"):
        z = x * x
    assert z.device.type == "fakehost" and z.cpu().tolist() == [1.0, 4.0, 9.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x * x  # no second warning for the same op
    with pytest.warns(UserWarning, match=r"exp: the fakehost backend has no kernel for it \(not declared by the backend\)"):
        e = x.exp()
    np.testing.assert_allclose(e.cpu().numpy(), np.exp([1.0, 2.0, 3.0]), rtol=1e-6)
    # autograd runs unchanged across the device boundary: the gradient comes back to the CPU leaf
    w = ds.tensor([1.0, 2.0, 3.0], requires_grad=True)
    wd = w.to("fakehost")
    (wd * wd + wd).sum().backward()
    assert w.grad.device.type == "cpu" and w.grad.tolist() == [3.0, 5.0, 7.0]
    # devices never mix silently; 0-dim CPU tensors (numbers) go with any device, as in PyTorch
    with pytest.raises(RuntimeError, match=r"expected all tensors to be on the same device, but found at least two "
                                           r"devices, fakehost:0 and cpu \(tensors of shape \[3\] and \[3\]\)"):
        x + ds.ones(3)
    assert (x + ds.tensor(1.0)).cpu().tolist() == [2.0, 3.0, 4.0]
    with pytest.raises(TypeError, match=r"can't convert fakehost:0 device type tensor to numpy. Use Tensor.cpu\(\)"):
        x.numpy()
    assert "device='fakehost:0'" in repr(x)
    with pytest.raises(RuntimeError, match=r"device 'fakehost:1' does not exist: .* sees 1 device"):
        ds.zeros(2, device="fakehost:1")
    st = ds.memory.stats("fakehost:0")
    assert st["allocated_bytes.all.current"] > 0 and st["segment.all.current"] >= 1
    m = ds.nn.Linear(3, 2).to("fakehost")
    assert all(p.device.type == "fakehost" for p in m.parameters())
    assert m(x.reshape(1, 3)).device.type == "fakehost"


def test_strict_mode_refuses_the_cpu_fallback(plugin_dir):
    _host_backend(plugin_dir)
    x = ds.ones(3, device="fakehost")
    backends.set_strict(True)
    try:
        assert backends.is_strict()
        with pytest.raises(RuntimeError, match=r"sqrt: the fakehost backend has no kernel for it \(not declared by the "
                                               r"backend\), and strict device mode forbids running it on the CPU"):
            x.sqrt()
        assert (x + x).cpu().tolist() == [2.0, 2.0, 2.0]  # native ops still run
    finally:
        backends.set_strict(False)
    r = run_python("import deepseek; print(deepseek.backends.is_strict())", DEEPSEEK_STRICT_DEVICE="1")
    assert r.returncode == 0 and r.stdout.strip() == "True", r.stderr


def test_plugin_faults_on_tensors_raise_and_leave_the_core_usable(plugin_dir):
    _host_backend(plugin_dir)
    x = ds.ones(3, device="fakehost")
    with pytest.raises(RuntimeError, match=r"fakehost backend: kernel 'sub' on fakehost:0 \(outputs float32\[3\]; inputs "
                                           r"float32\[3\], float32\[3\]\) failed: sub kernel exploded"):
        x - x
    assert (x + x).cpu().tolist() == [2.0, 2.0, 2.0]
    with pytest.raises(MemoryError, match=r"fakehost:0 out of memory: tried to allocate 4.00 MiB \(.* allocated by "
                                          r"tensors, .* reserved by deepseek's allocator after freeing its cache\)"):
        ds.empty(1 << 20, device="fakehost")
    assert ds.memory.stats("fakehost")["num_ooms"] == 1
    assert (x + x).cpu().tolist() == [2.0, 2.0, 2.0]


def test_conformance_kit_passes_a_right_kernel_and_catches_wrong_or_missing_ones(plugin_dir):
    from deepseek.testing import check_op
    from deepseek.testing.conformance import Trial
    from deepseek.testing.strategies import Case

    def trial(fn):
        return Trial(fn, [Case(np.array([[1.0, 2.0], [3.0, 4.0]]), "float32", "transposed", (2, 2)),
                          Case(np.array([0.5, -1.0]), "float32", "contiguous", (2,))])

    _host_backend(plugin_dir)
    check_op("add", trial(lambda a, b: a + b), "fakehost:0")  # right values and gradients
    with pytest.raises(RuntimeError, match="sub kernel exploded"):
        check_op("sub", trial(lambda a, b: a - b), "fakehost:0")
    with pytest.raises(RuntimeError, match="strict device mode forbids running it on the CPU"):
        check_op("mul", trial(lambda a, b: a * b), "fakehost:0")  # a CPU fallback never passes for a kernel
    assert not backends.is_strict()
    write_dist(plugin_dir, "deepseek-fakewrong", {"fakewrong": "fake_wrong"},
               {"fake_wrong": HOST_BACKEND.replace("fakehost", "fakewrong").replace("TABLE_EDIT", "pass")
                .replace("ALPHA = 1.0", "ALPHA = -1.0")})
    backends.refresh()
    with pytest.raises(AssertionError, match=r"add on fakewrong:0"):
        check_op("add", trial(lambda a, b: a + b), "fakewrong:0")


def test_module_main_prints_status_and_coverage(tmp_path):
    _write_fakes(tmp_path)
    write_dist(tmp_path, "deepseek-fakehost", {"fakehost": "fake_host"},
               {"fake_host": HOST_BACKEND.replace("TABLE_EDIT", "pass")})
    e = dict(os.environ, PYTHONPATH=str(tmp_path))
    r = subprocess.run([sys.executable, "-m", "deepseek.backends"], capture_output=True, text=True, env=e, timeout=120)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    n = len(backends.PRIMITIVE_OP_NAMES)
    assert f"cpu: available (built in)\n  native: {n}/{n} primitive ops" in out
    assert f"fakehost: available: 1 host device\n  devices: 1\n  native: 4/{n} primitive ops: add, sub, mul, fill\n" in out
    missing = re.search(r"fakehost:.*?missing: (.*?)\n(?=\S|\Z)", out, re.S).group(1)
    missing = [m.strip() for m in missing.replace("\n", " ").split(",")]
    assert len(missing) == n - 4 and "add" not in missing and "div" in missing
    assert "fakeraise: error:" in out and "fakeabi1: incompatible:" in out
