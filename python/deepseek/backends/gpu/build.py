"""What a GPU plugin's C build needs from the GPU host layer: the folders of its sources and
headers (with the launch planner's and the ABI header's) and the planner's macros.

Like ``deepseek/backends/kernels/build.py``, this module imports only the standard library and
that file (by path), so a build script in an isolated build environment, where deepseek is
not installed, can load it by file path from the repository
(``python/deepseek/backends/gpu/build.py``) or from an installed deepseek::

    spec = importlib.util.spec_from_file_location("dsg_build", gpu_dir / "build.py")
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

HERE = Path(__file__).resolve().parent

# The layer as one translation unit (it includes dsg_memory.c and dsg_launch.c). A plugin
# #includes it, with the planner's dsk_planner.c, into its cffi module's own source.
HOST_SOURCE = "dsg_host.c"
# The header the plugin's Python side calls through (cffi's cdef parses it).
HOST_HEADER = "dsg_host.h"


def _kernels_build():
    spec = importlib.util.spec_from_file_location("_dsk_build_for_dsg", HERE.parent / "kernels" / "build.py")
    k = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(k)
    return k


def csrc_dir() -> Path:
    """The folder of the GPU host layer's C sources (``dsg_host.c``, ``dsg_vendor.h``...)."""
    return HERE / "csrc"


def fake_dir() -> Path:
    """The folder of ``fake_gpu.c``, the core a test's fake GPU runtime includes (memory in host
    RAM, the call log, failure injection): put it on the fake's include path."""
    return HERE / "fake"


def include_dirs() -> list:
    """The folders a plugin's C build puts on its include path: the layer's, the planner's and
    the one of ``deepseek_backend.h``."""
    return [csrc_dir(), *_kernels_build().include_dirs()]


def macros() -> list:
    """The preprocessor definitions the layer and the planner need (the kernels' geometry)."""
    return _kernels_build().macros()


def depends() -> list:
    """Every source file of the layer and the planner, for rebuilds."""
    dirs = [csrc_dir(), _kernels_build().csrc_dir()]
    return sorted(str(p) for d in dirs for p in d.iterdir() if p.suffix in (".c", ".h"))
