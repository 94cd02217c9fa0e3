"""Data-parallel training of the digits CNN on several processes with DistributedDataParallel.

    python -m deepseek.distributed.run --nproc 2 examples/ddp_digits.py
    mpirun -np 2 python examples/ddp_digits.py          # the same, with MPI's launcher

Each process reads its share of every batch through a DistributedSampler (global batch 64:
32 per process on 2), the gradients are averaged across processes during backward, and every
process ends with the same model. The test accuracy is counted by each process on its share of
the test set and summed with all_reduce. Rank 0 prints.
"""
import os
import sys
import time

import deepseek as ds
import deepseek.distributed as dist
from deepseek import nn, optim
from deepseek.data import DataLoader, DistributedSampler
from deepseek.data.datasets import digits
from deepseek.nn.parallel import DistributedDataParallel as DDP

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_cnn_digits import SmallCNN  # noqa: E402


def main(epochs=8, global_batch=64):
    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    if global_batch % world:
        raise ValueError(f"the global batch {global_batch} does not split over {world} processes")
    ds.manual_seed(rank)  # different on purpose: DDP starts every rank from rank 0's parameters
    train = digits(split="train", as_images=True)
    test = digits(split="test", as_images=True)
    sampler = DistributedSampler(train, shuffle=True, seed=0)
    loader = DataLoader(train, batch_size=global_batch // world, sampler=sampler)
    test_loader = DataLoader(test, batch_size=256, sampler=DistributedSampler(test, shuffle=False))
    model = DDP(SmallCNN())
    opt = optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = nn.CrossEntropyLoss()
    t0 = time.perf_counter()
    for epoch in range(1, epochs + 1):
        sampler.set_epoch(epoch)
        model.train()
        total = ds.zeros(2, dtype=ds.float64)
        for x, y in loader:
            loss = loss_fn(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += ds.tensor([loss.item() * y.shape[0], y.shape[0]], dtype=ds.float64)
        dist.all_reduce(total)
        if rank == 0:
            print(f"epoch {epoch}/{epochs}: mean training loss {float(total[0] / total[1]):.4f}", flush=True)
    model.eval()
    counts = ds.zeros(2, dtype=ds.int64)
    with ds.no_grad():
        for x, y in test_loader:
            counts += ds.tensor([int((model(x).argmax(1) == y).sum()), y.shape[0]])
    dist.all_reduce(counts)
    # every replica must hold the same parameters after training
    flat = ds.cat([p.detach().reshape(-1) for p in model.parameters()])
    hi, lo = flat.clone(), flat.clone()
    dist.all_reduce(hi, op=dist.ReduceOp.MAX)
    dist.all_reduce(lo, op=dist.ReduceOp.MIN)
    same = bool(((hi == flat) & (lo == flat)).all())
    if rank == 0:
        # padding makes the test sampler repeat a few digits when the split is uneven
        acc = int(counts[0]) / int(counts[1])
        print(f"trained {epochs} epochs on {world} processes in {time.perf_counter() - t0:.1f}s; "
              f"test accuracy {acc * 100:.2f}% ({int(counts[1])} digits); replicas identical: {same}")
    dist.destroy_process_group()
    return same


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description="Train the digits CNN on several processes (DDP over MPI).")
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--global-batch", type=int, default=64)
    a = ap.parse_args()
    sys.exit(0 if main(a.epochs, a.global_batch) else 1)
