"""DistributedDataParallel checks, run on 2 processes by tests/test_distributed_mpi.py (through
the launcher). Training in float64 with DDP must equal single-process training on the global
batch to 1e-12; every rank computes that reference itself."""
import datetime

import numpy as np

import deepseek as ds
import deepseek.distributed as dist
from deepseek import nn, optim
from deepseek.nn.parallel import DistributedDataParallel as DDP

from distributed_worker import CHECKS, check, expect_error


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 3, 3, padding=1)
        self.fc1 = nn.Linear(3 * 4 * 4, 16)
        self.fc2 = nn.Linear(16, 2)

    def forward(self, x):
        return self.fc2(ds.tanh(self.fc1(ds.tanh(self.conv(x)).flatten(1))))


def build(seed):
    ds.manual_seed(seed)
    return Net().double()


def global_batch(step, n=8):
    rng = np.random.default_rng(100 + step)
    return ds.tensor(rng.normal(size=(n, 1, 4, 4))), ds.tensor(rng.normal(size=(n, 2)))


def local(t, r, n=2):
    k = t.shape[0] // n
    return t[r * k:(r + 1) * k]


def max_diff(a, b):
    return max(float((p - q).abs().max()) for p, q in zip(a.parameters(), b.parameters()))


def gathered(t):
    out = [ds.zeros_like(t) for _ in range(dist.get_world_size())]
    dist.all_gather(out, t.detach().contiguous())
    return out


def train_equals_single_process(r, as_view=False):
    ref = build(0)
    # rank 1 starts elsewhere: the broadcast fixes it
    model = DDP(build(r), bucket_cap_mb=0.0005, gradient_as_bucket_view=as_view)
    check(max_diff(model.module, ref) == 0, "parameters broadcast from rank 0 at wrap time")
    check(len(model.reducer.buckets) > 1, f"small buckets: {len(model.reducer.buckets)}")
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    ref_opt = optim.SGD(ref.parameters(), lr=0.1, momentum=0.9)
    for step in range(3):
        x, y = global_batch(step)
        opt.zero_grad()
        ((model(local(x, r)) - local(y, r)) ** 2).mean().backward()
        ev = model.reducer.events
        first_launch = next(i for i, e in enumerate(ev) if e[0] == "launch")
        last_ready = max(i for i, e in enumerate(ev) if e[0] == "ready")
        check(first_launch < last_ready, f"a bucket launched before backward ended: {ev}")
        check(sum(e[0] == "launch" for e in ev) == len(model.reducer.buckets), "every bucket launched once")
        if as_view:
            w = model.module.fc1.weight
            b, k = model.reducer.slot[[i for i, p in enumerate(model.reducer.params) if p is w][0]]
            bucket = model.reducer.buckets[b]
            check(w.grad.data_ptr() == bucket.flat.data_ptr() + 8 * bucket.offsets[k], "gradient is a bucket view")
        opt.step()
        ref_opt.zero_grad()
        ((ref(x) - y) ** 2).mean().backward()
        ref_opt.step()
        d = max_diff(model.module, ref)
        check(d <= 1e-12, f"step {step}: DDP differs from single-process training by {d}")


def no_sync_accumulates(r):
    ref = build(0)
    model = DDP(build(0))
    for k in range(2):
        x, y = global_batch(10 + k)
        ((ref(x) - y) ** 2).mean().backward()
    x0, y0 = global_batch(10)
    with model.no_sync():
        ((model(local(x0, r)) - local(y0, r)) ** 2).mean().backward()
    check(model.reducer.events == [], "no communication inside no_sync")
    g = gathered(model.module.fc2.weight.grad)
    check(float((g[0] - g[1]).abs().max()) > 0, "gradients stay local inside no_sync")
    x1, y1 = global_batch(11)
    ((model(local(x1, r)) - local(y1, r)) ** 2).mean().backward()
    for p, q in zip(model.module.parameters(), ref.parameters()):
        d = float((p.grad - q.grad).abs().max())
        check(d <= 1e-12, f"no_sync accumulation differs from single-process by {d}")


class Branches(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(3, 2)
        self.b = nn.Linear(3, 2)
        self.c = nn.Linear(3, 2)  # used by no rank

    def forward(self, x, use_b):
        return self.a(x) + (self.b(x) if use_b else 0)


def unused_parameters(r):
    ds.manual_seed(0)
    net = Branches().double()
    plain = Branches().double()
    plain.load_state_dict(net.state_dict())
    model = DDP(net, find_unused_parameters=True, bucket_cap_mb=0.0001)
    x = ds.tensor(np.random.default_rng(r).normal(size=(4, 3)))
    for _ in range(2):  # twice: the second iteration starts from a finished reduction
        model.zero_grad()
        plain.zero_grad()
        model(x, use_b=(r == 0)).sum().backward()
        plain(x, use_b=(r == 0)).sum().backward()
        for name in ("a", "b"):
            mine = getattr(plain, name).weight.grad
            mine = mine if mine is not None else ds.zeros(2, 3, dtype=ds.float64)
            want = (gathered(mine)[0] + gathered(mine)[1]) / 2
            got = getattr(net, name).weight.grad
            check(got is not None and float((got - want).abs().max()) <= 1e-12, f"{name}.weight gradient averaged")
        check(net.c.weight.grad is None, "a parameter no rank used keeps no gradient")
    # without find_unused_parameters the next forward names the parameter that got no gradient
    strict = DDP(Branches().double())
    strict(x, use_b=True).sum().backward()
    expect_error(lambda: strict(x, use_b=True), "find_unused_parameters", "c.weight")


def buffers_follow_rank0(r):
    ds.manual_seed(0)
    model = DDP(nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)).double())
    bn = model.module[1]
    with ds.no_grad():
        bn.running_mean.fill_(float(r) * 7)  # diverged buffers; rank 0's are authoritative
    x = ds.tensor(np.random.default_rng(5).normal(size=(6, 3)))  # the same on both ranks
    model(x).sum().backward()
    g = gathered(bn.running_mean)
    check(float((g[0] - g[1]).abs().max()) == 0, "running_mean equal on every rank after forward")
    check(abs(float(g[0].abs().max())) < 7 * 0.95, "running_mean started from rank 0's")


def model_mismatch(r):
    m = nn.Linear(3, 2 + r)
    expect_error(lambda: DDP(m), "the model differs across ranks")


def main(case):
    dist.init_process_group("mpi", timeout=datetime.timedelta(seconds=60))
    r = dist.get_rank()
    train_equals_single_process(r)
    train_equals_single_process(r, as_view=True)
    no_sync_accumulates(r)
    unused_parameters(r)
    buffers_follow_rank0(r)
    model_mismatch(r)
    print(f"ddp ok: {CHECKS[0]} checks", flush=True)
