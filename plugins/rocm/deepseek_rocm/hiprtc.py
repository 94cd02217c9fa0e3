"""Kernel compilation with hipRTC (from the user's ROCm), with an on-disk cache.

:func:`compile_code_object` turns HIP C++ source into an AMD GPU code object for one gfx
architecture (``gfx90a``...), which ``hipModuleLoadData`` loads. hipRTC is
``$DEEPSEEK_ROCM_HIPRTC`` when set, else ``libhiprtc.so`` beside the HIP runtime (ROCm 6), else
the HIP runtime itself where it carries hipRTC (ROCm 5 builds it into ``libamdhip64.so``),
searched as :mod:`.runtime` searches. Results are cached in ``$DEEPSEEK_ROCM_CACHE_DIR``
(default ``$DEEPSEEK_CACHE_DIR/rocm``, else ``~/.cache/deepseek/rocm``), keyed by the source's
hash, the architecture, the options and the compiler's version and file, and written
atomically: a second process, or a second compile of the same program, compiles nothing.

The compile itself runs in a child process (``python -m deepseek_rocm.hiprtc``): hipRTC loads
its own LLVM (through comgr), which aborts a process that already holds another LLVM (PoCL's,
a JIT's); a child keeps that, and any compiler crash, away from the user's process.

A compile error raises :class:`CompileError` naming the program, with hipRTC's log.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import subprocess
import sys
import threading
from pathlib import Path

from . import runtime

ENV_HIPRTC = "DEEPSEEK_ROCM_HIPRTC"
ENV_CACHE = "DEEPSEEK_ROCM_CACHE_DIR"
HIPRTC_NAMES = ("libhiprtc.so", "libhiprtc.so.6", "libhiprtc.so.5")
_lock = threading.RLock()
_lib = None
_ENV_NEAR = "_DEEPSEEK_ROCM_HIPRTC_NEAR"
STATS = {"compiled": 0, "cache_hits": 0}  # this process's compiles and cache reads


class CompileError(RuntimeError):
    """hipRTC refused a program; the message names it and carries the log."""


class NotFound(RuntimeError):
    """No hipRTC was found."""


def _try(path: str):
    try:
        lib = ctypes.CDLL(path)
    except OSError:
        return None
    return lib if hasattr(lib, "hiprtcCreateProgram") else None


def _candidates() -> list:
    if os.environ.get(ENV_HIPRTC):
        return [os.environ[ENV_HIPRTC]]
    dirs = []
    if runtime.lib is not None and runtime.runtime_path():
        dirs.append(Path(runtime.runtime_path()).parent)
    if os.environ.get(_ENV_NEAR):  # the parent's runtime folder, for the child
        dirs.append(Path(os.environ[_ENV_NEAR]))
    dirs += runtime.search_dirs()
    files = [str(d / n) for d in dirs for n in (*HIPRTC_NAMES, *runtime.LOADER_NAMES) if (d / n).is_file()]
    return files + list(HIPRTC_NAMES) + list(runtime.LOADER_NAMES)


def library():
    """The hipRTC library (ctypes), found as the module's doc says; NotFound when none is."""
    global _lib
    with _lock:
        if _lib is None:
            tried = _candidates()
            for path in tried:
                lib = _try(path)
                if lib is not None:
                    lib.hiprtcGetErrorString.restype = ctypes.c_char_p
                    _lib = lib
                    break
            else:
                raise NotFound("no hipRTC: none of " + ", ".join(tried) + " loads and exports hiprtcCreateProgram")
        return _lib


def library_path() -> str:
    """The file hipRTC was loaded from, symbolic links resolved (its name carries ROCm's
    version): for a bare name the loader resolved, the file the process has mapped."""
    name = library()._name
    if os.path.exists(name):
        return os.path.realpath(name)
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split(None, 5)[5].strip() for line in maps if line.count(" ") >= 5 and "/" in line}
    except OSError:
        return name
    mapped = sorted(p for p in paths if os.path.basename(p).startswith(os.path.basename(name)))
    return os.path.realpath(mapped[0]) if mapped else name


def version() -> tuple:
    """``(major, minor)`` as hiprtcVersion answers."""
    major, minor = ctypes.c_int(), ctypes.c_int()
    _check(library().hiprtcVersion(ctypes.byref(major), ctypes.byref(minor)), "hiprtcVersion")
    return major.value, minor.value


def _check(result: int, what: str) -> None:
    if result != 0:
        msg = library().hiprtcGetErrorString(result)
        raise CompileError(f"{what}: {msg.decode() if msg else result}")


def cache_dir() -> Path:
    """Where compiled code is kept (see the module's doc)."""
    if os.environ.get(ENV_CACHE):
        return Path(os.environ[ENV_CACHE])
    if os.environ.get("DEEPSEEK_CACHE_DIR"):
        return Path(os.environ["DEEPSEEK_CACHE_DIR"]) / "rocm"
    return Path.home() / ".cache" / "deepseek" / "rocm"


def cache_key(source: str, arch: str, options) -> str:
    """The cache entry's key: source, architecture, options, hipRTC's version and file."""
    parts = [source, arch, " ".join(options), "hiprtc %d.%d" % version(), os.path.basename(library_path())]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _compile(source: str, name: str, arch: str, options: list) -> bytes:
    lib = library()
    prog = ctypes.c_void_p()
    _check(lib.hiprtcCreateProgram(ctypes.byref(prog), source.encode(), (name + ".hip").encode(), 0, None, None),
           f"hiprtcCreateProgram({name})")
    try:
        opts = [f"--offload-arch={arch}", *options]
        argv = (ctypes.c_char_p * len(opts))(*[o.encode() for o in opts])
        result = lib.hiprtcCompileProgram(prog, len(opts), argv)
        size = ctypes.c_size_t()
        lib.hiprtcGetProgramLogSize(prog, ctypes.byref(size))
        log = ctypes.create_string_buffer(max(size.value, 1))
        lib.hiprtcGetProgramLog(prog, log)
        text = log.value.decode("utf-8", "replace").strip()
        if result != 0:
            why = lib.hiprtcGetErrorString(result)
            raise CompileError(f"hipRTC could not compile kernel program '{name}' for {arch} "
                               f"({why.decode() if why else result}; options {' '.join(opts)}):\n{text}")
        _check(lib.hiprtcGetCodeSize(prog, ctypes.byref(size)), f"hiprtcGetCodeSize({name})")
        code = ctypes.create_string_buffer(size.value)
        _check(lib.hiprtcGetCode(prog, code), f"hiprtcGetCode({name})")
        return code.raw
    finally:
        lib.hiprtcDestroyProgram(ctypes.byref(prog))


def compile_code_object(source: str, name: str, arch: str, options=(), cache=True) -> bytes:
    """An AMD GPU code object (an ELF image) of ``source`` for ``arch`` (``gfx90a``...).

    ``name`` names the program in errors and in the cache; ``options`` are extra hipRTC
    options (``--offload-arch`` is added)."""
    options = list(options)
    path = None
    if cache:
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
        path = cache_dir() / f"{safe}-{arch}-{cache_key(source, arch, options)[:32]}.hsaco"
        try:
            data = path.read_bytes()
        except OSError:
            data = None
        if data and data[:4] == b"\x7fELF":
            STATS["cache_hits"] += 1
            return data
    image = _compile_in_child(source, name, arch, options)
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


def _compile_in_child(source: str, name: str, arch: str, options: list) -> bytes:
    """Runs :func:`_compile` in ``python -m deepseek_rocm.hiprtc`` (see the module's doc)."""
    env = dict(os.environ)
    if env.get(ENV_HIPRTC) is None:
        env[ENV_HIPRTC] = library_path()  # the child uses the very library the cache key names
    if runtime.lib is not None and runtime.runtime_path():
        env[_ENV_NEAR] = str(Path(runtime.runtime_path()).parent)
    proc = subprocess.run([sys.executable, "-m", "deepseek_rocm.hiprtc", name, arch, *options],
                          input=source.encode(), capture_output=True, env=env)
    if proc.returncode == 0 and proc.stdout[:4] == b"\x7fELF":
        return proc.stdout
    message = proc.stderr.decode("utf-8", "replace").strip()
    if proc.returncode == _EXIT_NOT_FOUND:
        raise NotFound(message)
    if proc.returncode == _EXIT_COMPILE_ERROR:
        raise CompileError(message)
    raise CompileError(f"hipRTC crashed compiling kernel program '{name}' for {arch} (exit status "
                       f"{proc.returncode}):\n{message[-4000:]}")


_EXIT_COMPILE_ERROR, _EXIT_NOT_FOUND = 2, 3


def _main(argv: list) -> int:
    """The child: ``name arch options...``, the source on stdin, the code object on stdout."""
    name, arch, options = argv[0], argv[1], argv[2:]
    try:
        image = _compile(sys.stdin.buffer.read().decode(), name, arch, options)
    except NotFound as exc:
        print(exc, file=sys.stderr)
        return _EXIT_NOT_FOUND
    except CompileError as exc:
        print(exc, file=sys.stderr)
        return _EXIT_COMPILE_ERROR
    sys.stdout.buffer.write(image)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
