"""deepseek.cuda, as torch.cuda spells it, answered by deepseek-cuda over the fake driver:
device facts, memory, events and streams, and tensors and modules moved to cuda."""
from __future__ import annotations

PTX = {"DEEPSEEK_CUDA_CODE": "ptx"}


def test_deepseek_cuda_module_over_the_plugin(run_fake):
    out, calls = run_fake("""
import time, deepseek as ds
from deepseek import nn
c = ds.cuda
res = {"avail": c.is_available(), "count": c.device_count(), "name": c.get_device_name(1),
       "cap": list(c.get_device_capability(0)), "total": c.get_device_properties(0).total_memory}
x = ds.ones(1 << 18, device="cuda")           # 1 MiB
res["allocated"] = c.memory_allocated(0)
free, total = c.mem_get_info(0)
res["info"] = [free, total]
start, end = c.Event(enable_timing=True), c.Event(enable_timing=True)
start.record(); time.sleep(0.02); end.record(); end.synchronize()
res["ms"] = start.elapsed_time(end)
res["query"] = [end.query(), c.current_stream().query()]
s = c.Stream()
with c.stream(s):
    y = x * 3
s.synchronize()
c.synchronize()
m = nn.Linear(3, 2).cuda()
res["param"] = str(next(m.parameters()).device)
res["cuda()"] = str(ds.zeros(2).cuda().device)
emit(res)
""", FAKE_CUDA_DEVICES=2, FAKE_CUDA_CC="9.0", FAKE_CUDA_MEM=1 << 30, **PTX)
    assert out["avail"] is True and out["count"] == 2
    assert out["name"] == "Fake NVIDIA GPU 1 (deepseek tests)" and out["cap"] == [9, 0] and out["total"] == 1 << 30
    assert out["allocated"] >= 1 << 20
    assert out["info"][1] == 1 << 30 and out["info"][0] <= (1 << 30) - (1 << 20)  # the driver's own count
    assert 19.0 <= out["ms"] < 5000
    assert out["query"] == [True, True]
    assert out["param"] == "cuda:0" and out["cuda()"] == "cuda:0"
    assert any(c.name == "cuEventElapsedTime" and c.rc == 0 for c in calls)  # native events, not host timing
