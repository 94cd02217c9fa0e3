"""The kernel programs on a device: what C asks for the first time a dtype's kernels run there
(``rocm_py_module``). The program's HIP rendering (``deepseek.backends.kernels``) is compiled
for the device's gfx architecture with hipRTC (through the on-disk cache of :mod:`.hiprtc`)
and loaded with hipModuleLoadData; C keeps the module and its functions for the process.
"""
from __future__ import annotations

from . import hiprtc, runtime


def program_image(device: int, program: str) -> bytes:
    """The code object of kernel program ``program`` (a dtype name) for ``device``."""
    from deepseek.backends import kernels

    return hiprtc.compile_code_object(kernels.source(program, "hip"), program, runtime.arch(device),
                                      kernels.compile_options("hip"))


def source_image(device: int, body: str, name: str) -> bytes:
    """The code object of a generated kernel body (``deepseek.backends.kernels.fused``) for
    ``device``, behind the HIP prelude of the shipped programs."""
    from deepseek.backends import kernels

    return hiprtc.compile_code_object(kernels.prelude("hip") + body, name, runtime.arch(device),
                                      kernels.compile_options("hip"))


if runtime.lib is not None:
    @runtime.ffi.def_extern()
    def rocm_py_module(device, dtype, module):
        """Compiles (or reads from the cache) and loads dtype's program on ``device`` for C."""
        from deepseek.backends.gpu import load_program

        return load_program(runtime.ffi, runtime.lib, runtime.check, "rocm", program_image, device, dtype, module)

    @runtime.ffi.def_extern()
    def rocm_py_source(device, body, name, module):
        """Compiles (or reads from the cache) and loads a generated kernel on ``device`` for C."""
        from deepseek.backends.gpu import load_source

        return load_source(runtime.ffi, runtime.lib, runtime.check, "rocm", source_image, device, body, name, module)
