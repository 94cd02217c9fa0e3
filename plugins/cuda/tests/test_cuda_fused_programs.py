"""Generated fused elementwise kernels (ABI 2.1's compile_program / launch_program /
release_program) through the GPU host layer against the fake driver: the rendered body is
compiled with NVRTC and loaded as one module, each run is one cuLaunchKernel of k_fused whose
parameters (decoded from the bytes the fake records) reach every operand's elements, the
module is unloaded with the graph, and driver errors come back naming the node."""
from __future__ import annotations

from deepseek.backends import kernels

from cuda_helpers import calls_named
from test_cuda_launch import DECODE, PTX

GRAPH = """
from deepseek.backends.kernels import fused
from deepseek.testing.fused import elementwise_graph

def one_node(ops, args, outputs, in_shapes, shape):
    return elementwise_graph(ops, args, outputs, in_shapes, shape, "float32", "cuda:0")
"""


def test_a_fused_node_is_one_launch_whose_arguments_reach_every_operand(run_fake):
    """mul of a (4, 5) and a broadcast (5,) row, then tanh: one module, one k_fused launch with
    the outputs' and inputs' pointers, Meta3 and n; unloaded when the graph goes."""
    out, calls = run_fake(DECODE + GRAPH + """
g = one_node(["mul", "tanh"], [0, 1, 2, -1], [3], [(4, 5), (5,)], (4, 5))
body = fused.render(["mul", "tanh"], [0, 1, 2, -1], [3], 2, "float32")
assert g.attach_program(len(g.nodes()) - 1, fused.KERNEL, body)
x = (ds.arange(20, dtype=ds.float32) + 100).reshape(4, 5).to("cuda")
y = (ds.arange(5, dtype=ds.float32) + 1000).to("cuda")
g.run([x, y], [], 0, None)
g.run([x, y], [], 0, None)
ls = [f for f in launches() if f["name"] == fused.KERNEL]
o, a, b, m, n = ls[-1]["params"]
ptr = lambda p: struct.unpack("<Q", p)[0]
sh, st, off = meta(m, 3)
res = {"launches": len(ls), "others": len(launches()) - len(ls), "n": struct.unpack("<q", n)[0], "sh": list(sh),
       "grid": ls[-1]["grid"], "block": ls[-1]["block"],
       "a": read(ptr(a), offsets(sh, st, off, 1), np.float32), "b": read(ptr(b), offsets(sh, st, off, 2), np.float32),
       "o": [int(v) for v in offsets(sh, st, off, 0)], "kernels": g.n_device_kernels()}
del g
import gc; gc.collect()
emit(res)
""", **PTX)
    assert out["launches"] == 2 and out["others"] == 0  # no per-step k_binary / k_unary
    assert out["kernels"] == 1 and out["n"] == 20 and out["sh"] == [4, 5]  # the broadcast dim stays apart
    assert out["a"] == [100.0 + i for i in range(20)]
    assert out["b"] == [1000.0 + i % 5 for i in range(20)]
    assert out["o"] == list(range(out["o"][0], out["o"][0] + 20))
    assert out["block"] == f"{kernels.LS},1,1" and out["grid"] == "1,1,1"
    loads = calls_named(calls, "cuModuleLoadData")
    fused_fn = [c for c in calls_named(calls, "cuModuleGetFunction") if c["name"] == "k_fused"]
    assert len(fused_fn) == 1  # compiled once, not per run
    unloads = calls_named(calls, "cuModuleUnload")
    assert len(loads) == 1 and len(unloads) == 1  # the program's module, gone with the graph


def test_driver_errors_in_compile_and_launch_name_the_node(run_fake):
    """A module that fails to load (CUDA_ERROR_INVALID_IMAGE) is an error naming the fused node;
    a failing cuLaunchKernel is the run's error."""
    out, _ = run_fake(DECODE + GRAPH + """
import os
g = one_node(["neg"], [0, -1], [1], [(3,)], (3,))
body = fused.render(["neg"], [0, -1], [1], 1, "float32")
os.environ["FAKE_CUDA_FAIL"] = "cuModuleLoadData:200"
try:
    g.attach_program(len(g.nodes()) - 1, fused.KERNEL, body)
    compile_error = None
except RuntimeError as e:
    compile_error = str(e)
os.environ["FAKE_CUDA_FAIL"] = ""
assert g.attach_program(len(g.nodes()) - 1, fused.KERNEL, body)
x = ds.ones(3).to("cuda")
os.environ["FAKE_CUDA_FAIL"] = "cuLaunchKernel:719"
try:
    g.run([x], [], 0, None)
    launch_error = None
except RuntimeError as e:
    launch_error = str(e)
os.environ["FAKE_CUDA_FAIL"] = ""
emit({"compile": compile_error, "launch": launch_error})
""", **PTX)
    assert "elementwise node 0 [r1=neg(r0); -> r1] on cuda:0: compiling its generated kernel failed" in out["compile"]
    assert "CUDA_ERROR_INVALID_IMAGE" in out["compile"]
    assert "CUDA_ERROR_LAUNCH_FAILED" in out["launch"] and "fused elementwise (k_fused, float32)" in out["launch"]
