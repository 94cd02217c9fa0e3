"""The 3x3 stride-1 convolution paths side by side: what the core picks for a shape ("auto")
against the one-pass Winograd forced, on the shapes that set the one-pass rule
(`core-rs/src/ops/winograd_small.rs`, `worthwhile`). Forward, float32, best of 9.

Usage (from the repo root):

    PYTHONPATH=python python bench/conv3x3_paths.py [THREADS]

One thread reports CPU time, more report wall time. A script, not a test: nothing is asserted.
"""
import sys
import time

import numpy as np

import deepseek as ds
import deepseek.nn.functional as F
from deepseek import _core

SHAPES = [(16, 512, 2, 2), (16, 256, 4, 4), (16, 128, 8, 8), (16, 64, 16, 16), (8, 128, 28, 28), (16, 32, 32, 32),
          (16, 16, 32, 32), (1, 128, 14, 14), (1, 64, 7, 7), (16, 128, 16, 16), (16, 256, 8, 8)]


def best_ms(shape, algo, clock, reps=9):
    _core._set_conv3x3_algorithm(algo)
    rng = np.random.default_rng(0)
    x = ds.tensor(rng.standard_normal(shape).astype(np.float32))
    w = ds.tensor(rng.standard_normal((shape[1], shape[1], 3, 3)).astype(np.float32))
    F.conv2d(x, w, padding=1)
    best = float("inf")
    for _ in range(reps):
        t0 = clock()
        F.conv2d(x, w, padding=1)
        best = min(best, clock() - t0)
    return best * 1e3


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    ds.set_num_threads(threads)
    clock = time.process_time if threads == 1 else time.perf_counter
    print(f"# 3x3 stride-1 conv, C -> C channels, float32, {threads} thread(s), best of 9 ({'CPU' if threads == 1 else 'wall'} time, ms)")
    print(f"{'input':22} {'auto':>8} {'one-pass':>9} {'one-pass/auto':>14}")
    try:
        for shape in SHAPES:
            auto, one = best_ms(shape, "auto", clock), best_ms(shape, "winograd_one_pass", clock)
            print(f"{str(shape):22} {auto:8.2f} {one:9.2f} {one / auto:14.2f}")
    finally:
        _core._set_conv3x3_algorithm("auto")


if __name__ == "__main__":
    main()
