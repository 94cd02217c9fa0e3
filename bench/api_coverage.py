"""How much of PyTorch's public surface deepseek has: one ratio per namespace.

    python bench/api_coverage.py            # ratios and the missing names
    python bench/api_coverage.py --brief    # ratios only
    python bench/api_coverage.py --regen    # rewrite tests/data/api_names/*.txt from an installed torch

The reference lists live in ``tests/data/api_names/`` so that the measure runs without torch.
A name counts as present when deepseek has an attribute of that name that is not ``None``.
"""
from __future__ import annotations

import argparse
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
NAMES = ROOT / "tests" / "data" / "api_names"

# (list file, where deepseek keeps the names, target ratio from issue 16)
SCOPES = [
    ("toplevel.txt", "deepseek", 0.85),
    ("tensor.txt", "deepseek.Tensor", 0.80),
    ("nn_modules.txt", "deepseek.nn", 0.90),
    ("nn_functional.txt", "deepseek.nn.functional", 0.90),
    ("lr_scheduler.txt", "deepseek.optim.lr_scheduler", 1.00),
    ("optim.txt", "deepseek.optim", None),
    ("linalg.txt", "deepseek.linalg", None),
]

# the exclusions issue 16 lists, applied when the lists are regenerated from torch
_TENSOR_EXCLUDED_PREFIXES = ("q_", "to_sparse", "sparse_", "to_mkldnn", "is_quantized")
_TENSOR_EXCLUDED = set("""cuda is_cuda record_stream dequantize int_repr qscheme coalesce indices values
crow_indices col_indices ccol_indices row_indices dense_dim is_coalesced to_dense smm sspaddmm
names rename rename_ refine_names align_as align_to has_names""".split())


def read_names(fname):
    """The names of one reference list (comments and blank lines skipped)."""
    out = []
    for line in (NAMES / fname).read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            out.append(line)
    return out


def _resolve(path):
    import importlib

    import deepseek  # noqa: F401

    mod, _, attr = path.rpartition(".")
    if path == "deepseek" or attr[:1].islower():
        return importlib.import_module(path)
    return getattr(importlib.import_module(mod), attr)


def coverage(fname, where):
    """(present, missing) names of one list against the deepseek object at ``where``."""
    obj = _resolve(where)
    names = read_names(fname)
    present = [n for n in names if getattr(obj, n, None) is not None]
    missing = [n for n in names if getattr(obj, n, None) is None]
    return present, missing


def _regen():
    import inspect

    import numpy as np
    import torch

    header_lines = (NAMES / "toplevel.txt").read_text().splitlines()
    head = [ln for ln in header_lines if ln.startswith("#") and not ln.startswith("# Scope:")]

    def write(fname, names):
        scope = next(ln for ln in (NAMES / fname).read_text().splitlines() if ln.startswith("# Scope:"))
        head2 = [ln.replace("Made by hand from knowledge of PyTorch 2.x's", f"Regenerated from torch {torch.__version__}'s")
                 for ln in head]
        (NAMES / fname).write_text("\n".join(head2 + [scope] + sorted(set(names))) + "\n")

    top = [n for n in dir(torch) if not n.startswith("_") and callable(getattr(torch, n))
           and not inspect.isclass(getattr(torch, n)) and (hasattr(torch.Tensor, n) or hasattr(np, n))]
    write("toplevel.txt", top)
    ten = [n for n in dir(torch.Tensor) if not n.startswith("_") and n not in _TENSOR_EXCLUDED
           and not n.startswith(_TENSOR_EXCLUDED_PREFIXES)]
    write("tensor.txt", ten)
    nn = [n for n in dir(torch.nn) if inspect.isclass(getattr(torch.nn, n))
          and (issubclass(getattr(torch.nn, n), torch.nn.Module) or n in ("Parameter", "Buffer"))
          and not n.startswith("Lazy") and "DataParallel" not in n and n not in ("NLLLoss2d", "Container")
          and "quantized" not in getattr(torch.nn, n).__module__]
    write("nn_modules.txt", nn)
    F = torch.nn.functional
    fn = [n for n in dir(F) if not n.startswith("_") and inspect.isfunction(getattr(F, n)) or
          (not n.startswith("_") and type(getattr(F, n)).__name__ == "builtin_function_or_method")]
    fn = [n for n in fn if getattr(getattr(F, n), "__module__", "") in ("torch.nn.functional", "torch._C._nn", None, "torch")]
    write("nn_functional.txt", fn)
    write("lr_scheduler.txt", torch.optim.lr_scheduler.__all__)
    opt = [n for n in dir(torch.optim) if inspect.isclass(getattr(torch.optim, n))
           and issubclass(getattr(torch.optim, n), torch.optim.Optimizer)]
    write("optim.txt", opt)
    la = [n for n in dir(torch.linalg) if not n.startswith("_") and callable(getattr(torch.linalg, n))
          and not inspect.isclass(getattr(torch.linalg, n))]
    write("linalg.txt", la)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--regen", action="store_true", help="rewrite the reference lists from the installed torch")
    ap.add_argument("--brief", action="store_true", help="print the ratios only")
    args = ap.parse_args(argv)
    if args.regen:
        _regen()
        return 0
    print(f"| {'namespace':<28} | {'have':>5} | {'of':>5} | {'ratio':>6} | {'target':>6} |")
    print(f"|{'-' * 30}|{'-' * 7}|{'-' * 7}|{'-' * 8}|{'-' * 8}|")
    missing_all = {}
    for fname, where, target in SCOPES:
        present, missing = coverage(fname, where)
        n = len(present) + len(missing)
        t = f"{target:.0%}" if target is not None else "-"
        print(f"| {where:<28} | {len(present):>5} | {n:>5} | {len(present) / n:>6.1%} | {t:>6} |")
        missing_all[where] = missing
    if not args.brief:
        for where, missing in missing_all.items():
            print(f"\nmissing from {where} ({len(missing)}):")
            print("  " + " ".join(missing))
    return 0


if __name__ == "__main__":
    sys.exit(main())
