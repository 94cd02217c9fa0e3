"""cffi (API mode) build of ``deepseek_cuda._launch``, the plugin's table in C.

Run by setuptools through ``cffi_modules`` in ``setup.py`` (``pip wheel`` and
``pip install [-e]`` of plugins/cuda). The module is the GPU host layer
(``deepseek/backends/gpu/csrc``), the shared launch planner (``deepseek/backends/kernels/csrc``)
and this plugin's CUDA vendor file (``csrc/cu_vendor.c``) with cuBLAS (``csrc/blas.c``). It
needs a C compiler, cffi and the core package's sources; no CUDA headers or libraries:
csrc/cu_api.h declares the driver functions the plugin calls, and csrc/cu_vendor.c dlopens the
driver at run time.
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import cffi

HERE = Path(__file__).resolve().parent
PLUGIN = HERE.parent
SOURCES = ("cu_vendor.c", "blas.c")


def _gpu_dir() -> Path:
    """The core's GPU host layer package (deepseek/backends/gpu): the repository's beside
    plugins/, or an installed deepseek's, found without importing deepseek (build isolation)."""
    tried = [PLUGIN.parent.parent / "python" / "deepseek" / "backends" / "gpu"]
    spec = importlib.util.find_spec("deepseek")
    if spec is not None and spec.submodule_search_locations:
        tried += [Path(p) / "backends" / "gpu" for p in spec.submodule_search_locations]
    for d in tried:
        if (d / "build.py").is_file():
            return d
    raise RuntimeError("deepseek/backends/gpu not found (looked in " + ", ".join(map(str, tried)) +
                       "): build from the deepseek repository or with deepseek installed")


def _gpu_build():
    """deepseek/backends/gpu/build.py, loaded by path (it imports nothing of deepseek)."""
    spec = importlib.util.spec_from_file_location("_dsg_build", _gpu_dir() / "build.py")
    g = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(g)
    return g


def _cdef(path: Path) -> str:
    # cffi's cdef takes no preprocessor lines; api.h keeps to plain declarations.
    return "\n".join(ln for ln in path.read_text().splitlines() if not ln.startswith("#"))


def builder(relative: bool = True) -> cffi.FFI:
    """The FFI of ``deepseek_cuda._launch``; setuptools wants source paths relative to
    setup.py's folder, ``ffi.compile`` absolute ones."""
    g = _gpu_build()
    ffi = cffi.FFI()
    ffi.cdef(_cdef(g.csrc_dir() / g.HOST_HEADER) + _cdef(HERE / "api.h") + """
extern "Python+C" int32_t cuda_py_module(int32_t device, int32_t dtype, void **module);
extern "Python+C" int32_t cuda_py_source(int32_t device, const char *body, const char *name, void **module);
""")
    ffi.set_source(
        "deepseek_cuda._launch",
        # the layer and the planner compile here, in the module's own file (their sources live
        # in the core package, outside this project's tree, where setuptools puts no objects)
        '#include "dsg_host.h"\n#include "api.h"\n#include "dsk_planner.c"\n#include "dsg_host.c"\n',
        sources=[os.path.relpath(HERE / s, PLUGIN) if relative else str(HERE / s) for s in SOURCES],
        include_dirs=[str(HERE), *map(str, g.include_dirs())],
        define_macros=g.macros(),
        depends=[*g.depends(), str(HERE / "cu_api.h"), str(HERE / "api.h")],
        extra_compile_args=["-std=gnu11", "-O2", "-Wall"],
        libraries=["dl", "pthread"],
    )
    return ffi


ffibuilder = builder()
