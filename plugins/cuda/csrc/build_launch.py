"""cffi (API mode) build of ``deepseek_cuda._launch``, the plugin's table in C.

Run by setuptools through ``cffi_modules`` in ``setup.py`` (``pip wheel`` and
``pip install [-e]`` of plugins/cuda). It needs a C compiler, cffi and the core's backend
header ``deepseek_backend.h``; no CUDA headers or libraries: csrc/cu_api.h declares the driver
functions the plugin calls, and csrc/table.c dlopens the driver at run time.
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import cffi

HERE = Path(__file__).resolve().parent
PLUGIN = HERE.parent
SOURCES = ("table.c", "driver.c")


def _backend_include() -> Path:
    """The folder of deepseek_backend.h: DEEPSEEK_BACKEND_INCLUDE, the repository's core
    package beside plugins/, or an installed deepseek's."""
    tried = []
    if os.environ.get("DEEPSEEK_BACKEND_INCLUDE"):
        tried.append(Path(os.environ["DEEPSEEK_BACKEND_INCLUDE"]))
    tried.append(PLUGIN.parent.parent / "python" / "deepseek" / "backends" / "include")
    spec = importlib.util.find_spec("deepseek")
    if spec is not None and spec.submodule_search_locations:
        tried += [Path(p) / "backends" / "include" for p in spec.submodule_search_locations]
    for d in tried:
        if (d / "deepseek_backend.h").is_file():
            return d
    raise RuntimeError("deepseek_backend.h not found (looked in " + ", ".join(map(str, tried)) +
                       "): build from the deepseek repository or set DEEPSEEK_BACKEND_INCLUDE")


def _cdef(path: Path) -> str:
    # cffi's cdef takes no preprocessor lines; api.h keeps to plain declarations.
    return "\n".join(ln for ln in path.read_text().splitlines() if not ln.startswith("#"))


def builder(relative: bool = True) -> cffi.FFI:
    """The FFI of ``deepseek_cuda._launch``; setuptools wants source paths relative to
    setup.py's folder, ``ffi.compile`` absolute ones."""
    ffi = cffi.FFI()
    ffi.cdef(_cdef(HERE / "api.h"))
    ffi.set_source(
        "deepseek_cuda._launch",
        '#include "api.h"\n',
        sources=[os.path.relpath(HERE / s) if relative else str(HERE / s) for s in SOURCES],
        include_dirs=[str(HERE), str(_backend_include())],
        extra_compile_args=["-std=gnu11", "-O2", "-Wall"],
        libraries=["dl", "pthread"],
    )
    return ffi


ffibuilder = builder()

