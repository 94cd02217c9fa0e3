"""The kernel programs on a device: what C asks for the first time a dtype's kernels run there
(``cuda_py_module``). The program's CUDA rendering (``deepseek.backends.kernels``) is compiled
for the device's compute capability with NVRTC (through the on-disk cache of :mod:`.nvrtc`)
and loaded with cuModuleLoadData (``deepseek.backends.gpu.load_program``); C keeps the module and its functions for the process.

Code: SASS (a cubin) for the device's own architecture when this NVRTC knows it; else PTX for
the newest architecture it knows below the device's, which the driver compiles at load time.
``$DEEPSEEK_CUDA_CODE=ptx`` always hands PTX to the driver (the fake driver of the tests reads
the kernels' parameter lists from it).
"""
from __future__ import annotations

import os

from deepseek.backends.gpu import load_program, load_source

from . import driver, nvrtc

ENV_CODE = "DEEPSEEK_CUDA_CODE"


def target(device: int) -> tuple:
    """``(arch, "sass" | "ptx")`` for the device."""
    major, minor = driver.capability(device)
    arch = major * 10 + minor
    known = nvrtc.supported_archs()
    if os.environ.get(ENV_CODE, "").lower() == "ptx" or arch not in known:
        below = [a for a in known if a <= arch]
        if not below:
            raise RuntimeError(f"cuda:{device} has compute capability {major}.{minor}, older than any this NVRTC "
                               f"compiles for (sm_{min(known)} and up)")
        return max(below), "ptx"
    return arch, "sass"


def program_image(device: int, program: str) -> bytes:
    """The code of kernel program ``program`` (a dtype name) for ``device``."""
    from deepseek.backends import kernels

    arch, code = target(device)
    source = kernels.source(program, "cuda")
    options = kernels.compile_options("cuda")
    if code == "ptx":
        return nvrtc.compile_ptx_cached(source, program, arch, options)
    return nvrtc.compile_cubin(source, program, arch, options)


def source_image(device: int, body: str, name: str) -> bytes:
    """The code of a generated kernel body (``deepseek.backends.kernels.fused``) for
    ``device``: the CUDA prelude and options of the shipped programs, NVRTC's on-disk cache."""
    from deepseek.backends import kernels

    arch, code = target(device)
    source = kernels.prelude("cuda") + body
    options = kernels.compile_options("cuda")
    if code == "ptx":
        return nvrtc.compile_ptx_cached(source, name, arch, options)
    return nvrtc.compile_cubin(source, name, arch, options)


if driver.lib is not None:
    ffi, lib = driver.ffi, driver.lib

    @ffi.def_extern()
    def cuda_py_module(device, dtype, module):
        """Compiles (or reads from the cache) and loads dtype's program on ``device`` for C."""
        return load_program(ffi, lib, driver.check, "cuda", program_image, device, dtype, module)

    @ffi.def_extern()
    def cuda_py_source(device, body, name, module):
        """Compiles (or reads from the cache) and loads a generated kernel on ``device`` for C."""
        return load_source(ffi, lib, driver.check, "cuda", source_image, device, body, name, module)
