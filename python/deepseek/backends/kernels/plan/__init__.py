"""The launch planner in Python: every primitive op of the portable kernels planned over any
runtime, with the checks that raise the errors (naming the op, the operands and what was
wrong).

It makes the same plans as the C planner (``deepseek/backends/kernels/csrc``): the same
kernels, arguments, work sizes and scratch buffers, so a backend can run it as the fallback of
its C launch path (the OpenCL plugin hands it every launch the C planner punts, and every
launch when ``DEEPSEEK_OPENCL_PYTHON_LAUNCH=1``) and get the error messages from one place.

The runtime is any object with:

==============================================  ==================================================
``run(queue, dtype, name, args, global, local)``  enqueue kernel ``name`` of dtype's program;
                                                  ``args`` are ``(kind, value)``: ``"mem"`` (a
                                                  buffer handle as int, 0 for none), ``"bytes"``
                                                  (a cffi ``int64_t[]`` block passed by value) or
                                                  a scalar kind (``long ulong int uint ushort
                                                  uchar double float``); ``local`` ``(LS,)`` means
                                                  the kernel's own 1-d work-group size
``temp(nbytes) -> int``, ``release(mem)``         scratch buffers (released right after the
                                                  kernels using them are enqueued)
``buffer_size(mem) -> int``                       bytes of a buffer (operands are checked)
``supports(dtype) -> bool``, ``fp64``             float64 support (the random ops need it)
``fp64_missing``                                  what fp64 needs (``"cl_khr_fp64"``), for messages
``direct_matmul() -> bool``                       k_matmul_direct rather than the tiled k_matmul
``conv_gemm() -> bool``                           convolutions may run as im2col + matmul
``name``, ``package``                             the device type and package, for messages
==============================================  ==================================================

Example (the OpenCL plugin's table callback)::

    from deepseek.backends.kernels import plan
    plan.launch(runtime, queue, "add", descs, [])   # raises ValueError naming the operands
"""
from __future__ import annotations

# the families register their ops in OPS on import
from . import elementwise, indexing, linalg, reduce  # noqa: F401
from .core import (OPS, Launch, Tensor, check_bounds, coalesce, fill_bits, launch, make_meta, make_params, parse,
                   run)

NATIVE = tuple(OPS)  # every op the planner plans

__all__ = ["OPS", "NATIVE", "Launch", "Tensor", "check_bounds", "coalesce", "fill_bits", "launch", "make_meta",
           "make_params", "parse", "run"]
