"""Training steps of small CNNs traced under a memory budget (deepseek.jit.trace_train_step):
the same losses, optimizer state (hence gradients) and parameters as eager mode after three
steps; batch norms recomputed from the kept convolution outputs before any convolution is; the
allocator's measured peak of a graph run consistent with memory_report()'s planned arena."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import deepseek
from deepseek import nn, optim
import deepseek.nn.functional as F
from deepseek.models._layers import bn_act


class _Block(nn.Module):
    """conv-bn-relu, conv-bn (+ the block's input) -relu: a ResNet basic block."""

    def __init__(self, c, fused):
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.c2, self.b2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.relu, self.fused = nn.ReLU(), fused

    def forward(self, x):
        if self.fused:  # the fused batch norm (+ residual) + ReLU kernel, as the zoo's ResNets
            h = bn_act(self.b1, self.c1(x), self.relu)
            return bn_act(self.b2, self.c2(h), self.relu, residual=x)
        h = self.relu(self.b1(self.c1(x)))  # plain modules: batch_norm_train, then elementwise ops
        return self.relu(self.b2(self.c2(h)) + x)


class _Net(nn.Module):
    def __init__(self, c, blocks, fused, pool):
        super().__init__()
        self.stem, self.bn = nn.Conv2d(3, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.pool = nn.MaxPool2d(2) if pool else nn.Identity()
        self.blocks = nn.Sequential(*[_Block(c, fused) for _ in range(blocks)])
        self.fc = nn.Linear(c, 4)

    def forward(self, x):
        h = self.pool(F.relu(self.bn(self.stem(x))))
        return self.fc(self.blocks(h).mean((2, 3)))


def _net(c=6, blocks=2, fused=True, pool=True, seed=0):
    deepseek.manual_seed(seed)
    return _Net(c, blocks, fused, pool).double()


def _batch(s, n=8, hw=16):
    rng = np.random.default_rng(100 + s)
    return deepseek.tensor(rng.standard_normal((n, 3, hw, hw))), deepseek.tensor(rng.integers(0, 4, n))


def _opt(m):
    return optim.SGD(m.parameters(), lr=0.05, momentum=0.9)


def same(a, b, tol=1e-10):
    np.testing.assert_allclose(np.asarray(a.detach()), np.asarray(b.detach()), rtol=tol, atol=tol)


def _unbudgeted_arena(kw):
    m = _net(**kw)
    step = deepseek.jit.trace_train_step(m, F.cross_entropy, _opt(m), *_batch(0))
    step(*_batch(0)), step(*_batch(0))
    return step.memory_report()["planned_peak_bytes"]


def _check_against_eager(kw, budget, steps=3):
    """Runs `steps` traced steps under `budget` and as many eager ones: same losses, momentum
    buffers (a running sum of the gradients), parameters and batch-norm running statistics."""
    m_g, m_e = _net(**kw), _net(**kw)
    o_g, o_e = _opt(m_g), _opt(m_e)
    step = deepseek.jit.trace_train_step(m_g, F.cross_entropy, o_g, *_batch(0), memory_budget=budget)
    for s in range(steps):
        x, y = _batch(s)
        got = step(x, y)
        o_e.zero_grad()
        want = F.cross_entropy(m_e(x), y)
        want.backward()
        o_e.step()
        same(got, want)
    for (name, p), q in zip(m_g.named_parameters(), m_e.parameters()):
        same(p, q)
        same(o_g.state[p]["momentum_buffer"], o_e.state[q]["momentum_buffer"])
    for p, q in zip(m_g.buffers(), m_e.buffers()):
        same(p, q)
    return step.memory_report()


@pytest.mark.parametrize("fused", [True, False])
def test_a_budget_recomputes_batch_norms_before_convolutions(fused):
    kw = dict(fused=fused)
    arena = _unbudgeted_arena(kw)
    r = _check_against_eager(kw, int(arena * 0.85))
    assert r["planned_peak_bytes"] <= int(arena * 0.85) < r["unbudgeted_peak_bytes"] == arena
    assert r["recomputed"], r
    # the cheap results go first: a batch norm's output costs a few passes over it to
    # recompute from the kept convolution output, the convolution a GEMM
    # (plain modules leave more small results, and then a convolution too is worth it here)
    assert ("batch_norm_act" if fused else "batch_norm_train") in r["recomputed"], r["recomputed"]
    if fused:
        assert "conv2d" not in r["recomputed"], r["recomputed"]


@settings(max_examples=8, deadline=None)
@given(c=st.integers(2, 6), blocks=st.integers(1, 2), fused=st.booleans(), pool=st.booleans(), frac=st.sampled_from([0.85, 0.9, 0.95]))
def test_budgeted_steps_match_eager(c, blocks, fused, pool, frac):
    kw = dict(c=c, blocks=blocks, fused=fused, pool=pool)
    arena = _unbudgeted_arena(kw)
    try:
        r = _check_against_eager(kw, int(arena * frac))
    except RuntimeError as e:  # a budget below what recomputation reaches is refused, and says so
        assert "cannot be met" in str(e) and "at best" in str(e)
        return
    assert r["planned_peak_bytes"] <= int(arena * frac)


def _size_class(n):
    """The caching allocator's block size for n bytes (core-rs/src/alloc.rs): 512-byte steps up
    to 1 MiB, then four classes per power of two."""
    if n <= 1 << 20:
        return (n + 511) // 512 * 512
    step = 1 << (n.bit_length() - 1 - 2)
    return -(-n // step) * step


def test_the_planned_arena_is_what_a_graph_run_allocates():
    kw = dict(c=8, blocks=2)
    arena = _unbudgeted_arena(kw)
    m = _net(**kw)
    step = deepseek.jit.trace_train_step(m, F.cross_entropy, _opt(m), *_batch(0), memory_budget=0.85)
    step(*_batch(0)), step(*_batch(0))
    planned = step.memory_report()["planned_peak_bytes"]
    assert planned <= int(arena * 0.85)  # the budget is a share of the unbudgeted arena
    # after tracing, the eager step's gradients and cached blocks are gone
    assert all(p.grad is None for p in m.parameters())
    x, y = _batch(1)
    step(x, y)  # warm
    # the graph keeps its arena between runs; given back, the next run allocates it again
    assert step.graph_module.kept_arena_bytes() == planned
    step.graph_module.release_arenas()
    deepseek.memory.reset_peak_memory_stats()
    base = deepseek.memory.memory_allocated()
    loss = step(x, y)
    grew = deepseek.memory.max_memory_allocated() - base
    # the arena is one block of its allocator size class (up to a quarter more than asked);
    # beyond it a run allocates only its result (the loss) and the kernels' transient
    # scratch, less than one activation: every activation and gradient is in the plan
    cls = _size_class(planned)
    largest = max(b["nbytes"] for b in step.graph_module.graph.buffers() if b["role"] == "internal")
    assert planned <= grew, (planned, grew)
    assert grew - cls <= largest, (planned, cls, grew, largest)
    del loss


def test_a_fractional_budget_is_a_share_of_the_unbudgeted_arena():
    kw = dict(c=4, blocks=1, pool=False)
    arena = _unbudgeted_arena(kw)
    m = _net(**kw)
    step = deepseek.jit.trace_train_step(m, F.cross_entropy, _opt(m), *_batch(0), memory_budget=0.9)
    step(*_batch(0)), step(*_batch(0))
    r = step.memory_report()
    assert r["memory_budget"] == int(0.9 * arena) and r["planned_peak_bytes"] <= r["memory_budget"]
    for bad in (0.0, 1.5, float("nan")):
        with pytest.raises(ValueError, match="fraction of the unbudgeted arena"):
            deepseek.jit.trace_train_step(m, F.cross_entropy, _opt(m), *_batch(0), memory_budget=bad)
