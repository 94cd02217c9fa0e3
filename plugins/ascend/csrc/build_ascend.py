"""cffi (API mode) build of ``deepseek_ascend._ascend``, the plugin's table in C.

Run by setuptools through ``cffi_modules`` in ``setup.py`` (``pip wheel`` and ``pip install
[-e]`` of plugins/ascend). It needs a C compiler, cffi and ``deepseek_backend.h`` from the core
package; no CANN headers or libraries: ``acl_api.h`` declares the CANN functions the plugin
calls, and ``runtime.c`` looks them up with dlsym from the user's CANN install at load time.
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import cffi

HERE = Path(__file__).resolve().parent
PLUGIN = HERE.parent
SOURCES = ("runtime.c", "events.c", "aclnn_operands.c", "aclnn_ops.c", "products.c", "host_random.c")


def _backend_include() -> Path:
    """The folder of deepseek_backend.h: DEEPSEEK_BACKEND_INCLUDE, the repository's core
    package beside plugins/, or an installed deepseek's (found without importing it)."""
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
    return "\n".join(ln for ln in path.read_text().splitlines() if not ln.startswith("#"))


def builder(relative: bool = True) -> cffi.FFI:
    """The FFI of ``deepseek_ascend._ascend``; setuptools wants source paths relative to
    setup.py's folder, ``ffi.compile`` absolute ones."""
    ffi = cffi.FFI()
    ffi.cdef(_cdef(HERE / "api.h"))
    ffi.set_source(
        "deepseek_ascend._ascend",
        '#include "api.h"\n',
        sources=[os.path.relpath(HERE / s) if relative else str(HERE / s) for s in SOURCES],
        include_dirs=[str(HERE), str(_backend_include())],
        depends=[str(p) for p in sorted(HERE.glob("*.h"))],
        # hidden: only the module's init function is exported, so no name here meets CANN's
        extra_compile_args=["-std=gnu11", "-O2", "-Wall", "-fvisibility=hidden"],
        libraries=["dl", "pthread", "m"],
    )
    return ffi


ffibuilder = builder()

if __name__ == "__main__":  # a build in place, for working on the C code: python csrc/build_ascend.py
    so = builder(relative=False).compile(tmpdir=str(PLUGIN / "build" / "cffi"), verbose=False)
    target = PLUGIN / "deepseek_ascend" / Path(so).name
    os.replace(so, target)
    print(target)
