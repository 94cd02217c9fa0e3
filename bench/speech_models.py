"""CPU inference of the Hugging Face speech models: Wav2Vec2-base (CTC logits of 4 x 1 s of
16 kHz audio), Whisper-tiny's encoder (1 x 80 x 3000 log-mel frames, 30 s), Whisper-tiny greedy
decoding of 24 tokens with the KV cache (encoder included) and Whisper's log-mel front end (4 x
30 s), deepseek beside transformers (PyTorch) with the same thread count.

Usage:
    python bench/speech_models.py [--threads N] [--repeats R] [--torch-python PATH]

PyTorch runs in a child process: this interpreter's when it has torch, else ``--torch-python``
(a virtual environment with torch and transformers). Random weights (timing does not depend
on values), eval mode, no gradient; each number is the median of R timed runs after one
warm-up. The last column is PyTorch's time over deepseek's (> 1: deepseek is faster). A
script, not a test: it never asserts on timings.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from _machine import physical_cores

NEW_TOKENS = 24
CASES = ["wav2vec2_base  4x16000", "whisper_tiny encoder 1x80x3000", f"whisper_tiny generate {NEW_TOKENS}",
         "whisper log-mel 4x480000"]

_TORCH_CHILD = r'''
import json, statistics, sys, time, warnings
import numpy as np, torch, transformers
warnings.filterwarnings("ignore")
torch.set_num_threads(int(sys.argv[1])); repeats, new = int(sys.argv[2]), int(sys.argv[3])
cfg = json.loads(sys.argv[4])

def timed(fn):
    ts = []
    with torch.inference_mode():
        for _ in range(repeats + 1):
            t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
    return statistics.median(ts[1:])

torch.manual_seed(0)
w2v = transformers.Wav2Vec2ForCTC(transformers.Wav2Vec2Config()).eval()
wav = torch.randn(4, 16000)
wh = transformers.WhisperForConditionalGeneration(transformers.WhisperConfig(**cfg)).eval()
feats = torch.randn(1, 80, 3000)

def greedy():
    enc = wh.model.encoder(feats).last_hidden_state
    ids = torch.full((1, 1), cfg["decoder_start_token_id"]); cache = None
    for _ in range(new):
        out = wh(encoder_outputs=(enc,), decoder_input_ids=ids if cache is None else ids[:, -1:], cache=cache, use_cache=True)
        cache = out.cache if hasattr(out, "cache") else out.past_key_values
        ids = torch.cat([ids, out.logits[:, -1].argmax(-1, keepdim=True)], 1)

fe = transformers.WhisperFeatureExtractor()
audio = np.random.default_rng(0).standard_normal((4, 480000)).astype(np.float32)
times = [timed(lambda: w2v(wav).logits), timed(lambda: wh.model.encoder(feats)), timed(greedy),
         timed(lambda: fe._torch_extract_fbank_features(audio, "cpu"))]
print(json.dumps({"times": times, "version": torch.__version__ + " / transformers " + transformers.__version__}))
'''


def _median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else 0.5 * (xs[n // 2 - 1] + xs[n // 2])


def bench_deepseek(threads, repeats):
    import deepseek as ds
    from deepseek import models
    from deepseek.audio import log_mel_spectrogram

    if hasattr(ds, "set_num_threads"):
        ds.set_num_threads(threads)

    def timed(fn):
        ts = []
        with ds.no_grad():
            for _ in range(repeats + 1):
                t = time.perf_counter()
                fn()
                ts.append(time.perf_counter() - t)
        return _median(ts[1:])

    ds.manual_seed(0)
    w2v = models.wav2vec2_base().eval()
    wav = ds.randn(4, 16000)
    wh = models.whisper_tiny().eval()
    feats = ds.randn(1, 80, 3000)
    audio = ds.randn(4, 480000)
    return [timed(lambda: w2v(wav).logits), timed(lambda: wh.model.encoder(feats)),
            timed(lambda: wh.generate(feats, max_new_tokens=NEW_TOKENS, eos_token_id=None)),
            timed(lambda: log_mel_spectrogram(audio))]


def bench_torch(threads, repeats, torch_python):
    try:
        import torch  # noqa: F401

        python = sys.executable
    except ImportError:
        python = torch_python
    if python is None:
        return None, None
    from model_refs_speechhf import WHISPER_TINY

    res = subprocess.run([python, "-c", _TORCH_CHILD, str(threads), str(repeats), str(NEW_TOKENS), json.dumps(WHISPER_TINY)],
                         capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS=str(threads)))
    if res.returncode != 0:
        print(f"torch side failed:\n{res.stderr[-2000:]}", file=sys.stderr)
        return None, None
    doc = json.loads(res.stdout.strip().splitlines()[-1])
    return doc["times"], doc["version"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=physical_cores())
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--torch-python", default=None)
    args = ap.parse_args()
    ours = bench_deepseek(args.threads, args.repeats)
    theirs, version = bench_torch(args.threads, args.repeats, args.torch_python)
    print(f"threads={args.threads} repeats={args.repeats} torch={version or 'not run'}")
    print(f"{'workload':<34} {'deepseek s':>11} {'torch s':>9} {'torch/deepseek':>15}")
    for i, name in enumerate(CASES):
        t = theirs[i] if theirs else None
        ratio = f"{t / ours[i]:.2f}x" if t else "-"
        print(f"{name:<34} {ours[i]:>11.3f} {t if t else float('nan'):>9.3f} {ratio:>15}")


if __name__ == "__main__":
    main()
