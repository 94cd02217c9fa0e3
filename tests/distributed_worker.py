"""Run under ``mpirun -np 2`` by tests/test_distributed_mpi.py: ``python distributed_worker.py CASE``.

Each rank checks its results against NumPy (every rank can compute every other rank's input,
since inputs come from a generator seeded by rank); a failed check raises, which aborts the job
with the traceback. A rank prints ``CASE ok: N checks`` when all of its checks passed.
"""
import datetime
import sys
import time

import numpy as np

import deepseek as ds
import deepseek.distributed as dist

CHECKS = [0]


def check(cond, msg):
    CHECKS[0] += 1
    if not cond:
        raise AssertionError(f"rank {dist.get_rank()}: {msg}")


def to_np(t):
    return t.float().numpy().astype(np.float64) if t.dtype == ds.bfloat16 else t.numpy().copy()


def bf16_round(a):
    """float64 -> the nearest bfloat16 (half to even), as float64."""
    b = np.asarray(a, np.float32).view(np.uint32).astype(np.uint64)
    b = ((b + 0x7FFF + ((b >> 16) & 1)) >> 16) << 16
    return b.astype(np.uint32).view(np.float32).astype(np.float64)


NP = {"float64": np.float64, "float32": np.float32, "float16": np.float16, "int64": np.int64, "int32": np.int32,
      "uint8": np.uint8, "bool": np.bool_, "bfloat16": np.float32}


def data(dtype, shape, rank, salt=0):
    """Rank ``rank``'s input as a NumPy array (bfloat16 values already rounded)."""
    rng = np.random.default_rng([rank, salt, len(shape), sum(shape)])
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype in ("int64", "int32", "uint8"):
        return rng.integers(1, 6, size=shape).astype(NP[dtype])
    a = rng.uniform(-2, 2, size=shape)
    return bf16_round(a) if dtype == "bfloat16" else a.astype(NP[dtype])


def make(a, dtype, layout):
    """A deepseek tensor holding ``a``: contiguous, or a transposed/strided view of a bigger buffer."""
    if layout == "transposed" and a.ndim == 2:
        base = ds.tensor(np.array(a.T, dtype=NP[dtype], order="C"))
        t = base.t()
        assert not t.is_contiguous() or 0 in a.shape or 1 in a.shape
    elif layout == "strided" and a.ndim == 1:
        big = np.zeros((a.shape[0] * 2,), NP[dtype])
        big[::2] = a
        t = ds.tensor(big)[::2]
    else:
        t = ds.tensor(np.array(a, dtype=NP[dtype], order="C"))
    return t.to(ds.bfloat16) if dtype == "bfloat16" else t


def close(got, want, dtype, what):
    want = np.asarray(want, np.float64) if dtype != "bool" else np.asarray(want)
    got = np.asarray(got, np.float64) if dtype != "bool" else np.asarray(got)
    check(got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}")
    if dtype in ("float16", "bfloat16"):
        ok = np.allclose(got, want, rtol=2 ** -7, atol=1e-2)
    else:
        ok = np.array_equal(got, want)
    check(ok, f"{what}: got {got.ravel()[:6]} want {want.ravel()[:6]}")


def reference(op, arrays, dtype):
    f64 = [np.asarray(a, np.float64) if dtype != "bool" else a for a in arrays]
    if dtype == "bool":
        if op in ("SUM", "MAX", "BOR"):
            return np.logical_or.reduce(f64)
        if op in ("PRODUCT", "MIN", "BAND"):
            return np.logical_and.reduce(f64)
        return np.logical_xor.reduce(f64)
    if op in ("BAND", "BOR", "BXOR"):
        f = {"BAND": np.bitwise_and, "BOR": np.bitwise_or, "BXOR": np.bitwise_xor}[op]
        return f.reduce([np.asarray(a) for a in arrays]).astype(np.float64)
    r = {"SUM": np.sum, "AVG": np.mean, "PRODUCT": np.prod, "MIN": np.min, "MAX": np.max}[op](np.stack(f64), axis=0)
    if dtype in ("float32",):
        # MPI sums/multiplies in the tensor's own precision
        st = np.stack([np.asarray(a, np.float32) for a in arrays])
        r = {"SUM": lambda s: s.sum(0), "AVG": lambda s: s.sum(0) / np.float32(len(arrays)), "PRODUCT": lambda s: s.prod(0),
             "MIN": lambda s: s.min(0), "MAX": lambda s: s.max(0)}[op](st)
    if dtype == "bfloat16":
        r = bf16_round(r)
    return r


SHAPES = [(), (0,), (5,), (3, 4), (2, 0, 3)]
DTYPES = ["float64", "float32", "float16", "bfloat16", "int64", "int32", "uint8", "bool"]


def layouts(shape):
    return ["contiguous"] + (["transposed"] if len(shape) == 2 else []) + (["strided"] if len(shape) == 1 else [])


def case_collectives():
    dist.init_process_group("mpi", timeout=datetime.timedelta(seconds=60))
    r, n = dist.get_rank(), dist.get_world_size()
    check(n == 2, f"world size {n}")
    for dtype in DTYPES:
        ops = ["SUM", "PRODUCT", "MIN", "MAX"] + (["AVG"] if dtype.startswith(("float", "bfloat")) else []) + \
              (["BAND", "BOR", "BXOR"] if not dtype.startswith(("float", "bfloat")) else [])
        for shape in SHAPES:
            ins = [data(dtype, shape, k) for k in range(n)]
            for layout in layouts(shape):
                for op in ops:
                    t = make(ins[r], dtype, layout)
                    w = dist.all_reduce(t, op=getattr(dist.ReduceOp, op), async_op=(op == "MAX"))
                    if w is not None:
                        check(w.wait() is True, "Work.wait() returns True")
                    close(to_np(t), reference(op, ins, dtype), dtype, f"all_reduce {op} {dtype} {shape} {layout}")
                for src in range(n):
                    t = make(ins[r], dtype, layout)
                    dist.broadcast(t, src=src)
                    close(to_np(t), ins[src], dtype, f"broadcast src={src} {dtype} {shape} {layout}")
                t = make(ins[r], dtype, layout)
                dist.reduce(t, dst=1, op=dist.ReduceOp.MAX)
                close(to_np(t), reference("MAX", ins, dtype) if r == 1 else ins[r], dtype, f"reduce {dtype} {shape}")
                outs = [make(np.zeros(shape, NP[dtype]), dtype, layout) for _ in range(n)]
                dist.all_gather(outs, make(ins[r], dtype, layout))
                for k in range(n):
                    close(to_np(outs[k]), ins[k], dtype, f"all_gather[{k}] {dtype} {shape} {layout}")
                gl = [make(np.zeros(shape, NP[dtype]), dtype, "contiguous") for _ in range(n)] if r == 0 else None
                dist.gather(make(ins[r], dtype, layout), gl, dst=0)
                if r == 0:
                    for k in range(n):
                        close(to_np(gl[k]), ins[k], dtype, f"gather[{k}] {dtype} {shape}")
                parts = [data(dtype, shape, 10 + k) for k in range(n)]
                out = make(np.zeros(shape, NP[dtype]), dtype, layout)
                dist.scatter(out, [make(p, dtype, "contiguous") for p in parts] if r == 1 else None, src=1)
                close(to_np(out), parts[r], dtype, f"scatter {dtype} {shape} {layout}")
                if dtype != "bool":
                    blocks = [[data(dtype, shape, 20 + k, salt=j) for j in range(n)] for k in range(n)]
                    out = make(np.zeros(shape, NP[dtype]), dtype, layout)
                    dist.reduce_scatter(out, [make(b, dtype, "contiguous") for b in blocks[r]])
                    close(to_np(out), reference("SUM", [blocks[k][r] for k in range(n)], dtype), dtype,
                          f"reduce_scatter {dtype} {shape} {layout}")
        # the *_tensor forms, flat and stacked
        a = [data(dtype, (3, 2), k) for k in range(n)]
        out = make(np.zeros((n * 3, 2), NP[dtype]), dtype, "contiguous")
        dist.all_gather_into_tensor(out, make(a[r], dtype, "transposed"))
        close(to_np(out), np.concatenate(a), dtype, f"all_gather_into_tensor {dtype}")
        if dtype != "bool":
            big = [data(dtype, (n, 3), 30 + k) for k in range(n)]
            o = make(np.zeros((3,), NP[dtype]), dtype, "contiguous")
            dist.reduce_scatter_tensor(o, make(big[r], dtype, "contiguous"))
            close(to_np(o), reference("SUM", [b[r] for b in big], dtype), dtype, f"reduce_scatter_tensor {dtype}")
        # point to point, blocking and not, with tags and any-source receives
        msg = data(dtype, (2, 3), 40)
        if r == 0:
            dist.send(make(msg, dtype, "transposed"), dst=1, tag=7)
            w = dist.isend(make(msg, dtype, "contiguous"), dst=1)
            w.wait()
        else:
            t = make(np.zeros((2, 3), NP[dtype]), dtype, "contiguous")
            check(dist.recv(t, src=0, tag=7) == 0, "recv returns the sender")
            close(to_np(t), msg, dtype, f"send/recv {dtype}")
            t2 = make(np.zeros((2, 3), NP[dtype]), dtype, "transposed")
            w = dist.irecv(t2)
            w.wait()
            close(to_np(t2), msg, dtype, f"isend/irecv any source {dtype}")
    dist.barrier()
    w = dist.barrier(async_op=True)
    w.wait()
    check(w.is_completed() and w.is_success(), "barrier work completed")
    # sub-groups: a group of rank 1 alone, and the world again under another name
    solo = dist.new_group([1])
    both = dist.new_group([1, 0])
    check(dist.get_process_group_ranks(both) == [0, 1], "new_group sorts ranks")
    if r == 1:
        check(dist.get_rank(solo) == 0 and dist.get_world_size(solo) == 1, "rank in a one-member group")
        t = ds.tensor([5.0])
        dist.all_reduce(t, group=solo)
        close(t.numpy(), [5.0], "float64", "all_reduce in a group of one")
    else:
        check(solo is dist.GroupMember.NON_GROUP_MEMBER, "non-member gets NON_GROUP_MEMBER")
        check(dist.get_rank(solo) == -1, "get_rank of a non-member is -1")
        check(dist.all_reduce(ds.tensor([1.0]), group=solo) is None, "collective on a non-member group returns")
    t = ds.tensor([float(r + 1)])
    dist.all_reduce(t, group=both, op=dist.ReduceOp.PRODUCT)
    close(t.numpy(), [2.0], "float64", "all_reduce in a sub-group")
    dist.destroy_process_group(solo)
    # the seam for accelerators: a group takes the communicator registered for a device type
    made = []
    dist.register_communicator("fakedev", lambda pg: made.append(pg) or ("communicator of", pg.rank()))
    pg = dist.group.WORLD
    check(pg.communicator("fakedev") == ("communicator of", r) and pg.communicator("fakedev") is not None, "registered")
    check(made == [pg], "one communicator per group and device type")
    check(pg.communicator("otherdev") is None and pg.communicator("cpu") is pg._cpu, "unregistered: host staging")
    mismatches(r)
    threaded = dist.group.WORLD._cpu.runner is not None
    print(f"collectives ok: {CHECKS[0]} checks, {'threaded' if threaded else 'polled'}", flush=True)
    dist.destroy_process_group()


def case_collectives_polled():
    """The same checks where MPI offers no MPI_THREAD_MULTIPLE: non-blocking calls, polled."""
    import mpi4py

    mpi4py.rc.thread_level = "serialized"
    case_collectives()


def expect_error(f, *words):
    try:
        f()
    except (RuntimeError, ValueError) as e:
        for w in words:
            check(w in str(e), f"error message {str(e)!r} lacks {w!r}")
        return
    check(False, f"no error; expected one mentioning {words}")


def mismatches(r):
    expect_error(lambda: dist.all_reduce(ds.zeros(3 + r)), "rank 0 has shape [3] float32", "rank 1 has shape [4] float32")
    expect_error(lambda: dist.broadcast(ds.zeros(2, dtype=ds.float64 if r else ds.float32)), "float32", "float64")
    expect_error(lambda: dist.broadcast(ds.zeros(2), src=r), "root")
    expect_error(lambda: dist.all_reduce(ds.zeros(2), op=dist.ReduceOp.MAX if r else dist.ReduceOp.SUM), "MAX", "SUM")
    expect_error(lambda: (dist.all_reduce if r else dist.broadcast)(ds.zeros(2)), "called")
    # a list of the wrong length on one rank: that rank says why, the other names it
    expect_error(lambda: dist.all_gather([ds.zeros(2)] * (2 - r), ds.zeros(2)),
                 *(["tensor_list"] if r else ["rank 1 rejected"]))
    t = ds.zeros(3) if r else ds.zeros(2)
    if r == 0:
        dist.send(ds.ones(2), dst=1)
    else:
        expect_error(lambda: dist.recv(t, src=0), "receives into shape [3] float32", "sent shape [2] float32")
    # everything still works after the errors
    t = ds.ones(2)
    dist.all_reduce(t)
    close(t.numpy(), [2.0, 2.0], "float32", "all_reduce after mismatches")


def case_single():
    """``python script.py`` without mpirun: a world of one."""
    dist.init_process_group("mpi")
    check((dist.get_rank(), dist.get_world_size()) == (0, 1), "a world of one")
    t = ds.tensor([1.0, 2.0])
    dist.all_reduce(t, op=dist.ReduceOp.AVG)
    dist.broadcast(t, src=0)
    close(t.numpy(), [1.0, 2.0], "float32", "collectives in a world of one")
    from deepseek.nn.parallel import DistributedDataParallel as DDP

    model = DDP(ds.nn.Linear(2, 1))
    model(t[None]).sum().backward()
    close(model.module.weight.grad.numpy(), [[1.0, 2.0]], "float32", "DDP gradient in a world of one")
    dist.destroy_process_group()
    check(not dist.is_initialized(), "destroyed")
    print(f"single ok: {CHECKS[0]} checks", flush=True)


def case_fail():
    dist.init_process_group("mpi")
    if dist.get_rank() == 1:
        raise ValueError("rank 1 fails on purpose")
    dist.all_reduce(ds.ones(3))  # rank 0 waits here until the job is aborted
    print("unreachable", flush=True)


def case_exit():
    dist.init_process_group("mpi")
    if dist.get_rank() == 1:
        sys.exit(3)  # a failure status, not an exception: MPI's finalize alone would leave rank 0 waiting
    dist.all_reduce(ds.ones(3))
    print("unreachable", flush=True)


def case_timeout():
    dist.init_process_group("mpi", timeout=datetime.timedelta(seconds=2))
    if dist.get_rank() == 1:
        time.sleep(30)  # alive but never joining: rank 0 must time out and end the job
    dist.all_reduce(ds.ones(3))
    print("unreachable", flush=True)


if __name__ == "__main__":
    case = sys.argv[1]
    if case.startswith("ddp"):
        from distributed_ddp_worker import main

        main(case)
    else:
        globals()["case_" + case]()
