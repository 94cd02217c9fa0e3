"""The plugin's ``ds_backend_table``: compiled in C (``deepseek_cuda._launch``: the GPU host layer
of ``deepseek.backends.gpu`` over this plugin's CUDA vendor table, built by cffi with the
package). Memory, copies, streams and launches are C calls into the
driver with no Python in between; Python only runs at load time (and compiles kernels on
their first use).
"""
from __future__ import annotations

import os
import threading

from deepseek.backends.gpu import install_registry, native_ops  # noqa: F401 - native_ops: the declared ops

from . import driver, runtime  # noqa: F401 - runtime defines the C module's Python callback

_lock = threading.Lock()
_table = None
ENV_STAGING = "DEEPSEEK_CUDA_STAGING_BYTES"
ENV_CUBLAS = "DEEPSEEK_CUDA_CUBLAS"
CUBLAS = {"loaded": False, "reason": "not looked for yet"}


def cublas_path():
    """The cuBLAS library to try: ``$DEEPSEEK_CUDA_CUBLAS`` (a path; "0" turns cuBLAS off), the
    nvidia-cublas-cu12 wheel's, else the system's libcublas.so.12; None when turned off."""
    env = os.environ.get(ENV_CUBLAS)
    if env == "0":
        return None
    if env:
        return env
    try:
        import nvidia.cublas as wheel
    except ImportError:
        return "libcublas.so.12"
    for base in getattr(wheel, "__path__", []):
        path = os.path.join(base, "lib", "libcublas.so.12")
        if os.path.exists(path):
            return path
    return "libcublas.so.12"


def _preload_wheel_libraries() -> None:
    """cuBLAS from the wheels finds its companions (cuBLASLt, the CUDA runtime) when they are
    loaded first, globally, from their own wheels' folders."""
    import ctypes

    for package, name in (("cuda_runtime", "libcudart.so.12"), ("cublas", "libcublasLt.so.12")):
        try:
            wheel = __import__(f"nvidia.{package}", fromlist=["_"])
        except ImportError:
            continue
        for base in getattr(wheel, "__path__", []):
            path = os.path.join(base, "lib", name)
            if os.path.exists(path):
                try:
                    ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
                except OSError:
                    pass


def _open_cublas() -> None:
    """Loads cuBLAS for matmul when it is there (see blas.c); follows allow_tf32."""
    lib = driver.lib
    path = cublas_path()
    if path is None:
        CUBLAS.update(loaded=False, reason=f"turned off ({ENV_CUBLAS}=0)")
        return
    if not os.environ.get(ENV_CUBLAS):
        _preload_wheel_libraries()
    if lib.cuda_open_cublas(path.encode()) != 0:
        CUBLAS.update(loaded=False, reason=driver.ffi.string(lib.dsg_error()).decode("utf-8", "replace"))
        return
    CUBLAS.update(loaded=True, reason=path)
    try:
        from deepseek.backends.cuda import matmul
    except ImportError:  # a core without the switch: TF32 stays off
        return
    matmul.watch(lambda on: lib.cuda_set_allow_tf32(int(bool(on))))


def load() -> int:
    """The table's address for the load hook (one table per process: loading again returns
    the same one). ``$DEEPSEEK_CUDA_STAGING_BYTES`` sets the size of each of a device's two
    pinned staging buffers (default 4 MiB)."""
    global _table
    lib = driver.lib
    with _lock:
        if _table is None:
            ok, why = driver.open_driver()
            if not ok:
                raise RuntimeError(why)
            staging = os.environ.get(ENV_STAGING)
            if staging:
                lib.dsg_set_staging_bytes(int(staging))
            install_registry(driver.ffi, lib, driver.check)
            _open_cublas()
            _table = int(driver.ffi.cast("uintptr_t", lib.dsg_table()))
        return _table
