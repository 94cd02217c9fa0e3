"""The GPU host layer: C sources shared by the GPU backends (CUDA, ROCm) for what their runtimes
do alike.

A GPU plugin compiles ``csrc/dsg_host.c`` into its cffi module beside a small vendor file that
fills a function table (``csrc/dsg_vendor.h``) from its runtime library; the layer then gives
it the whole ``ds_backend_table``: device memory, host copies through pinned staging buffers,
device copies, modules and kernel functions per device, launches through the shared planner
of :mod:`deepseek.backends.kernels`, streams, events, and errors named as the runtime names
them. ``docs/gpu_host.md`` describes the layer and how a plugin uses it.

Example::

    >>> from deepseek.backends import gpu
    >>> (gpu.csrc_dir() / "dsg_host.c").is_file()
    True
"""
from __future__ import annotations

from .build import HOST_HEADER, HOST_SOURCE, csrc_dir, depends, fake_dir, include_dirs, macros
from .host import GpuDeviceAPI, install_registry, load_program, load_source, native_ops

__all__ = ["csrc_dir", "include_dirs", "macros", "depends", "fake_dir", "HOST_SOURCE", "HOST_HEADER",
           "GpuDeviceAPI", "install_registry", "load_program", "load_source", "native_ops"]
