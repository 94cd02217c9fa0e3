"""cffi (API mode) build of ``deepseek_opencl._launch``, the plugin's table in C.

Run by setuptools through ``cffi_modules`` in ``setup.py`` (``pip wheel`` and
``pip install [-e]`` of plugins/opencl). It needs a C compiler, cffi and the core's backend
header ``deepseek_backend.h``; no OpenCL headers or library (the C code declares the few CL
functions it calls and gets their addresses at load time). The kernel geometry constants
(MAXD, MAXT, LS...) are read from ``deepseek/backends/kernels/geometry.py`` here, so C and the
generated kernels share one declaration.
"""
from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path

import cffi

HERE = Path(__file__).resolve().parent
PLUGIN = HERE.parent
SOURCES = ("table.c", "tensors.c", "ops.c", "elementwise.c", "reduce.c", "matmul.c", "index.c")


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


def _kernel_constants() -> list:
    spec = importlib.util.spec_from_file_location("_dsk_geometry", _kernels_dir() / "geometry.py")
    k = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(k)
    macros = [(f"OCL_{name}", str(getattr(k, name))) for name in ("MAXD", "MAXT", "LS", "MW", "MT", "MD", "MDW")]
    return macros + [("OCL_PARAM_SIZES", ",".join(map(str, k.PARAM_SIZES)))]


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
""")
    ffi.set_source(
        "deepseek_opencl._launch",
        '#include "launch.h"\n',
        sources=[os.path.relpath(HERE / s) if relative else str(HERE / s) for s in SOURCES],
        include_dirs=[str(HERE), str(_backend_include())],
        define_macros=_kernel_constants(),
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
