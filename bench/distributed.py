"""Data-parallel scaling: the digits CNN and a ResNet-18 step on 1 and 2 processes (DDP over MPI).

Usage (from the repo root):

    .venv/bin/python bench/distributed.py [--steps N] [--runs R] [--threads T] [--only digits|resnet18]

Weak scaling: every process runs the same per-process batch (digits CNN: 32 images of 8x8;
ResNet-18: 8 images of 3x64x64, 10 classes), so perfect scaling keeps the per-process
throughput constant from 1 to 2 processes. Each job first has every process train alone (DDP
over a group of one, no communication) and then together (DDP over the world), so the baseline
shares the machine as DDP does; a 1-process job is listed too. For each configuration the table
gives the median step time (zero_grad, forward, backward with the bucketed all-reduce,
optimizer step), the samples per second per process and its ratio to training alone in the
same job, the time backward spent blocked on
gradient communication after its last gradient (what overlap did not hide, with the copy of the
averages into .grad; a world of one skips the reduction), and one all-reduce
of the model's whole gradient size through deepseek.distributed beside the same all-reduce
through mpi4py on a NumPy array (the peer: MPI itself, no framework), as a ratio.

The parent process runs ``mpirun -np P python bench/distributed.py --worker ...`` for P in 1, 2;
rank 0 of each job prints one JSON line per workload.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time


def worker(names, steps, threads):
    import numpy as np

    import deepseek as ds
    import deepseek.distributed as dist
    from deepseek import nn, optim
    from deepseek.models.resnet import resnet18
    from deepseek.nn.parallel import DistributedDataParallel as DDP
    from mpi4py import MPI

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))
    from train_cnn_digits import SmallCNN

    ds.set_num_threads(threads)
    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    rng = np.random.default_rng(rank)
    setups = {
        "digits": (SmallCNN, (32, 1, 8, 8), 10, optim.Adam, {"lr": 3e-3}, steps * 6),
        "resnet18": (lambda: resnet18(num_classes=10), (8, 3, 64, 64), 10, optim.SGD, {"lr": 0.01, "momentum": 0.9}, steps),
    }
    # "alone": every process trains by itself (DDP over a group of one: no communication) at the
    # same time as the others, so the baseline shares the machine exactly as DDP does
    solo = [dist.new_group([r]) for r in range(world)][rank]
    for name in names:
        build, shape, classes, opt_cls, kw, n = setups[name]
        for mode, group in [("alone", solo)] + ([("ddp", None)] if world > 1 else []):
            ds.manual_seed(0)
            model = DDP(build(), process_group=group)
            opt = opt_cls(model.parameters(), **kw)
            loss_fn = nn.CrossEntropyLoss()
            x = ds.tensor(rng.normal(size=shape).astype(np.float32))
            y = ds.tensor(rng.integers(0, classes, size=shape[0]))
            times = []
            for i in range(n + 2):
                dist.barrier()
                if i == 2:
                    model.reducer.wait_seconds = 0.0
                t0 = time.perf_counter()
                opt.zero_grad()
                loss = loss_fn(model(x), y)
                loss.backward()
                opt.step()
                loss.item()
                if i >= 2:
                    times.append(time.perf_counter() - t0)
            row = {"name": name, "procs": world, "mode": mode, "step_ms": statistics.median(times) * 1e3,
                   "wait_ms": model.reducer.wait_seconds / n * 1e3, "buckets": len(model.reducer.buckets)}
            row["per_proc_sps"] = shape[0] / row["step_ms"] * 1e3
            numel = sum(p.numel() for p in model.parameters())
            row["params"] = numel
            if mode == "ddp":
                t = ds.ones(numel)
                a = np.ones(numel, np.float32)
                ours, peer = [], []
                for _ in range(5):
                    dist.barrier()
                    t0 = time.perf_counter()
                    dist.all_reduce(t)
                    ours.append(time.perf_counter() - t0)
                    dist.barrier()
                    t0 = time.perf_counter()
                    MPI.COMM_WORLD.Allreduce(MPI.IN_PLACE, a, op=MPI.SUM)
                    peer.append(time.perf_counter() - t0)
                row["allreduce_ms"], row["mpi_numpy_ms"] = statistics.median(ours) * 1e3, statistics.median(peer) * 1e3
            if rank == 0:
                print(json.dumps(row), flush=True)
    dist.destroy_process_group()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=10, help="timed ResNet-18 steps (digits runs 6x as many)")
    ap.add_argument("--only", nargs="*", default=["digits", "resnet18"])
    ap.add_argument("--threads", type=int, default=1, help="kernel threads per process (default 1: one core each)")
    ap.add_argument("--runs", type=int, default=3, help="jobs per configuration; the table shows the median run")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        return worker(a.only, a.steps, a.threads)
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
    from deepseek.distributed.run import mpirun_command

    runs = {}
    for _ in range(a.runs):
        for procs in (1, 2):
            argv, env = mpirun_command(procs, [os.path.abspath(__file__), "--worker", "--steps", str(a.steps),
                                               "--threads", str(a.threads), "--only", *a.only])
            out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=1800)
            if out.returncode:
                sys.exit(f"{' '.join(argv)} failed:\n{out.stdout}\n{out.stderr}")
            for line in out.stdout.splitlines():
                if line.startswith("{"):
                    r = json.loads(line)
                    runs.setdefault((r["name"], procs, r["mode"]), []).append(r)
    rows = {k: sorted(v, key=lambda r: r["step_ms"])[len(v) // 2] for k, v in runs.items()}
    print(f"{a.runs} runs per configuration, {a.threads} kernel thread(s) per process; load average at the end: "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print("| workload | processes | training | step ms | samples/s per process | vs alone in the same job | "
          "backward blocked on comm ms | grad all_reduce ms | mpi4py+NumPy ms | vs MPI |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for (name, procs, mode), r in sorted(rows.items()):
        base = rows.get((name, procs, "alone"))
        scale = f"{r['per_proc_sps'] / base['per_proc_sps']:.2f}x" if base else "n/a"
        comm = (f"{r['allreduce_ms']:.2f} | {r['mpi_numpy_ms']:.2f} | {r['mpi_numpy_ms'] / r['allreduce_ms']:.2f}x"
                if mode == "ddp" else "- | - | -")
        print(f"| {name} ({r['params'] / 1e6:.2f}M params, {r['buckets']} buckets) | {procs} | "
              f"{'DDP' if mode == 'ddp' else 'alone'} | {r['step_ms']:.1f} | {r['per_proc_sps']:.1f} | {scale} | "
              f"{r['wait_ms']:.2f} | {comm} |")


if __name__ == "__main__":
    main()
