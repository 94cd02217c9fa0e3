"""Generated fused elementwise kernels (ABI 2.1's programs) through the GPU host layer against
the fake HIP runtime: the rendered body compiled by hipRTC for gfx90a and loaded as one
module, one hipModuleLaunchKernel of k_fused per run whose recorded parameters reach every
operand's elements, the module unloaded with the graph, runtime errors naming the node."""
from __future__ import annotations

from deepseek.backends import kernels

from test_rocm_launch import DECODE

GRAPH = """
import gc
from deepseek.backends.kernels import fused
from deepseek.testing.fused import elementwise_graph
"""


def test_a_fused_node_is_one_launch_whose_arguments_reach_every_operand(fake):
    out, log = fake.run(DECODE + GRAPH + """
g = elementwise_graph(["mul", "tanh"], [0, 1, 2, -1], [3], [(4, 5), (5,)], (4, 5), "float32", "rocm:0")
body = fused.render(["mul", "tanh"], [0, 1, 2, -1], [3], 2, "float32")
assert g.attach_program(len(g.nodes()) - 1, fused.KERNEL, body)
x = (ds.arange(20, dtype=ds.float32) + 100).reshape(4, 5).to("rocm")
y = (ds.arange(5, dtype=ds.float32) + 1000).to("rocm")
g.run([x, y], [], 0, None)
g.run([x, y], [], 0, None)
calls = launches(fused.KERNEL)
o, a, b, m, n = params(calls[-1])
shape, strides, offs = meta(m, 3, kernels.MAXD)
res = {"launches": len(calls), "all": len(launches(None)), "n": struct.unpack("<q", n)[0], "shape": list(shape),
       "grid": calls[-1]["grid"], "block": calls[-1]["block"],
       "a": values(ptr(a), element_offsets(shape, strides[1], offs[1]), np.float32),
       "b": values(ptr(b), element_offsets(shape, strides[2], offs[2]), np.float32),
       "o": element_offsets(shape, strides[0], offs[0])}
del g
gc.collect()
emit(res)
""")
    assert out["launches"] == 2 and out["all"] == 2  # nothing per step
    assert out["n"] == 20 and out["shape"] == [4, 5]
    assert out["a"] == [100.0 + i for i in range(20)]
    assert out["b"] == [1000.0 + i % 5 for i in range(20)]
    assert out["o"] == list(range(out["o"][0], out["o"][0] + 20))
    assert out["block"] == f"{kernels.LS},1,1" and out["grid"] == "1,1,1"
    (get,) = [c for c in log.named("hipModuleGetFunction") if c["name"] == "k_fused"]
    assert get["nparams"] == "5"  # o, a, b, Meta3, n
    assert len(log.named("hipModuleLoadData")) == 1 and len(log.named("hipModuleUnload")) == 1


def test_runtime_errors_name_the_node(fake):
    out, _ = fake.run(DECODE + GRAPH + """
g = elementwise_graph(["neg"], [0, -1], [1], [(3,)], (3,), "float32", "rocm:0")
body = fused.render(["neg"], [0, -1], [1], 1, "float32")
os.environ["FAKE_HIP_FAIL"] = "hipModuleLoadData:200"
try:
    g.attach_program(0, fused.KERNEL, body)
    err = None
except RuntimeError as e:
    err = str(e)
emit({"compile": err, "kernels": g.n_device_kernels()})
""")
    assert "elementwise node 0 [r1=neg(r0); -> r1] on rocm:0: compiling its generated kernel failed" in out["compile"]
    assert "hipErrorInvalidImage" in out["compile"] and out["kernels"] == 0
