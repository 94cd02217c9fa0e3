"""Kernel compilation with NVRTC (``nvidia-cuda-nvrtc-cu12``) and nvJitLink
(``nvidia-nvjitlink-cu12``), with an on-disk cache.

:func:`compile_cubin` turns CUDA C++ source into a cubin (SASS) for one real architecture
(``sm_80``...): NVRTC compiles straight to SASS with ``--gpu-architecture=sm_XX``; with
``link=True`` (or ``$DEEPSEEK_CUDA_LINK=nvjitlink``) it compiles to PTX for ``compute_XX`` and
nvJitLink assembles the SASS, the path for architectures NVRTC can only reach through PTX.
Results are cached in ``$DEEPSEEK_CUDA_CACHE_DIR`` (default ``$DEEPSEEK_CACHE_DIR/cuda``, else
``~/.cache/deepseek/cuda``), keyed by the source's hash, the architecture, the options and
the NVRTC (and nvJitLink) version, and written atomically: a second process, or a second
compile of the same program, compiles nothing.

A compile error raises :class:`CompileError` naming the program, with NVRTC's log.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import threading
from pathlib import Path

ENV_CACHE = "DEEPSEEK_CUDA_CACHE_DIR"
ENV_LINK = "DEEPSEEK_CUDA_LINK"
NVJITLINK_INPUT_PTX = 2
_lock = threading.Lock()
_libs: dict = {}
STATS = {"compiled": 0, "cache_hits": 0}  # this process's compiles and cache reads


class CompileError(RuntimeError):
    """NVRTC or nvJitLink refused a program; the message names it and carries the log."""


class NotFound(RuntimeError):
    """NVRTC or nvJitLink is not installed."""


def _wheel_lib(package: str, filename: str):
    """``nvidia/<package>/lib/<filename>`` from the NVIDIA wheel on sys.path, or None."""
    try:
        import nvidia  # namespace package of the NVIDIA wheels
    except ImportError:
        return None
    for base in getattr(nvidia, "__path__", []):
        p = Path(base) / package / "lib" / filename
        if p.exists():
            return p
    return None


def _load(key: str, package: str, filename: str, pip_name: str):
    with _lock:
        if key not in _libs:
            path = _wheel_lib(package, filename)
            try:
                _libs[key] = ctypes.CDLL(str(path) if path else filename)
            except OSError as exc:
                raise NotFound(f"{filename} not found ({exc}): pip install {pip_name}") from None
        return _libs[key]


def nvrtc():
    """libnvrtc.so.12, from the nvidia-cuda-nvrtc-cu12 wheel (else the system's)."""
    lib = _load("nvrtc", "cuda_nvrtc", "libnvrtc.so.12", "nvidia-cuda-nvrtc-cu12")
    if not hasattr(lib, "_typed"):
        lib.nvrtcGetErrorString.restype = ctypes.c_char_p
        lib._typed = True
    return lib


def nvjitlink():
    """libnvJitLink.so.12, from the nvidia-nvjitlink-cu12 wheel (else the system's)."""
    return _load("nvjitlink", "nvjitlink", "libnvJitLink.so.12", "nvidia-nvjitlink-cu12")


def nvrtc_version() -> tuple:
    major, minor = ctypes.c_int(), ctypes.c_int()
    _check(nvrtc().nvrtcVersion(ctypes.byref(major), ctypes.byref(minor)), "nvrtcVersion")
    return major.value, minor.value


def supported_archs() -> list:
    """The real architectures (80, 90...) this NVRTC compiles SASS for."""
    lib = nvrtc()
    n = ctypes.c_int()
    _check(lib.nvrtcGetNumSupportedArchs(ctypes.byref(n)), "nvrtcGetNumSupportedArchs")
    archs = (ctypes.c_int * n.value)()
    _check(lib.nvrtcGetSupportedArchs(archs), "nvrtcGetSupportedArchs")
    return list(archs)


def _check(result: int, what: str) -> None:
    if result != 0:
        msg = nvrtc().nvrtcGetErrorString(result)
        raise CompileError(f"{what}: {msg.decode() if msg else result}")


def _jitlink_fn(name: str):
    """nvJitLink's entry points carry the library's version (``__nvJitLinkCreate_12_9``):
    the newest this library exports."""
    lib = nvjitlink()
    for minor in range(20, -1, -1):
        fn = getattr(lib, f"__{name}_12_{minor}", None)
        if fn is not None:
            return fn
    raise NotFound(f"libnvJitLink.so.12 has no {name}: pip install -U nvidia-nvjitlink-cu12")


def jitlink_version() -> tuple:
    lib = nvjitlink()
    major, minor = ctypes.c_uint(), ctypes.c_uint()
    if lib.nvJitLinkVersion(ctypes.byref(major), ctypes.byref(minor)) != 0:
        return (12, 0)
    return major.value, minor.value


def cache_dir() -> Path:
    """Where compiled code is kept (see the module's doc)."""
    if os.environ.get(ENV_CACHE):
        return Path(os.environ[ENV_CACHE])
    if os.environ.get("DEEPSEEK_CACHE_DIR"):
        return Path(os.environ["DEEPSEEK_CACHE_DIR"]) / "cuda"
    return Path.home() / ".cache" / "deepseek" / "cuda"


def _nvrtc_compile(source: str, name: str, options: list) -> tuple:
    """``(program handle, log)`` after compiling; the caller destroys the handle."""
    lib = nvrtc()
    prog = ctypes.c_void_p()
    _check(lib.nvrtcCreateProgram(ctypes.byref(prog), source.encode(), (name + ".cu").encode(), 0, None, None),
           f"nvrtcCreateProgram({name})")
    opts = (ctypes.c_char_p * len(options))(*[o.encode() for o in options])
    result = lib.nvrtcCompileProgram(prog, len(options), opts)
    size = ctypes.c_size_t()
    lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
    log = ctypes.create_string_buffer(max(size.value, 1))
    lib.nvrtcGetProgramLog(prog, log)
    text = log.value.decode("utf-8", "replace").strip()
    if result != 0:
        lib.nvrtcDestroyProgram(ctypes.byref(prog))
        why = lib.nvrtcGetErrorString(result).decode()
        raise CompileError(f"NVRTC could not compile kernel program '{name}' ({why}; options {' '.join(options)}):\n"
                           f"{text}")
    return prog, text


def _get(prog, size_fn, get_fn, what: str) -> bytes:
    lib = nvrtc()
    size = ctypes.c_size_t()
    _check(getattr(lib, size_fn)(prog, ctypes.byref(size)), what)
    buf = ctypes.create_string_buffer(size.value)
    _check(getattr(lib, get_fn)(prog, buf), what)
    return buf.raw


def compile_ptx(source: str, name: str, arch: int, options=()) -> bytes:
    """PTX (NUL-terminated, as cuModuleLoadData takes it) for ``compute_<arch>``."""
    prog, _ = _nvrtc_compile(source, name, [f"--gpu-architecture=compute_{arch}", *options])
    try:
        return _get(prog, "nvrtcGetPTXSize", "nvrtcGetPTX", f"nvrtcGetPTX({name})")
    finally:
        nvrtc().nvrtcDestroyProgram(ctypes.byref(prog))


def _link(ptx: bytes, name: str, arch: int) -> bytes:
    """SASS for ``sm_<arch>`` from PTX, through nvJitLink."""
    handle = ctypes.c_void_p()
    opts = (ctypes.c_char_p * 1)(f"-arch=sm_{arch}".encode())
    if _jitlink_fn("nvJitLinkCreate")(ctypes.byref(handle), 1, opts) != 0:
        raise CompileError(f"nvJitLinkCreate(-arch=sm_{arch}) failed for kernel program '{name}'")
    try:
        ok = _jitlink_fn("nvJitLinkAddData")(handle, NVJITLINK_INPUT_PTX, ptx, len(ptx), name.encode()) == 0
        ok = ok and _jitlink_fn("nvJitLinkComplete")(handle) == 0
        if not ok:
            size = ctypes.c_size_t()
            _jitlink_fn("nvJitLinkGetErrorLogSize")(handle, ctypes.byref(size))
            log = ctypes.create_string_buffer(max(size.value, 1))
            _jitlink_fn("nvJitLinkGetErrorLog")(handle, log)
            raise CompileError(f"nvJitLink could not link kernel program '{name}' for sm_{arch}:\n"
                               f"{log.value.decode('utf-8', 'replace')}")
        size = ctypes.c_size_t()
        _jitlink_fn("nvJitLinkGetLinkedCubinSize")(handle, ctypes.byref(size))
        cubin = ctypes.create_string_buffer(size.value)
        if _jitlink_fn("nvJitLinkGetLinkedCubin")(handle, cubin) != 0:
            raise CompileError(f"nvJitLinkGetLinkedCubin failed for kernel program '{name}'")
        return cubin.raw
    finally:
        _jitlink_fn("nvJitLinkDestroy")(ctypes.byref(handle))


def cache_key(source: str, arch: int, options, link: bool) -> str:
    parts = [source, f"sm_{arch}", " ".join(options), "nvrtc %d.%d" % nvrtc_version()]
    if link:
        parts.append("nvjitlink %d.%d" % jitlink_version())
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def compile_cubin(source: str, name: str, arch: int, options=(), link=None, cache=True) -> bytes:
    """A cubin (SASS for ``sm_<arch>``, an ELF image cuModuleLoadData takes) of ``source``.

    ``name`` names the program in errors and in the cache; ``options`` are extra NVRTC
    options. ``link`` None follows ``$DEEPSEEK_CUDA_LINK`` ("nvjitlink" links through PTX)."""
    if link is None:
        link = os.environ.get(ENV_LINK, "").lower() == "nvjitlink"
    return _cached(source, name, arch, list(options), "nvjitlink" if link else "sass", cache)


def compile_ptx_cached(source: str, name: str, arch: int, options=(), cache=True) -> bytes:
    """PTX for ``compute_<arch>`` (NUL-terminated), through the same cache as cubins: for a
    GPU newer than this NVRTC (the driver compiles the PTX), and for tests."""
    return _cached(source, name, arch, list(options), "ptx", cache)


def _cached(source: str, name: str, arch: int, options: list, how: str, cache: bool) -> bytes:
    path = None
    magic = b"//" if how == "ptx" else b"\x7fELF"
    if cache:
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
        key = cache_key(source + "\0" + how, arch, options, how == "nvjitlink")
        path = cache_dir() / f"{safe}-sm_{arch}-{key[:32]}.{'ptx' if how == 'ptx' else 'cubin'}"
        try:
            data = path.read_bytes()
        except OSError:
            data = None
        if data and data.lstrip()[:len(magic)] == magic:
            STATS["cache_hits"] += 1
            return data
    if how == "ptx":
        image = compile_ptx(source, name, arch, options)
    elif how == "nvjitlink":
        image = _link(compile_ptx(source, name, arch, options), name, arch)
    else:
        prog, _ = _nvrtc_compile(source, name, [f"--gpu-architecture=sm_{arch}", *options])
        try:
            image = _get(prog, "nvrtcGetCUBINSize", "nvrtcGetCUBIN", f"nvrtcGetCUBIN({name})")
        finally:
            nvrtc().nvrtcDestroyProgram(ctypes.byref(prog))
    STATS["compiled"] += 1
    if path is not None:
        try:  # atomically: a reader sees the whole file or none
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".tmp{os.getpid()}.{threading.get_ident()}")
            tmp.write_bytes(image)
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only cache only costs a compile next time
    return image
