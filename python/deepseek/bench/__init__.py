"""``deepseek.bench``: a fair side-by-side benchmark of deepseek and PyTorch on the CPU, as a
product (``python -m deepseek.bench``) — deepseek's own addition; PyTorch has no counterpart.

Every workload (``matmul``, ``conv``, ``mlp``, ``resnet50``, ``transformer``, or any model of
``deepseek.models`` by name) runs in a fresh process per framework and run, so one framework's
memory never shows in the other's, with:

* the same thread count (set in both frameworks and in the OpenMP/BLAS environment);
* the same weights (deepseek draws them from the seed; PyTorch loads a copy of deepseek's state),
  the same data and the same precision;
* warm-up steps, then timed steps; runs interleaved (deepseek, torch, torch, deepseek ...);
* the median over runs of each run's median, the spread of the timed steps, the per-run ratios;
* the first-step loss (or output check) compared between the frameworks;
* peak memory: RSS growth over the framework's import, and deepseek's allocator peak;
* the environment: CPU, cores, load, versions, git revision.

>>> from deepseek import bench
>>> report = bench.run(["matmul", "mlp"], quick=True)        # doctest: +SKIP
>>> report["workloads"][0]["results"]["deepseek"]["median_s"]  # doctest: +SKIP

PyTorch is used when it is importable by the same interpreter and never required.
"""
from __future__ import annotations

from ._report import SCHEMA
from ._cli import main, run

__all__ = ["SCHEMA", "main", "run"]
