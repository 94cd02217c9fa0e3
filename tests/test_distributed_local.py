"""deepseek.distributed pieces that need no second process: DistributedSampler, the
post-accumulate-grad hook DDP is built on, errors before init_process_group, the launcher's
command line, and Work's timeout. (Nothing here starts MPI.)"""
import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, strategies as st

import deepseek as ds
import deepseek.distributed as dist
from deepseek.data import DistributedSampler
from deepseek.distributed._work import Work
from deepseek.utils.data import DistributedSampler as DS2


@given(n=st.integers(0, 40), replicas=st.integers(1, 5), shuffle=st.booleans(), drop_last=st.booleans(),
       seed=st.integers(0, 3), epoch=st.integers(0, 3))
def test_distributed_sampler_partitions_the_dataset(n, replicas, shuffle, drop_last, seed, epoch):
    data = list(range(n))
    parts = []
    for r in range(replicas):
        s = DistributedSampler(data, num_replicas=replicas, rank=r, shuffle=shuffle, seed=seed, drop_last=drop_last)
        s.set_epoch(epoch)
        parts.append(list(s))
        assert len(parts[-1]) == len(s)
    sizes = {len(p) for p in parts}
    assert len(sizes) == 1  # every rank runs the same number of steps
    size = sizes.pop()
    if drop_last:
        assert size == n // replicas
        flat = [i for p in parts for i in p]
        assert len(set(flat)) == len(flat)  # disjoint
    else:
        assert size == math.ceil(n / replicas)
        if n:
            assert set(i for p in parts for i in p) == set(data)  # everything covered, padding repeats
    # interleaved: rank r's k-th index is the (k*replicas + r)-th of one shared order
    order = [parts[r][k] for k in range(size) for r in range(replicas)]
    head = order[:min(n, len(order))]
    if not shuffle:
        assert head == data[:len(head)]
    else:
        assert len(set(head)) == len(head)  # a permutation's prefix
        if not drop_last:
            assert sorted(head) == data
    if not drop_last and n:
        # the padding repeats the shared order from its start
        assert order[n:] == (head * (1 + len(order) // n))[:len(order) - n]


def test_distributed_sampler_epochs_reshuffle_identically_on_every_rank():
    a = DistributedSampler(range(50), num_replicas=2, rank=0)
    b = DistributedSampler(range(50), num_replicas=2, rank=0)
    e0 = list(a)
    assert list(b) == e0  # same seed and epoch: same order on every process
    a.set_epoch(1)
    assert list(a) != e0
    assert DS2 is DistributedSampler


def test_distributed_sampler_bad_arguments():
    with pytest.raises(ValueError, match="Invalid rank 2"):
        DistributedSampler(range(4), num_replicas=2, rank=2)
    with pytest.raises(RuntimeError, match="init_process_group"):
        DistributedSampler(range(4))


def test_post_accumulate_grad_hook_sees_the_accumulated_gradient():
    x = ds.tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    seen = []
    h = x.register_post_accumulate_grad_hook(lambda p: seen.append((p is x, p.grad.numpy().copy())))
    (x * x).sum().backward()
    (x * x).sum().backward()
    assert [s[0] for s in seen] == [True, True]
    np.testing.assert_array_equal(seen[0][1], 2 * x.detach().numpy())
    np.testing.assert_array_equal(seen[1][1], 4 * x.detach().numpy())  # after accumulating the second
    h.remove()
    (x * x).sum().backward()
    assert len(seen) == 2
    with pytest.raises(RuntimeError, match="non-leaf"):
        (x * 2).register_post_accumulate_grad_hook(lambda p: None)
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        ds.ones(2).register_post_accumulate_grad_hook(lambda p: None)


def test_post_accumulate_grad_hook_error_propagates():
    x = ds.ones(2, requires_grad=True)

    def bad(p):
        raise ValueError("hook failed")

    x.register_post_accumulate_grad_hook(bad)
    with pytest.raises(ValueError, match="hook failed"):
        x.sum().backward()


def test_leaves_reached_follows_the_graph():
    a, b, c = (ds.ones(2, requires_grad=True) for _ in range(3))
    out = (a * 2 + b.exp()).sum()
    assert ds._core.leaves_reached([out], [a, b, c]) == [True, True, False]
    assert ds._core.leaves_reached([c], [a, c]) == [False, True]
    assert ds._core.leaves_reached([], [a]) == [False]


@pytest.mark.parametrize("call", [
    lambda: dist.all_reduce(ds.ones(2)), lambda: dist.broadcast(ds.ones(2), 0), lambda: dist.barrier(),
    lambda: dist.get_rank(), lambda: dist.send(ds.ones(1), 1), lambda: dist.new_group([0]),
])
def test_collectives_before_init_say_so(call):
    assert not dist.is_initialized()
    with pytest.raises(RuntimeError, match="init_process_group"):
        call()


def test_ddp_before_init_and_bad_backend():
    from deepseek.nn.parallel import DistributedDataParallel

    with pytest.raises(RuntimeError, match="init_process_group"):
        DistributedDataParallel(ds.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="Invalid backend: 'nccl'"):
        dist.init_process_group("nccl")
    assert dist.Backend("MPI") == dist.Backend.MPI == "mpi"


def test_work_wait_times_out_with_a_clear_error():
    class Never:
        done, status = False, None

        def test(self):
            return False

    w = Work(Never(), "all_reduce", 0.05, "rank 0 of 2")
    assert not w.is_completed()
    with pytest.raises(RuntimeError, match=r"all_reduce: timed out after 0.05 s .*rank 0 of 2"):
        w.wait()
    assert isinstance(w.exception(), RuntimeError) and not w.is_success()


def test_launcher_command_line(monkeypatch):
    from deepseek.distributed.run import mpirun_command

    monkeypatch.setenv("RANK", "5")
    argv, env = mpirun_command(3, ["train.py", "--lr", "1"], mpirun="/bin/true")
    assert argv[:3] == ["/bin/true", "-np", "3"]
    assert argv[-4:] == [sys.executable, "train.py", "--lr", "1"]
    assert "RANK" not in env  # an outer launcher's rank would contradict MPI's
    r = subprocess.run([sys.executable, "-m", "deepseek.distributed.run", "--nproc", "0", "x.py"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "--nproc must be at least 1" in r.stderr


def test_register_communicator_is_for_accelerators():
    with pytest.raises(ValueError, match="not 'cpu'"):
        dist.register_communicator("cpu", lambda pg: None)
