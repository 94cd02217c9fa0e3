"""deepseek.fft and stft beside NumPy (and PyTorch when installed): a table of times and ratios.

    python bench/fft.py [--threads N]

Rows: complex and real 1-D transforms over a batch of lines, a 2-D transform, a transform along
a strided (non-last) dim, stft of one second of 16 kHz audio with a speech front end's
parameters, and the model zoo's Spectrogram (stft) beside the DFT-by-matmul it replaced. Each
cell is the median of 7 samples of an auto-sized loop lasting at least 20 ms. The ratio is
peer time / deepseek time (above 1: deepseek is faster).
"""
from __future__ import annotations

import argparse
import os
import statistics
import time


def timeit(f, min_s=0.02, samples=7):
    for _ in range(2):
        f()
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            f()
        dt = time.perf_counter() - t0
        if dt >= min_s:
            break
        n *= 2
    out = []
    for _ in range(samples):
        t0 = time.perf_counter()
        for _ in range(n):
            f()
        out.append((time.perf_counter() - t0) / n)
    return statistics.median(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    if args.threads:
        for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[v] = str(args.threads)
    import numpy as np

    import deepseek as ds
    from deepseek.models.audio import Spectrogram

    try:
        import torch
    except ImportError:
        torch = None
    if args.threads:
        ds.set_num_threads(args.threads)
        if torch is not None:
            torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    c = (rng.standard_normal((64, 4096)) + 1j * rng.standard_normal((64, 4096))).astype(np.complex64)
    r = rng.standard_normal((64, 4096)).astype(np.float32)
    img = rng.standard_normal((512, 512)).astype(np.float32)
    audio = rng.standard_normal(16000).astype(np.float32)
    win = np.hanning(401)[:-1].astype(np.float32)

    def np_stft(x):
        p = np.pad(x, 200, mode="reflect")
        frames = np.lib.stride_tricks.sliding_window_view(p, 400)[::160] * win
        return np.fft.rfft(frames, axis=-1).T

    tc, tr, ti, ta, tw = ds.tensor(c), ds.tensor(r), ds.tensor(img), ds.tensor(audio), ds.tensor(win)
    rows = [
        ("fft c64", "64x4096", lambda: ds.fft.fft(tc), lambda: np.fft.fft(c), (lambda: torch.fft.fft(torch.from_numpy(c))) if torch else None),
        ("rfft f32", "64x4096", lambda: ds.fft.rfft(tr), lambda: np.fft.rfft(r), (lambda: torch.fft.rfft(torch.from_numpy(r))) if torch else None),
        ("fft2 f32", "512x512", lambda: ds.fft.fft2(ti), lambda: np.fft.fft2(img), (lambda: torch.fft.fft2(torch.from_numpy(img))) if torch else None),
        ("fft dim=0 c64", "64x4096", lambda: ds.fft.fft(tc, dim=0), lambda: np.fft.fft(c, axis=0), (lambda: torch.fft.fft(torch.from_numpy(c), dim=0)) if torch else None),
        ("stft 16k, 400/160", "16000", lambda: ds.stft(ta, 400, 160, window=tw, return_complex=True), lambda: np_stft(audio),
         (lambda: torch.stft(torch.from_numpy(audio), 400, 160, window=torch.from_numpy(win), return_complex=True)) if torch else None),
    ]
    spec = Spectrogram(n_fft=400, hop_length=160)
    x8 = ds.tensor(rng.standard_normal((8, 16000)).astype(np.float32))
    old = _dft_spectrogram(spec)
    rows.append(("Spectrogram stft vs DFT matmul", "8x16000", lambda: spec(x8), lambda: old(x8), None))
    print(f"threads: deepseek {ds.get_num_threads()}; torch {'%d' % torch.get_num_threads() if torch else 'not installed'}")
    print("| op | size | deepseek ms | peer ms | vs peer | torch ms | vs torch |")
    print("|---|---|---|---|---|---|---|")
    for name, size, f_ds, f_peer, f_t in rows:
        a, b = timeit(f_ds), timeit(f_peer)
        t = timeit(f_t) if f_t else None
        ts = f"{t * 1e3:.3f} | {t / a:.2f}x" if t else "- | -"
        print(f"| {name} | {size} | {a * 1e3:.3f} | {b * 1e3:.3f} | {b / a:.2f}x | {ts} |")
    print("peer: NumPy (pocketfft) for the transforms and stft; for Spectrogram, the DFT-by-matmul front end it replaced")


def _dft_spectrogram(spec):
    """The model zoo's Spectrogram as it was computed before stft: frames times cosine and sine
    matrices (kept here as the benchmark's peer)."""
    import numpy as np

    import deepseek as ds
    from deepseek.nn import functional as F

    n_fft, hop = spec.n_fft, spec.hop_length
    n_freq = n_fft // 2 + 1
    ang = 2 * np.pi * np.outer(np.arange(n_fft), np.arange(n_freq)) / n_fft
    cos, sin = ds.tensor(np.cos(ang).astype(np.float32)), ds.tensor(np.sin(ang).astype(np.float32))

    def run(x):
        x = F.pad(x.reshape(-1, 1, x.shape[-1]), (n_fft // 2, n_fft // 2), mode="reflect").reshape(x.shape[0], -1)
        frames = 1 + (x.shape[-1] - n_fft) // hop
        idx = ds.arange(frames).unsqueeze(1) * hop + ds.arange(n_fft).unsqueeze(0)
        seg = x[:, idx] * spec.window
        re, im = seg @ cos, seg @ sin
        return (re * re + im * im).transpose(1, 2)

    return run


if __name__ == "__main__":
    main()
