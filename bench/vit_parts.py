"""ViT-B/16's two inference hot spots at batch 8, timed in isolation (a script, not a test):

* the attention block ([8, 197, 768], 12 heads): ``nn.MultiheadAttention``'s self-attention
  path through ``scaled_dot_product_attention`` (taken when query, key and value are one
  tensor) beside its general path (the same call with equal copies as key and value);
* the exact GELU's special function on the MLP activation ([8, 197, 3072]): ``deepseek.erf``
  beside ``deepseek.special.erfc`` (the same function up to ``1 + erf(x) = erfc(-x)``).

    PYTHONPATH=python .venv/bin/python bench/vit_parts.py [--repeats R] [--whole]

Each pair runs interleaved; the table shows min and median milliseconds. ``--whole`` adds the
whole ViT-B/16 forward at batch 8 with each attention path (the general one patched in).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "python"))

import deepseek as ds  # noqa: E402
from deepseek import nn  # noqa: E402


def interleaved(fns, repeats):
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():
            t = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t)
    return {k: sorted(v) for k, v in times.items()}


def whole_model(repeats):
    from deepseek import models
    from deepseek.nn.modules.attention import MultiheadAttention

    sdpa = MultiheadAttention._self_attention_sdpa

    def general(self, x, is_causal):  # a key that is another tensor object takes the general path
        return MultiheadAttention.forward(self, x, x.view(x.shape), x, need_weights=False, is_causal=is_causal)[0]

    def run(path):
        MultiheadAttention._self_attention_sdpa = path
        try:
            model(img)
        finally:
            MultiheadAttention._self_attention_sdpa = sdpa

    ds.manual_seed(0)
    model = models.vit_b_16().eval()
    img = ds.randn(8, 3, 224, 224)
    with ds.no_grad():
        model(img)  # warm-up
        return interleaved({"ViT-B/16 forward, general path": lambda: run(general),
                            "ViT-B/16 forward, SDPA path": lambda: run(sdpa)}, repeats)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=8)
    ap.add_argument("--whole", action="store_true", help="also time the whole ViT-B/16 forward with each path")
    args = ap.parse_args()
    ds.manual_seed(0)
    mha = nn.MultiheadAttention(768, 12, batch_first=True).eval()
    x = ds.randn(8, 197, 768)
    k, v = x.clone(), x.clone()
    h = ds.randn(8, 197, 3072)
    with ds.no_grad():
        rows = interleaved({"attention, general path": lambda: mha(x, k, v, need_weights=False),
                            "attention, SDPA path": lambda: mha(x, x, x, need_weights=False)}, args.repeats)
        rows.update(interleaved({"erf [8, 197, 3072]": lambda: ds.erf(h),
                                 "special.erfc [8, 197, 3072]": lambda: ds.special.erfc(h)}, args.repeats))
    if args.whole:
        rows.update(whole_model(max(2, args.repeats // 3)))
    print(f"{ds.get_num_threads()} threads, {args.repeats} interleaved repeats")
    print("| part | min ms | median ms |\n|---|---:|---:|")
    for name, ts in rows.items():
        print(f"| {name} | {ts[0] * 1e3:.1f} | {ts[len(ts) // 2] * 1e3:.1f} |")


if __name__ == "__main__":
    main()
