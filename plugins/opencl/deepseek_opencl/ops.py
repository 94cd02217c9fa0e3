"""The primitive ops of the kernel contract (docs/backends.md, section 6) in Python: the core's
planner (:mod:`deepseek.backends.kernels.plan`, the same plans as the C table's) over this
plugin's :class:`~deepseek_opencl.runtime.Runtime`. The Python table (``device.py``) calls
:func:`launch`; the C table hands it every launch it punts, so its checks raise the errors.
"""
from __future__ import annotations

from deepseek.backends.kernels.plan import (NATIVE, OPS, Launch, Tensor, check_bounds, coalesce, fill_bits,  # noqa: F401
                                            launch, make_meta, make_params, parse, run)
