"""What a traced training step's graph run allocates, all of it: the tensor allocator's peak
growth during a run is exactly the planned arena's block plus the blocks of the tensors
``memory_report()["outside_arena_bytes"]`` counts (the loss), so no kernel makes tensors of
its own there; the kernels' scratch is the core's large heap blocks, and on one thread a run
after the first maps none."""
from __future__ import annotations

import numpy as np
import pytest

import deepseek
from deepseek import memory, nn, optim
import deepseek.nn.functional as F


class _Net(nn.Module):
    """conv-bn-relu, a strided conv-bn-relu, a 1x1 conv, global pooling, a linear head: each
    convolution path (3x3 stride 1 and 2, 1x1) and its two gradients."""

    def __init__(self, c):
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(3, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.c2, self.b2 = nn.Conv2d(c, 2 * c, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(2 * c)
        self.c3 = nn.Conv2d(2 * c, 2 * c, 1, bias=False)
        self.fc = nn.Linear(2 * c, 5)

    def forward(self, x):
        h = F.relu(self.b1(self.c1(x)))
        h = F.relu(self.b2(self.c2(h)))
        return self.fc(self.c3(h).mean((2, 3)))


def _size_class(n):
    """The tensor allocator's block size for n bytes (core-rs/src/alloc.rs)."""
    if n <= 1 << 20:
        return (n + 511) // 512 * 512
    step = 1 << (n.bit_length() - 1 - 2)
    return -(-n // step) * step


def _batch(s, dtype):
    rng = np.random.default_rng(s)
    return deepseek.tensor(rng.standard_normal((8, 3, 16, 16)).astype(dtype)), deepseek.tensor(rng.integers(0, 5, 8))


def _step(kind, dtype, budget):
    """A traced training step: this file's net (every convolution path), or under a budget the
    residual CNN of test_jit_memory_train (whose batch norms the budget recomputes)."""
    if kind == "paths":
        deepseek.manual_seed(0)
        m = _Net(16)
        if dtype == np.float64:
            m = m.double()
        batch = lambda s: _batch(s, dtype)  # noqa: E731
    else:
        from test_jit_memory_train import _batch as res_batch, _net

        m, batch = _net(c=8, blocks=2), res_batch
    step = deepseek.jit.trace_train_step(m, F.cross_entropy, optim.SGD(m.parameters(), lr=0.05, momentum=0.9),
                                         *batch(0), memory_budget=budget)
    step(*batch(0)), step(*batch(0))  # eager, traced
    return step, batch(1)


@pytest.mark.parametrize("kind,dtype,budget", [("paths", np.float32, None), ("paths", np.float64, None), ("residual", np.float64, 0.85)])
def test_a_run_allocates_the_arena_and_the_reported_outside_tensors_only(kind, dtype, budget, threads):
    step, (x, y) = _step(kind, dtype, budget)
    r = step.memory_report()
    if budget is not None:
        assert r["recomputed"] and r["planned_peak_bytes"] < r["unbudgeted_peak_bytes"]
    outside = step.graph_module.graph._g.outside_arena()
    assert r["outside_arena_bytes"] == sum(outside) > 0  # the loss at least
    step(x, y)  # a first run: the arena's block (kept by the graph), the kernels' scratch
    assert step.graph_module.kept_arena_bytes() == r["planned_peak_bytes"]
    for release in (False, False, True):
        if release:  # given back, the next run allocates the arena's block again
            step.graph_module.release_arenas()
        memory.reset_peak_memory_stats()
        base = memory.memory_allocated()
        scratch_before = memory.memory_stats()["scratch_reserved_bytes.all.current"]
        loss = step(x, y)
        grew = memory.max_memory_allocated() - base
        arena = _size_class(r["planned_peak_bytes"]) if release else 0
        assert grew == arena + sum(_size_class(n) for n in outside), (grew, release, r, outside)
        if threads == 1:
            # a steady step maps no new scratch: on one thread the kernels ask for the same
            # blocks in the same order every run (on two, the scratch alive at once depends on
            # how the workers' tasks overlap; test_jit_memory_scratch checks the cache's bound)
            assert memory.memory_stats()["scratch_reserved_bytes.all.current"] == scratch_before
        del loss
