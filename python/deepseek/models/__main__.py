"""``python -m deepseek.models [--task TASK] [--no-flops] [name ...]``: the zoo as a table of
name, task, parameters and GFLOPs (multiply-accumulates of one forward pass at the model's
default input: 224x224 images, 128 tokens; see ``deepseek.models.flops``)."""
from __future__ import annotations

import argparse
import sys

from . import TASKS, get_model_entry, list_models
from .flops import count_macs, count_parameters


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m deepseek.models", description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", help="models to list (default: all)")
    ap.add_argument("--task", choices=TASKS)
    ap.add_argument("--no-flops", action="store_true", help="skip the forward pass that counts GFLOPs")
    args = ap.parse_args(argv)
    names = args.names or list_models(args.task)
    known = set(list_models())
    for n in names:
        if n not in known:
            ap.error(f"unknown model {n!r}; known: {', '.join(sorted(known))}")
    from .. import manual_seed

    print(f"{'model':<24} {'task':<22} {'params (M)':>11} {'GFLOPs':>8}  default input")
    for name in names:
        entry = get_model_entry(name)
        manual_seed(0)
        model = entry.fn().eval()
        inputs = entry.example()
        shape = "x".join(str(s) for s in inputs[0].shape)
        flops = "-" if args.no_flops else f"{count_macs(model, *inputs) / 1e9:.2f}"
        print(f"{name:<24} {entry.task:<22} {count_parameters(model) / 1e6:>11.2f} {flops:>8}  {shape}")
        sys.stdout.flush()
        del model
    return 0


if __name__ == "__main__":
    sys.exit(main())
