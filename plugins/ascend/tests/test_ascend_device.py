"""deepseek.ascend, as torch_npu spells torch.npu: device facts, memory and the allocator's
statistics, tensors and modules moved to ascend, and deepseek.load(map_location=...), all over
the fake CANN."""
from __future__ import annotations


def test_deepseek_ascend_module_and_moving_tensors(run_fake, tmp_path):
    path = tmp_path / "w.safetensors"
    out, calls = run_fake(f"""
import deepseek as ds
from deepseek import nn
m = ds.ascend
res = {{"avail": m.is_available(), "count": m.device_count(), "name": m.get_device_name(1),
       "total": m.get_device_properties(0).total_memory}}
x = ds.ones(1 << 18, device="ascend")            # 1 MiB on the current device
res["allocated"] = m.memory_allocated(0)
res["info"] = list(m.mem_get_info(0))
m.set_device(1)
res["current"] = [m.current_device(), str(ds.zeros(2, device="ascend").device)]
m.set_device(0)
start, end = m.Event(enable_timing=True), m.Event(enable_timing=True)
start.record(); y = x * 3; end.record(); end.synchronize()
res["ms"] = start.elapsed_time(end)
m.synchronize()
lin = nn.Linear(3, 2).to("ascend:0")
res["param"] = str(next(lin.parameters()).device)
ds.save({{"w": ds.arange(6.0).reshape(2, 3)}}, {str(path)!r})
loaded = ds.load({str(path)!r}, map_location="ascend:1")
res["loaded"] = [str(loaded["w"].device), loaded["w"].cpu().tolist()]
emit(res)
""", FAKE_ACL_DEVICES=2, FAKE_ACL_MEM=1 << 30, FAKE_ACL_SOC="Ascend910B3")
    assert out["avail"] is True and out["count"] == 2
    assert out["name"] == "Ascend910B3" and out["total"] == 1 << 30
    assert out["allocated"] >= 1 << 20
    assert out["info"][1] == 1 << 30 and out["info"][0] <= (1 << 30) - (1 << 20)
    assert out["current"] == [1, "ascend:1"]
    assert out["ms"] >= 0
    assert out["param"] == "ascend:0"
    assert out["loaded"] == ["ascend:1", [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]]
    assert any(c.name == "aclrtGetMemInfo" for c in calls)
    assert any(c.name == "aclrtEventElapsedTime" and c.rc == 0 for c in calls)  # the runtime's events


def test_events_and_a_second_stream_wait_in_order(run_fake):
    out, calls = run_fake("""
import numpy as np
import deepseek as ds
be = ds.backends.get_backend("ascend")
data = np.arange(1 << 16, dtype=np.float32)
p = be.alloc(0, data.nbytes)
s, ev = be.stream_create(0), be.event_create(0, True)
be.copy_from_host(0, p, data)
be.event_record(0, ev, 0)
be.stream_wait_event(0, s, ev)
be.stream_synchronize(0, s)
same = np.array_equal(np.frombuffer(be.copy_to_host(0, p, data.nbytes, stream=s), np.float32), data)
emit([bool(be.event_query(0, ev)), bool(same)])
be.event_destroy(0, ev); be.stream_destroy(0, s); be.free(0, p)
""")
    assert out == [True, True]
    names = [c.name for c in calls]
    assert names.index("aclrtRecordEvent") < names.index("aclrtStreamWaitEvent") < names.index("aclrtDestroyEvent")
