"""The 3x3 stride-1 convolution paths side by side on the shapes that set the core's rules
(`core-rs/src/ops/winograd_small.rs` and `winograd.rs`, `worthwhile`): what the core picks
("auto") against each path forced: the chunked Winograd, the one-pass Winograd (groups of
images past its 8 MiB of transformed input) and im2col + GEMM. Forward, float32, C -> C
channels. The paths take turns, two calls each, for eight rounds, and each keeps its best:
a box whose second core comes and goes then slows every path alike.

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
          (16, 16, 32, 32), (1, 128, 14, 14), (1, 64, 7, 7), (16, 128, 16, 16), (16, 256, 8, 8),
          # past the one-pass path's 8 MiB: groups of images
          (8, 64, 56, 56), (16, 64, 56, 56), (16, 64, 32, 32), (16, 128, 28, 28), (16, 256, 14, 14), (8, 256, 28, 28),
          (3, 128, 56, 56), (4, 256, 56, 56)]
PATHS = {"auto": "auto", "chunked": "winograd", "one-pass": "winograd_one_pass", "im2col": "im2col"}


def best_ms(shape, clock, rounds=8):
    """{path: best ms} for a C -> C convolution of input `shape`, the paths taking turns."""
    rng = np.random.default_rng(0)
    x = ds.tensor(rng.standard_normal(shape).astype(np.float32))
    w = ds.tensor(rng.standard_normal((shape[1], shape[1], 3, 3)).astype(np.float32))
    best = dict.fromkeys(PATHS, float("inf"))
    for _ in range(rounds):
        for name, algo in PATHS.items():
            _core._set_conv3x3_algorithm(algo)
            F.conv2d(x, w, padding=1)
            for _ in range(2):
                t0 = clock()
                F.conv2d(x, w, padding=1)
                best[name] = min(best[name], clock() - t0)
    return {k: v * 1e3 for k, v in best.items()}


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    ds.set_num_threads(threads)
    clock = time.process_time if threads == 1 else time.perf_counter
    print(f"# 3x3 stride-1 conv, C -> C channels, float32, {threads} thread(s), best of 16 in turns ({'CPU' if threads == 1 else 'wall'} time, ms)")
    print(f"{'input':22}" + "".join(f"{k:>10}" for k in PATHS) + f"{'one-pass/auto':>15}")
    try:
        for shape in SHAPES:
            b = best_ms(shape, clock)
            print(f"{str(shape):22}" + "".join(f"{v:10.2f}" for v in b.values()) + f"{b['one-pass'] / b['auto']:15.2f}", flush=True)
    finally:
        _core._set_conv3x3_algorithm("auto")


if __name__ == "__main__":
    main()
