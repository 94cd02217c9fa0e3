"""GPU kernels written once: portable sources rendered to OpenCL C, CUDA C++ and HIP C++.

Every backend that compiles kernels at run time (the OpenCL plugin on any driver, CUDA through
NVRTC, ROCm through hiprtc) builds the very same kernel bodies; only a short prelude per
language differs (:mod:`.dialect` lists what the bodies may use). There is one program per
dtype (:func:`program_names`), holding every kernel whose main operand has that dtype; the
kernels, their arguments and work sizes are described in ``docs/kernels.md``, and the C launch
planner that fills those arguments ships beside this module (:func:`csrc_dir`).

Example::

    >>> from deepseek.backends import kernels
    >>> src = kernels.source("float32", "cuda")
    >>> 'extern "C" __global__ void' in src
    True
"""
from __future__ import annotations

from .build import csrc_dir, include_dirs, macros
from .dialect import DIALECTS, compile_options, prelude
from .dtypes import (BINARY, COMPARE, DT, DTYPES, LOGICAL, PREDICATES, RANDOM, REDUCE, UNARY, D, acc_size,
                     acc_type, binary_expr, ld, st, unary_expr)
from .geometry import (FMAXT, LS, MAX_GROUPS_YZ, MAXD, MAXT, MD, MDW, MK, MR, MT, MW, PARAM_SIZES, SORT_BLOCK, SORT_RANK_MAX,
                       meta_longs)
from .programs import program_body
from .registry import KINDS, RAND_TOP, plan_kind, plan_registry

__all__ = [
    "DIALECTS", "DTYPES", "program_names", "source", "prelude", "program_body", "compile_options",
    "csrc_dir", "include_dirs", "macros", "meta_longs", "acc_type", "acc_size", "unary_expr", "binary_expr",
    "UNARY", "BINARY", "LOGICAL", "COMPARE", "PREDICATES", "REDUCE", "RANDOM", "D", "DT", "ld", "st",
    "KINDS", "RAND_TOP", "plan_kind", "plan_registry",
    "MAXD", "MAXT", "FMAXT", "LS", "MW", "MR", "MK", "MT", "MD", "MDW", "PARAM_SIZES", "SORT_RANK_MAX", "SORT_BLOCK",
    "MAX_GROUPS_YZ",
]


def program_names() -> tuple:
    """The programs there are: one per dtype, named as the dtype (``DTYPES``, the ABI's order)."""
    return DTYPES


def source(program: str, dialect: str, fp64: bool = True) -> str:
    """The complete source of ``program`` (a dtype name) in ``dialect``: its prelude, then the
    shared body. ``fp64=False`` leaves out everything that needs double precision (the random
    ops, float64 casts), for OpenCL devices without ``cl_khr_fp64``.

    Raises ValueError for an unknown program or dialect."""
    if program not in DTYPES:
        raise ValueError(f"unknown kernel program {program!r}; the programs are the dtypes {', '.join(DTYPES)}")
    if program == "float64" and not fp64:
        raise ValueError("the float64 program needs fp64=True")
    return prelude(dialect, fp64) + program_body(program, fp64)
