"""``deepseek.<backend>`` (``deepseek.cuda``, ``deepseek.opencl``...) as ``torch.cuda`` spells it,
``.cuda()``, ``load(map_location=...)`` and ``deepseek.backends.cuda.matmul.allow_tf32``.

One test body per question, run for every backend: the available ones (``opencl:0`` on
PoCL here) must answer with real values, the others (``cuda`` without a GPU) must say why
they cannot. Fake plugins check the defaults a plugin without the optional device API gets.
"""
import json
import os
import struct
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import deepseek as ds
from deepseek import backends
from deepseek.backends import registry
from deepseek.testing import available_devices

KNOWN = ("cuda", "rocm", "ascend", "opencl")
AVAILABLE = [d.split(":")[0] for d in available_devices() if d != "cpu"]
UNAVAILABLE = [n for n in KNOWN if n not in AVAILABLE]
MiB = 1 << 20


def module(name):
    return getattr(ds, name)


def eventually(query, seconds=5.0) -> bool:
    """Whether ``query()`` turns True within ``seconds``: a device may finish a marker a
    moment after the host asks."""
    deadline = time.monotonic() + seconds
    while not query():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True


def why_unavailable(name) -> str:
    """What an unavailable backend's errors must say: the plugin's reason, or how to install it."""
    status = backends.available().get(name)
    if status is None:
        return f'pip install "deepseek[{name}]'
    return status.split(": ", 1)[1]


def test_opencl_is_tested_when_required():
    if os.environ.get("DEEPSEEK_REQUIRE_OPENCL") == "1":
        assert "opencl" in AVAILABLE, backends.available().get("opencl", "deepseek-opencl not installed")


# ---- an available backend answers with real values ---------------------------------------

@pytest.mark.parametrize("name", AVAILABLE)
def test_device_queries_answer(name):
    m = module(name)
    be = backends.get_backend(name)
    assert m.is_available() and m.device_count() == be.device_count() >= 1
    assert m.current_device() == 0
    props = m.get_device_properties(0)
    assert isinstance(props.name, str) and props.name and m.get_device_name() == props.name
    assert props.name in backends.available()[name]  # the probe names the same device
    assert m.get_device_capability(0) == (props.major, props.minor)
    for field in ("total_memory", "multi_processor_count"):
        value = getattr(props, field)
        assert value is None or (isinstance(value, int) and value > 0), (field, value)
    if name == "opencl":  # OpenCL reports these; it has no compute capability
        assert props.total_memory > 0 and props.multi_processor_count >= 1 and props.major is None
    assert m.get_device_properties(f"{name}:0").name == props.name == m.get_device_properties(ds.device(name, 0)).name


@pytest.mark.parametrize("name", AVAILABLE)
def test_memory_statistics_follow_tensors(name):
    m = module(name)
    m.empty_cache()
    free0, total = m.mem_get_info()
    assert 0 <= free0 <= total
    if m.get_device_properties().total_memory is not None:
        assert total == m.get_device_properties().total_memory
    base = m.memory_allocated()
    m.reset_peak_memory_stats()
    x = ds.zeros(2 * MiB, dtype=ds.float32, device=name)  # 8 MiB
    assert m.memory_allocated() - base >= 8 * MiB
    assert m.max_memory_allocated() >= m.memory_allocated() and m.memory_reserved() >= m.memory_allocated()
    assert m.memory_stats()["allocated_bytes.all.current"] == m.memory_allocated()
    free1, total1 = m.mem_get_info()
    assert total1 == total and free0 - free1 >= 8 * MiB
    held = m.memory_allocated()
    del x
    m.empty_cache()
    assert held - m.memory_allocated() >= 8 * MiB and m.max_memory_allocated() - base >= 8 * MiB


@pytest.mark.parametrize("name", AVAILABLE)
def test_current_device_is_what_an_index_less_device_means(name):
    m = module(name)
    assert ds.zeros(2, device=name).device == ds.device(name, 0)
    with m.device(0):
        assert m.current_device() == 0
    m.set_device(f"{name}:0")
    n = m.device_count()
    with pytest.raises(RuntimeError, match=rf"device '{name}:{n}' does not exist: .* sees {n} device"):
        m.set_device(n)
    assert m.current_device() == 0  # a refused set_device changes nothing
    with pytest.raises(ValueError, match=f"expected a {name} device, got 'cpu'"):
        m.set_device("cpu")
    with pytest.raises(RuntimeError, match="must not be negative"):
        ds.zeros(1, device=f"{name}:-1")


@pytest.mark.parametrize("name", AVAILABLE)
def test_events_time_and_order_work(name):
    m = module(name)
    start, end = m.Event(enable_timing=True), m.Event(enable_timing=True)
    assert start.query()  # never recorded: nothing to wait for
    with pytest.raises(RuntimeError, match="must be recorded"):
        start.elapsed_time(end)
    x = ds.randn(256, 256, device=name)
    start.record()
    for _ in range(4):
        x = x @ x / 16
    end.record()
    end.synchronize()
    assert end.query() and start.query()
    ms = start.elapsed_time(end)
    assert isinstance(ms, float) and ms >= 0
    assert np.isfinite(x.cpu().numpy()).all()
    untimed = m.Event()
    untimed.record()
    untimed.synchronize()
    with pytest.raises(RuntimeError, match="enable_timing=True"):
        untimed.elapsed_time(end)


@pytest.mark.parametrize("name", AVAILABLE)
def test_streams_are_the_default_stream_and_say_so(name):
    m = module(name)
    s = m.Stream(priority=-1)
    assert s == m.default_stream() == m.current_stream() and s.handle == 0 and s.priority == -1
    assert "default stream" in repr(s)
    y = ds.arange(1000, device=name, dtype=ds.float32)
    with m.stream(s) as entered:
        assert entered is s and m.current_stream() is s
        z = y * 2
        ev = s.record_event()
    assert m.current_stream() is not s  # restored
    s.wait_event(ev)
    s.wait_stream(m.default_stream())
    ev.wait()
    s.synchronize()
    assert ev.query() and eventually(s.query)
    m.synchronize()
    assert z.cpu().tolist() == [2.0 * i for i in range(1000)]
    with m.stream(None):  # None changes nothing, as in PyTorch
        assert m.current_stream() == s


@pytest.mark.parametrize("name", AVAILABLE)
def test_backend_events_order_a_stream_after_another(name):
    """The raw device API under the module: an event recorded on the default stream, a
    second stream made to wait for it, both idle once that stream is synchronized."""
    be = backends.get_backend(name)
    data = np.arange(MiB, dtype=np.float32)
    p = be.alloc(0, data.nbytes)
    s = be.stream_create(0)
    ev = be.event_create(0, True)
    try:
        be.copy_from_host(0, p, data)
        be.event_record(0, ev, 0)
        be.stream_wait_event(0, s, ev)
        be.stream_synchronize(0, s)
        assert be.event_query(0, ev) and eventually(lambda: be.stream_query(0, s))
        assert np.array_equal(np.frombuffer(be.copy_to_host(0, p, data.nbytes, stream=s), np.float32), data)
    finally:
        be.event_destroy(0, ev)
        be.stream_destroy(0, s)
        be.free(0, p)


@pytest.mark.parametrize("name", AVAILABLE)
def test_manual_seed_seeds_the_generator_devices_draw_from(name):
    m = module(name)
    m.manual_seed(1234)
    a = ds.rand(64, device=name).cpu().numpy()
    m.manual_seed_all(1234)
    b = ds.rand(64, device=name).cpu().numpy()
    ds.manual_seed(1234)
    c = ds.rand(64).numpy()
    assert np.array_equal(a, b) and np.array_equal(a, c)  # one counter-based generator for all devices
    assert m.initial_seed() == 1234
    m.manual_seed(99)
    assert not np.array_equal(ds.rand(64, device=name).cpu().numpy(), a)


# ---- an unavailable backend says why ------------------------------------------------------

@pytest.mark.parametrize("name", UNAVAILABLE)
def test_unavailable_backend_says_why(name):
    m = module(name)
    assert m.is_available() is False and m.device_count() == 0
    why = why_unavailable(name)
    calls = {
        "current_device": lambda: m.current_device(), "set_device": lambda: m.set_device(0),
        "get_device_name": lambda: m.get_device_name(), "get_device_properties": lambda: m.get_device_properties(0),
        "synchronize": lambda: m.synchronize(), "mem_get_info": lambda: m.mem_get_info(),
        "memory_allocated": lambda: m.memory_allocated(), "empty_cache": lambda: m.empty_cache(),
        "Stream": lambda: m.Stream(), "current_stream": lambda: m.current_stream(),
        "to": lambda: ds.zeros(2).to(name), "zeros": lambda: ds.zeros(2, device=f"{name}:0"),
        "Module.to": lambda: ds.nn.Linear(2, 2).to(name),
    }
    for what, call in calls.items():
        with pytest.raises(RuntimeError) as info:
            call()
        assert why in str(info.value) and name in str(info.value), (what, str(info.value))
    m.manual_seed(3)  # seeding needs no device, as in PyTorch


@pytest.mark.skipif("cuda" in AVAILABLE, reason="a CUDA device is present")
def test_cuda_calls_raise_clearly_without_a_device():
    why = why_unavailable("cuda")
    for call in (lambda: ds.ones(3).cuda(), lambda: ds.ones(3).cuda(0), lambda: ds.ones(3).cuda("cuda:0"),
                 lambda: ds.nn.Linear(2, 2).cuda(), lambda: ds.nn.Linear(2, 2).to("cuda:0")):
        with pytest.raises(RuntimeError, match="cuda") as info:
            call()
        assert why in str(info.value)
    with pytest.raises(RuntimeError, match="Invalid device, must be cuda device: got 'cpu'"):
        ds.ones(3).cuda("cpu")
    assert ds.ones(3).is_cuda is False


def test_tensor_device_properties_and_module_cpu():
    for dev in available_devices():
        x = ds.arange(6, dtype=ds.float32, device=dev)
        assert x.is_cuda is (x.device.type == "cuda") and x.is_cpu is (dev == "cpu")
        assert x.cpu().device == ds.device("cpu") and x.cpu().tolist() == list(range(6))
        lin = ds.nn.Linear(3, 2).to(dev)
        w = lin.weight.detach().cpu().numpy()
        assert lin.weight.device == ds.device(dev)
        assert lin.cpu() is lin and lin.weight.device == ds.device("cpu") and np.array_equal(lin.weight.detach().numpy(), w)


def test_import_loads_no_plugin():
    code = textwrap.dedent("""
        import deepseek
        from deepseek.backends import registry
        deepseek.cuda, deepseek.opencl, deepseek.backends.cuda.matmul.allow_tf32
        repr(deepseek.cuda.Stream), deepseek.cuda.manual_seed_all(1)
        assert registry._plugins is None, "discovery ran"
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


# ---- the optional device API: defaults and faults, through fake plugins ------------------

TABLE = """
    from deepseek.backends import hookimpl
    from deepseek.backends.abi import build_table

    buffers = {}

    def alloc(dev, n):
        buffers[len(buffers) + 1] = bytearray(n)
        return len(buffers)

    def h2d(dev, dst, off, src, n, stream):
        from deepseek.backends.abi import ffi
        buffers[dst][off:off + n] = ffi.buffer(src, n)

    def d2h(dev, dst, src, off, n, stream):
        from deepseek.backends.abi import ffi
        ffi.buffer(dst, n)[:] = bytes(buffers[src][off:off + n])

    def launch(dev, op, attrs, tensors, stream):
        raise NotImplementedError(op)

    @hookimpl
    def deepseek_backend_info():
        return {"name": NAME, "version": "0.1", "abi_version": (2, 0)}

    @hookimpl
    def deepseek_backend_probe():
        PROBE

    @hookimpl
    def deepseek_backend_load():
        return build_table(NAME, [], device_count=lambda: COUNT, alloc=alloc, free=lambda d, p: buffers.pop(p),
                           memcpy_h2d=h2d, memcpy_d2h=d2h, memcpy_d2d=lambda *a: None, synchronize=lambda d: None,
                           stream_create=lambda d: 7, stream_destroy=lambda d, s: None, launch=launch)
    DEVICE_API
"""


@pytest.fixture
def fake_plugin(tmp_path):
    """Writes a fake backend distribution (name, probe body, extra hook source) and returns its module."""
    sys.path.insert(0, str(tmp_path))
    before = set(sys.modules)
    backends.refresh()

    def make(name, probe="return True, 'fake devices'", device_api="", count=1):
        info = tmp_path / f"deepseek_{name}-0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: deepseek-{name}\nVersion: 0.1\n")
        (info / "entry_points.txt").write_text(f"[deepseek.backends]\n{name} = fake_{name}\n")
        src = textwrap.dedent(TABLE).replace("NAME", repr(name)).replace("PROBE", probe).replace("COUNT", str(count))
        (tmp_path / f"fake_{name}.py").write_text(src.replace("DEVICE_API", textwrap.dedent(device_api)))
        backends.refresh()
        return module(name)

    yield make
    sys.path.remove(str(tmp_path))
    for mod in set(sys.modules) - before:
        if str(tmp_path) in (getattr(sys.modules[mod], "__file__", "") or ""):
            del sys.modules[mod]
    backends.refresh()


def test_installed_plugin_without_a_driver_gives_its_probe_reason(fake_plugin):
    m = fake_plugin("fakegpu", probe="return False, 'no FakeGPU driver: libfakegpu.so.1 not found'")
    assert isinstance(m, type(ds.cuda)) and m.is_available() is False and m.device_count() == 0
    for call in (m.current_device, m.get_device_name, m.synchronize, m.Stream, lambda: ds.ones(2).to("fakegpu")):
        with pytest.raises(RuntimeError, match="no FakeGPU driver: libfakegpu.so.1 not found"):
            call()


def test_plugin_without_the_device_api_gets_the_defaults(fake_plugin):
    m = fake_plugin("fakebare")
    assert m.is_available() and m.device_count() == 1
    assert m.get_device_name() == "fakebare device 0"
    p = m.get_device_properties()
    assert p.name == "fakebare device 0" and (p.total_memory, p.major, p.minor, p.multi_processor_count) == (None,) * 4
    with pytest.raises(RuntimeError, match="does not report free device memory"):
        m.mem_get_info()
    assert backends.get_backend("fakebare").has_native_events() is False
    a, b = m.Event(enable_timing=True), m.Event(enable_timing=True)
    a.record()
    b.record()
    assert b.query() and a.elapsed_time(b) >= 0  # host-timed: recording waited for the device
    s = m.Stream()
    s.synchronize()
    assert s.query() is True
    s.wait_event(a)
    x = ds.tensor([1.5, -2.0]).to("fakebare")
    assert x.device == ds.device("fakebare", 0) and x.cpu().tolist() == [1.5, -2.0]


def test_current_device_per_thread_with_two_devices(fake_plugin):
    import threading

    m = fake_plugin("faketwo", count=2)
    assert m.device_count() == 2 and m.current_device() == 0
    try:
        m.set_device(1)
        x = ds.tensor([1.0, 2.0], device="faketwo")
        assert x.device == ds.device("faketwo", 1) and x.cpu().tolist() == [1.0, 2.0]
        assert ds.ones(2).to("faketwo").device == ds.device("faketwo", 1)
        with m.device(0):
            assert m.current_device() == 0 and ds.ones(1).to(ds.device("faketwo")).device == ds.device("faketwo", 0)
        assert m.current_device() == 1
        seen = []
        t = threading.Thread(target=lambda: seen.append(m.current_device()))
        t.start()
        t.join()
        assert seen == [0]  # each thread has its own current device, as in PyTorch
        s0 = m.Stream(0)
        with m.stream(s0):
            assert m.current_device() == 0 and m.current_stream() is s0
        assert m.current_device() == 1 and m.current_stream().device == ds.device("faketwo", 1)
        assert m.memory_allocated(1) >= 8 and m.memory_allocated() == m.memory_allocated("faketwo:1")
    finally:
        m.set_device(0)


def test_partial_and_broken_device_apis(fake_plugin):
    partial = fake_plugin("fakepart", device_api="""
        class API:
            def device_name(self, dev):
                return f"Fake Part #{dev}"

            def mem_get_info(self, dev):
                raise NotImplementedError

        @hookimpl
        def deepseek_backend_device_api():
            return API()
    """)
    assert partial.get_device_name() == "Fake Part #0" == partial.get_device_properties().name
    with pytest.raises(RuntimeError, match="does not report free device memory"):
        partial.mem_get_info()  # NotImplementedError is the same as omitting the method
    broken = fake_plugin("fakebroken", device_api="""
        @hookimpl
        def deepseek_backend_device_api():
            raise OSError("driver query failed")
    """)
    x = ds.tensor([3.0]).to("fakebroken")  # tensors work; only the device questions fail
    assert x.cpu().tolist() == [3.0]
    with pytest.raises(RuntimeError, match=r"deepseek_backend_device_api\(\) failed: OSError: driver query failed"):
        broken.get_device_name()


# ---- deepseek.load(map_location=...) --------------------------------------------------------

def _sample(dev):
    return {
        "f32": ds.tensor([[1.5, -0.0, float("inf")], [float("nan"), 3e-38, -7.25]], device=dev),
        "i64": ds.tensor([2**62, -(2**63), 5], dtype=ds.int64, device=dev),
        "f16": ds.tensor([0.1, 65504.0, -6e-8], dtype=ds.float16, device=dev),
        "bf16": ds.tensor([1.0e38, -3.5], dtype=ds.bfloat16, device=dev),
        "b": ds.tensor([True, False, True], device=dev),
        "nested": [ds.arange(4, device=dev), {"k": 7}],
    }


def _tensors(obj):
    return [obj[k] for k in ("f32", "i64", "f16", "bf16", "b")] + [obj["nested"][0]]


def _same_bytes(got, want, device):
    assert got.device == ds.device(device), (got.device, device)
    assert got.dtype == want.dtype and tuple(got.shape) == tuple(want.shape)
    assert ds._core.to_bytes(got.cpu()) == ds._core.to_bytes(want.cpu())


@pytest.mark.parametrize("dev", available_devices())
def test_map_location_forms_round_trip_exactly(dev, tmp_path):
    path = tmp_path / "ckpt.safetensors"
    saved = _sample(dev)
    ds.save(saved, path)
    raw = path.read_bytes()
    others = available_devices()
    forms = [(None, dev), ("cpu", "cpu"), (ds.device("cpu"), "cpu")]
    for target in others:
        forms += [(target, target), (ds.device(target), target), ({dev: target}, target)]
    forms.append(({"nosuch:3": "cpu"}, dev))  # unmapped locations stay where they were saved
    seen = []
    for target in others:
        forms.append((lambda t, loc, target=target: seen.append(loc) or t.to(target), target))
    forms.append((lambda t, loc: None, dev))
    for map_location, where in forms:
        out = ds.load(path, map_location=map_location)
        for got, want in zip(_tensors(out), _tensors(saved)):
            _same_bytes(got, want, where)
        assert out["nested"][1] == {"k": 7}
    assert set(seen) == {dev if dev != "cpu" else "cpu"}
    assert path.read_bytes() == raw  # loading never writes


def test_map_location_refusals(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    ds.save({"w": ds.ones(2, 3)}, path)
    with pytest.raises(TypeError, match="map_location must be None, a device string"):
        ds.load(path, map_location=3)
    with pytest.raises(TypeError, match="must map device strings"):
        ds.load(path, map_location={"cpu": 0})
    with pytest.raises(RuntimeError, match=r"shape \(3,\) .* saved with shape \(2, 3\)"):
        ds.load(path, map_location=lambda t, loc: t.reshape(-1)[:3])
    with pytest.raises(TypeError, match="returned int"):
        ds.load(path, map_location=lambda t, loc: 1)
    if "cuda" not in AVAILABLE:
        for m in ("cuda:0", ds.device("cuda"), {"cpu": "cuda:0"}, lambda t, loc: t.cuda()):
            with pytest.raises(RuntimeError) as info:
                ds.load(path, map_location=m)
            assert why_unavailable("cuda") in str(info.value)


@pytest.mark.parametrize("dev", [d for d in available_devices() if d != "cpu"])
def test_saved_devices_are_recorded_and_checked(dev, tmp_path):
    path = tmp_path / "ckpt.safetensors"
    ds.save({"a": ds.ones(2, device=dev), "c": ds.zeros(2)}, path)
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    meta = json.loads(raw[8:8 + n])["__metadata__"]
    assert json.loads(meta["deepseek.devices"]) == {"a": dev}  # CPU tensors are not recorded
    out = ds.load(path)
    assert out["a"].device == ds.device(dev) and out["c"].device == ds.device("cpu")
    kind = dev.split(":")[0]
    tampered = raw.replace(f'{{\\"a\\":\\"{dev}\\"}}'.encode(), f'{{\\"a\\":\\"{kind}:9\\"}}'.encode())
    assert tampered != raw and len(tampered) == len(raw)
    path.write_bytes(tampered)
    with pytest.raises(RuntimeError, match="devices the tensors were saved from .* does not match its checksum"):
        ds.load(path)
    plain = tmp_path / "cpu.safetensors"
    ds.save({"a": ds.ones(2)}, plain)
    assert b"deepseek.devices" not in plain.read_bytes()


def test_a_device_missing_at_load_says_how_to_load_elsewhere(fake_plugin, tmp_path):
    fake_plugin("fakeload")
    path = tmp_path / "ckpt.safetensors"
    ds.save({"a": ds.tensor([1.0, 2.0]).to("fakeload")}, path)
    backends.refresh()
    (tmp_path / "fake_fakeload.py").write_text("raise ImportError('the fakeload driver is gone')\n")
    sys.modules.pop("fake_fakeload", None)
    with pytest.raises(RuntimeError, match=r"saved on fakeload:0.*the fakeload driver is gone.*map_location='cpu'"):
        ds.load(path)
    assert ds.load(path, map_location="cpu")["a"].tolist() == [1.0, 2.0]


# ---- deepseek.backends.cuda ------------------------------------------------------------------

def test_allow_tf32_flag():
    flags = ds.backends.cuda.matmul
    code = "import deepseek; print(deepseek.backends.cuda.matmul.allow_tf32)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.stdout.strip() == "False", r.stderr  # PyTorch's default
    before = flags.allow_tf32
    seen = []
    try:
        flags.watch(seen.append)
        flags.allow_tf32 = True
        assert flags.allow_tf32 is True
        flags.allow_tf32 = False
        assert seen == [before, True, False]
        with pytest.raises(TypeError, match="must be a bool"):
            flags.allow_tf32 = 1
        with pytest.raises(AttributeError, match="no setting 'allow_tf33'"):
            flags.allow_tf33 = True
        flags.unwatch(seen.append)
        flags.allow_tf32 = True
        assert seen == [before, True, False]
    finally:
        flags.allow_tf32 = before
    assert ds.backends.cuda.is_built() is ("cuda" in registry.plugins())
