"""cffi (API mode) build of ``deepseek_opencl._launch``, the plugin's table in C.

Run by setuptools through ``cffi_modules`` in ``setup.py`` (``pip wheel`` and
``pip install [-e]`` of plugins/opencl). It needs a C compiler, cffi and two folders of the
core package: ``deepseek/backends/include`` (``deepseek_backend.h``) and
``deepseek/backends/kernels`` (the shared launch planner in ``csrc/``, compiled into this
module, and the kernel geometry its macros come from, so C and the generated kernels share one
declaration). No OpenCL headers or library: the C code declares the few CL functions it calls
and gets their addresses at load time. Only ``csrc/table.c`` (the table, the OpenCL hooks of
the planner) and the CL declarations are this plugin's own.
"""
from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path

import cffi

HERE = Path(__file__).resolve().parent
PLUGIN = HERE.parent
SOURCES = ("table.c",)


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


def _kernels_dir() -> Path:
    """The core's kernels package (deepseek/backends/kernels): the repository's beside plugins/,
    or an installed deepseek's, found without importing deepseek (build isolation)."""
    tried = [PLUGIN.parent.parent / "python" / "deepseek" / "backends" / "kernels"]
    spec = importlib.util.find_spec("deepseek")
    if spec is not None and spec.submodule_search_locations:
        tried += [Path(p) / "backends" / "kernels" for p in spec.submodule_search_locations]
    for d in tried:
        if (d / "geometry.py").is_file():
            return d
    raise RuntimeError("deepseek/backends/kernels not found (looked in " + ", ".join(map(str, tried)) + ")")


def _kernels_build():
    """deepseek/backends/kernels/build.py, loaded by path (it imports nothing of deepseek)."""
    spec = importlib.util.spec_from_file_location("_dsk_build", _kernels_dir() / "build.py")
    k = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(k)
    return k


def _cdef(path: Path) -> str:
    # cffi's cdef takes no preprocessor lines and no comments it cannot parse; api.h keeps to that.
    return "\n".join(ln for ln in path.read_text().splitlines() if not ln.startswith("#"))


def builder(relative: bool = True) -> cffi.FFI:
    """The FFI of ``deepseek_opencl._launch``; setuptools wants source paths relative to
    setup.py's folder, ``ffi.compile`` absolute ones."""
    ffi = cffi.FFI()
    ffi.cdef(_cdef(HERE / "api.h") + """
extern "Python+C" int32_t ocl_py_device(int32_t device);
extern "Python+C" int32_t ocl_py_kernel(int32_t device, int32_t dtype, const char *name, void **kernel, size_t *local);
extern "Python+C" int32_t ocl_py_program(int32_t device, const char *body, const char *name, void **kernel,
                                         size_t *local, char *message, size_t message_size);
""")
    kb = _kernels_build()
    ffi.set_source(
        "deepseek_opencl._launch",
        # the planner compiles here, in the module's own file (its sources live in the core
        # package, outside this project's tree, where setuptools puts no objects)
        '#include "api.h"\n#include "dsk_planner.c"\n',
        sources=[os.path.relpath(HERE / s) if relative else str(HERE / s) for s in SOURCES],
        include_dirs=[str(HERE), str(kb.csrc_dir()), str(_backend_include())],
        define_macros=kb.macros(),
        depends=[str(p) for p in sorted(kb.csrc_dir().iterdir())],
        extra_compile_args=["-std=gnu11", "-O2"],
        libraries=["pthread"],
    )
    return ffi


ffibuilder = builder()

if __name__ == "__main__":  # a build in place, for working on the C code: python csrc/build_launch.py
    so = builder(relative=False).compile(tmpdir=str(PLUGIN / "build" / "cffi"), verbose=False)
    target = PLUGIN / "deepseek_opencl" / Path(so).name
    os.replace(so, target)
    print(target)
